package values

import (
	"debug/dwarf"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/go-delve/delve/pkg/dwarf/op"

	"github.com/kdap/kdap/session/cexpr"
	"github.com/kdap/kdap/target/debuginfo"
	"github.com/kdap/kdap/unwind"
)

// DWARF expression opcodes this package treats specially (DWARF 5, 7.7.1).
const (
	opAddr           = 0x03
	opConst8u        = 0x0e
	opReg0           = 0x50
	opReg31          = 0x6f
	opBreg0          = 0x70
	opBreg31         = 0x8f
	opRegx           = 0x90
	opFbreg          = 0x91
	opBregx          = 0x92
	opPiece          = 0x93
	opCallFrameCFA   = 0x9c
	opImplicitValue  = 0x9e
	opEntryValue     = 0xa3
	opGNUEntryValue  = 0xf3
	opImplicitPtr    = 0xa0
	opGNUImplicitPtr = 0xf2
)

// exprInfo is what a scan of a location expression found.
type exprInfo struct {
	regs        []uint64 // registers read (DW_OP_reg*, DW_OP_breg*)
	usesCFA     bool
	usesFB      bool
	emptyPiece  bool // a DW_OP_piece with nothing before it: an optimized-out part
	implicitPtr bool
	entry       []entryValue
	addrs       []int // offsets of DW_OP_addr operands
}

// entryValue is one DW_OP_entry_value in an expression: bytes [at, end)
// of the expression, with the inner expression.
type entryValue struct {
	at, end int
	inner   []byte
}

// errBadExpr wraps every malformed-expression error.
var errBadExpr = errors.New("malformed DWARF expression")

// scanExpr walks an expression's operations without executing them.
func scanExpr(b []byte, ptrSize int) (exprInfo, error) {
	var in exprInfo
	prevPiece := true // the start of the expression counts as after a piece
	for i := 0; i < len(b); {
		start := i
		opc := b[i]
		i++
		uleb := func() uint64 {
			if i > len(b) {
				return 0
			}
			v, n := readULEB(b[i:])
			if n == 0 {
				i = len(b) + 1
				return 0
			}
			i += n
			return v
		}
		sleb := func() {
			if i > len(b) {
				return
			}
			_, n := readSLEB(b[i:])
			if n == 0 {
				i = len(b) + 1
				return
			}
			i += n
		}
		isPiece := false
		switch {
		case opc == opAddr:
			in.addrs = append(in.addrs, i)
			i += ptrSize
		case opc >= 0x08 && opc <= 0x0f: // DW_OP_const1u .. const8s
			i += 1 << ((opc - 0x08) / 2)
		case opc == 0x10 || opc == 0x23 || opc == 0xa1 || opc == 0xa2 || opc == 0xa8 || opc == 0xa9:
			uleb() // constu, plus_uconst, addrx, constx, convert, reinterpret
		case opc == 0x11:
			sleb() // consts
		case opc == 0x15 || opc == 0x94 || opc == 0x95:
			i++ // pick, deref_size, xderef_size
		case opc == 0x2f || opc == 0x28 || opc == 0x98:
			i += 2 // skip, bra, call2
		case opc == 0x99:
			i += 4 // call4
		case opc >= opReg0 && opc <= opReg31:
			in.regs = append(in.regs, uint64(opc-opReg0))
		case opc >= opBreg0 && opc <= opBreg31:
			in.regs = append(in.regs, uint64(opc-opBreg0))
			sleb()
		case opc == opRegx:
			in.regs = append(in.regs, uleb())
		case opc == opFbreg:
			in.usesFB = true
			sleb()
		case opc == opBregx:
			in.regs = append(in.regs, uleb())
			sleb()
		case opc == opPiece:
			uleb()
			if prevPiece {
				in.emptyPiece = true
			}
			isPiece = true
		case opc == 0x9d: // bit_piece
			uleb()
			uleb()
			isPiece = true
		case opc == opCallFrameCFA:
			in.usesCFA = true
		case opc == opImplicitValue:
			n := uleb()
			if n > uint64(len(b)) {
				return in, fmt.Errorf("%w: DW_OP_implicit_value of %d bytes in a %d-byte expression", errBadExpr, n, len(b))
			}
			i += int(n)
		case opc == opImplicitPtr || opc == opGNUImplicitPtr:
			in.implicitPtr = true
			i += 4
			sleb()
		case opc == opEntryValue || opc == opGNUEntryValue:
			n := uleb()
			if n > uint64(len(b)) || i+int(n) > len(b) {
				return in, fmt.Errorf("%w: DW_OP_entry_value of %d bytes at offset %d overruns the %d-byte expression", errBadExpr, n, start, len(b))
			}
			in.entry = append(in.entry, entryValue{at: start, end: i + int(n), inner: b[i : i+int(n)]})
			i += int(n)
		case opc == 0xa4: // const_type: type, size byte, block
			uleb()
			if i < len(b) {
				i += 1 + int(b[i])
			} else {
				i = len(b) + 1
			}
		case opc == 0xa5: // regval_type
			in.regs = append(in.regs, uleb())
			uleb()
		case opc == 0xa6 || opc == 0xa7: // deref_type, xderef_type
			i++
			uleb()
		case opc == 0x9a: // call_ref
			i += 4
		}
		if i > len(b) {
			return in, fmt.Errorf("%w: operation %#x at offset %d is truncated (%d-byte expression)", errBadExpr, opc, start, len(b))
		}
		prevPiece = isPiece
	}
	return in, nil
}

