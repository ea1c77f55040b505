package refcheck

import (
	"strings"
	"testing"
)

// crashSample is crash's output shape for CrashScript, written by hand
// after crash 8.0.6's ps, bt -l, p and log formats (abridged).
const crashSample = `@@KDAP ps
      PID    PPID  CPU       TASK        ST  %MEM      VSZ      RSS  COMM
        0       0   0  ffffffffaba1aa40  RU   0.0        0        0  [swapper/0]
>       1       0   0  ffff8ee6811fc800  RU   0.3     2260     1732  init
       93       1   1  ffff8ee68263e000  IN   0.3     2260     1576  my prog
@@KDAP bt
PID: 1        TASK: ffff8ee6811fc800  CPU: 0    COMMAND: "init"
 #0 [ffffd47a00013d00] panic at ffffffffaa9cd21a
    kernel/panic.c: 459
 #1 [ffffd47a00013d80] sysrq_handle_crash at ffffffffaa6a8a06
 #2 [ffffd47a00013f50] entry_SYSCALL_64_after_hwframe at ffffffffaac00126
    /build/arch/x86/entry/entry_64.S: 121
    RIP: 000000000047b7a0  RSP: 00007ffee7ff8858  RFLAGS: 00000202
    ORIG_RAX: 0000000000000001  CS: 0033  SS: 002b
@@KDAP jiffies
jiffies = $1 = 4294894684
@@KDAP init_task.comm
$2 = "swapper/0\000\000\000\000\000\000"
@@KDAP log
[    0.000000] Linux version 6.1.0
[    9.496067] ---[ end Kernel panic - not syncing: sysrq triggered crash ]---
@@KDAP foreach
PID: 0        TASK: ffffffffaba1aa40  CPU: 0    COMMAND: "swapper/0"
 #0 [ffffffffaba03e40] __schedule at ffffffffaaa10e3d
 #1 [ffffffffaba03e98] schedule_idle at ffffffffaaa118e6

PID: 93       TASK: ffff8ee68263e000  CPU: 1    COMMAND: "sh"
bt: read of stack at fffffe000004f000 failed

`

func TestParseCrash(t *testing.T) {
	c, err := ParseCrash(crashSample)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.PS) != 3 {
		t.Fatalf("ps: %d rows, want 3: %+v", len(c.PS), c.PS)
	}
	if r := c.PS[0]; r.Comm != "swapper/0" || !r.KernelThread || r.Active || r.Task != 0xffffffffaba1aa40 {
		t.Errorf("ps[0] = %+v", r)
	}
	if r := c.PS[1]; r.Comm != "init" || r.KernelThread || !r.Active || r.PID != 1 || r.CPU != 0 {
		t.Errorf("ps[1] = %+v", r)
	}
	if r := c.PS[2]; r.Comm != "my prog" || r.PPID != 1 || r.CPU != 1 || r.State != "IN" {
		t.Errorf("ps[2] = %+v", r)
	}
	if c.Bt.PID != 1 || c.Bt.Task != 0xffff8ee6811fc800 || c.Bt.Command != "init" || len(c.Bt.Frames) != 3 {
		t.Fatalf("bt = %+v", c.Bt)
	}
	want := []CrashFrame{
		{0, 0xffffd47a00013d00, "panic", 0xffffffffaa9cd21a, "kernel/panic.c", 459},
		{1, 0xffffd47a00013d80, "sysrq_handle_crash", 0xffffffffaa6a8a06, "", 0},
		{2, 0xffffd47a00013f50, "entry_SYSCALL_64_after_hwframe", 0xffffffffaac00126, "/build/arch/x86/entry/entry_64.S", 121},
	}
	for i, f := range c.Bt.Frames {
		if f != want[i] {
			t.Errorf("frame %d = %+v, want %+v", i, f, want[i])
		}
	}
	if c.Jiffies != "4294894684" || c.InitComm != "swapper/0" {
		t.Errorf("jiffies %q comm %q", c.Jiffies, c.InitComm)
	}
	if bt := c.Foreach[0xffffffffaba1aa40]; len(c.Foreach) != 1 || len(bt.Frames) != 2 || bt.Frames[1].Function != "schedule_idle" {
		t.Errorf("foreach = %+v", c.Foreach)
	}
	if msg := c.ForeachErr[0xffff8ee68263e000]; len(c.ForeachErr) != 1 || msg != "bt: read of stack at fffffe000004f000 failed" {
		t.Errorf("foreach errors = %v", c.ForeachErr)
	}
	if len(c.Log) != 2 || StripTimestamp(c.Log[1]) != "---[ end Kernel panic - not syncing: sysrq triggered crash ]---" {
		t.Errorf("log = %q", c.Log)
	}
}

