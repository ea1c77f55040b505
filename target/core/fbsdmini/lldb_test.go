package fbsdmini

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/target/core"
)

// lldbDump is one of LLDB's real FreeBSD minidumps
// (testdata/freebsd-lldb/fetch.sh) with what is known about it.
type lldbDump struct {
	arch     string
	version  uint32
	machine  elf.Machine
	hz       int32  // LLDB's TestFreeBSDKernelVMCore.py expectation
	missing  uint64 // pages the bitmap promises that the file lacks
	ptrSize  int    // bytes of a kernel pointer
	pid      int32  // the crashed thread's process, as LLDB names it
	comm     string
	threads  int // LLDB's numthread: the threads on allproc's lists
	availOff int // file offset of the header's dumpavailsize
}

var lldbDumps = []lldbDump{
	{arch: "amd64", version: 3, machine: elf.EM_X86_64, hz: 100, missing: 1393, ptrSize: 8, pid: 800, comm: "sysctl", threads: 16, availOff: 0x40},
	{arch: "arm64", version: 2, machine: elf.EM_AARCH64, hz: 1000, missing: 2323, ptrSize: 8, pid: 939, comm: "sysctl", threads: 10, availOff: 0x48},
	{arch: "i386", version: 2, machine: elf.EM_386, hz: 100, missing: 912, ptrSize: 4, pid: 806, comm: "sysctl", threads: 13, availOff: 0x30},
}

// lldbSymbols reads the symbol table of LLDB's symbol-only kernel.
func lldbSymbols(t *testing.T, arch string) map[string]uint64 {
	t.Helper()
	ef, err := elf.Open(testfixture.FreeBSDLLDB(t, "kernel-"+arch))
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	syms, err := ef.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]uint64{}
	for _, s := range syms {
		m[s.Name] = s.Value
	}
	return m
}

func TestLLDBMinidumps(t *testing.T) {
	for _, ld := range lldbDumps {
		t.Run(ld.arch, func(t *testing.T) {
			path := testfixture.FreeBSDLLDB(t, "vmcore-"+ld.arch+"-minidump")
			syms := lldbSymbols(t, ld.arch)
			cd, err := core.Open(path)
			if err != nil {
				t.Fatalf("core.Open: %v", err)
			}
			defer cd.Close()
			if want := fmt.Sprintf("FreeBSD %s minidump v%d", ld.arch, ld.version); cd.Format() != want {
				t.Errorf("Format = %q, want %q", cd.Format(), want)
			}
			m, ok := core.As[core.Machiner](cd)
			if !ok || m.Machine() != ld.machine {
				t.Errorf("Machine = %v (Machiner %v), want %v", m, ok, ld.machine)
			}
			d, ok := core.As[*Dump](cd)
			if !ok {
				t.Fatal("core.Open did not give a *fbsdmini.Dump")
			}
			if d.Header().Arch != ld.arch {
				t.Errorf("Header().Arch = %q", d.Header().Arch)
			}
			w, ok := core.As[core.Warner](cd)
			if !ok {
				t.Fatal("not a core.Warner")
			}
			warns := w.Warnings()
			t.Logf("%s: %d pages, %d missing; warnings %q", ld.arch, d.Pages(), d.MissingPages(), warns)
			if d.MissingPages() != ld.missing {
				t.Errorf("MissingPages = %d, want %d", d.MissingPages(), ld.missing)
			}
			if pages, held := countPages(t, path, ld.availOff); d.Pages() != pages || d.MissingPages() != pages-held {
				t.Errorf("Pages %d, MissingPages %d; counted straight from the file: %d pages, %d of them whole in the file",
					d.Pages(), d.MissingPages(), pages, held)
			}
			if ld.missing == 0 {
				if len(warns) != 0 {
					t.Errorf("Warnings = %q, want none", warns)
				}
			} else {
				want := fmt.Sprintf("the file ends early: %d of the %d pages the bitmap marks as dumped are missing (file holds %d after offset ",
					ld.missing, d.Pages(), d.Pages()-ld.missing)
				if len(warns) != 1 || !strings.HasPrefix(warns[0], want) {
					t.Errorf("Warnings = %q, want one starting %q", warns, want)
				}
			}

			// hz, as LLDB reads it.
			va, ok := syms["hz"]
			if !ok {
				t.Fatal("kernel has no hz symbol")
			}
			var b [4]byte
			if err := readKVA(d, va, b[:]); err != nil {
				t.Fatalf("reading hz at %#x: %v", va, err)
			}
			hz := int32(binary.LittleEndian.Uint32(b[:]))
			t.Logf("%s: hz at va %#x = %d", ld.arch, va, hz)
			if hz != ld.hz {
				t.Errorf("hz = %d, want %d", hz, ld.hz)
			}

			checkCrashedThread(t, d, ld, syms)

			// On machines with a direct map, it reaches the same bytes.
			h := d.Header()
			if h.DmapEnd > h.DmapBase {
				pa, _, err := d.TranslateKernel(va)
				if err != nil {
					t.Fatal(err)
				}
				var c [4]byte
				if err := readKVA(d, h.DmapBase+pa-h.DmapPhys, c[:]); err != nil || c != b {
					t.Errorf("hz through the direct map = %x, %v; want %x", c, err, b)
				}
			}

			// A page past the end of the file is absent, and says why.
			if ld.missing > 0 {
				checkMissingPage(t, d)
			}
		})
	}
}

