package debuginfo

import (
	"debug/dwarf"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// lineRow is one row of a unit's line table.
type lineRow struct {
	addr      uint64
	file      int32 // index into lineTable.files, -1 when unknown
	line, col int32
	stmt      bool
	end       bool // end_sequence: the previous row's range stops here
}

// lineTable is a unit's line program, decoded once into rows sorted by
// address (sequences kept whole).
type lineTable struct {
	rows  []lineRow
	files []string // file paths, joined with comp_dir; index = DWARF file number
}

// The standard library's line reader is used rather than Delve's
// pkg/dwarf/line because it reports columns, which DAP frames carry.

// lineTableFor decodes u's line program on first use. The caller holds
// d.mu.
func (d *Data) lineTableFor(u *Unit) (lt *lineTable, err error) {
	if lt, ok := d.lines[u]; ok {
		return lt, nil
	}
	defer recoverTo(&err, fmt.Sprintf("reading the line table of %s", u.Name))
	if off, ok := u.entry.Val(dwarf.AttrStmtList).(int64); ok {
		if err := d.checkLineHeader(off); err != nil {
			return nil, fmt.Errorf("line table of the unit %s (DIE %#x): %w", u.Name, u.Offset, err)
		}
	}
	lr, err := d.dw.LineReader(u.entry)
	if err != nil {
		return nil, fmt.Errorf("line table of the unit %s (DIE %#x): %w", u.Name, u.Offset, err)
	}
	lt = &lineTable{}
	if lr == nil { // the unit has no line program
		d.lines[u] = lt
		return lt, nil
	}
	fileIdx := map[*dwarf.LineFile]int32{}
	var seqs [][]lineRow
	var seq []lineRow
	var le dwarf.LineEntry
	// gdb's reading of the table (dwarf2/read.c, lnp_state_machine): a
	// row repeating the last kept row's file and line is dropped once the
	// line has carried a non-zero discriminator, and a non-statement row
	// that switches file at the last kept row's address is dropped.
	var last *lineRow
	prevLine, lineHasDisc := -1, false
	for {
		if err := lr.Next(&le); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("line table of the unit %s (DIE %#x): %w", u.Name, u.Offset, err)
		}
		fi := int32(-1)
		if le.File != nil {
			var ok bool
			if fi, ok = fileIdx[le.File]; !ok {
				fi = int32(len(fileIdx))
				fileIdx[le.File] = fi
			}
		}
		if le.Line != prevLine {
			lineHasDisc = false
		}
		prevLine = le.Line
		lineHasDisc = lineHasDisc || le.Discriminator != 0
		row := lineRow{addr: le.Address, file: fi, line: int32(le.Line), col: int32(le.Column), stmt: le.IsStmt, end: le.EndSequence}
		keep := le.EndSequence || last == nil ||
			!(last.file == fi && last.line == row.line && lineHasDisc) &&
				!(last.file != fi && last.addr == row.addr && !row.stmt)
		if keep {
			seq = append(seq, row)
			last = &seq[len(seq)-1]
		}
		if le.EndSequence {
			seqs = append(seqs, seq)
			seq, last, prevLine, lineHasDisc = nil, nil, -1, false
		}
	}
	if len(seq) > 0 {
		seqs = append(seqs, seq)
	}
	sort.SliceStable(seqs, func(i, j int) bool { return seqs[i][0].addr < seqs[j][0].addr })
	for _, s := range seqs {
		// Sequences at address 0 come from discarded code (e.g. functions
		// removed by --gc-sections); they would shadow nothing useful.
		if s[0].addr == 0 && len(seqs) > 1 {
			continue
		}
		lt.rows = append(lt.rows, s...)
	}
	// Remap row file numbers to the DWARF file numbering so that
	// DW_AT_decl_file and DW_AT_call_file index the same table.
	files := lr.Files()
	lt.files = make([]string, len(files))
	dwarfIdx := make([]int32, len(fileIdx))
	for i := range dwarfIdx {
		dwarfIdx[i] = -1
	}
	for i, lf := range files {
		if lf == nil {
			continue
		}
		lt.files[i] = joinCompDir(u.CompDir, lf.Name)
		if fi, ok := fileIdx[lf]; ok {
			dwarfIdx[fi] = int32(i)
		}
	}
	for i := range lt.rows {
		if f := lt.rows[i].file; f >= 0 {
			lt.rows[i].file = dwarfIdx[f]
		}
	}
	d.lines[u] = lt
	return lt, nil
}

