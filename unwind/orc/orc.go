// Package orc reads Linux/x86-64 ORC unwind tables (the .orc_unwind_ip and
// .orc_unwind sections objtool writes into vmlinux) and applies their
// x86-64 step rules. It knows the ORC format and nothing else about the
// kernel: the entry layout, the struct pt_regs layout and the KASLR slide
// come from the caller.
//
// .orc_unwind_ip holds one signed 32-bit offset per entry, relative to the
// offset's own address; the addresses are sorted (at build time since Linux
// 5.6), so a lookup is a binary search for the last entry at or below a pc.
// .orc_unwind holds the entries themselves, in the same order.
package orc

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
)

// Reg is an ORC base register (ORC_REG_* of arch/x86/include/asm/orc_types.h).
type Reg uint8

// ORC base registers.
const (
	RegUndefined  Reg = 0
	RegPrevSP     Reg = 1
	RegDX         Reg = 2
	RegDI         Reg = 3
	RegBP         Reg = 4
	RegSP         Reg = 5
	RegR10        Reg = 6
	RegR13        Reg = 7
	RegBPIndirect Reg = 8
	RegSPIndirect Reg = 9
)

// String names the register as objtool's orc dump does.
func (r Reg) String() string {
	switch r {
	case RegUndefined:
		return "undef"
	case RegPrevSP:
		return "prevsp"
	case RegDX:
		return "dx"
	case RegDI:
		return "di"
	case RegBP:
		return "bp"
	case RegSP:
		return "sp"
	case RegR10:
		return "r10"
	case RegR13:
		return "r13"
	case RegBPIndirect:
		return "bp(ind)"
	case RegSPIndirect:
		return "sp(ind)"
	}
	return fmt.Sprintf("reg%d", uint8(r))
}

// Type is an entry's frame type, in the numbering of Linux 6.4 and later;
// entries of older layouts are translated to it.
type Type uint8

// Frame types.
const (
	// TypeUndefined: no unwind information (objtool's weak terminators and
	// UNWIND_HINT_UNDEFINED code).
	TypeUndefined Type = 0
	// TypeEndOfStack: the outermost frame of a kernel stack.
	TypeEndOfStack Type = 1
	// TypeCall: a function frame; the return address is below the CFA.
	TypeCall Type = 2
	// TypeRegs: a whole struct pt_regs is at the CFA.
	TypeRegs Type = 3
	// TypeRegsPartial: the hardware iret frame (pt_regs from ip to ss) is
	// at the CFA.
	TypeRegsPartial Type = 4
)

// String names the type.
func (t Type) String() string {
	switch t {
	case TypeUndefined:
		return "undefined"
	case TypeEndOfStack:
		return "end-of-stack"
	case TypeCall:
		return "call"
	case TypeRegs:
		return "regs"
	case TypeRegsPartial:
		return "regs-partial"
	}
	return fmt.Sprintf("type%d", uint8(t))
}

// Entry is one decoded ORC entry.
type Entry struct {
	// PC is the first (file, unslid) address the entry covers.
	PC uint64
	// SPOffset and BPOffset are the signed offsets of struct orc_entry.
	SPOffset, BPOffset int16
	// SPReg is the base of the CFA; BPReg says where the caller's rbp is.
	SPReg, BPReg Reg
	// Type is the frame type.
	Type Type
	// Signal says the caller's pc is the instruction to resume, not a
	// return address (Linux 6.3's signal bit; before it, implied by the
	// pt_regs types).
	Signal bool
}

// Field is a bit field of struct orc_entry: its first bit counted from the
// start of the struct (little-endian bit order) and its width.
type Field struct {
	Bit, Width uint
}

// Layout is the shape of struct orc_entry.
type Layout struct {
	// Size is sizeof(struct orc_entry).
	Size int
	// SPOffset and BPOffset are the byte offsets of the two s16 members.
	SPOffset, BPOffset int
	// SPReg, BPReg and Type are required; End and Signal have Width 0
	// when the struct lacks them.
	SPReg, BPReg, Type, End, Signal Field
	// OldTypes selects the type numbering before Linux 6.4 (CALL=0,
	// REGS=1, REGS_PARTIAL=2, the end of stack being an undefined sp_reg
	// with the end bit set); false selects UNDEFINED=0, END_OF_STACK=1,
	// CALL=2, REGS=3, REGS_PARTIAL=4.
	OldTypes bool
}

// The three x86-64 layouts Linux has used.
var (
	// LayoutV1 is Linux 4.14 to 6.2: type:2, end:1.
	LayoutV1 = Layout{Size: 6, SPOffset: 0, BPOffset: 2, SPReg: Field{32, 4}, BPReg: Field{36, 4},
		Type: Field{40, 2}, End: Field{42, 1}, OldTypes: true}
	// LayoutV2 is Linux 6.3: type:2, signal:1, end:1.
	LayoutV2 = Layout{Size: 6, SPOffset: 0, BPOffset: 2, SPReg: Field{32, 4}, BPReg: Field{36, 4},
		Type: Field{40, 2}, Signal: Field{42, 1}, End: Field{43, 1}, OldTypes: true}
	// LayoutV3 is Linux 6.4 and later: type:3, signal:1.
	LayoutV3 = Layout{Size: 6, SPOffset: 0, BPOffset: 2, SPReg: Field{32, 4}, BPReg: Field{36, 4},
		Type: Field{40, 3}, Signal: Field{43, 1}}
)

