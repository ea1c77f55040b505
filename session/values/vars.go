package values

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/kdap/kdap/session/cexpr"
)

// Var is one parameter or local variable of a frame.
type Var struct {
	// Name is the variable's source name.
	Name string
	// Value is the variable's value; it may be marked OptimizedOut or
	// Unavailable.
	Value cexpr.Value
	// Note says why there is no value: "optimized out" or "unavailable".
	Note string
	// Err is set when the variable could not be evaluated at all.
	Err error
}

// FrameVars lists the selected frame's parameters and local variables in
// declaration order (locals of nested blocks that hold the pc included).
func FrameVars(env *Env) (args, locals []Var, err error) {
	vars, err := env.frameVars()
	if err != nil {
		return nil, nil, err
	}
	for _, v := range vars {
		if v.Name == "" || v.Artificial {
			continue
		}
		out := Var{Name: v.Name}
		out.Value, out.Err = env.varValue(v)
		switch {
		case out.Err != nil:
		case out.Value.OptimizedOut:
			out.Note = "optimized out"
		case out.Value.Unavailable:
			out.Note = "unavailable"
		}
		if v.Param {
			args = append(args, out)
		} else {
			locals = append(locals, out)
		}
	}
	return args, locals, nil
}

// Format prints v as the debugger shows values: integers (hexadecimal
// when hex is set), enums by name, pointers with their symbol, bounded
// strings, `<optimized out>`.
// A large array or struct that cannot be read whole shows the first page
// that cannot be read, not its base.
func Format(env *Env, v cexpr.Value, hex bool) string {
	if env != nil && env.mem != nil {
		if err := env.unreadable(v, hex); err != nil {
			return fmt.Sprintf("<error: %v>", err)
		}
	}
	return cexpr.Format(env, v, cexpr.FormatOptions{Hex: hex, MaxElements: formatElements, MaxString: formatString})
}

// Child is one child of a value in the Variables view.
type Child struct {
	// Name is the member name, "[i]" for an array element, or "*p" for a
	// pointer's target.
	Name string
	// EvalName is a C expression that evaluates to the child.
	EvalName string
	// Value is the child's value (not yet read from memory).
	Value cexpr.Value
}

// maxPage bounds the children returned by one Children call.
const maxPage = 1 << 16

// ChildCount returns how many children v has: named ones (struct and
// union members, a pointer's target) and indexed ones (array elements).
func ChildCount(env *Env, v cexpr.Value) (named, indexed int) {
	if v.OptimizedOut || v.Unavailable {
		return 0, 0
	}
	t := cexpr.Resolve(v.Type)
	switch t.Kind {
	case cexpr.Struct, cexpr.Union:
		if t.Incomplete {
			return 0, 0
		}
		return len(flatMembers(t, 0, nil)), 0
	case cexpr.Array:
		if !t.LenKnown || t.Len <= 0 || cexpr.Resolve(t.Elem).Size <= 0 {
			return 0, 0
		}
		return 0, int(min(t.Len, 1<<31-1))
	case cexpr.Pointer:
		if derefable(t) {
			return 1, 0
		}
	}
	return 0, 0
}

// derefable reports whether a pointer's target can be shown.
func derefable(t *cexpr.Type) bool {
	et := cexpr.Resolve(t.Elem)
	return et.Kind != cexpr.Void && et.Kind != cexpr.Func && et.Kind != cexpr.Invalid
}

// Children returns children [start, start+count) of v, whose C expression
// is evalName, and the total number of children. Struct and union members
// (members of anonymous members lifted into their parent, as C names
// them), array elements (paged; count <= 0 means to the end) and a
// pointer's target are children; anything else has none. Children are
// not read from memory: expanding a linked list stays one level at a time.
func Children(env *Env, evalName string, v cexpr.Value, start, count int) ([]Child, int, error) {
	if v.OptimizedOut || v.Unavailable {
		return nil, 0, nil
	}
	if start < 0 {
		return nil, 0, fmt.Errorf("children from index %d: the start must not be negative", start)
	}
	t := cexpr.Resolve(v.Type)
	switch t.Kind {
	case cexpr.Struct, cexpr.Union:
		if t.Incomplete {
			return nil, 0, nil
		}
		ms := flatMembers(t, 0, nil)
		lo, hi := page(start, count, len(ms))
		out := make([]Child, 0, hi-lo)
		for _, m := range ms[lo:hi] {
			c, err := memberValue(v, m)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, Child{Name: m.Name, EvalName: memberExpr(evalName, m.Name), Value: c})
		}
		return out, len(ms), nil
	case cexpr.Array:
		es := cexpr.Resolve(t.Elem).Size
		if !t.LenKnown || t.Len <= 0 || es <= 0 {
			return nil, 0, nil
		}
		total := int(min(t.Len, 1<<31-1))
		lo, hi := page(start, count, total)
		out := make([]Child, 0, hi-lo)
		base := postfix(evalName)
		for i := lo; i < hi; i++ {
			c := cexpr.Value{Type: t.Elem}
			off := int64(i) * es
			switch {
			case v.HasAddr:
				c.Addr, c.HasAddr = v.Addr+uint64(off), true
			case v.Bytes != nil && off+es <= int64(len(v.Bytes)):
				c.Bytes = v.Bytes[off : off+es]
			default:
				return nil, 0, fmt.Errorf("element %d of %s lies outside its %d-byte value", i, evalName, len(v.Bytes))
			}
			out = append(out, Child{Name: fmt.Sprintf("[%d]", i), EvalName: fmt.Sprintf("%s[%d]", base, i), Value: c})
		}
		return out, total, nil
	case cexpr.Pointer:
		if !derefable(t) {
			return nil, 0, nil
		}
		if start > 0 {
			return nil, 1, nil
		}
		p, err := pointerValue(env, v)
		if err != nil {
			return nil, 0, err
		}
		name := "(*" + postfix(evalName) + ")"
		c := cexpr.Value{Type: t.Elem, Addr: p, HasAddr: true}
		return []Child{{Name: "*" + evalName, EvalName: name, Value: c}}, 1, nil
	}
	return nil, 0, nil
}

