package stack

import (
	"fmt"
	"strings"

	"github.com/kdap/kdap/unwind"
)

// Format prints frames as kgdb prints a backtrace: "#3  0x… in fn (args)
// at file:line", inlined frames without an address, trap markers on a line
// of their own and not numbered. args, when not nil, gives the argument
// text of frame i ("oidp=0x…, arg2=3").
func Format(frames []unwind.Frame, args func(i int) string) string {
	var b strings.Builder
	n := 0
	for i, f := range frames {
		if f.Kind == unwind.KindTrap {
			b.WriteString(f.Label + "\n")
			continue
		}
		fn := f.Function
		if fn == "" {
			fn = "??"
		}
		a := ""
		if args != nil {
			a = args(i)
		}
		loc := ""
		if f.File != "" {
			loc = fmt.Sprintf(" at %s:%d", f.File, f.Line)
		}
		switch {
		case f.Inlined:
			fmt.Fprintf(&b, "#%-2d %s [inlined] (%s)%s\n", n, fn, a, loc)
		case n == 0 && f.Function != "":
			fmt.Fprintf(&b, "#%-2d %s (%s)%s\n", n, fn, a, loc)
		default:
			fmt.Fprintf(&b, "#%-2d %#016x in %s (%s)%s\n", n, f.PC, fn, a, loc)
		}
		n++
	}
	return b.String()
}