// Check reports whether l can be decoded.
func (l Layout) Check() error {
	if l.Size < 5 || l.Size > 8 {
		return fmt.Errorf("orc_entry layout: size %d, want 5 to 8 bytes", l.Size)
	}
	for _, o := range []struct {
		name string
		off  int
	}{{"sp_offset", l.SPOffset}, {"bp_offset", l.BPOffset}} {
		if o.off < 0 || o.off+2 > l.Size {
			return fmt.Errorf("orc_entry layout: %s at byte %d does not fit in %d bytes", o.name, o.off, l.Size)
		}
	}
	for _, f := range []struct {
		name     string
		f        Field
		min, max uint
	}{{"sp_reg", l.SPReg, 4, 8}, {"bp_reg", l.BPReg, 4, 8}, {"type", l.Type, 2, 3}, {"end", l.End, 0, 1}, {"signal", l.Signal, 0, 1}} {
		if f.f.Width < f.min || f.f.Width > f.max {
			return fmt.Errorf("orc_entry layout: %s is %d bits wide, want %d to %d", f.name, f.f.Width, f.min, f.max)
		}
		if f.f.Bit+f.f.Width > uint(8*l.Size) {
			return fmt.Errorf("orc_entry layout: %s at bits %d+%d does not fit in %d bytes", f.name, f.f.Bit, f.f.Width, l.Size)
		}
	}
	if l.OldTypes && l.End.Width == 0 {
		return errors.New("orc_entry layout: the old type numbering needs the end bit")
	}
	if !l.OldTypes && l.Type.Width < 3 {
		return errors.New("orc_entry layout: the numbering of Linux 6.4 needs a 3-bit type")
	}
	return nil
}

// get extracts f from the little-endian word w.
func (f Field) get(w uint64) uint64 {
	if f.Width == 0 {
		return 0
	}
	return w >> f.Bit & (1<<f.Width - 1)
}

// decode reads one entry from b (l.Size bytes).
func (l Layout) decode(b []byte) Entry {
	var w uint64
	for i := len(b) - 1; i >= 0; i-- {
		w = w<<8 | uint64(b[i])
	}
	e := Entry{
		SPOffset: int16(binary.LittleEndian.Uint16(b[l.SPOffset:])),
		BPOffset: int16(binary.LittleEndian.Uint16(b[l.BPOffset:])),
		SPReg:    Reg(l.SPReg.get(w)),
		BPReg:    Reg(l.BPReg.get(w)),
		Signal:   l.Signal.get(w) != 0,
	}
	t := l.Type.get(w)
	if !l.OldTypes {
		e.Type = Type(t)
		return e
	}
	switch {
	case e.SPReg == RegUndefined && l.End.get(w) != 0:
		e.Type = TypeEndOfStack
	case e.SPReg == RegUndefined:
		e.Type = TypeUndefined
	case t == 0:
		e.Type = TypeCall
	case t == 1:
		e.Type = TypeRegs
	case t == 2:
		e.Type = TypeRegsPartial
	default:
		e.Type = Type(0xf0 | t) // unknown: reported by the stepper
	}
	if l.Signal.Width == 0 {
		// Before the signal bit, a pt_regs frame implied it.
		e.Signal = e.Type == TypeRegs || e.Type == TypeRegsPartial
	}
	return e
}

// MaxTableBytes bounds the size of the .orc_unwind section read from a file.
const MaxTableBytes = 256 << 20

// ErrNoEntry is returned by Lookup for a pc no entry covers.
var ErrNoEntry = errors.New("no ORC entry")

// Table is one ORC table. It is safe for concurrent use.
type Table struct {
	layout Layout
	ipAddr uint64 // address of .orc_unwind_ip
	n      int

	once    sync.Once
	loaded  atomic.Bool
	load    func() (ip, ent []byte, err error)
	ip, ent []byte
	err     error
}

// NewTable returns the table of the section contents ip (at address
// ipAddr) and ent.
func NewTable(ipAddr uint64, ip, ent []byte, l Layout) (*Table, error) {
	t, err := newTable(ipAddr, uint64(len(ip)), uint64(len(ent)), l)
	if err != nil {
		return nil, err
	}
	t.load = func() ([]byte, []byte, error) { return ip, ent, nil }
	return t, nil
}

