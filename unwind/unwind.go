// Package unwind turns a thread's starting registers into stack frames:
// DWARF call frame information first, the frame-pointer chain where no CFI
// covers a pc, trap frames through rules the operating-system model
// provides, and inlined subroutines as frames of their own. It knows nothing
// about any particular kernel.
package unwind

import (
	"errors"
	"fmt"
)

// Kind classifies a frame.
type Kind int

// Frame kinds.
const (
	// KindNormal is a physical frame: a function's activation.
	KindNormal Kind = iota
	// KindInlined is an inlined subroutine inside the physical frame that
	// follows it.
	KindInlined
	// KindTrap marks a trap boundary: the frames after it were interrupted.
	KindTrap
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindNormal:
		return "normal"
	case KindInlined:
		return "inlined"
	case KindTrap:
		return "trap"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Method says how a frame's registers were found.
type Method int

// Ways registers are recovered.
const (
	// MethodStart: the starting registers given to Unwind.
	MethodStart Method = iota
	// MethodCFI: the callee's DWARF call frame information.
	MethodCFI
	// MethodFP: the callee's frame-pointer chain.
	MethodFP
	// MethodEntry: the callee stopped on its first instruction, so the
	// return address is on top of its stack.
	MethodEntry
	// MethodTrap: a trap frame read through OSRules or a FrameInfo.
	MethodTrap
	// MethodORC: the callee's entry in a FrameInfo (Linux's ORC tables).
	MethodORC
)

// String names the method.
func (m Method) String() string {
	switch m {
	case MethodStart:
		return "start"
	case MethodCFI:
		return "cfi"
	case MethodFP:
		return "frame pointer"
	case MethodEntry:
		return "function entry"
	case MethodTrap:
		return "trap frame"
	case MethodORC:
		return "orc"
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// Frame is one frame of a backtrace.
type Frame struct {
	// Kind says whether this is a physical, inlined or trap-marker frame.
	Kind Kind
	// PC is the frame's program counter: the current instruction for the
	// first frame and for interrupted frames, a return address otherwise.
	PC uint64
	// LookupPC is the pc used for symbol, line and CFI lookups: PC-1 for
	// frames reached through a return address (which points after the
	// call), PC itself otherwise.
	LookupPC uint64
	// CFA is the canonical frame address (the caller's stack pointer before
	// the call); 0 when it could not be computed.
	CFA uint64
	// SP is the frame's stack pointer.
	SP uint64
	// Regs are the registers recovered for the frame; those a call does
	// not preserve are unavailable in every frame but the first and the
	// interrupted ones.
	Regs Regs
	// Method says how Regs were found.
	Method Method
	// Function and Entry name the function (for an inlined frame, the
	// inlined function); Function is empty when the pc has no symbol.
	Function string
	Entry    uint64
	// File and Line are the source position of the frame.
	File string
	Line int
	// Inlined is true for an inlined subroutine's frame.
	Inlined bool
	// CallFile and CallLine locate, for an inlined frame, the call that was
	// inlined.
	CallFile string
	CallLine int
	// Label is the marker text of a KindTrap frame.
	Label string
	// BadCFI says why the CFI that covers LookupPC could not be used (a
	// corrupt .eh_frame, an unsupported rule); the caller was then found
	// as for a pc without CFI, by frame pointer. Empty otherwise.
	BadCFI string
}

// StopKind classifies why an unwind ended.
type StopKind int

// Reasons an unwind ends.
const (
	// StopEndOfStack: the outermost frame was reached.
	StopEndOfStack StopKind = iota
	// StopNotInText: a return address is not in program text.
	StopNotInText
	// StopOutsideStack: a CFA left the thread's stack.
	StopOutsideStack
	// StopNotGrowing: a CFA did not grow.
	StopNotGrowing
	// StopRepeated: a (pc, CFA) pair repeated.
	StopRepeated
	// StopReadError: stack memory could not be read.
	StopReadError
	// StopFrameLimit: the frame limit was reached.
	StopFrameLimit
	// StopNoUnwindInfo: neither CFI nor the frame-pointer chain could
	// unwind a frame.
	StopNoUnwindInfo
	// StopBadCFI: the CFI for a pc could not be evaluated.
	StopBadCFI
	// StopTrapError: a trap frame could not be read.
	StopTrapError
	// StopBadStart: the starting registers lack a pc or stack pointer.
	StopBadStart
)

// StopReason says why an unwind ended.
type StopReason struct {
	// Kind classifies the reason.
	Kind StopKind
	// Message is the human-readable reason, e.g.
	// "end of stack (fork_trampoline)".
	Message string
	// Err is the underlying error, if any.
	Err error
}

// String returns the message.
func (s StopReason) String() string { return s.Message }

// Unwinder unwinds stacks of one program image. It is safe for concurrent
// use when its Memory, CFI, Symbolizer, Inliner and OSRules are.
type Unwinder struct {
	arch *Arch
	mem  Memory
	cfi  CFI
	sym  Symbolizer
	inl  Inliner
	os   OSRules
	fi   FrameInfo
}

// Config gathers what an Unwinder reads from.
type Config struct {
	// Arch is the architecture (required).
	Arch *Arch
	// Memory reads the stack (required).
	Memory Memory
	// CFI finds call frame information; nil unwinds by frame pointer only.
	CFI CFI
	// Symbolizer names functions and tells text from data (required).
	Symbolizer Symbolizer
	// Inliner expands inlined calls and finds source lines (optional).
	Inliner Inliner
	// OS provides trap frames and stack ends (optional).
	OS OSRules
	// Frames is unwind information asked before CFI (optional).
	Frames FrameInfo
}

// New returns an Unwinder over cfg.
func New(cfg Config) (*Unwinder, error) {
	if cfg.Memory == nil {
		return nil, errors.New("unwind: Config.Memory is required")
	}
	if cfg.Symbolizer == nil {
		return nil, errors.New("unwind: Config.Symbolizer is required")
	}
	a := cfg.Arch
	if a == nil {
		return nil, errors.New("unwind: Config.Arch is required")
	}
	if a.PtrSize != 4 && a.PtrSize != 8 || a.NumRegs <= 0 || a.NumRegs > MaxRegs {
		return nil, fmt.Errorf("unwind: architecture %q: pointer size %d or register count %d unsupported", a.Name, a.PtrSize, a.NumRegs)
	}
	return &Unwinder{arch: a, mem: cfg.Memory, cfi: cfg.CFI, sym: cfg.Symbolizer, inl: cfg.Inliner, os: cfg.OS, fi: cfg.Frames}, nil
}

// DefaultMaxFrames is the frame limit when no MaxFrames option is given.
const DefaultMaxFrames = 256

// options are the per-call settings of Unwind.
type options struct {
	lo, hi    uint64
	bounded   bool
	maxFrames int
	noCFI     bool
	startRet  bool
	// fpSwitches is how many times a frame-pointer step may move to
	// another stack; switches counts those taken in this run.
	fpSwitches int
	switches   int
}

// Option adjusts one Unwind call.
type Option func(*options)

// StackBounds gives the thread's stack [lo, hi): once the unwinder is on
// that stack, a CFA that leaves it ends the unwind.
func StackBounds(lo, hi uint64) Option {
	return func(o *options) { o.lo, o.hi, o.bounded = lo, hi, lo < hi }
}

// MaxFrames sets the frame limit (counting inlined and marker frames).
func MaxFrames(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxFrames = n
		}
	}
}

// StartAtReturnAddress says the starting pc is a return address, as in a
// context saved by a call (a kernel's PCB: cpu_switch, savectx), so the
// first frame is looked up at pc-1 and shows the line of that call.
func StartAtReturnAddress() Option {
	return func(o *options) { o.startRet = true }
}

// FramePointerStackSwitches lets up to n frame-pointer steps move to
// another stack (an interrupt or NMI stack back to the thread's), for
// kernels whose trap entries the unwinder cannot recognise because the
// kernel file has no function symbols. Each such step must look like a
// frame chain on the new stack: an aligned frame pointer whose return
// address is in kernel text and whose saved frame pointer is 0 or above
// it, within 1 MiB.
func FramePointerStackSwitches(n int) Option {
	return func(o *options) { o.fpSwitches = n }
}

// WithoutCFI ignores call frame information and the Config's FrameInfo,
// unwinding by frame pointer.
func WithoutCFI() Option {
	return func(o *options) { o.noCFI = true }
}

// state is one physical frame being unwound.
type state struct {
	regs   Regs
	exact  bool // pc is the current instruction, not a return address
	method Method
}

// run holds one Unwind call's progress.
type run struct {
	u      *Unwinder
	o      options
	frames []Frame
	seen   map[[2]uint64]bool
	// badCFI is set by cfiUnwind when the current step's CFI cannot be
	// used; step moves it to the frame.
	badCFI error
}

// Unwind returns the frames of the thread whose registers are start,
// innermost first, and why the unwind stopped there.
func (u *Unwinder) Unwind(start Regs, opts ...Option) ([]Frame, StopReason) {
	r := &run{u: u, o: options{maxFrames: DefaultMaxFrames}, seen: map[[2]uint64]bool{}}
	for _, f := range opts {
		f(&r.o)
	}
	a := u.arch
	if !r.o.bounded && u.os != nil {
		if sb, ok := u.os.(StackBounder); ok {
			if lo, hi, ok := sb.StackBounds(start); ok && lo < hi {
				r.o.lo, r.o.hi, r.o.bounded = lo, hi, true
			}
		}
	}
	if !start.Has(a.PC) || !start.Has(a.SP) {
		return nil, StopReason{Kind: StopBadStart, Message: fmt.Sprintf("starting registers lack %s or %s", a.RegName(a.PC), a.RegName(a.SP))}
	}
	cur := state{regs: start, exact: !r.o.startRet, method: MethodStart}
	for {
		next, stop, done := r.step(cur)
		if done {
			return r.frames, stop
		}
		cur = next
	}
}

// step emits the frames of cur and computes its caller.
func (r *run) step(cur state) (next state, stop StopReason, done bool) {
	u, a := r.u, r.u.arch
	pc, _ := cur.regs.Get(a.PC)
	sp, _ := cur.regs.Get(a.SP)
	lookup := pc
	if !cur.exact && pc > 0 {
		lookup = pc - 1
	}
	fn, entry, _ := u.sym.FuncForPC(lookup)
	phys := Frame{
		Kind: KindNormal, PC: pc, LookupPC: lookup, SP: sp,
		Regs: cur.regs, Method: cur.method, Function: fn, Entry: entry,
	}
	if u.os != nil && fn != "" && u.os.IsStackEnd(fn, entry) {
		if !r.emit(phys) {
			return state{}, r.limit(), true
		}
		return state{}, StopReason{Kind: StopEndOfStack, Message: fmt.Sprintf("end of stack (%s)", fn)}, true
	}
	if u.fi != nil && !r.o.noCFI {
		if next, stop, done, ok := r.frameInfo(cur, phys); ok {
			return next, stop, done
		}
	}
	if u.os != nil && fn != "" && u.os.IsTrapEntry(fn, entry) {
		regs, label, ok, err := u.os.TrapFrame(&phys, u.mem)
		if err != nil || ok {
			if !r.emit(phys) {
				return state{}, r.limit(), true
			}
			return r.trap(&phys, regs, label, true, false, err)
		}
	}
	if cur.method == MethodStart && !u.sym.InText(pc) {
		if !r.emit(phys) {
			return state{}, r.limit(), true
		}
		return state{}, StopReason{Kind: StopNotInText, Message: fmt.Sprintf("starting pc %#x not in kernel text", pc)}, true
	}
	r.badCFI = nil
	caller, cfa, method, uerr := r.unwindOne(cur, lookup, entry, sp)
	phys.CFA = cfa
	if r.badCFI != nil {
		phys.BadCFI = r.badCFI.Error()
	}
	if !r.emit(phys) {
		return state{}, r.limit(), true
	}
	if uerr != nil {
		return state{}, r.failure(uerr, lookup), true
	}
	switched := false
	if method == MethodFP && cfa <= sp {
		switched = true // fpStep checked this move to another stack
	}
	if s, bad := r.check(caller, cfa, sp, switched); bad {
		return state{}, s, true
	}
	return state{regs: caller, method: method}, StopReason{}, false
}

// limit is the frame-limit stop reason.
func (r *run) limit() StopReason {
	return StopReason{Kind: StopFrameLimit, Message: fmt.Sprintf("frame limit reached (%d frames)", r.o.maxFrames)}
}

// emit appends phys preceded by its inlined frames; false when the frame
// limit cut it short.
func (r *run) emit(phys Frame) bool {
	var chain []InlinedCall
	if r.u.inl != nil {
		if file, line, ok := r.u.inl.LineForPC(phys.LookupPC); ok {
			phys.File, phys.Line = file, line
		}
		// A failed inline lookup only loses the inlined frames.
		chain, _ = r.u.inl.InlinedAt(phys.LookupPC)
	}
	file, line := phys.File, phys.Line
	for _, c := range chain {
		f := phys
		f.Kind, f.Inlined = KindInlined, true
		f.Function, f.Entry = c.Function, 0
		f.File, f.Line = file, line
		f.CallFile, f.CallLine = c.CallFile, c.CallLine
		if !r.push(f) {
			return false
		}
		file, line = c.CallFile, c.CallLine
	}
	phys.File, phys.Line = file, line
	return r.push(phys)
}

// push appends f unless the frame limit is reached.
func (r *run) push(f Frame) bool {
	if len(r.frames) >= r.o.maxFrames {
		return false
	}
	r.frames = append(r.frames, f)
	return true
}

// trap continues from the registers a trap-entry frame holds, after a
// marker frame; err is TrapFrame's error. exact says the interrupted pc is
// the instruction to resume; user ends the unwind after the marker, the
// interrupted code having run in user mode.
func (r *run) trap(phys *Frame, regs Regs, label string, exact, user bool, err error) (next state, stop StopReason, done bool) {
	a := r.u.arch
	if err != nil {
		return state{}, StopReason{Kind: StopTrapError, Message: fmt.Sprintf("cannot read the trap frame of %s: %v", phys.Function, err), Err: err}, true
	}
	pc, okPC := regs.Get(a.PC)
	sp, okSP := regs.Get(a.SP)
	marker := Frame{Kind: KindTrap, PC: pc, LookupPC: pc, SP: sp, Regs: regs, Method: MethodTrap, Label: label}
	if !r.push(marker) {
		return state{}, r.limit(), true
	}
	if user {
		return state{}, StopReason{Kind: StopEndOfStack, Message: fmt.Sprintf("end of stack (user-mode registers in the trap frame of %s)", phys.Function)}, true
	}
	if !okPC || !okSP {
		return state{}, StopReason{Kind: StopTrapError, Message: fmt.Sprintf("trap frame of %s lacks %s or %s", phys.Function, a.RegName(a.PC), a.RegName(a.SP))}, true
	}
	if !r.u.sym.InText(pc) {
		return state{}, StopReason{Kind: StopEndOfStack, Message: fmt.Sprintf("end of stack (interrupted pc %#x is not in kernel text)", pc)}, true
	}
	key := [2]uint64{pc, sp}
	if r.seen[key] {
		return state{}, StopReason{Kind: StopRepeated, Message: fmt.Sprintf("trap frame repeats pc %#x, sp %#x", pc, sp)}, true
	}
	r.seen[key] = true
	return state{regs: regs, exact: exact, method: MethodTrap}, StopReason{}, false
}

// failure turns an unwind error into a stop reason.
func (r *run) failure(err error, lookup uint64) StopReason {
	var re *ReadError
	switch {
	case errors.Is(err, errUndefinedRA):
		return StopReason{Kind: StopEndOfStack, Message: fmt.Sprintf("end of stack (CFI marks the return address undefined at pc %#x)", lookup)}
	case errors.Is(err, errFPEnd) && r.u.os != nil:
		// The OS model names the functions that end a stack; a zero frame
		// pointer elsewhere means a damaged chain.
		return StopReason{Kind: StopNoUnwindInfo, Message: fmt.Sprintf("no unwind info for pc %#x and frame pointer chain invalid: %s is 0", lookup, r.u.arch.RegName(r.u.arch.FP)), Err: err}
	case errors.Is(err, errFPEnd):
		return StopReason{Kind: StopEndOfStack, Message: "end of stack (frame pointer is 0)"}
	case errors.As(err, &re):
		return StopReason{Kind: StopReadError, Message: re.Error(), Err: err}
	case errors.Is(err, errNoUnwind):
		return StopReason{Kind: StopNoUnwindInfo, Message: err.Error(), Err: err}
	}
	return StopReason{Kind: StopBadCFI, Message: fmt.Sprintf("cannot unwind pc %#x: %v", lookup, err), Err: err}
}

// check applies the sanity rules to a computed caller. switched says the
// step moved to another stack on purpose (a FrameInfo said so), where the
// CFA need not be above the stack pointer.
func (r *run) check(caller Regs, cfa, sp uint64, switched bool) (StopReason, bool) {
	a := r.u.arch
	ra, _ := caller.Get(a.PC)
	csp, _ := caller.Get(a.SP)
	if ra == 0 && r.u.os == nil {
		return StopReason{Kind: StopEndOfStack, Message: "end of stack (return address 0)"}, true
	}
	if !r.u.sym.InText(ra) {
		return StopReason{Kind: StopNotInText, Message: fmt.Sprintf("return address %#x not in kernel text", ra)}, true
	}
	// An interrupt or exception stack may lie above or below the stack it
	// returns to: only a step that says it switches stacks may go down.
	// Guessed steps (CFI, the frame pointer) may not, so a damaged stack
	// pointer is not rescued by a chain that happens to lead back.
	if !switched && (cfa <= sp || csp <= sp) {
		return StopReason{Kind: StopNotGrowing, Message: fmt.Sprintf("CFA %#x does not grow past the stack pointer %#x", cfa, sp)}, true
	}
	if r.o.bounded && sp >= r.o.lo && sp < r.o.hi && (cfa < r.o.lo || cfa > r.o.hi) {
		return StopReason{Kind: StopOutsideStack, Message: fmt.Sprintf("CFA %#x outside the thread's stack [%#x, %#x)", cfa, r.o.lo, r.o.hi)}, true
	}
	key := [2]uint64{ra, csp}
	if r.seen[key] {
		return StopReason{Kind: StopRepeated, Message: fmt.Sprintf("frame repeats pc %#x, CFA %#x", ra, cfa)}, true
	}
	r.seen[key] = true
	return StopReason{}, false
}

// frameInfo unwinds phys through the Config's FrameInfo; ok is false when
// it had nothing to say, so that CFI and the frame pointer are tried.
func (r *run) frameInfo(cur state, phys Frame) (next state, stop StopReason, done, ok bool) {
	u := r.u
	st, err := u.fi.Step(&phys, u.mem)
	if err == nil && st.Kind == StepNone {
		return state{}, StopReason{}, false, false
	}
	phys.CFA = st.CFA
	if !r.emit(phys) {
		return state{}, r.limit(), true, true
	}
	if err != nil {
		var re *ReadError
		if errors.As(err, &re) {
			return state{}, StopReason{Kind: StopReadError, Message: err.Error(), Err: err}, true, true
		}
		return state{}, StopReason{Kind: StopBadCFI, Message: fmt.Sprintf("cannot unwind pc %#x: %v", phys.LookupPC, err), Err: err}, true, true
	}
	switch st.Kind {
	case StepEnd:
		msg := "end of stack"
		if st.Reason != "" {
			msg += " (" + st.Reason + ")"
		}
		return state{}, StopReason{Kind: StopEndOfStack, Message: msg}, true, true
	case StepTrap:
		next, stop, done := r.trap(&phys, st.Regs, st.Label, st.Exact, st.UserMode, nil)
		return next, stop, done, true
	case StepCall:
	default:
		return state{}, StopReason{Kind: StopBadCFI, Message: fmt.Sprintf("cannot unwind pc %#x: unknown step kind %d", phys.LookupPC, st.Kind)}, true, true
	}
	caller := st.Regs
	r.refine(cur, phys.LookupPC, &caller, st.CFA)
	if s, bad := r.check(caller, st.CFA, phys.SP, st.SwitchesStack); bad {
		return state{}, s, true, true
	}
	return state{regs: caller, exact: st.Exact, method: MethodORC}, StopReason{}, false, true
}

// refine adds to caller, found through a FrameInfo, the callee-saved
// registers that CFI recovers for the same pc, when CFI agrees on the CFA
// and the return address: ORC-like tables track only the stack and frame
// pointers, and the other callee-saved registers matter for the caller's
// variables.
func (r *run) refine(cur state, lookup uint64, caller *Regs, cfa uint64) {
	u, a := r.u, r.u.arch
	if u.cfi == nil {
		return
	}
	row, err := rowFor(u.cfi, lookup)
	if err != nil || row == nil {
		return
	}
	c2, cfa2, err := cfiStep(a, u.mem, row, &cur.regs)
	if err != nil || cfa2 != cfa {
		return
	}
	pc1, _ := caller.Get(a.PC)
	if pc2, ok := c2.Get(a.PC); !ok || pc2 != pc1 {
		return
	}
	for _, n := range a.CalleeSaved {
		if n == a.SP || n == a.PC || caller.Has(n) {
			continue
		}
		if v, ok := c2.Get(n); ok {
			caller.Set(n, v)
		}
	}
}
