package linux

// Tests on a real Linux crash dump made by testdata/linux/mkfixture.sh. The
// fixture lives outside the repository, in $KDAP_LINUX_FIXTURE or
// $XDG_CACHE_HOME/kdap-linux (default ~/.cache/kdap-linux), one folder per
// kernel version; the tests skip when it is absent. Expected values come
// from the guest's serial console (console.txt): the ps listing and the
// KDAP-FIXTURE lines that init.sh printed before crashing.

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/target"
	"github.com/kdap/kdap/target/arch/amd64"
	"github.com/kdap/kdap/target/core"
	_ "github.com/kdap/kdap/target/core/all"
	"github.com/kdap/kdap/target/core/vmcoreinfo"
)

// fixtureDirs returns the fixture folders holding fixture.env, or skips.
func fixtureDirs(t testing.TB) []string { return testfixture.LinuxDirs(t) }

// console is what the guest printed.
type console struct {
	ps         map[int64]string // pid → comm of the ps listing
	psPID      int64            // the ps process itself, gone by the crash
	crashPID   int64
	crashComm  string
	crashCPU   int
	kernel     []string // kernel lines, timestamp removed
	panicStamp float64  // seconds since boot of the panic line
	cpus       int      // "smpboot: Allowing N CPUs"
}

var allowingCPUs = regexp.MustCompile(`^smpboot: Allowing (\d+) CPUs`)

var crashLine = regexp.MustCompile(`^KDAP-FIXTURE: init pid (\d+) comm (\S+) crashing on CPU (\d+)`)

func readConsole(t *testing.T, dir string) *console {
	f, err := os.Open(filepath.Join(dir, "console.txt"))
	if err != nil {
		testfixture.MissingFile(t, err, "Linux dump fixture file "+filepath.Join(dir, "console.txt"), testfixture.LinuxGet)
	}
	defer f.Close()
	c := &console{ps: map[int64]string{}, crashPID: -1}
	inPS := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case line == "KDAP-FIXTURE: ps":
			inPS = true
			sc.Scan() // the header
			continue
		case strings.HasPrefix(line, "KDAP-FIXTURE:"):
			inPS = false
			if m := crashLine.FindStringSubmatch(line); m != nil {
				c.crashPID, _ = strconv.ParseInt(m[1], 10, 64)
				c.crashComm = m[2]
				c.crashCPU, _ = strconv.Atoi(m[3])
			}
			continue
		case strings.HasPrefix(line, "["):
			inPS = false
			stamp, text, ok := strings.Cut(line[1:], "] ")
			if ok {
				c.kernel = append(c.kernel, text)
				if m := allowingCPUs.FindStringSubmatch(text); m != nil {
					c.cpus, _ = strconv.Atoi(m[1])
				}
				if strings.HasPrefix(text, panicPrefix) {
					c.panicStamp, _ = strconv.ParseFloat(strings.TrimSpace(stamp), 64)
				}
			}
			continue
		}
		if inPS {
			fs := strings.Fields(line)
			if len(fs) < 4 {
				continue
			}
			pid, err := strconv.ParseInt(fs[0], 10, 64)
			if err != nil {
				continue
			}
			c.ps[pid] = fs[3]
			if fs[3] == "ps" {
				c.psPID = pid
			}
		}
	}
	if c.crashPID < 0 || len(c.ps) == 0 {
		t.Fatalf("%s/console.txt has no ps listing or no crash line", dir)
	}
	return c
}

