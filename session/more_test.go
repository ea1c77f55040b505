package session_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	godap "github.com/google/go-dap"
	"github.com/kdap/kdap/internal/testfixture"
)

// frameNames returns a thread's whole backtrace.
func (c *client) frames(tid int) []godap.StackFrame {
	c.t.Helper()
	return c.mustCall("stackTrace", map[string]any{"threadId": tid}).(*godap.StackTraceResponse).Body.StackFrames
}

// registers returns the Registers scope of a frame by name.
func (c *client) registers(frameID int) map[string]string {
	c.t.Helper()
	scopes := c.mustCall("scopes", map[string]any{"frameId": frameID}).(*godap.ScopesResponse).Body.Scopes
	for _, s := range scopes {
		if s.Name == "Registers" {
			m := map[string]string{}
			for _, v := range c.mustCall("variables", map[string]any{"variablesReference": s.VariablesReference}).(*godap.VariablesResponse).Body.Variables {
				m[v.Name] = v.Value
			}
			return m
		}
	}
	c.t.Fatalf("frame %d has no Registers scope", frameID)
	return nil
}

func TestTrapRun(t *testing.T) {
	c := pipeClient(t)
	stopped := c.attach(map[string]any{
		"core":   testfixture.Path(t, "fbsdkern/fixtures/fp/trap/vmcore.mini"),
		"kernel": fixtureKernel(t),
	})
	if stopped.Body.Description != "page fault" || stopped.Body.ThreadId != crashedTID {
		t.Errorf("stopped = %+v, want page fault on %d", stopped.Body, crashedTID)
	}
	fs := c.frames(crashedTID)
	want := []struct {
		name string
		line int
	}{{"trap", 50}, {"calltrap", 208}, {"--- trap 0xc, rip = 0xffffffff80200a58, rsp = 0xfffffe000004fbb8, rbp = 0xfffffe000004fbc0 ---", 0},
		{"kdap_read_cookie", 94}, {"kdap_check_thread", 110}, {"sysctl_kdap_handler", 164}}
	if len(fs) < 6+len(want) {
		t.Fatalf("%d frames", len(fs))
	}
	for i, w := range want {
		f := fs[6+i]
		if f.Name != w.name || f.Line != w.line {
			t.Errorf("frame %d = %q line %d, want %q line %d", 6+i, f.Name, f.Line, w.name, w.line)
		}
	}
	label := fs[8]
	if label.PresentationHint != "label" || label.Source != nil {
		t.Errorf("trap marker frame = %+v, want presentationHint label and no source", label)
	}
	scopes := c.mustCall("scopes", map[string]any{"frameId": label.Id}).(*godap.ScopesResponse).Body.Scopes
	if len(scopes) != 1 || scopes[0].Name != "Registers" {
		t.Errorf("trap marker scopes = %+v, want Registers only", scopes)
	}
	// The interrupted frame has every register: the trap frame saved them.
	regs := c.registers(fs[9].Id)
	if regs["rip"] != "0xffffffff80200a58" || regs["rsp"] != "0xfffffe000004fbb8" || regs["rbp"] != "0xfffffe000004fbc0" || regs["rax"] == "<unavailable>" {
		t.Errorf("kdap_read_cookie registers = %v, want tf_rip/tf_rsp/rbp of the README and rax known", regs)
	}
	c.disconnect()
}

func TestOtherThreadChains(t *testing.T) {
	c := pipeClient(t)
	c.attach(attachArgs(t))
	tests := []struct {
		tid   int
		names []string
		lines []int // from frame 1
	}{
		// rand_harvestq: the stoppcbs[1] chain, not its stale td_pcb.
		{100007, []string{"cpustop_handler", "ipi_nmi_handler", "random_fortuna_process_event", "random_sources_feed", "random_kthread", "fork_exit", "fork_trampoline"}, []int{48, 35, 45, 56, 14, 91}},
		{100005, []string{"sched_switch", "mi_switch", "ithread_loop", "fork_exit", "fork_trampoline"}, []int{19, 61, 14, 91}},
		{100000, []string{"sched_switch", "mi_switch", "sleepq_switch", "sleepq_timedwait", "_sleep", "swapper", "mi_startup", "btext"}, []int{19, 26, 47, 30, 11, 108, 124}},
	}
	for _, tc := range tests {
		fs := c.frames(tc.tid)
		var names []string
		for _, f := range fs {
			names = append(names, f.Name)
		}
		if strings.Join(names, " ") != strings.Join(tc.names, " ") {
			t.Errorf("thread %d: %v, want %v", tc.tid, names, tc.names)
			continue
		}
		for i, l := range tc.lines {
			if fs[i+1].Line != l {
				t.Errorf("thread %d frame %d %s: line %d, want %d", tc.tid, i+1, fs[i+1].Name, fs[i+1].Line, l)
			}
		}
	}
	c.disconnect()
}

