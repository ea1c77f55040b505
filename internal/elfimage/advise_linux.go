package elfimage

import "syscall"

// adviseRandom tells the kernel that b is read in scattered small pieces
// (one unit header here, one DIE there), so a cold read of one page does
// not read ahead the megabytes after it.
func adviseRandom(b []byte) { syscall.Madvise(b, syscall.MADV_RANDOM) }

// release drops the page mappings of b, a page-aligned part of a shared
// read-only file mapping: later reads fault the same file pages back in.
func release(b []byte) {
	if len(b) > 0 {
		syscall.Madvise(b, syscall.MADV_DONTNEED)
	}
}
