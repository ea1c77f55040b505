package unwind

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/go-delve/delve/pkg/dwarf/frame"
	"github.com/go-delve/delve/pkg/dwarf/op"
)

// CFIIndex is a CFI over a table of frame description entries, sorted once
// for binary search by pc. It is safe for concurrent use.
type CFIIndex struct {
	load  func() (frame.FrameDescriptionEntries, error)
	once  sync.Once
	loads atomic.Int32
	err   error
	fdes  []*frame.FrameDescriptionEntry
	// maxEnd[i] is the largest End() among fdes[:i+1]; it bounds the
	// backward scan for entries that overlap a later one.
	maxEnd []uint64

	rowMu sync.Mutex
	rows  map[uint64]rowEntry
}

// rowEntry caches the unwind row established at one pc.
type rowEntry struct {
	row *cfaRow
	err error
}

// cfaRow is one row of the unwind table with what is needed to read
// DW_CFA_restore correctly: Delve's interpreter turns a restore into the
// undefined rule, so a register left undefined that no DW_CFA_undefined
// names takes its CIE rule instead.
type cfaRow struct {
	ctx *frame.FrameContext
	// cie holds the rules of the CIE's initial instructions.
	cie map[uint64]frame.DWRule
	// undef has bit n set when some DW_CFA_undefined names register n, or
	// all bits when the programs could not be scanned.
	undef uint64
}

// maxCachedRows bounds the row cache; it is emptied when full.
const maxCachedRows = 8192

// NewCFIIndex indexes fdes (which it does not modify).
func NewCFIIndex(fdes frame.FrameDescriptionEntries) *CFIIndex {
	return NewLazyCFIIndex(func() (frame.FrameDescriptionEntries, error) { return fdes, nil })
}

// NewLazyCFIIndex returns an index whose table is obtained from load on the
// first lookup; load is called at most once.
func NewLazyCFIIndex(load func() (frame.FrameDescriptionEntries, error)) *CFIIndex {
	return &CFIIndex{load: load}
}

// Loads reports how many times the table has been loaded (0 or 1).
func (x *CFIIndex) Loads() int { return int(x.loads.Load()) }

func (x *CFIIndex) init() {
	x.once.Do(func() {
		x.loads.Add(1)
		fdes, err := x.load()
		if err != nil {
			x.err = fmt.Errorf("loading call frame information: %w", err)
			return
		}
		sorted := make([]*frame.FrameDescriptionEntry, 0, len(fdes))
		for _, f := range fdes {
			if f != nil && f.CIE != nil && f.End() > f.Begin() {
				sorted = append(sorted, f)
			}
		}
		sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Begin() < sorted[j].Begin() })
		x.fdes = sorted
		x.maxEnd = make([]uint64, len(sorted))
		var m uint64
		for i, f := range sorted {
			m = max(m, f.End())
			x.maxEnd[i] = m
		}
		x.rows = make(map[uint64]rowEntry)
	})
}

// FDEForPC returns the entry covering pc, or nil when none does. Of
// overlapping entries the one that starts last wins.
func (x *CFIIndex) FDEForPC(pc uint64) (*frame.FrameDescriptionEntry, error) {
	x.init()
	if x.err != nil {
		return nil, x.err
	}
	i := sort.Search(len(x.fdes), func(i int) bool { return x.fdes[i].Begin() > pc }) - 1
	for ; i >= 0 && x.maxEnd[i] > pc; i-- {
		if x.fdes[i].Cover(pc) {
			return x.fdes[i], nil
		}
	}
	return nil, nil
}

// row returns the unwind row of fde at pc, cached per pc.
func (x *CFIIndex) row(fde *frame.FrameDescriptionEntry, pc uint64) (*cfaRow, error) {
	x.rowMu.Lock()
	e, ok := x.rows[pc]
	x.rowMu.Unlock()
	if ok {
		return e.row, e.err
	}
	row, err := newRow(fde, pc)
	x.rowMu.Lock()
	if len(x.rows) >= maxCachedRows {
		clear(x.rows)
	}
	x.rows[pc] = rowEntry{row, err}
	x.rowMu.Unlock()
	return row, err
}

// newRow establishes the row of fde at pc.
func newRow(fde *frame.FrameDescriptionEntry, pc uint64) (*cfaRow, error) {
	ctx, err := establish(fde, pc)
	if err != nil {
		return nil, err
	}
	row := &cfaRow{ctx: ctx, undef: ^uint64(0)}
	// Below the FDE's first address only the CIE's instructions run.
	if fde.Begin() > 0 {
		if cie, err := establish(fde, fde.Begin()-1); err == nil {
			row.cie = cie.Regs
			u1, ok1 := undefinedRegs(fde.CIE.InitialInstructions)
			u2, ok2 := undefinedRegs(fde.Instructions)
			if ok1 && ok2 {
				row.undef = u1 | u2
			}
		}
	}
	return row, nil
}

