// Package elfcore reads ELF64 core files whose PT_LOAD segments describe
// physical memory: FreeBSD full dumps, QEMU's dump-guest-memory without
// paging, and Linux /proc/vmcore copies (where p_paddr is physical and
// p_vaddr may be virtual).
package elfcore

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/kdap/kdap/target/core"
)

const (
	// maxNoteBytes bounds the note data read from one PT_NOTE segment.
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
	FileSz uint64 // bytes present in the file
	MemSz  uint64 // bytes of memory described; beyond FileSz read as zero
}

// Dump is an opened ELF core. It is safe for concurrent use.
type Dump struct {
	f       core.File
	machine elf.Machine
	osabi   elf.OSABI
	order   binary.ByteOrder
	segs    []Segment // sorted by PAddr, non-overlapping
	loads   int       // PT_LOAD segments in the file
	notes   []Note
	covered uint64
}

// init registers the format; core.OpenFile checks the error before the
// Dump, so a failed Open's typed nil never escapes.
func init() {
	core.Register(core.Format{Name: "ELF core", Probe: Probe, Open: func(f core.File) (core.Dump, error) { return Open(f) }})
}

// Probe reports whether head is the start of an ELF64 ET_CORE file.
func Probe(head []byte) bool {
	if len(head) < 18 || !bytes.HasPrefix(head, []byte(elf.ELFMAG)) || elf.Class(head[elf.EI_CLASS]) != elf.ELFCLASS64 {
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

// Open parses the ELF header, program headers and notes of f.
func Open(f core.File) (*Dump, error) {
	size := f.Size()
	var ident [64]byte
	if size < int64(len(ident)) {
		return nil, fmt.Errorf("ELF header: file is %d bytes, shorter than the 64-byte ELF64 header", size)
	}
	if _, err := f.ReadAt(ident[:], 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("ELF header: %w", err)
	}
	if !Probe(ident[:]) {
		return nil, fmt.Errorf("ELF header: not an ELF64 core file (file offset 0x0)")
	}
	var order binary.ByteOrder = binary.LittleEndian
	if elf.Data(ident[elf.EI_DATA]) == elf.ELFDATA2MSB {
		order = binary.BigEndian
	}
	// Check the program header table before debug/elf reads it, for a
	// clearer error than a short read.
	phoff := order.Uint64(ident[32:])
	phentsize := uint64(order.Uint16(ident[54:]))
	phnum := uint64(order.Uint16(ident[56:]))
	if phnum > 0 && phentsize != 56 {
		return nil, fmt.Errorf("ELF header: e_phentsize %d, expected 56 for ELF64 (file offset 0x36)", phentsize)
	}
	if phoff > uint64(size) || phnum*56 > uint64(size)-phoff {
		return nil, fmt.Errorf("ELF header: %d program headers at file offset %#x extend past the end of the file (size %#x)", phnum, phoff, size)
	}
	ef, err := elf.NewFile(io.NewSectionReader(f, 0, size))
	if err != nil {
		return nil, fmt.Errorf("ELF core: %w", err)
	}
	d := &Dump{f: f, machine: ef.Machine, osabi: ef.OSABI, order: order}
	var loads []Segment
	for i, p := range ef.Progs {
		switch p.Type {
		case elf.PT_LOAD:
			s := Segment{PAddr: p.Paddr, VAddr: p.Vaddr, Off: p.Off, FileSz: p.Filesz, MemSz: p.Memsz}
			if err := checkSegment(s, i, phoff, size); err != nil {
				return nil, err
			}
			d.loads++
			if s.MemSz > 0 {
				loads = append(loads, s)
			}
		case elf.PT_NOTE:
			if err := d.readNotes(p, i, size); err != nil {
				return nil, err
			}
		}
	}
	if len(loads) > 1 {
		allZero := true
		for _, s := range loads {
			allZero = allZero && s.PAddr == 0
		}
		if allZero {
			return nil, fmt.Errorf("ELF core: all %d PT_LOAD segments have p_paddr 0: this core describes virtual memory, not physical", len(loads))
		}
	}
	d.segs = mergeSegments(loads)
	for _, s := range d.segs {
		d.covered += s.MemSz
	}
	return d, nil
}

func checkSegment(s Segment, i int, phoff uint64, size int64) error {
	where := fmt.Sprintf("program header %d (file offset %#x)", i, phoff+56*uint64(i))
	if s.FileSz > s.MemSz {
		return fmt.Errorf("ELF core: %s: p_filesz %#x is larger than p_memsz %#x", where, s.FileSz, s.MemSz)
	}
	if s.Off > uint64(size) || s.FileSz > uint64(size)-s.Off {
		return fmt.Errorf("ELF core: %s: segment data [%#x, %#x) extends past the end of the file (size %#x): truncated core?", where, s.Off, s.Off+s.FileSz, size)
	}
	if s.PAddr+s.MemSz < s.PAddr {
		return fmt.Errorf("ELF core: %s: physical range %#x + %#x wraps around the address space", where, s.PAddr, s.MemSz)
	}
	return nil
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
					s.FileSz = 0
				} else {
					s.Off += cut
					s.FileSz -= cut
				}
			}
		}
		out = append(out, s)
	}
	return out
}

