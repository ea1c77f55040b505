// Package all links in every dump format and kernel model, so that a
// program importing it can open any dump kdap knows.
package all

import (
	_ "github.com/kdap/kdap/target/core/all" // dump formats
	_ "github.com/kdap/kdap/target/freebsd"  // FreeBSD kernels
	_ "github.com/kdap/kdap/target/linux"    // Linux kernels
)
