package refcheck

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// marker starts each command's output in CrashScript's run: crash's echo
// command prints its argument, so one crash session's output can be split
// by command.
const marker = "@@KDAP "

// CrashScript is what the comparison feeds crash on its standard input:
// each command behind an echo of its name. "bt -l" adds the source line of
// every frame.
const CrashScript = "echo " + marker + "ps\nps\n" +
	"echo " + marker + "bt\nbt -l\n" +
	"echo " + marker + "jiffies\np jiffies\n" +
	"echo " + marker + "init_task.comm\np init_task.comm\n" +
	"echo " + marker + "log\nlog\n" +
	"echo " + marker + "foreach\nforeach bt\n" +
	"quit\n"

// PSRow is one line of crash's ps.
type PSRow struct {
	Active bool // marked ">": the task is current on its CPU
	PID    int64
	PPID   int64
	CPU    int
	Task   uint64 // address of the task_struct
	State  string // RU, IN, UN, ID, ...
	Comm   string // without the brackets crash puts around kernel threads
	// KernelThread says crash printed the name in brackets (a task with
	// no user address space).
	KernelThread bool
}

// CrashFrame is one frame of crash's bt -l.
type CrashFrame struct {
	Index    int
	SP       uint64 // the stack address crash prints in brackets
	Function string
	PC       uint64
	// File and Line are the source position bt -l printed below the
	// frame, or empty.
	File string
	Line int
}

// CrashBt is crash's bt of the panic task.
type CrashBt struct {
	PID     int64
	Task    uint64
	CPU     int
	Command string
	Frames  []CrashFrame
}

// Crash is crash's output for CrashScript.
type Crash struct {
	PS       []PSRow
	Bt       CrashBt
	Jiffies  string   // p jiffies's value as printed
	InitComm string   // p init_task.comm's string, trailing NULs dropped
	Log      []string // log's lines as printed, timestamps included
	// Foreach is foreach bt's backtrace of every task it could unwind,
	// by task address; ForeachErr has what crash printed instead of
	// frames for the others (e.g. "bt: read of stack at ... failed").
	Foreach    map[uint64]CrashBt
	ForeachErr map[uint64]string
}

// RunCrash runs crash on vmlinux and the dump (from the cache when it
// already ran on the same files) and parses its output. sums identify the
// files' contents (their sha256 from fixture.env).
func RunCrash(tl Tool, vmlinux, dump string, sums ...string) (*Crash, error) {
	out, err := tl.Run([]string{"-s", vmlinux, dump}, CrashScript, sums, 10*time.Minute)
	if err != nil {
		return nil, err
	}
	return ParseCrash(out)
}

// ParseCrash parses crash's output for CrashScript.
func ParseCrash(out string) (*Crash, error) {
	sec, err := sections(out)
	if err != nil {
		return nil, err
	}
	c := &Crash{}
	if c.PS, err = parsePS(sec["ps"]); err != nil {
		return nil, err
	}
	if c.Bt, err = parseBt(sec["bt"]); err != nil {
		return nil, err
	}
	if c.Jiffies, err = printValue(sec["jiffies"]); err != nil {
		return nil, fmt.Errorf("crash p jiffies: %w", err)
	}
	comm, err := printValue(sec["init_task.comm"])
	if err != nil {
		return nil, fmt.Errorf("crash p init_task.comm: %w", err)
	}
	if c.InitComm, err = CString(comm); err != nil {
		return nil, fmt.Errorf("crash p init_task.comm: %w", err)
	}
	c.Log = sec["log"]
	if len(c.Log) == 0 {
		return nil, fmt.Errorf("crash log printed nothing")
	}
	if c.Foreach, c.ForeachErr, err = parseForeach(sec["foreach"]); err != nil {
		return nil, err
	}
	return c, nil
}

