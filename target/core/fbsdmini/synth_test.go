package fbsdmini

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/kdap/kdap/target/core"
)

const (
	tKernBase = 0xfffffe0000000000
	tDmapBase = 0xfffff80000000000
	tDmapEnd  = 0xfffffc0000000000
)

// synth describes a minidump to build byte by byte from the documented
// layout, independently of the reader.
type synth struct {
	version int
	msgbuf  []byte
	avail   [][2]uint64 // version 3 only
	pfns    []uint64    // dumped pages, ascending
	pmap    []uint64
	content map[uint64][]byte // page contents by pfn (default: stamp)
}

// stamp is the default content of page pfn: every 8-byte word holds
// pfn<<12 | word offset.
func stamp(pfn uint64) []byte {
	b := make([]byte, pageSize)
	for i := 0; i < pageSize; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], pfn<<12|uint64(i))
	}
	return b
}

func pad(b []byte) []byte {
	return append(b, make([]byte, int(roundPage(uint64(len(b))))-len(b))...)
}

// bit numbers pfn the way minidump_machdep.c does for the version.
func (s *synth) bit(pfn uint64) uint64 {
	if s.version < 3 {
		return pfn
	}
	var adj uint64
	for _, r := range s.avail {
		lo, hi := r[0]/pageSize, (r[1]+pageSize-1)/pageSize
		if pfn >= lo && pfn < hi {
			return adj + pfn - lo
		}
		adj += hi - lo
	}
	panic("pfn outside dump_avail in test setup")
}

func (s *synth) build() []byte {
	var bitmap []uint64
	for _, pfn := range s.pfns {
		b := s.bit(pfn)
		for uint64(len(bitmap)) <= b/64 {
			bitmap = append(bitmap, 0)
		}
		bitmap[b/64] |= 1 << (b % 64)
	}
	le := binary.LittleEndian
	hdr := make([]byte, pageSize)
	copy(hdr, Magic)
	le.PutUint32(hdr[24:], uint32(s.version))
	le.PutUint32(hdr[28:], uint32(len(s.msgbuf)))
	le.PutUint32(hdr[32:], uint32(len(bitmap)*8))
	le.PutUint32(hdr[36:], uint32(len(s.pmap)*8))
	le.PutUint64(hdr[40:], tKernBase)
	le.PutUint64(hdr[48:], tDmapBase)
	le.PutUint64(hdr[56:], tDmapEnd)
	var availSec []byte
	if s.version >= 3 {
		for _, r := range s.avail {
			availSec = le.AppendUint64(availSec, r[0])
			availSec = le.AppendUint64(availSec, r[1])
		}
		availSec = append(availSec, make([]byte, 16)...) // terminator
		le.PutUint32(hdr[64:], uint32(len(availSec)))
	}
	out := append([]byte(nil), hdr...)
	out = append(out, pad(append([]byte(nil), s.msgbuf...))...)
	out = append(out, pad(availSec)...)
	var bm []byte
	for _, w := range bitmap {
		bm = le.AppendUint64(bm, w)
	}
	out = append(out, pad(bm)...)
	var pm []byte
	for _, e := range s.pmap {
		pm = le.AppendUint64(pm, e)
	}
	out = append(out, pad(pm)...)
	for _, pfn := range s.pfns {
		if c, ok := s.content[pfn]; ok {
			out = append(out, c...)
		} else {
			out = append(out, stamp(pfn)...)
		}
	}
	return out
}

// smallDump is a dump with two dump_avail ranges, four pages and a page
// map with a 2 MB page and a page table.
func smallDump(version int) *synth {
	pt := make([]byte, pageSize)
	binary.LittleEndian.PutUint64(pt[5*8:], 0x100000|0x3) // dumped page
	binary.LittleEndian.PutUint64(pt[7*8:], 0x1000|0x3)   // page not dumped
	pmap := make([]uint64, 512)
	pmap[0] = 0x200000 | ptePS | 0x3
	pmap[1] = 0x2000 | 0x3
	return &synth{
		version: version,
		msgbuf:  []byte("hello from the message buffer\n"),
		avail:   [][2]uint64{{0, 0x4000}, {0x100000, 0x103000}},
		pfns:    []uint64{0, 2, 0x100, 0x102},
		pmap:    pmap,
		content: map[uint64][]byte{2: pt},
	}
}

