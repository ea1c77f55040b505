package values

import (
	"debug/dwarf"
	"errors"
	"fmt"
	"sync"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"

	"github.com/kdap/kdap/session/cexpr"
	"github.com/kdap/kdap/target"
	"github.com/kdap/kdap/target/arch"
	"github.com/kdap/kdap/target/debuginfo"
	"github.com/kdap/kdap/target/symbols"
	"github.com/kdap/kdap/unwind"
)

// shared is what every Env of one target shares: converted types and
// answered type-name lookups (the parser asks about every identifier).
type shared struct {
	conv *typeConv

	mu    sync.Mutex
	names map[string]*cexpr.Type // typedef and tag lookups; nil = not found
}

var (
	sharedMu sync.Mutex
	sharedOf = map[*target.Target]*shared{}
)

// sharedFor returns t's cache, creating it on first use.
func sharedFor(t *target.Target, ptrSize int) *shared {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	s, ok := sharedOf[t]
	if !ok {
		s = &shared{conv: newTypeConv(ptrSize), names: map[string]*cexpr.Type{}}
		sharedOf[t] = s
	}
	return s
}

// Forget drops the types cached for t (call it when t is closed).
func Forget(t *target.Target) {
	sharedMu.Lock()
	delete(sharedOf, t)
	sharedMu.Unlock()
}

// Env resolves C names, types, registers and memory of a target for the
// expression evaluator: in a selected stack frame, or globals only. One Env
// is used by one goroutine at a time; the type cache Envs of a target
// share is safe for concurrent use.
type Env struct {
	t   *target.Target
	d   *debuginfo.Data // nil when the kernel has no DWARF
	sh  *shared
	mem unwind.Memory // the target's virtual memory
	ptr int           // pointer size in bytes
	// arch is the machine's architecture (registers, byte order).
	arch *arch.Arch
	// slide is the KASLR offset: DWARF speaks of link-time addresses, the
	// frames and memory of running ones.
	slide uint64

	// The selected frame; frames is nil for a globals-only Env.
	frames []unwind.Frame
	idx    int
	scope  debuginfo.DIEOffset // subprogram or inlined subroutine DIE
	fn     *debuginfo.Func     // the physical frame's function
	vars   []debuginfo.Var
	varErr error
}

var (
	_ cexpr.Env         = (*Env)(nil)
	_ cexpr.DataModeler = (*Env)(nil)
)

// NewGlobalEnv returns an Env that knows the kernel's globals, functions,
// enumerators and types but no frame.
func NewGlobalEnv(t *target.Target) *Env {
	e := &Env{t: t, mem: t, ptr: t.PtrSize(), arch: t.Arch, slide: t.Kernel.Slide}
	if d, err := t.Kernel.DWARF(); err == nil {
		e.d = d
		e.ptr = d.PtrSize()
	}
	e.sh = sharedFor(t, e.ptr)
	return e
}

// NewFrameEnv returns an Env for frame i of a backtrace of t: names
// resolve to that function's (or inlined subroutine's) parameters and
// locals first, registers to the frame's recovered registers.
func NewFrameEnv(t *target.Target, frames []unwind.Frame, i int) (*Env, error) {
	if i < 0 || i >= len(frames) {
		return nil, fmt.Errorf("frame %d does not exist (the backtrace has %d frames)", i, len(frames))
	}
	f := frames[i]
	if f.Kind == unwind.KindTrap {
		return nil, fmt.Errorf("frame %d is a trap marker (%s), not a function's frame", i, f.Label)
	}
	e := NewGlobalEnv(t)
	e.frames, e.idx = frames, i
	if e.d == nil {
		return e, nil
	}
	fn, err := e.d.FuncAt(f.LookupPC - e.slide)
	if err != nil {
		// No DWARF function: registers and globals still work.
		if errors.Is(err, debuginfo.ErrNotFound) {
			return e, nil
		}
		return nil, fmt.Errorf("frame %d (pc %#x): %w", i, f.PC, err)
	}
	e.fn, e.scope = fn, fn.Offset
	// Inlined frames share their physical frame's pc: the number of
	// frames before i with the same pc is i's depth in the inline chain.
	depth := 0
	for j := 0; j < i; j++ {
		if frames[j].Kind != unwind.KindTrap && frames[j].LookupPC == f.LookupPC {
			depth++
		}
	}
	chain, err := e.d.InlineChain(f.LookupPC - e.slide)
	if err != nil && !errors.Is(err, debuginfo.ErrNotFound) {
		return nil, fmt.Errorf("frame %d (pc %#x): inlined calls: %w", i, f.PC, err)
	}
	if depth < len(chain) {
		e.scope = chain[depth].Offset
	}
	return e, nil
}

