// Package arch describes the processor architectures kdap debugs. Each
// architecture is one value of type Arch, made by its own package under
// target/arch/ and registered with Register: the machine type that dumps
// and kernel files name, the pointer size and byte order, a declarative
// register table, the frame-pointer and call conventions the unwinder
// needs, and the disassembler. Code above target/ takes everything
// architectural from the Arch of the opened target.
package arch

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// MaxRegs is how many DWARF register numbers (0..MaxRegs-1) a Regs holds.
const MaxRegs = 64

// Regs is a set of register values indexed by DWARF register number, with
// a record of which registers hold a known value. It is the one register
// type of the program, whatever the architecture.
type Regs struct {
	val  [MaxRegs]uint64
	have uint64
}

// Set stores v as the value of register n; numbers outside 0..MaxRegs-1
// are ignored.
func (r *Regs) Set(n int, v uint64) {
	if n < 0 || n >= MaxRegs {
		return
	}
	r.val[n] = v
	r.have |= 1 << uint(n)
}

// Clear marks register n as unknown.
func (r *Regs) Clear(n int) {
	if n < 0 || n >= MaxRegs {
		return
	}
	r.val[n] = 0
	r.have &^= 1 << uint(n)
}

// Get returns register n and whether its value is known.
func (r *Regs) Get(n int) (uint64, bool) {
	if n < 0 || n >= MaxRegs || r.have&(1<<uint(n)) == 0 {
		return 0, false
	}
	return r.val[n], true
}

// Has reports whether register n holds a known value.
func (r *Regs) Has(n int) bool { return n >= 0 && n < MaxRegs && r.have&(1<<uint(n)) != 0 }

// Empty reports whether no register is known.
func (r *Regs) Empty() bool { return r.have == 0 }

// Reg is one row of an architecture's register table.
type Reg struct {
	// Name is the register's name as LLDB shows it ("rip", "x0", "fp").
	Name string
	// Aliases are other names users type for it ("x29" for fp, "pc").
	Aliases []string
	// DWARF is the register's DWARF number.
	DWARF int
	// Size is the register's size in bytes.
	Size int
}

// Inst is one decoded machine instruction.
type Inst struct {
	// Len is the instruction's length in bytes.
	Len int
	// Text is the instruction in the requested syntax, without symbols.
	Text string
	// Refs are the addresses the instruction names (branch targets,
	// pc-relative operands), for a caller to annotate with symbols.
	Refs []Ref
}

// Ref is an address an instruction refers to.
type Ref struct {
	Addr uint64
	// Branch says the address is a branch or call target (else a
	// pc-relative data operand).
	Branch bool
}

// Arch is one architecture.
type Arch struct {
	// Name is kdap's name for it: "amd64", "arm64", "i386".
	Name string
	// Machine is its ELF e_machine.
	Machine elf.Machine
	// PtrSize is the size in bytes of a pointer, of C's long and of a
	// stack slot.
	PtrSize int
	// ByteOrder is the byte order of memory.
	ByteOrder binary.ByteOrder
	// PageSize is the base page size of kernel memory.
	PageSize uint64
	// Regs is the register table, in display order.
	Regs []Reg
	// PC, SP and FP are the DWARF numbers of the program counter, the
	// stack pointer and the frame pointer.
	PC, SP, FP int
	// LR is the DWARF number of the link register, -1 when calls push the
	// return address on the stack instead.
	LR int
	// NumRegs is how many DWARF numbers from 0 the unwinder tracks.
	NumRegs int
	// CalleeSaved lists the registers a call preserves: without a CFI
	// rule they keep their value in the caller; every other register is
	// unknown in a caller frame.
	CalleeSaved []int
	// MinInstLen and MaxInstLen bound an instruction's length (equal for
	// fixed-length instruction sets).
	MinInstLen, MaxInstLen int
	// Decode decodes the instruction at the start of code, which lies at
	// address pc; flavor selects the syntax ("att" or "intel" where the
	// architecture has both; "" is the default).
	Decode func(code []byte, pc uint64, flavor string) (Inst, error)
	// Walk translates a virtual address through the page tables rooted
	// at physical address root (levels deep), reading table entries with
	// read; nil when kdap cannot walk this architecture's tables.
	Walk func(read func(pa uint64, b []byte) error, root uint64, levels int, va uint64) (pa, pageSize uint64, err error)

	byName map[string]int // register name or alias → DWARF number
	once   sync.Once
}

// RegName returns the name of DWARF register n, or "r<n>".
func (a *Arch) RegName(n int) string {
	for _, r := range a.Regs {
		if r.DWARF == n {
			return r.Name
		}
	}
	return fmt.Sprintf("r%d", n)
}

// RegNumber returns the DWARF number of the register called name (or one
// of its aliases); case does not matter.
func (a *Arch) RegNumber(name string) (int, bool) {
	a.once.Do(func() {
		a.byName = map[string]int{}
		for _, r := range a.Regs {
			a.byName[r.Name] = r.DWARF
			for _, al := range r.Aliases {
				a.byName[al] = r.DWARF
			}
		}
	})
	n, ok := a.byName[strings.ToLower(name)]
	return n, ok
}

// IsCalleeSaved reports whether register n survives calls.
func (a *Arch) IsCalleeSaved(n int) bool {
	for _, c := range a.CalleeSaved {
		if c == n {
			return true
		}
	}
	return false
}

// Format renders the known registers of r as "name=0x… …" in table order.
func (a *Arch) Format(r Regs) string {
	var b strings.Builder
	for _, reg := range a.Regs {
		v, ok := r.Get(reg.DWARF)
		if !ok {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%#x", reg.Name, v)
	}
	return b.String()
}

// Pointer decodes a pointer-sized word from the start of b.
func (a *Arch) Pointer(b []byte) uint64 {
	if a.PtrSize == 4 {
		return uint64(a.ByteOrder.Uint32(b))
	}
	return a.ByteOrder.Uint64(b)
}

// String returns the architecture's name.
func (a *Arch) String() string { return a.Name }

var (
	mu    sync.Mutex
	archs []*Arch
)

// Register adds an architecture. It panics on a second architecture for
// the same machine type: that is a programming error, found at start-up.
func Register(a *Arch) {
	mu.Lock()
	defer mu.Unlock()
	for _, b := range archs {
		if b.Machine == a.Machine || b.Name == a.Name {
			panic("arch: " + a.Name + " registered twice")
		}
	}
	archs = append(archs, a)
	sort.Slice(archs, func(i, j int) bool { return archs[i].Name < archs[j].Name })
}

// ForMachine returns the registered architecture of an ELF machine type.
func ForMachine(m elf.Machine) (*Arch, error) {
	mu.Lock()
	defer mu.Unlock()
	for _, a := range archs {
		if a.Machine == m {
			return a, nil
		}
	}
	names := make([]string, len(archs))
	for i, a := range archs {
		names[i] = a.Name
	}
	return nil, fmt.Errorf("machine %s is not one kdap reads (it reads %s)", machineName(m), strings.Join(names, ", "))
}

// All returns the registered architectures by name.
func All() []*Arch {
	mu.Lock()
	defer mu.Unlock()
	return append([]*Arch(nil), archs...)
}

// MachineName names an ELF machine type the way users know it: the
// registered architecture's name, else debug/elf's constant name.
func MachineName(m elf.Machine) string {
	mu.Lock()
	defer mu.Unlock()
	return machineName(m)
}

func machineName(m elf.Machine) string {
	for _, a := range archs {
		if a.Machine == m {
			return a.Name
		}
	}
	return m.String()
}
