package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
)

// stream is a `go test -json` stream as go 1.26 writes it (times and
// elapsed times dropped), trimmed: a package with a passing test that
// logs, two tests skipped for the same reason, a failing test, subtests
// (passing, failing, skipped with a two-line reason); a package whose test
// panics; one that does not build; one without tests; one whose TestMain
// exits 2 after its tests pass; one killed by -timeout while a parallel
// subtest ran; a line that is not JSON; and a package the stream never
// ends.
const stream = `{"Action":"start","Package":"ex/a"}
{"Action":"run","Package":"ex/a","Test":"TestPass"}
{"Action":"output","Package":"ex/a","Test":"TestPass","Output":"=== RUN   TestPass\n"}
{"Action":"output","Package":"ex/a","Test":"TestPass","Output":"    a_test.go:5: passing log\n"}
{"Action":"output","Package":"ex/a","Test":"TestPass","Output":"--- PASS: TestPass (0.00s)\n"}
{"Action":"pass","Package":"ex/a","Test":"TestPass","Elapsed":0}
{"Action":"run","Package":"ex/a","Test":"TestGDB"}
{"Action":"output","Package":"ex/a","Test":"TestGDB","Output":"=== RUN   TestGDB\n"}
{"Action":"output","Package":"ex/a","Test":"TestGDB","Output":"    a_test.go:6: looking for gdb\n"}
{"Action":"output","Package":"ex/a","Test":"TestGDB","Output":"    a_test.go:7: gdb is absent: apt-get install gdb\n"}
{"Action":"output","Package":"ex/a","Test":"TestGDB","Output":"--- SKIP: TestGDB (0.00s)\n"}
{"Action":"skip","Package":"ex/a","Test":"TestGDB","Elapsed":0}
{"Action":"run","Package":"ex/a","Test":"TestFail"}
{"Action":"output","Package":"ex/a","Test":"TestFail","Output":"=== RUN   TestFail\n"}
{"Action":"output","Package":"ex/a","Test":"TestFail","Output":"    a_test.go:8: some log\n"}
{"Action":"output","Package":"ex/a","Test":"TestFail","Output":"    a_test.go:8: want 1, got 2\n"}
{"Action":"output","Package":"ex/a","Test":"TestFail","Output":"        second line\n"}
{"Action":"output","Package":"ex/a","Test":"TestFail","Output":"--- FAIL: TestFail (0.00s)\n"}
{"Action":"fail","Package":"ex/a","Test":"TestFail","Elapsed":0}
{"Action":"run","Package":"ex/a","Test":"TestSub"}
{"Action":"output","Package":"ex/a","Test":"TestSub","Output":"=== RUN   TestSub\n"}
{"Action":"run","Package":"ex/a","Test":"TestSub/ok"}
{"Action":"output","Package":"ex/a","Test":"TestSub/ok","Output":"=== RUN   TestSub/ok\n"}
{"Action":"output","Package":"ex/a","Test":"TestSub/ok","Output":"--- PASS: TestSub/ok (0.00s)\n"}
{"Action":"pass","Package":"ex/a","Test":"TestSub/ok","Elapsed":0}
{"Action":"run","Package":"ex/a","Test":"TestSub/bad"}
{"Action":"output","Package":"ex/a","Test":"TestSub/bad","Output":"=== RUN   TestSub/bad\n"}
{"Action":"output","Package":"ex/a","Test":"TestSub/bad","Output":"    a_test.go:11: sub failed\n"}
{"Action":"output","Package":"ex/a","Test":"TestSub/bad","Output":"--- FAIL: TestSub/bad (0.00s)\n"}
{"Action":"fail","Package":"ex/a","Test":"TestSub/bad","Elapsed":0}
{"Action":"run","Package":"ex/a","Test":"TestSub/skip"}
{"Action":"output","Package":"ex/a","Test":"TestSub/skip","Output":"=== RUN   TestSub/skip\n"}
{"Action":"output","Package":"ex/a","Test":"TestSub/skip","Output":"    a_test.go:12: Linux dump fixture is absent: sh testdata/linux/mkfixture.sh\n"}
{"Action":"output","Package":"ex/a","Test":"TestSub/skip","Output":"        (a second line)\n"}
{"Action":"output","Package":"ex/a","Test":"TestSub/skip","Output":"--- SKIP: TestSub/skip (0.00s)\n"}
{"Action":"skip","Package":"ex/a","Test":"TestSub/skip","Elapsed":0}
{"Action":"output","Package":"ex/a","Test":"TestSub","Output":"--- FAIL: TestSub (0.00s)\n"}
{"Action":"fail","Package":"ex/a","Test":"TestSub","Elapsed":0}
{"Action":"run","Package":"ex/a","Test":"TestGDB2"}
{"Action":"output","Package":"ex/a","Test":"TestGDB2","Output":"=== RUN   TestGDB2\n"}
{"Action":"output","Package":"ex/a","Test":"TestGDB2","Output":"    a_test.go:20: gdb is absent: apt-get install gdb\n"}
{"Action":"output","Package":"ex/a","Test":"TestGDB2","Output":"--- SKIP: TestGDB2 (0.00s)\n"}
{"Action":"skip","Package":"ex/a","Test":"TestGDB2","Elapsed":0}
{"Action":"output","Package":"ex/a","Output":"FAIL\n"}
{"Action":"output","Package":"ex/a","Output":"FAIL\tex/a\t0.01s\n"}
{"Action":"fail","Package":"ex/a","Elapsed":0}
{"Action":"start","Package":"ex/b"}
{"ImportPath":"ex/c [ex/c.test]","Action":"build-output","Output":"# ex/c [ex/c.test]\n"}
{"ImportPath":"ex/c [ex/c.test]","Action":"build-output","Output":"c/c_test.go:5:32: undefined: undefined\n"}
{"ImportPath":"ex/c [ex/c.test]","Action":"build-fail"}
{"Action":"start","Package":"ex/c"}
{"Action":"output","Package":"ex/c","Output":"FAIL\tex/c [build failed]\n"}
{"Action":"fail","Package":"ex/c","Elapsed":0,"FailedBuild":"ex/c [ex/c.test]"}
{"Action":"run","Package":"ex/b","Test":"TestOK"}
{"Action":"output","Package":"ex/b","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"output","Package":"ex/b","Test":"TestOK","Output":"--- PASS: TestOK (0.00s)\n"}
{"Action":"pass","Package":"ex/b","Test":"TestOK","Elapsed":0}
{"Action":"run","Package":"ex/b","Test":"TestPanic"}
{"Action":"output","Package":"ex/b","Test":"TestPanic","Output":"=== RUN   TestPanic\n"}
{"Action":"output","Package":"ex/b","Test":"TestPanic","Output":"--- FAIL: TestPanic (0.00s)\n"}
{"Action":"output","Package":"ex/b","Test":"TestPanic","Output":"panic: assignment to entry in nil map [recovered, repanicked]\n"}
{"Action":"output","Package":"ex/b","Test":"TestPanic","Output":"\n"}
{"Action":"output","Package":"ex/b","Test":"TestPanic","Output":"goroutine 22 [running]:\n"}
{"Action":"output","Package":"ex/b","Test":"TestPanic","Output":"ex/b.TestPanic(0x0)\n"}
{"Action":"output","Package":"ex/b","Test":"TestPanic","Output":"\t/tmp/ex/b/b_test.go:6 +0x0\n"}
{"Action":"fail","Package":"ex/b","Test":"TestPanic","Elapsed":0}
{"Action":"output","Package":"ex/b","Output":"FAIL\tex/b\t0.01s\n"}
{"Action":"fail","Package":"ex/b","Elapsed":0}
{"Action":"start","Package":"ex/d"}
{"Action":"output","Package":"ex/d","Output":"?   \tex/d\t[no test files]\n"}
{"Action":"skip","Package":"ex/d","Elapsed":0}
{"Action":"start","Package":"ex/g"}
{"Action":"output","Package":"ex/g","Output":"setup failed\n"}
{"Action":"run","Package":"ex/g","Test":"TestX"}
{"Action":"output","Package":"ex/g","Test":"TestX","Output":"=== RUN   TestX\n"}
{"Action":"output","Package":"ex/g","Test":"TestX","Output":"--- PASS: TestX (0.00s)\n"}
{"Action":"pass","Package":"ex/g","Test":"TestX","Elapsed":0}
{"Action":"output","Package":"ex/g","Output":"PASS\n"}
{"Action":"output","Package":"ex/g","Output":"FAIL\tex/g\t0.01s\n"}
{"Action":"fail","Package":"ex/g","Elapsed":0}
{"Action":"start","Package":"ex/f"}
{"Action":"run","Package":"ex/f","Test":"TestA"}
{"Action":"output","Package":"ex/f","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"run","Package":"ex/f","Test":"TestA/sub"}
{"Action":"output","Package":"ex/f","Test":"TestA/sub","Output":"=== RUN   TestA/sub\n"}
{"Action":"output","Package":"ex/f","Test":"TestA/sub","Output":"=== PAUSE TestA/sub\n"}
{"Action":"pause","Package":"ex/f","Test":"TestA/sub"}
{"Action":"cont","Package":"ex/f","Test":"TestA/sub"}
{"Action":"output","Package":"ex/f","Test":"TestA/sub","Output":"=== CONT  TestA/sub\n"}
{"Action":"output","Package":"ex/f","Test":"TestA/sub","Output":"panic: test timed out after 1s\n"}
{"Action":"output","Package":"ex/f","Test":"TestA/sub","Output":"\trunning tests:\n"}
{"Action":"output","Package":"ex/f","Test":"TestA/sub","Output":"\t\tTestA/sub (1s)\n"}
{"Action":"output","Package":"ex/f","Output":"FAIL\tex/f\t1.01s\n"}
{"Action":"fail","Package":"ex/f","Elapsed":1.01}
not json: a line go test wrote to standard output
{"Action":"start","Package":"ex/h"}
{"Action":"run","Package":"ex/h","Test":"TestCut"}
{"Action":"output","Package":"ex/h","Test":"TestCut","Output":"=== RUN   TestCut\n"}
{"Action":"output","Package":"ex/h","Test":"TestCut","Output":"    h_test.go:3: started\n"}
`

