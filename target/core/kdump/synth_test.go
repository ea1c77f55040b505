package kdump

// Unit tests on small synthetic files: they cover parser edge cases and
// every compression; the fixture tests check real QEMU dumps.

import (
	"bytes"
	"compress/zlib"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/kdap/kdap/target/core"
)

// cField is one C struct member: size and alignment in bytes on LP64.
type cField struct {
	name        string
	size, align int
}

// cLayout computes member offsets and the struct size by the C rules.
func cLayout(fields []cField) (map[string]int, int) {
	off, maxAlign := 0, 1
	m := map[string]int{}
	for _, f := range fields {
		off = (off + f.align - 1) / f.align * f.align
		m[f.name] = off
		off += f.size
		maxAlign = max(maxAlign, f.align)
	}
	return m, (off + maxAlign - 1) / maxAlign * maxAlign
}

// diskDumpHeader is struct disk_dump_header as diskdump_mod.h declares it
// (struct new_utsname is six char[65]; struct timeval two longs).
var diskDumpHeader = []cField{
	{"signature", 8, 1}, {"header_version", 4, 4}, {"utsname", 6 * 65, 1}, {"timestamp", 16, 8},
	{"status", 4, 4}, {"block_size", 4, 4}, {"sub_hdr_size", 4, 4}, {"bitmap_blocks", 4, 4},
	{"max_mapnr", 4, 4}, {"total_ram_blocks", 4, 4}, {"device_blocks", 4, 4}, {"written_blocks", 4, 4},
	{"current_cpu", 4, 4}, {"nr_cpus", 4, 4}, {"tasks", 0, 8},
}

// kdumpSubHeader is struct kdump_sub_header (off_t and long are 8 bytes).
var kdumpSubHeader = []cField{
	{"phys_base", 8, 8}, {"dump_level", 4, 4}, {"split", 4, 4}, {"start_pfn", 8, 8}, {"end_pfn", 8, 8},
	{"offset_vmcoreinfo", 8, 8}, {"size_vmcoreinfo", 8, 8}, {"offset_note", 8, 8}, {"size_note", 8, 8},
	{"offset_eraseinfo", 8, 8}, {"size_eraseinfo", 8, 8}, {"start_pfn_64", 8, 8}, {"end_pfn_64", 8, 8},
	{"max_mapnr_64", 8, 8},
}

var (
	hdrOff, hdrSize = cLayout(diskDumpHeader)
	subOff, subSize = cLayout(kdumpSubHeader)
)

