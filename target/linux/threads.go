package linux

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/kdap/kdap/target"
	"github.com/kdap/kdap/target/arch"
	"github.com/kdap/kdap/target/arch/amd64"
	"github.com/kdap/kdap/target/core"
)

// member returns the offset of a member path of a struct, from DWARF.
func (k *kernel) member(typ, path string) (uint64, error) {
	off, err := k.t.Kernel.MemberOffset("struct "+typ, path)
	if err != nil {
		return 0, fmt.Errorf("struct %s member %s: %w", typ, path, err)
	}
	return uint64(off), nil
}

// firstMember returns the offset of the first of the paths that exists.
func (k *kernel) firstMember(typ string, paths ...string) (uint64, error) {
	var err error
	for _, p := range paths {
		var off uint64
		if off, err = k.member(typ, p); err == nil {
			return off, nil
		}
	}
	return 0, err
}

// taskLayout holds the task_struct offsets Threads reads.
type taskLayout struct {
	tasks, pid, tgid, comm, cpu, onCPU, stack, sp uint64
	signal, threadNode, threadHead                uint64
	frame                                         map[string]uint64 // inactive_task_frame
	frameSize                                     uint64
}

func (k *kernel) taskLayout() (*taskLayout, error) {
	l := &taskLayout{frame: map[string]uint64{}}
	var err error
	set := func(dst *uint64, typ string, paths ...string) {
		if err == nil {
			*dst, err = k.firstMember(typ, paths...)
		}
	}
	set(&l.tasks, "task_struct", "tasks")
	set(&l.pid, "task_struct", "pid")
	set(&l.tgid, "task_struct", "tgid")
	set(&l.comm, "task_struct", "comm")
	set(&l.cpu, "task_struct", "thread_info.cpu", "cpu")
	set(&l.onCPU, "task_struct", "on_cpu")
	set(&l.stack, "task_struct", "stack")
	set(&l.sp, "task_struct", "thread.sp")
	set(&l.signal, "task_struct", "signal")
	set(&l.threadNode, "task_struct", "thread_node")
	set(&l.threadHead, "signal_struct", "thread_head")
	for _, m := range []string{"r15", "r14", "r13", "r12", "bx", "bp", "ret_addr"} {
		var off uint64
		set(&off, "inactive_task_frame", m)
		l.frame[m] = off
	}
	if err != nil {
		return nil, err
	}
	sz, err := k.t.Kernel.TypeSize("struct inactive_task_frame")
	if err != nil {
		return nil, err
	}
	l.frameSize = uint64(sz)
	return l, nil
}

// walkList calls fn for every node of the circular list_head at head,
// stopping at a cycle that does not return to head or after max nodes.
func (k *kernel) walkList(head uint64, max int, fn func(node uint64) error) error {
	return walkList(k.t.ReadU64, head, max, fn)
}

// walkList follows the next pointers of a list_head read through readU64.
func walkList(readU64 func(uint64) (uint64, error), head uint64, max int, fn func(node uint64) error) error {
	seen := map[uint64]bool{head: true}
	next, err := readU64(head)
	if err != nil {
		return fmt.Errorf("reading list head %#x: %w", head, err)
	}
	for next != head {
		if seen[next] {
			return fmt.Errorf("list at %#x loops back to %#x before reaching its head", head, next)
		}
		if len(seen) > max {
			return fmt.Errorf("list at %#x has more than %d entries", head, max)
		}
		seen[next] = true
		if err := fn(next); err != nil {
			return err
		}
		node := next
		if next, err = readU64(node); err != nil {
			return fmt.Errorf("reading list node %#x: %w", node, err)
		}
	}
	return nil
}

// cpuState is what a CPU's note and per-CPU data say about it.
type cpuState struct {
	current uint64
	regs    []byte // the NT_PRSTATUS descriptor
}

