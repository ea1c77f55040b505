package session

import (
	"fmt"
	"path"

	godap "github.com/google/go-dap"
	"github.com/kdap/kdap/target/arch"
	"github.com/kdap/kdap/unwind"
)

// maxHandles bounds the variables references one session hands out; past it
// the oldest value handles are dropped (a client that keeps expanding
// forever must not grow the session without bound).
const maxHandles = 1 << 20

// refKind says what a variables reference expands.
type refKind int

const (
	refRegisters refKind = iota
	refArguments
	refLocals
	refValue
)

// varRef is what one variablesReference stands for.
type varRef struct {
	kind  refKind
	frame int       // DAP frame id, for the scopes
	val   *valueRef // for refValue
}

// newRef registers r and returns its reference.
func (s *Session) newRef(r *varRef) int {
	if len(s.refs) >= maxHandles {
		s.refs = map[int]*varRef{}
	}
	s.nextRef++
	s.refs[s.nextRef] = r
	return s.nextRef
}

// threads lists every kernel thread, the crashed one first.
func (s *Session) threads(r *godap.Request) (godap.Message, error) {
	t, err := s.target()
	if err != nil {
		return nil, err
	}
	ths, err := t.Threads()
	if err != nil {
		return nil, err
	}
	out := make([]godap.Thread, len(ths))
	for i, th := range ths {
		out[i] = godap.Thread{Id: int(th.ID), Name: th.DisplayName()}
	}
	return &godap.ThreadsResponse{Response: ok(r), Body: godap.ThreadsResponseBody{Threads: out}}, nil
}

// backtrace returns the cached backtrace of thread tid.
func (s *Session) backtrace(tid int64) (*threadStack, error) {
	if st, ok := s.stacks[tid]; ok {
		return st, nil
	}
	t, err := s.target()
	if err != nil {
		return nil, err
	}
	th, err := t.Thread(tid)
	if err != nil {
		return nil, withID(ErrIDBadReference, fmt.Errorf("thread %d: %w", tid, err))
	}
	frames, _ := s.unw.Backtrace(th)
	st := &threadStack{frames: frames, ids: make([]int, len(frames))}
	for i := range frames {
		s.nextFrame++
		st.ids[i] = s.nextFrame
		s.frames[s.nextFrame] = frameRef{tid: tid, index: i}
	}
	s.stacks[tid] = st
	return st, nil
}

// frame resolves a DAP frame id.
func (s *Session) frame(id int) (*threadStack, int, error) {
	ref, ok := s.frames[id]
	if !ok {
		return nil, 0, withID(ErrIDBadReference, fmt.Errorf("unknown frameId %d", id))
	}
	st, err := s.backtrace(ref.tid)
	if err != nil {
		return nil, 0, err
	}
	return st, ref.index, nil
}

// stackTrace returns a page of a thread's frames.
func (s *Session) stackTrace(r *godap.Request, a godap.StackTraceArguments) (godap.Message, error) {
	if _, err := s.target(); err != nil {
		return nil, err
	}
	st, err := s.backtrace(int64(a.ThreadId))
	if err != nil {
		return nil, err
	}
	start := min(max(a.StartFrame, 0), len(st.frames))
	end := len(st.frames)
	if a.Levels > 0 && start+a.Levels < end {
		end = start + a.Levels
	}
	out := make([]godap.StackFrame, 0, end-start)
	for i := start; i < end; i++ {
		out = append(out, s.stackFrame(st.ids[i], &st.frames[i]))
	}
	return &godap.StackTraceResponse{Response: ok(r), Body: godap.StackTraceResponseBody{StackFrames: out, TotalFrames: len(st.frames)}}, nil
}

