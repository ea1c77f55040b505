package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	godap "github.com/google/go-dap"
	"github.com/kdap/kdap/session/stack"
	"github.com/kdap/kdap/target"
	_ "github.com/kdap/kdap/target/all" // every dump format and OS model
	"go.uber.org/zap"
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

// attach opens the dump the arguments name.
func (s *Session) attach(reqSeq int, raw json.RawMessage) error {
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
	if _, err := os.Stat(a.Core); err != nil {
		return fmt.Errorf("core not found: %w", err)
	}
	if a.Kernel == "" {
		if a.Kernel, err = target.FindKernel(a.Core); err != nil {
			return err
		}
	}
	if a.LogFile != "" || a.LogLevel != "" {
		if l, err := newFileLogger(a.LogFile, a.LogLevel); err == nil {
			s.log, s.ownLog = l, l
		} else {
			s.log.Warn("logFile/logLevel ignored", zap.Error(err))
		}
	}
	end := s.progress(reqSeq, "Opening "+filepath.Base(a.Core))
	t, err := target.Open(a.Core, a.Kernel, target.Options{Logger: s.log})
	if err != nil {
		end("failed")
		return err
	}
	if _, err := t.Threads(); err != nil {
		end("failed")
		t.Close()
		return fmt.Errorf("not a crash dump: %w", err)
	}
	end("")
	u, err := stack.New(t)
	if err != nil {
		t.Close()
		return fmt.Errorf("preparing backtraces: %w", err)
	}
	s.mu.Lock()
	s.t, s.unw, s.args, s.paths = t, u, a, pm
	s.mu.Unlock()
	s.log.Info("dump opened", zap.String("core", a.Core), zap.String("kernel", a.Kernel))
	return nil
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

// newFileLogger builds the logger a session's logFile/logLevel ask for.
func newFileLogger(path, level string) (*zap.Logger, error) {
	cfg := zap.NewProductionConfig()
	if level != "" {
		lvl, err := zap.ParseAtomicLevel(level)
		if err != nil {
			return nil, fmt.Errorf("logLevel %q: %w", level, err)
		}
		cfg.Level = lvl
	}
	if path == "" {
		cfg.OutputPaths = []string{"stderr"}
	} else {
		cfg.OutputPaths = []string{path}
	}
	cfg.ErrorOutputPaths = []string{"stderr"}
	return cfg.Build()
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
