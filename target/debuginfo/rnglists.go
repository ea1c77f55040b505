package debuginfo

import (
	"debug/dwarf"
	"fmt"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
)

// DWARF 5 range list entry kinds (DW_RLE_*, section 7.25).
const (
	rleEndOfList    = 0x00
	rleBaseAddressx = 0x01
	rleStartxEndx   = 0x02
	rleStartxLength = 0x03
	rleOffsetPair   = 0x04
	rleBaseAddress  = 0x05
	rleStartEnd     = 0x06
	rleStartLength  = 0x07
)

// checkRangeList walks the DWARF 5 range list that e's DW_AT_ranges
// names and reports what debug/dwarf's reader passes over in silence: an
// entry kind DWARF 5 does not define (it skips the byte and reads on,
// turning the rest of the list into other ranges), an operand cut off by
// the end of the section, a range that ends before it starts. It returns
// nil for a DIE without DW_AT_ranges or in a unit before DWARF 5
// (.debug_ranges). The caller holds d.mu.
func (d *Data) checkRangeList(e godwarf.Entry, die dwarf.Offset) error {
	f := e.AttrField(dwarf.AttrRanges)
	if f == nil {
		return nil
	}
	var off uint64
	switch v := f.Val.(type) {
	case int64: // DW_FORM_sec_offset
		if f.Class != dwarf.ClassRangeListPtr || v < 0 {
			return nil
		}
		off = uint64(v)
	case uint64: // DW_FORM_rnglistx, resolved through the unit's offset table
		if f.Class != dwarf.ClassRngList {
			return nil
		}
		off = v
	default:
		return nil
	}
	if u := d.unitOf(die); u == nil || d.unitVersion(u) < 5 {
		return nil
	}
	sec, err := d.section(".debug_rnglists")
	if err != nil {
		return err
	}
	if err := checkRangeListHeader(sec, off, d.ptrSize, d.order.Uint32, d.order.Uint64); err != nil {
		return err
	}
	return walkRangeList(sec, off, d.ptrSize, d.order.Uint64, d.order.Uint32)
}

// walkRangeList checks the range list at off in sec (.debug_rnglists)
// entry by entry, up to its DW_RLE_end_of_list. Every entry takes at
// least one byte, so the walk ends within the section.
func walkRangeList(sec []byte, off uint64, ptrSize int, u64 func([]byte) uint64, u32 func([]byte) uint32) error {
	if off >= uint64(len(sec)) {
		return fmt.Errorf("range list at .debug_rnglists+%#x is outside the %#x-byte section", off, len(sec))
	}
	p := off
	var err error
	leb := func() uint64 {
		if err != nil {
			return 0
		}
		v, n := uleb(sec[p:])
		if n == 0 {
			err = fmt.Errorf("range list at .debug_rnglists+%#x: LEB128 operand at +%#x runs past the end of the section", off, p)
			return 0
		}
		p += uint64(n)
		return v
	}
	addr := func() uint64 {
		if err != nil {
			return 0
		}
		if uint64(len(sec))-p < uint64(ptrSize) {
			err = fmt.Errorf("range list at .debug_rnglists+%#x: address operand at +%#x runs past the end of the section", off, p)
			return 0
		}
		var v uint64
		if ptrSize == 8 {
			v = u64(sec[p:])
		} else {
			v = uint64(u32(sec[p:]))
		}
		p += uint64(ptrSize)
		return v
	}
	for p < uint64(len(sec)) {
		at := p
		kind := sec[p]
		p++
		var lo, hi uint64
		ordered := false
		switch kind {
		case rleEndOfList:
			return nil
		case rleBaseAddressx:
			leb()
		case rleStartxEndx:
			leb()
			leb()
		case rleStartxLength:
			leb()
			leb()
		case rleOffsetPair:
			lo, hi, ordered = leb(), leb(), true
		case rleBaseAddress:
			addr()
		case rleStartEnd:
			lo, hi, ordered = addr(), addr(), true
		case rleStartLength:
			addr()
			leb()
		default:
			return fmt.Errorf("range list at .debug_rnglists+%#x: entry kind %#x at +%#x is not a DWARF 5 range list entry", off, kind, at)
		}
		if err != nil {
			return err
		}
		if ordered && lo > hi {
			return fmt.Errorf("range list at .debug_rnglists+%#x: the range at +%#x ends (%#x) before it starts (%#x)", off, at, hi, lo)
		}
	}
	return fmt.Errorf("range list at .debug_rnglists+%#x has no end before the end of the section", off)
}

