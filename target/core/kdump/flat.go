package kdump

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
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
}

// NewFlat indexes the records of a flattened stream.
func NewFlat(f core.File) (*Flat, error) {
	var hb [32]byte
	if err := readFull(f, hb[:], 0, "flattened header"); err != nil {
		return nil, err
	}
	if !IsFlattened(hb[:]) {
		return nil, fmt.Errorf("makedumpfile flattened header: signature %q / type %d is not \"makedumpfile\" / 1 (file offset 0x0)", bytes.TrimRight(hb[:16], "\x00"), int64(binary.BigEndian.Uint64(hb[16:])))
	}
	if v := int64(binary.BigEndian.Uint64(hb[24:])); v != 1 {
		return nil, fmt.Errorf("makedumpfile flattened header: version %d, want 1 (file offset 0x18)", v)
	}
	fl := &Flat{f: f}
	size := uint64(f.Size())
	pos := uint64(flatHeaderSize)
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
		fl.add(extent{off: uint64(off), size: uint64(sz), src: pos})
		pos += uint64(sz)
	}
	if len(fl.ext) > 0 {
		last := fl.ext[len(fl.ext)-1]
		fl.size = int64(last.off + last.size)
	}
	return fl, nil
}

// add inserts e; where it overlaps earlier records the later write wins,
// as when the stream is rearranged in order.
func (fl *Flat) add(e extent) {
	end := e.off + e.size
	if n := len(fl.ext); n == 0 || fl.ext[n-1].off+fl.ext[n-1].size <= e.off {
		fl.ext = append(fl.ext, e) // the common case: written in order
		return
	}
	i := sort.Search(len(fl.ext), func(i int) bool { return fl.ext[i].off+fl.ext[i].size > e.off })
	out := append([]extent(nil), fl.ext[:i]...)
	var tail *extent
	j := i
	for ; j < len(fl.ext) && fl.ext[j].off < end; j++ {
		x := fl.ext[j]
		if x.off < e.off { // keep the head of x
			out = append(out, extent{off: x.off, size: e.off - x.off, src: x.src})
		}
		if xe := x.off + x.size; xe > end { // keep the tail of x (only the last one can have one)
			tail = &extent{off: end, size: xe - end, src: x.src + (end - x.off)}
		}
	}
	out = append(out, e)
	if tail != nil {
		out = append(out, *tail)
	}
	fl.ext = append(out, fl.ext[j:]...)
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
	return nil, fmt.Errorf("makedumpfile flattened: the rearranged file starts with %q, neither a kdump nor an ELF header", head[:min(len(head), 8)])
}
