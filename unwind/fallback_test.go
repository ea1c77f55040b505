package unwind

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-delve/delve/pkg/dwarf/frame"

	"github.com/kdap/kdap/target/arch/amd64"
)

// TestBadCFIFallsBack unwinds "broken" (0x1700-0x1800), whose CFI exists
// but cannot be used, on a stack with a good frame-pointer chain: broken
// → nocfi → fork_trampoline. The unwind must follow the chain as for a pc
// without CFI, and the frame must say why its CFI was not used.
func TestBadCFIFallsBack(t *testing.T) {
	const sp = 0x8000
	chain := func() *region {
		return newRegion(0x7000, 0x2000).
			put(sp, sp+0x10).put(sp+8, 0x1410).  // broken's frame record: caller nocfi
			put(sp+0x10, 0).put(sp+0x18, 0x1210) // nocfi's: caller fork_trampoline
	}
	withFDE := func(instr []byte) func(t *testing.T) CFI {
		return func(t *testing.T) CFI {
			return NewCFIIndex(mustDebugFrame(t, cieAMD64, fdeSpec{0x1000, 0x100, nil}, fdeSpec{0x1700, 0x100, instr}))
		}
	}
	start := regs(amd64.RIP, 0x1710, amd64.RSP, sp, amd64.RBP, sp)
	tests := []struct {
		name   string
		cfi    func(t *testing.T) CFI
		start  Regs
		bad    string // in frame 0's BadCFI
		frames []string
		method Method // of frame 1
	}{
		{"malformed CFA program", withFDE([]byte{0x0b}), start,
			"malformed CFA program of the FDE at 0x1700-0x1800", []string{"broken", "nocfi", "fork_trampoline"}, MethodFP},
		{"unknown opcode", withFDE([]byte{0x17}), start,
			"unexpected DWARF CFA opcode: 0x17", []string{"broken", "nocfi", "fork_trampoline"}, MethodFP},
		{"CFA from an unavailable register", withFDE([]byte{0x0c, 0x0c, 0x10}), start,
			"CFA rule uses r12, whose value is unavailable", []string{"broken", "nocfi", "fork_trampoline"}, MethodFP},
		{"unsupported CFA expression", withFDE([]byte{0x0f, 0x01, 0xe0}), start,
			"DWARF operation 0xe0", []string{"broken", "nocfi", "fork_trampoline"}, MethodFP},
		{"unloadable table", func(*testing.T) CFI {
			return NewLazyCFIIndex(func() (frame.FrameDescriptionEntries, error) {
				return nil, errors.New("unknown CIE version 9")
			})
		}, start, "loading call frame information: unknown CIE version 9", []string{"broken", "nocfi", "fork_trampoline"}, MethodFP},
		// Stopped on its first instruction: the return address (nocfi)
		// is on top of the stack, rbp is still nocfi's frame record.
		{"at function entry", withFDE([]byte{0x0b}), regs(amd64.RIP, 0x1700, amd64.RSP, sp+8, amd64.RBP, sp+0x10),
			"malformed CFA program", []string{"broken", "nocfi", "fork_trampoline"}, MethodEntry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := New(Config{Arch: amd64.Arch, Memory: chain(), CFI: tt.cfi(t), Symbolizer: fakeSym{}, OS: fakeOS{}})
			if err != nil {
				t.Fatal(err)
			}
			frames, stop := u.Unwind(tt.start)
			var got []string
			for _, f := range frames {
				got = append(got, f.Function)
			}
			if strings.Join(got, ",") != strings.Join(tt.frames, ",") || stop.Kind != StopEndOfStack {
				t.Fatalf("frames %q, stop %v %q; want %q ending at the end of the stack", got, stop.Kind, stop, tt.frames)
			}
			if !strings.Contains(frames[0].BadCFI, tt.bad) {
				t.Errorf("frame 0's BadCFI = %q, want one containing %q", frames[0].BadCFI, tt.bad)
			}
			if frames[1].Method != tt.method {
				t.Errorf("frame 1 unwound by %v, want %v", frames[1].Method, tt.method)
			}
			// nocfi has no FDE: no CFI to complain about, unless the
			// whole table could not be loaded.
			if frames[1].BadCFI != "" && tt.name != "unloadable table" {
				t.Errorf("frame 1's BadCFI = %q, want none", frames[1].BadCFI)
			}
		})
	}
}

// TestBadCFIFallbackFails: when the frame-pointer fallback fails too, the
// unwind stops with StopBadCFI naming both reasons; a CFI that works but
// reads unreadable stack is no defect of the CFI and stops as a read error.
func TestBadCFIFallbackFails(t *testing.T) {
	const sp = 0x8000
	cfi := NewCFIIndex(mustDebugFrame(t, cieAMD64, fdeSpec{0x1000, 0x100, nil}, fdeSpec{0x1700, 0x100, []byte{0x0b}}))
	tests := []struct {
		name  string
		mem   Memory
		start Regs
		kind  StopKind
		msg   []string
	}{
		{"no frame pointer", newRegion(0x7000, 0x2000), regs(amd64.RIP, 0x1710, amd64.RSP, sp),
			StopBadCFI, []string{"malformed CFA program", "without CFI: rbp is unavailable"}},
		{"frame pointer 0", newRegion(0x7000, 0x2000), regs(amd64.RIP, 0x1710, amd64.RSP, sp, amd64.RBP, 0),
			StopBadCFI, []string{"malformed CFA program", "without CFI: frame pointer is 0"}},
		{"good CFI over unreadable stack", newRegion(0x9000, 0x1000), regs(amd64.RIP, 0x1010, amd64.RSP, sp, amd64.RBP, 0x9000),
			StopReadError, []string{"cannot read stack at 0x8000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := New(Config{Arch: amd64.Arch, Memory: tt.mem, CFI: cfi, Symbolizer: fakeSym{}, OS: fakeOS{}})
			if err != nil {
				t.Fatal(err)
			}
			frames, stop := u.Unwind(tt.start)
			if stop.Kind != tt.kind || len(frames) != 1 {
				t.Fatalf("stop %v %q after %d frames, want %v after 1", stop.Kind, stop, len(frames), tt.kind)
			}
			for _, m := range tt.msg {
				if !strings.Contains(stop.Message, m) {
					t.Errorf("stop %q, want it to contain %q", stop, m)
				}
			}
		})
	}
}
