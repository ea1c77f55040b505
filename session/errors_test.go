package session_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	godap "github.com/google/go-dap"
)

func TestAttachErrors(t *testing.T) {
	core, kernel := fixtureCore(t), fixtureKernel(t)
	otherKernel := fixtureKernelVariant(t, "nofp")
	dir := t.TempDir()
	notDump := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notDump, []byte(strings.Repeat("not a dump\n", 1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	lonely := filepath.Join(dir, "vmcore.0")
	if err := os.Symlink(core, lonely); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args map[string]any
		want string
	}{
		{"no core", map[string]any{"kernel": kernel}, `"core"`},
		{"missing core", map[string]any{"core": filepath.Join(dir, "vmcore.9"), "kernel": kernel}, "core not found: "},
		{"not a dump", map[string]any{"core": notDump, "kernel": kernel}, "not a crash dump: "},
		{"no kernel beside", map[string]any{"core": lonely}, "no kernel given and none found for "},
		{"bad sourceMap", map[string]any{"core": core, "kernel": kernel, "sourceMap": 12}, "sourceMap: expected an object"},
		{"wrong kernel", map[string]any{"core": core, "kernel": otherKernel}, "does not match this dump"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := pipeClient(t)
			c.mustCall("initialize", map[string]any{"adapterID": "kdap"})
			msg := c.failCall("attach", tc.args)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("attach error %q, want it to contain %q", msg, tc.want)
			}
			// The session stays usable and says why nothing works.
			if msg := c.failCall("threads", nil); !strings.Contains(msg, "no crash dump is open") {
				t.Errorf("threads before a successful attach: %q", msg)
			}
		})
	}
}

func TestRequestErrors(t *testing.T) {
	c := pipeClient(t)
	c.attach(attachArgs(t))
	snapshot := "a crash dump is a snapshot: execution cannot resume"
	tests := []struct {
		command string
		args    map[string]any
		want    string
	}{
		{"continue", map[string]any{"threadId": crashedTID}, snapshot},
		{"next", map[string]any{"threadId": crashedTID}, snapshot},
		{"stepIn", map[string]any{"threadId": crashedTID}, snapshot},
		{"stepOut", map[string]any{"threadId": crashedTID}, snapshot},
		{"pause", map[string]any{"threadId": crashedTID}, snapshot},
		{"reverseContinue", map[string]any{"threadId": crashedTID}, snapshot},
		{"stepBack", map[string]any{"threadId": crashedTID}, snapshot},
		{"setVariable", map[string]any{"variablesReference": 1, "name": "x", "value": "1"}, "a crash dump is a snapshot: memory cannot be changed"},
		{"setExpression", map[string]any{"expression": "hz", "value": "1"}, "a crash dump is a snapshot: memory cannot be changed"},
		{"variables", map[string]any{"variablesReference": 987654}, "unknown variablesReference 987654"},
		{"scopes", map[string]any{"frameId": 987654}, "unknown frameId 987654"},
		{"stackTrace", map[string]any{"threadId": 42}, "thread 42"},
		{"exceptionInfo", map[string]any{"threadId": 42}, "thread 42"},
		{"exceptionInfo", map[string]any{"threadId": -1}, "thread -1"},
		{"readMemory", map[string]any{"memoryReference": "zz", "count": 4}, `memoryReference "zz"`},
		{"readMemory", map[string]any{"memoryReference": "0x0", "count": 1 << 30}, "count 1073741824 out of range"},
		{"disassemble", map[string]any{"memoryReference": "0x0", "instructionCount": 0}, "instructionCount 0 out of range"},
		{"source", map[string]any{"source": map[string]any{"path": localSrc + "/sys/kern/kern_kdap.c"}}, "source not available: /usr/src/sys/kern/kern_kdap.c (set sourceMap or substitutePath)"},
		{"source", map[string]any{"source": map[string]any{"path": "/etc/passwd"}}, "source /etc/passwd: not a source file of this kernel's debug information"},
		{"evaluate", map[string]any{"expression": "no_such_symbol_here", "context": "watch"}, "no_such_symbol_here"},
		{"evaluate", map[string]any{"expression": "x/4x 0x10", "context": "repl"}, "cannot access memory at 0x10"},
		{"evaluate", map[string]any{"expression": "bt 7", "context": "repl"}, "thread 7"},
		{"evaluate", map[string]any{"expression": "ptype struct no_such_type", "context": "repl"}, "ptype: no type or variable"},
	}
	for _, tc := range tests {
		t.Run(tc.command, func(t *testing.T) {
			msg := c.failCall(tc.command, tc.args)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("%s: error %q, want it to contain %q", tc.command, msg, tc.want)
			}
		})
	}
	// An unreadable range is reported, not failed.
	r := c.mustCall("readMemory", map[string]any{"memoryReference": "0x0", "count": 16}).(*godap.ReadMemoryResponse)
	if r.Body.UnreadableBytes != 16 || r.Body.Data != "" {
		t.Errorf("readMemory at 0: %+v, want 16 unreadable bytes", r.Body)
	}
	// Thread 100001's stack ends at 0xfffffe0000005000, below the next
	// thread's unmapped guard page (testdata/README.md): half of this
	// range is readable.
	r = c.mustCall("readMemory", map[string]any{"memoryReference": "0xfffffe0000004ff0", "offset": 8, "count": 16}).(*godap.ReadMemoryResponse)
	if data, _ := base64.StdEncoding.DecodeString(r.Body.Data); r.Body.Address != "0xfffffe0000004ff8" || len(data) != 8 || r.Body.UnreadableBytes != 8 {
		t.Errorf("readMemory across the guard page: %+v (%d bytes), want 8 read at 0xfffffe0000004ff8 and 8 unreadable", r.Body, len(data))
	}
	c.mustCall("terminate", nil)
	c.event("terminated")
	if msg := c.failCall("threads", nil); !strings.Contains(msg, "no crash dump is open") {
		t.Errorf("threads after terminate: %q, want the dump closed", msg)
	}
}
