package refcheck

import (
	"path"
	"strings"
)

// BaseName drops the suffix GCC gives the parts and clones of a function
// (".cold", ".part.0", ".isra.0", ".constprop.0"): crash and kdap name a
// frame by its ELF symbol (__handle_sysrq.cold) while drgn names it by its
// DWARF subprogram (__handle_sysrq), which covers the split-off part too.
// C identifiers never contain a dot, so everything from the first dot on
// is such a suffix.
func BaseName(fn string) string {
	if i := strings.IndexByte(fn, '.'); i > 0 {
		return fn[:i]
	}
	return fn
}

// SameFile says whether two source paths name the same file: equal, or
// one ends with the other at a path boundary. The tools strip different
// build prefixes: crash and kdap print DWARF's names with the Debian build
// folder (debian/build/build_amd64_none_cloud-amd64/kernel/panic.c) while
// drgn makes them relative to it (kernel/panic.c).
func SameFile(a, b string) bool {
	a, b = path.Clean(a), path.Clean(b)
	if a == b {
		return true
	}
	if len(a) < len(b) {
		a, b = b, a
	}
	return strings.HasSuffix(a, "/"+b)
}
