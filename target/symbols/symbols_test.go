package symbols

import (
	"bytes"
	"cmp"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
)

// tinyELF is a small gcc-built program (source and build command beside it).
const tinyELF = "../debuginfo/testdata/tiny.elf"

func openELF(t testing.TB, path string) *elf.File {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// synthetic is a table with the shapes Addr must handle: a sized function
// with a label inside it, padding after a function, a size-0 assembly
// entry, an object, two symbols at one address, and an absolute value.
var synthetic = []Symbol{
	{Name: "KERNBASE", Addr: 0x1000, Kind: Abs},
	{Name: "btext", Addr: 0x2000, Kind: Other, Global: true},
	{Name: "fn_a", Addr: 0x2100, Size: 0x40, Kind: Func, Global: true},
	{Name: "fn_a_label", Addr: 0x2120, Kind: Other},
	{Name: "fn_b_local", Addr: 0x2200, Size: 0x10, Kind: Func},
	{Name: "fn_b", Addr: 0x2200, Size: 0x10, Kind: Func, Global: true},
	{Name: "fn_b_alias", Addr: 0x2200, Kind: Other, Global: true},
	{Name: "obj", Addr: 0x3000, Size: 8, Kind: Object, Global: true},
}

func TestAddr(t *testing.T) {
	tab := New(synthetic)
	tests := []struct {
		addr   uint64
		name   string
		off    uint64
		ok     bool
		format string
	}{
		{0x0fff, "", 0, false, "0xfff"},
		{0x1000, "KERNBASE", 0, true, "KERNBASE"},
		{0x1010, "KERNBASE", 0x10, true, "KERNBASE+0x10"},
		{0x2000, "btext", 0, true, "btext"},
		{0x20ff, "btext", 0xff, true, "btext+0xff"},
		{0x2100, "fn_a", 0, true, "fn_a"},
		{0x2130, "fn_a", 0x30, true, "fn_a+0x30"}, // sized function beats the label inside it
		{0x2140, "fn_a_label", 0x20, true, "fn_a_label+0x20"},
		{0x2205, "fn_b", 5, true, "fn_b+0x5"}, // global beats local at one address
		{0x2210, "fn_b_alias", 0x10, true, "fn_b_alias+0x10"},
		{0x3004, "obj", 4, true, "obj+0x4"},
		{0x3008, "", 0, false, "0x3008"}, // past the end of a sized object
	}
	for _, tt := range tests {
		s, off, ok := tab.Addr(tt.addr)
		if ok != tt.ok || s.Name != tt.name || off != tt.off {
			t.Errorf("Addr(%#x) = %q+%#x %v, want %q+%#x %v", tt.addr, s.Name, off, ok, tt.name, tt.off, tt.ok)
		}
		if got := tab.Format(tt.addr); got != tt.format {
			t.Errorf("Format(%#x) = %q, want %q", tt.addr, got, tt.format)
		}
	}
}

func TestLookupPrefixSlide(t *testing.T) {
	tab := New(append(synthetic, Symbol{Name: "fn_b", Addr: 0x9000, Size: 4, Kind: Func}))
	if s, ok := tab.Lookup("fn_b"); !ok || s.Addr != 0x2200 || !s.Global {
		t.Errorf("Lookup(fn_b) = %+v %v, want the global one at 0x2200", s, ok)
	}
	if n := len(tab.LookupAll("fn_b")); n != 2 {
		t.Errorf("LookupAll(fn_b) has %d symbols, want 2", n)
	}
	if _, ok := tab.Lookup("nosuch"); ok {
		t.Error("Lookup(nosuch) succeeded")
	}
	tests := []struct {
		prefix string
		max    int
		want   []string
	}{
		{"fn_", 0, []string{"fn_a", "fn_a_label", "fn_b", "fn_b_alias", "fn_b_local"}},
		{"fn_b", 2, []string{"fn_b", "fn_b_alias"}},
		{"zz", 0, nil},
		{"", 2, []string{"KERNBASE", "btext"}},
	}
	for _, tt := range tests {
		var got []string
		for _, s := range tab.WithPrefix(tt.prefix, tt.max) {
			got = append(got, s.Name)
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("WithPrefix(%q, %d) = %v, want %v", tt.prefix, tt.max, got, tt.want)
		}
	}
	if s, _ := tab.Slide(0x100000, func(s Symbol) bool { return s.Name != "fn_a" }).Lookup("fn_a"); s.Addr != 0x2100 {
		t.Errorf("fn_a kept in place moved to %#x, want 0x2100", s.Addr)
	}
	slid := tab.Slide(0x100000, nil)
	if s, _ := slid.Lookup("fn_a"); s.Addr != 0x102100 {
		t.Errorf("slid fn_a at %#x, want 0x102100", s.Addr)
	}
	if s, _ := slid.Lookup("KERNBASE"); s.Addr != 0x1000 {
		t.Errorf("slid KERNBASE at %#x, want the absolute value 0x1000", s.Addr)
	}
	if got := slid.Format(0x102130); got != "fn_a+0x30" {
		t.Errorf("slid Format = %q, want fn_a+0x30", got)
	}
	if s, _ := tab.Lookup("fn_a"); s.Addr != 0x2100 {
		t.Error("Slide changed the original table")
	}
}

// TestAgainstDebugELF compares the table with debug/elf's own symbol
// reader: every defined, named, non-section, non-file symbol appears with
// the same value, size and kind.
func TestAgainstDebugELF(t *testing.T) {
	paths := []string{tinyELF}
	for _, v := range []string{"fp", "nofp"} {
		if p, err := testfixture.Find("fbsdkern/fixtures/" + v + "/kernel.debug"); err == nil {
			paths = append(paths, p)
		}
	}
	for _, p := range paths {
		t.Run(filepath.Base(filepath.Dir(p))+"/"+filepath.Base(p), func(t *testing.T) {
			f := openELF(t, p)
			tab, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := f.Symbols()
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, r := range ref {
				typ := elf.ST_TYPE(r.Info)
				if r.Name == "" || typ == elf.STT_SECTION || typ == elf.STT_FILE || r.Section == elf.SHN_UNDEF {
					continue
				}
				n++
				found := false
				for _, s := range tab.LookupAll(r.Name) {
					if s.Addr == r.Value && s.Size == r.Size {
						found = true
						if (r.Section == elf.SHN_ABS) != (s.Kind == Abs) || typ == elf.STT_FUNC && s.Kind != Func && s.Kind != Abs {
							t.Errorf("%s: kind %v for section %v type %v", r.Name, s.Kind, r.Section, typ)
						}
					}
				}
				if !found {
					t.Errorf("symbol %s %#x size %d missing", r.Name, r.Value, r.Size)
				}
			}
			if tab.Len() != n {
				t.Errorf("table has %d symbols, debug/elf lists %d", tab.Len(), n)
			}
			// Every sized function names its own start and interior.
			for s := range tab.All() {
				if s.Kind != Func || s.Size == 0 {
					continue
				}
				if got, off, ok := tab.Addr(s.Addr + s.Size - 1); !ok || got.Addr != s.Addr || off != s.Size-1 {
					t.Errorf("Addr(end of %s) = %s+%#x %v", s.Name, got.Name, off, ok)
				}
			}
		})
	}
}

// TestFixtureKernel checks facts of the fixture kernel: FreeBSD's
// KERNBASE is the absolute value 0xffffffff80000000 (amd64 vmparam.h).
func TestFixtureKernel(t *testing.T) {
	f := openELF(t, testfixture.Path(t, "fbsdkern/fixtures/nofp/kernel.debug"))
	tab, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	kb, ok := tab.Lookup("KERNBASE")
	if !ok || kb.Kind != Abs || kb.Addr != 0xffffffff80000000 {
		t.Errorf("KERNBASE = %+v %v, want Abs 0xffffffff80000000", kb, ok)
	}
	fn, ok := tab.Lookup("kdap_check_thread")
	if !ok || fn.Kind != Func || !fn.Global {
		t.Fatalf("kdap_check_thread = %+v %v", fn, ok)
	}
	if got := tab.Format(fn.Addr + 3); got != "kdap_check_thread+0x3" {
		t.Errorf("Format = %q", got)
	}
}

func TestBuildID(t *testing.T) {
	paths := []string{tinyELF}
	if p, err := testfixture.Find("fbsdkern/fixtures/fp/kernel.debug"); err == nil {
		paths = append(paths, p)
	}
	// readelf is the independent reader of the build ID to compare with.
	readelf := testfixture.LookPath(t, "readelf", "binutils")
	re := regexp.MustCompile(`Build ID: ([0-9a-f]+)`)
	for _, p := range paths {
		out, err := exec.Command(readelf, "-n", p).Output()
		if err != nil {
			t.Fatal(err)
		}
		m := re.FindSubmatch(out)
		if m == nil {
			t.Fatalf("readelf -n %s shows no build ID", p)
		}
		if got := BuildID(openELF(t, p)); got != string(m[1]) {
			t.Errorf("BuildID(%s) = %q, readelf says %q", p, got, m[1])
		}
	}
}

func TestFindBuildIDMalformed(t *testing.T) {
	le := binary.LittleEndian
	note := func(namesz, descsz, typ uint32, rest ...byte) []byte {
		b := le.AppendUint32(nil, namesz)
		b = le.AppendUint32(b, descsz)
		b = le.AppendUint32(b, typ)
		return append(b, rest...)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"ok", note(4, 2, 3, 'G', 'N', 'U', 0, 0xab, 0xcd, 0, 0), "abcd"},
		{"other type first", append(note(4, 4, 1, 'G', 'N', 'U', 0, 1, 2, 3, 4), note(4, 1, 3, 'G', 'N', 'U', 0, 0xff, 0, 0, 0)...), "ff"},
		{"desc past end", note(4, 0xffffffff, 3, 'G', 'N', 'U', 0), ""},
		{"name past end", note(0xfffffff0, 0, 3), ""},
		{"truncated header", []byte{4, 0, 0}, ""},
		{"wrong owner", note(4, 1, 3, 'X', 'e', 'n', 0, 1, 0, 0, 0), ""},
	}
	for _, tt := range tests {
		if got := findBuildID(tt.data, le, 4); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	data, err := os.ReadFile(tinyELF)
	if err != nil {
		t.Fatal(err)
	}
	f := openELF(t, tinyELF)
	sec := f.Section(".symtab")
	strtab := f.Sections[sec.Link]
	tests := []struct {
		name   string
		mutate func(b []byte)
		want   string
	}{
		{"name offset past strtab", func(b []byte) {
			binary.LittleEndian.PutUint32(b[sec.Offset+48:], uint32(strtab.Size)+5)
		}, "past the end of the string table"},
	}
	for _, tt := range tests {
		b := bytes.Clone(data)
		tt.mutate(b)
		ef, err := elf.NewFile(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Load(ef)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func FuzzSymbols(f *testing.F) {
	data, err := os.ReadFile(tinyELF)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Fuzz(func(t *testing.T, b []byte) {
		ef, err := elf.NewFile(bytes.NewReader(b))
		if err != nil {
			return
		}
		tab, err := Load(ef)
		BuildID(ef)
		if err != nil {
			return
		}
		for s := range tab.All() {
			tab.Addr(s.Addr + 1)
			tab.Format(s.Addr)
			tab.Lookup(s.Name)
		}
		tab.WithPrefix("a", 3)
	})
}

func BenchmarkAddr(b *testing.B) {
	f := openELF(b, testfixture.Path(b, "fbsdkern/fixtures/nofp/kernel.debug"))
	tab, err := Load(f)
	if err != nil {
		b.Fatal(err)
	}
	var addrs []uint64
	for s := range tab.All() {
		addrs = append(addrs, s.Addr+s.Size/2)
	}
	b.ResetTimer()
	for i := range b.N {
		tab.Addr(addrs[i%len(addrs)])
	}
}

// TestSlideMatchesSort checks that Slide's merge gives the table (address
// order and name lookups) that sorting the moved symbols gives, with
// absolute symbols among them and with slides that wrap around.
func TestSlideMatchesSort(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	var syms []Symbol
	for i := range 2000 {
		s := Symbol{Name: fmt.Sprintf("s%d", r.Intn(800)), Addr: 0xffffffff81000000 + uint64(r.Intn(1<<16)), Size: uint64(r.Intn(3)), Kind: Kind(r.Intn(3))}
		if i%10 == 0 {
			s.Kind, s.Addr = Abs, uint64(r.Intn(1<<20))
		}
		s.Global = r.Intn(2) == 0
		syms = append(syms, s)
	}
	base := New(syms)
	base.Lookup("s1") // the name index exists before the slide
	for _, delta := range []uint64{0, 0x29000000, 1 << 63, ^uint64(0xfff), 0x7f000000} {
		// Every symbol, then only those at odd addresses (as a kernel
		// leaves its zero-based per-CPU symbols).
		for _, moves := range []func(Symbol) bool{nil, func(s Symbol) bool { return s.Addr%2 == 1 }} {
			got := base.Slide(delta, moves)
			moved := append([]Symbol(nil), syms...)
			for i := range moved {
				if moved[i].Kind != Abs && (moves == nil || moves(moved[i])) {
					moved[i].Addr += delta
				}
			}
			want := New(moved)
			if !slices.Equal(got.syms, want.syms) {
				t.Fatalf("slide %#x: address order differs", delta)
			}
			for n := range 800 {
				name := fmt.Sprintf("s%d", n)
				// Symbols of one name that rank the same may come in
				// either order: compare them as sets, and check that
				// none comes before a better one.
				a, b := got.LookupAll(name), want.LookupAll(name)
				for i := 1; i < len(a); i++ {
					if better(a[i], a[i-1]) {
						t.Fatalf("slide %#x: LookupAll(%s) = %v: %v before the better %v", delta, name, a, a[i-1], a[i])
					}
				}
				key := func(x, y Symbol) int {
					return cmp.Or(cmp.Compare(x.Addr, y.Addr), cmp.Compare(x.Kind, y.Kind), cmp.Compare(x.Size, y.Size))
				}
				slices.SortFunc(a, key)
				slices.SortFunc(b, key)
				if !slices.Equal(a, b) {
					t.Fatalf("slide %#x: LookupAll(%s) = %v, want %v", delta, name, a, b)
				}
			}
		}
	}
}

// TestLoadErrorsNoSectionNames: errors about the symbol table name its
// sections by index and type when their names are not standard ones,
// since a name is text from the file.
func TestLoadErrorsNoSectionNames(t *testing.T) {
	data, err := os.ReadFile(tinyELF)
	if err != nil {
		t.Fatal(err)
	}
	f := openELF(t, tinyELF)
	symIdx := slices.Index(f.Sections, f.Section(".symtab"))
	strIdx := int(f.Sections[symIdx].Link)
	le := binary.LittleEndian
	shoff := le.Uint64(data[0x28:])
	shentsize := uint64(le.Uint16(data[0x3a:]))
	names := f.Sections[le.Uint16(data[0x3e:])] // e_shstrndx
	// hdr returns section header i of the file b.
	hdr := func(b []byte, i int) []byte { return b[shoff+uint64(i)*shentsize:][:shentsize] }
	// rename replaces a section's name in b's section name table by one
	// of the same length.
	rename := func(b []byte, old, new string) bool {
		tab := b[names.Offset : names.Offset+names.Size]
		i := bytes.Index(tab, []byte("\x00"+old+"\x00"))
		if i < 0 {
			return false
		}
		copy(tab[i+1:], new)
		return true
	}
	tests := []struct {
		name, secret string
		mutate       func(b []byte) bool
		want         string
	}{
		{"symbol table size", "s3cr3t!", func(b []byte) bool {
			le.PutUint64(hdr(b, symIdx)[32:], f.Sections[symIdx].Size+1) // sh_size
			return rename(b, ".symtab", "s3cr3t!")
		}, fmt.Sprintf("symbol table section %d (SHT_SYMTAB): size", symIdx)},
		{"linked section type", "p4sswd!", func(b []byte) bool {
			le.PutUint32(hdr(b, strIdx)[4:], uint32(elf.SHT_PROGBITS)) // sh_type
			return rename(b, ".strtab", "p4sswd!")
		}, fmt.Sprintf("linked section %d is SHT_PROGBITS, want SHT_STRTAB", strIdx)},
	}
	for _, tt := range tests {
		b := bytes.Clone(data)
		if !tt.mutate(b) {
			t.Fatalf("%s: no separate name in tiny.elf's section name table", tt.name)
		}
		ef, err := elf.NewFile(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Load(ef)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), tt.secret) {
			t.Errorf("%s: error %v, want one containing %q and not the section's name %q", tt.name, err, tt.want, tt.secret)
		}
	}
}
