package unwind

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-delve/delve/pkg/dwarf/frame"

	"github.com/kdap/kdap/target/arch/amd64"
)

// cieAMD64 is the usual amd64 CIE program: CFA = rsp+8, return address at
// CFA-8.
var cieAMD64 = []byte{0x0c, 0x07, 0x08, 0x90, 0x01}

// fdeSpec is one FDE of a hand-assembled .debug_frame.
type fdeSpec struct {
	begin, size uint64
	instr       []byte
}

// debugFrame assembles a .debug_frame section (version 1 CIE, code
// alignment 1, data alignment -8, return address column 16) with the CIE
// program cie and the given FDEs, and parses it with Delve's parser.
func debugFrame(cie []byte, fdes ...fdeSpec) (frame.FrameDescriptionEntries, error) {
	le := binary.LittleEndian
	body := append([]byte{0xff, 0xff, 0xff, 0xff, 1, 0, 1, 0x78, 16}, cie...)
	sec := le.AppendUint32(nil, uint32(len(body)))
	sec = append(sec, body...)
	for _, f := range fdes {
		fb := le.AppendUint32(nil, 0)
		fb = le.AppendUint64(fb, f.begin)
		fb = le.AppendUint64(fb, f.size)
		fb = append(fb, f.instr...)
		sec = le.AppendUint32(sec, uint32(len(fb)))
		sec = append(sec, fb...)
	}
	return frame.Parse(sec, le, 0, 8, 0)
}

