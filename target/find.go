package target

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kdap/kdap/target/core"
	"github.com/kdap/kdap/target/core/vmcoreinfo"
)

// DebugRoots are the folders searched for a Linux debug kernel by build id
// and release, as gdb's debug-file-directory.
var DebugRoots = []string{"/usr/lib/debug"}

// besideNames are the kernel files looked for beside a dump.
var besideNames = []string{"kernel.debug", "kernel", "vmlinux"}

// FindKernel looks for the debug kernel of the dump at corePath: a file
// named kernel.debug, kernel or vmlinux beside it or one folder up; then,
// for a dump with VMCOREINFO, vmlinux-RELEASE beside it, the file its
// build id names under each of DebugRoots (.build-id/xx/rest.debug), that
// root's boot/vmlinux-RELEASE and lib/modules/RELEASE/vmlinux, and
// /boot/vmlinux-RELEASE. It returns the first that is a regular file (a
// FIFO, folder or device of one of these names is passed over, never
// opened), or an error listing where it looked. A dump that is not a
// regular file is not read.
func FindKernel(corePath string) (string, error) {
	var tried []string
	dir := filepath.Dir(corePath)
	for _, d := range []string{dir, filepath.Dir(dir)} {
		for _, n := range besideNames {
			tried = append(tried, filepath.Join(d, n))
		}
	}
	if rel, id := linuxIdentity(corePath); rel != "" || id != "" {
		if rel != "" {
			tried = append(tried, filepath.Join(dir, "vmlinux-"+rel))
		}
		for _, root := range DebugRoots {
			if len(id) > 2 {
				tried = append(tried, filepath.Join(root, ".build-id", id[:2], id[2:]+".debug"))
			}
			if rel != "" {
				tried = append(tried, filepath.Join(root, "boot", "vmlinux-"+rel),
					filepath.Join(root, "lib", "modules", rel, "vmlinux"))
			}
		}
		if rel != "" {
			tried = append(tried, filepath.Join("/boot", "vmlinux-"+rel))
		}
	}
	for _, p := range tried {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("no kernel given and none found for %s (looked for %s)", corePath, strings.Join(tried, ", "))
}

// linuxIdentity returns the release and build id that a Linux dump's
// VMCOREINFO names, or empty strings when it has none. The characters
// allowed keep a hostile dump from steering the search out of its roots.
func linuxIdentity(corePath string) (release, buildID string) {
	d, err := core.Open(corePath)
	if err != nil {
		return "", ""
	}
	defer d.Close()
	text, err := vmcoreinfo.FromDump(d)
	if err != nil {
		return "", ""
	}
	info, err := vmcoreinfo.Parse(text)
	if err != nil {
		return "", ""
	}
	if r, err := info.OSRelease(); err == nil && safeName(r, "+-._~") {
		release = r
	}
	if id, err := info.BuildID(); err == nil && safeName(id, "") {
		buildID = strings.ToLower(id)
	}
	return release, buildID
}

// safeName reports whether s is a non-empty name of letters, digits and
// the extra characters, not starting with a dot.
func safeName(s, extra string) bool {
	if s == "" || s[0] == '.' || len(s) > 128 {
		return false
	}
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(extra, c)
		if !ok {
			return false
		}
	}
	return true
}
