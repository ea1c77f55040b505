package unwind

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdap/kdap/target/arch/amd64"
)

var calleeSaved = map[string]int{"rbx": amd64.RBX, "rbp": amd64.RBP, "r12": amd64.R12, "r13": amd64.R13, "r14": amd64.R14, "r15": amd64.R15, "rsp": amd64.RSP, "rip": amd64.RIP}

var callerSaved = []int{amd64.RAX, amd64.RCX, amd64.RDX, amd64.RSI, amd64.RDI, amd64.R8, amd64.R9, amd64.R10, amd64.R11}

// TestSigstackMatchesGDB unwinds the captured stacks with CFI and compares
// every frame with the backtrace gdb printed for the same process.
func TestSigstackMatchesGDB(t *testing.T) {
	tests := []struct {
		variant string
		cfi     string // where the build keeps its CFI
	}{
		{"fp", ".eh_frame"},
		{"nofp", ".debug_frame"},
	}
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			fx := loadSigFixture(t, tt.variant)
			if fx.prog.cfiName != tt.cfi {
				t.Fatalf("CFI read from %s, want %s", fx.prog.cfiName, tt.cfi)
			}
			u := fx.unwinder(t, NewCFIIndex(fx.prog.fdes))
			frames, stop := u.Unwind(fx.snap.regs, StackBounds(fx.snap.lo, fx.snap.hi()))
			if stop.Kind != StopNotInText || !strings.Contains(stop.Message, "not in kernel text") {
				t.Errorf("stop = %v (%q), want the return address into libc to end the unwind", stop.Kind, stop)
			}

			var nonTrap []Frame
			markers := 0
			for i, f := range frames {
				if f.Kind == KindTrap {
					markers++
					if i == 0 || frames[i-1].Function != "__restore_rt" || i+1 >= len(frames) {
						t.Fatalf("trap marker at %d is not between __restore_rt and the interrupted frame", i)
					}
					next := frames[i+1]
					if f.PC != next.PC || !strings.Contains(f.Label, fmt.Sprintf("rip = %#x", next.PC)) {
						t.Errorf("marker %q, pc %#x; interrupted frame pc %#x", f.Label, f.PC, next.PC)
					}
					continue
				}
				nonTrap = append(nonTrap, f)
			}
			if markers != 1 {
				t.Errorf("%d trap markers, want 1", markers)
			}
			if len(nonTrap) != len(fx.gdb) {
				t.Fatalf("%d frames, gdb shows %d:\n%s", len(nonTrap), len(fx.gdb), describe(frames))
			}
			afterTrap := false
			for i, g := range fx.gdb {
				f := nonTrap[i]
				name := fmt.Sprintf("frame %d (%s)", i, g.Function)
				if f.Function != g.Function || f.PC != g.PC {
					t.Errorf("%s: got %s at %#x, gdb %s at %#x", name, f.Function, f.PC, g.Function, g.PC)
				}
				if f.Inlined != (g.Kind == "inlined") {
					t.Errorf("%s: inlined = %v, gdb frame kind %s", name, f.Inlined, g.Kind)
				}
				if g.File != "" && (f.File != filepath.Base(g.File) || f.Line != g.Line) {
					t.Errorf("%s: at %s:%d, gdb %s:%d", name, f.File, f.Line, g.File, g.Line)
				}
				for reg, want := range g.Regs {
					got, ok := f.Regs.Get(calleeSaved[reg])
					if !ok || got != want {
						t.Errorf("%s: %s = %#x (known %v), gdb %#x", name, reg, got, ok, want)
					}
				}
				if f.SP != g.Regs["rsp"] {
					t.Errorf("%s: sp %#x, gdb %#x", name, f.SP, g.Regs["rsp"])
				}
				exact := i == 0 || afterTrap
				if exact != (f.LookupPC == f.PC) || !exact && f.LookupPC != f.PC-1 {
					t.Errorf("%s: lookup pc %#x for pc %#x (exact %v)", name, f.LookupPC, f.PC, exact)
				}
				for _, n := range callerSaved {
					if f.Regs.Has(n) != exact {
						t.Errorf("%s: %s known = %v, want %v", name, amd64.Arch.RegName(n), f.Regs.Has(n), exact)
					}
				}
				afterTrap = g.Kind == "sigtramp"
			}
			// The CFA of each CFI-unwound physical frame is its caller's SP.
			for i := 0; i+1 < len(nonTrap); i++ {
				f, next := nonTrap[i], nonTrap[i+1]
				if f.Inlined || f.Function == "__restore_rt" || next.Method != MethodCFI {
					continue
				}
				if f.CFA != next.SP {
					t.Errorf("%s: CFA %#x, caller %s sp %#x", f.Function, f.CFA, next.Function, next.SP)
				}
			}
		})
	}
}

// TestFramePointerOnly unwinds the same stacks ignoring CFI.
func TestFramePointerOnly(t *testing.T) {
	tests := []struct {
		variant  string
		stop     StopKind
		stopText string
		// functions the frame-pointer chain must find, in order
		want []string
	}{
		// d never sets up a frame (gdb: its rsp is 8 below b's rbp), so
		// the chain passes from d straight to a.
		{"fp", StopNotInText, "not in kernel text",
			[]string{"snapshot", "inner", "handler", "__restore_rt", "d", "a", "main"}},
		// inner keeps 0x2 in rbp (gdb), which no chain can follow.
		{"nofp", StopNoUnwindInfo, "frame pointer chain invalid: rbp 0x2",
			[]string{"snapshot", "inner"}},
	}
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			fx := loadSigFixture(t, tt.variant)
			u := fx.unwinder(t, NewCFIIndex(fx.prog.fdes))
			frames, stop := u.Unwind(fx.snap.regs, WithoutCFI(), StackBounds(fx.snap.lo, fx.snap.hi()))
			if stop.Kind != tt.stop || !strings.Contains(stop.Message, tt.stopText) {
				t.Errorf("stop = %v %q, want %v containing %q", stop.Kind, stop, tt.stop, tt.stopText)
			}
			var got []string
			j := 0
			for _, f := range frames {
				if f.Kind == KindTrap {
					continue
				}
				got = append(got, f.Function)
				// Every frame found must be one gdb found, at the same pc.
				for j < len(fx.gdb) && (fx.gdb[j].Function != f.Function || fx.gdb[j].PC != f.PC) {
					j++
				}
				if j == len(fx.gdb) {
					t.Errorf("frame %s at %#x is not in gdb's backtrace (in order)", f.Function, f.PC)
					break
				}
				j++
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("frames %v, want %v", got, tt.want)
			}
		})
	}
}

func describe(frames []Frame) string {
	var b strings.Builder
	for i, f := range frames {
		fmt.Fprintf(&b, "#%d %s %s pc=%#x sp=%#x cfa=%#x %s\n", i, f.Kind, f.Function, f.PC, f.SP, f.CFA, f.Label)
	}
	return b.String()
}
