package debuginfo

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"os"
	"strings"
	"testing"
)

// TestCorruptRangeListInlineChain corrupts the .debug_rnglists entry of
// the inlined call of node_weight in tiny.elf. debug/dwarf skips a byte
// that is no DWARF 5 entry kind and decodes the rest as other ranges, so
// the inlined frame vanished with no error; InlineChain must say the
// chain is unknown instead.
func TestCorruptRangeListInlineChain(t *testing.T) {
	b0, err := os.ReadFile(tinyELF)
	if err != nil {
		t.Fatal(err)
	}
	_, d := open(t, tinyELF)
	pcs, err := d.PCsForLine("tiny.c", sourceLine(t, "testdata/tiny.c", "sink = w;"))
	if err != nil || len(pcs) == 0 {
		t.Fatalf("PCsForLine: %v, %v", pcs, err)
	}
	pc := pcs[0]
	chain, err := d.InlineChain(pc)
	if err != nil || len(chain) != 1 || chain[0].Name != "node_weight" {
		t.Fatalf("InlineChain(%#x) of the intact file = %+v, %v; want node_weight", pc, chain, err)
	}
	e, err := d.entryAt(chain[0].Offset)
	if err != nil {
		t.Fatal(err)
	}
	listOff, ok := e.Val(dwarf.AttrRanges).(int64)
	if !ok {
		t.Fatalf("node_weight's inlined call (DIE %#x) has no DW_AT_ranges list offset", chain[0].Offset)
	}
	ef, err := elf.NewFile(bytes.NewReader(b0))
	if err != nil {
		t.Fatal(err)
	}
	sec := ef.Section(".debug_rnglists")
	list := sec.Offset + uint64(listOff) // the list's first entry in the file
	if b0[list] != rleOffsetPair {
		t.Fatalf("the list at .debug_rnglists+%#x starts with kind %#x, want DW_RLE_offset_pair", listOff, b0[list])
	}
	tests := []struct {
		name  string
		patch func(b []byte)
		want  string
	}{
		{"unknown entry kind", func(b []byte) { b[list] = 0xff }, "entry kind 0xff at +0x16 is not a DWARF 5 range list entry"},
		{"another unknown kind", func(b []byte) { b[list] = 0x40 }, "is not a DWARF 5 range list entry"},
		{"range ending before it starts", func(b []byte) { b[list+2] = 0 }, "ends (0x0) before it starts"},
		{"range outside the function", func(b []byte) { b[list+2] = 0x7f }, "lies outside the code of walk"},
	}
	// Every pc of walk where the intact file has node_weight inlined.
	fn, err := d.FuncAt(pc)
	if err != nil {
		t.Fatal(err)
	}
	var inlined []uint64
	for p := fn.Ranges[0][0]; p < fn.Ranges[0][1]; p++ {
		if c, err := d.InlineChain(p); err == nil && len(c) > 0 && c[len(c)-1].Name == "node_weight" {
			inlined = append(inlined, p)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := append([]byte(nil), b0...)
			tt.patch(b)
			ef, err := elf.NewFile(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			d, err := Open(ef)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range inlined {
				chain, err := d.InlineChain(p)
				if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "inlined subroutine at DIE") {
					t.Fatalf("InlineChain(%#x) = %+v, %v; want an error containing %q", p, chain, err, tt.want)
				}
			}
			_, err = d.InlineChain(pc)
			t.Logf("%d pcs: %v", len(inlined), err)
			// A pc of walk outside every inlined call has no chain to lose.
			if c, err := d.InlineChain(fn.Ranges[0][0]); err != nil || len(c) != 0 {
				t.Errorf("InlineChain(%#x) = %+v, %v; want no calls, no error", fn.Ranges[0][0], c, err)
			}
		})
	}
}

// TestWalkRangeList checks the range list walker on hand-made lists.
func TestWalkRangeList(t *testing.T) {
	le := func(b []byte) uint64 { return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 }
	u64 := func(b []byte) uint64 { return le(b) | le(b[4:])<<32 }
	u32 := func(b []byte) uint32 { return uint32(le(b)) }
	addr := func(v uint64) []byte {
		b := make([]byte, 8)
		for i := range b {
			b[i] = byte(v >> (8 * i))
		}
		return b
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name string
		sec  []byte
		off  uint64
		want string // "" for a good list
	}{
		{"every kind", cat([]byte{rleBaseAddressx, 1, rleStartxEndx, 2, 3, rleStartxLength, 4, 0x80, 1, rleOffsetPair, 1, 2,
			rleBaseAddress}, addr(0x1000), []byte{rleStartEnd}, addr(0x10), addr(0x20), []byte{rleStartLength}, addr(0x30), []byte{4, rleEndOfList}), 0, ""},
		{"at an offset", []byte{0xff, 0xff, rleOffsetPair, 1, 2, rleEndOfList}, 2, ""},
		{"offset outside", []byte{rleEndOfList}, 1, "outside the 0x1-byte section"},
		{"unknown kind", []byte{rleOffsetPair, 1, 2, 0x08, rleEndOfList}, 0, "entry kind 0x8 at +0x3"},
		{"inverted start_end", cat([]byte{rleStartEnd}, addr(0x20), addr(0x10), []byte{0}), 0, "ends (0x10) before it starts (0x20)"},
		{"cut address", cat([]byte{rleBaseAddress}, addr(1)[:5]), 0, "address operand at +0x1"},
		{"cut LEB128", []byte{rleOffsetPair, 1, 0x80}, 0, "LEB128 operand at +0x2"},
		{"no end", []byte{rleOffsetPair, 1, 2}, 0, "has no end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := walkRangeList(tt.sec, tt.off, 8, u64, u32)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("good list: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
