package debuginfo

import (
	"bytes"
	"debug/dwarf"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/go-delve/delve/pkg/dwarf/leb128"
)

// The name index reads the top-level DIEs of hundreds of units before a
// kernel model's first types are defined. debug/dwarf's Reader decodes
// every attribute of every DIE into a fresh Entry; this scanner reads the
// few attributes the index needs straight from the section bytes and
// skips the rest by their form, without allocating.

// DWARF constants the scanner needs (DWARF 5, section 7).
const (
	formAddr          = 0x01
	formBlock2        = 0x03
	formBlock4        = 0x04
	formData2         = 0x05
	formData4         = 0x06
	formData8         = 0x07
	formString        = 0x08
	formBlock         = 0x09
	formBlock1        = 0x0a
	formData1         = 0x0b
	formFlag          = 0x0c
	formSdata         = 0x0d
	formStrp          = 0x0e
	formUdata         = 0x0f
	formRefAddr       = 0x10
	formRef1          = 0x11
	formRef2          = 0x12
	formRef4          = 0x13
	formRef8          = 0x14
	formRefUdata      = 0x15
	formIndirect      = 0x16
	formSecOffset     = 0x17
	formExprloc       = 0x18
	formFlagPresent   = 0x19
	formStrx          = 0x1a
	formAddrx         = 0x1b
	formRefSup4       = 0x1c
	formStrpSup       = 0x1d
	formData16        = 0x1e
	formLineStrp      = 0x1f
	formRefSig8       = 0x20
	formImplicitConst = 0x21
	formLoclistx      = 0x22
	formRnglistx      = 0x23
	formRefSup8       = 0x24
	formStrx1         = 0x25
	formStrx2         = 0x26
	formStrx3         = 0x27
	formStrx4         = 0x28
	formAddrx1        = 0x29
	formAddrx2        = 0x2a
	formAddrx3        = 0x2b
	formAddrx4        = 0x2c
	formGNUAddrIndex  = 0x1f01
	formGNUStrIndex   = 0x1f02
	formGNURefAlt     = 0x1f20
	formGNUStrpAlt    = 0x1f21

	attrStrOffsetsBase = 0x72
)

// errScan marks malformed bytes met by the scanner.
var errScan = errors.New("malformed .debug_info")

// abbrevSpec is one abbreviation: the DIE's tag, whether it has children
// and its attributes with their forms.
type abbrevSpec struct {
	tag      dwarf.Tag
	children bool
	attrs    []attrSpec
}

type attrSpec struct {
	attr     dwarf.Attr
	form     uint64
	implicit int64 // DW_FORM_implicit_const's value
}

// scanner reads the DIEs of one unit.
type scanner struct {
	b        []byte // .debug_info
	off      int    // read position in b
	end      int    // end of the unit
	unit     int    // offset of the unit header (base of unit references)
	order    binary.ByteOrder
	is64     bool
	version  int
	asize    int
	abbrev   []byte       // .debug_abbrev
	specs    []abbrevSpec // the unit's abbreviations
	attrPool []attrSpec   // their attributes, reused from unit to unit
	abbrevs  []int32      // index into specs by code (small codes), -1 for none
	bigCodes map[uint64]int32
	str      []byte // .debug_str
	lineStr  []byte // .debug_line_str
	strOffs  []byte // .debug_str_offsets
	strBase  uint64 // DW_AT_str_offsets_base of the unit
	err      error
}

// dieInfo is what the index needs of one DIE.
type dieInfo struct {
	off      dwarf.Offset
	tag      dwarf.Tag
	children bool
	name     []byte // nil when absent or unreadable
	decl     bool   // DW_AT_declaration present
	def      bool   // DW_AT_location, DW_AT_low_pc or DW_AT_ranges present
	inline   bool   // DW_AT_inline present
	ref      dwarf.Offset
	hasRef   bool         // DW_AT_specification, else DW_AT_abstract_origin
	refSpec  bool         // ref came from DW_AT_specification
	sibling  dwarf.Offset // 0 when absent
	null     bool         // a null entry (end of siblings)
	strxName uint64       // DW_AT_name given as a string index
	hasStrx  bool
}

func (s *scanner) fail(what string) {
	if s.err == nil {
		s.err = fmt.Errorf("%w: %s at offset %#x", errScan, what, s.off)
		s.off = s.end
	}
}

func (s *scanner) bytes(n uint64) []byte {
	if s.err != nil || n > uint64(s.end-s.off) {
		s.fail("truncated")
		return nil
	}
	b := s.b[s.off : s.off+int(n)]
	s.off += int(n)
	return b
}

func (s *scanner) u8() uint64 {
	if b := s.bytes(1); b != nil {
		return uint64(b[0])
	}
	return 0
}