// establish runs the CFA program of fde up to pc. The interpreter panics on
// truncated programs, so a panic becomes an error here.
func establish(fde *frame.FrameDescriptionEntry, pc uint64) (ctx *frame.FrameContext, err error) {
	defer func() {
		if r := recover(); r != nil {
			ctx, err = nil, fmt.Errorf("malformed CFA program of the FDE at %#x-%#x: %v", fde.Begin(), fde.End(), r)
		}
	}()
	ctx, err = fde.EstablishFrame(pc)
	if err != nil {
		return nil, fmt.Errorf("CFA program of the FDE at %#x-%#x: %w", fde.Begin(), fde.End(), err)
	}
	return ctx, nil
}

// rowFor looks up and evaluates the unwind row for pc through cfi.
func rowFor(cfi CFI, pc uint64) (*cfaRow, error) {
	if cfi == nil {
		return nil, nil
	}
	fde, err := cfi.FDEForPC(pc)
	if err != nil || fde == nil {
		return nil, err
	}
	if x, ok := cfi.(*CFIIndex); ok {
		return x.row(fde, pc)
	}
	return newRow(fde, pc)
}

// cfiUnwind computes the caller of cur by the CFI that covers lookup.
// covered is false when no CFI covers lookup. bad is non-nil when CFI
// covers it but cannot be used: the table or the FDE's program cannot be
// read (a corrupt .eh_frame), or the row cannot be evaluated (a CFA rule
// or expression it does not support, a register it needs that is
// unavailable); the caller is then found as for a pc without CFI, and bad
// is kept in r.badCFI for the frame. A failed read of stack memory and a
// return address the row marks undefined are no defect of the CFI: err
// reports them.
func (r *run) cfiUnwind(cur state, lookup uint64) (caller Regs, cfa uint64, covered bool, bad, err error) {
	row, rerr := rowFor(r.u.cfi, lookup)
	switch {
	case rerr != nil:
		bad = rerr
	case row == nil:
		return Regs{}, 0, false, nil, nil
	default:
		caller, cfa, err = cfiStep(r.u.arch, r.u.mem, row, &cur.regs)
		var re *ReadError
		if err == nil || errors.Is(err, errUndefinedRA) || errors.As(err, &re) {
			return caller, cfa, true, nil, err
		}
		bad = err
	}
	r.badCFI = fmt.Errorf("its CFI cannot be used: %w", bad)
	return Regs{}, 0, true, r.badCFI, nil
}

// fallbackError is the error of a step whose CFI could not be used and
// whose fallback (frame pointer or function entry) failed too; the unwind
// stops with StopBadCFI, saying both.
func fallbackError(bad, err error) error {
	return fmt.Errorf("%w; without CFI: %v", bad, err)
}

// errUndefinedRA reports a CFI row that marks the return address undefined,
// which is how CFI says "outermost frame".
var errUndefinedRA = errors.New("return address undefined")

// ReadError is a failed read of stack memory; the unwind stops with
// StopReadError when a step fails with one (also from a FrameInfo).
type ReadError struct {
	// Addr is the address that could not be read.
	Addr uint64
	// Err is the memory's error.
	Err error
}

func (e *ReadError) Error() string { return fmt.Sprintf("cannot read stack at %#x: %v", e.Addr, e.Err) }

// Unwrap returns the memory's error.
func (e *ReadError) Unwrap() error { return e.Err }

// readPtr reads one pointer-sized little-endian word at va.
func readPtr(mem Memory, a *Arch, va uint64) (uint64, error) {
	var b [8]byte
	buf := b[:a.PtrSize]
	if err := mem.ReadVirt(buf, va); err != nil {
		return 0, &ReadError{Addr: va, Err: err}
	}
	return a.Pointer(buf), nil
}

// cfiStep computes the caller's registers from the callee's registers cur
// and the unwind row ctx. It returns the callee's CFA too.
func cfiStep(a *Arch, mem Memory, row *cfaRow, cur *Regs) (caller Regs, cfa uint64, err error) {
	ctx := row.ctx
	cfa, err = evalCFA(a, mem, ctx, cur)
	if err != nil {
		return Regs{}, 0, err
	}
	raReg := int(ctx.RetAddrReg)
	for n := 0; n < a.NumRegs; n++ {
		rule, ok := ctx.Regs[uint64(n)]
		if ok && rule.Rule == frame.RuleUndefined && row.undef&(1<<uint(n)) == 0 {
			rule, ok = row.cie[uint64(n)] // restored to its initial rule
		}
		if !ok {
			if n != a.SP && n != raReg && a.IsCalleeSaved(n) {
				if v, ok := cur.Get(n); ok {
					caller.Set(n, v)
				}
			}
			continue
		}
		v, known, err := evalRule(a, mem, n, rule, cfa, cur)
		if err != nil {
			return Regs{}, 0, fmt.Errorf("rule for %s: %w", a.RegName(n), err)
		}
		if known {
			caller.Set(n, v)
		}
	}
	// The CFA is by definition the caller's stack pointer before the call.
	if r, ok := ctx.Regs[uint64(a.SP)]; !ok || r.Rule == frame.RuleUndefined || r.Rule == frame.RuleSameVal {
		caller.Set(a.SP, cfa)
	}
	ra, ok := caller.Get(raReg)
	if !ok {
		return Regs{}, cfa, errUndefinedRA
	}
	if raReg != a.PC {
		caller.Clear(raReg)
	}
	caller.Set(a.PC, ra)
	return caller, cfa, nil
}

