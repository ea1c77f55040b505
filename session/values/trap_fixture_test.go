package values

import (
	"fmt"
	"testing"
)

// TestTrapRun checks values around the page fault of the trap runs
// (README "Trap frame" and kern_kdap.c).
func TestTrapRun(t *testing.T) {
	for _, tc := range []struct {
		variant    string
		frame, rip uint64
		rsp        uint64
	}{
		{"fp", 0xfffffe000004faf0, 0xffffffff80200a58, 0xfffffe000004fbb8},
		{"nofp", 0xfffffe000004fb50, 0xffffffff80200a18, 0xfffffe000004fc18},
	} {
		t.Run(tc.variant, func(t *testing.T) {
			tg := openFixture(t, tc.variant, "trap", "vmcore.mini")
			_, frames := crashedFrames(t, tg)
			env, _ := frameEnv(t, tg, frames, "kdap_read_cookie")
			tf := fmt.Sprintf("((struct trapframe *)%#x)", tc.frame)
			cases := []evalCase{
				// The faulting frame: every register came from the trap frame.
				{expr: "(unsigned long)$rip", want: fmt.Sprintf("%#x", tc.rip), hex: true},
				{expr: "(unsigned long)$rsp", want: fmt.Sprintf("%#x", tc.rsp), hex: true},
				{expr: "$rip", want: "<kdap_read_cookie+8>", sub: true},
				{expr: "ctx->kc_depth", want: "3"},
				{expr: "ctx->kc_backing", want: "0x0"},
				{expr: "ctx->kc_what", want: `"debug.kdap.check"`, sub: true},
				{expr: "kb", want: "0x0"},
				{expr: "&kb->kb_cookie", want: "0x18"},
				{expr: "kb->kb_cookie", err: "cannot read memory at 0x18"},
				{expr: tf + "->tf_trapno", want: "12"},
				{expr: tf + "->tf_addr", want: "0x18", hex: true},
				{expr: tf + "->tf_err", want: "0"},
				{expr: tf + "->tf_cs", want: "0x8", hex: true},
				{expr: tf + "->tf_ss", want: "0x10", hex: true},
				{expr: tf + "->tf_rflags", want: "0x2", hex: true},
				{expr: tf + "->tf_rip", want: fmt.Sprintf("%#x", tc.rip), hex: true},
				{expr: tf + "->tf_rsp", want: fmt.Sprintf("%#x", tc.rsp), hex: true},
				{expr: tf + "->tf_rip == (long)$rip", want: "1"},
				{expr: "(long)__pcpu[0].pc_curthread->td_intr_frame", want: fmt.Sprintf("%#x", tc.frame), hex: true},
				{expr: "panicstr", want: `"page fault"`, sub: true},
			}
			for _, c := range cases {
				checkExpr(t, env, c)
			}
			h, _ := frameEnv(t, tg, frames, "sysctl_kdap_handler")
			checkExpr(t, h, evalCase{expr: "ctx.kc_backing", want: "0x0"})
			checkExpr(t, h, evalCase{expr: "pair.kp_key", want: "42"})
		})
	}
}
