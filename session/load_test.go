package session_test

import (
	"context"
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
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dialClient(t, addr)
			frames := crashedTop(t, c, args)
			if len(frames) < 2 || frames[0].Name != "doadump" || frames[1].Name != "kern_reboot" {
				errs <- "wrong frames"
			}
			r := c.mustCall("evaluate", map[string]any{"expression": "hz", "context": "watch"}).(*godap.EvaluateResponse)
			if r.Body.Result != "1000" {
				errs <- "hz = " + r.Body.Result
			}
			c.disconnect()
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
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
	for i := 0; i < n; i++ {
		t.Run("", func(t *testing.T) {
			c := pipeClient(t)
			if f := crashedTop(t, c, args); len(f) == 0 || f[0].Name != "doadump" {
				t.Fatalf("session %d: frames %+v", i, f)
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
}

func BenchmarkAttachToFirstStackTrace(b *testing.B) {
	args := attachArgs(b)
	for b.Loop() {
		c := pipeClient(b)
		crashedTop(b, c, args)
		c.disconnect()
	}
}

func BenchmarkAllThreadsStackTrace(b *testing.B) {
	c := pipeClient(b)
	c.attach(attachArgs(b))
	for b.Loop() {
		ths := c.mustCall("threads", nil).(*godap.ThreadsResponse).Body.Threads
		for _, th := range ths {
			c.mustCall("stackTrace", map[string]any{"threadId": th.Id})
		}
	}
}
