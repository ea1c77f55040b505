package elfimage

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFormatErrorMessage: debug/elf's error texts keep their message,
// numbers, constants' names and offsets, and lose any other value.
func TestFormatErrorMessage(t *testing.T) {
	for in, want := range map[string]string{
		"bad magic number '[114 111 111 116]' in record at byte 0x0":     "bad magic number (file offset 0x0)",
		"unknown ELF class 'ELFCLASS64+112' in record at byte 0x0":       "unknown ELF class ELFCLASS64+112 (file offset 0x0)",
		"invalid section offset '-5' in record at byte 0x1c0":            "invalid section offset -5 (file offset 0x1c0)",
		"invalid shoff '0x1234' in record at byte 0x0":                   "invalid shoff 0x1234 (file offset 0x0)",
		"dynamic version has no namein record at byte 0x40":              "dynamic version has no name (file offset 0x40)",
		"some message 'root:$6$secret' in record at byte 0x0":            "some message (file offset 0x0)",
		"some message '[root]' in record at byte 0x8":                    "some message (file offset 0x8)",
		"some message 'SHT_PROGBITS' in record at byte 0x8":              "some message SHT_PROGBITS (file offset 0x8)",
		"an unexpected rendering with '[114 111 111 116]' and no offset": "its headers do not parse",
	} {
		if got := formatErrorMessage(in); got != want {
			t.Errorf("formatErrorMessage(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOpenNotELF: a file that is not ELF is refused with ErrNotELF and
// none of its bytes; one with an ELF identification but impossible
// header fields names the field, as a number, and its offset.
func TestOpenNotELF(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "shadow")
	if err := os.WriteFile(text, []byte("root:$6$kdapSecret$x:19700:0:99999:7:::\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(text)
	if !errors.Is(err, ErrNotELF) || err.Error() != text+": not an ELF file" {
		t.Errorf("Open of a text file = %v, want %q", err, text+": not an ELF file")
	}
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("\x7fEL"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(short); !errors.Is(err, ErrNotELF) {
		t.Errorf("Open of a 3-byte file = %v, want ErrNotELF", err)
	}

	data, err := os.ReadFile(tiny)
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint64(data[0x28:], 1<<63) // e_shoff, negative as debug/elf reads it
	bad := filepath.Join(dir, "bad.elf")
	if err := os.WriteFile(bad, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(bad)
	if err == nil || !strings.HasPrefix(err.Error(), bad+": malformed ELF file: ") || !strings.Contains(err.Error(), "(file offset 0x") || strings.Contains(err.Error(), "in record at byte") {
		t.Errorf("Open of an ELF file with e_shoff 1<<63 = %v, want a malformed ELF file error with its offset", err)
	}
}