func TestParseCrashErrors(t *testing.T) {
	for _, tc := range []struct{ name, out, want string }{
		{"empty", "", `no "ps" section`},
		{"crash failed", "crash: cannot open vmcore\n", `no "ps" section`},
		{"bad ps", strings.Replace(crashSample, ">       1       0   0", ">  one", 1), "crash ps line 3"},
		{"no frames", strings.Replace(crashSample, " #", "  ", -1), "no frame lines"},
		{"bad print", strings.Replace(crashSample, "jiffies = $1 = ", "", 1), "p jiffies: expected `$N = value`"},
		{"bad string", strings.Replace(crashSample, `$2 = "swapper/0`, `$2 = swapper/0`, 1), "expected a quoted string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCrash(tc.out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestParseDrgn(t *testing.T) {
	out := "crashed\t1\t0\tinit\n" +
		"frame\t0xffffffffaa9c3643\t1\t__preempt_count_add\tarch/x86/include/asm/preempt.h\t80\n" +
		"frame\t0xffffffffaa9c3643\t0\tdelay_tsc\tarch/x86/lib/delay.c\t79\n" +
		"frame\t0xffffffffaac00126\t0\tentry_SYSCALL_64\t\t0\n" +
		"jiffies\t4294894684\ninit_task.comm\tswapper/0\n" +
		"tframe\t0xffff8ee6811f9800\t0xffffffffaaa10e3d\t0\t__schedule\tkernel/sched/core.c\t5241\n" +
		"terror\t0xffff8ee68263e000\tcannot unwind\n"
	d, err := ParseDrgn(out)
	if err != nil {
		t.Fatal(err)
	}
	if d.CrashedTID != 1 || d.CrashedCPU != 0 || d.Comm != "init" || d.Jiffies != "4294894684" || d.InitComm != "swapper/0" {
		t.Errorf("parsed %+v", d)
	}
	want := []DrgnFrame{
		{0xffffffffaa9c3643, true, "__preempt_count_add", "arch/x86/include/asm/preempt.h", 80},
		{0xffffffffaa9c3643, false, "delay_tsc", "arch/x86/lib/delay.c", 79},
		{0xffffffffaac00126, false, "entry_SYSCALL_64", "", 0},
	}
	if len(d.Frames) != len(want) {
		t.Fatalf("frames %+v", d.Frames)
	}
	for i := range want {
		if d.Frames[i] != want[i] {
			t.Errorf("frame %d = %+v, want %+v", i, d.Frames[i], want[i])
		}
	}
	if fs := d.Tasks[0xffff8ee6811f9800]; len(d.Tasks) != 1 || len(fs) != 1 || fs[0].Function != "__schedule" || fs[0].Line != 5241 {
		t.Errorf("tasks = %+v", d.Tasks)
	}
	if len(d.TaskErr) != 1 || d.TaskErr[0xffff8ee68263e000] != "cannot unwind" {
		t.Errorf("task errors = %v", d.TaskErr)
	}
	for _, bad := range []string{
		"tframe\t0xffff\t0x1\t0\tf\n", "tframe\tzz\t0x1\t0\tf\tx.c\t1\n",
		"", "Traceback (most recent call last):\n", "crashed\tone\t0\tinit\n",
		strings.Replace(out, "\t80\n", "\n", 1), strings.Replace(out, "jiffies\t4294894684\n", "", 1),
	} {
		if _, err := ParseDrgn(bad); err == nil {
			t.Errorf("ParseDrgn(%q) gave no error", bad)
		}
	}
}

func TestCString(t *testing.T) {
	for in, want := range map[string]string{
		`"swapper/0\000\000"`: "swapper/0",
		`"a\\b\"c\n"`:         "a\\b\"c\n",
		`"\101\102"`:          "AB",
		`""`:                  "",
	} {
		if got, err := CString(in); err != nil || got != want {
			t.Errorf("CString(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{``, `"`, `abc`, `"a\"`, `"a" <repeats 3 times>`, `"a", 'b' <repeats 15 times>, "c"`} {
		if _, err := CString(bad); err == nil {
			t.Errorf("CString(%s) gave no error", bad)
		}
	}
}

func TestNormalize(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"__handle_sysrq.cold", "__handle_sysrq"}, {"foo.isra.0", "foo"}, {"panic", "panic"}, {".L1", ".L1"},
	} {
		if got := BaseName(c.in); got != c.want {
			t.Errorf("BaseName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"debian/build/x/kernel/panic.c", "kernel/panic.c", true},
		{"kernel/panic.c", "debian/build/x/kernel/panic.c", true},
		{"a/kernel/panic.c", "ernel/panic.c", false},
		{"kernel/panic.c", "kernel/panic.h", false},
	} {
		if got := SameFile(c.a, c.b); got != c.same {
			t.Errorf("SameFile(%q, %q) = %v", c.a, c.b, got)
		}
	}
}
