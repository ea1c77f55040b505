package core_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kdap/kdap/target/core"
	_ "github.com/kdap/kdap/target/core/all"
)

// openWithin runs open on another goroutine and fails the test if it has
// not returned after 5 s, so that an open that blocks (a FIFO without a
// writer) fails instead of hanging the test run. unblock, if not nil, is
// called then to release the stuck goroutine.
func openWithin(t *testing.T, what string, open func() error, unblock func()) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- open() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		if unblock != nil {
			unblock()
		}
		t.Fatalf("%s: still blocked after 5 s", what)
		return nil
	}
}

// mkfifo makes a FIFO in a fresh folder and returns its path and a
// function that releases a reader blocked in opening it.
func mkfifo(t *testing.T) (string, func()) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vmcore.fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	return p, func() {
		// A writer's open lets a blocked reader's open return.
		if w, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
	}
}

// TestOpenSpecialFiles: a FIFO, a directory and a character device are
// refused, naming what they are, before they are read; a FIFO without a
// writer used to block Open forever.
func TestOpenSpecialFiles(t *testing.T) {
	fifo, unblock := mkfifo(t)
	dir := t.TempDir()
	tests := []struct {
		path, kind string
		unblock    func()
	}{
		{fifo, "a FIFO", unblock},
		{dir, "a directory", nil},
		{"/dev/null", "a character device", nil},
	}
	for _, tc := range tests {
		if _, err := os.Stat(tc.path); err != nil {
			t.Logf("%s: %v", tc.path, err)
			continue
		}
		err := openWithin(t, "core.Open("+tc.path+")", func() error {
			d, err := core.Open(tc.path)
			if err == nil {
				d.Close()
			}
			return err
		}, tc.unblock)
		want := fmt.Sprintf("core %s: not a regular file (%s)", tc.path, tc.kind)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("core.Open(%s) = %v, want an error containing %q", tc.path, err, want)
		}
	}
}