// inlineRangeErrors checks the ranges of the scopes under n that could
// hold pc: the children of every scope that holds it, fn being the
// function. One whose range list is corrupt might have held pc, so the
// inlined calls at pc are unknown. Besides the encoding (checkRangeList),
// a scope's own ranges must lie in its function's code: a corrupt list can
// decode into other ranges. The caller holds d.mu.
func (d *Data) inlineRangeErrors(fn *Func, n *godwarf.Tree, pc uint64) error {
	for _, c := range n.Children {
		switch c.Tag {
		case dwarf.TagInlinedSubroutine, dwarf.TagLexDwarfBlock:
		default:
			continue
		}
		if err := d.checkScopeRanges(fn, c); err != nil {
			return fmt.Errorf("%s at DIE %#x: %w", tagName(c.Tag), c.Offset, err)
		}
		if c.ContainsPC(pc) {
			if err := d.inlineRangeErrors(fn, c, pc); err != nil {
				return err
			}
		}
	}
	return nil
}

// maxScopeChecks bounds the cache of checkScopeRanges; it is emptied
// when full.
const maxScopeChecks = 1 << 16

// checkScopeRanges checks the ranges of the inlined subroutine or lexical
// block c of fn, once per DIE. The caller holds d.mu.
func (d *Data) checkScopeRanges(fn *Func, c *godwarf.Tree) error {
	if c.Entry.AttrField(dwarf.AttrRanges) == nil {
		return nil // DW_AT_low_pc/high_pc, or no code
	}
	if err, ok := d.scopeChecks[c.Offset]; ok {
		return err
	}
	err := d.scopeRangesErr(fn, c)
	if d.scopeChecks == nil || len(d.scopeChecks) >= maxScopeChecks {
		d.scopeChecks = map[dwarf.Offset]error{}
	}
	d.scopeChecks[c.Offset] = err
	return err
}

// scopeRangesErr does the work of checkScopeRanges.
func (d *Data) scopeRangesErr(fn *Func, c *godwarf.Tree) error {
	if err := d.checkRangeList(c.Entry, c.Offset); err != nil {
		return err
	}
	e, err := d.entryAt(c.Offset)
	if err != nil {
		return err
	}
	own, err := d.dw.Ranges(e)
	if err != nil {
		return fmt.Errorf("ranges: %w", err)
	}
	for _, r := range own {
		if r[0] > r[1] {
			return fmt.Errorf("range %#x-%#x ends before it starts", r[0], r[1])
		}
		if r[0] < r[1] && !inRanges(fn.Ranges, r) {
			return fmt.Errorf("range %#x-%#x lies outside the code of %s", r[0], r[1], fn.Name)
		}
	}
	return nil
}

// inRanges reports whether r lies within one of rs.
func inRanges(rs [][2]uint64, r [2]uint64) bool {
	for _, x := range rs {
		if r[0] >= x[0] && r[1] <= x[1] {
			return true
		}
	}
	return false
}

// tagName names the scope tags inlineRangeErrors reports.
func tagName(t dwarf.Tag) string {
	switch t {
	case dwarf.TagInlinedSubroutine:
		return "inlined subroutine"
	case dwarf.TagLexDwarfBlock:
		return "lexical block"
	}
	return "scope"
}

// checkRangeListHeader finds the .debug_rnglists contribution whose
// lists hold offset off and checks its header (DWARF 5 section 7.28): a
// unit length inside the section, version 5, the unit's address size and
// no segment selectors. A zeroed or overwritten header means the lists
// behind it cannot be trusted, though they may still decode: an all-zero
// list is an empty one, which would drop an inlined frame in silence.
func checkRangeListHeader(sec []byte, off uint64, ptrSize int, u32 func([]byte) uint32, u64 func([]byte) uint64) error {
	pos := uint64(0)
	for pos < uint64(len(sec)) {
		at := pos
		if uint64(len(sec))-pos < 12 {
			return fmt.Errorf(".debug_rnglists contribution at %#x: a %d-byte header does not fit before the end of the section", at, 12)
		}
		length := uint64(u32(sec[pos:]))
		hdr := uint64(4)
		if length == 0xffffffff {
			if uint64(len(sec))-pos < 20 {
				return fmt.Errorf(".debug_rnglists contribution at %#x: the 64-bit header does not fit before the end of the section", at)
			}
			length = u64(sec[pos+4:])
			hdr = 12
		}
		if length < 8 || length > uint64(len(sec))-pos-hdr {
			return fmt.Errorf(".debug_rnglists contribution at %#x: unit_length %#x does not fit the %#x-byte section", at, length, len(sec))
		}
		v := sec[pos+hdr : pos+hdr+8]
		version := uint16(v[0]) | uint16(v[1])<<8
		if version != 5 || int(v[2]) != ptrSize || v[3] != 0 {
			return fmt.Errorf(".debug_rnglists contribution at %#x: version %d, address size %d, segment selector size %d; want 5, %d, 0", at, version, v[2], v[3], ptrSize)
		}
		end := pos + hdr + length
		if off >= pos && off < end {
			return nil
		}
		pos = end
	}
	return fmt.Errorf("range list offset %#x is past every .debug_rnglists contribution", off)
}
