// Package session serves one Debug Adapter Protocol connection on a kernel
// crash dump: it opens the dump on attach (or launch), reports the panic as a
// stopped thread, and answers the requests that inspect threads, frames,
// variables, memory, disassembly, modules and sources. A dump is a snapshot,
// so every request that would run or change the machine is refused.
package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	godap "github.com/google/go-dap"
	"github.com/kdap/kdap/session/stack"
	"github.com/kdap/kdap/session/values"
	"github.com/kdap/kdap/target"
	"github.com/kdap/kdap/unwind"
	"go.uber.org/zap"
)

// Error ids of the error responses a session sends.
const (
	// ErrIDSnapshot refuses a request that would run or change the machine.
	ErrIDSnapshot = 2001
	// ErrIDNotAttached answers a request that needs an opened dump.
	ErrIDNotAttached = 2002
	// ErrIDAttach reports a failed attach or launch.
	ErrIDAttach = 2003
	// ErrIDBadReference answers an unknown thread, frame or variables reference.
	ErrIDBadReference = 2004
	// ErrIDEvaluate reports an expression or command that failed.
	ErrIDEvaluate = 2005
	// ErrIDMemory reports a memory or disassembly request that failed.
	ErrIDMemory = 2006
	// ErrIDSource reports a source file that cannot be read.
	ErrIDSource = 2007
)

// ErrResume is the error of continue, next, stepIn, stepOut, pause and the
// reverse requests.
var ErrResume = errors.New("a crash dump is a snapshot: execution cannot resume")

// ErrWrite is the error of setVariable and setExpression.
var ErrWrite = errors.New("a crash dump is a snapshot: memory cannot be changed")

// ModuleID is the DAP module id of the kernel.
const ModuleID = "kernel"

// Session is the Handler of one DAP connection.
type Session struct {
	log  *zap.Logger
	opts Options

	mu     sync.Mutex // guards t against Close from the transport
	t      *target.Target
	args   attachArgs
	paths  pathMap
	unw    *stack.Unwinder
	stacks map[int64]*threadStack

	frames    map[int]frameRef // DAP frame id → thread and index
	nextFrame int
	refs      map[int]*varRef // variablesReference → what it expands
	nextRef   int
	genv      *values.Env         // globals-only expression environment
	fenvs     map[int]*values.Env // per DAP frame id

	client       godap.InitializeRequestArguments
	ctx          context.Context // the current request's, cancelled by a cancel request
	send         func(godap.Message)
	nextProgress int
	srcFiles     []string    // the kernel's source files, sorted; nil until read
	ownLog       *zap.Logger // the logger attach built from logFile, closed with the session
	logSink      *logSink    // ownLog's file; nil for none or stderr
	baseLog      *zap.Logger // the logger the session was built with
}

// threadStack is a thread's backtrace with the DAP ids of its frames.
type threadStack struct {
	frames []unwind.Frame
	ids    []int
}

// frameRef locates a DAP frame id.
type frameRef struct {
	tid   int64
	index int
}

// Options tune sessions built by a Factory.
type Options struct {
	// Logger receives the session's diagnostics; nil means none.
	Logger *zap.Logger
	// AttachTimeout bounds how long attach may take to open a dump (zero
	// means DefaultAttachTimeout, negative means no bound).
	AttachTimeout time.Duration
	// RefuseLogFile ignores a client's logFile and logLevel, telling the
	// client so: over TCP the client need not be the user the server runs
	// as, so it must not choose files the server writes. Without it (stdio,
	// where the editor runs kdap as its user) logFile may name any regular
	// file.
	RefuseLogFile bool
	// LogDir, when set, is the only directory a client's logFile may be
	// created in, named by a plain file name (no path, no symbolic link out
	// of it); it takes precedence over RefuseLogFile.
	LogDir string
	// Open opens a dump; nil means target.Open. Tests inject slow opens.
	Open func(core, kernel string, opts target.Options) (*target.Target, error)
}

// DefaultAttachTimeout is the attach bound when Options.AttachTimeout is zero.
const DefaultAttachTimeout = 60 * time.Second

// New returns a session that has not yet opened a dump.
func New(opts Options) *Session {
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &Session{log: log, baseLog: log, opts: opts, frames: map[int]frameRef{}, refs: map[int]*varRef{}, fenvs: map[int]*values.Env{}, stacks: map[int64]*threadStack{}}
}