// want is what testsummary prints for stream: failures with their logs,
// the package lines, build errors, no passing or skipped test's log.
const want = `    a_test.go:8: some log
    a_test.go:8: want 1, got 2
        second line
--- FAIL: TestFail (0.00s)
    a_test.go:11: sub failed
--- FAIL: TestSub/bad (0.00s)
--- FAIL: TestSub (0.00s)
FAIL
FAIL	ex/a	0.01s
# ex/c [ex/c.test]
c/c_test.go:5:32: undefined: undefined
FAIL	ex/c [build failed]
--- FAIL: TestPanic (0.00s)
panic: assignment to entry in nil map [recovered, repanicked]

goroutine 22 [running]:
ex/b.TestPanic(0x0)
	/tmp/ex/b/b_test.go:6 +0x0
FAIL	ex/b	0.01s
?   	ex/d	[no test files]
setup failed
PASS
FAIL	ex/g	0.01s
--- FAIL: TestA (did not finish)
panic: test timed out after 1s
	running tests:
		TestA/sub (1s)
--- FAIL: TestA/sub (did not finish)
FAIL	ex/f	1.01s
not json: a line go test wrote to standard output
    h_test.go:3: started
--- FAIL: TestCut (did not finish)
FAIL	ex/h	(the go test stream ended before this package did)
`

