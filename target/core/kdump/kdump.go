// Package kdump reads makedumpfile's kdump-compressed Linux dumps (the
// "KDUMP   " format that crash reads), directly or wrapped in makedumpfile's
// flattened stream format, which QEMU's dump-guest-memory writes.
//
// Physical pages are found through the dump's second bitmap (pages
// dumped): a page's descriptor index is the number of set bits before its
// bit, looked up in a rank table built once at open.
package kdump

import (
	"bytes"
	"compress/zlib"
	"container/list"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"
	"time"

	"github.com/anchore/go-lzo"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/kdap/kdap/target/core"
	"github.com/kdap/kdap/target/core/elfcore"
)

const (
	// cachePages is how many decompressed pages the LRU keeps.
	cachePages = 64
	// rankWords is how many 64-bit bitmap words share one rank entry.
	rankWords  = 8
	ntPRStatus = 1
)

// Dump is an opened kdump-compressed file. It is safe for concurrent use.
type Dump struct {
	f         core.File
	order     binary.ByteOrder
	hdr       Header
	sub       SubHeader
	flat      bool
	blockSize uint64
	maxMapnr  uint64
	// bitmapOff and bitmapLen locate the 1st bitmap (pages in memory),
	// read a byte at a time when a page is missing; the 2nd follows it.
	bitmapOff int64
	bitmapLen uint64
	dumped    []uint64 // 2nd bitmap: pages written
	rank      []uint64 // set bits of dumped before each group of rankWords words
	nDumped   uint64
	descOff   int64
	vmcore    []byte
	notes     []elfcore.Note
	prstatus  [][]byte // NT_PRSTATUS descriptors of "CORE" notes

	mu    sync.Mutex
	lru   *list.List // of *page, most recent first
	cache map[uint64]*list.Element
}

type page struct {
	pfn  uint64
	data []byte
}

var zstdDec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxBlockSize*2))

func init() {
	core.Register(core.Format{Name: "Linux kdump-compressed", Probe: func(head []byte) bool { return isKdumpSignature(head) },
		Open: func(f core.File) (core.Dump, error) { return Open(f) }})
	core.Register(core.Format{Name: "makedumpfile flattened", Probe: IsFlattened, Open: OpenFlattened})
}

// Open parses a kdump-compressed file's headers, 2nd bitmap and notes.
// Every size the headers give is checked against the bytes the file
// holds before anything of that size is allocated.
func Open(f core.File) (*Dump, error) {
	size := f.Size()
	held := heldBytes(f)
	b := make([]byte, headerSize)
	if err := readFull(f, b, 0, "header"); err != nil {
		return nil, err
	}
	h, order, err := parseHeader(b)
	if err != nil {
		return nil, err
	}
	d := &Dump{f: f, order: order, hdr: h, blockSize: uint64(h.BlockSize), lru: list.New(), cache: map[uint64]*list.Element{}}
	bs := d.blockSize

	subLen := uint64(h.SubHdrSize) * bs
	if subLen > subHeaderSize {
		subLen = subHeaderSize
	}
	if bs+subLen > uint64(size) {
		return nil, fmt.Errorf("kdump sub-header: bytes %#x-%#x run past the end of the %d-byte file", bs, bs+subLen, size)
	}
	sb := make([]byte, subLen)
	if err := readFull(f, sb, int64(bs), "sub-header"); err != nil {
		return nil, err
	}
	if d.sub, err = parseSubHeader(sb, h.Version, order); err != nil {
		return nil, fmt.Errorf("%w (file offset %#x, sub_hdr_size %d blocks)", err, bs, h.SubHdrSize)
	}
	d.maxMapnr = uint64(h.MaxMapnr)
	if h.Version >= 6 {
		d.maxMapnr = d.sub.MaxMapnr64
	}

	// Both products stay below 2^50: sub_hdr_size is below 2^31 and
	// bitmap_blocks below 2^32, blocks at most 2^18 bytes.
	bitmapOff := (1 + uint64(h.SubHdrSize)) * bs
	bitmapLen := uint64(h.BitmapBlocks) * bs
	switch {
	case bitmapLen > maxBitmapBytes || bitmapOff+bitmapLen > uint64(size):
		return nil, fmt.Errorf("kdump bitmaps: %d blocks at file offset %#x run past the end of the %d-byte file", h.BitmapBlocks, bitmapOff, size)
	case bitmapLen > held:
		return nil, fmt.Errorf("kdump bitmaps: %d blocks (%d bytes) at file offset %#x are more than the %d bytes the file holds", h.BitmapBlocks, bitmapLen, bitmapOff, held)
	}
	d.bitmapOff, d.bitmapLen = int64(bitmapOff), bitmapLen/2
	if d.dumped, err = d.readBitmap(int64(bitmapOff+bitmapLen/2), bitmapLen/2, "2nd"); err != nil {
		return nil, err
	}
	d.buildRank()
	d.descOff = int64(bitmapOff + bitmapLen)
	descLen := d.nDumped * pageDescSize
	if end := uint64(d.descOff) + descLen; end > uint64(size) || descLen > held {
		return nil, fmt.Errorf("kdump page descriptors: %d descriptors at file offset %#x run past the end of the %d-byte file (%d bytes held)", d.nDumped, d.descOff, size, held)
	}

	if h.Version >= 3 && d.sub.SizeVmcoreinfo > 0 {
		if d.vmcore, err = d.readBlob(d.sub.OffsetVmcoreinfo, d.sub.SizeVmcoreinfo, maxVmcoreinfoBytes, "VMCOREINFO"); err != nil {
			return nil, err
		}
	}
	if h.Version >= 4 && d.sub.SizeNote > 0 {
		nb, err := d.readBlob(d.sub.OffsetNote, d.sub.SizeNote, maxNoteBytes, "notes")
		if err != nil {
			return nil, err
		}
		if d.notes, err = elfcore.ParseNotes(nb, order); err != nil {
			return nil, fmt.Errorf("kdump notes at file offset %#x: %w", d.sub.OffsetNote, err)
		}
		for _, n := range d.notes {
			if n.Owner == "CORE" && n.Type == ntPRStatus {
				d.prstatus = append(d.prstatus, n.Desc)
			}
		}
	}
	return d, nil
}

