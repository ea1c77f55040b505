package vmcoreinfo

// Tests on the VMCOREINFO text of real Linux dumps, saved beside them as
// vmcoreinfo.txt with fixture.env describing the kernel; they live in
// $KDAP_LINUX_FIXTURE or $XDG_CACHE_HOME/kdap-linux (default
// ~/.cache/kdap-linux), one folder per kernel version.

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
)

func fixtureTexts(t testing.TB) map[string][]byte {
	root := os.Getenv("KDAP_LINUX_FIXTURE")
	if root == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache")
		}
		root = filepath.Join(cache, "kdap-linux")
	}
	paths, _ := filepath.Glob(filepath.Join(root, "*", "vmcoreinfo.txt"))
	texts := map[string][]byte{}
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			texts[filepath.Dir(p)] = b
		}
	}
	return texts
}

func TestFixtureText(t *testing.T) {
	texts := fixtureTexts(t)
	if len(texts) == 0 {
		testfixture.Missing(t, "Linux dump fixture with vmcoreinfo.txt", testfixture.LinuxGet)
	}
	for dir, text := range texts {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			env := map[string]string{}
			if f, err := os.Open(filepath.Join(dir, "fixture.env")); err == nil {
				sc := bufio.NewScanner(f)
				for sc.Scan() {
					if k, v, ok := strings.Cut(sc.Text(), "="); ok {
						env[k] = strings.Trim(v, `'"`)
					}
				}
				f.Close()
			}
			info, err := Parse(text)
			if err != nil {
				t.Fatal(err)
			}
			if rel, err := info.OSRelease(); err != nil || rel != env["KERNEL_VERSION"] {
				t.Errorf("OSRELEASE = %q (%v), fixture.env KERNEL_VERSION = %q", rel, err, env["KERNEL_VERSION"])
			}
			if off, err := info.KernelOffset(); err != nil || env["KERNELOFFSET"] == "" || off != mustHex(t, env["KERNELOFFSET"]) {
				t.Errorf("KERNELOFFSET = %#x (%v), fixture.env says %q", off, err, env["KERNELOFFSET"])
			}
			// Facts of any x86_64 kernel: 4 KiB pages, swapper_pg_dir in
			// the kernel image's mapping, struct page of 64 bytes.
			if ps, err := info.PageSize(); err != nil || ps != 4096 {
				t.Errorf("PAGESIZE = %d (%v)", ps, err)
			}
			if pgd, err := info.Symbol("swapper_pg_dir"); err != nil || pgd < 0xffffffff80000000 {
				t.Errorf("SYMBOL(swapper_pg_dir) = %#x (%v)", pgd, err)
			}
			if sz, err := info.Size("page"); err != nil || sz != 64 {
				t.Errorf("SIZE(page) = %d (%v)", sz, err)
			}
			if _, err := info.PhysBase(); err != nil {
				t.Error(err)
			}
			if _, err := info.PgtableL5Enabled(); err != nil {
				t.Error(err)
			}
			if id, err := info.BuildID(); err != nil || len(id) != 40 {
				t.Errorf("BUILD-ID = %q (%v)", id, err)
			}
		})
	}
}

func mustHex(t *testing.T, s string) uint64 {
	v, err := hex(s)
	if err != nil {
		t.Fatalf("fixture.env KERNELOFFSET %q: %v", s, err)
	}
	return v
}
