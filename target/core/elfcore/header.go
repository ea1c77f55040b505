package elfcore

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/kdap/kdap/target/core"
)

// FormatError reports a malformed ELF core: what is wrong, naming the
// field, and the file offset where it is.
type FormatError struct {
	Off int64  // file offset of the bad field or data
	Msg string // what is wrong
}

func (e *FormatError) Error() string { return fmt.Sprintf("%s (file offset %#x)", e.Msg, e.Off) }

func formatErr(off uint64, format string, args ...any) *FormatError {
	return &FormatError{Off: int64(off), Msg: fmt.Sprintf(format, args...)}
}

// pnXNum in e_phnum means that the number of program headers is in
// section header 0's sh_info.
const pnXNum = 0xffff

// layout holds where a class puts the header fields Open uses: offsets in
// the ELF header, in a program header and in section header 0.
type layout struct {
	ehsize                                 int // size of the ELF header
	word                                   int // size of an address or offset
	phoff, shoff                           int
	phentsize, phnum, shentsize, shnum     int
	phsize                                 int // expected e_phentsize
	pOffset, pVaddr, pPaddr, pFilesz, pMem int
	shsize, shInfo                         int
}

var (
	layout64 = layout{
		ehsize: 64, word: 8, phoff: 32, shoff: 40,
		phentsize: 54, phnum: 56, shentsize: 58, shnum: 60,
		phsize: 56, pOffset: 8, pVaddr: 16, pPaddr: 24, pFilesz: 32, pMem: 40,
		shsize: 64, shInfo: 44,
	}
	layout32 = layout{
		ehsize: 52, word: 4, phoff: 28, shoff: 32,
		phentsize: 42, phnum: 44, shentsize: 46, shnum: 48,
		phsize: 32, pOffset: 4, pVaddr: 8, pPaddr: 12, pFilesz: 16, pMem: 20,
		shsize: 40, shInfo: 28,
	}
)

// fileHeader is what Open keeps of the ELF header.
type fileHeader struct {
	lay          *layout
	class        elf.Class
	data         elf.Data
	order        binary.ByteOrder
	identVersion elf.Version // e_ident[EI_VERSION]
	osabi        elf.OSABI
	abiVersion   uint8
	machine      elf.Machine
	version      uint32 // e_version
	phoff        uint64
	phnum        uint64
}

// word reads an address or offset field of h's class.
func (h *fileHeader) word(b []byte) uint64 {
	if h.lay.word == 8 {
		return h.order.Uint64(b)
	}
	return uint64(h.order.Uint32(b))
}

