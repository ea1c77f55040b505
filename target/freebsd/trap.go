package freebsd

import (
	"fmt"

	"github.com/kdap/kdap/target"
	"github.com/kdap/kdap/target/arch"
	"github.com/kdap/kdap/target/arch/amd64"
)

// trapKnowledge is what the model knows of one architecture's trap
// entries and struct trapframe.
type trapKnowledge struct {
	// entries are the exception and interrupt entry points whose frames
	// hold a struct trapframe.
	entries map[string]bool
	// regs maps struct trapframe members to registers.
	regs []tfReg
	// trapno is the member holding the trap number.
	trapno string
}

// tfReg is one register saved in a struct trapframe.
type tfReg struct {
	member string
	reg    int
}

// amd64Traps describes sys/amd64/amd64/exception.S.
var amd64Traps = &trapKnowledge{entries: amd64TrapEntries, regs: amd64TFRegs, trapno: "tf_trapno"}

// amd64TrapEntries are the amd64 exception and interrupt entry points of
// sys/amd64/amd64/exception.S whose frames hold a struct trapframe.
var amd64TrapEntries = map[string]bool{
	"calltrap": true, "Xpage": true, "Xprot": true, "Xdiv": true, "Xdbg": true,
	"Xnmi": true, "Xbpt": true, "Xofl": true, "Xbnd": true, "Xill": true,
	"Xdna": true, "Xfpusegm": true, "Xtss": true, "Xmissing": true,
	"Xstk": true, "Xalign": true, "Xmchk": true, "Xxmm": true, "Xdblfault": true,
	"alltraps": true, "alltraps_pushregs": true, "alltraps_pushregs_no_rax": true,
	"fast_syscall_common": true, "Xfast_syscall": true,
	"Xtimerint": true, "Xapic_isr1": true, "Xcpustop": true, "Xipi_intr_bitmap_handler": true,
	"nmi_calltrap": true, "Xmchk_calltrap": true,
}

// threadEntries begin a kernel thread's stack (on every architecture).
var threadEntries = map[string]bool{"fork_trampoline": true}

// amd64TFRegs are the amd64 trapframe members, in the order the
// registers are read.
var amd64TFRegs = []tfReg{
	{"tf_rdi", amd64.RDI}, {"tf_rsi", amd64.RSI}, {"tf_rdx", amd64.RDX}, {"tf_rcx", amd64.RCX},
	{"tf_r8", amd64.R8}, {"tf_r9", amd64.R9}, {"tf_rax", amd64.RAX}, {"tf_rbx", amd64.RBX},
	{"tf_rbp", amd64.RBP}, {"tf_r10", amd64.R10}, {"tf_r11", amd64.R11}, {"tf_r12", amd64.R12},
	{"tf_r13", amd64.R13}, {"tf_r14", amd64.R14}, {"tf_r15", amd64.R15},
	{"tf_rip", amd64.RIP}, {"tf_rsp", amd64.RSP},
}

// trapRules implements target.TrapRules for FreeBSD.
type trapRules struct{ k *kernel }

func (k *kernel) TrapFrame() target.TrapRules { return trapRules{k} }

func (r trapRules) IsTrapEntry(fn string) bool {
	return r.k.md.trap != nil && r.k.md.trap.entries[fn]
}
func (trapRules) IsThreadEntry(fn string) bool { return threadEntries[fn] }

// Interrupted reads the struct trapframe that a trap entry passed to
// trap(): FreeBSD's entries build it at the stack pointer and call
// trap(frame) with %rsp pointing at it, so it lies at sp, the trap entry
// frame's stack pointer.
func (r trapRules) Interrupted(sp uint64) (arch.Regs, string, error) {
	var regs arch.Regs
	t := r.k.t
	tk := r.k.md.trap
	if tk == nil {
		return regs, "", fmt.Errorf("kdap knows no FreeBSD/%s trap frames", t.Arch.Name)
	}
	member := func(name string) (uint64, error) {
		off, err := t.Kernel.MemberOffset("struct trapframe", name)
		if err != nil {
			return 0, err
		}
		return t.ReadPtr(sp + uint64(off))
	}
	for _, m := range tk.regs {
		v, err := member(m.member)
		if err != nil {
			return regs, "", fmt.Errorf("reading struct trapframe at %#x: %s: %w", sp, m.member, err)
		}
		regs.Set(m.reg, v)
	}
	off, err := t.Kernel.MemberOffset("struct trapframe", tk.trapno)
	if err != nil {
		return regs, "", fmt.Errorf("reading struct trapframe at %#x: tf_trapno: %w", sp, err)
	}
	trapno, err := t.ReadU32(sp + uint64(off))
	if err != nil {
		return regs, "", fmt.Errorf("reading struct trapframe at %#x: %w", sp, err)
	}
	a := t.Arch
	pc, _ := regs.Get(a.PC)
	sp2, _ := regs.Get(a.SP)
	fp, _ := regs.Get(a.FP)
	marker := fmt.Sprintf("--- trap %#x, %s = %#x, %s = %#x, %s = %#x ---", trapno,
		a.RegName(a.PC), pc, a.RegName(a.SP), sp2, a.RegName(a.FP), fp)
	return regs, marker, nil
}
