// Package symbols reads the ELF symbol table of a kernel file and answers
// name → address and address → name questions.
//
// Only the .symtab section and its string table are read (a vmlinux is
// hundreds of megabytes; its symbol table is a few). Files without .symtab
// fall back to .dynsym.
package symbols

import (
	"cmp"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/kdap/kdap/internal/elfimage"
)

// Kind classifies a symbol by what it names.
type Kind uint8

// Symbol kinds.
const (
	// Other is an untyped symbol, typically an assembly label.
	Other Kind = iota
	// Func is a function (STT_FUNC).
	Func
	// Object is a data object (STT_OBJECT, STT_TLS, STT_COMMON).
	Object
	// Abs is an absolute value (SHN_ABS), e.g. FreeBSD's KERNBASE.
	Abs
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case Func:
		return "func"
	case Object:
		return "object"
	case Abs:
		return "abs"
	}
	return "other"
}

// Symbol is one named address from the symbol table.
type Symbol struct {
	Name   string
	Addr   uint64
	Size   uint64
	Kind   Kind
	Global bool // STB_GLOBAL or STB_WEAK
}

// Contains reports whether addr lies inside a sized symbol.
func (s Symbol) Contains(addr uint64) bool {
	return s.Size > 0 && addr >= s.Addr && addr-s.Addr < s.Size
}

// ErrNoSymbols is wrapped by Load's error when the file has no symbol table.
var ErrNoSymbols = errors.New("no symbol table")

// maxSymbols bounds the number of entries accepted from one table: a large
// vmlinux has a few hundred thousand.
const maxSymbols = 1 << 24

// Table is a kernel's symbol table, sorted by address.
type Table struct {
	syms   []Symbol // sorted by Addr, then by preference (best first)
	maxEnd []uint64 // maxEnd[i]: largest end of a sized symbol in syms[:i+1]

	namesOnce sync.Once
	byName    []int32 // indexes into syms, sorted by Name then preference
}

// Load reads f's symbol table (.symtab, else .dynsym). Section, file and
// undefined symbols are left out.
func Load(f *elf.File) (*Table, error) { return LoadImage(elfimage.FromFile(f)) }

// LoadImage is Load for an opened image: a mapped file's symbol and
// string tables are parsed in place, not copied.
func LoadImage(img *elfimage.Image) (*Table, error) {
	f := img.File
	sec := f.SectionByType(elf.SHT_SYMTAB)
	if sec == nil {
		sec = f.SectionByType(elf.SHT_DYNSYM)
	}
	if sec == nil {
		return nil, fmt.Errorf("%w: the ELF file has neither .symtab nor .dynsym", ErrNoSymbols)
	}
	entSize := 24
	if f.Class == elf.ELFCLASS32 {
		entSize = 16
	}
	if sec.Size%uint64(entSize) != 0 {
		return nil, fmt.Errorf("symbol table %s: size %#x is not a multiple of the entry size %d (file offset %#x)", img.SectionLabel(sec), sec.Size, entSize, sec.Offset)
	}
	if n := sec.Size / uint64(entSize); n > maxSymbols {
		return nil, fmt.Errorf("symbol table %s: %d entries is more than the limit %d (file offset %#x)", img.SectionLabel(sec), n, maxSymbols, sec.Offset)
	}
	if int(sec.Link) <= 0 || int(sec.Link) >= len(f.Sections) {
		return nil, fmt.Errorf("symbol table %s: string table section index %d is out of range (0..%d)", img.SectionLabel(sec), sec.Link, len(f.Sections)-1)
	}
	strSec := f.Sections[sec.Link]
	if strSec.Type != elf.SHT_STRTAB {
		return nil, fmt.Errorf("symbol table %s: linked section %d is %v, want SHT_STRTAB", img.SectionLabel(sec), sec.Link, strSec.Type)
	}
	data, err := img.SectionData(sec)
	if err != nil {
		return nil, fmt.Errorf("reading symbol table: %w", err)
	}
	strs, err := img.SectionData(strSec)
	if err != nil {
		return nil, fmt.Errorf("reading string table: %w", err)
	}
	syms, err := parse(data, strs, f.Class, f.ByteOrder, len(f.Sections))
	if err != nil {
		return nil, fmt.Errorf("symbol table %s (file offset %#x): %w", img.SectionLabel(sec), sec.Offset, err)
	}
	return newTable(syms), nil
}

