package target_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/target"
	_ "github.com/kdap/kdap/target/all"
)

// within runs f on another goroutine and fails the test if it has not
// returned after 5 s, so that an open that blocks (a FIFO without a
// writer) fails instead of hanging the test run; unblock then releases
// the stuck goroutine.
func within(t *testing.T, what string, f func() error, unblock func()) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		unblock()
		t.Fatalf("%s: still blocked after 5 s", what)
		return nil
	}
}

// fifoIn makes a FIFO named name in dir and returns a function that
// releases a reader blocked in opening it.
func fifoIn(t *testing.T, dir, name string) (string, func()) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	return p, func() {
		if w, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
	}
}

// openTarget opens core with kernel through target.Open and closes what
// opened.
func openTarget(core, kernel string) error {
	tg, err := target.Open(core, kernel, target.Options{})
	if err == nil {
		tg.Close()
	}
	return err
}

// openKernel opens path through target.OpenKernel and closes what opened.
func openKernel(path string) error {
	k, err := target.OpenKernel(path, true)
	if err == nil {
		k.Close()
	}
	return err
}

// TestOpenSpecialFiles gives a FIFO, a directory and a character device
// as the dump and as the kernel: each is refused at once, naming what it
// is. A FIFO without a writer used to block open forever.
func TestOpenSpecialFiles(t *testing.T) {
	core := testfixture.Path(t, "fbsdkern/fixtures/fp/assert/vmcore.mini")
	kernel := testfixture.Path(t, "fbsdkern/fixtures/fp/kernel.debug")
	fifo, unblock := fifoIn(t, t.TempDir(), "vmcore.0")
	dir := t.TempDir()
	for _, sp := range []struct{ path, kind string }{
		{fifo, "a FIFO"}, {dir, "a directory"}, {"/dev/null", "a character device"},
	} {
		if _, err := os.Stat(sp.path); err != nil {
			t.Logf("%s: %v", sp.path, err)
			continue
		}
		for _, c := range []struct {
			name, role string
			f          func() error
		}{
			{"target.Open as core", "core", func() error { return openTarget(sp.path, kernel) }},
			{"target.Open as kernel", "kernel", func() error { return openTarget(core, sp.path) }},
			{"target.OpenKernel", "kernel", func() error { return openKernel(sp.path) }},
		} {
			err := within(t, c.name+" of "+sp.path, c.f, unblock)
			want := fmt.Sprintf("%s %s: not a regular file (%s)", c.role, sp.path, sp.kind)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s of %s = %v, want an error containing %q", c.name, sp.path, err, want)
			}
		}
	}
}

// TestFindKernelSpecialFiles: FindKernel neither blocks on a FIFO given as
// the dump (it reads a Linux dump's VMCOREINFO) nor picks a FIFO, a
// folder or a device named like a kernel beside the dump.
func TestFindKernelSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo, unblock := fifoIn(t, dir, "vmcore.fifo")
	err := within(t, "FindKernel("+fifo+")", func() error { _, err := target.FindKernel(fifo); return err }, unblock)
	if err == nil || !strings.Contains(err.Error(), "none found") {
		t.Errorf("FindKernel of a FIFO with no kernel beside it = %v, want none found", err)
	}

	core := filepath.Join(dir, "vmcore.0")
	if err := os.WriteFile(core, []byte("not a dump\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, unblockKernel := fifoIn(t, dir, "kernel.debug")
	if err := os.Mkdir(filepath.Join(dir, "kernel"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/null", filepath.Join(dir, "vmlinux")); err != nil {
		t.Fatal(err)
	}
	var got string
	err = within(t, "FindKernel("+core+")", func() error {
		var err error
		got, err = target.FindKernel(core)
		return err
	}, unblockKernel)
	if err == nil {
		t.Errorf("FindKernel picked %s, a special file", got)
	}
}
