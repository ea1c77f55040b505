//go:build !(linux || freebsd || darwin || netbsd || openbsd || dragonfly)

package elfimage

import "os"

// mapFile does not map on this system: sections are read with ReadAt.
func mapFile(*os.File) ([]byte, error) { return nil, nil }
