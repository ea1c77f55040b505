package fbsdmini

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kdap/kdap/target/core"
)

// arm64 descriptor bits used to build test page maps (arm64 pte.h).
const (
	tL3Page  = 0x3     // L3_PAGE
	tAF      = 1 << 10 // ATTR_AF
	tSHIS    = 3 << 8  // ATTR_SH(ATTR_SH_IS)
	tDBM     = 1 << 51 // ATTR_DBM
	tXN      = 3 << 53 // ATTR_S1_PXN | ATTR_S1_UXN
	tSWWired = 1 << 55 // ATTR_SW_WIRED
	tNX386   = 1 << 63 // i386 PAE PG_NX
	tPGVRWAD = 0x1 | 0x2 | 0x20 | 0x40
)

// arm64Dump is an arm64 dump with two dump_avail ranges from 0x40000000
// (the real dumps' dmapphys), four pages, and a page map of two pages of
// L3 descriptors: odd entries in the first, and in the second the 512
// fake descriptors the kernel writes for a 2 MiB block at 0x40000000.
func arm64Dump(version int) *synth {
	pmap := make([]uint64, 1024)
	pmap[0] = 0x40100000 | tAF | tSHIS | tL3Page                 // dumped page
	pmap[1] = 0x40001000 | tAF | tL3Page                         // page not dumped
	pmap[3] = 0x40102000 | 0x1                                   // a block descriptor: not valid at L3
	pmap[5] = 0x40102000 | tXN | tDBM | tSWWired | tAF | tL3Page // upper attributes set
	pmap[6] = 0x80000000 | tL3Page                               // outside dump_avail
	for j := uint64(0); j < 512; j++ {
		pmap[512+j] = (0x40000000 + j*pageSize) | tAF | tSHIS | tL3Page
	}
	return &synth{
		arch:    "arm64",
		version: version,
		msgbuf:  []byte("arm64 message buffer\n"),
		avail:   [][2]uint64{{0x40000000, 0x40004000}, {0x40100000, 0x40103000}},
		pfns:    []uint64{0x40000, 0x40002, 0x40100, 0x40102},
		pmap:    pmap,
	}
}

// i386Dump is an i386 dump with the real dump's first dump_avail range,
// four pages and a page map of 1024 PTEs (4 or 8 bytes each).
func i386Dump(version int, pae bool) *synth {
	pmap := make([]uint64, 1024)
	pmap[0] = 0x100000 | tPGVRWAD // dumped page
	pmap[1] = 0x1000 | 0x1        // page not dumped
	pmap[2] = 0x102000            // PG_V clear
	pmap[3] = 0x102000 | 0x1
	pmap[5] = 0x0 | 0x1 // page 0, the first dumped
	if pae {
		pmap[3] |= tNX386
		pmap[4] = 0x123456000 | 0x1 // above 4 GiB
	}
	return &synth{
		arch:    "i386",
		pae:     pae,
		version: version,
		msgbuf:  []byte("i386 message buffer\n"),
		avail:   [][2]uint64{{0, 0x9f000}, {0x100000, 0x103000}},
		pfns:    []uint64{0, 2, 0x100, 0x102},
		pmap:    pmap,
	}
}

// readKVA reads kernel virtual memory through the dump's own maps.
func readKVA(d *Dump, va uint64, b []byte) error {
	return readVA(d.TranslateKernel, d.ReadPhys, va, b)
}

// translateCase is one TranslateKernel expectation: a mapping, or an
// error containing err that wraps a virtual NotPresentError for va.
type translateCase struct {
	va, pa, size uint64
	err          string
}

func checkTranslate(t *testing.T, name string, d *Dump, tests []translateCase) {
	t.Helper()
	for _, tc := range tests {
		pa, size, err := d.TranslateKernel(tc.va)
		if tc.err != "" {
			var np *core.NotPresentError
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: TranslateKernel(%#x) error %v, want %q", name, tc.va, err, tc.err)
			} else if !errors.As(err, &np) || !np.Virtual || np.Addr != tc.va {
				t.Errorf("%s: TranslateKernel(%#x) error %v does not wrap a virtual NotPresentError", name, tc.va, err)
			}
			continue
		}
		if err != nil || pa != tc.pa || size != tc.size {
			t.Errorf("%s: TranslateKernel(%#x) = %#x, %#x, %v; want %#x, %#x", name, tc.va, pa, size, err, tc.pa, tc.size)
		}
	}
}

