package orc

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/kdap/kdap/target/arch/amd64"
	"github.com/kdap/kdap/unwind"
)

// RegOffset places one register in struct pt_regs.
type RegOffset struct {
	// Reg is the DWARF register number.
	Reg int
	// Off is the member's byte offset.
	Off uint64
}

// PtRegs is the layout of x86-64 struct pt_regs, which the kernel's entry
// code saves at the CFA of a TypeRegs frame.
type PtRegs struct {
	// Size is sizeof(struct pt_regs).
	Size uint64
	// Regs places the general registers (rip and rsp included).
	Regs []RegOffset
	// IP, SP and CS are the offsets of the ip, sp and cs members: the
	// hardware iret frame that a TypeRegsPartial CFA points at starts at
	// IP, and cs tells user from kernel mode.
	IP, SP, CS uint64
}

// maxPtRegs bounds sizeof(struct pt_regs) (168 bytes on x86-64).
const maxPtRegs = 1024

// Check reports whether p can be read.
func (p PtRegs) Check() error {
	if p.Size < 8 || p.Size > maxPtRegs {
		return fmt.Errorf("struct pt_regs of %d bytes, want 8 to %d", p.Size, maxPtRegs)
	}
	for _, o := range append([]RegOffset{{amd64.RIP, p.IP}, {amd64.RSP, p.SP}, {-1, p.CS}}, p.Regs...) {
		if o.Off > p.Size-8 {
			return fmt.Errorf("struct pt_regs member at offset %d does not fit in %d bytes", o.Off, p.Size)
		}
	}
	if p.SP < p.IP || p.CS < p.IP {
		return fmt.Errorf("struct pt_regs: sp (%d) and cs (%d) precede ip (%d), so they are not in the iret frame", p.SP, p.CS, p.IP)
	}
	return nil
}

// Kind is what a step found.
type Kind int

// Kinds of step.
const (
	// KindCall: Result.Regs are the caller's.
	KindCall Kind = iota
	// KindRegs: a whole struct pt_regs is at Result.PtRegs; Result.Regs
	// are the interrupted registers it holds.
	KindRegs
	// KindRegsPartial: the iret part of a struct pt_regs is at the CFA;
	// Result.Regs are the callee's with the saved rip and rsp.
	KindRegsPartial
	// KindEnd: the frame is the outermost of its stack.
	KindEnd
)

// ErrUndefined is returned by Step for a pc whose entry says there is no
// unwind information.
var ErrUndefined = errors.New("ORC entry is undefined")

// Stepper applies the x86-64 ORC rules of one table to running code.
type Stepper struct {
	// Table is the ORC table.
	Table *Table
	// Slide is the running address minus the file address (KASLR).
	Slide uint64
	// PtRegs is the struct pt_regs layout.
	PtRegs PtRegs
	// Covers reports whether the table covers a file address (the
	// kernel's text); nil means every address at or above the first entry.
	Covers func(pc uint64) bool
}

// Result is one unwound frame.
type Result struct {
	// Kind says what was found.
	Kind Kind
	// Entry is the ORC entry used.
	Entry Entry
	// Regs are the caller's or the interrupted registers.
	Regs unwind.Regs
	// CFA is the frame's canonical frame address.
	CFA uint64
	// PtRegs is the address of the struct pt_regs of KindRegs and
	// KindRegsPartial (for the latter, only its iret part is there).
	PtRegs uint64
	// Indirect says the CFA was loaded from the stack: the caller runs on
	// another stack (the kernel's call_on_stack and entry trampolines).
	Indirect bool
	// UserMode says the registers of KindRegs and KindRegsPartial are
	// those of user mode (the low bits of cs, its privilege level, are
	// not 0).
	UserMode bool
}

// Step unwinds the frame whose registers are regs, looking the ORC entry
// up at the running address pc (a return address minus one, or the
// current instruction of an interrupted frame). It returns an error
// wrapping ErrNoEntry or ErrUndefined when the table has nothing for pc,
// and a *unwind.ReadError when the stack cannot be read.
func (s *Stepper) Step(regs *unwind.Regs, pc uint64, mem unwind.Memory) (Result, error) {
	file := pc - s.Slide
	if s.Covers != nil && !s.Covers(file) {
		return Result{}, fmt.Errorf("%w for pc %#x: not in the kernel's text", ErrNoEntry, pc)
	}
	e, err := s.Table.Lookup(file)
	if err != nil {
		return Result{}, err
	}
	res := Result{Entry: e}
	switch e.Type {
	case TypeUndefined:
		return res, fmt.Errorf("%w at pc %#x (entry at %#x)", ErrUndefined, pc, e.PC+s.Slide)
	case TypeEndOfStack:
		res.Kind = KindEnd
		return res, nil
	case TypeCall, TypeRegs, TypeRegsPartial:
	default:
		return res, fmt.Errorf("ORC entry at %#x for pc %#x has unknown type %d", e.PC+s.Slide, pc, e.Type)
	}
	cfa, err := s.cfa(e, regs, mem)
	if err != nil {
		return res, fmt.Errorf("ORC entry at %#x (sp_reg %v%+d) for pc %#x: %w", e.PC+s.Slide, e.SPReg, e.SPOffset, pc, err)
	}
	res.CFA = cfa
	res.Indirect = e.SPReg == RegSPIndirect || e.SPReg == RegBPIndirect
	var caller unwind.Regs
	switch e.Type {
	case TypeCall:
		res.Kind = KindCall
		ra, err := readPtr(mem, cfa-8)
		if err != nil {
			return res, err
		}
		caller.Set(amd64.RSP, cfa)
		caller.Set(amd64.RIP, ra)
		if bp, ok := regs.Get(amd64.RBP); ok {
			caller.Set(amd64.RBP, bp)
		}
	case TypeRegs:
		res.Kind, res.PtRegs = KindRegs, cfa
		if caller, res.UserMode, err = s.readPtRegs(mem, cfa); err != nil {
			return res, err
		}
	case TypeRegsPartial:
		res.Kind = KindRegsPartial
		if cfa < s.PtRegs.IP {
			return res, fmt.Errorf("ORC entry at %#x for pc %#x: iret frame at %#x is below address 0", e.PC+s.Slide, pc, cfa)
		}
		res.PtRegs = cfa - s.PtRegs.IP
		// The entry code has saved nothing yet: every register but rip
		// and rsp still holds the interrupted value.
		caller = *regs
		if res.UserMode, err = s.readIret(mem, res.PtRegs, &caller); err != nil {
			return res, err
		}
	}
	if err := s.bp(e, regs, cfa, mem, &caller); err != nil {
		return res, fmt.Errorf("ORC entry at %#x (bp_reg %v%+d) for pc %#x: %w", e.PC+s.Slide, e.BPReg, e.BPOffset, pc, err)
	}
	res.Regs = caller
	return res, nil
}

