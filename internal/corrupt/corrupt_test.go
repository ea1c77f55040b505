//go:build linux

package corrupt

import "testing"

// The campaign's judge: a Go panic or fatal error is a crash; the word
// "panic" in a message (a function named vpanic) is not.
func TestDefectJudge(t *testing.T) {
	base := verbRun{stdout: "0123456789"}
	for _, tc := range []struct {
		r    verbRun
		want bool
	}{
		{verbRun{exit: 2, stderr: "panic: runtime error: index out of range\n\ngoroutine 1 [running]:\n"}, true},
		{verbRun{exit: 2, stderr: "fatal error: out of memory\n"}, true},
		{verbRun{exit: 0, stdout: "0123456789", stderr: "kdap bt: warning: inlined calls at pc 0x1 in vpanic: bad\n"}, false},
		{verbRun{exit: 0, stdout: "01234"}, true},                                // shorter, silent
		{verbRun{exit: 0, stdout: "01234", stderr: "kdap x: warning: y"}, false}, // shorter, said why
		{verbRun{exit: 1, stderr: ""}, true},                                     // failed without a word
		{verbRun{exit: 1, stderr: "kdap info: core FILE: not a regular file (a FIFO)\n"}, false},
		{verbRun{timedOut: true}, true},
		{verbRun{rss: 300 << 20, stdout: "0123456789"}, true},
	} {
		if got := defect(tc.r, base, memBound) != ""; got != tc.want {
			t.Errorf("defect(%+v) = %q, want a defect: %v", tc.r, defect(tc.r, base, memBound), tc.want)
		}
	}
}
