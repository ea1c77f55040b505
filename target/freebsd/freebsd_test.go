package freebsd_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/target"
	_ "github.com/kdap/kdap/target/all"
	"github.com/kdap/kdap/target/arch/amd64"
)

// The ground truth below is testdata/README.md's, written from the
// fixture kernel's source.

type wantThread struct {
	tid      int64
	pid      int64
	comm     string
	name     string
	cpu      int
	crashed  bool
	zombie   bool
	regsFrom string
	pcFunc   string // the function holding the saved pc
}

// Processes newest first on allproc, then zombproc; threads in tid order;
// the crashed thread is listed first.
var wantThreads = []wantThread{
	{100016, 806, "sysctl", "sysctl", 0, true, false, "dumppcb", "doadump"},
	{100014, 1, "init", "init", -1, false, false, "td_pcb", "sched_switch"},
	{100013, 22, "syncer", "syncer", -1, false, false, "td_pcb", "sched_switch"},
	{100011, 19, "bufdaemon", "bufdaemon", -1, false, false, "td_pcb", "sched_switch"},
	{100012, 19, "bufdaemon", "bufspacedaemon-0", -1, false, false, "td_pcb", "sched_switch"},
	{100008, 18, "pagedaemon", "dom0", -1, false, false, "td_pcb", "sched_switch"},
	{100009, 18, "pagedaemon", "laundry: dom0", -1, false, false, "td_pcb", "sched_switch"},
	{100010, 18, "pagedaemon", "uma", -1, false, false, "td_pcb", "sched_switch"},
	{100007, 15, "rand_harvestq", "rand_harvestq", 1, false, false, "stoppcbs[1]", "cpustop_handler"},
	{100005, 12, "intr", "swi4: clock (0)", -1, false, false, "td_pcb", "sched_switch"},
	{100006, 12, "intr", "swi1: netisr 0", -1, false, false, "td_pcb", "sched_switch"},
	{100003, 11, "idle", "idle: cpu0", -1, false, false, "td_pcb", "sched_switch"},
	{100004, 11, "idle", "idle: cpu1", -1, false, false, "td_pcb", "sched_switch"},
	{100000, 0, "kernel", "swapper", -1, false, false, "td_pcb", "sched_switch"},
	{100001, 0, "kernel", "thread taskq", -1, false, false, "td_pcb", "sched_switch"},
	{100002, 0, "kernel", "firmware taskq", -1, false, false, "td_pcb", "sched_switch"},
	{100015, 807, "sh", "sh", -1, false, true, "td_pcb", "sched_throw"},
}

const (
	assertPanic  = `Assertion td->td_name[0] != '\0' failed at /usr/src/sys/kern/kern_kdap.c:100`
	assertUnread = "panic: " + assertPanic + "\ncpuid = 0\ntime = 1700000000\nDumping 11 out of 31 MB:"
)

// fixture names one dump with its kernel.
type fixture struct {
	build, run, kind string // fp|nofp, assert|trap, mini|full|dumpdev
}

func (f fixture) String() string { return f.build + "/" + f.run + "/" + f.kind }

func (f fixture) paths(t testing.TB) (core, kernel string) {
	return testfixture.Path(t, fmt.Sprintf("fbsdkern/fixtures/%s/%s/vmcore.%s", f.build, f.run, f.kind)),
		testfixture.Path(t, fmt.Sprintf("fbsdkern/fixtures/%s/kernel.debug", f.build))
}

func allFixtures() []fixture {
	var out []fixture
	for _, b := range []string{"fp", "nofp"} {
		for _, r := range []string{"assert", "trap"} {
			for _, k := range []string{"mini", "full"} {
				out = append(out, fixture{b, r, k})
			}
		}
	}
	return append(out, fixture{"fp", "assert", "dumpdev"})
}

func open(t testing.TB, f fixture, opts target.Options) *target.Target {
	t.Helper()
	core, kernel := f.paths(t)
	tg, err := target.Open(core, kernel, opts)
	if err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg
}

