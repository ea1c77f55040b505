//go:build unix

package session_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	godap "github.com/google/go-dap"
	"github.com/kdap/kdap/dap"
	"github.com/kdap/kdap/session"
	"go.uber.org/zap"
)

// resources is one reading of what the process holds.
type resources struct {
	goroutines, fds, threads int
	heapInuse, rss           uint64
}

func (r resources) String() string {
	return fmt.Sprintf("goroutines %d, open fds %d, OS threads %d, HeapInuse %.1f MiB, VmRSS %.1f MiB",
		r.goroutines, r.fds, r.threads, float64(r.heapInuse)/(1<<20), float64(r.rss)/(1<<20))
}

// measure reads the process's resources after a GC. Two collections: the
// first leaves sync.Pool's victim caches (encoding/json's buffers) alive.
func measure(t testing.TB) resources {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	r := resources{goroutines: runtime.NumGoroutine(), fds: openFDs(t), heapInuse: m.HeapInuse}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for line := range strings.Lines(string(b)) {
			name, val, _ := strings.Cut(line, ":")
			fields := strings.Fields(val)
			if len(fields) == 0 {
				continue
			}
			n, _ := strconv.ParseUint(fields[0], 10, 64)
			switch name {
			case "VmRSS":
				r.rss = n << 10
			case "Threads":
				r.threads = int(n)
			}
		}
	}
	return r
}

// rawConn is a connection the abuse test writes arbitrary bytes to.
type rawConn struct {
	net.Conn
	rd     *bufio.Reader
	output string // output events responseTo read past
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{Conn: nc, rd: bufio.NewReader(nc)}
}

// frame writes content with a correct header.
func (c *rawConn) frame(content string) error {
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := fmt.Fprintf(c, "Content-Length: %d\r\n\r\n%s", len(content), content)
	return err
}

// request writes a request with the given seq, command and arguments.
func (c *rawConn) request(seq int, command string, args any) error {
	b, err := json.Marshal(map[string]any{"seq": seq, "type": "request", "command": command, "arguments": args})
	if err != nil {
		return err
	}
	return c.frame(string(b))
}

// chunk is what large bodies are written from, so that the test's clients
// allocate nothing large and the figures it logs are the server's.
var chunk = bytes.Repeat([]byte("x"), 1<<20)

// evaluatePadded writes an evaluate request (seq 1) whose body is size
// bytes, most of them its expression; it stops at the first write error.
func (c *rawConn) evaluatePadded(size int) error {
	head := `{"seq":1,"type":"request","command":"evaluate","arguments":{"context":"repl","expression":"`
	tail := `"}}`
	_ = c.SetWriteDeadline(time.Now().Add(20 * time.Second))
	if _, err := fmt.Fprintf(c, "Content-Length: %d\r\n\r\n%s", size, head); err != nil {
		return err
	}
	for pad := size - len(head) - len(tail); pad > 0; {
		n := min(pad, len(chunk))
		if _, err := c.Write(chunk[:n]); err != nil {
			return err
		}
		pad -= n
	}
	_, err := io.WriteString(c, tail)
	return err
}

// drain reads messages until the connection ends or d passes; closed says
// which, out is the text of the output events, msgs every message read.
func (c *rawConn) drain(d time.Duration) (msgs []map[string]any, out string, closed bool) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	var sb strings.Builder
	for {
		raw, err := godap.ReadBaseMessage(c.rd)
		if err != nil {
			var ne net.Error
			return msgs, sb.String(), !(errors.As(err, &ne) && ne.Timeout())
		}
		var m map[string]any
		if json.Unmarshal(raw, &m) == nil {
			msgs = append(msgs, m)
			if m["event"] == "output" {
				body, _ := m["body"].(map[string]any)
				s, _ := body["output"].(string)
				sb.WriteString(s)
			}
		}
	}
}

// responseTo reads until the response to seq.
func (c *rawConn) responseTo(seq int) (map[string]any, error) {
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		raw, err := godap.ReadBaseMessage(c.rd)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("server sent %q: %w", raw, err)
		}
		if m["type"] == "response" && m["request_seq"] == float64(seq) {
			return m, nil
		}
		if m["event"] == "output" {
			body, _ := m["body"].(map[string]any)
			s, _ := body["output"].(string)
			c.output += s
		}
	}
}

