package session_test

import (
	"debug/elf"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	godap "github.com/google/go-dap"
)

// Ground truth of the fp assert run, from testdata/README.md.
const (
	crashedTID  = 100016
	panicString = `Assertion td->td_name[0] != '\0' failed at /usr/src/sys/kern/kern_kdap.c:100`
	unreadMsgs  = "panic: " + panicString + "\ncpuid = 0\ntime = 1700000000\nDumping 11 out of 31 MB:"
	versionHead = "FreeBSD 14.1-RELEASE kdap-fixture #0: Tue Nov 14 22:13:20 UTC 2023\n"
)

// allTIDs are the 17 threads of every fixture run.
var allTIDs = []int{100000, 100001, 100002, 100003, 100004, 100005, 100006, 100007, 100008,
	100009, 100010, 100011, 100012, 100013, 100014, 100015, 100016}

// crashedChain is the README's table "100016 sysctl (pid 806), assert runs"
// from frame 1 (frame 0's line is the statement after the call).
var crashedChain = []struct {
	name, file string
	line       int
}{
	{"kern_reboot", "kern/kern_shutdown.c", 44},
	{"vpanic", "kern/kern_shutdown.c", 70},
	{"panic", "kern/kern_shutdown.c", 79},
	{"kdap_thread_name_ok [inlined]", "kern/kern_kdap.c", 100},
	{"kdap_check_thread", "kern/kern_kdap.c", 111},
	{"sysctl_kdap_handler", "kern/kern_kdap.c", 164},
	{"sysctl_root", "kern/kern_sysctl.c", 30},
	{"userland_sysctl", "kern/kern_sysctl.c", 50},
	{"sys___sysctl", "kern/kern_sysctl.c", 62},
	{"syscallenter", "amd64/amd64/trap.c", 86},
	{"amd64_syscall", "amd64/amd64/trap.c", 97},
	{"kdap_user_start", "amd64/amd64/trap.c", 110},
	{"fork_exit", "kern/kern_fork.c", 14},
	{"fork_trampoline", "amd64/amd64/cpu_switch.S", 91},
}

// localSrc is where the tests map /usr/src to.
const localSrc = "/local/freebsd-src"

func attachArgs(t testing.TB) map[string]any {
	return map[string]any{"core": fixtureCore(t), "kernel": fixtureKernel(t), "sourceMap": map[string]string{"/usr/src": localSrc}}
}

