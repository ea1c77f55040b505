package freebsd

import (
	"bytes"
	"fmt"

	godwarf "github.com/go-delve/delve/pkg/dwarf/godwarf"
	"github.com/kdap/kdap/target"

	"github.com/kdap/kdap/target/arch"
)

// Threads walks allproc and zombproc and each process's p_threads. A
// dump often lacks pages (it ended early, or a list runs through memory
// that was not dumped): what cannot be read is left out or marked, and
// said in Damage, and the walk goes on with what can be, as libkvm-based
// debuggers do. A thread whose td_tid cannot be read is left out; one
// whose PCB cannot be read is listed without registers.
func (k *kernel) Threads() ([]*target.Thread, error) {
	t := k.t
	k.damage = nil
	dumptid := int64(-1)
	if a, ok := t.Kernel.Addr("dumptid"); ok {
		v, err := t.ReadU32(a)
		if err != nil {
			k.damaged("dumptid: %v: the crashed thread cannot be told", err)
		} else {
			dumptid = int64(int32(v))
		}
	}
	var all []*target.Thread
	seen := map[uint64]bool{}
	for _, list := range []string{"allproc", "zombproc"} {
		head, ok := t.Kernel.Addr(list)
		if !ok {
			if list == "allproc" {
				return nil, fmt.Errorf("kernel has no symbol allproc")
			}
			continue
		}
		p, err := t.ReadPtr(head) // lh_first
		if err != nil {
			k.damaged("%s: %v", list, err)
			continue
		}
		for n := 0; p != 0; n++ {
			if n >= maxProcs {
				k.damaged("%s: more than %d processes: the list is corrupt", list, maxProcs)
				break
			}
			if seen[p] {
				k.damaged("%s: cycle: process %#x appears twice", list, p)
				break
			}
			seen[p] = true
			all = append(all, k.procThreads(p, list == "zombproc", dumptid)...)
			if p, err = t.ReadPtr(p + uint64(k.lay.pList)); err != nil { // p_list.le_next
				k.damaged("%s: the process after %#x: reading p_list: %v", list, p, err)
				break
			}
		}
	}
	all = append(all, k.runningThreads(all, dumptid)...)
	if dumptid >= 0 {
		found := false
		for _, th := range all {
			found = found || th.Crashed
		}
		if !found {
			k.damaged("no thread has the crashed thread's id (dumptid %d): the crashed thread cannot be told", dumptid)
		}
	}
	if len(all) == 0 && len(k.damage) > 0 {
		return nil, fmt.Errorf("no thread could be read: %s", k.damage[0])
	}
	// The crashed thread first, the rest in list order.
	for i, th := range all {
		if th.Crashed && i > 0 {
			copy(all[1:i+1], all[:i])
			all[0] = th
			break
		}
	}
	return all, nil
}

// runningThreads returns the threads the CPUs were running
// (cpuid_to_pcpu[cpu]->pc_curthread) that the process lists did not give:
// a list damaged or cut short by a missing page hides them, but they
// certainly exist, the crashed one among them. It needs DWARF (struct
// pcpu has no exported offsets).
func (k *kernel) runningThreads(have []*target.Thread, dumptid int64) []*target.Thread {
	t := k.t
	a, ok := t.Kernel.Syms.Lookup("cpuid_to_pcpu")
	if !ok || k.lay.pcCurthread < 0 || k.lay.tdProc < 0 {
		return nil
	}
	seen := map[uint64]bool{}
	for _, th := range have {
		seen[th.Addr] = true
	}
	ptr := uint64(t.PtrSize())
	n := min(a.Size/ptr, maxCPUs)
	if v, ok := t.Kernel.Addr("mp_ncpus"); ok {
		if c, rerr := t.ReadU32(v); rerr == nil && c > 0 && uint64(c) < n {
			n = uint64(c)
		}
	}
	var out []*target.Thread
	for cpu := uint64(0); cpu < n; cpu++ {
		pc, err := t.ReadPtr(a.Addr + cpu*ptr)
		if err != nil || pc == 0 {
			continue
		}
		td, err := t.ReadPtr(pc + uint64(k.lay.pcCurthread))
		if err != nil || td == 0 || seen[td] {
			continue
		}
		seen[td] = true
		pid, comm := int64(-1), ""
		if p, err := t.ReadPtr(td + uint64(k.lay.tdProc)); err == nil && p != 0 {
			if v, err := t.ReadU32(p + uint64(k.lay.pPid)); err == nil {
				pid = int64(int32(v))
			}
			comm, _ = k.readName(p+uint64(k.lay.pComm), k.lay.commLen)
		}
		th, err := k.thread(td, pid, comm, false, dumptid)
		if err != nil {
			k.damaged("CPU %d's thread %#x: %v", cpu, td, err)
			continue
		}
		k.damaged("CPU %d's thread %d (%#x) is on no process list that could be read", cpu, th.TID, td)
		out = append(out, th)
	}
	return out
}