// heldBytes is how many bytes f really holds: for a flattened stream the
// bytes its records write (the rest of its rearranged size reads as
// zeros), else its size.
func heldBytes(f core.File) uint64 {
	if fl, ok := f.(*Flat); ok {
		return fl.held
	}
	return uint64(max(f.Size(), 0))
}

func readFull(f core.File, b []byte, off int64, what string) error {
	n, err := f.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("kdump %s: reading %d bytes at file offset %#x: %w", what, len(b), off, err)
}

// bitmapChunk is how many bitmap bytes one read takes.
const bitmapChunk = 64 << 10

// readBitmap reads n bitmap bytes at off as little-endian words, in
// chunks, so that it allocates only the words.
func (d *Dump) readBitmap(off int64, n uint64, which string) ([]uint64, error) {
	words := make([]uint64, (n+7)/8)
	buf := make([]byte, min(n, bitmapChunk))
	for done := uint64(0); done < n; {
		b := buf[:min(n-done, uint64(len(buf)))]
		if err := readFull(d.f, b, off+int64(done), which+" bitmap"); err != nil {
			return nil, err
		}
		for i := 0; i < len(b); i += 8 {
			var w [8]byte
			copy(w[:], b[i:])
			// Bit pfn is bit pfn%8 of byte pfn/8 whatever the machine's
			// byte order, so the words are always assembled little-endian.
			words[(done+uint64(i))/8] = binary.LittleEndian.Uint64(w[:])
		}
		done += uint64(len(b))
	}
	return words, nil
}

// present reports whether the 1st bitmap has pfn's bit (the page was in
// memory), reading its byte from the file.
func (d *Dump) present(pfn uint64) bool {
	if pfn/8 >= d.bitmapLen {
		return false
	}
	var b [1]byte
	if readFull(d.f, b[:], d.bitmapOff+int64(pfn/8), "1st bitmap") != nil {
		return false
	}
	return b[0]&(1<<(pfn%8)) != 0
}

func (d *Dump) buildRank() {
	d.rank = make([]uint64, (len(d.dumped)+rankWords-1)/rankWords)
	var n uint64
	for i, w := range d.dumped {
		if i%rankWords == 0 {
			d.rank[i/rankWords] = n
		}
		n += uint64(bits.OnesCount64(w))
	}
	d.nDumped = n
}

func (d *Dump) readBlob(off int64, n, limit uint64, what string) ([]byte, error) {
	if n > limit {
		return nil, fmt.Errorf("kdump %s: size %d exceeds the %d-byte limit (sub-header)", what, n, limit)
	}
	if off < 0 || uint64(off)+n > uint64(d.f.Size()) {
		return nil, fmt.Errorf("kdump %s: %d bytes at file offset %#x run past the end of the %d-byte file", what, n, off, d.f.Size())
	}
	if held := heldBytes(d.f); n > held {
		return nil, fmt.Errorf("kdump %s: %d bytes at file offset %#x are more than the %d bytes the file holds", what, n, off, held)
	}
	b := make([]byte, n)
	return b, readFull(d.f, b, off, what)
}

