package session_test

// A whole DAP session on the real Debian kernel dump that
// testdata/linux/mkfixture.sh makes (KASLR on, no frame pointers). The
// expected values come from what init.sh did and what the guest printed
// (console.txt): the crash was `echo c > /proc/sysrq-trigger` from pid 1,
// with qemu_fw_cfg loaded, on a 2-CPU machine.

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	godap "github.com/google/go-dap"
	"github.com/kdap/kdap/internal/testfixture"
)

var consolePanic = regexp.MustCompile(`\] Kernel panic - not syncing: (.*)$`)

func TestLinuxSession(t *testing.T) {
	for _, dir := range testfixture.LinuxDirs(t) {
		con, err := os.ReadFile(filepath.Join(dir, "console.txt"))
		if err != nil {
			t.Fatal(err)
		}
		var panicMsg string
		for _, line := range strings.Split(string(con), "\n") {
			if m := consolePanic.FindStringSubmatch(line); m != nil {
				panicMsg = m[1]
				break
			}
		}
		c := pipeClient(t)
		// A Debian kernel names its C files relative to its build folder.
		st := c.attach(map[string]any{"core": filepath.Join(dir, "vmcore.kdump"), "kernel": filepath.Join(dir, "vmlinux"),
			"sourceMap": map[string]string{"debian/build/build_amd64_none_cloud-amd64": "/local/linux"}})
		if st.Body.Reason != "exception" || st.Body.Description != panicMsg || st.Body.ThreadId != 1 {
			t.Errorf("stopped = %+v, want exception %q in thread 1 (pid 1 wrote to sysrq-trigger)", st.Body, panicMsg)
		}

		ths := c.mustCall("threads", nil).(*godap.ThreadsResponse).Body.Threads
		ids := map[int]bool{}
		names := map[string]bool{}
		for _, th := range ths {
			if ids[th.Id] || th.Id <= 0 {
				t.Errorf("thread %q has id %d: not positive or not unique", th.Name, th.Id)
			}
			ids[th.Id] = true
			names[th.Name] = true
		}
		for _, want := range []string{"(pid 1) init (crashed)", "(pid 0) swapper/0", "(pid 0) swapper/1"} {
			if !names[want] {
				t.Errorf("threads lack %q", want)
			}
		}

		frames := c.mustCall("stackTrace", map[string]any{"threadId": 1}).(*godap.StackTraceResponse).Body.StackFrames
		var crash *godap.StackFrame
		for i := range frames {
			if frames[i].Name == "sysrq_handle_crash" {
				crash = &frames[i]
			}
		}
		if crash == nil {
			t.Fatalf("no sysrq_handle_crash frame in %+v", frames)
		}
		if crash.Source == nil || crash.Source.Path != "/local/linux/drivers/tty/sysrq.c" || crash.Line == 0 {
			t.Errorf("sysrq_handle_crash at %+v line %d, want /local/linux/drivers/tty/sysrq.c", crash.Source, crash.Line)
		}
		scopes := c.mustCall("scopes", map[string]any{"frameId": crash.Id}).(*godap.ScopesResponse).Body.Scopes
		args := map[string]string{}
		for _, sc := range scopes {
			if sc.Name == "Arguments" {
				for _, v := range c.mustCall("variables", map[string]any{"variablesReference": sc.VariablesReference}).(*godap.VariablesResponse).Body.Variables {
					args[v.Name] = v.Value
				}
			}
		}
		if args["key"] != "99" { // 'c'
			t.Errorf("sysrq_handle_crash arguments %v, want key 99 ('c')", args)
		}

		// A global of the relocated kernel, and a linker alias of it.
		ev := func(expr string) string {
			return c.mustCall("evaluate", map[string]any{"expression": expr, "context": "watch"}).(*godap.EvaluateResponse).Body.Result
		}
		if a, b := ev("jiffies"), ev("jiffies_64"); a != b || a == "" || strings.HasPrefix(a, "-") {
			t.Errorf("jiffies = %q, jiffies_64 = %q; want the same unsigned value", a, b)
		}
		if got := ev("init_task.comm"); got != `"swapper/0"` {
			t.Errorf("init_task.comm = %s", got)
		}

		// Disassembly of the relocated kernel has source lines.
		dis := c.mustCall("disassemble", map[string]any{"memoryReference": crash.InstructionPointerReference, "instructionOffset": -1, "instructionCount": 1}).(*godap.DisassembleResponse).Body.Instructions
		if len(dis) != 1 || !strings.HasPrefix(dis[0].Instruction, "call") || dis[0].Line == 0 {
			t.Errorf("instruction before sysrq_handle_crash's return address = %+v, want a call with a source line", dis)
		}

		mods := c.mustCall("modules", nil).(*godap.ModulesResponse).Body.Modules
		found := false
		for _, m := range mods {
			if m.Name == "qemu_fw_cfg" && m.AddressRange != "" && m.SymbolStatus == "Symbols loaded from the dump (no debug information)" {
				found = true
			}
		}
		if !found {
			t.Errorf("modules = %+v, want qemu_fw_cfg (init.sh loaded it) with its address range and symbols", mods)
		}
		c.disconnect()
	}
}
