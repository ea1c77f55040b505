package dap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

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
	return Serve(ctx, stdio{os.Stdin, os.Stdout}, factory, logger)
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
// Handler, until ctx is cancelled; it then closes ln, ends every session and
// returns nil once all have finished.
func ServeListener(ctx context.Context, ln net.Listener, factory Factory, logger *zap.Logger) error {
	if logger == nil {
		logger = zap.NewNop()
	}
	if a, ok := ln.Addr().(*net.TCPAddr); ok && !a.IP.IsLoopback() {
		logger.Warn("listening on a non-loopback address: anyone who can reach it can read the dump", zap.Stringer("addr", a))
	}
	logger.Info("DAP server listening", zap.Stringer("addr", ln.Addr()))
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
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := logger.With(zap.Stringer("remote", nc.RemoteAddr()))
			l.Info("session started")
			if err := Serve(ctx, nc, factory, l); err != nil {
				l.Info("session ended with an error", zap.Error(err))
				return
			}
			l.Info("session ended")
		}()
	}
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
