package main

import (
	"fmt"
	"io"

	"github.com/kdap/kdap/session/stack"
	"github.com/kdap/kdap/target"
	"github.com/kdap/kdap/unwind"
)

func init() {
	register("bt", verb{summary: "print backtraces like kgdb (crashed thread, --tid N, or -a for all)",
		usage: "bt CORE [KERNEL] [--tid N | -a] [--args] [--json]", run: runBt})
}

// frameJSON is a frame as bt --json prints it.
type frameJSON struct {
	Index    int    `json:"index"`
	Kind     string `json:"kind"`
	PC       string `json:"pc"`
	Function string `json:"function,omitempty"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Inlined  bool   `json:"inlined,omitempty"`
	Label    string `json:"label,omitempty"`
	Method   string `json:"method"`
	Args     string `json:"args,omitempty"`
}

func runBt(args []string, w io.Writer) error {
	fs := newFlags("bt")
	tid := fs.Int64("tid", 0, "thread id (default: the crashed thread)")
	all := fs.Bool("a", false, "every thread")
	asJSON := fs.Bool("json", false, "print JSON")
	withArgs := fs.Bool("args", false, "show argument values like kgdb")
	noDWARF := fs.Bool("no-dwarf", false, "ignore the kernel's DWARF")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return fmt.Errorf("%w: expected CORE and KERNEL", errUsage)
	}
	t, rest, err := openDump(pos, target.Options{NoDWARF: *noDWARF})
	if err != nil {
		return err
	}
	defer t.Close()
	if len(rest) != 0 {
		return fmt.Errorf("%w: expected CORE and KERNEL, got %q too", errUsage, rest)
	}
	ths, err := t.Threads()
	if err != nil {
		return err
	}
	var sel []*target.Thread
	if *all {
		sel = ths
	} else {
		th, err := pickThread(t, *tid)
		if err != nil {
			return err
		}
		if th == nil {
			return fmt.Errorf("the dump records no crashed thread; use --tid N or -a")
		}
		sel = []*target.Thread{th}
	}
	u, err := stack.New(t)
	if err != nil {
		return err
	}
	type threadBt struct {
		ID     int64       `json:"id"`
		TID    int64       `json:"tid"`
		Name   string      `json:"name"`
		Frames []frameJSON `json:"frames"`
		Stop   string      `json:"stop"`
	}
	var out []threadBt
	for i, th := range sel {
		frames, stop := u.Backtrace(th)
		tb := threadBt{ID: th.ID, TID: th.TID, Name: th.DisplayName(), Stop: stop.Message}
		if !*asJSON {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "Thread %d %s (registers from %s):\n", th.ID, th.DisplayName(), th.RegsFrom)
		}
		n := 0
		args := make([]string, len(frames))
		for fi, f := range frames {
			fj := frameJSON{Index: n, Kind: f.Kind.String(), PC: fmt.Sprintf("%#x", f.PC), Function: f.Function,
				File: f.File, Line: f.Line, Inlined: f.Inlined, Label: f.Label, Method: f.Method.String()}
			if *withArgs && f.Kind != unwind.KindTrap {
				fj.Args = frameArgs(t, frames, fi)
				args[fi] = fj.Args
			}
			tb.Frames = append(tb.Frames, fj)
			if f.Kind != unwind.KindTrap {
				n++
			}
		}
		if !*asJSON {
			fmt.Fprint(w, stack.Format(frames, func(i int) string { return args[i] }))
			fmt.Fprintf(w, "(%s)\n", stop.Message)
		}
		out = append(out, tb)
	}
	if *asJSON {
		return writeJSON(w, out)
	}
	return nil
}
