package values

import (
	"fmt"

	"github.com/kdap/kdap/session/cexpr"
)

// Limits of Format, given to cexpr.Format; formatBytes follows them.
const (
	formatElements = 200     // array elements printed before "..."
	formatString   = 200     // characters of a char array printed
	formatMaxLoad  = 1 << 20 // cexpr's bound on one read
	pageSize       = 4096
)

// readMem reads p at addr. A failed read is a *cexpr.MemoryError that
// names the first page (or addr, in its first page) that cannot be read:
// a read that spans pages fails on one of them, and the base of a large
// array or struct is the wrong address to blame.
func (e *Env) readMem(addr uint64, p []byte) error {
	err := e.mem.ReadVirt(p, addr)
	if err == nil {
		return nil
	}
	if bad, berr := e.firstUnreadable(addr, len(p)); berr != nil {
		return &cexpr.MemoryError{Addr: bad, Err: berr}
	}
	return &cexpr.MemoryError{Addr: addr, Err: err}
}

// firstUnreadable returns the start of the first piece of [addr, addr+n)
// that cannot be read, in pieces that end at page boundaries, with its
// read's error (nil when every piece reads: a read that fails whole may
// succeed when split).
func (e *Env) firstUnreadable(addr uint64, n int) (uint64, error) {
	buf := make([]byte, min(n, pageSize))
	for a, end := addr, addr+uint64(n); a < end && a >= addr; {
		m := min(pageSize-a%pageSize, end-a)
		if err := e.mem.ReadVirt(buf[:m], a); err != nil {
			return a, err
		}
		a += m
	}
	return addr, nil
}

// formatBytes returns how many bytes of v's memory cexpr.Format reads at
// once for it (a lower bound; 0 when it reads none or at most a few):
// the elements it prints of an array, a struct or union whole.
func formatBytes(v cexpr.Value, hex bool) int64 {
	if !v.HasAddr || v.Bytes != nil || v.OptimizedOut || v.Unavailable || v.Type == nil {
		return 0
	}
	t := cexpr.Resolve(v.Type)
	var n int64
	switch t.Kind {
	case cexpr.Array:
		es := typeSize(t.Elem)
		if !t.LenKnown || t.Len <= 0 || es <= 0 {
			return 0
		}
		if cexpr.Resolve(t.Elem).Kind == cexpr.Char && es == 1 && !hex {
			return min(t.Len, formatString)
		}
		n = min(t.Len, formatElements, formatMaxLoad/es) * es
	case cexpr.Struct, cexpr.Union:
		if t.Incomplete {
			return 0
		}
		n = t.Size
	}
	if n < 0 || n > formatMaxLoad {
		return 0
	}
	return n
}

// typeSize is the size of t, an array's computed from its elements when
// the type does not say.
func typeSize(t *cexpr.Type) int64 {
	u := cexpr.Resolve(t)
	if u.Kind == cexpr.Array && u.Size == 0 && u.LenKnown && u.Len > 0 {
		if es := typeSize(u.Elem); es > 0 && u.Len <= (1<<62)/es {
			return es * u.Len
		}
	}
	return u.Size
}

// unreadable checks the memory Format is about to read for v when it
// spans pages, and returns the error to show in its place, naming the
// first unreadable page, when part of it cannot be read (nil otherwise,
// and when the first page is the unreadable one: cexpr names it).
func (e *Env) unreadable(v cexpr.Value, hex bool) error {
	n := formatBytes(v, hex)
	if n <= int64(pageSize-v.Addr%pageSize) {
		return nil
	}
	if e.mem.ReadVirt(make([]byte, n), v.Addr) == nil {
		return nil
	}
	bad, err := e.firstUnreadable(v.Addr, int(n))
	if err == nil || bad == v.Addr {
		return nil
	}
	return &cexpr.MemoryError{Addr: bad, Err: fmt.Errorf("page %d of the %d-byte %s at %#x: %w", (bad-v.Addr+v.Addr%pageSize)/pageSize+1, n, cexpr.TypeString(v.Type), v.Addr, err)}
}
