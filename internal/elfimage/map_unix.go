//go:build linux || freebsd || darwin || netbsd || openbsd || dragonfly

package elfimage

import (
	"os"
	"syscall"
)

// mapFile maps size bytes of f read-only and shared (pages come from the
// page cache and are never copied), or returns nil when it cannot.
func mapFile(f *os.File, size int64) ([]byte, error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, nil
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	adviseRandom(b)
	return b, nil
}
