package target_test

import (
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/target"
	_ "github.com/kdap/kdap/target/all"
)

// TestMachineMismatch opens each of LLDB's real FreeBSD dumps with the
// kernel of every other architecture: each pairing is refused before any
// structure is read, with a message naming both machines.
func TestMachineMismatch(t *testing.T) {
	dumps := map[string]string{
		"vmcore-amd64-full": "amd64", "vmcore-amd64-minidump": "amd64",
		"vmcore-arm64-minidump": "arm64", "vmcore-i386-minidump": "i386",
	}
	kernels := map[string]string{"kernel-amd64": "amd64", "kernel-arm64": "arm64", "kernel-i386": "i386"}
	for d, dm := range dumps {
		for k, km := range kernels {
			core := testfixture.FreeBSDLLDB(t, d)
			kernel := testfixture.FreeBSDLLDB(t, k)
			tg, err := target.Open(core, kernel, target.Options{})
			if dm == km {
				if err != nil {
					t.Errorf("%s with %s: %v", d, k, err)
				} else {
					tg.Close()
				}
				continue
			}
			if err == nil {
				tg.Close()
				t.Errorf("%s (%s) with %s (%s) opened", d, dm, k, km)
				continue
			}
			msg := err.Error()
			if !strings.Contains(msg, "is for "+km) || !strings.Contains(msg, "taken on "+dm) {
				t.Errorf("%s with %s: %q does not name both machines (%s kernel, %s dump)", d, k, msg, km, dm)
			}
		}
	}
}

// TestMachineMismatchFixture opens the repository's amd64 fixture kernel
// with LLDB's arm64 and i386 dumps, and LLDB's arm64 kernel with the
// fixture's amd64 minidump.
func TestMachineMismatchFixture(t *testing.T) {
	fx := testfixture.Path(t, "fbsdkern/fixtures/fp/kernel.debug")
	mini := testfixture.Path(t, "fbsdkern/fixtures/fp/assert/vmcore.mini")
	for _, c := range []struct{ core, kernel, km, dm string }{
		{testfixture.FreeBSDLLDB(t, "vmcore-arm64-minidump"), fx, "amd64", "arm64"},
		{testfixture.FreeBSDLLDB(t, "vmcore-i386-minidump"), fx, "amd64", "i386"},
		{mini, testfixture.FreeBSDLLDB(t, "kernel-arm64"), "arm64", "amd64"},
	} {
		_, err := target.Open(c.core, c.kernel, target.Options{})
		if err == nil || !strings.Contains(err.Error(), "is for "+c.km) || !strings.Contains(err.Error(), "taken on "+c.dm) {
			t.Errorf("%s with %s: error %v, want one naming %s and %s", c.core, c.kernel, err, c.km, c.dm)
		}
	}
}
