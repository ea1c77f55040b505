package schema

import (
	"strings"
	"testing"

	godap "github.com/google/go-dap"
)

// resp wraps a body in a successful response to command.
func resp(command, body string) string {
	s := `{"seq":3,"type":"response","request_seq":2,"success":true,"command":"` + command + `"`
	if body != "" {
		s += `,"body":` + body
	}
	return s + "}"
}

// event wraps a body in an event.
func event(name, body string) string {
	s := `{"seq":4,"type":"event","event":"` + name + `"`
	if body != "" {
		s += `,"body":` + body
	}
	return s + "}"
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want []string // substrings of the error; none means valid
	}{
		{"threads", resp("threads", `{"threads":[{"id":1,"name":"(pid 806) sysctl"}]}`), nil},
		{"thread without name", resp("threads", `{"threads":[{"id":1,"name":"a"},{"id":2}]}`), []string{"response to 'threads'", "body.threads[1].name is missing"}},
		{"thread id as string", resp("threads", `{"threads":[{"id":"1","name":"a"}]}`), []string{"body.threads[0].id is a JSON string, expected integer"}},
		{"thread id fractional", resp("threads", `{"threads":[{"id":1.5,"name":"a"}]}`), []string{"body.threads[0].id is a JSON number, expected integer"}},
		{"threads null", resp("threads", `{"threads":null}`), []string{"body.threads is a JSON null, expected array"}},
		{"threads without body", resp("threads", ""), []string{"body is missing"}},
		{"stack frame", resp("stackTrace", `{"stackFrames":[{"id":1,"name":"panic","line":0,"column":0}],"totalFrames":1}`), nil},
		{"stack frame without line and column", resp("stackTrace", `{"stackFrames":[{"id":1,"name":"panic"}]}`), []string{"body.stackFrames[0].line is missing", "body.stackFrames[0].column is missing"}},
		{"stack frame source checksum", resp("stackTrace", `{"stackFrames":[{"id":1,"name":"f","line":1,"column":1,"source":{"checksums":[{"algorithm":"MD5"}]}}]}`), []string{"body.stackFrames[0].source.checksums[0].checksum is missing"}},
		{"scope without expensive", resp("scopes", `{"scopes":[{"name":"Locals","variablesReference":3}]}`), []string{"body.scopes[0].expensive is missing"}},
		{"variable without reference", resp("variables", `{"variables":[{"name":"td","value":"0x0"}]}`), []string{"body.variables[0].variablesReference is missing"}},
		{"evaluate", resp("evaluate", `{"result":"42","variablesReference":0}`), nil},
		{"evaluate without result", resp("evaluate", `{"variablesReference":0}`), []string{"body.result is missing"}},
		{"readMemory without body", resp("readMemory", ""), nil},
		{"readMemory without address", resp("readMemory", `{"data":"AAA="}`), []string{"body.address is missing"}},
		{"disassemble instruction", resp("disassemble", `{"instructions":[{"address":"0xffffffff80000000"}]}`), []string{"body.instructions[0].instruction is missing"}},
		{"exceptionInfo", resp("exceptionInfo", `{"exceptionId":"panic","breakMode":"always"}`), nil},
		{"exceptionInfo without breakMode", resp("exceptionInfo", `{"exceptionId":"panic"}`), []string{"body.breakMode is missing"}},
		{"modules id may be a string", resp("modules", `{"modules":[{"id":"kernel","name":"kernel"}]}`), nil},
		{"continue needs a body", resp("continue", ""), []string{"body is missing"}},
		{"error response", `{"seq":1,"type":"response","request_seq":1,"success":false,"command":"next","message":"x","body":{"error":{"id":1,"format":"x"}}}`, nil},
		{"error response without body", `{"seq":1,"type":"response","request_seq":1,"success":false,"command":"threads"}`, []string{"body is missing"}},
		{"error message without format", `{"seq":1,"type":"response","request_seq":1,"success":false,"command":"x","body":{"error":{"id":1}}}`, []string{"body.error.format is missing"}},
		{"response without request_seq", `{"seq":1,"type":"response","success":true,"command":"attach"}`, []string{"request_seq is missing"}},
		{"response with success as string", `{"seq":1,"type":"response","request_seq":1,"success":"yes","command":"attach"}`, []string{"success is a JSON string, expected boolean"}},
		{"stopped", event("stopped", `{"reason":"exception","description":"panic: sysctl","threadId":100001,"allThreadsStopped":true}`), nil},
		{"stopped without reason", event("stopped", `{"threadId":1}`), []string{"'stopped' event", "body.reason is missing"}},
		{"stopped without body", event("stopped", ""), []string{"body is missing"}},
		{"output without output", event("output", `{"category":"console"}`), []string{"body.output is missing"}},
		{"initialized has no body", event("initialized", ""), nil},
		{"progressStart", event("progressStart", `{"progressId":"p1"}`), []string{"body.title is missing"}},
		{"event without seq", `{"type":"event","event":"initialized"}`, []string{"seq is missing"}},
		{"reverse request", `{"seq":1,"type":"request","command":"runInTerminal","arguments":{}}`, nil},
		{"not JSON", `{"seq":`, []string{"DAP message is not JSON"}},
		{"not an object", `[1]`, []string{"DAP message is a JSON array, expected an object"}},
		{"unknown type", `{"seq":1,"type":"reply"}`, []string{`DAP message has type reply, expected "response", "event" or "request"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check([]byte(tt.msg))
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("Check(%s) = %v, want nil", tt.msg, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check(%s) = nil, want an error containing %q", tt.msg, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Check(%s) = %v, want it to contain %q", tt.msg, err, w)
				}
			}
		})
	}
}

func TestCheckMessage(t *testing.T) {
	ok := godap.Response{ProtocolMessage: godap.ProtocolMessage{Seq: 1, Type: "response"}, RequestSeq: 1, Success: true}
	tests := []struct {
		name string
		msg  any
		want string
	}{
		{"threads", &godap.ThreadsResponse{Response: withCommand(ok, "threads"), Body: godap.ThreadsResponseBody{Threads: []godap.Thread{{Id: 1, Name: "t"}}}}, ""},
		// go-dap marshals a nil slice as null, which the schema rejects.
		{"threads nil slice", &godap.ThreadsResponse{Response: withCommand(ok, "threads")}, "body.threads is a JSON null, expected array"},
		{"scopes", &godap.ScopesResponse{Response: withCommand(ok, "scopes"), Body: godap.ScopesResponseBody{Scopes: []godap.Scope{{Name: "Locals", VariablesReference: 1}}}}, ""},
		{"stopped", &godap.StoppedEvent{Event: godap.Event{ProtocolMessage: godap.ProtocolMessage{Seq: 2, Type: "event"}, Event: "stopped"}, Body: godap.StoppedEventBody{Reason: "exception"}}, ""},
		{"unencodable", make(chan int), "cannot be encoded"},
	}
	for _, tt := range tests {
		err := CheckMessage(tt.msg)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: got %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

func withCommand(r godap.Response, command string) godap.Response {
	r.Command = command
	return r
}

func FuzzCheck(f *testing.F) {
	f.Add([]byte(resp("threads", `{"threads":[{"id":1,"name":"a"}]}`)))
	f.Add([]byte(event("stopped", `{"reason":"exception"}`)))
	f.Add([]byte(`{"seq":1,"type":"response","success":false,"body":{"error":[1]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = Check(b) // must not panic
	})
}
