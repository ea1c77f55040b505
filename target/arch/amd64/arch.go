package amd64

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"strings"

	"golang.org/x/arch/x86/x86asm"

	"github.com/kdap/kdap/target/arch"
)

// Arch is the x86-64 architecture.
var Arch = &arch.Arch{
	Name:      "amd64",
	Machine:   elf.EM_X86_64,
	PtrSize:   8,
	ByteOrder: binary.LittleEndian,
	PageSize:  PageSize4K,
	// gdb's and LLDB's order of the general-purpose registers.
	Regs: []arch.Reg{
		{Name: "rax", DWARF: RAX, Size: 8}, {Name: "rbx", DWARF: RBX, Size: 8},
		{Name: "rcx", DWARF: RCX, Size: 8}, {Name: "rdx", DWARF: RDX, Size: 8},
		{Name: "rsi", DWARF: RSI, Size: 8}, {Name: "rdi", DWARF: RDI, Size: 8},
		{Name: "rbp", DWARF: RBP, Size: 8, Aliases: []string{"fp"}},
		{Name: "rsp", DWARF: RSP, Size: 8, Aliases: []string{"sp"}},
		{Name: "r8", DWARF: R8, Size: 8}, {Name: "r9", DWARF: R9, Size: 8},
		{Name: "r10", DWARF: R10, Size: 8}, {Name: "r11", DWARF: R11, Size: 8},
		{Name: "r12", DWARF: R12, Size: 8}, {Name: "r13", DWARF: R13, Size: 8},
		{Name: "r14", DWARF: R14, Size: 8}, {Name: "r15", DWARF: R15, Size: 8},
		{Name: "rip", DWARF: RIP, Size: 8, Aliases: []string{"pc"}},
	},
	PC: RIP, SP: RSP, FP: RBP, LR: -1,
	NumRegs:     NumRegs,
	CalleeSaved: []int{RBX, RBP, R12, R13, R14, R15},
	MinInstLen:  1, MaxInstLen: 15,
	Decode: func(code []byte, pc uint64, flavor string) (arch.Inst, error) {
		return DecodeX86(code, pc, flavor, 64)
	},
	Walk: Walk,
}

func init() { arch.Register(Arch) }

// DecodeX86 decodes one x86 instruction in 32- or 64-bit mode, in AT&T
// syntax or, for flavor "intel", Intel syntax.
func DecodeX86(code []byte, pc uint64, flavor string, mode int) (arch.Inst, error) {
	in, err := x86asm.Decode(code, mode)
	if err != nil {
		return arch.Inst{}, err
	}
	if in.Len == 0 {
		return arch.Inst{}, fmt.Errorf("x86: no instruction decoded at %#x", pc)
	}
	// The syntax printers get no symbols: they would name exact function
	// starts only. Callers annotate Refs instead, gdb style.
	noSym := func(uint64) (string, uint64) { return "", 0 }
	var text string
	if strings.EqualFold(flavor, "intel") {
		text = x86asm.IntelSyntax(in, pc, noSym)
	} else {
		text = x86asm.GNUSyntax(in, pc, noSym)
	}
	out := arch.Inst{Len: in.Len, Text: text}
	next := pc + uint64(in.Len)
	if mode == 32 {
		next &= 0xffffffff
	}
	for _, a := range in.Args {
		switch a := a.(type) {
		case x86asm.Rel:
			t := next + uint64(int64(a))
			if mode == 32 {
				t &= 0xffffffff
			}
			out.Refs = append(out.Refs, arch.Ref{Addr: t, Branch: true})
		case x86asm.Mem:
			if a.Base == x86asm.RIP {
				out.Refs = append(out.Refs, arch.Ref{Addr: next + uint64(a.Disp)})
			}
		}
	}
	return out, nil
}
