package freebsd_test

import (
	"debug/elf"
	"fmt"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/session/stack"
	"github.com/kdap/kdap/target"
	"github.com/kdap/kdap/target/arch/amd64"
	"github.com/kdap/kdap/unwind"
)

// Two build variants of the fixture kernel, each with one difference from
// the fp build (testdata/README.md, "Build variants"). The ground truth
// below is written from the fixture kernel's source and its Makefile.

// fp-stoppcbs-ptr: stoppcbs is a struct pcb * set at boot, as in FreeBSD
// 14.0 and later. hammer_time() allocates it with uma_small_alloc() right
// after the message buffer took the page allocator's first two pages
// (physical 0x800000 and 0x801000), so it is the direct-map address of the
// third page. cpustop_handler() loads these values into the callee-saved
// registers just before savectx(&stoppcbs[1]) (KDAP_STOP_* in
// sys/kdap_kern.h).
const stopPCBsPtr = 0xfffff80000802000

var stopRegs = []struct {
	name string
	reg  int
	val  uint64
}{
	{"rbx", amd64.RBX, 0x6b6461700000000b},
	{"r12", amd64.R12, 0x6b64617000000012},
	{"r13", amd64.R13, 0x6b64617000000013},
	{"r14", amd64.R14, 0x6b64617000000014},
	{"r15", amd64.R15, 0x6b64617000000015},
}

// rand_harvestq, tid 100007, is the thread on CPU 1. Kernel stacks are
// handed out in tid order from 0xfffffe0000001000 (tid 100001), one every
// five pages (a guard page and KSTACK_PAGES = 4), so its stack is the
// seventh.
const (
	stoppedTID     = 100007
	stoppedStackLo = 0xfffffe0000001000 + (stoppedTID-100001)*5*4096
	stoppedStackHi = stoppedStackLo + 4*4096
)

// frameWant is one frame of a README call chain.
type frameWant struct {
	fn      string
	inlined bool
	file    string
	line    int
}

const src = "/usr/src/sys/"

// The chain of tid 100007 from stoppcbs[1] (README, identical in every
// build: the variants keep every source line where it was).
var stoppedChain = []frameWant{
	{"cpustop_handler", false, src + "amd64/amd64/mp_machdep.c", 26},
	{"ipi_nmi_handler", false, src + "amd64/amd64/mp_machdep.c", 48},
	{"random_fortuna_process_event", false, src + "dev/random/random_harvestq.c", 35},
	{"random_sources_feed", false, src + "dev/random/random_harvestq.c", 45},
	{"random_kthread", false, src + "dev/random/random_harvestq.c", 56},
	{"fork_exit", false, src + "kern/kern_fork.c", 14},
	{"fork_trampoline", false, src + "amd64/amd64/cpu_switch.S", 91},
}

// The chain of the crashed thread, tid 100016, in the assert runs.
var crashedAssertChain = []frameWant{
	{"doadump", false, src + "kern/kern_shutdown.c", 32},
	{"kern_reboot", false, src + "kern/kern_shutdown.c", 44},
	{"vpanic", false, src + "kern/kern_shutdown.c", 70},
	{"panic", false, src + "kern/kern_shutdown.c", 79},
	{"kdap_thread_name_ok", true, src + "kern/kern_kdap.c", 100},
	{"kdap_check_thread", false, src + "kern/kern_kdap.c", 111},
	{"sysctl_kdap_handler", false, src + "kern/kern_kdap.c", 164},
	{"sysctl_root", false, src + "kern/kern_sysctl.c", 30},
	{"userland_sysctl", false, src + "kern/kern_sysctl.c", 50},
	{"sys___sysctl", false, src + "kern/kern_sysctl.c", 62},
	{"syscallenter", false, src + "amd64/amd64/trap.c", 86},
	{"amd64_syscall", false, src + "amd64/amd64/trap.c", 97},
	{"kdap_user_start", false, src + "amd64/amd64/trap.c", 110},
	{"fork_exit", false, src + "kern/kern_fork.c", 14},
	{"fork_trampoline", false, src + "amd64/amd64/cpu_switch.S", 91},
}

