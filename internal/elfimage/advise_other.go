//go:build !linux

package elfimage

// adviseRandom has no portable equivalent here: reads use the system's
// default read-ahead.
func adviseRandom([]byte) {}

// release keeps the pages mapped: the system reclaims clean file pages
// under memory pressure anyway.
func release([]byte) {}