func openBytes(t testing.TB, b []byte) *Dump {
	t.Helper()
	d, err := Open(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return d
}

func TestSyntheticReadPhys(t *testing.T) {
	for _, ver := range []int{2, 3} {
		d := openBytes(t, smallDump(ver).build())
		if d.Pages() != 4 {
			t.Errorf("v%d: Pages = %d, want 4", ver, d.Pages())
		}
		tests := []struct {
			pa     uint64
			n      int
			want   uint64 // first word expected
			absent uint64 // when non-zero (or pa 0 with n<0): the missing address
		}{
			{pa: 0x100010, n: 8, want: 0x100010},
			{pa: 0x102ff8, n: 8, want: 0x102ff8},
			{pa: 0x0, n: 8, want: 0},
			{pa: 0x0ff8, n: 16, absent: 0x1000},
			{pa: 0x101000, n: 8, absent: 0x101000},
			{pa: 0x8000, n: 8, absent: 0x8000},
			{pa: 0x7ffff000, n: 8, absent: 0x7ffff000},
		}
		for _, tc := range tests {
			b := make([]byte, tc.n)
			err := d.ReadPhys(b, tc.pa)
			if tc.absent != 0 {
				var np *core.NotPresentError
				if !errors.As(err, &np) || np.Addr != tc.absent || np.Virtual {
					t.Errorf("v%d ReadPhys(%#x): error %v, want *NotPresentError for %#x", ver, tc.pa, err, tc.absent)
				}
				continue
			}
			if err != nil {
				t.Errorf("v%d ReadPhys(%#x): %v", ver, tc.pa, err)
				continue
			}
			if got := binary.LittleEndian.Uint64(b); got != tc.want {
				t.Errorf("v%d ReadPhys(%#x) = %#x, want %#x", ver, tc.pa, got, tc.want)
			}
		}
	}
}

func TestSyntheticTranslate(t *testing.T) {
	for _, ver := range []int{2, 3} {
		d := openBytes(t, smallDump(ver).build())
		tests := []struct {
			va, pa, size uint64
			err          string
			notPresent   bool
		}{
			{va: tKernBase + 0x1234, pa: 0x201234, size: 2 << 20},
			{va: tKernBase + 2<<20 + 5<<12 + 0x10, pa: 0x100010, size: 4096},
			{va: tKernBase + 2<<20 + 7<<12, pa: 0x1000, size: 4096}, // mapped, page not dumped
			{va: tKernBase + 2<<20 + 6<<12, err: "PTE at physical address 0x2030 is not valid", notPresent: true},
			{va: tKernBase + 4<<20, err: "PDE 2 of the kernel page map is not valid", notPresent: true},
			{va: tKernBase + 1<<30, err: "past the kernel page map", notPresent: true},
			{va: tDmapBase + 0x102008, pa: 0x102008, size: 4096},
			{va: 0x400000, err: "neither at or above kernbase", notPresent: true},
			{va: tDmapEnd, err: "neither at or above kernbase", notPresent: true},
		}
		for _, tc := range tests {
			pa, size, err := d.TranslateKernel(tc.va)
			if tc.err != "" {
				var np *core.NotPresentError
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("v%d TranslateKernel(%#x) error %v, want %q", ver, tc.va, err, tc.err)
				} else if tc.notPresent && (!errors.As(err, &np) || !np.Virtual || np.Addr != tc.va) {
					t.Errorf("v%d TranslateKernel(%#x) error %v does not wrap a virtual NotPresentError", ver, tc.va, err)
				}
				continue
			}
			if err != nil || pa != tc.pa || size != tc.size {
				t.Errorf("v%d TranslateKernel(%#x) = %#x, %#x, %v; want %#x, %#x", ver, tc.va, pa, size, err, tc.pa, tc.size)
			}
		}
		if got := string(d.MsgBuf()); got != "hello from the message buffer\n" {
			t.Errorf("MsgBuf = %q", got)
		}
	}
}

func TestSyntheticVersion1(t *testing.T) {
	s := smallDump(1)
	s.pmap = make([]uint64, 512) // PTEs: one per 4 KiB page
	s.pmap[3] = 0x102000 | 0x3
	d := openBytes(t, s.build())
	pa, size, err := d.TranslateKernel(tKernBase + 3<<12 + 0x20)
	if err != nil || pa != 0x102020 || size != 4096 {
		t.Fatalf("TranslateKernel = %#x, %d, %v; want 0x102020, 4096", pa, size, err)
	}
	if _, _, err := d.TranslateKernel(tKernBase + 4<<12); err == nil || !strings.Contains(err.Error(), "PTE 4") {
		t.Errorf("invalid PTE: error %v", err)
	}
}

func TestSyntheticDumpAvail(t *testing.T) {
	d := openBytes(t, smallDump(3).build())
	want := [][2]uint64{{0, 0x4000}, {0x100000, 0x103000}}
	if got := d.DumpAvail(); !reflect.DeepEqual(got, want) {
		t.Errorf("DumpAvail = %#x, want %#x", got, want)
	}
	if got := openBytes(t, smallDump(2).build()).DumpAvail(); got != nil {
		t.Errorf("v2 DumpAvail = %#x, want nil", got)
	}
}

