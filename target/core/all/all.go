// Package all registers every dump format with package core: import it
// for its side effects.
package all

import (
	_ "github.com/kdap/kdap/target/core/elfcore"  // ELF cores of physical memory
	_ "github.com/kdap/kdap/target/core/fbsdmini" // FreeBSD amd64, arm64 and i386 minidumps
	_ "github.com/kdap/kdap/target/core/kdh"      // dumps behind a FreeBSD kerneldumpheader
	_ "github.com/kdap/kdap/target/core/kdump"    // Linux kdump-compressed and makedumpfile flattened
)