// Frame returns the selected frame, or nil for a globals-only Env.
func (e *Env) Frame() *unwind.Frame {
	if e.frames == nil {
		return nil
	}
	return &e.frames[e.idx]
}

// Target returns the target the Env reads.
func (e *Env) Target() *target.Target { return e.t }

// frameVars loads the scope's variables once.
func (e *Env) frameVars() ([]debuginfo.Var, error) {
	if e.frames == nil || e.d == nil || e.scope == 0 {
		return nil, nil
	}
	if e.vars == nil && e.varErr == nil {
		e.vars, e.varErr = e.d.Vars(e.scope, e.frames[e.idx].LookupPC-e.slide)
		if e.vars == nil && e.varErr == nil {
			e.vars = []debuginfo.Var{}
		}
	}
	return e.vars, e.varErr
}

// LookupVar resolves name: the frame's parameters and locals (innermost
// block first), DWARF globals, ELF data symbols, functions, enumerators.
func (e *Env) LookupVar(name string) (cexpr.Value, error) {
	vars, err := e.frameVars()
	if err != nil {
		return cexpr.Value{}, err
	}
	best := -1
	for i, v := range vars {
		if v.Name == name && (best < 0 || v.Depth >= vars[best].Depth) {
			best = i
		}
	}
	if best >= 0 {
		return e.varValue(vars[best])
	}
	if e.d != nil {
		addr, t, err := e.d.Variable(name)
		if err == nil {
			return cexpr.Value{Type: e.sh.conv.convert(t), Addr: e.t.Kernel.Relocate(addr), HasAddr: true}, nil
		}
		if !errors.Is(err, debuginfo.ErrNotFound) {
			return cexpr.Value{}, err
		}
	}
	sym, symOK := e.t.Kernel.Syms.Lookup(name)
	if symOK && sym.Kind == symbols.Object {
		// A variable DWARF declares without a location (a linker alias)
		// keeps its declared type at the symbol's address.
		if e.d != nil {
			if t, err := e.d.VariableType(name); err == nil {
				return cexpr.Value{Type: e.sh.conv.convert(t), Addr: sym.Addr, HasAddr: true}, nil
			}
		}
		return cexpr.Value{Type: noDebugData, Addr: sym.Addr, HasAddr: true}, nil
	}
	if e.d != nil {
		if v, err := e.function(name); err == nil {
			return v, nil
		} else if !errors.Is(err, debuginfo.ErrNotFound) {
			return cexpr.Value{}, err
		}
	}
	if symOK && sym.Kind == symbols.Func {
		return cexpr.Value{Type: noDebugText, Addr: sym.Addr, HasAddr: true}, nil
	}
	if e.d != nil {
		val, t, err := e.d.Enumerator(name)
		if err == nil {
			return cexpr.IntValue(e.sh.conv.convert(t), uint64(val)), nil
		}
		if !errors.Is(err, debuginfo.ErrNotFound) {
			return cexpr.Value{}, err
		}
	}
	if symOK {
		// An assembly label or absolute symbol: code or data by the
		// section it lies in; an absolute symbol's value is its address.
		t := noDebugData
		if e.t.InText(sym.Addr) {
			t = noDebugText
		}
		return cexpr.Value{Type: t, Addr: sym.Addr, HasAddr: true}, nil
	}
	return cexpr.Value{}, fmt.Errorf("no symbol %q in the current context: %w", name, cexpr.ErrNotFound)
}

// Types of ELF symbols without debug information, spelled as gdb does.
var (
	noDebugData = &cexpr.Type{Kind: cexpr.Typedef, Name: "<data variable, no debug info>", Elem: cexpr.TypeInt, Size: 4}
	noDebugText = &cexpr.Type{Kind: cexpr.Func, Elem: cexpr.TypeInt}
)

// function returns the DWARF function name as a value of function type
// whose address is its entry.
func (e *Env) function(name string) (cexpr.Value, error) {
	f, err := e.d.Function(name)
	if err != nil {
		return cexpr.Value{}, err
	}
	ft := &cexpr.Type{Kind: cexpr.Func, Elem: cexpr.TypeVoid}
	if ent := e.entry(f.Offset); ent != nil {
		if toff, ok := ent.Val(dwarf.AttrType).(dwarf.Offset); ok {
			if rt, err := e.d.TypeAt(toff); err == nil {
				ft.Elem = e.sh.conv.convert(rt)
			}
		}
	}
	return cexpr.Value{Type: ft, Addr: e.t.Kernel.Relocate(f.Entry), HasAddr: true}, nil
}