// Close releases the dump the session opened and closes its log file; it
// is safe to call twice.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeLog()
	if s.t == nil {
		return nil
	}
	values.Forget(s.t)
	err := s.t.Close()
	s.t, s.unw, s.genv = nil, nil, nil
	s.fenvs = map[int]*values.Env{}
	// Everything below refers to the closed dump; ids keep counting so a
	// stale one from the client is never mistaken for a new one.
	s.stacks = map[int64]*threadStack{}
	s.frames = map[int]frameRef{}
	s.refs = map[int]*varRef{}
	s.srcFiles = nil
	return err
}

// closeLog flushes and closes the log file attach opened and goes back to
// the session's own logger.
func (s *Session) closeLog() {
	if s.ownLog == nil {
		return
	}
	_ = s.ownLog.Sync()
	if s.logSink != nil {
		if err := s.logSink.Close(); err != nil {
			s.baseLog.Warn("closing the session's log file", zap.Error(err))
		}
	}
	s.log, s.ownLog, s.logSink = s.baseLog, nil, nil
}

// target returns the opened target or an error.
func (s *Session) target() (*target.Target, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.t == nil {
		return nil, errNotAttached
	}
	return s.t, nil
}

// checkThread refuses a DAP thread id that names no thread of the dump.
func (s *Session) checkThread(id int) error {
	t, err := s.target()
	if err != nil {
		return err
	}
	if _, err := t.Thread(int64(id)); err != nil {
		return withID(ErrIDBadReference, fmt.Errorf("thread %d: %w", id, err))
	}
	return nil
}

var errNotAttached = errors.New("no crash dump is open: send attach (or launch) with a \"core\" first")

// reqError is an error that carries the DAP error id to answer with.
type reqError struct {
	id  int
	err error
}

func (e *reqError) Error() string { return e.err.Error() }
func (e *reqError) Unwrap() error { return e.err }

// withID tags err with a DAP error id.
func withID(id int, err error) error {
	if err == nil {
		return nil
	}
	return &reqError{id: id, err: err}
}

// ok builds the common part of a successful response.
func ok(r *godap.Request) godap.Response {
	return godap.Response{ProtocolMessage: godap.ProtocolMessage{Type: "response"}, RequestSeq: r.Seq, Command: r.Command, Success: true}
}

// errorResponse builds the error response for a failed request.
func errorResponse(r *godap.Request, err error) *godap.ErrorResponse {
	id := 2000
	var re *reqError
	switch {
	case errors.As(err, &re):
		id = re.id
	case errors.Is(err, ErrResume), errors.Is(err, ErrWrite):
		id = ErrIDSnapshot
	case errors.Is(err, errNotAttached):
		id = ErrIDNotAttached
	}
	msg := err.Error()
	// The message doubles as the error's format string, where {name}
	// would be a variable reference.
	format := strings.NewReplacer("{", "(", "}", ")").Replace(msg)
	return &godap.ErrorResponse{
		Response: godap.Response{ProtocolMessage: godap.ProtocolMessage{Type: "response"}, RequestSeq: r.Seq, Command: r.Command, Message: msg},
		Body:     godap.ErrorResponseBody{Error: &godap.ErrorMessage{Id: id, Format: format, ShowUser: true}},
	}
}

// event builds the common part of an event.
func event(name string) godap.Event {
	return godap.Event{ProtocolMessage: godap.ProtocolMessage{Type: "event"}, Event: name}
}

// Handle answers one request; see package dap for the contract.
func (s *Session) Handle(ctx context.Context, req godap.RequestMessage, send func(godap.Message)) {
	s.send, s.ctx = send, ctx
	r := req.GetRequest()
	msg, err := s.dispatch(ctx, req)
	if err != nil {
		s.log.Debug("request failed", zap.String("command", r.Command), zap.Error(err))
		send(errorResponse(r, err))
		return
	}
	send(msg)
}

