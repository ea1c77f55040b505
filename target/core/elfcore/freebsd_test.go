package elfcore

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/target/core"
)

// LLDB's amd64 full vmcore is a real FreeBSD 14-CURRENT dump: e_version 0
// and OS/ABI 0xff, which debug/elf refuses. LLDB's tools/copy-sparse.py
// made it by copying only the byte ranges its test reads, so the copy
// stops at the last of them, inside the last PT_LOAD.
func TestLLDBAmd64Full(t *testing.T) {
	path := testfixture.FreeBSDLLDB(t, "vmcore-amd64-full")
	raw, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	st, err := raw.Stat()
	if err != nil {
		t.Fatal(err)
	}
	size := uint64(st.Size())

	// The header facts, read straight from the bytes.
	var eh [64]byte
	if _, err := raw.ReadAt(eh[:], 0); err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if eh[elf.EI_CLASS] != byte(elf.ELFCLASS64) || eh[elf.EI_OSABI] != 0xff || le.Uint32(eh[20:]) != 0 {
		t.Fatalf("header %x: want ELFCLASS64, OS/ABI 0xff, e_version 0", eh)
	}
	if _, err := elf.NewFile(raw); err == nil {
		t.Log("debug/elf opens it now")
	}

	cd, err := core.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer cd.Close()
	d, ok := core.As[*Dump](cd)
	if !ok {
		t.Fatalf("core.Open gave %s, not an ELF core", cd.Format())
	}
	if d.Machine() != elf.EM_X86_64 {
		t.Errorf("machine %v", d.Machine())
	}
	for _, f := range d.Info() {
		t.Logf("%s: %s", f.Name, f.Value)
	}
	for _, w := range d.Warnings() {
		t.Logf("warning: %s", w)
	}
	info := infoMap(d)
	if !strings.HasPrefix(info["ELF version"], "e_version 0 (EV_NONE)") || !strings.HasPrefix(info["OS/ABI"], "ELFOSABI_STANDALONE") {
		t.Errorf("Info: ELF version %q, OS/ABI %q", info["ELF version"], info["OS/ABI"])
	}
	if info["PT_LOAD segments"] != "2" || len(d.Notes()) != 0 {
		t.Errorf("%s PT_LOADs, %d notes; want 2 and none", info["PT_LOAD segments"], len(d.Notes()))
	}

	short := false
	for i, s := range d.Segments() {
		t.Logf("segment %d: p_paddr %#x p_vaddr %#x p_offset %#x p_filesz %#x p_memsz %#x, %#x bytes in the file", i, s.PAddr, s.VAddr, s.Off, s.FileSz, s.MemSz, s.InFile)
		if want := min(s.FileSz, size-min(s.Off, size)); s.InFile != want {
			t.Errorf("segment %d: InFile %#x, want %#x", i, s.InFile, want)
		}
		short = short || s.InFile < s.FileSz
		// The first bytes of the segment are the file's bytes at p_offset.
		n := min(s.InFile, 0x10000)
		got, want := make([]byte, n), make([]byte, n)
		if err := d.ReadPhys(got, s.PAddr); err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		if _, err := raw.ReadAt(want, int64(s.Off)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("segment %d: ReadPhys(%#x) differs from the file at %#x", i, s.PAddr, s.Off)
		}
		if s.InFile == s.FileSz {
			continue
		}
		// The last byte in the file reads; the next one is missing.
		last := s.PAddr + s.InFile - 1
		b := make([]byte, 2)
		if _, err := raw.ReadAt(want[:1], int64(size-1)); err != nil {
			t.Fatal(err)
		}
		if err := d.ReadPhys(b[:1], last); err != nil || b[0] != want[0] {
			t.Errorf("ReadPhys(%#x) = %x, %v; want the file's last byte %x", last, b[0], err, want[0])
		}
		var np *core.NotPresentError
		if err := d.ReadPhys(b, last); !errors.As(err, &np) || np.Addr != last+1 || !strings.Contains(np.Reason, "the file ends early") {
			t.Errorf("ReadPhys(%#x) across the end of the file: %v", last, err)
		}
	}
	if !short || len(d.Warnings()) != 1 || !strings.Contains(d.Warnings()[0], "program header 1)") {
		t.Errorf("ends early %v, warnings %q; want program header 1 cut short", short, d.Warnings())
	}

	// The kernel's hz, which LLDB's test reads, is 100; the kernel is
	// loaded at its link address minus 0xffffffff80000000.
	kf, err := elf.Open(testfixture.FreeBSDLLDB(t, "kernel-amd64"))
	if err != nil {
		t.Fatal(err)
	}
	defer kf.Close()
	syms, err := kf.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range syms {
		if s.Name != "hz" {
			continue
		}
		found = true
		var b [4]byte
		if err := d.ReadPhys(b[:], s.Value-0xffffffff80000000); err != nil || le.Uint32(b[:]) != 100 {
			t.Errorf("hz at %#x = %d, %v; want 100", s.Value, le.Uint32(b[:]), err)
		}
	}
	if !found {
		t.Error("kernel-amd64 has no symbol hz")
	}
}