func TestSessionFixture(t *testing.T) {
	c := pipeClient(t)
	stopped := c.attach(attachArgs(t))
	out := c.event("output").(*godap.OutputEvent)
	if out.Body.Category != "console" || out.Body.Output != unreadMsgs {
		t.Errorf("output event: category %q text %q, want console %q", out.Body.Category, out.Body.Output, unreadMsgs)
	}
	if b := stopped.Body; b.Reason != "exception" || b.Description != panicString || b.ThreadId != crashedTID || !b.AllThreadsStopped {
		t.Errorf("stopped = %+v, want exception %q on thread %d, all stopped", b, panicString, crashedTID)
	}

	// Threads: the 17 of the README, the crashed one first.
	ths := c.mustCall("threads", nil).(*godap.ThreadsResponse).Body.Threads
	var ids []int
	for _, th := range ths {
		ids = append(ids, th.Id)
	}
	if len(ths) == 0 || ths[0].Id != crashedTID || ths[0].Name != "(pid 806) sysctl (crashed)" {
		t.Errorf("first thread = %+v, want %d \"(pid 806) sysctl (crashed)\"", ths[0], crashedTID)
	}
	sort.Ints(ids)
	if fmt.Sprint(ids) != fmt.Sprint(allTIDs) {
		t.Errorf("thread ids = %v, want %v", ids, allTIDs)
	}

	// The crashed thread's backtrace, in two pages.
	st1 := c.mustCall("stackTrace", map[string]any{"threadId": crashedTID, "startFrame": 0, "levels": 5}).(*godap.StackTraceResponse).Body
	st2 := c.mustCall("stackTrace", map[string]any{"threadId": crashedTID, "startFrame": 5, "levels": 100}).(*godap.StackTraceResponse).Body
	if st1.TotalFrames != 15 || len(st1.StackFrames) != 5 || len(st2.StackFrames) != 10 {
		t.Fatalf("stackTrace pages: total %d, %d + %d frames; want 15, 5 + 10", st1.TotalFrames, len(st1.StackFrames), len(st2.StackFrames))
	}
	frames := append(st1.StackFrames, st2.StackFrames...)
	seen := map[int]bool{}
	for _, f := range frames {
		if seen[f.Id] {
			t.Errorf("frame id %d used twice", f.Id)
		}
		seen[f.Id] = true
		if f.ModuleId != "kernel" || !strings.HasPrefix(f.InstructionPointerReference, "0x") {
			t.Errorf("frame %s: moduleId %v, instructionPointerReference %q", f.Name, f.ModuleId, f.InstructionPointerReference)
		}
	}
	if frames[0].Name != "doadump" || frames[0].Source == nil || frames[0].Source.Path != localSrc+"/sys/kern/kern_shutdown.c" {
		t.Errorf("frame 0 = %+v, want doadump in %s/sys/kern/kern_shutdown.c", frames[0], localSrc)
	}
	for i, want := range crashedChain {
		f := frames[i+1]
		wantPath := localSrc + "/sys/" + want.file
		if f.Name != want.name || f.Line != want.line || f.Source == nil || f.Source.Path != wantPath || f.Source.Name != filepath.Base(want.file) || f.Column != 1 {
			t.Errorf("frame %d = %q %+v line %d col %d, want %q %s:%d", i+1, f.Name, f.Source, f.Line, f.Column, want.name, wantPath, want.line)
		}
	}

	// Registers of frame 0 (all known: savectx saved them) and frame 1.
	regs := func(frameID int) map[string]string {
		scopes := c.mustCall("scopes", map[string]any{"frameId": frameID}).(*godap.ScopesResponse).Body.Scopes
		var names []string
		ref := 0
		for _, s := range scopes {
			names = append(names, s.Name)
			if s.Name == "Registers" {
				ref = s.VariablesReference
			}
		}
		if strings.Join(names, ",") != "Arguments,Locals,Registers" {
			t.Errorf("scopes = %v", names)
		}
		vars := c.mustCall("variables", map[string]any{"variablesReference": ref}).(*godap.VariablesResponse).Body.Variables
		m := map[string]string{}
		var order []string
		for _, v := range vars {
			m[v.Name] = v.Value
			order = append(order, v.Name)
		}
		if got := strings.Join(order, " "); got != "rax rbx rcx rdx rsi rdi rbp rsp r8 r9 r10 r11 r12 r13 r14 r15 rip" {
			t.Errorf("register order %s", got)
		}
		return m
	}
	r0 := regs(frames[0].Id)
	if ip, _ := strconv.ParseUint(frames[0].InstructionPointerReference, 0, 64); r0["rip"] != fmt.Sprintf("%#016x", ip) {
		t.Errorf("frame 0 rip = %s, want the frame's pc %s", r0["rip"], frames[0].InstructionPointerReference)
	}
	r2 := regs(frames[2].Id)
	if r2["rax"] != "<unavailable>" || r2["rsp"] == "<unavailable>" || r2["rip"] == "<unavailable>" {
		t.Errorf("frame 2 registers: rax %s (want <unavailable>: not preserved by calls), rsp %s, rip %s", r2["rax"], r2["rsp"], r2["rip"])
	}

	// Locals of sysctl_kdap_handler (frame 6).
	handler := frames[6]
	scopes := c.mustCall("scopes", map[string]any{"frameId": handler.Id}).(*godap.ScopesResponse).Body.Scopes
	locals := map[string]godap.Variable{}
	for _, v := range c.mustCall("variables", map[string]any{"variablesReference": scopes[1].VariablesReference}).(*godap.VariablesResponse).Body.Variables {
		locals[v.Name] = v
	}
	for name, want := range map[string]string{"color": "KDAP_COLOR_BLUE", "scratch": "optimized out"} {
		if v, ok := locals[name]; !ok || !strings.Contains(v.Value, want) {
			t.Errorf("local %s = %+v, want a value containing %q", name, v, want)
		}
	}
	primes := locals["primes"]
	if primes.IndexedVariables != 6 || primes.VariablesReference == 0 || primes.MemoryReference == "" || primes.EvaluateName != "primes" {
		t.Errorf("primes = %+v, want 6 indexed children, a memory reference, evaluateName primes", primes)
	} else {
		kids := c.mustCall("variables", map[string]any{"variablesReference": primes.VariablesReference, "filter": "indexed", "start": 2, "count": 3}).(*godap.VariablesResponse).Body.Variables
		var got []string
		for _, k := range kids {
			got = append(got, k.Value)
		}
		if strings.Join(got, ",") != "5,7,11" {
			t.Errorf("primes[2..4] = %v, want 5,7,11", got)
		}
		kids = c.mustCall("variables", map[string]any{"variablesReference": primes.VariablesReference, "filter": "indexed", "start": 5, "count": 1, "format": map[string]any{"hex": true}}).(*godap.VariablesResponse).Body.Variables
		if len(kids) != 1 || kids[0].Value != "0xd" {
			t.Errorf("primes[5] in hex = %+v, want 0xd", kids)
		}
	}
	if pair := locals["pair"]; pair.VariablesReference != 0 {
		kids := c.mustCall("variables", map[string]any{"variablesReference": pair.VariablesReference}).(*godap.VariablesResponse).Body.Variables
		got := map[string]string{}
		for _, k := range kids {
			got[k.Name] = k.Value
		}
		if got["kp_key"] != "42" || got["kp_val"] != "-1234567890123" || !strings.Contains(got["kp_name"], `"answer"`) {
			t.Errorf("pair children = %v, want kp_key 42, kp_val -1234567890123, kp_name \"answer\"", got)
		}
	} else {
		t.Errorf("pair has no children: %+v", pair)
	}

	// Expressions.
	ev := func(expr, context string, frameID int) *godap.EvaluateResponse {
		return c.mustCall("evaluate", map[string]any{"expression": expr, "context": context, "frameId": frameID}).(*godap.EvaluateResponse)
	}
	if r := ev("hz", "watch", 0); r.Body.Result != "1000" {
		t.Errorf("hz = %q, want 1000", r.Body.Result)
	}
	// A C string literal escapes the backslash.
	if r, want := ev("panicstr", "hover", 0), `"`+strings.ReplaceAll(panicString, `\`, `\\`)+`"`; !strings.Contains(r.Body.Result, want) {
		t.Errorf("panicstr = %q, want it to contain %q", r.Body.Result, want)
	}
	if r := c.mustCall("evaluate", map[string]any{"expression": "hz", "context": "hover", "format": map[string]any{"hex": true}}).(*godap.EvaluateResponse); r.Body.Result != "0x3e8" {
		t.Errorf("hz in hex = %q, want 0x3e8", r.Body.Result)
	}
	// A pointer expands to its target, whose members are msgbuf's.
	if r := ev("msgbufp", "hover", 0); r.Body.VariablesReference == 0 {
		t.Errorf("msgbufp has no children: %+v", r.Body)
	} else {
		kids := c.mustCall("variables", map[string]any{"variablesReference": r.Body.VariablesReference}).(*godap.VariablesResponse).Body.Variables
		if len(kids) != 1 || kids[0].VariablesReference == 0 || kids[0].EvaluateName == "" {
			t.Fatalf("msgbufp children = %+v, want its target", kids)
		}
		members := map[string]string{}
		for _, m := range c.mustCall("variables", map[string]any{"variablesReference": kids[0].VariablesReference, "format": map[string]any{"hex": true}}).(*godap.VariablesResponse).Body.Variables {
			members[m.Name] = m.Value
			if m.EvaluateName == "" || m.MemoryReference == "" {
				t.Errorf("member %s: evaluateName %q memoryReference %q", m.Name, m.EvaluateName, m.MemoryReference)
			}
		}
		if members["msg_magic"] != "0x63062" || members["msg_size"] != "0x2000" || members["msg_seqmod"] != "0x20000" {
			t.Errorf("*msgbufp in hex = %v, want msg_magic 0x63062, msg_size 0x2000, msg_seqmod 0x20000", members)
		}
	}
	if r := ev("pair.kp_key", "repl", handler.Id); r.Body.Result != "42" {
		t.Errorf("pair.kp_key in sysctl_kdap_handler = %q, want 42", r.Body.Result)
	}
	if msg := c.failCall("evaluate", map[string]any{"expression": "hz +* )", "context": "repl"}); msg == "" {
		t.Error("a bad expression's error has no message")
	}
	if r := ev("dmesg", "repl", 0); !strings.HasSuffix(r.Body.Result, unreadMsgs) || len(r.Body.Result) != 8192 {
		t.Errorf("dmesg: %d bytes ending %q, want the 8192-byte ring ending with the unread text", len(r.Body.Result), tailOf(r.Body.Result, 40))
	}
	if r := ev("ps", "repl", 0); strings.Count(r.Body.Result, "\n") != 18 || !strings.Contains(r.Body.Result, "(pid 806) sysctl (crashed)") {
		t.Errorf("ps:\n%s", r.Body.Result)
	}
	if r := ev("bt", "repl", 0); !strings.Contains(r.Body.Result, "in sysctl_kdap_handler () at /usr/src/sys/kern/kern_kdap.c:164") {
		t.Errorf("bt:\n%s", r.Body.Result)
	}
	if r := ev("x/2dw &hz", "repl", 0); !strings.HasSuffix(r.Body.Result, "\t1000") && !strings.Contains(r.Body.Result, "\t1000\t") {
		t.Errorf("x/2dw &hz = %q, want 1000 first", r.Body.Result)
	}
	if r := ev("ptype struct pcb", "repl", 0); !strings.Contains(r.Body.Result, "pcb_r15;") || !strings.Contains(r.Body.Result, "pcb_rip;") {
		t.Errorf("ptype struct pcb:\n%s", r.Body.Result)
	}
	if r := ev("ptype struct proc", "repl", 0); !strings.HasPrefix(r.Body.Result, "type = struct proc {\n") || !strings.Contains(r.Body.Result, "    char p_comm[20];\n") {
		t.Errorf("ptype struct proc:\n%s", r.Body.Result)
	}

	// version[] through readMemory.
	vr := ev("version", "watch", 0)
	if vr.Body.MemoryReference == "" {
		t.Fatalf("version has no memory reference: %+v", vr.Body)
	}
	mem := c.mustCall("readMemory", map[string]any{"memoryReference": vr.Body.MemoryReference, "count": len(versionHead)}).(*godap.ReadMemoryResponse).Body
	data, err := base64.StdEncoding.DecodeString(mem.Data)
	if err != nil || string(data) != versionHead || mem.UnreadableBytes != 0 {
		t.Errorf("readMemory(version) = %q, %d unreadable, %v; want %q", data, mem.UnreadableBytes, err, versionHead)
	}

	// Disassembly around frame 0's pc: the instruction before it calls savectx.
	dis := c.mustCall("disassemble", map[string]any{"memoryReference": frames[0].InstructionPointerReference, "instructionOffset": -1, "instructionCount": 2}).(*godap.DisassembleResponse).Body.Instructions
	if len(dis) != 2 || !strings.Contains(dis[0].Instruction, "call") || !strings.Contains(dis[0].Instruction, "savectx") {
		t.Errorf("instruction before doadump's pc = %+v, want a call to savectx", dis)
	} else if ip, _ := strconv.ParseUint(frames[0].InstructionPointerReference, 0, 64); dis[1].Address != fmt.Sprintf("%#x", ip) {
		t.Errorf("instruction 1 at %s, want frame 0's pc %s", dis[1].Address, frames[0].InstructionPointerReference)
	}
	// kern_reboot's call to doadump, symbolized; doadump's address from
	// debug/elf.
	doadump := elfSymbol(t, fixtureKernel(t), "doadump")
	dis = c.mustCall("disassemble", map[string]any{"memoryReference": frames[1].InstructionPointerReference, "instructionOffset": -1, "instructionCount": 1}).(*godap.DisassembleResponse).Body.Instructions
	if want := "call"; len(dis) != 1 || !strings.HasPrefix(dis[0].Instruction, want) || !strings.HasSuffix(dis[0].Instruction, fmt.Sprintf(" %#x <doadump>", doadump)) {
		t.Errorf("instruction before kern_reboot's return address = %+v, want a call to %#x <doadump>", dis, doadump)
	}
	dis = c.mustCall("disassemble", map[string]any{"memoryReference": frames[0].InstructionPointerReference, "instructionOffset": -400, "instructionCount": 401}).(*godap.DisassembleResponse).Body.Instructions
	found := false
	for _, in := range dis {
		if in.Symbol == "doadump" {
			found = true
			if in.Location == nil || in.Location.Path != localSrc+"/sys/kern/kern_shutdown.c" || in.Line == 0 {
				t.Errorf("doadump's first instruction: location %+v line %d", in.Location, in.Line)
			}
		}
	}
	if !found || len(dis) != 401 {
		t.Errorf("disassembly backwards from doadump's pc: %d instructions, symbol doadump found %v", len(dis), found)
	}
	// Backwards across functions: contiguous instructions ending at pc.
	for i := 1; i < len(dis); i++ {
		prev, _ := strconv.ParseUint(dis[i-1].Address, 0, 64)
		cur, _ := strconv.ParseUint(dis[i].Address, 0, 64)
		if prev+uint64(len(dis[i-1].InstructionBytes)/2) != cur {
			t.Errorf("instruction %d at %s (%s) does not follow %s (%s)", i, dis[i].Address, dis[i].Instruction, dis[i-1].Address, dis[i-1].InstructionBytes)
			break
		}
	}
	if dis[400].Address != frames[0].InstructionPointerReference {
		t.Errorf("instruction 400 at %s, want frame 0's pc %s", dis[400].Address, frames[0].InstructionPointerReference)
	}

	// Modules, exception info, snapshot errors.
	mods := c.mustCall("modules", nil).(*godap.ModulesResponse).Body.Modules
	if len(mods) != 1 || mods[0].Id != "kernel" || mods[0].Name != "kernel.debug" || mods[0].SymbolStatus != "Symbols loaded" {
		t.Errorf("modules = %+v", mods)
	}
	ex := c.mustCall("exceptionInfo", map[string]any{"threadId": crashedTID}).(*godap.ExceptionInfoResponse).Body
	if ex.ExceptionId != "panic" || ex.Description != panicString || ex.BreakMode != "always" || ex.Details == nil || !strings.HasSuffix(ex.Details.StackTrace, unreadMsgs) {
		t.Errorf("exceptionInfo = %+v", ex)
	}
	c.disconnect()
}

// elfSymbol reads a symbol's address with debug/elf.
func elfSymbol(t *testing.T, path, name string) uint64 {
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name == name {
			return s.Value
		}
	}
	t.Fatalf("%s: no symbol %s", path, name)
	return 0
}

// tailOf returns the last n bytes of s.
func tailOf(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
