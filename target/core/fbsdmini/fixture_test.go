package fbsdmini

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/target/arch/amd64"
	"github.com/kdap/kdap/target/core"
	"github.com/kdap/kdap/target/core/elfcore"
)

// kernelPhysBase is where the fixture kernel's link addresses start in
// physical memory: its program headers give p_paddr = p_vaddr - this.
const kernelPhysBase = 0xffffffff80000000

// fixtureDir is where the fixture dumps live, relative to testdata/.
const fixtureDir = "fbsdkern/fixtures/"

// fixture is one crash of the fixture kernel, seen through both dumps.
type fixture struct {
	name    string
	version uint32 // the minidump version the run wrote (fp/trap: dumpver=2)
}

var fixtures = []fixture{
	{"fp/assert", 3},
	{"fp/trap", 2},
	{"nofp/assert", 3},
	{"nofp/trap", 3},
}

// openFile opens a fixture file as a core.File.
func openFile(t testing.TB, rel string) core.File {
	t.Helper()
	f, err := os.Open(testfixture.Path(t, fixtureDir+rel))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return io.NewSectionReader(f, 0, st.Size())
}

// kernel holds facts read from the variant's kernel.debug with debug/elf:
// symbol addresses and the initialized bytes of the version string.
type kernel struct {
	syms    map[string]uint64
	version string
}

func loadKernel(t testing.TB, variant string) kernel {
	t.Helper()
	ef, err := elf.Open(testfixture.Path(t, fixtureDir+variant+"/kernel.debug"))
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	syms, err := ef.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	k := kernel{syms: map[string]uint64{}}
	for _, s := range syms {
		k.syms[s.Name] = s.Value
	}
	va := k.syms["version"]
	for _, sec := range ef.Sections {
		if sec.Type == elf.SHT_PROGBITS && va >= sec.Addr && va < sec.Addr+sec.Size {
			b := make([]byte, 256)
			n, _ := sec.ReadAt(b, int64(va-sec.Addr))
			k.version = string(b[:bytes.IndexByte(b[:n], 0)])
		}
	}
	if k.version == "" {
		t.Fatal("kernel.debug: no initialized version string")
	}
	return k
}

// machine opens both dumps of one crash.
func machine(t testing.TB, fx fixture) (*Dump, *elfcore.Dump, kernel) {
	t.Helper()
	variant := strings.Split(fx.name, "/")[0]
	k := loadKernel(t, variant)
	mini, err := Open(openFile(t, fx.name+"/vmcore.mini"))
	if err != nil {
		t.Fatalf("%s minidump: %v", fx.name, err)
	}
	full, err := elfcore.Open(openFile(t, fx.name+"/vmcore.full"))
	if err != nil {
		t.Fatalf("%s full dump: %v", fx.name, err)
	}
	return mini, full, k
}

// readVA reads virtual memory page by page with translate and readPhys.
func readVA(translate func(va uint64) (uint64, uint64, error), readPhys func(b []byte, pa uint64) error, va uint64, b []byte) error {
	for len(b) > 0 {
		pa, size, err := translate(va)
		if err != nil {
			return err
		}
		n := size - va&(size-1)
		if n > uint64(len(b)) {
			n = uint64(len(b))
		}
		if err := readPhys(b[:n], pa); err != nil {
			return err
		}
		b, va = b[n:], va+n
	}
	return nil
}

// readMini reads kernel virtual memory through the minidump's own map.
func readMini(d *Dump, va uint64, b []byte) error {
	return readVA(d.TranslateKernel, d.ReadPhys, va, b)
}

// readFullVA reads kernel virtual memory from the full dump with a 4-level
// walk from the kernel's KPML4phys.
func readFullVA(full *elfcore.Dump, root, va uint64, b []byte) error {
	walk := func(va uint64) (uint64, uint64, error) {
		return amd64.Walk(func(pa uint64, b []byte) error { return full.ReadPhys(b, pa) }, root, 4, va)
	}
	return readVA(walk, full.ReadPhys, va, b)
}

func kpml4(t testing.TB, full *elfcore.Dump, k kernel) uint64 {
	t.Helper()
	var b [8]byte
	if err := full.ReadPhys(b[:], k.syms["KPML4phys"]-kernelPhysBase); err != nil {
		t.Fatalf("reading KPML4phys: %v", err)
	}
	root := binary.LittleEndian.Uint64(b[:])
	if root == 0 || root&0xfff != 0 {
		t.Fatalf("KPML4phys = %#x, not a page address", root)
	}
	return root
}