// page clips [start, start+count) to [0, total) and to maxPage.
func page(start, count, total int) (int, int) {
	lo := min(start, total)
	if count <= 0 || count > maxPage {
		count = maxPage
	}
	return lo, min(total, lo+count)
}

// flatMembers lists st's named members, the members of anonymous struct
// and union members in their place (offsets made relative to st).
func flatMembers(st *cexpr.Type, depth int, out []cexpr.Member) []cexpr.Member {
	for _, m := range st.Members {
		mt := cexpr.Resolve(m.Type)
		if m.Name == "" && (mt.Kind == cexpr.Struct || mt.Kind == cexpr.Union) && depth < 16 {
			for _, sub := range flatMembers(mt, depth+1, nil) {
				sub.Offset += m.Offset
				out = append(out, sub)
			}
			continue
		}
		out = append(out, m)
	}
	return out
}

// memberValue selects member m of the struct or union value x.
func memberValue(x cexpr.Value, m cexpr.Member) (cexpr.Value, error) {
	v := cexpr.Value{Type: m.Type, BitOffset: m.BitOffset, BitSize: m.BitSize}
	if x.HasAddr {
		v.Addr, v.HasAddr = x.Addr+uint64(m.Offset), true
		return v, nil
	}
	n := cexpr.Resolve(m.Type).Size
	if m.BitSize > 0 {
		n = (m.BitOffset + m.BitSize + 7) / 8
	}
	if m.Offset < 0 || n < 0 || m.Offset+n > int64(len(x.Bytes)) {
		return cexpr.Value{}, fmt.Errorf("member '%s' at offset %d lies outside the %d-byte value", m.Name, m.Offset, len(x.Bytes))
	}
	v.Bytes = x.Bytes[m.Offset : m.Offset+n]
	v.Register = x.Register
	return v, nil
}

// pointerValue reads the address a pointer value holds.
func pointerValue(env *Env, v cexpr.Value) (uint64, error) {
	n := env.ptr
	if n != 4 {
		n = 8
	}
	b := v.Bytes
	if len(b) < n {
		if !v.HasAddr {
			return 0, fmt.Errorf("pointer value holds %d bytes", len(b))
		}
		b = make([]byte, n)
		if err := env.readMem(v.Addr, b); err != nil {
			return 0, err
		}
	}
	order := binary.ByteOrder(binary.LittleEndian)
	if env.arch != nil {
		order = env.arch.ByteOrder
	}
	if n == 4 {
		return uint64(order.Uint32(b)), nil
	}
	return order.Uint64(b), nil
}

// memberExpr spells member m of the object that expression x denotes:
// `(*p)` becomes `p->m`, anything else `x.m`.
func memberExpr(x, m string) string {
	if inner, ok := strings.CutPrefix(x, "(*"); ok && strings.HasSuffix(inner, ")") && wrapped(x) {
		return inner[:len(inner)-1] + "->" + m
	}
	return postfix(x) + "." + m
}

// postfix returns x parenthesized unless it is already a postfix
// expression (an identifier, member access, subscript or a parenthesized
// whole), so that a postfix operator can follow it.
func postfix(x string) string {
	if wrapped(x) {
		return x
	}
	depth := 0
	for i := 0; i < len(x); i++ {
		c := x[i]
		switch {
		case c == '[' || c == '(':
			depth++
		case c == ']' || c == ')':
			depth--
		case depth > 0:
		case c == '_' || c == '$' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
		case c == '-' && i+1 < len(x) && x[i+1] == '>':
			i++
		default:
			return "(" + x + ")"
		}
	}
	if x == "" || x[0] >= '0' && x[0] <= '9' || x[0] == '(' {
		return "(" + x + ")"
	}
	return x
}

// wrapped reports whether x is one parenthesized expression: `(…)` whose
// first parenthesis closes at the end.
func wrapped(x string) bool {
	if len(x) < 2 || x[0] != '(' || x[len(x)-1] != ')' {
		return false
	}
	depth := 0
	for i := 0; i < len(x); i++ {
		switch x[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 && i != len(x)-1 {
				return false
			}
		}
	}
	return depth == 0
}
