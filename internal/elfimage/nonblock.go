//go:build !(js || wasip1)

package elfimage

import "syscall"

// oNonblock makes opening a FIFO or a device return at once rather than
// wait for the other end.
const oNonblock = syscall.O_NONBLOCK
