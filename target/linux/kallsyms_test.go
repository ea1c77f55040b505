package linux

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kdap/kdap/target/symbols"
	"github.com/kdap/kdap/unwind/orc"
)

// fakeMem is a sparse memory of 4 KiB pages; unset pages are unreadable.
type fakeMem map[uint64][]byte

func (m fakeMem) ReadVirt(b []byte, va uint64) error {
	for len(b) > 0 {
		pg := va &^ 4095
		p, ok := m[pg]
		if !ok {
			return fmt.Errorf("page %#x not present", pg)
		}
		n := copy(b, p[va-pg:])
		b, va = b[n:], va+uint64(n)
	}
	return nil
}

func (m fakeMem) write(va uint64, b []byte) {
	for len(b) > 0 {
		pg := va &^ 4095
		if m[pg] == nil {
			m[pg] = make([]byte, 4096)
		}
		n := copy(m[pg][va-pg:], b)
		b, va = b[n:], va+uint64(n)
	}
}

// kaLayout is struct mod_kallsyms of Linux 6.1 (symtab, num_symtab,
// strtab, typetab) with the ELF specification's Elf64_Sym.
var kaLayout = kallsymsLayout{symtab: 0, numSymtab: 8, numSize: 4, strtab: 16, sym: elf64Sym}

const (
	kaAddr  = 0xffffffffc0001000
	symAddr = 0xffffffffc0002000
	strAddr = 0xffffffffc0003000
)

// elfSym encodes one Elf64_Sym.
func elfSym(name uint32, info byte, shndx uint16, value, size uint64) []byte {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint32(b, name)
	b[4] = info
	binary.LittleEndian.PutUint16(b[6:], shndx)
	binary.LittleEndian.PutUint64(b[8:], value)
	binary.LittleEndian.PutUint64(b[16:], size)
	return b
}

// fakeKallsyms lays out a mod_kallsyms with syms and strtab.
func fakeKallsyms(n uint32, syms [][]byte, strtab []byte) fakeMem {
	m := fakeMem{}
	hdr := make([]byte, 32)
	binary.LittleEndian.PutUint64(hdr[0:], symAddr)
	binary.LittleEndian.PutUint32(hdr[8:], n)
	binary.LittleEndian.PutUint64(hdr[16:], strAddr)
	m.write(kaAddr, hdr)
	var all []byte
	for _, s := range syms {
		all = append(all, s...)
	}
	if len(all) > 0 {
		m.write(symAddr, all)
	}
	m.write(strAddr, strtab)
	return m
}

const (
	stFuncLocal   = 0x02 // STB_LOCAL, STT_FUNC
	stFuncGlobal  = 0x12 // STB_GLOBAL, STT_FUNC
	stObjectLocal = 0x01
)

