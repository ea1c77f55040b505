package values

import (
	"testing"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"

	"github.com/kdap/kdap/session/cexpr"
	"github.com/kdap/kdap/target/arch/amd64"
	"github.com/kdap/kdap/target/arch/i386"
	"github.com/kdap/kdap/unwind"
)

// i386Env is an Env of an i386 target over fake memory with one frame
// whose registers are regs.
func i386Env(regs map[int]uint64) *Env {
	var f unwind.Frame
	for n, v := range regs {
		f.Regs.Set(n, v)
	}
	f.PC, f.LookupPC = regs[i386.EIP], regs[i386.EIP]
	return &Env{mem: fakeMem{memBase, make([]byte, 0x100)}, ptr: 4, arch: i386.Arch, sh: &shared{conv: newTypeConv(4)}, frames: []unwind.Frame{f}}
}

func TestDataModel(t *testing.T) {
	if got := i386Env(nil).DataModel(); got != cexpr.ILP32 {
		t.Errorf("i386 Env: data model %+v, want ILP32", got)
	}
	amd := &Env{ptr: 8, arch: amd64.Arch}
	if got := amd.DataModel(); got != cexpr.LP64 {
		t.Errorf("amd64 Env: data model %+v, want LP64", got)
	}
	if got := (&Env{ptr: 4}).DataModel(); got != cexpr.ILP32 {
		t.Errorf("Env without an architecture: data model %+v, want ILP32", got)
	}
	if got := cexpr.ModelOf(i386Env(nil)); got != cexpr.ILP32 {
		t.Errorf("cexpr.ModelOf(i386 Env) = %+v, want ILP32", got)
	}
}

// TestRegistersI386 checks that registers of a 32-bit target are 4-byte
// values of 4-byte types, whatever the frame holds above bit 31.
func TestRegistersI386(t *testing.T) {
	env := i386Env(map[int]uint64{i386.EIP: 0x1c0400010, i386.ESP: 0xc5000f00, i386.EBP: 0xc5000f40, i386.EAX: 0xfffffffe})
	cases := []struct {
		reg, typ string
		size     int64
		want     string
	}{
		{"eip", "void (*)()", 4, "0xc0400010"},
		{"pc", "void (*)()", 4, "0xc0400010"},
		{"esp", "void *", 4, "0xc5000f00"},
		{"sp", "void *", 4, "0xc5000f00"},
		{"ebp", "void *", 4, "0xc5000f40"},
		{"eax", "long", 4, "-2"},
	}
	for _, tc := range cases {
		v, err := env.Register(tc.reg)
		if err != nil {
			t.Errorf("$%s: %v", tc.reg, err)
			continue
		}
		if got := cexpr.TypeString(v.Type); got != tc.typ || v.Type.Size != tc.size || int64(len(v.Bytes)) != tc.size {
			t.Errorf("$%s: type %s of %d bytes holding %d, want %s of %d", tc.reg, got, v.Type.Size, len(v.Bytes), tc.typ, tc.size)
		}
		if got := cexpr.Format(nil, v, cexpr.FormatOptions{}); got != tc.want {
			t.Errorf("$%s = %s, want %s", tc.reg, got, tc.want)
		}
	}
}

// TestEvalI386 evaluates through the Env of a 32-bit target: the model
// reaches the evaluator.
func TestEvalI386(t *testing.T) {
	e := i386Env(map[int]uint64{i386.EIP: 0xc0400010, i386.ESP: 0xc5000f00, i386.EAX: 0xfffffffe})
	for i := range e.mem.(fakeMem).data {
		e.mem.(fakeMem).data[i] = byte(i)
	}
	env := env2{e} // no target: no symbols
	for _, tc := range []struct{ expr, want string }{
		{"sizeof(long)", "4"},
		{"sizeof(void *)", "4"},
		{"sizeof(long long)", "8"},
		{"sizeof($esp)", "4"},
		{"(unsigned long)-1", "4294967295"},
		{"(long)0x123456789", "591751049"},
		{"(int *)$esp + 2", "0xc5000f08"},
		{"(char *)$esp - (char *)0xc5000e00", "256"},
		{"$eax + 1", "-1"},
		{"(unsigned long)$eax", "4294967294"},
		{"0x80000000 + 0", "2147483648"},
		{"(long)$eip", "-1069547504"},
		{"*(unsigned char *)0x1010", "16 '\\020'"},
	} {
		v, err := cexpr.Evaluate(env, tc.expr)
		if err != nil {
			t.Errorf("Evaluate(%q): %v", tc.expr, err)
			continue
		}
		if got := cexpr.Format(env, v, cexpr.FormatOptions{}); got != tc.want {
			t.Errorf("Evaluate(%q) = %s, want %s", tc.expr, got, tc.want)
		}
	}
}

// TestConvertPointersILP32 checks that every pointer the DWARF conversion
// makes has the target's pointer size.
func TestConvertPointersILP32(t *testing.T) {
	intT := &godwarf.IntType{BasicType: godwarf.BasicType{CommonType: common("int", 4)}}
	longT := &godwarf.IntType{BasicType: godwarf.BasicType{CommonType: common("long int", 4)}}
	node := &godwarf.StructType{CommonType: common("node", 12), StructName: "node", Kind: "struct"}
	next := &godwarf.PtrType{CommonType: common("", 4), Type: node}
	node.Field = []*godwarf.StructField{
		{Name: "val", Type: intT, ByteOffset: 0},
		{Name: "next", Type: next, ByteOffset: 4},
		{Name: "n", Type: longT, ByteOffset: 8},
	}
	fnPtr := &godwarf.PtrType{CommonType: common("", 4), Type: &godwarf.FuncType{CommonType: common("", -1), ReturnType: intT}}
	voidPtr := &godwarf.PtrType{CommonType: common("", 4), Type: &godwarf.VoidType{}}
	// A pointer whose DWARF gives no size takes the target's.
	noSize := &godwarf.PtrType{CommonType: common("", 0), Type: intT}
	ptrPtr := &godwarf.PtrType{CommonType: common("", 4), Type: next}
	arr := &godwarf.ArrayType{CommonType: common("", 12), Type: voidPtr, Count: 3}
	c := newTypeConv(4)
	for _, tc := range []struct {
		in    godwarf.Type
		spell string
		size  int64
	}{
		{next, "struct node *", 4},
		{fnPtr, "int (*)()", 4},
		{voidPtr, "void *", 4},
		{noSize, "int *", 4},
		{ptrPtr, "struct node **", 4},
		{arr, "void *[3]", 12},
		{longT, "long int", 4},
	} {
		got := c.convert(tc.in)
		if s := cexpr.TypeString(got); s != tc.spell || got.Size != tc.size {
			t.Errorf("%s: got %q of %d bytes, want %d", tc.spell, s, got.Size, tc.size)
		}
	}
	if p := c.convert(ptrPtr).Elem; p.Size != 4 {
		t.Errorf("the pointee of struct node ** is %d bytes, want 4", p.Size)
	}
	if m := c.convert(node).Members[1].Type; m.Kind != cexpr.Pointer || m.Size != 4 {
		t.Errorf("node.next is %s of %d bytes, want a 4-byte pointer", cexpr.TypeString(m), m.Size)
	}
}
