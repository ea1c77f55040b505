package cexpr

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestDataModelTypes(t *testing.T) {
	cases := []struct {
		m               DataModel
		long, ptr       int64
		longIs, ulongIs *Type
	}{
		{LP64, 8, 8, TypeLong, TypeULong},
		{DataModel{}, 8, 8, TypeLong, TypeULong},
		{ILP32, 4, 4, typeLong32, typeULong32},
		{DataModel{LongSize: 4, PtrSize: 4, ByteOrder: binary.BigEndian}, 4, 4, typeLong32, typeULong32},
	}
	for _, tc := range cases {
		if l := tc.m.Long(); l != tc.longIs || l.Size != tc.long || !l.Signed || l.Name != "long" {
			t.Errorf("%+v: Long() = %s of %d bytes", tc.m, l, l.Size)
		}
		if u := tc.m.ULong(); u != tc.ulongIs || u.Size != tc.long || u.Signed || u.Name != "unsigned long" {
			t.Errorf("%+v: ULong() = %s of %d bytes", tc.m, u, u.Size)
		}
		if p := tc.m.PointerTo(TypeChar); p.Kind != Pointer || p.Size != tc.ptr || p.Elem != TypeChar {
			t.Errorf("%+v: PointerTo(char) = %s of %d bytes", tc.m, p, p.Size)
		}
	}
	if got := ModelOf(nil); got != LP64 {
		t.Errorf("ModelOf(nil) = %+v, want LP64", got)
	}
	if got := ModelOf(newTestEnv()); got != LP64 {
		t.Errorf("ModelOf(an Env without DataModel) = %+v, want LP64", got)
	}
	if got := ModelOf(newTestEnv32()); got != ILP32 {
		t.Errorf("ModelOf(ILP32 Env) = %+v, want ILP32", got)
	}
	if got := ModelOf(dryEnv{newTestEnv32()}); got != ILP32 {
		t.Errorf("ModelOf(dryEnv{ILP32 Env}) = %+v, want ILP32", got)
	}
}

// TestByteOrder checks that values are built and read in the model's byte
// order.
func TestByteOrder(t *testing.T) {
	be := DataModel{LongSize: 4, PtrSize: 4, ByteOrder: binary.BigEndian}
	cases := []struct {
		m    DataModel
		t    *Type
		v    uint64
		want []byte
	}{
		{LP64, TypeInt, 0x01020304, []byte{4, 3, 2, 1}},
		{be, TypeInt, 0x01020304, []byte{1, 2, 3, 4}},
		{be, TypeShort, 0xfffe, []byte{0xff, 0xfe}},
		{be, TypeLongLong, 0x0102030405060708, []byte{1, 2, 3, 4, 5, 6, 7, 8}},
		{be, be.PointerTo(TypeVoid), 0x1c1000100, []byte{0xc1, 0, 1, 0}},
		{ILP32, ILP32.PointerTo(TypeVoid), 0x1c1000100, []byte{0, 1, 0, 0xc1}},
		{be, &Type{Kind: Int, Name: "int24", Size: 3}, 0x010203, []byte{1, 2, 3}},
	}
	for _, tc := range cases {
		v := tc.m.IntValue(tc.t, tc.v)
		if !bytes.Equal(v.Bytes, tc.want) {
			t.Errorf("%v IntValue(%s, %#x) = % x, want % x", tc.m.ByteOrder, tc.t, tc.v, v.Bytes, tc.want)
		}
		got, err := scalarBits(nil, tc.m, v)
		if want := truncSigned(tc.v, tc.t); err != nil || (tc.t.Signed && got != want) || (!tc.t.Signed && got != truncUnsigned(tc.v, tc.t)) {
			t.Errorf("%v scalarBits(% x) = %#x, %v", tc.m.ByteOrder, v.Bytes, got, err)
		}
	}
	for _, f := range []float64{2.5, -1e300} {
		for _, ft := range []*Type{TypeFloat, TypeDouble} {
			want := f
			if ft == TypeFloat {
				want = float64(float32(f))
			}
			v := be.floatValue(ft, f)
			if got, err := floatBits(nil, be, v); err != nil || got != want {
				t.Errorf("big-endian %s %g reads back as %g, %v", ft, f, got, err)
			}
		}
	}
	if v := be.floatValue(TypeDouble, 2.5); !bytes.Equal(v.Bytes, []byte{0x40, 0x04, 0, 0, 0, 0, 0, 0}) {
		t.Errorf("big-endian 2.5 is % x", v.Bytes)
	}
	if v := IntValue(TypeInt, 0x01020304); !bytes.Equal(v.Bytes, []byte{4, 3, 2, 1}) {
		t.Errorf("IntValue is not little-endian: % x", v.Bytes)
	}
}