func TestFixtureHeaders(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			mini, full, _ := machine(t, fx)
			h := mini.Header()
			// FreeBSD amd64 vmparam.h, 4-level paging: VM_MIN_KERNEL_ADDRESS,
			// DMAP_MIN_ADDRESS, DMAP_MAX_ADDRESS.
			if h.Version != fx.version || h.KernBase != 0xfffffe0000000000 ||
				h.DmapBase != 0xfffff80000000000 || h.DmapEnd != 0xfffffc0000000000 {
				t.Errorf("header = %+v", h)
			}
			if got := mini.Format(); got != fmt.Sprintf("FreeBSD amd64 minidump v%d", fx.version) {
				t.Errorf("Format = %q", got)
			}
			if fx.version == 3 {
				// Every dump_avail range lies inside the full dump's memory.
				for _, r := range mini.DumpAvail() {
					var b [1]byte
					if err := full.ReadPhys(b[:], r[0]); err != nil {
						t.Errorf("dump_avail range %#x: %v", r, err)
					}
				}
				if len(mini.DumpAvail()) == 0 {
					t.Error("no dump_avail ranges")
				}
			}
			// testdata/README.md: every minidump holds 1001 pages.
			if mini.Pages() != 1001 {
				t.Errorf("Pages = %d, want 1001", mini.Pages())
			}
		})
	}
}

// The minidump's map and a page-table walk over the full dump of the same
// crash must agree on every kernel page the minidump maps, and on the
// bytes there.
func TestFixtureMatchesFullDump(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			mini, full, k := machine(t, fx)
			root := kpml4(t, full, k)
			walk := func(pa uint64, b []byte) error { return full.ReadPhys(b, pa) }

			// Named variables: the version string first.
			b := make([]byte, len(k.version))
			if err := readMini(mini, k.syms["version"], b); err != nil || string(b) != k.version {
				t.Errorf("version via minidump = %q, %v; want %q", b, err, k.version)
			}
			for _, sym := range []string{"version", "allproc", "msgbufp", "proc0", "thread0", "dumppcb", "KPML4phys"} {
				va, ok := k.syms[sym]
				if !ok {
					t.Errorf("kernel.debug has no %s", sym)
					continue
				}
				m, f := make([]byte, 64), make([]byte, 64)
				if err := readMini(mini, va, m); err != nil {
					t.Errorf("%s via minidump: %v", sym, err)
				}
				if err := readFullVA(full, root, va, f); err != nil {
					t.Errorf("%s via full dump: %v", sym, err)
				}
				if !bytes.Equal(m, f) {
					t.Errorf("%s differs:\nminidump %x\nfull     %x", sym, m, f)
				}
			}

			// Every page the minidump's map maps (kernel stacks and heap at
			// 0xfffffe..., samples of the kernel image's 2 MB pages)
			// translates to the same page both ways, with the same bytes.
			n, stacks, absent := 0, 0, 0
			for _, va := range mappedPages(t, mini) {
				pm, _, err := mini.TranslateKernel(va)
				if err != nil {
					t.Fatalf("TranslateKernel(%#x): %v", va, err)
				}
				pf, _, err := amd64.Walk(walk, root, 4, va)
				if err != nil || pf != pm {
					t.Fatalf("va %#x: minidump says pa %#x, full-dump walk %#x (%v)", va, pm, pf, err)
				}
				m, f := make([]byte, 4096), make([]byte, 4096)
				errM, errF := mini.ReadPhys(m, pm), full.ReadPhys(f, pf)
				if errM != nil || errF != nil {
					// Only pages outside the machine's memory chunks (like
					// page 0, which the kernel's first 2 MB page maps) may be
					// missing, and then from both dumps.
					var npM, npF *core.NotPresentError
					if !errors.As(errM, &npM) || !errors.As(errF, &npF) || inDumpAvail(mini, pm) {
						t.Fatalf("va %#x pa %#x: minidump: %v; full dump: %v", va, pm, errM, errF)
					}
					absent++
					continue
				}
				if !bytes.Equal(m, f) {
					t.Fatalf("va %#x pa %#x: page contents differ", va, pm)
				}
				if va < kernelPhysBase {
					stacks++
				}
				n++
			}
			if stacks < 8 || n-stacks < 8 {
				t.Errorf("compared %d pages, %d below the kernel image: too few", n, stacks)
			}
			t.Logf("%d pages compared, %d of them at 0xfffffe..., %d outside the dump", n, stacks, absent)

			// The direct map reaches the same bytes as the kernel map.
			pa, _, _ := mini.TranslateKernel(k.syms["version"])
			b = make([]byte, len(k.version))
			if err := readMini(mini, mini.Header().DmapBase+pa, b); err != nil || string(b) != k.version {
				t.Errorf("version via the direct map = %q, %v", b, err)
			}
		})
	}
}

