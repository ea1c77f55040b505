package dap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	godap "github.com/google/go-dap"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// DefaultAddr is the TCP address the server listens on when none is given.
const DefaultAddr = "127.0.0.1:4711"

// stdio joins standard input and output into one stream.
type stdio struct {
	io.Reader
	io.Writer
}

// ServeStdio runs one session over the process's standard input and output.
// Nothing but DAP messages is written to stdout; logger must not write there.
func ServeStdio(ctx context.Context, factory Factory, logger *zap.Logger) error {
	return (&Server{Factory: factory, Logger: logger}).ServeStdio(ctx)
}

// ServeStdio runs one session over the process's standard input and output.
func (s *Server) ServeStdio(ctx context.Context) error {
	return s.Serve(ctx, stdio{os.Stdin, os.Stdout})
}

// ListenAndServe listens on addr (DefaultAddr when empty) and serves every
// connection as its own session until ctx is cancelled.
func ListenAndServe(ctx context.Context, addr string, factory Factory, logger *zap.Logger) error {
	if addr == "" {
		addr = DefaultAddr
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("dap: listening on %s: %w", addr, err)
	}
	return ServeListener(ctx, ln, factory, logger)
}

// ServeListener accepts connections on ln, each served by Serve with its own
// Handler within the default Limits, until ctx is cancelled; it then closes
// ln, ends every session and returns nil once all have finished.
func ServeListener(ctx context.Context, ln net.Listener, factory Factory, logger *zap.Logger) error {
	return (&Server{Factory: factory, Logger: logger}).ServeListener(ctx, ln)
}

// ServeListener is the package's ServeListener within the server's Limits:
// a connection beyond MaxConnections gets an output event saying so and is
// closed.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	s.init()
	logger := s.Logger
	if a, ok := ln.Addr().(*net.TCPAddr); ok && !a.IP.IsLoopback() {
		logger.Warn("listening on a non-loopback address: anyone who can reach it can read the dump", zap.Stringer("addr", a))
	}
	logger.Info("DAP server listening", zap.Stringer("addr", ln.Addr()),
		zap.Int64("max_message_size", s.Limits.maxMessageSize()), zap.Int64("max_in_flight", s.Limits.maxInFlight()),
		zap.Int("max_connections", s.Limits.maxConnections()))
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	backoff := 5 * time.Millisecond
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("dap: listener %s closed: %w", ln.Addr(), err)
			}
			// Out of descriptors and similar conditions pass; wait and retry.
			logger.Warn("accept failed; retrying", zap.Error(err), zap.Duration("backoff", backoff))
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		if !s.addConn() {
			s.refuse(nc)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.dropConn()
			l := logger.With(zap.Stringer("remote", nc.RemoteAddr()))
			l.Info("session started")
			if err := s.serve(ctx, nc, l); err != nil {
				l.Info("session ended with an error", zap.Error(err))
				return
			}
			l.Info("session ended")
		}()
	}
}

// addConn counts a new connection if the limit allows it.
func (s *Server) addConn() bool {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.conns >= s.Limits.maxConnections() {
		return false
	}
	s.conns++
	return true
}

// dropConn uncounts a connection whose session ended.
func (s *Server) dropConn() {
	s.connMu.Lock()
	s.conns--
	s.connMu.Unlock()
}

// refuseTimeout bounds the write of a refusal: a fresh connection's empty
// send buffer takes it at once, and the accept loop must not wait.
const refuseTimeout = 100 * time.Millisecond

// refuse tells a connection beyond the limit why it is closed, and closes it.
func (s *Server) refuse(nc net.Conn) {
	msg := fmt.Sprintf("kdap: too many connections: this server serves at most %d at a time; try again later\n", s.Limits.maxConnections())
	s.Logger.Warn("refusing a connection: too many connections", zap.Stringer("remote", nc.RemoteAddr()), zap.Int("max_connections", s.Limits.maxConnections()))
	b, err := json.Marshal(&godap.OutputEvent{
		Event: godap.Event{ProtocolMessage: godap.ProtocolMessage{Seq: 1, Type: "event"}, Event: "output"},
		Body:  godap.OutputEventBody{Category: "important", Output: msg},
	})
	if err == nil {
		_ = nc.SetWriteDeadline(time.Now().Add(refuseTimeout))
		_ = godap.WriteBaseMessage(nc, b)
	}
	_ = nc.Close()
}

// NewLogger builds a logger writing to path (stderr when empty) at level
// ("debug" traces every message; empty means "info"). It refuses stdout,
// which belongs to the protocol in stdio mode.
func NewLogger(path, level string) (*zap.Logger, error) {
	lvl := zapcore.InfoLevel
	if level != "" {
		var err error
		if lvl, err = zapcore.ParseLevel(level); err != nil {
			return nil, fmt.Errorf("log level %q: expected debug, info, warn or error: %w", level, err)
		}
	}
	switch strings.TrimSpace(path) {
	case "", "stderr":
		path = "stderr"
	case "stdout", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1":
		return nil, fmt.Errorf("log file %q: stdout carries the protocol; use stderr or a file", path)
	}
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.Encoding = "console"
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	cfg.Sampling = nil
	cfg.OutputPaths = []string{path}
	cfg.ErrorOutputPaths = []string{"stderr"}
	l, err := cfg.Build()
	if err != nil {
		return nil, fmt.Errorf("log file %q: %w", path, err)
	}
	return l, nil
}