// checkChain unwinds th and compares its frames (trap markers aside) with
// want. Without DWARF there are no lines and no inlined frames, so only
// the names of the physical frames are compared.
func checkChain(t *testing.T, tg *target.Target, th *target.Thread, want []frameWant, noDWARF bool) []unwind.Frame {
	t.Helper()
	u, err := stack.New(tg)
	if err != nil {
		t.Fatal(err)
	}
	frames, stop := u.Backtrace(th)
	if stop.Kind != unwind.StopEndOfStack {
		t.Errorf("tid %d: unwinding stopped with %q, want the end of the stack", th.TID, stop.Message)
	}
	var got []unwind.Frame
	for _, f := range frames {
		if f.Kind != unwind.KindTrap {
			got = append(got, f)
		}
	}
	if noDWARF {
		var w []frameWant
		for _, f := range want {
			if !f.inlined {
				w = append(w, frameWant{fn: f.fn})
			}
		}
		want = w
	}
	if len(got) != len(want) {
		t.Fatalf("tid %d: %d frames, want %d:\n%s", th.TID, len(got), len(want), describeFrames(got))
	}
	for i, w := range want {
		g := got[i]
		if g.Function != w.fn || (!noDWARF && (g.Inlined != w.inlined || g.File != w.file || g.Line != w.line)) {
			t.Errorf("tid %d frame %d: %s inlined=%v %s:%d, want %s inlined=%v %s:%d",
				th.TID, i, g.Function, g.Inlined, g.File, g.Line, w.fn, w.inlined, w.file, w.line)
		}
	}
	return got
}

func describeFrames(fs []unwind.Frame) string {
	var s string
	for i, f := range fs {
		s += fmt.Sprintf("  #%d %s inlined=%v %s:%d\n", i, f.Function, f.Inlined, f.File, f.Line)
	}
	return s
}

// checkThreadTable compares the thread list with wantThreads
// (freebsd_test.go): the variants run the same threads as the fp build.
func checkThreadTable(t *testing.T, ths []*target.Thread) {
	t.Helper()
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
	}
}

// elfSymbols reads a variant's kernel.debug with debug/elf, apart from
// kdap's own symbol table.
func elfSymbols(t *testing.T, build string) map[string]elf.Symbol {
	t.Helper()
	ef, err := elf.Open(testfixture.Path(t, "fbsdkern/fixtures/"+build+"/kernel.debug"))
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	syms, err := ef.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]elf.Symbol{}
	for _, s := range syms {
		m[s.Name] = s
	}
	return m
}

// TestStopPCBsPointer: in a kernel whose stoppcbs is a pointer, the thread
// on the stopped CPU gets its registers from the PCBs it points at, with
// DWARF (the variable's type) and without (the symbol's size).
func TestStopPCBsPointer(t *testing.T) {
	const build = "fp-stoppcbs-ptr"
	syms := elfSymbols(t, build)
	// The fixture is what it should be: stoppcbs is one pointer, and
	// cpustop_handler is where the saved pc must lie.
	sp, ok := syms["stoppcbs"]
	if !ok || sp.Size != 8 || elf.ST_TYPE(sp.Info) != elf.STT_OBJECT {
		t.Fatalf("%s: stoppcbs symbol %+v, want an 8-byte object", build, sp)
	}
	handler, ok := syms["cpustop_handler"]
	if !ok || handler.Size == 0 {
		t.Fatalf("%s: no cpustop_handler symbol", build)
	}
	for _, kind := range []string{"mini", "full"} {
		for _, noDWARF := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/nodwarf=%v", kind, noDWARF), func(t *testing.T) {
				tg := open(t, fixture{build, "assert", kind}, target.Options{NoDWARF: noDWARF})
				if p, err := tg.ReadU64(sp.Value); err != nil || p != stopPCBsPtr {
					t.Errorf("stoppcbs = %#x, %v; want %#x", p, err, uint64(stopPCBsPtr))
				}
				ths, err := tg.Threads()
				if err != nil {
					t.Fatal(err)
				}
				checkThreadTable(t, ths)
				th, err := tg.Thread(stoppedTID)
				if err != nil {
					t.Fatal(err)
				}
				if th.RegsFrom != "stoppcbs[1]" || th.CPU != 1 || th.RegsErr != "" {
					t.Fatalf("tid %d: registers from %q (cpu %d, %q), want stoppcbs[1]", th.TID, th.RegsFrom, th.CPU, th.RegsErr)
				}
				for _, r := range stopRegs {
					if v, ok := th.Regs.Get(r.reg); !ok || v != r.val {
						t.Errorf("tid %d: %s = %#x (%v), want %#x", th.TID, r.name, v, ok, r.val)
					}
				}
				if pc, _ := th.Regs.Get(amd64.RIP); pc <= handler.Value || pc >= handler.Value+handler.Size {
					t.Errorf("tid %d: rip %#x, want inside cpustop_handler [%#x, %#x)", th.TID, pc, handler.Value, handler.Value+handler.Size)
				}
				if rsp, _ := th.Regs.Get(amd64.RSP); rsp < stoppedStackLo || rsp >= stoppedStackHi {
					t.Errorf("tid %d: rsp %#x outside its kernel stack [%#x, %#x)", th.TID, rsp, uint64(stoppedStackLo), uint64(stoppedStackHi))
				}
				frames := checkChain(t, tg, th, stoppedChain, noDWARF)
				// cpustop_handler's prologue saved the caller's registers
				// before the known values were loaded: CFI gives its
				// caller its own.
				if len(frames) > 1 {
					for _, r := range stopRegs {
						if v, ok := frames[1].Regs.Get(r.reg); !ok || v == r.val {
							t.Errorf("frame 1 (%s): %s = %#x (known %v), want the caller's own value", frames[1].Function, r.name, v, ok)
						}
					}
				}
			})
		}
	}
}