// countPages counts, straight from the file at path, the pages that the
// bitmap marks as dumped and how many of them the file holds whole: the
// header's section sizes give where the pages start (all three dumps have
// a dump_avail section).
func countPages(t *testing.T, path string, availOff int) (pages, held uint64) {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		t.Fatal(err)
	}
	h := make([]byte, pageSize)
	if _, err := fh.ReadAt(h, 0); err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	rp := func(v uint32) int64 { return int64(v+pageSize-1) &^ (pageSize - 1) }
	bitmapOff := pageSize + rp(le.Uint32(h[28:])) + rp(le.Uint32(h[availOff:]))
	start := bitmapOff + rp(le.Uint32(h[32:])) + rp(le.Uint32(h[36:]))
	bm := make([]byte, le.Uint32(h[32:]))
	if _, err := fh.ReadAt(bm, bitmapOff); err != nil {
		t.Fatal(err)
	}
	for _, c := range bm {
		pages += uint64(bits.OnesCount8(c))
	}
	return pages, uint64(st.Size()-start) / pageSize
}

// checkCrashedThread walks the kernel's process list as LLDB's FreeBSD
// kernel plugin does, with the structure offsets the kernel exports
// (proc_off_*, thread_off_*, read from the dump since the symbol-only
// kernels hold no section contents), and finds the thread whose td_tid is
// dumptid: LLDB names it "(pid N) comm (crashed)". On the i386 dump that
// thread lies in the page the file ends inside.
func checkCrashedThread(t *testing.T, d *Dump, ld lldbDump, syms map[string]uint64) {
	t.Helper()
	// A read that fails because the dump lacks the page ends the walk of
	// that list (and fails the test); other errors end the test at once.
	var missing []error
	read := func(va uint64, b []byte) bool {
		err := readKVA(d, va, b)
		var np *core.NotPresentError
		if errors.As(err, &np) {
			missing = append(missing, err)
			return false
		}
		if err != nil {
			t.Fatalf("reading %#x: %v", va, err)
		}
		return true
	}
	i32 := func(va uint64) (int32, bool) {
		var b [4]byte
		ok := read(va, b[:])
		return int32(binary.LittleEndian.Uint32(b[:])), ok
	}
	ptr := func(va uint64) uint64 {
		b := make([]byte, 8)
		if !read(va, b[:ld.ptrSize]) {
			return 0
		}
		return binary.LittleEndian.Uint64(b)
	}
	str := func(va uint64) string {
		b := make([]byte, 20) // MAXCOMLEN + 1
		read(va, b)
		if i := bytes.IndexByte(b, 0); i >= 0 {
			b = b[:i]
		}
		return string(b)
	}
	off := map[string]uint64{}
	for _, n := range []string{"proc_off_p_comm", "proc_off_p_list", "proc_off_p_pid", "proc_off_p_threads",
		"thread_off_td_plist", "thread_off_td_tid"} {
		v, ok := i32(syms[n])
		if !ok || v < 0 || v > 1<<16 {
			t.Fatalf("%s = %d (%v)", n, v, missing)
		}
		off[n] = uint64(v)
	}
	tid, ok := i32(syms["dumptid"])
	if !ok {
		t.Fatalf("dumptid: %v", missing)
	}
	procs, threads := 0, 0
	var found, named []string
	want := fmt.Sprintf("(pid %d) %s", ld.pid, ld.comm)
	for p := ptr(syms["allproc"]); p != 0 && procs < 10000; p = ptr(p + off["proc_off_p_list"]) {
		procs++
		pid, _ := i32(p + off["proc_off_p_pid"])
		name := fmt.Sprintf("(pid %d) %s", pid, str(p+off["proc_off_p_comm"]))
		if name == want {
			named = append(named, name)
		}
		for td := ptr(p + off["proc_off_p_threads"]); td != 0 && threads < 100000; td = ptr(td + off["thread_off_td_plist"]) {
			threads++
			if v, ok := i32(td + off["thread_off_td_tid"]); ok && v == tid {
				found = append(found, name)
			}
		}
	}
	var first error
	if len(missing) > 0 {
		first = missing[0]
	}
	t.Logf("%s: dumptid %d; %d processes, %d threads; dumptid's thread in %q; %d reads hit absent pages, first: %v",
		ld.arch, tid, procs, threads, found, len(missing), first)
	if len(named) != 1 {
		t.Errorf("allproc holds %d processes named %q, want 1", len(named), want)
	}
	if len(found) != 1 || found[0] != want {
		t.Errorf("thread %d (dumptid) is in %q, want one in %q", tid, found, want)
	}
	if threads != ld.threads || len(missing) > 0 {
		t.Errorf("allproc holds %d threads, want %d; %d reads hit absent pages", threads, ld.threads, len(missing))
	}
}