// evalCFA computes the canonical frame address of a row.
func evalCFA(a *Arch, mem Memory, ctx *frame.FrameContext, cur *Regs) (uint64, error) {
	switch ctx.CFA.Rule {
	case frame.RuleCFA:
		v, ok := cur.Get(int(ctx.CFA.Reg))
		if !ok {
			return 0, fmt.Errorf("CFA rule uses %s, whose value is unavailable", a.RegName(int(ctx.CFA.Reg)))
		}
		return v + uint64(ctx.CFA.Offset), nil
	case frame.RuleExpression:
		v, err := evalExpr(a, mem, ctx.CFA.Expression, 0, false, cur)
		if err != nil {
			return 0, fmt.Errorf("CFA expression: %w", err)
		}
		return v, nil
	}
	return 0, fmt.Errorf("unsupported CFA rule %d", ctx.CFA.Rule)
}

// evalRule computes a register's value in the caller from its rule.
func evalRule(a *Arch, mem Memory, n int, rule frame.DWRule, cfa uint64, cur *Regs) (v uint64, known bool, err error) {
	switch rule.Rule {
	case frame.RuleUndefined, frame.RuleArchitectural:
		return 0, false, nil
	case frame.RuleSameVal:
		v, ok := cur.Get(n)
		return v, ok, nil
	case frame.RuleOffset:
		v, err := readPtr(mem, a, cfa+uint64(rule.Offset))
		return v, err == nil, err
	case frame.RuleValOffset:
		return cfa + uint64(rule.Offset), true, nil
	case frame.RuleRegister:
		v, ok := cur.Get(int(rule.Reg))
		return v, ok, nil
	case frame.RuleCFA:
		v, ok := cur.Get(int(rule.Reg))
		return v + uint64(rule.Offset), ok, nil
	case frame.RuleFramePointer:
		v, ok := cur.Get(int(rule.Reg))
		if !ok {
			return 0, false, nil
		}
		addr := v + uint64(rule.Offset)
		if addr >= cfa {
			return 0, false, nil
		}
		v, err := readPtr(mem, a, addr)
		return v, err == nil, err
	case frame.RuleExpression:
		addr, err := evalExpr(a, mem, rule.Expression, cfa, true, cur)
		if err != nil {
			return 0, false, err
		}
		v, err := readPtr(mem, a, addr)
		return v, err == nil, err
	case frame.RuleValExpression:
		v, err := evalExpr(a, mem, rule.Expression, cfa, true, cur)
		return v, err == nil, err
	}
	return 0, false, fmt.Errorf("unknown register rule %d", rule.Rule)
}

// maxExprLen bounds a DWARF expression taken from CFI.
const maxExprLen = 4096

// evalExpr runs a DWARF expression over the callee's registers; pushCFA
// pushes the CFA first, as DW_CFA_expression and DW_CFA_val_expression
// require.
func evalExpr(a *Arch, mem Memory, expr []byte, cfa uint64, pushCFA bool, cur *Regs) (v uint64, err error) {
	if len(expr) > maxExprLen {
		return 0, fmt.Errorf("expression of %d bytes exceeds %d", len(expr), maxExprLen)
	}
	if err := checkExpr(expr); err != nil {
		return 0, err
	}
	prog := expr
	if pushCFA {
		prog = make([]byte, 0, 9+len(expr))
		prog = append(prog, byte(op.DW_OP_const8u))
		prog = binary.LittleEndian.AppendUint64(prog, cfa)
		prog = append(prog, expr...)
	}
	regs := make([]*op.DwarfRegister, a.NumRegs)
	for n := range regs {
		if rv, ok := cur.Get(n); ok {
			regs[n] = op.DwarfRegisterFromUint64(rv)
		}
	}
	dregs := op.NewDwarfRegisters(0, regs, a.ByteOrder, uint64(a.PC), uint64(a.SP), uint64(a.FP), 0)
	dregs.CFA = int64(cfa)
	read := func(b []byte, addr uint64) (int, error) {
		if err := mem.ReadVirt(b, addr); err != nil {
			return 0, &ReadError{Addr: addr, Err: err}
		}
		return len(b), nil
	}
	defer func() {
		if r := recover(); r != nil {
			v, err = 0, fmt.Errorf("malformed DWARF expression % x: %v", expr, r)
		}
	}()
	res, pieces, err := op.ExecuteStackProgram(*dregs, prog, a.PtrSize, read)
	if err != nil {
		return 0, fmt.Errorf("DWARF expression % x: %w", expr, err)
	}
	if pieces != nil {
		return 0, fmt.Errorf("DWARF expression % x names a location, not a value", expr)
	}
	return uint64(res), nil
}

