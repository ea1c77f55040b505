// Package all links in every architecture kdap knows. Adding an
// architecture is one package under target/arch/ and one line here.
package all

import (
	_ "github.com/kdap/kdap/target/arch/amd64" // x86-64
	_ "github.com/kdap/kdap/target/arch/arm64" // AArch64
	_ "github.com/kdap/kdap/target/arch/i386"  // 32-bit x86
)
