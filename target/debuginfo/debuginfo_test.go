package debuginfo

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
	"github.com/kdap/kdap/internal/testfixture"
)

// tinyELF is built from testdata/tiny.c (build command in its header);
// the expected offsets below follow from the x86-64 SysV layout rules and
// are noted beside each member in tiny.c.
const tinyELF = "testdata/tiny.elf"

func open(t testing.TB, path string) (*elf.File, *Data) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	d, err := Open(f)
	if err != nil {
		t.Fatal(err)
	}
	return f, d
}

func fixtureKernel(t testing.TB, variant string) (*elf.File, *Data) {
	return open(t, testfixture.Path(t, "fbsdkern/fixtures/"+variant+"/kernel.debug"))
}

// elfSymbol reads a symbol with the standard library (independent of the
// code under test).
func elfSymbol(t testing.TB, f *elf.File, name string) elf.Symbol {
	t.Helper()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no symbol %s", name)
	return elf.Symbol{}
}

// sourceLine returns the 1-based line of the first line of file containing
// text.
func sourceLine(t testing.TB, file, text string) int {
	t.Helper()
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for n := 1; sc.Scan(); n++ {
		if strings.Contains(sc.Text(), text) {
			return n
		}
	}
	t.Fatalf("%s has no line containing %q", file, text)
	return 0
}

func TestMembers(t *testing.T) {
	_, d := open(t, tinyELF)
	tests := []struct {
		typ, path string
		off       int64
		size      int64
	}{
		{"struct node", "n_id", 0, 4},
		{"struct node", "n_name", 4, 12},
		{"struct node", "n_list", 16, 16},
		{"struct node", "n_list.le_next", 16, 8},
		{"struct node", "n_list.le_prev", 24, 8},
		{"struct node", "n_long", 32, 8}, // anonymous union
		{"struct node", "n_ptr", 32, 8},
		{"struct node", "n_a", 40, 2}, // anonymous struct
		{"struct node", "n_b", 42, 2},
		{"struct node", "n_flags", 48, 8}, // through the u_long typedef
		{"node_t", "n_list.le_prev", 24, 8},
		{"union word", "w_bytes", 0, 8},
		{"struct flags", "f_tag", 3, 1},
	}
	for _, tt := range tests {
		ty, err := d.Type(tt.typ)
		if err != nil {
			t.Fatalf("Type(%q): %v", tt.typ, err)
		}
		off, m, err := d.Member(ty, tt.path)
		if err != nil {
			t.Errorf("%s.%s: %v", tt.typ, tt.path, err)
			continue
		}
		if off != tt.off || m.Type.Size() != tt.size {
			t.Errorf("%s.%s at %d size %d, want %d size %d", tt.typ, tt.path, off, m.Type.Size(), tt.off, tt.size)
		}
	}
}

func TestBitFields(t *testing.T) {
	_, d := open(t, tinyELF)
	ty, err := d.Type("struct flags")
	if err != nil {
		t.Fatal(err)
	}
	nb, err := d.Type("struct named_bits")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		typ  godwarf.Type
		name string
		bit  int64 // from the start of the struct, LSB first
		size int64
	}{
		{ty, "f_ready", 0, 1}, {ty, "f_mode", 1, 3}, {ty, "f_count", 4, 12}, {ty, "f_neg", 16, 4},
		{nb, "nb_on", 64, 1}, {nb, "nb_level", 65, 7},
	}
	for _, tt := range tests {
		off, m, err := d.Member(tt.typ, tt.name)
		if err != nil {
			t.Fatal(err)
		}
		if got := off*8 + m.BitOffset; got != tt.bit || m.BitSize != tt.size {
			t.Errorf("%s: bit %d width %d, want bit %d width %d", tt.name, got, m.BitSize, tt.bit, tt.size)
		}
		if m.BitOffset+m.BitSize > m.ByteSize*8 {
			t.Errorf("%s: %d bits at bit %d do not fit in ByteSize %d", tt.name, m.BitSize, m.BitOffset, m.ByteSize)
		}
	}
	// An array before DWARF 5 bit fields keeps its length.
	if _, m, err := d.Member(nb, "nb_name"); err != nil || m.Type.Size() != 8 || m.Type.(*godwarf.ArrayType).Count != 8 {
		t.Errorf("nb_name: %v %+v, want char[8]", err, m)
	}
}