// cpus returns the running task and the note of every CPU the dump has
// registers for.
func (k *kernel) cpus() ([]cpuState, error) {
	n, ok := core.As[core.CPUNotes](k.t.Dump)
	if !ok {
		return nil, nil
	}
	notes := n.CPURegisters()
	if len(notes) > maxCPUs {
		return nil, fmt.Errorf("%d NT_PRSTATUS notes, more than %d CPUs", len(notes), maxCPUs)
	}
	offs, ok := k.t.Kernel.Addr("__per_cpu_offset")
	if !ok {
		return nil, fmt.Errorf("kernel has no symbol __per_cpu_offset")
	}
	var cur uint64
	if s, ok := k.t.Kernel.Syms.Lookup("pcpu_hot"); ok {
		off, err := k.member("pcpu_hot", "current_task")
		if err != nil {
			return nil, err
		}
		cur = s.Addr + off
	} else if s, ok := k.t.Kernel.Syms.Lookup("current_task"); ok {
		cur = s.Addr
	} else {
		return nil, fmt.Errorf("kernel has neither pcpu_hot nor current_task")
	}
	out := make([]cpuState, len(notes))
	for i, regs := range notes {
		base, err := k.t.ReadU64(offs + 8*uint64(i))
		if err != nil {
			return nil, fmt.Errorf("reading __per_cpu_offset[%d]: %w", i, err)
		}
		task, err := k.t.ReadU64(base + cur)
		if err != nil {
			return nil, fmt.Errorf("reading CPU %d's current task: %w", i, err)
		}
		out[i] = cpuState{current: task, regs: regs}
	}
	return out, nil
}

// prstatusRegs are the general registers of x86-64 struct user_regs_struct
// in their order; -1 marks the ones an unwinder does not use.
var prstatusRegs = []int{
	amd64.R15, amd64.R14, amd64.R13, amd64.R12, amd64.RBP, amd64.RBX, amd64.R11, amd64.R10,
	amd64.R9, amd64.R8, amd64.RAX, amd64.RCX, amd64.RDX, amd64.RSI, amd64.RDI, -1, amd64.RIP,
	-1, -1, amd64.RSP,
}

// prRegOffset is the offset of pr_reg in x86-64 struct elf_prstatus.
const prRegOffset = 112

// parsePRStatus reads the registers of an x86-64 NT_PRSTATUS descriptor.
func parsePRStatus(desc []byte) (arch.Regs, error) {
	var r arch.Regs
	if len(desc) < prRegOffset+8*len(prstatusRegs) {
		return r, fmt.Errorf("NT_PRSTATUS of %d bytes is too short for x86-64 pr_reg (need %d)", len(desc), prRegOffset+8*len(prstatusRegs))
	}
	for i, reg := range prstatusRegs {
		if reg >= 0 {
			r.Set(reg, binary.LittleEndian.Uint64(desc[prRegOffset+8*i:]))
		}
	}
	return r, nil
}

