package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	godap "github.com/google/go-dap"
	"github.com/kdap/kdap/session/stack"
	"github.com/kdap/kdap/target"
	_ "github.com/kdap/kdap/target/all" // every dump format and OS model
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// attachArgs are the arguments of attach and launch.
type attachArgs struct {
	Core              string          `json:"core"`
	Kernel            string          `json:"kernel"`
	SourceMap         json.RawMessage `json:"sourceMap"`
	SubstitutePath    []substitution  `json:"substitutePath"`
	ShowMessageBuffer *bool           `json:"showMessageBuffer"`
	LogFile           string          `json:"logFile"`
	LogLevel          string          `json:"logLevel"`
	ModulePaths       []string        `json:"modulePaths"`
	DisassemblyFlavor string          `json:"disassemblyFlavor"`
}

// substitution is one Delve-style substitutePath rule.
type substitution struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// attach opens the dump the arguments name. It gives up when ctx ends (the
// client went away or cancelled) or after the session's attach timeout; a
// dump that finishes opening after that is closed at once.
func (s *Session) attach(ctx context.Context, reqSeq int, raw json.RawMessage) error {
	if s.t != nil {
		return errors.New("a crash dump is already open in this session")
	}
	var a attachArgs
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &a); err != nil {
			return fmt.Errorf("attach arguments: %w", err)
		}
	}
	if a.Core == "" {
		return errors.New(`attach arguments: "core" (the crash dump's path) is required`)
	}
	pm, err := parsePathMap(a.SourceMap, a.SubstitutePath)
	if err != nil {
		return err
	}
	s.setLog(a.LogFile, a.LogLevel)
	end := s.progress(reqSeq, "Opening "+filepath.Base(a.Core))
	o, err := s.openBounded(ctx, a.Core, a.Kernel)
	if err != nil {
		end("failed")
		return err
	}
	end("")
	a.Kernel = o.kernel
	s.mu.Lock()
	s.t, s.unw, s.args, s.paths = o.t, o.unw, a, pm
	s.mu.Unlock()
	s.log.Info("dump opened", zap.String("core", a.Core), zap.String("kernel", a.Kernel))
	return nil
}

// regularFile refuses a path that is not a regular file (after symlinks).
func regularFile(what, path string) error {
	if strings.IndexByte(path, 0) >= 0 {
		return fmt.Errorf("%s path %q contains a NUL byte", what, path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s not found: %w", what, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s %s is not a regular file (%s)", what, path, fileKind(st.Mode()))
	}
	return nil
}

// fileKind names the type of a file that is not regular.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "mode " + m.String()
}

// opened is what the background open of an attach produces.
type opened struct {
	t      *target.Target
	unw    *stack.Unwinder
	kernel string
	err    error
}

// maxOpening bounds the dumps being opened at once in the process. An open
// that hangs (a file on a dead network mount) keeps its goroutine and OS
// thread after its attach has given up; this bounds how many a client that
// reconnects and retries can pile up.
const maxOpening = 16

// opening holds one token per dump being opened.
var opening = make(chan struct{}, maxOpening)

// openBounded opens the dump on another goroutine and waits for it, for
// ctx or for the attach timeout, whichever comes first.
func (s *Session) openBounded(ctx context.Context, core, kernel string) (opened, error) {
	timeout := s.opts.AttachTimeout
	if timeout == 0 {
		timeout = DefaultAttachTimeout
	}
	open := s.opts.Open
	if open == nil {
		open = target.Open
	}
	var timer <-chan time.Time
	if timeout > 0 {
		tm := time.NewTimer(timeout)
		defer tm.Stop()
		timer = tm.C
	}
	select {
	case opening <- struct{}{}:
	case <-ctx.Done():
		return opened{}, fmt.Errorf("attach to %s given up: %w", core, context.Cause(ctx))
	case <-timer:
		return opened{}, fmt.Errorf("opening %s: %d other dumps have been opening for %v; giving up (--attach-timeout sets this bound)", core, maxOpening, timeout)
	}
	log := s.log
	var (
		mu        sync.Mutex
		abandoned bool
		result    = make(chan opened, 1)
	)
	go func() {
		o := openDump(open, core, kernel, log)
		<-opening
		mu.Lock()
		defer mu.Unlock()
		if abandoned {
			o.close()
			log.Info("closed a dump whose attach had been given up", zap.String("core", core))
			return
		}
		result <- o
	}()
	var why error
	select {
	case o := <-result:
		return o, o.err
	case <-ctx.Done():
		why = fmt.Errorf("attach to %s given up: %w", core, context.Cause(ctx))
	case <-timer:
		why = fmt.Errorf("opening %s took longer than %v; giving up (--attach-timeout sets this bound)", core, timeout)
	}
	mu.Lock()
	abandoned = true
	mu.Unlock()
	select {
	case o := <-result: // finished while we were deciding
		o.close()
	default:
	}
	s.log.Warn("attach abandoned", zap.Error(why))
	return opened{}, why
}

