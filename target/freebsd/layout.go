package freebsd

import (
	"encoding/binary"
	"errors"
	"fmt"

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

	// pcb holds the offsets of pcb_r15, pcb_r14, pcb_r13, pcb_r12,
	// pcb_rbp, pcb_rsp, pcb_rbx and pcb_rip.
	pcb     [8]int64
	pcbSize int64 // 0 when unknown

	msgPtr, msgMagic, msgSize, msgWseq, msgRseq, msgSeqmod int64
}

// pcbRegs names the registers a PCB saves, in pcb.h's order.
var pcbRegs = [8]string{"r15", "r14", "r13", "r12", "rbp", "rsp", "rbx", "rip"}

// Fallbacks when the kernel has no DWARF. FreeBSD exports no offset
// symbols for these; the values are those of sys/sys/param.h (MAXCOMLEN),
// sys/amd64/include/pcb.h (the callee-saved registers lead struct pcb in
// this order) and sys/sys/msgbuf.h, layouts that have not changed since
// FreeBSD 8.
const (
	fallbackCommLen = 20 // MAXCOMLEN + 1
)

var (
	fallbackPCB = [8]int64{0, 8, 16, 24, 32, 40, 48, 56}
	// msg_ptr, msg_magic, msg_size, msg_wseq, msg_rseq, msg_seqmod
	fallbackMsg = [6]int64{0, 8, 12, 16, 20, 28}
)

func loadLayout(k *target.Kernel) (layout, error) {
	if _, err := k.DWARF(); err == nil {
		return dwarfLayout(k)
	} else if !errors.Is(err, debuginfo.ErrNoDWARF) {
		return layout{}, fmt.Errorf("reading DWARF of %s: %w", k.Path, err)
	}
	return symbolLayout(k)
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
	for i, r := range pcbRegs {
		l.pcb[i], _ = get("struct pcb", "pcb_"+r)
	}
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
// (proc_off_*, thread_off_* in kern_proc.c / kern_thread.c).
func symbolLayout(k *target.Kernel) (layout, error) {
	l := layout{tdKstack: -1, tdKstackPages: -1, commLen: fallbackCommLen, tdNameLen: fallbackCommLen}
	var firstErr error
	get := func(sym string) int64 {
		a, ok := k.Addr(sym)
		if !ok {
			if firstErr == nil {
				firstErr = fmt.Errorf("kernel has no DWARF and no offset symbol %s", sym)
			}
			return 0
		}
		var b [4]byte
		if err := k.ReadFile(b[:], a); err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("offset symbol %s: %w", sym, err)
			}
			return 0
		}
		return int64(int32(binary.LittleEndian.Uint32(b[:])))
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
	l.tdOncpuSize = get("thread_oncpu_size")
	if firstErr != nil {
		return l, firstErr
	}
	if l.tdOncpuSize != 1 && l.tdOncpuSize != 4 {
		return l, fmt.Errorf("thread_oncpu_size is %d, expected 1 or 4", l.tdOncpuSize)
	}
	l.pcb = fallbackPCB
	// dumppcb is one struct pcb: its ELF symbol size is sizeof(struct pcb),
	// which locates stoppcbs[cpu].
	if s, ok := k.Syms.Lookup("dumppcb"); ok && s.Size >= 64 && s.Size < 1<<16 {
		l.pcbSize = int64(s.Size)
	}
	l.msgPtr, l.msgMagic, l.msgSize, l.msgWseq, l.msgRseq, l.msgSeqmod = fallbackMsg[0], fallbackMsg[1], fallbackMsg[2], fallbackMsg[3], fallbackMsg[4], fallbackMsg[5]
	return l, nil
}