func openTarget(t *testing.T, dir, dump string) *target.Target {
	core := filepath.Join(dir, dump)
	if _, err := os.Stat(core); err != nil {
		testfixture.MissingFile(t, err, "Linux dump fixture file "+core, testfixture.LinuxGet)
	}
	tg, err := target.Open(core, filepath.Join(dir, "vmlinux"), target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg
}

func TestFixtureThreads(t *testing.T) {
	for _, dir := range fixtureDirs(t) {
		con := readConsole(t, dir)
		lists := map[string][]*target.Thread{}
		for _, dump := range []string{"vmcore.elf", "vmcore.kdump"} {
			t.Run(filepath.Base(dir)+"/"+dump, func(t *testing.T) {
				tg := openTarget(t, dir, dump)
				ths, err := tg.Threads()
				if err != nil {
					t.Fatal(err)
				}
				lists[dump] = ths
				got := map[int64]string{}
				for _, th := range ths {
					if th.TID != 0 {
						got[th.TID] = th.Comm
					}
				}
				// ps had exited by the crash; nothing else was started.
				want := map[int64]string{}
				for pid, comm := range con.ps {
					if pid != con.psPID {
						want[pid] = comm
					}
				}
				if len(got) != len(want) {
					t.Errorf("%d tasks besides the idle task, the console's ps listed %d: got %v", len(got), len(want), got)
				}
				for pid, comm := range want {
					// ps shows a kworker's workqueue after a dash
					if g, ok := got[pid]; !ok || (g != comm && !strings.HasPrefix(comm, g+"-")) {
						t.Errorf("pid %d: comm %q, ps listed %q", pid, g, comm)
					}
				}
				// One idle task per CPU, all pid 0, told apart by their IDs.
				var idle []string
				ids := map[int64]bool{}
				for _, th := range ths {
					if th.TID == 0 {
						idle = append(idle, th.Comm)
					}
					if th.ID <= 0 || ids[th.ID] {
						t.Errorf("thread %s: ID %d is not positive or not unique", th.DisplayName(), th.ID)
					}
					ids[th.ID] = true
				}
				sort.Strings(idle)
				var wantIdle []string
				for i := 0; i < con.cpus; i++ {
					wantIdle = append(wantIdle, fmt.Sprintf("swapper/%d", i))
				}
				if strings.Join(idle, ",") != strings.Join(wantIdle, ",") {
					t.Errorf("idle tasks %v, want %v (the console says %d CPUs)", idle, wantIdle, con.cpus)
				}
				crashed := ths[0]
				if !crashed.Crashed || crashed.TID != con.crashPID || crashed.Comm != con.crashComm || crashed.CPU != con.crashCPU {
					t.Errorf("first thread %+v, want the crashed pid %d %s on CPU %d", crashed, con.crashPID, con.crashComm, con.crashCPU)
				}
				pc, _ := crashed.Regs.Get(amd64.RIP)
				sym, _, ok := tg.Kernel.Syms.Addr(pc)
				if !ok || (sym.Name != "panic" && sym.Name != "delay_tsc" && !strings.HasPrefix(sym.Name, "crash_")) {
					t.Errorf("crashed thread's pc %#x is in %q, not in the panic path", pc, sym.Name)
				}
			})
		}
		a, b := lists["vmcore.elf"], lists["vmcore.kdump"]
		if a == nil || b == nil {
			continue
		}
		if len(a) != len(b) {
			t.Fatalf("vmcore.elf has %d threads, vmcore.kdump %d", len(a), len(b))
		}
		// QEMU wrote the two dumps one after the other while the CPUs
		// kept spinning: running tasks' scratch registers differ, their
		// stack and frame pointers do not.
		for i := range a {
			same := a[i].Regs == b[i].Regs
			if a[i].CPU >= 0 {
				sa, _ := a[i].Regs.Get(amd64.RSP)
				sb, _ := b[i].Regs.Get(amd64.RSP)
				fa, _ := a[i].Regs.Get(amd64.RBP)
				fb, _ := b[i].Regs.Get(amd64.RBP)
				same = sa == sb && fa == fb
			}
			if a[i].TID != b[i].TID || a[i].Comm != b[i].Comm || a[i].CPU != b[i].CPU || !same {
				t.Errorf("thread %d: %+v in vmcore.elf, %+v in vmcore.kdump", i, a[i], b[i])
			}
		}
	}
}

func TestFixtureMemory(t *testing.T) {
	for _, dir := range fixtureDirs(t) {
		con := readConsole(t, dir)
		tg := openTarget(t, dir, "vmcore.elf")
		off, err := tg.Kernel.MemberOffset("struct task_struct", "comm")
		if err != nil {
			t.Fatal(err)
		}
		it, _ := tg.Kernel.Addr("init_task")
		if comm, err := tg.ReadCString(it+uint64(off), 16); err != nil || comm != "swapper/0" {
			t.Errorf("init_task.comm = %q, %v; want swapper/0", comm, err)
		}
		// Debian's CONFIG_HZ is 250; INITIAL_JIFFIES is (u32)(-300*HZ).
		const hz, initial = 250, 1<<32 - 300*250
		j, err := tg.SymbolValueU64("jiffies")
		if err != nil {
			t.Fatal(err)
		}
		up := float64(j-initial) / hz
		if up < con.panicStamp-1 || up > con.panicStamp+1 {
			t.Errorf("jiffies %#x is %.2f s of uptime, the panic was printed at %.2f s", j, up, con.panicStamp)
		}
		mb, err := tg.OS.MessageBuffer()
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(mb.All, "\n")
		const n = 20
		if len(lines) < n || len(con.kernel) < n {
			t.Fatalf("message buffer has %d lines, console %d", len(lines), len(con.kernel))
		}
		got, want := lines[len(lines)-n:], con.kernel[len(con.kernel)-n:]
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("message buffer ends\n%s\nconsole ends\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		ps, err := tg.OS.PanicString()
		if err != nil || ps != "sysrq triggered crash" {
			t.Errorf("PanicString = %q, %v", ps, err)
		}
	}
}

func TestParsePRStatus(t *testing.T) {
	desc := make([]byte, prRegOffset+27*8)
	for i := 0; i < 27; i++ {
		binary.LittleEndian.PutUint64(desc[prRegOffset+8*i:], uint64(0x1000+i))
	}
	// user_regs_struct: r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx
	// rsi rdi orig_rax rip cs eflags rsp ss ...
	tests := []struct {
		reg  int
		want uint64
	}{
		{amd64.R15, 0x1000}, {amd64.R12, 0x1003}, {amd64.RBP, 0x1004}, {amd64.RBX, 0x1005},
		{amd64.RAX, 0x100a}, {amd64.RDI, 0x100e}, {amd64.RIP, 0x1010}, {amd64.RSP, 0x1013},
	}
	r, err := parsePRStatus(desc)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		if got, ok := r.Get(tt.reg); !ok || got != tt.want {
			t.Errorf("%s = %#x, %v; want %#x", amd64.Arch.RegName(tt.reg), got, ok, tt.want)
		}
	}
	if _, err := parsePRStatus(desc[:prRegOffset+8*19]); err == nil {
		t.Error("a descriptor without rsp parsed")
	}
}

func FuzzParsePRStatus(f *testing.F) {
	// Seeds: the fixture's notes when it is present (without skipping
	// the fuzz target when it is not), and a synthetic descriptor.
	synth := make([]byte, prRegOffset+8*len(prstatusRegs)+8)
	for i := range synth {
		synth[i] = byte(i)
	}
	f.Add(synth)
	dirs, _ := filepath.Glob(filepath.Join(testfixture.LinuxRoot(), "*", "vmcore.kdump"))
	for _, p := range dirs {
		dir := filepath.Dir(p)
		d, err := core.Open(filepath.Join(dir, "vmcore.kdump"))
		if err != nil {
			continue
		}
		if n, ok := core.As[core.CPUNotes](d); ok {
			for _, r := range n.CPURegisters() {
				f.Add(r)
			}
		}
		d.Close()
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parsePRStatus(b)
		if err == nil && len(b) < prRegOffset+8*len(prstatusRegs) {
			t.Fatalf("short descriptor parsed: %v", r)
		}
	})
}