// readCase is one ReadPhys expectation: the first word, or absence with a
// reason containing why.
type readCase struct {
	pa   uint64
	want uint64
	why  string
}

func checkRead(t *testing.T, name string, d *Dump, tests []readCase) {
	t.Helper()
	for _, tc := range tests {
		var b [8]byte
		err := d.ReadPhys(b[:], tc.pa)
		if tc.why != "" {
			var np *core.NotPresentError
			if !errors.As(err, &np) || np.Addr != tc.pa || np.Virtual || !strings.Contains(np.Reason, tc.why) {
				t.Errorf("%s: ReadPhys(%#x): %v, want a NotPresentError saying %q", name, tc.pa, err, tc.why)
			}
			continue
		}
		if got := binary.LittleEndian.Uint64(b[:]); err != nil || got != tc.want {
			t.Errorf("%s: ReadPhys(%#x) = %#x, %v; want %#x", name, tc.pa, got, err, tc.want)
		}
	}
}

func TestSyntheticARM64(t *testing.T) {
	for _, ver := range []int{1, 2, 3} {
		name := fmt.Sprintf("arm64 v%d", ver)
		s := arm64Dump(ver)
		d := openBytes(t, s.build())
		if d.Format() != "FreeBSD arm64 minidump v"+fmt.Sprint(ver) || d.Pages() != 4 {
			t.Errorf("%s: Format %q, Pages %d", name, d.Format(), d.Pages())
		}
		if h := d.Header(); h.DmapPhys != aDmapPhys || h.DmapBase != aDmapBase || h.DmapEnd != aDmapEnd || h.KernBase != aKernBase {
			t.Errorf("%s: header %+v", name, h)
		}
		if got := string(d.MsgBuf()); got != "arm64 message buffer\n" {
			t.Errorf("%s: MsgBuf = %q", name, got)
		}
		if (len(d.DumpAvail()) == 2) != (ver >= 2) {
			t.Errorf("%s: DumpAvail = %#x", name, d.DumpAvail())
		}
		checkTranslate(t, name, d, []translateCase{
			{va: aKernBase + 0x10, pa: 0x40100010, size: pageSize},
			{va: aKernBase + 1<<12 + 8, pa: 0x40001008, size: pageSize},
			{va: aKernBase + 5<<12 + 0xff8, pa: 0x40102ff8, size: pageSize},
			{va: aKernBase + 6<<12, pa: 0x80000000, size: pageSize},
			// The fake descriptors of a 2 MiB block map page by page.
			{va: aKernBase + 2<<20 + 0x2010, pa: 0x40002010, size: pageSize},
			{va: aKernBase + 4<<20 - 8, pa: 0x401ffff8, size: pageSize},
			{va: aKernBase + 2<<12, err: "L3 descriptor 2 of the kernel page map (0x0) is not a valid page"},
			{va: aKernBase + 3<<12, err: "L3 descriptor 3 of the kernel page map (0x40102001) is not a valid page"},
			{va: aKernBase + 4<<20, err: "past the kernel page map, which covers [0xffff000000000000, 0xffff000000400000)"},
			// The direct map starts at dmapphys, and lies above kernbase.
			{va: aDmapBase + 0x100010, pa: aDmapPhys + 0x100010, size: pageSize},
			{va: aDmapBase, pa: aDmapPhys, size: pageSize},
			{va: aDmapEnd - 1, pa: aDmapPhys + aDmapEnd - 1 - aDmapBase, size: pageSize},
			{va: aDmapEnd, err: "past the kernel page map"},
			{va: 0x400000, err: "neither in the direct map"},
			{va: aKernBase - 1, err: "neither in the direct map"},
		})
		notDumped := "page not dumped (bitmap bit clear)"
		outside := "page outside the dump_avail ranges"
		if ver == 1 {
			outside = "page beyond the page bitmap"
		}
		checkRead(t, name, d, []readCase{
			{pa: 0x40100010, want: 0x40100010},
			{pa: 0x40002ff8, want: 0x40002ff8},
			{pa: 0x40000000, want: 0x40000000},
			{pa: 0x40001000, why: notDumped},
			{pa: 0x80000000, why: outside},
			{pa: 0x3ffff000, why: map[bool]string{true: outside, false: notDumped}[ver >= 2]},
		})
		// Reading through the maps reaches the stamped pages.
		var b [8]byte
		if err := readKVA(d, aDmapBase+0x102008, b[:]); err != nil || binary.LittleEndian.Uint64(b[:]) != 0x40102008 {
			t.Errorf("%s: direct map read = %x, %v", name, b, err)
		}
	}
}

