package refcheck_test

// The comparison of kdap with crash and drgn on the Linux dump fixture
// (testdata/linux/mkfixture.sh). It runs when the fixture and the tools
// are installed (testdata/linux/fetch-crash.sh, fetch-drgn.sh) and skips
// with a message otherwise. The expected values are the tools' output;
// the only normalisations are for the ways the tools legitimately differ,
// each explained where it is made.

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kdap/kdap/internal/refcheck"
	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/session/cexpr"
	"github.com/kdap/kdap/session/stack"
	"github.com/kdap/kdap/session/values"
	"github.com/kdap/kdap/target"
	_ "github.com/kdap/kdap/target/all"
	"github.com/kdap/kdap/unwind"
)

// logLines is how many of the log's last lines are compared: the panic
// report and what led to it.
const logLines = 40

// view is what kdap says about one dump, computed once per dump file
// because opening the Debian vmlinux takes seconds.
type view struct {
	t       *target.Target
	u       *stack.Unwinder
	threads []*target.Thread
	crashed *target.Thread
	frames  []unwind.Frame
	stop    string
	values  map[string]string // "EXPR (frame 0)" and "EXPR (no frame)" → formatted value
	log     []string
	errs    map[string]error // per item, when kdap failed to produce it
}

var (
	viewsMu sync.Mutex
	views   = map[string]*view{}
)

// kdapView opens dump with vmlinux as kdap does and collects what the
// comparison needs; failures of single items are kept in errs so the
// other checks still run.
func kdapView(t *testing.T, dump, vmlinux string) *view {
	t.Helper()
	viewsMu.Lock()
	defer viewsMu.Unlock()
	if v := views[dump]; v != nil {
		return v
	}
	tg, err := target.Open(dump, vmlinux, target.Options{})
	if err != nil {
		t.Fatalf("kdap: target.Open(%s, %s): %v", dump, vmlinux, err)
	}
	v := &view{t: tg, errs: map[string]error{}}
	if v.threads, err = tg.Threads(); err != nil {
		v.errs["threads"] = err
	}
	if v.crashed, err = tg.CrashedThread(); err != nil || v.crashed == nil {
		v.errs["crashed"] = fmt.Errorf("no crashed thread (%v)", err)
	} else if v.u, err = stack.New(tg); err != nil {
		v.errs["bt"] = err
	} else {
		var stop unwind.StopReason
		v.frames, stop = v.u.Backtrace(v.crashed)
		v.stop = stop.Message
	}
	// The values as `kdap eval` computes and prints them: in the crashed
	// thread's first frame. DAP's evaluate without a frame uses the
	// globals-only environment instead; both are checked, because they
	// resolve names differently.
	v.values = map[string]string{}
	envs := map[string]func() (*values.Env, error){
		"frame 0": func() (*values.Env, error) {
			if k := firstFrame(v.frames); k >= 0 {
				return values.NewFrameEnv(tg, v.frames, k)
			}
			return nil, fmt.Errorf("no backtrace of the crashed thread")
		},
		"no frame": func() (*values.Env, error) { return values.NewGlobalEnv(tg), nil },
	}
	for where, mk := range envs {
		for _, expr := range []string{"jiffies", "init_task.comm"} {
			key := expr + " (" + where + ")"
			env, err := mk()
			if err == nil {
				var val cexpr.Value
				if val, err = cexpr.Evaluate(env, expr); err == nil {
					v.values[key] = values.Format(env, val, false)
				}
			}
			if err != nil {
				v.errs[key] = err
			}
		}
	}
	if mb, err := tg.OS.MessageBuffer(); err != nil {
		v.errs["log"] = err
	} else {
		v.log = strings.Split(strings.TrimRight(mb.All, "\n"), "\n")
	}
	views[dump] = v
	return v
}

// fixture is one Linux fixture folder with its files' checksums.
type fixture struct {
	dir, vmlinux string
	env          map[string]string
}

