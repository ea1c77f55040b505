// Package fbsdmini reads FreeBSD minidumps, the default kernel crash dump
// format of FreeBSD, of amd64 (versions 1 to 3), arm64 (versions 1 to 3,
// 4 KiB pages) and i386 (versions 1 and 2, PAE or not) machines: the
// kernel's page map plus only the physical pages the kernel had mapped.
//
// A minidump is laid out in page-aligned sections: the header page, the
// message buffer, dump_avail (amd64 v3, arm64 v2 and later, i386 v2), the
// page bitmap, the kernel page map, then every page whose bitmap bit is
// set, in bit order. Dumps with dump_avail number bitmap bits
// consecutively across its ranges; older ones use the physical page
// number. The page map differs by machine:
//
//   - amd64: a page of PDEs per GiB of kernel address space from kernbase
//     (PTEs in version 1); see amd64.go.
//   - arm64: a page of L3 descriptors per 2 MiB from kernbase, blocks
//     written out as fake L3 pages, plus a direct map; see arm64.go.
//   - i386: a page of PTEs per 4 MiB (2 MiB with PAE) from kernbase,
//     superpages written out as fake PTEs, and no direct map; see i386.go.
//
// A file that ends among the dumped pages still opens: the pages it lacks
// read as absent (but the bytes it holds of a page it ends inside) and
// Warnings says how many. So does a file that ends inside the page map,
// whose missing entries translate to nothing.
package fbsdmini

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sort"

	"github.com/kdap/kdap/target/core"
)

// The magic strings a minidump's header starts with, one per machine.
const (
	MagicAMD64 = "minidump FreeBSD/amd64"
	MagicARM64 = "minidump FreeBSD/arm64"
	MagicI386  = "minidump FreeBSD/i386"
)

const (
	pageSize  = 4096
	pageShift = 12
	magicLen  = 24 // char magic[24]
	headerLen = 80 // bytes decoded: the largest struct minidumphdr (arm64 v3)

	// Limits beyond which a size field is taken as corrupt rather than
	// trusted for an allocation.
	maxMsgBufSize    = 64 << 20
	maxDumpAvailSize = 1 << 20

	// rankBlock is how many bitmap words share one cumulative count.
	rankBlock = 8
)

// Header is the decoded struct minidumphdr. Fields that the machine's or
// version's header lacks are zero.
type Header struct {
	Arch          string // "amd64", "arm64" or "i386", from the magic
	Version       uint32 // format version
	MsgBufSize    uint32 // bytes of message buffer
	BitmapSize    uint32 // bytes of page bitmap
	PmapSize      uint32 // bytes of kernel page map (i386: ptesize)
	KernBase      uint64 // first VA the page map covers
	DmapPhys      uint64 // arm64: physical address at the start of the direct map
	DmapBase      uint64 // start of the direct map (amd64, arm64)
	DmapEnd       uint64 // end of the direct map (amd64, arm64)
	DumpAvailSize uint32 // bytes of dump_avail, in versions that have it
	PAEMode       uint32 // i386: non-zero when the page map holds 8-byte PAE PTEs
	Flags         uint32 // arm64 v3: MINIDUMP_FLAG_PS_* page-size flags
}

// arch is what differs between the machines' minidumps.
type arch struct {
	name    string
	magic   string
	machine elf.Machine
	// bitmapWord is the size of the words the kernel writes the bitmap
	// in; bitmapsize must be a multiple of it.
	bitmapWord uint32
	// pmapName names the header's page-map size field.
	pmapName string
	// availOff is the file offset of the header's dumpavailsize field.
	availOff int
	// decode reads and checks the machine's header fields from the
	// header page's first headerLen bytes (magic already matched).
	decode func(raw []byte) (Header, error)
	// hasDumpAvail reports whether a version has a dump_avail section.
	hasDumpAvail func(version uint32) bool
	// entrySize is the size of one page-map entry.
	entrySize func(h Header) uint64
	// translate maps a kernel VA through the dump's maps.
	translate func(d *Dump, va uint64) (uint64, uint64, error)
	// info lists the machine's own header fields, after the common ones.
	info func(h Header) []core.Field
}

// arches lists the machines in the order Open tries their magics.
var arches = []*arch{&amd64Arch, &arm64Arch, &i386Arch}

