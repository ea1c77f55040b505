package debuginfo

import (
	"debug/dwarf"
	"fmt"
	"sort"
	"strings"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
)

// Type returns the type called name: "struct thread", "union foo",
// "enum bar", a typedef or base type name ("register_t", "unsigned int"),
// optionally followed by '*'s for pointers to it.
//
// Bit fields of struct and union types are normalized: a member's value
// starts BitOffset bits (least significant bit first) into the byte at
// ByteOffset and is BitSize bits wide.
func (d *Data) Type(name string) (t godwarf.Type, err error) {
	base := strings.TrimSpace(name)
	ptrs := 0
	for strings.HasSuffix(base, "*") {
		base = strings.TrimSpace(strings.TrimSuffix(base, "*"))
		ptrs++
	}
	base = strings.Join(strings.Fields(base), " ")
	d.mu.Lock()
	defer d.mu.Unlock()
	// The spellings of one C integer type name the same type: the first
	// one defined will do.
	names := append([]string{base}, intSpellings(base)...)
	ix, err := d.indexUntil(defined(typesOf, names...))
	off, ok := pickType(ix, names)
	if !ok {
		if err != nil {
			return nil, fmt.Errorf("type '%s': %w", base, err)
		}
		return nil, fmt.Errorf("no type named '%s'%s: %w", base, suggest(base, keys(ix.types)), ErrNotFound)
	}
	t, err = d.readType(off)
	if err != nil {
		return nil, fmt.Errorf("type '%s': %w", base, err)
	}
	if st, ok := t.(*godwarf.StructType); ok && st.Incomplete {
		return nil, fmt.Errorf("%s is only declared in the DWARF, never defined: %w", base, ErrNotFound)
	}
	for range ptrs {
		t = godwarf.FakePointerType(t, int64(d.ptrSize))
	}
	return t, nil
}

// pickType returns the first of names that the index defines, else the
// first it has a declaration of.
func pickType(ix *nameIndex, names []string) (dwarf.Offset, bool) {
	for _, n := range names {
		if r := ix.types[n]; r.def {
			return r.off, true
		}
	}
	for _, n := range names {
		if r, ok := ix.types[n]; ok {
			return r.off, true
		}
	}
	return 0, false
}

// intSpellings returns the ways compilers spell a C integer type given as
// e.g. "unsigned long": gcc says "long unsigned int", clang "unsigned long".
func intSpellings(name string) []string {
	var unsigned, signed, short, char, other bool
	longs := 0
	for _, w := range strings.Fields(name) {
		switch w {
		case "unsigned":
			unsigned = true
		case "signed":
			signed = true
		case "short":
			short = true
		case "long":
			longs++
		case "char":
			char = true
		case "int":
		default:
			other = true
		}
	}
	if other || longs > 2 || unsigned && signed || short && longs > 0 || char && (short || longs > 0) {
		return nil
	}
	if char {
		switch {
		case unsigned:
			return []string{"unsigned char"}
		case signed:
			return []string{"signed char"}
		}
		return []string{"char"}
	}
	size := []string{"", "long ", "long long "}[longs]
	if short {
		size = "short "
	}
	if unsigned {
		return []string{size + "unsigned int", "unsigned " + size + "int", strings.TrimSpace("unsigned " + size)}
	}
	return []string{size + "int", strings.TrimSpace(size), "signed " + size + "int"}
}

// TypeAt reads the type whose DIE is at off.
func (d *Data) TypeAt(off DIEOffset) (godwarf.Type, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.readType(off)
}

// readType reads a type through the shared cache. The caller holds d.mu.
func (d *Data) readType(off dwarf.Offset) (t godwarf.Type, err error) {
	defer recoverTo(&err, fmt.Sprintf("reading the type at %#x", off))
	t, err = godwarf.ReadType(d.dw, 0, off, d.types)
	if err != nil {
		// A failed read may leave half-built types in the cache.
		delete(d.types, off)
		return nil, fmt.Errorf("reading the type at %#x: %w", off, err)
	}
	d.normalize(t, map[godwarf.Type]bool{})
	return t, nil
}

