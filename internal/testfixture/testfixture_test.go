package testfixture

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB that records how a helper ended the test.
type recorder struct {
	testing.TB
	ended string // "skip: ..." or "fatal: ..."; "" when the helper returned
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) {
	r.ended = "skip: " + fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.ended = "fatal: " + fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// end runs f on a recorder in its own goroutine (the helpers end the test
// with runtime.Goexit) and returns how it ended.
func end(t *testing.T, f func(tb testing.TB)) string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.ended
}

func TestMissing(t *testing.T) {
	missing := func(tb testing.TB) { Missing(tb, "gdb", "apt-get install gdb") }
	t.Setenv(RequireEnv, "")
	if got, want := end(t, missing), "skip: gdb is absent: apt-get install gdb"; got != want {
		t.Errorf("without %s: %q, want %q", RequireEnv, got, want)
	}
	t.Setenv(RequireEnv, "0")
	if got := end(t, missing); !strings.HasPrefix(got, "skip: ") {
		t.Errorf("with %s=0: %q, want a skip", RequireEnv, got)
	}
	t.Setenv(RequireEnv, "1")
	if got, want := end(t, missing), "fatal: gdb is absent (KDAP_REQUIRE_FIXTURES=1 makes this a failure): apt-get install gdb"; got != want {
		t.Errorf("with %s=1: %q, want %q", RequireEnv, got, want)
	}
}

// TestMissingFile checks that only "does not exist" is an absence: any
// other error fails the test whether or not fixtures are required.
func TestMissingFile(t *testing.T) {
	t.Setenv(RequireEnv, "")
	_, notExist := os.Stat(filepath.Join(t.TempDir(), "none"))
	if got := end(t, func(tb testing.TB) { MissingFile(tb, notExist, "vmlinux", "sh get.sh") }); got != "skip: vmlinux is absent: sh get.sh" {
		t.Errorf("not exist: %q", got)
	}
	if got := end(t, func(tb testing.TB) { MissingFile(tb, errors.New("bad ELF"), "vmlinux", "sh get.sh") }); got != "fatal: vmlinux: bad ELF" {
		t.Errorf("other error: %q", got)
	}
	if got := end(t, func(tb testing.TB) { MissingFile(tb, nil, "vmlinux", "sh get.sh") }); got != "" {
		t.Errorf("nil error: %q", got)
	}
}

func TestPathAbsent(t *testing.T) {
	t.Setenv(RequireEnv, "1")
	got := end(t, func(tb testing.TB) { Path(tb, "fbsdkern/fixtures/no/such/file") })
	if !strings.HasPrefix(got, "fatal: fixture testdata/fbsdkern/fixtures/no/such/file is absent") || !strings.Contains(got, FreeBSDGet) {
		t.Errorf("Path of an absent fixture: %q", got)
	}
}

func TestLinuxDirsAbsent(t *testing.T) {
	t.Setenv("KDAP_LINUX_FIXTURE", filepath.Join(t.TempDir(), "nonexistent"))
	t.Setenv(RequireEnv, "")
	got := end(t, func(tb testing.TB) { LinuxDirs(tb) })
	if !strings.HasPrefix(got, "skip: Linux dump fixture in ") || !strings.HasSuffix(got, "is absent: "+LinuxGet) {
		t.Errorf("LinuxDirs without a fixture: %q", got)
	}
}

func TestLookPath(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv(RequireEnv, "1")
	got := end(t, func(tb testing.TB) { LookPath(tb, "gdb", "gdb") })
	if got != "fatal: gdb is absent (KDAP_REQUIRE_FIXTURES=1 makes this a failure): apt-get install gdb" {
		t.Errorf("LookPath without gdb: %q", got)
	}
}
