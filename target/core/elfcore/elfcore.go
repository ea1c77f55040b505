// Package elfcore reads ELF core files whose PT_LOAD segments describe
// physical memory: FreeBSD full dumps (ELF64 on amd64, ELF32 on i386),
// QEMU's dump-guest-memory without paging, and Linux /proc/vmcore copies
// (where p_paddr is physical and p_vaddr may be virtual).
//
// The ELF and program headers are parsed here rather than by debug/elf,
// which refuses the e_version 0 that FreeBSD writes. Both classes and both
// byte orders are read.
//
// A file that ends early (a dump device too small for the dump, an
// interrupted dump, a sparse copy that stops at its last written byte)
// still opens: the PT_LOAD data it holds reads as usual, what lies past
// its end reads as *core.NotPresentError, and Warnings says how much is
// missing.
package elfcore

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/kdap/kdap/target/core"
)

const (
	// maxNoteBytes bounds the note data read from all PT_NOTE segments.
	maxNoteBytes = 64 << 20
	// ntPRStatus is the NT_PRSTATUS note type.
	ntPRStatus = 1
)

// Note is one ELF note.
type Note struct {
	Owner string // the note's name, without the trailing NUL
	Type  uint32
	Desc  []byte
}

// Segment is one PT_LOAD segment, as used for physical reads.
type Segment struct {
	PAddr  uint64 // first physical address
	VAddr  uint64 // p_vaddr as recorded (may be virtual)
	Off    uint64 // file offset of the data
	FileSz uint64 // bytes the segment has in the file (p_filesz)
	MemSz  uint64 // bytes of memory described; beyond FileSz read as zero
	InFile uint64 // bytes of FileSz that the file holds: less when it ends early
}

// Dump is an opened ELF core. It is safe for concurrent use.
type Dump struct {
	f       core.File
	hdr     *fileHeader
	segs    []Segment // sorted by PAddr, non-overlapping
	loads   int       // PT_LOAD segments in the file
	notes   []Note
	covered uint64
	size    int64    // the file's size
	warn    []string // what Warnings returns
}

// init registers the format; core.OpenFile checks the error before the
// Dump, so a failed Open's typed nil never escapes.
func init() {
	core.Register(core.Format{Name: "ELF core", Probe: Probe, Open: func(f core.File) (core.Dump, error) { return Open(f) }})
}

// Probe reports whether head is the start of an ELF32 or ELF64 ET_CORE
// file of either byte order.
func Probe(head []byte) bool {
	if len(head) < 18 || !bytes.HasPrefix(head, []byte(elf.ELFMAG)) {
		return false
	}
	if c := elf.Class(head[elf.EI_CLASS]); c != elf.ELFCLASS64 && c != elf.ELFCLASS32 {
		return false
	}
	var t uint16
	switch elf.Data(head[elf.EI_DATA]) {
	case elf.ELFDATA2LSB:
		t = binary.LittleEndian.Uint16(head[16:])
	case elf.ELFDATA2MSB:
		t = binary.BigEndian.Uint16(head[16:])
	default:
		return false
	}
	return elf.Type(t) == elf.ET_CORE
}