// checkMissingPage finds the last page that the bitmap marks as dumped and
// checks that reading it gives a NotPresentError naming the early end.
func checkMissingPage(t *testing.T, d *Dump) {
	t.Helper()
	for w := len(d.bitmap) - 1; w >= 0; w-- {
		if d.bitmap[w] == 0 {
			continue
		}
		bit := uint64(w)*64 + uint64(63-bits.LeadingZeros64(d.bitmap[w]))
		pfn := bit
		for _, r := range d.ranges {
			if bit >= r.firstBit && bit < r.firstBit+r.end-r.start {
				pfn = r.start + bit - r.firstBit
			}
		}
		var b [8]byte
		err := d.ReadPhys(b[:], pfn<<pageShift)
		var np *core.NotPresentError
		if !errors.As(err, &np) || !strings.Contains(np.Reason, "file ends early") {
			t.Errorf("ReadPhys of the last dumped page %#x: %v, want a NotPresentError saying the file ends early", pfn<<pageShift, err)
		}
		return
	}
	t.Error("bitmap is empty")
}

// lldbHeads returns the first KB of each of LLDB's minidumps that is
// present, for fuzz seeds.
func lldbHeads() [][]byte {
	var out [][]byte
	for _, ld := range lldbDumps {
		fh, err := os.Open(testfixture.FreeBSDLLDBRoot() + "/vmcore-" + ld.arch + "-minidump")
		if err != nil {
			continue
		}
		b := make([]byte, 1024)
		n, _ := fh.ReadAt(b, 0)
		fh.Close()
		out = append(out, b[:n])
	}
	return out
}