// parse decodes raw symbol entries; entry 0 (the null symbol) is skipped.
func parse(data, strs []byte, class elf.Class, order binary.ByteOrder, nsec int) ([]Symbol, error) {
	entSize := 24
	if class == elf.ELFCLASS32 {
		entSize = 16
	}
	// One copy of the string table that every name slices: one
	// allocation rather than one per symbol, and no name points into a
	// mapped file.
	names := string(strs)
	out := make([]Symbol, 0, len(data)/entSize)
	for off := entSize; off+entSize <= len(data); off += entSize {
		e := data[off : off+entSize]
		var (
			nameOff     uint32
			info, shndx = byte(0), elf.SectionIndex(0)
			value, size uint64
		)
		nameOff = order.Uint32(e[0:4])
		if class == elf.ELFCLASS32 {
			value = uint64(order.Uint32(e[4:8]))
			size = uint64(order.Uint32(e[8:12]))
			info = e[12]
			shndx = elf.SectionIndex(order.Uint16(e[14:16]))
		} else {
			info = e[4]
			shndx = elf.SectionIndex(order.Uint16(e[6:8]))
			value = order.Uint64(e[8:16])
			size = order.Uint64(e[16:24])
		}
		typ := elf.ST_TYPE(info)
		if typ == elf.STT_SECTION || typ == elf.STT_FILE || shndx == elf.SHN_UNDEF {
			continue
		}
		if int(nameOff) >= len(strs) {
			return nil, fmt.Errorf("symbol %d: name offset %#x is past the end of the string table (%#x bytes, entry at offset %#x)", off/entSize, nameOff, len(strs), off)
		}
		name := cstring(names, int(nameOff))
		if name == "" {
			continue
		}
		s := Symbol{Name: name, Addr: value, Size: size, Kind: Other}
		switch {
		case shndx == elf.SHN_ABS:
			s.Kind = Abs
		case typ == elf.STT_FUNC || typ == elf.STT_GNU_IFUNC:
			s.Kind = Func
		case typ == elf.STT_OBJECT || typ == elf.STT_TLS || typ == elf.STT_COMMON:
			s.Kind = Object
		}
		bind := elf.ST_BIND(info)
		s.Global = bind == elf.STB_GLOBAL || bind == elf.STB_WEAK
		out = append(out, s)
	}
	return out, nil
}

// cstring returns the NUL-terminated string at off in a string table.
func cstring(tab string, off int) string {
	if i := strings.IndexByte(tab[off:], 0); i >= 0 {
		return tab[off : off+i]
	}
	return tab[off:]
}

// rank orders symbols at one address: lower is better. Sized functions and
// objects name an address best; absolute values name it worst.
func rank(s Symbol) int {
	r := 0
	switch s.Kind {
	case Func, Object:
	case Other:
		r += 4
	case Abs:
		r += 8
	}
	if s.Size == 0 {
		r += 2
	}
	if !s.Global {
		r++
	}
	return r
}

// better reports whether a should be preferred over b for the same address
// or name; the name makes the order total, so results are deterministic.
func better(a, b Symbol) bool {
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra < rb
	}
	if a.Size != b.Size {
		return a.Size > b.Size
	}
	return a.Name < b.Name
}

// New builds a table from symbols in any order (for tests and for symbol
// sources other than ELF files).
func New(syms []Symbol) *Table {
	return newTable(append([]Symbol(nil), syms...))
}

// byAddr orders symbols by address, the best of one address first.
func byAddr(a, b Symbol) int {
	switch {
	case a.Addr != b.Addr:
		return cmp.Compare(a.Addr, b.Addr)
	case better(a, b):
		return -1
	case better(b, a):
		return 1
	}
	return 0
}

func newTable(syms []Symbol) *Table {
	slices.SortFunc(syms, byAddr)
	return tableOf(syms)
}

// tableOf makes a table of symbols already sorted by byAddr.
func tableOf(syms []Symbol) *Table {
	maxEnd := make([]uint64, len(syms))
	var m uint64
	for i, s := range syms {
		if s.Size > 0 && s.Kind != Abs {
			end := s.Addr + s.Size
			if end < s.Addr { // wraps around the address space
				end = ^uint64(0)
			}
			m = max(m, end)
		}
		maxEnd[i] = m
	}
	return &Table{syms: syms, maxEnd: maxEnd}
}

// Len returns the number of symbols.
func (t *Table) Len() int { return len(t.syms) }

// All yields every symbol in address order.
func (t *Table) All() iter.Seq[Symbol] {
	return func(yield func(Symbol) bool) {
		for _, s := range t.syms {
			if !yield(s) {
				return
			}
		}
	}
}

func (t *Table) names() []int32 {
	t.namesOnce.Do(func() {
		idx := make([]int32, len(t.syms))
		for i := range idx {
			idx[i] = int32(i)
		}
		slices.SortFunc(idx, func(i, j int32) int {
			a, b := t.syms[i], t.syms[j]
			if c := strings.Compare(a.Name, b.Name); c != 0 {
				return c
			}
			switch {
			case better(a, b):
				return -1
			case better(b, a):
				return 1
			}
			return 0
		})
		t.byName = idx
	})
	return t.byName
}

// Lookup finds a symbol by name. When several share the name (static
// symbols of different files), a global function or object is preferred.
func (t *Table) Lookup(name string) (Symbol, bool) {
	idx := t.names()
	i := sort.Search(len(idx), func(i int) bool { return t.syms[idx[i]].Name >= name })
	if i < len(idx) && t.syms[idx[i]].Name == name {
		return t.syms[idx[i]], true
	}
	return Symbol{}, false
}