// stackFrame converts one unwound frame.
func (s *Session) stackFrame(id int, f *unwind.Frame) godap.StackFrame {
	sf := godap.StackFrame{Id: id, Line: 0, Column: 0, InstructionPointerReference: fmt.Sprintf("%#x", f.PC), ModuleId: ModuleID}
	switch {
	case f.Kind == unwind.KindTrap:
		sf.Name = f.Label
		sf.PresentationHint = "label"
		return sf
	case f.Function == "":
		sf.Name = fmt.Sprintf("%#x", f.PC)
	case f.Inlined || f.Kind == unwind.KindInlined:
		sf.Name = f.Function + " [inlined]"
	default:
		sf.Name = f.Function
	}
	if f.File != "" {
		sf.Source = s.sourceFor(f.File)
		sf.Line = f.Line
		sf.Column = 1
	} else {
		sf.PresentationHint = "subtle"
	}
	return sf
}

// sourceFor describes a DWARF file name as a DAP source.
func (s *Session) sourceFor(file string) *godap.Source {
	return &godap.Source{Name: path.Base(file), Path: s.paths.Map(file)}
}

// scopes lists the scopes of a frame.
func (s *Session) scopes(r *godap.Request, a godap.ScopesArguments) (godap.Message, error) {
	st, i, err := s.frame(a.FrameId)
	if err != nil {
		return nil, err
	}
	var out []godap.Scope
	if st.frames[i].Kind != unwind.KindTrap {
		out = append(out,
			godap.Scope{Name: "Arguments", PresentationHint: "arguments", VariablesReference: s.newRef(&varRef{kind: refArguments, frame: a.FrameId})},
			godap.Scope{Name: "Locals", PresentationHint: "locals", VariablesReference: s.newRef(&varRef{kind: refLocals, frame: a.FrameId})})
	}
	t, err := s.target()
	if err != nil {
		return nil, err
	}
	out = append(out, godap.Scope{Name: "Registers", PresentationHint: "registers", NamedVariables: len(t.Arch.Regs),
		VariablesReference: s.newRef(&varRef{kind: refRegisters, frame: a.FrameId})})
	return &godap.ScopesResponse{Response: ok(r), Body: godap.ScopesResponseBody{Scopes: out}}, nil
}

// registerVars lists a frame's registers in the architecture's display
// order, each as wide as the register.
func registerVars(a *arch.Arch, f *unwind.Frame) []godap.Variable {
	out := make([]godap.Variable, 0, len(a.Regs))
	for _, r := range a.Regs {
		v := godap.Variable{Name: r.Name, EvaluateName: "$" + r.Name, Value: "<unavailable>", Type: fmt.Sprintf("uint%d_t", 8*r.Size)}
		if x, ok := f.Regs.Get(r.DWARF); ok {
			v.Value = fmt.Sprintf("%#0*x", 2*r.Size, x)
		}
		out = append(out, v)
	}
	return out
}

// variables expands a variables reference.
func (s *Session) variables(r *godap.Request, a godap.VariablesArguments) (godap.Message, error) {
	t, err := s.target()
	if err != nil {
		return nil, err
	}
	ref, found := s.refs[a.VariablesReference]
	if !found {
		return nil, withID(ErrIDBadReference, fmt.Errorf("unknown variablesReference %d", a.VariablesReference))
	}
	hex := a.Format != nil && a.Format.Hex
	var vars []godap.Variable
	switch ref.kind {
	case refRegisters:
		st, i, ferr := s.frame(ref.frame)
		if ferr != nil {
			return nil, ferr
		}
		vars = registerVars(t.Arch, &st.frames[i])
	case refArguments, refLocals:
		vars, err = s.frameVars(ref, hex)
	case refValue:
		vars, err = s.children(ref.val, a.Filter, a.Start, a.Count, hex)
	}
	if err != nil {
		return nil, withID(ErrIDEvaluate, err)
	}
	if vars == nil {
		vars = []godap.Variable{}
	}
	if ref.kind != refValue && (a.Start > 0 || a.Count > 0) {
		lo := min(a.Start, len(vars))
		hi := len(vars)
		if a.Count > 0 && lo+a.Count < hi {
			hi = lo + a.Count
		}
		vars = vars[lo:hi]
	}
	return &godap.VariablesResponse{Response: ok(r), Body: godap.VariablesResponseBody{Variables: vars}}, nil
}
