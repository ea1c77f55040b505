package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	godap "github.com/google/go-dap"
	"github.com/kdap/kdap/dap"
	"go.uber.org/zap"
)

// dapConn is a minimal DAP client for these tests.
type dapConn struct {
	t   *testing.T
	nc  net.Conn
	rd  *bufio.Reader
	seq int
	out strings.Builder // text of the output events seen
}

func newDAPConn(t *testing.T, nc net.Conn) *dapConn {
	t.Cleanup(func() { nc.Close() })
	return &dapConn{t: t, nc: nc, rd: bufio.NewReader(nc)}
}

// call sends a request and returns its response, collecting output events.
func (c *dapConn) call(command string, args any) (godap.ResponseMessage, error) {
	c.seq++
	b, err := json.Marshal(map[string]any{"seq": c.seq, "type": "request", "command": command, "arguments": args})
	if err != nil {
		return nil, err
	}
	_ = c.nc.SetDeadline(time.Now().Add(30 * time.Second))
	if err := godap.WriteBaseMessage(c.nc, b); err != nil {
		return nil, err
	}
	for {
		m, err := c.read()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", command, err)
		}
		if r, ok := m.(godap.ResponseMessage); ok && r.GetResponse().RequestSeq == c.seq {
			return r, nil
		}
	}
}

// read reads one message, keeping the text of output events.
func (c *dapConn) read() (godap.Message, error) {
	raw, err := godap.ReadBaseMessage(c.rd)
	if err != nil {
		return nil, err
	}
	m, err := godap.DecodeProtocolMessage(raw)
	if o, ok := m.(*godap.OutputEvent); ok {
		c.out.WriteString(o.Body.Output)
	}
	return m, err
}

// attach initializes and attaches with args, failing the test on an error.
func (c *dapConn) attach(args map[string]any) {
	c.t.Helper()
	for _, req := range []struct {
		command string
		args    any
	}{{"initialize", map[string]any{"adapterID": "kdap"}}, {"attach", args}, {"disconnect", map[string]any{}}} {
		r, err := c.call(req.command, req.args)
		if err != nil {
			c.t.Fatal(err)
		}
		if !r.GetResponse().Success {
			c.t.Fatalf("%s: %s", req.command, r.GetResponse().Message)
		}
	}
}

// startServe runs kdap serve's server, configured by args, on a loopback
// port until the test ends.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	cfg, err := parseServe(append([]string{"--listen", "127.0.0.1:0"}, args...))
	if err != nil {
		t.Fatal(err)
	}
	cfg.server.Logger = zap.NewNop()
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = cfg.server.ServeListener(ctx, ln)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

func dialServe(t *testing.T, addr string) *dapConn {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return newDAPConn(t, nc)
}

// TestServeIgnoresClientLogFile: kdap serve does not write where a client's
// logFile points, and says so.
func TestServeIgnoresClientLogFile(t *testing.T) {
	core, kernel := fixturePaths(t, "fp", "assert")
	victim := filepath.Join(t.TempDir(), "victim")
	c := dialServe(t, startServe(t))
	c.attach(map[string]any{"core": core, "kernel": kernel, "logFile": victim, "logLevel": "debug"})
	if _, err := os.Lstat(victim); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("kdap serve wrote the client's logFile %s (%v)", victim, err)
	}
	if out := c.out.String(); !strings.Contains(out, "logFile/logLevel ignored") {
		t.Errorf("output events %q, want one saying logFile was ignored", out)
	}
}

// TestServeLogDir: with --log-dir a plain name is created inside it, and a
// path is not.
func TestServeLogDir(t *testing.T) {
	core, kernel := fixturePaths(t, "fp", "assert")
	dir := t.TempDir()
	addr := startServe(t, "--log-dir", dir)
	c := dialServe(t, addr)
	c.attach(map[string]any{"core": core, "kernel": kernel, "logFile": "client.log"})
	if b, err := os.ReadFile(filepath.Join(dir, "client.log")); err != nil || !strings.Contains(string(b), "dump opened") {
		t.Errorf("client.log in --log-dir: %v %q", err, b)
	}
	outside := filepath.Join(t.TempDir(), "outside.log")
	c = dialServe(t, addr)
	c.attach(map[string]any{"core": core, "kernel": kernel, "logFile": outside})
	if _, err := os.Lstat(outside); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("kdap serve --log-dir wrote %s outside its directory (%v)", outside, err)
	}
	if out := c.out.String(); !strings.Contains(out, "expected a plain file name") {
		t.Errorf("output events %q, want the path refused", out)
	}
}

// TestStdioKeepsClientLogFile: kdap dap's sessions write the client's
// logFile wherever it points (the editor runs kdap as its own user).
func TestStdioKeepsClientLogFile(t *testing.T) {
	core, kernel := fixturePaths(t, "fp", "assert")
	logFile := filepath.Join(t.TempDir(), "editor.log")
	a, b := net.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- dap.Serve(context.Background(), b, sessionFactory(stdioOptions(time.Minute)), zap.NewNop())
	}()
	c := newDAPConn(t, a)
	c.attach(map[string]any{"core": core, "kernel": kernel, "logFile": logFile})
	<-done
	if b, err := os.ReadFile(logFile); err != nil || !strings.Contains(string(b), "dump opened") {
		t.Errorf("stdio logFile: %v %q", err, b)
	}
}

// TestServeMaxConnectionsFlag: --max-connections 1 turns a second
// connection away with a message.
func TestServeMaxConnectionsFlag(t *testing.T) {
	addr := startServe(t, "--max-connections", "1", "--max-message-size", "4096", "--max-in-flight", "8192")
	first := dialServe(t, addr)
	if r, err := first.call("initialize", map[string]any{"adapterID": "kdap"}); err != nil || !r.GetResponse().Success {
		t.Fatalf("first connection: %v %v", r, err)
	}
	second := dialServe(t, addr)
	_ = second.nc.SetDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, err := second.read(); err != nil {
			break
		}
	}
	if out := second.out.String(); !strings.Contains(out, "too many connections") {
		t.Errorf("second connection: output %q, want it refused", out)
	}
	// A message above --max-message-size closes the first connection.
	pad := strings.Repeat("x", 5000)
	if _, err := first.call("evaluate", map[string]any{"expression": pad}); err == nil {
		t.Error("a 5000-byte message was answered with --max-message-size 4096")
	}
	if out := first.out.String(); !strings.Contains(out, "above the limit of 4096 bytes") {
		t.Errorf("first connection: output %q, want the message refused for its size", out)
	}
}

func TestParseServeErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--log-dir", file}, "not a directory"},
		{[]string{"--log-dir", filepath.Join(file, "missing")}, "--log-dir"},
		{[]string{"--attach-timeout", "0s"}, "--attach-timeout 0s"},
		{[]string{"--max-message-size", "0"}, "--max-message-size 0"},
		{[]string{"--max-in-flight", "10"}, "--max-in-flight 10 is below"},
		{[]string{"--max-connections", "-1"}, "--max-connections -1"},
		{[]string{"--listen", "0.0.0.0:4711"}, "not a loopback address"},
	}
	for _, tt := range tests {
		if _, err := parseServe(tt.args); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseServe(%q) = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}