// Dump is an opened minidump. It is safe for concurrent use.
type Dump struct {
	f         core.File
	arch      *arch
	hdr       Header
	msgbuf    []byte
	avail     [][2]uint64
	ranges    []pfnRange // dump_avail in pages; empty when the version has none
	bitmap    []uint64
	rank      []uint64 // set bits before each block of rankBlock words
	pages     uint64   // pages the bitmap marks as dumped
	inFile    uint64   // of those, how many the file holds whole
	tail      uint64   // bytes the file holds of the page after those, when it ends inside one
	pmapOff   int64
	pmapLen   uint64 // entries in the page map
	pmapAvail uint64 // entries of the page map that the file holds
	entrySize uint64
	sparseOff int64
	warnings  []string
}

// pfnRange is a dump_avail range in page numbers with the bitmap bit of
// its first page.
type pfnRange struct {
	start, end uint64 // [start, end) page frame numbers
	firstBit   uint64
}

// init registers one format per machine; core.OpenFile checks the error
// before the Dump, so a failed Open's typed nil never escapes.
func init() {
	for _, a := range arches {
		magic := []byte(a.magic)
		core.Register(core.Format{
			Name:  "FreeBSD " + a.name + " minidump",
			Probe: func(head []byte) bool { return bytes.HasPrefix(head, magic) },
			Open:  func(f core.File) (core.Dump, error) { return Open(f) },
		})
	}
}

// Probe reports whether head starts with the magic of any of the
// machines' minidumps.
func Probe(head []byte) bool {
	for _, a := range arches {
		if bytes.HasPrefix(head, []byte(a.magic)) {
			return true
		}
	}
	return false
}

// otherMachines are the machines whose FreeBSD minidumps kdap does not
// read, named when a file's magic is one of theirs.
var otherMachines = []string{"arm", "mips", "powerpc", "powerpc64", "riscv"}

func roundPage(n uint64) uint64 { return (n + pageSize - 1) &^ (pageSize - 1) }

// section is a part of the file checked against its size.
type section struct {
	name     string
	off, len uint64
}

