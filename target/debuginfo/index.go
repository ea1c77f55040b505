package debuginfo

import (
	"debug/dwarf"
	"fmt"
)

// nameIndex maps names of top-level DIEs to the DIE that best defines them.
//
// It is built incrementally, one compile unit at a time in .debug_info
// order, and only as far as lookups need: a lookup scans on until its name
// has a definition, and the next lookup resumes where the last one
// stopped. A vmlinux has thousands of units and millions of top-level
// DIEs, but the types a kernel model asks for first are defined in its
// first units; only a name that has no definition (or a listing of all
// names) costs the whole scan. Because units are scanned in order, the
// answer is the one a complete index would give: the first definition.
type nameIndex struct {
	types map[string]indexed // "struct x", "union x", "enum x", typedef and base names
	vars  map[string]indexed
	funcs map[string]indexed
	enums map[string]indexed // enumerator name → its enumeration type
	// defOf maps a declaration DIE to the definition that names it through
	// DW_AT_specification (C's "extern int x; int x = 1;" in one unit).
	defOf map[dwarf.Offset]dwarf.Offset

	sc     scanner       // reads the units' DIEs
	next   int           // offset in .debug_info of the next unit to scan
	r      *dwarf.Reader // instead of sc for relocatable files: at the next unit
	key    []byte        // scratch for "struct name" keys
	budget int           // entries the scan may still read (see entryBudget)
	units  int           // units scanned so far
	done   bool          // every unit has been scanned
	err    error         // the scan failed; what was indexed before stays
}

// index returns the name index, created (empty) on first use. The caller
// holds d.mu.
func (d *Data) index() *nameIndex {
	if d.idx == nil {
		d.idx = &nameIndex{
			types: map[string]indexed{}, vars: map[string]indexed{},
			funcs: map[string]indexed{}, enums: map[string]indexed{},
			defOf:  map[dwarf.Offset]dwarf.Offset{},
			budget: d.entryBudget(),
		}
		if needsRelocation(d.f) {
			// The scanner reads the file's bytes; only debug/dwarf
			// sees the relocated copies.
			d.idx.r = d.dw.Reader()
			return d.idx
		}
		sc := &d.idx.sc
		sc.order = d.order
		sc.b, _ = d.debugSection(".debug_info")
		sc.abbrev, _ = d.debugSection(".debug_abbrev")
		sc.str, _ = d.debugSection(".debug_str")
		sc.lineStr, _ = d.debugSection(".debug_line_str")
		sc.strOffs, _ = d.debugSection(".debug_str_offsets")
	}
	return d.idx
}

// indexUntil scans units until found reports true or every unit has been
// scanned. It returns the index and the scan's error, if the scan failed
// before found was satisfied. The caller holds d.mu.
func (d *Data) indexUntil(found func(ix *nameIndex) bool) (*nameIndex, error) {
	ix := d.index()
	scanned := ix.units
	// A scan reads the top-level DIEs of many units once; their pages are
	// not needed afterwards.
	defer func() {
		if ix.units-scanned > 16 {
			d.releaseInfo()
		}
	}()
	for !found(ix) {
		if ix.done {
			return ix, ix.err
		}
		d.indexUnit(ix)
	}
	return ix, nil
}

// indexAll completes the name index (for listings and suggestions). The
// caller holds d.mu.
func (d *Data) indexAll() (*nameIndex, error) {
	return d.indexUntil(func(*nameIndex) bool { return false })
}

// defined returns a predicate for indexUntil: one of names has a
// definition in m.
func defined(m func(ix *nameIndex) map[string]indexed, names ...string) func(ix *nameIndex) bool {
	return func(ix *nameIndex) bool {
		for _, n := range names {
			if m(ix)[n].def {
				return true
			}
		}
		return false
	}
}

