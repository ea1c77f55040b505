package stack_test

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/session/stack"
	"github.com/kdap/kdap/target"
	"github.com/kdap/kdap/unwind"
)

// traceRE matches a reliable frame of the kernel's own printed call trace
// ("  panic+0x118/0x2f4"); unreliable ones start with "?".
var traceRE = regexp.MustCompile(`^\[[ 0-9.]+\]  ([A-Za-z_][A-Za-z0-9_.]*)\+0x[0-9a-f]+/0x[0-9a-f]+$`)

// consoleTrace returns the functions of the first call trace the kernel
// printed, innermost first, without its unreliable ("?") entries.
func consoleTrace(t *testing.T, dir string) []string {
	f, err := os.Open(filepath.Join(dir, "console.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && regexp.MustCompile(`\] Call Trace:$`).MatchString(line):
			in = true
		case in && regexp.MustCompile(`\]  (<TASK>)$`).MatchString(line):
		case in && !strings.HasPrefix(line, "["):
			// another writer's line on the console (the fixture's init)
		case in && regexp.MustCompile(`\]  \? `).MatchString(line):
			// unreliable: a stale address the kernel found on the stack
		case in:
			m := traceRE.FindStringSubmatch(line)
			if m == nil {
				return out
			}
			out = append(out, m[1])
		}
	}
	return out
}

// TestLinuxCrashedBacktrace unwinds the crashed task of the real Debian
// kernel dump (KASLR on, no frame pointers: .debug_frame CFI) and checks
// that the kernel's own printed call trace appears in order, from panic
// down to the system call.
func TestLinuxCrashedBacktrace(t *testing.T) {
	for _, dir := range testfixture.LinuxDirs(t) {
		want := consoleTrace(t, dir)
		// The printed trace starts in dump_stack_lvl, called by panic after
		// the message; the dump was taken later, in panic's delay loop.
		for len(want) > 0 && want[0] != "panic" {
			want = want[1:]
		}
		if len(want) < 5 {
			t.Fatalf("%s: console.txt has no usable call trace (%v)", dir, want)
		}
		kernels, _ := filepath.Glob(filepath.Join(dir, "vmlinux*"))
		if len(kernels) == 0 {
			t.Fatalf("%s: no vmlinux", dir)
		}
		for _, core := range []string{"vmcore.elf", "vmcore.kdump"} {
			tg, err := target.Open(filepath.Join(dir, core), kernels[0], target.Options{})
			if err != nil {
				t.Fatal(err)
			}
			th, err := tg.CrashedThread()
			if err != nil || th == nil {
				t.Fatalf("%s: crashed thread: %v", core, err)
			}
			u, err := stack.New(tg)
			if err != nil {
				t.Fatal(err)
			}
			frames, stop := u.Backtrace(th)
			var got []string
			for _, f := range frames {
				if f.Kind == unwind.KindNormal || f.Kind == unwind.KindInlined {
					got = append(got, f.Function)
				}
			}
			i := 0
			for _, g := range got {
				if i < len(want) && g == want[i] {
					i++
				}
			}
			if i != len(want) {
				t.Errorf("%s: backtrace %v (stop: %s) lacks, in order, the kernel's printed trace %v (matched %d)", core, got, stop.Message, want, i)
			}
			// Where in panic's delay loop the CPU stopped depends on the
			// run: in delay_tsc itself or in a function inlined into it
			// (rep_nop), or in an out-of-line __preempt_count_add.
			phys := ""
			for _, f := range frames {
				if f.Kind == unwind.KindNormal {
					phys = f.Function
					break
				}
			}
			if phys != "__preempt_count_add" && phys != "delay_tsc" {
				t.Errorf("%s: frame 0 is %s in %s, want panic's delay loop (delay_tsc)", core, frames[0].Function, phys)
			}
			tg.Close()
		}
	}
}