func TestLayout(t *testing.T) {
	tests := []struct {
		name      string
		got, want int
	}{
		{"sizeof(disk_dump_header)", headerSize, hdrSize},
		{"timestamp", timestampOff, hdrOff["timestamp"]},
		{"status", statusOff, hdrOff["status"]},
		{"sizeof(kdump_sub_header)", subHeaderSize, subSize},
		{"sizeof(page_desc)", pageDescSize, 24},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}

// synthPage is one page the synthetic dump holds.
type synthPage struct {
	pfn  uint64
	data []byte
	comp uint32 // descriptor flags
}

// synth describes a synthetic kdump file.
type synth struct {
	bs         int
	version    int32
	status     uint32
	pages      []synthPage // in pfn order
	excluded   []uint64    // set in the 1st bitmap only
	vmcoreinfo string
	notes      []byte
	maxMapnr   uint64
}

// lzoLiterals encodes b as one LZO1X literal run and the end-of-stream
// marker (instruction 0 with a zero-extended length, then M4 0x11 0 0),
// per the LZO1X stream format; len(b) must be at least 19.
func lzoLiterals(b []byte) []byte {
	rem := len(b) - 18
	z := (rem - 1) / 255
	out := []byte{0}
	out = append(out, make([]byte, z)...)
	out = append(out, byte(rem-255*z))
	out = append(out, b...)
	return append(out, 0x11, 0, 0)
}

func compress(t testing.TB, b []byte, flags uint32) []byte {
	switch flags {
	case 0:
		return b
	case FlagZlib:
		var buf bytes.Buffer
		w := zlib.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	case FlagLZO:
		return lzoLiterals(b)
	case FlagSnappy:
		return s2.EncodeSnappy(nil, b)
	case FlagZstd:
		e, err := zstd.NewWriter(nil)
		if err != nil {
			t.Fatal(err)
		}
		return e.EncodeAll(b, nil)
	}
	t.Fatalf("unknown compression %#x", flags)
	return nil
}

// build writes the file: header, sub-header block(s) holding the notes and
// VMCOREINFO, two bitmaps of one block each, descriptors, page data.
func (s synth) build(t testing.TB) []byte {
	bs := s.bs
	le := binary.LittleEndian
	subBlocks := 2
	bitmapBlocks := 2
	descOff := (1 + subBlocks + bitmapBlocks) * bs
	dataOff := descOff + len(s.pages)*24
	f := make([]byte, dataOff)
	copy(f, "KDUMP   ")
	le.PutUint32(f[hdrOff["header_version"]:], uint32(s.version))
	uts := f[hdrOff["utsname"]:]
	for i, v := range []string{"Linux", "synth", "6.1.0-test", "#1 SMP", "x86_64", "(none)"} {
		copy(uts[i*65:], v)
	}
	le.PutUint64(f[hdrOff["timestamp"]:], 1763900000)
	put32 := func(name string, v uint32) { le.PutUint32(f[hdrOff[name]:], v) }
	put32("status", s.status)
	put32("block_size", uint32(bs))
	put32("sub_hdr_size", uint32(subBlocks))
	put32("bitmap_blocks", uint32(bitmapBlocks))
	put32("max_mapnr", uint32(s.maxMapnr))
	put32("nr_cpus", 2)
	put32("current_cpu", 1)
	sub := f[bs:]
	put64 := func(name string, v uint64) { le.PutUint64(sub[subOff[name]:], v) }
	put64("phys_base", 0x1000000)
	le.PutUint32(sub[subOff["dump_level"]:], 31)
	notesAt := bs + subSize
	copy(f[notesAt:], s.notes)
	put64("offset_note", uint64(notesAt))
	put64("size_note", uint64(len(s.notes)))
	viAt := notesAt + len(s.notes)
	copy(f[viAt:], s.vmcoreinfo)
	put64("offset_vmcoreinfo", uint64(viAt))
	put64("size_vmcoreinfo", uint64(len(s.vmcoreinfo)))
	put64("max_mapnr_64", s.maxMapnr)
	bm1 := f[(1+subBlocks)*bs:]
	bm2 := f[(2+subBlocks)*bs:]
	for _, pfn := range s.excluded {
		bm1[pfn/8] |= 1 << (pfn % 8)
	}
	for _, p := range s.pages {
		bm1[p.pfn/8] |= 1 << (p.pfn % 8)
		bm2[p.pfn/8] |= 1 << (p.pfn % 8)
	}
	for i, p := range s.pages {
		c := compress(t, p.data, p.comp)
		d := f[descOff+24*i:]
		le.PutUint64(d, uint64(len(f)))
		le.PutUint32(d[8:], uint32(len(c)))
		le.PutUint32(d[12:], p.comp)
		f = append(f, c...)
	}
	return f
}

// realBytes returns n bytes of this test binary starting at a page-aligned
// offset derived from seed: real machine code and data, not a pattern.
func realBytes(t testing.TB, seed, n int) []byte {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	off := (seed * 7919 * n) % (len(b) - n)
	return b[off : off+n : off+n]
}

type memFile struct{ *bytes.Reader }

func (m memFile) Size() int64 { return m.Reader.Size() }

func file(b []byte) core.File { return memFile{bytes.NewReader(b)} }

func standard(t testing.TB, bs int) synth {
	s := synth{bs: bs, version: 6, status: FlagZlib, maxMapnr: 200,
		vmcoreinfo: "OSRELEASE=6.1.0-test\nPAGESIZE=4096\n",
		excluded:   []uint64{2, 150}}
	for i, c := range []uint32{0, FlagZlib, FlagLZO, FlagSnappy, FlagZstd, FlagZlib} {
		pfn := []uint64{0, 1, 3, 64, 130, 199}[i]
		s.pages = append(s.pages, synthPage{pfn: pfn, data: realBytes(t, i+1, bs), comp: c})
	}
	// Two PRSTATUS notes and a VMCOREINFO note, as QEMU writes them.
	s.notes = append(s.notes, note("CORE", 1, bytes.Repeat([]byte{1}, 336))...)
	s.notes = append(s.notes, note("CORE", 1, bytes.Repeat([]byte{2}, 336))...)
	s.notes = append(s.notes, note("VMCOREINFO", 0, []byte(s.vmcoreinfo))...)
	return s
}

// note encodes one ELF note with 4-byte padding.
func note(owner string, typ uint32, desc []byte) []byte {
	pad := func(b []byte) []byte { return append(b, make([]byte, (4-len(b)%4)%4)...) }
	var h [12]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(len(owner)+1))
	binary.LittleEndian.PutUint32(h[4:], uint32(len(desc)))
	binary.LittleEndian.PutUint32(h[8:], typ)
	out := append(h[:], pad(append([]byte(owner), 0))...)
	return append(out, pad(append([]byte(nil), desc...))...)
}

