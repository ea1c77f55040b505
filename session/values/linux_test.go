package values_test

// Values of a relocated (KASLR) Linux kernel, on the real Debian dump that
// testdata/linux/mkfixture.sh makes. Expected addresses come from the
// -dbg package's System.map (link-time) and VMCOREINFO's KERNELOFFSET as
// mkfixture.sh recorded it in fixture.env; values from raw reads at those
// addresses.

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/session/cexpr"
	"github.com/kdap/kdap/session/stack"
	"github.com/kdap/kdap/session/values"
	"github.com/kdap/kdap/target"
	"github.com/kdap/kdap/unwind"
)

// systemMap reads the addresses of the named symbols from System.map.
func systemMap(t *testing.T, dir string, names ...string) map[string]uint64 {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "System.map"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 3 && want[fs[2]] {
			a, err := strconv.ParseUint(fs[0], 16, 64)
			if err != nil {
				t.Fatalf("System.map: %q: %v", sc.Text(), err)
			}
			out[fs[2]] = a
		}
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			t.Fatalf("System.map has no %s", n)
		}
	}
	return out
}

// fixtureOffset reads KERNELOFFSET from fixture.env.
func fixtureOffset(t *testing.T, dir string) uint64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "fixture.env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "KERNELOFFSET="); ok {
			off, err := strconv.ParseUint(v, 16, 64)
			if err != nil {
				t.Fatalf("fixture.env: KERNELOFFSET=%q: %v", v, err)
			}
			return off
		}
	}
	t.Fatal("fixture.env has no KERNELOFFSET")
	return 0
}

func TestLinuxGlobalsUnderKASLR(t *testing.T) {
	for _, dir := range testfixture.LinuxDirs(t) {
		sm := systemMap(t, dir, "init_task", "jiffies_64", "panic", "runqueues", "entry_SYSCALL_64_after_hwframe")
		off := fixtureOffset(t, dir)
		if off == 0 {
			t.Fatalf("%s: KERNELOFFSET is 0: the fixture does not exercise KASLR", dir)
		}
		tg, err := target.Open(filepath.Join(dir, "vmcore.kdump"), filepath.Join(dir, "vmlinux"), target.Options{})
		if err != nil {
			t.Fatal(err)
		}
		env := values.NewGlobalEnv(tg)
		eval := func(expr string) cexpr.Value {
			t.Helper()
			v, err := cexpr.Evaluate(env, expr)
			if err != nil {
				t.Fatalf("%s: %v", expr, err)
			}
			return v
		}
		for _, c := range []struct {
			expr string
			want uint64
		}{
			{"&init_task", sm["init_task"] + off},
			{"&jiffies_64", sm["jiffies_64"] + off},
			{"&jiffies", sm["jiffies_64"] + off}, // a linker alias of jiffies_64
			{"(unsigned long)panic", sm["panic"] + off},
			// an assembly label in the relocated text is code, not data
			{"entry_SYSCALL_64_after_hwframe", sm["entry_SYSCALL_64_after_hwframe"] + off},
			// per-CPU variables are offsets into each CPU's area: not relocated
			{"&runqueues", sm["runqueues"]},
		} {
			got := values.Format(env, eval(c.expr), true)
			if w := fmt.Sprintf("%#x", c.want); got != w && !strings.HasPrefix(got, w+" ") {
				t.Errorf("%s = %s, want %s", c.expr, got, w)
			}
		}
		raw, err := tg.ReadU64(sm["jiffies_64"] + off)
		if err != nil {
			t.Fatal(err)
		}
		for _, expr := range []string{"jiffies", "jiffies_64"} {
			if got := values.Format(env, eval(expr), false); got != strconv.FormatUint(raw, 10) {
				t.Errorf("%s = %s, want %d (the word at jiffies_64)", expr, got, raw)
			}
		}
		if got := values.Format(env, eval("init_task.comm"), false); got != `"swapper/0"` {
			t.Errorf("init_task.comm = %s, want \"swapper/0\"", got)
		}
		values.Forget(tg)
		tg.Close()
	}
}

// TestLinuxTailCallEntryValue: ksys_write was reached from do_syscall_64
// through __x64_sys_write's tail call, so the call site in do_syscall_64
// passed the pt_regs pointer, not the fd. The fd was 1 (the console's
// user registers: RDI 1 for write); any other value is wrong.
func TestLinuxTailCallEntryValue(t *testing.T) {
	for _, dir := range testfixture.LinuxDirs(t) {
		tg, err := target.Open(filepath.Join(dir, "vmcore.kdump"), filepath.Join(dir, "vmlinux"), target.Options{})
		if err != nil {
			t.Fatal(err)
		}
		th, err := tg.CrashedThread()
		if err != nil || th == nil {
			t.Fatalf("crashed thread: %v", err)
		}
		u, err := stack.New(tg)
		if err != nil {
			t.Fatal(err)
		}
		frames, _ := u.Backtrace(th)
		found := false
		for i, f := range frames {
			if f.Function != "ksys_write" || f.Kind != unwind.KindNormal {
				continue
			}
			found = true
			env, err := values.NewFrameEnv(tg, frames, i)
			if err != nil {
				t.Fatal(err)
			}
			v, err := cexpr.Evaluate(env, "fd")
			if err != nil {
				t.Fatal(err)
			}
			if got := values.Format(env, v, false); got != "1" && !v.Unavailable && !v.OptimizedOut {
				t.Errorf("ksys_write's fd = %s, want 1 or unavailable", got)
			}
			if got := values.Format(env, cexprMust(t, env, "count"), false); got != "2" {
				t.Errorf("ksys_write's count = %s, want 2 (\"c\\n\")", got)
			}
		}
		if !found {
			t.Errorf("no ksys_write frame in the crashed task's backtrace")
		}
		values.Forget(tg)
		tg.Close()
	}
}

func cexprMust(t *testing.T, env cexpr.Env, expr string) cexpr.Value {
	t.Helper()
	v, err := cexpr.Evaluate(env, expr)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}
