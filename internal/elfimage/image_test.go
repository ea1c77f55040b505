package elfimage

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

const tiny = "../../target/debuginfo/testdata/tiny.elf"

// TestSectionsMatchDebugElf checks that every section reads the same as
// through debug/elf, mapped or not.
func TestSectionsMatchDebugElf(t *testing.T) {
	img, err := Open(tiny)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if runtime.GOOS == "linux" && !img.Mapped() {
		t.Error("tiny.elf was not mapped on Linux")
	}
	ref, err := elf.Open(tiny)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	n := 0
	for i, s := range img.File.Sections {
		if s.Type == elf.SHT_NOBITS || s.Type == elf.SHT_NULL {
			continue
		}
		got, err := img.SectionData(s)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		want, err := ref.Sections[i].Data()
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes differ from debug/elf's %d", s.Name, len(got), len(want))
		}
		n++
	}
	if n < 5 {
		t.Errorf("only %d sections compared", n)
	}
	if b, err := img.Section(".no-such-section"); b != nil || err != nil {
		t.Errorf("missing section: %v, %v", b, err)
	}
}

// TestCloseKeepsMapping checks that a slice handed out before Close
// still reads the file afterwards (no fault, no changed bytes), and that
// opening the file again reuses its mapping.
func TestCloseKeepsMapping(t *testing.T) {
	img, err := Open(tiny)
	if err != nil {
		t.Fatal(err)
	}
	b, err := img.Section(".debug_info")
	if err != nil || len(b) == 0 {
		t.Fatalf(".debug_info: %d bytes, %v", len(b), err)
	}
	want := bytes.Clone(b)
	if err := img.Close(); err != nil {
		t.Fatal(err)
	}
	if err := img.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if !bytes.Equal(b, want) {
		t.Error(".debug_info changed after Close")
	}
	again, err := Open(tiny)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	b2, err := again.Section(".debug_info")
	if err != nil {
		t.Fatal(err)
	}
	if img.Mapped() && &b2[0] != &b[0] {
		t.Error("reopening the file made a second mapping")
	}
}

// TestSectionPastEOF checks that a section said to run past the end of
// the file gives an error, not a panic or a fault.
func TestSectionPastEOF(t *testing.T) {
	data, err := os.ReadFile(tiny)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	idx := -1
	for i, s := range ref.Sections {
		if s.Name == ".debug_info" {
			idx = i
		}
	}
	if idx < 0 || ref.Class != elf.ELFCLASS64 {
		t.Fatal("tiny.elf: want an ELF64 file with .debug_info")
	}
	// Move the section's file offset to 8 bytes before the end.
	shoff := binary.LittleEndian.Uint64(data[0x28:])
	shentsize := uint64(binary.LittleEndian.Uint16(data[0x3a:]))
	binary.LittleEndian.PutUint64(data[shoff+uint64(idx)*shentsize+24:], uint64(len(data)-8))
	bad := filepath.Join(t.TempDir(), "bad.elf")
	if err := os.WriteFile(bad, data, 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := Open(bad)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if b, err := img.Section(".debug_info"); err == nil {
		t.Errorf("reading .debug_info past the end of the file: %d bytes, no error", len(b))
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestReleaseKeepsContents checks that released pages read back the same.
func TestReleaseKeepsContents(t *testing.T) {
	img, err := Open(tiny)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	for _, s := range img.File.Sections {
		if s.Type == elf.SHT_NOBITS || s.Type == elf.SHT_NULL {
			continue
		}
		b, err := img.SectionData(s)
		if err != nil {
			t.Fatal(err)
		}
		want := bytes.Clone(b)
		img.Release(b)
		img.Release(want) // not part of the image: ignored
		if !bytes.Equal(b, want) {
			t.Errorf("%s changed after Release", s.Name)
		}
	}
}