func TestThreadsGroundTruth(t *testing.T) {
	for _, f := range allFixtures() {
		for _, noDWARF := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/nodwarf=%v", f, noDWARF), func(t *testing.T) {
				tg := open(t, f, target.Options{NoDWARF: noDWARF})
				ths, err := tg.Threads()
				if err != nil {
					t.Fatal(err)
				}
				if len(ths) != len(wantThreads) {
					t.Fatalf("got %d threads, want %d", len(ths), len(wantThreads))
				}
				for i, w := range wantThreads {
					g := ths[i]
					if g.TID != w.tid || g.PID != w.pid || g.Comm != w.comm || g.Name != w.name ||
						g.CPU != w.cpu || g.Crashed != w.crashed || g.Zombie != w.zombie || g.RegsFrom != w.regsFrom {
						t.Errorf("thread %d = {tid %d pid %d %q %q cpu %d crashed %v zombie %v from %s}, want %+v",
							i, g.TID, g.PID, g.Comm, g.Name, g.CPU, g.Crashed, g.Zombie, g.RegsFrom, w)
					}
					pc, ok := g.Regs.Get(amd64.RIP)
					if !ok {
						t.Errorf("tid %d: no pc", g.TID)
						continue
					}
					sym, _, ok := tg.Kernel.Syms.Addr(pc)
					if !ok || sym.Name != w.pcFunc {
						t.Errorf("tid %d: pc %#x is in %q, want %s", g.TID, pc, sym.Name, w.pcFunc)
					}
					// Kernel stacks live in KVA from VM_MIN_KERNEL_ADDRESS,
					// except thread0's, which is in the kernel image.
					sp, _ := g.Regs.Get(amd64.RSP)
					if w.tid != 100000 && (sp < 0xfffffe0000000000 || sp >= 0xffffffff80000000) {
						t.Errorf("tid %d: rsp %#x is not a kernel stack address", g.TID, sp)
					}
					if !noDWARF && w.tid != 100000 && (g.StackLo == 0 || sp < g.StackLo || sp >= g.StackHi) {
						t.Errorf("tid %d: rsp %#x outside its stack [%#x, %#x)", g.TID, sp, g.StackLo, g.StackHi)
					}
				}
			})
		}
	}
}

func TestDisplayNames(t *testing.T) {
	tg := open(t, fixture{"fp", "assert", "mini"}, target.Options{})
	ths, err := tg.Threads()
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]string{
		100016: "(pid 806) sysctl (crashed)",
		100007: "(pid 15) rand_harvestq (on CPU 1)",
		100003: "(pid 11) idle/idle: cpu0",
		100009: "(pid 18) pagedaemon/laundry: dom0",
		100015: "(pid 807) sh (zombie)",
	}
	for _, th := range ths {
		if w, ok := want[th.TID]; ok && th.DisplayName() != w {
			t.Errorf("tid %d: %q, want %q", th.TID, th.DisplayName(), w)
		}
	}
}

func TestPanicAndMessages(t *testing.T) {
	for _, f := range allFixtures() {
		t.Run(f.String(), func(t *testing.T) {
			tg := open(t, f, target.Options{})
			ps, err := tg.OS.PanicString()
			if err != nil {
				t.Fatal(err)
			}
			wantPanic := assertPanic
			if f.run == "trap" {
				wantPanic = "page fault"
			}
			if ps != wantPanic {
				t.Errorf("panic string %q, want %q", ps, wantPanic)
			}
			mb, err := tg.OS.MessageBuffer()
			if err != nil {
				t.Fatal(err)
			}
			// The ring holds the last 8192 bytes of what the kernel printed:
			// the console text less its console-only tail.
			console, err := os.ReadFile(filepath.Join(testfixture.Root(), "fbsdkern/fixtures", f.build, f.run, "console.txt"))
			if err != nil {
				t.Fatal(err)
			}
			printed := strings.TrimSuffix(string(console), "\nDump complete\nKDAP-DUMP-DONE\n")
			if len(printed) == len(console) {
				t.Fatalf("console.txt does not end with the dump-complete tail")
			}
			if want := printed[len(printed)-8192:]; mb.All != want {
				t.Errorf("whole ring: got %d bytes ending %q, want %d ending %q", len(mb.All), tail(mb.All), len(want), tail(want))
			}
			switch f.run {
			case "assert":
				if mb.Unread != assertUnread {
					t.Errorf("unread part %q, want %q", mb.Unread, assertUnread)
				}
			case "trap":
				if len(mb.Unread) != 547 || !strings.HasPrefix(mb.Unread, "\n\nFatal trap 12: page fault while in kernel mode\n") ||
					!strings.Contains(mb.Unread, "fault virtual address\t= 0x18\n") || !strings.HasSuffix(mb.Unread, "panic: page fault\ncpuid = 0\ntime = 1700000000\nDumping 11 out of 31 MB:") {
					t.Errorf("unread part (%d bytes) %q", len(mb.Unread), mb.Unread)
				}
			}
			hz, err := readSym32(tg, "hz")
			if err != nil || hz != 1000 {
				t.Errorf("hz = %d, %v; want 1000", hz, err)
			}
			v, err := tg.OS.Version()
			if err != nil || !strings.HasPrefix(v, "FreeBSD 14.1-RELEASE kdap-fixture #0") {
				t.Errorf("version %q, %v", v, err)
			}
		})
	}
}

