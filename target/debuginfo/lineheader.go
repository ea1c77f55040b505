package debuginfo

import (
	"encoding/binary"
	"fmt"
)

// maxLineHeader bounds how much of a line program header is checked.
const maxLineHeader = 1 << 20

// checkLineHeader vets the directory and file tables of a DWARF 5 line
// program header at off in .debug_line before debug/dwarf reads it:
// debug/dwarf trusts their entry counts, so a corrupt count with an empty
// entry format makes it loop (and allocate) billions of times.
func (d *Data) checkLineHeader(off int64) error {
	sec, err := d.section(".debug_line")
	if err != nil || sec == nil {
		return err
	}
	if off < 0 || off >= int64(len(sec)) {
		return fmt.Errorf("line program at %#x: past the end of .debug_line (%#x bytes)", off, len(sec))
	}
	buf := sec[off:min(int64(len(sec)), off+4096)]
	bad := func(what string) error {
		return fmt.Errorf("line program header at %#x in .debug_line: %s", off, what)
	}
	if len(buf) < 4 {
		return bad("truncated")
	}
	ord := d.order
	if ord.Uint32(buf) == 0xffffffff || len(buf) < 18 {
		return nil // 64-bit DWARF or too short to hold tables: left to debug/dwarf
	}
	if v := ord.Uint16(buf[4:]); v < 5 {
		return nil
	}
	hdrLen := uint64(ord.Uint32(buf[8:]))
	if hdrLen > maxLineHeader {
		return bad(fmt.Sprintf("header_length %#x exceeds %#x", hdrLen, maxLineHeader))
	}
	if need := 12 + int(hdrLen); need > len(buf) {
		if int64(need) > int64(len(sec))-off {
			return bad(fmt.Sprintf("header_length %#x runs past the section", hdrLen))
		}
		buf = sec[off : off+int64(need)]
	}
	p := &lineHdrReader{b: buf[:12+hdrLen], off: 12, order: ord}
	p.off += 5 // min_inst_length, max_ops, default_is_stmt, line_base, line_range
	opBase := int(p.u8())
	if opBase > 0 {
		p.off += opBase - 1
	}
	for _, table := range []string{"directory", "file name"} {
		nf := int(p.u8())
		forms := make([]uint64, 0, nf)
		for range nf {
			p.uleb() // content type
			forms = append(forms, p.uleb())
		}
		count := p.uleb()
		if p.err {
			return bad("truncated " + table + " table")
		}
		if count > 0 && nf == 0 {
			return bad(fmt.Sprintf("%d %s entries with an empty entry format", count, table))
		}
		if count > uint64(len(p.b)) {
			return bad(fmt.Sprintf("%s count %d exceeds the header's %d bytes", table, count, len(p.b)))
		}
		for range count {
			for _, f := range forms {
				if !p.skipForm(f) {
					return nil // an unusual form: left to debug/dwarf
				}
			}
			if p.err {
				return bad("truncated " + table + " table")
			}
		}
	}
	return nil
}

// lineHdrReader reads a line program header; err records running past
// the end.
type lineHdrReader struct {
	b     []byte
	off   int
	order binary.ByteOrder
	err   bool
}

func (p *lineHdrReader) u8() byte {
	if p.off >= len(p.b) {
		p.err = true
		return 0
	}
	p.off++
	return p.b[p.off-1]
}

func (p *lineHdrReader) uleb() uint64 {
	if p.off >= len(p.b) {
		p.err = true
		return 0
	}
	v, n := uleb(p.b[p.off:])
	if n == 0 {
		p.err = true
		p.off = len(p.b)
		return 0
	}
	p.off += n
	return v
}

func (p *lineHdrReader) skip(n int) {
	if n < 0 || p.off+n > len(p.b) {
		p.err = true
		p.off = len(p.b)
		return
	}
	p.off += n
}

// skipForm skips one attribute value of a 32-bit DWARF line header;
// false for forms it does not know.
func (p *lineHdrReader) skipForm(form uint64) bool {
	switch form {
	case 0x08: // DW_FORM_string
		for p.off < len(p.b) && p.b[p.off] != 0 {
			p.off++
		}
		p.skip(1)
	case 0x0b, 0x0c, 0x25: // data1, flag, strx1
		p.skip(1)
	case 0x05, 0x26: // data2, strx2
		p.skip(2)
	case 0x06, 0x0e, 0x1f, 0x17, 0x28: // data4, strp, line_strp, sec_offset, strx4
		p.skip(4)
	case 0x07: // data8
		p.skip(8)
	case 0x1e: // data16
		p.skip(16)
	case 0x0f, 0x1a: // udata, strx
		p.uleb()
	case 0x0a: // block1
		p.skip(int(p.u8()))
	case 0x09: // block
		n := p.uleb()
		if n > uint64(len(p.b)) {
			p.err = true
			return true
		}
		p.skip(int(n))
	default:
		return false
	}
	return true
}
