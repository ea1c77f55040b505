//go:build unix

package session_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	godap "github.com/google/go-dap"
	"github.com/kdap/kdap/session"
)

// attachWithLog attaches with logFile/logLevel added to the fixture's
// arguments, disconnects, and returns the text of the output events.
func attachWithLog(t *testing.T, opts session.Options, logFile, logLevel string) string {
	t.Helper()
	c, done := optClient(t, opts)
	args := attachArgs(t)
	if logFile != "" {
		args["logFile"] = logFile
	}
	if logLevel != "" {
		args["logLevel"] = logLevel
	}
	stopped := make(chan struct{})
	go func() {
		// A blocked log file open would hang attach: fail rather than wait.
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			c.conn.Close()
		}
	}()
	c.attach(args)
	c.disconnect()
	close(stopped)
	<-done
	var out strings.Builder
	for _, e := range c.events {
		if o, ok := e.(*godap.OutputEvent); ok {
			out.WriteString(o.Body.Output)
		}
	}
	return out.String()
}

// TestLogFileRefusedOverTCP: a server that refuses client log files (kdap
// serve without --log-dir) writes no file and says so.
func TestLogFileRefusedOverTCP(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	out := attachWithLog(t, session.Options{RefuseLogFile: true}, victim, "debug")
	if _, err := os.Lstat(victim); err == nil {
		t.Errorf("the server created %s, a path its client chose", victim)
	}
	if !strings.Contains(out, "logFile/logLevel ignored") || !strings.Contains(out, "--log-dir") {
		t.Errorf("output events %q, want one saying logFile was ignored and how to allow it", out)
	}
}

// TestLogFileInLogDir: with a log directory, a plain name is created there
// and closed when the session ends; anything that would leave the
// directory is refused and said.
func TestLogFileInLogDir(t *testing.T) {
	logDir, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(filepath.Join(outside, "escaped"), filepath.Join(logDir, "link.log")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(logDir, "sub")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(logDir, "pipe.log"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := session.Options{RefuseLogFile: true, LogDir: logDir}

	out := attachWithLog(t, opts, "session.log", "debug")
	if out != "" && strings.Contains(out, "ignored") {
		t.Errorf("a plain name was refused: %q", out)
	}
	b, err := os.ReadFile(filepath.Join(logDir, "session.log"))
	if err != nil || !strings.Contains(string(b), "dump opened") {
		t.Errorf("log file in the log directory: %v, %q; want the attach logged", err, b)
	}
	if st, err := os.Stat(filepath.Join(logDir, "session.log")); err == nil && st.Mode().Perm()&0o077 != 0 {
		t.Errorf("log file mode %v, want it private to the server's user", st.Mode())
	}
	assertClosed(t, filepath.Join(logDir, "session.log"))

	for _, name := range []string{
		"../escape.log",
		filepath.Join(outside, "absolute.log"),
		"sub/inner.log",
		"link.log",
		"pipe.log",
		"..",
		".",
		"nul\x00.log",
	} {
		t.Run(name, func(t *testing.T) {
			out := attachWithLog(t, opts, name, "")
			if !strings.Contains(out, "logFile/logLevel ignored") {
				t.Errorf("logFile %q: output %q, want it refused", name, out)
			}
			ents, _ := os.ReadDir(outside)
			if len(ents) != 0 {
				t.Errorf("logFile %q: the server wrote outside its log directory: %v", name, ents)
			}
		})
	}
	if out := attachWithLog(t, opts, "", "debug"); !strings.Contains(out, "logFile/logLevel ignored") {
		t.Errorf("logLevel without logFile: output %q, want it refused", out)
	}
}

// TestLogFileStdio: over stdio the client is the user who started kdap, so
// logFile may be any path; the file is closed when the session ends, and a
// named pipe does not block the attach.
func TestLogFileStdio(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "sub-dir-less.log")
	out := attachWithLog(t, session.Options{}, logFile, "debug")
	if strings.Contains(out, "ignored") {
		t.Errorf("stdio logFile refused: %q", out)
	}
	b, err := os.ReadFile(logFile)
	if err != nil || !strings.Contains(string(b), "dump opened") {
		t.Errorf("log file: %v, %q; want the attach logged", err, b)
	}
	assertClosed(t, logFile)

	fifo := filepath.Join(dir, "pipe.log")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := attachWithLog(t, session.Options{}, fifo, ""); !strings.Contains(out, "logFile/logLevel ignored") {
		t.Errorf("logFile on a named pipe: output %q, want it refused", out)
	}
	if out := attachWithLog(t, session.Options{}, "stdout", ""); !strings.Contains(out, "stdout carries the protocol") {
		t.Errorf("logFile stdout: output %q, want it refused", out)
	}
}

// assertClosed fails when the process still has path open.
func assertClosed(t *testing.T, path string) {
	t.Helper()
	if slices.Contains(openFiles(t), path) {
		t.Errorf("%s is still open after its session ended", path)
	}
}
