package debuginfo

import (
	"debug/dwarf"
	"fmt"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
)

// VariableType returns the type DWARF declares for the global variable
// name, whether or not DWARF also gives its location. Linux's jiffies is
// such a variable: declared in C, defined as a linker alias of jiffies_64,
// so only the ELF symbol has its address.
func (d *Data) VariableType(name string) (godwarf.Type, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	// A name that is only declared (jiffies) costs the whole scan: a
	// definition, whose type may be more complete, would come first.
	_, r, err := d.lookupVar(name, false)
	if err != nil {
		return nil, err
	}
	off := r.off
	e, err := d.entryAt(off)
	if err != nil {
		return nil, fmt.Errorf("variable '%s': %w", name, err)
	}
	toff, ok := e.Val(dwarf.AttrType).(dwarf.Offset)
	// A definition of a variable a header declares extern has no type of
	// its own: DW_AT_specification names the declaration that has it.
	for hops := 0; !ok && hops < 4; hops++ {
		spec, isSpec := e.Val(dwarf.AttrSpecification).(dwarf.Offset)
		if !isSpec {
			break
		}
		if e, err = d.entryAt(spec); err != nil {
			return nil, fmt.Errorf("variable '%s': its declaration: %w", name, err)
		}
		toff, ok = e.Val(dwarf.AttrType).(dwarf.Offset)
	}
	if !ok {
		return nil, fmt.Errorf("variable '%s' (DIE %#x) has no type: %w", name, off, ErrNotFound)
	}
	t, err := d.readType(toff)
	if err != nil {
		return nil, fmt.Errorf("variable '%s': %w", name, err)
	}
	return t, nil
}
