package stack_test

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/session/stack"
	"github.com/kdap/kdap/target"
	"github.com/kdap/kdap/target/arch/amd64"
	"github.com/kdap/kdap/unwind"
)

// linuxCores are the dump files of a Linux fixture that kdap reads.
var linuxCores = []string{"vmcore.elf", "vmcore.kdump"}

// openLinux opens one dump of a Linux fixture and its unwinder.
func openLinux(t testing.TB, dir, core string) (*target.Target, *stack.Unwinder) {
	t.Helper()
	kernels, _ := filepath.Glob(filepath.Join(dir, "vmlinux*"))
	if len(kernels) == 0 {
		t.Fatalf("%s: no vmlinux", dir)
	}
	tg, err := target.Open(filepath.Join(dir, core), kernels[0], target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	u, err := stack.New(tg)
	if err != nil {
		t.Fatal(err)
	}
	return tg, u
}

// consoleUserRegs reads the user registers the kernel printed with its
// call trace ("RIP: 0033:0x47b7a0", "RSP: 002b:00007ffee7ff8858 ...
// ORIG_RAX: 0000000000000001", "RBP: 00000000052bdc50").
func consoleUserRegs(t *testing.T, dir string) map[string]uint64 {
	f, err := os.Open(filepath.Join(dir, "console.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	re := regexp.MustCompile(`\b(RIP|RSP|RBP|ORIG_RAX): (?:[0-9a-f]{4}:)?(?:0x)?([0-9a-f]+)`)
	out := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		for _, m := range re.FindAllStringSubmatch(sc.Text(), -1) {
			if _, ok := out[m[1]]; ok {
				continue
			}
			v, err := strconv.ParseUint(m[2], 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			out[m[1]] = v
		}
	}
	return out
}

// consoleOffsets maps each reliable function of the kernel's printed call
// trace to its offset ("panic+0x118/0x2f4" gives panic: 0x118).
func consoleOffsets(t *testing.T, dir string) map[string]uint64 {
	b, err := os.ReadFile(filepath.Join(dir, "console.txt"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	re := regexp.MustCompile(`(?m)^\[[ 0-9.]+\]  ([A-Za-z_][A-Za-z0-9_.]*)\+0x([0-9a-f]+)/0x[0-9a-f]+$`)
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		v, _ := strconv.ParseUint(m[2], 16, 64)
		if _, ok := out[m[1]]; !ok {
			out[m[1]] = v
		}
	}
	return out
}

// physical returns the functions of the physical frames.
func physical(frames []unwind.Frame) []string {
	var out []string
	for _, f := range frames {
		if f.Kind == unwind.KindNormal {
			out = append(out, f.Function)
		}
	}
	return out
}

// TestLinuxORCCrashedTask checks the crashed task frame for frame against
// the kernel's printed call trace: the physical frames from panic on are
// exactly its reliable entries (the inlined frames DWARF adds are not
// physical frames and are left out), and the unwind ends in the system
// call's pt_regs with the user registers the kernel printed.
func TestLinuxORCCrashedTask(t *testing.T) {
	for _, dir := range testfixture.LinuxDirs(t) {
		want := consoleTrace(t, dir)
		for len(want) > 0 && want[0] != "panic" {
			want = want[1:]
		}
		user := consoleUserRegs(t, dir)
		if len(want) < 5 || len(user) != 4 {
			t.Fatalf("%s: console.txt has no usable call trace (%v) or user registers (%v)", dir, want, user)
		}
		for _, core := range linuxCores {
			tg, u := openLinux(t, dir, core)
			th, err := tg.CrashedThread()
			if err != nil || th == nil {
				t.Fatalf("%s: crashed thread: %v", core, err)
			}
			frames, stop := u.Backtrace(th)
			got := physical(frames)
			for len(got) > 0 && got[0] != "panic" {
				got = got[1:]
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("%s: physical frames from panic\n got %v\nwant %v (console.txt)", core, got, want)
			}
			if stop.Kind != unwind.StopEndOfStack {
				t.Errorf("%s: stop %v %q, want the end of the stack", core, stop.Kind, stop.Message)
			}
			// The return addresses too: function+offset as printed, but for
			// panic, which printed the trace from another call.
			offs := consoleOffsets(t, dir)
			compared := 0
			for _, f := range frames[1:] {
				want, ok := offs[f.Function]
				if !ok || f.Kind != unwind.KindNormal || f.Function == "panic" {
					continue
				}
				compared++
				if f.PC-f.Entry != want {
					t.Errorf("%s: %s+%#x, the kernel printed +%#x", core, f.Function, f.PC-f.Entry, want)
				}
			}
			if compared != len(want)-1 {
				t.Errorf("%s: compared the offsets of %d frames, want %d", core, compared, len(want)-1)
			}
			last := frames[len(frames)-1]
			if last.Kind != unwind.KindTrap {
				t.Fatalf("%s: last frame %+v is no trap marker", core, last)
			}
			rip, _ := last.Regs.Get(amd64.RIP)
			rsp, _ := last.Regs.Get(amd64.RSP)
			rbp, _ := last.Regs.Get(amd64.RBP)
			if rip != user["RIP"] || rsp != user["RSP"] || rbp != user["RBP"] {
				t.Errorf("%s: user registers rip %#x rsp %#x rbp %#x, console says %#x %#x %#x", core, rip, rsp, rbp, user["RIP"], user["RSP"], user["RBP"])
			}
			if !strings.Contains(last.Label, "orig_ax "+"0x"+strconv.FormatUint(user["ORIG_RAX"], 16)) {
				t.Errorf("%s: marker %q lacks orig_ax %#x", core, last.Label, user["ORIG_RAX"])
			}
			for _, f := range frames[2:] {
				if f.Kind == unwind.KindNormal && f.Method != unwind.MethodORC {
					t.Errorf("%s: frame %s unwound by %v, want orc", core, f.Function, f.Method)
				}
			}
		}
	}
}

// TestLinuxORCAllTasks unwinds every task of both dumps: each must end
// cleanly, at a stack's end or in user-mode registers, never on a read
// error or a return address outside the kernel's text.
func TestLinuxORCAllTasks(t *testing.T) {
	for _, dir := range testfixture.LinuxDirs(t) {
		for _, core := range linuxCores {
			tg, u := openLinux(t, dir, core)
			ths, err := tg.Threads()
			if err != nil {
				t.Fatal(err)
			}
			if len(ths) < 10 {
				t.Fatalf("%s: only %d tasks", core, len(ths))
			}
			for _, th := range ths {
				frames, stop := u.Backtrace(th)
				if stop.Kind != unwind.StopEndOfStack || len(frames) < 2 {
					t.Errorf("%s: %s: %d frames %v, stop %v %q", core, th.DisplayName(), len(frames), physical(frames), stop.Kind, stop.Message)
					continue
				}
				last := frames[len(frames)-1]
				switch {
				case last.Kind == unwind.KindTrap && strings.HasPrefix(last.Label, "--- user-mode "):
				case last.Kind == unwind.KindNormal && (last.Function == "ret_from_fork" || strings.HasPrefix(last.Function, "secondary_startup_64")):
				default:
					t.Errorf("%s: %s ends in %s %q (%s)", core, th.DisplayName(), last.Kind, last.Function+last.Label, stop.Message)
				}
			}
		}
	}
}

// TestLinuxORCOtherCPU follows the CPU the reboot IPI stopped: from
// stop_this_cpu (on the CPU's IRQ stack or the task's), through the
// interrupt entry's pt_regs on the task's stack, to the interrupted code.
func TestLinuxORCOtherCPU(t *testing.T) {
	for _, dir := range testfixture.LinuxDirs(t) {
		for _, core := range linuxCores {
			tg, u := openLinux(t, dir, core)
			ths, err := tg.Threads()
			if err != nil {
				t.Fatal(err)
			}
			var th *target.Thread
			for _, c := range ths {
				if c.CPU >= 0 && !c.Crashed {
					th = c
				}
			}
			if th == nil {
				t.Fatalf("%s: no task on a CPU other than the crashed one", core)
			}
			frames, stop := u.Backtrace(th)
			got := physical(frames)
			want := []string{"stop_this_cpu", "__sysvec_reboot", "sysvec_reboot", "asm_sysvec_reboot"}
			if strings.Join(got, " ") != strings.Join(want, " ") && (len(got) < len(want) || strings.Join(got[:len(want)], " ") != strings.Join(want, " ")) {
				t.Fatalf("%s: %s: frames %v, want %v first (stop: %s)", core, th.DisplayName(), got, want, stop.Message)
			}
			// The IRQ stack of this CPU, from its per-CPU hardirq_stack_ptr
			// (the top of the stack); per-CPU symbols are offsets, which
			// the symbol table leaves where KASLR found them.
			hardirq, ok := tg.Kernel.Addr("hardirq_stack_ptr")
			if !ok {
				t.Fatal("no hardirq_stack_ptr")
			}
			offs, _ := tg.Kernel.Addr("__per_cpu_offset")
			base, err := tg.ReadU64(offs + 8*uint64(th.CPU))
			if err != nil {
				t.Fatal(err)
			}
			top, err := tg.ReadU64(base + hardirq)
			if err != nil {
				t.Fatal(err)
			}
			const irqStackSize = 16 << 10
			var trap *unwind.Frame
			for i := range frames {
				f := &frames[i]
				switch {
				case f.Kind == unwind.KindTrap:
					trap = f
				case f.Kind != unwind.KindNormal:
				case f.Function == "stop_this_cpu" || f.Function == "__sysvec_reboot":
					// sysvec_reboot is a "simple" system vector: it stays on
					// the stack it interrupted unless that was already the
					// kernel's, then the IRQ stack.
					onIRQ := f.SP >= top-irqStackSize && f.SP <= top+8
					onTask := f.SP >= th.StackLo && f.SP < th.StackHi
					if !onIRQ && !onTask {
						t.Errorf("%s: %s sp %#x is on neither CPU %d's IRQ stack [%#x, %#x] nor the task's [%#x, %#x)", core, f.Function, f.SP, th.CPU, top-irqStackSize, top+8, th.StackLo, th.StackHi)
					}
					t.Logf("%s: %s sp %#x: on the IRQ stack %v, on the task's stack %v", core, f.Function, f.SP, onIRQ, onTask)
				case f.Function == "asm_sysvec_reboot":
					if f.SP < th.StackLo || f.SP >= th.StackHi {
						t.Errorf("%s: %s sp %#x is not on the task's stack [%#x, %#x)", core, f.Function, f.SP, th.StackLo, th.StackHi)
					}
				}
			}
			if trap == nil {
				t.Fatalf("%s: no trap marker in %v", core, got)
			}
			ptRegs, err := tg.Kernel.TypeSize("struct pt_regs")
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s: %v then %q, stop: %s", core, th.DisplayName(), got, trap.Label, stop.Message)
			if strings.HasPrefix(trap.Label, "--- user-mode ") {
				// Entry from user mode saves pt_regs at the top of the
				// task's stack (task_pt_regs).
				want := th.StackHi - uint64(ptRegs)
				if !strings.Contains(trap.Label, "pt_regs at 0x"+strconv.FormatUint(want, 16)+",") {
					t.Errorf("%s: marker %q, want the pt_regs at the top of the task's stack %#x", core, trap.Label, want)
				}
				if stop.Kind != unwind.StopEndOfStack {
					t.Errorf("%s: stop %v %q after user-mode registers", core, stop.Kind, stop.Message)
				}
			} else if pc, _ := trap.Regs.Get(amd64.RIP); len(frames) == 0 || frames[len(frames)-1].Kind == unwind.KindTrap {
				t.Errorf("%s: nothing unwound after the interrupted kernel pc %#x (stop: %s)", core, pc, stop.Message)
			}
		}
	}
}

// BenchmarkLinuxORCAllTasks unwinds every task of the Debian dump (ELF)
// through ORC.
func BenchmarkLinuxORCAllTasks(b *testing.B) {
	dirs := testfixture.LinuxDirs(b)
	tg, u := openLinux(b, dirs[0], "vmcore.elf")
	ths, err := tg.Threads()
	if err != nil {
		b.Fatal(err)
	}
	for _, th := range ths { // warm the tables and the page cache
		u.Backtrace(th)
	}
	b.ResetTimer()
	for b.Loop() {
		for _, th := range ths {
			if _, stop := u.Backtrace(th); stop.Kind != unwind.StopEndOfStack {
				b.Fatalf("%s: %s", th.DisplayName(), stop.Message)
			}
		}
	}
	b.ReportMetric(float64(len(ths)), "tasks")
}
