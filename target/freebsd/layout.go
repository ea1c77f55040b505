package freebsd

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/kdap/kdap/target"
	"github.com/kdap/kdap/target/debuginfo"
)

// layout holds the member offsets the model reads, resolved once.
type layout struct {
	fromDWARF bool

	pList, pThreads, pPid, pComm int64
	commLen                      int64

	tdPlist, tdTid, tdName, tdOncpu, tdPcb int64
	tdNameLen, tdOncpuSize                 int64
	tdKstack, tdKstackPages                int64 // -1 when unknown
	tdProc, pcCurthread                    int64 // -1 when unknown (DWARF only)

	// pcb is the struct pcb layout in use and pcbOff the offset of each
	// of its registers (DWARF's, or pcb.h's without DWARF).
	pcb     *pcbLayout
	pcbOff  []int64
	pcbSize int64 // 0 when unknown

	msgPtr, msgMagic, msgSize, msgWseq, msgRseq, msgSeqmod int64
}

// Fallbacks when the kernel has no DWARF. FreeBSD exports no offset
// symbols for these; the values are those of sys/sys/param.h (MAXCOMLEN)
// and sys/sys/msgbuf.h (msg_ptr, then u_int msg_magic, msg_size,
// msg_wseq, msg_rseq, msg_cksum, msg_seqmod), layouts that have not
// changed since FreeBSD 8; the PCB layouts are in machdep.go.
const (
	fallbackCommLen = 20 // MAXCOMLEN + 1
)

// fallbackMsg returns the offsets of msg_ptr, msg_magic, msg_size,
// msg_wseq, msg_rseq and msg_seqmod for a pointer of ptr bytes.
func fallbackMsg(ptr int64) [6]int64 {
	return [6]int64{0, ptr, ptr + 4, ptr + 8, ptr + 12, ptr + 20}
}

func loadLayout(t *target.Target, md *machdep) (layout, error) {
	k := t.Kernel
	var l layout
	var err error
	if _, derr := k.DWARF(); derr == nil {
		l, err = dwarfLayout(k)
	} else if !errors.Is(derr, debuginfo.ErrNoDWARF) {
		return layout{}, fmt.Errorf("reading DWARF of %s: %w", k.Path, derr)
	} else {
		l, err = symbolLayout(t)
	}
	if err != nil {
		return l, err
	}
	if err := l.choosePCB(t, md); err != nil {
		return l, err
	}
	return l, nil
}

