package debuginfo

import (
	"debug/dwarf"
	"fmt"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
)

// Location is a variable's raw DW_AT_location: an expression, or a
// location list to be searched for the pc.
type Location struct {
	Expr    []byte // exprloc bytes (nil for a location list or no location)
	List    bool   // the location is a location list
	ListOff int64  // offset of the list in .debug_loclists / .debug_loc
}

// Var is a formal parameter or local variable of a function or inlined
// subroutine.
type Var struct {
	Name       string
	Param      bool // DW_TAG_formal_parameter
	Type       godwarf.Type
	TypeErr    error // why Type is nil, if it is
	Location   Location
	HasLoc     bool // the DIE has a DW_AT_location at all
	ConstValue any  // DW_AT_const_value (int64 or []byte) when present
	DeclLine   int
	Depth      int       // lexical block nesting, 0 for the function scope
	Offset     DIEOffset // the variable's DIE
	Unit       *Unit     // for resolving location lists
	Artificial bool
}

// Vars lists the parameters and variables of the function or inlined
// subroutine whose DIE is at fn, including those of nested lexical blocks
// whose ranges hold pc (all blocks when pc is 0). Variables of inlined
// subroutines nested in fn are not included: they belong to their own
// frames.
func (d *Data) Vars(fn DIEOffset, pc uint64) (vars []Var, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	root, err := d.tree(fn)
	if err != nil {
		return nil, err
	}
	switch root.Tag {
	case dwarf.TagSubprogram, dwarf.TagInlinedSubroutine, dwarf.TagLexDwarfBlock:
	default:
		return nil, fmt.Errorf("DIE %#x is a %v, not a function or inlined subroutine", fn, root.Tag)
	}
	u := d.unitOf(fn)
	defer recoverTo(&err, fmt.Sprintf("reading the variables of the DIE at %#x", fn))
	d.collectVars(root, pc, 0, u, &vars)
	return vars, nil
}

func (d *Data) collectVars(n *godwarf.Tree, pc uint64, depth int, u *Unit, out *[]Var) {
	for _, c := range n.Children {
		switch c.Tag {
		case dwarf.TagFormalParameter, dwarf.TagVariable:
			*out = append(*out, d.makeVar(c, depth, u))
		case dwarf.TagLexDwarfBlock:
			if pc == 0 || c.ContainsPC(pc) {
				d.collectVars(c, pc, depth+1, u, out)
			}
		}
	}
}

// makeVar reads one variable DIE. The caller holds d.mu.
func (d *Data) makeVar(c *godwarf.Tree, depth int, u *Unit) Var {
	v := Var{Param: c.Tag == dwarf.TagFormalParameter, Depth: depth, Offset: c.Offset, Unit: u}
	v.Name, _ = c.Val(dwarf.AttrName).(string)
	line, _ := c.Val(dwarf.AttrDeclLine).(int64)
	v.DeclLine = int(line)
	v.Artificial, _ = c.Val(dwarf.AttrArtificial).(bool)
	v.ConstValue = c.Val(dwarf.AttrConstValue)
	if f := c.AttrField(dwarf.AttrLocation); f != nil {
		v.HasLoc = true
		switch f.Class {
		case dwarf.ClassExprLoc, dwarf.ClassBlock:
			v.Location.Expr, _ = f.Val.([]byte)
		case dwarf.ClassLocListPtr:
			v.Location.List = true
			v.Location.ListOff, _ = f.Val.(int64)
		case dwarf.ClassLocList:
			// DW_FORM_loclistx: an index into the unit's offset table.
			v.Location.List = true
			idx, _ := f.Val.(int64)
			off, err := d.loclistx(u, idx)
			if err != nil {
				v.TypeErr = err
			}
			v.Location.ListOff = off
		}
	}
	if toff, ok := c.Val(dwarf.AttrType).(dwarf.Offset); ok {
		v.Type, v.TypeErr = d.readType(toff)
	} else if v.TypeErr == nil {
		v.TypeErr = fmt.Errorf("variable %q (DIE %#x) has no type", v.Name, c.Offset)
	}
	return v
}

// loclistx turns a DW_FORM_loclistx index into a .debug_loclists offset
// through the unit's offset table at DW_AT_loclists_base (32-bit DWARF).
// The caller holds d.mu.
func (d *Data) loclistx(u *Unit, idx int64) (int64, error) {
	sec, err := d.section(".debug_loclists")
	if err != nil {
		return 0, err
	}
	if u == nil || idx < 0 {
		return 0, fmt.Errorf("location list index %d without a unit", idx)
	}
	at := u.loclistsBase + uint64(idx)*4
	if at+4 > uint64(len(sec)) || at < u.loclistsBase {
		return 0, fmt.Errorf("location list index %d: offset table entry at %#x is outside .debug_loclists (%#x bytes)", idx, at, len(sec))
	}
	return int64(u.loclistsBase) + int64(d.order.Uint32(sec[at:])), nil
}
