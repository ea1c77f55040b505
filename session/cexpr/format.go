package cexpr

import (
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// FormatOptions controls how Format prints values. Zero fields take the
// defaults noted.
type FormatOptions struct {
	// Hex prints integers (not chars' glyphs, not enum names) in hexadecimal.
	Hex bool
	// MaxDepth is how many levels of nested struct, union and array values
	// are expanded before printing "{...}" (default 3).
	MaxDepth int
	// MaxElements caps the array elements printed before "..." (default 200).
	MaxElements int
	// MaxString caps the characters of a string printed before "..."
	// (default 200).
	MaxString int
}

// maxOutput bounds the length of one formatted value.
const maxOutput = 1 << 16

func (o FormatOptions) withDefaults() FormatOptions {
	if o.MaxDepth <= 0 {
		o.MaxDepth = 3
	}
	if o.MaxElements <= 0 {
		o.MaxElements = 200
	}
	if o.MaxString <= 0 {
		o.MaxString = 200
	}
	return o
}

// Format prints v the way gdb's `print` does: `42`, `65 'A'`, `PRS_ZOMBIE`,
// `0xffffffff81d43950 <proc0>`, `0xfffff80003000000 "kernel"`, `"abc"` for
// char arrays, `{p_pid = 1, p_comm = "init"}`, `{1, 2, 3...}`. Memory that
// cannot be read shows as `<error: cannot read memory at 0x…>` in place.
func Format(env Env, v Value, opts FormatOptions) string {
	f := &formatter{env: env, m: ModelOf(env), o: opts.withDefaults()}
	f.value(v, 0)
	return f.b.String()
}

type formatter struct {
	env Env
	m   DataModel // byte order of the values printed
	o   FormatOptions
	b   strings.Builder
}

func (f *formatter) full() bool { return f.b.Len() >= maxOutput }

func (f *formatter) errorf(err error) {
	var me *MemoryError
	if errors.As(err, &me) {
		fmt.Fprintf(&f.b, "<error: cannot read memory at %#x>", me.Addr)
		return
	}
	fmt.Fprintf(&f.b, "<error: %v>", err)
}

func (f *formatter) value(v Value, depth int) {
	switch {
	case v.OptimizedOut:
		f.b.WriteString("<optimized out>")
		return
	case v.Unavailable:
		f.b.WriteString("<unavailable>")
		return
	case v.Type == nil:
		f.b.WriteString("<no type>")
		return
	}
	t := Resolve(v.Type)
	switch t.Kind {
	case Void:
		f.b.WriteString("void")
	case Bool, Char, Int, Enum, Pointer:
		x, err := scalarBits(f.env, f.m, v)
		if err != nil {
			f.errorf(err)
			return
		}
		f.scalar(v.Type, x)
	case Float:
		x, err := floatBits(f.env, f.m, v)
		if err != nil {
			f.errorf(err)
			return
		}
		prec := 64
		if t.Size == 4 {
			prec = 32
		}
		f.b.WriteString(strconv.FormatFloat(x, 'g', -1, prec))
	case Func:
		if !v.HasAddr {
			f.b.WriteString("<function>")
			return
		}
		f.address(v.Addr)
	case Array:
		f.array(v, t, depth)
	case Struct, Union:
		f.record(v, t, depth)
	default:
		fmt.Fprintf(&f.b, "<%s>", t.Kind)
	}
}

// scalar prints the integer, enum, bool or pointer x of type t.
func (f *formatter) scalar(typ *Type, x uint64) {
	t := Resolve(typ)
	switch t.Kind {
	case Bool:
		switch x {
		case 0:
			f.b.WriteString("false")
		case 1:
			f.b.WriteString("true")
		default:
			f.integer(t, x)
		}
	case Char:
		f.integer(t, x)
		if !f.o.Hex {
			f.b.WriteString(" '" + escapeChar(byte(x), '\'') + "'")
		}
	case Enum:
		f.enum(t, x)
	case Pointer:
		f.pointer(t, x)
	default:
		f.integer(t, x)
	}
}

func (f *formatter) integer(t *Type, x uint64) {
	if f.o.Hex {
		fmt.Fprintf(&f.b, "%#x", truncUnsigned(x, t))
		return
	}
	f.b.WriteString(formatInt(x, t))
}

// enum prints an enum by name, a flag enum as `A | B`, anything else as
// its number.
func (f *formatter) enum(t *Type, x uint64) {
	v := int64(x)
	for _, e := range t.Enumerators {
		if e.Value == v {
			f.b.WriteString(e.Name)
			return
		}
	}
	if v > 0 && isFlagEnum(t) {
		var names []string
		rest := x
		for _, e := range t.Enumerators {
			if e.Value != 0 && x&uint64(e.Value) == uint64(e.Value) {
				names = append(names, e.Name)
				rest &^= uint64(e.Value)
			}
		}
		if rest == 0 && len(names) > 0 {
			f.b.WriteString(strings.Join(names, " | "))
			return
		}
	}
	f.integer(t, x)
}

// isFlagEnum reports whether an enum's non-zero values use disjoint bits,
// so a value can be read as an OR of them.
func isFlagEnum(t *Type) bool {
	var seen uint64
	n := 0
	for _, e := range t.Enumerators {
		if e.Value < 0 {
			return false
		}
		if e.Value == 0 {
			continue
		}
		if seen&uint64(e.Value) != 0 {
			return false
		}
		seen |= uint64(e.Value)
		n++
	}
	return n > 1 || (n == 1 && bits.OnesCount64(seen) == 1)
}

func (f *formatter) address(a uint64) {
	fmt.Fprintf(&f.b, "%#x", a)
	if f.env == nil {
		return
	}
	if name, off, ok := f.env.Symbolize(a); ok {
		if off == 0 {
			fmt.Fprintf(&f.b, " <%s>", name)
		} else {
			fmt.Fprintf(&f.b, " <%s+%d>", name, off)
		}
	}
}

// pointer prints an address, with the symbol it points into and, for char
// pointers, the string it points to.
func (f *formatter) pointer(t *Type, a uint64) {
	if a == 0 {
		f.b.WriteString("0x0")
		return
	}
	f.address(a)
	if t.Elem == nil || Resolve(t.Elem).Kind != Char {
		return
	}
	s, complete, err := f.readString(a, int64(f.o.MaxString))
	f.b.WriteByte(' ')
	if err != nil && len(s) == 0 {
		f.errorf(err)
		return
	}
	f.b.WriteString(quoteC(s))
	if !complete {
		f.b.WriteString("...")
	}
}

// readString reads a NUL-terminated string of at most max bytes at a,
// page by page; complete is false when it stopped before a NUL.
func (f *formatter) readString(a uint64, max int64) ([]byte, bool, error) {
	var out []byte
	for int64(len(out)) < max {
		chunk := 4096 - (a+uint64(len(out)))%4096
		if chunk > 256 {
			chunk = 256
		}
		if rem := uint64(max - int64(len(out))); chunk > rem {
			chunk = rem
		}
		buf := make([]byte, chunk)
		addr := a + uint64(len(out))
		if err := f.env.ReadMemory(addr, buf); err != nil {
			// The string may end before the unreadable part of the chunk:
			// go on byte by byte.
			if chunk == 1 {
				return out, false, &MemoryError{Addr: addr, Err: err}
			}
			chunk, buf = 1, buf[:1]
			if err := f.env.ReadMemory(addr, buf); err != nil {
				return out, false, &MemoryError{Addr: addr, Err: err}
			}
		}
		for i, c := range buf {
			if c == 0 {
				return append(out, buf[:i]...), true, nil
			}
		}
		out = append(out, buf...)
	}
	return out, false, nil
}

// contents returns the first n bytes of v's storage.
func (f *formatter) contents(v Value, n int64) ([]byte, error) {
	return load(f.env, v, n)
}

func (f *formatter) array(v Value, t *Type, depth int) {
	if !t.LenKnown {
		if v.HasAddr {
			fmt.Fprintf(&f.b, "<array of unknown length at %#x>", v.Addr)
		} else {
			f.b.WriteString("<array of unknown length>")
		}
		return
	}
	es := sizeOf(t.Elem)
	if t.Len == 0 || es <= 0 {
		f.b.WriteString("{}")
		return
	}
	et := Resolve(t.Elem)
	if et.Kind == Char && es == 1 && !f.o.Hex {
		n := min(t.Len, int64(f.o.MaxString))
		b, err := f.contents(v, n)
		if err != nil {
			f.errorf(err)
			return
		}
		complete := false
		for i, c := range b {
			if c == 0 {
				b, complete = b[:i], true
				break
			}
		}
		f.b.WriteString(quoteC(b))
		if !complete && t.Len > n {
			f.b.WriteString("...")
		}
		return
	}
	if depth >= f.o.MaxDepth {
		f.b.WriteString("{...}")
		return
	}
	n := min(t.Len, int64(f.o.MaxElements))
	if n > maxLoad/es {
		n = maxLoad / es
	}
	b, err := f.contents(v, n*es)
	if err != nil {
		f.errorf(err)
		return
	}
	f.b.WriteByte('{')
	for i := int64(0); i < n; i++ {
		if i > 0 {
			f.b.WriteString(", ")
		}
		if f.full() {
			f.b.WriteString("...")
			break
		}
		ev := Value{Type: t.Elem, Bytes: b[i*es : (i+1)*es]}
		if v.HasAddr {
			ev.Addr, ev.HasAddr = v.Addr+uint64(i*es), true
		}
		f.value(ev, depth+1)
	}
	if n < t.Len {
		f.b.WriteString("...")
	}
	f.b.WriteByte('}')
}

func (f *formatter) record(v Value, t *Type, depth int) {
	if t.Incomplete {
		f.b.WriteString("<incomplete type>")
		return
	}
	if depth >= f.o.MaxDepth {
		f.b.WriteString("{...}")
		return
	}
	b, err := f.contents(v, sizeOf(t))
	if err != nil {
		f.errorf(err)
		return
	}
	whole := Value{Type: v.Type, Bytes: b, Addr: v.Addr, HasAddr: v.HasAddr}
	f.b.WriteByte('{')
	for i, m := range t.Members {
		if i > 0 {
			f.b.WriteString(", ")
		}
		if f.full() {
			f.b.WriteString("...")
			break
		}
		if m.Name != "" {
			f.b.WriteString(m.Name + " = ")
		}
		mv, err := memberAt(whole, m)
		if err != nil {
			f.errorf(err)
			continue
		}
		f.value(mv, depth+1)
	}
	f.b.WriteByte('}')
}

// memberAt returns member m of a struct value whose bytes are loaded.
func memberAt(x Value, m Member) (Value, error) {
	v := Value{Type: m.Type, BitOffset: m.BitOffset, BitSize: m.BitSize}
	end := m.Offset + sizeOf(m.Type)
	if m.BitSize > 0 {
		end = m.Offset + (m.BitOffset+m.BitSize+7)/8
	}
	if m.Offset < 0 || end < m.Offset || end > int64(len(x.Bytes)) {
		return Value{}, fmt.Errorf("member '%s' at offset %d lies outside the %d-byte value", m.Name, m.Offset, len(x.Bytes))
	}
	v.Bytes = x.Bytes[m.Offset:end]
	if x.HasAddr {
		v.Addr, v.HasAddr = x.Addr+uint64(m.Offset), true
	}
	return v, nil
}

// escapeChar spells byte c inside a C literal delimited by quote, the way
// gdb does: printable ASCII as itself, common escapes, octal otherwise.
func escapeChar(c byte, quote byte) string {
	switch c {
	case '\n':
		return `\n`
	case '\t':
		return `\t`
	case '\r':
		return `\r`
	case '\a':
		return `\a`
	case '\b':
		return `\b`
	case '\f':
		return `\f`
	case '\v':
		return `\v`
	case 27:
		return `\033`
	case '\\':
		return `\\`
	case quote:
		return `\` + string(quote)
	}
	if c >= 0x20 && c < 0x7f {
		return string(rune(c))
	}
	return fmt.Sprintf(`\%03o`, c)
}

// quoteC returns b as a double-quoted C string literal.
func quoteC(b []byte) string {
	var s strings.Builder
	s.WriteByte('"')
	for _, c := range b {
		s.WriteString(escapeChar(c, '"'))
	}
	s.WriteByte('"')
	return s.String()
}
