package amd64

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/kdap/kdap/target/core"
)

// physMem is a sparse physical memory of 4 KiB pages for walk tests.
type physMem map[uint64][]byte

func (m physMem) set(pa, v uint64) {
	page := pa &^ 0xfff
	if m[page] == nil {
		m[page] = make([]byte, 4096)
	}
	binary.LittleEndian.PutUint64(m[page][pa&0xfff:], v)
}

func (m physMem) read(pa uint64, b []byte) error {
	p, ok := m[pa&^0xfff]
	if !ok {
		return &core.NotPresentError{Addr: pa}
	}
	copy(b, p[pa&0xfff:])
	return nil
}

// va builds a canonical 4-level address from its table indices.
func va4(pml4, pdpt, pd, pt, off uint64) uint64 {
	v := pml4<<39 | pdpt<<30 | pd<<21 | pt<<12 | off
	if v&(1<<47) != 0 {
		v |= 0xffff000000000000
	}
	return v
}

func TestWalk(t *testing.T) {
	const (
		root  = 0x1000
		pdpt  = 0x2000
		pd    = 0x3000
		pt    = 0x4000
		page  = 0x5000
		big2M = 0x600000
		big1G = 0x80000000
		pml5  = 0x7000
	)
	m := physMem{}
	// PML4 entry 511 (the top 512 GB, where amd64 kernels live) -> pdpt.
	m.set(root+511*8, pdpt|0x3)
	m.set(pdpt+510*8, pd|0x3)             // 0xffffffff80000000 GB -> pd
	m.set(pdpt+3*8, big1G|PtePS|0x3)      // a 1 GB page
	m.set(pd+1*8, big2M|PtePS|1<<12|0x3)  // a 2 MB page with PAT bit 12 set
	m.set(pd+2*8, pt|0x3)                 // a page table
	m.set(pt+7*8, page|1<<63|PtePS|0x3)   // NX and PAT (bit 7) in a PTE
	m.set(pt+8*8, 0x000ffffffffff000|0x1) // the highest 52-bit frame
	m.set(pml5+511*8, root|0x3)           // 5-level: top PML5 entry -> PML4
	m.set(root+0*8, 0)                    // explicit not-present entry

	tests := []struct {
		name     string
		root     uint64
		levels   int
		va       uint64
		pa, size uint64
		err      string
	}{
		{"4K page", root, 4, va4(511, 510, 2, 7, 0x123), page + 0x123, 4096, ""},
		{"4K page, highest frame", root, 4, va4(511, 510, 2, 8, 0xfff), 0x000fffffffffffff, 4096, ""},
		{"2M page ignores PAT bit", root, 4, va4(511, 510, 1, 0x1ab, 0x456), big2M + 0x1ab<<12 + 0x456, 2 << 20, ""},
		{"1G page", root, 4, va4(511, 3, 0x155, 0x77, 0x8), big1G + 0x155<<21 + 0x77<<12 + 8, 1 << 30, ""},
		{"CR3 flag bits ignored", root | 0x18, 4, va4(511, 510, 2, 7, 0), page, 4096, ""},
		{"5 levels", pml5, 5, va4(511, 510, 2, 7, 0x10), page + 0x10, 4096, ""},
		{"PML4E not present", root, 4, va4(0, 0, 0, 0, 0), 0, 0, "PML4E (level 4)"},
		{"PDE not present", root, 4, va4(511, 510, 3, 0, 0), 0, 0, "PDE (level 2)"},
		{"PTE not present", root, 4, va4(511, 510, 2, 9, 0), 0, 0, "PTE (level 1)"},
		{"PDPTE not present", root, 4, va4(511, 4, 0, 0, 0), 0, 0, "PDPTE (level 3)"},
		{"non-canonical", root, 4, 0x0000800000000000, 0, 0, "not canonical"},
		{"non-canonical for 5 levels", pml5, 5, 0x0100000000000000, 0, 0, "not canonical"},
		{"bad level count", root, 3, 0, 0, 0, "expected 4 or 5"},
		{"root beyond 52 bits", 1 << 52, 4, 0, 0, 0, "52-bit"},
		{"table page missing", 0x9000, 4, va4(511, 0, 0, 0, 0), 0, 0, "reading PML4E"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pa, size, err := Walk(m.read, tc.root, tc.levels, tc.va)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Walk(%#x) error = %v, want one containing %q", tc.va, err, tc.err)
				}
				if !strings.Contains(err.Error(), "amd64 walk") {
					t.Errorf("error %q does not say where it comes from", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Walk(%#x): %v", tc.va, err)
			}
			if pa != tc.pa || size != tc.size {
				t.Errorf("Walk(%#x) = %#x, %#x; want %#x, %#x", tc.va, pa, size, tc.pa, tc.size)
			}
		})
	}
}

func TestWalkNotPresentIsNotPresentError(t *testing.T) {
	m := physMem{}
	m.set(0x1000, 0)
	_, _, err := Walk(m.read, 0x1000, 4, 0x1234)
	var np *core.NotPresentError
	if !errors.As(err, &np) || np.Addr != 0x1234 || !np.Virtual {
		t.Fatalf("error %v does not wrap a virtual *core.NotPresentError for 0x1234", err)
	}
}

// A table that points at itself (the recursive-mapping trick) must not
// make the walk loop: it ends after four reads at the table itself.
func TestWalkSelfReference(t *testing.T) {
	m := physMem{}
	m.set(0x1000, 0x1000|0x3)
	reads := 0
	read := func(pa uint64, b []byte) error { reads++; return m.read(pa, b) }
	pa, size, err := Walk(read, 0x1000, 4, 0x10)
	if err != nil || pa != 0x1010 || size != 4096 {
		t.Fatalf("Walk = %#x, %d, %v; want 0x1010, 4096, nil", pa, size, err)
	}
	if reads != 4 {
		t.Errorf("walk read %d entries, want 4", reads)
	}
}

func TestCanonical(t *testing.T) {
	for _, tc := range []struct {
		va     uint64
		levels int
		want   bool
	}{
		{0, 4, true},
		{0x00007fffffffffff, 4, true},
		{0x0000800000000000, 4, false},
		{0xffff800000000000, 4, true},
		{0xfffe800000000000, 4, false},
		{0x0000800000000000, 5, true},
		{0x00ffffffffffffff, 5, true},
		{0x01ffffffffffffff, 5, false},
		{0xff00000000000000, 5, true},
	} {
		if got := Canonical(tc.va, tc.levels); got != tc.want {
			t.Errorf("Canonical(%#x, %d) = %v, want %v", tc.va, tc.levels, got, tc.want)
		}
	}
}

func FuzzWalk(f *testing.F) {
	seed := make([]byte, 4096)
	binary.LittleEndian.PutUint64(seed[511*8:], 0x3)       // every level points at page 0
	binary.LittleEndian.PutUint64(seed[8:], 0x200000|0x83) // a 2 MB page at PD index 1
	f.Add(seed, uint64(0), uint64(0xffffffff80000000), uint8(4))
	f.Add(seed, uint64(0x1000), uint64(0x1234), uint8(5))
	f.Fuzz(func(t *testing.T, mem []byte, root, va uint64, levels uint8) {
		if len(mem) == 0 {
			return
		}
		// Physical memory repeats the fuzz bytes; every address is readable.
		read := func(pa uint64, b []byte) error {
			for i := range b {
				b[i] = mem[(pa+uint64(i))%uint64(len(mem))]
			}
			return nil
		}
		pa, size, err := Walk(read, root, int(levels), va)
		if err != nil {
			return
		}
		if pa >= MaxPhysAddr {
			t.Fatalf("Walk returned pa %#x beyond 52 bits", pa)
		}
		if size != PageSize4K && size != PageSize2M && size != PageSize1G {
			t.Fatalf("Walk returned page size %#x", size)
		}
		if pa&(size-1) != va&(size-1) {
			t.Fatalf("page offset not kept: va %#x pa %#x size %#x", va, pa, size)
		}
	})
}
