package freebsd

import (
	"fmt"

	"github.com/kdap/kdap/target"
	"github.com/kdap/kdap/target/arch/amd64"
)

// trapEntries are the amd64 exception and interrupt entry points of
// sys/amd64/amd64/exception.S whose frames hold a struct trapframe.
var trapEntries = map[string]bool{
	"calltrap": true, "Xpage": true, "Xprot": true, "Xdiv": true, "Xdbg": true,
	"Xnmi": true, "Xbpt": true, "Xofl": true, "Xbnd": true, "Xill": true,
	"Xdna": true, "Xfpusegm": true, "Xtss": true, "Xmissing": true,
	"Xstk": true, "Xalign": true, "Xmchk": true, "Xxmm": true, "Xdblfault": true,
	"alltraps": true, "alltraps_pushregs": true, "alltraps_pushregs_no_rax": true,
	"fast_syscall_common": true, "Xfast_syscall": true,
	"Xtimerint": true, "Xapic_isr1": true, "Xcpustop": true, "Xipi_intr_bitmap_handler": true,
	"nmi_calltrap": true, "Xmchk_calltrap": true,
}

// threadEntries begin a kernel thread's stack.
var threadEntries = map[string]bool{"fork_trampoline": true}

// trapframe members, in the order the registers are read.
var tfRegs = []struct {
	member string
	reg    int
}{
	{"tf_rdi", amd64.RDI}, {"tf_rsi", amd64.RSI}, {"tf_rdx", amd64.RDX}, {"tf_rcx", amd64.RCX},
	{"tf_r8", amd64.R8}, {"tf_r9", amd64.R9}, {"tf_rax", amd64.RAX}, {"tf_rbx", amd64.RBX},
	{"tf_rbp", amd64.RBP}, {"tf_r10", amd64.R10}, {"tf_r11", amd64.R11}, {"tf_r12", amd64.R12},
	{"tf_r13", amd64.R13}, {"tf_r14", amd64.R14}, {"tf_r15", amd64.R15},
	{"tf_rip", amd64.RIP}, {"tf_rsp", amd64.RSP},
}

// trapRules implements target.TrapRules for FreeBSD/amd64.
type trapRules struct{ k *kernel }

func (k *kernel) TrapFrame() target.TrapRules { return trapRules{k} }

func (trapRules) IsTrapEntry(fn string) bool   { return trapEntries[fn] }
func (trapRules) IsThreadEntry(fn string) bool { return threadEntries[fn] }

// Interrupted reads the struct trapframe that a trap entry passed to
// trap(): FreeBSD's entries build it at the stack pointer and call
// trap(frame) with %rsp pointing at it, so it lies at sp, the trap entry
// frame's stack pointer.
func (r trapRules) Interrupted(sp uint64) (amd64.Regs, string, error) {
	var regs amd64.Regs
	t := r.k.t
	member := func(name string) (uint64, error) {
		off, err := t.Kernel.MemberOffset("struct trapframe", name)
		if err != nil {
			return 0, err
		}
		return t.ReadU64(sp + uint64(off))
	}
	for _, m := range tfRegs {
		v, err := member(m.member)
		if err != nil {
			return regs, "", fmt.Errorf("reading struct trapframe at %#x: %s: %w", sp, m.member, err)
		}
		regs.Set(m.reg, v)
	}
	off, err := t.Kernel.MemberOffset("struct trapframe", "tf_trapno")
	if err != nil {
		return regs, "", fmt.Errorf("reading struct trapframe at %#x: tf_trapno: %w", sp, err)
	}
	trapno, err := t.ReadU32(sp + uint64(off))
	if err != nil {
		return regs, "", fmt.Errorf("reading struct trapframe at %#x: %w", sp, err)
	}
	rip, _ := regs.Get(amd64.RIP)
	rsp, _ := regs.Get(amd64.RSP)
	rbp, _ := regs.Get(amd64.RBP)
	marker := fmt.Sprintf("--- trap %#x, rip = %#x, rsp = %#x, rbp = %#x ---", trapno, rip, rsp, rbp)
	return regs, marker, nil
}