// entry reads the DIE at off, nil when it cannot be read (debug/dwarf
// can panic on malformed input).
func (e *Env) entry(off debuginfo.DIEOffset) (ent *dwarf.Entry) {
	defer func() {
		if recover() != nil {
			ent = nil
		}
	}()
	r := e.d.DWARF().Reader()
	r.Seek(off)
	ent, err := r.Next()
	if err != nil || ent == nil || ent.Offset != off {
		return nil
	}
	return ent
}

// Register returns a register of the selected frame by any of its names
// in the architecture's table ($rip or $pc, $x29 or $fp).
func (e *Env) Register(name string) (cexpr.Value, error) {
	a := e.arch
	n, ok := a.RegNumber(name)
	if !ok {
		return cexpr.Value{}, fmt.Errorf("no register $%s: %w", name, cexpr.ErrNotFound)
	}
	reg := a.RegName(n)
	if e.frames == nil {
		return cexpr.Value{}, fmt.Errorf("register %s: no frame is selected", reg)
	}
	v, ok := e.frames[e.idx].Regs.Get(n)
	if !ok {
		return cexpr.Value{}, fmt.Errorf("register %s is not available in frame %d", reg, e.idx)
	}
	// As gdb types them: the pc points to code, the stack registers to
	// void, the others are longs; all of the target's width.
	m := e.DataModel()
	t := m.Long()
	switch n {
	case a.PC:
		t = m.PointerTo(codeType)
	case a.SP, a.FP:
		t = m.PointerTo(cexpr.TypeVoid)
	}
	val := m.IntValue(t, v)
	val.Register = reg
	return val, nil
}

// codeType is what the pc register points to.
var codeType = &cexpr.Type{Kind: cexpr.Func, Elem: cexpr.TypeVoid}

// DataModel returns the target's C data model: ILP32 when its pointers
// are 4 bytes, LP64 otherwise, in the architecture's byte order.
func (e *Env) DataModel() cexpr.DataModel {
	m := cexpr.LP64
	if e.ptr == 4 {
		m = cexpr.ILP32
	}
	if e.arch != nil && e.arch.ByteOrder != nil {
		m.ByteOrder = e.arch.ByteOrder
	}
	return m
}

// LookupType resolves a typedef or base type name.
func (e *Env) LookupType(name string) (*cexpr.Type, error) {
	t, err := e.named(name)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// LookupTag resolves `struct name`, `union name` or `enum name`.
func (e *Env) LookupTag(kind cexpr.Kind, name string) (*cexpr.Type, error) {
	t, err := e.named(kind.String() + " " + name)
	if err != nil {
		return nil, err
	}
	if t.Kind != kind {
		return nil, fmt.Errorf("'%s %s' is a %s in the DWARF: %w", kind, name, t.Kind, cexpr.ErrNotFound)
	}
	return t, nil
}

// named looks a type name up in the DWARF once per target.
func (e *Env) named(name string) (*cexpr.Type, error) {
	if e.d == nil {
		return nil, fmt.Errorf("type '%s': the kernel has no DWARF: %w", name, cexpr.ErrNotFound)
	}
	e.sh.mu.Lock()
	t, ok := e.sh.names[name]
	e.sh.mu.Unlock()
	if ok {
		if t == nil {
			return nil, fmt.Errorf("no type named '%s': %w", name, cexpr.ErrNotFound)
		}
		return t, nil
	}
	gt, err := e.d.Type(name)
	if err != nil && !errors.Is(err, debuginfo.ErrNotFound) {
		return nil, err
	}
	if err == nil {
		t = e.sh.conv.convert(gt)
	}
	e.sh.mu.Lock()
	if len(e.sh.names) > 1<<16 {
		clear(e.sh.names)
	}
	e.sh.names[name] = t
	e.sh.mu.Unlock()
	if t == nil {
		return nil, fmt.Errorf("%w", errors.Join(err, cexpr.ErrNotFound))
	}
	return t, nil
}

// ReadMemory reads kernel virtual memory.
func (e *Env) ReadMemory(addr uint64, p []byte) error { return e.mem.ReadVirt(p, addr) }

// Symbolize names the symbol holding addr in the kernel image or in a
// loaded module (by its bare name, as gdb prints <sym+off>).
func (e *Env) Symbolize(addr uint64) (string, uint64, bool) {
	s, off, ok := e.t.SymbolAt(addr)
	// Outside the kernel image and its modules the nearest kernel symbol
	// below is a label far away (a heap pointer is not "__per_cpu_end+…").
	if !ok || s.Kind == symbols.Abs || s.Module == "" && !e.t.Kernel.InImage(addr) {
		return "", 0, false
	}
	return s.Name, off, true
}

// ConvertType returns the evaluator's type for a DWARF type of the
// target (cached per target).
func (e *Env) ConvertType(t godwarf.Type) *cexpr.Type { return e.sh.conv.convert(t) }