func TestReadPages(t *testing.T) {
	s := standard(t, 4096)
	d, err := Open(file(s.build(t)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range s.pages {
		got := make([]byte, s.bs)
		if err := d.ReadPhys(got, p.pfn*uint64(s.bs)); err != nil {
			t.Errorf("pfn %d (flags %#x): %v", p.pfn, p.comp, err)
			continue
		}
		if !bytes.Equal(got, p.data) {
			t.Errorf("pfn %d (flags %#x): bytes differ", p.pfn, p.comp)
		}
	}
	// A read across two dumped pages (pfn 0 and 1) joins them.
	got := make([]byte, 100)
	if err := d.ReadPhys(got, uint64(s.bs)-50); err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte(nil), s.pages[0].data[s.bs-50:]...), s.pages[1].data[:50]...)
	if !bytes.Equal(got, want) {
		t.Error("read across pages 0 and 1 differs")
	}
	if d.DumpedPages() != uint64(len(s.pages)) {
		t.Errorf("DumpedPages = %d, want %d", d.DumpedPages(), len(s.pages))
	}
	if string(d.VMCOREINFO()) != s.vmcoreinfo {
		t.Errorf("VMCOREINFO = %q", d.VMCOREINFO())
	}
	if regs := d.CPURegisters(); len(regs) != 2 || regs[1][0] != 2 {
		t.Errorf("CPURegisters: %d notes", len(regs))
	}
	h := d.Header()
	if h.Release != "6.1.0-test" || h.Machine != "x86_64" || h.NrCPUs != 2 || h.CurrentCPU != 1 || d.SubHeader().PhysBase != 0x1000000 || d.SubHeader().DumpLevel != 31 {
		t.Errorf("header %+v sub-header %+v", h, d.SubHeader())
	}
}

