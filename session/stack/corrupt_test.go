package stack_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/session/stack"
	"github.com/kdap/kdap/target"
	"github.com/kdap/kdap/target/arch/amd64"
	"github.com/kdap/kdap/unwind"
)

// TestCorruptStacks damages a sleeping thread's real stack or saved pc in a
// copy of a full dump: the backtrace must end with a stated reason, never
// reach the thread's entry by accident, loop or panic.
func TestCorruptStacks(t *testing.T) {
	const tid = 100014 // init: sched_switch ... fork_trampoline (README)
	for _, build := range []string{"fp", "nofp"} {
		core := testfixture.Path(t, "fbsdkern/fixtures/"+build+"/assert/vmcore.full")
		kernel := testfixture.Path(t, "fbsdkern/fixtures/"+build+"/kernel.debug")
		orig := openFixture(t, build, "assert", "full")
		th, err := orig.Thread(tid)
		if err != nil {
			t.Fatal(err)
		}
		sp, _ := th.Regs.Get(amd64.RSP)
		pcbAddr, err := orig.ReadU64(th.Addr + member(t, orig, "struct thread", "td_pcb"))
		if err != nil {
			t.Fatal(err)
		}
		hz, _ := orig.Kernel.Addr("hz")
		stackTop := th.StackHi
		selfLoop := make([]byte, 0, 512)
		for i := 0; i < 64; i++ { // every word points at the stack itself
			selfLoop = binary.LittleEndian.AppendUint64(selfLoop, sp)
		}
		cases := []struct {
			name string
			va   uint64
			b    []byte
		}{
			{"zeroed stack", sp, make([]byte, 512)},
			{"garbage stack", sp, bytes.Repeat([]byte{0x41}, 512)},
			{"stack pointing at itself", sp, selfLoop},
			{"pc in data", pcbAddr + member(t, orig, "struct pcb", "pcb_rip"), binary.LittleEndian.AppendUint64(nil, hz)},
			{"rsp outside the stack", pcbAddr + member(t, orig, "struct pcb", "pcb_rsp"), binary.LittleEndian.AppendUint64(nil, stackTop+0x10000)},
		}
		for _, c := range cases {
			t.Run(build+"/"+c.name, func(t *testing.T) {
				pa, err := orig.Translate(c.va)
				if err != nil {
					t.Fatal(err)
				}
				bad, err := target.Open(testfixture.PatchELFCore(t, core, pa, c.b), kernel, target.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer bad.Close()
				th, err := bad.Thread(tid)
				if err != nil {
					t.Fatal(err)
				}
				u, err := stack.New(bad)
				if err != nil {
					t.Fatal(err)
				}
				frames, stop := u.Backtrace(th)
				if stop.Kind == unwind.StopEndOfStack || stop.Message == "" {
					t.Errorf("stopped with %v %q after %d frames; want a stated failure", stop.Kind, stop.Message, len(frames))
				}
				if len(frames) > unwind.DefaultMaxFrames {
					t.Errorf("%d frames", len(frames))
				}
				t.Logf("%d frames, stop: %s", len(frames), stop.Message)
			})
		}
	}
}

func member(t *testing.T, tg *target.Target, typ, m string) uint64 {
	t.Helper()
	off, err := tg.Kernel.MemberOffset(typ, m)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(off)
}