// readULEB decodes an unsigned LEB128; n is 0 when b ends first or the
// number is longer than 10 bytes.
func readULEB(b []byte) (v uint64, n int) {
	for i, c := range b {
		if i == 10 {
			return 0, 0
		}
		v |= uint64(c&0x7f) << (7 * uint(i))
		if c&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// readSLEB decodes a signed LEB128.
func readSLEB(b []byte) (v int64, n int) {
	var shift uint
	for i, c := range b {
		if i == 10 {
			return 0, 0
		}
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v, i + 1
		}
	}
	return 0, 0
}

// varValue returns the value of a frame variable at the frame's pc.
func (e *Env) varValue(v debuginfo.Var) (cexpr.Value, error) {
	if v.Type == nil {
		if v.TypeErr != nil {
			return cexpr.Value{}, fmt.Errorf("variable %s: %w", v.Name, v.TypeErr)
		}
		return cexpr.Value{}, fmt.Errorf("variable %s has no type", v.Name)
	}
	t := e.sh.conv.convert(v.Type)
	switch cv := v.ConstValue.(type) {
	case int64:
		return cexpr.IntValue(t, uint64(cv)), nil
	case []byte:
		return cexpr.Value{Type: t, Bytes: cv}, nil
	}
	if !v.HasLoc {
		return cexpr.Value{Type: t, OptimizedOut: true}, nil
	}
	f := e.frames[e.idx]
	expr, err := e.d.LocationAt(v, f.LookupPC-e.slide)
	if err != nil {
		return cexpr.Value{}, fmt.Errorf("variable %s: %w", v.Name, err)
	}
	if len(expr) == 0 {
		return cexpr.Value{Type: t, OptimizedOut: true}, nil
	}
	val, err := e.evalLocation(expr, t)
	if err != nil {
		return cexpr.Value{}, fmt.Errorf("variable %s: %w", v.Name, err)
	}
	return val, nil
}

// evalLocation runs a location expression in the selected frame and
// returns the object it describes: in memory, in a register, computed, or
// unavailable when it needs a register or frame address the unwinder did
// not recover.
func (e *Env) evalLocation(expr []byte, t *cexpr.Type) (cexpr.Value, error) {
	ptr := e.ptr
	in, err := scanExpr(expr, ptr)
	if err != nil {
		return cexpr.Value{}, err
	}
	unavailable := cexpr.Value{Type: t, Unavailable: true}
	switch {
	case in.emptyPiece:
		// Part of the object is optimized out; showing the rest as a
		// whole would invent the missing bytes.
		return cexpr.Value{Type: t, OptimizedOut: true}, nil
	case in.implicitPtr:
		return unavailable, nil
	}
	f := e.frames[e.idx]
	if len(in.entry) > 0 {
		if expr = e.substituteEntryValues(expr, in.entry); expr == nil {
			return unavailable, nil
		}
		if in, err = scanExpr(expr, ptr); err != nil {
			return cexpr.Value{}, err
		}
	}
	expr = e.relocateAddrs(expr, in.addrs)
	for _, r := range in.regs {
		if r >= unwind.MaxRegs || !f.Regs.Has(int(r)) {
			return unavailable, nil
		}
	}
	regs := e.dwarfRegs()
	if in.usesCFA && regs.CFA == 0 {
		return unavailable, nil
	}
	if in.usesFB {
		fb, ok, err := e.frameBase(regs)
		if err != nil {
			return cexpr.Value{}, err
		}
		if !ok {
			return unavailable, nil
		}
		regs.FrameBase = int64(fb)
	}
	addr, pieces, err := e.execute(*regs, expr)
	if err != nil {
		return cexpr.Value{}, err
	}
	if pieces == nil {
		return cexpr.Value{Type: t, Addr: uint64(addr), HasAddr: true}, nil
	}
	size := cexpr.Resolve(t).Size
	if size <= 0 || size > 1<<16 {
		size = 8
	}
	if len(pieces) == 1 {
		p := pieces[0]
		switch p.Kind {
		case op.RegPiece:
			b := regs.Bytes(p.Val)
			if b == nil {
				return unavailable, nil
			}
			v := cexpr.Value{Type: t, Bytes: fit(b, size), Register: e.arch.RegName(int(p.Val))}
			return v, nil
		case op.ImmPiece:
			return cexpr.Value{Type: t, Bytes: fit(immBytes(p), size)}, nil
		case op.AddrPiece:
			return cexpr.Value{Type: t, Addr: p.Val, HasAddr: true}, nil
		}
	}
	// A composite: gather its pieces in order.
	var out []byte
	for _, p := range pieces {
		if p.Size <= 0 || p.Size > 1<<16 || len(out)+p.Size > 1<<16 {
			return cexpr.Value{}, fmt.Errorf("%w: piece of %d bytes", errBadExpr, p.Size)
		}
		switch p.Kind {
		case op.AddrPiece:
			b := make([]byte, p.Size)
			if err := e.readMem(p.Val, b); err != nil {
				return cexpr.Value{}, err
			}
			out = append(out, b...)
		case op.RegPiece:
			b := regs.Bytes(p.Val)
			if b == nil {
				return unavailable, nil
			}
			out = append(out, fit(b, int64(p.Size))...)
		case op.ImmPiece:
			out = append(out, fit(immBytes(p), int64(p.Size))...)
		}
	}
	return cexpr.Value{Type: t, Bytes: out}, nil
}

// fit returns b cut or zero-extended to n bytes.
func fit(b []byte, n int64) []byte {
	out := make([]byte, n)
	copy(out, b)
	return out
}

// immBytes returns the contents of an immediate piece.
func immBytes(p op.Piece) []byte {
	if p.Bytes != nil {
		return p.Bytes
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], p.Val)
	return b[:]
}