// Open parses the minidump headers of f and indexes its page bitmap.
func Open(f core.File) (*Dump, error) {
	size := f.Size()
	if size < pageSize {
		return nil, fmt.Errorf("minidump header: file is %d bytes, shorter than the %d-byte header page", size, pageSize)
	}
	var raw [headerLen]byte
	if err := readFull(f, raw[:], 0); err != nil {
		return nil, fmt.Errorf("minidump header: %w", err)
	}
	magic := bytes.TrimRight(raw[:magicLen], "\x00")
	var a *arch
	for _, c := range arches {
		if bytes.Equal(magic, []byte(c.magic)) {
			a = c
		}
	}
	if a == nil {
		// The file's bytes are not echoed: it may be any file.
		for _, m := range otherMachines {
			if string(magic) == "minidump FreeBSD/"+m {
				return nil, fmt.Errorf("minidump header: magic (file offset 0x0) is that of a FreeBSD %s minidump; kdap reads amd64, arm64 and i386 minidumps", m)
			}
		}
		return nil, fmt.Errorf("minidump header: magic (file offset 0x0) is not %q, %q or %q", MagicAMD64, MagicARM64, MagicI386)
	}
	h, err := a.decode(raw[:])
	if err != nil {
		return nil, fmt.Errorf("minidump header: %w", err)
	}
	h.Arch = a.name
	if !a.hasDumpAvail(h.Version) {
		h.DumpAvailSize = 0 // older headers end before dumpavailsize
	}
	es := a.entrySize(h)
	for _, c := range []struct {
		name     string
		v, mult  uint32
		fieldOff int
	}{
		{"bitmapsize", h.BitmapSize, a.bitmapWord, 32},
		{a.pmapName, h.PmapSize, uint32(es), 36},
		{"dumpavailsize", h.DumpAvailSize, 8, a.availOff},
	} {
		if c.v%c.mult != 0 {
			return nil, fmt.Errorf("minidump header: %s %d is not a multiple of %d (file offset %#x)", c.name, c.v, c.mult, c.fieldOff)
		}
	}
	if h.MsgBufSize > maxMsgBufSize {
		return nil, fmt.Errorf("minidump header: msgbufsize %d exceeds the %d-byte limit (file offset 0x1c)", h.MsgBufSize, maxMsgBufSize)
	}
	if h.DumpAvailSize > maxDumpAvailSize {
		return nil, fmt.Errorf("minidump header: dumpavailsize %d exceeds the %d-byte limit (file offset %#x)", h.DumpAvailSize, maxDumpAvailSize, a.availOff)
	}
	if a.hasDumpAvail(h.Version) && h.DumpAvailSize == 0 {
		return nil, fmt.Errorf("minidump header: %s version %d dump has dumpavailsize 0 (file offset %#x)", a.name, h.Version, a.availOff)
	}

	// Lay out the sections; sizes are 32-bit, so the sums cannot overflow.
	off := uint64(pageSize)
	var secs []section
	add := func(name string, n uint64) section {
		s := section{name, off, n}
		secs = append(secs, s)
		off += roundPage(n)
		return s
	}
	msgSec := add("message buffer", uint64(h.MsgBufSize))
	availSec := add("dump_avail", uint64(h.DumpAvailSize))
	bitmapSec := add("page bitmap", uint64(h.BitmapSize))
	pmapSec := section{"kernel page map", off, uint64(h.PmapSize)}
	off += roundPage(pmapSec.len)
	for _, s := range secs {
		if s.off+s.len > uint64(size) {
			return nil, fmt.Errorf("minidump: %s section [%#x, %#x) extends past the end of the file (size %#x): truncated dump?", s.name, s.off, s.off+s.len, size)
		}
	}
	d := &Dump{
		f:         f,
		arch:      a,
		hdr:       h,
		pmapOff:   int64(pmapSec.off),
		pmapLen:   pmapSec.len / es,
		entrySize: es,
		sparseOff: int64(off),
	}
	// A page map cut short by the end of the file still translates the
	// entries it holds; the rest are missing, as are all the pages.
	d.pmapAvail = d.pmapLen
	if end := pmapSec.off + pmapSec.len; end > uint64(size) {
		d.pmapAvail = (uint64(size) - pmapSec.off) / es
		d.warnings = append(d.warnings, fmt.Sprintf("the file ends early, at offset %#x inside the kernel page map [%#x, %#x): %d of its %d entries are missing",
			size, pmapSec.off, end, d.pmapLen-d.pmapAvail, d.pmapLen))
	}

	d.msgbuf = make([]byte, msgSec.len)
	if err := readFull(f, d.msgbuf, int64(msgSec.off)); err != nil {
		return nil, fmt.Errorf("minidump: message buffer: %w", err)
	}
	if a.hasDumpAvail(h.Version) {
		if err := d.readDumpAvail(availSec); err != nil {
			return nil, err
		}
	}
	if err := d.readBitmap(bitmapSec); err != nil {
		return nil, err
	}
	var held, tail uint64
	if uint64(size) > off {
		held, tail = (uint64(size)-off)/pageSize, (uint64(size)-off)%pageSize
	}
	d.inFile = min(d.pages, held)
	if d.pages > held {
		w := fmt.Sprintf("the file ends early: %d of the %d pages the bitmap marks as dumped are missing (file holds %d after offset %#x",
			d.pages-held, d.pages, held, d.sparseOff)
		if tail > 0 {
			// Sparse copies of a dump (LLDB's) end right after the last
			// bytes a debugger read: those bytes of the page still read.
			d.tail = tail
			w += fmt.Sprintf(", and the first %d bytes of the next", tail)
		}
		d.warnings = append(d.warnings, w+")")
	}
	return d, nil
}

// readDumpAvail decodes the dump_avail section: pairs of 64-bit [start,
// end) physical addresses, terminated by a zero end.
func (d *Dump) readDumpAvail(s section) error {
	buf := make([]byte, s.len)
	if err := readFull(d.f, buf, int64(s.off)); err != nil {
		return fmt.Errorf("minidump: dump_avail: %w", err)
	}
	var bit, prevEnd uint64
	for i := 0; i+16 <= len(buf); i += 16 {
		start := binary.LittleEndian.Uint64(buf[i:])
		end := binary.LittleEndian.Uint64(buf[i+8:])
		if end == 0 {
			break
		}
		at := s.off + uint64(i)
		if start > end {
			return fmt.Errorf("minidump: dump_avail entry %d: start %#x is above end %#x (file offset %#x)", i/16, start, end, at)
		}
		if start < prevEnd {
			return fmt.Errorf("minidump: dump_avail entry %d: start %#x is below the previous entry's end %#x; entries must ascend (file offset %#x)", i/16, start, prevEnd, at)
		}
		prevEnd = end
		r := pfnRange{start: start >> pageShift, end: end>>pageShift + min(end&(pageSize-1), 1), firstBit: bit}
		d.avail = append(d.avail, [2]uint64{start, end})
		d.ranges = append(d.ranges, r)
		bit += r.end - r.start
	}
	if len(d.ranges) == 0 {
		return fmt.Errorf("minidump: dump_avail (file offset %#x) lists no physical memory", s.off)
	}
	return nil
}