func fixtures(t *testing.T) []fixture {
	var out []fixture
	for _, dir := range testfixture.LinuxDirs(t) {
		env, err := refcheck.Env(dir)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fixture{dir: dir, vmlinux: filepath.Join(dir, "vmlinux"), env: env})
	}
	return out
}

// sum returns a fixture file's sha256 from fixture.env, or fails.
func (f fixture) sum(t *testing.T, key string) string {
	s := f.env[key]
	if s == "" {
		testfixture.Missing(t, key+" in "+f.dir+"/fixture.env", "sh testdata/linux/mkfixture.sh (it rewrites fixture.env)")
	}
	return s
}

// TestCrash compares kdap with crash's ps, bt -l, p and log on the ELF and
// the kdump-compressed dump (crash reads both; the flattened one it does
// not).
func TestCrash(t *testing.T) {
	tl, err := refcheck.Find("crash")
	if err != nil {
		testfixture.Missing(t, "crash (Debian trixie's, at "+tl.Path+")", "sh "+tl.Fetch+" (or set KDAP_CRASH)")
	}
	for _, fx := range fixtures(t) {
		for _, d := range []struct{ file, key string }{
			{"vmcore.elf", "VMCORE_ELF_SHA256"}, {"vmcore.kdump", "VMCORE_KDUMP_SHA256"},
		} {
			t.Run(filepath.Base(fx.dir)+"/"+d.file, func(t *testing.T) {
				dump := filepath.Join(fx.dir, d.file)
				ref, err := refcheck.RunCrash(tl, fx.vmlinux, dump, fx.sum(t, d.key), fx.sum(t, "VMLINUX_SHA256"))
				if err != nil {
					t.Fatalf("crash: %v", err)
				}
				k := kdapView(t, dump, fx.vmlinux)
				t.Run("ps", func(t *testing.T) { comparePS(t, k, ref.PS) })
				t.Run("crashed", func(t *testing.T) { compareCrashedTask(t, k, ref.Bt) })
				t.Run("bt", func(t *testing.T) { compareCrashBt(t, k, ref.Bt) })
				compareValues(t, k, ref.Jiffies, ref.InitComm)
				t.Run("log", func(t *testing.T) { compareLog(t, k, ref.Log) })
				t.Run("foreach bt", func(t *testing.T) { compareForeach(t, k, ref.Foreach, ref.ForeachErr) })
			})
		}
	}
}

// TestDrgn compares kdap with drgn's stack trace of the crashed thread and
// its jiffies and init_task.comm, on the ELF dump (drgn's libkdumpfile
// 0.5 reads neither of QEMU's kdump files).
func TestDrgn(t *testing.T) {
	tl, err := refcheck.Find("drgn")
	if err != nil {
		testfixture.Missing(t, "drgn (Debian trixie's, at "+tl.Path+")", "sh "+tl.Fetch+" (or set KDAP_DRGN)")
	}
	for _, fx := range fixtures(t) {
		t.Run(filepath.Base(fx.dir)+"/vmcore.elf", func(t *testing.T) {
			dump := filepath.Join(fx.dir, "vmcore.elf")
			ref, err := refcheck.RunDrgn(tl, fx.vmlinux, dump, fx.sum(t, "VMCORE_ELF_SHA256"), fx.sum(t, "VMLINUX_SHA256"))
			if err != nil {
				t.Fatalf("drgn: %v", err)
			}
			k := kdapView(t, dump, fx.vmlinux)
			t.Run("crashed", func(t *testing.T) {
				c := need(t, k, "crashed", k.crashed)
				if c.TID != ref.CrashedTID || c.CPU != ref.CrashedCPU || c.Comm != ref.Comm {
					t.Errorf("crashed thread: kdap tid %d CPU %d %q, drgn tid %d CPU %d %q",
						c.TID, c.CPU, c.Comm, ref.CrashedTID, ref.CrashedCPU, ref.Comm)
				}
			})
			t.Run("stack", func(t *testing.T) { compareDrgnStack(t, k, ref.Frames) })
			t.Run("every task", func(t *testing.T) { compareDrgnTasks(t, k, ref.Tasks, ref.TaskErr) })
			compareValues(t, k, ref.Jiffies, ref.InitComm)
		})
	}
}