// Many pages spread over many bitmap words exercise the rank table.
func TestSyntheticRank(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, ver := range []int{2, 3} {
		s := &synth{version: ver, pmap: make([]uint64, 512)}
		s.avail = [][2]uint64{{0x1000, 0x9f000}, {0x100000, 0x800000}, {0x1000000, 0x1200000}}
		for _, r := range s.avail {
			for pa := r[0]; pa < r[1]; pa += pageSize {
				if rng.Intn(3) == 0 {
					s.pfns = append(s.pfns, pa/pageSize)
				}
			}
		}
		d := openBytes(t, s.build())
		if d.Pages() != uint64(len(s.pfns)) {
			t.Fatalf("v%d: Pages = %d, want %d", ver, d.Pages(), len(s.pfns))
		}
		var b [8]byte
		for _, pfn := range s.pfns {
			off := uint64(rng.Intn(pageSize/8)) * 8
			if err := d.ReadPhys(b[:], pfn<<12+off); err != nil {
				t.Fatalf("v%d: page %#x: %v", ver, pfn, err)
			}
			if got := binary.LittleEndian.Uint64(b[:]); got != pfn<<12|off {
				t.Fatalf("v%d: pa %#x reads %#x", ver, pfn<<12+off, got)
			}
		}
	}
}

func TestSyntheticCorrupt(t *testing.T) {
	good := smallDump(3).build()
	le := binary.LittleEndian
	tests := []struct {
		name   string
		mutate func(b []byte) []byte
		want   string
	}{
		{"short file", func(b []byte) []byte { return b[:100] }, "shorter than the 4096-byte header page"},
		{"bad magic", func(b []byte) []byte { b[0] = 'M'; return b }, "magic"},
		{"version 4", func(b []byte) []byte { le.PutUint32(b[24:], 4); return b }, "version 4 is not supported"},
		{"bitmapsize 12", func(b []byte) []byte { le.PutUint32(b[32:], 12); return b }, "bitmapsize 12 is not a multiple of 8 (file offset 0x20)"},
		{"pmapsize odd", func(b []byte) []byte { le.PutUint32(b[36:], 4097); return b }, "pmapsize 4097 is not a multiple of 8"},
		{"huge msgbuf", func(b []byte) []byte { le.PutUint32(b[28:], 1<<31); return b }, "msgbufsize 2147483648 exceeds"},
		{"bitmap past end", func(b []byte) []byte { le.PutUint32(b[32:], 0xfffffff8); return b }, "page bitmap section [0x3000, 0x100002ff8) extends past the end of the file"},
		{"truncated pages", func(b []byte) []byte { return b[:len(b)-pageSize] }, "marks 4 pages present, but the file holds only 3"},
		{"dump_avail descending", func(b []byte) []byte { le.PutUint64(b[0x2000+16:], 0); return b }, "entries must ascend"},
		{"dump_avail start above end", func(b []byte) []byte { le.PutUint64(b[0x2000:], 0x5000); return b }, "start 0x5000 is above end 0x4000"},
		{"v3 without dump_avail", func(b []byte) []byte { le.PutUint32(b[64:], 0); return b }, "dumpavailsize 0"},
		{"dmap inverted", func(b []byte) []byte { le.PutUint64(b[48:], tDmapEnd+1); return b }, "dmapbase"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.mutate(append([]byte(nil), good...))
			_, err := Open(bytes.NewReader(b))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// A page table whose entry points back at the page table itself is not a
// loop for a two-level lookup: the PTE page is returned as data.
func TestSyntheticSelfMappedPageTable(t *testing.T) {
	s := smallDump(3)
	binary.LittleEndian.PutUint64(s.content[2][9*8:], 0x2000|0x3)
	d := openBytes(t, s.build())
	pa, _, err := d.TranslateKernel(tKernBase + 2<<20 + 9<<12)
	if err != nil || pa != 0x2000 {
		t.Fatalf("TranslateKernel = %#x, %v; want 0x2000", pa, err)
	}
}

func TestProbeAndRegistry(t *testing.T) {
	b := smallDump(3).build()
	if !Probe(b[:core.ProbeSize]) || Probe([]byte("minidump FreeBSD/i386")) {
		t.Fatal("Probe does not tell amd64 minidumps apart")
	}
	d, err := core.OpenFile(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("core.OpenFile: %v", err)
	}
	if d.Format() != "FreeBSD amd64 minidump v3" {
		t.Errorf("Format = %q", d.Format())
	}
	if _, ok := core.As[core.KernelMapper](d); !ok {
		t.Error("minidump is not a core.KernelMapper")
	}
}

func FuzzMinidumpOpen(f *testing.F) {
	f.Add(smallDump(3).build())
	f.Add(smallDump(2).build())
	f.Add(smallDump(1).build())
	if seed := fixtureHead(f); seed != nil {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Open(bytes.NewReader(data))
		if err != nil {
			if d != nil {
				t.Fatal("Open returned a dump with an error")
			}
			return
		}
		var b [16]byte
		for _, pa := range []uint64{0, 0xff8, 0x100000, 0x2000} {
			_ = d.ReadPhys(b[:], pa)
		}
		for _, va := range []uint64{tKernBase, tKernBase + 2<<20 + 5<<12, 0xffffffff80200000, tDmapBase} {
			_, _, _ = d.TranslateKernel(va)
		}
		_ = d.Info()
	})
}