func joinCompDir(compDir, name string) string {
	if name == "" || path.IsAbs(name) || compDir == "" || isWindowsAbs(name) {
		return name
	}
	return path.Join(compDir, name)
}

func isWindowsAbs(p string) bool {
	return len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/')
}

// fileName returns the path of DWARF file number i of u ("" when
// unknown). The caller holds d.mu.
func (d *Data) fileName(u *Unit, i int64) string {
	if u == nil {
		return ""
	}
	lt, err := d.lineTableFor(u)
	if err != nil || i < 0 || i >= int64(len(lt.files)) {
		return ""
	}
	return lt.files[i]
}

// LineAt returns the source position of pc from the line table, the way
// gdb reads it: the last row at or below pc, except that a non-statement
// row gives way to a statement row at the same address.
func (d *Data) LineAt(pc uint64) (file string, line, col int, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, err := d.unitAt(pc)
	if err != nil {
		return "", 0, 0, err
	}
	lt, err := d.lineTableFor(u)
	if err != nil {
		return "", 0, 0, err
	}
	i := sort.Search(len(lt.rows), func(i int) bool { return lt.rows[i].addr > pc }) - 1
	if i < 0 || lt.rows[i].end {
		return "", 0, 0, fmt.Errorf("pc %#x: not in the line table of %s: %w", pc, u.Name, ErrNotFound)
	}
	rows := lt.rows
	j := i
	for j > 0 && !rows[j].stmt && !rows[j-1].end && rows[j-1].addr == rows[j].addr && rows[j-1].line != 0 {
		j--
	}
	if rows[j].stmt {
		i = j
	}
	r := lt.rows[i]
	if r.line == 0 {
		return "", 0, 0, fmt.Errorf("pc %#x: the line table of %s gives no line (line 0): %w", pc, u.Name, ErrNotFound)
	}
	if r.file >= 0 && int(r.file) < len(lt.files) {
		file = lt.files[r.file]
	}
	return file, int(r.line), int(r.col), nil
}

// PCsForLine returns the addresses where statements of file:line begin,
// in increasing order. file matches a recorded path exactly or as a
// trailing path ("kern/kern_thread.c" matches
// "/usr/src/sys/kern/kern_thread.c"). Every unit's line table is read.
func (d *Data) PCsForLine(file string, line int) ([]uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	units, err := d.loadUnits()
	if err != nil {
		return nil, err
	}
	seen := map[uint64]bool{}
	var out []uint64
	for _, u := range units {
		lt, err := d.lineTableFor(u)
		if err != nil {
			continue
		}
		match := make([]bool, len(lt.files))
		any := false
		for i, f := range lt.files {
			match[i] = f == file || strings.HasSuffix(f, "/"+strings.TrimPrefix(file, "/"))
			any = any || match[i]
		}
		if !any {
			continue
		}
		for i, r := range lt.rows {
			if r.end || !r.stmt || int(r.line) != line || r.file < 0 || !match[r.file] {
				continue
			}
			// Only the first row of a run on the same line starts it.
			if i > 0 && !lt.rows[i-1].end && lt.rows[i-1].line == r.line && lt.rows[i-1].file == r.file {
				continue
			}
			if !seen[r.addr] {
				seen[r.addr] = true
				out = append(out, r.addr)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}
