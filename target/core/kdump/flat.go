package kdump

import (
	"bytes"
	"cmp"
	"container/heap"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/kdap/kdap/target/core"
	"github.com/kdap/kdap/target/core/elfcore"
)

// makedumpfile's flattened format (makedumpfile.h): a 4096-byte header
// starting with the 16-byte signature field "makedumpfile", then big-endian
// int64 type and version (both 1); then records of a big-endian
// {int64 offset, int64 buf_size} followed by buf_size bytes meant for that
// offset of the rearranged file; a record of {-1, -1} ends the stream.
const (
	flatHeaderSize = 4096
	flatRecordSize = 16
	// maxFlatRecords bounds the index built at open.
	maxFlatRecords = 1 << 26
	// maxFlatOffset bounds a record's target offset (1 PiB).
	maxFlatOffset = 1 << 50
)

// IsFlattened reports whether head starts a makedumpfile flattened stream.
func IsFlattened(head []byte) bool {
	return len(head) >= 32 && bytes.Equal(head[:16], []byte("makedumpfile\x00\x00\x00\x00")) &&
		binary.BigEndian.Uint64(head[16:]) == 1
}

// extent maps target bytes [off, off+size) to file offset src.
type extent struct {
	off, size, src uint64
}

// Flat is a flattened stream read as the rearranged file it describes.
type Flat struct {
	f    core.File
	ext  []extent // sorted by off, non-overlapping
	size int64
	held uint64 // bytes the extents map; the rest of size reads as zeros
}

// NewFlat indexes the records of a flattened stream. Each record takes at
// least 17 bytes of the stream, so the index is in proportion to it.
func NewFlat(f core.File) (*Flat, error) {
	var hb [32]byte
	if err := readFull(f, hb[:], 0, "flattened header"); err != nil {
		return nil, err
	}
	if !IsFlattened(hb[:]) {
		return nil, fmt.Errorf("makedumpfile flattened header: the signature and type are not \"makedumpfile\" and 1 (file offset 0x0): not a flattened dump")
	}
	if v := int64(binary.BigEndian.Uint64(hb[24:])); v != 1 {
		return nil, fmt.Errorf("makedumpfile flattened header: version %d, want 1 (file offset 0x18)", v)
	}
	fl := &Flat{f: f}
	size := uint64(f.Size())
	pos := uint64(flatHeaderSize)
	var recs []extent // in stream order
	inOrder := true
	for n := 0; ; n++ {
		if n >= maxFlatRecords {
			return nil, fmt.Errorf("makedumpfile flattened stream: more than %d records", maxFlatRecords)
		}
		var rb [flatRecordSize]byte
		if err := readFull(f, rb[:], int64(pos), "flattened record"); err != nil {
			return nil, fmt.Errorf("%w (record %d has no end marker before it)", err, n)
		}
		off := int64(binary.BigEndian.Uint64(rb[0:]))
		sz := int64(binary.BigEndian.Uint64(rb[8:]))
		if off == -1 && sz == -1 {
			break
		}
		if off < 0 || sz <= 0 || off > maxFlatOffset || sz > int64(size) {
			return nil, fmt.Errorf("makedumpfile flattened record %d at file offset %#x: offset %d, size %d is not a valid segment", n, pos, off, sz)
		}
		pos += flatRecordSize
		if pos+uint64(sz) > size {
			return nil, fmt.Errorf("makedumpfile flattened record %d at file offset %#x: %d data bytes run past the end of the %d-byte file", n, pos-flatRecordSize, sz, size)
		}
		e := extent{off: uint64(off), size: uint64(sz), src: pos}
		if k := len(recs); k > 0 && recs[k-1].off+recs[k-1].size > e.off {
			inOrder = false
		}
		recs = append(recs, e)
		pos += uint64(sz)
	}
	if inOrder {
		fl.ext = recs // the common case: written in order
	} else {
		fl.ext = resolveExtents(recs)
	}
	for _, e := range fl.ext {
		fl.held += e.size
	}
	if len(fl.ext) > 0 {
		last := fl.ext[len(fl.ext)-1]
		fl.size = int64(last.off + last.size)
	}
	return fl, nil
}