func newTable(ipAddr, ipSize, entSize uint64, l Layout) (*Table, error) {
	if err := l.Check(); err != nil {
		return nil, err
	}
	switch {
	case entSize > MaxTableBytes:
		return nil, fmt.Errorf(".orc_unwind of %d bytes exceeds %d", entSize, MaxTableBytes)
	case ipSize%4 != 0:
		return nil, fmt.Errorf(".orc_unwind_ip of %d bytes is not a multiple of 4", ipSize)
	case entSize%uint64(l.Size) != 0:
		return nil, fmt.Errorf(".orc_unwind of %d bytes is not a multiple of the %d-byte orc_entry", entSize, l.Size)
	case ipSize/4 != entSize/uint64(l.Size):
		return nil, fmt.Errorf(".orc_unwind_ip has %d entries, .orc_unwind %d", ipSize/4, entSize/uint64(l.Size))
	case ipAddr+ipSize < ipAddr:
		return nil, fmt.Errorf(".orc_unwind_ip at %#x of %d bytes wraps the address space", ipAddr, ipSize)
	}
	return &Table{layout: l, ipAddr: ipAddr, n: int(ipSize / 4)}, nil
}

// OpenELF returns the ORC table of an ELF file (vmlinux). The section
// sizes are checked now; their contents are read on the first lookup.
func OpenELF(f *elf.File, l Layout) (*Table, error) {
	ipSec, entSec := f.Section(".orc_unwind_ip"), f.Section(".orc_unwind")
	if ipSec == nil || entSec == nil {
		return nil, errors.New("no .orc_unwind_ip and .orc_unwind sections (kernel built without CONFIG_UNWINDER_ORC)")
	}
	for _, s := range []*elf.Section{ipSec, entSec} {
		if s.Type != elf.SHT_PROGBITS {
			return nil, fmt.Errorf("section %s is %v, want PROGBITS", s.Name, s.Type)
		}
	}
	t, err := newTable(ipSec.Addr, ipSec.Size, entSec.Size, l)
	if err != nil {
		return nil, err
	}
	t.load = func() ([]byte, []byte, error) {
		ip, err := readSection(ipSec)
		if err != nil {
			return nil, nil, err
		}
		ent, err := readSection(entSec)
		return ip, ent, err
	}
	return t, nil
}

// readSection reads a section whose size newTable checked.
func readSection(s *elf.Section) ([]byte, error) {
	b := make([]byte, s.Size)
	if _, err := io.ReadFull(s.Open(), b); err != nil {
		return nil, fmt.Errorf("reading section %s (%d bytes): %w", s.Name, s.Size, err)
	}
	return b, nil
}

// Len is the number of entries.
func (t *Table) Len() int { return t.n }

// Layout is the entry layout the table decodes with.
func (t *Table) Layout() Layout { return t.layout }

// Loaded reports whether the sections have been read (by a lookup).
func (t *Table) Loaded() bool { return t.loaded.Load() }

func (t *Table) init() error {
	t.once.Do(func() {
		t.loaded.Store(true)
		ip, ent, err := t.load()
		switch {
		case err != nil:
			t.err = fmt.Errorf("loading the ORC table: %w", err)
		case len(ip) != 4*t.n || len(ent) != t.layout.Size*t.n:
			t.err = fmt.Errorf("loading the ORC table: read %d and %d bytes, want %d and %d", len(ip), len(ent), 4*t.n, t.layout.Size*t.n)
		default:
			t.ip, t.ent = ip, ent
		}
	})
	return t.err
}

// pcAt is the address entry i starts at.
func (t *Table) pcAt(i int) uint64 {
	off := int32(binary.LittleEndian.Uint32(t.ip[4*i:]))
	return t.ipAddr + 4*uint64(i) + uint64(int64(off))
}

// Entry returns entry i (0 <= i < Len()).
func (t *Table) Entry(i int) (Entry, error) {
	if err := t.init(); err != nil {
		return Entry{}, err
	}
	if i < 0 || i >= t.n {
		return Entry{}, fmt.Errorf("ORC entry %d out of range [0, %d)", i, t.n)
	}
	e := t.layout.decode(t.ent[i*t.layout.Size : (i+1)*t.layout.Size])
	e.PC = t.pcAt(i)
	return e, nil
}

// Lookup returns the entry that covers the file address pc: the last of
// the entries that start at or below it. Of entries that start at the same
// address the last wins, as in the kernel, whose sort puts objtool's weak
// terminators first. It returns ErrNoEntry below the first entry.
func (t *Table) Lookup(pc uint64) (Entry, error) {
	if err := t.init(); err != nil {
		return Entry{}, err
	}
	i := sort.Search(t.n, func(i int) bool { return t.pcAt(i) > pc }) - 1
	if i < 0 {
		return Entry{}, fmt.Errorf("%w for pc %#x: the table starts at %#x", ErrNoEntry, pc, t.firstPC())
	}
	return t.Entry(i)
}

func (t *Table) firstPC() uint64 {
	if t.n == 0 {
		return 0
	}
	return t.pcAt(0)
}
