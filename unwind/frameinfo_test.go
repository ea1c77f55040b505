package unwind

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kdap/kdap/target/arch/amd64"
)

// regions is memory made of several byte ranges.
type regions []*region

func (m regions) ReadVirt(b []byte, va uint64) error {
	for _, r := range m {
		if r.ReadVirt(b, va) == nil {
			return nil
		}
	}
	return fmt.Errorf("address %#x not mapped", va)
}

// fakeFrames answers FrameInfo steps by lookup pc; pcs it lacks are
// StepNone.
type fakeFrames struct {
	steps map[uint64]func(f *Frame) (Step, error)
	asked int
}

func (ff *fakeFrames) Step(f *Frame, _ Memory) (Step, error) {
	ff.asked++
	if s, ok := ff.steps[f.LookupPC]; ok {
		return s(f)
	}
	return Step{Kind: StepNone}, nil
}

func call(pc, sp uint64, switched, exact bool) func(*Frame) (Step, error) {
	return func(*Frame) (Step, error) {
		return Step{Kind: StepCall, Regs: regs(amd64.RIP, pc, amd64.RSP, sp), CFA: sp, SwitchesStack: switched, Exact: exact}, nil
	}
}

func end(*Frame) (Step, error) { return Step{Kind: StepEnd, Reason: "test end"}, nil }

// TestFrameInfo drives the unwinder through a FrameInfo: callers, stack
// switches between an IRQ stack above the task's stack and back, trap
// frames in kernel and user mode, errors, and the fallback to the frame
// pointer where it knows nothing.
func TestFrameInfo(t *testing.T) {
	const (
		task = 0x5000 // task stack [0x5000, 0x6000)
		irq  = 0x9000 // IRQ stack [0x9000, 0xa000), above it
	)
	mem := regions{newRegion(task, 0x1000).put(0x5f00, 0).put(0x5f08, 0x1610), newRegion(irq, 0x1000)}
	start := regs(amd64.RIP, 0x1010, amd64.RSP, 0x9f00, amd64.RBP, 0x5f00)
	trapRegs := func(cs uint64, pc uint64) func(*Frame) (Step, error) {
		return func(*Frame) (Step, error) {
			return Step{Kind: StepTrap, Regs: regs(amd64.RIP, pc, amd64.RSP, 0x5f80), CFA: 0x5f40, Exact: true,
				Label: "--- pt_regs ---", UserMode: cs&3 != 0}, nil
		}
	}
	cases := []struct {
		name     string
		steps    map[uint64]func(*Frame) (Step, error)
		opts     []Option
		stop     StopKind
		msg      string
		funcs    []string
		methods  []Method
		wantMark bool
		sp       uint64 // starting stack pointer, if not on the IRQ stack
	}{
		{"IRQ stack to task stack", map[uint64]func(*Frame) (Step, error){
			0x1010: call(0x1110, 0x5e00, true, false), 0x110f: end},
			[]Option{StackBounds(task, task+0x1000)}, StopEndOfStack, "test end", []string{"leaf", "mid"}, []Method{MethodStart, MethodORC}, false, 0},
		{"IRQ stack to task stack unannounced", map[uint64]func(*Frame) (Step, error){
			0x1010: call(0x1110, 0x5e00, false, false), 0x110f: end},
			[]Option{StackBounds(task, task+0x1000)}, StopNotGrowing, "does not grow", []string{"leaf"}, nil, false, 0},
		{"switch without bounds", map[uint64]func(*Frame) (Step, error){
			0x1010: call(0x1110, 0x5e00, true, false), 0x110f: end},
			nil, StopEndOfStack, "test end", []string{"leaf", "mid"}, nil, false, 0},
		{"leaving the task stack upwards", map[uint64]func(*Frame) (Step, error){
			0x1010: call(0x1110, 0x5e00, true, false), 0x110f: call(0x1610, 0x9f80, false, false)},
			[]Option{StackBounds(task, task+0x1000)}, StopOutsideStack, "outside the thread's stack", []string{"leaf", "mid"}, nil, false, 0},
		{"exact caller", map[uint64]func(*Frame) (Step, error){
			0x1010: call(0x1110, 0x9f80, false, true), 0x1110: end},
			nil, StopEndOfStack, "test end", []string{"leaf", "mid"}, nil, false, 0},
		{"kernel trap", map[uint64]func(*Frame) (Step, error){
			0x1010: trapRegs(0x10, 0x1620), 0x1620: end},
			nil, StopEndOfStack, "test end", []string{"leaf", "", "outer"}, []Method{MethodStart, MethodTrap, MethodTrap}, true, 0},
		{"user trap", map[uint64]func(*Frame) (Step, error){
			0x1010: trapRegs(0x33, 0x400000)},
			nil, StopEndOfStack, "user-mode registers in the trap frame of leaf", []string{"leaf", ""}, nil, true, 0},
		{"fallback to the frame pointer", map[uint64]func(*Frame) (Step, error){
			0x160f: end},
			nil, StopEndOfStack, "test end", []string{"leaf", "outer"}, []Method{MethodStart, MethodFP}, false, 0x5e00},
		{"read error", map[uint64]func(*Frame) (Step, error){
			0x1010: func(*Frame) (Step, error) { return Step{}, &ReadError{Addr: 0x42, Err: errors.New("gone")} }},
			nil, StopReadError, "cannot read stack at 0x42", []string{"leaf"}, nil, false, 0},
		{"bad information", map[uint64]func(*Frame) (Step, error){
			0x1010: func(*Frame) (Step, error) { return Step{}, errors.New("unknown sp_reg 12") }},
			nil, StopBadCFI, "cannot unwind pc 0x1010: unknown sp_reg 12", []string{"leaf"}, nil, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ff := &fakeFrames{steps: c.steps}
			u, err := New(Config{Arch: amd64.Arch, Memory: mem, Symbolizer: fakeSym{}, Frames: ff})
			if err != nil {
				t.Fatal(err)
			}
			st := start
			if c.sp != 0 {
				st.Set(amd64.RSP, c.sp)
			}
			frames, stop := u.Unwind(st, c.opts...)
			var funcs []string
			var methods []Method
			mark := false
			for _, f := range frames {
				funcs = append(funcs, f.Function)
				methods = append(methods, f.Method)
				mark = mark || f.Kind == KindTrap
			}
			if stop.Kind != c.stop || !strings.Contains(stop.Message, c.msg) {
				t.Errorf("stop %v %q, want %v containing %q", stop.Kind, stop.Message, c.stop, c.msg)
			}
			if fmt.Sprint(funcs) != fmt.Sprint(c.funcs) {
				t.Errorf("frames %q, want %q", funcs, c.funcs)
			}
			if c.methods != nil && fmt.Sprint(methods) != fmt.Sprint(c.methods) {
				t.Errorf("methods %v, want %v", methods, c.methods)
			}
			if mark != c.wantMark {
				t.Errorf("trap marker %v, want %v", mark, c.wantMark)
			}
			for _, f := range frames {
				if f.Function == "mid" && c.name == "exact caller" && f.LookupPC != f.PC {
					t.Errorf("exact caller looked up at %#x, want its pc %#x", f.LookupPC, f.PC)
				}
			}
		})
	}
	t.Run("WithoutCFI ignores it", func(t *testing.T) {
		ff := &fakeFrames{steps: map[uint64]func(*Frame) (Step, error){0x1010: end}}
		u, _ := New(Config{Arch: amd64.Arch, Memory: mem, Symbolizer: fakeSym{}, Frames: ff})
		u.Unwind(start, WithoutCFI())
		if ff.asked != 0 {
			t.Errorf("FrameInfo asked %d times under WithoutCFI", ff.asked)
		}
	})
}

