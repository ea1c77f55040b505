package debuginfo

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/go-delve/delve/pkg/dwarf/frame"
	"github.com/go-delve/delve/pkg/dwarf/godwarf"
	"github.com/go-delve/delve/pkg/dwarf/loclist"

	"github.com/kdap/kdap/internal/elfimage"
)

// frameTable is the merged CFI of .debug_frame and .eh_frame, sorted by
// start address.
type frameTable struct {
	fdes frame.FrameDescriptionEntries
}

// FrameTable returns every frame description entry of .debug_frame and
// .eh_frame, sorted by start address; built once.
func (d *Data) FrameTable() (frame.FrameDescriptionEntries, error) {
	d.frameOnce.Do(func() {
		d.frames.fdes, d.frameErr = parseFrames(d.img, d.order, d.ptrSize)
	})
	return d.frames.fdes, d.frameErr
}

// FDEFor returns the frame description entry that covers pc.
func (d *Data) FDEFor(pc uint64) (*frame.FrameDescriptionEntry, error) {
	fdes, err := d.FrameTable()
	if err != nil {
		return nil, err
	}
	i := sort.Search(len(fdes), func(i int) bool { return fdes[i].Begin() > pc })
	// Look back past empty or overlapping entries for one that covers pc.
	for j := i - 1; j >= 0 && j >= i-8; j-- {
		if fdes[j].Cover(pc) {
			return fdes[j], nil
		}
	}
	return nil, fmt.Errorf("pc %#x: no CFI (frame description entry) covers it: %w", pc, ErrNotFound)
}

// OpenFrames reads only the CFI of f (for files whose DWARF is stripped
// but which keep .eh_frame).
func OpenFrames(f *elf.File) (frame.FrameDescriptionEntries, error) {
	ptr := 8
	if f.Class == elf.ELFCLASS32 {
		ptr = 4
	}
	return parseFrames(elfimage.FromFile(f), f.ByteOrder, ptr)
}

// parseFrames parses the CFI sections of img (in place when it is
// mapped: the entries' instructions are slices of the file).
func parseFrames(img *elfimage.Image, order binary.ByteOrder, ptrSize int) (fdes frame.FrameDescriptionEntries, err error) {
	all := frame.FrameDescriptionEntries{}
	for _, name := range []string{".debug_frame", ".eh_frame"} {
		s := img.File.Section(name)
		if s == nil || s.Type == elf.SHT_NOBITS || s.Size == 0 {
			continue
		}
		data, err := img.SectionData(s)
		if err != nil {
			return nil, err
		}
		ehAddr := uint64(0)
		if name == ".eh_frame" {
			ehAddr = s.Addr
			if ehAddr == 0 {
				// Parse selects the .eh_frame format by a non-zero
				// address; an unallocated section (object files) gets
				// its file offset, as a linker-less reader would.
				ehAddr = s.Offset
			}
		}
		part, err := parseFrameSection(data, order, ptrSize, ehAddr)
		if err != nil {
			return nil, fmt.Errorf("parsing %s (file offset %#x): %w", name, s.Offset, err)
		}
		all = all.Append(part)
	}
	return all, nil
}

func parseFrameSection(data []byte, order binary.ByteOrder, ptrSize int, ehAddr uint64) (fdes frame.FrameDescriptionEntries, err error) {
	defer recoverTo(&err, "call frame information")
	return frame.Parse(data, order, 0, ptrSize, ehAddr)
}

// LocationAt returns the location expression of v at pc: v's expression,
// or the entry of its location list that covers pc (nil, nil when the
// variable has no location there: optimized out).
func (d *Data) LocationAt(v Var, pc uint64) (expr []byte, err error) {
	if !v.Location.List {
		return v.Location.Expr, nil
	}
	if v.Unit == nil {
		return nil, fmt.Errorf("variable %q: location list without a unit", v.Name)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	defer recoverTo(&err, fmt.Sprintf("location list of %q", v.Name))
	var e *loclist.Entry
	if d.unitVersion(v.Unit) >= 5 {
		sec, err := d.section(".debug_loclists")
		if err != nil || sec == nil {
			return nil, fmt.Errorf("variable %q: no .debug_loclists: %v", v.Name, err)
		}
		var addr *godwarf.DebugAddr
		if as, _ := d.section(".debug_addr"); as != nil {
			addr = godwarf.ParseAddr(as).GetSubsection(v.Unit.addrBase)
		}
		e, err = loclist.NewDwarf5Reader(sec).Find(int(v.Location.ListOff), 0, v.Unit.LowPC, pc, addr)
		if err != nil {
			return nil, fmt.Errorf("variable %q: location list at %#x: %w", v.Name, v.Location.ListOff, err)
		}
	} else {
		sec, err := d.section(".debug_loc")
		if err != nil || sec == nil {
			return nil, fmt.Errorf("variable %q: no .debug_loc: %v", v.Name, err)
		}
		e, err = loclist.NewDwarf2Reader(sec, d.ptrSize).Find(int(v.Location.ListOff), 0, v.Unit.LowPC, pc, nil)
		if err != nil {
			return nil, fmt.Errorf("variable %q: location list at %#x: %w", v.Name, v.Location.ListOff, err)
		}
	}
	if e == nil {
		return nil, nil
	}
	return e.Instr, nil
}

// unitVersion reads the DWARF version from u's header in .debug_info
// (32-bit DWARF: the version sits 8 bytes before a v5 unit's first DIE,
// 7 bytes before a v2-v4 one's). The caller holds d.mu.
func (d *Data) unitVersion(u *Unit) int {
	info, _ := d.section(".debug_info")
	if u.Offset < 12 || int(u.Offset) > len(info) {
		return 4
	}
	if d.order.Uint16(info[u.Offset-8:]) == 5 {
		return 5
	}
	return 4
}
