package linux

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kdap/kdap/target/symbols"
)

// A loaded module keeps its own symbol table in memory for kallsyms
// (kernel/module/kallsyms.c): struct module's kallsyms points at a struct
// mod_kallsyms whose symtab holds num_symtab Elf64_Sym entries with
// final addresses, their names in strtab. After the module's init has
// run, kallsyms points at core_kallsyms, which keeps the symbols of the
// module's core sections. Reading them needs no .ko file, as crash does.

// Bounds on what is accepted from a dump.
const (
	// maxModuleSyms bounds num_symtab: a large module (a GPU driver) has
	// tens of thousands of symbols.
	maxModuleSyms = 1 << 20
	// maxSymName bounds a symbol's name: KSYM_NAME_LEN is 512 since
	// Linux 6.1 (128 before).
	maxSymName = 512
)

// memReader reads the dumped machine's virtual memory.
type memReader interface {
	ReadVirt(b []byte, va uint64) error
}

// kallsymsLayout is where the fields of struct mod_kallsyms and Elf64_Sym
// are, from DWARF.
type kallsymsLayout struct {
	// offsets in struct mod_kallsyms
	symtab, numSymtab, strtab uint64
	numSize                   int64 // sizeof num_symtab: 4 (unsigned int) or 8
	sym                       elfSymLayout
}

// elfSymLayout is the layout of an Elf64_Sym.
type elfSymLayout struct {
	size                      uint64
	name, info, shndx, value  uint64
	symSize                   uint64 // offset of st_size
	nameSize, shndxSz, valSz  int64
	infoSize, symSizeFieldLen int64
}

// elf64Sym is the ELF specification's Elf64_Sym (a file format, fixed
// whatever the kernel): st_name u32, st_info u8, st_other u8,
// st_shndx u16, st_value u64, st_size u64.
var elf64Sym = elfSymLayout{size: 24, name: 0, info: 4, shndx: 6, value: 8, symSize: 16,
	nameSize: 4, infoSize: 1, shndxSz: 2, valSz: 8, symSizeFieldLen: 8}

// check rejects a layout whose fields do not fit its entry or have sizes
// the reader does not decode.
func (l elfSymLayout) check() error {
	for _, f := range []struct {
		name string
		off  uint64
		size int64
		ok   []int64
	}{{"st_name", l.name, l.nameSize, []int64{4}}, {"st_info", l.info, l.infoSize, []int64{1}},
		{"st_shndx", l.shndx, l.shndxSz, []int64{2}}, {"st_value", l.value, l.valSz, []int64{8}},
		{"st_size", l.symSize, l.symSizeFieldLen, []int64{8}}} {
		if !slices.Contains(f.ok, f.size) {
			return fmt.Errorf("Elf64_Sym member %s has %d bytes, want %v", f.name, f.size, f.ok)
		}
		if f.off+uint64(f.size) > l.size {
			return fmt.Errorf("Elf64_Sym member %s at %d (%d bytes) is past its %d-byte entry", f.name, f.off, f.size, l.size)
		}
	}
	return nil
}

// kallsymsLayout reads struct mod_kallsyms and Elf64_Sym from DWARF; a
// kernel whose DWARF has no Elf64_Sym gets the ELF specification's.
func (k *kernel) kallsymsLayout() (kallsymsLayout, error) {
	var l kallsymsLayout
	var err error
	if l.symtab, err = k.member("mod_kallsyms", "symtab"); err != nil {
		return l, err
	}
	if l.strtab, err = k.member("mod_kallsyms", "strtab"); err != nil {
		return l, err
	}
	off, size, err := k.t.Kernel.Member("struct mod_kallsyms", "num_symtab")
	if err != nil {
		return l, fmt.Errorf("struct mod_kallsyms member num_symtab: %w", err)
	}
	if size != 4 && size != 8 {
		return l, fmt.Errorf("struct mod_kallsyms member num_symtab has %d bytes, want 4 or 8", size)
	}
	l.numSymtab, l.numSize = uint64(off), size
	l.sym = elf64Sym
	if s, err := k.elfSymFromDWARF(); err == nil {
		l.sym = s
	} else {
		k.t.Log.Debug("Elf64_Sym from the ELF specification: " + err.Error())
	}
	return l, l.sym.check()
}

// elfSymFromDWARF reads the kernel's Elf64_Sym (a typedef of struct
// elf64_sym in include/uapi/linux/elf.h).
func (k *kernel) elfSymFromDWARF() (elfSymLayout, error) {
	var l elfSymLayout
	typ := "struct elf64_sym"
	size, err := k.t.Kernel.TypeSize(typ)
	if err != nil {
		typ = "Elf64_Sym"
		if size, err = k.t.Kernel.TypeSize(typ); err != nil {
			return l, err
		}
	}
	l.size = uint64(size)
	for _, m := range []struct {
		name string
		off  *uint64
		size *int64
	}{{"st_name", &l.name, &l.nameSize}, {"st_info", &l.info, &l.infoSize}, {"st_shndx", &l.shndx, &l.shndxSz},
		{"st_value", &l.value, &l.valSz}, {"st_size", &l.symSize, &l.symSizeFieldLen}} {
		off, sz, err := k.t.Kernel.Member(typ, m.name)
		if err != nil {
			return l, fmt.Errorf("%s member %s: %w", typ, m.name, err)
		}
		*m.off, *m.size = uint64(off), sz
	}
	return l, nil
}

