package orc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kdap/kdap/target/arch/amd64"
	"github.com/kdap/kdap/unwind"
)

// spec is one entry of a synthetic table, in the numbering of Linux 6.4.
type spec struct {
	pc           uint64
	spOff, bpOff int16
	spReg, bpReg Reg
	typ          Type
	signal       bool
	rawType      bool // typ is written as is (bad entries)
}

// ipBase is where the synthetic .orc_unwind_ip section lies.
const ipBase = 0xffffffff82000000

// encode writes specs as the two sections in layout l, the way objtool
// would: old layouts write an end-of-stack entry as sp_reg UNDEFINED with
// end set, and an undefined one without it.
func encode(t testing.TB, l Layout, specs []spec) (ip, ent []byte) {
	for i, s := range specs {
		ip = binary.LittleEndian.AppendUint32(ip, uint32(int32(int64(s.pc)-int64(ipBase+4*uint64(i)))))
		b := make([]byte, l.Size)
		binary.LittleEndian.PutUint16(b[l.SPOffset:], uint16(s.spOff))
		binary.LittleEndian.PutUint16(b[l.BPOffset:], uint16(s.bpOff))
		var w uint64
		set := func(f Field, v uint64) {
			if f.Width > 0 {
				w |= (v & (1<<f.Width - 1)) << f.Bit
			}
		}
		set(l.SPReg, uint64(s.spReg))
		set(l.BPReg, uint64(s.bpReg))
		if s.signal {
			set(l.Signal, 1)
		}
		typ := uint64(s.typ)
		if l.OldTypes && !s.rawType {
			switch s.typ {
			case TypeEndOfStack:
				set(l.End, 1)
				typ = 0
			case TypeUndefined:
				typ = 0
			default:
				typ = uint64(s.typ) - 2
			}
		}
		set(l.Type, typ)
		for k := 0; k < 8; k++ {
			if bit := uint(8 * k); bit < uint(8*l.Size) && bit >= 32 {
				b[k] |= byte(w >> bit)
			}
		}
		ent = append(ent, b...)
	}
	return ip, ent
}