func TestSourcesAndCompletions(t *testing.T) {
	src := t.TempDir()
	text := "/* kern_kdap.c stand-in */\n"
	if err := os.MkdirAll(filepath.Join(src, "sys", "kern"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "sys", "kern", "kern_kdap.c"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c := pipeClient(t)
	c.attach(map[string]any{"core": fixtureCore(t), "kernel": fixtureKernel(t), "substitutePath": []map[string]string{{"from": "/usr/src", "to": src}}, "showMessageBuffer": false})

	mapped := filepath.Join(src, "sys", "kern", "kern_kdap.c")
	got := c.mustCall("source", map[string]any{"source": map[string]any{"path": mapped}, "sourceReference": 0}).(*godap.SourceResponse)
	if got.Body.Content != text {
		t.Errorf("source content %q, want %q", got.Body.Content, text)
	}
	srcs := c.mustCall("loadedSources", nil).(*godap.LoadedSourcesResponse).Body.Sources
	seen := map[string]bool{}
	for _, s := range srcs {
		if seen[s.Path] {
			t.Errorf("loadedSources lists %s twice", s.Path)
		}
		seen[s.Path] = true
	}
	for _, f := range []string{"sys/kern/kern_kdap.c", "sys/kern/kern_shutdown.c", "sys/amd64/amd64/trap.c"} {
		if !seen[filepath.Join(src, f)] {
			t.Errorf("loadedSources: %s missing among %d sources", filepath.Join(src, f), len(srcs))
		}
	}

	complete := func(text string) []string {
		items := c.mustCall("completions", map[string]any{"text": text, "column": len(text) + 1}).(*godap.CompletionsResponse).Body.Targets
		var labels []string
		for _, it := range items {
			labels = append(labels, it.Label)
		}
		return labels
	}
	has := func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	}
	if l := complete("dm"); !has(l, "dmesg") {
		t.Errorf("completions of dm: %v", l)
	}
	if l := complete("panic"); !has(l, "panic") || !has(l, "panicstr") || has(l, "dmesg") {
		t.Errorf("completions of panic: %v", l)
	}
	if l := complete("print sysctl_kdap_h"); len(l) != 1 || l[0] != "sysctl_kdap_handler" {
		t.Errorf("completions of sysctl_kdap_h: %v", l)
	}
	if l := complete("msgbufp->msg_s"); strings.Join(l, ",") != "msg_size,msg_seqmod" {
		t.Errorf("completions of msgbufp->msg_s: %v, want msg_size,msg_seqmod (struct msgbuf order)", l)
	}
	if l := complete("(*msgbufp).msg_r"); strings.Join(l, ",") != "msg_rseq" {
		t.Errorf("completions of (*msgbufp).msg_r: %v, want msg_rseq", l)
	}
	if l := complete("zz_no_such_prefix"); len(l) != 0 {
		t.Errorf("completions of an unknown prefix: %v", l)
	}
	// With showMessageBuffer false no output event came before stopped.
	for _, e := range c.events {
		if e.(godap.EventMessage).GetEvent().Event == "output" {
			t.Errorf("output event with showMessageBuffer false: %+v", e)
		}
	}
	c.disconnect()
}

func TestLaunchWithProgressAndLogFile(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "kdap.log")
	c := pipeClient(t)
	c.mustCall("initialize", map[string]any{"adapterID": "kdap", "supportsProgressReporting": true})
	c.mustCall("launch", map[string]any{"core": fixtureCore(t), "kernel": fixtureKernel(t), "logFile": logFile, "logLevel": "debug"})
	start := c.event("progressStart").(*godap.ProgressStartEvent)
	end := c.event("progressEnd").(*godap.ProgressEndEvent)
	if start.Body.ProgressId == "" || end.Body.ProgressId != start.Body.ProgressId || end.Body.Message != "" {
		t.Errorf("progress start %+v end %+v", start.Body, end.Body)
	}
	c.event("initialized")
	c.mustCall("configurationDone", nil)
	if s := c.event("stopped").(*godap.StoppedEvent); s.Body.ThreadId != crashedTID {
		t.Errorf("stopped on %d", s.Body.ThreadId)
	}
	c.disconnect()
	b, err := os.ReadFile(logFile)
	if err != nil || !strings.Contains(string(b), "dump opened") {
		t.Errorf("log file: %v, %q; want the attach logged", err, b)
	}
}