// TestEvalBigEndian evaluates over memory holding big-endian values.
func TestEvalBigEndian(t *testing.T) {
	e := &testEnv{vars: map[string]Value{}, regs: map[string]Value{}, typedefs: map[string]*Type{}, tags: map[string]*Type{}}
	m := DataModel{LongSize: 4, PtrSize: 4, ByteOrder: binary.BigEndian}
	g := e.mem(0x1000, 0x100)
	binary.BigEndian.PutUint32(g[0:], 42)
	binary.BigEndian.PutUint32(g[4:], 0x1010)
	binary.BigEndian.PutUint16(g[8:], 0xfffe)
	copy(g[0x10:], "big")
	e.vars["counter"] = Value{Type: TypeInt, Addr: 0x1000, HasAddr: true}
	e.vars["p"] = Value{Type: m.PointerTo(TypeChar), Addr: 0x1004, HasAddr: true}
	e.vars["s"] = Value{Type: TypeShort, Addr: 0x1008, HasAddr: true}
	env := modelEnv{testEnv: e, model: m}
	for _, tc := range []struct{ expr, want string }{
		{"counter", "42"},
		{"counter + 1", "43"},
		{"s", "-2"},
		{"(long)s * 3", "-6"},
		{"p", `0x1010 "big"`},
		{"*p", "98 'b'"},
		{"p[2]", "103 'g'"},
		{"(char *)0x1010 + 1", `0x1011 "ig"`},
		{"&counter", "0x1000"},
		{"1.5 * 2", "3"},
	} {
		v, err := Evaluate(env, tc.expr)
		if err != nil {
			t.Errorf("Evaluate(%q): %v", tc.expr, err)
			continue
		}
		if got := Format(env, v, FormatOptions{}); got != tc.want {
			t.Errorf("Evaluate(%q) = %s, want %s", tc.expr, got, tc.want)
		}
	}
}

// TestParseModelLiterals checks that only ParseModel's model types the
// literals: Parse is LP64.
func TestParseModelLiterals(t *testing.T) {
	cases := []struct {
		src         string
		lp64, ilp32 string
	}{
		{"1", "int", "int"},
		{"1L", "long", "long"},
		{"0x80000000", "unsigned int", "unsigned int"},
		{"2147483648", "long", "long long"},
		{"0x100000000", "long", "long long"},
		{"0xffffffffffffffff", "unsigned long", "unsigned long long"},
		{"0x80000000L", "long", "unsigned long"},
		{"1ULL", "unsigned long long", "unsigned long long"},
	}
	for _, tc := range cases {
		for _, c := range []struct {
			m    DataModel
			want string
		}{{LP64, tc.lp64}, {ILP32, tc.ilp32}} {
			n, err := ParseModel(tc.src, nil, c.m)
			if err != nil {
				t.Fatalf("ParseModel(%q): %v", tc.src, err)
			}
			lit := n.(*IntLit)
			if got := TypeString(lit.Type); got != c.want {
				t.Errorf("ParseModel(%q, %+v) literal type %s, want %s", tc.src, c.m, got, c.want)
			}
		}
		n, _ := Parse(tc.src, nil)
		if got := TypeString(n.(*IntLit).Type); got != tc.lp64 {
			t.Errorf("Parse(%q) literal type %s, want %s", tc.src, got, tc.lp64)
		}
	}
}
