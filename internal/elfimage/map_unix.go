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
	// DWARF is read in scattered small pieces (one unit header here, one
	// DIE there): without this hint every touched page would bring its
	// neighbours in too, and the resident set would grow with pages never
	// read.
	syscall.Madvise(b, syscall.MADV_RANDOM)
	return b, nil
}
