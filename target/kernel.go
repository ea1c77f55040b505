package target

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/kdap/kdap/internal/elfimage"
	"github.com/kdap/kdap/target/debuginfo"
	"github.com/kdap/kdap/target/symbols"
)

// Kernel is the debug kernel file (FreeBSD kernel.debug, Linux vmlinux):
// its ELF symbols, always, and its DWARF, loaded on first use.
type Kernel struct {
	// Path is the file the kernel was opened from.
	Path string
	// ELF is the parsed ELF header and section table.
	ELF *elf.File
	// Syms is the ELF symbol table, moved by Slide.
	Syms *symbols.Table
	// Slide is the KASLR offset of the running kernel: a running address
	// minus Slide is the file's (DWARF and CFI) address. Zero unless an OS
	// model called SetSlide.
	Slide uint64

	img      *elfimage.Image
	fileSyms *symbols.Table // the symbols at their link-time addresses

	imageOnce        sync.Once
	imageLo, imageHi uint64 // the span of the allocated, nonzero-based sections

	textOnce sync.Once
	text     [][2]uint64 // executable sections' file addresses, sorted
	// textGuess stands in for text when the file has no executable
	// section (a symbol-only kernel): running address ranges an OS model
	// knows to hold kernel code.
	textGuess [][2]uint64

	probs problems // damaged debug information met so far

	dwarfOnce sync.Once
	dwarf     *debuginfo.Data
	dwarfErr  error
	noDWARF   bool
}

// OpenKernel opens a kernel file read-only and loads its symbol table.
// The file is mapped where the system allows it, so that only what is
// read of its (mostly DWARF) sections costs time and memory.
func OpenKernel(path string, noDWARF bool) (*Kernel, error) {
	img, err := elfimage.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("kernel not found: %s", path)
		}
		return nil, fmt.Errorf("kernel %w", err)
	}
	syms, err := symbols.LoadImage(img)
	if err != nil {
		img.Close()
		return nil, fmt.Errorf("kernel %s: %w", path, err)
	}
	k := &Kernel{Path: path, ELF: img.File, Syms: syms, fileSyms: syms, img: img, noDWARF: noDWARF}
	if !noDWARF && img.Mapped() {
		// Reading a vmlinux's unit headers and abbreviation tables takes
		// a few hundred milliseconds that need no dump: start now, on
		// another core, while the caller opens the dump. DWARF's Once
		// makes the first caller wait for this. A kernel closed before
		// it ends still reads the mapped file (see Close).
		go k.DWARF()
	}
	return k, nil
}

// SetSlide records the running kernel's KASLR offset and moves the
// symbols of the kernel image by it, so Syms gives running addresses.
// Symbols outside the image (x86-64's zero-based per-CPU offsets) stay.
func (k *Kernel) SetSlide(off uint64) {
	k.Syms = k.fileSyms.Slide(off, func(s symbols.Symbol) bool { return k.inImage(s.Addr) })
	k.Slide = off
}

// InImage reports whether the running address addr lies in the kernel
// image (an allocated section of the kernel file, after the slide).
func (k *Kernel) InImage(addr uint64) bool { return k.inImage(addr - k.Slide) }

// InText reports whether the running address addr lies in an
// executable section of the kernel file (after the slide).
func (k *Kernel) InText(addr uint64) bool {
	k.textOnce.Do(func() {
		for _, s := range k.ELF.Sections {
			if s.Flags&elf.SHF_EXECINSTR != 0 && s.Flags&elf.SHF_ALLOC != 0 && s.Size > 0 {
				k.text = append(k.text, [2]uint64{s.Addr, s.Addr + s.Size})
			}
		}
		sort.Slice(k.text, func(i, j int) bool { return k.text[i][0] < k.text[j][0] })
	})
	if len(k.text) == 0 {
		for _, r := range k.textGuess {
			if addr >= r[0] && addr < r[1] {
				return true
			}
		}
		return false
	}
	file := addr - k.Slide
	i := sort.Search(len(k.text), func(i int) bool { return k.text[i][1] > file })
	return i < len(k.text) && file >= k.text[i][0]
}

// HasText reports whether the kernel file has executable sections (a
// symbol-only kernel has none).
func (k *Kernel) HasText() bool {
	k.InText(0)
	return len(k.text) > 0
}

// GuessText gives the running address ranges that hold kernel code for
// a kernel file without executable sections, so that frame-pointer
// unwinding can still tell return addresses from data. It is ignored
// when the file has text of its own.
func (k *Kernel) GuessText(ranges [][2]uint64) { k.textGuess = ranges }

// ImageSpan returns the span of the kernel file's allocated sections, at
// link-time addresses.
func (k *Kernel) ImageSpan() (lo, hi uint64) {
	k.inImage(0)
	return k.imageLo, k.imageHi
}

// Relocate turns a link-time address from the kernel file (a DWARF
// DW_OP_addr, a function's low_pc) into the running kernel's address: it
// adds Slide to addresses inside the kernel image. Addresses outside it,
// such as the zero-based per-CPU offsets of x86-64, are not relocated.
func (k *Kernel) Relocate(fileAddr uint64) uint64 {
	if k.Slide == 0 || !k.inImage(fileAddr) {
		return fileAddr
	}
	return fileAddr + k.Slide
}

