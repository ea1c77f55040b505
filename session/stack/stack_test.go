package stack_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/session/stack"
	"github.com/kdap/kdap/target"
	_ "github.com/kdap/kdap/target/all"
	"github.com/kdap/kdap/unwind"
)

// chainFrame is one row of a call-chain table of testdata/README.md.
type chainFrame struct {
	fn      string
	inlined bool
	file    string
	line    int
}

// chain is one "#### <tid> <name> (pid N), <regs>" section.
type chain struct {
	tid    int64
	runs   string // "" for every run, else "assert runs" / "trap runs"
	frames []chainFrame
}

var (
	headRE = regexp.MustCompile(`^#### (\d+) .*\), (.*)$`)
	rowRE  = regexp.MustCompile("^\\| (\\d+) \\| `([^`]+)`( \\[inlined\\])? \\| (\\S+) \\| (\\d+) \\|")
)

// readChains parses the ground-truth call chains of testdata/README.md,
// which were written from the fixture kernel's source.
func readChains(t testing.TB) []chain {
	f, err := os.Open(filepath.Join(testfixture.Root(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []chain
	var cur *chain
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := headRE.FindStringSubmatch(line); m != nil {
			cur = nil
			if strings.Contains(m[2], "must NOT be shown") {
				continue
			}
			tid, _ := strconv.ParseInt(m[1], 10, 64)
			c := chain{tid: tid}
			switch {
			case strings.Contains(line, "assert runs"):
				c.runs = "assert"
			case strings.Contains(line, "trap runs"):
				c.runs = "trap"
			}
			out = append(out, c)
			cur = &out[len(out)-1]
			continue
		}
		if m := rowRE.FindStringSubmatch(line); m != nil && cur != nil {
			n, _ := strconv.Atoi(m[5])
			cur.frames = append(cur.frames, chainFrame{fn: m[2], inlined: m[3] != "", file: m[4], line: n})
		}
	}
	if len(out) < 17 {
		t.Fatalf("README.md: found %d call chains, expected one per thread", len(out))
	}
	return out
}

func openFixture(t testing.TB, build, run, kind string) *target.Target {
	t.Helper()
	core := testfixture.Path(t, fmt.Sprintf("fbsdkern/fixtures/%s/%s/vmcore.%s", build, run, kind))
	kernel := testfixture.Path(t, fmt.Sprintf("fbsdkern/fixtures/%s/kernel.debug", build))
	tg, err := target.Open(core, kernel, target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg
}

// TestChainsGroundTruth unwinds every thread of every fixture and compares
// the frames with the README's chains: function, inlined marker, file and
// line of each frame, trap markers left aside.
func TestChainsGroundTruth(t *testing.T) {
	chains := readChains(t)
	for _, build := range []string{"fp", "nofp"} {
		for _, run := range []string{"assert", "trap"} {
			for _, kind := range []string{"mini", "full"} {
				t.Run(build+"/"+run+"/"+kind, func(t *testing.T) {
					tg := openFixture(t, build, run, kind)
					u, err := stack.New(tg)
					if err != nil {
						t.Fatal(err)
					}
					for _, c := range chains {
						if c.runs != "" && c.runs != run {
							continue
						}
						th, err := tg.Thread(c.tid)
						if err != nil {
							t.Fatal(err)
						}
						frames, stop := u.Backtrace(th)
						var got []unwind.Frame
						for _, f := range frames {
							if f.Kind != unwind.KindTrap {
								got = append(got, f)
							}
						}
						if stop.Kind != unwind.StopEndOfStack {
							t.Errorf("tid %d: unwinding stopped with %q, want the end of the stack", c.tid, stop.Message)
						}
						if len(got) != len(c.frames) {
							t.Errorf("tid %d: %d frames, want %d:\n%s", c.tid, len(got), len(c.frames), describe(got))
							continue
						}
						for i, w := range c.frames {
							g := got[i]
							if g.Function != w.fn || g.Inlined != w.inlined || g.File != w.file || g.Line != w.line {
								t.Errorf("tid %d frame %d: %s inlined=%v %s:%d, want %s inlined=%v %s:%d",
									c.tid, i, g.Function, g.Inlined, g.File, g.Line, w.fn, w.inlined, w.file, w.line)
							}
						}
					}
				})
			}
		}
	}
}

// TestTrapMarker checks the frames on both sides of the page fault.
func TestTrapMarker(t *testing.T) {
	for _, build := range []string{"fp", "nofp"} {
		tg := openFixture(t, build, "trap", "mini")
		u, err := stack.New(tg)
		if err != nil {
			t.Fatal(err)
		}
		th, err := tg.CrashedThread()
		if err != nil {
			t.Fatal(err)
		}
		frames, _ := u.Backtrace(th)
		idx := -1
		for i, f := range frames {
			if f.Kind == unwind.KindTrap {
				idx = i
				break
			}
		}
		if idx < 1 || idx+1 >= len(frames) {
			t.Fatalf("%s: no trap marker between frames:\n%s", build, describe(frames))
		}
		// README: rsp of the interrupted frame and the faulting function.
		wantRSP := map[string]string{"fp": "0xfffffe000004fbb8", "nofp": "0xfffffe000004fc18"}[build]
		if !strings.HasPrefix(frames[idx].Label, "--- trap 0xc, rip = 0x") || !strings.Contains(frames[idx].Label, "rsp = "+wantRSP) {
			t.Errorf("%s: marker %q", build, frames[idx].Label)
		}
		if frames[idx-1].Function != "calltrap" || frames[idx+1].Function != "kdap_read_cookie" || frames[idx+1].Line != 94 {
			t.Errorf("%s: around the marker: %s | %s:%d", build, frames[idx-1].Function, frames[idx+1].Function, frames[idx+1].Line)
		}
		if frames[idx+1].LookupPC != frames[idx+1].PC {
			t.Errorf("%s: the interrupted frame must be looked up at its exact pc", build)
		}
	}
}

func describe(fs []unwind.Frame) string {
	var b strings.Builder
	for i, f := range fs {
		fmt.Fprintf(&b, "  #%d %s %v %s:%d %s\n", i, f.Function, f.Inlined, f.File, f.Line, f.Label)
	}
	return b.String()
}

// BenchmarkBacktraceAll unwinds every thread of the largest fixture.
func BenchmarkBacktraceAll(b *testing.B) {
	tg := openFixture(b, "nofp", "trap", "full")
	u, err := stack.New(tg)
	if err != nil {
		b.Fatal(err)
	}
	ths, err := tg.Threads()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		for _, th := range ths {
			u.Backtrace(th)
		}
	}
}
