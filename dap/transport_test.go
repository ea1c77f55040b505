package dap

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
)

// tcpServer runs ServeListener on a loopback port; stop cancels it and
// returns its result.
func tcpServer(t testing.TB, f Factory) (addr string, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeListener(ctx, ln, f, zap.NewNop()) }()
	var once sync.Once
	var result error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case result = <-done:
			case <-time.After(10 * time.Second):
				result = fmt.Errorf("ServeListener did not return after cancel")
			}
		})
		return result
	}
	t.Cleanup(func() { _ = stop() })
	return ln.Addr().String(), stop
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return newClient(t, nc)
}

// session runs initialize, threads and disconnect and returns the id of the
// handler that served it (the test handler names its thread after itself).
func session(c *client) (int, error) {
	if m := c.response(c.request("initialize", map[string]any{"adapterID": "kdap"})); m["success"] != true {
		return 0, fmt.Errorf("initialize: %v", m)
	}
	m := c.response(c.request("threads", nil))
	threads := m["body"].(map[string]any)["threads"].([]any)
	id := int(threads[0].(map[string]any)["id"].(float64))
	if m := c.response(c.request("disconnect", nil)); m["success"] != true {
		return 0, fmt.Errorf("disconnect: %v", m)
	}
	if _, err := c.next(); err == nil {
		return 0, fmt.Errorf("connection still open after disconnect")
	}
	return id, nil
}

func TestTCPConcurrentSessions(t *testing.T) {
	const n = 50
	rec := newRecorder()
	addr, stop := tcpServer(t, rec.factory())
	ids := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		// Dial on the test goroutine: t.Fatal must not run elsewhere.
		c := dial(t, addr)
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					errs[i] = fmt.Errorf("%v", p)
				}
			}()
			ids[i], errs[i] = session(c)
		})
	}
	wg.Wait()
	seen := map[int]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("session %d: %v", i, errs[i])
		}
		if seen[ids[i]] {
			t.Errorf("handler %d served two connections", ids[i])
		}
		seen[ids[i]] = true
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if made, closed := rec.made.Load(), rec.closed.Load(); made != n || closed != n {
		t.Errorf("factory made %d handlers and %d were closed, want %d and %d", made, closed, n, n)
	}
}

func TestTCPSequentialSessionsDoNotLeak(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 100
	}
	rec := newRecorder()
	addr, stop := tcpServer(t, rec.factory())
	// One session first so lazily started runtime goroutines exist before
	// the baseline is taken.
	if _, err := session(dial(t, addr)); err != nil {
		t.Fatal(err)
	}
	before := settledGoroutines(0)
	for i := range n {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_, err = session(newClient(t, nc))
		nc.Close()
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
	}
	after := settledGoroutines(before)
	if after > before+2 {
		t.Errorf("%d goroutines before %d sessions and %d after", before, n, after)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if closed := rec.closed.Load(); closed != int64(n+1) {
		t.Errorf("%d handlers closed, want %d", closed, n+1)
	}
}

// settledGoroutines waits briefly for the goroutine count to drop to target
// and returns the count.
func settledGoroutines(target int) int {
	n := runtime.NumGoroutine()
	for i := 0; i < 100 && n > target; i++ {
		time.Sleep(10 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

func TestTCPBrokenConnectionEndsOnlyItsSession(t *testing.T) {
	rec := newRecorder()
	addr, _ := tcpServer(t, rec.factory())
	a, b := dial(t, addr), dial(t, addr)
	a.request("evaluate", map[string]any{"expression": "block"})
	<-rec.started
	a.c.Close()
	<-rec.ctxErr
	if _, err := session(b); err != nil {
		t.Fatalf("the other session: %v", err)
	}
}

func TestTCPShutdown(t *testing.T) {
	rec := newRecorder()
	addr, stop := tcpServer(t, rec.factory())
	c := dial(t, addr)
	c.request("evaluate", map[string]any{"expression": "block"})
	<-rec.started
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	if closed := rec.closed.Load(); closed != 1 {
		t.Errorf("%d handlers closed, want 1", closed)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("listener still accepts after shutdown")
	}
}

func TestListenAndServeBadAddress(t *testing.T) {
	err := ListenAndServe(t.Context(), "127.0.0.1:notaport", newRecorder().factory(), nil)
	if err == nil || !strings.Contains(err.Error(), "dap: listening on 127.0.0.1:notaport") {
		t.Errorf("got %v, want an error naming the address", err)
	}
}

func TestServeStdioWritesOnlyProtocol(t *testing.T) {
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	oldIn, oldOut := os.Stdin, os.Stdout
	os.Stdin, os.Stdout = inR, outW
	defer func() { os.Stdin, os.Stdout = oldIn, oldOut }()

	// The stdin reader may still log after Serve returns: lock the buffer.
	var logs lockedBuffer
	logger := zap.New(zapCoreTo(&logs))
	done := make(chan error, 1)
	go func() { done <- ServeStdio(context.Background(), newRecorder().factory(), logger) }()
	for i, cmd := range []string{"initialize", "threads", "disconnect"} {
		fmt.Fprintf(inW, "Content-Length: %d\r\n\r\n", len(fmt.Sprintf(`{"seq":%d,"type":"request","command":"%s"}`, i+1, cmd)))
		fmt.Fprintf(inW, `{"seq":%d,"type":"request","command":"%s"}`, i+1, cmd)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	os.Stdin, os.Stdout = oldIn, oldOut
	outW.Close()
	inW.Close()
	out, err := io.ReadAll(outR)
	if err != nil {
		t.Fatal(err)
	}
	// Every byte on stdout belongs to a frame: three responses and nothing else.
	fr := newFrameReader(bytes.NewReader(out), DefaultMaxMessageSize)
	for i := range 3 {
		if _, err := fr.next(); err != nil {
			t.Fatalf("stdout frame %d: %v (stdout %q)", i, err, out)
		}
	}
	if _, err := fr.next(); err != io.EOF {
		t.Errorf("stdout has more than three frames: %v (stdout %q)", err, out)
	}
	if !strings.Contains(logs.String(), `"M":"recv","json":"{\"seq\":2,\"type\":\"request\",\"command\":\"threads\"}"`) {
		t.Errorf("debug log does not trace the threads request: %s", logs.String())
	}
}

func TestNewLogger(t *testing.T) {
	file := t.TempDir() + "/kdap.log"
	tests := []struct {
		path, level string
		wantErr     string
	}{
		{"", "", ""},
		{file, "debug", ""},
		{"stdout", "info", "stdout carries the protocol"},
		{"/dev/stdout", "", "stdout carries the protocol"},
		{"", "loud", `log level "loud"`},
	}
	for _, tt := range tests {
		l, err := NewLogger(tt.path, tt.level)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("NewLogger(%q, %q): %v", tt.path, tt.level, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("NewLogger(%q, %q) error %v, want %q", tt.path, tt.level, err, tt.wantErr)
		case err == nil && tt.path == file:
			l.Debug("recv", zap.String("json", "{}"))
			_ = l.Sync()
			if b, _ := os.ReadFile(file); !bytes.Contains(b, []byte("recv")) {
				t.Errorf("log file has %q, want the debug line", b)
			}
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
