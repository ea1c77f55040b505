package linux

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"

	"github.com/kdap/kdap/unwind/orc"
)

// TestFixtureORCLayout reads struct orc_entry from the Debian 6.1 vmlinux's
// DWARF: it must be the layout of Linux 4.14 to 6.2 (orc_types.h of 6.1:
// type:2 and end:1 after two s16 and two 4-bit registers), the one the
// kernel's release also implies.
func TestFixtureORCLayout(t *testing.T) {
	for _, dir := range fixtureDirs(t) {
		tg := openTarget(t, dir, "vmcore.kdump")
		k := tg.OS.(*kernel)
		got, err := k.orcLayout()
		if err != nil {
			t.Fatal(err)
		}
		if got != orc.LayoutV1 {
			t.Errorf("DWARF layout %+v, want %+v", got, orc.LayoutV1)
		}
		byRelease, err := layoutFor(k.release)
		if err != nil || byRelease != got {
			t.Errorf("release %s gives %+v, %v; DWARF %+v", k.release, byRelease, err, got)
		}
		fi, err := k.FrameInfo()
		if err != nil || fi == nil {
			t.Fatalf("FrameInfo: %v, %v", fi, err)
		}
		pt, err := k.ptRegsLayout()
		if err != nil {
			t.Fatal(err)
		}
		// x86-64 struct pt_regs: 15 general registers, orig_ax, then the
		// hardware frame ip, cs, flags, sp, ss.
		if pt.Size != 21*8 || pt.IP != 16*8 || pt.CS != 17*8 || pt.SP != 19*8 {
			t.Errorf("pt_regs layout %+v", pt)
		}
	}
}

// TestLayoutFor checks the fallback by kernel release.
func TestLayoutFor(t *testing.T) {
	cases := []struct {
		release string
		want    orc.Layout
		err     string
	}{
		{"6.1.0-57-cloud-amd64", orc.LayoutV1, ""},
		{"4.14.0", orc.LayoutV1, ""},
		{"6.2.16", orc.LayoutV1, ""},
		{"6.3.0-rc1", orc.LayoutV2, ""},
		{"6.4.0", orc.LayoutV3, ""},
		{"6.12.48+deb13-amd64", orc.LayoutV3, ""},
		{"7.0", orc.LayoutV3, ""},
		{"4.9.0", orc.Layout{}, "predates ORC"},
		{"", orc.Layout{}, "release is unknown"},
		{"linux", orc.Layout{}, "MAJOR.MINOR"},
	}
	for _, c := range cases {
		got, err := layoutFor(c.release)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %v, want an error containing %q", c.release, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: %+v, %v; want %+v", c.release, got, err, c.want)
		}
	}
}

// TestORCLayoutFromDWARF builds layouts from struct orc_entry members as
// DWARF describes them in each kernel generation, and rejects broken ones.
func TestORCLayoutFromDWARF(t *testing.T) {
	type m = godwarf.StructField
	v3 := map[string]*m{
		"sp_offset": {ByteOffset: 0}, "bp_offset": {ByteOffset: 2},
		"sp_reg": {ByteOffset: 4, BitOffset: 0, BitSize: 4}, "bp_reg": {ByteOffset: 4, BitOffset: 4, BitSize: 4},
		"type": {ByteOffset: 5, BitOffset: 0, BitSize: 3}, "signal": {ByteOffset: 5, BitOffset: 3, BitSize: 1},
	}
	v2 := map[string]*m{
		"sp_offset": {ByteOffset: 0}, "bp_offset": {ByteOffset: 2},
		"sp_reg": {ByteOffset: 4, BitOffset: 0, BitSize: 4}, "bp_reg": {ByteOffset: 4, BitOffset: 4, BitSize: 4},
		"type": {ByteOffset: 5, BitOffset: 0, BitSize: 2}, "signal": {ByteOffset: 5, BitOffset: 2, BitSize: 1},
		"end": {ByteOffset: 5, BitOffset: 3, BitSize: 1},
	}
	noType := map[string]*m{"sp_offset": {}, "bp_offset": {ByteOffset: 2}, "sp_reg": {ByteOffset: 4, BitSize: 4}, "bp_reg": {ByteOffset: 4, BitOffset: 4, BitSize: 4}}
	notBits := map[string]*m{"sp_offset": {}, "bp_offset": {ByteOffset: 2}, "sp_reg": {ByteOffset: 4}, "bp_reg": {ByteOffset: 4, BitOffset: 4, BitSize: 4}, "type": {ByteOffset: 5, BitSize: 3}}
	twoBitNoEnd := map[string]*m{"sp_offset": {}, "bp_offset": {ByteOffset: 2}, "sp_reg": {ByteOffset: 4, BitSize: 4}, "bp_reg": {ByteOffset: 4, BitOffset: 4, BitSize: 4}, "type": {ByteOffset: 5, BitSize: 2}}
	cases := []struct {
		name    string
		members map[string]*m
		want    orc.Layout
		err     string
	}{
		{"6.4", v3, orc.LayoutV3, ""},
		{"6.3", v2, orc.LayoutV2, ""},
		{"no type", noType, orc.Layout{}, "no member type"},
		{"sp_reg not a bit field", notBits, orc.Layout{}, "sp_reg is not a bit field"},
		{"2-bit type without end", twoBitNoEnd, orc.Layout{}, "needs a 3-bit type"},
	}
	for _, c := range cases {
		got, err := orcLayoutFromDWARF(func(name string) (*godwarf.StructField, error) {
			if f, ok := c.members[name]; ok {
				return f, nil
			}
			return nil, errors.New("no member " + name)
		}, 6)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %v, want an error containing %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
}
