// Package arm64 describes the AArch64 architecture for kernel debugging:
// its register table with DWARF numbers and its disassembler.
package arm64

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"strings"

	"golang.org/x/arch/arm64/arm64asm"

	"github.com/kdap/kdap/target/arch"
)

// DWARF register numbers, per the DWARF for the Arm 64-bit Architecture
// ABI: x0..x30 are 0..30.
const (
	X0  = 0
	X19 = 19
	X28 = 28
	FP  = 29 // x29, the frame pointer
	LR  = 30 // x30, the link register
	SP  = 31
	PC  = 32
)

// NumRegs is how many DWARF register numbers (0..32) the unwinder tracks.
const NumRegs = 33

// Arch is the AArch64 architecture.
var Arch = &arch.Arch{
	Name:      "arm64",
	Machine:   elf.EM_AARCH64,
	PtrSize:   8,
	ByteOrder: binary.LittleEndian,
	PageSize:  4096,
	Regs:      regTable(),
	PC:        PC, SP: SP, FP: FP, LR: LR,
	NumRegs: NumRegs,
	// x19..x28, the frame pointer and sp survive calls (AAPCS64).
	CalleeSaved: []int{19, 20, 21, 22, 23, 24, 25, 26, 27, 28, FP, SP},
	MinInstLen:  4, MaxInstLen: 4,
	Decode: decode,
}

func init() { arch.Register(Arch) }

// regTable lists x0..x28, fp, lr, sp and pc, named as LLDB names them.
func regTable() []arch.Reg {
	var regs []arch.Reg
	for i := 0; i <= X28; i++ {
		regs = append(regs, arch.Reg{Name: fmt.Sprintf("x%d", i), DWARF: i, Size: 8})
	}
	return append(regs,
		arch.Reg{Name: "fp", Aliases: []string{"x29"}, DWARF: FP, Size: 8},
		arch.Reg{Name: "lr", Aliases: []string{"x30"}, DWARF: LR, Size: 8},
		arch.Reg{Name: "sp", DWARF: SP, Size: 8},
		arch.Reg{Name: "pc", DWARF: PC, Size: 8},
	)
}

// decode decodes one A64 instruction in GNU syntax, with pc-relative
// operands shown as absolute addresses.
func decode(code []byte, pc uint64, _ string) (arch.Inst, error) {
	if len(code) < 4 {
		return arch.Inst{}, fmt.Errorf("arm64: %d bytes at %#x, an instruction takes 4", len(code), pc)
	}
	in, err := arm64asm.Decode(code[:4])
	if err != nil {
		return arch.Inst{Len: 4}, err
	}
	text := arm64asm.GNUSyntax(in)
	out := arch.Inst{Len: 4}
	for _, a := range in.Args {
		rel, ok := a.(arm64asm.PCRel)
		if !ok {
			continue
		}
		target := pc + uint64(int64(rel))
		branch := true
		switch in.Op {
		case arm64asm.ADRP:
			target = pc&^0xfff + uint64(int64(rel))
			branch = false
		case arm64asm.ADR, arm64asm.LDR, arm64asm.LDRSW, arm64asm.PRFM:
			branch = false
		}
		text = strings.Replace(text, rel.String(), fmt.Sprintf("%#x", target), 1)
		out.Refs = append(out.Refs, arch.Ref{Addr: target, Branch: branch})
	}
	out.Text = text
	return out, nil
}
