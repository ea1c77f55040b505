package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
)

func fixturePaths(t *testing.T, build, run string) (string, string) {
	return testfixture.Path(t, "fbsdkern/fixtures/"+build+"/"+run+"/vmcore.mini"),
		testfixture.Path(t, "fbsdkern/fixtures/"+build+"/kernel.debug")
}

func runCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestInfoJSON(t *testing.T) {
	core, kernel := fixturePaths(t, "fp", "assert")
	out, stderr, code := runCmd(t, "info", core, kernel, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var info struct {
		Format  string `json:"format"`
		Panic   string `json:"panic"`
		Threads int    `json:"threads"`
		Crashed struct {
			TID int64 `json:"tid"`
		} `json:"crashedThread"`
		Unread string `json:"unreadMessages"`
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	// testdata/README.md: 17 threads, tid 100016 crashed, the assertion.
	if info.Format != "FreeBSD amd64 minidump v3" || info.Threads != 17 || info.Crashed.TID != 100016 ||
		!strings.HasPrefix(info.Panic, "Assertion td->td_name[0]") || !strings.HasPrefix(info.Unread, "panic: Assertion") {
		t.Errorf("info: %+v", info)
	}
}

func TestBtText(t *testing.T) {
	core, kernel := fixturePaths(t, "nofp", "trap")
	out, stderr, code := runCmd(t, "bt", core, kernel)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"#0  doadump () at /usr/src/sys/kern/kern_shutdown.c:32\n",
		"in calltrap () at /usr/src/sys/amd64/amd64/cpu_switch.S:208\n--- trap 0xc, rip = 0xffffffff80200a18, rsp = 0xfffffe000004fc18, rbp = 0x",
		"#8  0xffffffff80200a18 in kdap_read_cookie () at /usr/src/sys/kern/kern_kdap.c:94\n",
		"(end of stack (fork_trampoline))",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("bt output lacks %q:\n%s", want, out)
		}
	}
}

func TestReadAndErrors(t *testing.T) {
	core, kernel := fixturePaths(t, "fp", "assert")
	out, _, code := runCmd(t, "read", core, kernel, "version", "16")
	if code != 0 || !strings.Contains(out, "|FreeBSD 14.1-REL|") {
		t.Errorf("read version: exit %d\n%s", code, out)
	}
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"info", "/nonexistent/vmcore", kernel}, 1, "core not found: /nonexistent/vmcore"},
		{[]string{"info", kernel, kernel}, 1, "not a crash dump"},
		{[]string{"info", core}, 1, "no kernel given and none found for " + core},
		{[]string{"info"}, 2, "expected 1 or 2 arguments"},
		{[]string{"bt", core, "/nonexistent/kernel"}, 1, "/nonexistent/kernel is not a kernel file, and no kernel given"},
		{[]string{"read", core, kernel, "no_such_symbol", "8"}, 1, "neither an address nor a kernel symbol"},
		{[]string{"read", core, kernel, "0x10", "8"}, 1, "cannot read 8 bytes at 0x10"},
		{[]string{"frobnicate"}, 2, "unknown command"},
	}
	for _, c := range cases {
		_, stderr, code := runCmd(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.msg)
		}
	}
	// A kernel.debug beside the dump is found without naming it.
	dir := t.TempDir()
	for name, p := range map[string]string{"vmcore.0": core, "kernel.debug": kernel} {
		if err := os.Symlink(p, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if out, stderr, code := runCmd(t, "eval", filepath.Join(dir, "vmcore.0"), "hz"); code != 0 || out != "1000\n" {
		t.Errorf("eval with the kernel beside the dump: exit %d, %q, stderr %q; want 1000", code, out, stderr)
	}
}

func TestEvalAndArgs(t *testing.T) {
	core, kernel := fixturePaths(t, "fp", "assert")
	// testdata/README.md: locals of sysctl_kdap_handler (frame 6 of the
	// crashed thread) and globals.
	cases := []struct{ expr, want string }{
		{"pair.kp_key", "42"},
		{"color", "KDAP_COLOR_BLUE"},
		{"handler", "<kdap_default_handler>"},
		{"primes[5]", "13"},
		{"allproc.lh_first->p_pid", "806"},
		{"sizeof(struct pcb)", "320"},
		{"scratch", "<optimized out>"},
	}
	for _, c := range cases {
		out, stderr, code := runCmd(t, "eval", core, kernel, "--frame", "6", c.expr)
		if code != 0 || !strings.Contains(out, c.want) {
			t.Errorf("eval %s: exit %d %q %q; want %q", c.expr, code, out, stderr, c.want)
		}
	}
	if _, stderr, code := runCmd(t, "eval", core, kernel, "--frame", "99", "hz"); code != 1 || !strings.Contains(stderr, "there is no frame 99") {
		t.Errorf("frame 99: exit %d %q", code, stderr)
	}
	out, _, code := runCmd(t, "bt", "--args", core, kernel)
	if code != 0 || !strings.Contains(out, "in sysctl_kdap_handler (oidp=0x") || !strings.Contains(out, "kdap_thread_name_ok [inlined] (td=<optimized out>)") {
		t.Errorf("bt --args: exit %d\n%s", code, out)
	}
}
