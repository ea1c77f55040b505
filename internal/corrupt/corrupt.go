// Package corrupt derives damaged and hostile inputs from kdap's real
// dump fixtures: truncations, header fields at extreme values, zeroed and
// looping page tables, zeroed pages under the kernel's lists, cyclic and
// wild list pointers, damaged kernel files and special files. The
// campaign test in this package runs every terminal verb over every case
// under a time and memory bound.
package corrupt

import (
	"encoding/binary"
	"io"
	"os"
	"sort"
)

// Case is one damaged input: a dump and a kernel file to open together.
type Case struct {
	// Name says what was done to which fixture.
	Name string
	// Core and Kernel are the files to open.
	Core, Kernel string
	// Base names the undamaged fixture the case derives from ("" for
	// special files), whose output it is compared with.
	Base string
}

// Patch is bytes to write at a file offset.
type Patch struct {
	Off  int64
	Data []byte
}

// Write copies src to dst with the patches applied and, when size >= 0,
// the result cut (or extended with zeros) to size bytes. It streams, so
// large dumps cost no memory.
func Write(dst, src string, size int64, patches ...Patch) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	n := int64(-1)
	if size >= 0 {
		n = size
	}
	var r io.Reader = in
	if n >= 0 {
		r = io.LimitReader(in, n)
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	if size >= 0 {
		if err := out.Truncate(size); err != nil {
			out.Close()
			return err
		}
	}
	for _, p := range patches {
		if size >= 0 && p.Off >= size {
			continue
		}
		if _, err := out.WriteAt(p.Data, p.Off); err != nil {
			out.Close()
			return err
		}
	}
	return out.Close()
}

// WriteHead copies the first keep bytes of src to dst, extends dst to
// src's size with a hole (zeros that take no disk) and applies the
// patches: a cheap stand-in for a full copy of a large dump whose header
// is damaged.
func WriteHead(dst, src string, keep int64, patches ...Patch) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if err := Write(dst, src, min(keep, st.Size()), nil...); err != nil {
		return err
	}
	if err := os.Truncate(dst, st.Size()); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	for _, p := range patches {
		if _, err := out.WriteAt(p.Data, p.Off); err != nil {
			out.Close()
			return err
		}
	}
	return out.Close()
}

// U32 and U64 encode little-endian words for patches.
func U32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// U64 encodes a little-endian 64-bit word.
func U64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// Extremes are the values a header word is set to: zero, one, all ones,
// the largest signed value and values just past common limits.
var Extremes = []uint64{0, 1, 0xffffffff, 0x7fffffff, 0x80000000, 1 << 40, 0xffffffffffffffff}

// Truncations returns the cut points of a file of the given size: the
// structure boundaries named, each minus and plus one, and fractions of
// the file; sorted, deduplicated, all below size.
func Truncations(size int64, boundaries ...int64) []int64 {
	set := map[int64]bool{0: true, 1: true}
	for _, b := range boundaries {
		for _, d := range []int64{-1, 0, 1} {
			set[b+d] = true
		}
	}
	for i := int64(1); i < 8; i++ {
		set[size*i/8] = true
	}
	var out []int64
	for v := range set {
		if v >= 0 && v < size {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