// openDump finds the kernel when none is given, opens the dump and reads
// its thread list, as one unit of work that openBounded can abandon.
func openDump(open func(string, string, target.Options) (*target.Target, error), core, kernel string, log *zap.Logger) (o opened) {
	defer func() {
		// Bad input must not take the server down from a goroutine
		// nothing else recovers.
		if p := recover(); p != nil {
			o.close()
			o = opened{err: fmt.Errorf("internal error opening %s: %v", core, p)}
			log.Error("opening a dump panicked", zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
		}
	}()
	// A named pipe or a device would block open(2) or read forever: refuse
	// anything but a regular file before opening it. Even stat(2) can hang
	// (a dead network mount), so this runs within the bound too.
	if err := regularFile("core", core); err != nil {
		return opened{err: err}
	}
	if kernel == "" {
		var err error
		if kernel, err = target.FindKernel(core); err != nil {
			return opened{err: err}
		}
	} else if err := regularFile("kernel", kernel); err != nil {
		return opened{err: err}
	}
	t, err := open(core, kernel, target.Options{Logger: log})
	if err != nil {
		return opened{err: err}
	}
	o.t, o.kernel = t, kernel
	if _, err := t.Threads(); err != nil {
		o.close()
		return opened{err: fmt.Errorf("not a crash dump: %w", err)}
	}
	u, err := stack.New(t)
	if err != nil {
		o.close()
		return opened{err: fmt.Errorf("preparing backtraces: %w", err)}
	}
	o.unw = u
	return o
}

// close releases an opened dump that will not be used.
func (o *opened) close() {
	if o.t != nil {
		_ = o.t.Close()
		o.t, o.unw = nil, nil
	}
}

// progress reports long work to a client that supports progress events; the
// returned function ends the report with an optional message.
func (s *Session) progress(reqSeq int, title string) func(msg string) {
	if !s.client.SupportsProgressReporting {
		return func(string) {}
	}
	s.nextProgress++
	id := fmt.Sprintf("kdap-%d", s.nextProgress)
	s.send(&godap.ProgressStartEvent{Event: event("progressStart"), Body: godap.ProgressStartEventBody{ProgressId: id, Title: title, RequestId: reqSeq}})
	return func(msg string) {
		s.send(&godap.ProgressEndEvent{Event: event("progressEnd"), Body: godap.ProgressEndEventBody{ProgressId: id, Message: msg}})
	}
}

// setLog applies the client's logFile and logLevel within the server's
// policy (Options.RefuseLogFile, Options.LogDir). What cannot be honoured is
// said in an output event and the server's log; attach goes on regardless.
func (s *Session) setLog(path, level string) {
	if path == "" && level == "" {
		return
	}
	l, sink, err := s.clientLogger(path, level)
	if err != nil {
		s.log.Warn("logFile/logLevel ignored", zap.String("logFile", path), zap.String("logLevel", level), zap.Error(err))
		s.send(&godap.OutputEvent{Event: event("output"), Body: godap.OutputEventBody{Category: "console",
			Output: fmt.Sprintf("kdap: logFile/logLevel ignored: %v\n", err)}})
		return
	}
	s.closeLog()
	s.log, s.ownLog, s.logSink = l, l, sink
}

// errLogFileRefused explains why a server ignores a client's logFile.
var errLogFileRefused = errors.New("this server does not let clients choose the files it writes (start kdap serve with --log-dir DIR to accept a plain file name inside DIR)")

// clientLogger builds the logger logFile and logLevel ask for; sink is the
// file it writes, nil for stderr.
func (s *Session) clientLogger(path, level string) (*zap.Logger, *logSink, error) {
	lvl := zap.InfoLevel
	if level != "" {
		var err error
		if lvl, err = zapcore.ParseLevel(level); err != nil {
			return nil, nil, fmt.Errorf("logLevel %q: expected debug, info, warn or error", level)
		}
	}
	var ws zapcore.WriteSyncer
	var sink *logSink
	switch {
	case s.opts.LogDir != "":
		if path == "" {
			return nil, nil, errors.New(`logLevel needs a "logFile" name in this server's log directory`)
		}
		f, err := openInDir(s.opts.LogDir, path)
		if err != nil {
			return nil, nil, err
		}
		sink = &logSink{f: f}
		ws = sink
	case s.opts.RefuseLogFile:
		return nil, nil, errLogFileRefused
	case path == "" || path == "stderr" || path == "/dev/stderr":
		ws = zapcore.Lock(os.Stderr)
	case path == "stdout" || path == "/dev/stdout" || path == "/dev/fd/1" || path == "/proc/self/fd/1":
		return nil, nil, fmt.Errorf("logFile %q: stdout carries the protocol; use stderr or a file", path)
	default:
		f, err := openLogFile(path, 0o644, os.OpenFile)
		if err != nil {
			return nil, nil, err
		}
		sink = &logSink{f: f}
		ws = sink
	}
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), ws, lvl)
	return zap.New(core, zap.ErrorOutput(zapcore.Lock(os.Stderr))), sink, nil
}

