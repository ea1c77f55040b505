package dap

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestRequestsAnsweredByTransport(t *testing.T) {
	tests := []struct {
		name        string
		content     string
		wantSeq     float64
		wantCommand string
		wantSuccess bool
		wantID      float64
		wantMessage string
	}{
		{"known request", `{"seq":1,"type":"request","command":"threads"}`, 1, "threads", true, 0, ""},
		{"unknown command", `{"seq":7,"type":"request","command":"frobnicate","arguments":{}}`, 7, "frobnicate", false, ErrIDUnsupportedRequest, "unsupported request 'frobnicate'"},
		{"malformed arguments", `{"seq":3,"type":"request","command":"stackTrace","arguments":{"threadId":"one"}}`, 3, "stackTrace", false, ErrIDMalformedArguments, "request 'stackTrace' (seq 3) has malformed arguments"},
		{"invalid JSON", `{"seq":4,"type":"req`, 0, "", false, ErrIDInvalidMessage, "not valid JSON"},
		{"JSON that is not a message", `[1,2,3]`, 0, "", false, ErrIDInvalidMessage, "not a DAP protocol message"},
		{"seq of the wrong type", `{"seq":"5","type":"request","command":"threads"}`, 0, "", false, ErrIDInvalidMessage, "not a DAP protocol message"},
		{"unknown type", `{"seq":5,"type":"bogus"}`, 5, "", false, ErrIDInvalidMessage, `message seq 5 has type "bogus", expected "request"`},
		{"request without command", `{"seq":6,"type":"request"}`, 6, "", false, ErrIDInvalidMessage, `request seq 6 has no "command"`},
		{"panicking handler", `{"seq":8,"type":"request","command":"evaluate","arguments":{"expression":"panic"}}`, 8, "evaluate", false, ErrIDInternal, "internal error while handling 'evaluate': boom"},
		{"handler without answer", `{"seq":9,"type":"request","command":"evaluate","arguments":{"expression":"noanswer"}}`, 9, "evaluate", false, ErrIDNoResponse, "internal error: no response to 'evaluate'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := pipeServer(t, t.Context(), newRecorder().factory())
			c.raw(tt.content)
			m := c.read()
			if m["type"] != "response" || m["request_seq"] != tt.wantSeq || m["command"] != tt.wantCommand || m["success"] != tt.wantSuccess {
				t.Fatalf("got %v, want a response to seq %v command %q success %v", m, tt.wantSeq, tt.wantCommand, tt.wantSuccess)
			}
			if !tt.wantSuccess {
				msg, _ := m["message"].(string)
				if !strings.Contains(msg, tt.wantMessage) {
					t.Errorf("message %q does not contain %q", msg, tt.wantMessage)
				}
				body, _ := m["body"].(map[string]any)
				e, _ := body["error"].(map[string]any)
				if e["id"] != tt.wantID || e["format"] != msg || e["showUser"] != true {
					t.Errorf("body.error = %v, want id %v, format = message, showUser", e, tt.wantID)
				}
			}
			// The connection survives: the next request is served normally.
			seq := c.request("threads", nil)
			if r := c.response(seq); r["success"] != true {
				t.Errorf("follow-up request failed: %v", r)
			}
		})
	}
}

func TestMessagesFromClientThatAreIgnored(t *testing.T) {
	c, _ := pipeServer(t, t.Context(), newRecorder().factory())
	c.raw(`{"seq":1,"type":"response","request_seq":1,"command":"runInTerminal","success":true}`)
	c.raw(`{"seq":2,"type":"event","event":"stopped"}`)
	c.seq = 2
	seq := c.request("threads", nil)
	// Nothing answers the response or the event: the first message back is
	// the answer to the threads request.
	if m := c.read(); m["request_seq"] != float64(seq) {
		t.Fatalf("got %v, want the response to request %d", m, seq)
	}
}

func TestSequenceNumbersAndOrder(t *testing.T) {
	c, _ := pipeServer(t, t.Context(), newRecorder().factory())
	s1 := c.request("initialize", map[string]any{"adapterID": "kdap"})
	s2 := c.request("evaluate", map[string]any{"expression": "events"})
	s3 := c.request("threads", nil)
	want := []struct{ typ, what string }{
		{"response", "initialize"}, {"event", "output"}, {"event", "output"}, {"event", "output"},
		{"response", "evaluate"}, {"response", "threads"},
	}
	wantReq := map[string]float64{"initialize": float64(s1), "evaluate": float64(s2), "threads": float64(s3)}
	for i, w := range want {
		m := c.read()
		if m["seq"] != float64(i+1) {
			t.Errorf("message %d has seq %v, want %d", i, m["seq"], i+1)
		}
		if m["type"] != w.typ {
			t.Fatalf("message %d = %v, want a %s", i, m, w.typ)
		}
		switch w.typ {
		case "event":
			if m["event"] != w.what {
				t.Errorf("message %d = %v, want event %s", i, m, w.what)
			}
		case "response":
			if m["command"] != w.what || m["request_seq"] != wantReq[w.what] {
				t.Errorf("message %d = %v, want the response to %s", i, m, w.what)
			}
		}
	}
}

func TestCancelRequest(t *testing.T) {
	rec := newRecorder()
	c, _ := pipeServer(t, t.Context(), rec.factory())
	blocked := c.request("evaluate", map[string]any{"expression": "block"})
	<-rec.started
	cancel := c.request("cancel", map[string]any{"requestId": blocked})
	m := c.response(blocked)
	if m["success"] != false || m["message"] != "cancelled" {
		t.Errorf("cancelled request answered %v, want success false, message \"cancelled\"", m)
	}
	if err := <-rec.ctxErr; !errors.Is(err, context.Canceled) {
		t.Errorf("handler context error %v, want context.Canceled", err)
	}
	if m := c.response(cancel); m["success"] != true {
		t.Errorf("cancel request answered %v", m)
	}
}