// errKallsyms is wrapped by every error about a module's kallsyms data.
var errKallsyms = errors.New("bad module kallsyms")

// readKallsyms reads the symbols of the struct mod_kallsyms at addr. The
// null entry, undefined symbols and nameless ones are left out; sizes and
// kinds come from each entry's st_size and st_info.
func readKallsyms(mem memReader, l kallsymsLayout, addr uint64) ([]symbols.Symbol, error) {
	if err := l.sym.check(); err != nil {
		return nil, err
	}
	hdr := make([]byte, max(l.symtab+8, l.strtab+8, l.numSymtab+uint64(l.numSize)))
	if err := mem.ReadVirt(hdr, addr); err != nil {
		return nil, fmt.Errorf("reading struct mod_kallsyms at %#x: %w", addr, err)
	}
	symtab := binary.LittleEndian.Uint64(hdr[l.symtab:])
	strtab := binary.LittleEndian.Uint64(hdr[l.strtab:])
	var n uint64
	if l.numSize == 4 {
		n = uint64(binary.LittleEndian.Uint32(hdr[l.numSymtab:]))
	} else {
		n = binary.LittleEndian.Uint64(hdr[l.numSymtab:])
	}
	switch {
	case n == 0:
		return nil, nil
	case n > maxModuleSyms:
		return nil, fmt.Errorf("%w: mod_kallsyms at %#x: num_symtab %d exceeds %d", errKallsyms, addr, n, maxModuleSyms)
	case symtab == 0 || strtab == 0:
		return nil, fmt.Errorf("%w: mod_kallsyms at %#x: %d symbols but symtab %#x, strtab %#x", errKallsyms, addr, n, symtab, strtab)
	case symtab+n*l.sym.size < symtab:
		return nil, fmt.Errorf("%w: mod_kallsyms at %#x: symtab %#x of %d entries wraps the address space", errKallsyms, addr, symtab, n)
	}
	raw := make([]byte, n*l.sym.size)
	if err := mem.ReadVirt(raw, symtab); err != nil {
		return nil, fmt.Errorf("reading %d module symbols at %#x: %w", n, symtab, err)
	}
	names := nameReader{mem: mem, base: strtab}
	out := make([]symbols.Symbol, 0, n)
	for i := uint64(0); i < n; i++ {
		e := raw[i*l.sym.size : (i+1)*l.sym.size]
		nameOff := binary.LittleEndian.Uint32(e[l.sym.name:])
		info := e[l.sym.info]
		shndx := elf.SectionIndex(binary.LittleEndian.Uint16(e[l.sym.shndx:]))
		if nameOff == 0 || shndx == elf.SHN_UNDEF {
			continue
		}
		name, err := names.at(nameOff)
		if err != nil {
			return nil, fmt.Errorf("%w: mod_kallsyms at %#x: symbol %d: %w", errKallsyms, addr, i, err)
		}
		if name == "" {
			continue
		}
		s := symbols.Symbol{Name: name, Addr: binary.LittleEndian.Uint64(e[l.sym.value:]),
			Size: binary.LittleEndian.Uint64(e[l.sym.symSize:]), Global: elf.ST_BIND(info) != elf.STB_LOCAL}
		switch {
		case shndx == elf.SHN_ABS:
			s.Kind = symbols.Abs
		case elf.ST_TYPE(info) == elf.STT_FUNC:
			s.Kind = symbols.Func
		case elf.ST_TYPE(info) == elf.STT_OBJECT || elf.ST_TYPE(info) == elf.STT_TLS:
			s.Kind = symbols.Object
		case elf.ST_TYPE(info) == elf.STT_SECTION || elf.ST_TYPE(info) == elf.STT_FILE:
			continue
		}
		if s.Addr+s.Size < s.Addr {
			return nil, fmt.Errorf("%w: mod_kallsyms at %#x: symbol %s at %#x of %d bytes wraps the address space", errKallsyms, addr, name, s.Addr, s.Size)
		}
		out = append(out, s)
	}
	return out, nil
}

// nameReader reads NUL-terminated names from a string table in memory,
// a page at a time.
type nameReader struct {
	mem  memReader
	base uint64
	page uint64 // address of buf, 0 when empty
	buf  [4096]byte
}

// at returns the name at offset off of the table: a name longer than
// maxSymName or unreadable is an error.
func (r *nameReader) at(off uint32) (string, error) {
	va := r.base + uint64(off)
	if va < r.base {
		return "", fmt.Errorf("name offset %#x wraps the address space", off)
	}
	var b strings.Builder
	for b.Len() <= maxSymName {
		pg := va &^ 4095
		if r.page != pg || pg == 0 {
			if err := r.mem.ReadVirt(r.buf[:], pg); err != nil {
				return "", fmt.Errorf("reading the name at %#x: %w", va, err)
			}
			r.page = pg
		}
		chunk := r.buf[va-pg:]
		for i, c := range chunk {
			if c == 0 {
				b.Write(chunk[:i])
				if b.Len() > maxSymName {
					break
				}
				return b.String(), nil
			}
		}
		b.Write(chunk)
		va = pg + 4096
		if va == 0 {
			return "", fmt.Errorf("the name at %#x runs to the end of the address space", r.base+uint64(off))
		}
	}
	return "", fmt.Errorf("the name at %#x is longer than %d bytes", r.base+uint64(off), maxSymName)
}