func TestTypes(t *testing.T) {
	_, d := open(t, tinyELF)
	tests := []struct {
		name string
		size int64
		str  string
	}{
		{"struct node", 56, "struct node"},
		{"union word", 8, "union word"},
		{"enum color", 4, ""},
		{"node_t", 56, "node_t"},
		{"u_long", 8, "u_long"},
		{"int", 4, "int"},
		{"long int", 8, "long int"},
		{"short int", 2, "short int"},
		{"char", 1, "char"},
		{"unsigned char", 1, "unsigned char"},
		{"unsigned long", 8, "long unsigned int"}, // C spellings of gcc's names
		{"long", 8, "long int"},
		{"short", 2, "short int"},
		{"signed int", 4, "int"},
		{"struct node *", 8, ""},
		{"struct  node**", 8, ""},
	}
	for _, tt := range tests {
		ty, err := d.Type(tt.name)
		if err != nil {
			t.Errorf("Type(%q): %v", tt.name, err)
			continue
		}
		if ty.Size() != tt.size {
			t.Errorf("Type(%q) size %d, want %d", tt.name, ty.Size(), tt.size)
		}
		if tt.str != "" && ty.String() != tt.str {
			t.Errorf("Type(%q) = %q", tt.name, ty.String())
		}
	}
	if err := d.BuildIndex(); err != nil {
		t.Fatal(err)
	}
	if v, _, err := d.Enumerator("BLUE"); err != nil || v != 4 {
		t.Errorf("Enumerator(BLUE) = %d, %v; want 4", v, err)
	}
	if names, err := d.TypeNames("struct ", 0); err != nil || !strings.Contains(strings.Join(names, ","), "struct list_entry") {
		t.Errorf("TypeNames(struct) = %v, %v", names, err)
	}
}

func TestErrors(t *testing.T) {
	_, d := open(t, tinyELF)
	node, err := d.Type("struct node")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		do   func() error
		want string
	}{
		{"typo member", func() error { _, _, err := d.Member(node, "n_nmae"); return err },
			"no member named 'n_nmae' in 'struct node' (did you mean 'n_name'?)"},
		{"typo nested", func() error { _, _, err := d.Member(node, "n_list.le_nxt"); return err },
			"no member named 'le_nxt' in 'struct list_entry' (did you mean 'le_next'?)"},
		{"member of scalar", func() error { _, _, err := d.Member(node, "n_id.x"); return err },
			"int is not a struct or union"},
		{"no such type", func() error { _, err := d.Type("struct nod"); return err },
			"no type named 'struct nod' (did you mean 'struct node'?)"},
		{"no such variable", func() error { _, _, err := d.Variable("root_nod"); return err },
			"no variable named 'root_nod' (did you mean 'root_node'?)"},
		{"no such function", func() error { _, err := d.Function("wlak"); return err },
			"no function named 'wlak' with code (did you mean 'walk'?)"},
		{"declared only", func() error { _, err := d.Type("struct opaque"); return err },
			"struct opaque is only declared in the DWARF, never defined"},
		{"pc outside", func() error { _, err := d.FuncAt(0x10); return err }, "no compile unit covers it"},
	}
	for _, tt := range tests {
		err := tt.do()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
		if err != nil && tt.name != "member of scalar" && !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v does not wrap ErrNotFound", tt.name, err)
		}
	}
}

