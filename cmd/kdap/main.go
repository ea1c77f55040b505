// Command kdap opens kernel crash dumps: as a Debug Adapter Protocol server
// for editors (dap, serve) and from the terminal (info, threads, read, bt).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/kdap/kdap/target"
	_ "github.com/kdap/kdap/target/all"
)

// version is the kdap release; set with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

// errUsage marks a command-line mistake (exit status 2).
var errUsage = errors.New("usage")

// verb is one subcommand.
type verb struct {
	summary string
	usage   string
	run     func(args []string, stdout io.Writer) error
	// showsWarnings says the verb prints the dump's warnings itself
	// (info); for the others run prints them on standard error.
	showsWarnings bool
}

// opened is the target the running verb opened, for its warnings.
var opened *target.Target

var verbs = map[string]verb{}

func register(name string, v verb) { verbs[name] = v }

func init() {
	register("version", verb{summary: "print kdap's version", usage: "version", run: func(_ []string, w io.Writer) error {
		fmt.Fprintf(w, "kdap %s\n", version)
		return nil
	}})
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "kdap %s: kernel crash dumps in your debugger\n\nusage: kdap <command> [arguments]\n\ncommands:\n", version)
	names := make([]string, 0, len(verbs))
	for n := range verbs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, verbs[n].summary)
	}
	fmt.Fprintf(w, "\nRun 'kdap <command> -h' for a command's flags.\n")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" {
		args = []string{"version"}
	}
	v, ok := verbs[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "kdap: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	opened = nil
	err := v.run(args[1:], stdout)
	if opened != nil && !v.showsWarnings {
		// What the dump lacks or what could not be read: a shorter
		// output is never silent.
		for _, w := range opened.Warnings() {
			fmt.Fprintf(stderr, "kdap %s: warning: %s\n", args[0], w)
		}
	}
	opened = nil // the closed target's memory is free to go
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "kdap %s: %v\nusage: kdap %s\n", args[0], strings.TrimPrefix(err.Error(), "usage: "), v.usage)
		return 2
	default:
		fmt.Fprintf(stderr, "kdap %s: %v\n", args[0], err)
		return 1
	}
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	return fs
}

// parse parses flags allowing them after positional arguments too
// ("kdap threads CORE KERNEL --json").
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
