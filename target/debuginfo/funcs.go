package debuginfo

import (
	"debug/dwarf"
	"fmt"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
	"github.com/go-delve/delve/pkg/dwarf/reader"
)

// Func is a function's out-of-line code.
type Func struct {
	Name   string
	Entry  uint64      // DW_AT_low_pc, else the start of the first range
	Ranges [][2]uint64 // [lo, hi) address ranges
	Offset DIEOffset   // the DW_TAG_subprogram DIE
	Unit   *Unit
}

// InlinedCall is one inlined subroutine active at a pc.
type InlinedCall struct {
	Name       string    // the inlined function
	CallFile   string    // where the call was made, joined with comp_dir
	CallLine   int       // DW_AT_call_line
	CallColumn int       // DW_AT_call_column
	Offset     DIEOffset // the DW_TAG_inlined_subroutine DIE
	Origin     DIEOffset // its DW_AT_abstract_origin
	Ranges     [][2]uint64
}

// funcTable returns u's functions sorted by start address, built on first
// use from the unit's subprogram DIEs. The caller holds d.mu.
func (d *Data) funcTable(u *Unit) (fs []pcRange, err error) {
	if fs, ok := d.funcs[u]; ok {
		return fs, nil
	}
	defer recoverTo(&err, fmt.Sprintf("reading the functions of the unit at %#x", u.Offset))
	r := d.dw.Reader()
	r.Seek(u.Offset)
	cu, err := r.Next()
	if err != nil || cu == nil || !cu.Children {
		d.funcs[u] = nil
		return nil, err
	}
	for depth := 0; ; {
		e, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("reading the functions of the unit at %#x: %w", u.Offset, err)
		}
		if e == nil {
			break
		}
		if e.Tag == 0 {
			if depth == 0 {
				break
			}
			depth--
			continue
		}
		if e.Tag == dwarf.TagSubprogram {
			if rng, err := d.dw.Ranges(e); err == nil {
				for _, rg := range rng {
					if rg[0] < rg[1] {
						fs = append(fs, pcRange{lo: rg[0], hi: rg[1], unit: u, off: e.Offset})
					}
				}
			}
		}
		// Descend only into scopes that can hold functions (C++
		// namespaces and classes); a function's body is not one.
		if e.Children {
			switch e.Tag {
			case dwarf.TagNamespace, dwarf.TagModule, dwarf.TagClassType, dwarf.TagStructType:
				depth++
			default:
				r.SkipChildren()
			}
		}
	}
	sortRanges(fs)
	d.funcs[u] = fs
	return fs, nil
}

// FuncAt returns the function whose code holds pc. The result is shared:
// callers must not modify it.
func (d *Data) FuncAt(pc uint64) (*Func, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.funcAt(pc)
}

func (d *Data) funcAt(pc uint64) (*Func, error) {
	u, err := d.unitAt(pc)
	if err != nil {
		return nil, err
	}
	fs, err := d.funcTable(u)
	if err != nil {
		return nil, err
	}
	r, ok := findRange(fs, pc)
	if !ok {
		return nil, fmt.Errorf("pc %#x: no function in the unit %s covers it: %w", pc, u.Name, ErrNotFound)
	}
	return d.funcFromDIE(r.off, u)
}

// Function returns the function called name (its out-of-line definition).
func (d *Data) Function(name string) (*Func, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ix, err := d.indexUntil(defined(funcsOf, name))
	r, ok := ix.funcs[name]
	if !ok || !r.def {
		if err != nil {
			return nil, fmt.Errorf("function '%s': %w", name, err)
		}
		return nil, fmt.Errorf("no function named '%s' with code%s: %w", name, suggest(name, keys(ix.funcs)), ErrNotFound)
	}
	return d.funcFromDIE(r.off, d.unitOf(r.off))
}

// funcFromDIE builds a Func from its subprogram DIE, once per DIE. The
// caller holds d.mu.
func (d *Data) funcFromDIE(off dwarf.Offset, u *Unit) (f *Func, err error) {
	if f, ok := d.funcCache[off]; ok {
		return f, nil
	}
	defer func() {
		if err == nil {
			d.funcCache[off] = f
		}
	}()
	defer recoverTo(&err, fmt.Sprintf("reading the function at %#x", off))
	e, err := d.entryAt(off)
	if err != nil {
		return nil, err
	}
	rng, err := d.dw.Ranges(e)
	if err != nil {
		return nil, fmt.Errorf("ranges of the function at %#x: %w", off, err)
	}
	ent, _ := godwarf.LoadAbstractOriginAndSpecification(e, d.dw.Reader())
	f = &Func{Offset: off, Unit: u, Ranges: rng}
	f.Name, _ = ent.Val(dwarf.AttrName).(string)
	if lo, ok := e.Val(dwarf.AttrLowpc).(uint64); ok {
		f.Entry = lo
	} else if len(rng) > 0 {
		f.Entry = rng[0][0]
	}
	return f, nil
}

// tree loads (and caches) the DIE tree rooted at off, with abstract
// origins merged in. The caller holds d.mu.
func (d *Data) tree(off dwarf.Offset) (t *godwarf.Tree, err error) {
	if t, ok := d.trees[off]; ok {
		return t, nil
	}
	defer recoverTo(&err, fmt.Sprintf("loading the DIE tree at %#x", off))
	t, err = godwarf.LoadTree(off, d.dw, 0)
	if err != nil {
		return nil, fmt.Errorf("loading the DIE tree at %#x: %w", off, err)
	}
	if len(d.trees) >= maxTrees {
		clear(d.trees)
	}
	d.trees[off] = t
	return t, nil
}

// InlineChain returns the inlined calls active at pc, innermost first
// (empty when pc is not in inlined code). A corrupt range list of a scope
// that might hold pc is an error: the chain is not known.
func (d *Data) InlineChain(pc uint64) ([]InlinedCall, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fn, err := d.funcAt(pc)
	if err != nil {
		return nil, err
	}
	root, err := d.tree(fn.Offset)
	if err != nil {
		return nil, err
	}
	if err := d.inlineRangeErrors(fn, root, pc); err != nil {
		return nil, fmt.Errorf("inlined calls at pc %#x in %s: %w", pc, fn.Name, err)
	}
	var out []InlinedCall
	for _, n := range reader.InlineStack(root, pc) {
		c := InlinedCall{Offset: n.Offset, Ranges: n.Ranges}
		c.Name, _ = n.Val(dwarf.AttrName).(string)
		c.Origin, _ = n.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
		line, _ := n.Val(dwarf.AttrCallLine).(int64)
		col, _ := n.Val(dwarf.AttrCallColumn).(int64)
		c.CallLine, c.CallColumn = int(line), int(col)
		if fi, ok := n.Val(dwarf.AttrCallFile).(int64); ok {
			c.CallFile = d.fileName(fn.Unit, fi)
		}
		out = append(out, c)
	}
	return out, nil
}