// dwarfRegs builds the DWARF expression machine's registers from the
// selected frame.
func (e *Env) dwarfRegs() *op.DwarfRegisters {
	f := e.frames[e.idx]
	a := e.arch
	regs := op.NewDwarfRegisters(0, nil, a.ByteOrder, uint64(a.PC), uint64(a.SP), uint64(a.FP), 0)
	for n := 0; n < unwind.MaxRegs; n++ {
		if v, ok := f.Regs.Get(n); ok {
			regs.AddReg(uint64(n), op.DwarfRegisterFromUint64(v))
		}
	}
	regs.CFA = int64(f.CFA)
	return regs
}

// execute runs an expression with Delve's DWARF stack machine, turning a
// panic on malformed input into an error.
func (e *Env) execute(regs op.DwarfRegisters, expr []byte) (addr int64, pieces []op.Piece, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errBadExpr, r)
		}
	}()
	read := func(b []byte, a uint64) (int, error) {
		if err := e.mem.ReadVirt(b, a); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	addr, pieces, err = op.ExecuteStackProgram(regs, expr, e.ptr, read)
	if err != nil {
		return 0, nil, fmt.Errorf("evaluating the location: %w", err)
	}
	return addr, pieces, nil
}

// relocateAddrs returns expr with the DW_OP_addr operands at the given
// offsets moved from link-time to running addresses (a copy; expr is the
// DWARF's own bytes).
func (e *Env) relocateAddrs(expr []byte, at []int) []byte {
	if e.slide == 0 || len(at) == 0 || e.ptr != 8 {
		return expr
	}
	out := append([]byte(nil), expr...)
	for _, i := range at {
		if i+8 <= len(out) {
			a := binary.LittleEndian.Uint64(out[i:])
			binary.LittleEndian.PutUint64(out[i:], e.t.Kernel.Relocate(a))
		}
	}
	return out
}