// readNotes parses the notes of one PT_NOTE segment.
func (d *Dump) readNotes(p *elf.Prog, i int, size int64) error {
	where := fmt.Sprintf("PT_NOTE program header %d", i)
	if p.Off > uint64(size) || p.Filesz > uint64(size)-p.Off {
		return fmt.Errorf("ELF core: %s: notes [%#x, %#x) extend past the end of the file (size %#x)", where, p.Off, p.Off+p.Filesz, size)
	}
	if p.Filesz > maxNoteBytes {
		return fmt.Errorf("ELF core: %s: %d bytes of notes exceed the %d-byte limit", where, p.Filesz, maxNoteBytes)
	}
	buf := make([]byte, p.Filesz)
	if _, err := d.f.ReadAt(buf, int64(p.Off)); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("ELF core: %s: %w", where, err)
	}
	notes, err := ParseNotes(buf, d.order)
	if err != nil {
		return fmt.Errorf("ELF core: %s at file offset %#x: %w", where, p.Off, err)
	}
	d.notes = append(d.notes, notes...)
	return nil
}

// ParseNotes decodes a sequence of ELF notes (4-byte aligned name and
// descriptor, as in core files).
func ParseNotes(b []byte, order binary.ByteOrder) ([]Note, error) {
	var notes []Note
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
			return nil, fmt.Errorf("note %d at offset %#x: name (%d bytes) and descriptor (%d bytes) run past the %d bytes of notes", len(notes), off, namesz, descsz, len(b))
		}
		owner := string(bytes.TrimRight(b[p:nameEnd], "\x00"))
		notes = append(notes, Note{Owner: owner, Type: typ, Desc: b[descStart:descEnd:descEnd]})
		next := align4(descEnd)
		if next > uint64(len(b)) {
			next = uint64(len(b))
		}
		off = int(next)
	}
	return notes, nil
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }

// Format names the format.
func (d *Dump) Format() string { return "ELF core (physical memory)" }

// Machine returns the ELF e_machine.
func (d *Dump) Machine() elf.Machine { return d.machine }

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
	return []core.Field{
		{Name: "machine", Value: d.machine.String()},
		{Name: "OS/ABI", Value: d.osabi.String()},
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
		s := d.segs[i]
		rel := pa - s.PAddr
		n := uint64(len(b))
		if n > s.MemSz-rel {
			n = s.MemSz - rel
		}
		chunk := b[:n]
		if rel < s.FileSz {
			m := n
			if m > s.FileSz-rel {
				m = s.FileSz - rel
			}
			got, err := d.f.ReadAt(chunk[:m], int64(s.Off+rel))
			if uint64(got) != m {
				if err == nil {
					err = io.ErrUnexpectedEOF
				}
				return fmt.Errorf("ELF core: physical address %#x (file offset %#x): %w", pa, s.Off+rel, err)
			}
			chunk = chunk[m:]
		}
		clear(chunk) // p_memsz beyond p_filesz reads as zero
		b = b[n:]
		pa += n
	}
	return nil
}

// Close releases nothing: the file belongs to the caller.
func (d *Dump) Close() error { return nil }