// normalize fixes two things godwarf gets wrong for C in every type
// reachable from t that has not been seen yet:
//   - bit fields: godwarf keeps the DWARF 2 DW_AT_bit_offset (counted from
//     the most significant bit of the storage unit) and ignores DWARF 4's
//     DW_AT_data_bit_offset; both become ByteOffset + BitOffset counted
//     from the least significant bit;
//   - sizes: C arrays carry no DW_AT_byte_size, which godwarf records as
//     -1 (and so do typedefs of them); they become count × element size.
func (d *Data) normalize(t godwarf.Type, seen map[godwarf.Type]bool) {
	if t == nil || seen[t] {
		return
	}
	seen[t] = true
	switch t := t.(type) {
	case *godwarf.StructType:
		if d.fixed[t.Offset] {
			return
		}
		d.fixed[t.Offset] = true
		d.fixStruct(t)
		for _, f := range t.Field {
			d.normalize(f.Type, seen)
		}
	case *godwarf.PtrType:
		d.normalize(t.Type, seen)
	case *godwarf.TypedefType:
		d.normalize(t.Type, seen)
		if t.ByteSize < 0 && t.Type != nil {
			t.ByteSize = t.Type.Size()
		}
	case *godwarf.QualType:
		d.normalize(t.Type, seen)
		if t.ByteSize < 0 && t.Type != nil {
			t.ByteSize = t.Type.Size()
		}
	case *godwarf.ArrayType:
		d.normalize(t.Type, seen)
		if t.ByteSize < 0 && t.Count >= 0 && t.Type != nil {
			if es := t.Type.Size(); es >= 0 {
				t.ByteSize = t.Count * es
			}
		}
	case *godwarf.FuncType:
		d.normalize(t.ReturnType, seen)
		for _, p := range t.ParamType {
			d.normalize(p, seen)
		}
	}
}

// fixStruct rereads t's member DIEs (in the order godwarf made fields of
// them) for their bit offsets.
func (d *Data) fixStruct(t *godwarf.StructType) {
	hasBits := false
	for _, f := range t.Field {
		hasBits = hasBits || f.BitSize > 0
	}
	if !hasBits {
		return
	}
	r := d.dw.Reader()
	r.Seek(t.Offset)
	e, err := r.Next()
	if err != nil || e == nil || !e.Children {
		return
	}
	i := 0
	for depth := 0; ; {
		k, err := r.Next()
		if err != nil || k == nil {
			return
		}
		if k.Tag == 0 {
			if depth == 0 {
				return
			}
			depth--
			continue
		}
		if depth == 0 && k.Tag == dwarf.TagMember {
			if i >= len(t.Field) {
				return
			}
			// godwarf took a DWARF 4+ bit field (no member location) for a
			// field at offset 0 and so for the end of a zero-length array
			// before it: give such an array its length back.
			if _, ok := k.Val(dwarf.AttrDataBitOffset).(int64); ok && i > 0 && t.Field[i-1].ByteOffset == 0 {
				if at, ok := t.Field[i-1].Type.(*godwarf.ArrayType); ok && at.Count == 0 {
					d.restoreArray(at)
				}
			}
			fixField(t.Field[i], k)
			i++
		}
		if k.Children {
			depth++
		}
	}
}

// restoreArray rereads the dimensions of at from its DIE.
func (d *Data) restoreArray(at *godwarf.ArrayType) {
	r := d.dw.Reader()
	r.Seek(at.Offset)
	e, err := r.Next()
	if err != nil || e == nil || e.Tag != dwarf.TagArrayType || !e.Children {
		return
	}
	var dims []int64
	for {
		k, err := r.Next()
		if err != nil || k == nil || k.Tag == 0 {
			break
		}
		if k.Tag == dwarf.TagSubrangeType {
			if n, ok := k.Val(dwarf.AttrCount).(int64); ok {
				dims = append(dims, n)
			} else if ub, ok := k.Val(dwarf.AttrUpperBound).(int64); ok {
				dims = append(dims, ub+1)
			} else {
				return
			}
		}
		if k.Children {
			r.SkipChildren()
		}
	}
	cur := at
	for i, n := range dims {
		if n < 0 {
			return
		}
		cur.Count = n
		next, ok := cur.Type.(*godwarf.ArrayType)
		if !ok || i == len(dims)-1 {
			break
		}
		cur = next
	}
	if at.ByteSize <= 0 {
		at.ByteSize = -1 // recomputed by normalize
	}
}

func fixField(f *godwarf.StructField, k *dwarf.Entry) {
	if f.BitSize <= 0 {
		return
	}
	var bit int64
	if dbo, ok := k.Val(dwarf.AttrDataBitOffset).(int64); ok {
		bit = dbo
	} else if bo, ok := k.Val(dwarf.AttrBitOffset).(int64); ok {
		size := f.ByteSize
		if size == 0 && f.Type != nil {
			size = f.Type.Size()
		}
		// DWARF 2: bits from the top of a little-endian storage unit.
		bit = f.ByteOffset*8 + size*8 - bo - f.BitSize
	} else {
		return
	}
	f.ByteOffset = bit / 8
	f.BitOffset = bit % 8
	f.ByteSize = (f.BitOffset + f.BitSize + 7) / 8
}

