package unwind

import (
	"errors"
	"fmt"
)

// errFPEnd reports a frame pointer of 0, the conventional chain end.
var errFPEnd = errors.New("frame pointer is 0")

// errNoUnwind is wrapped when neither CFI nor the frame pointer applies.
var errNoUnwind = errors.New("no unwind info")

// unwindOne computes the caller of cur: by CFI when an FDE covers lookup
// and can be used, else by the return address on top of the stack when cur
// stopped on its function's first instruction, else by the frame-pointer
// chain.
func (r *run) unwindOne(cur state, lookup, entry, sp uint64) (caller Regs, cfa uint64, m Method, err error) {
	var bad error // the CFI that covers lookup but cannot be used
	if !r.o.noCFI {
		caller, cfa, covered, why, err := r.cfiUnwind(cur, lookup)
		if covered && why == nil {
			return caller, cfa, MethodCFI, err
		}
		bad = why
	}
	if cur.exact && entry != 0 && lookup == entry {
		caller, cfa, m, err = r.entryStep(cur, sp)
		if bad != nil && err != nil {
			err = fallbackError(bad, err)
		}
		return caller, cfa, m, err
	}
	caller, cfa, err = r.fpStep(cur, sp)
	if bad != nil && err != nil {
		return caller, cfa, MethodFP, fallbackError(bad, err)
	}
	if err != nil && !errors.Is(err, errFPEnd) {
		var re *ReadError
		if !errors.As(err, &re) {
			err = fmt.Errorf("%w for pc %#x and frame pointer chain invalid: %v", errNoUnwind, lookup, err)
		}
	}
	return caller, cfa, MethodFP, err
}

// entryStep unwinds a function stopped on its first instruction: nothing
// is pushed yet, so the return address is at the stack pointer.
func (r *run) entryStep(cur state, sp uint64) (Regs, uint64, Method, error) {
	a := r.u.arch
	ra, err := readPtr(r.u.mem, a, sp)
	if err != nil {
		return Regs{}, 0, MethodEntry, err
	}
	var caller Regs
	for _, n := range a.CalleeSaved {
		if v, ok := cur.regs.Get(n); ok {
			caller.Set(n, v)
		}
	}
	cfa := sp + uint64(a.PtrSize)
	caller.Set(a.SP, cfa)
	caller.Set(a.PC, ra)
	return caller, cfa, MethodEntry, nil
}

// fpStep follows the frame pointer: [fp] is the caller's frame pointer and
// [fp+ptr] the return address.
func (r *run) fpStep(cur state, sp uint64) (Regs, uint64, error) {
	a := r.u.arch
	fp, ok := cur.regs.Get(a.FP)
	ptr := uint64(a.PtrSize)
	switch {
	case !ok:
		return Regs{}, 0, fmt.Errorf("%s is unavailable", a.RegName(a.FP))
	case fp == 0:
		return Regs{}, 0, errFPEnd
	case fp%ptr != 0:
		return Regs{}, 0, fmt.Errorf("%s %#x is not aligned", a.RegName(a.FP), fp)
	case fp < sp && !r.fpSwitch(fp):
		return Regs{}, 0, fmt.Errorf("%s %#x is below the stack pointer %#x", a.RegName(a.FP), fp, sp)
	case fp > ^uint64(0)-2*ptr:
		return Regs{}, 0, fmt.Errorf("%s %#x is at the top of the address space", a.RegName(a.FP), fp)
	case r.o.bounded && sp >= r.o.lo && sp < r.o.hi && fp+2*ptr > r.o.hi:
		return Regs{}, 0, fmt.Errorf("%s %#x is outside the thread's stack [%#x, %#x)", a.RegName(a.FP), fp, r.o.lo, r.o.hi)
	}
	savedFP, err := readPtr(r.u.mem, a, fp)
	if err != nil {
		return Regs{}, 0, err
	}
	ra, err := readPtr(r.u.mem, a, fp+ptr)
	if err != nil {
		return Regs{}, 0, err
	}
	var caller Regs
	cfa := fp + 2*ptr
	caller.Set(a.FP, savedFP)
	caller.Set(a.SP, cfa)
	caller.Set(a.PC, ra)
	return caller, cfa, nil
}

// maxFPLink bounds the distance between two frame records on one stack
// when a frame-pointer step moves to another stack.
const maxFPLink = 1 << 20

// fpSwitch reports whether the frame pointer fp, below the stack pointer,
// may be followed to another stack (see FramePointerStackSwitches), and
// counts the switch when so.
func (r *run) fpSwitch(fp uint64) bool {
	a := r.u.arch
	ptr := uint64(a.PtrSize)
	if r.o.switches >= r.o.fpSwitches || fp%ptr != 0 || fp > ^uint64(0)-2*ptr {
		return false
	}
	if r.o.bounded && (fp < r.o.lo || fp+2*ptr > r.o.hi) {
		return false
	}
	next, err := readPtr(r.u.mem, a, fp)
	if err != nil || next != 0 && (next <= fp || next-fp > maxFPLink) {
		return false
	}
	ra, err := readPtr(r.u.mem, a, fp+ptr)
	if err != nil || !r.u.sym.InText(ra) {
		return false
	}
	r.o.switches++
	return true
}