func TestSyntheticARM64Flags(t *testing.T) {
	s := arm64Dump(3)
	s.flags = 1 // MINIDUMP_FLAG_PS_16K
	_, err := Open(bytes.NewReader(s.build()))
	if err == nil || !strings.Contains(err.Error(), "flags 0x1 give page-size code 1; only 4 KiB pages (code 0) are supported (file offset 0x4c)") {
		t.Errorf("16 KiB pages: Open error %v", err)
	}
	s = arm64Dump(2)
	s.flags = 1 // version 2 has no flags: ignored
	if _, err := Open(bytes.NewReader(s.build())); err != nil {
		t.Errorf("v2 with a non-zero word after dumpavailsize: %v", err)
	}
}

func TestSyntheticI386(t *testing.T) {
	for _, ver := range []int{1, 2} {
		for _, pae := range []bool{false, true} {
			name := fmt.Sprintf("i386 v%d pae=%v", ver, pae)
			s := i386Dump(ver, pae)
			b := s.build()
			d := openBytes(t, b)
			h := d.Header()
			if h.KernBase != iKernBase || (h.PAEMode != 0) != pae || h.DmapBase != 0 || h.DmapEnd != 0 || d.Pages() != 4 {
				t.Errorf("%s: header %+v, %d pages", name, h, d.Pages())
			}
			if ver == 1 && h.BitmapSize%8 == 0 {
				t.Errorf("%s: bitmapsize %d; the test means to cover 32-bit words", name, h.BitmapSize)
			}
			if got := string(d.MsgBuf()); got != "i386 message buffer\n" {
				t.Errorf("%s: MsgBuf = %q", name, got)
			}
			tests := []translateCase{
				{va: iKernBase + 0x10, pa: 0x100010, size: pageSize},
				{va: iKernBase + 1<<12 + 0xff8, pa: 0x1ff8, size: pageSize},
				{va: iKernBase + 3<<12 + 0x20, pa: 0x102020, size: pageSize},
				{va: iKernBase + 1024<<12, err: "past the kernel page map, which covers [0x800000, 0xc00000)"},
				{va: iKernBase - 1, err: "below kernbase 0x800000, and i386 minidumps have no direct map"},
				{va: 0x1_0000_0000 + iKernBase, err: "does not fit i386's 32-bit address space"},
				{va: 0xfffff80000001000, err: "does not fit i386's 32-bit address space"},
			}
			if pae {
				tests = append(tests,
					translateCase{va: iKernBase + 2<<12, err: "PTE 2 of the kernel page map (0x102000) is not valid"},
					translateCase{va: iKernBase + 4<<12 + 4, pa: 0x123456004, size: pageSize})
			} else {
				tests = append(tests, translateCase{va: iKernBase + 2<<12, err: "PTE 2 of the kernel page map (0x102000) is not valid"})
			}
			checkTranslate(t, name, d, tests)
			beyond := "page outside the dump_avail ranges"
			if ver == 1 {
				beyond = "page beyond the page bitmap"
			}
			checkRead(t, name, d, []readCase{
				{pa: 0x100010, want: 0x100010},
				{pa: 0x2ff8, want: 0x2ff8},
				{pa: 0x1000, why: "page not dumped (bitmap bit clear)"},
				{pa: 0x123456000, why: beyond},
			})
			var w [8]byte
			if err := readKVA(d, iKernBase+3<<12+0x18, w[:]); err != nil || binary.LittleEndian.Uint64(w[:]) != 0x102018 {
				t.Errorf("%s: read through the page map = %x, %v", name, w, err)
			}
		}
	}
}

