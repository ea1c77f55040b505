// Package amd64 describes the x86-64 architecture for kernel debugging:
// page-table walks and the register set with its DWARF numbers.
package amd64

import (
	"fmt"

	"github.com/kdap/kdap/target/core"
)

// Page sizes that an x86-64 translation can end in.
const (
	PageSize4K = 1 << 12 // a PTE's page
	PageSize2M = 1 << 21 // a PDE with PS set
	PageSize1G = 1 << 30 // a PDPTE with PS set
)

// Page-table entry bits used by the walk.
const (
	PteValid = 1 << 0 // P: the entry maps something
	PtePS    = 1 << 7 // PS: the entry maps a large page (PDPTE, PDE)

	// FrameMask selects the next table's (or a 4 KiB page's) physical
	// frame: bits 12..51.
	FrameMask = 0x000ffffffffff000
	// frame2M and frame1G select large-page frames; bits below them hold
	// PAT and reserved bits.
	frame2M = 0x000fffffffe00000
	frame1G = 0x000fffffc0000000

	// MaxPhysAddr is one past the highest physical address the
	// architecture allows (52 bits).
	MaxPhysAddr = 1 << 52
)

var levelNames = [...]string{1: "PTE", 2: "PDE", 3: "PDPTE", 4: "PML4E", 5: "PML5E"}

// Canonical reports whether va is canonical for a walk with the given
// number of levels (4: 48-bit, 5: 57-bit virtual addresses).
func Canonical(va uint64, levels int) bool {
	bits := uint(12 + 9*levels) // 48 or 57
	top := int64(va) >> (bits - 1)
	return top == 0 || top == -1
}

// Walk translates va through the page tables rooted at physical address
// root (a CR3 value; its low flag bits are ignored), reading table entries
// with read. levels is 4 or 5. It returns the physical address and the
// size of the page that maps va. An entry that is not present gives an
// error wrapping *core.NotPresentError that names va and the level.
func Walk(read func(pa uint64, b []byte) error, root uint64, levels int, va uint64) (pa uint64, pageSize uint64, err error) {
	if levels != 4 && levels != 5 {
		return 0, 0, fmt.Errorf("amd64 walk: %d paging levels requested, expected 4 or 5", levels)
	}
	if root >= MaxPhysAddr {
		return 0, 0, fmt.Errorf("amd64 walk: page-table root %#x is beyond the 52-bit physical address space", root)
	}
	if !Canonical(va, levels) {
		return 0, 0, fmt.Errorf("amd64 walk: va %#x is not canonical for %d-level paging", va, levels)
	}
	table := root & FrameMask
	var buf [8]byte
	// The loop runs at most `levels` times: each step descends one level,
	// so a self-referencing table cannot make it loop.
	for level := levels; level >= 1; level-- {
		shift := uint(12 + 9*(level-1))
		idx := (va >> shift) & 511
		epa := table + idx*8
		if err := read(epa, buf[:]); err != nil {
			return 0, 0, fmt.Errorf("amd64 walk: va %#x: reading %s (level %d) at pa %#x: %w", va, levelNames[level], level, epa, err)
		}
		e := uint64(buf[0]) | uint64(buf[1])<<8 | uint64(buf[2])<<16 | uint64(buf[3])<<24 |
			uint64(buf[4])<<32 | uint64(buf[5])<<40 | uint64(buf[6])<<48 | uint64(buf[7])<<56
		if e&PteValid == 0 {
			return 0, 0, fmt.Errorf("amd64 walk: va %#x: %s (level %d) at pa %#x is not present (entry %#x): %w",
				va, levelNames[level], level, epa, e,
				&core.NotPresentError{Addr: va, Virtual: true, Reason: levelNames[level] + " not present"})
		}
		if e&PtePS != 0 {
			switch level {
			case 3:
				return e&frame1G | va&(PageSize1G-1), PageSize1G, nil
			case 2:
				return e&frame2M | va&(PageSize2M-1), PageSize2M, nil
			case 1:
				// In a PTE bit 7 is PAT, not a page size.
			default:
				return 0, 0, fmt.Errorf("amd64 walk: va %#x: %s (level %d) at pa %#x has the page-size bit set, which is reserved there (entry %#x)",
					va, levelNames[level], level, epa, e)
			}
		}
		table = e & FrameMask
	}
	return table | va&(PageSize4K-1), PageSize4K, nil
}