// Member resolves a member path such as "p_list.le_next" in t (a struct or
// union, possibly behind typedefs and qualifiers), looking through
// anonymous struct and union members. It returns the member's byte offset
// from the start of t.
func (d *Data) Member(t godwarf.Type, path string) (offset int64, member *godwarf.StructField, err error) {
	if path == "" {
		return 0, nil, fmt.Errorf("empty member path")
	}
	cur := t
	for _, name := range strings.Split(path, ".") {
		st, ok := godwarf.ResolveTypedef(cur).(*godwarf.StructType)
		if !ok {
			return 0, nil, fmt.Errorf("member '%s' of '%s': %s is not a struct or union", name, path, typeName(cur))
		}
		off, f := findField(st, name, map[*godwarf.StructType]bool{})
		if f == nil {
			return 0, nil, fmt.Errorf("no member named '%s' in '%s'%s: %w", name, typeName(st), suggest(name, fieldNames(st, nil, map[*godwarf.StructType]bool{})), ErrNotFound)
		}
		offset += off
		member = f
		cur = f.Type
	}
	return offset, member, nil
}

// findField looks name up in st and, depth first, in its anonymous members.
// seen stops cycles: corrupt DWARF can make a struct its own anonymous
// member.
func findField(st *godwarf.StructType, name string, seen map[*godwarf.StructType]bool) (int64, *godwarf.StructField) {
	if seen[st] {
		return 0, nil
	}
	seen[st] = true
	for _, f := range st.Field {
		if f.Name == name && name != "" {
			return f.ByteOffset, f
		}
	}
	for _, f := range st.Field {
		if f.Name != "" {
			continue
		}
		if inner, ok := godwarf.ResolveTypedef(f.Type).(*godwarf.StructType); ok {
			if off, g := findField(inner, name, seen); g != nil {
				return f.ByteOffset + off, g
			}
		}
	}
	return 0, nil
}

// fieldNames lists the member names reachable from st, anonymous members
// included.
func fieldNames(st *godwarf.StructType, out []string, seen map[*godwarf.StructType]bool) []string {
	if seen[st] {
		return out
	}
	seen[st] = true
	for _, f := range st.Field {
		if f.Name != "" {
			out = append(out, f.Name)
		} else if inner, ok := godwarf.ResolveTypedef(f.Type).(*godwarf.StructType); ok {
			out = fieldNames(inner, out, seen)
		}
	}
	return out
}

func typeName(t godwarf.Type) string {
	if t == nil {
		return "<nil type>"
	}
	if st, ok := t.(*godwarf.StructType); ok && st.StructName != "" {
		return st.Kind + " " + st.StructName
	}
	return t.String()
}

// lookupVar indexes units until the global variable name is defined (or
// every unit is read) and returns its index entry, a definition or else a
// declaration; suggestions of similar names go into the not-found error
// when asked for. The caller holds d.mu.
func (d *Data) lookupVar(name string, suggestions bool) (*nameIndex, indexed, error) {
	ix, err := d.indexUntil(defined(varsOf, name))
	r, ok := ix.vars[name]
	if ok {
		return ix, r, nil
	}
	if err != nil {
		return nil, indexed{}, fmt.Errorf("variable '%s': %w", name, err)
	}
	hint := ""
	if suggestions {
		hint = suggest(name, keys(ix.vars))
	}
	return nil, indexed{}, fmt.Errorf("no variable named '%s'%s: %w", name, hint, ErrNotFound)
}

// Variable returns the address and type of a global or static variable
// whose location is a fixed address (DW_OP_addr or DW_OP_addrx). A
// declaration resolves to its definition.
func (d *Data) Variable(name string) (addr uint64, t godwarf.Type, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ix, r, err := d.lookupVar(name, true)
	if err != nil {
		return 0, nil, err
	}
	off := r.off
	if def, ok := ix.defOf[off]; ok && !r.def {
		off = def
	}
	e, err := d.entryAt(off)
	if err != nil {
		return 0, nil, fmt.Errorf("variable '%s': %w", name, err)
	}
	ent, _ := godwarf.LoadAbstractOriginAndSpecification(e, d.dw.Reader())
	loc, ok := ent.Val(dwarf.AttrLocation).([]byte)
	if !ok {
		return 0, nil, fmt.Errorf("variable '%s' (DIE %#x) has no fixed location (declaration only or a location list): %w", name, off, ErrNotFound)
	}
	addr, err = d.staticAddr(loc, off)
	if err != nil {
		return 0, nil, fmt.Errorf("variable '%s': %w", name, err)
	}
	toff, ok := ent.Val(dwarf.AttrType).(dwarf.Offset)
	if !ok {
		return 0, nil, fmt.Errorf("variable '%s' (DIE %#x) has no type", name, off)
	}
	t, err = d.readType(toff)
	if err != nil {
		return 0, nil, fmt.Errorf("variable '%s': %w", name, err)
	}
	return addr, t, nil
}

