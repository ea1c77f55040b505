// Package fbsdmini reads FreeBSD amd64 minidumps (versions 1, 2 and 3), the
// default kernel crash dump format of FreeBSD: the kernel's page-directory
// pages plus only the physical pages the kernel had mapped.
//
// A minidump is laid out in page-aligned sections: the header page, the
// message buffer, dump_avail (version 3 only), the page bitmap, the kernel
// page map (pmapsize bytes: one page of PDEs per GB of KVA from kernbase;
// PTEs in version 1), then every page whose bitmap bit is set, in bit order.
// Version 3 numbers bitmap bits consecutively across the dump_avail
// ranges; earlier versions use the physical page number.
package fbsdmini

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sort"

	"github.com/kdap/kdap/target/core"
)

// Magic is the string a minidump starts with.
const Magic = "minidump FreeBSD/amd64"

const (
	pageSize  = 4096
	pageShift = 12
	pdrShift  = 21 // log2 of the 2 MiB a PDE maps
	headerLen = 68 // sizeof(struct minidumphdr) with dumpavailsize

	pteValid  = 1 << 0
	ptePS     = 1 << 7
	pgFrame   = 0x000ffffffffff000
	pgPSFrame = 0x000fffffffe00000

	// Limits beyond which a size field is taken as corrupt rather than
	// trusted for an allocation.
	maxMsgBufSize    = 64 << 20
	maxDumpAvailSize = 1 << 20

	// rankBlock is how many bitmap words share one cumulative count.
	rankBlock = 8
)

// Header is the decoded struct minidumphdr.
type Header struct {
	Version       uint32 // 1, 2 or 3
	MsgBufSize    uint32 // bytes of message buffer
	BitmapSize    uint32 // bytes of page bitmap
	PmapSize      uint32 // bytes of kernel page map
	KernBase      uint64 // first VA the page map covers
	DmapBase      uint64 // start of the direct map
	DmapEnd       uint64 // end of the direct map
	DumpAvailSize uint32 // bytes of dump_avail (version 3)
}

// Dump is an opened minidump. It is safe for concurrent use.
type Dump struct {
	f         core.File
	hdr       Header
	msgbuf    []byte
	avail     [][2]uint64
	ranges    []pfnRange
	bitmap    []uint64
	rank      []uint64 // set bits before each block of rankBlock words
	pages     uint64
	pmapOff   int64
	pmapLen   uint64 // entries in the page map
	sparseOff int64
}

// pfnRange is a dump_avail range in page numbers with the bitmap bit of
// its first page.
type pfnRange struct {
	start, end uint64 // [start, end) page frame numbers
	firstBit   uint64
}

// init registers the format; core.OpenFile checks the error before the
// Dump, so a failed Open's typed nil never escapes.
func init() {
	core.Register(core.Format{Name: "FreeBSD amd64 minidump", Probe: Probe, Open: func(f core.File) (core.Dump, error) { return Open(f) }})
}