// need fails the test when kdap could not produce item.
func need[T any](t *testing.T, k *view, item string, v T) T {
	t.Helper()
	if err := k.errs[item]; err != nil {
		t.Fatalf("kdap %s: %v", item, err)
	}
	return v
}

// compareValues runs one subtest per expression and environment: jiffies
// as decimal text, init_task.comm as the string's contents (gdb prints
// the whole char array, NULs included; kdap stops at the first NUL).
func compareValues(t *testing.T, k *view, jiffies, comm string) {
	for _, where := range []string{"frame 0", "no frame"} {
		for _, c := range []struct{ expr, want string }{{"jiffies", jiffies}, {"init_task.comm", comm}} {
			key := c.expr + " (" + where + ")"
			t.Run(key, func(t *testing.T) {
				got := need(t, k, key, k.values[key])
				if c.expr == "init_task.comm" {
					s, err := refcheck.CString(got)
					if err != nil {
						t.Fatalf("kdap printed %s: %v", got, err)
					}
					got = s
				}
				if got != c.want {
					t.Errorf("%s: kdap %q, reference %q", key, got, c.want)
				}
			})
		}
	}
}

// firstFrame returns the index of the first frame that is not a trap
// marker, or -1.
func firstFrame(frames []unwind.Frame) int {
	for i, f := range frames {
		if f.Kind != unwind.KindTrap {
			return i
		}
	}
	return -1
}

// comparePS checks that kdap's threads are crash's tasks, matched by
// task_struct address: same pid, comm, and which are current on a CPU.
//
// Differences in what the two report, not normalised away but left out:
// crash's CPU column is task_cpu() of every task (the CPU it last ran
// or is queued on); kdap's Thread.CPU is set only for a task that is
// current on a CPU, so CPUs are compared for those only. crash brackets
// kernel threads' names ([kthreadd]); the brackets are dropped when parsing.
func comparePS(t *testing.T, k *view, ps []refcheck.PSRow) {
	ths := need(t, k, "threads", k.threads)
	byAddr := map[uint64]*target.Thread{}
	for _, th := range ths {
		byAddr[th.Addr] = th
	}
	seen := map[uint64]bool{}
	for _, r := range ps {
		seen[r.Task] = true
		th := byAddr[r.Task]
		if th == nil {
			t.Errorf("crash ps: task %#x pid %d %q CPU %d %s%s; kdap has no thread at that address",
				r.Task, r.PID, r.Comm, r.CPU, r.State, activeMark(r.Active))
			continue
		}
		onCPU := th.Crashed || th.CPU >= 0
		switch {
		case th.TID != r.PID || th.Comm != r.Comm:
			t.Errorf("task %#x: kdap tid %d %q, crash ps pid %d %q", r.Task, th.TID, th.Comm, r.PID, r.Comm)
		case onCPU != r.Active:
			t.Errorf("task %#x pid %d %q: kdap on a CPU %v (CPU %d), crash ps active %v (CPU %d)",
				r.Task, r.PID, r.Comm, onCPU, th.CPU, r.Active, r.CPU)
		case onCPU && th.CPU != r.CPU:
			t.Errorf("task %#x pid %d %q: kdap CPU %d, crash ps CPU %d", r.Task, r.PID, r.Comm, th.CPU, r.CPU)
		}
	}
	for _, th := range ths {
		if !seen[th.Addr] {
			t.Errorf("kdap thread %#x tid %d %q is not in crash's ps", th.Addr, th.TID, th.Comm)
		}
	}
	t.Logf("crash ps: %d tasks; kdap: %d threads", len(ps), len(ths))
}