// openInDir opens the log file name inside dir: a plain file name, no
// path, and no symbolic link that leads out of dir.
func openInDir(dir, name string) (*os.File, error) {
	if name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") || !filepath.IsLocal(name) {
		return nil, fmt.Errorf("logFile %q: expected a plain file name, created in the server's log directory", name)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("log directory: %w", err)
	}
	defer root.Close()
	return openLogFile(name, 0o600, root.OpenFile)
}

// openLogFile opens path for appending with open, without blocking on a
// named pipe, and refuses anything but a regular file.
func openLogFile(path string, perm os.FileMode, open func(string, int, os.FileMode) (*os.File, error)) (*os.File, error) {
	if strings.IndexByte(path, 0) >= 0 {
		return nil, fmt.Errorf("logFile %q contains a NUL byte", path)
	}
	f, err := open(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NONBLOCK, perm)
	if err != nil {
		return nil, fmt.Errorf("logFile: %w", err)
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("logFile %s is not a regular file (%s)", path, fileKind(st.Mode()))
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// logSink is a session's log file. Writes after Close are dropped: an
// abandoned open may still log after its session has ended.
type logSink struct {
	mu sync.Mutex
	f  *os.File
}

// Write appends p to the file, or drops it once the file is closed.
func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return len(p), nil
	}
	return l.f.Write(p)
}

// Sync flushes the file.
func (l *logSink) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	return l.f.Sync()
}

