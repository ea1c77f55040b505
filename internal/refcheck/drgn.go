package refcheck

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DrgnScript is the Python that the comparison runs in drgn (drgn -e): it
// prints, tab-separated, the crashed thread (tid, CPU, comm), its stack
// trace frame by frame (pc, inlined or not, function name, source file and
// line), the values of jiffies and init_task.comm, and the stack trace of
// every task of the task list ("tframe" lines, by task address; "terror"
// when drgn cannot unwind one).
//
// drgn's stack trace of a task that entered the kernel through a system
// call goes on into user space through the pt_regs at the stack's top
// (then through garbage, since drgn has no user-space debug info): the
// script stops at the first pc below the kernel half of the address space,
// because the comparison is about the kernel stack.
const DrgnScript = `
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.sched import task_cpu

def frames(trace, *prefix):
    for f in trace:
        if f.pc < 0xffff800000000000:
            break
        try:
            path, line, col = f.source()
        except LookupError:
            path, line = "", 0
        print(*prefix, hex(f.pc), int(f.is_inline), f.name or "", path, line, sep="\t")

th = prog.crashed_thread()
print("crashed", th.tid, task_cpu(th.object), th.object.comm.string_().decode(errors="replace"), sep="\t")
frames(th.stack_trace(), "frame")
print("jiffies", prog["jiffies"].value_(), sep="\t")
print("init_task.comm", prog["init_task"].comm.string_().decode(errors="replace"), sep="\t")
for task in for_each_task(prog):
    try:
        trace = prog.stack_trace(task)
    except Exception as e:
        print("terror", hex(task.value_()), str(e).replace("\t", " ").replace("\n", " "), sep="\t")
        continue
    frames(trace, "tframe", hex(task.value_()))
`

// DrgnFrame is one frame of drgn's stack trace.
type DrgnFrame struct {
	PC       uint64
	Inlined  bool
	Function string
	File     string // as drgn gives it: relative to the build folder for C
	Line     int
}

// Drgn is drgn's output for DrgnScript.
type Drgn struct {
	CrashedTID int64
	CrashedCPU int
	Comm       string
	Frames     []DrgnFrame
	Jiffies    string
	InitComm   string
	// Tasks has the stack trace of every task of the task list, by
	// task_struct address; TaskErr drgn's error for those it could not
	// unwind.
	Tasks   map[uint64][]DrgnFrame
	TaskErr map[uint64]string
}

// RunDrgn runs drgn on vmlinux and the ELF dump (from the cache when it
// already ran on the same files) and parses its output.
func RunDrgn(tl Tool, vmlinux, dump string, sums ...string) (*Drgn, error) {
	out, err := tl.Run([]string{"-q", "-c", dump, "-s", vmlinux, "-e", DrgnScript}, "", sums, 5*time.Minute)
	if err != nil {
		return nil, err
	}
	return ParseDrgn(out)
}

// ParseDrgn parses drgn's output for DrgnScript.
func ParseDrgn(out string) (*Drgn, error) {
	d := &Drgn{CrashedTID: -1, Tasks: map[uint64][]DrgnFrame{}, TaskErr: map[uint64]string{}}
	seen := map[string]bool{}
	for i, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		f := strings.Split(line, "\t")
		bad := func(want string) error {
			return fmt.Errorf("drgn output line %d: expected %s, got %q", i+1, want, line)
		}
		seen[f[0]] = true
		switch f[0] {
		case "crashed":
			if len(f) != 4 {
				return nil, bad("crashed TID CPU COMM")
			}
			var err1, err2 error
			d.CrashedTID, err1 = strconv.ParseInt(f[1], 10, 64)
			d.CrashedCPU, err2 = strconv.Atoi(f[2])
			if err1 != nil || err2 != nil {
				return nil, bad("a decimal tid and CPU")
			}
			d.Comm = f[3]
		case "frame", "tframe":
			// A tframe line is a frame line with the task's address
			// after the keyword: drop the keyword to align the fields.
			task := ""
			if f[0] == "tframe" {
				if len(f) != 7 {
					return nil, bad("tframe TASK PC INLINE NAME FILE LINE")
				}
				task, f = f[1], f[1:]
			}
			if len(f) != 6 {
				return nil, bad("frame PC INLINE NAME FILE LINE")
			}
			pc, err1 := strconv.ParseUint(f[1], 0, 64)
			ln, err2 := strconv.Atoi(f[5])
			if err1 != nil || err2 != nil {
				return nil, bad("a 0x pc and a decimal line")
			}
			fr := DrgnFrame{PC: pc, Inlined: f[2] == "1", Function: f[3], File: f[4], Line: ln}
			if task == "" {
				d.Frames = append(d.Frames, fr)
				break
			}
			addr, err := strconv.ParseUint(task, 0, 64)
			if err != nil {
				return nil, bad("a 0x task address")
			}
			d.Tasks[addr] = append(d.Tasks[addr], fr)
		case "terror":
			if len(f) != 3 {
				return nil, bad("terror TASK MESSAGE")
			}
			task, err := strconv.ParseUint(f[1], 0, 64)
			if err != nil {
				return nil, bad("a 0x task address")
			}
			d.TaskErr[task] = f[2]
		case "jiffies":
			if len(f) != 2 {
				return nil, bad("jiffies VALUE")
			}
			d.Jiffies = f[1]
		case "init_task.comm":
			if len(f) != 2 {
				return nil, bad("init_task.comm VALUE")
			}
			d.InitComm = f[1]
		default:
			return nil, bad("a line starting with crashed, frame, jiffies or init_task.comm")
		}
	}
	for _, k := range []string{"crashed", "frame", "jiffies", "init_task.comm"} {
		if !seen[k] {
			return nil, fmt.Errorf("drgn output has no %q line; it begins: %q", k, head(out, 300))
		}
	}
	return d, nil
}