func TestNoDWARF(t *testing.T) {
	objcopy := testfixture.LookPath(t, "objcopy", "binutils")
	out := filepath.Join(t.TempDir(), "stripped.elf")
	if b, err := exec.Command(objcopy, "--strip-debug", tinyELF, out).CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v\n%s", err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := Open(f); !errors.Is(err, ErrNoDWARF) {
		t.Errorf("Open(stripped) = %v, want ErrNoDWARF", err)
	}
	// The CFI survives stripping.
	fdes, err := OpenFrames(f)
	if err != nil || len(fdes) == 0 {
		t.Errorf("OpenFrames(stripped) = %d FDEs, %v", len(fdes), err)
	}
}

func TestVariables(t *testing.T) {
	f, d := open(t, tinyELF)
	tests := []struct{ name, typ string }{
		{"root_node", "struct node"}, // extern declaration + definition
		{"the_word", "union word"},
		{"current_color", "enum color"}, // file static
		{"node_list", "[4]*node_t"},
		{"sink", "volatile int"},
		{"the_flags", "struct flags"},
	}
	for _, tt := range tests {
		addr, ty, err := d.Variable(tt.name)
		if err != nil {
			t.Errorf("Variable(%s): %v", tt.name, err)
			continue
		}
		if want := elfSymbol(t, f, tt.name).Value; addr != want {
			t.Errorf("Variable(%s) at %#x, the symbol table says %#x", tt.name, addr, want)
		}
		if got := ty.String(); got != tt.typ && !strings.Contains(got, strings.TrimPrefix(tt.typ, "volatile ")) {
			t.Errorf("Variable(%s) type %q, want %q", tt.name, got, tt.typ)
		}
	}
}

// gdbLines asks gdb for the line of each address: gdb is an independent
// reader of the same line table.
func gdbLines(t *testing.T, file string, addrs []uint64) map[uint64]string {
	// gdb is an independent reader of the line table.
	gdb := testfixture.LookPath(t, "gdb", "gdb")
	args := []string{"-nx", "-batch"}
	for _, a := range addrs {
		args = append(args, "-ex", fmt.Sprintf("echo @%#x\\n", a), "-ex", fmt.Sprintf("info line *%#x", a))
	}
	out, err := exec.Command(gdb, append(args, file)...).CombinedOutput()
	if err != nil {
		t.Fatalf("gdb: %v\n%s", err, out)
	}
	res := map[uint64]string{}
	var cur uint64
	re := regexp.MustCompile(`^Line (\d+) of "([^"]+)"`)
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "@") {
			cur, _ = strconv.ParseUint(l[1:], 0, 64)
			continue
		}
		if m := re.FindStringSubmatch(l); m != nil {
			res[cur] = m[2] + ":" + m[1]
		} else if strings.HasPrefix(l, "No line number") {
			res[cur] = "none"
		}
	}
	return res
}

// funcSymbols returns the sized STT_FUNC symbols of f.
func funcSymbols(t testing.TB, f *elf.File) []elf.Symbol {
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	var out []elf.Symbol
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Size > 0 {
			out = append(out, s)
		}
	}
	return out
}

// isC reports whether pc is in a C compile unit (assembly units have line
// tables but no function DIEs).
func isC(d *Data, pc uint64) bool {
	u, err := d.UnitAt(pc)
	return err == nil && (u.Language == 0x0c || u.Language == 0x1d || u.Language == 0x01 || u.Language == 0x02)
}

