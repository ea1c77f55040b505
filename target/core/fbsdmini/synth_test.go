package fbsdmini

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kdap/kdap/target/core"
)

// The machines' test defaults for the header's addresses, from the real
// dumps' headers.
const (
	tKernBase = 0xfffffe0000000000 // amd64
	tDmapBase = 0xfffff80000000000
	tDmapEnd  = 0xfffffc0000000000

	aKernBase = 0xffff000000000000 // arm64
	aDmapPhys = 0x40000000
	aDmapBase = 0xffffa00000000000
	aDmapEnd  = 0xffffff0000000000

	iKernBase = 0x800000 // i386
)

// synth describes a minidump to build byte by byte from the documented
// layout (the machines' minidump.h and minidump_machdep.c), independently
// of the reader.
type synth struct {
	arch    string // "amd64" (the default), "arm64" or "i386"
	pae     bool   // i386: 8-byte PTEs
	version int
	flags   uint32 // arm64 v3
	msgbuf  []byte
	avail   [][2]uint64 // versions with dump_avail only
	pfns    []uint64    // dumped pages, ascending
	pmap    []uint64
	content map[uint64][]byte // page contents by pfn (default: stamp)
	plain   bool              // default page contents are zero, not stamp

	kernBase, dmapPhys, dmapBase, dmapEnd uint64 // zero: the machine's test default

	at layout // where build put the sections
}

// layout is the file offsets of the sections that build wrote.
type layout struct{ msgbuf, avail, bitmap, pmap, pages int }