// Probe reports whether head starts with the minidump magic.
func Probe(head []byte) bool {
	return bytes.HasPrefix(head, []byte(Magic))
}

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
	if m := raw[:24]; !bytes.Equal(bytes.TrimRight(m, "\x00"), []byte(Magic)) {
		return nil, fmt.Errorf("minidump header: magic %q is not %q (file offset 0x0)", bytes.TrimRight(m, "\x00"), Magic)
	}
	le := binary.LittleEndian
	h := Header{
		Version:       le.Uint32(raw[24:]),
		MsgBufSize:    le.Uint32(raw[28:]),
		BitmapSize:    le.Uint32(raw[32:]),
		PmapSize:      le.Uint32(raw[36:]),
		KernBase:      le.Uint64(raw[40:]),
		DmapBase:      le.Uint64(raw[48:]),
		DmapEnd:       le.Uint64(raw[56:]),
		DumpAvailSize: le.Uint32(raw[64:]),
	}
	if h.Version < 1 || h.Version > 3 {
		return nil, fmt.Errorf("minidump header: version %d is not supported, expected 1, 2 or 3 (file offset 0x18)", h.Version)
	}
	if h.Version < 3 {
		// Older headers end before dumpavailsize; the rest of the page is zero.
		h.DumpAvailSize = 0
	}
	for _, c := range []struct {
		name string
		v    uint32
		off  int
	}{{"bitmapsize", h.BitmapSize, 32}, {"pmapsize", h.PmapSize, 36}, {"dumpavailsize", h.DumpAvailSize, 64}} {
		if c.v%8 != 0 {
			return nil, fmt.Errorf("minidump header: %s %d is not a multiple of 8 (file offset %#x)", c.name, c.v, c.off)
		}
	}
	if h.MsgBufSize > maxMsgBufSize {
		return nil, fmt.Errorf("minidump header: msgbufsize %d exceeds the %d-byte limit (file offset 0x1c)", h.MsgBufSize, maxMsgBufSize)
	}
	if h.DumpAvailSize > maxDumpAvailSize {
		return nil, fmt.Errorf("minidump header: dumpavailsize %d exceeds the %d-byte limit (file offset 0x40)", h.DumpAvailSize, maxDumpAvailSize)
	}
	if h.Version == 3 && h.DumpAvailSize == 0 {
		return nil, fmt.Errorf("minidump header: version 3 dump has dumpavailsize 0 (file offset 0x40)")
	}
	if h.DmapBase > h.DmapEnd {
		return nil, fmt.Errorf("minidump header: dmapbase %#x is above dmapend %#x (file offset 0x30)", h.DmapBase, h.DmapEnd)
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
	pmapSec := add("kernel page map", uint64(h.PmapSize))
	for _, s := range secs {
		if s.off+s.len > uint64(size) {
			return nil, fmt.Errorf("minidump: %s section [%#x, %#x) extends past the end of the file (size %#x): truncated dump?", s.name, s.off, s.off+s.len, size)
		}
	}
	d := &Dump{
		f:         f,
		hdr:       h,
		pmapOff:   int64(pmapSec.off),
		pmapLen:   pmapSec.len / 8,
		sparseOff: int64(off),
	}

	d.msgbuf = make([]byte, msgSec.len)
	if err := readFull(f, d.msgbuf, int64(msgSec.off)); err != nil {
		return nil, fmt.Errorf("minidump: message buffer: %w", err)
	}
	if h.Version == 3 {
		if err := d.readDumpAvail(availSec); err != nil {
			return nil, err
		}
	}
	if err := d.readBitmap(bitmapSec); err != nil {
		return nil, err
	}
	avail := (uint64(size) - uint64(d.sparseOff)) / pageSize
	if d.pages > avail {
		return nil, fmt.Errorf("minidump: page bitmap (file offset %#x) marks %d pages present, but the file holds only %d pages after file offset %#x: truncated dump?",
			bitmapSec.off, d.pages, avail, d.sparseOff)
	}
	return d, nil
}

// readDumpAvail decodes the version 3 dump_avail section: pairs of
// [start, end) physical addresses, terminated by a zero end.
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
		r := pfnRange{start: start >> pageShift, end: (end + pageSize - 1) >> pageShift, firstBit: bit}
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
// the dumped pages costs at most rankBlock popcounts.
func (d *Dump) readBitmap(s section) error {
	buf := make([]byte, s.len)
	if err := readFull(d.f, buf, int64(s.off)); err != nil {
		return fmt.Errorf("minidump: page bitmap: %w", err)
	}
	d.bitmap = make([]uint64, len(buf)/8)
	d.rank = make([]uint64, (len(d.bitmap)+rankBlock-1)/rankBlock)
	var n uint64
	for i := range d.bitmap {
		if i%rankBlock == 0 {
			d.rank[i/rankBlock] = n
		}
		w := binary.LittleEndian.Uint64(buf[i*8:])
		d.bitmap[i] = w
		n += uint64(bits.OnesCount64(w))
	}
	d.pages = n
	return nil
}

// bitOf returns the bitmap bit that stands for page frame pfn.
func (d *Dump) bitOf(pfn uint64) (uint64, bool) {
	if d.hdr.Version < 3 {
		return pfn, true
	}
	i := sort.Search(len(d.ranges), func(i int) bool { return d.ranges[i].end > pfn })
	if i == len(d.ranges) || pfn < d.ranges[i].start {
		return 0, false
	}
	r := d.ranges[i]
	return r.firstBit + pfn - r.start, true
}

// pageOffset returns the file offset of page frame pfn, or why it is
// absent.
func (d *Dump) pageOffset(pfn uint64) (int64, string) {
	bit, ok := d.bitOf(pfn)
	if !ok {
		return 0, "outside the dump_avail ranges"
	}
	word := bit / 64
	if word >= uint64(len(d.bitmap)) {
		return 0, "beyond the page bitmap"
	}
	w := d.bitmap[word]
	if w&(1<<(bit%64)) == 0 {
		return 0, "not dumped (bitmap bit clear)"
	}
	rank := d.rank[word/rankBlock]
	for i := word &^ (rankBlock - 1); i < word; i++ {
		rank += uint64(bits.OnesCount64(d.bitmap[i]))
	}
	rank += uint64(bits.OnesCount64(w & (1<<(bit%64) - 1)))
	return d.sparseOff + int64(rank)*pageSize, ""
}

// Format names the format and version.
func (d *Dump) Format() string { return fmt.Sprintf("FreeBSD amd64 minidump v%d", d.hdr.Version) }

// Header returns the decoded minidump header.
func (d *Dump) Header() Header { return d.hdr }

// MsgBuf returns a copy of the message buffer section: msgbufsize bytes
// of the kernel's msgbuf ring (the struct msgbuf's msg_ptr contents).
func (d *Dump) MsgBuf() []byte { return append([]byte(nil), d.msgbuf...) }