// damaged records something of the thread lists that could not be read.
func (k *kernel) damaged(format string, args ...any) {
	if len(k.damage) < maxDamage {
		k.damage = append(k.damage, fmt.Sprintf(format, args...))
	} else if len(k.damage) == maxDamage {
		k.damage = append(k.damage, "more damage not listed")
	}
}

// maxDamage bounds the damage Threads reports.
const maxDamage = 64

// Damage lists what the last Threads call could not read.
func (k *kernel) Damage() []string { return append([]string(nil), k.damage...) }

// procThreads reads one process and its threads, as far as they can be
// read.
func (k *kernel) procThreads(p uint64, zombie bool, dumptid int64) []*target.Thread {
	t := k.t
	pid := int64(-1)
	if v, err := t.ReadU32(p + uint64(k.lay.pPid)); err != nil {
		k.damaged("process %#x: p_pid: %v", p, err)
	} else {
		pid = int64(int32(v))
	}
	comm, err := k.readName(p+uint64(k.lay.pComm), k.lay.commLen)
	if err != nil {
		k.damaged("process %#x (pid %d): p_comm: %v", p, pid, err)
	}
	var out []*target.Thread
	seen := map[uint64]bool{}
	td, err := t.ReadPtr(p + uint64(k.lay.pThreads)) // tqh_first
	if err != nil {
		k.damaged("process %d: p_threads: %v", pid, err)
		return nil
	}
	for n := 0; td != 0; n++ {
		if n >= maxThreadsPerProc {
			k.damaged("process %d: more than %d threads: p_threads is corrupt", pid, maxThreadsPerProc)
			break
		}
		if seen[td] {
			k.damaged("process %d: p_threads cycle at thread %#x", pid, td)
			break
		}
		seen[td] = true
		if th, err := k.thread(td, pid, comm, zombie, dumptid); err != nil {
			k.damaged("process %d: %v", pid, err)
		} else {
			out = append(out, th)
		}
		next, err := t.ReadPtr(td + uint64(k.lay.tdPlist)) // td_plist.tqe_next
		if err != nil {
			k.damaged("process %d: the thread after %#x: reading td_plist: %v", pid, td, err)
			break
		}
		td = next
	}
	return out
}

// readName reads a fixed-size NUL-padded name field.
func (k *kernel) readName(va uint64, n int64) (string, error) {
	if n <= 0 || n > 256 {
		n = fallbackCommLen
	}
	b := make([]byte, n)
	if err := k.t.ReadVirt(b, va); err != nil {
		return "", err
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b), nil
}

// thread reads one struct thread and picks the PCB its registers come from.
func (k *kernel) thread(td uint64, pid int64, comm string, zombie bool, dumptid int64) (*target.Thread, error) {
	t := k.t
	tid, err := t.ReadU32(td + uint64(k.lay.tdTid))
	if err != nil {
		return nil, fmt.Errorf("thread %#x: reading td_tid: %w", td, err)
	}
	name, err := k.readName(td+uint64(k.lay.tdName), k.lay.tdNameLen)
	if err != nil {
		k.damaged("thread %d: td_name: %v", tid, err)
	}
	var oc [4]byte
	sz := k.lay.tdOncpuSize
	if sz != 4 {
		sz = 1
	}
	cpu := -1
	if err := t.ReadVirt(oc[:sz], td+uint64(k.lay.tdOncpu)); err != nil {
		k.damaged("thread %d: td_oncpu: %v", tid, err)
	} else if sz == 4 {
		cpu = int(int32(t.Arch.ByteOrder.Uint32(oc[:])))
	} else {
		cpu = int(oc[0])
	}
	if (sz == 1 && cpu == nocpu) || cpu < 0 || cpu >= maxCPUs {
		cpu = -1
	}
	th := &target.Thread{
		TID: int64(int32(tid)), PID: pid, Comm: comm, Name: name, CPU: cpu,
		Zombie: zombie, Addr: td,
	}
	th.Crashed = th.TID == dumptid
	pcb, from, err := k.pcbFor(th)
	if err != nil {
		th.RegsErr = fmt.Sprintf("no PCB: %v", err)
		k.damaged("thread %d: %s", tid, th.RegsErr)
	} else {
		th.RegsFrom = from
		th.SavedByCall = true // every PCB is written by cpu_switch or savectx
		if th.Regs, err = k.readPCB(pcb); err != nil {
			th.Regs = arch.Regs{}
			th.RegsErr = fmt.Sprintf("its PCB (%s at %#x) is unreadable: %v", from, pcb, err)
			k.damaged("thread %d: %s", tid, th.RegsErr)
		} else if pc, _ := th.Regs.Get(t.Arch.PC); pc == 0 {
			// No switch or savectx leaves a zero pc: the PCB was never
			// written, or its page is damaged.
			th.Regs = arch.Regs{}
			th.RegsErr = fmt.Sprintf("its PCB (%s at %#x) holds no saved pc", from, pcb)
			k.damaged("thread %d: %s", tid, th.RegsErr)
		}
	}
	if k.lay.tdKstack >= 0 && k.lay.tdKstackPages >= 0 {
		base, err1 := t.ReadPtr(td + uint64(k.lay.tdKstack))
		pages, err2 := t.ReadU32(td + uint64(k.lay.tdKstackPages))
		if err1 == nil && err2 == nil && base != 0 && pages > 0 && pages < 1024 {
			th.StackLo, th.StackHi = base, base+uint64(pages)*4096
		}
	}
	return th, nil
}

