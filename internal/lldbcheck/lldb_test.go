package lldbcheck

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/session/cexpr"
	"github.com/kdap/kdap/session/stack"
	"github.com/kdap/kdap/session/values"
	"github.com/kdap/kdap/target"
	_ "github.com/kdap/kdap/target/all"
	"github.com/kdap/kdap/target/core"
	"github.com/kdap/kdap/unwind"
)

// cases reads LLDB's expectations from the fetched test file.
func cases(t *testing.T) []Case {
	t.Helper()
	cs := Load(t)
	if len(cs) != 4 {
		t.Fatalf("TestFreeBSDKernelVMCore.py has %d do_test calls, expected LLDB's four vmcores", len(cs))
	}
	return cs
}

// open opens a case's dump and kernel as fetch.sh leaves them.
func open(t *testing.T, c Case) *target.Target {
	t.Helper()
	core, kernel := c.Files(t)
	tg, err := target.Open(core, kernel, target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg
}

// TestLLDBExpectations checks kdap against every assertion of LLDB's test
// on its four real FreeBSD vmcores: the thread count, hz through an
// expression and a raw read, and for each thread LLDB names its name, its
// backtrace pcs and frame 0's registers.
func TestLLDBExpectations(t *testing.T) {
	for _, c := range cases(t) {
		t.Run(c.Test, func(t *testing.T) {
			tg := open(t, c)
			ths, err := tg.Threads()
			if err != nil {
				t.Fatal(err)
			}
			if len(ths) != c.NumThreads {
				t.Errorf("%d threads, LLDB %d (damage: %q)", len(ths), c.NumThreads, tg.Warnings())
			}
			checkHZ(t, tg, c.HZ)
			u, err := stack.New(tg)
			if err != nil {
				t.Fatal(err)
			}
			for idx, want := range c.Threads {
				if idx >= len(ths) {
					t.Errorf("thread %d (%s): kdap lists %d threads", idx, want.Name, len(ths))
					continue
				}
				th := ths[idx]
				if got := th.DisplayName(); got != want.Name {
					t.Errorf("thread %d: name %q, LLDB %q", idx, got, want.Name)
					continue
				}
				frames, stop := u.Backtrace(th)
				checkBacktrace(t, tg, want, frames, stop)
				checkRegs(t, tg, th, want)
			}
		})
	}
}

// checkHZ reads hz as LLDB's test does: `*(int *)&hz` through the
// expression evaluator, and four raw bytes at the symbol.
func checkHZ(t *testing.T, tg *target.Target, hz int) {
	t.Helper()
	env := values.NewGlobalEnv(tg)
	defer values.Forget(tg)
	v, err := cexpr.Evaluate(env, "*(int *)&hz")
	if err != nil {
		t.Errorf("*(int *)&hz: %v", err)
	} else if got := values.Format(env, v, false); got != fmt.Sprint(hz) {
		t.Errorf("*(int *)&hz = %s, LLDB %d", got, hz)
	}
	a, ok := tg.Kernel.Addr("hz")
	if !ok {
		t.Fatal("no symbol hz")
	}
	var b [4]byte
	if err := tg.ReadVirt(b[:], a); err != nil {
		t.Fatalf("reading hz at %#x: %v", a, err)
	}
	if got := tg.Arch.ByteOrder.Uint32(b[:]); got != uint32(hz) {
		t.Errorf("hz at %#x reads %d, LLDB %d", a, got, hz)
	}
}

// checkBacktrace compares the pcs of kdap's physical frames with LLDB's.
// kdap must give every frame LLDB gives, in order, and may go further;
// LLDB follows the frame-pointer chain without checks, so a trailing LLDB
// frame whose pc is not kernel code (i386's idle thread ends in 0x28, a
// trap frame's contents) is where kdap's checked unwind stops instead.
func checkBacktrace(t *testing.T, tg *target.Target, want Thread, frames []unwind.Frame, stop unwind.StopReason) {
	t.Helper()
	var pcs []uint64
	for _, f := range frames {
		if f.Kind == unwind.KindNormal {
			pcs = append(pcs, f.PC)
		}
	}
	for i, pc := range want.BT {
		if i >= len(pcs) {
			if !tg.InText(pc) && i == len(want.BT)-1 {
				t.Logf("%s: LLDB's last frame %#x is not kernel code; kdap stops before it: %s", want.Name, pc, stop.Message)
				break
			}
			t.Errorf("%s: kdap has %d frames (%s), LLDB %d: %#x", want.Name, len(pcs), stop.Message, len(want.BT), want.BT)
			break
		}
		if pcs[i] != pc {
			t.Errorf("%s: frame %d pc %#x, LLDB %#x", want.Name, i, pcs[i], pc)
		}
	}
	// Beyond LLDB: every frame kdap gives lies in kernel code, and where
	// kdap stops on a read, the dump lacks that page: LLDB's sparse copies
	// hold only what LLDB's test read (its arm64 copy none of the stack
	// pages past frame 0).
	for i, pc := range pcs {
		if !tg.InText(pc) {
			t.Errorf("%s: frame %d pc %#x is not kernel code", want.Name, i, pc)
		}
	}
	var np *core.NotPresentError
	if stop.Kind == unwind.StopReadError && !errors.As(stop.Err, &np) {
		t.Errorf("%s: stopped reading memory the dump has: %s", want.Name, stop.Message)
	}
	t.Logf("%s: %d frames (LLDB %d), stopped: %s", want.Name, len(pcs), len(want.BT), stop.Message)
}

// checkRegs compares frame 0's registers with LLDB's, by LLDB's names.
// LLDB shows x86's saved stack pointer as the PCB holds it, pointing at
// the return address savectx and cpu_switch were called with; kdap's
// frame 0 is the caller at that return address, whose stack pointer is
// one slot higher. Every other register must be equal.
func checkRegs(t *testing.T, tg *target.Target, th *target.Thread, want Thread) {
	t.Helper()
	a := tg.Arch
	for name, v := range want.Regs {
		n, ok := a.RegNumber(name)
		if !ok {
			t.Errorf("%s: %s has no register %s", want.Name, a.Name, name)
			continue
		}
		got, ok := th.Regs.Get(n)
		if !ok {
			t.Errorf("%s: %s unknown, LLDB %#x (%s)", want.Name, name, v, th.RegsErr)
			continue
		}
		if n == a.SP && a.LR < 0 {
			got -= uint64(a.PtrSize)
		}
		if got != v {
			t.Errorf("%s: %s = %#x, LLDB %#x", want.Name, name, got, v)
		}
	}
}

// BenchmarkOpenLLDBDumps opens each of LLDB's real vmcores with its
// kernel, lists the threads and unwinds the crashed one: what `kdap bt`
// does first.
func BenchmarkOpenLLDBDumps(b *testing.B) {
	for _, name := range []struct{ core, kernel string }{
		{"vmcore-amd64-full", "kernel-amd64"}, {"vmcore-amd64-minidump", "kernel-amd64"},
		{"vmcore-arm64-minidump", "kernel-arm64"}, {"vmcore-i386-minidump", "kernel-i386"},
	} {
		b.Run(strings.TrimPrefix(name.core, "vmcore-"), func(b *testing.B) {
			core := testfixture.FreeBSDLLDB(b, name.core)
			kernel := testfixture.FreeBSDLLDB(b, name.kernel)
			for b.Loop() {
				tg, err := target.Open(core, kernel, target.Options{})
				if err != nil {
					b.Fatal(err)
				}
				th, err := tg.CrashedThread()
				if err != nil || th == nil {
					b.Fatalf("crashed thread: %v", err)
				}
				u, err := stack.New(tg)
				if err != nil {
					b.Fatal(err)
				}
				if frames, _ := u.Backtrace(th); len(frames) == 0 {
					b.Fatal("no frames")
				}
				tg.Close()
			}
		})
	}
}