func bit(words []uint64, pfn uint64) bool {
	w := pfn / 64
	return w < uint64(len(words)) && words[w]&(1<<(pfn%64)) != 0
}

// descIndex returns the index of pfn's page descriptor, or false when the
// page was not dumped.
func (d *Dump) descIndex(pfn uint64) (uint64, bool) {
	if !bit(d.dumped, pfn) {
		return 0, false
	}
	w := pfn / 64
	n := d.rank[w/rankWords]
	for i := w - w%rankWords; i < w; i++ {
		n += uint64(bits.OnesCount64(d.dumped[i]))
	}
	n += uint64(bits.OnesCount64(d.dumped[w] & (1<<(pfn%64) - 1)))
	return n, true
}

// pageDesc is struct page_desc.
type pageDesc struct {
	offset int64
	size   uint32
	flags  uint32
}

// page returns pfn's decompressed contents, from the cache when it can.
func (d *Dump) page(pfn uint64) ([]byte, error) {
	d.mu.Lock()
	if e, ok := d.cache[pfn]; ok {
		d.lru.MoveToFront(e)
		data := e.Value.(*page).data
		d.mu.Unlock()
		return data, nil
	}
	d.mu.Unlock()
	data, err := d.loadPage(pfn)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.cache[pfn]; !ok {
		d.cache[pfn] = d.lru.PushFront(&page{pfn: pfn, data: data})
		if d.lru.Len() > cachePages {
			old := d.lru.Remove(d.lru.Back()).(*page)
			delete(d.cache, old.pfn)
		}
	}
	return data, nil
}

func (d *Dump) loadPage(pfn uint64) ([]byte, error) {
	pa := pfn * d.blockSize
	idx, ok := d.descIndex(pfn)
	if !ok {
		reason := "not in the dump"
		if d.present(pfn) {
			reason = "excluded by makedumpfile's dump level"
		}
		return nil, &core.NotPresentError{Addr: pa, Reason: reason}
	}
	var raw [pageDescSize]byte
	descAt := d.descOff + int64(idx)*pageDescSize
	if err := readFull(d.f, raw[:], descAt, "page descriptor"); err != nil {
		return nil, err
	}
	pd := pageDesc{offset: int64(d.order.Uint64(raw[0:])), size: d.order.Uint32(raw[8:]), flags: d.order.Uint32(raw[12:])}
	where := fmt.Sprintf("kdump page %#x (descriptor %d at file offset %#x)", pfn, idx, descAt)
	if pd.offset == 0 && pd.size == 0 && d.hdr.Status&FlagIncomplete != 0 {
		return nil, &core.NotPresentError{Addr: pa, Reason: "not written: the dump is incomplete"}
	}
	if pd.size == 0 || uint64(pd.size) > 2*d.blockSize {
		return nil, fmt.Errorf("%s: size %d is not in [1, %d]", where, pd.size, 2*d.blockSize)
	}
	if pd.offset <= 0 || uint64(pd.offset)+uint64(pd.size) > uint64(d.f.Size()) {
		return nil, fmt.Errorf("%s: %d bytes at offset %#x run outside the %d-byte file", where, pd.size, pd.offset, d.f.Size())
	}
	src := make([]byte, pd.size)
	if err := readFull(d.f, src, pd.offset, "page data"); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	data, err := d.decompress(src, pd.flags)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return data, nil
}

// decompress expands one page's data per its descriptor flags; the result
// must be exactly one block.
func (d *Dump) decompress(src []byte, flags uint32) (out []byte, err error) {
	bs := int(d.blockSize)
	defer func() {
		// The third-party decoders are meant to fail cleanly on corrupt
		// input; this keeps a decoder bug from taking the session down.
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("corrupt compressed page: decoder failed: %v", r)
		}
	}()
	switch flags & (FlagZlib | FlagLZO | FlagSnappy | FlagZstd) {
	case 0:
		if len(src) != bs {
			return nil, fmt.Errorf("uncompressed page of %d bytes, want %d", len(src), bs)
		}
		return src, nil
	case FlagZlib:
		zr, err := zlib.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, fmt.Errorf("zlib-compressed page: %w", err)
		}
		out = make([]byte, bs)
		if _, err := io.ReadFull(zr, out); err != nil {
			return nil, fmt.Errorf("zlib-compressed page: %w", err)
		}
		if n, err := zr.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("zlib-compressed page: does not end after %d bytes (%v)", bs, err)
		}
		return out, nil
	case FlagLZO:
		out = make([]byte, bs)
		n, err := lzo.Decompress(src, out)
		if err != nil {
			return nil, fmt.Errorf("lzo-compressed page: %w", err)
		}
		if n != bs {
			return nil, fmt.Errorf("lzo-compressed page: %d bytes, want %d", n, bs)
		}
		return out, nil
	case FlagSnappy:
		n, err := s2.DecodedLen(src)
		if err != nil {
			return nil, fmt.Errorf("snappy-compressed page: %w", err)
		}
		if n != bs {
			return nil, fmt.Errorf("snappy-compressed page: %d bytes, want %d", n, bs)
		}
		out, err = s2.Decode(make([]byte, bs), src)
		if err != nil {
			return nil, fmt.Errorf("snappy-compressed page: %w", err)
		}
		return out, nil
	case FlagZstd:
		if zstdDec == nil {
			return nil, errors.New("zstd-compressed page: no decoder")
		}
		out, err = zstdDec.DecodeAll(src, make([]byte, 0, bs))
		if err != nil {
			return nil, fmt.Errorf("zstd-compressed page: %w", err)
		}
		if len(out) != bs {
			return nil, fmt.Errorf("zstd-compressed page: %d bytes, want %d", len(out), bs)
		}
		return out, nil
	}
	return nil, fmt.Errorf("page flags %#x name more than one compression", flags)
}