// hasAvail reports whether the version has a dump_avail section.
func (s *synth) hasAvail() bool {
	switch s.arch {
	case "arm64", "i386":
		return s.version >= 2
	}
	return s.version >= 3
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
	if !s.hasAvail() {
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
	var bm []byte
	for _, w := range bitmap {
		bm = le.AppendUint64(bm, w)
	}
	entry := 8
	if s.arch == "i386" {
		// The i386 kernel writes its bitmap in 32-bit words: drop a
		// trailing all-zero half word, as a bitset of longs could end.
		if len(bm) >= 8 && le.Uint32(bm[len(bm)-4:]) == 0 {
			bm = bm[:len(bm)-4]
		}
		if !s.pae {
			entry = 4
		}
	}
	var pm []byte
	for _, e := range s.pmap {
		if entry == 4 {
			pm = le.AppendUint32(pm, uint32(e))
		} else {
			pm = le.AppendUint64(pm, e)
		}
	}
	var availSec []byte
	if s.hasAvail() {
		for _, r := range s.avail {
			availSec = le.AppendUint64(availSec, r[0])
			availSec = le.AppendUint64(availSec, r[1])
		}
		availSec = append(availSec, make([]byte, 16)...) // terminator
	}
	def := func(v, d uint64) uint64 {
		if v == 0 {
			return d
		}
		return v
	}
	hdr := make([]byte, pageSize)
	le.PutUint32(hdr[24:], uint32(s.version))
	le.PutUint32(hdr[28:], uint32(len(s.msgbuf)))
	le.PutUint32(hdr[32:], uint32(len(bm)))
	le.PutUint32(hdr[36:], uint32(len(pm)))
	switch s.arch {
	case "arm64":
		copy(hdr, MagicARM64)
		le.PutUint64(hdr[40:], def(s.kernBase, aKernBase))
		le.PutUint64(hdr[48:], def(s.dmapPhys, aDmapPhys))
		le.PutUint64(hdr[56:], def(s.dmapBase, aDmapBase))
		le.PutUint64(hdr[64:], def(s.dmapEnd, aDmapEnd))
		if s.hasAvail() {
			le.PutUint32(hdr[72:], uint32(len(availSec)))
		}
		if s.version >= 3 {
			le.PutUint32(hdr[76:], s.flags)
		}
	case "i386":
		copy(hdr, MagicI386)
		le.PutUint32(hdr[40:], uint32(def(s.kernBase, iKernBase)))
		if s.pae {
			le.PutUint32(hdr[44:], 1)
		}
		if s.hasAvail() {
			le.PutUint32(hdr[48:], uint32(len(availSec)))
		}
	default:
		copy(hdr, MagicAMD64)
		le.PutUint64(hdr[40:], def(s.kernBase, tKernBase))
		le.PutUint64(hdr[48:], def(s.dmapBase, tDmapBase))
		le.PutUint64(hdr[56:], def(s.dmapEnd, tDmapEnd))
		if s.hasAvail() {
			le.PutUint32(hdr[64:], uint32(len(availSec)))
		}
	}
	out := append([]byte(nil), hdr...)
	s.at.msgbuf = len(out)
	out = append(out, pad(append([]byte(nil), s.msgbuf...))...)
	s.at.avail = len(out)
	out = append(out, pad(availSec)...)
	s.at.bitmap = len(out)
	out = append(out, pad(bm)...)
	s.at.pmap = len(out)
	out = append(out, pad(pm)...)
	s.at.pages = len(out)
	for _, pfn := range s.pfns {
		if c, ok := s.content[pfn]; ok {
			out = append(out, c...)
		} else if s.plain {
			out = append(out, make([]byte, pageSize)...)
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
		arch:    "amd64",
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
	if Probe([]byte("minidump FreeBSD/riscv")) || Probe([]byte("minidump FreeBSD/")) {
		t.Error("Probe accepts a machine it does not read")
	}
	for _, tc := range []struct {
		s       *synth
		format  string
		machine elf.Machine
	}{
		{smallDump(3), "FreeBSD amd64 minidump v3", elf.EM_X86_64},
		{arm64Dump(2), "FreeBSD arm64 minidump v2", elf.EM_AARCH64},
		{i386Dump(2, true), "FreeBSD i386 minidump v2", elf.EM_386},
		{i386Dump(1, false), "FreeBSD i386 minidump v1", elf.EM_386},
	} {
		b := tc.s.build()
		if !Probe(b[:core.ProbeSize]) {
			t.Errorf("%s: Probe rejects it", tc.format)
		}
		d, err := core.OpenFile(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("core.OpenFile: %v", err)
		}
		if d.Format() != tc.format {
			t.Errorf("Format = %q, want %q", d.Format(), tc.format)
		}
		if _, ok := core.As[core.KernelMapper](d); !ok {
			t.Errorf("%s is not a core.KernelMapper", tc.format)
		}
		if m, ok := core.As[core.Machiner](d); !ok || m.Machine() != tc.machine {
			t.Errorf("%s: Machine = %v, want %v", tc.format, m, tc.machine)
		}
		if w, ok := core.As[core.Warner](d); !ok || len(w.Warnings()) != 0 {
			t.Errorf("%s: intact dump warns %v", tc.format, w)
		}
	}
	var names []string
	for _, f := range core.Formats() {
		names = append(names, f.Name)
	}
	for _, want := range []string{"FreeBSD amd64 minidump", "FreeBSD arm64 minidump", "FreeBSD i386 minidump"} {
		if !slices.Contains(names, want) {
			t.Errorf("formats %q lack %q", names, want)
		}
	}
}

// sparseFile is a core.File put together from chunks of bytes at offsets;
// bytes that no chunk covers read as zero, and later chunks win. It lets a
// fuzz input describe a minidump, whose sections are page-aligned and
// mostly zero padding, in a few hundred bytes, which keeps the fuzzer's
// minimization of new inputs (and so its exec rate) fast.
type sparseFile struct {
	size   int64
	chunks []sparseChunk
}

type sparseChunk struct {
	off int64
	b   []byte
}

// maxSparseOff bounds chunk offsets, and so file sizes, to keep each
// fuzz exec's allocations (bitmap, message buffer) small.
const maxSparseOff = 1 << 20

func (f *sparseFile) add(off int64, b []byte) {
	f.chunks = append(f.chunks, sparseChunk{off, b})
	f.size = max(f.size, off+int64(len(b)))
}

func (f *sparseFile) Size() int64 { return f.size }

func (f *sparseFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset %d", off)
	}
	if off >= f.size {
		return 0, io.EOF
	}
	n := min(int64(len(p)), f.size-off)
	clear(p[:n])
	for _, c := range f.chunks {
		lo, hi := max(off, c.off), min(off+n, c.off+int64(len(c.b)))
		if lo < hi {
			copy(p[lo-off:hi-off], c.b[lo-c.off:hi-c.off])
		}
	}
	if n < int64(len(p)) {
		return int(n), io.EOF
	}
	return int(n), nil
}

// decodeSparse reads a fuzz input as chunks: each a little-endian u32
// offset (modulo maxSparseOff), a u16 length, then that many bytes (fewer
// at the input's end). Any input is a valid file.
func decodeSparse(data []byte) *sparseFile {
	f := &sparseFile{}
	for len(data) >= 6 {
		off := int64(binary.LittleEndian.Uint32(data) % maxSparseOff)
		n := min(int(binary.LittleEndian.Uint16(data[4:])), len(data)-6)
		f.add(off, data[6:6+n])
		data = data[6+n:]
	}
	return f
}

// encodeSparse writes file as decodeSparse reads it: the non-zero part of
// each page, then the last byte, which fixes the size.
func encodeSparse(file []byte) []byte {
	var out []byte
	chunk := func(off int, b []byte) {
		out = binary.LittleEndian.AppendUint32(out, uint32(off))
		out = binary.LittleEndian.AppendUint16(out, uint16(len(b)))
		out = append(out, b...)
	}
	for off := 0; off < len(file); off += pageSize {
		page := bytes.TrimRight(file[off:min(off+pageSize, len(file))], "\x00")
		if len(page) > 0 {
			chunk(off, page)
		}
	}
	if len(file) > 0 {
		chunk(len(file)-1, file[len(file)-1:])
	}
	return out
}

func TestSparseFile(t *testing.T) {
	for _, file := range [][]byte{smallDump(3).build(), arm64Dump(1).build(), i386Dump(2, true).build()[:5*pageSize+17]} {
		f := decodeSparse(encodeSparse(file))
		if f.Size() != int64(len(file)) {
			t.Fatalf("size %d, want %d", f.Size(), len(file))
		}
		got := make([]byte, len(file)+10)
		n, err := f.ReadAt(got, 0)
		if n != len(file) || err != io.EOF || !bytes.Equal(got[:n], file) {
			t.Fatalf("ReadAt = %d, %v; bytes equal %v", n, err, bytes.Equal(got[:n], file))
		}
	}
}

// FuzzMinidumpOpen opens arbitrary files (described as decodeSparse reads
// them) as minidumps of each machine (arch picks the magic stamped over
// the first bytes: amd64, arm64, i386, or the file's own) and reads and
// translates a few addresses.
func FuzzMinidumpOpen(f *testing.F) {
	// Seeds are kept small: page contents zero (but for page tables), and
	// only the first page of the arm64 page map.
	var seeds [][]byte
	for _, s := range []*synth{smallDump(1), smallDump(2), smallDump(3), arm64Dump(1), arm64Dump(2), arm64Dump(3),
		i386Dump(1, false), i386Dump(2, false), i386Dump(2, true)} {
		s.plain = true
		if s.arch == "arm64" {
			s.pmap = s.pmap[:512]
		}
		seeds = append(seeds, encodeSparse(s.build()))
	}
	cut := arm64Dump(2)
	cut.plain, cut.pmap = true, cut.pmap[:512]
	full := cut.build()
	seeds = append(seeds, encodeSparse(full[:len(full)-pageSize-7]), encodeSparse(full[:cut.at.pmap+20]))
	if seed := fixtureHead(f); seed != nil {
		// Its message buffer text is of no use to the fuzzer.
		msg := int(roundPage(uint64(binary.LittleEndian.Uint32(seed[28:]))))
		clear(seed[pageSize:min(len(seed), pageSize+msg)])
		seeds = append(seeds, encodeSparse(seed))
	}
	for _, head := range lldbHeads() {
		seeds = append(seeds, encodeSparse(head))
	}
	for i, s := range seeds {
		if len(s) > 8<<10 {
			f.Fatalf("fuzz seed %d is %d bytes; keep seeds small", i, len(s))
		}
		f.Add(uint8(3), s)
	}
	magics := []string{MagicAMD64, MagicARM64, MagicI386}
	f.Fuzz(func(t *testing.T, arch uint8, data []byte) {
		file := decodeSparse(data)
		if i := int(arch % 4); i < 3 {
			m := make([]byte, magicLen)
			copy(m, magics[i])
			file.add(0, m)
		}
		d, err := Open(file)
		if err != nil {
			if d != nil {
				t.Fatal("Open returned a dump with an error")
			}
			return
		}
		var b [16]byte
		for _, pa := range []uint64{0, 0xff8, 0x100000, 0x2000, 0x40000000, 0x40100ff8, 1<<64 - 8} {
			_ = d.ReadPhys(b[:], pa)
		}
		for _, va := range []uint64{tKernBase, tKernBase + 2<<20 + 5<<12, 0xffffffff80200000, tDmapBase,
			aKernBase, aKernBase + 2<<20 + 0x2010, aDmapBase + 0x100010, aDmapEnd - 8,
			iKernBase, iKernBase + 3<<12, 0xfffff000, 1<<64 - 1} {
			pa, size, err := d.TranslateKernel(va)
			if err == nil && size != pageSize && size != 1<<pdrShift {
				t.Fatalf("TranslateKernel(%#x) = %#x with page size %#x", va, pa, size)
			}
			if err == nil {
				_ = d.ReadPhys(b[:], pa)
			}
		}
		if d.MissingPages() > d.Pages() {
			t.Fatalf("MissingPages %d > Pages %d", d.MissingPages(), d.Pages())
		}
		_ = d.Info()
		_ = d.Warnings()
		_ = d.Format()
	})
}
