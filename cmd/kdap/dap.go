package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/kdap/kdap/dap"
	"github.com/kdap/kdap/session"
	"go.uber.org/zap"
)

func init() {
	register("dap", verb{summary: "serve the Debug Adapter Protocol on stdin/stdout (for editors)",
		usage: "dap [--log-file FILE] [--log-level LEVEL] [--attach-timeout 60s]", run: runDAP})
	register("serve", verb{summary: "serve the Debug Adapter Protocol over TCP, one session per connection",
		usage: "serve [--listen 127.0.0.1:4711] [--allow-remote] [--log-file FILE] [--log-level LEVEL] [--log-dir DIR] " +
			"[--attach-timeout 60s] [--max-message-size BYTES] [--max-in-flight BYTES] [--max-connections N]", run: runServe})
}

// sessionFactory builds one session per connection with opts and the
// connection's logger.
func sessionFactory(opts session.Options) dap.Factory {
	return func(l *zap.Logger) dap.Handler {
		o := opts
		o.Logger = l
		return session.New(o)
	}
}

// signalContext is cancelled on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// stdioOptions are the session options of kdap dap: the editor started
// kdap as its own user, so the client's logFile is honoured.
func stdioOptions(attachTimeout time.Duration) session.Options {
	return session.Options{AttachTimeout: attachTimeout}
}

func runDAP(args []string, _ io.Writer) error {
	fs := newFlags("dap")
	newLogger := logFlags(fs)
	attachTimeout := fs.Duration("attach-timeout", session.DefaultAttachTimeout, "give up an attach that takes longer than this to open the dump")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *attachTimeout <= 0 {
		return fmt.Errorf("%w: --attach-timeout %v: expected a positive duration", errUsage, *attachTimeout)
	}
	logger, err := newLogger()
	if err != nil {
		return err
	}
	defer logger.Sync() //nolint:errcheck // nothing to do about a failed flush at exit
	ctx, stop := signalContext()
	defer stop()
	return dap.ServeStdio(ctx, sessionFactory(stdioOptions(*attachTimeout)), logger)
}

// serveConfig is what kdap serve's flags ask for.
type serveConfig struct {
	listen    string
	server    *dap.Server // Logger still unset
	newLogger func() (*zap.Logger, error)
}

// parseServe reads kdap serve's flags. Over TCP the client need not be the
// user kdap runs as, so it may not choose files kdap writes: logFile is
// ignored, or with --log-dir taken as a file name inside that directory.
func parseServe(args []string) (*serveConfig, error) {
	fs := newFlags("serve")
	listen := fs.String("listen", dap.DefaultAddr, "TCP address to listen on")
	allowRemote := fs.Bool("allow-remote", false, "allow listening on a non-loopback address (anyone who can connect can read the dump)")
	newLogger := logFlags(fs)
	logDir := fs.String("log-dir", "", "let clients write their logFile, a plain file name, inside this directory (default: clients' logFile is ignored)")
	attachTimeout := fs.Duration("attach-timeout", session.DefaultAttachTimeout, "give up an attach that takes longer than this to open the dump")
	maxMessage := fs.Int64("max-message-size", dap.DefaultMaxMessageSize, "largest DAP message body accepted, in bytes; a larger one closes its connection")
	maxInFlight := fs.Int64("max-in-flight", dap.DefaultMaxInFlight, "request bytes held across all connections before large requests are refused")
	maxConns := fs.Int("max-connections", dap.DefaultMaxConnections, "concurrent connections served; one more is told so and closed")
	if err := parseNoArgs(fs, args); err != nil {
		return nil, err
	}
	if !*allowRemote {
		if err := checkLoopback(*listen); err != nil {
			return nil, err
		}
	}
	switch {
	case *attachTimeout <= 0:
		return nil, fmt.Errorf("%w: --attach-timeout %v: expected a positive duration", errUsage, *attachTimeout)
	case *maxMessage <= 0:
		return nil, fmt.Errorf("%w: --max-message-size %d: expected a positive number of bytes", errUsage, *maxMessage)
	case *maxInFlight < *maxMessage:
		return nil, fmt.Errorf("%w: --max-in-flight %d is below --max-message-size %d", errUsage, *maxInFlight, *maxMessage)
	case *maxConns <= 0:
		return nil, fmt.Errorf("%w: --max-connections %d: expected a positive number", errUsage, *maxConns)
	}
	opts := session.Options{AttachTimeout: *attachTimeout, RefuseLogFile: true}
	if *logDir != "" {
		dir, err := filepath.Abs(*logDir)
		if err == nil {
			var st os.FileInfo
			if st, err = os.Stat(dir); err == nil && !st.IsDir() {
				err = errors.New("not a directory")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("--log-dir %s: %w", *logDir, err)
		}
		opts.LogDir = dir
	}
	return &serveConfig{
		listen: *listen,
		server: &dap.Server{
			Factory: sessionFactory(opts),
			Limits:  dap.Limits{MaxMessageSize: *maxMessage, MaxInFlight: *maxInFlight, MaxConnections: *maxConns},
		},
		newLogger: newLogger,
	}, nil
}

func runServe(args []string, _ io.Writer) error {
	cfg, err := parseServe(args)
	if err != nil {
		return err
	}
	logger, err := cfg.newLogger()
	if err != nil {
		return err
	}
	defer logger.Sync() //nolint:errcheck // nothing to do about a failed flush at exit
	cfg.server.Logger = logger
	ctx, stop := signalContext()
	defer stop()
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "kdap: listening on %s\n", ln.Addr())
	return cfg.server.ServeListener(ctx, ln)
}

// logFlags adds --log-file and --log-level to fs and returns the function
// that builds the logger they ask for (never on stdout).
func logFlags(fs *flag.FlagSet) func() (*zap.Logger, error) {
	logFile := fs.String("log-file", "", "write logs to this file (default: stderr)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	return func() (*zap.Logger, error) { return dap.NewLogger(*logFile, *logLevel) }
}

// parseNoArgs parses flags and refuses positional arguments.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, pos[0])
	}
	return nil
}

// checkLoopback refuses an address that is not a loopback interface's.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: --listen %q: %v", errUsage, addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: --listen %q is not a loopback address; pass --allow-remote to serve the dump to other machines", errUsage, addr)
	}
	return nil
}
