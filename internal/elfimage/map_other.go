//go:build !(linux || freebsd || darwin || netbsd || openbsd || dragonfly)

package elfimage

import "os"

// mapFile does not map on this system: sections are read with ReadAt.
func mapFile(*os.File, int64) ([]byte, error) { return nil, nil }

// retire has nothing to release.
func retire([]byte) {}
