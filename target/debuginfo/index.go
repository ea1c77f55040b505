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

	r      *dwarf.Reader // positioned at the next unit to scan
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
			defOf: map[dwarf.Offset]dwarf.Offset{},
			r:     d.dw.Reader(), budget: d.entryBudget(),
		}
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
	if err := d.scanUnit(ix); err != nil || ix.done {
		ix.done, ix.err = true, err
	}
}

func (d *Data) scanUnit(ix *nameIndex) (err error) {
	defer recoverTo(&err, "indexing DWARF names")
	r := ix.r
	cu, err := r.Next()
	if err != nil {
		return fmt.Errorf("indexing names after %d units: %w", ix.units, err)
	}
	if cu == nil {
		ix.done = true
		return nil
	}
	if ix.budget--; ix.budget < 0 {
		return errEndless
	}
	ix.units++
	if !cu.Children {
		return nil
	}
	// Names of this unit's declarations, for definitions that refer to
	// them by DW_AT_specification or DW_AT_abstract_origin.
	local := map[dwarf.Offset]string{}
	for {
		e, err := r.Next()
		if err != nil {
			return fmt.Errorf("indexing names in the unit at %#x: %w", cu.Offset, err)
		}
		if e == nil || e.Tag == 0 {
			return nil
		}
		if ix.budget--; ix.budget < 0 {
			return errEndless
		}
		if err := d.indexEntry(ix, r, e, local); err != nil {
			return err
		}
	}
}

// indexEntry records one top-level DIE and leaves r after its subtree.
func (d *Data) indexEntry(ix *nameIndex, r *dwarf.Reader, e *dwarf.Entry, local map[dwarf.Offset]string) error {
	name, _ := e.Val(dwarf.AttrName).(string)
	decl := e.Val(dwarf.AttrDeclaration) != nil
	// Only declarations and abstract instances are the targets of
	// DW_AT_specification and DW_AT_abstract_origin; any other target is
	// read with nameAt.
	if name != "" && (decl || e.Val(dwarf.AttrInline) != nil) {
		local[e.Offset] = name
	}
	switch e.Tag {
	case dwarf.TagStructType, dwarf.TagUnionType, dwarf.TagClassType, dwarf.TagEnumerationType:
		if name != "" {
			ix.add(ix.types, typeKeyword(e.Tag)+" "+name, e.Offset, !decl)
		}
		if e.Tag == dwarf.TagEnumerationType && e.Children {
			for {
				k, err := r.Next()
				if err != nil {
					return fmt.Errorf("indexing enumerators of the DIE at %#x: %w", e.Offset, err)
				}
				if k == nil || k.Tag == 0 {
					return nil
				}
				if n, ok := k.Val(dwarf.AttrName).(string); ok && k.Tag == dwarf.TagEnumerator {
					ix.add(ix.enums, n, e.Offset, !decl)
				}
				if k.Children {
					r.SkipChildren()
				}
			}
		}
	case dwarf.TagTypedef, dwarf.TagBaseType, dwarf.TagUnspecifiedType:
		if name != "" {
			ix.add(ix.types, name, e.Offset, true)
		}
	case dwarf.TagVariable, dwarf.TagSubprogram:
		m := ix.vars
		if e.Tag == dwarf.TagSubprogram {
			m = ix.funcs
		}
		// A definition is a variable with a location or a function with
		// code.
		def := e.Val(dwarf.AttrLocation) != nil || e.Val(dwarf.AttrLowpc) != nil || e.Val(dwarf.AttrRanges) != nil
		if name == "" {
			ref, ok := e.Val(dwarf.AttrSpecification).(dwarf.Offset)
			if !ok {
				ref, ok = e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
			}
			if !ok {
				break
			}
			if def {
				ix.defOf[ref] = e.Offset
			}
			name = local[ref]
			if name == "" {
				name = d.nameAt(ref)
			}
		}
		if name != "" {
			ix.add(m, name, e.Offset, def && !decl)
		}
	}
	if e.Children {
		r.SkipChildren()
	}
	return nil
}

// add keeps the first definition of name, or its first declaration until
// a definition turns up.
func (ix *nameIndex) add(m map[string]indexed, name string, off dwarf.Offset, def bool) {
	if old, ok := m[name]; ok && (old.def || !def) {
		return
	}
	m[name] = indexed{off: off, def: def}
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