func tail(s string) string {
	if len(s) > 40 {
		return s[len(s)-40:]
	}
	return s
}

func readSym32(tg *target.Target, name string) (uint32, error) {
	a, ok := tg.Kernel.Addr(name)
	if !ok {
		return 0, fmt.Errorf("no symbol %s", name)
	}
	return tg.ReadU32(a)
}

// TestMiniAndFullAgree reads every region the model touches through the
// minidump and through the full dump of the same machine.
func TestMiniAndFullAgree(t *testing.T) {
	for _, b := range []string{"fp", "nofp"} {
		for _, r := range []string{"assert", "trap"} {
			t.Run(b+"/"+r, func(t *testing.T) {
				mini := open(t, fixture{b, r, "mini"}, target.Options{})
				full := open(t, fixture{b, r, "full"}, target.Options{})
				ths, err := mini.Threads()
				if err != nil {
					t.Fatal(err)
				}
				type region struct {
					what string
					va   uint64
					n    int
				}
				var regions []region
				for _, s := range []string{"version", "allproc", "zombproc", "dumppcb", "stoppcbs", "dumptid", "panicstr", "msgbufp", "hz", "stopped_cpus", "__pcpu"} {
					a, ok := mini.Kernel.Addr(s)
					if !ok {
						t.Fatalf("no symbol %s", s)
					}
					regions = append(regions, region{s, a, 64})
				}
				for _, th := range ths {
					sp, _ := th.Regs.Get(amd64.RSP)
					regions = append(regions, region{fmt.Sprintf("thread %d", th.TID), th.Addr, 1024},
						region{fmt.Sprintf("stack of %d", th.TID), sp, 512})
				}
				for _, rg := range regions {
					a, b := make([]byte, rg.n), make([]byte, rg.n)
					if err := mini.ReadVirt(a, rg.va); err != nil {
						t.Errorf("%s via minidump: %v", rg.what, err)
						continue
					}
					if err := full.ReadVirt(b, rg.va); err != nil {
						t.Errorf("%s via full dump: %v", rg.what, err)
						continue
					}
					if !bytes.Equal(a, b) {
						t.Errorf("%s at %#x: minidump and full dump differ", rg.what, rg.va)
					}
				}
				fths, err := full.Threads()
				if err != nil {
					t.Fatal(err)
				}
				for i := range ths {
					if ths[i].Regs != fths[i].Regs || ths[i].TID != fths[i].TID {
						t.Errorf("thread %d: registers differ between minidump and full dump", ths[i].TID)
					}
				}
			})
		}
	}
}

func TestWrongKernel(t *testing.T) {
	core, _ := fixture{"fp", "assert", "mini"}.paths(t)
	_, other := fixture{"nofp", "assert", "mini"}.paths(t)
	_, err := target.Open(core, other, target.Options{})
	if err == nil || !strings.Contains(err.Error(), "does not match this dump: build-id") {
		t.Fatalf("opening the fp dump with the nofp kernel: %v", err)
	}
}

// patchFull copies the full dump and overwrites 8 bytes at kernel virtual
// address va (translated through the original dump).
func patchFull(t *testing.T, f fixture, va, val uint64) string {
	t.Helper()
	tg := open(t, f, target.Options{})
	pa, err := tg.Translate(va)
	if err != nil {
		t.Fatal(err)
	}
	core, _ := f.paths(t)
	return testfixture.PatchELFCore(t, core, pa, binary.LittleEndian.AppendUint64(nil, val))
}