func TestSyntheticHeaderErrors(t *testing.T) {
	le := binary.LittleEndian
	tests := []struct {
		name   string
		s      *synth
		mutate func(b []byte)
		want   string
	}{
		{"arm64 version 4", arm64Dump(2), func(b []byte) { le.PutUint32(b[24:], 4) }, "version 4 is not supported, expected 1, 2 or 3 (file offset 0x18)"},
		{"arm64 dmap inverted", arm64Dump(2), func(b []byte) { le.PutUint64(b[56:], aDmapEnd+1) }, "dmapbase 0xffffff0000000001 is above dmapend 0xffffff0000000000 (file offset 0x38)"},
		{"arm64 dmapphys wraps", arm64Dump(2), func(b []byte) { le.PutUint64(b[48:], 0xffffffffffff0000) }, "runs past the end of the physical address space (file offset 0x30)"},
		{"arm64 v2 no dump_avail", arm64Dump(2), func(b []byte) { le.PutUint32(b[72:], 0) }, "arm64 version 2 dump has dumpavailsize 0 (file offset 0x48)"},
		{"arm64 pmapsize odd", arm64Dump(2), func(b []byte) { le.PutUint32(b[36:], 4100) }, "pmapsize 4100 is not a multiple of 8 (file offset 0x24)"},
		{"i386 version 3", i386Dump(2, true), func(b []byte) { le.PutUint32(b[24:], 3) }, "version 3 is not supported, expected 1 or 2 (file offset 0x18)"},
		{"i386 ptesize odd", i386Dump(2, false), func(b []byte) { le.PutUint32(b[36:], 4098) }, "ptesize 4098 is not a multiple of 4 (file offset 0x24)"},
		{"i386 PAE ptesize odd", i386Dump(2, true), func(b []byte) { le.PutUint32(b[36:], 4100) }, "ptesize 4100 is not a multiple of 8 (file offset 0x24)"},
		{"i386 bitmapsize odd", i386Dump(2, true), func(b []byte) { le.PutUint32(b[32:], 6) }, "bitmapsize 6 is not a multiple of 4 (file offset 0x20)"},
		{"i386 dumpavailsize huge", i386Dump(2, true), func(b []byte) { le.PutUint32(b[48:], 1<<30) }, "dumpavailsize 1073741824 exceeds the 1048576-byte limit (file offset 0x30)"},
		{"unknown machine", i386Dump(2, true), func(b []byte) { copy(b, "minidump FreeBSD/riscv\x00\x00") }, "magic (file offset 0x0) is that of a FreeBSD riscv minidump; kdap reads amd64, arm64 and i386 minidumps"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.s.build()
			tc.mutate(b)
			_, err := Open(bytes.NewReader(b))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// truncCase names a dump to cut short.
type truncCase struct {
	name string
	s    *synth
	// first and last are a translatable VA whose page is the first dumped
	// page, and one whose page is the last.
	first, last uint64
	// lateVA translates through page-map entry lateIdx, near the map's end.
	lateVA  uint64
	lateIdx int
}

func truncCases() []truncCase {
	var cs []truncCase
	for _, v := range []int{1, 2, 3} {
		s := smallDump(v)
		if v == 1 {
			s.pmap = make([]uint64, 512)
			s.pmap[0], s.pmap[3], s.pmap[500] = 0x0|0x3, 0x102000|0x3, 0x100000|0x3
			cs = append(cs, truncCase{fmt.Sprintf("amd64 v%d", v), s, tKernBase, tKernBase + 3<<12, tKernBase + 500<<12, 500})
			continue
		}
		s.pmap[400] = 0x100000 | ptePS | 0x3
		cs = append(cs, truncCase{fmt.Sprintf("amd64 v%d", v), s, tDmapBase, tDmapBase + 0x102000, tKernBase + 400<<21, 400})
	}
	for _, v := range []int{1, 2, 3} {
		cs = append(cs, truncCase{fmt.Sprintf("arm64 v%d", v), arm64Dump(v), aKernBase + 2<<20, aKernBase + 5<<12, aKernBase + 4<<20 - 1, 1023})
	}
	for _, v := range []int{1, 2} {
		for _, pae := range []bool{false, true} {
			s := i386Dump(v, pae)
			s.pmap[1000] = 0x100000 | 0x1
			cs = append(cs, truncCase{fmt.Sprintf("i386 v%d pae=%v", v, pae), s, iKernBase + 5<<12, iKernBase + 3<<12, iKernBase + 1000<<12, 1000})
		}
	}
	return cs
}

// A file that ends among the pages opens with a warning; the pages past
// its end are absent because it ends early, the others read.
func TestSyntheticTruncatedPages(t *testing.T) {
	for _, tc := range truncCases() {
		full := tc.s.build()
		for _, cut := range []int{pageSize, pageSize + 100, 3 * pageSize, 4 * pageSize} {
			b := full[:len(full)-cut]
			d := openBytes(t, b)
			var w [8]byte
			missing := (cut + pageSize - 1) / pageSize
			want := fmt.Sprintf("the file ends early: %d of the 4 pages the bitmap marks as dumped are missing (file holds %d after offset %#x",
				missing, 4-missing, tc.s.at.pages)
			tail := (pageSize - cut%pageSize) % pageSize
			if tail > 0 {
				want += fmt.Sprintf(", and the first %d bytes of the next", tail)
			}
			if w := d.Warnings(); len(w) != 1 || w[0] != want+")" {
				t.Errorf("%s cut %d: Warnings = %q, want %q", tc.name, cut, w, want+")")
			}
			if tail > 0 {
				// The page the file ends inside reads up to the end.
				base := tc.s.pfns[4-missing] << pageShift
				checkRead(t, tc.name, d, []readCase{
					{pa: base + uint64(tail)&^7 - 8, want: base + uint64(tail)&^7 - 8}, // stamp words are aligned
					{pa: base, want: base},
				})
				for _, pa := range []uint64{base + uint64(tail) - 4, base + uint64(tail), base + pageSize - 8} {
					err := d.ReadPhys(w[:], pa)
					var np *core.NotPresentError
					if !errors.As(err, &np) || np.Addr != max(pa, base+uint64(tail)) ||
						!strings.Contains(np.Reason, fmt.Sprintf("page missing from byte %#x on because the file ends early", tail)) {
						t.Errorf("%s cut %d: ReadPhys(%#x) past the end: %v", tc.name, cut, pa, err)
					}
				}
			}
			if d.MissingPages() != uint64(missing) || d.Pages() != 4 {
				t.Errorf("%s cut %d: MissingPages %d, Pages %d", tc.name, cut, d.MissingPages(), d.Pages())
			}
			pa, _, err := d.TranslateKernel(tc.last)
			if err != nil {
				t.Fatalf("%s: TranslateKernel(%#x): %v", tc.name, tc.last, err)
			}
			err = d.ReadPhys(w[:], pa)
			var np *core.NotPresentError
			if !errors.As(err, &np) || !strings.Contains(np.Reason, "page missing because the file ends early (it holds") {
				t.Errorf("%s cut %d: last page %#x: %v, want absent because the file ends early", tc.name, cut, pa, err)
			}
			if missing < 4 {
				if err := readKVA(d, tc.first, w[:]); err != nil {
					t.Errorf("%s cut %d: first page: %v", tc.name, cut, err)
				}
			}
		}
	}
}

// A file that ends inside the page map opens: the entries it holds
// translate, the others are absent because the file ends early, and no
// page is in the file. A file that ends in an earlier section does not.
func TestSyntheticTruncatedSections(t *testing.T) {
	for _, tc := range truncCases() {
		full := tc.s.build()
		at := tc.s.at
		entry := 8
		if tc.s.arch == "i386" && !tc.s.pae {
			entry = 4
		}
		cut := at.pmap + 3*entry + 1 // entries 0 to 2 whole
		d := openBytes(t, full[:cut])
		pmapLen := len(tc.s.pmap)
		want := []string{
			fmt.Sprintf("the file ends early, at offset %#x inside the kernel page map [%#x, %#x): %d of its %d entries are missing",
				cut, at.pmap, at.pmap+pmapLen*entry, pmapLen-3, pmapLen),
			fmt.Sprintf("the file ends early: 4 of the 4 pages the bitmap marks as dumped are missing (file holds 0 after offset %#x)", at.pages),
		}
		if w := d.Warnings(); strings.Join(w, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: Warnings =\n%q\nwant\n%q", tc.name, w, want)
		}
		_, _, err := d.TranslateKernel(tc.lateVA)
		var np *core.NotPresentError
		wantWhy := fmt.Sprintf("entry %d of the kernel page map is missing because the file ends early (it holds 3 of %d entries)", tc.lateIdx, pmapLen)
		if !errors.As(err, &np) || np.Reason != wantWhy || !np.Virtual {
			t.Errorf("%s: TranslateKernel(%#x) = %v, want %q", tc.name, tc.lateVA, err, wantWhy)
		}
		if tc.s.arch != "amd64" || tc.s.version == 1 {
			// Entry 0 is in the file; its page is not.
			pa, _, err := d.TranslateKernel(tc.s.kernBaseOr())
			if err != nil {
				t.Errorf("%s: entry 0: %v", tc.name, err)
			} else if err := d.ReadPhys(make([]byte, 8), pa); !errors.As(err, &np) || !strings.Contains(np.Reason, "file ends early") {
				t.Errorf("%s: page of entry 0: %v", tc.name, err)
			}
		}
		if got := string(d.MsgBuf()); got != string(tc.s.msgbuf) {
			t.Errorf("%s: MsgBuf = %q", tc.name, got)
		}

		// The page map is missing altogether.
		d = openBytes(t, full[:at.pmap])
		if w := d.Warnings(); len(w) != 2 || !strings.Contains(w[0], fmt.Sprintf("%d of its %d entries are missing", pmapLen, pmapLen)) {
			t.Errorf("%s: no page map: Warnings = %q", tc.name, w)
		}

		// Earlier sections cut short are errors.
		sections := []struct {
			name    string
			off     int
			wantErr string
		}{
			{"page bitmap", at.bitmap + 1, fmt.Sprintf("page bitmap section [%#x, ", at.bitmap)},
			{"message buffer", at.msgbuf + 3, fmt.Sprintf("message buffer section [%#x, %#x) extends past the end of the file (size %#x)",
				at.msgbuf, at.msgbuf+len(tc.s.msgbuf), at.msgbuf+3)},
		}
		if at.bitmap > at.avail {
			sections = append(sections, struct {
				name    string
				off     int
				wantErr string
			}{"dump_avail", at.avail + 16, fmt.Sprintf("dump_avail section [%#x, ", at.avail)})
		}
		for _, sec := range sections {
			_, err := Open(bytes.NewReader(full[:sec.off]))
			if err == nil || !strings.Contains(err.Error(), sec.wantErr) {
				t.Errorf("%s: cut in the %s: Open error %v, want %q", tc.name, sec.name, err, sec.wantErr)
			}
		}
	}
}

// kernBaseOr is the dump's kernbase, or the machine's test default.
func (s *synth) kernBaseOr() uint64 {
	if s.kernBase != 0 {
		return s.kernBase
	}
	switch s.arch {
	case "arm64":
		return aKernBase
	case "i386":
		return iKernBase
	}
	return tKernBase
}