// LookupAll returns every symbol called name, best first.
func (t *Table) LookupAll(name string) []Symbol {
	var out []Symbol
	idx := t.names()
	for i := sort.Search(len(idx), func(i int) bool { return t.syms[idx[i]].Name >= name }); i < len(idx) && t.syms[idx[i]].Name == name; i++ {
		out = append(out, t.syms[idx[i]])
	}
	return out
}

// WithPrefix returns up to max symbols whose names start with p, in name
// order, one per name (max <= 0: no limit).
func (t *Table) WithPrefix(p string, max int) []Symbol {
	idx := t.names()
	var out []Symbol
	for i := sort.Search(len(idx), func(i int) bool { return t.syms[idx[i]].Name >= p }); i < len(idx); i++ {
		s := t.syms[idx[i]]
		if !strings.HasPrefix(s.Name, p) {
			break
		}
		if len(out) > 0 && out[len(out)-1].Name == s.Name {
			continue
		}
		if max > 0 && len(out) == max {
			break
		}
		out = append(out, s)
	}
	return out
}

// Addr finds the symbol that best names addr and addr's offset from it.
//
// A sized function or object that contains addr wins. Otherwise the nearest
// symbol below addr is used when it has no size (an assembly label covers
// everything up to the next symbol). An address past the end of the nearest
// sized symbol (alignment padding, unmapped space) is not named.
func (t *Table) Addr(addr uint64) (sym Symbol, offset uint64, ok bool) {
	// hi: first symbol above addr.
	hi := sort.Search(len(t.syms), func(i int) bool { return t.syms[i].Addr > addr })
	if hi == 0 {
		return Symbol{}, 0, false
	}
	// Walk down while some symbol at or below i can still cover addr
	// (maxEnd). Within one address the best symbol has the lowest index, so
	// later hits at the same address replace earlier ones.
	for i := hi - 1; i >= 0 && t.maxEnd[i] > addr; i-- {
		s := t.syms[i]
		if ok && s.Addr < sym.Addr {
			break
		}
		if s.Contains(addr) && s.Kind != Abs {
			sym, ok = s, true
		}
	}
	if ok {
		return sym, addr - sym.Addr, true
	}
	// No sized symbol covers addr: fall back to the best size-0 symbol at
	// the nearest address (an assembly label covers up to the next symbol).
	nearest := t.syms[hi-1].Addr
	var label *Symbol
	for i := hi - 1; i >= 0 && t.syms[i].Addr == nearest; i-- {
		if t.syms[i].Size == 0 {
			label = &t.syms[i]
		}
	}
	if label != nil {
		return *label, addr - label.Addr, true
	}
	return Symbol{}, 0, false
}

// Format names addr as "sym+0x1a" or "sym", or "0x…" when no symbol
// names it.
func (t *Table) Format(addr uint64) string {
	s, off, ok := t.Addr(addr)
	switch {
	case !ok:
		return fmt.Sprintf("%#x", addr)
	case off == 0:
		return s.Name
	}
	return fmt.Sprintf("%s+%#x", s.Name, off)
}

// Slide returns a copy of the table with every non-absolute symbol for
// which moves is true (every one when moves is nil) moved by delta (a KASLR
// offset; negative slides wrap around as two's complement).
func (t *Table) Slide(delta uint64, moves func(Symbol) bool) *Table {
	// Moved symbols keep their order among themselves, and so do the ones
	// that stay: merging the two runs re-sorts the table without a sort,
	// and the name order carries over through the merge's permutation. A
	// slide that wraps some symbols around the address space breaks the
	// first run: then sort afresh.
	moving := make([]bool, len(t.syms))
	var moved, fixed []int32
	wraps := false
	for i, s := range t.syms {
		if s.Kind == Abs || moves != nil && !moves(s) {
			fixed = append(fixed, int32(i))
			continue
		}
		moving[i] = true
		wraps = wraps || s.Addr+delta < s.Addr
		moved = append(moved, int32(i))
	}
	at := func(i int32) Symbol {
		s := t.syms[i]
		if moving[i] {
			s.Addr += delta
		}
		return s
	}
	if wraps {
		syms := make([]Symbol, len(t.syms))
		for i := range syms {
			syms[i] = at(int32(i))
		}
		return newTable(syms)
	}
	syms := make([]Symbol, 0, len(t.syms))
	newPos := make([]int32, len(t.syms))
	for len(moved) > 0 || len(fixed) > 0 {
		var next int32
		if len(fixed) == 0 || len(moved) > 0 && byAddr(at(moved[0]), at(fixed[0])) <= 0 {
			next, moved = moved[0], moved[1:]
		} else {
			next, fixed = fixed[0], fixed[1:]
		}
		newPos[next] = int32(len(syms))
		syms = append(syms, at(next))
	}
	out := tableOf(syms)
	old := t.names()
	byName := make([]int32, len(old))
	for i, j := range old {
		byName[i] = newPos[j]
	}
	out.namesOnce.Do(func() { out.byName = byName })
	return out
}