func mustDebugFrame(t testing.TB, cie []byte, fdes ...fdeSpec) frame.FrameDescriptionEntries {
	t.Helper()
	fs, err := debugFrame(cie, fdes...)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// region is memory made of one readable byte range.
type region struct {
	base uint64
	b    []byte
}

func newRegion(base, size uint64) *region { return &region{base, make([]byte, size)} }

func (m *region) put(va, v uint64) *region {
	binary.LittleEndian.PutUint64(m.b[va-m.base:], v)
	return m
}

func (m *region) ReadVirt(b []byte, va uint64) error {
	if va < m.base || va-m.base > uint64(len(m.b)) || uint64(len(b)) > uint64(len(m.b))-(va-m.base) {
		return fmt.Errorf("address %#x not mapped", va)
	}
	copy(b, m.b[va-m.base:])
	return nil
}

// fakeSym names a few fixed functions; text is [0x1000, 0x2000).
type fakeSym struct{}

var fakeFuncs = []elfFunc{
	{"leaf", 0x1000, 0x1100},
	{"mid", 0x1100, 0x1200},
	{"fork_trampoline", 0x1200, 0x1300},
	{"calltrap", 0x1300, 0x1400},
	{"nocfi", 0x1400, 0x1500},
	{"big", 0x1500, 0x1600},
	{"outer", 0x1600, 0x1700},
	{"broken", 0x1700, 0x1800},
}

func (fakeSym) FuncForPC(pc uint64) (string, uint64, bool) {
	for _, f := range fakeFuncs {
		if pc >= f.start && pc < f.end {
			return f.name, f.start, true
		}
	}
	return "", 0, false
}

func (fakeSym) InText(pc uint64) bool { return pc >= 0x1000 && pc < 0x2000 }

// fakeOS: fork_trampoline ends stacks, calltrap is a trap entry whose
// registers come from trap.
type fakeOS struct {
	trap func(f *Frame) (Regs, error)
}

func (o fakeOS) IsTrapEntry(fn string, _ uint64) bool { return fn == "calltrap" && o.trap != nil }
func (o fakeOS) IsStackEnd(fn string, _ uint64) bool  { return fn == "fork_trampoline" }
func (o fakeOS) TrapFrame(f *Frame, _ Memory) (Regs, string, bool, error) {
	r, err := o.trap(f)
	pc, _ := r.Get(amd64.RIP)
	return r, fmt.Sprintf("--- trap, rip = %#x ---", pc), err == nil, err
}

func regs(kv ...uint64) Regs {
	var r Regs
	for i := 0; i+1 < len(kv); i += 2 {
		r.Set(int(kv[i]), kv[i+1])
	}
	return r
}

// fakeCFI covers leaf and fork_trampoline with the plain CIE rules, mid
// with CFA = rbp+16, big with CFA = rsp+0x2000, outer with an undefined
// return address and broken with a malformed program.
func fakeCFI(t testing.TB) *CFIIndex {
	return NewCFIIndex(mustDebugFrame(t, cieAMD64,
		fdeSpec{0x1000, 0x100, nil},
		fdeSpec{0x1100, 0x100, []byte{0x0c, 0x06, 0x10}},
		fdeSpec{0x1200, 0x100, nil},
		fdeSpec{0x1500, 0x100, []byte{0x0e, 0x80, 0x40}},
		fdeSpec{0x1600, 0x100, []byte{0x07, 0x10}},
		fdeSpec{0x1700, 0x100, []byte{0x0b}}, // DW_CFA_restore_state with nothing remembered
	))
}

func TestStopReasons(t *testing.T) {
	const sp = 0x8000
	fpChain := func() *region {
		m := newRegion(0x7000, 0x4000)
		for fp := uint64(0x8000); fp < 0xa000; fp += 16 {
			m.put(fp, fp+16).put(fp+8, 0x1410)
		}
		return m
	}
	trapAt := func(pc, sp uint64) func(*Frame) (Regs, error) {
		return func(*Frame) (Regs, error) { return regs(amd64.RIP, pc, amd64.RSP, sp), nil }
	}
	var noOS OSRules
	tests := []struct {
		name   string
		mem    Memory
		start  Regs
		os     OSRules
		opts   []Option
		kind   StopKind
		msg    string
		frames []string
	}{
		{"fork_trampoline ends the stack", newRegion(0x7000, 0x2000).put(sp, 0x1210),
			regs(amd64.RIP, 0x1010, amd64.RSP, sp), fakeOS{}, nil,
			StopEndOfStack, "end of stack (fork_trampoline)", []string{"leaf", "fork_trampoline"}},
		{"return address outside text", newRegion(0x7000, 0x2000).put(sp, 0x5000),
			regs(amd64.RIP, 0x1010, amd64.RSP, sp), fakeOS{}, nil,
			StopNotInText, "return address 0x5000 not in kernel text", []string{"leaf"}},
		{"unreadable stack", newRegion(0x9000, 0x1000),
			regs(amd64.RIP, 0x1010, amd64.RSP, sp), fakeOS{}, nil,
			StopReadError, "cannot read stack at 0x8000: address 0x8000 not mapped", []string{"leaf"}},
		{"frame limit", fpChain(),
			regs(amd64.RIP, 0x1410, amd64.RSP, sp, amd64.RBP, sp), fakeOS{}, []Option{MaxFrames(10)},
			StopFrameLimit, "frame limit reached (10 frames)", []string{"nocfi", "nocfi", "nocfi", "nocfi", "nocfi", "nocfi", "nocfi", "nocfi", "nocfi", "nocfi"}},
		{"CFA below the stack pointer", newRegion(0x6000, 0x4000).put(0x7008, 0x1010),
			regs(amd64.RIP, 0x1110, amd64.RSP, sp, amd64.RBP, 0x7000), fakeOS{}, nil,
			StopNotGrowing, "CFA 0x7010 does not grow past the stack pointer 0x8000", []string{"mid"}},
		{"CFA outside the thread stack", newRegion(0x7000, 0x4000).put(0xa000-8, 0x1010),
			regs(amd64.RIP, 0x1510, amd64.RSP, sp), fakeOS{}, []Option{StackBounds(0x7000, 0x9000)},
			StopOutsideStack, "CFA 0xa000 outside the thread's stack [0x7000, 0x9000)", []string{"big"}},
		{"bounds ignored while off the thread stack", newRegion(0x7000, 0x4000).put(0xa000-8, 0x1210),
			regs(amd64.RIP, 0x1510, amd64.RSP, sp), fakeOS{}, []Option{StackBounds(0x1_0000, 0x2_0000)},
			StopEndOfStack, "end of stack (fork_trampoline)", []string{"big", "fork_trampoline"}},
		{"repeated trap frame", newRegion(0x7000, 0x2000),
			regs(amd64.RIP, 0x1310, amd64.RSP, sp), fakeOS{trap: trapAt(0x1310, sp)}, nil,
			StopRepeated, "trap frame repeats pc 0x1310, sp 0x8000", []string{"calltrap", "", "calltrap", ""}},
		{"undefined return address", newRegion(0x7000, 0x2000),
			regs(amd64.RIP, 0x1610, amd64.RSP, sp), fakeOS{}, nil,
			StopEndOfStack, "end of stack (CFI marks the return address undefined at pc 0x1610)", []string{"outer"}},
		{"no pc", newRegion(0x7000, 0x2000),
			regs(amd64.RSP, sp), fakeOS{}, nil,
			StopBadStart, "starting registers lack rip or rsp", nil},
		{"no CFI and no frame pointer", newRegion(0x7000, 0x2000),
			regs(amd64.RIP, 0x1410, amd64.RSP, sp), fakeOS{}, nil,
			StopNoUnwindInfo, "no unwind info for pc 0x1410 and frame pointer chain invalid: rbp is unavailable", []string{"nocfi"}},
		{"frame pointer below the stack pointer", newRegion(0x7000, 0x2000),
			regs(amd64.RIP, 0x1410, amd64.RSP, sp, amd64.RBP, 0x7ff0), fakeOS{}, nil,
			StopNoUnwindInfo, "rbp 0x7ff0 is below the stack pointer 0x8000", []string{"nocfi"}},
		{"frame pointer 0 without OS rules", newRegion(0x7000, 0x2000),
			regs(amd64.RIP, 0x1420, amd64.RSP, sp, amd64.RBP, 0), noOS, nil,
			StopEndOfStack, "end of stack (frame pointer is 0)", []string{"nocfi"}},
		{"frame pointer 0 in a kernel", newRegion(0x7000, 0x2000),
			regs(amd64.RIP, 0x1420, amd64.RSP, sp, amd64.RBP, 0), fakeOS{}, nil,
			StopNoUnwindInfo, "frame pointer chain invalid: rbp is 0", []string{"nocfi"}},
		{"return address 0 without OS rules", newRegion(0x7000, 0x2000),
			regs(amd64.RIP, 0x1010, amd64.RSP, sp), noOS, nil,
			StopEndOfStack, "end of stack (return address 0)", []string{"leaf"}},
		{"return address 0 in a kernel", newRegion(0x7000, 0x2000),
			regs(amd64.RIP, 0x1010, amd64.RSP, sp), fakeOS{}, nil,
			StopNotInText, "return address 0x0 not in kernel text", []string{"leaf"}},
		{"starting pc outside text", newRegion(0x7000, 0x2000).put(sp, 0x1210),
			regs(amd64.RIP, 0x5000, amd64.RSP, sp, amd64.RBP, sp), fakeOS{}, nil,
			StopNotInText, "starting pc 0x5000 not in kernel text", []string{""}},
		{"unreadable trap frame", newRegion(0x7000, 0x2000),
			regs(amd64.RIP, 0x1310, amd64.RSP, sp), fakeOS{trap: func(*Frame) (Regs, error) { return Regs{}, errors.New("no trapframe type") }}, nil,
			StopTrapError, "cannot read the trap frame of calltrap: no trapframe type", []string{"calltrap"}},
		{"trap from outside text", newRegion(0x7000, 0x2000),
			regs(amd64.RIP, 0x1310, amd64.RSP, sp), fakeOS{trap: trapAt(0x40_0000, 0x7fff_0000)}, nil,
			StopEndOfStack, "end of stack (interrupted pc 0x400000 is not in kernel text)", []string{"calltrap", ""}},
		{"trap then CFI", newRegion(0x7000, 0x2000).put(0x8800, 0x1210),
			regs(amd64.RIP, 0x1310, amd64.RSP, sp), fakeOS{trap: trapAt(0x1000, 0x8800)}, nil,
			StopEndOfStack, "end of stack (fork_trampoline)", []string{"calltrap", "", "leaf", "fork_trampoline"}},
		{"malformed CFA program", newRegion(0x7000, 0x2000),
			regs(amd64.RIP, 0x1710, amd64.RSP, sp), fakeOS{}, nil,
			StopBadCFI, "malformed CFA program of the FDE at 0x1700-0x1800", []string{"broken"}},
		{"stopped on a function's first instruction", newRegion(0x7000, 0x2000).put(sp, 0x1210),
			regs(amd64.RIP, 0x1400, amd64.RSP, sp), fakeOS{}, nil,
			StopEndOfStack, "end of stack (fork_trampoline)", []string{"nocfi", "fork_trampoline"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := New(Config{Arch: amd64.Arch, Memory: tt.mem, CFI: fakeCFI(t), Symbolizer: fakeSym{}, OS: tt.os})
			if err != nil {
				t.Fatal(err)
			}
			frames, stop := u.Unwind(tt.start, tt.opts...)
			if stop.Kind != tt.kind || !strings.Contains(stop.Message, tt.msg) {
				t.Errorf("stop = %v %q, want %v containing %q", stop.Kind, stop, tt.kind, tt.msg)
			}
			var got []string
			for _, f := range frames {
				got = append(got, f.Function)
			}
			if strings.Join(got, ",") != strings.Join(tt.frames, ",") {
				t.Errorf("frames %q, want %q", got, tt.frames)
			}
		})
	}
}

// TestCFIRules checks each register rule against values worked out by hand
// from the DWARF 5 rules (section 6.4.1) for one frame: rsp = 0x8000,
// rbp = 0x8100, rbx = 0xb0, r12 = 0xc0, r13 = 0xd0, r14 = 0xe0, rax = 0xa0,
// and memory word at address a holding a+0x10000.
func TestCFIRules(t *testing.T) {
	start := regs(amd64.RIP, 0x1010, amd64.RSP, 0x8000, amd64.RBP, 0x8100, amd64.RBX, 0xb0,
		amd64.R12, 0xc0, amd64.R13, 0xd0, amd64.R14, 0xe0, amd64.RAX, 0xa0)
	mem := newRegion(0x7000, 0x2000)
	for a := uint64(0x7000); a < 0x9000; a += 8 {
		mem.put(a, a+0x10000)
	}
	const unknown = ^uint64(0)
	tests := []struct {
		name  string
		instr []byte
		cfa   uint64
		want  map[int]uint64 // register → caller value (unknown: unavailable)
	}{
		{"CIE defaults", nil, 0x8008, map[int]uint64{
			amd64.RIP: 0x18000, amd64.RSP: 0x8008, amd64.RBX: 0xb0, amd64.RBP: 0x8100,
			amd64.R12: 0xc0, amd64.RAX: unknown, amd64.RCX: unknown}},
		{"offset rules", []byte{0x0e, 0x18, 0x83, 0x02, 0x86, 0x03}, 0x8018, map[int]uint64{
			amd64.RIP: 0x18010, amd64.RSP: 0x8018, amd64.RBX: 0x18008, amd64.RBP: 0x18000, amd64.R12: 0xc0}},
		{"val_offset_sf", []byte{0x15, 0x0c, 0x7f}, 0x8008, map[int]uint64{amd64.R12: 0x8010}},
		{"register", []byte{0x09, 0x03, 0x0d}, 0x8008, map[int]uint64{amd64.RBX: 0xd0}},
		{"same_value on a caller-saved register", []byte{0x08, 0x00}, 0x8008, map[int]uint64{amd64.RAX: 0xa0}},
		{"undefined", []byte{0x07, 0x03}, 0x8008, map[int]uint64{amd64.RBX: unknown}},
		{"expression over the pushed CFA", []byte{0x10, 0x03, 0x03, 0x10, 0x10, 0x1c}, 0x8008, map[int]uint64{amd64.RBX: 0x17ff8}},
		{"val_expression", []byte{0x16, 0x0e, 0x02, 0x76, 0x05}, 0x8008, map[int]uint64{amd64.R14: 0x8105}},
		{"CFA from rbp", []byte{0x0c, 0x06, 0x10}, 0x8110, map[int]uint64{amd64.RIP: 0x18108, amd64.RSP: 0x8110}},
		{"CFA expression", []byte{0x0f, 0x03, 0x76, 0x80, 0x01}, 0x8180, map[int]uint64{amd64.RIP: 0x18178, amd64.RSP: 0x8180}},
		{"restore to the CIE's (absent) rule", []byte{0x0e, 0x10, 0x86, 0x02, 0x41, 0xc6, 0x0e, 0x08}, 0x8008, map[int]uint64{
			amd64.RBP: 0x8100, amd64.RIP: 0x18000}},
		{"restore_extended", []byte{0x0e, 0x10, 0x83, 0x02, 0x41, 0x06, 0x03, 0x0e, 0x08}, 0x8008, map[int]uint64{amd64.RBX: 0xb0}},
		{"restore of the return address column", []byte{0x0e, 0x10, 0x90, 0x02, 0x41, 0xd0, 0x0e, 0x08}, 0x8008, map[int]uint64{amd64.RIP: 0x18000}},
		{"remember and restore state", []byte{0x0a, 0x0e, 0x40, 0x0b}, 0x8008, map[int]uint64{amd64.RIP: 0x18000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfi := NewCFIIndex(mustDebugFrame(t, cieAMD64, fdeSpec{0x1000, 0x100, tt.instr}))
			row, err := rowFor(cfi, 0x1010)
			if err != nil || row == nil {
				t.Fatalf("row: %v, %v", row, err)
			}
			cur := start
			caller, cfa, err := cfiStep(amd64.Arch, mem, row, &cur)
			if err != nil {
				t.Fatal(err)
			}
			if cfa != tt.cfa {
				t.Errorf("CFA %#x, want %#x", cfa, tt.cfa)
			}
			for n, want := range tt.want {
				got, ok := caller.Get(n)
				switch {
				case want == unknown && ok:
					t.Errorf("%s = %#x, want unavailable", amd64.Arch.RegName(n), got)
				case want != unknown && (!ok || got != want):
					t.Errorf("%s = %#x (known %v), want %#x", amd64.Arch.RegName(n), got, ok, want)
				}
			}
		})
	}
}
