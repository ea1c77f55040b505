package debuginfo

import (
	"debug/dwarf"
	"fmt"
)

// nameIndex maps names of top-level DIEs to the DIE that best defines them.
type nameIndex struct {
	types map[string]dwarf.Offset // "struct x", "union x", "enum x", typedef and base names
	vars  map[string]dwarf.Offset
	funcs map[string]dwarf.Offset
	enums map[string]dwarf.Offset // enumerator name → its enumeration type
	// defOf maps a declaration DIE to the definition that names it through
	// DW_AT_specification (C's "extern int x; int x = 1;" in one unit).
	defOf map[dwarf.Offset]dwarf.Offset
	// complete records which indexed DIEs are definitions rather than
	// declarations, so a later definition can replace a declaration.
	complete map[dwarf.Offset]bool
}

// index builds the name index once, in one pass over each unit's top-level
// DIEs (subtrees are skipped except for enumerations, whose enumerators
// are indexed). The caller holds d.mu.
func (d *Data) index() (ix *nameIndex, err error) {
	if d.idx != nil || d.idxErr != nil {
		return d.idx, d.idxErr
	}
	defer func() {
		recoverTo(&err, "indexing DWARF names")
		if err != nil {
			d.idxErr = err
			return
		}
		d.idx = ix
	}()
	ix = &nameIndex{
		types: map[string]dwarf.Offset{}, vars: map[string]dwarf.Offset{},
		funcs: map[string]dwarf.Offset{}, enums: map[string]dwarf.Offset{},
		defOf: map[dwarf.Offset]dwarf.Offset{}, complete: map[dwarf.Offset]bool{},
	}
	r := d.dw.Reader()
	budget := d.entryBudget()
	for {
		cu, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("indexing names: %w", err)
		}
		if cu == nil {
			return ix, nil
		}
		if budget--; budget < 0 {
			return nil, errEndless
		}
		if !cu.Children {
			continue
		}
		// Names of this unit's declarations, for definitions that refer to
		// them by DW_AT_specification or DW_AT_abstract_origin.
		local := map[dwarf.Offset]string{}
		for {
			e, err := r.Next()
			if err != nil {
				return nil, fmt.Errorf("indexing names in the unit at %#x: %w", cu.Offset, err)
			}
			if e == nil || e.Tag == 0 {
				break
			}
			if err := d.indexEntry(ix, r, e, local); err != nil {
				return nil, err
			}
		}
	}
}

// indexEntry records one top-level DIE and leaves r after its subtree.
func (d *Data) indexEntry(ix *nameIndex, r *dwarf.Reader, e *dwarf.Entry, local map[dwarf.Offset]string) error {
	name, _ := e.Val(dwarf.AttrName).(string)
	decl := e.Val(dwarf.AttrDeclaration) != nil
	if name != "" {
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
func (ix *nameIndex) add(m map[string]dwarf.Offset, name string, off dwarf.Offset, complete bool) {
	old, ok := m[name]
	if ok && (ix.complete[old] || !complete) {
		return
	}
	m[name] = off
	if complete {
		ix.complete[off] = true
	}
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
