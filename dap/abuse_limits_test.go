package dap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
)

// heapInuse returns HeapInuse after a GC.
func heapInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// heapPeak samples HeapInuse until stop is called, which returns the
// highest value seen.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		return peak.Load()
	}
}

// chunk is what bodies are written from, so the clients of these tests
// hold no large buffers of their own.
var chunk = bytes.Repeat([]byte("a"), 1<<20)

// writePadded writes a threads request whose body is exactly size bytes,
// padded with an unknown argument; it stops at the first write error (the
// server may close the connection early) and returns it.
func writePadded(w io.Writer, seq int, size int) error {
	head := fmt.Sprintf(`{"seq":%d,"type":"request","command":"threads","arguments":{"pad":"`, seq)
	tail := `"}}`
	pad := size - len(head) - len(tail)
	if _, err := fmt.Fprintf(w, "Content-Length: %d\r\n\r\n%s", size, head); err != nil {
		return err
	}
	for pad > 0 {
		n := min(pad, len(chunk))
		if _, err := w.Write(chunk[:n]); err != nil {
			return err
		}
		pad -= n
	}
	_, err := io.WriteString(w, tail)
	return err
}

// closedWithOutput reads c until the connection ends and returns the text
// of the output events it carried; ok is false when the connection was
// still open at the deadline.
func closedWithOutput(c *client, d time.Duration) (text string, ok bool) {
	_ = c.c.SetReadDeadline(time.Now().Add(d))
	var out strings.Builder
	for {
		b, err := c.fr.next()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return out.String(), false
			}
			return out.String(), true
		}
		if bytes.Contains(b, []byte(`"event":"output"`)) {
			out.Write(b)
		}
	}
}

// TestOversizedBodiesFlood is issue 12's report: 16 connections each
// sending a 63 MB body took the server to gigabytes. Each is now refused
// at its header, and the heap stays near where it was.
func TestOversizedBodiesFlood(t *testing.T) {
	addr, _ := tcpServer(t, newRecorder().factory())
	base := heapInuse()
	peak := heapPeak()
	const n, size = 16, 63 << 20
	var wg sync.WaitGroup
	refused := make([]string, n)
	for i := range n {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		wg.Go(func() {
			go func() { _ = writePadded(nc, 1, size) }()
			refused[i], _ = closedWithOutput(newClient(t, nc), 20*time.Second)
		})
	}
	wg.Wait()
	top := peak()
	after := heapInuse()
	t.Logf("HeapInuse: before %d MiB, peak %d MiB, after %d MiB", base>>20, top>>20, after>>20)
	for i, r := range refused {
		if !strings.Contains(r, "above the limit of 8388608 bytes") {
			t.Errorf("connection %d: output %q, want the body refused for its size", i, r)
		}
	}
	if grown := int64(top) - int64(base); grown > 64<<20 {
		t.Errorf("HeapInuse peaked %d MiB above its baseline, want under 64 MiB", grown>>20)
	}
	if grown := int64(after) - int64(base); grown > 8<<20 {
		t.Errorf("HeapInuse stayed %d MiB above its baseline after the flood", grown>>20)
	}
}

// TestDefaultMessageSizeLimit: a Content-Length just above 8 MiB is refused
// at once, before any of its body arrives.
func TestDefaultMessageSizeLimit(t *testing.T) {
	c, done := pipeServer(t, t.Context(), newRecorder().factory())
	go func() {
		_ = c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c.c, "Content-Length: %d\r\n\r\n{", 8<<20+1)
	}()
	out, closed := closedWithOutput(c, 3*time.Second)
	if !closed || !strings.Contains(out, "Content-Length 8388609 is above the limit of 8388608 bytes") {
		t.Fatalf("closed %v, output %q; want the connection closed naming the 8 MiB limit", closed, out)
	}
	if err := wait(t, done); !errors.Is(err, ErrFraming) {
		t.Errorf("Serve returned %v, want a framing error", err)
	}
}