// pcbFor picks the saved context kgdb would use: dumppcb for the thread
// that dumped, stoppcbs[cpu] for a thread running on another CPU, else
// the thread's own td_pcb.
func (k *kernel) pcbFor(th *target.Thread) (uint64, string, error) {
	t := k.t
	if th.Crashed {
		if a, ok := t.Kernel.Addr("dumppcb"); ok {
			return a, "dumppcb", nil
		}
	}
	if th.CPU >= 0 && !th.Crashed && k.lay.pcbSize > 0 && k.cpuStopped(th.CPU) {
		if base, ok := k.stopPCBs(); ok {
			return base + uint64(th.CPU)*uint64(k.lay.pcbSize), fmt.Sprintf("stoppcbs[%d]", th.CPU), nil
		}
	}
	pcb, err := t.ReadPtr(th.Addr + uint64(k.lay.tdPcb))
	if err != nil {
		return 0, "", fmt.Errorf("reading td_pcb: %w", err)
	}
	if pcb == 0 {
		return 0, "", fmt.Errorf("td_pcb is NULL")
	}
	return pcb, "td_pcb", nil
}

// stopPCBs returns the address of stoppcbs[0]. Before FreeBSD 14.0
// (__FreeBSD_version 1400089) stoppcbs was an array of MAXCPU PCBs;
// since then it is a pointer to an array allocated at boot. DWARF's type
// says which; without DWARF, a symbol no larger than a pointer is the
// pointer.
func (k *kernel) stopPCBs() (uint64, bool) {
	k.stopOnce.Do(func() { k.stopBase, k.stopOK = k.findStopPCBs() })
	return k.stopBase, k.stopOK
}

// findStopPCBs does stopPCBs's work, once per dump.
func (k *kernel) findStopPCBs() (uint64, bool) {
	t := k.t
	s, ok := t.Kernel.Syms.Lookup("stoppcbs")
	if !ok {
		return 0, false
	}
	isPtr := s.Size > 0 && s.Size <= uint64(t.PtrSize())
	if d, err := t.Kernel.DWARF(); err == nil {
		if ty, err := d.VariableType("stoppcbs"); err == nil {
			_, isPtr = ty.(*godwarf.PtrType)
		}
	}
	if !isPtr {
		return s.Addr, true
	}
	p, err := t.ReadPtr(s.Addr)
	if err != nil || p == 0 {
		return 0, false
	}
	return p, true
}

// cpuStopped reports whether cpu's bit is set in stopped_cpus; kernels
// without the symbol are taken to have stopped every other CPU.
func (k *kernel) cpuStopped(cpu int) bool {
	a, ok := k.t.Kernel.Addr("stopped_cpus")
	if !ok {
		return true
	}
	// cpuset_t is an array of longs.
	bits := uint64(k.t.PtrSize()) * 8
	w, err := k.t.ReadPtr(a + uint64(cpu)/bits*uint64(k.t.PtrSize()))
	if err != nil {
		return false
	}
	return w&(1<<(uint64(cpu)%bits)) != 0
}

// readPCB turns a saved PCB into registers, as the layout in use says:
// the registers it saves, the pc from the member that holds the return
// address (rip, eip; x30 on arm64), and the stack pointer moved past a
// return address that x86's savectx and cpu_switch leave on the stack.
func (k *kernel) readPCB(pcb uint64) (arch.Regs, error) {
	var regs arch.Regs
	l := k.lay.pcb
	a := k.t.Arch
	for i, r := range l.regs {
		v, err := k.t.ReadPtr(pcb + uint64(k.lay.pcbOff[i]))
		if err != nil {
			return regs, err
		}
		regs.Set(r.reg, v)
	}
	if v, ok := regs.Get(l.pc); ok && l.pc != a.PC {
		regs.Set(a.PC, v)
	}
	if sp, ok := regs.Get(a.SP); ok {
		regs.Set(a.SP, sp+l.spAdjust)
	}
	return regs, nil
}