// ReadPhys reads physical memory page by page.
func (d *Dump) ReadPhys(b []byte, pa uint64) error {
	if pa+uint64(len(b)) < pa {
		return fmt.Errorf("kdump: read of %d bytes at physical address %#x wraps around the address space", len(b), pa)
	}
	for len(b) > 0 {
		pfn, off := pa/d.blockSize, pa%d.blockSize
		data, err := d.page(pfn)
		if err != nil {
			var np *core.NotPresentError
			if errors.As(err, &np) {
				np.Addr = pa
			}
			return err
		}
		n := copy(b, data[off:])
		b = b[n:]
		pa += uint64(n)
	}
	return nil
}

// Format names the format.
func (d *Dump) Format() string {
	if d.flat {
		return "Linux kdump-compressed (makedumpfile flattened)"
	}
	return "Linux kdump-compressed"
}

// Header returns the main header.
func (d *Dump) Header() Header { return d.hdr }

// SubHeader returns the kdump sub-header.
func (d *Dump) SubHeader() SubHeader { return d.sub }

// PageSize returns the block size, the machine's page size.
func (d *Dump) PageSize() uint64 { return d.blockSize }

// DumpedPages returns how many pages the dump holds.
func (d *Dump) DumpedPages() uint64 { return d.nDumped }

// VMCOREINFO returns the VMCOREINFO text the sub-header points to, or nil.
func (d *Dump) VMCOREINFO() []byte { return d.vmcore }

// Notes returns the ELF notes the sub-header points to.
func (d *Dump) Notes() []elfcore.Note { return append([]elfcore.Note(nil), d.notes...) }

// CPURegisters returns the NT_PRSTATUS note descriptors, one per CPU in
// note order.
func (d *Dump) CPURegisters() [][]byte { return append([][]byte(nil), d.prstatus...) }

// Info lists the header facts.
func (d *Dump) Info() []core.Field {
	h := d.hdr
	return []core.Field{
		{Name: "signature", Value: fmt.Sprintf("%q", h.Signature)},
		{Name: "header version", Value: fmt.Sprint(h.Version)},
		{Name: "release", Value: h.Release},
		{Name: "machine", Value: h.Machine},
		{Name: "node", Value: h.Nodename},
		{Name: "timestamp", Value: time.Unix(h.TimeSec, h.TimeUsec*1000).UTC().Format(time.RFC3339)},
		{Name: "compression", Value: compressionName(h.Status)},
		{Name: "block size", Value: fmt.Sprint(h.BlockSize)},
		{Name: "max_mapnr", Value: fmt.Sprint(d.maxMapnr)},
		{Name: "dumped pages", Value: fmt.Sprint(d.nDumped)},
		{Name: "dump level", Value: fmt.Sprint(d.sub.DumpLevel)},
		{Name: "phys_base (sub-header)", Value: fmt.Sprintf("%#x", d.sub.PhysBase)},
		{Name: "nr_cpus", Value: fmt.Sprint(h.NrCPUs)},
		{Name: "current cpu", Value: fmt.Sprint(h.CurrentCPU)},
		{Name: "NT_PRSTATUS notes", Value: fmt.Sprint(len(d.CPURegisters()))},
		{Name: "VMCOREINFO bytes", Value: fmt.Sprint(len(d.vmcore))},
	}
}

// Close releases the page cache; the file belongs to the caller.
func (d *Dump) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lru.Init()
	clear(d.cache)
	return nil
}
