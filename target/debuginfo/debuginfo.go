// Package debuginfo answers questions about a kernel's DWARF: types and
// their members, global variables, which function and source line a pc
// belongs to, inlined calls, frame variables and call-frame information.
//
// Everything is built lazily, because a vmlinux carries up to a gigabyte
// of DWARF: Open reads the unit headers, the abbreviation tables and each
// unit's DIE (not its children), over a mapped file when it can; the name
// index grows as lookups need it; line tables, per-unit function tables
// and types are built on first use and cached.
package debuginfo

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"

	"github.com/kdap/kdap/internal/elfimage"
)

// DIEOffset is the offset of a debugging information entry in .debug_info.
type DIEOffset = dwarf.Offset

// ErrNoDWARF is returned by Open when the file carries no debug
// information; callers fall back to the symbol table.
var ErrNoDWARF = errors.New("no DWARF debug information")

// ErrNotFound is wrapped by errors for names and addresses the DWARF does
// not describe.
var ErrNotFound = errors.New("not found")

// maxTrees bounds the cache of loaded function DIE trees.
const maxTrees = 4096

// Data is a kernel file's DWARF with lazily built indexes. Its methods are
// safe for concurrent use.
type Data struct {
	img     *elfimage.Image
	f       *elf.File
	dw      *dwarf.Data
	order   binary.ByteOrder
	ptrSize int

	mu         sync.Mutex
	types      map[dwarf.Offset]godwarf.Type
	fixed      map[dwarf.Offset]bool // structs whose bit fields are normalized
	units      []*Unit
	unitRanges []pcRange // sorted by lo
	unitsErr   error
	unitsDone  bool
	idx        *nameIndex
	lines      map[*Unit]*lineTable
	funcs      map[*Unit][]pcRange
	trees      map[dwarf.Offset]*godwarf.Tree
	funcCache  map[dwarf.Offset]*Func
	// scopeChecks caches checkScopeRanges by DIE.
	scopeChecks map[dwarf.Offset]error
	sections    map[string][]byte

	frameOnce sync.Once
	frames    frameTable
	frameErr  error
}

// Unit is one compile unit.
type Unit struct {
	Offset   DIEOffset // offset of the unit's DIE
	Name     string    // DW_AT_name, the primary source file
	CompDir  string    // DW_AT_comp_dir
	Producer string    // DW_AT_producer
	Language int64     // DW_AT_language
	LowPC    uint64    // DW_AT_low_pc: base address of location lists
	Ranges   [][2]uint64

	entry        *dwarf.Entry
	addrBase     uint64 // DW_AT_addr_base
	loclistsBase uint64 // DW_AT_loclists_base
}

// pcRange maps [lo, hi) to a unit or a DIE.
type pcRange struct {
	lo, hi uint64
	unit   *Unit
	off    dwarf.Offset
}

// Open reads f's DWARF sections (through f's io.ReaderAt, copying them).
// It returns an error wrapping ErrNoDWARF when f has no .debug_info.
func Open(f *elf.File) (*Data, error) { return OpenImage(elfimage.FromFile(f)) }

// OpenImage reads an opened image's DWARF: in place, without copying,
// when the file is mapped and its debug sections are not compressed. It
// returns an error wrapping ErrNoDWARF when the file has no .debug_info.
func OpenImage(img *elfimage.Image) (d *Data, err error) {
	f := img.File
	if f.Section(".debug_info") == nil && f.Section(".zdebug_info") == nil {
		return nil, ErrNoDWARF
	}
	defer recoverTo(&err, "reading DWARF")
	ptr := 8
	if f.Class == elf.ELFCLASS32 {
		ptr = 4
	}
	d = &Data{
		img: img, f: f, order: f.ByteOrder, ptrSize: ptr,
		types:     map[dwarf.Offset]godwarf.Type{},
		fixed:     map[dwarf.Offset]bool{},
		lines:     map[*Unit]*lineTable{},
		funcs:     map[*Unit][]pcRange{},
		trees:     map[dwarf.Offset]*godwarf.Tree{},
		funcCache: map[dwarf.Offset]*Func{},
		sections:  map[string][]byte{},
	}
	if d.dw, err = d.loadDWARF(); err != nil {
		return nil, fmt.Errorf("reading DWARF: %w", err)
	}
	// The unit DIEs sit next to the unit headers that dwarf.New has just
	// read: reading them now touches the same pages once, before the
	// heap grows, which keeps the resident peak down (an error is kept
	// for the first caller that needs the units).
	d.loadUnits()
	return d, nil
}