// frameBase evaluates the physical function's DW_AT_frame_base; ok is
// false when it needs something the frame lacks.
func (e *Env) frameBase(regs *op.DwarfRegisters) (uint64, bool, error) {
	if e.fn == nil {
		return 0, false, fmt.Errorf("DW_OP_fbreg outside a function")
	}
	ent := e.entry(e.fn.Offset)
	if ent == nil {
		return 0, false, fmt.Errorf("cannot read the DIE of function %s at %#x", e.fn.Name, e.fn.Offset)
	}
	fb, ok := ent.Val(dwarf.AttrFrameBase).([]byte)
	if !ok {
		return 0, false, fmt.Errorf("function %s (DIE %#x) has no DW_AT_frame_base expression", e.fn.Name, e.fn.Offset)
	}
	in, err := scanExpr(fb, e.ptr)
	if err != nil {
		return 0, false, err
	}
	if in.usesFB || len(in.entry) > 0 || in.implicitPtr {
		return 0, false, fmt.Errorf("%w: frame base of %s uses DW_OP_fbreg or DW_OP_entry_value", errBadExpr, e.fn.Name)
	}
	for _, n := range in.regs {
		if regs.Reg(n) == nil {
			return 0, false, nil
		}
	}
	if in.usesCFA && regs.CFA == 0 {
		return 0, false, nil
	}
	addr, pieces, err := e.execute(*regs, fb)
	if err != nil {
		return 0, false, err
	}
	if len(pieces) > 1 {
		return 0, false, fmt.Errorf("%w: frame base of %s is a composite", errBadExpr, e.fn.Name)
	}
	return uint64(addr), true, nil
}

// substituteEntryValues replaces each DW_OP_entry_value(DW_OP_regN) by the
// value register N had when the function was entered, known when N is
// preserved across calls and the caller's frame has it. It returns nil
// when some entry value cannot be known.
func (e *Env) substituteEntryValues(expr []byte, evs []entryValue) []byte {
	j, ok := e.callerIndex()
	if !ok {
		return nil
	}
	caller := e.frames[j]
	var out []byte
	last := 0
	for _, ev := range evs {
		reg := -1
		switch {
		case len(ev.inner) == 1 && ev.inner[0] >= opReg0 && ev.inner[0] <= opReg31:
			reg = int(ev.inner[0] - opReg0)
		case len(ev.inner) > 1 && ev.inner[0] == opRegx:
			if n, k := readULEB(ev.inner[1:]); k == len(ev.inner)-1 && n < unwind.MaxRegs {
				reg = int(n)
			}
		}
		if reg < 0 {
			return nil
		}
		v, ok := caller.Regs.Get(reg)
		if !ok || !e.arch.IsCalleeSaved(reg) {
			if v, ok = e.callSiteValue(reg); !ok {
				return nil
			}
		}
		out = append(out, expr[last:ev.at]...)
		out = append(out, opConst8u)
		out = binary.LittleEndian.AppendUint64(out, v)
		last = ev.end
	}
	return append(out, expr[last:]...)
}

// callerIndex returns the index of the frame that called the selected
// frame's physical function; ok is false across a trap boundary or at the
// end of the stack.
func (e *Env) callerIndex() (int, bool) {
	pc := e.frames[e.idx].LookupPC
	j := e.idx
	for j < len(e.frames) && e.frames[j].Kind != unwind.KindTrap && e.frames[j].LookupPC == pc {
		j++
	}
	if j >= len(e.frames) || e.frames[j].Kind == unwind.KindTrap {
		return 0, false
	}
	return j, true
}

// DWARF 5 call-site tags and attributes, and their GNU predecessors.
const (
	tagCallSite         dwarf.Tag  = 0x48
	tagCallSiteParam    dwarf.Tag  = 0x49
	tagGNUCallSite      dwarf.Tag  = 0x4109
	tagGNUCallSiteParam dwarf.Tag  = 0x410a
	attrCallReturnPC    dwarf.Attr = 0x7d
	attrCallValue       dwarf.Attr = 0x7e
	attrGNUCallValue    dwarf.Attr = 0x2111
	attrCallOrigin      dwarf.Attr = 0x7f
	attrCallTarget      dwarf.Attr = 0x83
	attrGNUCallTarget   dwarf.Attr = 0x2113
)

// maxCallSiteScan bounds the DIEs read while looking for a call site.
const maxCallSiteScan = 1 << 16

// callSiteValue returns the value the caller passed in register reg to the
// call that made the selected frame, from the caller's DW_TAG_call_site
// parameter (DW_AT_call_value) evaluated in the caller's frame.
func (e *Env) callSiteValue(reg int) (uint64, bool) {
	j, ok := e.callerIndex()
	if !ok || e.d == nil {
		return 0, false
	}
	caller := e.frames[j]
	fn, err := e.d.FuncAt(caller.LookupPC - e.slide)
	if err != nil {
		return 0, false
	}
	site := e.callSite(fn.Offset, caller.PC-e.slide, reg)
	if site.value == nil || e.fn == nil {
		return 0, false
	}
	// The call site must be the call of this frame's function: a caller
	// that called A, which tail-called this function, passed A's
	// arguments, not this function's.
	if site.origin != "" && site.origin != e.fn.Name {
		return 0, false
	}
	cenv, err := NewFrameEnv(e.t, e.frames, j)
	if err != nil {
		return 0, false
	}
	if site.origin == "" && site.target != nil {
		// An indirect call: its target must be this function's entry.
		addr, ok := cenv.scalarLocation(site.target)
		if !ok || addr != e.t.Kernel.Relocate(e.fn.Entry) {
			return 0, false
		}
	}
	return cenv.scalarLocation(site.value)
}

