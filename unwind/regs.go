package unwind

import "github.com/kdap/kdap/target/arch"

// MaxRegs is the number of DWARF register numbers a Regs can hold.
const MaxRegs = arch.MaxRegs

// Regs is a register set indexed by DWARF register number (the program's
// one register type, arch.Regs).
type Regs = arch.Regs

// Arch describes the architecture being unwound: its registers, pointer
// size and calling convention (arch.Arch).
type Arch = arch.Arch
