package dap

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	godap "github.com/google/go-dap"
	"github.com/kdap/kdap/dap/schema"
	"go.uber.org/zap"
)

// recorder observes the handlers a factory built.
type recorder struct {
	made    atomic.Int64
	closed  atomic.Int64
	started chan int // seq of every "block" request that started
	ctxErr  chan error
}

func newRecorder() *recorder {
	return &recorder{started: make(chan int, 100), ctxErr: make(chan error, 100)}
}

// factory returns a Factory building testHandlers numbered from 1.
func (r *recorder) factory() Factory {
	return func(*zap.Logger) Handler {
		return &testHandler{id: int(r.made.Add(1)), rec: r}
	}
}

// testHandler answers a handful of requests in ways that exercise the
// transport: evaluate's expression selects the behaviour.
type testHandler struct {
	id  int
	rec *recorder
}

func response(req godap.RequestMessage) godap.Response {
	r := req.GetRequest()
	return godap.Response{RequestSeq: r.Seq, Command: r.Command, Success: true}
}

func (h *testHandler) Handle(ctx context.Context, req godap.RequestMessage, send func(godap.Message)) {
	switch req := req.(type) {
	case *godap.InitializeRequest:
		send(&godap.InitializeResponse{Response: response(req), Body: godap.Capabilities{SupportsCancelRequest: true}})
	case *godap.ThreadsRequest:
		send(&godap.ThreadsResponse{Response: response(req), Body: godap.ThreadsResponseBody{
			Threads: []godap.Thread{{Id: h.id, Name: fmt.Sprintf("handler %d", h.id)}}}})
	case *godap.CancelRequest:
		send(&godap.CancelResponse{Response: response(req)})
	case *godap.DisconnectRequest:
		send(&godap.DisconnectResponse{Response: response(req)})
	case *godap.EvaluateRequest:
		switch req.Arguments.Expression {
		case "panic":
			panic("boom")
		case "noanswer":
			return
		case "events":
			for i := range 3 {
				send(&godap.OutputEvent{Event: godap.Event{Event: "output"}, Body: godap.OutputEventBody{Output: fmt.Sprint(i)}})
			}
		case "block":
			h.rec.started <- req.Seq
			<-ctx.Done()
			h.rec.ctxErr <- ctx.Err()
			return
		}
		send(&godap.EvaluateResponse{Response: response(req), Body: godap.EvaluateResponseBody{Result: req.Arguments.Expression}})
	default:
		r := req.GetRequest()
		send(newErrorResponse(r.Seq, r.Command, 1, "test handler does not do "+r.Command))
	}
}

func (h *testHandler) Close() error {
	h.rec.closed.Add(1)
	return nil
}

// client speaks DAP to the server over one connection.
type client struct {
	t   testing.TB
	c   net.Conn
	fr  *frameReader
	seq int
}

func newClient(t testing.TB, c net.Conn) *client {
	return &client{t: t, c: c, fr: newFrameReader(c, DefaultMaxMessageSize)}
}

// raw writes content in a frame.
func (c *client) raw(content string) {
	c.t.Helper()
	_ = c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c.c, "Content-Length: %d\r\n\r\n%s", len(content), content); err != nil {
		c.t.Fatalf("writing request: %v", err)
	}
}

// request sends a request and returns its seq.
func (c *client) request(command string, args any) int {
	c.t.Helper()
	c.seq++
	m := map[string]any{"seq": c.seq, "type": "request", "command": command}
	if args != nil {
		m["arguments"] = args
	}
	b, err := json.Marshal(m)
	if err != nil {
		c.t.Fatal(err)
	}
	c.raw(string(b))
	return c.seq
}

// next reads the next message; the error is io.EOF-like when the server closed.
func (c *client) next() (map[string]any, error) {
	_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := c.fr.next()
	if err != nil {
		return nil, err
	}
	if err := schema.Check(b); err != nil {
		c.t.Errorf("server sent %s: %v", b, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("server sent invalid JSON %q: %w", b, err)
	}
	return m, nil
}

// read reads the next message and fails the test if there is none.
func (c *client) read() map[string]any {
	c.t.Helper()
	m, err := c.next()
	if err != nil {
		c.t.Fatalf("reading from server: %v", err)
	}
	return m
}

// response reads until the response to seq, failing on any other response.
func (c *client) response(seq int) map[string]any {
	c.t.Helper()
	for {
		m := c.read()
		if m["type"] != "response" {
			continue
		}
		if int(m["request_seq"].(float64)) != seq {
			c.t.Fatalf("got response %v, want one for request %d", m, seq)
		}
		return m
	}
}

// pipeServer serves one connection over net.Pipe; the returned channel
// yields Serve's result.
func pipeServer(t testing.TB, ctx context.Context, f Factory) (*client, <-chan error) {
	srv, cli := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, srv, f, zap.NewNop()) }()
	t.Cleanup(func() { cli.Close() })
	return newClient(t, cli), done
}

// wait returns Serve's result or fails after a timeout.
func wait(t testing.TB, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
		return nil
	}
}
