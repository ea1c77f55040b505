package amd64

// DWARF register numbers of the general-purpose registers, per the
// System V x86-64 psABI.
const (
	RAX = 0
	RDX = 1
	RCX = 2
	RBX = 3
	RSI = 4
	RDI = 5
	RBP = 6
	RSP = 7
	R8  = 8
	R9  = 9
	R10 = 10
	R11 = 11
	R12 = 12
	R13 = 13
	R14 = 14
	R15 = 15
	RIP = 16 // the return address column
)

// NumRegs is how many registers Regs holds (DWARF numbers 0..16).
const NumRegs = 17

// dwarfNames is indexed by DWARF register number.
var dwarfNames = [NumRegs]string{
	"rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip",
}

// Names lists the register names in display order (gdb's order).
var Names = []string{
	"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip",
}

// Name returns the name of DWARF register n, or "" when n is not one of
// the registers Regs holds.
func Name(n int) string {
	if n < 0 || n >= NumRegs {
		return ""
	}
	return dwarfNames[n]
}

// Number returns the DWARF number of the register called name.
func Number(name string) (int, bool) {
	for i, s := range dwarfNames {
		if s == name {
			return i, true
		}
	}
	return 0, false
}

// Regs is a set of general-purpose register values indexed by DWARF
// number; Valid has bit n set when register n is known.
type Regs struct {
	Val   [NumRegs]uint64
	Valid uint32
}

// Get returns register n and whether it is known.
func (r *Regs) Get(n int) (uint64, bool) {
	if n < 0 || n >= NumRegs || r.Valid&(1<<uint(n)) == 0 {
		return 0, false
	}
	return r.Val[n], true
}

// Set records the value of register n; numbers outside 0..16 are ignored.
func (r *Regs) Set(n int, v uint64) {
	if n < 0 || n >= NumRegs {
		return
	}
	r.Val[n] = v
	r.Valid |= 1 << uint(n)
}

// Clear forgets register n.
func (r *Regs) Clear(n int) {
	if n < 0 || n >= NumRegs {
		return
	}
	r.Val[n] = 0
	r.Valid &^= 1 << uint(n)
}

// PC returns the instruction pointer and whether it is known.
func (r *Regs) PC() (uint64, bool) { return r.Get(RIP) }

// SP returns the stack pointer and whether it is known.
func (r *Regs) SP() (uint64, bool) { return r.Get(RSP) }