// sections splits crash's output at the echoed markers.
func sections(out string) (map[string][]string, error) {
	sec := map[string][]string{}
	cur := ""
	for _, line := range strings.Split(out, "\n") {
		if name, ok := strings.CutPrefix(line, marker); ok {
			cur = strings.TrimSpace(name)
			sec[cur] = nil
			continue
		}
		if cur != "" {
			sec[cur] = append(sec[cur], line)
		}
	}
	for _, want := range []string{"ps", "bt", "jiffies", "init_task.comm", "log", "foreach"} {
		if _, ok := sec[want]; !ok {
			return nil, fmt.Errorf("crash output has no %q section (no line %q); it begins: %q",
				want, marker+want, head(out, 300))
		}
	}
	for k, v := range sec {
		for len(v) > 0 && strings.TrimSpace(v[len(v)-1]) == "" {
			v = v[:len(v)-1]
		}
		sec[k] = v
	}
	return sec, nil
}

func head(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// psRow matches "> 1 0 0 ffff8ee6811fc800 RU 0.3 2260 1732 init":
// active mark, PID, PPID, CPU, TASK, ST, %MEM, VSZ, RSS, COMM.
var psRow = regexp.MustCompile(`^(>?)\s*(\d+)\s+(\d+)\s+(\d+)\s+([0-9a-f]+)\s+(\S+)\s+[\d.]+\s+\d+\s+\d+\s+(.*)$`)

func parsePS(lines []string) ([]PSRow, error) {
	if len(lines) == 0 || !strings.Contains(lines[0], "PID") || !strings.Contains(lines[0], "COMM") {
		return nil, fmt.Errorf("crash ps: expected a header line with PID and COMM, got %q", first(lines))
	}
	var rows []PSRow
	for i, line := range lines[1:] {
		m := psRow.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("crash ps line %d: expected \"[>] PID PPID CPU TASK ST %%MEM VSZ RSS COMM\", got %q", i+2, line)
		}
		r := PSRow{Active: m[1] == ">", State: m[6]}
		r.PID, _ = strconv.ParseInt(m[2], 10, 64)
		r.PPID, _ = strconv.ParseInt(m[3], 10, 64)
		r.CPU, _ = strconv.Atoi(m[4])
		r.Task, _ = strconv.ParseUint(m[5], 16, 64)
		r.Comm = m[7]
		if strings.HasPrefix(r.Comm, "[") && strings.HasSuffix(r.Comm, "]") {
			r.Comm, r.KernelThread = r.Comm[1:len(r.Comm)-1], true
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("crash ps listed no task")
	}
	return rows, nil
}

func first(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return lines[0]
}

var (
	// btHeader matches `PID: 1  TASK: ffff8ee6811fc800  CPU: 0  COMMAND: "init"`.
	btHeader = regexp.MustCompile(`^PID:\s*(\d+)\s+TASK:\s*([0-9a-f]+)\s+CPU:\s*(\d+)\s+COMMAND:\s*"(.*)"`)
	// btFrame matches ` #0 [ffffd47a00013d00] panic at ffffffffaa9cd21a`
	// (a module frame ends with " [module]").
	btFrame = regexp.MustCompile(`^\s*#(\d+) \[([0-9a-f]+)\] (\S+) at ([0-9a-f]+)`)
	// btLine matches bt -l's `    kernel/panic.c: 459` below a frame.
	btLine = regexp.MustCompile(`^\s+(\S.*): (\d+)$`)
)

func parseBt(lines []string) (CrashBt, error) {
	var bt CrashBt
	if len(lines) == 0 {
		return bt, fmt.Errorf("crash bt printed nothing")
	}
	m := btHeader.FindStringSubmatch(lines[0])
	if m == nil {
		return bt, fmt.Errorf("crash bt: expected a `PID: N TASK: ADDR CPU: N COMMAND: \"comm\"` header, got %q", lines[0])
	}
	bt.PID, _ = strconv.ParseInt(m[1], 10, 64)
	bt.Task, _ = strconv.ParseUint(m[2], 16, 64)
	bt.CPU, _ = strconv.Atoi(m[3])
	bt.Command = m[4]
	for _, line := range lines[1:] {
		if m := btFrame.FindStringSubmatch(line); m != nil {
			f := CrashFrame{Function: m[3]}
			f.Index, _ = strconv.Atoi(m[1])
			f.SP, _ = strconv.ParseUint(m[2], 16, 64)
			f.PC, _ = strconv.ParseUint(m[4], 16, 64)
			bt.Frames = append(bt.Frames, f)
			continue
		}
		// Register dumps of exception frames ("RIP: ...") contain ": "
		// too, but never end in a bare decimal after a path.
		if m := btLine.FindStringSubmatch(line); m != nil && len(bt.Frames) > 0 &&
			!strings.Contains(m[1], " ") && bt.Frames[len(bt.Frames)-1].File == "" {
			f := &bt.Frames[len(bt.Frames)-1]
			f.File = m[1]
			f.Line, _ = strconv.Atoi(m[2])
		}
	}
	if len(bt.Frames) == 0 {
		return bt, fmt.Errorf("crash bt: no frame lines (` #N [SP] function at PC`) after %q", lines[0])
	}
	return bt, nil
}

// parseForeach splits foreach bt's output into one bt per task (each
// starts with a "PID: ..." header). A task crash could not unwind goes
// into the second map with crash's message.
func parseForeach(lines []string) (map[uint64]CrashBt, map[uint64]string, error) {
	bts, errs := map[uint64]CrashBt{}, map[uint64]string{}
	var block []string
	flush := func() {
		if len(block) == 0 {
			return
		}
		bt, err := parseBt(block)
		if err != nil {
			msg := strings.TrimSpace(strings.Join(block[1:], "; "))
			if msg == "" {
				msg = err.Error()
			}
			errs[bt.Task] = msg
		} else {
			bts[bt.Task] = bt
		}
		block = nil
	}
	for _, line := range lines {
		if btHeader.MatchString(line) {
			flush()
		}
		if len(block) > 0 || btHeader.MatchString(line) {
			block = append(block, line)
		}
	}
	flush()
	if len(bts) == 0 {
		return nil, nil, fmt.Errorf("crash foreach bt: no task with frames (%d without)", len(errs))
	}
	return bts, errs, nil
}

// printValue returns the value of gdb's print output `$1 = VALUE`
// (crash prints `jiffies = $1 = VALUE` for a symbol without a type).
func printValue(lines []string) (string, error) {
	all := strings.TrimSpace(strings.Join(lines, "\n"))
	i := strings.Index(all, "$")
	if i < 0 {
		return "", fmt.Errorf("expected `$N = value`, got %q", head(all, 200))
	}
	_, v, ok := strings.Cut(all[i:], " = ")
	if !ok {
		return "", fmt.Errorf("expected `$N = value`, got %q", head(all, 200))
	}
	return strings.TrimSpace(v), nil
}

// CString decodes a C string literal as gdb prints it ("swapper/0\000\000"),
// dropping trailing NULs. gdb may append `<repeats N times>` runs, which
// this does not expect for short names and reports as an error.
func CString(lit string) (string, error) {
	if len(lit) < 2 || lit[0] != '"' || lit[len(lit)-1] != '"' {
		return "", fmt.Errorf("expected a quoted string, got %q", lit)
	}
	s := lit[1 : len(lit)-1]
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			if c == '"' {
				return "", fmt.Errorf("unexpected quote at %d in %q (gdb repeats?)", i+1, lit)
			}
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			return "", fmt.Errorf("string %q ends in a backslash", lit)
		}
		switch c := s[i]; {
		case c >= '0' && c <= '7':
			v, j := 0, i
			for ; j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7'; j++ {
				v = v*8 + int(s[j]-'0')
			}
			b.WriteByte(byte(v))
			i = j - 1
		case c == 'n':
			b.WriteByte('\n')
		case c == 't':
			b.WriteByte('\t')
		case c == 'e':
			b.WriteByte(0x1b)
		default:
			b.WriteByte(c)
		}
	}
	return strings.TrimRight(b.String(), "\x00"), nil
}

// timestamp is the "[    9.496067] " prefix of crash's log lines.
var timestamp = regexp.MustCompile(`^\[\s*\d+\.\d+\] ?`)

// StripTimestamp drops crash's "[ seconds.micros] " prefix from a log
// line: kdap's message buffer text carries no timestamps.
func StripTimestamp(line string) string {
	return timestamp.ReplaceAllString(line, "")
}
