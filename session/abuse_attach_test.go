//go:build unix

package session_test

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	godap "github.com/google/go-dap"
	"github.com/kdap/kdap/dap"
	"github.com/kdap/kdap/session"
	"github.com/kdap/kdap/target"
	"go.uber.org/zap"
)

// optClient serves one session built with opts over net.Pipe; done closes
// when Serve has returned.
func optClient(t testing.TB, opts session.Options) (c *client, done <-chan struct{}) {
	a, b := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan struct{})
	f := func(l *zap.Logger) dap.Handler {
		o := opts
		o.Logger = l
		return session.New(o)
	}
	go func() {
		defer close(ch)
		_ = dap.Serve(ctx, b, f, zap.NewNop())
	}()
	t.Cleanup(func() {
		a.Close()
		cancel()
		<-ch
	})
	return &client{t: t, conn: a, rd: bufio.NewReader(a)}, ch
}

// openFDs counts the process's open file descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("counting open files needs /proc: %v", err)
	}
	return len(ents) - 1 // ReadDir's own descriptor
}

// openFiles returns the paths the process's file descriptors point at.
func openFiles(t testing.TB) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("listing open files needs /proc: %v", err)
	}
	var out []string
	for _, e := range ents {
		if p, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// baseline is the goroutine and descriptor count a test returns to.
type baseline struct{ goroutines, fds int }

// takeBaseline records the current counts.
func takeBaseline(t testing.TB) baseline {
	return baseline{runtime.NumGoroutine(), openFDs(t)}
}

// settle waits up to 15 s until goroutines and descriptors are back to b
// (goroutines within slack), failing the test with the counts otherwise.
func (b baseline) settle(t testing.TB, slack int, what string) {
	t.Helper()
	// Generous for a loaded machine: abandoned opens finish in the
	// background; settle returns as soon as the counts are back.
	deadline := time.Now().Add(15 * time.Second)
	for {
		g, f := runtime.NumGoroutine(), openFDs(t)
		if g <= b.goroutines+slack && f <= b.fds {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%s: %d goroutines (baseline %d) and %d open files (baseline %d) remain; open files %q\n%s",
				what, g, b.goroutines, f, b.fds, openFiles(t), buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// callWithin sends a request and waits at most d for its response,
// returning nil when none came in time.
func callWithin(c *client, d time.Duration, command string, args any) godap.ResponseMessage {
	c.t.Helper()
	seq, err := c.send(command, args)
	if err != nil {
		c.t.Fatalf("%s: %v", command, err)
	}
	got := make(chan godap.ResponseMessage, 1)
	go func() {
		defer close(got)
		for {
			m, err := c.next()
			if err != nil {
				return
			}
			if r, ok := m.(godap.ResponseMessage); ok && r.GetResponse().RequestSeq == seq {
				got <- r
				return
			}
		}
	}()
	select {
	case r := <-got:
		return r
	case <-time.After(d):
		// Unblock the reader; the connection is unusable afterwards.
		c.conn.Close()
		<-got
		return nil
	}
}

// slowOpen is an Options.Open that waits for release before opening.
type slowOpen struct {
	entered chan struct{} // closed when the first open starts
	release chan struct{} // close to let opens proceed
	once    sync.Once
}

func newSlowOpen() *slowOpen {
	return &slowOpen{entered: make(chan struct{}), release: make(chan struct{})}
}

func (s *slowOpen) open(core, kernel string, opts target.Options) (*target.Target, error) {
	s.once.Do(func() { close(s.entered) })
	<-s.release
	return target.Open(core, kernel, opts)
}

// warmSession runs one full session so lazily started runtime and package
// state exists before a baseline is taken.
func warmSession(t testing.TB) {
	c := pipeClient(t)
	c.attach(attachArgs(t))
	c.disconnect()
}

// TestAttachTimeout: an open slower than the bound answers an error in
// time; the dump it opens later is closed.
func TestAttachTimeout(t *testing.T) {
	warmSession(t)
	base := takeBaseline(t)
	slow := newSlowOpen()
	c, done := optClient(t, session.Options{AttachTimeout: 300 * time.Millisecond, Open: slow.open})
	c.mustCall("initialize", map[string]any{"adapterID": "kdap"})
	start := time.Now()
	r := callWithin(c, 5*time.Second, "attach", attachArgs(t))
	if r == nil {
		close(slow.release)
		t.Fatalf("attach with a 300ms bound still unanswered after %v", time.Since(start))
	}
	if r.GetResponse().Success || !strings.Contains(r.GetResponse().Message, "took longer than 300ms") {
		t.Errorf("attach: success %v message %q, want an error saying it took longer than 300ms", r.GetResponse().Success, r.GetResponse().Message)
	}
	// The session stays usable.
	if msg := c.failCall("threads", nil); !strings.Contains(msg, "no crash dump is open") {
		t.Errorf("threads after a timed-out attach: %q", msg)
	}
	close(slow.release) // the abandoned open completes now and must be closed
	c.disconnect()
	<-done
	base.settle(t, 0, "after a timed-out attach")
}

// TestDisconnectDuringAttach: a client that goes away while its attach
// runs ends the session at once, and nothing stays behind once the open
// returns: goroutines, descriptors and heap go back to where they were.
func TestDisconnectDuringAttach(t *testing.T) {
	warmSession(t)
	base := takeBaseline(t)
	heapBefore := heapInuse()
	for i := range 20 {
		slow := newSlowOpen()
		c, done := optClient(t, session.Options{Open: slow.open})
		c.mustCall("initialize", map[string]any{"adapterID": "kdap"})
		if _, err := c.send("attach", attachArgs(t)); err != nil {
			t.Fatal(err)
		}
		<-slow.entered
		c.conn.Close()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			close(slow.release)
			<-done
			t.Fatalf("session %d did not end within 3s of its client disconnecting during attach", i)
		}
		close(slow.release)
	}
	base.settle(t, 0, "after clients disconnected during attach")
	if grown := int64(heapInuse()) - int64(heapBefore); grown > 8<<20 {
		t.Errorf("HeapInuse grew by %d MiB over 20 abandoned attaches", grown>>20)
	}
}

// heapInuse returns HeapInuse after two GCs (the first leaves sync.Pool's
// victim caches).
func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestAttachOpeningLimit: opens that never finish cannot pile up without
// bound; the attach beyond the limit gives up within its timeout.
func TestAttachOpeningLimit(t *testing.T) {
	warmSession(t)
	base := takeBaseline(t)
	slow := newSlowOpen()
	opts := session.Options{Open: slow.open, AttachTimeout: 100 * time.Millisecond}
	defer func() {
		select {
		case <-slow.release:
		default:
			close(slow.release)
		}
	}()
	// Sixteen attaches hang in open and are given up; their opens go on.
	for i := range 16 {
		c, _ := optClient(t, opts)
		c.mustCall("initialize", map[string]any{"adapterID": "kdap"})
		if msg := c.failCall("attach", attachArgs(t)); !strings.Contains(msg, "took longer than 100ms") {
			t.Fatalf("attach %d: %q", i, msg)
		}
		c.disconnect()
	}
	c, _ := optClient(t, opts)
	c.mustCall("initialize", map[string]any{"adapterID": "kdap"})
	if msg := c.failCall("attach", attachArgs(t)); !strings.Contains(msg, "16 other dumps have been opening") {
		t.Errorf("attach beyond the limit: %q", msg)
	}
	c.disconnect()
	close(slow.release)
	// Once the hung opens return, attaching works again.
	c, _ = optClient(t, session.Options{})
	deadline := time.Now().Add(5 * time.Second)
	c.mustCall("initialize", map[string]any{"adapterID": "kdap"})
	for {
		r := c.call("attach", attachArgs(t))
		if r.GetResponse().Success {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("attach after the opens finished: %s", r.GetResponse().Message)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.disconnect()
	base.settle(t, 0, "after the hung opens finished")
}

// TestAttachNonRegularFiles: a named pipe, a directory or a device given
// as core or kernel is refused at once instead of blocking the session.
func TestAttachNonRegularFiles(t *testing.T) {
	core, kernel := fixtureCore(t), fixtureKernel(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "vmcore.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	tests := []struct {
		name string
		args map[string]any
		want string
	}{
		{"fifo core", map[string]any{"core": fifo, "kernel": kernel}, "is not a regular file"},
		{"fifo kernel", map[string]any{"core": core, "kernel": fifo}, "is not a regular file"},
		{"fifo core, kernel looked up", map[string]any{"core": fifo}, "is not a regular file"},
		{"directory core", map[string]any{"core": dir, "kernel": kernel}, "is not a regular file"},
		{"directory kernel", map[string]any{"core": core, "kernel": dir}, "is not a regular file"},
		{"device core", map[string]any{"core": "/dev/zero", "kernel": kernel}, "is not a regular file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := pipeClientT(t)
			c.mustCall("initialize", map[string]any{"adapterID": "kdap"})
			r := callWithin(c, 3*time.Second, "attach", tc.args)
			if r == nil {
				// Let a blocked open(2) of the pipe return so the test can end.
				if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					w.Close()
				}
				t.Fatalf("attach %v: no answer within 3s", tc.args)
			}
			if r.GetResponse().Success || !strings.Contains(r.GetResponse().Message, tc.want) {
				t.Errorf("attach: success %v message %q, want an error containing %q", r.GetResponse().Success, r.GetResponse().Message, tc.want)
			}
		})
	}
}

// pipeClientT is pipeClient for a subtest, with Serve's end observable.
func pipeClientT(t testing.TB) (*client, <-chan struct{}) {
	return optClient(t, session.Options{})
}
