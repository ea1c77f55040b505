// Package elfimage opens an ELF file so that its sections cost what is
// read of them: the file is mapped read-only where the operating system
// allows it, and a section stored uncompressed is handed out as a slice
// of the mapping instead of a copy. A debug vmlinux is 590 MB, most of it
// DWARF that a session never touches.
package elfimage

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"unsafe"
)

// pageSize is the granularity of Release.
var pageSize = os.Getpagesize()

// Image is an opened ELF file.
type Image struct {
	// File is the parsed ELF header, program and section tables.
	File *elf.File

	// data is the whole file, mapped; nil when sections are read through
	// File's io.ReaderAt, fh.
	data []byte
	fh   *os.File // nil when mapped

	closeOnce sync.Once
	closeErr  error
}

// ErrNotELF is wrapped by Open's error for a file that does not start
// with the ELF magic number. The error does not echo the file's bytes.
var ErrNotELF = errors.New("not an ELF file")

// Open opens the ELF file at path read-only, mapping it where possible.
// Errors name the path and wrap os.ErrNotExist for a missing file,
// ErrNotRegular for anything but a regular file (see OpenRegular) and
// ErrNotELF for a file without the ELF magic number; an ELF file whose
// headers do not parse gives "malformed ELF file" and what debug/elf
// found wrong, where, without the file's bytes.
func Open(path string) (*Image, error) {
	fh, _, err := OpenRegular(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// Checked before the file is mapped, as a mapping is kept for the
	// life of the process (see Close).
	var magic [len(elf.ELFMAG)]byte
	if n, _ := fh.ReadAt(magic[:], 0); n < len(magic) || string(magic[:]) != elf.ELFMAG {
		fh.Close()
		return nil, fmt.Errorf("%s: %w", path, ErrNotELF)
	}
	// A failed mapping is not an error: the file is then read with
	// ReadAt, as on systems without mmap.
	data, _ := mapFile(fh)
	var r io.ReaderAt = fh
	if data != nil {
		// The mapping outlives the descriptor.
		fh.Close()
		fh = nil
		r = bytes.NewReader(data)
	}
	ef, err := elf.NewFile(r)
	if err != nil {
		if fh != nil {
			fh.Close()
		}
		return nil, fmt.Errorf("%s: malformed ELF file: %w", path, elfError(err))
	}
	return &Image{File: ef, data: data, fh: fh}, nil
}

// formatErrorText parses the text of a *elf.FormatError: what is wrong,
// the offending value when there is one, and the file offset.
var formatErrorText = regexp.MustCompile(`^(.*?)(?: '(.*)' )?in record at byte (0x[0-9a-f]+)$`)

// plainValue matches the values debug/elf's errors may keep: a number, or
// the name of an ELF constant with an optional offset ("ELFCLASS64+112").
var plainValue = regexp.MustCompile(`^(-?[0-9]+|0x[0-9a-f]+|[A-Z][A-Z0-9_]*(\+[0-9]+)?)$`)

// elfError rewrites an error of elf.NewFile so that it echoes none of the
// file's bytes (see formatErrorMessage); other errors (short reads) carry
// no file content and are returned as they are.
func elfError(err error) error {
	var fe *elf.FormatError
	if !errors.As(err, &fe) {
		return err
	}
	return errors.New(formatErrorMessage(fe.Error()))
}

// formatErrorMessage rewrites the text of a *elf.FormatError: it keeps
// the message, the value when that is a number or a constant's name, and
// the offset, and drops any other value (debug/elf gives the first four
// bytes of a file that is not ELF as "bad magic number '[114 111 111
// 116]'").
func formatErrorMessage(text string) string {
	m := formatErrorText.FindStringSubmatch(text)
	if m == nil {
		return "its headers do not parse"
	}
	msg, val, off := m[1], m[2], m[3]
	if val != "" && plainValue.MatchString(val) {
		msg += " " + val
	}
	return fmt.Sprintf("%s (file offset %s)", msg, off)
}

// FromFile wraps an already parsed ELF file; its sections are read (and
// copied) through the file's io.ReaderAt.
func FromFile(f *elf.File) *Image { return &Image{File: f} }

// Mapped reports whether the file's bytes are mapped rather than read.
func (im *Image) Mapped() bool { return im.data != nil }

// SectionData returns the contents of s, decompressed. When the file is
// mapped and s is stored uncompressed, the result is a slice of the
// mapping: callers must not modify it. It stays readable after Close.
func (im *Image) SectionData(s *elf.Section) ([]byte, error) {
	if s == nil {
		return nil, errors.New("no such section")
	}
	if s.Type == elf.SHT_NOBITS {
		return nil, fmt.Errorf("%s has no file contents (SHT_NOBITS)", im.SectionLabel(s))
	}
	if im.data == nil || s.Flags&elf.SHF_COMPRESSED != 0 || strings.HasPrefix(s.Name, ".zdebug") {
		// Compressed sections are inflated by debug/elf, which bounds
		// the allocation by what the stream really holds.
		b, err := s.Data()
		if err != nil {
			return nil, fmt.Errorf("reading %s (file offset %#x, %#x bytes): %w", im.SectionLabel(s), s.Offset, s.Size, elfError(err))
		}
		return b, nil
	}
	end := s.Offset + s.FileSize
	if end < s.Offset || end > uint64(len(im.data)) {
		return nil, fmt.Errorf("%s (file offset %#x, %#x bytes) runs past the end of the file (%#x bytes)",
			im.SectionLabel(s), s.Offset, s.FileSize, len(im.data))
	}
	return im.data[s.Offset:end:end], nil
}

// standardSections are the section names that errors print: those kdap
// looks up, and the usual tables. Any other name is text from the file.
var standardSections = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`.symtab .strtab .dynsym .dynstr .shstrtab .text .data .rodata .bss
		.eh_frame .debug_frame .orc_unwind .orc_unwind_ip .note.gnu.build-id
		.debug_abbrev .debug_addr .debug_aranges .debug_info .debug_line .debug_line_str
		.debug_loc .debug_loclists .debug_names .debug_ranges .debug_rnglists .debug_str
		.debug_str_offsets .debug_types`) {
		standardSections[n] = true
		if rest, ok := strings.CutPrefix(n, ".debug_"); ok {
			standardSections[".zdebug_"+rest] = true
		}
	}
}