func typesOf(ix *nameIndex) map[string]indexed { return ix.types }
func varsOf(ix *nameIndex) map[string]indexed  { return ix.vars }
func funcsOf(ix *nameIndex) map[string]indexed { return ix.funcs }
func enumsOf(ix *nameIndex) map[string]indexed { return ix.enums }

// indexUnit indexes the top-level DIEs of the next unit (subtrees are
// skipped except for enumerations, whose enumerators are indexed). A
// failure ends the scan. The caller holds d.mu.
func (d *Data) indexUnit(ix *nameIndex) {
	scan := d.scanUnit
	if ix.r != nil {
		scan = d.scanUnitReader
	}
	if err := scan(ix); err != nil || ix.done {
		ix.done, ix.err = true, err
	}
}

func (d *Data) scanUnit(ix *nameIndex) (err error) {
	defer recoverTo(&err, "indexing DWARF names")
	sc := &ix.sc
	info := sc.b
	// Units are read in order; a zero unit length is padding.
	off := ix.next
	for off+4 <= len(info) && d.order.Uint32(info[off:]) == 0 {
		off += 4
	}
	if off+4 > len(info) {
		ix.done = true
		return nil
	}
	sc.off, sc.end, sc.unit, sc.err = off, len(info), off, nil
	length, hdr := sc.uN(4), 4
	sc.is64 = length == 0xffffffff
	if sc.is64 {
		length, hdr = sc.uN(8), 12
	}
	if sc.err != nil || length > uint64(len(info)-off-hdr) {
		return fmt.Errorf("indexing names after %d units: unit at %#x: length %#x runs past .debug_info", ix.units, off, length)
	}
	sc.end = off + hdr + int(length)
	ix.next = sc.end
	if ix.budget--; ix.budget < 0 {
		return errEndless
	}
	ix.units++
	sc.version = int(sc.uN(2))
	var abbrevOff uint64
	switch {
	case sc.version == 5:
		utype := sc.u8()
		sc.asize = int(sc.u8())
		abbrevOff = sc.uN(sc.offsetSize())
		switch utype {
		case 2, 6: // type units: signature, type offset
			sc.bytes(8)
			sc.uN(sc.offsetSize())
		case 4, 5: // skeleton and split units: dwo_id
			sc.bytes(8)
		}
	case sc.version >= 2 && sc.version <= 4:
		abbrevOff = sc.uN(sc.offsetSize())
		sc.asize = int(sc.u8())
	default:
		return fmt.Errorf("indexing names: unit at %#x: unsupported DWARF version %d", off, sc.version)
	}
	if sc.err != nil {
		return fmt.Errorf("indexing names: unit header at %#x: %w", off, sc.err)
	}
	if err := sc.parseAbbrevs(abbrevOff); err != nil {
		return fmt.Errorf("indexing names: unit at %#x: %w", off, err)
	}
	sc.strBase = 0
	var cu dieInfo
	sc.die(&cu)
	if sc.err != nil {
		return fmt.Errorf("indexing names: unit at %#x: %w", off, sc.err)
	}
	if cu.null || !cu.children {
		return nil
	}
	// Names of this unit's declarations and abstract instances, the
	// targets of DW_AT_specification and DW_AT_abstract_origin (any other
	// target is read with nameAt).
	local := map[dwarf.Offset][]byte{}
	var e dieInfo
	for sc.off < sc.end {
		if ix.budget--; ix.budget < 0 {
			return errEndless
		}
		sc.die(&e)
		if sc.err != nil {
			return fmt.Errorf("indexing names in the unit at %#x: %w", off, sc.err)
		}
		if e.null {
			return nil
		}
		d.indexDIE(ix, sc, &e, local)
		if sc.err != nil {
			return fmt.Errorf("indexing names in the unit at %#x: %w", off, sc.err)
		}
	}
	return nil
}

