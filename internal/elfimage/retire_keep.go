//go:build darwin || netbsd || openbsd || dragonfly || ((linux || freebsd) && !(amd64 || arm64))

package elfimage

// retire keeps the mapping: without a portable way to swap it for zero
// pages in place, unmapping could make a late reader fault. Only address
// space is kept; the file's pages stay reclaimable page cache.
func retire([]byte) {}