// readBitmap loads the page bitmap and its rank table: one running count
// of set bits per block of words, so that finding a page's position among
// the dumped pages costs at most rankBlock popcounts. Bit n is bit n%8 of
// byte n/8 whatever word size the kernel wrote (all three machines are
// little-endian), so a bitmap of 32-bit words reads as 64-bit ones with
// the last word zero-padded.
func (d *Dump) readBitmap(s section) error {
	buf := make([]byte, s.len)
	if err := readFull(d.f, buf, int64(s.off)); err != nil {
		return fmt.Errorf("minidump: page bitmap: %w", err)
	}
	d.bitmap = make([]uint64, (len(buf)+7)/8)
	d.rank = make([]uint64, (len(d.bitmap)+rankBlock-1)/rankBlock)
	var n uint64
	for i := range d.bitmap {
		if i%rankBlock == 0 {
			d.rank[i/rankBlock] = n
		}
		var w [8]byte
		copy(w[:], buf[i*8:])
		d.bitmap[i] = binary.LittleEndian.Uint64(w[:])
		n += uint64(bits.OnesCount64(d.bitmap[i]))
	}
	d.pages = n
	return nil
}

// bitOf returns the bitmap bit that stands for page frame pfn.
func (d *Dump) bitOf(pfn uint64) (uint64, bool) {
	if len(d.ranges) == 0 {
		return pfn, true
	}
	i := sort.Search(len(d.ranges), func(i int) bool { return d.ranges[i].end > pfn })
	if i == len(d.ranges) || pfn < d.ranges[i].start {
		return 0, false
	}
	r := d.ranges[i]
	return r.firstBit + pfn - r.start, true
}

// pageOffset returns the file offset of page frame pfn and how many of
// its bytes the file holds, or why it is absent.
func (d *Dump) pageOffset(pfn uint64) (int64, uint64, string) {
	bit, ok := d.bitOf(pfn)
	if !ok {
		return 0, 0, "page outside the dump_avail ranges"
	}
	word := bit / 64
	if word >= uint64(len(d.bitmap)) {
		return 0, 0, "page beyond the page bitmap"
	}
	w := d.bitmap[word]
	if w&(1<<(bit%64)) == 0 {
		return 0, 0, "page not dumped (bitmap bit clear)"
	}
	rank := d.rank[word/rankBlock]
	for i := word &^ (rankBlock - 1); i < word; i++ {
		rank += uint64(bits.OnesCount64(d.bitmap[i]))
	}
	rank += uint64(bits.OnesCount64(w & (1<<(bit%64) - 1)))
	off := d.sparseOff + int64(rank)*pageSize
	switch {
	case rank < d.inFile:
		return off, pageSize, ""
	case rank == d.inFile && d.tail > 0:
		return off, d.tail, ""
	}
	return 0, 0, fmt.Sprintf("page missing because the file ends early (it holds %d of the %d pages the bitmap marks as dumped; this is page %d)",
		d.inFile, d.pages, rank)
}

// FileOffset returns where the byte at physical address pa lies in the
// file, or a *core.NotPresentError saying why the dump lacks it.
func (d *Dump) FileOffset(pa uint64) (int64, error) {
	off, held, why := d.pageOffset(pa >> pageShift)
	if why != "" || pa&(pageSize-1) >= held {
		if why == "" {
			why = "the file ends early inside this page"
		}
		return 0, &core.NotPresentError{Addr: pa, Reason: why}
	}
	return off + int64(pa&(pageSize-1)), nil
}

// Format names the machine, format and version.
func (d *Dump) Format() string {
	return fmt.Sprintf("FreeBSD %s minidump v%d", d.arch.name, d.hdr.Version)
}

// Machine returns the machine the dump was taken on, from its magic.
func (d *Dump) Machine() elf.Machine { return d.arch.machine }

// Warnings lists what the file lacks: pages, or page-map entries, past
// its end. It is empty for an intact dump.
func (d *Dump) Warnings() []string { return append([]string(nil), d.warnings...) }

// Header returns the decoded minidump header.
func (d *Dump) Header() Header { return d.hdr }

// MsgBuf returns a copy of the message buffer section: msgbufsize bytes
// of the kernel's msgbuf ring (the struct msgbuf's msg_ptr contents).
func (d *Dump) MsgBuf() []byte { return append([]byte(nil), d.msgbuf...) }

// DumpAvail returns the dump_avail [start, end) physical ranges of a dump
// that records them (nil for versions without).
func (d *Dump) DumpAvail() [][2]uint64 { return append([][2]uint64(nil), d.avail...) }