// mappedPages lists the 4 KiB pages that the minidump's page map maps, read
// straight from the page-map section at the offset the layout gives.
func mappedPages(t testing.TB, d *Dump) []uint64 {
	t.Helper()
	h := d.Header()
	off := pageSize + roundPage(uint64(h.MsgBufSize)) + roundPage(uint64(h.DumpAvailSize)) + roundPage(uint64(h.BitmapSize))
	pm := make([]byte, h.PmapSize)
	if _, err := d.f.ReadAt(pm, int64(off)); err != nil {
		t.Fatal(err)
	}
	var vas []uint64
	for i := 0; i < len(pm); i += 8 {
		pde := binary.LittleEndian.Uint64(pm[i:])
		if pde&pteValid == 0 {
			continue
		}
		base := h.KernBase + uint64(i/8)<<pdrShift
		if pde&ptePS != 0 {
			for k := uint64(0); k < 32; k++ {
				vas = append(vas, base+k<<16)
			}
			continue
		}
		pt := make([]byte, pageSize)
		if err := d.ReadPhys(pt, pde&pgFrame); err != nil {
			t.Fatalf("page table of PDE %d: %v", i/8, err)
		}
		for j := 0; j < pageSize; j += 8 {
			if binary.LittleEndian.Uint64(pt[j:])&pteValid != 0 {
				vas = append(vas, base+uint64(j/8)<<pageShift)
			}
		}
	}
	return vas
}

// inDumpAvail reports whether pa lies in the minidump's dump_avail ranges
// (version 3; older versions do not record them).
func inDumpAvail(mini *Dump, pa uint64) bool {
	if mini.Header().Version < 3 {
		return false
	}
	for _, r := range mini.DumpAvail() {
		if pa >= r[0] && pa < r[1] {
			return true
		}
	}
	return false
}

// The message buffer section holds the bytes at msgbufp->msg_ptr.
func TestFixtureMsgBuf(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			mini, full, k := machine(t, fx)
			root := kpml4(t, full, k)
			var p [8]byte
			if err := readFullVA(full, root, k.syms["msgbufp"], p[:]); err != nil {
				t.Fatal(err)
			}
			// struct msgbuf (sys/sys/msgbuf.h): char *msg_ptr; u_int
			// msg_magic; u_int msg_size; ...
			var mb [16]byte
			if err := readFullVA(full, root, binary.LittleEndian.Uint64(p[:]), mb[:]); err != nil {
				t.Fatal(err)
			}
			ptr, magic, size := binary.LittleEndian.Uint64(mb[:]), binary.LittleEndian.Uint32(mb[8:]), binary.LittleEndian.Uint32(mb[12:])
			if magic != 0x063062 { // MSG_MAGIC
				t.Errorf("msg_magic = %#x", magic)
			}
			if size != mini.Header().MsgBufSize {
				t.Errorf("msg_size %d, header msgbufsize %d", size, mini.Header().MsgBufSize)
			}
			want := make([]byte, size)
			if err := readFullVA(full, root, ptr, want); err != nil {
				t.Fatal(err)
			}
			if got := mini.MsgBuf(); !bytes.Equal(got, want) {
				t.Errorf("MsgBuf differs from msgbufp->msg_ptr (%d vs %d bytes)", len(got), len(want))
			}
			if !bytes.Contains(mini.MsgBuf(), []byte("panic")) {
				t.Error("message buffer does not mention the panic")
			}
		})
	}
}

