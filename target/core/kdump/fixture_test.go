package kdump

// Tests on real Linux dumps of one crashed QEMU guest: vmcore.elf (QEMU's
// ELF dump), vmcore.kdump-flat (QEMU's kdump-zlib output, flattened) and
// vmcore.kdump (the same rearranged by makedumpfile -R), with fixture.env
// describing the kernel. They live outside the repository, in
// $KDAP_LINUX_FIXTURE or $XDG_CACHE_HOME/kdap-linux (default
// ~/.cache/kdap-linux), one folder per kernel version.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/target/core"
	"github.com/kdap/kdap/target/core/elfcore"
	"github.com/kdap/kdap/target/core/vmcoreinfo"
)

// fixtureDirs returns the fixture folders holding fixture.env, or skips.
func fixtureDirs(t *testing.T) []string { return testfixture.LinuxDirs(t) }

// readEnv reads fixture.env's KEY=VALUE lines (shell quoting stripped).
func readEnv(t *testing.T, dir string) map[string]string {
	f, err := os.Open(filepath.Join(dir, "fixture.env"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && !strings.HasPrefix(k, "#") {
			env[k] = strings.Trim(v, `'"`)
		}
	}
	return env
}

func openFile(t *testing.T, path string) core.File {
	fh, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		testfixture.Missing(t, "Linux dump fixture file "+path, testfixture.LinuxGet)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fh.Close() })
	st, err := fh.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return &sizedFile{File: fh, size: st.Size()}
}

type sizedFile struct {
	*os.File
	size int64
}

func (f *sizedFile) Size() int64 { return f.size }

func TestFixtureAgainstELF(t *testing.T) {
	for _, dir := range fixtureDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			env := readEnv(t, dir)
			elfDump, err := elfcore.Open(openFile(t, filepath.Join(dir, "vmcore.elf")))
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"vmcore.kdump-flat", "vmcore.kdump"} {
				t.Run(name, func(t *testing.T) {
					cd, err := core.OpenFile(openFile(t, filepath.Join(dir, name)))
					if err != nil {
						t.Fatal(err)
					}
					d, ok := cd.(*Dump)
					if !ok {
						t.Fatalf("%s opened as %T (%s)", name, cd, cd.Format())
					}
					checkPages(t, d, elfDump)
					checkVMCOREINFO(t, d, elfDump, env, dir)
					checkNotes(t, d, elfDump)
				})
			}
		})
	}
}

// checkPages compares every dumped page with the ELF dump of the same
// machine, and checks that pages the dump level left out are zero pages
// (dump level 1 excludes only pages full of zeros).
func checkPages(t *testing.T, d *Dump, e *elfcore.Dump) {
	if d.DumpedPages() < 1000 {
		t.Fatalf("only %d dumped pages", d.DumpedPages())
	}
	kb := make([]byte, d.PageSize())
	eb := make([]byte, d.PageSize())
	var compared, zeroExcluded, excluded int
	present, err := d.readBitmap(d.bitmapOff, d.bitmapLen, "1st")
	if err != nil {
		t.Fatal(err)
	}
	for pfn := uint64(0); pfn < uint64(len(present))*64; pfn++ {
		if !bit(present, pfn) {
			continue
		}
		if pfn%97 == 0 && !d.present(pfn) {
			t.Fatalf("pfn %#x: present reads its 1st-bitmap bit as clear", pfn)
		}
		pa := pfn * d.PageSize()
		kerr := d.ReadPhys(kb, pa)
		var np *core.NotPresentError
		if errors.As(kerr, &np) {
			excluded++
			if d.SubHeader().DumpLevel == 1 && excluded%16 == 1 {
				if err := e.ReadPhys(eb, pa); err == nil && !bytes.Equal(eb, make([]byte, len(eb))) {
					t.Errorf("pfn %#x excluded at dump level 1 but not a zero page in the ELF dump", pfn)
				}
				zeroExcluded++
			}
			continue
		}
		if kerr != nil {
			t.Fatalf("pfn %#x: %v", pfn, kerr)
		}
		if err := e.ReadPhys(eb, pa); err != nil {
			t.Errorf("pfn %#x dumped in kdump but not readable in the ELF dump: %v", pfn, err)
			continue
		}
		if !bytes.Equal(kb, eb) {
			t.Fatalf("pfn %#x: kdump and ELF bytes differ", pfn)
		}
		compared++
	}
	if uint64(compared) != d.DumpedPages() {
		t.Errorf("compared %d pages, the dump holds %d", compared, d.DumpedPages())
	}
	t.Logf("%d pages identical to the ELF dump; %d excluded pages (%d checked zero in the ELF dump)", compared, excluded, zeroExcluded)
}