// checkExpr accepts only the DWARF operations that compute addresses and
// values, so that no operation allocates by a size read from the program
// (as DW_OP_implicit_value would) before it runs.
func checkExpr(expr []byte) error {
	for i := 0; i < len(expr); {
		opc := expr[i]
		i++
		n := 0 // fixed operand size
		switch {
		case opc == 0x06, opc >= 0x12 && opc <= 0x27 && opc != 0x15 && opc != 0x18 && opc != 0x23,
			opc >= 0x29 && opc <= 0x2e, opc >= 0x30 && opc <= 0x6f, opc == 0x96, opc == 0x9c:
		case opc == 0x08, opc == 0x09, opc == 0x15, opc == 0x94:
			n = 1
		case opc == 0x0a, opc == 0x0b, opc == 0x28, opc == 0x2f:
			n = 2
		case opc == 0x0c, opc == 0x0d:
			n = 4
		case opc == 0x03, opc == 0x0e, opc == 0x0f:
			n = 8
		case opc == 0x10, opc == 0x11, opc == 0x23, opc >= 0x70 && opc <= 0x91:
			i = skipLEB(expr, i)
		case opc == 0x92:
			i = skipLEB(expr, skipLEB(expr, i))
		default:
			return fmt.Errorf("DWARF operation %#x at offset %d of expression % x is not supported in call frame information", opc, i-1, expr)
		}
		i += n
		if i > len(expr) {
			return fmt.Errorf("DWARF expression % x ends inside the operand of operation %#x", expr, opc)
		}
	}
	return nil
}

// skipLEB returns the offset after the LEB128 number at b[i:].
func skipLEB(b []byte, i int) int {
	for i < len(b) {
		i++
		if b[i-1]&0x80 == 0 {
			return i
		}
	}
	return len(b) + 1
}

// undefinedRegs scans a CFA program for DW_CFA_undefined and returns the
// registers it names; ok is false when an instruction is not understood.
func undefinedRegs(prog []byte) (regs uint64, ok bool) {
	for i := 0; i < len(prog); {
		op := prog[i]
		i++
		var ulebs, slebs, fixed, blocks int
		switch {
		case op&0xc0 == 0x80: // DW_CFA_offset
			ulebs = 1
		case op&0xc0 != 0, op == 0x00, op == 0x0a, op == 0x0b: // advance_loc, restore, nop, remember/restore_state
		case op == 0x01: // set_loc
			fixed = 8
		case op >= 0x02 && op <= 0x04: // advance_loc1/2/4
			fixed = 1 << (op - 2)
		case op == 0x07: // DW_CFA_undefined
			start := i
			i = skipLEB(prog, i)
			if i > len(prog) {
				return 0, false
			}
			if n, w := decodeULEB(prog[start:i]); w && n < 64 {
				regs |= 1 << n
			}
			continue
		case op == 0x05, op == 0x09, op == 0x0c, op == 0x14: // two ULEBs
			ulebs = 2
		case op == 0x06, op == 0x08, op == 0x0d, op == 0x0e, op == 0x2e:
			ulebs = 1
		case op == 0x11, op == 0x12, op == 0x15: // ULEB, SLEB
			ulebs, slebs = 1, 1
		case op == 0x13:
			slebs = 1
		case op == 0x0f:
			blocks = 1
		case op == 0x10, op == 0x16:
			ulebs, blocks = 1, 1
		default:
			return 0, false
		}
		for range ulebs + slebs {
			i = skipLEB(prog, i)
		}
		for range blocks {
			start := i
			i = skipLEB(prog, i)
			if i > len(prog) {
				return 0, false
			}
			n, w := decodeULEB(prog[start:i])
			if !w || n > uint64(len(prog)-i) {
				return 0, false
			}
			i += int(n)
		}
		i += fixed
		if i > len(prog) {
			return 0, false
		}
	}
	return regs, true
}

// decodeULEB decodes a whole ULEB128 number; ok is false past 64 bits.
func decodeULEB(b []byte) (v uint64, ok bool) {
	for k, c := range b {
		if k >= 10 {
			return 0, false
		}
		v |= uint64(c&0x7f) << (7 * uint(k))
	}
	return v, true
}
