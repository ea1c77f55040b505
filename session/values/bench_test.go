package values

import (
	"testing"

	"github.com/kdap/kdap/session/cexpr"
)

// BenchmarkHandlerLocals evaluates and formats every argument and local of
// the sysctl_kdap_handler frame, as a Variables request does.
func BenchmarkHandlerLocals(b *testing.B) {
	tg := openFixture(b, "fp", "assert", "vmcore.mini")
	_, frames := crashedFrames(b, tg)
	_, idx := frameEnv(b, tg, frames, "sysctl_kdap_handler")
	b.ResetTimer()
	for b.Loop() {
		env, err := NewFrameEnv(tg, frames, idx)
		if err != nil {
			b.Fatal(err)
		}
		args, locals, err := FrameVars(env)
		if err != nil {
			b.Fatal(err)
		}
		for _, v := range append(args, locals...) {
			_ = Format(env, v.Value, false)
		}
	}
}

// BenchmarkArrayPages expands a 10000-element artificial array over the
// kernel image 100 elements at a time, formatting every element.
func BenchmarkArrayPages(b *testing.B) {
	tg := openFixture(b, "fp", "assert", "vmcore.mini")
	env := NewGlobalEnv(tg)
	const expr = "version[0]@10000"
	v, err := cexpr.Evaluate(env, expr)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		n := 0
		for start := 0; ; start += 100 {
			cs, total, err := Children(env, expr, v, start, 100)
			if err != nil {
				b.Fatal(err)
			}
			for _, c := range cs {
				_ = Format(env, c.Value, false)
			}
			n += len(cs)
			if start+100 >= total {
				break
			}
		}
		if n != 10000 {
			b.Fatalf("%d elements, want 10000", n)
		}
	}
}