func TestFuncAndLines(t *testing.T) {
	paths := []string{tinyELF}
	for _, v := range []string{"fp", "nofp"} {
		if p, err := testfixture.Find("fbsdkern/fixtures/" + v + "/kernel.debug"); err == nil {
			paths = append(paths, p)
		}
	}
	for _, p := range paths {
		t.Run(p[strings.LastIndex(p, "/fixtures/")+1:], func(t *testing.T) {
			f, d := open(t, p)
			var addrs []uint64
			checked := 0
			for _, s := range funcSymbols(t, f) {
				// FuncAt names the function the symbol table names.
				for _, pc := range []uint64{s.Value, s.Value + s.Size/2, s.Value + s.Size - 1} {
					addrs = append(addrs, pc)
					if !isC(d, pc) {
						continue
					}
					checked++
					fn, err := d.FuncAt(pc)
					if err != nil {
						t.Errorf("FuncAt(%#x) in %s: %v", pc, s.Name, err)
						continue
					}
					if fn.Name != s.Name || fn.Entry != s.Value {
						t.Errorf("FuncAt(%#x) = %s at %#x, the symbol table says %s at %#x", pc, fn.Name, fn.Entry, s.Name, s.Value)
					}
				}
			}
			if checked == 0 {
				t.Error("FuncAt was checked for no C function")
			}
			want := gdbLines(t, p, addrs)
			agree := 0
			for _, pc := range addrs {
				w, ok := want[pc]
				if !ok {
					continue
				}
				file, line, _, err := d.LineAt(pc)
				got := fmt.Sprintf("%s:%d", file, line)
				if err != nil {
					got = "none"
				}
				// gdb prints the name as recorded; LineAt joins it with
				// the compilation directory.
				if got != w && !strings.HasSuffix(got, "/"+w) {
					t.Errorf("LineAt(%#x) = %s, gdb says %s", pc, got, w)
				} else {
					agree++
				}
			}
			if agree == 0 {
				t.Error("no address compared with gdb")
			}
			t.Logf("%d addresses agree with gdb", agree)
		})
	}
}

func TestInlineAndVars(t *testing.T) {
	_, d := open(t, tinyELF)
	src := "testdata/tiny.c"
	inner := sourceLine(t, src, "sink = w;")
	call := sourceLine(t, src, "int here = node_weight(n);")
	pcs, err := d.PCsForLine("tiny.c", inner)
	if err != nil || len(pcs) == 0 {
		t.Fatalf("PCsForLine(tiny.c:%d) = %v, %v", inner, pcs, err)
	}
	pc := pcs[0]
	chain, err := d.InlineChain(pc)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 1 || chain[0].Name != "node_weight" || chain[0].CallLine != call || !strings.HasSuffix(chain[0].CallFile, "/tiny.c") {
		t.Fatalf("InlineChain(%#x) = %+v, want node_weight called at tiny.c:%d", pc, chain, call)
	}
	if file, line, _, err := d.LineAt(pc); err != nil || line != inner || !strings.HasSuffix(file, "tiny.c") {
		t.Errorf("LineAt(%#x) = %s:%d %v, want tiny.c:%d", pc, file, line, err, inner)
	}
	// Two levels: triple inlined into node_weight inlined into walk,
	// innermost first.
	innermost := sourceLine(t, src, "sink = x;")
	tripleCall := sourceLine(t, src, "int w = triple(n->n_id);")
	pcs2, err := d.PCsForLine("tiny.c", innermost)
	if err != nil || len(pcs2) == 0 {
		t.Fatalf("PCsForLine(tiny.c:%d) = %v, %v", innermost, pcs2, err)
	}
	chain2, err := d.InlineChain(pcs2[0])
	if err != nil || len(chain2) != 2 || chain2[0].Name != "triple" || chain2[0].CallLine != tripleCall ||
		chain2[1].Name != "node_weight" || chain2[1].CallLine != call {
		t.Errorf("InlineChain(%#x) = %+v, %v; want triple (line %d) then node_weight (line %d)", pcs2[0], chain2, err, tripleCall, call)
	} else if vars, err := d.Vars(chain2[0].Offset, pcs2[0]); err != nil || len(vars) != 1 || vars[0].Name != "x" || !vars[0].Param {
		t.Errorf("Vars(triple) = %+v, %v; want the parameter x", vars, err)
	}
	fn, err := d.FuncAt(pc)
	if err != nil || fn.Name != "walk" {
		t.Fatalf("FuncAt(%#x) = %v, %v; want walk", pc, fn, err)
	}
	tests := []struct {
		die  DIEOffset
		want string // name:param, from the source
	}{
		{fn.Offset, "n:true depth:true total:false i:false here:false"},
		{chain[0].Offset, "n:true w:false"},
	}
	for _, tt := range tests {
		vars, err := d.Vars(tt.die, pc)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range vars {
			got = append(got, fmt.Sprintf("%s:%v", v.Name, v.Param))
			if v.Type == nil {
				t.Errorf("%s: no type: %v", v.Name, v.TypeErr)
			}
			if v.HasLoc {
				if _, err := d.LocationAt(v, pc); err != nil {
					t.Errorf("LocationAt(%s): %v", v.Name, err)
				}
			}
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("Vars(%#x) = %v, want %s", tt.die, got, tt.want)
		}
	}
	// Outside the loop's block, its variables are not in scope.
	vars, err := d.Vars(fn.Offset, fn.Entry)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vars {
		if v.Name == "here" {
			t.Errorf("Vars at the entry of walk includes the loop variable 'here'")
		}
	}
}