// scalarLocation evaluates a DWARF expression that computes a value (a
// call site's DW_AT_call_value or DW_AT_call_target) in the selected frame.
func (e *Env) scalarLocation(expr []byte) (uint64, bool) {
	v, err := e.evalLocation(expr, cexpr.TypeULong)
	if err != nil || v.Unavailable || v.OptimizedOut {
		return 0, false
	}
	switch {
	case len(v.Bytes) >= 8:
		return binary.LittleEndian.Uint64(v.Bytes), true
	case v.HasAddr:
		// A plain DWARF expression leaves the value (not an address) on
		// the stack.
		return v.Addr, true
	}
	return 0, false
}

// callSiteInfo is what a call site says about one call and one parameter.
type callSiteInfo struct {
	origin string // the called function's name (DW_AT_call_origin), if known
	target []byte // DW_AT_call_target: the address called, for an indirect call
	value  []byte // the parameter's DW_AT_call_value
}

// callSite finds, in the function whose DIE is at fnOff, the call site
// returning to retPC and its parameter passed in register reg: the called
// function and that parameter's DW_AT_call_value expression.
func (e *Env) callSite(fnOff debuginfo.DIEOffset, retPC uint64, reg int) (site callSiteInfo) {
	defer func() {
		if recover() != nil {
			site = callSiteInfo{}
		}
	}()
	r := e.d.DWARF().Reader()
	r.Seek(fnOff)
	root, err := r.Next()
	if err != nil || root == nil || !root.Children {
		return callSiteInfo{}
	}
	inSite := -1 // depth of the matching call site's children, or -1
	for depth, n := 1, 0; depth > 0 && n < maxCallSiteScan; n++ {
		k, err := r.Next()
		if err != nil || k == nil {
			return callSiteInfo{}
		}
		if k.Tag == 0 {
			if depth == inSite {
				return callSiteInfo{}
			}
			depth--
			continue
		}
		switch k.Tag {
		case tagCallSite, tagGNUCallSite:
			pc, ok := k.Val(attrCallReturnPC).(uint64)
			if !ok {
				pc, ok = k.Val(dwarf.AttrLowpc).(uint64)
			}
			if ok && pc == retPC && k.Children {
				inSite = depth + 1
				site.origin = e.calleeName(k)
				if t, ok := k.Val(attrCallTarget).([]byte); ok {
					site.target = t
				} else {
					site.target, _ = k.Val(attrGNUCallTarget).([]byte)
				}
			}
		case tagCallSiteParam, tagGNUCallSiteParam:
			if depth == inSite {
				loc, _ := k.Val(dwarf.AttrLocation).([]byte)
				if isReg(loc, reg) {
					var ok bool
					if site.value, ok = k.Val(attrCallValue).([]byte); !ok {
						site.value, _ = k.Val(attrGNUCallValue).([]byte)
					}
					return site
				}
			}
		}
		if k.Children {
			depth++
		}
	}
	return callSiteInfo{}
}

// calleeName names the function a call site calls (DW_AT_call_origin, or
// DW_AT_abstract_origin on a GNU call site), following a declaration to
// the name it declares; "" when the site does not say.
func (e *Env) calleeName(site *dwarf.Entry) string {
	off, ok := site.Val(attrCallOrigin).(dwarf.Offset)
	if !ok {
		if off, ok = site.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset); !ok {
			return ""
		}
	}
	for range 4 { // origin → specification → abstract origin chains are short
		ent := e.entry(off)
		if ent == nil {
			return ""
		}
		if name, ok := ent.Val(dwarf.AttrName).(string); ok {
			return name
		}
		if off, ok = ent.Val(dwarf.AttrSpecification).(dwarf.Offset); !ok {
			if off, ok = ent.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset); !ok {
				return ""
			}
		}
	}
	return ""
}

// isReg reports whether loc is exactly DW_OP_reg<reg> or DW_OP_regx reg.
func isReg(loc []byte, reg int) bool {
	if len(loc) == 1 && loc[0] >= opReg0 && loc[0] <= opReg31 {
		return int(loc[0]-opReg0) == reg
	}
	if len(loc) > 1 && loc[0] == opRegx {
		n, k := readULEB(loc[1:])
		return k == len(loc)-1 && n == uint64(reg)
	}
	return false
}