func activeMark(a bool) string {
	if a {
		return " (active)"
	}
	return ""
}

// compareCrashedTask checks that kdap's crashed thread is the task crash's
// bt shows by default (the panic task).
func compareCrashedTask(t *testing.T, k *view, bt refcheck.CrashBt) {
	c := need(t, k, "crashed", k.crashed)
	if c.TID != bt.PID || c.Addr != bt.Task || c.CPU != bt.CPU || c.Comm != bt.Command {
		t.Errorf("crashed: kdap tid %d task %#x CPU %d %q; crash bt PID %d TASK %#x CPU %d %q",
			c.TID, c.Addr, c.CPU, c.Comm, bt.PID, bt.Task, bt.CPU, bt.Command)
	}
}

// compareCrashBt compares the crashed task's frames with crash's bt -l,
// function name and pc frame for frame.
//
// Normalised differences:
//   - crash's bt of the panic task starts at panic(): it takes the saved
//     registers as panic's, while the dump's registers are those of the
//     delay loop panic() spins in (panic=0), so kdap's frames before the
//     first panic frame are dropped when crash starts at panic.
//   - crash's bt shows no inlined functions: kdap's inlined frames are
//     dropped, and trap markers too (crash prints the exception frame's
//     registers instead of a frame).
//   - bt -l gives the line of the pc crash prints, which for a caller is
//     the return address: the instruction after the call, often on another
//     (inlined) line. kdap's frames give the call's line (pc-1, as gdb's
//     and drgn's do), so crash's lines are compared with kdap's line table
//     at crash's own pc instead.
func compareCrashBt(t *testing.T, k *view, bt refcheck.CrashBt) {
	frames := need(t, k, "bt", k.frames)
	if diff := crashDiff(frames, bt); len(diff) > 0 {
		t.Errorf("crashed task's frames differ from crash's bt (kdap stop: %s):\n%s", k.stop, strings.Join(diff, "\n"))
	}
	t.Logf("compared %d frames with crash's bt", len(bt.Frames))

	d, err := k.t.Kernel.DWARF()
	if err != nil {
		t.Fatalf("kdap DWARF: %v", err)
	}
	lines := 0
	defer func() { t.Logf("compared %d source lines with crash's bt -l", lines) }()
	for _, f := range bt.Frames {
		if f.File == "" {
			continue
		}
		lines++
		file, line, _, err := d.LineAt(f.PC - k.t.Kernel.Slide)
		if err != nil || !refcheck.SameFile(file, f.File) || line != f.Line {
			t.Errorf("line at %#x (%s): kdap %s:%d (%v), crash %s:%d", f.PC, f.Function, file, line, err, f.File, f.Line)
		}
	}
}

// crashDiff lists the frames where kdap's backtrace and crash's differ,
// after the normalisations compareCrashBt describes.
func crashDiff(frames []unwind.Frame, bt refcheck.CrashBt) []string {
	var phys []unwind.Frame
	for _, f := range frames {
		if f.Kind == unwind.KindNormal {
			phys = append(phys, f)
		}
	}
	if len(bt.Frames) > 0 && bt.Frames[0].Function == "panic" {
		for i, f := range phys {
			if f.Function == "panic" {
				phys = phys[i:]
				break
			}
		}
	}
	var diff []string
	for i := 0; i < max(len(phys), len(bt.Frames)); i++ {
		var kd, cr string
		if i < len(phys) {
			kd = fmt.Sprintf("%s at %#x", phys[i].Function, phys[i].PC)
		}
		if i < len(bt.Frames) {
			cr = fmt.Sprintf("%s at %#x", bt.Frames[i].Function, bt.Frames[i].PC)
		}
		if kd != cr {
			diff = append(diff, fmt.Sprintf("#%d kdap %-50q crash %q", i, kd, cr))
		}
	}
	return diff
}