func TestReadKallsyms(t *testing.T) {
	strtab := []byte("\x00probe\x00init_module\x00table\x00undef\x00")
	m := fakeKallsyms(5, [][]byte{
		elfSym(0, 0, 0, 0, 0), // the null symbol
		elfSym(1, stFuncLocal, 2, 0xffffffffc0000450, 2272),
		elfSym(7, stFuncGlobal, 3, 0xffffffffc0000d30, 37),
		elfSym(19, stObjectLocal, 5, 0xffffffffc0001200, 64),
		elfSym(25, stFuncGlobal, 0, 0, 0), // undefined: left out
	}, strtab)
	got, err := readKallsyms(m, kaLayout, kaAddr)
	if err != nil {
		t.Fatal(err)
	}
	want := []symbols.Symbol{
		{Name: "probe", Addr: 0xffffffffc0000450, Size: 2272, Kind: symbols.Func},
		{Name: "init_module", Addr: 0xffffffffc0000d30, Size: 37, Kind: symbols.Func, Global: true},
		{Name: "table", Addr: 0xffffffffc0001200, Size: 64, Kind: symbols.Object},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

// TestReadKallsymsBad feeds corrupt kallsyms: each gives an error naming
// the problem, never a panic or an endless read.
func TestReadKallsymsBad(t *testing.T) {
	long := append([]byte{0}, []byte(strings.Repeat("x", 5000))...) // no NUL within 512 bytes
	cases := []struct {
		name string
		mem  fakeMem
		want string
	}{
		{"huge num_symtab", fakeKallsyms(1<<31, nil, []byte{0}), "num_symtab 2147483648 exceeds"},
		{"truncated symtab", fakeKallsyms(400, [][]byte{elfSym(1, stFuncLocal, 1, 1, 1)}, []byte("\x00a\x00")), "reading 400 module symbols"},
		{"name runs on", fakeKallsyms(1, [][]byte{elfSym(1, stFuncLocal, 1, 1, 1)}, long), "longer than 512 bytes"},
		{"name past the table", fakeKallsyms(1, [][]byte{elfSym(0x10000, stFuncLocal, 1, 1, 1)}, []byte{0}), "reading the name"},
		{"name offset wraps", fakeKallsyms(1, [][]byte{elfSym(0xffffffff, stFuncLocal, 1, 1, 1)}, []byte{0}), "name offset 0xffffffff wraps"},
		{"symbol wraps", fakeKallsyms(1, [][]byte{elfSym(1, stFuncLocal, 1, 1<<63, 1<<63)}, []byte("\x00a\x00")), "wraps the address space"},
		{"no header", fakeMem{}, "reading struct mod_kallsyms"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := readKallsyms(c.mem, kaLayout, kaAddr)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	// symtab pointing at 0 with symbols is corrupt data
	m := fakeKallsyms(3, nil, []byte{0})
	binary.LittleEndian.PutUint64(m[kaAddr&^4095][kaAddr&4095:], 0)
	if _, err := readKallsyms(m, kaLayout, kaAddr); !errors.Is(err, errKallsyms) {
		t.Errorf("NULL symtab: %v", err)
	}
	// An empty table is no error.
	if got, err := readKallsyms(fakeKallsyms(0, nil, []byte{0}), kaLayout, kaAddr); err != nil || len(got) != 0 {
		t.Errorf("empty table: %v, %v", got, err)
	}
	// A layout whose fields fall outside its entry is refused.
	bad := kaLayout
	bad.sym.size = 16
	if _, err := readKallsyms(fakeKallsyms(0, nil, nil), bad, kaAddr); err == nil {
		t.Error("a 16-byte Elf64_Sym was accepted")
	}
}

// FuzzReadKallsyms reads arbitrary symbol tables and string tables.
func FuzzReadKallsyms(f *testing.F) {
	f.Add(uint32(2), elfSym(1, stFuncLocal, 1, 5, 5), []byte("\x00ab\x00"))
	f.Fuzz(func(t *testing.T, n uint32, syms, strtab []byte) {
		m := fakeKallsyms(n, [][]byte{syms}, strtab)
		readKallsyms(m, kaLayout, kaAddr)
	})
}

// TestReadORCArraysBad feeds a module's ORC fields with corrupt values.
func TestReadORCArraysBad(t *testing.T) {
	const mod = 0xffffffffc0010000
	a := orcArrays{num: 0, numSize: 4, ip: 8, ent: 16}
	mk := func(n uint32, ip, ent uint64) fakeMem {
		m := fakeMem{}
		b := make([]byte, 24)
		binary.LittleEndian.PutUint32(b, n)
		binary.LittleEndian.PutUint64(b[8:], ip)
		binary.LittleEndian.PutUint64(b[16:], ent)
		m.write(mod, b)
		return m
	}
	cases := []struct {
		name string
		mem  fakeMem
		want string
	}{
		{"huge num_orcs", mk(1<<30, 0xffffffffc0020000, 0xffffffffc0030000), "exceeds"},
		{"no table", mk(0, 0, 0), "no table"},
		{"NULL ip", mk(4, 0, 0xffffffffc0030000), "no table"},
		{"truncated ip", mk(4, 0xffffffffc0020000, 0xffffffffc0030000), "reading 4 orc_unwind_ip entries"},
		{"unreadable module", fakeMem{}, "reading num_orcs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := readORCArrays(c.mem, mod, a, orc.LayoutV1)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	// Two entries read back with their pcs relative to their slots.
	m := mk(2, 0xffffffffc0020000, 0xffffffffc0030000)
	ip := make([]byte, 8)
	binary.LittleEndian.PutUint32(ip, 0x100)    // 0xffffffffc0020100
	binary.LittleEndian.PutUint32(ip[4:], 0xfc) // 0xffffffffc0020100 too
	m.write(0xffffffffc0020000, ip)
	m.write(0xffffffffc0030000, make([]byte, 2*orc.LayoutV1.Size))
	tab, err := readORCArrays(m, mod, a, orc.LayoutV1)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if e, err := tab.Entry(i); err != nil || e.PC != 0xffffffffc0020100 {
			t.Errorf("entry %d: %+v, %v", i, e, err)
		}
	}
}
