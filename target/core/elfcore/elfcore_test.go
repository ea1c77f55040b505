package elfcore

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/target/core"
)

type phdr struct {
	typ                              elf.ProgType
	off, vaddr, paddr, filesz, memsz uint64
}

type note struct {
	name string
	typ  uint32
	desc []byte
}

// buildCore writes an ELF64 little-endian core by the ELF specification:
// header, program headers, then the given data at the offsets phdrs name.
// A PT_NOTE header with off 0 gets the encoded notes appended.
func buildCore(phs []phdr, notes []note, data map[uint64][]byte, fileType elf.Type) []byte {
	le := binary.LittleEndian
	var nb []byte
	for _, n := range notes {
		name := append([]byte(n.name), 0)
		nb = le.AppendUint32(nb, uint32(len(name)))
		nb = le.AppendUint32(nb, uint32(len(n.desc)))
		nb = le.AppendUint32(nb, n.typ)
		nb = append(nb, name...)
		for len(nb)%4 != 0 {
			nb = append(nb, 0)
		}
		nb = append(nb, n.desc...)
		for len(nb)%4 != 0 {
			nb = append(nb, 0)
		}
	}
	out := make([]byte, 64+56*len(phs))
	copy(out, elf.ELFMAG)
	out[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	out[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	out[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	le.PutUint16(out[16:], uint16(fileType))
	le.PutUint16(out[18:], uint16(elf.EM_X86_64))
	le.PutUint32(out[20:], 1)
	le.PutUint64(out[32:], 64) // e_phoff
	le.PutUint16(out[52:], 64) // e_ehsize
	le.PutUint16(out[54:], 56) // e_phentsize
	le.PutUint16(out[56:], uint16(len(phs)))
	le.PutUint16(out[58:], 64) // e_shentsize
	for i, p := range phs {
		if p.typ == elf.PT_NOTE && p.off == 0 {
			p.off, p.filesz = uint64(len(out)), uint64(len(nb))
			out = append(out, nb...)
		}
		h := out[64+56*i:]
		le.PutUint32(h[0:], uint32(p.typ))
		le.PutUint32(h[4:], 7)
		le.PutUint64(h[8:], p.off)
		le.PutUint64(h[16:], p.vaddr)
		le.PutUint64(h[24:], p.paddr)
		le.PutUint64(h[32:], p.filesz)
		le.PutUint64(h[40:], p.memsz)
		le.PutUint64(h[48:], 0x1000)
	}
	for off, b := range data {
		for uint64(len(out)) < off+uint64(len(b)) {
			out = append(out, 0)
		}
		copy(out[off:], b)
	}
	return out
}

func fill(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i/4096)
	}
	return b
}

// sample is a Linux-vmcore-like core: RAM at 0x1000 (two pages in the
// file, a third zero page), RAM at 0x100000, a kernel-text segment that
// repeats part of the first range at a virtual p_vaddr, and notes.
func sample() []byte {
	return buildCore([]phdr{
		{typ: elf.PT_NOTE},
		{typ: elf.PT_LOAD, off: 0x2000, vaddr: 0xffffffff81001000, paddr: 0x2000, filesz: 0x1000, memsz: 0x1000},
		{typ: elf.PT_LOAD, off: 0x1000, vaddr: 0xffff888000001000, paddr: 0x1000, filesz: 0x2000, memsz: 0x3000},
		{typ: elf.PT_LOAD, off: 0x3000, vaddr: 0xffff888000100000, paddr: 0x100000, filesz: 0x1000, memsz: 0x1000},
	}, []note{
		{"CORE", 1, bytes.Repeat([]byte{0xa0}, 336)},
		{"QEMU", 0, []byte{1, 2, 3}},
		{"CORE", 1, bytes.Repeat([]byte{0xa1}, 336)},
		{"VMCOREINFO", 0, []byte("OSRELEASE=6.1.0\n")},
	}, map[uint64][]byte{0x1000: fill(0x2000, 0x10), 0x3000: fill(0x1000, 0x40)}, elf.ET_CORE)
}

func TestReadPhys(t *testing.T) {
	d, err := Open(bytes.NewReader(sample()))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pa     uint64
		n      int
		want   []byte
		absent uint64
	}{
		{pa: 0x1000, n: 2, want: []byte{0x10, 0x10}},
		{pa: 0x1fff, n: 2, want: []byte{0x10, 0x11}},
		{pa: 0x2ffe, n: 4, want: []byte{0x11, 0x11, 0, 0}}, // past p_filesz reads zero
		{pa: 0x100800, n: 2, want: []byte{0x40, 0x40}},
		{pa: 0x3fff, n: 2, absent: 0x4000},
		{pa: 0x0, n: 1, absent: 0x0},
		{pa: 0x101000, n: 1, absent: 0x101000},
	}
	for _, tc := range tests {
		b := make([]byte, tc.n)
		err := d.ReadPhys(b, tc.pa)
		if tc.want == nil {
			var np *core.NotPresentError
			if !errors.As(err, &np) || np.Addr != tc.absent {
				t.Errorf("ReadPhys(%#x): %v, want NotPresentError at %#x", tc.pa, err, tc.absent)
			}
			continue
		}
		if err != nil || !bytes.Equal(b, tc.want) {
			t.Errorf("ReadPhys(%#x) = %x, %v; want %x", tc.pa, b, err, tc.want)
		}
	}
	if got := len(d.Segments()); got != 2 {
		t.Errorf("%d segments after dropping the duplicate, want 2", got)
	}
}

