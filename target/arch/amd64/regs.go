package amd64

// DWARF register numbers of the general-purpose registers, per the
// System V x86-64 psABI.
const (
	RAX = 0
	RDX = 1
	RCX = 2
	RBX = 3
	RSI = 4
	RDI = 5
	RBP = 6
	RSP = 7
	R8  = 8
	R9  = 9
	R10 = 10
	R11 = 11
	R12 = 12
	R13 = 13
	R14 = 14
	R15 = 15
	RIP = 16 // the return address column
)

// NumRegs is how many DWARF register numbers (0..16) the unwinder tracks.
const NumRegs = 17
