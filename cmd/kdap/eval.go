package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/kdap/kdap/session/cexpr"
	"github.com/kdap/kdap/session/stack"
	"github.com/kdap/kdap/session/values"
	"github.com/kdap/kdap/target"
	"github.com/kdap/kdap/unwind"
)

func init() {
	register("eval", verb{summary: "evaluate a C expression in a thread's frame (like gdb's print)",
		usage: "eval CORE [KERNEL] [--tid N] [--frame K] [--hex] EXPR", run: runEval})
}

func runEval(args []string, w io.Writer) error {
	fs := newFlags("eval")
	tid := fs.Int64("tid", 0, "thread id (default: the crashed thread)")
	frame := fs.Int("frame", 0, "frame number as bt prints it")
	hex := fs.Bool("hex", false, "print integers in hexadecimal")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return fmt.Errorf("%w: expected CORE, KERNEL and an expression", errUsage)
	}
	t, rest, err := openDump(pos, target.Options{})
	if err != nil {
		return err
	}
	defer t.Close()
	if len(rest) == 0 {
		return fmt.Errorf("%w: expected an expression after CORE and KERNEL", errUsage)
	}
	defer values.Forget(t)
	env, err := frameEnv(t, *tid, *frame)
	if err != nil {
		return err
	}
	v, err := cexpr.Evaluate(env, strings.Join(rest, " "))
	if err != nil {
		return err
	}
	fmt.Fprintln(w, values.Format(env, v, *hex))
	return nil
}

// frameEnv returns the evaluation environment of frame number n (as bt
// numbers frames: trap markers are not counted) of thread tid, or of the
// crashed thread when tid is 0.
func frameEnv(t *target.Target, tid int64, n int) (*values.Env, error) {
	th, err := pickThread(t, tid)
	if err != nil {
		return nil, err
	}
	if th == nil {
		return values.NewGlobalEnv(t), nil
	}
	u, err := stack.New(t)
	if err != nil {
		return nil, err
	}
	frames, _ := u.Backtrace(th)
	k := 0
	for i, f := range frames {
		if f.Kind == unwind.KindTrap {
			continue
		}
		if k == n {
			return values.NewFrameEnv(t, frames, i)
		}
		k++
	}
	return nil, fmt.Errorf("thread %d has %d frames; there is no frame %d", th.TID, k, n)
}

// pickThread returns the thread whose ID (else TID) is tid, or the
// crashed thread when tid is 0 (nil when the dump records none).
func pickThread(t *target.Target, tid int64) (*target.Thread, error) {
	if tid != 0 {
		return t.ThreadByTID(tid)
	}
	return t.CrashedThread()
}

// frameArgs formats a frame's arguments as kgdb does: "oidp=0x…, arg2=3";
// structures and arrays passed by value show as "...".
func frameArgs(t *target.Target, frames []unwind.Frame, i int) string {
	env, err := values.NewFrameEnv(t, frames, i)
	if err != nil {
		return ""
	}
	args, _, err := values.FrameVars(env)
	if err != nil {
		return ""
	}
	parts := make([]string, 0, len(args))
	for _, a := range args {
		val := ""
		switch {
		case a.Err != nil:
			val = "<error>"
		case a.Note != "":
			val = "<" + a.Note + ">"
		default:
			switch r := cexpr.Resolve(a.Value.Type); {
			case r != nil && (r.Kind == cexpr.Struct || r.Kind == cexpr.Union || r.Kind == cexpr.Array):
				val = "..."
			default:
				val = values.Format(env, a.Value, false)
			}
		}
		parts = append(parts, a.Name+"="+val)
	}
	return strings.Join(parts, ", ")
}