func TestNotesAndInfo(t *testing.T) {
	d, err := Open(bytes.NewReader(sample()))
	if err != nil {
		t.Fatal(err)
	}
	var owners []string
	for _, n := range d.Notes() {
		owners = append(owners, fmt.Sprintf("%s/%d/%d", n.Owner, n.Type, len(n.Desc)))
	}
	if got, want := strings.Join(owners, " "), "CORE/1/336 QEMU/0/3 CORE/1/336 VMCOREINFO/0/16"; got != want {
		t.Errorf("notes %q, want %q", got, want)
	}
	regs := d.CPURegisters()
	if len(regs) != 2 || regs[0][0] != 0xa0 || regs[1][0] != 0xa1 || len(regs[1]) != 336 {
		t.Errorf("CPURegisters = %d notes", len(regs))
	}
	info := map[string]string{}
	for _, f := range d.Info() {
		info[f.Name] = f.Value
	}
	for k, v := range map[string]string{
		"machine": "EM_X86_64", "PT_LOAD segments": "3", "physical bytes covered": "16384 (0x4000)",
		"notes": "4", "NT_PRSTATUS notes": "2",
	} {
		if info[k] != v {
			t.Errorf("Info %s = %q, want %q", k, info[k], v)
		}
	}
	if _, ok := core.As[core.CPUNotes](d); !ok {
		t.Error("not a core.CPUNotes")
	}
}