// TestFrames checks that every function has CFI covering all of its code
// (the fixture's nofp build has no frame pointer to fall back on).
func TestFrames(t *testing.T) {
	paths := []string{tinyELF}
	if p, err := testfixture.Find("fbsdkern/fixtures/nofp/kernel.debug"); err == nil {
		paths = append(paths, p)
	}
	for _, p := range paths {
		f, d := open(t, p)
		n := 0
		for _, s := range funcSymbols(t, f) {
			if !isC(d, s.Value) {
				continue
			}
			n++
			for _, pc := range []uint64{s.Value, s.Value + s.Size - 1} {
				fde, err := d.FDEFor(pc)
				if err != nil {
					t.Errorf("%s: FDEFor(%s %#x): %v", p, s.Name, pc, err)
					continue
				}
				if fde.Begin() > s.Value || fde.End() < s.Value+s.Size {
					t.Errorf("%s: FDE [%#x,%#x) does not cover %s [%#x,%#x)", p, fde.Begin(), fde.End(), s.Name, s.Value, s.Value+s.Size)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no C functions checked", p)
		}
	}
}

// TestFixtureOffsets compares member offsets with the offsetof() constants
// the fixture kernel exports (kern/kern_thread.c), read from .rodata.
func TestFixtureOffsets(t *testing.T) {
	for _, v := range []string{"fp", "nofp"} {
		t.Run(v, func(t *testing.T) {
			f, d := fixtureKernel(t, v)
			tests := []struct{ typ, member, constant string }{
				{"struct thread", "td_tid", "thread_off_td_tid"},
				{"struct thread", "td_name", "thread_off_td_name"},
				{"struct thread", "td_oncpu", "thread_off_td_oncpu"},
				{"struct thread", "td_pcb", "thread_off_td_pcb"},
				{"struct thread", "td_plist", "thread_off_td_plist"},
				{"struct proc", "p_pid", "proc_off_p_pid"},
				{"struct proc", "p_comm", "proc_off_p_comm"},
				{"struct proc", "p_list", "proc_off_p_list"},
				{"struct proc", "p_hash", "proc_off_p_hash"},
				{"struct proc", "p_threads", "proc_off_p_threads"},
			}
			for _, tt := range tests {
				want := readInt32(t, f, elfSymbol(t, f, tt.constant))
				ty, err := d.Type(tt.typ)
				if err != nil {
					t.Fatal(err)
				}
				off, _, err := d.Member(ty, tt.member)
				if err != nil || off != int64(want) {
					t.Errorf("%s.%s at %d (%v), %s = %d", tt.typ, tt.member, off, err, tt.constant, want)
				}
			}
			// FreeBSD's amd64 pcb.h fixes the order of the saved registers.
			pcb, err := d.Type("struct pcb")
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range []string{"r15", "r14", "r13", "r12", "rbp", "rsp", "rbx", "rip"} {
				if off, _, err := d.Member(pcb, "pcb_"+r); err != nil || off != int64(8*i) {
					t.Errorf("pcb_%s at %d (%v), want %d", r, off, err, 8*i)
				}
			}
			for name, size := range map[string]int64{"int": 4, "long int": 8, "char": 1, "short int": 2, "long unsigned int": 8, "unsigned int": 4, "register_t": 8, "struct pcb *": 8} {
				if ty, err := d.Type(name); err != nil || ty.Size() != size {
					t.Errorf("sizeof(%s): %v, want %d", name, err, size)
				}
			}
			for _, name := range []string{"allproc", "thread0", "panicstr", "dumppcb"} {
				addr, _, err := d.Variable(name)
				if err != nil {
					t.Errorf("Variable(%s): %v", name, err)
				} else if want := elfSymbol(t, f, name).Value; addr != want {
					t.Errorf("Variable(%s) at %#x, symbol table says %#x", name, addr, want)
				}
			}
			// kdap_thread_name_ok is always_inline, called from
			// kdap_check_thread (kern/kern_kdap.c).
			src := filepath.Join(testfixture.Root(), "fbsdkern/kern/kern_kdap.c")
			inner := sourceLine(t, src, "MPASS(td->td_name[0]")
			call := sourceLine(t, src, "\tkdap_thread_name_ok(td);")
			pcs, err := d.PCsForLine("kern/kern_kdap.c", inner)
			if err != nil || len(pcs) == 0 {
				t.Fatalf("PCsForLine(kern_kdap.c:%d) = %v, %v", inner, pcs, err)
			}
			chain, err := d.InlineChain(pcs[0])
			if err != nil || len(chain) == 0 || chain[0].Name != "kdap_thread_name_ok" || chain[0].CallLine != call {
				t.Errorf("InlineChain(%#x) = %+v, %v; want kdap_thread_name_ok called at line %d", pcs[0], chain, err, call)
			}
			if fn, err := d.FuncAt(pcs[0]); err != nil || fn.Name != "kdap_check_thread" {
				t.Errorf("FuncAt(%#x) = %+v, %v; want kdap_check_thread", pcs[0], fn, err)
			}
			// struct kdap_bits: kb_ready:1, kb_mode:3, kb_count:12, kb_neg:4.
			bits, err := d.Type("struct kdap_bits")
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range []struct {
				name      string
				bit, size int64
			}{{"kb_ready", 0, 1}, {"kb_mode", 1, 3}, {"kb_count", 4, 12}, {"kb_neg", 16, 4}} {
				off, m, err := d.Member(bits, b.name)
				if err != nil || off*8+m.BitOffset != b.bit || m.BitSize != b.size {
					t.Errorf("%s: %v %+v, want bit %d width %d", b.name, err, m, b.bit, b.size)
				}
			}
		})
	}
}

// readInt32 reads the little-endian int a symbol names from its section.
func readInt32(t testing.TB, f *elf.File, s elf.Symbol) int32 {
	t.Helper()
	if int(s.Section) >= len(f.Sections) {
		t.Fatalf("%s: section %d", s.Name, s.Section)
	}
	sec := f.Sections[s.Section]
	b := make([]byte, 4)
	if _, err := sec.ReadAt(b, int64(s.Value-sec.Addr)); err != nil {
		t.Fatalf("%s: %v", s.Name, err)
	}
	return int32(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
}

func BenchmarkOpenAndType(b *testing.B) {
	p := testfixture.Path(b, "fbsdkern/fixtures/nofp/kernel.debug")
	for range b.N {
		f, err := elf.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		d, err := Open(f)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := d.Type("struct thread"); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

func benchPCs(b *testing.B) (*Data, []uint64) {
	f, d := fixtureKernel(b, "nofp")
	var pcs []uint64
	for _, s := range funcSymbols(b, f) {
		if isC(d, s.Value) {
			pcs = append(pcs, s.Value+s.Size/2)
		}
	}
	return d, pcs
}

func BenchmarkFuncAt(b *testing.B) {
	d, pcs := benchPCs(b)
	b.ResetTimer()
	for i := range b.N {
		if _, err := d.FuncAt(pcs[i%len(pcs)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLineAt(b *testing.B) {
	d, pcs := benchPCs(b)
	b.ResetTimer()
	for i := range b.N {
		if _, _, _, err := d.LineAt(pcs[i%len(pcs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLocationsAgainstGDB compares LocationAt with gdb's "info scope"
// ranges for variables held in registers or known as small constants.
func TestLocationsAgainstGDB(t *testing.T) {
	gdb := testfixture.LookPath(t, "gdb", "gdb")
	cases := []struct {
		file  string
		funcs []string
	}{{tinyELF, []string{"walk", "word_sum"}}}
	for _, v := range []string{"fp", "nofp"} {
		if p, err := testfixture.Find("fbsdkern/fixtures/" + v + "/kernel.debug"); err == nil {
			cases = append(cases, struct {
				file  string
				funcs []string
			}{p, []string{"kdap_check_thread", "sysctl_kdap_handler", "kdap_read_cookie"}})
		}
	}
	for _, c := range cases {
		checkLocations(t, gdb, c.file, c.funcs)
	}
}

func checkLocations(t *testing.T, gdb, file string, funcs []string) {
	_, d := open(t, file)
	dwarfReg := map[string]byte{"rax": 0, "rdx": 1, "rcx": 2, "rbx": 3, "rsi": 4, "rdi": 5, "rbp": 6, "rsp": 7,
		"r8": 8, "r9": 9, "r10": 10, "r11": 11, "r12": 12, "r13": 13, "r14": 14, "r15": 15}
	symRe := regexp.MustCompile(`^Symbol (\w+) is`)
	rngRe := regexp.MustCompile(`^\s+Range (0x[0-9a-f]+)-(0x[0-9a-f]+): (a variable in \$(\w+)|the constant (\d+))$`)
	checked := 0
	for _, fname := range funcs {
		out, err := exec.Command(gdb, "-nx", "-batch", "-ex", "info scope "+fname, file).CombinedOutput()
		if err != nil {
			t.Fatalf("gdb: %v\n%s", err, out)
		}
		fn, err := d.Function(fname)
		if err != nil {
			t.Fatal(err)
		}
		vars, err := d.Vars(fn.Offset, 0)
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]Var{}
		for _, v := range vars {
			byName[v.Name] = v
		}
		var cur string
		for _, l := range strings.Split(string(out), "\n") {
			if m := symRe.FindStringSubmatch(l); m != nil {
				cur = m[1]
				continue
			}
			m := rngRe.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			v, ok := byName[cur]
			if !ok {
				t.Errorf("%s: gdb lists %s, Vars does not", fname, cur)
				continue
			}
			lo, _ := strconv.ParseUint(m[1], 0, 64)
			hi, _ := strconv.ParseUint(m[2], 0, 64)
			var want []byte
			if m[4] != "" {
				r, ok := dwarfReg[m[4]]
				if !ok {
					continue
				}
				want = []byte{0x50 + r} // DW_OP_reg<r>
			} else {
				k, _ := strconv.Atoi(m[5])
				if k > 31 {
					continue
				}
				want = []byte{0x30 + byte(k), 0x9f} // DW_OP_lit<k> DW_OP_stack_value
			}
			for _, pc := range []uint64{lo, hi - 1} {
				got, err := d.LocationAt(v, pc)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s: LocationAt(%s, %#x) = % x, %v; gdb says %q", fname, cur, pc, got, err, m[3])
				}
				checked++
			}
		}
	}
	if checked == 0 {
		t.Errorf("%s: no location compared with gdb", file)
	}
	t.Logf("%s %v: %d locations agree with gdb", filepath.Base(file), funcs, checked)
}
