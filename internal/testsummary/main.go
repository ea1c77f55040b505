// Command testsummary runs `go test -json` and prints what `go test` would
// (the output of failing tests, the ok/FAIL line of every package, build
// errors), then a summary: how many tests passed, failed and were
// skipped, and on the very last line why the skipped ones were skipped,
// grouped by reason:
//
//	go test: 812 passed, 0 failed, 3 skipped
//	skipped: 3 (2× gdb is absent: apt-get install gdb; 1× ...)
//
// It exits with status 1 when a test failed, a package failed or did not
// build, or go test itself failed. Passing and skipped tests' logs are not
// printed.
//
// Usage:
//
//	testsummary [-go GO] [-o FILE] [-stdin] -- [go test flags] [packages]
//
// -o writes the two summary lines to FILE instead of standard output, for
// a caller that prints them later (make test prints them after the editor
// tests). -stdin reads a `go test -json` stream from standard input
// instead of running go test.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], "", os.Stdin, os.Stdout, os.Stderr))
}

// run is main with its arguments, the folder go test runs in ("" for the
// current one) and its files; it returns the exit status.
func run(args []string, dir string, stdin io.Reader, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("testsummary", flag.ContinueOnError)
	fl.SetOutput(stderr)
	goCmd := fl.String("go", "go", "the go command")
	out := fl.String("o", "", "write the summary lines to this file instead of standard output")
	fromStdin := fl.Bool("stdin", false, "read a go test -json stream from standard input")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: testsummary [-go GO] [-o FILE] [-stdin] -- [go test flags] [packages]")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return 2
	}

	var s *Summary
	var runErr error
	if *fromStdin {
		s = Read(stdin, stdout)
	} else {
		cmd := exec.Command(*goCmd, append([]string{"test", "-json"}, fl.Args()...)...)
		cmd.Dir = dir
		cmd.Stderr = stderr
		pipe, err := cmd.StdoutPipe()
		if err == nil {
			err = cmd.Start()
		}
		if err != nil {
			fmt.Fprintf(stderr, "testsummary: %v\n", err)
			return 1
		}
		s = Read(pipe, stdout)
		runErr = cmd.Wait()
	}
	if runErr != nil && s.OK() {
		// go test failed in a way its JSON stream did not show (a bad
		// flag, a package pattern matching nothing, ...): its own
		// message went to standard error.
		fmt.Fprintf(stdout, "go test: %v\n", runErr)
	}
	lines := strings.Join(s.Lines(), "\n") + "\n"
	status := 0
	if runErr != nil || !s.OK() {
		status = 1
	}
	if *out != "" {
		if err := os.WriteFile(*out, []byte(lines), 0o644); err != nil {
			fmt.Fprintf(stderr, "testsummary: %v\n", err)
			io.WriteString(stdout, lines)
			return 1
		}
		return status
	}
	io.WriteString(stdout, lines)
	return status
}

// event is one line of `go test -json` (cmd/test2json's TestEvent, plus
// the build events of the go command).
type event struct {
	Action      string
	Package     string
	Test        string
	Output      string
	ImportPath  string // build-output, build-fail
	FailedBuild string // a package's fail when its test binary did not build
}

// Summary counts what a `go test -json` stream reported.
type Summary struct {
	Passed, Failed, Skipped int
	// BuildFailed counts packages whose test binary did not build;
	// PkgFailed packages that failed with no failing test of their own
	// (an os.Exit in TestMain, a panic in init, ...).
	BuildFailed, PkgFailed int
	// Skips lists the skip reasons in the order first seen, with how
	// many tests gave each.
	Skips []Skip
}

// Skip is one reason for skipping and how many tests gave it.
type Skip struct {
	Reason string
	N      int
}

// OK reports whether nothing failed.
func (s *Summary) OK() bool {
	return s.Failed == 0 && s.BuildFailed == 0 && s.PkgFailed == 0
}

