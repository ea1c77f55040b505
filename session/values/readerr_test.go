package values

import (
	"errors"
	"strings"
	"testing"

	"github.com/kdap/kdap/session/cexpr"
	"github.com/kdap/kdap/target/arch/amd64"
)

// TestLargeValueReadErrors formats large arrays and structs whose memory
// ends part-way: fake memory maps [0x1000, 0x3000) only. The error must
// name the first address that cannot be read (0x3000), not the base of
// the array, which reads.
func TestLargeValueReadErrors(t *testing.T) {
	env := &Env{mem: fakeMem{memBase, make([]byte, 0x2000)}, ptr: 8, arch: amd64.Arch, sh: &shared{conv: newTypeConv(8)}}
	rec := &cexpr.Type{Kind: cexpr.Struct, Name: "struct rec", Size: 64, Members: []cexpr.Member{
		{Name: "r_id", Type: cexpr.TypeLong}, {Name: "r_name", Type: cexpr.ArrayOf(cexpr.TypeChar, 56), Offset: 8}}}
	big := &cexpr.Type{Kind: cexpr.Struct, Name: "struct big", Size: 0x3000, Members: []cexpr.Member{
		{Name: "b_n", Type: cexpr.TypeLong}, {Name: "b_recs", Type: cexpr.ArrayOf(rec, 191), Offset: 8}}}
	at := func(typ *cexpr.Type, addr uint64) cexpr.Value {
		return cexpr.Value{Type: typ, Addr: addr, HasAddr: true}
	}
	tests := []struct {
		name string
		v    cexpr.Value
		want string // the formatted value contains it
	}{
		{"array of structs crossing into unmapped memory", at(cexpr.ArrayOf(rec, 1000), memBase+0x100), "<error: cannot read memory at 0x3000"},
		{"array of longs crossing into unmapped memory", at(cexpr.ArrayOf(cexpr.TypeLong, 1000), memBase+0x1c00), "<error: cannot read memory at 0x3000"},
		{"char array crossing into unmapped memory", at(cexpr.ArrayOf(cexpr.TypeChar, 300), memBase+0x1f80), "<error: cannot read memory at 0x3000"},
		{"struct crossing into unmapped memory", at(big, memBase), "<error: cannot read memory at 0x3000"},
		{"array starting in unmapped memory", at(cexpr.ArrayOf(rec, 1000), memBase+0x2000), "<error: cannot read memory at 0x3000>"},
		{"array that reads: 200 of its elements printed", at(cexpr.ArrayOf(cexpr.TypeLong, 5000), memBase), "{0, 0, 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Format(env, tt.v, false)
			if !strings.Contains(got, tt.want) {
				t.Errorf("Format = %.120q, want it to contain %q", got, tt.want)
			}
		})
	}

	// A page of children of a large array: the element that straddles
	// the end of the mapped memory names the unreadable page.
	arr := at(cexpr.ArrayOf(rec, 1000), memBase+0x20)
	kids, total, err := Children(env, "recs", arr, 126, 3)
	if err != nil || total != 1000 || len(kids) != 3 {
		t.Fatalf("Children: %d of %d, %v", len(kids), total, err)
	}
	for i, want := range []string{"{r_id = 0", "<error: cannot read memory at 0x3000", "<error: cannot read memory at 0x3020>"} {
		if got := Format(env, kids[i].Value, false); !strings.Contains(got, want) {
			t.Errorf("%s (at %#x) = %.100q, want it to contain %q", kids[i].Name, kids[i].Value.Addr, got, want)
		}
	}
}

// TestReadMemNamesUnreadablePage checks the reads of a location's memory
// pieces and of a pointer that cross into unmapped memory.
func TestReadMemNamesUnreadablePage(t *testing.T) {
	env := synthEnv(nil, nil, 0) // memory [0x1000, 0x1100)
	env.mem = fakeMem{memBase, make([]byte, 0x2000)}
	var me *cexpr.MemoryError
	err := env.readMem(memBase+0x1ff0, make([]byte, 0x40))
	if !errors.As(err, &me) || me.Addr != 0x3000 {
		t.Errorf("read of 0x40 bytes at %#x: %v, want a MemoryError at 0x3000", memBase+0x1ff0, err)
	}
	if err := env.readMem(memBase+0x1f00, make([]byte, 0x100)); err != nil {
		t.Errorf("read of mapped memory: %v", err)
	}
	// DW_OP_breg3 0; DW_OP_piece 8; DW_OP_breg3 8; DW_OP_piece 0x40 with
	// rbx = 0x2ff8: the second piece runs from 0x3000.
	env = synthEnv(map[int]uint64{amd64.RBX: memBase + 0x1ff8}, nil, 0)
	env.mem = fakeMem{memBase, make([]byte, 0x2000)}
	_, err = env.evalLocation([]byte{opBreg0 + 3, 0x70, opPiece, 8, opBreg0 + 3, 0x78, opPiece, 0x40}, cexpr.ArrayOf(cexpr.TypeLong, 9))
	if !errors.As(err, &me) || me.Addr != 0x3000 {
		t.Errorf("composite location: %v, want a MemoryError at 0x3000", err)
	}
	p := cexpr.Value{Type: cexpr.PointerTo(cexpr.TypeLong), Addr: memBase + 0x1ffc, HasAddr: true}
	if _, err := pointerValue(env, p); !errors.As(err, &me) || me.Addr != 0x3000 {
		t.Errorf("pointer straddling the end of memory: %v, want a MemoryError at 0x3000", err)
	}
}