// SectionLabel names section s in errors without echoing the file: by its
// name when that is a standard one ("section .symtab"), else by its index
// and type ("section 12 (SHT_PROGBITS)"), as a section's name is bytes of
// the file's string table.
func (im *Image) SectionLabel(s *elf.Section) string {
	if standardSections[s.Name] {
		return "section " + s.Name
	}
	for i, t := range im.File.Sections {
		if t == s {
			return fmt.Sprintf("section %d (%v)", i, s.Type)
		}
	}
	return fmt.Sprintf("a section (%v)", s.Type)
}

// Section returns the contents of the named section, nil (and no error)
// when the file has no such section or it has no file contents.
func (im *Image) Section(name string) ([]byte, error) {
	s := im.File.Section(name)
	if s == nil || s.Type == elf.SHT_NOBITS {
		return nil, nil
	}
	return im.SectionData(s)
}

// Release drops this process's page mappings of the given bytes of a
// mapped image (a slice SectionData returned): the pages stay in the
// system's page cache and are mapped again, unchanged, when next read.
// After a scan over a large section (debug/dwarf reading every unit
// header, a name index pass) this keeps the resident set to what is
// still in use; readers on other goroutines are unaffected. It does
// nothing for images that are not mapped.
func (im *Image) Release(b []byte) {
	if im.data == nil || len(b) == 0 {
		return
	}
	// Only whole pages inside the mapping.
	base := uintptr(unsafe.Pointer(&im.data[0]))
	lo := uintptr(unsafe.Pointer(&b[0]))
	hi := lo + uintptr(len(b))
	if lo < base || hi > base+uintptr(len(im.data)) {
		return
	}
	release(pageAligned(im.data[lo-base : hi-base]))
}

// pageAligned returns the part of b that covers whole memory pages.
func pageAligned(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	page := uintptr(pageSize)
	lo := uintptr(unsafe.Pointer(&b[0]))
	hi := lo + uintptr(len(b))
	alo, ahi := (lo+page-1)&^(page-1), hi&^(page-1)
	if alo >= ahi {
		return nil
	}
	return b[alo-lo : ahi-lo]
}

// Close releases the file. A mapped file is not unmapped, because
// slices handed out by SectionData may still be in use on other
// goroutines (a session can close its kernel while requests run, and
// debug/dwarf readers and parsed frame entries keep sub-slices): reading
// an unmapped page would crash the process, and swapping in other
// contents would change data under a parser, which debug/dwarf does not
// expect (its unit parser loops forever when the bytes change between
// its two passes). So the mapping stays until the process exits and is
// reused if the same file is opened again; Close drops its resident
// pages, and what remains is address space. The file must not shrink
// while mapped: reading a page past its new end faults.
func (im *Image) Close() error {
	im.closeOnce.Do(func() {
		if im.data != nil {
			release(pageAligned(im.data))
		}
		if im.fh != nil {
			im.closeErr = im.fh.Close()
		}
	})
	return im.closeErr
}