// TestAbuse throws malformed, huge and hostile input at a TCP server of
// real sessions, then 1,000 connections opened and dropped and 50
// concurrent sessions on the fixture dump, and checks the server answers
// what it can, refuses the rest, and afterwards holds no more goroutines,
// descriptors or heap than before.
func TestAbuse(t *testing.T) {
	core, kernel := fixtureCore(t), fixtureKernel(t)
	warmSession(t)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dap.Server{
		Factory: func(l *zap.Logger) dap.Handler {
			return session.New(session.Options{Logger: l, RefuseLogFile: true, AttachTimeout: 20 * time.Second})
		},
		Logger: zap.NewNop(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.ServeListener(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("ServeListener: %v", err)
		}
	}()
	addr := ln.Addr().String()

	// Let one session run through the server so its lazily started state
	// exists before the baseline.
	c := dialClient(t, addr)
	c.attach(attachArgs(t))
	c.disconnect()
	before := measure(t)
	base := baseline{before.goroutines, before.fds}
	start := time.Now()
	t.Logf("before: %v", before)

	phase := func(name string, f func(t *testing.T)) {
		t.Run(name, f)
		t.Logf("after %s: %v", name, measure(t))
	}
	phase("framing", func(t *testing.T) { abuseFraming(t, addr) })
	phase("bodies", func(t *testing.T) { abuseBodies(t, addr) })
	phase("requests", func(t *testing.T) { abuseRequests(t, addr) })
	phase("attach", func(t *testing.T) { abuseAttach(t, addr, core, kernel) })
	phase("connections", func(t *testing.T) { abuseConnections(t, addr) })
	base.settle(t, 0, "after the abuse")
	phase("sessions", func(t *testing.T) { abuseSessions(t, addr) })
	base.settle(t, 0, "after 50 concurrent sessions")

	after := measure(t)
	t.Logf("after:  %v (%v of abuse)", after, time.Since(start).Round(time.Millisecond))
	if grown := int64(after.heapInuse) - int64(before.heapInuse); grown > 32<<20 {
		t.Errorf("HeapInuse grew by %.1f MiB, want under 32 MiB", float64(grown)/(1<<20))
	}
	if after.goroutines > before.goroutines || after.fds > before.fds {
		t.Errorf("before: %v; after: %v", before, after)
	}
	// What stays resident is memory the runtime has not yet handed back
	// (its scavenger does so over seconds); none of it is live.
	debug.FreeOSMemory()
	t.Logf("after debug.FreeOSMemory: %v", measure(t))
}

// abuseFraming: broken frames close their connection with an output event
// saying why; content that is not a request is answered and the connection
// goes on.
func abuseFraming(t *testing.T, addr string) {
	closes := []struct {
		name, input, want string
	}{
		{"no Content-Length", "Content-Type: x\r\n\r\n{}", "no Content-Length"},
		{"negative length", "Content-Length: -5\r\n\r\n", "not a non-negative decimal integer"},
		{"signed length", "Content-Length: +5\r\n\r\n", "not a non-negative decimal integer"},
		{"huge length", "Content-Length: 9223372036854775807\r\n\r\n", "above the limit of 8388608 bytes"},
		{"overflowing length", "Content-Length: 99999999999999999999999\r\n\r\n", "not a non-negative decimal integer"},
		{"length just above the limit", "Content-Length: 8388609\r\n\r\n", "above the limit of 8388608 bytes"},
		{"empty length", "Content-Length: \r\n\r\n", "not a non-negative decimal integer"},
		{"hex length", "Content-Length: 0x10\r\n\r\n", "not a non-negative decimal integer"},
		{"LF only", "Content-Length: 2\n\n{}", "does not end with CRLF"},
		{"not a header", "GET / HTTP/1.1\r\n\r\n", `is not "Name: value"`},
		{"long header line", "X-Pad: " + strings.Repeat("a", 5000) + "\r\n\r\n", "header line longer than 4096 bytes"},
		{"too many header lines", strings.Repeat("X: y\r\n", 40) + "\r\n", "more than 32 header lines"},
		{"contradicting lengths", "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", "contradicts"},
		{"NUL in header", "Content-Length: 2\x00\r\n\r\n{}", "not a non-negative decimal integer"},
		{"binary garbage", "\xff\xfe\x00\x01\r\n\r\n", `is not "Name: value"`},
	}
	for _, tc := range closes {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(c, tc.input); err != nil {
				t.Fatal(err)
			}
			_, out, closed := c.drain(5 * time.Second)
			if !closed || !strings.Contains(out, tc.want) {
				t.Errorf("closed %v, output %q; want the connection closed saying %q", closed, out, tc.want)
			}
		})
	}
	t.Run("truncated body", func(t *testing.T) {
		c := dialRaw(t, addr)
		_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, `Content-Length: 100`+"\r\n\r\n"+`{"seq":1,"type":"request"`)
		c.Conn.(*net.TCPConn).CloseWrite()
		_, out, closed := c.drain(5 * time.Second)
		if !closed || !strings.Contains(out, "stream ended after 25 of 100 content bytes") {
			t.Errorf("closed %v, output %q", closed, out)
		}
	})
	t.Run("header then silence", func(t *testing.T) {
		// A client that stops mid-message and goes away ends its session.
		c := dialRaw(t, addr)
		io.WriteString(c, "Content-Length: 1000\r\n\r\n{")
		c.Close()
	})
	t.Run("answered and kept", func(t *testing.T) {
		c := dialRaw(t, addr)
		for i, content := range []string{
			`not json at all`,
			`{"seq":1,"type":"req`,
			`[1,2,3]`,
			`"a string"`,
			`null`,
			`{"seq":"1","type":"request","command":"threads"}`,
			`{"seq":1,"type":"bogus"}`,
			`{"seq":1,"type":"request"}`,
			`{"seq":1e400,"type":"request","command":"threads"}`,
			`{"seq":1,"type":"request","command":"threads","arguments":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`,
			"{\"seq\":1,\"type\":\"request\",\"command\":\"\xff\xfe\"}",
			``,
		} {
			if err := c.frame(content); err != nil {
				t.Fatal(err)
			}
			seq := 100 + i
			if err := c.request(seq, "threads", nil); err != nil {
				t.Fatal(err)
			}
			m, err := c.responseTo(seq)
			if err != nil {
				t.Fatalf("after content %.40q: %v", content, err)
			}
			if msg, _ := m["message"].(string); !strings.Contains(msg, "no crash dump is open") {
				t.Errorf("after content %.40q: threads answered %v", content, m)
			}
		}
	})
}

