package kdump

// Small handcrafted files whose size fields claim far more than the file
// holds: opening them must fail (or read NotPresentError) with an
// allocation in proportion to the file, not to the fields.

import (
	"encoding/binary"
	"errors"
	"math/rand"
	"runtime"
	"strings"
	"testing"

	"github.com/kdap/kdap/target/core"
)

// allocBound is the most a small hostile file may make Open allocate,
// for two attaches.
const allocBound = 16 << 20

// flatRecord is one record of a flattened stream.
type flatRecord struct {
	off  uint64
	data []byte
}

// flatStream writes records as a flattened stream, with its end marker.
func flatStream(recs []flatRecord) []byte {
	out := make([]byte, flatHeaderSize)
	copy(out, "makedumpfile")
	binary.BigEndian.PutUint64(out[16:], 1)
	binary.BigEndian.PutUint64(out[24:], 1)
	for _, r := range recs {
		var h [16]byte
		binary.BigEndian.PutUint64(h[0:], r.off)
		binary.BigEndian.PutUint64(h[8:], uint64(len(r.data)))
		out = append(append(out, h[:]...), r.data...)
	}
	end := [16]byte{}
	for i := range end {
		end[i] = 0xff
	}
	return append(out, end[:]...)
}

// hostileHeader returns a header block and a sub-header block (4096-byte
// blocks, header version 6) with the given bitmap_blocks.
func hostileHeader(bitmapBlocks uint32) []byte {
	le := binary.LittleEndian
	b := make([]byte, 2*4096)
	copy(b, "KDUMP   ")
	le.PutUint32(b[hdrOff["header_version"]:], 6)
	copy(b[hdrOff["utsname"]+4*65:], "x86_64")
	le.PutUint32(b[hdrOff["status"]:], FlagZlib)
	le.PutUint32(b[hdrOff["block_size"]:], 4096)
	le.PutUint32(b[hdrOff["sub_hdr_size"]:], 1)
	le.PutUint32(b[hdrOff["bitmap_blocks"]:], bitmapBlocks)
	le.PutUint32(b[hdrOff["max_mapnr"]:], 1<<31)
	le.PutUint64(b[4096+subOff["max_mapnr_64"]:], 1<<40)
	return b
}

