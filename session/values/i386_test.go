package values

import (
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/session/cexpr"
	"github.com/kdap/kdap/target"
)

// On LLDB's real i386 dump a pointer is 4 bytes: expanding `(int *)&hz`
// reads 4 bytes of pointer and finds hz (100, LLDB's value), and
// `&hz` has the 32-bit address of the symbol.
func TestI386PointerChildren(t *testing.T) {
	core := testfixture.FreeBSDLLDB(t, "vmcore-i386-minidump")
	kernel := testfixture.FreeBSDLLDB(t, "kernel-i386")
	tg, err := target.Open(core, kernel, target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	defer Forget(tg)
	env := NewGlobalEnv(tg)
	hz, _ := tg.Kernel.Addr("hz")
	// Store (int *)&hz in memory the way a kernel pointer variable holds
	// it, by evaluating a pointer-typed expression and expanding it.
	v, err := cexpr.Evaluate(env, "(int *)&hz")
	if err != nil {
		t.Fatal(err)
	}
	if v.Type.Size != 4 {
		t.Errorf("(int *)&hz is %d bytes, want 4", v.Type.Size)
	}
	cs, _, err := Children(env, "(int *)&hz", v, 0, 10)
	if err != nil || len(cs) != 1 {
		t.Fatalf("children: %v, %v", cs, err)
	}
	if got := Format(env, cs[0].Value, false); got != "100" {
		t.Errorf("*(int *)&hz child = %s, want 100", got)
	}
	if got := Format(env, v, true); got == "" || v.Bytes != nil && len(v.Bytes) != 4 {
		t.Errorf("(int *)&hz formats as %q with %d bytes", got, len(v.Bytes))
	}
	if p, err := pointerValue(env, v); err != nil || p != hz {
		t.Errorf("pointerValue = %#x, %v; want %#x", p, err, hz)
	}
}
