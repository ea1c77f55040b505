package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/kdap/kdap/dap"
	"github.com/kdap/kdap/session"
	"go.uber.org/zap"
)

func init() {
	register("dap", verb{summary: "serve the Debug Adapter Protocol on stdin/stdout (for editors)",
		usage: "dap [--log-file FILE] [--log-level LEVEL]", run: runDAP})
	register("serve", verb{summary: "serve the Debug Adapter Protocol over TCP, one session per connection",
		usage: "serve [--listen 127.0.0.1:4711] [--allow-remote] [--log-file FILE] [--log-level LEVEL]", run: runServe})
}

// sessionFactory builds one session per connection.
func sessionFactory(l *zap.Logger) dap.Handler {
	return session.New(session.Options{Logger: l})
}

// signalContext is cancelled on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func runDAP(args []string, _ io.Writer) error {
	fs := newFlags("dap")
	newLogger := logFlags(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	logger, err := newLogger()
	if err != nil {
		return err
	}
	defer logger.Sync() //nolint:errcheck // nothing to do about a failed flush at exit
	ctx, stop := signalContext()
	defer stop()
	return dap.ServeStdio(ctx, sessionFactory, logger)
}

func runServe(args []string, _ io.Writer) error {
	fs := newFlags("serve")
	listen := fs.String("listen", dap.DefaultAddr, "TCP address to listen on")
	allowRemote := fs.Bool("allow-remote", false, "allow listening on a non-loopback address (anyone who can connect can read the dump)")
	newLogger := logFlags(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if !*allowRemote {
		if err := checkLoopback(*listen); err != nil {
			return err
		}
	}
	logger, err := newLogger()
	if err != nil {
		return err
	}
	defer logger.Sync() //nolint:errcheck // nothing to do about a failed flush at exit
	ctx, stop := signalContext()
	defer stop()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "kdap: listening on %s\n", ln.Addr())
	return dap.ServeListener(ctx, ln, sessionFactory, logger)
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
