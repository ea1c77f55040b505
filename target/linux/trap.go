package linux

import (
	"fmt"
	"strings"

	"github.com/kdap/kdap/target"
	"github.com/kdap/kdap/target/arch"
	"github.com/kdap/kdap/target/arch/amd64"
	"github.com/kdap/kdap/unwind/orc"
)

// ptRegs are the struct pt_regs members an unwinder resumes from.
var ptRegs = []struct {
	member string
	reg    int
}{
	{"r15", amd64.R15}, {"r14", amd64.R14}, {"r13", amd64.R13}, {"r12", amd64.R12},
	{"bp", amd64.RBP}, {"bx", amd64.RBX}, {"r11", amd64.R11}, {"r10", amd64.R10},
	{"r9", amd64.R9}, {"r8", amd64.R8}, {"ax", amd64.RAX}, {"cx", amd64.RCX},
	{"dx", amd64.RDX}, {"si", amd64.RSI}, {"di", amd64.RDI}, {"ip", amd64.RIP}, {"sp", amd64.RSP},
}

// trapRules implements target.TrapRules for Linux/x86-64 without ORC:
// the idtentry stubs (asm_exc_*, asm_sysvec_*, asm_common_interrupt) call
// C with a struct pt_regs at the stack pointer.
type trapRules struct{ k *kernel }

// TrapFrame returns the x86-64 idtentry rules.
func (k *kernel) TrapFrame() target.TrapRules { return trapRules{k} }

// IsTrapEntry reports whether fn is an idtentry stub.
func (trapRules) IsTrapEntry(fn string) bool {
	return strings.HasPrefix(fn, "asm_exc_") || strings.HasPrefix(fn, "asm_sysvec_") || fn == "asm_common_interrupt"
}

// IsThreadEntry reports whether fn is where a new task starts.
func (trapRules) IsThreadEntry(fn string) bool { return fn == "ret_from_fork" }

// Interrupted reads the struct pt_regs at sp, with the layout and marker
// the ORC unwinder uses.
func (r trapRules) Interrupted(sp uint64) (arch.Regs, string, error) {
	var regs arch.Regs
	layout, err := r.k.ptRegsLayout()
	if err != nil {
		return regs, "", err
	}
	origAX, err := r.k.member("pt_regs", "orig_ax")
	if err != nil {
		return regs, "", err
	}
	res := orc.Result{Kind: orc.KindRegs, PtRegs: sp}
	for _, m := range layout.Regs {
		v, err := r.k.t.ReadU64(sp + m.Off)
		if err != nil {
			return regs, "", fmt.Errorf("reading struct pt_regs at %#x (offset %#x): %w", sp, m.Off, err)
		}
		regs.Set(m.Reg, v)
		res.Regs.Set(m.Reg, v)
	}
	cs, err := r.k.t.ReadU64(sp + layout.CS)
	if err != nil {
		return regs, "", fmt.Errorf("reading struct pt_regs at %#x: cs: %w", sp, err)
	}
	res.UserMode = cs&3 != 0
	return regs, label(res, origAX, r.k.t), nil
}