// DWARF expression opcodes used for static addresses.
const (
	opAddr  = 0x03
	opAddrx = 0xa1
)

// staticAddr decodes a location expression that is exactly one
// DW_OP_addr or DW_OP_addrx. The caller holds d.mu.
func (d *Data) staticAddr(loc []byte, die dwarf.Offset) (uint64, error) {
	if len(loc) == 0 {
		return 0, fmt.Errorf("empty location expression (DIE %#x)", die)
	}
	switch loc[0] {
	case opAddr:
		if len(loc) != 1+d.ptrSize {
			return 0, fmt.Errorf("location of DIE %#x is not a plain address (DW_OP_addr followed by %d bytes, want %d)", die, len(loc)-1, d.ptrSize)
		}
		if d.ptrSize == 4 {
			return uint64(d.order.Uint32(loc[1:])), nil
		}
		return d.order.Uint64(loc[1:]), nil
	case opAddrx:
		idx, n := uleb(loc[1:])
		if n == 0 || 1+n != len(loc) {
			return 0, fmt.Errorf("location of DIE %#x is not a plain DW_OP_addrx", die)
		}
		return d.debugAddr(die, idx)
	}
	return 0, fmt.Errorf("location of DIE %#x is not a static address (first opcode %#x)", die, loc[0])
}

// debugAddr reads entry idx of the .debug_addr table of the unit holding
// die. The caller holds d.mu.
func (d *Data) debugAddr(die dwarf.Offset, idx uint64) (uint64, error) {
	u := d.unitOf(die)
	if u == nil {
		return 0, fmt.Errorf("DIE %#x is in no compile unit", die)
	}
	sec, err := d.section(".debug_addr")
	if err != nil {
		return 0, err
	}
	if sec == nil {
		return 0, fmt.Errorf("DW_OP_addrx at DIE %#x but the file has no .debug_addr", die)
	}
	a, err := godwarf.ParseAddr(sec).GetSubsection(u.addrBase).Get(idx)
	if err != nil {
		return 0, fmt.Errorf(".debug_addr entry %d (base %#x): %w", idx, u.addrBase, err)
	}
	return a, nil
}

// unitOf returns the unit that contains the DIE at off. The caller holds
// d.mu.
func (d *Data) unitOf(off dwarf.Offset) *Unit {
	units, _ := d.loadUnits()
	i := sort.Search(len(units), func(i int) bool { return units[i].Offset > off })
	if i == 0 {
		return nil
	}
	return units[i-1]
}

// Enumerator returns the value of an enumeration constant and its type.
func (d *Data) Enumerator(name string) (int64, godwarf.Type, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ix, err := d.indexUntil(defined(enumsOf, name))
	r, ok := ix.enums[name]
	off := r.off
	if !ok {
		if err != nil {
			return 0, nil, fmt.Errorf("enumerator '%s': %w", name, err)
		}
		return 0, nil, fmt.Errorf("no enumerator named '%s': %w", name, ErrNotFound)
	}
	t, err := d.readType(off)
	if err != nil {
		return 0, nil, err
	}
	if et, ok := t.(*godwarf.EnumType); ok {
		for _, v := range et.Val {
			if v.Name == name {
				return v.Val, t, nil
			}
		}
	}
	return 0, nil, fmt.Errorf("enumerator '%s' is missing from the type at %#x", name, off)
}

// TypeNames returns up to max indexed type names starting with prefix, in
// order (for completion; max <= 0: no limit).
func (d *Data) TypeNames(prefix string, max int) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ix, err := d.indexAll()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range keys(ix.types) {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out, nil
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func uleb(b []byte) (uint64, int) {
	var v uint64
	for i, c := range b {
		if i == 10 {
			return 0, 0
		}
		v |= uint64(c&0x7f) << (7 * uint(i))
		if c&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}
