package values

import (
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/session/stack"
	"github.com/kdap/kdap/target"
	_ "github.com/kdap/kdap/target/all"
	"github.com/kdap/kdap/unwind"
)

// openFixture opens a fixture dump with its kernel; variant is "fp" or
// "nofp", run "assert" or "trap", file "vmcore.mini" or "vmcore.full".
func openFixture(t testing.TB, variant, run, file string) *target.Target {
	t.Helper()
	kernel := testfixture.Path(t, "fbsdkern/fixtures/"+variant+"/kernel.debug")
	core := testfixture.Path(t, "fbsdkern/fixtures/"+variant+"/"+run+"/"+file)
	tg, err := target.Open(core, kernel, target.Options{})
	if err != nil {
		t.Fatalf("opening %s/%s/%s: %v", variant, run, file, err)
	}
	t.Cleanup(func() { Forget(tg); tg.Close() })
	return tg
}

// crashedFrames backtraces the crashed thread.
func crashedFrames(t testing.TB, tg *target.Target) (*target.Thread, []unwind.Frame) {
	t.Helper()
	th, err := tg.CrashedThread()
	if err != nil || th == nil {
		t.Fatalf("crashed thread: %v (thread %v)", err, th)
	}
	u, err := stack.New(tg)
	if err != nil {
		t.Fatal(err)
	}
	frames, _ := u.Backtrace(th)
	return th, frames
}

// frameEnv returns the Env of the first frame running function fn.
func frameEnv(t testing.TB, tg *target.Target, frames []unwind.Frame, fn string) (*Env, int) {
	t.Helper()
	for i, f := range frames {
		if f.Function == fn {
			env, err := NewFrameEnv(tg, frames, i)
			if err != nil {
				t.Fatalf("frame %d (%s): %v", i, fn, err)
			}
			return env, i
		}
	}
	t.Fatalf("no frame runs %s", fn)
	return nil, 0
}

// eachVariant runs f on the crashed thread of the fp and nofp minidumps
// of run ("assert" or "trap").
func eachVariant(t *testing.T, run string, f func(t *testing.T, tg *target.Target, frames []unwind.Frame)) {
	for _, variant := range []string{"fp", "nofp"} {
		t.Run(variant, func(t *testing.T) {
			tg := openFixture(t, variant, run, "vmcore.mini")
			_, frames := crashedFrames(t, tg)
			f(t, tg, frames)
		})
	}
}

// handlerEnv returns the Env of the sysctl_kdap_handler frame of the fp
// assert minidump.
func handlerEnv(t testing.TB) *Env {
	t.Helper()
	tg := openFixture(t, "fp", "assert", "vmcore.mini")
	_, frames := crashedFrames(t, tg)
	env, _ := frameEnv(t, tg, frames, "sysctl_kdap_handler")
	return env
}