func checkVMCOREINFO(t *testing.T, d *Dump, e *elfcore.Dump, env map[string]string, dir string) {
	text := d.VMCOREINFO()
	elfText, ok := vmcoreinfo.FindNote(e.Notes())
	if !ok {
		t.Fatal("the ELF dump has no VMCOREINFO note")
	}
	if !bytes.Equal(bytes.TrimRight(text, "\x00"), bytes.TrimRight(elfText, "\x00")) {
		t.Errorf("kdump VMCOREINFO (%d bytes) differs from the ELF note (%d bytes)", len(text), len(elfText))
	}
	if saved, err := os.ReadFile(filepath.Join(dir, "vmcoreinfo.txt")); err == nil && !bytes.Equal(bytes.TrimRight(saved, "\x00\n"), bytes.TrimRight(text, "\x00\n")) {
		t.Errorf("kdump VMCOREINFO differs from vmcoreinfo.txt")
	}
	info, err := vmcoreinfo.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := info.OSRelease()
	if err != nil || rel != env["KERNEL_VERSION"] {
		t.Errorf("OSRELEASE = %q (%v), fixture.env KERNEL_VERSION = %q", rel, err, env["KERNEL_VERSION"])
	}
	if want, ok := env["KERNELOFFSET"]; ok {
		if off, err := info.KernelOffset(); err != nil || strings.TrimLeft(strings.ToLower(want), "0x") != strings.TrimLeft(strings.ToLower(hexString(off)), "0") {
			t.Errorf("KERNELOFFSET = %#x (%v), fixture.env says %s", off, err, want)
		}
	}
	if ps, err := info.PageSize(); err != nil || ps != d.PageSize() {
		t.Errorf("PAGESIZE = %d (%v), block size %d", ps, err, d.PageSize())
	}
	pb, err := info.PhysBase()
	if err != nil {
		t.Fatal(err)
	}
	// QEMU 7.2 copies NUMBER(phys_base) into the sub-header but reads the
	// decimal digits as hexadecimal, so the sub-header's phys_base is only
	// trustworthy when it matches VMCOREINFO: readers must prefer the latter.
	// A negative value keeps its sign: "-828375040" becomes -0x828375040.
	misread, _ := strconv.ParseUint(strings.TrimPrefix(strconv.FormatInt(pb, 10), "-"), 16, 64)
	if pb < 0 {
		misread = -misread
	}
	if sub := d.SubHeader().PhysBase; sub != uint64(pb) && sub != misread {
		t.Errorf("sub-header phys_base %#x is neither VMCOREINFO's %d nor its digits read as hex", sub, pb)
	}
}

func hexString(v uint64) string {
	const digits = "0123456789abcdef"
	var b []byte
	for ; v > 0; v >>= 4 {
		b = append([]byte{digits[v&15]}, b...)
	}
	return string(b)
}

func checkNotes(t *testing.T, d *Dump, e *elfcore.Dump) {
	kr, er := d.CPURegisters(), e.CPURegisters()
	if len(kr) == 0 || len(kr) != len(er) || int(d.Header().NrCPUs) != len(kr) {
		t.Fatalf("%d PRSTATUS notes in kdump, %d in the ELF dump, nr_cpus %d", len(kr), len(er), d.Header().NrCPUs)
	}
	// The two files come from two dump-guest-memory commands on a guest
	// that keeps running: the crashing CPU spins in panic's delay loop, so
	// its scratch registers (rax, rdx, rdi, r14: the TSC reads) change
	// between the dumps, and so may its rip, by the few bytes of the loop
	// (seen: 0x…85c1 and 0x…85c3), while rsp stays put; the stopped CPUs'
	// notes are identical. x86_64 NT_PRSTATUS: pr_reg at 112, rip is
	// register 16 and rsp register 19.
	const prReg, rip, rsp = 112, 112 + 16*8, 112 + 19*8
	for i := range kr {
		if len(kr[i]) < rsp+8 || len(kr[i]) != len(er[i]) {
			t.Fatalf("CPU %d: PRSTATUS notes of %d and %d bytes", i, len(kr[i]), len(er[i]))
		}
		if uint32(i) != d.Header().CurrentCPU {
			if !bytes.Equal(kr[i], er[i]) {
				t.Errorf("stopped CPU %d: PRSTATUS notes differ", i)
			}
			continue
		}
		ripK, ripE := binary.LittleEndian.Uint64(kr[i][rip:]), binary.LittleEndian.Uint64(er[i][rip:])
		const loopBytes = 64 // the delay loop's size bounds how far rip moves
		if !bytes.Equal(kr[i][:prReg], er[i][:prReg]) || max(ripK, ripE)-min(ripK, ripE) >= loopBytes || !bytes.Equal(kr[i][rsp:rsp+8], er[i][rsp:rsp+8]) {
			t.Errorf("crashing CPU %d: PRSTATUS header, rip or rsp differ: header equal %v, rip %#x/%#x, rsp %#x/%#x", i,
				bytes.Equal(kr[i][:prReg], er[i][:prReg]),
				binary.LittleEndian.Uint64(kr[i][rip:]), binary.LittleEndian.Uint64(er[i][rip:]),
				binary.LittleEndian.Uint64(kr[i][rsp:]), binary.LittleEndian.Uint64(er[i][rsp:]))
		}
	}
}