func TestDisconnectEndsSession(t *testing.T) {
	rec := newRecorder()
	c, done := pipeServer(t, t.Context(), rec.factory())
	seq := c.request("disconnect", map[string]any{"terminateDebuggee": true})
	if m := c.response(seq); m["success"] != true {
		t.Fatalf("disconnect answered %v", m)
	}
	if m, err := c.next(); err == nil {
		t.Fatalf("server sent %v after disconnect, want the connection closed", m)
	}
	if err := wait(t, done); err != nil {
		t.Errorf("Serve after disconnect: %v", err)
	}
	if n := rec.closed.Load(); n != 1 {
		t.Errorf("handler closed %d times, want 1", n)
	}
}

func TestClientDisconnectMidRequest(t *testing.T) {
	rec := newRecorder()
	c, done := pipeServer(t, t.Context(), rec.factory())
	c.request("evaluate", map[string]any{"expression": "block"})
	<-rec.started
	c.c.Close()
	if err := <-rec.ctxErr; !errors.Is(err, context.Canceled) {
		t.Errorf("handler context error %v, want context.Canceled", err)
	}
	if err := wait(t, done); err != nil {
		t.Errorf("Serve after client hang-up: %v", err)
	}
	if n := rec.closed.Load(); n != 1 {
		t.Errorf("handler closed %d times, want 1", n)
	}
}

func TestServerContextCancelled(t *testing.T) {
	rec := newRecorder()
	ctx, cancel := context.WithCancel(t.Context())
	c, done := pipeServer(t, ctx, rec.factory())
	c.request("evaluate", map[string]any{"expression": "block"})
	<-rec.started
	cancel()
	if err := wait(t, done); err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
	if n := rec.closed.Load(); n != 1 {
		t.Errorf("handler closed %d times, want 1", n)
	}
}

func TestFramingErrorsCloseConnection(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string
	}{
		{"bad length", "Content-Length: abc\r\n\r\n{}", `Content-Length "abc" is not a non-negative decimal integer (stream offset 0x0)`},
		{"too long", "Content-Length: 67108865\r\n\r\n", "Content-Length 67108865 is above the limit of 8388608 bytes (stream offset 0x0)"},
		{"no length", "Content-Type: application/json\r\n\r\n{}", "message header has no Content-Length field (stream offset 0x0)"},
		{"not a header", "hello\r\n\r\n", `header line "hello\r\n" is not "Name: value" (stream offset 0x0)`},
		{"LF only", "Content-Length: 2\n\n{}", `header line "Content-Length: 2\n" does not end with CRLF (stream offset 0x0)`},
		{"long header line", strings.Repeat("A", 5000), "header line longer than 4096 bytes (stream offset 0x0)"},
		{"signed length", "Content-Length: +2\r\n\r\n{}", `Content-Length "+2" is not a non-negative decimal integer (stream offset 0x0)`},
		{"contradicting lengths", "Content-Length: 2\r\ncontent-length: 3\r\n\r\n{}", "second Content-Length 3 contradicts the first, 2 (stream offset 0x13)"},
		{"second message broken", "Content-Length: 2\r\n\r\n{}X-Bad\r\n\r\n", `header line "X-Bad\r\n" is not "Name: value" (stream offset 0x17)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			c, done := pipeServer(t, t.Context(), rec.factory())
			go func() { _, _ = io.WriteString(c.c, tt.input) }()
			var output string
			for {
				m, err := c.next()
				if err != nil {
					break
				}
				if m["event"] == "output" {
					output = m["body"].(map[string]any)["output"].(string)
				}
			}
			if !strings.Contains(output, tt.want) {
				t.Errorf("output event %q does not contain %q", output, tt.want)
			}
			err := wait(t, done)
			if !errors.Is(err, ErrFraming) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Serve returned %v, want a framing error containing %q", err, tt.want)
			}
			if n := rec.closed.Load(); n != 1 {
				t.Errorf("handler closed %d times, want 1", n)
			}
		})
	}
}

func TestTruncatedMessage(t *testing.T) {
	c, done := pipeServer(t, t.Context(), newRecorder().factory())
	if _, err := io.WriteString(c.c, "Content-Length: 100\r\n\r\n{\"seq\":1"); err != nil {
		t.Fatal(err)
	}
	c.c.Close()
	err := wait(t, done)
	if !errors.Is(err, ErrFraming) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Serve returned %v, want a framing error wrapping io.ErrUnexpectedEOF", err)
	}
	if want := "stream ended after 8 of 100 content bytes"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
}

func TestFactoryPanics(t *testing.T) {
	f := func(*zap.Logger) Handler { panic("no dump") }
	c, _ := pipeServer(t, t.Context(), f)
	seq := c.request("threads", nil)
	m := c.response(seq)
	if msg, _ := m["message"].(string); m["success"] != false || !strings.Contains(msg, "session could not start: no dump") {
		t.Errorf("got %v, want an error naming the factory panic", m)
	}
}

func TestWriteFailureEndsSession(t *testing.T) {
	rec := newRecorder()
	c, done := pipeServer(t, t.Context(), rec.factory())
	c.request("threads", nil)
	// The client stops reading and hangs up: the response cannot be written.
	c.c.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the peer closed")
	}
	if n := rec.closed.Load(); n != 1 {
		t.Errorf("handler closed %d times, want 1", n)
	}
}