// compareForeach compares every thread's backtrace with crash's foreach
// bt, as compareCrashBt does for the crashed one. crash lists every task.
func compareForeach(t *testing.T, k *view, bts map[uint64]refcheck.CrashBt, crashErr map[uint64]string) {
	compareEveryThread(t, k, refTraces{tool: "crash's foreach bt", failed: crashErr, listsAll: true,
		diff: func(addr uint64, frames []unwind.Frame) ([]string, bool) {
			bt, ok := bts[addr]
			return crashDiff(frames, bt), ok
		}})
}

// refTraces is a reference tool's backtraces of every task.
type refTraces struct {
	tool string
	// failed has the tool's message for the tasks it could not unwind
	// (crash fails on a CPU stopped on its IRQ stack): logged, not
	// compared, as that is the tool's limit.
	failed map[uint64]string
	// listsAll says the tool lists every task, so a thread it does not
	// show is an error.
	listsAll bool
	// diff compares kdap's frames of the task at addr with the tool's;
	// false when the tool has no trace of it.
	diff func(addr uint64, frames []unwind.Frame) ([]string, bool)
}

// compareEveryThread unwinds every kdap thread and compares it with the
// reference tool's trace of the same task.
func compareEveryThread(t *testing.T, k *view, r refTraces) {
	ths := need(t, k, "threads", k.threads)
	need(t, k, "bt", k.frames)
	same, absent := 0, 0
	for _, th := range ths {
		frames, stop := k.u.Backtrace(th)
		diff, ok := r.diff(th.Addr, frames)
		switch {
		case !ok && r.failed[th.Addr] != "":
			t.Logf("task %#x pid %d %q: %s could not unwind it (%s)", th.Addr, th.TID, th.Comm, r.tool, r.failed[th.Addr])
		case !ok && r.listsAll:
			t.Errorf("task %#x pid %d %q: not in %s", th.Addr, th.TID, th.Comm, r.tool)
		case !ok:
			absent++
			t.Logf("task %#x pid %d %q: not in %s", th.Addr, th.TID, th.Comm, r.tool)
		case len(diff) > 0:
			t.Errorf("task %#x pid %d %q: frames differ from %s (kdap stop: %s):\n%s",
				th.Addr, th.TID, th.Comm, r.tool, stop.Message, strings.Join(diff, "\n"))
		default:
			same++
		}
	}
	t.Logf("%d of %d threads have the frames of %s (%d absent from it, %d it could not unwind)",
		same, len(ths), r.tool, absent, len(r.failed))
}

// compareDrgnStack compares the crashed thread's frames, inlined ones
// included, with drgn's stack trace: pc, inlined or not, function, and
// source file and line where both give them. Both start at the dump's
// registers (panic's delay loop).
//
// Normalised differences:
//   - drgn names a frame by its DWARF subprogram, kdap by its ELF symbol:
//     GCC's ".cold" and clone suffixes are dropped (refcheck.BaseName),
//     and in assembly code without DWARF functions kdap names the nearest
//     preceding symbol, which may be a zero-size label
//     (entry_SYSCALL_64_after_hwframe), while drgn names the sized symbol
//     that contains the pc (entry_SYSCALL_64): such a pair is equal.
//   - drgn's paths are relative to the build folder, kdap's carry Debian's
//     build prefix: files match when one ends with the other.
//   - kdap's trap markers are not frames for drgn.
func compareDrgnStack(t *testing.T, k *view, ref []refcheck.DrgnFrame) {
	frames := need(t, k, "bt", k.frames)
	if diff := drgnDiff(k, frames, ref); len(diff) > 0 {
		t.Errorf("crashed thread's frames differ from drgn's stack trace (kdap stop: %s):\n%s", k.stop, strings.Join(diff, "\n"))
	}
	t.Logf("compared %d frames with drgn's stack trace", len(ref))
}

