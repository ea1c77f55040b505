package freebsd

import (
	"fmt"

	"github.com/kdap/kdap/target"
	"github.com/kdap/kdap/target/arch"
	"github.com/kdap/kdap/target/arch/amd64"
	"github.com/kdap/kdap/target/arch/arm64"
	"github.com/kdap/kdap/target/arch/i386"
)

// pcbLayout is one shape of a machine's struct pcb (sys/<arch>/include/
// pcb.h): which members hold which registers, and where those members lie
// when the kernel has no DWARF to say.
type pcbLayout struct {
	name string
	regs []pcbReg
	// pc is the DWARF number of the register whose saved value is the
	// thread's pc (rip, eip; x30, the link register, on arm64).
	pc int
	// spAdjust is added to the saved stack pointer: on x86 it points at
	// the return address that savectx and cpu_switch were called with,
	// which the caller's frame no longer holds.
	spAdjust uint64
}

// pcbReg is one saved register of a struct pcb.
type pcbReg struct {
	member string // DWARF member, "pcb_rbp" or "pcb_x[10]"
	reg    int    // DWARF register number
	off    int64  // offset in pcb.h's layout, used without DWARF
}

// machdep is what the FreeBSD model knows of one architecture.
type machdep struct {
	// pcbs lists the struct pcb layouts FreeBSD has had, newest first.
	pcbs []pcbLayout
	// trap knows the trap entries; nil when kdap knows none for this
	// architecture.
	trap *trapKnowledge
	// extraText lists code outside the kernel image.
	extraText [][2]uint64
}

// machdeps holds the architectures the FreeBSD model reads.
var machdeps = map[*arch.Arch]*machdep{
	amd64.Arch: {
		// pcb_r15 .. pcb_rip lead struct pcb in this order since FreeBSD 8.
		pcbs: []pcbLayout{{name: "amd64", pc: amd64.RIP, spAdjust: 8, regs: []pcbReg{
			{"pcb_r15", amd64.R15, 0}, {"pcb_r14", amd64.R14, 8}, {"pcb_r13", amd64.R13, 16},
			{"pcb_r12", amd64.R12, 24}, {"pcb_rbp", amd64.RBP, 32}, {"pcb_rsp", amd64.RSP, 40},
			{"pcb_rbx", amd64.RBX, 48}, {"pcb_rip", amd64.RIP, 56},
		}}},
		trap: amd64Traps,
	},
	i386.Arch: {
		pcbs: []pcbLayout{{name: "i386", pc: i386.EIP, spAdjust: 4, regs: []pcbReg{
			{"pcb_edi", i386.EDI, 0}, {"pcb_esi", i386.ESI, 4}, {"pcb_ebp", i386.EBP, 8},
			{"pcb_esp", i386.ESP, 12}, {"pcb_ebx", i386.EBX, 16}, {"pcb_eip", i386.EIP, 20},
		}}},
		// The trampoline of the 4/4 split holds the exception and
		// system call entry code: PMAP_TRM_MIN_ADDRESS (the top 4 MB)
		// to the end of the address space (sys/i386/include/vmparam.h).
		extraText: [][2]uint64{{0xffc00000, 0x100000000}},
	},
	arm64.Arch: {pcbs: []pcbLayout{arm64PCB14, arm64PCB13}},
}

// arm64PCB14 is FreeBSD 14's struct pcb: pcb_x[12] holds x19..x30, then
// pcb_sp. savectx and cpu_switch leave the return address in x30.
var arm64PCB14 = func() pcbLayout {
	l := pcbLayout{name: "arm64 (FreeBSD 14: pcb_x[12] holds x19..x30)", pc: arm64.LR}
	for i := 0; i < 12; i++ {
		l.regs = append(l.regs, pcbReg{fmt.Sprintf("pcb_x[%d]", i), 19 + i, int64(8 * i)})
	}
	l.regs = append(l.regs, pcbReg{"pcb_sp", arm64.SP, 96})
	return l
}()

// arm64PCB13 is the struct pcb of FreeBSD 13 and earlier: pcb_x[31]
// holds x0..x30, then pcb_pc (unused by savectx) and pcb_sp.
var arm64PCB13 = func() pcbLayout {
	l := pcbLayout{name: "arm64 (FreeBSD 13: pcb_x[31] holds x0..x30)", pc: arm64.LR}
	for i := 0; i < 31; i++ {
		l.regs = append(l.regs, pcbReg{fmt.Sprintf("pcb_x[%d]", i), i, int64(8 * i)})
	}
	l.regs = append(l.regs, pcbReg{"pcb_sp", arm64.SP, 256})
	return l
}()

// machdepFor returns the FreeBSD model's knowledge of t's architecture.
func machdepFor(t *target.Target) (*machdep, error) {
	m, ok := machdeps[t.Arch]
	if !ok {
		return nil, fmt.Errorf("kdap does not know FreeBSD's %s structures", t.Arch.Name)
	}
	return m, nil
}
