// Package stack builds backtraces of a target's threads: it connects the
// target's memory, symbols, DWARF and OS trap rules to the unwinder.
package stack

import (
	"errors"
	"fmt"
	"sort"

	"github.com/go-delve/delve/pkg/dwarf/frame"

	"github.com/kdap/kdap/target"
	"github.com/kdap/kdap/target/debuginfo"
	"github.com/kdap/kdap/target/symbols"
	"github.com/kdap/kdap/unwind"
)

// Unwinder unwinds the threads of one target. It is safe for concurrent
// use.
type Unwinder struct {
	t *target.Target
	u *unwind.Unwinder
}

// New prepares an unwinder for t. Call frame information is parsed on
// the first backtrace and kept.
func New(t *target.Target) (*Unwinder, error) {
	// The kernel file's addresses are the link-time ones; a relocated
	// kernel (Linux KASLR) runs them slid by t.Kernel.Slide. The symbol
	// table is already slid; CFI, text ranges and DWARF lookups are moved
	// here.
	slide := t.Kernel.Slide
	cfi := unwind.NewLazyCFIIndex(func() (frame.FrameDescriptionEntries, error) {
		var fdes frame.FrameDescriptionEntries
		var err error
		if d, derr := t.Kernel.DWARF(); derr == nil {
			fdes, err = d.FrameTable()
		} else {
			fdes, err = debuginfo.OpenFrames(t.Kernel.ELF)
		}
		if err != nil {
			t.Kernel.Problem("the kernel's call frame information cannot be read: %v", err)
		}
		if err != nil || slide == 0 {
			return fdes, err
		}
		moved := make(frame.FrameDescriptionEntries, len(fdes))
		for i, f := range fdes {
			c := *f // the table is shared: move a copy
			c.Translate(slide)
			moved[i] = &c
		}
		return moved, nil
	})
	s := &symbolizer{t: t}
	for sym := range t.Kernel.Syms.All() {
		if sym.Kind == symbols.Other && sym.Global && sym.Size == 0 && t.Kernel.InText(sym.Addr) {
			s.labels = append(s.labels, sym)
		}
	}
	sort.Slice(s.labels, func(i, j int) bool { return s.labels[i].Addr < s.labels[j].Addr })
	cfg := unwind.Config{Arch: t.Arch, Memory: t, CFI: cfi, Symbolizer: s, OS: osRules{t.OS.TrapFrame()}}
	if d, err := t.Kernel.DWARF(); err == nil {
		cfg.Inliner = inliner{d, slide, t.Kernel}
	}
	// An OS model may know unwind information of its own (Linux's ORC
	// tables), asked before CFI.
	if p, ok := t.OS.(frameInfoProvider); ok {
		fi, err := p.FrameInfo()
		if err != nil {
			return nil, err
		}
		cfg.Frames = fi
	}
	u, err := unwind.New(cfg)
	if err != nil {
		return nil, err
	}
	return &Unwinder{t: t, u: u}, nil
}

// frameInfoProvider is optionally implemented by a target.OS whose kernel
// carries unwind information the unwinder should ask before CFI; it returns
// nil when this kernel has none.
type frameInfoProvider interface {
	FrameInfo() (unwind.FrameInfo, error)
}

// maxStackSwitches bounds the stack switches of a frame-pointer chain
// (an NMI or interrupt stack, a double-fault stack, the thread's own).
const maxStackSwitches = 4

// Backtrace unwinds th from its saved registers, innermost frame first.
func (s *Unwinder) Backtrace(th *target.Thread) ([]unwind.Frame, unwind.StopReason) {
	start := th.Regs
	var opts []unwind.Option
	if th.SavedByCall {
		opts = append(opts, unwind.StartAtReturnAddress())
	}
	if th.StackHi > th.StackLo {
		opts = append(opts, unwind.StackBounds(th.StackLo, th.StackHi))
	}
	if !s.t.Kernel.HasText() {
		// Without the kernel's code or function symbols no trap entry
		// can be recognised: let the frame-pointer chain cross from an
		// interrupt stack to the thread's, checked link by link.
		opts = append(opts, unwind.FramePointerStackSwitches(maxStackSwitches))
	}
	frames, stop := s.u.Unwind(start, opts...)
	if stop.Kind == unwind.StopBadCFI {
		s.t.Kernel.Problem("the kernel's call frame information is damaged: %s", stop.Message)
	}
	return frames, stop
}

// symbolizer names code addresses from the kernel's ELF symbol table and
// the loaded modules' symbols the OS model reads from the dump.
type symbolizer struct {
	t      *target.Target
	labels []symbols.Symbol // global assembly labels in kernel text, by address
}

// FuncForPC names the function holding pc. Inside an assembly function, a
// global label between its start and pc names the code instead, as gdb's
// minimal symbols do: FreeBSD's trap entries fall into calltrap inside
// the vector's stub. A module's function is named as crash names it,
// "fw_cfg_sysfs_probe [qemu_fw_cfg]".
func (s *symbolizer) FuncForPC(pc uint64) (string, uint64, bool) {
	sym, _, ok := s.t.SymbolAt(pc)
	if !ok || sym.Kind != symbols.Func && sym.Kind != symbols.Other {
		return "", 0, false
	}
	if sym.Module != "" {
		return sym.Display(), sym.Addr, true
	}
	i := sort.Search(len(s.labels), func(i int) bool { return s.labels[i].Addr > pc })
	if i > 0 && s.labels[i-1].Addr > sym.Addr {
		l := s.labels[i-1]
		return l.Name, l.Addr, true
	}
	return sym.Name, sym.Addr, true
}

// InText reports whether pc is in the kernel's or a loaded module's code.
func (s *symbolizer) InText(pc uint64) bool { return s.t.InText(pc) }

// inliner answers inlined chains and lines from DWARF.
type inliner struct {
	d     *debuginfo.Data
	slide uint64         // running address - link-time address
	k     *target.Kernel // where problems with the DWARF are recorded
}

func (in inliner) InlinedAt(pc uint64) ([]unwind.InlinedCall, error) {
	chain, err := in.d.InlineChain(pc - in.slide)
	if err != nil {
		if errors.Is(err, debuginfo.ErrNotFound) {
			return nil, nil
		}
		in.k.Problem("inlined calls cannot be read from the kernel's DWARF: %v", err)
		return nil, err
	}
	out := make([]unwind.InlinedCall, len(chain))
	for i, c := range chain {
		out[i] = unwind.InlinedCall{Function: c.Name, CallFile: c.CallFile, CallLine: c.CallLine}
	}
	return out, nil
}

func (in inliner) LineForPC(pc uint64) (string, int, bool) {
	f, l, _, err := in.d.LineAt(pc - in.slide)
	if err != nil && !errors.Is(err, debuginfo.ErrNotFound) {
		in.k.Problem("the kernel's line table cannot be read: %v", err)
	}
	return f, l, err == nil && l > 0
}

// osRules adapts the OS model's trap knowledge to the unwinder.
type osRules struct{ r target.TrapRules }

func (o osRules) IsTrapEntry(fn string, _ uint64) bool { return o.r.IsTrapEntry(fn) }
func (o osRules) IsStackEnd(fn string, _ uint64) bool  { return o.r.IsThreadEntry(fn) }

func (o osRules) TrapFrame(f *unwind.Frame, _ unwind.Memory) (unwind.Regs, string, bool, error) {
	regs, marker, err := o.r.Interrupted(f.SP)
	if err != nil {
		return regs, "", false, fmt.Errorf("trap frame at %#x: %w", f.SP, err)
	}
	return regs, marker, true, nil
}
