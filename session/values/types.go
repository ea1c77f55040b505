// Package values gives the C expression evaluator (session/cexpr) the
// kernel's DWARF: it converts DWARF types to cexpr types, resolves the
// variables of a stack frame and the kernel's globals through their DWARF
// locations, and lists the children of a value for a debugger's
// Variables view.
package values

import (
	"sync"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"

	"github.com/kdap/kdap/session/cexpr"
)

// maxMembers bounds how many members or enumerators of one DWARF type are
// converted, so a damaged file cannot make one type arbitrarily large.
const maxMembers = 1 << 16

// typeConv converts godwarf types to cexpr types and remembers every type
// it has converted, so that one DWARF type is one *cexpr.Type.
type typeConv struct {
	mu    sync.Mutex
	done  map[godwarf.Type]*cexpr.Type
	busy  map[*cexpr.Type]bool // types whose conversion is under way
	ptrSz int64
}

func newTypeConv(ptrSize int) *typeConv {
	if ptrSize <= 0 {
		ptrSize = 8
	}
	return &typeConv{done: map[godwarf.Type]*cexpr.Type{}, busy: map[*cexpr.Type]bool{}, ptrSz: int64(ptrSize)}
}

// convert returns the cexpr type for t.
func (c *typeConv) convert(t godwarf.Type) *cexpr.Type {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conv(t, 0)
}

// conv converts t. A struct, union or typedef is registered in c.done
// before its members are converted (placeholder, then filled), so that a
// self-referential type ends in the type being built instead of recursing.
func (c *typeConv) conv(t godwarf.Type, depth int) *cexpr.Type {
	if t == nil {
		return cexpr.TypeVoid
	}
	if ct, ok := c.done[t]; ok {
		return ct
	}
	if depth > 256 {
		return &cexpr.Type{Kind: cexpr.Invalid, Name: "<type nested too deeply>"}
	}
	out := &cexpr.Type{}
	c.done[t] = out
	c.busy[out] = true
	defer delete(c.busy, out)
	switch t := t.(type) {
	case *godwarf.VoidType, *godwarf.UnspecifiedType:
		*out = *cexpr.TypeVoid
	case *godwarf.BoolType:
		*out = cexpr.Type{Kind: cexpr.Bool, Name: t.Name, Size: size(t)}
	case *godwarf.CharType:
		*out = cexpr.Type{Kind: cexpr.Char, Name: t.Name, Size: size(t), Signed: true}
	case *godwarf.UcharType:
		*out = cexpr.Type{Kind: cexpr.Char, Name: t.Name, Size: size(t)}
	case *godwarf.IntType:
		*out = cexpr.Type{Kind: cexpr.Int, Name: t.Name, Size: size(t), Signed: true}
	case *godwarf.UintType:
		*out = cexpr.Type{Kind: cexpr.Int, Name: t.Name, Size: size(t)}
	case *godwarf.AddrType:
		*out = cexpr.Type{Kind: cexpr.Int, Name: t.Name, Size: size(t)}
	case *godwarf.FloatType:
		*out = cexpr.Type{Kind: cexpr.Float, Name: t.Name, Size: size(t)}
	case *godwarf.QualType:
		inner := c.conv(t.Type, depth+1)
		if c.busy[inner] {
			// A qualified type inside its own definition: copying the
			// half-built type would freeze it, so the qualifier is dropped.
			c.done[t] = inner
			return inner
		}
		*out = *inner
		switch t.Qual {
		case "const":
			out.Const = true
		case "volatile":
			out.Volatile = true
		}
	case *godwarf.TypedefType:
		*out = cexpr.Type{Kind: cexpr.Typedef, Name: t.Name}
		out.Elem = c.conv(t.Type, depth+1)
		out.Size = out.Elem.Size
	case *godwarf.PtrType:
		*out = cexpr.Type{Kind: cexpr.Pointer, Size: c.ptrSz}
		out.Elem = c.conv(t.Type, depth+1)
	case *godwarf.ArrayType:
		*out = cexpr.Type{Kind: cexpr.Array}
		out.Elem = c.conv(t.Type, depth+1)
		if t.Count >= 0 {
			out.Len, out.LenKnown = t.Count, true
		}
		if t.ByteSize > 0 {
			out.Size = t.ByteSize
		} else if es := cexpr.Resolve(out.Elem).Size; es > 0 && out.LenKnown && out.Len <= (1<<62)/es {
			out.Size = es * out.Len
		}
	case *godwarf.StructType:
		k := cexpr.Struct
		if t.Kind == "union" {
			k = cexpr.Union
		}
		*out = cexpr.Type{Kind: k, Name: t.StructName, Size: size(t), Incomplete: t.Incomplete}
		for i, f := range t.Field {
			if i >= maxMembers {
				break
			}
			m := cexpr.Member{Name: f.Name, Offset: f.ByteOffset, Type: c.conv(f.Type, depth+1)}
			if f.BitSize > 0 {
				m.BitOffset, m.BitSize = f.BitOffset, f.BitSize
			}
			out.Members = append(out.Members, m)
		}
	case *godwarf.EnumType:
		*out = cexpr.Type{Kind: cexpr.Enum, Name: t.EnumName, Size: size(t)}
		for i, v := range t.Val {
			if i >= maxMembers {
				break
			}
			out.Enumerators = append(out.Enumerators, cexpr.Enumerator{Name: v.Name, Value: v.Val})
			if v.Val < 0 {
				out.Signed = true
			}
		}
		if out.Size == 0 {
			out.Size = 4
		}
	case *godwarf.FuncType:
		*out = cexpr.Type{Kind: cexpr.Func}
		if t.ReturnType != nil {
			out.Elem = c.conv(t.ReturnType, depth+1)
		} else {
			out.Elem = cexpr.TypeVoid
		}
	default:
		*out = cexpr.Type{Kind: cexpr.Invalid, Name: "<" + t.String() + ">", Size: size(t)}
	}
	return out
}

// size returns t's byte size, 0 when DWARF gave none.
func size(t godwarf.Type) int64 {
	if n := t.Common().ByteSize; n > 0 {
		return n
	}
	return 0
}
