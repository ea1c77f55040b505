package debuginfo

import (
	"debug/dwarf"
	"fmt"
)

// scanUnitReader is scanUnit through debug/dwarf's Reader, for
// relocatable files, whose DWARF only debug/dwarf sees relocated.
func (d *Data) scanUnitReader(ix *nameIndex) (err error) {
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