// stubDump is a dump with no notes at all.
type stubDump struct{}

func (stubDump) Format() string                     { return "stub" }
func (stubDump) ReadPhys(b []byte, pa uint64) error { return &core.NotPresentError{Addr: pa} }
func (stubDump) Info() []core.Field                 { return nil }
func (stubDump) Close() error                       { return nil }

func TestNoVMCOREINFO(t *testing.T) {
	_, err := vmcoreinfo.FromDump(stubDump{})
	if err == nil || !strings.Contains(err.Error(), "no VMCOREINFO in this dump") {
		t.Fatalf("got %v, want a no VMCOREINFO error", err)
	}
}

func TestFixtureVersionMismatch(t *testing.T) {
	dir := fixtureDirs(t)[0]
	tg := openTarget(t, dir, "vmcore.elf")
	tests := []struct {
		name, info string
		ok         bool
	}{
		{"other release", "OSRELEASE=5.10.0-99-amd64\n", false},
		{"release prefix only", "OSRELEASE=6.1.0\n", false},
		{"no release", "PAGESIZE=4096\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := vmcoreinfo.Parse([]byte(tt.info))
			if err != nil {
				t.Fatal(err)
			}
			err = (&kernel{t: tg, info: info}).checkVersion()
			if tt.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "vmlinux does not match this dump")) {
				t.Errorf("checkVersion = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

var (
	userRIP = regexp.MustCompile(`^RIP: 0033:0x([0-9a-f]+)`)
	userRSP = regexp.MustCompile(`^RSP: 002b:([0-9a-f]+)`)
)

// TestFixtureUserRegs reads the struct pt_regs at the top of the crashed
// task's stack (task_pt_regs) through the trap rules: it must hold the
// user registers the kernel printed in its oops report.
func TestFixtureUserRegs(t *testing.T) {
	for _, dir := range fixtureDirs(t) {
		con := readConsole(t, dir)
		var rip, rsp uint64
		for _, l := range con.kernel {
			if m := userRIP.FindStringSubmatch(l); m != nil {
				rip, _ = strconv.ParseUint(m[1], 16, 64)
			}
			if m := userRSP.FindStringSubmatch(l); m != nil {
				rsp, _ = strconv.ParseUint(m[1], 16, 64)
			}
		}
		if rip == 0 || rsp == 0 {
			t.Fatalf("%s/console.txt has no user RIP/RSP lines", dir)
		}
		tg := openTarget(t, dir, "vmcore.elf")
		th, err := tg.CrashedThread()
		if err != nil || th == nil {
			t.Fatalf("crashed thread: %v, %v", th, err)
		}
		size, err := tg.Kernel.TypeSize("struct pt_regs")
		if err != nil {
			t.Fatal(err)
		}
		regs, marker, err := tg.OS.TrapFrame().Interrupted(th.StackHi - uint64(size))
		if err != nil {
			t.Fatal(err)
		}
		if pc, _ := regs.Get(amd64.RIP); pc != rip {
			t.Errorf("pt_regs rip %#x, the oops printed %#x (%s)", pc, rip, marker)
		}
		if sp, _ := regs.Get(amd64.RSP); sp != rsp {
			t.Errorf("pt_regs rsp %#x, the oops printed %#x (%s)", sp, rsp, marker)
		}
		// The system call's entry saved user registers: RSP: 002b:… in the oops.
		if want := fmt.Sprintf("--- user-mode pt_regs at %#x, orig_ax 0x1, rip = %#x, rsp = %#x", th.StackHi-uint64(size), rip, rsp); !strings.HasPrefix(marker, want) {
			t.Errorf("marker %q, want it to start %q (write is system call 1)", marker, want)
		}
	}
}

// TestFixtureModules finds the one module init.sh loaded, its code in the
// x86-64 module area and readable.
func TestFixtureModules(t *testing.T) {
	for _, dir := range fixtureDirs(t) {
		tg := openTarget(t, dir, "vmcore.kdump")
		mods, err := tg.Modules()
		if err != nil {
			t.Fatal(err)
		}
		if len(mods) != 1 || mods[0].Name != "qemu_fw_cfg" {
			t.Fatalf("modules %+v, want only qemu_fw_cfg (init.sh's insmod)", mods)
		}
		m := mods[0]
		const modulesVaddr, modulesEnd = 0xffffffffc0000000, 0xffffffffff000000 // with KASLR's 1 GiB image
		if m.Base < modulesVaddr || m.Base+m.Size > modulesEnd || m.Base%4096 != 0 || m.Size == 0 {
			t.Errorf("qemu_fw_cfg text at %#x, %d bytes: want a page-aligned range in the module area", m.Base, m.Size)
		}
		b := make([]byte, 16)
		if err := tg.ReadVirt(b, m.Base); err != nil {
			t.Errorf("reading qemu_fw_cfg's code: %v", err)
		}
	}
}