// Close closes the file; it is safe to call twice.
func (l *logSink) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// configurationDone prints the unread message buffer and reports the panic.
func (s *Session) configurationDone(r *godap.Request) (godap.Message, error) {
	t, err := s.target()
	if err != nil {
		return nil, err
	}
	s.send(&godap.ConfigurationDoneResponse{Response: ok(r)})
	if s.args.ShowMessageBuffer == nil || *s.args.ShowMessageBuffer {
		if mb, err := t.OS.MessageBuffer(); err != nil {
			s.send(&godap.OutputEvent{Event: event("output"), Body: godap.OutputEventBody{Category: "console", Output: fmt.Sprintf("kdap: message buffer: %v\n", err)}})
		} else if mb.Unread != "" {
			s.send(&godap.OutputEvent{Event: event("output"), Body: godap.OutputEventBody{Category: "console", Output: mb.Unread}})
		}
	}
	// What the dump lacks and what could not be read of its lists: the
	// thread list is read first so that its damage is known.
	_, _ = t.Threads()
	if ws := t.Warnings(); len(ws) > 0 {
		var b strings.Builder
		for _, w := range ws {
			b.WriteString("kdap: warning: " + w + "\n")
		}
		s.send(&godap.OutputEvent{Event: event("output"), Body: godap.OutputEventBody{Category: "important", Output: b.String()}})
	}
	panicStr, _ := t.OS.PanicString()
	body := godap.StoppedEventBody{Reason: "exception", AllThreadsStopped: true, Text: "panic", Description: panicStr}
	if panicStr == "" {
		body.Reason, body.Text, body.Description = "pause", "", "the dump records no panic"
	}
	if th, err := t.CrashedThread(); err == nil && th != nil {
		body.ThreadId = int(th.ID)
	} else if ths, err := t.Threads(); err == nil && len(ths) > 0 {
		body.ThreadId = int(ths[0].ID)
	}
	return &godap.StoppedEvent{Event: event("stopped"), Body: body}, nil
}

// pathMap rewrites source paths from the kernel's build to local files.
type pathMap []substitution

// parsePathMap merges lldb-dap's sourceMap (an object, or a list of
// [from, to] pairs) and Delve's substitutePath, longest prefix first.
func parsePathMap(sourceMap json.RawMessage, subst []substitution) (pathMap, error) {
	var pm pathMap
	if len(sourceMap) > 0 && string(sourceMap) != "null" {
		var obj map[string]string
		var pairs [][]string
		switch {
		case json.Unmarshal(sourceMap, &obj) == nil:
			for k, v := range obj {
				pm = append(pm, substitution{From: k, To: v})
			}
		case json.Unmarshal(sourceMap, &pairs) == nil:
			for i, p := range pairs {
				if len(p) != 2 {
					return nil, fmt.Errorf("sourceMap entry %d: expected [from, to], got %d strings", i, len(p))
				}
				pm = append(pm, substitution{From: p[0], To: p[1]})
			}
		default:
			return nil, fmt.Errorf(`sourceMap: expected an object {"/usr/src": "/local/src"} or [[from, to], ...], got %.60s`, sourceMap)
		}
	}
	for i, sub := range subst {
		if sub.From == "" {
			return nil, fmt.Errorf("substitutePath entry %d: \"from\" is empty", i)
		}
		pm = append(pm, sub)
	}
	for i, sub := range pm {
		if sub.From == "" {
			return nil, fmt.Errorf("sourceMap: empty prefix (entry %d)", i)
		}
	}
	sort.SliceStable(pm, func(i, j int) bool { return len(pm[i].From) > len(pm[j].From) })
	return pm, nil
}

// Map rewrites p by the longest matching prefix; a prefix matches whole path
// components only.
func (pm pathMap) Map(p string) string {
	for _, sub := range pm {
		from := strings.TrimSuffix(sub.From, "/")
		if from == "" { // "/" maps every absolute path
			if strings.HasPrefix(p, "/") {
				return strings.TrimSuffix(sub.To, "/") + p
			}
			continue
		}
		if p == from {
			return sub.To
		}
		if strings.HasPrefix(p, from+"/") {
			return strings.TrimSuffix(sub.To, "/") + p[len(from):]
		}
	}
	return p
}

// Unmap turns a local path back into the kernel's, the inverse of Map.
func (pm pathMap) Unmap(p string) string {
	best, bestLen := p, -1
	for _, sub := range pm {
		to := strings.TrimSuffix(sub.To, "/")
		if to == "" {
			continue
		}
		if (p == to || strings.HasPrefix(p, to+"/")) && len(to) > bestLen {
			best, bestLen = strings.TrimSuffix(sub.From, "/")+p[len(to):], len(to)
		}
	}
	return best
}
