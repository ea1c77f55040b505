package vmcoreinfo

import (
	"errors"
	"strings"
	"testing"

	"github.com/kdap/kdap/target/core/elfcore"
)

// sample follows the layout of the text a Linux 6.1 amd64 kernel writes
// (crash_save_vmcoreinfo_init and arch_crash_save_vmcoreinfo): one KEY=VALUE
// per line, NUL padding after the last line. The values are hand-picked.
const sample = "OSRELEASE=6.1.0-56-cloud-amd64\n" +
	"BUILD-ID=1f2e3d4c5b6a79880123456789abcdef01234567\n" +
	"PAGESIZE=4096\n" +
	"SYMBOL(init_uts_ns)=ffffffff9a613a20\n" +
	"OFFSET(uts_namespace.name)=0\n" +
	"SYMBOL(swapper_pg_dir)=ffffffff9a40a000\n" +
	"SIZE(page)=64\n" +
	"OFFSET(page.flags)=0\n" +
	"LENGTH(zone.free_area)=11\n" +
	"NUMBER(phys_base)=-1610612736\n" +
	"NUMBER(pgtable_l5_enabled)=0\n" +
	"KERNELOFFSET=18e00000\n" +
	"CRASHTIME=1763900000\n\x00\x00\x00"

func TestAccessors(t *testing.T) {
	info, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	u := func(f func() (uint64, error)) any { v, err := f(); return errOr(v, err) }
	s := func(f func() (int64, error)) any { v, err := f(); return errOr(v, err) }
	str := func(f func() (string, error)) any { v, err := f(); return errOr(v, err) }
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"OSRELEASE", str(info.OSRelease), "6.1.0-56-cloud-amd64"},
		{"BUILD-ID", str(info.BuildID), "1f2e3d4c5b6a79880123456789abcdef01234567"},
		{"PAGESIZE", u(info.PageSize), uint64(4096)},
		{"KERNELOFFSET", u(info.KernelOffset), uint64(0x18e00000)},
		{"phys_base negative", s(info.PhysBase), int64(-0x60000000)},
		{"swapper_pg_dir", u(func() (uint64, error) { return info.Symbol("swapper_pg_dir") }), uint64(0xffffffff9a40a000)},
		{"SIZE(page)", u(func() (uint64, error) { return info.Size("page") }), uint64(64)},
		{"OFFSET(page.flags)", u(func() (uint64, error) { return info.Offset("page.flags") }), uint64(0)},
		{"LENGTH", u(func() (uint64, error) { return info.Length("zone.free_area") }), uint64(11)},
		{"CRASHTIME", s(info.CrashTime), int64(1763900000)},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if l5, err := info.PgtableL5Enabled(); err != nil || l5 {
		t.Errorf("PgtableL5Enabled = %v, %v; want false", l5, err)
	}
	if len(info.Keys) != 13 || info.Keys[0] != "OSRELEASE" || info.Keys[12] != "CRASHTIME" {
		t.Errorf("Keys = %q", info.Keys)
	}
}

func errOr[T any](v T, err error) any {
	if err != nil {
		return err.Error()
	}
	return v
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, text string
		get        func(*Info) error
		want       string // substring of the error; "" means Parse fails
	}{
		{"no equals", "OSRELEASE=6.1\nbroken line\n", nil, "line 2: \"broken line\" is not KEY=VALUE"},
		{"empty key", "=5\n", nil, "line 1"},
		{"bad hex", "PAGESIZE=4096\nKERNELOFFSET=zz\n", func(i *Info) error { _, err := i.KernelOffset(); return err }, "line 2: KERNELOFFSET=\"zz\" is not a hexadecimal number"},
		{"page size not power of two", "PAGESIZE=4095\n", func(i *Info) error { _, err := i.PageSize(); return err }, "PAGESIZE=4095 is not a power of two"},
		{"missing", "PAGESIZE=4096\n", func(i *Info) error { _, err := i.OSRelease(); return err }, "OSRELEASE: key not in VMCOREINFO"},
		{"bad signed", "NUMBER(phys_base)=0x10\n", func(i *Info) error { _, err := i.PhysBase(); return err }, "not a signed decimal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := Parse([]byte(tt.text))
			if tt.get != nil {
				if err != nil {
					t.Fatal(err)
				}
				err = tt.get(info)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	info, _ := Parse([]byte("A=1\n"))
	if _, err := info.OSRelease(); !errors.Is(err, ErrMissing) {
		t.Errorf("missing key error %v does not wrap ErrMissing", err)
	}
}

func TestLimits(t *testing.T) {
	if _, err := Parse(make([]byte, MaxSize+1)); err == nil {
		t.Error("text over MaxSize accepted")
	}
	if _, err := Parse([]byte(strings.Repeat("A=1\n", MaxLines+1))); err == nil {
		t.Error("more than MaxLines lines accepted")
	}
	if _, err := Parse([]byte(strings.Repeat("A=1\n", MaxLines))); err != nil {
		t.Errorf("MaxLines lines refused: %v", err)
	}
}

func TestFindNote(t *testing.T) {
	notes := []elfcore.Note{
		{Owner: "CORE", Type: 1, Desc: []byte("regs")},
		{Owner: "VMCOREINFO", Type: 1, Desc: []byte("wrong type")},
		{Owner: "VMCOREINFO", Type: 0, Desc: []byte("PAGESIZE=4096\n")},
	}
	d, ok := FindNote(notes)
	if !ok || string(d) != "PAGESIZE=4096\n" {
		t.Errorf("FindNote = %q, %v", d, ok)
	}
	if _, ok := FindNote(notes[:2]); ok {
		t.Error("FindNote found a note where there is none")
	}
}

func FuzzVMCOREINFO(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("KERNELOFFSET=\nNUMBER(phys_base)=-\n"))
	for _, text := range fixtureTexts(f) {
		f.Add(text)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := Parse(b)
		if err != nil {
			return
		}
		for _, k := range info.Keys {
			if _, ok := info.Get(k); !ok {
				t.Fatalf("key %q listed but absent", k)
			}
		}
		_, _ = info.PageSize()
		_, _ = info.KernelOffset()
		_, _ = info.PhysBase()
		_, _ = info.PgtableL5Enabled()
	})
}