// totalAlloc returns how many bytes f allocates.
func totalAlloc(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestHostileSizesAllocation(t *testing.T) {
	le := binary.LittleEndian
	tests := []struct {
		name  string
		file  func() []byte
		open  func(core.File) (core.Dump, error)
		want  string // in the error; "" when the file opens
		reads []uint64
	}{
		{
			// The report's file: 12 KB, a 1 GiB bitmap that a record far
			// beyond it makes fit in the rearranged size.
			name: "flattened bitmap of 262144 blocks in a hole",
			file: func() []byte {
				h := hostileHeader(262144)
				return flatStream([]flatRecord{{0, h}, {3 << 30, []byte{1}}})
			},
			open: OpenFlattened,
			want: "bitmaps: 262144 blocks",
		},
		{
			name: "plain bitmap of 262144 blocks",
			file: func() []byte { return append(hostileHeader(262144), make([]byte, 4096)...) },
			open: openPlain,
			want: "bitmaps: 262144 blocks",
		},
		{
			name: "flattened notes of 64 MiB in a hole",
			file: func() []byte {
				h := append(hostileHeader(2), make([]byte, 2*4096)...)
				le.PutUint64(h[4096+subOff["offset_note"]:], 1<<30)
				le.PutUint64(h[4096+subOff["size_note"]:], maxNoteBytes)
				return flatStream([]flatRecord{{0, h}, {2 << 30, []byte{1}}})
			},
			open: OpenFlattened,
			want: "kdump notes",
		},
		{
			name: "flattened VMCOREINFO of 1 MiB in a hole",
			file: func() []byte {
				h := append(hostileHeader(2), make([]byte, 2*4096)...)
				le.PutUint64(h[4096+subOff["offset_vmcoreinfo"]:], 1<<30)
				le.PutUint64(h[4096+subOff["size_vmcoreinfo"]:], 1<<20)
				return flatStream([]flatRecord{{0, h}, {2 << 30, []byte{1}}})
			},
			open: OpenFlattened,
			want: "VMCOREINFO",
		},
		{
			// 4096 empty notes: they open, at a cost in proportion.
			name: "notes of zero-sized entries",
			file: func() []byte {
				h := append(hostileHeader(2), make([]byte, 2*4096+48<<10)...)
				le.PutUint64(h[4096+subOff["offset_note"]:], 4*4096)
				le.PutUint64(h[4096+subOff["size_note"]:], 48<<10)
				return h
			},
			open: openPlain,
		},
		{
			name: "descriptors in a hole",
			file: func() []byte {
				h := append(hostileHeader(2), make([]byte, 2*4096)...)
				for i := range 4096 {
					h[3*4096+i] = 0xff // 32768 pages present and dumped
					h[2*4096+i] = 0xff
				}
				return flatStream([]flatRecord{{0, h}, {2 << 30, []byte{1}}})
			},
			open: OpenFlattened,
			want: "page descriptors: 32768 descriptors",
		},
		{
			// 3600 records, each written before the previous one.
			name: "flattened records in reverse order",
			file: func() []byte {
				h := append(hostileHeader(2), make([]byte, 2*4096)...)
				var recs []flatRecord
				for off := 3600; off > 0; off-- {
					recs = append(recs, flatRecord{uint64(len(h) + off), []byte{0}})
				}
				return flatStream(append(recs, flatRecord{0, h}))
			},
			open:  OpenFlattened,
			reads: []uint64{0, 1 << 39},
		},
		{
			name:  "max_mapnr of 2^40 pages",
			file:  func() []byte { return append(hostileHeader(2), make([]byte, 2*4096)...) },
			open:  openPlain,
			reads: []uint64{0, 1 << 39, 1<<40 - 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.file()
			if len(b) > 80<<10 {
				t.Fatalf("test file of %d bytes is not small", len(b))
			}
			var errs []error
			n := totalAlloc(func() {
				for range 2 { // two attaches
					d, err := tt.open(file(b))
					errs = append(errs, err)
					if err != nil {
						continue
					}
					for _, pfn := range tt.reads {
						err := d.ReadPhys(make([]byte, 8), pfn*4096)
						if np := (*core.NotPresentError)(nil); !errors.As(err, &np) {
							t.Errorf("pfn %#x reads with %v, want NotPresentError", pfn, err)
						}
					}
				}
			})
			for _, err := range errs {
				switch {
				case tt.want == "" && err != nil:
					t.Errorf("open: %v", err)
				case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
					t.Errorf("open: error %v, want one containing %q", err, tt.want)
				}
			}
			t.Logf("%d-byte file: two opens allocate %d bytes (%v)", len(b), n, errs[0])
			if n > allocBound {
				t.Errorf("two opens of a %d-byte file allocate %d bytes, more than %d", len(b), n, allocBound)
			}
		})
	}
}

func openPlain(f core.File) (core.Dump, error) { return Open(f) }

// TestResolveExtents checks the overlap resolution against rearranging
// random records byte by byte, later records winning.
func TestResolveExtents(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for iter := range 300 {
		const span = 200
		var want [span]int // source offset of each byte, -1 where none
		for i := range want {
			want[i] = -1
		}
		var recs []extent
		src := 0
		for range 1 + r.Intn(12) {
			off, n := r.Intn(span-1), 1+r.Intn(40)
			n = min(n, span-off)
			recs = append(recs, extent{off: uint64(off), size: uint64(n), src: uint64(1000 + src)})
			for i := range n {
				want[off+i] = 1000 + src + i
			}
			src += n
		}
		var got [span]int
		for i := range got {
			got[i] = -1
		}
		ext := resolveExtents(recs)
		for k, e := range ext {
			if e.size == 0 || (k > 0 && ext[k-1].off+ext[k-1].size > e.off) {
				t.Fatalf("iteration %d: extents %v are not sorted, non-empty and disjoint", iter, ext)
			}
			for i := range e.size {
				got[e.off+i] = int(e.src + i)
			}
		}
		if got != want {
			t.Fatalf("iteration %d: records %v resolve to %v", iter, recs, ext)
		}
	}
}
