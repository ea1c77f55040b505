package target

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	_ "github.com/kdap/kdap/target/core/all"
)

// TestFindLinuxKernel finds the Debian fixture's vmlinux by the release and
// build id its dump's VMCOREINFO names (as mkfixture.sh recorded them in
// vmcoreinfo.txt), in a folder laid out like /usr/lib/debug.
func TestFindLinuxKernel(t *testing.T) {
	for _, dir := range testfixture.LinuxDirs(t) {
		text, err := os.ReadFile(filepath.Join(dir, "vmcoreinfo.txt"))
		if err != nil {
			t.Fatal(err)
		}
		var rel, id string
		for _, line := range strings.Split(string(text), "\n") {
			if v, ok := strings.CutPrefix(line, "OSRELEASE="); ok {
				rel = v
			}
			if v, ok := strings.CutPrefix(line, "BUILD-ID="); ok {
				id = v
			}
		}
		if rel == "" || len(id) < 8 {
			t.Fatalf("vmcoreinfo.txt: OSRELEASE %q, BUILD-ID %q", rel, id)
		}
		vmlinux := filepath.Join(dir, "vmlinux")
		tmp := t.TempDir()
		core := filepath.Join(tmp, "dumps", "vmcore")
		link := func(target, name string) {
			t.Helper()
			if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, name); err != nil {
				t.Fatal(err)
			}
		}
		link(filepath.Join(dir, "vmcore.kdump"), core)
		old := DebugRoots
		DebugRoots = []string{filepath.Join(tmp, "debug")}
		t.Cleanup(func() { DebugRoots = old })

		_, err = FindKernel(core)
		if err == nil || !strings.Contains(err.Error(), filepath.Join(tmp, "debug", ".build-id", id[:2], id[2:]+".debug")) ||
			!strings.Contains(err.Error(), "vmlinux-"+rel) {
			t.Errorf("FindKernel with no kernel anywhere: %v, want an error naming the build-id and release paths", err)
		}
		for _, place := range []string{
			filepath.Join(tmp, "debug", "lib", "modules", rel, "vmlinux"),
			filepath.Join(tmp, "debug", ".build-id", id[:2], id[2:]+".debug"),
			filepath.Join(tmp, "dumps", "vmlinux-"+rel),
		} {
			link(vmlinux, place)
			got, err := FindKernel(core)
			if err != nil || got != place {
				t.Errorf("FindKernel = %q, %v; want %s", got, err, place)
			}
		}
	}
}

func TestSafeName(t *testing.T) {
	for s, want := range map[string]bool{
		"6.1.0-57-cloud-amd64": true, "5.14.0-427.el9.x86_64+debug": true,
		"": false, "../../etc": false, ".hidden": false, "a/b": false, "a b": false,
	} {
		if got := safeName(s, "+-._~"); got != want {
			t.Errorf("safeName(%q) = %v, want %v", s, got, want)
		}
	}
}