// Threads lists every task: the processes on init_task.tasks (init_task
// itself first, the idle task of CPU 0) and each one's threads. A dump
// that lacks pages, or whose lists are damaged, still gives every task
// that can be read, the tasks the CPUs were running among them, and
// Damage says what was skipped.
func (k *kernel) Threads() ([]*target.Thread, error) {
	k.damage = nil
	l, err := k.taskLayout()
	if err != nil {
		return nil, err
	}
	cpus, err := k.cpus()
	if err != nil {
		k.damaged("the CPUs' registers and running tasks: %v", err)
		cpus = nil
	}
	panicCPU := int32(-1) // PANIC_CPU_INVALID
	if a, ok := k.t.Kernel.Addr("panic_cpu"); ok {
		if v, err := k.t.ReadU32(a); err == nil {
			panicCPU = int32(v)
		}
	}
	pcs := make([]uint64, len(cpus))
	for i, c := range cpus {
		if r, err := parsePRStatus(c.regs); err == nil {
			pcs[i], _ = r.Get(amd64.RIP)
		}
	}
	crashCPU := crashedCPU(panicCPU, pcs, func(pc uint64) string {
		s, _, _ := k.t.Kernel.Syms.Addr(pc)
		return s.Name
	})
	init, _ := k.t.Kernel.Addr("init_task")
	var tasks []uint64
	seen := map[uint64]bool{}
	add := func(task uint64) {
		if !seen[task] {
			seen[task] = true
			tasks = append(tasks, task)
		}
	}
	addProcess := func(leader uint64) error {
		add(leader)
		sig, err := k.t.ReadU64(leader + l.signal)
		if err != nil || sig == 0 {
			return nil
		}
		if err := k.walkList(sig+l.threadHead, maxTasks, func(node uint64) error {
			add(node - l.threadNode)
			return nil
		}); err != nil {
			k.damaged("threads of task %#x: %v", leader, err)
		}
		return nil
	}
	addProcess(init)
	if err := k.walkList(init+l.tasks, maxTasks, func(node uint64) error {
		return addProcess(node - l.tasks)
	}); err != nil {
		k.damaged("init_task.tasks: %v", err)
	}
	// The tasks the CPUs were running exist whatever the lists say.
	for i, c := range cpus {
		if c.current != 0 && !seen[c.current] {
			k.damaged("CPU %d's task %#x is on no task list that could be read", i, c.current)
			add(c.current)
		}
	}
	idle, err := k.idleTasks()
	if err != nil {
		k.damaged("idle tasks: %v", err)
	}
	idleCPU := map[uint64]int{}
	for cpu, task := range idle {
		if task != 0 {
			idleCPU[task] = cpu
			add(task)
		}
	}
	var ths []*target.Thread
	for _, task := range tasks {
		th, err := k.thread(l, task, cpus, crashCPU)
		if err != nil {
			k.damaged("%v", err)
			continue
		}
		if cpu, ok := idleCPU[task]; ok && th.TID == 0 {
			// Every idle task has pid 0: name them apart by CPU.
			th.ID = pidMaxLimit + int64(cpu)
		}
		if th.Crashed {
			ths = append([]*target.Thread{th}, ths...)
		} else {
			ths = append(ths, th)
		}
	}
	if len(ths) == 0 && len(k.damage) > 0 {
		return nil, fmt.Errorf("no task could be read: %s", k.damage[0])
	}
	return ths, nil
}

// pidMaxLimit is PID_MAX_LIMIT on 64-bit kernels: no task's pid reaches
// it, so the idle task of CPU n takes ID pidMaxLimit+n.
const pidMaxLimit = 4 << 20

// idleTasks returns each possible CPU's idle task (runqueues.idle), CPU 0's
// being init_task; the other CPUs' idle tasks are on no task list.
func (k *kernel) idleTasks() ([]uint64, error) {
	rq, ok := k.t.Kernel.Syms.Lookup("runqueues")
	if !ok {
		return nil, fmt.Errorf("kernel has no symbol runqueues (the per-CPU run queues)")
	}
	idleOff, err := k.member("rq", "idle")
	if err != nil {
		return nil, err
	}
	n := 1
	if a, ok := k.t.Kernel.Addr("nr_cpu_ids"); ok {
		v, err := k.t.ReadU32(a)
		if err != nil {
			return nil, fmt.Errorf("reading nr_cpu_ids: %w", err)
		}
		if v == 0 || v > maxCPUs {
			return nil, fmt.Errorf("nr_cpu_ids is %d, expected 1 to %d", v, maxCPUs)
		}
		n = int(v)
	}
	offs, ok := k.t.Kernel.Addr("__per_cpu_offset")
	if !ok {
		return nil, fmt.Errorf("kernel has no symbol __per_cpu_offset")
	}
	out := make([]uint64, n)
	for cpu := range out {
		base, err := k.t.ReadU64(offs + 8*uint64(cpu))
		if err != nil {
			return nil, fmt.Errorf("reading __per_cpu_offset[%d]: %w", cpu, err)
		}
		task, err := k.t.ReadU64(base + rq.Addr + idleOff)
		if err != nil {
			return nil, fmt.Errorf("reading CPU %d's idle task (runqueues.idle): %w", cpu, err)
		}
		out[cpu] = task
	}
	return out, nil
}