// abuseBodies: bodies above the limit are refused at their header, many
// concurrent bodies just below it are held within the server's in-flight
// limit, and thousands of small requests on one connection are all
// answered.
func abuseBodies(t *testing.T, addr string) {
	t.Run("huge", func(t *testing.T) {
		var wg sync.WaitGroup
		for range 16 {
			c := dialRaw(t, addr)
			wg.Go(func() {
				go func() { _ = c.evaluatePadded(63 << 20) }()
				if _, out, closed := c.drain(10 * time.Second); !closed || !strings.Contains(out, "above the limit") {
					t.Errorf("63 MB body: closed %v output %q", closed, out)
				}
			})
		}
		wg.Wait()
	})
	t.Run("just below the limit", func(t *testing.T) {
		// Ten times 8 MiB is more than the 64 MiB the server holds in
		// flight: some are answered, the others refused.
		const n = 10
		var wg sync.WaitGroup
		for i := range n {
			c := dialRaw(t, addr)
			wg.Go(func() {
				go func() { _ = c.evaluatePadded(8<<20 - 200) }()
				m, err := c.responseTo(1)
				switch {
				case err == nil:
					if msg, _ := m["message"].(string); !strings.Contains(msg, "no crash dump is open") {
						t.Errorf("body %d: answered %.200v", i, m)
					}
				case !strings.Contains(c.output, "in flight"):
					// Refused for the in-flight limit is the other outcome.
					t.Errorf("body %d: neither answered nor refused: %v, output %q", i, err, c.output)
				}
			})
		}
		wg.Wait()
	})
	t.Run("many", func(t *testing.T) {
		c := dialRaw(t, addr)
		const n = 3000
		go func() {
			w := bufio.NewWriter(c)
			_ = c.SetWriteDeadline(time.Now().Add(20 * time.Second))
			for i := 1; i <= n; i++ {
				b, _ := json.Marshal(map[string]any{"seq": i, "type": "request", "command": []string{"threads", "frobnicate", "evaluate", "cancel"}[i%4],
					"arguments": map[string]any{"expression": "1+1", "requestId": i + 1}})
				fmt.Fprintf(w, "Content-Length: %d\r\n\r\n%s", len(b), b)
			}
			_ = w.Flush()
		}()
		if _, err := c.responseTo(n); err != nil {
			t.Fatalf("the last of %d pipelined requests: %v", n, err)
		}
	})
}