// readAt fills b from f at off; reaching the end of the file early is an
// error, as the callers checked that b lies inside it.
func readAt(f core.File, b []byte, off uint64) error {
	n, err := f.ReadAt(b, int64(off))
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// readHeader reads and checks the ELF header of a file of the given size,
// and finds the program header table. It does not depend on e_version or
// the OS/ABI, which some producers (FreeBSD's dumpsys) leave at 0 and 0xff.
func readHeader(f core.File, size int64) (*fileHeader, error) {
	var b [64]byte
	if size < elf.EI_NIDENT {
		return nil, formatErr(0, "ELF header: file is %d bytes, shorter than the %d-byte ELF identification", size, elf.EI_NIDENT)
	}
	if err := readAt(f, b[:elf.EI_NIDENT], 0); err != nil {
		return nil, fmt.Errorf("reading the ELF header: %w", err)
	}
	if !bytes.HasPrefix(b[:], []byte(elf.ELFMAG)) {
		// The file's bytes are not echoed: it may be any file.
		return nil, formatErr(0, "ELF header: magic is not %q: not an ELF file", elf.ELFMAG)
	}
	h := &fileHeader{
		class:        elf.Class(b[elf.EI_CLASS]),
		data:         elf.Data(b[elf.EI_DATA]),
		identVersion: elf.Version(b[elf.EI_VERSION]),
		osabi:        elf.OSABI(b[elf.EI_OSABI]),
		abiVersion:   b[elf.EI_ABIVERSION],
	}
	switch h.class {
	case elf.ELFCLASS64:
		h.lay = &layout64
	case elf.ELFCLASS32:
		h.lay = &layout32
	default:
		return nil, formatErr(elf.EI_CLASS, "ELF header: EI_CLASS %d is neither ELFCLASS32 nor ELFCLASS64", b[elf.EI_CLASS])
	}
	switch h.data {
	case elf.ELFDATA2LSB:
		h.order = binary.LittleEndian
	case elf.ELFDATA2MSB:
		h.order = binary.BigEndian
	default:
		return nil, formatErr(elf.EI_DATA, "ELF header: EI_DATA %d is neither ELFDATA2LSB nor ELFDATA2MSB", b[elf.EI_DATA])
	}
	lay := h.lay
	if size < int64(lay.ehsize) {
		return nil, formatErr(0, "ELF header: file is %d bytes, shorter than the %d-byte %s header", size, lay.ehsize, className(h.class))
	}
	hb := b[:lay.ehsize]
	if err := readAt(f, hb[elf.EI_NIDENT:], elf.EI_NIDENT); err != nil {
		return nil, fmt.Errorf("reading the ELF header: %w", err)
	}
	if t := elf.Type(h.order.Uint16(hb[16:])); t != elf.ET_CORE {
		return nil, formatErr(16, "ELF header: e_type %v is not ET_CORE: not a core file", t)
	}
	h.machine = elf.Machine(h.order.Uint16(hb[18:]))
	h.version = h.order.Uint32(hb[20:])
	h.phoff = h.word(hb[lay.phoff:])
	h.phnum = uint64(h.order.Uint16(hb[lay.phnum:]))
	if h.phnum == pnXNum {
		n, err := h.extendedPhnum(f, hb, size)
		if err != nil {
			return nil, err
		}
		h.phnum = n
	}
	if h.phnum == 0 {
		return h, nil
	}
	if ent := h.order.Uint16(hb[lay.phentsize:]); int(ent) != lay.phsize {
		return nil, formatErr(uint64(lay.phentsize), "ELF header: e_phentsize %d, expected %d for %s", ent, lay.phsize, className(h.class))
	}
	if h.phoff > uint64(size) || h.phnum > (uint64(size)-h.phoff)/uint64(lay.phsize) {
		return nil, formatErr(uint64(lay.phoff), "ELF header: e_phoff %#x: %d program headers of %d bytes extend past the end of the file (size %#x)", h.phoff, h.phnum, lay.phsize, size)
	}
	return h, nil
}

// extendedPhnum reads the program header count from section header 0,
// for an e_phnum of PN_XNUM.
func (h *fileHeader) extendedPhnum(f core.File, hb []byte, size int64) (uint64, error) {
	lay := h.lay
	shoff := h.word(hb[lay.shoff:])
	if shoff == 0 {
		return 0, formatErr(uint64(lay.shoff), "ELF header: e_phnum is PN_XNUM (0xffff) but e_shoff is 0, so there is no section header 0 to hold the count")
	}
	if ent := h.order.Uint16(hb[lay.shentsize:]); int(ent) != lay.shsize {
		return 0, formatErr(uint64(lay.shentsize), "ELF header: e_shentsize %d, expected %d for %s (e_phnum is PN_XNUM)", ent, lay.shsize, className(h.class))
	}
	if shoff > uint64(size) || uint64(lay.shsize) > uint64(size)-shoff {
		return 0, formatErr(uint64(lay.shoff), "ELF header: e_shoff %#x: section header 0 extends past the end of the file (size %#x)", shoff, size)
	}
	var sh [4]byte
	if err := readAt(f, sh[:], shoff+uint64(lay.shInfo)); err != nil {
		return 0, fmt.Errorf("reading section header 0: %w", err)
	}
	return uint64(h.order.Uint32(sh[:])), nil
}

func className(c elf.Class) string {
	if c == elf.ELFCLASS32 {
		return "ELF32"
	}
	return "ELF64"
}

// progHeader is one program header, widened to 64 bits.
type progHeader struct {
	index  int
	at     uint64 // file offset of the header
	typ    elf.ProgType
	off    uint64 // p_offset
	vaddr  uint64
	paddr  uint64
	filesz uint64
	memsz  uint64
}

// fieldOff returns the file offset of the field at rel in p's header.
func (p *progHeader) fieldOff(rel int) uint64 { return p.at + uint64(rel) }

// progChunk is how many program headers are read at a time.
const progChunk = 512

// eachProg reads the program headers in order and calls fn with each; it
// reads a bounded chunk at a time, as a table may be as large as the file.
func (h *fileHeader) eachProg(f core.File, fn func(p *progHeader) error) error {
	lay := h.lay
	buf := make([]byte, min(h.phnum, progChunk)*uint64(lay.phsize))
	for first := uint64(0); first < h.phnum; first += progChunk {
		n := min(h.phnum-first, progChunk)
		chunk := buf[:n*uint64(lay.phsize)]
		at := h.phoff + first*uint64(lay.phsize)
		if err := readAt(f, chunk, at); err != nil {
			return fmt.Errorf("reading program headers at file offset %#x: %w", at, err)
		}
		for i := uint64(0); i < n; i++ {
			b := chunk[i*uint64(lay.phsize):]
			p := progHeader{
				index:  int(first + i),
				at:     at + i*uint64(lay.phsize),
				typ:    elf.ProgType(h.order.Uint32(b)),
				off:    h.word(b[lay.pOffset:]),
				vaddr:  h.word(b[lay.pVaddr:]),
				paddr:  h.word(b[lay.pPaddr:]),
				filesz: h.word(b[lay.pFilesz:]),
				memsz:  h.word(b[lay.pMem:]),
			}
			if err := fn(&p); err != nil {
				return err
			}
		}
	}
	return nil
}
