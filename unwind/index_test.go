package unwind

import (
	"bytes"
	"testing"

	"github.com/go-delve/delve/pkg/dwarf/frame"

	"github.com/kdap/kdap/target/arch/amd64"
)

// TestCFIIndexAgreesWithDelve looks up every text address of both fixture
// builds and compares with Delve's own FDEForPC.
func TestCFIIndexAgreesWithDelve(t *testing.T) {
	for _, v := range []string{"fp", "nofp"} {
		t.Run(v, func(t *testing.T) {
			fx := loadSigFixture(t, v)
			x := NewCFIIndex(fx.prog.fdes)
			ref := frame.FrameDescriptionEntries(nil).Append(fx.prog.fdes)
			covered := 0
			for _, r := range fx.prog.text {
				for pc := r[0] - 1; pc <= r[1]; pc++ {
					got, err := x.FDEForPC(pc)
					if err != nil {
						t.Fatal(err)
					}
					want, _ := ref.FDEForPC(pc)
					if got != want {
						t.Fatalf("pc %#x: FDE %v, Delve %v", pc, got, want)
					}
					if got != nil {
						covered++
					}
				}
			}
			if covered == 0 {
				t.Fatal("no pc covered by any FDE")
			}
		})
	}
}

// TestCFIIndexOverlap: of two FDEs covering a pc, the later-starting one
// answers, even when an earlier one reaches past it.
func TestCFIIndexOverlap(t *testing.T) {
	fdes := mustDebugFrame(t, cieAMD64,
		fdeSpec{0x1000, 0x1000, nil},
		fdeSpec{0x1100, 0x10, nil},
		fdeSpec{0x3000, 0x10, nil},
	)
	x := NewCFIIndex(fdes)
	tests := []struct {
		pc    uint64
		begin uint64 // 0: none
	}{
		{0xfff, 0}, {0x1000, 0x1000}, {0x1105, 0x1100}, {0x1110, 0x1000}, {0x1fff, 0x1000},
		{0x2000, 0}, {0x3000, 0x3000}, {0x3010, 0},
	}
	for _, tt := range tests {
		f, err := x.FDEForPC(tt.pc)
		if err != nil {
			t.Fatal(err)
		}
		var got uint64
		if f != nil {
			got = f.Begin()
		}
		if got != tt.begin {
			t.Errorf("pc %#x: FDE at %#x, want %#x", tt.pc, got, tt.begin)
		}
	}
}

// TestCFIIndexLoadsOnce: the table is loaded on first use only.
func TestCFIIndexLoadsOnce(t *testing.T) {
	fx := loadSigFixture(t, "fp")
	calls := 0
	x := NewLazyCFIIndex(func() (frame.FrameDescriptionEntries, error) {
		calls++
		return fx.prog.fdes, nil
	})
	u := fx.unwinder(t, x)
	if calls != 0 {
		t.Fatalf("table loaded %d times before any unwind", calls)
	}
	first, _ := u.Unwind(fx.snap.regs)
	second, _ := u.Unwind(fx.snap.regs)
	if calls != 1 || x.Loads() != 1 {
		t.Errorf("table loaded %d times (Loads %d) over two unwinds, want 1", calls, x.Loads())
	}
	if len(first) != len(second) || len(first) < 5 {
		t.Errorf("unwinds found %d and %d frames", len(first), len(second))
	}
}

// FuzzUnwind feeds arbitrary stack bytes and starting registers to the
// unwinder over the fp fixture's code: it must end with a stop reason,
// within the frame limit, without panicking.
func FuzzUnwind(f *testing.F) {
	fx := loadSigFixture(f, "fp")
	pc, _ := fx.snap.regs.Get(amd64.RIP)
	bp, _ := fx.snap.regs.Get(amd64.RBP)
	f.Add(fx.snap.stack, pc, uint64(0), bp-fx.snap.lo)
	f.Add(fx.snap.stack[:64], pc, uint64(8), uint64(16))
	f.Add([]byte{}, uint64(0x401516), uint64(0), uint64(0))
	cfi := NewCFIIndex(fx.prog.fdes)
	f.Fuzz(func(t *testing.T, stack []byte, pc, spOff, bpOff uint64) {
		mem := &snapshot{lo: fx.snap.lo, stack: stack}
		u, err := New(Config{Arch: amd64.Arch, Memory: mem, CFI: cfi, Symbolizer: fx.prog, Inliner: fx.prog, OS: sigOS{fx.snap}})
		if err != nil {
			t.Fatal(err)
		}
		start := fx.snap.regs
		start.Set(amd64.RIP, pc)
		start.Set(amd64.RSP, fx.snap.lo+spOff)
		start.Set(amd64.RBP, fx.snap.lo+bpOff)
		frames, stop := u.Unwind(start, StackBounds(mem.lo, mem.hi()))
		if stop.Message == "" {
			t.Fatal("unwind ended without a stop reason")
		}
		if len(frames) > DefaultMaxFrames {
			t.Fatalf("%d frames exceed the limit", len(frames))
		}
	})
}

// FuzzCFIProgram runs arbitrary CFA programs: a malformed one must end the
// unwind with a reason, not a panic.
func FuzzCFIProgram(f *testing.F) {
	f.Add([]byte{0x0c, 0x06, 0x10, 0x86, 0x02})
	f.Add([]byte{0x10, 0x03, 0x03, 0x10, 0x10, 0x1c})
	f.Add([]byte{0x0b})
	f.Add([]byte{0x0f, 0x03, 0x76, 0x80, 0x01})
	mem := newRegion(0x7000, 0x2000)
	start := regs(amd64.RIP, 0x1010, amd64.RSP, 0x8000, amd64.RBP, 0x8100)
	f.Fuzz(func(t *testing.T, instr []byte) {
		fdes, err := parseQuietly(instr)
		if err != nil {
			return
		}
		u, err := New(Config{Arch: amd64.Arch, Memory: mem, CFI: NewCFIIndex(fdes), Symbolizer: fakeSym{}})
		if err != nil {
			t.Fatal(err)
		}
		if _, stop := u.Unwind(start); stop.Message == "" {
			t.Fatal("unwind ended without a stop reason")
		}
	})
}

// parseQuietly builds a one-FDE table around instr; Delve's parser is not
// what is under test, so its panics are skipped.
func parseQuietly(instr []byte) (fdes frame.FrameDescriptionEntries, err error) {
	defer func() {
		if recover() != nil {
			err = bytes.ErrTooLarge
		}
	}()
	return debugFrame(cieAMD64, fdeSpec{0x1000, 0x100, instr})
}

func BenchmarkUnwind(b *testing.B) {
	fx := loadSigFixture(b, "fp")
	u := fx.unwinder(b, NewCFIIndex(fx.prog.fdes))
	b.ReportAllocs()
	for b.Loop() {
		if frames, _ := u.Unwind(fx.snap.regs); len(frames) != 10 {
			b.Fatalf("%d frames", len(frames))
		}
	}
}