// Corrupt copies of a real minidump give clear errors.
func TestFixtureCorrupt(t *testing.T) {
	orig, err := os.ReadFile(testfixture.Path(t, fixtureDir+"fp/assert/vmcore.mini"))
	if err != nil {
		t.Fatal(err)
	}
	good := openBytes(t, orig)
	h := good.Header()
	le := binary.LittleEndian
	bitmapOff := pageSize + roundPage(uint64(h.MsgBufSize)) + roundPage(uint64(h.DumpAvailSize))
	pmapOff := bitmapOff + roundPage(uint64(h.BitmapSize))
	// A page-table (non-PS) PDE of the kernel map.
	pdeIdx := -1
	for i := 0; i < int(h.PmapSize)/8; i++ {
		e := le.Uint64(orig[pmapOff+uint64(i)*8:])
		if e&pteValid != 0 && e&ptePS == 0 {
			pdeIdx = i
			break
		}
	}
	if pdeIdx < 0 {
		t.Fatal("no page-table PDE in the fixture")
	}
	pdeVA := h.KernBase + uint64(pdeIdx)<<pdrShift
	tests := []struct {
		name      string
		mutate    func(b []byte) []byte
		openErr   string
		warn      string // when openErr is "": the warning Open must give
		translate uint64 // when openErr and warn are "": translating this must fail
		transErr  string
	}{
		{name: "truncated in the page map", mutate: func(b []byte) []byte { return b[:len(b)/2] }, warn: "inside the kernel page map"},
		{name: "truncated in the pages", mutate: func(b []byte) []byte { return b[:len(b)-10*pageSize] },
			warn: "the file ends early: 10 of the 1001 pages the bitmap marks as dumped are missing"},
		{name: "truncated in the header", mutate: func(b []byte) []byte { return b[:pageSize+10] }, openErr: "extends past the end of the file"},
		{name: "bitmapsize past the end", mutate: func(b []byte) []byte { le.PutUint32(b[32:], uint32(len(b))); return b }, openErr: "page bitmap section"},
		{name: "bitmap with every bit set", mutate: func(b []byte) []byte {
			for i := bitmapOff; i < bitmapOff+uint64(h.BitmapSize); i++ {
				b[i] = 0xff
			}
			return b
		}, warn: "pages the bitmap marks as dumped are missing"},
		{name: "bitmapsize not a multiple of 8", mutate: func(b []byte) []byte { le.PutUint32(b[32:], h.BitmapSize+4); return b }, openErr: "is not a multiple of 8 (file offset 0x20)"},
		{name: "PDE naming a missing page", mutate: func(b []byte) []byte {
			le.PutUint64(b[pmapOff+uint64(pdeIdx)*8:], 0x7fff000000|0x3)
			return b
		}, translate: pdeVA, transErr: "page-table page 0x7fff000000 named by PDE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.mutate(append([]byte(nil), orig...))
			d, err := Open(bytes.NewReader(b))
			if tc.openErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.openErr) {
					t.Fatalf("Open error = %v, want %q", err, tc.openErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.warn != "" {
				if w := d.Warnings(); len(w) == 0 || !strings.Contains(w[0], tc.warn) {
					t.Fatalf("Warnings = %q, want the first containing %q", w, tc.warn)
				}
				return
			}
			_, _, err = d.TranslateKernel(tc.translate)
			var np *core.NotPresentError
			if err == nil || !strings.Contains(err.Error(), tc.transErr) || !errors.As(err, &np) {
				t.Fatalf("TranslateKernel error = %v, want %q wrapping NotPresentError", err, tc.transErr)
			}
		})
	}
}

// fixtureHead returns the leading sections (header to bitmap) of a real
// minidump as a fuzz seed, or nil when the fixture is missing.
func fixtureHead(f *testing.F) []byte {
	p, err := testfixture.Find(fixtureDir + "fp/assert/vmcore.mini")
	if err != nil {
		return nil
	}
	b, err := os.ReadFile(p)
	if err != nil || len(b) < 5*pageSize {
		return nil
	}
	return b[:5*pageSize]
}

func BenchmarkMinidumpOpen(b *testing.B) {
	f := openFile(b, "fp/assert/vmcore.mini")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Open(f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRandomRead8(b *testing.B) {
	d, err := Open(openFile(b, "fp/assert/vmcore.mini"))
	if err != nil {
		b.Fatal(err)
	}
	vas := mappedPages(b, d)
	rng := rand.New(rand.NewSource(1))
	var buf [8]byte
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		va := vas[rng.Intn(len(vas))] + uint64(rng.Intn(pageSize/8))*8
		var np *core.NotPresentError
		if err := readMini(d, va, buf[:]); err != nil && !errors.As(err, &np) {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}
