package session_test

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"testing"

	godap "github.com/google/go-dap"

	"github.com/kdap/kdap/internal/lldbcheck"
)

// TestLLDBDumpsOverDAP drives a whole DAP session on each of LLDB's four
// real FreeBSD vmcores (amd64 full and minidump, arm64, i386), with the
// expectations of LLDB's own test: the thread list and names, each named
// thread's frames, frame 0's Registers scope by LLDB's register names,
// readMemory and evaluate of hz, and disassembly at a frame's pc (whose
// text the sparse copies do not hold: it must say so, not fail).
func TestLLDBDumpsOverDAP(t *testing.T) {
	for _, lc := range lldbcheck.Load(t) {
		t.Run(lc.Test, func(t *testing.T) {
			core, kernel := lc.Files(t)
			c := pipeClient(t)
			stopped := c.attach(map[string]any{"core": core, "kernel": kernel})
			// Each of LLDB's copies ends early: the session says so.
			warn := c.event("output").(*godap.OutputEvent).Body
			for warn.Category != "important" {
				warn = c.event("output").(*godap.OutputEvent).Body
			}
			if !strings.Contains(warn.Output, "kdap: warning: the file ends early") {
				t.Errorf("warning event %q, want the dump's truncation", warn.Output)
			}
			ths := c.mustCall("threads", nil).(*godap.ThreadsResponse).Body.Threads
			if len(ths) != lc.NumThreads {
				t.Errorf("%d threads, LLDB %d", len(ths), lc.NumThreads)
			}
			if stopped.Body.ThreadId != ths[0].Id || !strings.HasSuffix(ths[0].Name, "(crashed)") {
				t.Errorf("stopped on thread %d; first thread %+v, want the crashed one", stopped.Body.ThreadId, ths[0])
			}
			for idx, want := range lc.Threads {
				if idx >= len(ths) || ths[idx].Name != want.Name {
					t.Errorf("thread %d is not %q", idx, want.Name)
					continue
				}
				st := c.mustCall("stackTrace", map[string]any{"threadId": ths[idx].Id, "startFrame": 0, "levels": 100}).(*godap.StackTraceResponse).Body
				if len(st.StackFrames) == 0 {
					t.Errorf("%s: no frames", want.Name)
					continue
				}
				for i, f := range st.StackFrames {
					if i >= len(want.BT) {
						break
					}
					pc, _ := strconv.ParseUint(f.InstructionPointerReference, 0, 64)
					if pc != want.BT[i] && i < len(st.StackFrames)-1 {
						t.Errorf("%s: frame %d pc %#x, LLDB %#x", want.Name, i, pc, want.BT[i])
					}
				}
				checkDAPRegisters(t, c, st.StackFrames[0], want)
				dis := c.mustCall("disassemble", map[string]any{"memoryReference": st.StackFrames[0].InstructionPointerReference, "instructionCount": 4}).(*godap.DisassembleResponse).Body.Instructions
				if len(dis) != 4 {
					t.Errorf("%s: %d instructions, asked for 4", want.Name, len(dis))
				}
			}
			hz := elfSymbol(t, kernel, "hz")
			mem := c.mustCall("readMemory", map[string]any{"memoryReference": fmt.Sprintf("%#x", hz), "count": 4}).(*godap.ReadMemoryResponse).Body
			b, err := base64.StdEncoding.DecodeString(mem.Data)
			if err != nil || len(b) != 4 || uint64(b[0])|uint64(b[1])<<8|uint64(b[2])<<16|uint64(b[3])<<24 != uint64(lc.HZ) {
				t.Errorf("readMemory of hz: % x (%v), LLDB %d", b, err, lc.HZ)
			}
			ev := c.mustCall("evaluate", map[string]any{"expression": "*(int *)&hz", "context": "repl"}).(*godap.EvaluateResponse).Body
			if ev.Result != fmt.Sprint(lc.HZ) {
				t.Errorf("evaluate *(int *)&hz = %q, LLDB %d", ev.Result, lc.HZ)
			}
			c.disconnect()
		})
	}
}

// checkDAPRegisters compares frame 0's Registers scope with LLDB's
// registers, by name (x86's stack pointer one slot apart, see
// internal/lldbcheck).
func checkDAPRegisters(t *testing.T, c *client, f godap.StackFrame, want lldbcheck.Thread) {
	t.Helper()
	scopes := c.mustCall("scopes", map[string]any{"frameId": f.Id}).(*godap.ScopesResponse).Body.Scopes
	ref := 0
	for _, s := range scopes {
		if s.Name == "Registers" {
			ref = s.VariablesReference
		}
	}
	if ref == 0 {
		t.Fatalf("%s: no Registers scope in %+v", want.Name, scopes)
	}
	vars := c.mustCall("variables", map[string]any{"variablesReference": ref}).(*godap.VariablesResponse).Body.Variables
	got := map[string]string{}
	for _, v := range vars {
		got[v.Name] = v.Value
	}
	for name, v := range want.Regs {
		s, ok := got[name]
		if !ok {
			t.Errorf("%s: no register %s in %v", want.Name, name, got)
			continue
		}
		n, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			t.Errorf("%s: %s = %q", want.Name, name, s)
			continue
		}
		switch name {
		case "rsp":
			n -= 8
		case "esp":
			n -= 4
		}
		if n != v {
			t.Errorf("%s: %s = %#x, LLDB %#x", want.Name, name, n, v)
		}
	}
}