// dispatch computes the response to req.
func (s *Session) dispatch(ctx context.Context, req godap.RequestMessage) (godap.Message, error) {
	r := req.GetRequest()
	switch req := req.(type) {
	case *godap.InitializeRequest:
		s.client = req.Arguments
		return &godap.InitializeResponse{Response: ok(r), Body: capabilities()}, nil
	case *godap.AttachRequest:
		if err := s.attach(ctx, r.Seq, req.Arguments); err != nil {
			return nil, withID(ErrIDAttach, err)
		}
		s.send(&godap.AttachResponse{Response: ok(r)})
		return &godap.InitializedEvent{Event: event("initialized")}, nil
	case *godap.LaunchRequest:
		if err := s.attach(ctx, r.Seq, req.Arguments); err != nil {
			return nil, withID(ErrIDAttach, err)
		}
		s.send(&godap.LaunchResponse{Response: ok(r)})
		return &godap.InitializedEvent{Event: event("initialized")}, nil
	case *godap.SetBreakpointsRequest:
		bps := make([]godap.Breakpoint, len(req.Arguments.Breakpoints))
		for i, b := range req.Arguments.Breakpoints {
			bps[i] = godap.Breakpoint{Verified: false, Line: b.Line, Message: "a crash dump cannot stop at breakpoints"}
		}
		return &godap.SetBreakpointsResponse{Response: ok(r), Body: godap.SetBreakpointsResponseBody{Breakpoints: bps}}, nil
	case *godap.SetFunctionBreakpointsRequest:
		return &godap.SetFunctionBreakpointsResponse{Response: ok(r), Body: godap.SetFunctionBreakpointsResponseBody{Breakpoints: []godap.Breakpoint{}}}, nil
	case *godap.SetExceptionBreakpointsRequest:
		return &godap.SetExceptionBreakpointsResponse{Response: ok(r)}, nil
	case *godap.ConfigurationDoneRequest:
		return s.configurationDone(r)
	case *godap.ThreadsRequest:
		return s.threads(r)
	case *godap.StackTraceRequest:
		return s.stackTrace(r, req.Arguments)
	case *godap.ScopesRequest:
		return s.scopes(r, req.Arguments)
	case *godap.VariablesRequest:
		return s.variables(r, req.Arguments)
	case *godap.EvaluateRequest:
		return s.evaluate(ctx, r, req.Arguments)
	case *godap.SetVariableRequest, *godap.SetExpressionRequest:
		return nil, ErrWrite
	case *godap.ContinueRequest, *godap.NextRequest, *godap.StepInRequest, *godap.StepOutRequest,
		*godap.PauseRequest, *godap.ReverseContinueRequest, *godap.StepBackRequest, *godap.GotoRequest,
		*godap.RestartFrameRequest, *godap.RestartRequest:
		return nil, ErrResume
	case *godap.ExceptionInfoRequest:
		if err := s.checkThread(req.Arguments.ThreadId); err != nil {
			return nil, err
		}
		return s.exceptionInfo(r)
	case *godap.ReadMemoryRequest:
		return s.readMemory(r, req.Arguments)
	case *godap.WriteMemoryRequest:
		return nil, ErrWrite
	case *godap.DisassembleRequest:
		return s.disassemble(r, req.Arguments)
	case *godap.ModulesRequest:
		return s.modules(r)
	case *godap.LoadedSourcesRequest:
		return s.loadedSources(r)
	case *godap.SourceRequest:
		return s.source(r, req.Arguments)
	case *godap.CompletionsRequest:
		return s.completions(r, req.Arguments)
	case *godap.CancelRequest:
		return &godap.CancelResponse{Response: ok(r)}, nil
	case *godap.TerminateRequest:
		err := s.Close()
		s.send(&godap.TerminateResponse{Response: ok(r)})
		if err != nil {
			s.log.Warn("closing the dump", zap.Error(err))
		}
		return &godap.TerminatedEvent{Event: event("terminated")}, nil
	case *godap.DisconnectRequest:
		if err := s.Close(); err != nil {
			s.log.Warn("closing the dump", zap.Error(err))
		}
		s.send(&godap.TerminatedEvent{Event: event("terminated")})
		return &godap.DisconnectResponse{Response: ok(r)}, nil
	}
	return nil, fmt.Errorf("request %q is not supported on a crash dump", r.Command)
}

// capabilities lists what the session implements.
func capabilities() godap.Capabilities {
	return godap.Capabilities{
		SupportsConfigurationDoneRequest: true,
		SupportsEvaluateForHovers:        true,
		SupportsReadMemoryRequest:        true,
		SupportsDisassembleRequest:       true,
		SupportsValueFormattingOptions:   true,
		SupportsExceptionInfoRequest:     true,
		SupportsModulesRequest:           true,
		SupportsLoadedSourcesRequest:     true,
		SupportsCompletionsRequest:       true,
		SupportsDelayedStackTraceLoading: true,
		SupportsTerminateRequest:         true,
		SupportsClipboardContext:         true,
		SupportsCancelRequest:            true,
		SupportsSteppingGranularity:      false,
		SupportsSetVariable:              false,
		CompletionTriggerCharacters:      []string{".", ">"},
	}
}