// resolveExtents turns records in stream order into sorted,
// non-overlapping extents; where records overlap the later one wins, as
// when the stream is rearranged in order. It sweeps the records' ends in
// address order with a heap of the records that cover the sweep point,
// latest on top, so it takes O(n log n) time and O(n) memory.
func resolveExtents(recs []extent) []extent {
	type edge struct {
		at    uint64
		rec   int
		start bool
	}
	edges := make([]edge, 0, 2*len(recs))
	for i, r := range recs {
		edges = append(edges, edge{r.off, i, true}, edge{r.off + r.size, i, false})
	}
	slices.SortFunc(edges, func(a, b edge) int { return cmp.Compare(a.at, b.at) })
	live := &latestHeap{}
	ended := make([]bool, len(recs))
	var out []extent
	for i := 0; i < len(edges); {
		at := edges[i].at
		for ; i < len(edges) && edges[i].at == at; i++ {
			if edges[i].start {
				heap.Push(live, edges[i].rec)
			} else {
				ended[edges[i].rec] = true
			}
		}
		for live.Len() > 0 && ended[(*live)[0]] {
			heap.Pop(live)
		}
		if live.Len() == 0 || i == len(edges) {
			continue
		}
		r := recs[(*live)[0]]
		next := edges[i].at
		src := r.src + (at - r.off)
		if k := len(out); k > 0 && out[k-1].off+out[k-1].size == at && out[k-1].src+out[k-1].size == src {
			out[k-1].size += next - at
			continue
		}
		out = append(out, extent{off: at, size: next - at, src: src})
	}
	return out
}

// latestHeap is a max-heap of record indexes: the latest record on top.
type latestHeap []int

func (h latestHeap) Len() int           { return len(h) }
func (h latestHeap) Less(i, j int) bool { return h[i] > h[j] }
func (h latestHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *latestHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *latestHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Size returns the size of the rearranged file.
func (fl *Flat) Size() int64 { return fl.size }

// Segments returns how many extents map the rearranged file.
func (fl *Flat) Segments() int { return len(fl.ext) }

// ReadAt reads the rearranged file; bytes no record wrote read as zero.
func (fl *Flat) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("makedumpfile flattened: negative offset %d", off)
	}
	total := 0
	for len(b) > 0 {
		if off >= fl.size {
			return total, io.EOF
		}
		uo := uint64(off)
		i := sort.Search(len(fl.ext), func(i int) bool { return fl.ext[i].off+fl.ext[i].size > uo })
		var n int
		if i < len(fl.ext) && fl.ext[i].off <= uo {
			e := fl.ext[i]
			n = int(min(uint64(len(b)), e.off+e.size-uo))
			got, err := fl.f.ReadAt(b[:n], int64(e.src+uo-e.off))
			if got != n {
				if err == nil || err == io.EOF {
					err = fmt.Errorf("makedumpfile flattened: short read at file offset %#x", e.src+uo-e.off)
				}
				return total + got, err
			}
		} else {
			next := uint64(fl.size)
			if i < len(fl.ext) {
				next = fl.ext[i].off
			}
			n = int(min(uint64(len(b)), next-uo))
			clear(b[:n])
		}
		b = b[n:]
		off += int64(n)
		total += n
	}
	return total, nil
}

// OpenFlattened opens a flattened stream: a kdump-compressed file inside
// it opens as a *Dump, an ELF core as an elfcore dump.
func OpenFlattened(f core.File) (core.Dump, error) {
	fl, err := NewFlat(f)
	if err != nil {
		return nil, err
	}
	head := make([]byte, min(int64(core.ProbeSize), fl.Size()))
	if _, err := fl.ReadAt(head, 0); err != nil {
		return nil, fmt.Errorf("makedumpfile flattened: reading the rearranged header: %w", err)
	}
	switch {
	case isKdumpSignature(head):
		d, err := Open(fl)
		if err != nil {
			return nil, fmt.Errorf("makedumpfile flattened: %w", err)
		}
		d.flat = true
		return d, nil
	case elfcore.Probe(head):
		d, err := elfcore.Open(fl)
		if err != nil {
			return nil, fmt.Errorf("makedumpfile flattened: %w", err)
		}
		return d, nil
	}
	return nil, fmt.Errorf("makedumpfile flattened: the rearranged file starts with neither a kdump nor an ELF header")
}