// inImage reports whether addr lies in an allocated section of the kernel
// file that is linked at a nonzero address.
func (k *Kernel) inImage(addr uint64) bool {
	k.imageOnce.Do(func() {
		for _, s := range k.ELF.Sections {
			if s.Flags&elf.SHF_ALLOC == 0 || s.Addr == 0 || s.Size == 0 {
				continue
			}
			if k.imageLo == 0 || s.Addr < k.imageLo {
				k.imageLo = s.Addr
			}
			if end := s.Addr + s.Size; end > k.imageHi {
				k.imageHi = end
			}
		}
	})
	return addr >= k.imageLo && addr < k.imageHi
}

// Close releases the kernel file. Lookups still running on other
// goroutines, or made later, stay safe: a mapped file stays mapped (see
// elfimage.Image.Close), and reads of an unmapped one fail with errors.
func (k *Kernel) Close() error { return k.img.Close() }

// DWARF returns the kernel's debug information, parsing its index on the
// first call. It returns an error wrapping debuginfo.ErrNoDWARF when the
// file carries none.
func (k *Kernel) DWARF() (*debuginfo.Data, error) {
	k.dwarfOnce.Do(func() {
		if k.noDWARF {
			k.dwarfErr = fmt.Errorf("DWARF disabled: %w", debuginfo.ErrNoDWARF)
			return
		}
		k.dwarf, k.dwarfErr = debuginfo.OpenImage(k.img)
	})
	return k.dwarf, k.dwarfErr
}

// Addr returns the address of the named symbol.
func (k *Kernel) Addr(name string) (uint64, bool) {
	s, ok := k.Syms.Lookup(name)
	if !ok {
		return 0, false
	}
	return s.Addr, true
}

// MemberOffset returns the byte offset of a member path ("p_list.le_next")
// in the named type ("struct proc"), from DWARF.
func (k *Kernel) MemberOffset(typeName, path string) (int64, error) {
	off, _, err := k.Member(typeName, path)
	return off, err
}

// Member returns the byte offset and the size of a member path in the
// named type, from DWARF.
func (k *Kernel) Member(typeName, path string) (offset, size int64, err error) {
	d, err := k.DWARF()
	if err != nil {
		return 0, 0, err
	}
	t, err := d.Type(typeName)
	if err != nil {
		return 0, 0, err
	}
	off, m, err := d.Member(t, path)
	if err != nil {
		return 0, 0, err
	}
	return off, m.Type.Size(), nil
}

// TypeSize returns the size in bytes of the named type, from DWARF.
func (k *Kernel) TypeSize(typeName string) (int64, error) {
	d, err := k.DWARF()
	if err != nil {
		return 0, err
	}
	t, err := d.Type(typeName)
	if err != nil {
		return 0, err
	}
	return t.Size(), nil
}

// ReadFile reads the initialised bytes that the kernel file itself holds
// at virtual address va (from its PROGBITS sections), so a dump can be
// checked against the file it is said to match.
func (k *Kernel) ReadFile(b []byte, va uint64) error {
	for _, s := range k.ELF.Sections {
		if s.Type != elf.SHT_PROGBITS || s.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		if va < s.Addr || va+uint64(len(b)) > s.Addr+s.Size {
			continue
		}
		if _, err := s.ReadAt(b, int64(va-s.Addr)); err != nil {
			return fmt.Errorf("reading %s at %#x from %s: %w", s.Name, va, k.Path, err)
		}
		return nil
	}
	return fmt.Errorf("address %#x is not initialised data in %s", va, k.Path)
}

// CheckBuildID compares the kernel file's GNU build-id note with the bytes
// at the same address in the dump, when the kernel loads the note into
// memory. It returns nil when the dump cannot tell (no allocated note, or
// its page not dumped) and an error naming both ids on a mismatch.
func (t *Target) CheckBuildID() error {
	s := t.Kernel.ELF.Section(".note.gnu.build-id")
	if s == nil || s.Flags&elf.SHF_ALLOC == 0 || s.Addr == 0 || s.Size < 16 || s.Size > 1024 {
		return nil
	}
	want, err := s.Data()
	if err != nil {
		return nil
	}
	got := make([]byte, len(want))
	if err := t.ReadVirt(got, s.Addr); err != nil {
		return nil
	}
	if bytes.Equal(got, want) {
		return nil
	}
	return fmt.Errorf("%s does not match this dump: build-id %s in the file, %s in the dump",
		filepath.Base(t.Kernel.Path), noteID(want), noteID(got))
}

// noteID renders the descriptor of an ELF note as hex (the whole note when
// it is malformed).
func noteID(b []byte) string {
	if len(b) >= 12 {
		namesz := int(binary.LittleEndian.Uint32(b[0:]))
		descsz := int(binary.LittleEndian.Uint32(b[4:]))
		off := 12 + (namesz+3)&^3
		if namesz < 256 && descsz < 256 && off+descsz <= len(b) {
			return hex.EncodeToString(b[off : off+descsz])
		}
	}
	return hex.EncodeToString(b)
}