// Open parses the ELF header, program headers and notes of f. A header
// that contradicts itself or the file gives a *FormatError.
func Open(f core.File) (*Dump, error) {
	size := f.Size()
	h, err := readHeader(f, size)
	if err != nil {
		return nil, err
	}
	d := &Dump{f: f, hdr: h, size: size}
	var loads []Segment
	var short []int // program headers of PT_LOADs that the file cuts short
	missing := uint64(0)
	noteBytes := uint64(0)
	err = h.eachProg(f, func(p *progHeader) error {
		switch p.typ {
		case elf.PT_LOAD:
			if err := h.checkLoad(p); err != nil {
				return err
			}
			d.loads++
			s := Segment{PAddr: p.paddr, VAddr: p.vaddr, Off: p.off, FileSz: p.filesz, MemSz: p.memsz, InFile: p.filesz}
			if end := p.off + p.filesz; end > uint64(size) {
				s.InFile = uint64(size) - min(p.off, uint64(size))
				short = append(short, p.index)
				missing += min(s.FileSz-s.InFile, ^uint64(0)-missing) // saturates
			}
			if p.memsz > 0 {
				loads = append(loads, s)
			}
		case elf.PT_NOTE:
			if p.filesz > maxNoteBytes-noteBytes {
				return formatErr(p.fieldOff(h.lay.pFilesz), "PT_NOTE program header %d: p_filesz %#x brings the notes past the %d-byte limit", p.index, p.filesz, maxNoteBytes)
			}
			noteBytes += p.filesz
			if err := d.readNotes(p, size); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(loads) > 1 {
		allZero := true
		for _, s := range loads {
			allZero = allZero && s.PAddr == 0
		}
		if allZero {
			return nil, formatErr(h.phoff, "all %d PT_LOAD segments have p_paddr 0: this core describes virtual memory, not physical", len(loads))
		}
	}
	if len(short) > 0 {
		d.warn = append(d.warn, fmt.Sprintf("the file ends early: %s of PT_LOAD data (%s) lie past its end (file size %#x)", byteSize(missing), headerList(short), size))
	}
	d.segs = mergeSegments(loads)
	for _, s := range d.segs {
		d.covered += s.MemSz
	}
	return d, nil
}

// checkLoad checks one PT_LOAD header. Data past the end of the file is
// not an error: the file may end early, and Open keeps what it holds.
func (h *fileHeader) checkLoad(p *progHeader) error {
	lay := h.lay
	if p.filesz > p.memsz {
		return formatErr(p.fieldOff(lay.pFilesz), "program header %d: p_filesz %#x is larger than p_memsz %#x", p.index, p.filesz, p.memsz)
	}
	if p.off+p.filesz < p.off {
		return formatErr(p.fieldOff(lay.pOffset), "program header %d: p_offset %#x + p_filesz %#x wraps around", p.index, p.off, p.filesz)
	}
	end := p.paddr + p.memsz
	if end < p.paddr || (h.class == elf.ELFCLASS32 && end > 1<<32) {
		return formatErr(p.fieldOff(lay.pPaddr), "program header %d: p_paddr %#x + p_memsz %#x wraps around the %d-bit address space", p.index, p.paddr, p.memsz, 8*lay.word)
	}
	return nil
}

// byteSize writes n bytes for people: "12.5 MiB (0xc80000 bytes)".
func byteSize(n uint64) string {
	if n == 1 {
		return "1 byte"
	}
	if n < 1<<10 {
		return fmt.Sprintf("%d bytes", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v, u := float64(n)/1024, 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	return fmt.Sprintf("%.1f %s (%#x bytes)", v, units[u], n)
}

// maxListed bounds the runs of program headers a warning names.
const maxListed = 8

// headerList names program headers by index, runs as ranges:
// "program headers 1, 3–7"; past maxListed runs it gives the count.
func headerList(idx []int) string {
	if len(idx) == 1 {
		return fmt.Sprintf("program header %d", idx[0])
	}
	var parts []string
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, fmt.Sprint(idx[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d–%d", idx[i], idx[j]))
		}
		i = j + 1
		if len(parts) == maxListed && i < len(idx) {
			parts = append(parts, fmt.Sprintf("… (%d in all)", len(idx)))
			break
		}
	}
	return "program headers " + strings.Join(parts, ", ")
}

// mergeSegments sorts segments by physical address and removes overlaps:
// a segment inside an earlier one is dropped (Linux vmcores describe the
// kernel image twice), one that overlaps partly keeps only its new part.
func mergeSegments(in []Segment) []Segment {
	sort.Slice(in, func(i, j int) bool {
		if in[i].PAddr != in[j].PAddr {
			return in[i].PAddr < in[j].PAddr
		}
		return in[i].MemSz > in[j].MemSz
	})
	var out []Segment
	for _, s := range in {
		if n := len(out); n > 0 {
			end := out[n-1].PAddr + out[n-1].MemSz
			if s.PAddr+s.MemSz <= end {
				continue
			}
			if s.PAddr < end {
				cut := end - s.PAddr
				s.PAddr += cut
				s.VAddr += cut
				s.MemSz -= cut
				if cut >= s.FileSz {
					s.FileSz, s.InFile = 0, 0
				} else {
					s.Off += cut
					s.FileSz -= cut
					s.InFile -= min(cut, s.InFile)
				}
			}
		}
		out = append(out, s)
	}
	return out
}

// readNotes parses the notes of one PT_NOTE segment.
func (d *Dump) readNotes(p *progHeader, size int64) error {
	if p.off+p.filesz < p.off || p.off > uint64(size) || p.filesz > uint64(size)-p.off {
		return formatErr(p.fieldOff(d.hdr.lay.pOffset), "PT_NOTE program header %d: notes [%#x, %#x) extend past the end of the file (size %#x)", p.index, p.off, p.off+p.filesz, size)
	}
	buf := make([]byte, p.filesz)
	if err := readAt(d.f, buf, p.off); err != nil {
		return fmt.Errorf("reading the notes of program header %d at file offset %#x: %w", p.index, p.off, err)
	}
	notes, at, msg := parseNotes(buf, d.hdr.order)
	if msg != "" {
		return formatErr(p.off+at, "PT_NOTE program header %d: %s", p.index, msg)
	}
	d.notes = append(d.notes, notes...)
	return nil
}

// ParseNotes decodes a sequence of ELF notes (4-byte aligned name and
// descriptor, as in core files).
func ParseNotes(b []byte, order binary.ByteOrder) ([]Note, error) {
	notes, at, msg := parseNotes(b, order)
	if msg != "" {
		return nil, fmt.Errorf("%s at offset %#x", msg, at)
	}
	return notes, nil
}

// parseNotes decodes notes; on error it returns the offset in b of the bad
// note and what is wrong with it.
func parseNotes(b []byte, order binary.ByteOrder) (notes []Note, at uint64, msg string) {
	off := 0
	for len(b)-off >= 12 {
		namesz := uint64(order.Uint32(b[off:]))
		descsz := uint64(order.Uint32(b[off+4:]))
		typ := order.Uint32(b[off+8:])
		p := uint64(off + 12)
		nameEnd := p + namesz
		descStart := align4(nameEnd)
		descEnd := descStart + descsz
		if descEnd > uint64(len(b)) {
			return nil, uint64(off), fmt.Sprintf("note %d: n_namesz %d and n_descsz %d run past the %d bytes of notes", len(notes), namesz, descsz, len(b))
		}
		owner := string(bytes.TrimRight(b[p:nameEnd], "\x00"))
		notes = append(notes, Note{Owner: owner, Type: typ, Desc: b[descStart:descEnd:descEnd]})
		next := align4(descEnd)
		if next > uint64(len(b)) {
			next = uint64(len(b))
		}
		off = int(next)
	}
	return notes, 0, ""
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }

// Format names the format.
func (d *Dump) Format() string { return "ELF core (physical memory)" }

// Machine returns the ELF e_machine.
func (d *Dump) Machine() elf.Machine { return d.hdr.machine }

// Notes returns every note of every PT_NOTE segment, in file order.
func (d *Dump) Notes() []Note { return append([]Note(nil), d.notes...) }

// Segments returns the memory segments sorted by physical address, with
// overlaps removed.
func (d *Dump) Segments() []Segment { return append([]Segment(nil), d.segs...) }

// CPURegisters returns the descriptors of the NT_PRSTATUS notes, one per
// CPU in note order.
func (d *Dump) CPURegisters() [][]byte {
	var regs [][]byte
	for _, n := range d.notes {
		if n.Type == ntPRStatus && n.Owner == "CORE" {
			regs = append(regs, n.Desc)
		}
	}
	return regs
}

// Info lists the header facts.
func (d *Dump) Info() []core.Field {
	h := d.hdr
	return []core.Field{
		{Name: "ELF class", Value: fmt.Sprintf("%v, %v", h.class, h.data)},
		{Name: "ELF version", Value: fmt.Sprintf("e_version %d (%v), EI_VERSION %d", h.version, elf.Version(h.version), uint8(h.identVersion))},
		{Name: "machine", Value: h.machine.String()},
		{Name: "OS/ABI", Value: fmt.Sprintf("%v, ABI version %d", h.osabi, h.abiVersion)},
		{Name: "PT_LOAD segments", Value: fmt.Sprint(d.loads)},
		{Name: "physical bytes covered", Value: fmt.Sprintf("%d (%#x)", d.covered, d.covered)},
		{Name: "notes", Value: fmt.Sprint(len(d.notes))},
		{Name: "NT_PRSTATUS notes", Value: fmt.Sprint(len(d.CPURegisters()))},
	}
}

// ReadPhys reads physical memory; addresses no segment covers give an
// error wrapping *core.NotPresentError.
func (d *Dump) ReadPhys(b []byte, pa uint64) error {
	if pa+uint64(len(b)) < pa {
		return fmt.Errorf("ELF core: read of %d bytes at physical address %#x wraps around the address space", len(b), pa)
	}
	for len(b) > 0 {
		i := sort.Search(len(d.segs), func(i int) bool { return d.segs[i].PAddr+d.segs[i].MemSz > pa })
		if i == len(d.segs) || pa < d.segs[i].PAddr {
			return &core.NotPresentError{Addr: pa, Reason: "no PT_LOAD segment covers it"}
		}
		// A segment is three runs: bytes in the file, bytes past the end of
		// a file that ends early, and the zeros from p_filesz to p_memsz.
		s := d.segs[i]
		rel := pa - s.PAddr
		n := uint64(len(b))
		switch {
		case rel < s.InFile:
			n = min(n, s.InFile-rel)
			got, err := d.f.ReadAt(b[:n], int64(s.Off+rel))
			if uint64(got) != n {
				if err == nil || errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return fmt.Errorf("ELF core: physical address %#x (file offset %#x): %w", pa, s.Off+rel, err)
			}
		case rel < s.FileSz:
			return &core.NotPresentError{Addr: pa, Reason: fmt.Sprintf("the file ends early: its bytes would be at file offset %#x, past the end (file size %#x)", s.Off+rel, d.size)}
		default:
			n = min(n, s.MemSz-rel)
			clear(b[:n])
		}
		b = b[n:]
		pa += n
	}
	return nil
}

// Warnings says what the dump lacks: PT_LOAD data past the end of a file
// that ends early.
func (d *Dump) Warnings() []string { return append([]string(nil), d.warn...) }

// Close releases nothing: the file belongs to the caller.
func (d *Dump) Close() error { return nil }