// drgnDiff lists the frames where kdap's backtrace and drgn's stack trace
// differ, after the normalisations compareDrgnStack describes.
func drgnDiff(k *view, frames []unwind.Frame, ref []refcheck.DrgnFrame) []string {
	var kf []unwind.Frame
	for _, f := range frames {
		if f.Kind != unwind.KindTrap {
			kf = append(kf, f)
		}
	}
	var diff []string
	for i := 0; i < max(len(kf), len(ref)); i++ {
		var kd, dr string
		switch {
		case i >= len(kf):
			dr = drgnString(ref[i])
		case i >= len(ref):
			kd = kdapString(kf[i])
		default:
			kd, dr = kdapString(kf[i]), drgnString(ref[i])
			if sameFrame(k, kf[i], ref[i]) {
				continue
			}
		}
		diff = append(diff, fmt.Sprintf("#%d kdap %-80s drgn %s", i, kd, dr))
	}
	return diff
}

// compareDrgnTasks compares every thread's backtrace with drgn's stack
// trace of the same task, as compareDrgnStack does for the crashed one.
// drgn's task list (for_each_task walks init_task.tasks) holds no idle
// task, so the idle tasks (swapper/N) are not compared.
func compareDrgnTasks(t *testing.T, k *view, tasks map[uint64][]refcheck.DrgnFrame, drgnErr map[uint64]string) {
	compareEveryThread(t, k, refTraces{tool: "drgn's stack traces", failed: drgnErr,
		diff: func(addr uint64, frames []unwind.Frame) ([]string, bool) {
			ref, ok := tasks[addr]
			return drgnDiff(k, frames, ref), ok
		}})
}

func kdapString(f unwind.Frame) string {
	return fmt.Sprintf("%#x %s%s %s:%d", f.PC, f.Function, inl(f.Inlined), f.File, f.Line)
}

func drgnString(f refcheck.DrgnFrame) string {
	return fmt.Sprintf("%#x %s%s %s:%d", f.PC, f.Function, inl(f.Inlined), f.File, f.Line)
}

func inl(b bool) string {
	if b {
		return " [inlined]"
	}
	return ""
}

func sameFrame(k *view, f unwind.Frame, r refcheck.DrgnFrame) bool {
	if f.PC != r.PC || f.Inlined != r.Inlined {
		return false
	}
	if refcheck.BaseName(f.Function) != refcheck.BaseName(r.Function) && !labelIn(k, f, r.Function) {
		return false
	}
	if f.File != "" && r.File != "" && (!refcheck.SameFile(f.File, r.File) || f.Line != r.Line) {
		return false
	}
	return true
}

// labelIn says whether kdap's frame is named by a zero-size symbol (an
// assembly label) and drgn's name is a sized symbol containing the pc.
func labelIn(k *view, f unwind.Frame, drgnName string) bool {
	label, ok1 := k.t.Kernel.Syms.Lookup(f.Function)
	sized, ok2 := k.t.Kernel.Syms.Lookup(drgnName)
	return ok1 && ok2 && label.Size == 0 && sized.Size > 0 && sized.Contains(f.PC)
}

// compareLog compares the last logLines lines of crash's log with kdap's
// message buffer. crash prints each record's timestamp ("[    9.496067] ");
// kdap's text has none, so they are stripped from crash's lines.
func compareLog(t *testing.T, k *view, log []string) {
	kl := need(t, k, "log", k.log)
	n := min(logLines, len(log), len(kl))
	if n < logLines {
		t.Errorf("log: crash printed %d lines, kdap %d; comparing the last %d", len(log), len(kl), n)
	}
	crashTail, kdapTail := log[len(log)-n:], kl[len(kl)-n:]
	for i := range n {
		if c := refcheck.StripTimestamp(crashTail[i]); c != kdapTail[i] {
			t.Errorf("log line -%d: kdap %q, crash %q", n-i, kdapTail[i], c)
		}
	}
	t.Logf("compared the log's last %d lines", n)
}