// TestDefaultInFlightLimit: large requests queued behind a busy handler
// hold memory until answered; across connections no more than 64 MiB of
// them may wait, and the connections beyond that are refused.
func TestDefaultInFlightLimit(t *testing.T) {
	if raceEnabled {
		t.Skip("decoding 64 MiB of JSON takes about a minute under the race detector; TestServerLimits covers the pool with small bodies")
	}
	rec := newRecorder()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ServeListener(ctx, ln, rec.factory(), zap.NewNop()) }()
	addr := ln.Addr().String()
	base := heapInuse()
	peak := heapPeak()
	const n, size = 16, 8<<20 - 4096
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = dial(t, addr)
		clients[i].request("evaluate", map[string]any{"expression": "block"})
		<-rec.started
	}
	// The refused are refused at their header and closed; the others stay
	// open, their bodies queued behind "block".
	refusals := make(chan int, n)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			go func() { _ = writePadded(c.c, 2, size) }()
			if out, _ := closedWithOutput(c, time.Minute); strings.Contains(out, "in flight") {
				refusals <- i
			}
		})
	}
	// 64 MiB holds 8 of these bodies (and the small requests before them).
	const want = n - 8
	deadline := time.After(30 * time.Second)
	nRefused := 0
	for nRefused < want {
		select {
		case <-refusals:
			nRefused++
		case <-deadline:
			t.Fatalf("%d connections refused after 30s, want %d", nRefused, want)
		}
	}
	select {
	case i := <-refusals:
		t.Errorf("connection %d refused too: more than %d refused", i, want)
	case <-time.After(300 * time.Millisecond):
	}
	top := peak()
	t.Logf("%d of %d connections refused; HeapInuse before %d MiB, peak %d MiB", nRefused, n, base>>20, top>>20)
	if grown := int64(top) - int64(base); grown > 3*64<<20 {
		t.Errorf("HeapInuse peaked %d MiB above its baseline, want under 192 MiB (64 MiB of bodies, decoded)", grown>>20)
	}
	// Stopping waits for bodies still being decoded: give a loaded machine
	// time for that.
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("ServeListener did not return within a minute of cancel")
	}
	for _, c := range clients {
		c.c.Close()
	}
	wg.Wait()
	if grown := int64(heapInuse()) - int64(base); grown > 8<<20 {
		t.Errorf("HeapInuse stayed %d MiB above its baseline after the sessions ended", grown>>20)
	}
}

// TestDefaultConnectionLimit: the 65th concurrent connection is refused
// with an output event saying why; once one closes, a new one is served.
func TestDefaultConnectionLimit(t *testing.T) {
	rec := newRecorder()
	addr, _ := tcpServer(t, rec.factory())
	const limit = 64
	clients := make([]*client, limit)
	for i := range clients {
		clients[i] = dial(t, addr)
		if m := clients[i].response(clients[i].request("initialize", nil)); m["success"] != true {
			t.Fatalf("connection %d: initialize %v", i, m)
		}
	}
	extra := dial(t, addr)
	out, closed := closedWithOutput(extra, 3*time.Second)
	if !closed || !strings.Contains(out, "too many connections") {
		t.Fatalf("connection %d: closed %v, output %q; want it refused", limit+1, closed, out)
	}
	clients[0].c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := dial(t, addr)
		_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		seq := c.request("initialize", nil)
		m, err := c.next()
		if err == nil && m["type"] == "response" && m["request_seq"] == float64(seq) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection served after one of %d closed: %v %v", limit, m, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServerLimits: a Server's own limits, with a small pool: a connection
// that has nothing in flight may always send a small request, however full
// the pool is, and everything is given back when sessions end.
func TestServerLimits(t *testing.T) {
	rec := newRecorder()
	srv := &Server{Factory: rec.factory(), Logger: zap.NewNop(), Limits: Limits{MaxMessageSize: 1 << 20, MaxInFlight: 1 << 20, MaxConnections: 8}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeListener(t.Context(), ln) }()
	addr := ln.Addr().String()

	a := dial(t, addr)
	a.request("evaluate", map[string]any{"expression": "block"})
	<-rec.started
	if err := writePadded(a.c, 2, 1<<20-256); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return srv.inFlight() >= 1<<20-256 }, "the large request to be queued")

	// Too large for this server.
	b := dial(t, addr)
	go func() { _ = writePadded(b.c, 1, 1<<20+1) }()
	if out, closed := closedWithOutput(b, 3*time.Second); !closed || !strings.Contains(out, "above the limit of 1048576 bytes") {
		t.Errorf("oversized: closed %v output %q", closed, out)
	}
	// Fits the message limit but not the pool.
	b = dial(t, addr)
	go func() { _ = writePadded(b.c, 1, 512<<10) }()
	if out, closed := closedWithOutput(b, 3*time.Second); !closed || !strings.Contains(out, "in flight across all connections") {
		t.Errorf("over the pool: closed %v output %q", closed, out)
	}
	// Small requests still go through.
	c := dial(t, addr)
	for range 3 {
		if m := c.response(c.request("threads", nil)); m["success"] != true {
			t.Fatalf("small request with a full pool: %v", m)
		}
	}
	a.c.Close()
	waitFor(t, func() bool { return srv.inFlight() == 0 }, "every request byte to be given back")
	if _, err := session(c); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
