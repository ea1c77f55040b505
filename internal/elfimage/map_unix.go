//go:build linux || freebsd || darwin || netbsd || openbsd || dragonfly

package elfimage

import (
	"os"
	"sync"
	"syscall"
)

// fileKey identifies one version of a file: the same inode with the same
// size and modification time.
type fileKey struct {
	dev, ino    uint64
	size, mtime int64
}

var (
	mapsMu sync.Mutex
	// maps holds every mapping this process made, by file version. A
	// mapping is never unmapped (see Image.Close), so a file opened again
	// (the same kernel in a new session) reuses its mapping rather than
	// taking more address space.
	maps = map[fileKey][]byte{}
)

// mapFile maps f read-only and shared (pages come from the page cache and
// are never copied), or returns nil when it cannot.
func mapFile(f *os.File) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	size := fi.Size()
	if !ok || !fi.Mode().IsRegular() || size <= 0 || int64(int(size)) != size {
		return nil, nil
	}
	key := fileKey{dev: uint64(st.Dev), ino: uint64(st.Ino), size: size, mtime: fi.ModTime().UnixNano()}
	mapsMu.Lock()
	defer mapsMu.Unlock()
	if b, ok := maps[key]; ok {
		return b, nil
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	adviseRandom(b)
	maps[key] = b
	return b, nil
}