func TestCorruptLists(t *testing.T) {
	f := fixture{"fp", "assert", "full"}
	tg := open(t, f, target.Options{})
	ths, err := tg.Threads()
	if err != nil {
		t.Fatal(err)
	}
	_, kernel := f.paths(t)
	lay := func(typ, member string) uint64 {
		off, err := tg.Kernel.MemberOffset(typ, member)
		if err != nil {
			t.Fatal(err)
		}
		return uint64(off)
	}
	procOf := func(th *target.Thread) uint64 {
		p, err := tg.ReadU64(th.Addr + lay("struct thread", "td_proc"))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	init := procOf(ths[1]) // pid 1
	cases := []struct {
		name   string
		va     uint64
		val    uint64
		expect string
	}{
		{"allproc cycle", init + lay("struct proc", "p_list"), init, "allproc: cycle"},
		{"p_threads cycle", ths[4].Addr + lay("struct thread", "td_plist"), ths[3].Addr, "p_threads cycle"},
		{"wild proc pointer", init + lay("struct proc", "p_list"), 0xfffff8001f000000, "is not in the dump"},
		{"unmapped proc pointer", init + lay("struct proc", "p_list"), 0xfffffe0012340000, "0xfffffe0012340000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			core := patchFull(t, f, c.va, c.val)
			bad, err := target.Open(core, kernel, target.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer bad.Close()
			// The walk keeps what it could read before the damage (the
			// crashed thread among it) and says what it skipped.
			got, err := bad.Threads()
			if err != nil {
				t.Fatalf("Threads(): %v, want the threads read before the damage", err)
			}
			if len(got) == 0 || len(got) > len(ths) || !got[0].Crashed {
				t.Errorf("Threads() = %d threads (first crashed: %v), want 1..%d with the crashed one first", len(got), len(got) > 0 && got[0].Crashed, len(ths))
			}
			found := false
			for _, w := range bad.Warnings() {
				found = found || strings.Contains(w, c.expect)
			}
			if !found {
				t.Errorf("Warnings() = %q, want one containing %q", bad.Warnings(), c.expect)
			}
		})
	}
}

func TestCrashedRegisters(t *testing.T) {
	// The crashed thread starts from dumppcb: rip = pcb_rip and rsp one
	// slot above pcb_rsp (the slot of savectx's return address).
	tg := open(t, fixture{"nofp", "assert", "mini"}, target.Options{})
	th, err := tg.CrashedThread()
	if err != nil || th == nil {
		t.Fatalf("crashed thread: %v %v", th, err)
	}
	a, _ := tg.Kernel.Addr("dumppcb")
	rsp, err := tg.ReadU64(a + 40) // pcb_rsp: sixth member, pcb.h
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := th.Regs.Get(amd64.RSP); got != rsp+8 {
		t.Errorf("rsp %#x, want pcb_rsp+8 = %#x", got, rsp+8)
	}
	rip, err := tg.ReadU64(a + 56) // pcb_rip: eighth member
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := th.Regs.Get(amd64.RIP); got != rip {
		t.Errorf("rip %#x, want dumppcb.pcb_rip = %#x", got, rip)
	}
}

func BenchmarkOpenAndThreads(b *testing.B) {
	core, kernel := fixture{"fp", "assert", "mini"}.paths(b)
	for b.Loop() {
		tg, err := target.Open(core, kernel, target.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tg.Threads(); err != nil {
			b.Fatal(err)
		}
		tg.Close()
	}
}

func TestVersionMismatch(t *testing.T) {
	f := fixture{"fp", "assert", "full"}
	tg := open(t, f, target.Options{})
	a, _ := tg.Kernel.Addr("version")
	pa, err := tg.Translate(a)
	if err != nil {
		t.Fatal(err)
	}
	core, kernel := f.paths(t)
	bad := testfixture.PatchELFCore(t, core, pa, []byte("X"))
	_, err = target.Open(bad, kernel, target.Options{})
	if err == nil || !strings.Contains(err.Error(), `does not match this dump: the dump's version string is "XreeBSD 14.1-RELEASE`) {
		t.Fatalf("open with a changed version string: %v", err)
	}
}
