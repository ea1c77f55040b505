package elfimage

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOpenRegular: a FIFO, a folder, a character device and a socket are
// refused at once, naming what they are, by OpenRegular and by Open; a
// symbolic link to a regular file is opened.
func TestOpenRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	cases := map[string]string{fifo: "a FIFO", dir: "a directory", "/dev/null": "a character device"}
	sock := filepath.Join(dir, "sock")
	if l, err := net.Listen("unix", sock); err == nil {
		defer l.Close()
		cases[sock] = "a socket"
	}
	for p, kind := range cases {
		if _, err := os.Stat(p); err != nil {
			t.Logf("%s: %v", p, err)
			continue
		}
		done := make(chan error, 2)
		go func() {
			fh, _, err := OpenRegular(p)
			if err == nil {
				fh.Close()
			}
			done <- err
			img, err := Open(p)
			if err == nil {
				img.Close()
			}
			done <- err
		}()
		for _, fn := range []string{"OpenRegular", "Open"} {
			select {
			case err := <-done:
				want := "not a regular file (" + kind + ")"
				if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), want) {
					t.Errorf("%s(%s) = %v, want an error wrapping ErrNotRegular containing %q", fn, p, err, want)
				}
			case <-time.After(5 * time.Second):
				// Let the blocked open return before failing.
				if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					w.Close()
				}
				t.Fatalf("%s(%s): still blocked after 5 s", fn, p)
			}
		}
	}

	link := filepath.Join(dir, "link")
	abs, err := filepath.Abs(tiny)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(abs, link); err != nil {
		t.Fatal(err)
	}
	fh, size, err := OpenRegular(link)
	if err != nil {
		t.Fatalf("OpenRegular of a link to a regular file: %v", err)
	}
	fh.Close()
	if st, err := os.Stat(tiny); err != nil || st.Size() != size {
		t.Errorf("OpenRegular size %d, file %v %v", size, st, err)
	}
	if _, _, err := OpenRegular(filepath.Join(dir, "absent")); !errors.Is(err, os.ErrNotExist) || strings.Contains(err.Error(), dir) {
		t.Errorf("OpenRegular of a missing file = %v, want os.ErrNotExist without the path", err)
	}
}