func (s *scanner) uN(n int) uint64 {
	b := s.bytes(uint64(n))
	if b == nil {
		return 0
	}
	switch n {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(s.order.Uint16(b))
	case 3:
		if s.order == binary.BigEndian {
			return uint64(b[0])<<16 | uint64(b[1])<<8 | uint64(b[2])
		}
		return uint64(b[2])<<16 | uint64(b[1])<<8 | uint64(b[0])
	case 4:
		return uint64(s.order.Uint32(b))
	case 8:
		return s.order.Uint64(b)
	}
	return 0
}

func (s *scanner) uleb() uint64 {
	if s.err != nil {
		return 0
	}
	v, n := uleb(s.b[s.off:s.end])
	if n == 0 {
		s.fail("bad LEB128")
		return 0
	}
	s.off += n
	return v
}

func (s *scanner) offsetSize() int {
	if s.is64 {
		return 8
	}
	return 4
}

// cstr reads a NUL-terminated string from tab at off (nil when out of
// range).
func cstr(tab []byte, off uint64) []byte {
	if off >= uint64(len(tab)) {
		return nil
	}
	t := tab[off:]
	for i, c := range t {
		if c == 0 {
			return t[:i]
		}
	}
	return nil
}

// parseAbbrevs reads the abbreviation table at off in .debug_abbrev.
func (s *scanner) parseAbbrevs(off uint64) error {
	ab := s.abbrev
	if off >= uint64(len(ab)) {
		return fmt.Errorf("%w: abbreviation offset %#x past .debug_abbrev (%#x bytes)", errScan, off, len(ab))
	}
	p := &scanner{b: ab, off: int(off), end: len(ab)}
	s.specs, s.attrPool, s.abbrevs, s.bigCodes = s.specs[:0], s.attrPool[:0], s.abbrevs[:0], nil
	for {
		code := p.uleb()
		if p.err != nil {
			return fmt.Errorf("abbreviations at %#x: %w", off, p.err)
		}
		if code == 0 {
			return nil
		}
		a := abbrevSpec{tag: dwarf.Tag(p.uleb()), children: p.u8() != 0}
		first := len(s.attrPool)
		for {
			attr, form := p.uleb(), p.uleb()
			if p.err != nil {
				return fmt.Errorf("abbreviations at %#x: %w", off, p.err)
			}
			if attr == 0 && form == 0 {
				break
			}
			sp := attrSpec{attr: dwarf.Attr(attr), form: form}
			if form == formImplicitConst {
				// Rare (one per abbreviation that has it): delve's
				// decoder over a reader will do.
				r := bytes.NewReader(p.b[p.off:p.end])
				v, _ := leb128.DecodeSigned(r)
				p.off = p.end - r.Len()
				sp.implicit = v
			}
			s.attrPool = append(s.attrPool, sp)
		}
		// The pool may move as it grows: a spec keeps its own view, which
		// stays valid (the old array is not reused until the next unit).
		a.attrs = s.attrPool[first:len(s.attrPool):len(s.attrPool)]
		i := int32(len(s.specs))
		s.specs = append(s.specs, a)
		if code < 1<<12 {
			for uint64(len(s.abbrevs)) <= code {
				s.abbrevs = append(s.abbrevs, -1)
			}
			s.abbrevs[code] = i
		} else {
			if s.bigCodes == nil {
				s.bigCodes = map[uint64]int32{}
			}
			s.bigCodes[code] = i
		}
	}
}

func (s *scanner) abbrevFor(code uint64) *abbrevSpec {
	i, ok := int32(-1), false
	if code < uint64(len(s.abbrevs)) {
		i, ok = s.abbrevs[code], true
	} else {
		i, ok = s.bigCodes[code]
	}
	if !ok || i < 0 {
		return nil
	}
	return &s.specs[i]
}

// die reads the DIE at the current position into di.
func (s *scanner) die(di *dieInfo) {
	*di = dieInfo{off: dwarf.Offset(s.off)}
	code := s.uleb()
	if s.err != nil {
		return
	}
	if code == 0 {
		di.null = true
		return
	}
	a := s.abbrevFor(code)
	if a == nil {
		s.fail(fmt.Sprintf("unknown abbreviation code %d", code))
		return
	}
	di.tag, di.children = a.tag, a.children
	for _, at := range a.attrs {
		s.attr(di, at.attr, at.form, 0)
		if s.err != nil {
			return
		}
	}
}