func TestNotPresent(t *testing.T) {
	s := standard(t, 4096)
	d, err := Open(file(s.build(t)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pfn    uint64
		reason string
	}{
		{2, "excluded by makedumpfile's dump level"},
		{150, "excluded by makedumpfile's dump level"},
		{4, "not in the dump"},
		{1 << 40, "not in the dump"},
	}
	for _, tt := range tests {
		pa := tt.pfn*4096 + 8
		err := d.ReadPhys(make([]byte, 8), pa)
		var np *core.NotPresentError
		if !errors.As(err, &np) || np.Reason != tt.reason || np.Addr != pa {
			t.Errorf("pfn %d: %v, want NotPresentError at %#x with reason %q", tt.pfn, err, pa, tt.reason)
		}
	}
}

func TestCorruptPage(t *testing.T) {
	for _, comp := range []uint32{FlagZlib, FlagLZO, FlagSnappy, FlagZstd} {
		s := standard(t, 4096)
		for i := range s.pages {
			s.pages[i].comp = comp
		}
		b := s.build(t)
		// Damage the compressed data of the third page (pfn 3).
		le := binary.LittleEndian
		descOff := 5 * 4096
		off := le.Uint64(b[descOff+2*24:])
		size := le.Uint32(b[descOff+2*24+8:])
		for i := uint64(0); i < uint64(size); i += 3 {
			b[off+i] ^= 0x5a
		}
		if comp == FlagLZO { // literal bytes carry no check: break the length instead
			b[off+1] = 0xff
		}
		d, err := Open(file(b))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.ReadPhys(make([]byte, 4096), 3*4096); err == nil || !strings.Contains(err.Error(), "kdump page 0x3") {
			t.Errorf("flags %#x: corrupted page read gives %v", comp, err)
		}
		for _, p := range s.pages {
			if p.pfn == 3 {
				continue
			}
			got := make([]byte, 4096)
			if err := d.ReadPhys(got, p.pfn*4096); err != nil || !bytes.Equal(got, p.data) {
				t.Errorf("flags %#x: pfn %d next to a corrupted page: %v", comp, p.pfn, err)
			}
		}
	}
}

func TestHeaderErrors(t *testing.T) {
	le := binary.LittleEndian
	tests := []struct {
		name  string
		patch func(b []byte) []byte
		want  string
	}{
		{"signature", func(b []byte) []byte { copy(b, "KDUMPXXX"); return b }, "signature"},
		{"block size", func(b []byte) []byte { le.PutUint32(b[hdrOff["block_size"]:], 3000); return b }, "block_size 3000 is not a power of two"},
		{"odd bitmap", func(b []byte) []byte { le.PutUint32(b[hdrOff["bitmap_blocks"]:], 3); return b }, "bitmap_blocks 3"},
		{"bitmap past end", func(b []byte) []byte { le.PutUint32(b[hdrOff["bitmap_blocks"]:], 1<<20); return b }, "run past the end"},
		{"descriptors past end", func(b []byte) []byte { return b[:5*4096+40] }, "page descriptors: 6 descriptors"},
		{"vmcoreinfo too big", func(b []byte) []byte { le.PutUint64(b[4096+subOff["size_vmcoreinfo"]:], 1<<40); return b }, "VMCOREINFO: size"},
		{"note past end", func(b []byte) []byte { le.PutUint64(b[4096+subOff["offset_note"]:], 1<<40); return b }, "kdump notes"},
		{"short", func(b []byte) []byte { return b[:100] }, "header: reading 464 bytes"},
		{"version 0", func(b []byte) []byte { le.PutUint32(b[8:], 0); return b }, "header_version 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.patch(standard(t, 4096).build(t))
			_, err := Open(file(b))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestBadDescriptor(t *testing.T) {
	le := binary.LittleEndian
	tests := []struct {
		name  string
		patch func(d []byte)
		want  string
	}{
		{"size zero", func(d []byte) { le.PutUint32(d[8:], 0) }, "size 0 is not in"},
		{"size huge", func(d []byte) { le.PutUint32(d[8:], 1<<30) }, "size 1073741824"},
		{"offset past end", func(d []byte) { le.PutUint64(d, 1<<50) }, "run outside"},
		{"two compressions", func(d []byte) { le.PutUint32(d[12:], FlagZlib|FlagZstd) }, "more than one compression"},
		{"raw wrong size", func(d []byte) { le.PutUint32(d[12:], 0); le.PutUint32(d[8:], 100) }, "uncompressed page of 100 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := standard(t, 4096).build(t)
			tt.patch(b[5*4096+24:]) // pfn 1's descriptor
			d, err := Open(file(b))
			if err != nil {
				t.Fatal(err)
			}
			if err := d.ReadPhys(make([]byte, 1), 4096); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if err := d.ReadPhys(make([]byte, 1), 0); err != nil {
				t.Errorf("pfn 0 beside a bad descriptor: %v", err)
			}
		})
	}
}

// flatten writes b as a flattened stream in chunks of random sizes, out of
// order, with some ranges written twice (stale data first, then the real
// bytes), as the format allows.
func flatten(b []byte, seed int64) []byte {
	r := rand.New(rand.NewSource(seed))
	out := make([]byte, flatHeaderSize)
	copy(out, "makedumpfile")
	binary.BigEndian.PutUint64(out[16:], 1)
	binary.BigEndian.PutUint64(out[24:], 1)
	rec := func(off int, data []byte) {
		var h [16]byte
		binary.BigEndian.PutUint64(h[0:], uint64(off))
		binary.BigEndian.PutUint64(h[8:], uint64(len(data)))
		out = append(append(out, h[:]...), data...)
	}
	type chunk struct{ off, n int }
	var chunks []chunk
	for off := 0; off < len(b); {
		n := min(1+r.Intn(9000), len(b)-off)
		chunks = append(chunks, chunk{off, n})
		off += n
	}
	r.Shuffle(len(chunks), func(i, j int) { chunks[i], chunks[j] = chunks[j], chunks[i] })
	for i, c := range chunks {
		if i%3 == 0 { // stale bytes that a later record overwrites
			rec(max(0, c.off-10), bytes.Repeat([]byte{0xee}, c.n+20)[:min(c.n+20, len(b)-max(0, c.off-10))])
		}
	}
	for _, c := range chunks {
		rec(c.off, b[c.off:c.off+c.n])
	}
	var end [16]byte
	for i := range end {
		end[i] = 0xff
	}
	return append(out, end[:]...)
}

func TestFlattened(t *testing.T) {
	s := standard(t, 4096)
	raw := s.build(t)
	for seed := int64(1); seed <= 5; seed++ {
		fb := flatten(raw, seed)
		fl, err := NewFlat(file(fb))
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, fl.Size())
		if n, err := fl.ReadAt(got, 0); n != len(raw) || err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("seed %d: rearranged %d bytes (%v), want the %d original bytes", seed, n, err, len(raw))
		}
		d, err := core.OpenFile(file(fb))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(d.Format(), "flattened") {
			t.Errorf("Format = %q", d.Format())
		}
		for _, p := range s.pages {
			page := make([]byte, 4096)
			if err := d.ReadPhys(page, p.pfn*4096); err != nil || !bytes.Equal(page, p.data) {
				t.Errorf("seed %d pfn %d: %v", seed, p.pfn, err)
			}
		}
	}
}

func TestFlattenedErrors(t *testing.T) {
	good := flatten(standard(t, 4096).build(t), 1)
	be := binary.BigEndian
	tests := []struct {
		name  string
		patch func(b []byte) []byte
		want  string
	}{
		{"no end marker", func(b []byte) []byte { return b[:len(b)-16] }, "no end marker"},
		{"version", func(b []byte) []byte { be.PutUint64(b[24:], 2); return b }, "version 2, want 1"},
		{"negative offset", func(b []byte) []byte { be.PutUint64(b[4096:], 1<<63); return b }, "record 0 at file offset 0x1000"},
		{"data past end", func(b []byte) []byte { be.PutUint64(b[4096+8:], uint64(len(b))); return b }, "run past the end"},
		{"not a dump inside", func(b []byte) []byte {
			return flatten(bytes.Repeat([]byte("text"), 100), 1)
		}, "neither a kdump nor an ELF header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.patch(append([]byte(nil), good...))
			_, err := OpenFlattened(file(b))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestProbe(t *testing.T) {
	raw := standard(t, 4096).build(t)
	d, err := core.OpenFile(file(raw))
	if err != nil {
		t.Fatal(err)
	}
	if d.Format() != "Linux kdump-compressed" {
		t.Errorf("Format = %q", d.Format())
	}
	if _, ok := core.As[core.CPUNotes](d); !ok {
		t.Error("kdump dump does not offer CPUNotes")
	}
	info := map[string]string{}
	for _, f := range d.Info() {
		info[f.Name] = f.Value
	}
	for k, v := range map[string]string{"release": "6.1.0-test", "machine": "x86_64", "compression": "zlib", "block size": "4096", "max_mapnr": "200", "dumped pages": "6", "nr_cpus": "2"} {
		if info[k] != v {
			t.Errorf("Info %s = %q, want %q", k, info[k], v)
		}
	}
}

func fuzzSeed(t testing.TB) []byte {
	s := standard(t, 1024)
	for i := range s.pages {
		s.pages[i].data = s.pages[i].data[:1024]
	}
	s.pages = s.pages[:4]
	return s.build(t)
}

func FuzzKdumpHeader(f *testing.F) {
	seed := fuzzSeed(f)
	f.Add(seed)
	f.Add(seed[:1024*5+24*2])
	// The real dumps' headers, sub-headers, notes and VMCOREINFO.
	for _, b := range testfixture.LinuxPrefixes("vmcore.kdump", 3*4096) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Open(file(b))
		if err != nil {
			return
		}
		_ = d.Info()
		buf := make([]byte, 1024)
		for pfn := uint64(0); pfn < 260; pfn++ {
			_ = d.ReadPhys(buf, pfn*d.PageSize())
		}
	})
}

func FuzzFlattened(f *testing.F) {
	f.Add(flatten(fuzzSeed(f), 1))
	f.Add(flatten([]byte("\x7fELF"), 2))
	// Size fields far beyond the records (see TestHostileSizesAllocation),
	// and records written backwards.
	f.Add(flatStream([]flatRecord{{0, hostileHeader(262144)}, {3 << 30, []byte{1}}}))
	var back []flatRecord
	for off := uint64(64); off > 0; off-- {
		back = append(back, flatRecord{8192 + off*3, []byte{1, 2, 3, 4}})
	}
	f.Add(flatStream(append(back, flatRecord{0, hostileHeader(2)})))
	for _, b := range testfixture.LinuxPrefixes("vmcore.kdump-flat", 16<<10) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fl, err := NewFlat(file(b))
		if err != nil {
			return
		}
		if fl.Size() < 0 {
			t.Fatalf("negative size %d", fl.Size())
		}
		buf := make([]byte, 512)
		for off := int64(0); off < min(fl.Size(), 1<<16); off += 300 {
			_, _ = fl.ReadAt(buf, off)
		}
		if d, err := OpenFlattened(file(b)); err == nil {
			_ = d.ReadPhys(buf, 0)
		}
	})
}

