package unwind

import (
	"fmt"
	"strings"

	"github.com/kdap/kdap/target/arch/amd64"
)

// MaxRegs is the number of DWARF register numbers a Regs can hold.
const MaxRegs = 64

// Regs is a register set indexed by DWARF register number, with a record of
// which registers hold a known value.
type Regs struct {
	val  [MaxRegs]uint64
	have uint64
}

// Set stores v as the value of register n; out-of-range numbers are ignored.
func (r *Regs) Set(n int, v uint64) {
	if n < 0 || n >= MaxRegs {
		return
	}
	r.val[n] = v
	r.have |= 1 << uint(n)
}

// Clear marks register n as unavailable.
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
func (r *Regs) Has(n int) bool {
	_, ok := r.Get(n)
	return ok
}

// Arch describes what the unwinder needs to know about an architecture's
// registers and calling convention.
type Arch struct {
	// Name is the architecture's name, e.g. "amd64".
	Name string
	// PtrSize is the size of a pointer and of a stack slot in bytes.
	PtrSize int
	// PC, SP and FP are the DWARF numbers of the program counter, stack
	// pointer and frame pointer.
	PC, SP, FP int
	// NumRegs is how many DWARF register numbers (from 0) the unwinder
	// tracks.
	NumRegs int
	// CalleeSaved lists the registers a call preserves: without a CFI rule
	// they keep their value in the caller; every other register is
	// unavailable in a caller frame.
	CalleeSaved []int
	// RegNames names registers by DWARF number.
	RegNames []string
}

// AMD64 is the amd64 (x86-64) architecture.
var AMD64 = &Arch{
	Name:        "amd64",
	PtrSize:     8,
	PC:          amd64.RIP,
	SP:          amd64.RSP,
	FP:          amd64.RBP,
	NumRegs:     amd64.NumRegs,
	CalleeSaved: []int{amd64.RBX, amd64.RBP, amd64.R12, amd64.R13, amd64.R14, amd64.R15},
	RegNames:    amd64Names(),
}

// amd64Names lists the amd64 register names by DWARF number.
func amd64Names() []string {
	names := make([]string, amd64.NumRegs)
	for n := range names {
		names[n] = amd64.Name(n)
	}
	return names
}

// RegName returns the name of DWARF register n, or "r<n>".
func (a *Arch) RegName(n int) string {
	if n >= 0 && n < len(a.RegNames) {
		return a.RegNames[n]
	}
	return fmt.Sprintf("r%d", n)
}

// isCalleeSaved reports whether register n survives calls.
func (a *Arch) isCalleeSaved(n int) bool {
	for _, c := range a.CalleeSaved {
		if c == n {
			return true
		}
	}
	return false
}

// Format renders the known registers of r as "name=0x… …" in DWARF order.
func (a *Arch) Format(r Regs) string {
	var b strings.Builder
	for n := 0; n < a.NumRegs; n++ {
		v, ok := r.Get(n)
		if !ok {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%#x", a.RegName(n), v)
	}
	return b.String()
}