// indexDIE records one top-level DIE and leaves sc after its subtree.
func (d *Data) indexDIE(ix *nameIndex, sc *scanner, e *dieInfo, local map[dwarf.Offset][]byte) {
	name := sc.nameOf(e)
	if len(name) > 0 && (e.decl || e.inline) {
		local[e.off] = name
	}
	switch e.tag {
	case dwarf.TagStructType, dwarf.TagUnionType, dwarf.TagClassType, dwarf.TagEnumerationType:
		if len(name) > 0 {
			ix.key = append(append(append(ix.key[:0], typeKeyword(e.tag)...), ' '), name...)
			ix.addBytes(ix.types, ix.key, e.off, !e.decl)
		}
		if e.tag == dwarf.TagEnumerationType && e.children {
			var k dieInfo
			for sc.err == nil && sc.off < sc.end {
				if ix.budget--; ix.budget < 0 {
					sc.err = errEndless
					return
				}
				sc.die(&k)
				if sc.err != nil || k.null {
					return
				}
				if n := sc.nameOf(&k); len(n) > 0 && k.tag == dwarf.TagEnumerator {
					ix.addBytes(ix.enums, n, e.off, !e.decl)
				}
				sc.skipChildren(&k, &ix.budget)
			}
			return
		}
	case dwarf.TagTypedef, dwarf.TagBaseType, dwarf.TagUnspecifiedType:
		if len(name) > 0 {
			ix.addBytes(ix.types, name, e.off, true)
		}
	case dwarf.TagVariable, dwarf.TagSubprogram:
		m := ix.vars
		if e.tag == dwarf.TagSubprogram {
			m = ix.funcs
		}
		// A definition is a variable with a location or a function with
		// code.
		if len(name) == 0 {
			if !e.hasRef {
				break
			}
			if e.def {
				ix.defOf[e.ref] = e.off
			}
			name = local[e.ref]
			if len(name) == 0 {
				name = []byte(d.nameAt(e.ref))
			}
		}
		if len(name) > 0 {
			ix.addBytes(m, name, e.off, e.def && !e.decl)
		}
	}
	sc.skipChildren(e, &ix.budget)
}

// add keeps the first definition of name, or its first declaration until
// a definition turns up.
func (ix *nameIndex) add(m map[string]indexed, name string, off dwarf.Offset, def bool) {
	if old, ok := m[name]; ok && (old.def || !def) {
		return
	}
	m[name] = indexed{off: off, def: def}
}

// addBytes is add for a name held as bytes (of the mapped file): the
// string is made only when the name goes into the map.
func (ix *nameIndex) addBytes(m map[string]indexed, name []byte, off dwarf.Offset, def bool) {
	if old, ok := m[string(name)]; ok && (old.def || !def) {
		return
	}
	m[string(name)] = indexed{off: off, def: def}
}

// indexed is the DIE a name is indexed to; def says it is a definition
// rather than a declaration, so a later definition does not replace it.
type indexed struct {
	off dwarf.Offset
	def bool
}

// nameAt reads the DW_AT_name of the DIE at off ("" when unreadable).
func (d *Data) nameAt(off dwarf.Offset) string {
	r := d.dw.Reader()
	r.Seek(off)
	e, err := r.Next()
	if err != nil || e == nil {
		return ""
	}
	n, _ := e.Val(dwarf.AttrName).(string)
	return n
}

func typeKeyword(t dwarf.Tag) string {
	switch t {
	case dwarf.TagUnionType:
		return "union"
	case dwarf.TagClassType:
		return "class"
	case dwarf.TagEnumerationType:
		return "enum"
	}
	return "struct"
}

// entryAt reads the DIE at off.
func (d *Data) entryAt(off dwarf.Offset) (*dwarf.Entry, error) {
	r := d.dw.Reader()
	r.Seek(off)
	e, err := r.Next()
	if err != nil {
		return nil, fmt.Errorf("reading the DIE at %#x: %w", off, err)
	}
	if e == nil || e.Offset != off {
		return nil, fmt.Errorf("no DIE at offset %#x", off)
	}
	return e, nil
}