// Pages returns how many physical pages the bitmap marks as dumped.
func (d *Dump) Pages() uint64 { return d.pages }

// MissingPages returns how many of the dumped pages the file lacks, in
// whole or in part, because it ends early.
func (d *Dump) MissingPages() uint64 { return d.pages - d.inFile }

// Info lists the header fields.
func (d *Dump) Info() []core.Field {
	h := d.hdr
	fs := []core.Field{
		{Name: "version", Value: fmt.Sprint(h.Version)},
		{Name: "msgbufsize", Value: fmt.Sprint(h.MsgBufSize)},
		{Name: "bitmapsize", Value: fmt.Sprint(h.BitmapSize)},
		{Name: d.arch.pmapName, Value: fmt.Sprint(h.PmapSize)},
		{Name: "kernbase", Value: hex(h.KernBase)},
	}
	fs = append(fs, d.arch.info(h)...)
	return append(fs,
		core.Field{Name: "dumpavailsize", Value: fmt.Sprint(h.DumpAvailSize)},
		core.Field{Name: "dump_avail ranges", Value: fmt.Sprint(len(d.avail))},
		core.Field{Name: "pages", Value: fmt.Sprint(d.pages)},
		core.Field{Name: "pages missing", Value: fmt.Sprint(d.pages - d.inFile)},
	)
}

func hex(v uint64) string { return fmt.Sprintf("%#x", v) }

// ReadPhys reads physical memory; pages absent from the dump give an
// error wrapping *core.NotPresentError.
func (d *Dump) ReadPhys(b []byte, pa uint64) error {
	if pa+uint64(len(b)) < pa {
		return fmt.Errorf("minidump: read of %d bytes at physical address %#x wraps around the address space", len(b), pa)
	}
	for len(b) > 0 {
		po := pa & (pageSize - 1)
		n := uint64(len(b))
		if n > pageSize-po {
			n = pageSize - po
		}
		off, held, why := d.pageOffset(pa >> pageShift)
		if why != "" {
			return &core.NotPresentError{Addr: pa, Reason: why}
		}
		if po+n > held {
			// The file ends inside this page: the first missing byte.
			return &core.NotPresentError{Addr: pa + max(held, po) - po, Reason: fmt.Sprintf(
				"page missing from byte %#x on because the file ends early, at file offset %#x inside the page", held, off+int64(held))}
		}
		if err := readFull(d.f, b[:n], off+int64(po)); err != nil {
			return fmt.Errorf("minidump: physical address %#x: %w", pa, err)
		}
		b = b[n:]
		pa += n
	}
	return nil
}

// mapEntry reads entry i (< pmapLen) of the kernel page map for va.
func (d *Dump) mapEntry(va, i uint64) (uint64, error) {
	if i >= d.pmapAvail {
		return 0, &core.NotPresentError{Addr: va, Virtual: true, Reason: fmt.Sprintf(
			"entry %d of the kernel page map is missing because the file ends early (it holds %d of %d entries)", i, d.pmapAvail, d.pmapLen)}
	}
	var b [8]byte
	off := d.pmapOff + int64(i*d.entrySize)
	if err := readFull(d.f, b[:d.entrySize], off); err != nil {
		return 0, fmt.Errorf("minidump: kernel page map entry %d: %w", i, err)
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// pastMap is the error for a VA beyond the page map, which covers
// [kernbase, kernbase + pmapLen<<shift).
func (d *Dump) pastMap(va uint64, shift uint) error {
	end := d.hdr.KernBase + d.pmapLen<<shift
	return fmt.Errorf("minidump: va %#x is past the kernel page map, which covers [%#x, %#x): %w",
		va, d.hdr.KernBase, end, &core.NotPresentError{Addr: va, Virtual: true, Reason: "beyond the dumped kernel map"})
}

// TranslateKernel maps a kernel virtual address to a physical one through
// the dump's page map for addresses from kernbase up, and by offset in the
// direct map (amd64, arm64).
func (d *Dump) TranslateKernel(va uint64) (uint64, uint64, error) {
	return d.arch.translate(d, va)
}

// Close releases nothing: the file belongs to the caller.
func (d *Dump) Close() error { return nil }

// readFull reads len(b) bytes at off, treating a short read as an error.
func readFull(f io.ReaderAt, b []byte, off int64) error {
	n, err := f.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return fmt.Errorf("short read: %d of %d bytes at file offset %#x", n, len(b), off)
	}
	return fmt.Errorf("reading %d bytes at file offset %#x: %w", len(b), off, err)
}