// fp-kernphys: the image, linked at KERNBASE + 2 MB, is loaded at physical
// 0x1200000 instead of 0x200000 (Makefile KERNPHYS_ALT), and KERNBASE +
// 2 MB maps there, as when loader.efi puts a FreeBSD 13.1+ kernel wherever
// UEFI gave it memory.
const (
	kernphysImageVA = 0xffffffff80200000
	kernphysImagePA = 0x1200000
)

// TestKernphysFullDump opens the full dump of the kernel loaded away from
// physical 2 MB: the page tables are found, kernel image addresses
// translate to the moved image, globals read right and the crashed thread
// unwinds.
func TestKernphysFullDump(t *testing.T) {
	const build = "fp-kernphys"
	syms := elfSymbols(t, build)
	for _, noDWARF := range []bool{false, true} {
		t.Run(fmt.Sprintf("nodwarf=%v", noDWARF), func(t *testing.T) {
			tg := open(t, fixture{build, "assert", "full"}, target.Options{NoDWARF: noDWARF})
			// The image's bytes are where the loader put them, and not
			// where a kernel loaded at 2 MB would have them.
			ver := syms["version"]
			if pa, err := tg.Translate(ver.Value); err != nil || pa != ver.Value-kernphysImageVA+kernphysImagePA {
				t.Errorf("version at %#x translates to %#x, %v; want %#x", ver.Value, pa, err, ver.Value-kernphysImageVA+kernphysImagePA)
			}
			b := make([]byte, 20)
			if err := tg.Dump.ReadPhys(b, ver.Value-kernphysImageVA+kernphysImagePA); err != nil || string(b) != "FreeBSD 14.1-RELEASE" {
				t.Errorf("physical %#x: %q, %v", ver.Value-kernphysImageVA+kernphysImagePA, b, err)
			}
			if err := tg.Dump.ReadPhys(b, ver.Value-kernphysImageVA+0x200000); err == nil && string(b) == "FreeBSD 14.1-RELEASE" {
				t.Errorf("the version string is also at physical %#x: the image did not move", ver.Value-kernphysImageVA+0x200000)
			}
			// KPML4phys holds boot_pml4's physical address.
			want := syms["boot_pml4"].Value - kernphysImageVA + kernphysImagePA
			if v, err := tg.ReadU64(syms["KPML4phys"].Value); err != nil || v != want {
				t.Errorf("KPML4phys = %#x, %v; want %#x", v, err, want)
			}
			// Globals set at build time and at run time.
			for _, c := range []struct {
				sym  string
				want uint32
			}{
				{"hz", 1000}, {"mp_ncpus", 2}, {"dumptid", 100016}, {"stopped_cpus", 2},
			} {
				if v, err := tg.ReadU32(syms[c.sym].Value); err != nil || v != c.want {
					t.Errorf("%s = %d, %v; want %d", c.sym, v, err, c.want)
				}
			}
			if s, err := tg.ReadCString(syms["osrelease"].Value, 64); err != nil || s != "14.1-RELEASE" {
				t.Errorf("osrelease = %q, %v", s, err)
			}
			if ps, err := tg.OS.PanicString(); err != nil || ps != assertPanic {
				t.Errorf("panic string %q, %v; want %q", ps, err, assertPanic)
			}
			ths, err := tg.Threads()
			if err != nil {
				t.Fatal(err)
			}
			checkThreadTable(t, ths)
			th, err := tg.CrashedThread()
			if err != nil || th == nil {
				t.Fatalf("crashed thread: %v, %v", th, err)
			}
			checkChain(t, tg, th, crashedAssertChain, noDWARF)
		})
	}
}