// choosePCB picks the struct pcb layout: the one whose members DWARF has
// (reading their offsets from it), else, without DWARF, the first of the
// architecture's layouts whose saved registers in dumppcb form a plausible
// frame, else the newest.
func (l *layout) choosePCB(t *target.Target, md *machdep) error {
	if l.fromDWARF {
		var firstErr error
		for i := range md.pcbs {
			p := &md.pcbs[i]
			offs, err := dwarfPCB(t.Kernel, p)
			if err == nil {
				l.pcb, l.pcbOff = p, offs
				return nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		return firstErr
	}
	for i := range md.pcbs {
		p := &md.pcbs[i]
		offs := make([]int64, len(p.regs))
		for j, r := range p.regs {
			offs[j] = r.off
		}
		if l.pcb == nil {
			l.pcb, l.pcbOff = p, offs // the newest, unless another fits
		}
		if len(md.pcbs) > 1 && plausiblePCB(t, p, offs, l.pcbSize) {
			l.pcb, l.pcbOff = p, offs
			break
		}
	}
	return nil
}

// dwarfPCB resolves a layout's members through DWARF; a member written
// "pcb_x[10]" is element 10 of the array pcb_x, which must be long enough.
func dwarfPCB(k *target.Kernel, p *pcbLayout) ([]int64, error) {
	offs := make([]int64, len(p.regs))
	for i, r := range p.regs {
		name, idx := r.member, int64(-1)
		if j := strings.IndexByte(name, '['); j > 0 && strings.HasSuffix(name, "]") {
			n, err := strconv.ParseInt(name[j+1:len(name)-1], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("bad member %q", name)
			}
			name, idx = name[:j], n
		}
		off, size, err := k.Member("struct pcb", name)
		if err != nil {
			return nil, fmt.Errorf("kernel DWARF: struct pcb.%s (%s layout): %w", name, p.name, err)
		}
		if idx >= 0 {
			if (idx+1)*8 > size {
				return nil, fmt.Errorf("kernel DWARF: struct pcb.%s has %d bytes, not the %d elements of the %s layout", name, size, idx+1, p.name)
			}
			off += idx * 8
		}
		offs[i] = off
	}
	return offs, nil
}

// plausiblePCB reports whether dumppcb, read with a layout's offsets,
// holds a stack pointer and a frame pointer that could be the crashed
// thread's: kernel addresses, aligned, the frame pointer at most 64 KiB
// above the stack pointer, every member inside the PCB's size.
func plausiblePCB(t *target.Target, p *pcbLayout, offs []int64, size int64) bool {
	a, ok := t.Kernel.Addr("dumppcb")
	if !ok {
		return false
	}
	var sp, fp uint64
	var haveSP, haveFP bool
	for i, r := range p.regs {
		if size > 0 && offs[i]+int64(t.PtrSize()) > size {
			return false
		}
		v, err := t.ReadPtr(a + uint64(offs[i]))
		if err != nil {
			return false
		}
		switch r.reg {
		case t.Arch.SP:
			sp, haveSP = v, true
		case t.Arch.FP:
			fp, haveFP = v, true
		}
	}
	kb, _ := t.Kernel.Addr("kernbase")
	ptr := uint64(t.PtrSize())
	return haveSP && haveFP && sp >= kb && sp%ptr == 0 && fp%ptr == 0 && fp >= sp && fp-sp <= 64<<10
}

// dwarfLayout resolves every member by name through DWARF.
func dwarfLayout(k *target.Kernel) (layout, error) {
	l := layout{fromDWARF: true}
	var firstErr error
	get := func(typ, member string) (int64, int64) {
		off, size, err := k.Member(typ, member)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("kernel DWARF: %s.%s: %w", typ, member, err)
		}
		return off, size
	}
	l.pList, _ = get("struct proc", "p_list")
	l.pThreads, _ = get("struct proc", "p_threads")
	l.pPid, _ = get("struct proc", "p_pid")
	l.pComm, l.commLen = get("struct proc", "p_comm")
	l.tdPlist, _ = get("struct thread", "td_plist")
	l.tdTid, _ = get("struct thread", "td_tid")
	l.tdName, l.tdNameLen = get("struct thread", "td_name")
	l.tdOncpu, l.tdOncpuSize = get("struct thread", "td_oncpu")
	l.tdPcb, _ = get("struct thread", "td_pcb")
	l.msgPtr, _ = get("struct msgbuf", "msg_ptr")
	l.msgMagic, _ = get("struct msgbuf", "msg_magic")
	l.msgSize, _ = get("struct msgbuf", "msg_size")
	l.msgWseq, _ = get("struct msgbuf", "msg_wseq")
	l.msgRseq, _ = get("struct msgbuf", "msg_rseq")
	l.msgSeqmod, _ = get("struct msgbuf", "msg_seqmod")
	if firstErr != nil {
		return l, firstErr
	}
	// Optional members: stack bounds and the PCB size for stoppcbs[].
	l.tdKstack, l.tdKstackPages = -1, -1
	l.tdProc, l.pcCurthread = -1, -1
	if off, _, err := k.Member("struct thread", "td_proc"); err == nil {
		l.tdProc = off
	}
	if off, _, err := k.Member("struct pcpu", "pc_curthread"); err == nil {
		l.pcCurthread = off
	}
	if off, _, err := k.Member("struct thread", "td_kstack"); err == nil {
		l.tdKstack = off
	}
	if off, _, err := k.Member("struct thread", "td_kstack_pages"); err == nil {
		l.tdKstackPages = off
	}
	if sz, err := k.TypeSize("struct pcb"); err == nil {
		l.pcbSize = sz
	}
	return l, nil
}

// symbolLayout uses the offsets the kernel exports for debuggers
// (proc_off_*, thread_off_* in kern_proc.c / kern_thread.c), read from the
// dump's memory (the running kernel's own image), or from the kernel file
// where the dump lacks the page.
func symbolLayout(t *target.Target) (layout, error) {
	k := t.Kernel
	l := layout{tdKstack: -1, tdKstackPages: -1, tdProc: -1, pcCurthread: -1, commLen: fallbackCommLen, tdNameLen: fallbackCommLen}
	var firstErr error
	get := func(sym string) int64 {
		a, ok := k.Addr(sym)
		if !ok {
			if firstErr == nil {
				firstErr = fmt.Errorf("kernel has no DWARF and no offset symbol %s", sym)
			}
			return 0
		}
		v, err := readKernelU32(t, a)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("offset symbol %s: %w", sym, err)
			}
			return 0
		}
		return int64(int32(v))
	}
	l.pPid = get("proc_off_p_pid")
	l.pComm = get("proc_off_p_comm")
	l.pList = get("proc_off_p_list")
	l.pThreads = get("proc_off_p_threads")
	l.tdTid = get("thread_off_td_tid")
	l.tdName = get("thread_off_td_name")
	l.tdOncpu = get("thread_off_td_oncpu")
	l.tdPcb = get("thread_off_td_pcb")
	l.tdPlist = get("thread_off_td_plist")
	if firstErr != nil {
		return l, firstErr
	}
	// td_oncpu is an int (NOCPU -1) since FreeBSD 13 and was a u_char
	// (NOCPU 0xff) before; kernels that export thread_oncpu_size say which.
	l.tdOncpuSize = 4
	if _, ok := k.Addr("thread_oncpu_size"); ok {
		l.tdOncpuSize = get("thread_oncpu_size")
		if firstErr != nil {
			return l, firstErr
		}
	}
	if l.tdOncpuSize != 1 && l.tdOncpuSize != 4 {
		return l, fmt.Errorf("thread_oncpu_size is %d, expected 1 or 4", l.tdOncpuSize)
	}
	// sizeof(struct pcb) locates stoppcbs[cpu]: the kernel exports it as
	// pcb_size (since FreeBSD 13), and dumppcb, one struct pcb, has it as
	// its ELF symbol size.
	if a, ok := k.Addr("pcb_size"); ok {
		if v, err := readKernelU32(t, a); err == nil && v >= 24 && v < 1<<16 {
			l.pcbSize = int64(v)
		}
	}
	if s, ok := k.Syms.Lookup("dumppcb"); ok && l.pcbSize == 0 && s.Size >= 24 && s.Size < 1<<16 {
		l.pcbSize = int64(s.Size)
	}
	m := fallbackMsg(int64(t.PtrSize()))
	l.msgPtr, l.msgMagic, l.msgSize, l.msgWseq, l.msgRseq, l.msgSeqmod = m[0], m[1], m[2], m[3], m[4], m[5]
	return l, nil
}

// readKernelU32 reads a 32-bit kernel variable: from the dump's memory,
// which holds the running kernel's image, or else from the kernel file's
// initialised data.
func readKernelU32(t *target.Target, va uint64) (uint32, error) {
	v, err := t.ReadU32(va)
	if err == nil {
		return v, nil
	}
	var b [4]byte
	if ferr := t.Kernel.ReadFile(b[:], va); ferr != nil {
		return 0, fmt.Errorf("not in the dump (%v) nor in the kernel file (%v)", err, ferr)
	}
	return t.Arch.ByteOrder.Uint32(b[:]), nil
}
