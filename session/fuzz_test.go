package session

import (
	"context"
	"encoding/json"
	"testing"

	godap "github.com/google/go-dap"
	"github.com/kdap/kdap/internal/testfixture"
)

// handleOne sends one request to s and returns every message it produced.
func handleOne(s *Session, req godap.RequestMessage) []godap.Message {
	var out []godap.Message
	s.Handle(context.Background(), req, func(m godap.Message) { out = append(out, m) })
	return out
}

// FuzzRequests feeds evaluate, completions, readMemory and disassemble
// arguments from the fuzzer to a session on the fp assert fixture: every
// request must be answered exactly once, without a panic.
func FuzzRequests(f *testing.F) {
	core := testfixture.Path(f, "fbsdkern/fixtures/fp/assert/vmcore.mini")
	kernel := testfixture.Path(f, "fbsdkern/fixtures/fp/kernel.debug")
	s := New(Options{})
	attach, _ := json.Marshal(map[string]any{"core": core, "kernel": kernel})
	msgs := handleOne(s, &godap.AttachRequest{Request: godap.Request{Command: "attach"}, Arguments: attach})
	if len(msgs) != 2 {
		f.Fatalf("attach: %d messages: %+v", len(msgs), msgs)
	}
	f.Cleanup(func() { s.Close() })
	for _, seed := range []string{"hz", "x/4gx &hz", "x/3b 0xffffffff80200000", "bt 100007", "ptype struct thread", "ps", "dmesg", "*msgbufp", "0xffffffff80200000", "x/", "ptype", "pan", "msgbufp->msg_", "(*msgbufp).", "((((a)))->"} {
		f.Add(seed, int64(-3), 4)
	}
	f.Fuzz(func(t *testing.T, text string, offset int64, count int) {
		reqs := []godap.RequestMessage{
			&godap.EvaluateRequest{Request: godap.Request{Command: "evaluate"}, Arguments: godap.EvaluateArguments{Expression: text, Context: "repl"}},
			&godap.CompletionsRequest{Request: godap.Request{Command: "completions"}, Arguments: godap.CompletionsArguments{Text: text, Column: int(offset)}},
			&godap.ReadMemoryRequest{Request: godap.Request{Command: "readMemory"}, Arguments: godap.ReadMemoryArguments{MemoryReference: text, Offset: int(offset), Count: count}},
			&godap.DisassembleRequest{Request: godap.Request{Command: "disassemble"}, Arguments: godap.DisassembleArguments{MemoryReference: "0xffffffff80200a00", Offset: int(offset), InstructionOffset: count % 50, InstructionCount: 1 + count%7}},
		}
		for _, r := range reqs {
			if got := handleOne(s, r); len(got) != 1 {
				t.Fatalf("%s: %d messages", r.GetRequest().Command, len(got))
			}
		}
	})
}
