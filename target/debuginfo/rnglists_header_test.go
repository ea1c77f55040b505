package debuginfo

import (
	"encoding/binary"
	"strings"
	"testing"
)

// A .debug_rnglists contribution: header (unit_length, version 5,
// address size 8, no segment selectors, no offset table), then one list.
func rnglistsSection() []byte {
	list := []byte{rleOffsetPair, 0x10, 0x20, rleEndOfList}
	sec := binary.LittleEndian.AppendUint32(nil, uint32(8+len(list)))
	sec = append(sec, 5, 0, 8, 0, 0, 0, 0, 0)
	return append(sec, list...)
}

func TestCheckRangeListHeader(t *testing.T) {
	le := binary.LittleEndian
	good := rnglistsSection()
	if err := checkRangeListHeader(good, 12, 8, le.Uint32, le.Uint64); err != nil {
		t.Errorf("intact contribution: %v", err)
	}
	two := append(append([]byte(nil), good...), good...)
	if err := checkRangeListHeader(two, uint64(len(good))+12, 8, le.Uint32, le.Uint64); err != nil {
		t.Errorf("second contribution: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(b []byte)
		off  uint64
		want string
	}{
		{"zeroed", func(b []byte) { clear(b) }, 12, "unit_length 0"},
		{"version 4", func(b []byte) { b[4] = 4 }, 12, "version 4"},
		{"address size 4", func(b []byte) { b[6] = 4 }, 12, "address size 4"},
		{"length past the section", func(b []byte) { le.PutUint32(b, 0x1000) }, 12, "does not fit"},
		{"offset past every contribution", func([]byte) {}, 0x100, "past every"},
	} {
		b := append([]byte(nil), good...)
		tc.edit(b)
		err := checkRangeListHeader(b, tc.off, 8, le.Uint32, le.Uint64)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