func TestCorrupt(t *testing.T) {
	le := binary.LittleEndian
	ph := func(i int) int { return 64 + 56*i }
	tests := []struct {
		name   string
		mutate func(b []byte) []byte
		want   string
	}{
		{"short", func(b []byte) []byte { return b[:40] }, "shorter than the 64-byte ELF64 header"},
		{"not a core", func(b []byte) []byte { le.PutUint16(b[16:], uint16(elf.ET_EXEC)); return b }, "not an ELF64 core"},
		{"phentsize", func(b []byte) []byte { le.PutUint16(b[54:], 32); return b }, "e_phentsize 32"},
		{"program headers past end", func(b []byte) []byte { le.PutUint16(b[56:], 60000); return b }, "60000 program headers"},
		{"segment past end", func(b []byte) []byte { le.PutUint64(b[ph(3)+32:], 1<<40); le.PutUint64(b[ph(3)+40:], 1<<40); return b }, "program header 3 (file offset 0xe8): segment data"},
		{"filesz above memsz", func(b []byte) []byte { le.PutUint64(b[ph(2)+40:], 0x1000); return b }, "p_filesz 0x2000 is larger than p_memsz 0x1000"},
		{"wrapping range", func(b []byte) []byte { le.PutUint64(b[ph(2)+24:], ^uint64(0)-0x100); return b }, "wraps around"},
		// The notes follow the four program headers, so ph(4)+4 is the first
		// note's descsz.
		{"note too long", func(b []byte) []byte { le.PutUint32(b[ph(4)+4:], 1<<30); return b }, "run past"},
		{"virtual core", func(b []byte) []byte {
			for i := 1; i <= 3; i++ {
				le.PutUint64(b[ph(i)+24:], 0)
			}
			return b
		}, "p_paddr 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.mutate(sample())
			_, err := Open(bytes.NewReader(b))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestProbe(t *testing.T) {
	b := sample()
	exec := append([]byte(nil), b...)
	binary.LittleEndian.PutUint16(exec[16:], uint16(elf.ET_EXEC))
	elf32 := append([]byte(nil), b...)
	elf32[elf.EI_CLASS] = byte(elf.ELFCLASS32)
	for _, tc := range []struct {
		head []byte
		want bool
	}{{b, true}, {exec, false}, {elf32, false}, {b[:10], false}, {[]byte("minidump FreeBSD/amd64"), false}} {
		if got := Probe(tc.head); got != tc.want {
			t.Errorf("Probe(%q...) = %v", tc.head[:min(len(tc.head), 8)], got)
		}
	}
}

// The full dumps hold one PT_LOAD per physical memory chunk, which the
// kernel printed on the console at boot.
func TestFixtureFullDumps(t *testing.T) {
	chunk := regexp.MustCompile(`(?m)^0x([0-9a-f]+) - 0x([0-9a-f]+), \d+ bytes`)
	for _, run := range []string{"fp/assert", "fp/trap", "nofp/assert", "nofp/trap"} {
		t.Run(run, func(t *testing.T) {
			dir := "fbsdkern/fixtures/" + run + "/"
			console, err := os.ReadFile(testfixture.Path(t, dir+"console.txt"))
			if err != nil {
				t.Fatal(err)
			}
			cd, err := core.Open(testfixture.Path(t, dir+"vmcore.full"))
			if err != nil {
				t.Fatal(err)
			}
			defer cd.Close()
			d, ok := core.As[*Dump](cd)
			if !ok {
				t.Fatalf("core.Open gave %s, not an ELF core", cd.Format())
			}
			var want, got []string
			for _, m := range chunk.FindAllStringSubmatch(string(console), -1) {
				lo, _ := strconv.ParseUint(m[1], 16, 64)
				hi, _ := strconv.ParseUint(m[2], 16, 64)
				want = append(want, fmt.Sprintf("%#x-%#x", lo, hi+1))
			}
			for _, s := range d.Segments() {
				got = append(got, fmt.Sprintf("%#x-%#x", s.PAddr, s.PAddr+s.MemSz))
				if s.VAddr != s.PAddr {
					t.Errorf("segment at %#x has p_vaddr %#x", s.PAddr, s.VAddr)
				}
			}
			if len(want) == 0 || strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("segments %v, console chunks %v", got, want)
			}
			if d.Machine() != elf.EM_X86_64 || len(d.Notes()) != 0 {
				t.Errorf("machine %v, %d notes", d.Machine(), len(d.Notes()))
			}
			// The kernel's version string sits at its link address minus
			// 0xffffffff80000000 and starts like the console banner.
			kd, err := elf.Open(testfixture.Path(t, "fbsdkern/fixtures/"+strings.Split(run, "/")[0]+"/kernel.debug"))
			if err != nil {
				t.Fatal(err)
			}
			defer kd.Close()
			syms, _ := kd.Symbols()
			for _, s := range syms {
				if s.Name == "version" {
					b := make([]byte, 20)
					if err := d.ReadPhys(b, s.Value-0xffffffff80000000); err != nil || !bytes.HasPrefix(b, []byte("FreeBSD 14.1-RELEASE")) {
						t.Errorf("version = %q, %v", b, err)
					}
				}
			}
		})
	}
}

func FuzzELFCore(f *testing.F) {
	f.Add(sample())
	if p, err := testfixture.Find("fbsdkern/fixtures/fp/assert/vmcore.full"); err == nil {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b[:0x1000])
		}
	}
	// QEMU's ELF dump of the Linux fixture: its notes (NT_PRSTATUS per
	// CPU, QEMU's CPU state, VMCOREINFO) end before 8 KiB.
	for _, b := range testfixture.LinuxPrefixes("vmcore.elf", 8<<10) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Open(bytes.NewReader(data))
		if err != nil {
			return
		}
		var b [16]byte
		for _, pa := range []uint64{0, 0x1000, 0x2ff8, 0x100000, ^uint64(0) - 8} {
			_ = d.ReadPhys(b[:], pa)
		}
		_ = d.Info()
		_ = d.CPURegisters()
	})
}
