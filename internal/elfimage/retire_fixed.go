//go:build (linux || freebsd) && (amd64 || arm64)

package elfimage

import (
	"syscall"
	"unsafe"
)

// retire replaces the file mapping at b with anonymous read-only zero
// pages at the same address (MAP_FIXED swaps them in one step, so there
// is no moment when the range is unmapped and another mapping could take
// it). The zero pages are not backed by memory until written, which they
// never are. On failure the file mapping is kept: leaking address space
// is better than a fault.
func retire(b []byte) {
	if len(b) == 0 {
		return
	}
	addr := uintptr(unsafe.Pointer(&b[0]))
	syscall.Syscall6(syscall.SYS_MMAP, addr, uintptr(len(b)), syscall.PROT_READ,
		syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_FIXED, ^uintptr(0), 0)
}