func TestEveryDumpFormat(t *testing.T) {
	tests := []struct {
		core, kernel, panic string
	}{
		{"fp/assert/vmcore.full", "fp/kernel.debug", panicString},
		{"fp/assert/vmcore.dumpdev", "fp/kernel.debug", panicString},
		{"nofp/assert/vmcore.mini", "nofp/kernel.debug", panicString},
		{"nofp/trap/vmcore.full", "nofp/kernel.debug", "page fault"},
	}
	for _, tc := range tests {
		t.Run(tc.core, func(t *testing.T) {
			c := pipeClient(t)
			stopped := c.attach(map[string]any{
				"core":   testfixture.Path(t, "fbsdkern/fixtures/"+tc.core),
				"kernel": testfixture.Path(t, "fbsdkern/fixtures/"+tc.kernel),
			})
			if stopped.Body.Description != tc.panic || stopped.Body.ThreadId != crashedTID {
				t.Errorf("stopped = %+v, want %q on %d", stopped.Body, tc.panic, crashedTID)
			}
			if fs := c.frames(crashedTID); len(fs) < 2 || fs[0].Name != "doadump" || fs[1].Name != "kern_reboot" || fs[1].Line != 44 {
				t.Errorf("frames %+v", fs)
			}
			c.disconnect()
		})
	}
}

func TestKernelBesideTheDump(t *testing.T) {
	dir := t.TempDir()
	core := filepath.Join(dir, "vmcore.0")
	if err := os.Symlink(fixtureCore(t), core); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(fixtureKernel(t), filepath.Join(dir, "kernel.debug")); err != nil {
		t.Fatal(err)
	}
	c := pipeClient(t)
	if s := c.attach(map[string]any{"core": core}); s.Body.ThreadId != crashedTID {
		t.Errorf("stopped on %d", s.Body.ThreadId)
	}
	mods := c.mustCall("modules", nil).(*godap.ModulesResponse).Body.Modules
	if len(mods) != 1 || mods[0].Path != filepath.Join(dir, "kernel.debug") {
		t.Errorf("modules = %+v, want the kernel.debug beside the dump", mods)
	}
	c.disconnect()
}

func TestKernelWithoutDebugInfo(t *testing.T) {
	objcopy := testfixture.LookPath(t, "objcopy", "binutils")
	stripped := filepath.Join(t.TempDir(), "kernel")
	if out, err := exec.Command(objcopy, "--strip-debug", fixtureKernel(t), stripped).CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v\n%s", err, out)
	}
	c := pipeClient(t)
	c.attach(map[string]any{"core": fixtureCore(t), "kernel": stripped})
	mods := c.mustCall("modules", nil).(*godap.ModulesResponse).Body.Modules
	if len(mods) != 1 || mods[0].SymbolStatus != "Symbols loaded (no debug information)" {
		t.Errorf("modules = %+v, want ELF symbols without debug information", mods)
	}
	fs := c.frames(crashedTID)
	if len(fs) < 2 || fs[1].Name != "kern_reboot" || fs[1].Source != nil || fs[1].Line != 0 {
		t.Fatalf("frames without DWARF: %+v, want kern_reboot without a source", fs)
	}
	scopes := c.mustCall("scopes", map[string]any{"frameId": fs[1].Id}).(*godap.ScopesResponse).Body.Scopes
	for _, s := range scopes {
		vars := c.mustCall("variables", map[string]any{"variablesReference": s.VariablesReference}).(*godap.VariablesResponse).Body.Variables
		if s.Name == "Registers" && len(vars) != 17 {
			t.Errorf("%d registers", len(vars))
		}
	}
	c.disconnect()
}
