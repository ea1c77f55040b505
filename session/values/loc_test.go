package values

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/kdap/kdap/session/cexpr"
	"github.com/kdap/kdap/target/arch/amd64"
	"github.com/kdap/kdap/unwind"
)

// fakeMem is one readable region of memory.
type fakeMem struct {
	base uint64
	data []byte
}

func (m fakeMem) ReadVirt(b []byte, va uint64) error {
	if va < m.base || va-m.base > uint64(len(m.data)) || uint64(len(b)) > uint64(len(m.data))-(va-m.base) {
		return errors.New("unmapped")
	}
	copy(b, m.data[va-m.base:])
	return nil
}

const memBase = 0x1000

// synthEnv is an Env over fake memory with frames whose registers are set
// as the tests need; frame 1 is frame 0's caller.
func synthEnv(regs0, regs1 map[int]uint64, cfa uint64) *Env {
	data := make([]byte, 0x100)
	for i := range data {
		data[i] = byte(i)
	}
	mk := func(m map[int]uint64) unwind.Frame {
		var f unwind.Frame
		for n, v := range m {
			f.Regs.Set(n, v)
		}
		return f
	}
	f0, f1 := mk(regs0), mk(regs1)
	f0.CFA, f0.PC, f0.LookupPC = cfa, 0x500, 0x500
	f1.PC, f1.LookupPC = 0x600, 0x5ff
	return &Env{mem: fakeMem{memBase, data}, ptr: 8, arch: amd64.Arch, sh: &shared{conv: newTypeConv(8)}, frames: []unwind.Frame{f0, f1}}
}

func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func TestEvalLocation(t *testing.T) {
	env := synthEnv(map[int]uint64{amd64.RAX: 0x1122334455667788, amd64.RBX: memBase + 0x10, amd64.RSP: memBase + 0x40},
		map[int]uint64{amd64.RBX: 0x77, amd64.RSP: memBase + 0x80}, memBase+0x50)
	long := cexpr.TypeLong
	tests := []struct {
		name  string
		expr  []byte
		typ   *cexpr.Type
		addr  uint64 // lvalue address when bytes is nil and no flag is set
		bytes []byte
		reg   string
		opt   bool
		unav  bool
	}{
		{name: "DW_OP_addr", expr: append([]byte{opAddr}, le64(memBase+8)...), typ: long, addr: memBase + 8},
		{name: "DW_OP_breg3 16", expr: []byte{opBreg0 + 3, 16}, typ: long, addr: memBase + 0x20},
		{name: "DW_OP_breg7 -8", expr: []byte{opBreg0 + 7, 0x78}, typ: long, addr: memBase + 0x38},
		{name: "DW_OP_call_frame_cfa", expr: []byte{opCallFrameCFA}, typ: long, addr: memBase + 0x50},
		{name: "DW_OP_reg0", expr: []byte{opReg0}, typ: long, bytes: le64(0x1122334455667788), reg: "rax"},
		{name: "DW_OP_reg0 as int", expr: []byte{opReg0}, typ: cexpr.TypeInt, bytes: le64(0x55667788)[:4], reg: "rax"},
		{name: "DW_OP_lit5 stack_value", expr: []byte{0x35, 0x9f}, typ: long, bytes: le64(5)},
		{name: "DW_OP_implicit_value", expr: []byte{opImplicitValue, 4, 1, 2, 3, 4}, typ: cexpr.TypeInt, bytes: []byte{1, 2, 3, 4}},
		{name: "composite reg+memory", expr: []byte{opReg0, opPiece, 4, opBreg0 + 3, 0, opPiece, 4}, typ: long,
			bytes: []byte{0x88, 0x77, 0x66, 0x55, 0x10, 0x11, 0x12, 0x13}},
		{name: "composite with a missing piece", expr: []byte{opPiece, 4, opReg0, opPiece, 4}, typ: long, opt: true},
		{name: "unrecovered register", expr: []byte{opReg0 + 5}, typ: long, unav: true},
		{name: "unrecovered base register", expr: []byte{opBreg0 + 12, 0}, typ: long, unav: true},
		{name: "entry value of a callee-saved register", expr: []byte{opEntryValue, 1, opReg0 + 3, 0x9f}, typ: long, bytes: le64(0x77)},
		{name: "entry value of an argument register", expr: []byte{opEntryValue, 1, opReg0 + 5, 0x9f}, typ: long, unav: true},
		{name: "GNU entry value", expr: []byte{opGNUEntryValue, 1, opReg0 + 3, 0x9f}, typ: long, bytes: le64(0x77)},
		{name: "implicit pointer", expr: []byte{opImplicitPtr, 0, 0, 0, 0, 0}, typ: long, unav: true},
	}
	for _, tc := range tests {
		v, err := env.evalLocation(tc.expr, tc.typ)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		switch {
		case tc.opt || tc.unav:
			if v.OptimizedOut != tc.opt || v.Unavailable != tc.unav {
				t.Errorf("%s: optimized out %v unavailable %v, want %v %v", tc.name, v.OptimizedOut, v.Unavailable, tc.opt, tc.unav)
			}
		case tc.bytes != nil:
			if v.HasAddr || fmt.Sprint(v.Bytes) != fmt.Sprint(tc.bytes) || v.Register != tc.reg {
				t.Errorf("%s: bytes % x in %q (addr %v), want % x in %q", tc.name, v.Bytes, v.Register, v.HasAddr, tc.bytes, tc.reg)
			}
		default:
			if !v.HasAddr || v.Addr != tc.addr {
				t.Errorf("%s: address %#x (%v), want %#x", tc.name, v.Addr, v.HasAddr, tc.addr)
			}
		}
	}
}