// TestFlattenedELF opens an ELF core carried in a flattened stream (what
// makedumpfile -F writes for ELF output) through the ELF reader.
func TestFlattenedELF(t *testing.T) {
	data := realBytes(t, 9, 4096)
	var buf bytes.Buffer
	hdr := elf.Header64{Type: uint16(elf.ET_CORE), Machine: uint16(elf.EM_X86_64), Version: 1,
		Phoff: 64, Ehsize: 64, Phentsize: 56, Phnum: 1}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS], hdr.Ident[elf.EI_DATA], hdr.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), 1
	binary.Write(&buf, binary.LittleEndian, hdr)
	binary.Write(&buf, binary.LittleEndian, elf.Prog64{Type: uint32(elf.PT_LOAD), Off: 4096, Paddr: 0x100000, Filesz: 4096, Memsz: 4096})
	raw := append(append(buf.Bytes(), make([]byte, 4096-buf.Len())...), data...)
	d, err := core.OpenFile(file(flatten(raw, 3)))
	if err != nil {
		t.Fatal(err)
	}
	if d.Format() != "ELF core (physical memory)" {
		t.Errorf("Format = %q", d.Format())
	}
	got := make([]byte, 4096)
	if err := d.ReadPhys(got, 0x100000); err != nil || !bytes.Equal(got, data) {
		t.Errorf("page at 0x100000: %v", err)
	}
}

// TestConcurrentReads reads every page from many goroutines at once, more
// pages than the cache holds, so evictions race with hits.
func TestConcurrentReads(t *testing.T) {
	s := standard(t, 1024)
	s.pages = nil
	for pfn := uint64(0); pfn < 200; pfn += 2 {
		s.pages = append(s.pages, synthPage{pfn: pfn, data: realBytes(t, int(pfn)+1, 1024), comp: FlagZlib})
	}
	d, err := Open(file(s.build(t)))
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func(g int) {
			buf := make([]byte, 1024)
			for i := range 3 * len(s.pages) {
				p := s.pages[(i*7+g)%len(s.pages)]
				if err := d.ReadPhys(buf, p.pfn*1024); err != nil || !bytes.Equal(buf, p.data) {
					errs <- fmt.Errorf("goroutine %d pfn %d: %v", g, p.pfn, err)
					return
				}
			}
			errs <- nil
		}(g)
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
