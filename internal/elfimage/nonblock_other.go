//go:build js || wasip1

package elfimage

// oNonblock is 0 where the syscall package has no O_NONBLOCK; the path is
// still checked before it is opened.
const oNonblock = 0