// Lines returns the two summary lines: the counts, then the skips grouped
// by reason, most frequent first.
func (s *Summary) Lines() []string {
	counts := fmt.Sprintf("go test: %d passed, %d failed, %d skipped", s.Passed, s.Failed, s.Skipped)
	if s.BuildFailed > 0 {
		counts += fmt.Sprintf(", %d %s did not build", s.BuildFailed, plural(s.BuildFailed, "package"))
	}
	if s.PkgFailed > 0 {
		counts += fmt.Sprintf(", %d %s failed outside any test", s.PkgFailed, plural(s.PkgFailed, "package"))
	}
	if s.Skipped == 0 {
		return []string{counts, "skipped: none"}
	}
	groups := groupSkips(s.Skips)
	parts := make([]string, len(groups))
	for i, g := range groups {
		parts[i] = fmt.Sprintf("%d× %s", g.n, g.label())
	}
	return []string{counts, fmt.Sprintf("skipped: %d (%s)", s.Skipped, strings.Join(parts, "; "))}
}

// absent separates what from how to get it in testfixture.Missing's skip
// message, "WHAT is absent: GET".
const absent = " is absent: "

// skipGroup is the skips with one reason, or, for testfixture.Missing's
// messages, with one command to get what is absent (the vmcore files of
// one fetch script, the files of one fixture).
type skipGroup struct {
	n     int
	get   string // "" for a reason not in Missing's form
	whats []Skip // the distinct WHATs (or the one reason) and their counts, in the order seen
}

// label names the group by its most frequent WHAT.
func (g *skipGroup) label() string {
	top := g.whats[0]
	for _, w := range g.whats[1:] {
		if w.N > top.N {
			top = w
		}
	}
	if g.get == "" {
		return top.Reason
	}
	what := top.Reason
	if more := len(g.whats) - 1; more > 0 {
		what += fmt.Sprintf(" (and %d more)", more)
	}
	return what + absent + g.get
}

// groupSkips groups reasons, most skipped tests first.
func groupSkips(skips []Skip) []*skipGroup {
	var groups []*skipGroup
	byKey := map[string]*skipGroup{}
	for _, k := range skips {
		what, get, ok := strings.Cut(k.Reason, absent)
		key := "absent\x00" + get
		if !ok || get == "" {
			what, get, key = k.Reason, "", k.Reason
		}
		g := byKey[key]
		if g == nil {
			g = &skipGroup{get: get}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.n += k.N
		if i := slices.IndexFunc(g.whats, func(w Skip) bool { return w.Reason == what }); i >= 0 {
			g.whats[i].N += k.N
		} else {
			g.whats = append(g.whats, Skip{Reason: what, N: k.N})
		}
	}
	sort.SliceStable(groups, func(i, j int) bool { return groups[i].n > groups[j].n })
	return groups
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// test is the state of one test (or subtest) of a package.
type test struct {
	lines []string // output so far, framing lines dropped
	done  bool
	fail  bool
}

// pkg is the state of one package: its tests, what it will print when it
// ends, and its own (not any test's) output.
type pkg struct {
	tests  map[string]*test
	order  []string // test names in the order they started
	out    []string // output of failed tests, in the order they failed
	own    []string // package-level output
	failed bool     // a test of this package failed
}

// reader is the state of one stream being read.
type reader struct {
	w         io.Writer
	s         *Summary
	skipIndex map[string]int // reason → index in s.Skips
	pkgs      map[string]*pkg
}

// Read consumes a `go test -json` stream from r, writes to w what `go
// test` would print (build errors as they come; for each package when it
// ends, the output of its failed tests and its ok/FAIL line), and returns
// the counts. Lines that are not JSON are copied to w as they are.
func Read(r io.Reader, w io.Writer) *Summary {
	rd := &reader{w: w, s: &Summary{}, skipIndex: map[string]int{}, pkgs: map[string]*pkg{}}
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			var e event
			if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &e) != nil || e.Action == "" {
				io.WriteString(w, ensureNewline(line))
			} else {
				rd.event(e)
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				fmt.Fprintf(w, "testsummary: reading the go test stream: %v\n", err)
				rd.s.PkgFailed++
			}
			break
		}
	}
	// Packages the stream never ended (go test was killed): print what
	// they have and count their unfinished tests as failed.
	names := make([]string, 0, len(rd.pkgs))
	for name := range rd.pkgs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := rd.pkgs[name]
		rd.unfinished(p)
		writeLines(w, p.out)
		writeLines(w, p.own)
		fmt.Fprintf(w, "FAIL\t%s\t(the go test stream ended before this package did)\n", name)
		if !p.failed {
			rd.s.PkgFailed++
		}
	}
	return rd.s
}

