package session_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	godap "github.com/google/go-dap"
	"github.com/kdap/kdap/dap"
	"go.uber.org/zap"
)

// tcpServer serves sessions on a loopback port until the test ends.
func tcpServer(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = dap.ServeListener(ctx, ln, factory, zap.NewNop())
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return ln.Addr().String()
}

// crashedTop runs a session up to the crashed thread's first frames.
func crashedTop(t testing.TB, c *client, args map[string]any) []godap.StackFrame {
	t.Helper()
	stopped := c.attach(args)
	st := c.mustCall("stackTrace", map[string]any{"threadId": stopped.Body.ThreadId, "levels": 3}).(*godap.StackTraceResponse)
	return st.Body.StackFrames
}

func TestConcurrentSessionsTCP(t *testing.T) {
	addr := tcpServer(t)
	args := attachArgs(t)
	const n = 50
	// All 50 sessions are open at once, each with its own copy of the
	// dump, before any of them is queried.
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = dialClient(t, addr)
		clients[i].attach(args)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.roundTrip("stackTrace", map[string]any{"threadId": crashedTID, "levels": 3})
			if err != nil {
				errs <- err
				return
			}
			if f := r.(*godap.StackTraceResponse).Body.StackFrames; len(f) < 2 || f[0].Name != "doadump" || f[1].Name != "kern_reboot" {
				errs <- fmt.Errorf("frames %+v, want doadump, kern_reboot", f)
			}
			r, err = c.roundTrip("evaluate", map[string]any{"expression": "hz", "context": "watch"})
			if err != nil {
				errs <- err
				return
			}
			if e, ok := r.(*godap.EvaluateResponse); !ok || e.Body.Result != "1000" {
				errs <- fmt.Errorf("hz: %+v, want 1000", r)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, c := range clients {
		c.disconnect()
	}
}

func TestSequentialSessionsNoLeak(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 50
	}
	args := attachArgs(t)
	run := func() {
		c := pipeClient(t)
		crashedTop(t, c, args)
		c.disconnect()
	}
	run() // warm caches before counting goroutines
	before := runtime.NumGoroutine()
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	heapBefore := heap()
	for i := 0; i < n; i++ {
		t.Run("", func(t *testing.T) {
			c := pipeClient(t)
			if f := crashedTop(t, c, args); len(f) == 0 || f[0].Name != "doadump" {
				t.Fatalf("session %d: frames %+v", i, f)
			}
			// An evaluation fills the session's type caches too.
			if ev := c.mustCall("evaluate", map[string]any{"expression": "msgbufp->msg_size", "context": "watch"}).(*godap.EvaluateResponse); ev.Body.Result != "8192" {
				t.Fatalf("session %d: msgbufp->msg_size = %q", i, ev.Body.Result)
			}
			c.disconnect()
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before+2 {
		t.Errorf("goroutines grew from %d to %d over %d sessions", before, g, n)
	}
	// Each session opens the dump and its kernel; closed sessions must
	// leave nothing behind. One session holds several MiB (the kernel's
	// DWARF), so a leak of even one per hundred sessions exceeds this.
	if grown := int64(heap()) - int64(heapBefore); grown > 16<<20 {
		t.Errorf("live heap grew by %d MiB over %d sessions", grown>>20, n)
	}
}

func BenchmarkAttachToFirstStackTrace(b *testing.B) {
	args := attachArgs(b)
	for b.Loop() {
		c := pipeClient(b)
		crashedTop(b, c, args)
		c.disconnect()
	}
}

// BenchmarkAllThreadsStackTrace measures a fresh session's threads request
// and the backtraces of every thread (none cached yet).
func BenchmarkAllThreadsStackTrace(b *testing.B) {
	args := attachArgs(b)
	for b.Loop() {
		b.StopTimer()
		c := pipeClient(b)
		c.attach(args)
		b.StartTimer()
		ths := c.mustCall("threads", nil).(*godap.ThreadsResponse).Body.Threads
		for _, th := range ths {
			c.mustCall("stackTrace", map[string]any{"threadId": th.Id})
		}
		b.StopTimer()
		c.disconnect()
		b.StartTimer()
	}
}

// BenchmarkVariablesLargeStruct expands every member of a struct thread
// (the crashed thread's) through evaluate and variables.
func BenchmarkVariablesLargeStruct(b *testing.B) {
	c := pipeClient(b)
	c.attach(attachArgs(b))
	defer c.disconnect()
	for b.Loop() {
		ev := c.mustCall("evaluate", map[string]any{"expression": "*allproc.lh_first->p_threads.tqh_first", "context": "watch"}).(*godap.EvaluateResponse)
		vars := c.mustCall("variables", map[string]any{"variablesReference": ev.Body.VariablesReference}).(*godap.VariablesResponse).Body.Variables
		if len(vars) < 20 {
			b.Fatalf("struct thread has %d members", len(vars))
		}
	}
}
