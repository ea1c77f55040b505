//go:build unix

package corrupt

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Special makes the special files a user or client may name as a dump or
// kernel, in dir: a FIFO, a directory and a dangling symbolic link; and
// returns them with the system's /dev/null and /dev/zero.
func Special(dir string) (map[string]string, error) {
	out := map[string]string{"/dev/null": "/dev/null", "/dev/zero": "/dev/zero"}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		return nil, fmt.Errorf("mkfifo: %w", err)
	}
	out["FIFO"] = fifo
	d := filepath.Join(dir, "directory")
	if err := os.Mkdir(d, 0o755); err != nil {
		return nil, err
	}
	out["directory"] = d
	l := filepath.Join(dir, "dangling")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), l); err != nil {
		return nil, err
	}
	out["dangling symlink"] = l
	return out, nil
}