// abuseRequests: requests naming things that do not exist are answered
// with errors, and the session goes on.
func abuseRequests(t *testing.T, addr string) {
	c := dialClient(t, addr)
	c.attach(attachArgs(t))
	for _, tc := range []struct {
		command string
		args    any
		want    string
	}{
		{"frobnicate", nil, "unsupported request 'frobnicate'"},
		{"cancel", map[string]any{"requestId": 999999}, ""},
		{"cancel", map[string]any{"progressId": "no-such-progress"}, ""},
		{"exceptionInfo", map[string]any{"threadId": 424242}, "thread 424242"},
		{"stackTrace", map[string]any{"threadId": -7}, "thread -7"},
		{"scopes", map[string]any{"frameId": 1 << 30}, "unknown frameId"},
		{"variables", map[string]any{"variablesReference": -1}, "unknown variablesReference"},
		{"stackTrace", map[string]any{"threadId": crashedTID, "startFrame": 1 << 30, "levels": -1}, ""},
		{"readMemory", map[string]any{"memoryReference": "0xffffffffffffffff", "offset": 1 << 62, "count": 1 << 20}, ""},
		{"disassemble", map[string]any{"memoryReference": "0x0", "instructionCount": 1 << 30}, "out of range"},
		{"evaluate", map[string]any{"expression": strings.Repeat("(", 100000), "context": "watch"}, ""},
		{"source", map[string]any{"source": map[string]any{"path": "/etc/passwd"}, "sourceReference": 12345}, ""},
		{"attach", attachArgs(t), "already open"},
	} {
		r, err := c.roundTrip(tc.command, tc.args)
		if err != nil {
			t.Fatalf("%s %v: %v", tc.command, tc.args, err)
		}
		if msg := r.GetResponse().Message; tc.want != "" && !strings.Contains(msg, tc.want) {
			t.Errorf("%s %.80v: success %v message %q, want %q", tc.command, tc.args, r.GetResponse().Success, msg, tc.want)
		}
	}
	// A response to a request the server never sent, and an event.
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	for _, m := range []string{
		`{"seq":90,"type":"response","request_seq":4242,"command":"runInTerminal","success":true}`,
		`{"seq":91,"type":"event","event":"stopped"}`,
	} {
		fmt.Fprintf(c.conn, "Content-Length: %d\r\n\r\n%s", len(m), m)
	}
	if th := c.mustCall("threads", nil).(*godap.ThreadsResponse).Body.Threads; len(th) != len(allTIDs) {
		t.Errorf("after the abuse the session lists %d threads, want %d", len(th), len(allTIDs))
	}
	c.disconnect()
}

// abuseAttach: hostile attach arguments are refused quickly with an error
// that does not repeat the file's contents, and the session stays usable.
func abuseAttach(t *testing.T, addr, core, kernel string) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	shadow := filepath.Join(dir, "shadow")
	secret := "$6$kdapabuse$Zm9yIHRoZSB0ZXN0IG9ubHk"
	if err := os.WriteFile(shadow, []byte("root:"+secret+":19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	unreadable := filepath.Join(dir, "unreadable")
	if err := os.WriteFile(unreadable, bytes.Repeat([]byte{0x7f}, 4096), 0o000); err != nil {
		t.Fatal(err)
	}
	loop := filepath.Join(dir, "loop")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	unreadableWant := "permission denied"
	if os.Geteuid() == 0 {
		// Root reads a mode-000 file; it is then refused as not a dump.
		unreadableWant = "not a crash dump"
	}
	tests := []struct {
		name string
		args map[string]any
		want string
	}{
		{"fifo core", map[string]any{"core": fifo, "kernel": kernel}, "is not a regular file (a named pipe)"},
		{"fifo kernel", map[string]any{"core": core, "kernel": fifo}, "is not a regular file (a named pipe)"},
		{"directory core", map[string]any{"core": dir, "kernel": kernel}, "is not a regular file (a directory)"},
		{"directory kernel", map[string]any{"core": core, "kernel": "/"}, "is not a regular file (a directory)"},
		{"device core", map[string]any{"core": "/dev/zero", "kernel": kernel}, "is not a regular file (a character device)"},
		{"mode 000 core", map[string]any{"core": unreadable, "kernel": kernel}, unreadableWant},
		// Regular, and unreadable even for root: reading offset 0 of this
		// process's memory fails with EIO.
		{"core root cannot read", map[string]any{"core": "/proc/self/mem", "kernel": kernel}, ""},
		{"shadow-like core", map[string]any{"core": shadow, "kernel": kernel}, "not a crash dump"},
		{"shadow-like kernel", map[string]any{"core": core, "kernel": shadow}, "not an ELF file"},
		{"NUL in core", map[string]any{"core": core + "\x00/etc/passwd", "kernel": kernel}, "contains a NUL byte"},
		{"NUL in kernel", map[string]any{"core": core, "kernel": kernel + "\x00x"}, "contains a NUL byte"},
		{"symlink loop", map[string]any{"core": loop, "kernel": kernel}, "core not found"},
		{"long path", map[string]any{"core": "/" + strings.Repeat("a/", 40000), "kernel": kernel}, "core not found"},
		{"relative escape", map[string]any{"core": "../../../../../../../../etc/hostname", "kernel": kernel}, ""},
		{"core of the wrong type", map[string]any{"core": 12}, "attach arguments"},
		{"sourceMap garbage", map[string]any{"core": core, "kernel": kernel, "sourceMap": "x"}, "sourceMap"},
		{"empty core", map[string]any{"core": ""}, `"core"`},
	}
	c := dialClient(t, addr)
	c.mustCall("initialize", map[string]any{"adapterID": "kdap"})
	for _, tc := range tests {
		start := time.Now()
		r, err := c.roundTrip("attach", tc.args)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		msg := r.GetResponse().Message
		if r.GetResponse().Success || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: success %v message %q, want an error containing %q", tc.name, r.GetResponse().Success, msg, tc.want)
		}
		if strings.Contains(msg, secret) || strings.Contains(msg, "daemon:*") {
			t.Errorf("%s: the error repeats the file's contents: %q", tc.name, msg)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: took %v", tc.name, d)
		}
	}
	// A hostile logFile next to a good attach: refused by this server, the
	// attach goes on.
	victim := filepath.Join(dir, "victim.log")
	args := attachArgs(t)
	args["logFile"], args["logLevel"] = victim, "debug"
	c.attach(args)
	if _, err := os.Lstat(victim); err == nil {
		t.Errorf("the server wrote the client's logFile %s", victim)
	}
	c.disconnect()
}