func TestRead(t *testing.T) {
	var out bytes.Buffer
	s := Read(strings.NewReader(stream), &out)
	if got := out.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
	if s.OK() {
		t.Error("OK() with failures")
	}
	// Failed: TestFail, TestSub/bad, TestSub, TestPanic, TestA, TestA/sub,
	// TestCut; ex/g failed outside its tests; ex/c did not build.
	lines := s.Lines()
	wantLines := []string{
		"go test: 4 passed, 7 failed, 3 skipped, 1 package did not build, 1 package failed outside any test",
		"skipped: 3 (2× gdb is absent: apt-get install gdb; 1× Linux dump fixture is absent: sh testdata/linux/mkfixture.sh)",
	}
	if strings.Join(lines, "\n") != strings.Join(wantLines, "\n") {
		t.Errorf("summary:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(wantLines, "\n"))
	}
}

func TestReadAllPass(t *testing.T) {
	const stream = `{"Action":"start","Package":"ex/a"}
{"Action":"run","Package":"ex/a","Test":"TestPass"}
{"Action":"output","Package":"ex/a","Test":"TestPass","Output":"=== RUN   TestPass\n"}
{"Action":"output","Package":"ex/a","Test":"TestPass","Output":"    a_test.go:5: passing log\n"}
{"Action":"output","Package":"ex/a","Test":"TestPass","Output":"--- PASS: TestPass (0.00s)\n"}
{"Action":"pass","Package":"ex/a","Test":"TestPass","Elapsed":0}
{"Action":"output","Package":"ex/a","Output":"PASS\n"}
{"Action":"output","Package":"ex/a","Output":"ok  \tex/a\t0.01s\n"}
{"Action":"pass","Package":"ex/a","Elapsed":0}
`
	var out bytes.Buffer
	s := Read(strings.NewReader(stream), &out)
	if got := out.String(); got != "ok  \tex/a\t0.01s\n" {
		t.Errorf("output %q, want only the ok line", got)
	}
	if !s.OK() {
		t.Error("not OK() with every test passing")
	}
	if got := strings.Join(s.Lines(), "\n"); got != "go test: 1 passed, 0 failed, 0 skipped\nskipped: none" {
		t.Errorf("summary %q", got)
	}
}

// TestGroupSkips checks that testfixture.Missing's skips group by the
// command that gets what is absent, named by the most frequent absence,
// and that other reasons group by their text.
func TestGroupSkips(t *testing.T) {
	s := &Summary{Skipped: 8, Skips: []Skip{
		{"Linux dump fixture file /f/vmcore.kdump is absent: sh mkfixture.sh", 1},
		{"gdb is absent: apt-get install gdb", 2},
		{"Linux dump fixture in /f is absent: sh mkfixture.sh", 3},
		{"objcopy: unknown style", 1},
		{"readelf is absent: apt-get install binutils", 1},
	}}
	got := s.Lines()[1]
	want := "skipped: 8 (4× Linux dump fixture in /f (and 1 more) is absent: sh mkfixture.sh; " +
		"2× gdb is absent: apt-get install gdb; 1× objcopy: unknown style; 1× readelf is absent: apt-get install binutils)"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestSkipReason(t *testing.T) {
	for _, tt := range []struct {
		lines []string
		want  string
	}{
		{nil, "no reason given"},
		{[]string{"    x_test.go:3: why\n"}, "why"},
		{[]string{"    x_test.go:3: log\n", "        x_test.go:4: nested subtest reason\n", "            more\n"}, "nested subtest reason"},
		{[]string{"printed without t.Log\n"}, "printed without t.Log"},
	} {
		if got := skipReason(tt.lines); got != tt.want {
			t.Errorf("skipReason(%q) = %q, want %q", tt.lines, got, tt.want)
		}
	}
}

// TestRunGoTest runs testsummary on a real `go test -json` of a small
// module, so a change in go test's JSON shows here: it must count the
// pass, the failure and the skip with its reason, write the summary to the
// -o file and return a failing status.
func TestRunGoTest(t *testing.T) {
	gobin := testfixture.LookPath(t, "go", "golang-go")
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module ex\n\ngo 1.22\n",
		"a/a_test.go": `package a

import "testing"

func TestPass(t *testing.T) { t.Log("not printed") }
func TestSkip(t *testing.T) { t.Skip("gdb is absent: apt-get install gdb") }
func TestFail(t *testing.T) { t.Error("printed") }
`,
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("GOFLAGS", "")
	t.Setenv("GOWORK", "off")
	sum := filepath.Join(dir, "summary.txt")
	var stdout, stderr bytes.Buffer
	status := run([]string{"-go", gobin, "-o", sum, "--", "-count=1", "./..."}, dir, nil, &stdout, &stderr)
	if status != 1 {
		t.Errorf("status %d, want 1", status)
	}
	out := stdout.String()
	if !strings.Contains(out, "a_test.go:7: printed\n--- FAIL: TestFail") || !strings.Contains(out, "FAIL\tex/a\t") ||
		strings.Contains(out, "not printed") || strings.Contains(out, "go test: ") {
		t.Errorf("output:\n%s\nstderr:\n%s", out, stderr.String())
	}
	b, err := os.ReadFile(sum)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "go test: 1 passed, 1 failed, 1 skipped\nskipped: 1 (1× gdb is absent: apt-get install gdb)\n"; got != want {
		t.Errorf("summary file %q, want %q", got, want)
	}
}
