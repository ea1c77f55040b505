package debuginfo

import (
	"debug/elf"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"

	"github.com/kdap/kdap/internal/elfimage"
	"github.com/kdap/kdap/internal/testfixture"
)

// lookups names what compareLookups asks of both indexes.
type lookups struct {
	types, vars, funcs, enums []string
}

// compareLookups checks that a lazily built index answers like one built
// completely first: the same DIE (first definition in unit order), or
// both fail.
func compareLookups(t *testing.T, lazy, full *Data, q lookups) {
	t.Helper()
	if err := full.BuildIndex(); err != nil {
		t.Fatal(err)
	}
	off := func(ty godwarf.Type) DIEOffset {
		switch ty := ty.(type) {
		case *godwarf.StructType:
			return DIEOffset(ty.Offset)
		case nil:
			return 0
		}
		return DIEOffset(ty.Common().Offset)
	}
	for _, n := range q.types {
		a, errA := lazy.Type(n)
		b, errB := full.Type(n)
		if (errA == nil) != (errB == nil) || off(a) != off(b) {
			t.Errorf("Type(%q): lazy %#x, %v; full %#x, %v", n, off(a), errA, off(b), errB)
		}
	}
	for _, n := range q.vars {
		a, _, errA := lazy.Variable(n)
		b, _, errB := full.Variable(n)
		if (errA == nil) != (errB == nil) || a != b {
			t.Errorf("Variable(%q): lazy %#x, %v; full %#x, %v", n, a, errA, b, errB)
		}
	}
	for _, n := range q.funcs {
		a, errA := lazy.Function(n)
		b, errB := full.Function(n)
		if (errA == nil) != (errB == nil) || errA == nil && a.Offset != b.Offset {
			t.Errorf("Function(%q): lazy %v, %v; full %v, %v", n, a, errA, b, errB)
		}
	}
	for _, n := range q.enums {
		a, _, errA := lazy.Enumerator(n)
		b, _, errB := full.Enumerator(n)
		if (errA == nil) != (errB == nil) || a != b {
			t.Errorf("Enumerator(%q): lazy %d, %v; full %d, %v", n, a, errA, b, errB)
		}
	}
}

func TestLazyIndexMatchesFullFreeBSD(t *testing.T) {
	_, lazy := fixtureKernel(t, "nofp")
	_, full := fixtureKernel(t, "nofp")
	compareLookups(t, lazy, full, lookups{
		types: []string{"struct thread", "struct proc", "struct pcb", "register_t", "unsigned long",
			"long unsigned int", "char", "struct no_such_type", "struct thread *"},
		vars:  []string{"allproc", "panicstr", "dumppcb", "no_such_variable"},
		funcs: []string{"kern_reboot", "doadump", "no_such_function"},
		enums: []string{"VM_PROT_READ", "NO_SUCH_ENUMERATOR"},
	})
	if !lazy.idx.done {
		t.Error("a missing name did not complete the scan")
	}
	mustFind(t, lazy, "struct thread", "allproc", "kern_reboot")
}

