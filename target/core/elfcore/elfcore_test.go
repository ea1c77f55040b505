package elfcore

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// byteOrder is a byte order that can also append.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// spec describes a synthetic core file.
type spec struct {
	class   elf.Class // ELFCLASS64 unless set
	order   byteOrder
	version uint32 // e_version
	osabi   elf.OSABI
	machine elf.Machine
	typ     elf.Type
	phs     []phdr
	notes   []note
	data    map[uint64][]byte
}

// buildCore writes an ELF64 little-endian core by the ELF specification:
// header, program headers, then the given data at the offsets phdrs name.
// A PT_NOTE header with off 0 gets the encoded notes appended.
func buildCore(phs []phdr, notes []note, data map[uint64][]byte, fileType elf.Type) []byte {
	return spec{version: 1, machine: elf.EM_X86_64, typ: fileType, phs: phs, notes: notes, data: data}.build()
}

// build writes the core that s describes, in its class and byte order.
func (s spec) build() []byte {
	o := s.order
	if o == nil {
		o = binary.LittleEndian
	}
	is32 := s.class == elf.ELFCLASS32
	ehsize, phsize := 64, 56
	if is32 {
		ehsize, phsize = 52, 32
	}
	var nb []byte
	for _, n := range s.notes {
		name := append([]byte(n.name), 0)
		nb = o.AppendUint32(nb, uint32(len(name)))
		nb = o.AppendUint32(nb, uint32(len(n.desc)))
		nb = o.AppendUint32(nb, n.typ)
		nb = append(nb, name...)
		for len(nb)%4 != 0 {
			nb = append(nb, 0)
		}
		nb = append(nb, n.desc...)
		for len(nb)%4 != 0 {
			nb = append(nb, 0)
		}
	}
	out := make([]byte, ehsize+phsize*len(s.phs))
	copy(out, elf.ELFMAG)
	out[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	if is32 {
		out[elf.EI_CLASS] = byte(elf.ELFCLASS32)
	}
	out[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	if o == binary.BigEndian {
		out[elf.EI_DATA] = byte(elf.ELFDATA2MSB)
	}
	out[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	out[elf.EI_OSABI] = byte(s.osabi)
	o.PutUint16(out[16:], uint16(s.typ))
	o.PutUint16(out[18:], uint16(s.machine))
	o.PutUint32(out[20:], s.version)
	if is32 {
		o.PutUint32(out[28:], 52) // e_phoff
		o.PutUint16(out[40:], 52) // e_ehsize
		o.PutUint16(out[42:], 32) // e_phentsize
		o.PutUint16(out[44:], uint16(len(s.phs)))
		o.PutUint16(out[46:], 40) // e_shentsize
	} else {
		o.PutUint64(out[32:], 64) // e_phoff
		o.PutUint16(out[52:], 64) // e_ehsize
		o.PutUint16(out[54:], 56) // e_phentsize
		o.PutUint16(out[56:], uint16(len(s.phs)))
		o.PutUint16(out[58:], 64) // e_shentsize
	}
	for i, p := range s.phs {
		if p.typ == elf.PT_NOTE && p.off == 0 {
			p.off, p.filesz = uint64(len(out)), uint64(len(nb))
			out = append(out, nb...)
		}
		h := out[ehsize+phsize*i:]
		o.PutUint32(h[0:], uint32(p.typ))
		if is32 {
			for j, v := range []uint64{p.off, p.vaddr, p.paddr, p.filesz, p.memsz, 7, 0x1000} {
				o.PutUint32(h[4+4*j:], uint32(v))
			}
			continue
		}
		o.PutUint32(h[4:], 7)
		for j, v := range []uint64{p.off, p.vaddr, p.paddr, p.filesz, p.memsz, 0x1000} {
			o.PutUint64(h[8+8*j:], v)
		}
	}
	for off, b := range s.data {
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
	checkReads(t, d, []readCase{
		{pa: 0x1000, n: 2, want: []byte{0x10, 0x10}},
		{pa: 0x1fff, n: 2, want: []byte{0x10, 0x11}},
		{pa: 0x2ffe, n: 4, want: []byte{0x11, 0x11, 0, 0}}, // past p_filesz reads zero
		{pa: 0x100800, n: 2, want: []byte{0x40, 0x40}},
		{pa: 0x3fff, n: 2, absent: 0x4000},
		{pa: 0x0, n: 1, absent: 0x0},
		{pa: 0x101000, n: 1, absent: 0x101000},
	})
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

// sampleFreeBSD is laid out like a FreeBSD full dump: ELF64 with e_version
// 0 and OS/ABI 0xff, one PT_LOAD per physical memory chunk, no notes.
func sampleFreeBSD() []byte {
	return spec{
		version: 0, osabi: 0xff, machine: elf.EM_X86_64, typ: elf.ET_CORE,
		phs: []phdr{
			{typ: elf.PT_LOAD, off: 0x1000, paddr: 0, filesz: 0x1000, memsz: 0x1000},
			{typ: elf.PT_LOAD, off: 0x2000, vaddr: 0x104000, paddr: 0x104000, filesz: 0x2000, memsz: 0x2000},
		},
		data: map[uint64][]byte{0x1000: fill(0x1000, 0x20), 0x2000: fill(0x2000, 0x30)},
	}.build()
}

// sample32 is laid out like a FreeBSD i386 full dump: ELF32, EM_386,
// e_version 0, OS/ABI 0xff; its second segment has a zero tail.
func sample32() []byte {
	return spec{
		class: elf.ELFCLASS32, version: 0, osabi: 0xff, machine: elf.EM_386, typ: elf.ET_CORE,
		phs: []phdr{
			{typ: elf.PT_LOAD, off: 0x1000, paddr: 0, filesz: 0x1000, memsz: 0x1000},
			{typ: elf.PT_LOAD, off: 0x2000, paddr: 0x100000, filesz: 0x2000, memsz: 0x3000},
			{typ: elf.PT_NOTE},
		},
		notes: []note{{"FreeBSD", 7, []byte("x86")}},
		data:  map[uint64][]byte{0x1000: fill(0x1000, 0x50), 0x2000: fill(0x2000, 0x60)},
	}.build()
}

func infoMap(d *Dump) map[string]string {
	m := map[string]string{}
	for _, f := range d.Info() {
		m[f.Name] = f.Value
	}
	return m
}

// readCase is one ReadPhys expectation: want bytes, or else the address
// of the NotPresentError.
type readCase struct {
	pa     uint64
	n      int
	want   []byte
	absent uint64
}

func checkReads(t *testing.T, d *Dump, tests []readCase) {
	t.Helper()
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
}

// FreeBSD writes e_version 0 (EV_NONE) and OS/ABI 0xff, which debug/elf
// refuses; they are only reported.
func TestFreeBSDHeader(t *testing.T) {
	d, err := Open(bytes.NewReader(sampleFreeBSD()))
	if err != nil {
		t.Fatal(err)
	}
	if d.Machine() != elf.EM_X86_64 {
		t.Errorf("machine %v", d.Machine())
	}
	info := infoMap(d)
	for k, v := range map[string]string{
		"ELF class": "ELFCLASS64, ELFDATA2LSB", "ELF version": "e_version 0 (EV_NONE), EI_VERSION 1",
		"OS/ABI": "ELFOSABI_STANDALONE, ABI version 0", "PT_LOAD segments": "2", "notes": "0",
	} {
		if info[k] != v {
			t.Errorf("Info %s = %q, want %q", k, info[k], v)
		}
	}
	checkReads(t, d, []readCase{
		{pa: 0, n: 2, want: []byte{0x20, 0x20}},
		{pa: 0x104fff, n: 2, want: []byte{0x30, 0x31}},
		{pa: 0x1000, n: 1, absent: 0x1000},
		{pa: 0x105ffe, n: 4, absent: 0x106000},
	})
}

func TestELF32(t *testing.T) {
	d, err := Open(bytes.NewReader(sample32()))
	if err != nil {
		t.Fatal(err)
	}
	if d.Machine() != elf.EM_386 {
		t.Errorf("machine %v", d.Machine())
	}
	if n := d.Notes(); len(n) != 1 || n[0].Owner != "FreeBSD" || string(n[0].Desc) != "x86" {
		t.Errorf("notes %+v", n)
	}
	if got := infoMap(d)["ELF class"]; got != "ELFCLASS32, ELFDATA2LSB" {
		t.Errorf("ELF class %q", got)
	}
	checkReads(t, d, []readCase{
		{pa: 0xffe, n: 2, want: []byte{0x50, 0x50}},
		{pa: 0x100ffe, n: 4, want: []byte{0x60, 0x60, 0x61, 0x61}},
		{pa: 0x101ffe, n: 4, want: []byte{0x61, 0x61, 0, 0}},
		{pa: 0x102ffe, n: 4, absent: 0x103000},
	})
}

func TestBigEndian(t *testing.T) {
	for _, class := range []elf.Class{elf.ELFCLASS64, elf.ELFCLASS32} {
		t.Run(class.String(), func(t *testing.T) {
			b := spec{
				class: class, order: binary.BigEndian, version: 1, machine: elf.EM_PPC64, typ: elf.ET_CORE,
				phs: []phdr{
					{typ: elf.PT_NOTE},
					{typ: elf.PT_LOAD, off: 0x1000, paddr: 0x8000, filesz: 0x1000, memsz: 0x1000},
				},
				notes: []note{{"CORE", 1, []byte{1, 2, 3, 4}}},
				data:  map[uint64][]byte{0x1000: fill(0x1000, 0x70)},
			}.build()
			if !Probe(b) {
				t.Error("Probe refuses it")
			}
			d, err := Open(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if d.Machine() != elf.EM_PPC64 || len(d.CPURegisters()) != 1 {
				t.Errorf("machine %v, %d NT_PRSTATUS", d.Machine(), len(d.CPURegisters()))
			}
			checkReads(t, d, []readCase{{pa: 0x8ffe, n: 2, want: []byte{0x70, 0x70}}, {pa: 0x9000, n: 1, absent: 0x9000}})
		})
	}
}

// withXNum moves b's program header count into section header 0, as for
// an e_phnum of PN_XNUM; shentsize is what e_shentsize says.
func withXNum(b []byte, shentsize uint16) []byte {
	le := binary.LittleEndian
	n := le.Uint16(b[56:])
	le.PutUint16(b[56:], 0xffff)
	le.PutUint64(b[40:], uint64(len(b))) // e_shoff
	le.PutUint16(b[58:], shentsize)
	sh := make([]byte, 64)
	le.PutUint32(sh[44:], uint32(n)) // sh_info
	return append(b, sh...)
}

func TestExtendedPhnum(t *testing.T) {
	d, err := Open(bytes.NewReader(withXNum(sampleFreeBSD(), 64)))
	if err != nil {
		t.Fatal(err)
	}
	if d.loads != 2 {
		t.Errorf("%d PT_LOADs, want 2", d.loads)
	}
}

// A file that ends early keeps what it holds: reads past its end say so,
// p_filesz to p_memsz still reads as zeros, and Warnings counts the loss.
func TestEndsEarly(t *testing.T) {
	t.Run("ELF64", func(t *testing.T) {
		d, err := Open(bytes.NewReader(sampleFreeBSD()[:0x2800]))
		if err != nil {
			t.Fatal(err)
		}
		want := "the file ends early: 6.0 KiB (0x1800 bytes) of PT_LOAD data (program header 1) lie past its end (file size 0x2800)"
		if w := d.Warnings(); len(w) != 1 || w[0] != want {
			t.Errorf("Warnings = %q, want %q", w, want)
		}
		checkReads(t, d, []readCase{
			{pa: 0xffe, n: 2, want: []byte{0x20, 0x20}},
			{pa: 0x1047fe, n: 2, want: []byte{0x30, 0x30}},
			{pa: 0x1047fe, n: 4, absent: 0x104800},
			{pa: 0x105000, n: 1, absent: 0x105000},
		})
		err = d.ReadPhys(make([]byte, 1), 0x104800)
		var np *core.NotPresentError
		if !errors.As(err, &np) || !strings.Contains(np.Reason, "the file ends early") || !strings.Contains(np.Reason, "file offset 0x2800") {
			t.Errorf("ReadPhys past the end: %v", err)
		}
		if w, ok := core.As[core.Warner](d); !ok || len(w.Warnings()) != 1 {
			t.Error("not a core.Warner with one warning")
		}
		s := d.Segments()
		if len(s) != 2 || s[1].FileSz != 0x2000 || s[1].InFile != 0x800 {
			t.Errorf("segments %+v", s)
		}
	})
	t.Run("ELF32 zero tail", func(t *testing.T) {
		d, err := Open(bytes.NewReader(sample32()[:0x3000]))
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Warnings()) != 1 {
			t.Errorf("Warnings = %q", d.Warnings())
		}
		checkReads(t, d, []readCase{
			{pa: 0x100ffe, n: 2, want: []byte{0x60, 0x60}},
			{pa: 0x100ffe, n: 4, absent: 0x101000},
			{pa: 0x101fff, n: 1, absent: 0x101fff},
			{pa: 0x102000, n: 0x1000, want: make([]byte, 0x1000)},
		})
	})
	t.Run("several segments", func(t *testing.T) {
		var phs []phdr
		for i := range 6 {
			phs = append(phs, phdr{typ: elf.PT_LOAD, off: uint64(0x1000 * (i + 1)), paddr: uint64(0x100000 * (i + 1)), filesz: 0x1000, memsz: 0x1000})
		}
		b := spec{version: 1, machine: elf.EM_AARCH64, typ: elf.ET_CORE, phs: phs, data: map[uint64][]byte{0x1000: fill(0x6000, 1)}}.build()
		d, err := Open(bytes.NewReader(b[:0x3400]))
		if err != nil {
			t.Fatal(err)
		}
		want := "the file ends early: 15.0 KiB (0x3c00 bytes) of PT_LOAD data (program headers 2–5) lie past its end (file size 0x3400)"
		if w := d.Warnings(); len(w) != 1 || w[0] != want {
			t.Errorf("Warnings = %q, want %q", w, want)
		}
		checkReads(t, d, []readCase{
			{pa: 0x3003ff, n: 1, want: []byte{3}},
			{pa: 0x300400, n: 1, absent: 0x300400},
			{pa: 0x600000, n: 1, absent: 0x600000},
		})
	})
	t.Run("huge", func(t *testing.T) {
		// Three segments of about 2^63 bytes, the third repeating the
		// first: the count of missing bytes saturates rather than wraps.
		b := spec{version: 1, machine: elf.EM_X86_64, typ: elf.ET_CORE, phs: []phdr{
			{typ: elf.PT_LOAD, off: 0x1000, paddr: 0, filesz: 1 << 63, memsz: 1 << 63},
			{typ: elf.PT_LOAD, off: 0x1000, paddr: 1 << 63, filesz: 1<<63 - 1, memsz: 1<<63 - 1},
			{typ: elf.PT_LOAD, off: 0x1000, paddr: 0, filesz: 1 << 63, memsz: 1 << 63},
		}}.build()
		d, err := Open(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if w := d.Warnings(); len(w) != 1 || !strings.Contains(w[0], "16.0 EiB (0xffffffffffffffff bytes) of PT_LOAD data (program headers 0–2)") {
			t.Errorf("Warnings = %q", w)
		}
	})
	t.Run("intact", func(t *testing.T) {
		d, err := Open(bytes.NewReader(sampleFreeBSD()))
		if err != nil {
			t.Fatal(err)
		}
		if w := d.Warnings(); len(w) != 0 {
			t.Errorf("Warnings = %q", w)
		}
	})
}

func TestHeaderList(t *testing.T) {
	for _, tc := range []struct {
		idx  []int
		want string
	}{
		{[]int{4}, "program header 4"},
		{[]int{1, 2}, "program headers 1–2"},
		{[]int{1, 3, 4, 5, 7}, "program headers 1, 3–5, 7"},
		{[]int{0, 2, 4, 6, 8, 10, 12, 14, 15, 16, 18}, "program headers 0, 2, 4, 6, 8, 10, 12, 14–16, … (11 in all)"},
		{[]int{0, 2, 4, 6, 8, 10, 12, 14}, "program headers 0, 2, 4, 6, 8, 10, 12, 14"},
	} {
		if got := headerList(tc.idx); got != tc.want {
			t.Errorf("headerList(%v) = %q, want %q", tc.idx, got, tc.want)
		}
	}
	for n, want := range map[uint64]string{
		1: "1 byte", 100: "100 bytes", 0xc80000: "12.5 MiB (0xc80000 bytes)", 3 << 30: "3.0 GiB (0xc0000000 bytes)",
	} {
		if got := byteSize(n); got != want {
			t.Errorf("byteSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestCorrupt(t *testing.T) {
	le := binary.LittleEndian
	ph := func(i int) int { return 64 + 56*i }
	ph32 := func(i int) int { return 52 + 32*i }
	// In sample the notes follow the four program headers: the first note
	// (CORE, 336 bytes) at ph(4), the second at ph(4)+356.
	tests := []struct {
		name   string
		build  func() []byte
		mutate func(b []byte) []byte
		want   string
		off    int
	}{
		{"short ident", sample, func(b []byte) []byte { return b[:10] }, "shorter than the 16-byte ELF identification", 0},
		{"short", sample, func(b []byte) []byte { return b[:40] }, "shorter than the 64-byte ELF64 header", 0},
		{"short ELF32", sample32, func(b []byte) []byte { return b[:40] }, "shorter than the 52-byte ELF32 header", 0},
		{"magic", sample, func(b []byte) []byte { b[1] = 'X'; return b }, "magic", 0},
		{"class", sample, func(b []byte) []byte { b[4] = 3; return b }, "EI_CLASS 3", 4},
		{"data", sample, func(b []byte) []byte { b[5] = 0; return b }, "EI_DATA 0", 5},
		{"not a core", sample, func(b []byte) []byte { le.PutUint16(b[16:], uint16(elf.ET_EXEC)); return b }, "e_type ET_EXEC is not ET_CORE", 16},
		{"phentsize", sample, func(b []byte) []byte { le.PutUint16(b[54:], 32); return b }, "e_phentsize 32, expected 56", 0x36},
		{"phentsize ELF32", sample32, func(b []byte) []byte { le.PutUint16(b[42:], 56); return b }, "e_phentsize 56, expected 32", 42},
		{"program headers past end", sample, func(b []byte) []byte { le.PutUint16(b[56:], 60000); return b }, "e_phoff 0x40: 60000 program headers", 0x20},
		{"program headers past end ELF32", sample32, func(b []byte) []byte { le.PutUint16(b[44:], 60000); return b }, "e_phoff 0x34: 60000 program headers", 28},
		{"phoff", sample, func(b []byte) []byte { le.PutUint64(b[32:], 1<<63); return b }, "e_phoff 0x8000000000000000", 0x20},
		{"xnum shoff", sampleFreeBSD, func(b []byte) []byte { b = withXNum(b, 64); le.PutUint64(b[40:], 0); return b }, "e_shoff is 0", 40},
		{"xnum shentsize", sampleFreeBSD, func(b []byte) []byte { return withXNum(b, 40) }, "e_shentsize 40", 58},
		{"xnum section header past end", sampleFreeBSD, func(b []byte) []byte { b = withXNum(b, 64); return b[:len(b)-1] }, "e_shoff", 40},
		{"xnum count", sampleFreeBSD, func(b []byte) []byte { b = withXNum(b, 64); le.PutUint32(b[len(b)-20:], 1<<30); return b }, "1073741824 program headers", 0x20},
		{"filesz above memsz", sample, func(b []byte) []byte { le.PutUint64(b[ph(2)+40:], 0x1000); return b }, "program header 2: p_filesz 0x2000 is larger than p_memsz 0x1000", ph(2) + 32},
		{"filesz above memsz ELF32", sample32, func(b []byte) []byte { le.PutUint32(b[ph32(1)+20:], 0x1000); return b }, "program header 1: p_filesz 0x2000 is larger than p_memsz 0x1000", ph32(1) + 16},
		{"offset wraps", sample, func(b []byte) []byte { le.PutUint64(b[ph(3)+8:], ^uint64(0)-0x10); return b }, "program header 3: p_offset 0xffffffffffffffef + p_filesz 0x1000 wraps", ph(3) + 8},
		{"physical range wraps", sample, func(b []byte) []byte { le.PutUint64(b[ph(2)+24:], ^uint64(0)-0x100); return b }, "program header 2: p_paddr 0xfffffffffffffeff + p_memsz 0x3000 wraps around the 64-bit", ph(2) + 24},
		{"physical range wraps ELF32", sample32, func(b []byte) []byte { le.PutUint32(b[ph32(1)+12:], 0xfffff000); return b }, "program header 1: p_paddr 0xfffff000 + p_memsz 0x3000 wraps around the 32-bit", ph32(1) + 12},
		{"note too long", sample, func(b []byte) []byte { le.PutUint32(b[ph(4)+4:], 1<<30); return b }, "note 0: n_namesz 5 and n_descsz 1073741824 run past", ph(4)},
		{"second note too long", sample, func(b []byte) []byte { le.PutUint32(b[ph(4)+356:], 1<<20); return b }, "note 1: n_namesz 1048576", ph(4) + 356},
		{"notes past end", sample, func(b []byte) []byte { le.PutUint64(b[ph(0)+8:], 1<<40); return b }, "PT_NOTE program header 0: notes [0x10000000000,", ph(0) + 8},
		{"notes over the limit", sample, func(b []byte) []byte { le.PutUint64(b[ph(0)+32:], 1<<40); return b }, "PT_NOTE program header 0: p_filesz 0x10000000000 brings the notes past", ph(0) + 32},
		{"virtual core", sample, func(b []byte) []byte {
			for i := 1; i <= 3; i++ {
				le.PutUint64(b[ph(i)+24:], 0)
			}
			return b
		}, "all 3 PT_LOAD segments have p_paddr 0", 0x40},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.mutate(tc.build())
			_, err := Open(bytes.NewReader(b))
			var fe *FormatError
			if !errors.As(err, &fe) || !strings.Contains(fe.Msg, tc.want) || fe.Off != int64(tc.off) {
				t.Fatalf("Open error = %v, want a FormatError %q at file offset %#x", err, tc.want, tc.off)
			}
		})
	}
}

func TestProbe(t *testing.T) {
	b := sample()
	exec := append([]byte(nil), b...)
	binary.LittleEndian.PutUint16(exec[16:], uint16(elf.ET_EXEC))
	class3 := append([]byte(nil), b...)
	class3[elf.EI_CLASS] = 3
	for _, tc := range []struct {
		head []byte
		want bool
	}{
		{b, true}, {sample32(), true}, {sampleFreeBSD(), true}, {exec, false}, {class3, false},
		{b[:10], false}, {[]byte("minidump FreeBSD/amd64"), false},
	} {
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

// fuzzSeeds are the synthetic cores in miniature: segments of a few dozen
// bytes rather than pages, since the fuzzer's minimizer takes time
// quadratic in an input's length.
func fuzzSeeds() [][]byte {
	small := func(n int, seed byte) []byte { return bytes.Repeat([]byte{seed}, n) }
	linux := spec{
		version: 1, machine: elf.EM_X86_64, typ: elf.ET_CORE,
		phs: []phdr{
			{typ: elf.PT_NOTE},
			{typ: elf.PT_LOAD, off: 0x180, vaddr: 0xffffffff81001000, paddr: 0x1020, filesz: 0x20, memsz: 0x20},
			{typ: elf.PT_LOAD, off: 0x160, vaddr: 0xffff888000001000, paddr: 0x1000, filesz: 0x40, memsz: 0x60},
			{typ: elf.PT_LOAD, off: 0x1a0, vaddr: 0xffff888000100000, paddr: 0x100000, filesz: 0x20, memsz: 0x20},
		},
		notes: []note{{"CORE", 1, small(8, 0xa0)}, {"VMCOREINFO", 0, []byte("A=1\n")}},
		data:  map[uint64][]byte{0x160: small(0x40, 0x10), 0x1a0: small(0x20, 0x20)},
	}.build()
	freebsd := spec{
		osabi: 0xff, machine: elf.EM_X86_64, typ: elf.ET_CORE,
		phs: []phdr{
			{typ: elf.PT_LOAD, off: 0xb0, paddr: 0, filesz: 0x20, memsz: 0x20},
			{typ: elf.PT_LOAD, off: 0xd0, vaddr: 0x104000, paddr: 0x104000, filesz: 0x20, memsz: 0x20},
		},
		data: map[uint64][]byte{0xb0: small(0x40, 0x30)},
	}.build()
	i386 := spec{
		class: elf.ELFCLASS32, osabi: 0xff, machine: elf.EM_386, typ: elf.ET_CORE,
		phs: []phdr{
			{typ: elf.PT_LOAD, off: 0xb0, paddr: 0, filesz: 0x20, memsz: 0x20},
			{typ: elf.PT_LOAD, off: 0xd0, paddr: 0x100000, filesz: 0x20, memsz: 0x40},
			{typ: elf.PT_NOTE},
		},
		notes: []note{{"FreeBSD", 7, []byte("x86")}},
		data:  map[uint64][]byte{0xb0: small(0x40, 0x50)},
	}.build()
	mips := spec{
		class: elf.ELFCLASS32, order: binary.BigEndian, version: 1, machine: elf.EM_MIPS, typ: elf.ET_CORE,
		phs:   []phdr{{typ: elf.PT_NOTE}, {typ: elf.PT_LOAD, off: 0x90, paddr: 0x1000, filesz: 0x10, memsz: 0x1000}},
		notes: []note{{"CORE", 1, []byte{1, 2, 3, 4}}},
		data:  map[uint64][]byte{0x90: small(0x10, 0x70)},
	}.build()
	return [][]byte{linux, freebsd, i386, mips, freebsd[:0xc8], i386[:0xc0], withXNum(append([]byte(nil), freebsd...), 64)}
}

// fileHead returns the first n bytes of the file at path, or nil.
func fileHead(path string, n int) []byte {
	fh, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer fh.Close()
	b := make([]byte, n)
	got, _ := fh.ReadAt(b, 0)
	return b[:got]
}

// FuzzELFCore feeds Open headers of both classes and byte orders, and
// checks that a refusal is a FormatError inside the file and that what
// opens reads consistently with the file's bytes.
func FuzzELFCore(f *testing.F) {
	for _, b := range fuzzSeeds() {
		f.Add(b)
	}
	// The first 4 KiB of real FreeBSD full dumps: the fixture's, and LLDB's
	// (e_version 0, OS/ABI 0xff), when present.
	if p, err := testfixture.Find("fbsdkern/fixtures/fp/assert/vmcore.full"); err == nil {
		if b := fileHead(p, 4096); b != nil {
			f.Add(b)
		}
	}
	if b := fileHead(filepath.Join(testfixture.FreeBSDLLDBRoot(), "vmcore-amd64-full"), 4096); b != nil {
		f.Add(b)
	}
	// QEMU's ELF dump of the Linux fixture: its notes (NT_PRSTATUS per
	// CPU, QEMU's CPU state, VMCOREINFO) end before 8 KiB.
	for _, b := range testfixture.LinuxPrefixes("vmcore.elf", 8<<10) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Open(bytes.NewReader(data))
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Off < 0 || fe.Off > int64(len(data)) {
				t.Fatalf("Open error %v: not a FormatError inside the %d-byte file", err, len(data))
			}
			return
		}
		if !Probe(data) {
			t.Fatal("Open accepts what Probe refuses")
		}
		short := false
		var b [16]byte
		segs := d.Segments()
		for i, s := range segs {
			if s.InFile > s.FileSz || s.FileSz > s.MemSz || s.MemSz == 0 || s.Off+s.InFile < s.Off ||
				(s.InFile > 0 && s.Off+s.InFile > uint64(len(data))) || (i > 0 && segs[i-1].PAddr+segs[i-1].MemSz > s.PAddr) {
				t.Fatalf("segment %d: %+v (previous %+v, file %d bytes)", i, s, segs[max(i-1, 0)], len(data))
			}
			short = short || s.InFile < s.FileSz
			for _, rel := range []uint64{0, s.InFile - min(s.InFile, 8), s.InFile, s.FileSz, s.MemSz - min(s.MemSz, 8)} {
				// A read may not run past the top of the address space.
				buf := b[:min(uint64(len(b)), ^uint64(0)-(s.PAddr+rel))]
				err := d.ReadPhys(buf, s.PAddr+rel)
				var np *core.NotPresentError
				if err != nil && !errors.As(err, &np) {
					t.Fatalf("ReadPhys(%#x): %v", s.PAddr+rel, err)
				}
				if err == nil && rel < s.InFile {
					n := min(uint64(len(buf)), s.InFile-rel)
					if !bytes.Equal(buf[:n], data[s.Off+rel:s.Off+rel+n]) {
						t.Fatalf("ReadPhys(%#x) = %x, the file has %x", s.PAddr+rel, buf[:n], data[s.Off+rel:s.Off+rel+n])
					}
				}
			}
		}
		if short && len(d.Warnings()) == 0 {
			t.Fatal("a segment lies past the end of the file but there is no warning")
		}
		for _, pa := range []uint64{0, 0x1000, 0x2ff8, 0x100000, ^uint64(0) - 8} {
			_ = d.ReadPhys(b[:], pa)
		}
		_ = d.Info()
		_ = d.CPURegisters()
		_ = d.Notes()
	})
}

// The fuzz seeds open, so that the fuzzer starts from valid cores.
func TestFuzzSeeds(t *testing.T) {
	for i, b := range fuzzSeeds() {
		if _, err := Open(bytes.NewReader(b)); err != nil {
			t.Errorf("seed %d (%d bytes): %v", i, len(b), err)
		}
	}
}
