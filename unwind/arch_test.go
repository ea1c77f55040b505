package unwind

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/kdap/kdap/target/arch"
	"github.com/kdap/kdap/target/arch/amd64"
	"github.com/kdap/kdap/target/arch/arm64"
	"github.com/kdap/kdap/target/arch/i386"
)

func (m *region) put32(va uint64, v uint32) *region {
	binary.LittleEndian.PutUint32(m.b[va-m.base:], v)
	return m
}

func pcs(frames []Frame) []uint64 {
	var out []uint64
	for _, f := range frames {
		if f.Kind == KindNormal {
			out = append(out, f.PC)
		}
	}
	return out
}

func samePCs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// An arm64 stack of frame records (x29 → {saved x29, saved x30}) as
// FreeBSD's PCB leaves it: pc is the saved link register, a return
// address. The chain ends at fork_trampoline.
func TestARM64FrameRecords(t *testing.T) {
	mem := newRegion(0x8000, 0x100).
		put(0x8010, 0x8040).put(0x8018, 0x1150). // leaf's record: back to mid
		put(0x8040, 0x8080).put(0x8048, 0x1210)  // mid's record: into fork_trampoline
	var start arch.Regs
	start.Set(arm64.PC, 0x1010)
	start.Set(arm64.LR, 0x1010)
	start.Set(arm64.SP, 0x8000)
	start.Set(arm64.FP, 0x8010)
	u, err := New(Config{Arch: arm64.Arch, Memory: mem, Symbolizer: fakeSym{}, OS: fakeOS{}})
	if err != nil {
		t.Fatal(err)
	}
	frames, stop := u.Unwind(start, StartAtReturnAddress())
	want := []uint64{0x1010, 0x1150, 0x1210}
	if got := pcs(frames); !samePCs(got, want) || stop.Kind != StopEndOfStack {
		t.Fatalf("pcs %#x (stop %s), want %#x ending at fork_trampoline", got, stop.Message, want)
	}
	// Each caller's sp is the callee's record + 16, its x29 the saved one.
	if sp, _ := frames[1].Regs.Get(arm64.SP); sp != 0x8020 {
		t.Errorf("mid's sp = %#x, want 0x8020", sp)
	}
	if fp, _ := frames[2].Regs.Get(arm64.FP); fp != 0x8080 {
		t.Errorf("fork_trampoline's x29 = %#x, want 0x8080", fp)
	}
	// A record pointing below the stack pointer ends the walk as damage.
	mem.put(0x8010, 0x7000)
	frames, stop = u.Unwind(start, StartAtReturnAddress())
	if got := pcs(frames); len(got) != 2 || !strings.Contains(stop.Message, "below the stack pointer") {
		t.Errorf("damaged chain: pcs %#x, stop %q", got, stop.Message)
	}
}

// i386 frames are 4-byte slots: [ebp] the caller's ebp, [ebp+4] the
// return address.
func TestI386FramePointer(t *testing.T) {
	mem := newRegion(0x8000, 0x100).
		put32(0x8010, 0x8030).put32(0x8014, 0x1150).
		put32(0x8030, 0x8050).put32(0x8034, 0x1210)
	var start arch.Regs
	start.Set(i386.EIP, 0x1010)
	start.Set(i386.ESP, 0x8004)
	start.Set(i386.EBP, 0x8010)
	u, err := New(Config{Arch: i386.Arch, Memory: mem, Symbolizer: fakeSym{}, OS: fakeOS{}})
	if err != nil {
		t.Fatal(err)
	}
	frames, stop := u.Unwind(start, StartAtReturnAddress())
	want := []uint64{0x1010, 0x1150, 0x1210}
	if got := pcs(frames); !samePCs(got, want) {
		t.Fatalf("pcs %#x (stop %s), want %#x", got, stop.Message, want)
	}
	if sp, _ := frames[1].Regs.Get(i386.ESP); sp != 0x8018 {
		t.Errorf("caller's esp = %#x, want 0x8018 (ebp + 8)", sp)
	}
}

// A frame-pointer chain that leaves an interrupt stack for the thread's
// stack below it: refused by default, followed with
// FramePointerStackSwitches when the record on the new stack is sound.
func TestFramePointerStackSwitch(t *testing.T) {
	mem := newRegion(0x4000, 0x5000).
		put(0x8010, 0x4100).put(0x8018, 0x1150). // on the interrupt stack, the chain goes down to 0x4100
		put(0x4100, 0x4200).put(0x4108, 0x1180). // thread stack
		put(0x4200, 0).put(0x4208, 0x1210)
	var start arch.Regs
	start.Set(amd64.RIP, 0x1010)
	start.Set(amd64.RSP, 0x8000)
	start.Set(amd64.RBP, 0x8010)
	u, err := New(Config{Arch: amd64.Arch, Memory: mem, Symbolizer: fakeSym{}})
	if err != nil {
		t.Fatal(err)
	}
	frames, stop := u.Unwind(start, StartAtReturnAddress())
	if got := pcs(frames); len(got) != 2 || !strings.Contains(stop.Message, "below the stack pointer") {
		t.Errorf("without the option: pcs %#x, stop %q; want 2 frames and a refused switch", got, stop.Message)
	}
	frames, stop = u.Unwind(start, StartAtReturnAddress(), FramePointerStackSwitches(1))
	if got, want := pcs(frames), []uint64{0x1010, 0x1150, 0x1180, 0x1210}; !samePCs(got, want) {
		t.Errorf("with the option: pcs %#x (stop %s), want %#x", got, stop.Message, want)
	}
	// A record on the new stack whose saved frame pointer goes down again
	// is no frame chain: the switch is refused.
	mem.put(0x4100, 0x4000)
	frames, _ = u.Unwind(start, StartAtReturnAddress(), FramePointerStackSwitches(1))
	if got := pcs(frames); len(got) != 2 {
		t.Errorf("unsound record on the new stack: pcs %#x, want the walk to stop after 2 frames", got)
	}
	// So is one whose return address is not code.
	mem.put(0x4100, 0x4200).put(0x4108, 0x9999)
	frames, _ = u.Unwind(start, StartAtReturnAddress(), FramePointerStackSwitches(1))
	if got := pcs(frames); len(got) != 2 {
		t.Errorf("return address outside text on the new stack: pcs %#x, want 2 frames", got)
	}
}