// linuxVmlinux opens the Linux fixture's vmlinux mapped, or skips.
func linuxVmlinux(tb testing.TB) *Data {
	tb.Helper()
	img, err := elfimage.Open(filepath.Join(testfixture.LinuxDirs(tb)[0], "vmlinux"))
	testfixture.MissingFile(tb, err, "the Linux dump fixture's vmlinux", testfixture.LinuxGet)
	tb.Cleanup(func() { img.Close() })
	d, err := OpenImage(img)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// TestLazyIndexLinux checks on the Debian vmlinux that the types a kernel
// model needs first are found without scanning every unit, and that the
// answers match a complete index.
func TestLazyIndexLinux(t *testing.T) {
	lazy := linuxVmlinux(t)
	if _, err := lazy.Type("struct task_struct"); err != nil {
		t.Fatal(err)
	}
	units, err := lazy.Units()
	if err != nil {
		t.Fatal(err)
	}
	if n := lazy.idx.units; n*10 > len(units) {
		t.Errorf("struct task_struct: %d of %d units scanned, want under a tenth", n, len(units))
	}
	compareLookups(t, lazy, linuxVmlinux(t), lookups{
		types: []string{"struct task_struct", "struct inactive_task_frame", "struct prb_desc",
			"struct printk_info", "unsigned long", "struct pt_regs", "pid_t"},
		vars:  []string{"init_task", "jiffies_64", "panic_cpu"},
		funcs: []string{"panic", "delay_tsc"},
	})
	mustFind(t, lazy, "struct inactive_task_frame", "init_task", "panic")
}

// mustFind checks that d finds a type, a variable and a function (so the
// comparisons above are not between two failures).
func mustFind(t *testing.T, d *Data, typ, v, fn string) {
	t.Helper()
	if _, err := d.Type(typ); err != nil {
		t.Error(err)
	}
	if _, _, err := d.Variable(v); err != nil {
		t.Error(err)
	}
	if _, err := d.Function(fn); err != nil {
		t.Error(err)
	}
}

// TestLookupsAfterClose checks that lookups after the image is closed (a
// session closing its kernel while requests run) neither fault nor
// panic: a mapped file still answers.
func TestLookupsAfterClose(t *testing.T) {
	img, err := elfimage.Open(tinyELF)
	if err != nil {
		t.Fatal(err)
	}
	d, err := OpenImage(img)
	if err != nil {
		t.Fatal(err)
	}
	img.Close()
	if _, err := d.Type("struct node"); err != nil && img.Mapped() {
		t.Errorf("Type after Close: %v", err)
	}
	exerciseData(d)
}

// BenchmarkLinuxOpenAndType opens the Debian vmlinux (590 MB, mapped) and
// looks up struct task_struct, as a kernel model does first.
func BenchmarkLinuxOpenAndType(b *testing.B) {
	p := filepath.Join(testfixture.LinuxDirs(b)[0], "vmlinux")
	b.ReportAllocs()
	for b.Loop() {
		img, err := elfimage.Open(p)
		testfixture.MissingFile(b, err, "the Linux dump fixture's vmlinux", testfixture.LinuxGet)
		d, err := OpenImage(img)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := d.Type("struct task_struct"); err != nil {
			b.Fatal(err)
		}
		img.Close()
	}
}

// TestCompressedSections checks that a mapped file whose debug sections
// are compressed (objcopy --compress-debug-sections) answers like the
// uncompressed one: those sections are inflated instead of sliced.
func TestCompressedSections(t *testing.T) {
	objcopy := testfixture.LookPath(t, "objcopy", "binutils")
	for _, style := range []string{"zlib", "zlib-gnu"} {
		out := filepath.Join(t.TempDir(), "tiny-"+style+".elf")
		if b, err := exec.Command(objcopy, "--compress-debug-sections="+style, tinyELF, out).CombinedOutput(); err != nil {
			// Not an absence: objcopy is there but does not make this
			// compression style (an older or newer binutils than
			// bookworm's 2.40, which makes both).
			t.Skipf("objcopy: %v: %s", err, b)
		}
		img, err := elfimage.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		compressed := false
		for _, s := range img.File.Sections {
			compressed = compressed || s.Flags&elf.SHF_COMPRESSED != 0 || strings.HasPrefix(s.Name, ".zdebug")
		}
		if !compressed {
			t.Fatalf("%s: objcopy left the debug sections uncompressed", style)
		}
		z, err := OpenImage(img)
		if err != nil {
			t.Fatalf("%s: %v", style, err)
		}
		_, plain := open(t, tinyELF)
		zt, err := z.Type("struct node")
		if err != nil {
			t.Fatalf("%s: %v", style, err)
		}
		pt, _ := plain.Type("struct node")
		if zt.String() != pt.String() || zt.Size() != pt.Size() {
			t.Errorf("%s: struct node is %s (%d bytes), want %s (%d bytes)", style, zt, zt.Size(), pt, pt.Size())
		}
		fn, err := plain.Function("walk")
		if err != nil {
			t.Fatal(err)
		}
		zf, zl, _, zerr := z.LineAt(fn.Entry)
		pf, pl, _, perr := plain.LineAt(fn.Entry)
		if zerr != nil || perr != nil || zf != pf || zl != pl {
			t.Errorf("%s: line of walk: %s:%d %v, want %s:%d %v", style, zf, zl, zerr, pf, pl, perr)
		}
		img.Close()
	}
}

// readerIndex builds d's whole name index through debug/dwarf's Reader
// (the scanner relocatable files use), as a reference for the scanner.
func readerIndex(t *testing.T, d *Data) *nameIndex {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	ix := d.index()
	if ix.units != 0 {
		t.Fatal("index already started")
	}
	ix.r = d.dw.Reader()
	if _, err := d.indexAll(); err != nil {
		t.Fatal(err)
	}
	return ix
}

// compareIndexes checks that two whole name indexes are the same.
func compareIndexes(t *testing.T, what string, got, want *nameIndex) {
	t.Helper()
	if got.units != want.units {
		t.Errorf("%s: %d units scanned, want %d", what, got.units, want.units)
	}
	for _, m := range []struct {
		name      string
		got, want map[string]indexed
	}{{"types", got.types, want.types}, {"vars", got.vars, want.vars}, {"funcs", got.funcs, want.funcs}, {"enums", got.enums, want.enums}} {
		if len(m.got) != len(m.want) {
			t.Errorf("%s: %d %s, want %d", what, len(m.got), m.name, len(m.want))
		}
		bad := 0
		for k, v := range m.want {
			if g, ok := m.got[k]; !ok || g != v {
				if bad++; bad <= 5 {
					t.Errorf("%s: %s[%q] = %+v (%v), want %+v", what, m.name, k, g, ok, v)
				}
			}
		}
	}
	if len(got.defOf) != len(want.defOf) {
		t.Errorf("%s: %d specification links, want %d", what, len(got.defOf), len(want.defOf))
	}
	for k, v := range want.defOf {
		if got.defOf[k] != v {
			t.Errorf("%s: defOf[%#x] = %#x, want %#x", what, k, got.defOf[k], v)
			break
		}
	}
}

// TestScannerMatchesReader checks that the name index read by the
// section scanner is the one debug/dwarf's Reader gives, on every kernel
// fixture at hand.
func TestScannerMatchesReader(t *testing.T) {
	type fixture struct {
		name string
		open func() *Data
	}
	fixtures := []fixture{{"tiny.elf", func() *Data { _, d := open(t, tinyELF); return d }}}
	for _, v := range []string{"fp", "nofp"} {
		fixtures = append(fixtures, fixture{v + "/kernel.debug", func() *Data { _, d := fixtureKernel(t, v); return d }})
	}
	if testing.Short() {
		t.Log("-short: the Debian vmlinux is left out")
	} else if dirs, _ := filepath.Glob(filepath.Join(testfixture.LinuxRoot(), "*", "vmlinux")); len(dirs) > 0 {
		fixtures = append(fixtures, fixture{"vmlinux", func() *Data { return linuxVmlinux(t) }})
	}
	for _, f := range fixtures {
		fast := f.open()
		if _, err := fast.indexAll(); err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		compareIndexes(t, f.name, fast.idx, readerIndex(t, f.open()))
		t.Logf("%s: %d units, %d types, %d variables, %d functions", f.name, fast.idx.units, len(fast.idx.types), len(fast.idx.vars), len(fast.idx.funcs))
		if len(fast.idx.types) == 0 {
			t.Errorf("%s: no types indexed", f.name)
		}
	}
}
