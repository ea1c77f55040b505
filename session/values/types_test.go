package values

import (
	"testing"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"

	"github.com/kdap/kdap/session/cexpr"
)

func common(name string, size int64) godwarf.CommonType {
	return godwarf.CommonType{Name: name, ByteSize: size}
}

func TestConvertTypes(t *testing.T) {
	intT := &godwarf.IntType{BasicType: godwarf.BasicType{CommonType: common("int", 4)}}
	uintT := &godwarf.UintType{BasicType: godwarf.BasicType{CommonType: common("unsigned int", 4)}}
	charT := &godwarf.CharType{BasicType: godwarf.BasicType{CommonType: common("char", 1)}}
	ucharT := &godwarf.UcharType{BasicType: godwarf.BasicType{CommonType: common("unsigned char", 1)}}
	boolT := &godwarf.BoolType{BasicType: godwarf.BasicType{CommonType: common("_Bool", 1)}}
	dblT := &godwarf.FloatType{BasicType: godwarf.BasicType{CommonType: common("double", 8)}}

	// struct node { int val; struct node *next; }, typedef'd twice.
	node := &godwarf.StructType{CommonType: common("node", 16), StructName: "node", Kind: "struct"}
	node.Field = []*godwarf.StructField{
		{Name: "val", Type: intT, ByteOffset: 0},
		{Name: "next", Type: &godwarf.PtrType{CommonType: common("", 8), Type: node}, ByteOffset: 8},
	}
	nodeT := &godwarf.TypedefType{CommonType: common("node_t", 16), Type: node}
	myNode := &godwarf.TypedefType{CommonType: common("mynode_t", 16), Type: nodeT}

	// struct s { const struct s *p; }: the qualifier inside the cycle.
	s := &godwarf.StructType{CommonType: common("s", 8), StructName: "s", Kind: "struct"}
	s.Field = []*godwarf.StructField{{Name: "p", Type: &godwarf.PtrType{CommonType: common("", 8),
		Type: &godwarf.QualType{CommonType: common("", 8), Qual: "const", Type: s}}}}

	bits := &godwarf.StructType{CommonType: common("kdap_bits", 4), StructName: "kdap_bits", Kind: "struct", Field: []*godwarf.StructField{
		{Name: "kb_ready", Type: uintT, ByteOffset: 0, BitOffset: 0, BitSize: 1},
		{Name: "kb_neg", Type: intT, ByteOffset: 2, BitOffset: 0, BitSize: 4},
	}}
	word := &godwarf.StructType{CommonType: common("kdap_word", 8), StructName: "kdap_word", Kind: "union", Field: []*godwarf.StructField{
		{Name: "kw_u32", Type: &godwarf.ArrayType{CommonType: common("", 8), Type: uintT, Count: 2}},
	}}
	color := &godwarf.EnumType{CommonType: common("kdap_color", 4), EnumName: "kdap_color", Val: []*godwarf.EnumValue{{Name: "RED", Val: 0}, {Name: "BLUE", Val: 7}}}
	signedEnum := &godwarf.EnumType{CommonType: common("e", 4), EnumName: "e", Val: []*godwarf.EnumValue{{Name: "NEG", Val: -1}}}
	flex := &godwarf.ArrayType{CommonType: common("", -1), Type: charT, Count: -1}
	fnPtr := &godwarf.PtrType{CommonType: common("", 8), Type: &godwarf.FuncType{CommonType: common("", -1), ReturnType: intT}}
	voidPtr := &godwarf.PtrType{CommonType: common("", 8), Type: &godwarf.VoidType{}}
	nilPtr := &godwarf.PtrType{CommonType: common("", 8)}
	cv := &godwarf.QualType{CommonType: common("", 4), Qual: "volatile", Type: &godwarf.QualType{CommonType: common("", 4), Qual: "const", Type: intT}}

	tests := []struct {
		in     godwarf.Type
		spell  string
		size   int64
		kind   cexpr.Kind
		signed bool
	}{
		{intT, "int", 4, cexpr.Int, true},
		{uintT, "unsigned int", 4, cexpr.Int, false},
		{charT, "char", 1, cexpr.Char, true},
		{ucharT, "unsigned char", 1, cexpr.Char, false},
		{boolT, "_Bool", 1, cexpr.Bool, false},
		{dblT, "double", 8, cexpr.Float, false},
		{node, "struct node", 16, cexpr.Struct, false},
		{myNode, "mynode_t", 16, cexpr.Typedef, false},
		{s, "struct s", 8, cexpr.Struct, false},
		{bits, "struct kdap_bits", 4, cexpr.Struct, false},
		{word, "union kdap_word", 8, cexpr.Union, false},
		{color, "enum kdap_color", 4, cexpr.Enum, false},
		{signedEnum, "enum e", 4, cexpr.Enum, true},
		{flex, "char []", 0, cexpr.Array, false},
		{fnPtr, "int (*)()", 8, cexpr.Pointer, false},
		{voidPtr, "void *", 8, cexpr.Pointer, false},
		{nilPtr, "void *", 8, cexpr.Pointer, false},
		{cv, "const volatile int", 4, cexpr.Int, true},
	}
	c := newTypeConv(8)
	for _, tc := range tests {
		got := c.convert(tc.in)
		if s := cexpr.TypeString(got); s != tc.spell || got.Size != tc.size || got.Kind != tc.kind || got.Signed != tc.signed {
			t.Errorf("%s: got %q size %d kind %v signed %v, want %q %d %v %v", tc.spell, s, got.Size, got.Kind, got.Signed, tc.spell, tc.size, tc.kind, tc.signed)
		}
		if c.convert(tc.in) != got {
			t.Errorf("%s: a second conversion made a new type", tc.spell)
		}
	}

	// The cycle closes on the same converted type.
	n := c.convert(node)
	if next := n.Members[1].Type; next.Kind != cexpr.Pointer || next.Elem != n {
		t.Errorf("node.next points to %v, want struct node itself", cexpr.TypeString(next.Elem))
	}
	if r := cexpr.Resolve(c.convert(myNode)); r != n {
		t.Errorf("mynode_t resolves to %s, want struct node", cexpr.TypeString(r))
	}
	sp := c.convert(s).Members[0].Type
	if sp.Elem.Kind != cexpr.Struct || len(sp.Elem.Members) != 1 {
		t.Errorf("s.p points to %s with %d members, want struct s with 1", cexpr.TypeString(sp.Elem), len(sp.Elem.Members))
	}
	b := c.convert(bits)
	if m := b.Members[1]; m.Offset != 2 || m.BitOffset != 0 || m.BitSize != 4 {
		t.Errorf("kb_neg at %d+%d:%d, want 2+0:4", m.Offset, m.BitOffset, m.BitSize)
	}
	if a := c.convert(word).Members[0].Type; !a.LenKnown || a.Len != 2 || a.Size != 8 {
		t.Errorf("kw_u32 is %s (len %d known %v size %d), want unsigned int [2]", cexpr.TypeString(a), a.Len, a.LenKnown, a.Size)
	}
	if e := c.convert(color); len(e.Enumerators) != 2 || e.Enumerators[1] != (cexpr.Enumerator{Name: "BLUE", Value: 7}) {
		t.Errorf("enum kdap_color enumerators %v", e.Enumerators)
	}
	if f := c.convert(flex); f.LenKnown {
		t.Errorf("flexible array has a known length %d", f.Len)
	}
}