func table(t testing.TB, l Layout, specs []spec) *Table {
	t.Helper()
	ip, ent := encode(t, l, specs)
	tab, err := NewTable(ipBase, ip, ent, l)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

var layouts = []struct {
	name string
	l    Layout
}{{"v1 (4.14-6.2)", LayoutV1}, {"v2 (6.3)", LayoutV2}, {"v3 (6.4-)", LayoutV3}}

// TestLookup checks the binary search and the decoding of every type in
// every layout.
func TestLookup(t *testing.T) {
	specs := []spec{
		{pc: 0x1000, spReg: RegSP, spOff: 8, typ: TypeCall},
		{pc: 0x1010, typ: TypeUndefined},                                                   // weak terminator ...
		{pc: 0x1010, spReg: RegSP, spOff: 16, bpReg: RegPrevSP, bpOff: -16, typ: TypeCall}, // ... beaten by the real entry
		{pc: 0x1020, spReg: RegSP, spOff: 0, typ: TypeRegs, signal: true},
		{pc: 0x1030, spReg: RegSP, spOff: 0, typ: TypeRegsPartial, signal: true},
		{pc: 0x1040, typ: TypeEndOfStack},
		{pc: 0x1050, typ: TypeUndefined},
	}
	cases := []struct {
		pc   uint64
		want spec // pc 0: ErrNoEntry
	}{
		{0xfff, spec{}},
		{0x1000, specs[0]}, {0x100f, specs[0]},
		{0x1010, specs[2]}, {0x101f, specs[2]},
		{0x1020, specs[3]}, {0x1030, specs[4]}, {0x1045, specs[5]},
		{0x1050, specs[6]}, {0xffffffff, specs[6]},
	}
	for _, lay := range layouts {
		tab := table(t, lay.l, specs)
		if tab.Loaded() {
			t.Fatal("table loaded before the first lookup")
		}
		for _, c := range cases {
			e, err := tab.Lookup(c.pc)
			if c.want.pc == 0 {
				if !errors.Is(err, ErrNoEntry) {
					t.Errorf("%s: Lookup(%#x) = %+v, %v; want ErrNoEntry", lay.name, c.pc, e, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: Lookup(%#x): %v", lay.name, c.pc, err)
			}
			w := c.want
			// Before 6.3 the signal bit did not exist: pt_regs types imply it.
			if e.PC != w.pc || e.Type != w.typ || e.Signal != w.signal ||
				(w.typ >= TypeCall && (e.SPReg != w.spReg || e.SPOffset != w.spOff || e.BPReg != w.bpReg || e.BPOffset != w.bpOff)) {
				t.Errorf("%s: Lookup(%#x) = %+v, want %+v", lay.name, c.pc, e, w)
			}
		}
	}
}

// TestTableErrors checks the section and layout checks.
func TestTableErrors(t *testing.T) {
	bad := LayoutV3
	bad.Type.Width = 2
	wide := LayoutV1
	wide.SPReg = Field{44, 8}
	cases := []struct {
		name    string
		ip, ent int
		l       Layout
		want    string
	}{
		{"ip not words", 6, 6, LayoutV1, "not a multiple of 4"},
		{"entries not whole", 4, 7, LayoutV1, "not a multiple of the 6-byte"},
		{"counts differ", 8, 6, LayoutV1, "has 2 entries, .orc_unwind 1"},
		{"2-bit type, new numbering", 4, 6, bad, "needs a 3-bit type"},
		{"field outside the entry", 4, 6, wide, "does not fit in 6 bytes"},
		{"size", 4, 6, Layout{Size: 40}, "size 40"},
	}
	for _, c := range cases {
		_, err := NewTable(ipBase, make([]byte, c.ip), make([]byte, c.ent), c.l)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
	empty, err := NewTable(ipBase, nil, nil, LayoutV3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := empty.Lookup(0x1000); !errors.Is(err, ErrNoEntry) {
		t.Errorf("empty table: %v, want ErrNoEntry", err)
	}
}

// testPtRegs is the x86-64 struct pt_regs of Linux (21 words).
var testPtRegs = func() PtRegs {
	names := []int{amd64.R15, amd64.R14, amd64.R13, amd64.R12, amd64.RBP, amd64.RBX, amd64.R11, amd64.R10,
		amd64.R9, amd64.R8, amd64.RAX, amd64.RCX, amd64.RDX, amd64.RSI, amd64.RDI}
	p := PtRegs{Size: 21 * 8, IP: 16 * 8, CS: 17 * 8, SP: 19 * 8}
	for i, n := range names {
		p.Regs = append(p.Regs, RegOffset{Reg: n, Off: uint64(8 * i)})
	}
	return p
}()

// stackMem is a little-endian stack [base, base+len).
type stackMem struct {
	base uint64
	b    []byte
}

func newStack(base uint64, words map[uint64]uint64) *stackMem {
	m := &stackMem{base: base, b: make([]byte, 0x1000)}
	for a, v := range words {
		binary.LittleEndian.PutUint64(m.b[a-base:], v)
	}
	return m
}

func (m *stackMem) ReadVirt(b []byte, va uint64) error {
	if va < m.base || va-m.base > uint64(len(m.b)) || uint64(len(b)) > uint64(len(m.b))-(va-m.base) {
		return fmt.Errorf("address %#x not mapped", va)
	}
	copy(b, m.b[va-m.base:])
	return nil
}

func rs(kv ...uint64) unwind.Regs {
	var r unwind.Regs
	for i := 0; i+1 < len(kv); i += 2 {
		r.Set(int(kv[i]), kv[i+1])
	}
	return r
}

// TestStep checks each sp_reg, bp_reg and type rule on a synthetic stack,
// in every layout, with the KASLR slide applied.
func TestStep(t *testing.T) {
	const slide = 0x2a000000
	const (
		sp = 0x8000
		bp = 0x8100
	)
	// pt_regs at 0x8200: r15..di = 0xa00+i, ip 0xffffffff81001234, cs, sp.
	words := map[uint64]uint64{
		sp - 8 + 0x18: 0xffffffffab001111, // return address under CFA sp+0x18
		bp + 8:        0xffffffffab002222, // return address of a bp-based frame (CFA bp+16)
		bp:            0x8300,             // saved rbp at CFA-16
		sp:            0x8218,             // the other stack's pointer (SP_INDIRECT)
		0x8210:        0xffffffffab003333, // return address under CFA 0x8218
		bp + 0x20:     0x8418,             // BP_INDIRECT pointer
		0x8410:        0xffffffffab004444,
	}
	const pt = 0x8500
	for i := range testPtRegs.Regs {
		words[pt+uint64(8*i)] = 0xa00 + uint64(i)
	}
	words[pt+testPtRegs.IP] = 0xffffffffab005555
	words[pt+testPtRegs.CS] = 0x10
	words[pt+testPtRegs.SP] = 0x8800
	const upt = 0x8600 // a user-mode pt_regs
	words[upt+testPtRegs.IP] = 0x401000
	words[upt+testPtRegs.CS] = 0x33
	words[upt+testPtRegs.SP] = 0x7ffc0000
	mem := newStack(0x8000, words)

	cur := rs(amd64.RIP, 0xffffffffab000010, amd64.RSP, sp, amd64.RBP, bp, amd64.R10, 0x8218, amd64.RBX, 7)
	type want struct {
		kind     Kind
		cfa      uint64
		pc, rsp  uint64
		rbp      uint64 // 0: unavailable
		indirect bool
		user     bool
		err      string
	}
	cases := []struct {
		name string
		e    spec
		regs unwind.Regs
		want want
	}{
		{"sp", spec{spReg: RegSP, spOff: 0x18, typ: TypeCall}, cur,
			want{kind: KindCall, cfa: sp + 0x18, pc: 0xffffffffab001111, rsp: sp + 0x18, rbp: bp}},
		{"bp, bp at prev_sp-16", spec{spReg: RegBP, spOff: 16, bpReg: RegPrevSP, bpOff: -16, typ: TypeCall}, cur,
			want{kind: KindCall, cfa: bp + 16, pc: 0xffffffffab002222, rsp: bp + 16, rbp: 0x8300}},
		{"bp at bp+0", spec{spReg: RegBP, spOff: 16, bpReg: RegBP, bpOff: 0, typ: TypeCall}, cur,
			want{kind: KindCall, cfa: bp + 16, pc: 0xffffffffab002222, rsp: bp + 16, rbp: 0x8300}},
		{"sp indirect", spec{spReg: RegSPIndirect, spOff: 0, typ: TypeCall}, cur,
			want{kind: KindCall, cfa: 0x8218, pc: 0xffffffffab003333, rsp: 0x8218, rbp: bp, indirect: true}},
		{"sp indirect, offset after the load", spec{spReg: RegSPIndirect, spOff: 0x200, typ: TypeCall}, cur,
			want{kind: KindCall, cfa: 0x8418, pc: 0xffffffffab004444, rsp: 0x8418, rbp: bp, indirect: true}},
		{"bp indirect", spec{spReg: RegBPIndirect, spOff: 0x20, typ: TypeCall}, cur,
			want{kind: KindCall, cfa: 0x8418, pc: 0xffffffffab004444, rsp: 0x8418, rbp: bp, indirect: true}},
		{"r10", spec{spReg: RegR10, typ: TypeCall}, cur,
			want{kind: KindCall, cfa: 0x8218, pc: 0xffffffffab003333, rsp: 0x8218, rbp: bp}},
		{"r13 unavailable", spec{spReg: RegR13, typ: TypeCall}, cur, want{err: "r13 is unavailable"}},
		{"di unavailable", spec{spReg: RegDI, typ: TypeCall}, cur, want{err: "rdi is unavailable"}},
		{"dx", spec{spReg: RegDX, typ: TypeCall}, rs(amd64.RIP, 0xffffffffab000010, amd64.RSP, sp, amd64.RDX, 0x8218),
			want{kind: KindCall, cfa: 0x8218, pc: 0xffffffffab003333, rsp: 0x8218}},
		{"bp unavailable", spec{spReg: RegBP, spOff: 16, typ: TypeCall}, rs(amd64.RIP, 0xffffffffab000010, amd64.RSP, sp),
			want{err: "rbp is unavailable"}},
		{"regs", spec{spReg: RegSP, spOff: pt - sp, typ: TypeRegs, signal: true}, cur,
			want{kind: KindRegs, cfa: pt, pc: 0xffffffffab005555, rsp: 0x8800, rbp: 0xa04}},
		{"user regs", spec{spReg: RegSP, spOff: upt - sp, typ: TypeRegs, signal: true}, cur,
			want{kind: KindRegs, cfa: upt, pc: 0x401000, rsp: 0x7ffc0000, user: true}},
		{"regs partial", spec{spReg: RegSP, spOff: int16(pt-sp) + int16(testPtRegs.IP), typ: TypeRegsPartial, signal: true}, cur,
			want{kind: KindRegsPartial, cfa: pt + testPtRegs.IP, pc: 0xffffffffab005555, rsp: 0x8800, rbp: bp}},
		{"end of stack", spec{typ: TypeEndOfStack}, cur, want{kind: KindEnd}},
		{"undefined", spec{typ: TypeUndefined}, cur, want{err: "ORC entry is undefined"}},
		{"unknown sp_reg", spec{spReg: 12, typ: TypeCall}, cur, want{err: "unknown sp_reg 12"}},
		{"unknown bp_reg", spec{spReg: RegSP, spOff: 0x18, bpReg: RegDX, typ: TypeCall}, cur, want{err: "unknown bp_reg 2"}},
		{"unreadable return address", spec{spReg: RegSP, spOff: 0x2000, typ: TypeCall}, cur, want{err: "cannot read stack at 0x9ff8"}},
		{"unreadable pt_regs", spec{spReg: RegSP, spOff: 0xff0, typ: TypeRegs}, cur, want{err: "cannot read stack at 0x8ff0"}},
	}
	for _, lay := range layouts {
		for _, c := range cases {
			e := c.e
			e.pc = 0xffffffff81000000
			tab := table(t, lay.l, []spec{e, {pc: 0xffffffff81000100, typ: TypeUndefined}})
			s := &Stepper{Table: tab, Slide: slide, PtRegs: testPtRegs}
			res, err := s.Step(&c.regs, 0xffffffff81000010+slide, mem)
			name := lay.name + "/" + c.name
			if c.want.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.want.err) {
					t.Errorf("%s: %+v, %v; want an error containing %q", name, res, err, c.want.err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if res.Kind != c.want.kind || res.CFA != c.want.cfa || res.Indirect != c.want.indirect || res.UserMode != c.want.user {
				t.Errorf("%s: kind %v cfa %#x indirect %v user %v; want %+v", name, res.Kind, res.CFA, res.Indirect, res.UserMode, c.want)
			}
			if res.Kind == KindEnd {
				continue
			}
			pc, _ := res.Regs.Get(amd64.RIP)
			rsp, _ := res.Regs.Get(amd64.RSP)
			rbp, ok := res.Regs.Get(amd64.RBP)
			if !ok {
				rbp = 0
			}
			if pc != c.want.pc || rsp != c.want.rsp || (!c.want.user && rbp != c.want.rbp) {
				t.Errorf("%s: pc %#x rsp %#x rbp %#x, want %#x %#x %#x", name, pc, rsp, rbp, c.want.pc, c.want.rsp, c.want.rbp)
			}
			if res.Kind == KindCall && res.Regs.Has(amd64.RBX) {
				t.Errorf("%s: rbx known in the caller; ORC does not track it", name)
			}
			if res.Kind == KindRegsPartial {
				if v, _ := res.Regs.Get(amd64.RBX); v != 7 {
					t.Errorf("%s: rbx %#x, want the interrupted value 7 kept", name, v)
				}
			}
		}
	}
	// Outside the covered text the table says nothing.
	tab := table(t, LayoutV3, []spec{{pc: 0xffffffff81000000, spReg: RegSP, spOff: 8, typ: TypeCall}})
	s := &Stepper{Table: tab, PtRegs: testPtRegs, Covers: func(pc uint64) bool { return pc < 0xffffffff82000000 }}
	r := cur
	if _, err := s.Step(&r, 0xffffffff82000010, mem); !errors.Is(err, ErrNoEntry) {
		t.Errorf("pc outside the text: %v, want ErrNoEntry", err)
	}
}

// TestStepUnknownType checks that a 3-bit type beyond REGS_PARTIAL is an
// error, not a guess.
func TestStepUnknownType(t *testing.T) {
	tab := table(t, LayoutV3, []spec{{pc: 0x1000, spReg: RegSP, spOff: 8, typ: 6, rawType: true}})
	s := &Stepper{Table: tab, PtRegs: testPtRegs}
	r := rs(amd64.RIP, 0x1001, amd64.RSP, 0x8000)
	if _, err := s.Step(&r, 0x1000, newStack(0x8000, nil)); err == nil || !strings.Contains(err.Error(), "unknown type") {
		t.Errorf("type 6: %v, want an unknown type error", err)
	}
}