func (rd *reader) event(e event) {
	s := rd.s
	switch e.Action {
	case "build-output":
		io.WriteString(rd.w, e.Output)
		return
	case "build-fail":
		s.BuildFailed++
		return
	}
	p := rd.pkgs[e.Package]
	if p == nil {
		p = &pkg{tests: map[string]*test{}}
		rd.pkgs[e.Package] = p
	}
	if e.Test == "" {
		switch e.Action {
		case "output":
			p.own = append(p.own, e.Output)
		case "pass", "fail", "skip":
			rd.unfinished(p)
			writeLines(rd.w, p.out)
			for _, l := range p.own {
				// go test prints a passing package's ok line alone.
				if l == "PASS\n" && e.Action == "pass" && !p.failed {
					continue
				}
				io.WriteString(rd.w, l)
			}
			if e.Action == "fail" && !p.failed && e.FailedBuild == "" {
				s.PkgFailed++
			}
			delete(rd.pkgs, e.Package)
		}
		return
	}
	t := p.tests[e.Test]
	if t == nil {
		t = &test{}
		p.tests[e.Test] = t
		p.order = append(p.order, e.Test)
	}
	switch e.Action {
	case "output":
		if framing(e.Output) {
			return
		}
		if t.done {
			// Output after the test ended (older go versions print a
			// subtest's --- FAIL line with its parent's).
			if t.fail {
				p.out = append(p.out, e.Output)
			}
			return
		}
		t.lines = append(t.lines, e.Output)
	case "pass":
		s.Passed++
		t.done, t.lines = true, nil
	case "skip":
		s.Skipped++
		reason := skipReason(t.lines)
		if i, ok := rd.skipIndex[reason]; ok {
			s.Skips[i].N++
		} else {
			rd.skipIndex[reason] = len(s.Skips)
			s.Skips = append(s.Skips, Skip{Reason: reason, N: 1})
		}
		t.done, t.lines = true, nil
	case "fail":
		s.Failed++
		p.failed = true
		p.out = append(p.out, t.lines...)
		t.done, t.fail, t.lines = true, true, nil
	}
}

// unfinished counts as failed the tests of p that never ended (the test
// binary exited or panicked while they ran) and adds their output to what
// p prints.
func (rd *reader) unfinished(p *pkg) {
	for _, name := range p.order {
		t := p.tests[name]
		if t.done {
			continue
		}
		rd.s.Failed++
		p.failed = true
		p.out = append(p.out, t.lines...)
		p.out = append(p.out, fmt.Sprintf("--- FAIL: %s (did not finish)\n", name))
		t.done, t.fail, t.lines = true, true, nil
	}
}

// framing reports whether a test's output line is one of go test -v's
// progress lines, which go test without -v does not print.
func framing(line string) bool {
	l := strings.TrimLeft(line, " ")
	for _, prefix := range []string{"=== RUN ", "=== PAUSE ", "=== CONT ", "=== NAME ", "--- PASS: ", "--- SKIP: "} {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// logLine matches the first line of a t.Log/t.Skip message, "file.go:12: text".
var logLine = regexp.MustCompile(`^\s*[^\s:]+\.go:\d+: (.*)$`)

// skipReason is the last message a skipped test logged (t.Skip's
// argument), without its file:line prefix and continuation lines.
func skipReason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if m := logLine.FindStringSubmatch(strings.TrimRight(lines[i], "\n")); m != nil {
			if r := strings.TrimSpace(m[1]); r != "" {
				return r
			}
		}
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if r := strings.TrimSpace(lines[i]); r != "" {
			return r
		}
	}
	return "no reason given"
}

// writeLines writes test output as test2json cut it (a long line may
// come in pieces), ending the last piece's line.
func writeLines(w io.Writer, lines []string) {
	for i, l := range lines {
		if i == len(lines)-1 {
			l = ensureNewline(l)
		}
		io.WriteString(w, l)
	}
}

func ensureNewline(s string) string {
	if strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}