func TestEvalLocationErrors(t *testing.T) {
	env := synthEnv(map[int]uint64{amd64.RAX: 1}, nil, 0)
	tests := []struct {
		name string
		expr []byte
		unav bool
	}{
		{name: "truncated DW_OP_addr", expr: []byte{opAddr, 1, 2}},
		{name: "truncated LEB128", expr: []byte{opBreg0, 0x80}},
		{name: "entry value longer than the expression", expr: []byte{opEntryValue, 9, opReg0}},
		{name: "implicit value longer than the expression", expr: []byte{opImplicitValue, 0x7f, 1}},
		{name: "unknown opcode", expr: []byte{0xff}},
		{name: "stack underflow", expr: []byte{0x22}},
		{name: "CFA not known", expr: []byte{opCallFrameCFA}, unav: true},
	}
	for _, tc := range tests {
		v, err := env.evalLocation(tc.expr, cexpr.TypeLong)
		if tc.unav {
			if err != nil || !v.Unavailable {
				t.Errorf("%s: %+v, %v; want unavailable", tc.name, v, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: no error (value %+v)", tc.name, v)
		}
	}
}

func FuzzEvalLocation(f *testing.F) {
	f.Add([]byte{opBreg0 + 3, 16})
	f.Add([]byte{0x91, 0xa0, 0x7f}) // DW_OP_fbreg -96, from the fixture's ctx
	f.Add([]byte{0xa3, 0x01, 0x51, 0x9f})
	f.Add([]byte{opReg0, opPiece, 4, opBreg0 + 3, 0, opPiece, 4})
	f.Add([]byte{opImplicitValue, 4, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, expr []byte) {
		env := synthEnv(map[int]uint64{amd64.RAX: 1, amd64.RBX: memBase, amd64.RSP: memBase + 0x40},
			map[int]uint64{amd64.RBX: 2}, memBase+0x50)
		scanExpr(expr, 8)
		if v, err := env.evalLocation(expr, cexpr.TypeLong); err == nil {
			cexpr.Format(env2{env}, v, cexpr.FormatOptions{})
		}
	})
}

// env2 formats without a target: no symbols.
type env2 struct{ *Env }

func (env2) Symbolize(uint64) (string, uint64, bool) { return "", 0, false }
