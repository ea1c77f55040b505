// Package i386 describes the 32-bit x86 architecture for kernel
// debugging: its register table with DWARF numbers, its disassembler and
// its page-table walks (two-level and PAE).
package i386

import (
	"debug/elf"
	"encoding/binary"

	"github.com/kdap/kdap/target/arch"
	"github.com/kdap/kdap/target/arch/amd64"
)

// DWARF register numbers, per the System V i386 psABI.
const (
	EAX = 0
	ECX = 1
	EDX = 2
	EBX = 3
	ESP = 4
	EBP = 5
	ESI = 6
	EDI = 7
	EIP = 8
)

// NumRegs is how many DWARF register numbers (0..8) the unwinder tracks.
const NumRegs = 9

// Arch is the 32-bit x86 architecture.
var Arch = &arch.Arch{
	Name:      "i386",
	Machine:   elf.EM_386,
	PtrSize:   4,
	ByteOrder: binary.LittleEndian,
	PageSize:  4096,
	// gdb's and LLDB's order.
	Regs: []arch.Reg{
		{Name: "eax", DWARF: EAX, Size: 4}, {Name: "ebx", DWARF: EBX, Size: 4},
		{Name: "ecx", DWARF: ECX, Size: 4}, {Name: "edx", DWARF: EDX, Size: 4},
		{Name: "edi", DWARF: EDI, Size: 4}, {Name: "esi", DWARF: ESI, Size: 4},
		{Name: "ebp", DWARF: EBP, Size: 4, Aliases: []string{"fp"}},
		{Name: "esp", DWARF: ESP, Size: 4, Aliases: []string{"sp"}},
		{Name: "eip", DWARF: EIP, Size: 4, Aliases: []string{"pc"}},
	},
	PC: EIP, SP: ESP, FP: EBP, LR: -1,
	NumRegs:     NumRegs,
	CalleeSaved: []int{EBX, EBP, ESI, EDI},
	MinInstLen:  1, MaxInstLen: 15,
	Decode: func(code []byte, pc uint64, flavor string) (arch.Inst, error) {
		return amd64.DecodeX86(code, pc, flavor, 32)
	},
}

func init() { arch.Register(Arch) }