// crashedCPU picks the CPU that panicked: panic_cpu when panic() set it,
// else the first CPU whose note's pc is in the panic path (panic, its
// delay loop delay_tsc, or a crash_* function of kexec); -1 when none.
func crashedCPU(panicCPU int32, pcs []uint64, name func(uint64) string) int {
	if panicCPU >= 0 && int(panicCPU) < len(pcs) {
		return int(panicCPU)
	}
	for i, pc := range pcs {
		if n := name(pc); n == "panic" || n == "delay_tsc" || strings.HasPrefix(n, "crash_") {
			return i
		}
	}
	return -1
}

// thread reads one task.
func (k *kernel) thread(l *taskLayout, task uint64, cpus []cpuState, panicCPU int) (*target.Thread, error) {
	t := k.t
	fail := func(what string, err error) error {
		return fmt.Errorf("task_struct at %#x: %s: %w", task, what, err)
	}
	pid, err := t.ReadU32(task + l.pid)
	if err != nil {
		return nil, fail("pid", err)
	}
	tgid, err := t.ReadU32(task + l.tgid)
	if err != nil {
		return nil, fail("tgid", err)
	}
	comm, err := t.ReadCString(task+l.comm, 16)
	if err != nil {
		k.damaged("%v", fail("comm", err))
	}
	th := &target.Thread{TID: int64(int32(pid)), PID: int64(int32(tgid)), Comm: comm, CPU: -1, Addr: task}
	if stack, err := t.ReadU64(task + l.stack); err != nil {
		k.damaged("%v", fail("stack", err))
	} else {
		th.StackLo, th.StackHi = stack, stack+threadSize
	}
	for i, c := range cpus {
		if c.current != task {
			continue
		}
		th.CPU, th.Crashed = i, i == panicCPU
		regs, err := parsePRStatus(c.regs)
		if err != nil {
			th.RegsErr = fmt.Sprintf("CPU %d's NT_PRSTATUS note: %v", i, err)
			k.damaged("task %#x: %s", task, th.RegsErr)
			return th, nil
		}
		th.Regs, th.RegsFrom = regs, fmt.Sprintf("NT_PRSTATUS[%d]", i)
		return th, nil
	}
	noRegs := func(err error) (*target.Thread, error) {
		th.Regs = arch.Regs{}
		th.RegsErr = err.Error()
		k.damaged("task %#x (pid %d): %s", task, th.TID, th.RegsErr)
		return th, nil
	}
	sp, err := t.ReadU64(task + l.sp)
	if err != nil {
		return noRegs(fmt.Errorf("thread.sp: %w", err))
	}
	for _, m := range []struct {
		name string
		reg  int
	}{{"r15", amd64.R15}, {"r14", amd64.R14}, {"r13", amd64.R13}, {"r12", amd64.R12},
		{"bx", amd64.RBX}, {"bp", amd64.RBP}, {"ret_addr", amd64.RIP}} {
		v, err := t.ReadU64(sp + l.frame[m.name])
		if err != nil {
			return noRegs(fmt.Errorf("inactive_task_frame.%s: %w", m.name, err))
		}
		th.Regs.Set(m.reg, v)
	}
	th.Regs.Set(amd64.RSP, sp+l.frameSize)
	th.RegsFrom, th.SavedByCall = "inactive_task_frame", true
	// A task that never ran "returns" to the first instruction of
	// ret_from_fork, which no call precedes (the kernel's own unwinder
	// makes the same exception).
	if pc, _ := th.Regs.Get(amd64.RIP); pc != 0 {
		if rf, ok := t.Kernel.Addr("ret_from_fork"); ok && rf == pc {
			th.SavedByCall = false
		}
	}
	return th, nil
}