// attr reads (or skips) one attribute value.
func (s *scanner) attr(di *dieInfo, attr dwarf.Attr, form uint64, depth int) {
	var (
		ref    uint64
		isRef  bool
		strOff uint64
		strTab []byte
		isStr  bool
	)
	switch form {
	case formAddr:
		s.bytes(uint64(s.asize))
	case formBlock1:
		s.bytes(s.u8())
	case formBlock2:
		s.bytes(s.uN(2))
	case formBlock4:
		s.bytes(s.uN(4))
	case formBlock, formExprloc:
		s.bytes(s.uleb())
	case formData1, formFlag, formStrx1, formAddrx1:
		v := s.uN(1)
		if form == formStrx1 {
			di.strxName, di.hasStrx = v, attr == dwarf.AttrName
		}
	case formData2, formStrx2, formAddrx2:
		v := s.uN(2)
		if form == formStrx2 {
			di.strxName, di.hasStrx = v, attr == dwarf.AttrName
		}
	case formStrx3, formAddrx3:
		v := s.uN(3)
		if form == formStrx3 {
			di.strxName, di.hasStrx = v, attr == dwarf.AttrName
		}
	case formData4, formStrx4, formAddrx4, formRefSup4:
		v := s.uN(4)
		if form == formStrx4 {
			di.strxName, di.hasStrx = v, attr == dwarf.AttrName
		}
	case formData8, formRefSig8, formRefSup8:
		s.bytes(8)
	case formData16:
		s.bytes(16)
	case formSdata, formUdata, formAddrx, formLoclistx, formRnglistx, formGNUAddrIndex:
		s.uleb()
	case formStrx, formGNUStrIndex:
		v := s.uleb()
		di.strxName, di.hasStrx = v, attr == dwarf.AttrName
	case formString:
		start := s.off
		for s.off < s.end && s.b[s.off] != 0 {
			s.off++
		}
		if s.off >= s.end {
			s.fail("unterminated string")
			return
		}
		if attr == dwarf.AttrName {
			di.name = s.b[start:s.off]
		}
		s.off++
	case formStrp, formLineStrp:
		strOff, isStr = s.uN(s.offsetSize()), true
		strTab = s.str
		if form == formLineStrp {
			strTab = s.lineStr
		}
	case formSecOffset:
		v := s.uN(s.offsetSize())
		if attr == attrStrOffsetsBase {
			s.strBase = v
		}
	case formStrpSup, formGNURefAlt, formGNUStrpAlt:
		s.uN(s.offsetSize())
	case formRefAddr:
		n := s.offsetSize()
		if s.version <= 2 {
			n = s.asize
		}
		ref, isRef = s.uN(n), true
	case formRef1:
		ref, isRef = s.uN(1)+uint64(s.unit), true
	case formRef2:
		ref, isRef = s.uN(2)+uint64(s.unit), true
	case formRef4:
		ref, isRef = s.uN(4)+uint64(s.unit), true
	case formRef8:
		ref, isRef = s.uN(8)+uint64(s.unit), true
	case formRefUdata:
		ref, isRef = s.uleb()+uint64(s.unit), true
	case formFlagPresent, formImplicitConst:
	case formIndirect:
		if depth > 4 {
			s.fail("nested DW_FORM_indirect")
			return
		}
		s.attr(di, attr, s.uleb(), depth+1)
		return
	default:
		s.fail(fmt.Sprintf("unknown attribute form %#x", form))
		return
	}
	if s.err != nil {
		return
	}
	switch attr {
	case dwarf.AttrName:
		if isStr {
			di.name = cstr(strTab, strOff)
		}
	case dwarf.AttrDeclaration:
		di.decl = true
	case dwarf.AttrLocation, dwarf.AttrLowpc, dwarf.AttrRanges:
		di.def = true
	case dwarf.AttrInline:
		di.inline = true
	case dwarf.AttrSibling:
		if isRef {
			di.sibling = dwarf.Offset(ref)
		}
	case dwarf.AttrSpecification:
		if isRef {
			di.ref, di.hasRef, di.refSpec = dwarf.Offset(ref), true, true
		}
	case dwarf.AttrAbstractOrigin:
		if isRef && !di.refSpec {
			di.ref, di.hasRef = dwarf.Offset(ref), true
		}
	}
}

// nameOf returns di's name, resolving a string index.
func (s *scanner) nameOf(di *dieInfo) []byte {
	if di.name != nil || !di.hasStrx {
		return di.name
	}
	n := uint64(s.offsetSize())
	at := s.strBase + di.strxName*n
	if di.strxName > uint64(len(s.strOffs)) || s.strBase > uint64(len(s.strOffs)) || at+n > uint64(len(s.strOffs)) {
		return nil
	}
	var off uint64
	if n == 8 {
		off = s.order.Uint64(s.strOffs[at:])
	} else {
		off = uint64(s.order.Uint32(s.strOffs[at:]))
	}
	return cstr(s.str, off)
}

// skipChildren skips the children of the DIE di, which was just read:
// to its sibling when it names one ahead, else by reading them.
func (s *scanner) skipChildren(di *dieInfo, budget *int) {
	if !di.children {
		return
	}
	if di.sibling > dwarf.Offset(s.off) && int(di.sibling) <= s.end {
		s.off = int(di.sibling)
		return
	}
	var k dieInfo
	for depth := 1; depth > 0 && s.err == nil; {
		if *budget--; *budget < 0 {
			s.err = errEndless
			return
		}
		s.die(&k)
		switch {
		case k.null:
			depth--
		case k.children:
			if k.sibling > dwarf.Offset(s.off) && int(k.sibling) <= s.end {
				s.off = int(k.sibling)
			} else {
				depth++
			}
		}
		if s.off >= s.end && depth > 0 {
			return // a unit may end without its null entries
		}
	}
}
