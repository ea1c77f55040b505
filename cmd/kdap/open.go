package main

import (
	"fmt"
	"os"

	"github.com/kdap/kdap/target"
)

// openDump opens the dump named by pos[0] with the kernel pos[1] when that
// is a file, else with the kernel target.FindKernel finds for it (beside
// the dump, or by a Linux dump's build id and release). It returns the
// arguments after the dump and kernel.
func openDump(pos []string, opts target.Options) (*target.Target, []string, error) {
	if len(pos) == 0 {
		return nil, nil, fmt.Errorf("%w: expected CORE [KERNEL]", errUsage)
	}
	kernel, rest := "", pos[1:]
	if len(pos) > 1 {
		if st, err := os.Stat(pos[1]); err == nil && st.Mode().IsRegular() {
			kernel, rest = pos[1], pos[2:]
		}
	}
	if kernel == "" {
		k, err := target.FindKernel(pos[0])
		if err != nil {
			if len(pos) > 1 {
				return nil, nil, fmt.Errorf("%s is not a kernel file, and %w", pos[1], err)
			}
			return nil, nil, err
		}
		kernel = k
	}
	t, err := target.Open(pos[0], kernel, opts)
	if err == nil {
		opened = t
	}
	return t, rest, err
}
