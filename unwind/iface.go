package unwind

import "github.com/go-delve/delve/pkg/dwarf/frame"

// Memory reads the debugged machine's virtual memory.
type Memory interface {
	// ReadVirt fills b with the bytes at virtual address va.
	ReadVirt(b []byte, va uint64) error
}

// CFI finds call frame information.
type CFI interface {
	// FDEForPC returns the frame description entry that covers pc, or nil
	// (and no error) when none does.
	FDEForPC(pc uint64) (*frame.FrameDescriptionEntry, error)
}

// Symbolizer names code addresses.
type Symbolizer interface {
	// FuncForPC returns the function that contains pc and its entry
	// address; ok is false when pc is in no known function.
	FuncForPC(pc uint64) (name string, entry uint64, ok bool)
	// InText reports whether pc lies in executable code of the debugged
	// program (kernel text and loaded modules).
	InText(pc uint64) bool
}

// InlinedCall is one level of an inlined call chain.
type InlinedCall struct {
	// Function is the inlined function's name.
	Function string
	// CallFile and CallLine locate the call that was inlined, in the
	// function that contains it.
	CallFile string
	CallLine int
}

// Inliner knows the inlined subroutines and line table of the program.
type Inliner interface {
	// InlinedAt returns the inlined calls whose code contains pc, innermost
	// first; empty when pc is in no inlined code.
	InlinedAt(pc uint64) ([]InlinedCall, error)
	// LineForPC returns the source position of pc.
	LineForPC(pc uint64) (file string, line int, ok bool)
}

// OSRules is what the operating-system model tells the unwinder about its
// kernel's stacks.
type OSRules interface {
	// IsTrapEntry reports whether function fn (entry address entry) is an
	// entry point whose frame holds the registers of interrupted code.
	IsTrapEntry(fn string, entry uint64) bool
	// TrapFrame reads the interrupted registers held by the trap-entry
	// frame f and returns them with the label of the marker frame (e.g.
	// "--- trap 0xc, rip = 0x…, rsp = 0x…, rbp = 0x… ---"). ok false means
	// f holds no trap frame after all and is unwound like any other frame.
	TrapFrame(f *Frame, mem Memory) (regs Regs, marker string, ok bool, err error)
	// IsStackEnd reports whether function fn ends a thread's stack (such as
	// FreeBSD's fork_trampoline).
	IsStackEnd(fn string, entry uint64) bool
}

// StackBounder is optionally implemented by an OSRules that can tell a
// thread's stack bounds from its starting registers; the StackBounds option
// of Unwind takes precedence.
type StackBounder interface {
	// StackBounds returns the thread stack [lo, hi) that holds the stack
	// pointer of start.
	StackBounds(start Regs) (lo, hi uint64, ok bool)
}

// FrameInfo is an optional source of unwind information that the unwinder
// asks before call frame information, such as the ORC tables of a Linux
// kernel. It may answer that it knows nothing of a frame (StepNone), and
// the unwinder then uses CFI and the frame pointer.
type FrameInfo interface {
	// Step unwinds the physical frame f (its Regs, and its LookupPC, the pc
	// to look information up at).
	Step(f *Frame, mem Memory) (Step, error)
}

// StepKind says what a FrameInfo found for a frame.
type StepKind int

// What a FrameInfo step can find.
const (
	// StepNone: no information for this pc.
	StepNone StepKind = iota
	// StepCall: Regs are the caller's registers.
	StepCall
	// StepTrap: the frame holds the registers of interrupted code (such as
	// a struct pt_regs); Regs are those registers.
	StepTrap
	// StepEnd: the frame is the outermost of its stack.
	StepEnd
)

// Step is the answer of a FrameInfo.
type Step struct {
	// Kind says what was found.
	Kind StepKind
	// Regs are the caller's (StepCall) or the interrupted (StepTrap)
	// registers.
	Regs Regs
	// CFA is the frame's canonical frame address, 0 if unknown.
	CFA uint64
	// Exact says the pc in Regs is the instruction to resume, not a return
	// address (always so for interrupted code).
	Exact bool
	// SwitchesStack says the caller legitimately runs on another stack
	// (the frame's CFA was loaded from memory), so the caller's stack
	// pointer need not be above the frame's.
	SwitchesStack bool
	// Label is the text of the marker frame of a StepTrap.
	Label string
	// UserMode says, for a StepTrap, that the interrupted code ran in user
	// mode: the unwind ends with the marker frame.
	UserMode bool
	// Reason says, for a StepEnd, why the stack ends there.
	Reason string
}