// DWARF returns the underlying debug/dwarf data.
func (d *Data) DWARF() *dwarf.Data { return d.dw }

// PtrSize returns the target's pointer size in bytes.
func (d *Data) PtrSize() int { return d.ptrSize }

// recoverTo turns a panic in a DWARF decoder (malformed input reaching a
// third-party parser) into an error.
func recoverTo(err *error, what string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: malformed DWARF: %v", what, r)
	}
}

// Units returns the compile units in .debug_info order.
func (d *Data) Units() ([]*Unit, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.loadUnits()
}

// loadUnits reads every unit DIE (not their children) once.
func (d *Data) loadUnits() (units []*Unit, err error) {
	if d.unitsDone {
		return d.units, d.unitsErr
	}
	d.unitsDone = true
	defer func() {
		recoverTo(&err, "reading compile units")
		d.units, d.unitsErr = units, err
	}()
	r := d.dw.Reader()
	budget := d.entryBudget()
	for {
		e, err := r.Next()
		if err != nil {
			return units, fmt.Errorf("reading compile unit %d: %w", len(units), err)
		}
		if e == nil {
			break
		}
		if budget--; budget < 0 {
			return units, errEndless
		}
		if e.Tag != dwarf.TagCompileUnit && e.Tag != dwarf.TagPartialUnit {
			r.SkipChildren()
			continue
		}
		u := &Unit{Offset: e.Offset, entry: e}
		u.Name, _ = e.Val(dwarf.AttrName).(string)
		u.CompDir, _ = e.Val(dwarf.AttrCompDir).(string)
		u.Producer, _ = e.Val(dwarf.AttrProducer).(string)
		u.Language, _ = e.Val(dwarf.AttrLanguage).(int64)
		u.LowPC, _ = e.Val(dwarf.AttrLowpc).(uint64)
		if v, ok := e.Val(dwarf.AttrAddrBase).(int64); ok {
			u.addrBase = uint64(v)
		}
		if v, ok := e.Val(dwarf.AttrLoclistsBase).(int64); ok {
			u.loclistsBase = uint64(v)
		}
		// A unit whose ranges cannot be read still has types and names.
		if rng, err := d.dw.Ranges(e); err == nil {
			u.Ranges = rng
			for _, rg := range rng {
				if rg[0] < rg[1] {
					d.unitRanges = append(d.unitRanges, pcRange{lo: rg[0], hi: rg[1], unit: u})
				}
			}
		}
		units = append(units, u)
		r.SkipChildren()
	}
	sortRanges(d.unitRanges)
	// Every unit's DIE has been read once; its page is not needed again.
	d.releaseInfo()
	return units, nil
}

// errEndless reports a .debug_info that yields more entries than it has
// bytes: debug/dwarf can return null entries forever on corrupt input.
var errEndless = errors.New("malformed .debug_info: more entries than bytes")

// entryBudget bounds the entries a scan may read: every entry takes at
// least one byte of .debug_info.
func (d *Data) entryBudget() int {
	n := 1 << 20
	if s := d.f.Section(".debug_info"); s != nil && s.Size < 1<<40 {
		n += int(s.Size)
	}
	return n
}

func sortRanges(rs []pcRange) {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].lo < rs[j].lo })
}

// findRange returns the range holding pc; nested or overlapping ranges
// resolve to the one that starts last.
func findRange(rs []pcRange, pc uint64) (pcRange, bool) {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].lo > pc })
	// Overlaps are rare; look back a little for a range that still covers pc.
	for j := i - 1; j >= 0 && j >= i-16; j-- {
		if pc < rs[j].hi {
			return rs[j], true
		}
	}
	return pcRange{}, false
}

// BuildIndex completes the name index now rather than as lookups need it
// (so a session can do it in the background); for a vmlinux it is one
// pass over millions of DIEs.
func (d *Data) BuildIndex() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.loadUnits(); err != nil {
		return err
	}
	_, err := d.indexAll()
	return err
}

// UnitAt returns the compile unit whose ranges hold pc.
func (d *Data) UnitAt(pc uint64) (*Unit, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.unitAt(pc)
}

func (d *Data) unitAt(pc uint64) (*Unit, error) {
	if _, err := d.loadUnits(); err != nil && len(d.unitRanges) == 0 {
		return nil, err
	}
	r, ok := findRange(d.unitRanges, pc)
	if !ok {
		return nil, fmt.Errorf("pc %#x: no compile unit covers it: %w", pc, ErrNotFound)
	}
	return r.unit, nil
}
