package all_test

import (
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/target/core"
	_ "github.com/kdap/kdap/target/core/all"
)

func TestRegistered(t *testing.T) {
	var names []string
	for _, f := range core.Formats() {
		names = append(names, f.Name)
	}
	want := "ELF core,FreeBSD amd64 minidump,FreeBSD arm64 minidump,FreeBSD i386 minidump,FreeBSD kerneldumpheader,Linux kdump-compressed,makedumpfile flattened"
	if got := strings.Join(names, ","); got != want {
		t.Errorf("formats %q, want %q", got, want)
	}
}

// Each kind of fixture file opens through core.Open alone.
func TestOpenFixtures(t *testing.T) {
	for _, tc := range []struct{ file, format string }{
		{"fp/assert/vmcore.mini", "FreeBSD amd64 minidump v3"},
		{"fp/trap/vmcore.mini", "FreeBSD amd64 minidump v2"},
		{"nofp/trap/vmcore.full", "ELF core (physical memory)"},
		{"fp/assert/vmcore.dumpdev", "FreeBSD amd64 minidump v3 behind a kerneldumpheader"},
		{"fp/kernel.debug", ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			d, err := core.Open(testfixture.Path(t, "fbsdkern/fixtures/"+tc.file))
			if tc.format == "" {
				if err == nil || !strings.Contains(err.Error(), "not a crash dump") {
					t.Fatalf("kernel.debug opened as a dump: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if d.Format() != tc.format {
				t.Errorf("Format = %q, want %q", d.Format(), tc.format)
			}
		})
	}
}
