package session_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	godap "github.com/google/go-dap"
	"github.com/kdap/kdap/dap"
	"github.com/kdap/kdap/dap/schema"
	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/session"
	"go.uber.org/zap"
)

// factory builds the sessions the tests serve.
func factory(l *zap.Logger) dap.Handler { return session.New(session.Options{Logger: l}) }

// fixture paths of the fp assert run.
func fixtureCore(t testing.TB) string {
	return testfixture.Path(t, "fbsdkern/fixtures/fp/assert/vmcore.mini")
}

func fixtureKernel(t testing.TB) string {
	return testfixture.Path(t, "fbsdkern/fixtures/fp/kernel.debug")
}

// client drives one DAP connection and checks every message it receives
// against the protocol schema.
type client struct {
	t      testing.TB
	conn   net.Conn
	rd     *bufio.Reader
	seq    int
	events []godap.Message
}

// pipeClient serves a session over net.Pipe.
func pipeClient(t testing.TB) *client {
	a, b := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = dap.Serve(ctx, b, factory, zap.NewNop())
	}()
	t.Cleanup(func() {
		a.Close()
		cancel()
		<-done
	})
	return &client{t: t, conn: a, rd: bufio.NewReader(a)}
}

// dialClient connects to a TCP server.
func dialClient(t testing.TB, addr string) *client {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, conn: c, rd: bufio.NewReader(c)}
}

// send writes a request; it may be called from any goroutine.
func (c *client) send(command string, args any) (int, error) {
	c.seq++
	m := map[string]any{"seq": c.seq, "type": "request", "command": command}
	if args != nil {
		m["arguments"] = args
	}
	b, err := json.Marshal(m)
	if err != nil {
		return 0, err
	}
	c.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err = fmt.Fprintf(c.conn, "Content-Length: %d\r\n\r\n%s", len(b), b)
	return c.seq, err
}

// next reads one message and checks it against the schema.
func (c *client) next() (godap.Message, error) {
	c.conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	raw, err := godap.ReadBaseMessage(c.rd)
	if err != nil {
		return nil, err
	}
	if err := schema.Check(raw); err != nil {
		c.t.Errorf("schema: %v\n%s", err, raw)
	}
	return godap.DecodeProtocolMessage(raw)
}

// call sends a request and returns its response, keeping events seen meanwhile.
func (c *client) call(command string, args any) godap.ResponseMessage {
	c.t.Helper()
	r, err := c.roundTrip(command, args)
	if err != nil {
		c.t.Fatal(err)
	}
	return r
}

// roundTrip is call without failing the test, for use off the test's
// goroutine.
func (c *client) roundTrip(command string, args any) (godap.ResponseMessage, error) {
	seq, err := c.send(command, args)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", command, err)
	}
	for {
		m, err := c.next()
		if err != nil {
			return nil, fmt.Errorf("%s: reading the response: %w", command, err)
		}
		if r, ok := m.(godap.ResponseMessage); ok {
			if r.GetResponse().RequestSeq != seq {
				return nil, fmt.Errorf("%s: response to seq %d, want %d", command, r.GetResponse().RequestSeq, seq)
			}
			return r, nil
		}
		c.events = append(c.events, m)
	}
}

// mustCall is call that fails the test on an error response.
func (c *client) mustCall(command string, args any) godap.ResponseMessage {
	c.t.Helper()
	r := c.call(command, args)
	if !r.GetResponse().Success {
		c.t.Fatalf("%s: error response: %s", command, r.GetResponse().Message)
	}
	return r
}

// failCall is call that expects an error response and returns its message.
func (c *client) failCall(command string, args any) string {
	c.t.Helper()
	r := c.call(command, args)
	if r.GetResponse().Success {
		c.t.Fatalf("%s: succeeded, want an error", command)
	}
	return r.GetResponse().Message
}

// event waits for the named event (returning one already seen first).
func (c *client) event(name string) godap.Message {
	c.t.Helper()
	for i, e := range c.events {
		if e.(godap.EventMessage).GetEvent().Event == name {
			c.events = append(c.events[:i:i], c.events[i+1:]...)
			return e
		}
	}
	for {
		m, err := c.next()
		if err != nil {
			c.t.Fatalf("waiting for event %q: %v", name, err)
		}
		if e, ok := m.(godap.EventMessage); ok {
			if e.GetEvent().Event == name {
				return m
			}
			c.events = append(c.events, m)
			continue
		}
		c.t.Fatalf("waiting for event %q: got %T", name, m)
	}
}

// attach runs initialize, attach and configurationDone and returns the
// stopped event.
func (c *client) attach(args map[string]any) *godap.StoppedEvent {
	c.t.Helper()
	c.mustCall("initialize", map[string]any{"adapterID": "kdap", "clientID": "test", "linesStartAt1": true, "columnsStartAt1": true})
	c.mustCall("attach", args)
	c.event("initialized")
	c.mustCall("configurationDone", nil)
	return c.event("stopped").(*godap.StoppedEvent)
}

// disconnect ends the session and checks the connection closes.
func (c *client) disconnect() {
	c.t.Helper()
	c.mustCall("disconnect", nil)
	for {
		_, err := c.next()
		if err == io.EOF || err != nil {
			return
		}
	}
}

// fixtureKernelVariant returns the kernel.debug of another build variant.
func fixtureKernelVariant(t testing.TB, variant string) string {
	return testfixture.Path(t, "fbsdkern/fixtures/"+variant+"/kernel.debug")
}