// DumpAvail returns the dump_avail [start, end) physical ranges of a
// version 3 dump (nil for older versions).
func (d *Dump) DumpAvail() [][2]uint64 { return append([][2]uint64(nil), d.avail...) }

// Pages returns how many physical pages the dump holds.
func (d *Dump) Pages() uint64 { return d.pages }

// Info lists the header fields.
func (d *Dump) Info() []core.Field {
	h := d.hdr
	hex := func(v uint64) string { return fmt.Sprintf("%#x", v) }
	return []core.Field{
		{Name: "version", Value: fmt.Sprint(h.Version)},
		{Name: "msgbufsize", Value: fmt.Sprint(h.MsgBufSize)},
		{Name: "bitmapsize", Value: fmt.Sprint(h.BitmapSize)},
		{Name: "pmapsize", Value: fmt.Sprint(h.PmapSize)},
		{Name: "kernbase", Value: hex(h.KernBase)},
		{Name: "dmapbase", Value: hex(h.DmapBase)},
		{Name: "dmapend", Value: hex(h.DmapEnd)},
		{Name: "dumpavailsize", Value: fmt.Sprint(h.DumpAvailSize)},
		{Name: "dump_avail ranges", Value: fmt.Sprint(len(d.avail))},
		{Name: "pages", Value: fmt.Sprint(d.pages)},
	}
}

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
		off, why := d.pageOffset(pa >> pageShift)
		if why != "" {
			return &core.NotPresentError{Addr: pa, Reason: "page " + why}
		}
		if err := readFull(d.f, b[:n], off+int64(po)); err != nil {
			return fmt.Errorf("minidump: physical address %#x: %w", pa, err)
		}
		b = b[n:]
		pa += n
	}
	return nil
}

// pmapEntry reads entry i of the kernel page map.
func (d *Dump) pmapEntry(i uint64) (uint64, error) {
	var b [8]byte
	off := d.pmapOff + int64(i)*8
	if err := readFull(d.f, b[:], off); err != nil {
		return 0, fmt.Errorf("minidump: kernel page map entry %d: %w", i, err)
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// TranslateKernel maps a kernel virtual address to a physical one: through
// the dump's page map for addresses from kernbase up, by subtraction in the
// direct map.
func (d *Dump) TranslateKernel(va uint64) (uint64, uint64, error) {
	h := d.hdr
	switch {
	case va >= h.KernBase:
		return d.translateKVA(va)
	case va >= h.DmapBase && va < h.DmapEnd:
		return va - h.DmapBase, pageSize, nil
	}
	return 0, 0, fmt.Errorf("minidump: va %#x is neither at or above kernbase %#x nor in the direct map [%#x, %#x): %w",
		va, h.KernBase, h.DmapBase, h.DmapEnd,
		&core.NotPresentError{Addr: va, Virtual: true, Reason: "minidumps hold kernel memory only"})
}

func (d *Dump) translateKVA(va uint64) (uint64, uint64, error) {
	shift := uint(pdrShift)
	if d.hdr.Version == 1 {
		shift = pageShift // version 1 stores PTEs
	}
	idx := (va - d.hdr.KernBase) >> shift
	if idx >= d.pmapLen {
		return 0, 0, fmt.Errorf("minidump: va %#x is past the kernel page map, which covers [%#x, %#x): %w",
			va, d.hdr.KernBase, d.hdr.KernBase+d.pmapLen<<shift,
			&core.NotPresentError{Addr: va, Virtual: true, Reason: "beyond the dumped kernel map"})
	}
	e, err := d.pmapEntry(idx)
	if err != nil {
		return 0, 0, err
	}
	if e&pteValid == 0 {
		kind := "PDE"
		if d.hdr.Version == 1 {
			kind = "PTE"
		}
		return 0, 0, &core.NotPresentError{Addr: va, Virtual: true, Reason: fmt.Sprintf("%s %d of the kernel page map is not valid", kind, idx)}
	}
	if d.hdr.Version == 1 {
		return e&pgFrame | va&(pageSize-1), pageSize, nil
	}
	if e&ptePS != 0 {
		return e&pgPSFrame | va&(1<<pdrShift-1), 1 << pdrShift, nil
	}
	ptePA := e&pgFrame + (va>>pageShift&511)*8
	var b [8]byte
	if err := d.ReadPhys(b[:], ptePA); err != nil {
		return 0, 0, fmt.Errorf("minidump: va %#x: page-table page %#x named by PDE %d (%#x): %w", va, e&pgFrame, idx, e, err)
	}
	pte := binary.LittleEndian.Uint64(b[:])
	if pte&pteValid == 0 {
		return 0, 0, &core.NotPresentError{Addr: va, Virtual: true, Reason: fmt.Sprintf("PTE at physical address %#x is not valid", ptePA)}
	}
	return pte&pgFrame | va&(pageSize-1), pageSize, nil
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