// abuseConnections opens and drops 1,000 connections: some at once, some
// mid-header, some mid-attach (50 of them while the fixture dump opens),
// some after a request.
func abuseConnections(t *testing.T, addr string) {
	const n, workers = 1000, 20
	attach := attachArgs(t)
	var wg sync.WaitGroup
	var refused, failed sync.Map
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				nc, err := net.Dial("tcp", addr)
				if err != nil {
					failed.Store(i, err)
					continue
				}
				_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
				switch i % 4 {
				case 1:
					io.WriteString(nc, "Content-Len")
				case 2:
					// Every fifth of these drops while the real dump opens.
					args := map[string]any{"core": "/nonexistent/vmcore"}
					if i%20 == 2 {
						args = attach
					}
					b, _ := json.Marshal(map[string]any{"seq": 1, "type": "request", "command": "attach", "arguments": args})
					fmt.Fprintf(nc, "Content-Length: %d\r\n\r\n%s", len(b), b)
				case 3:
					fmt.Fprintf(nc, "Content-Length: 60\r\n\r\n")
					rd := bufio.NewReader(nc)
					io.WriteString(nc, `{"seq":1,"type":"request","command":"initialize","arguments":{}}`[:60])
					if raw, err := godap.ReadBaseMessage(rd); err == nil && bytes.Contains(raw, []byte("too many connections")) {
						refused.Store(i, true)
					}
				}
				nc.Close()
			}
		})
	}
	wg.Wait()
	var nFailed, nRefused int
	failed.Range(func(k, v any) bool {
		if nFailed++; nFailed <= 3 {
			t.Errorf("connection %v: %v", k, v)
		}
		return true
	})
	refused.Range(func(any, any) bool { nRefused++; return true })
	t.Logf("%d connections opened and dropped by %d clients at once; %d of the %d that waited for an answer were turned away for the connection limit", n, workers, nRefused, n/4)
}

// abuseSessions runs 50 concurrent sessions on the fixture dump.
func abuseSessions(t *testing.T, addr string) {
	const n = 50
	args := attachArgs(t)
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = dialClient(t, addr)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, c := range clients {
		wg.Go(func() {
			for _, step := range []struct {
				command string
				args    any
			}{
				{"initialize", map[string]any{"adapterID": "kdap"}},
				{"attach", args},
				{"configurationDone", nil},
				{"threads", nil},
				{"stackTrace", map[string]any{"threadId": crashedTID, "levels": 3}},
				{"evaluate", map[string]any{"expression": "hz", "context": "watch"}},
				{"exceptionInfo", map[string]any{"threadId": crashedTID}},
				{"disconnect", nil},
			} {
				r, err := c.roundTrip(step.command, step.args)
				if err != nil {
					errs <- err
					return
				}
				if !r.GetResponse().Success {
					errs <- fmt.Errorf("%s: %s", step.command, r.GetResponse().Message)
					return
				}
				if e, ok := r.(*godap.EvaluateResponse); ok && e.Body.Result != "1000" {
					errs <- fmt.Errorf("hz = %q, want 1000", e.Body.Result)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, c := range clients {
		c.conn.Close()
	}
}