// TestFrameInfoRefinedByCFI checks that the callee-saved registers a
// FrameInfo does not track come from CFI when CFI agrees on the frame, and
// stay unavailable when it does not.
func TestFrameInfoRefinedByCFI(t *testing.T) {
	// leaf: CFA = rsp+16, rbx saved at CFA-16, return address at CFA-8.
	fdes := mustDebugFrame(t, cieAMD64, fdeSpec{0x1000, 0x100, []byte{0x0e, 0x10, 0x83, 0x02}})
	mem := newRegion(0x5000, 0x1000).put(0x5000, 0xb0b).put(0x5008, 0x1610)
	start := regs(amd64.RIP, 0x1010, amd64.RSP, 0x5000, amd64.RBX, 0x1)
	for _, c := range []struct {
		name string
		cfa  uint64
		rbx  bool
	}{{"agreeing", 0x5010, true}, {"disagreeing", 0x5018, false}} {
		t.Run(c.name, func(t *testing.T) {
			ff := &fakeFrames{steps: map[uint64]func(*Frame) (Step, error){
				0x1010: func(*Frame) (Step, error) {
					return Step{Kind: StepCall, Regs: regs(amd64.RIP, 0x1610, amd64.RSP, c.cfa), CFA: c.cfa}, nil
				},
				0x160f: end,
			}}
			u, err := New(Config{Arch: amd64.Arch, Memory: mem, Symbolizer: fakeSym{}, CFI: NewCFIIndex(fdes), Frames: ff})
			if err != nil {
				t.Fatal(err)
			}
			frames, stop := u.Unwind(start)
			if len(frames) != 2 {
				t.Fatalf("%d frames, stop %s", len(frames), stop.Message)
			}
			rbx, ok := frames[1].Regs.Get(amd64.RBX)
			if ok != c.rbx || ok && rbx != 0xb0b {
				t.Errorf("caller rbx %#x (known %v), want known %v = 0xb0b", rbx, ok, c.rbx)
			}
		})
	}
}