// cfa computes the canonical frame address of entry e.
func (s *Stepper) cfa(e Entry, regs *unwind.Regs, mem unwind.Memory) (uint64, error) {
	off := uint64(int64(e.SPOffset))
	get := func(n int) (uint64, error) {
		v, ok := regs.Get(n)
		if !ok {
			return 0, fmt.Errorf("%s is unavailable in this frame", amd64.Arch.RegName(n))
		}
		return v, nil
	}
	switch e.SPReg {
	case RegSP:
		sp, err := get(amd64.RSP)
		return sp + off, err
	case RegBP:
		bp, err := get(amd64.RBP)
		return bp + off, err
	case RegSPIndirect:
		// Since Linux 5.12 the offset applies after the load (the
		// register was unused before).
		sp, err := get(amd64.RSP)
		if err != nil {
			return 0, err
		}
		v, err := readPtr(mem, sp)
		return v + off, err
	case RegBPIndirect:
		bp, err := get(amd64.RBP)
		if err != nil {
			return 0, err
		}
		return readPtr(mem, bp+off)
	case RegR10:
		return get(amd64.R10)
	case RegR13:
		return get(amd64.R13)
	case RegDI:
		return get(amd64.RDI)
	case RegDX:
		return get(amd64.RDX)
	}
	return 0, fmt.Errorf("unknown sp_reg %d", e.SPReg)
}

// bp sets the caller's rbp by rule e.BPReg.
func (s *Stepper) bp(e Entry, regs *unwind.Regs, cfa uint64, mem unwind.Memory, caller *unwind.Regs) error {
	off := uint64(int64(e.BPOffset))
	switch e.BPReg {
	case RegUndefined:
		// Unchanged: the callee's value, or the one pt_regs held.
		return nil
	case RegPrevSP:
		v, err := readPtr(mem, cfa+off)
		if err != nil {
			return err
		}
		caller.Set(amd64.RBP, v)
		return nil
	case RegBP:
		bp, ok := regs.Get(amd64.RBP)
		if !ok {
			return errors.New("rbp is unavailable in this frame")
		}
		v, err := readPtr(mem, bp+off)
		if err != nil {
			return err
		}
		caller.Set(amd64.RBP, v)
		return nil
	}
	return fmt.Errorf("unknown bp_reg %d", e.BPReg)
}

// readPtRegs reads a whole struct pt_regs at addr.
func (s *Stepper) readPtRegs(mem unwind.Memory, addr uint64) (unwind.Regs, bool, error) {
	var regs unwind.Regs
	p := s.PtRegs
	if err := p.Check(); err != nil {
		return regs, false, err
	}
	b := make([]byte, p.Size)
	if err := mem.ReadVirt(b, addr); err != nil {
		return regs, false, &unwind.ReadError{Addr: addr, Err: err}
	}
	for _, o := range p.Regs {
		regs.Set(o.Reg, binary.LittleEndian.Uint64(b[o.Off:]))
	}
	regs.Set(amd64.RIP, binary.LittleEndian.Uint64(b[p.IP:]))
	regs.Set(amd64.RSP, binary.LittleEndian.Uint64(b[p.SP:]))
	return regs, binary.LittleEndian.Uint64(b[p.CS:])&3 != 0, nil
}

// readIret reads the iret part (ip to the end) of the struct pt_regs at
// base into regs.
func (s *Stepper) readIret(mem unwind.Memory, base uint64, regs *unwind.Regs) (bool, error) {
	p := s.PtRegs
	if err := p.Check(); err != nil {
		return false, err
	}
	b := make([]byte, p.Size-p.IP)
	if err := mem.ReadVirt(b, base+p.IP); err != nil {
		return false, &unwind.ReadError{Addr: base + p.IP, Err: err}
	}
	regs.Set(amd64.RIP, binary.LittleEndian.Uint64(b[0:]))
	regs.Set(amd64.RSP, binary.LittleEndian.Uint64(b[p.SP-p.IP:]))
	return binary.LittleEndian.Uint64(b[p.CS-p.IP:])&3 != 0, nil
}

// readPtr reads a little-endian 64-bit word.
func readPtr(mem unwind.Memory, addr uint64) (uint64, error) {
	var b [8]byte
	if err := mem.ReadVirt(b[:], addr); err != nil {
		return 0, &unwind.ReadError{Addr: addr, Err: err}
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}