// TestFixtureFlatRearranged checks the flattened file read through its
// index against makedumpfile -R's rearranged file, byte for byte.
func TestFixtureFlatRearranged(t *testing.T) {
	for _, dir := range fixtureDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			fl, err := NewFlat(openFile(t, filepath.Join(dir, "vmcore.kdump-flat")))
			if err != nil {
				t.Fatal(err)
			}
			re := openFile(t, filepath.Join(dir, "vmcore.kdump"))
			if fl.Size() != re.Size() {
				t.Fatalf("flattened stream rearranges to %d bytes, vmcore.kdump has %d", fl.Size(), re.Size())
			}
			a, b := make([]byte, 1<<20), make([]byte, 1<<20)
			for off := int64(0); off < fl.Size(); off += int64(len(a)) {
				n := min(int64(len(a)), fl.Size()-off)
				if _, err := fl.ReadAt(a[:n], off); err != nil && !errors.Is(err, io.EOF) {
					t.Fatal(err)
				}
				if _, err := re.ReadAt(b[:n], off); err != nil && !errors.Is(err, io.EOF) {
					t.Fatal(err)
				}
				if !bytes.Equal(a[:n], b[:n]) {
					t.Fatalf("bytes at %#x..%#x differ", off, off+n)
				}
			}
			t.Logf("%d records map %d bytes identical to the rearranged file", fl.Segments(), fl.Size())
		})
	}
}

// corrupted reads f with the bytes [off, off+n) inverted, as a damaged
// copy of the file would read.
type corrupted struct {
	core.File
	off, n int64
}

func (c corrupted) ReadAt(b []byte, off int64) (int, error) {
	got, err := c.File.ReadAt(b, off)
	for i := range b[:got] {
		if p := off + int64(i); p >= c.off && p < c.off+c.n {
			b[i] ^= 0xff
		}
	}
	return got, err
}

func TestFixtureCorruptPage(t *testing.T) {
	for _, dir := range fixtureDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			f := openFile(t, filepath.Join(dir, "vmcore.kdump"))
			d, err := Open(f)
			if err != nil {
				t.Fatal(err)
			}
			// Pick three consecutive dumped pages with distinct compressed data.
			var pfns []uint64
			var descs []pageDesc
			for pfn := uint64(0x1000); len(pfns) < 3 && pfn < d.maxMapnr; pfn++ {
				idx, ok := d.descIndex(pfn)
				if !ok {
					pfns, descs = nil, nil
					continue
				}
				var raw [pageDescSize]byte
				if err := readFull(f, raw[:], d.descOff+int64(idx)*pageDescSize, "descriptor"); err != nil {
					t.Fatal(err)
				}
				pd := pageDesc{offset: int64(d.order.Uint64(raw[:])), size: d.order.Uint32(raw[8:]), flags: d.order.Uint32(raw[12:])}
				if pd.flags&FlagZlib == 0 {
					pfns, descs = nil, nil
					continue
				}
				pfns, descs = append(pfns, pfn), append(descs, pd)
			}
			if len(pfns) < 3 {
				t.Fatal("no three consecutive zlib-compressed pages")
			}
			want := make([][]byte, 3)
			for i, pfn := range pfns {
				want[i] = make([]byte, d.PageSize())
				if err := d.ReadPhys(want[i], pfn*d.PageSize()); err != nil {
					t.Fatal(err)
				}
			}
			bad, err := Open(corrupted{File: f, off: descs[1].offset + 2, n: int64(descs[1].size) - 2})
			if err != nil {
				t.Fatal(err)
			}
			for i, pfn := range pfns {
				got := make([]byte, d.PageSize())
				err := bad.ReadPhys(got, pfn*d.PageSize())
				if i == 1 {
					if err == nil || !strings.Contains(err.Error(), "zlib-compressed page") {
						t.Errorf("corrupted pfn %#x reads with error %v", pfn, err)
					}
					continue
				}
				if err != nil || !bytes.Equal(got, want[i]) {
					t.Errorf("pfn %#x beside a corrupted page: %v", pfn, err)
				}
			}
		})
	}
}
