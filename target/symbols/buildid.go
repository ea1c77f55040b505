package symbols

import (
	"debug/elf"
	"encoding/hex"
	"io"
)

// ntGNUBuildID is the note type of a GNU build ID (elf.h NT_GNU_BUILD_ID).
const ntGNUBuildID = 3

// maxNoteSection bounds how much of a note section is read.
const maxNoteSection = 1 << 20

// BuildID returns the hex GNU build ID of f (its NT_GNU_BUILD_ID note), or
// "" when f has none.
func BuildID(f *elf.File) string {
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NOTE || s.Size > maxNoteSection {
			continue
		}
		data, err := s.Data()
		if err != nil {
			continue
		}
		if id := findBuildID(data, f.ByteOrder, s.Addralign); id != "" {
			return id
		}
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE || p.Filesz > maxNoteSection {
			continue
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil && err != io.EOF {
			continue
		}
		if id := findBuildID(data, f.ByteOrder, p.Align); id != "" {
			return id
		}
	}
	return ""
}

// findBuildID walks the notes in data: namesz, descsz, type (4 bytes each),
// then name and desc, each padded to 4 bytes (8 when the section is
// 8-aligned, as some toolchains emit).
func findBuildID(data []byte, order interface{ Uint32([]byte) uint32 }, align uint64) string {
	pad := uint64(4)
	if align == 8 {
		pad = 8
	}
	up := func(n uint64) uint64 { return (n + pad - 1) &^ (pad - 1) }
	for off := uint64(0); off+12 <= uint64(len(data)); {
		namesz := uint64(order.Uint32(data[off:]))
		descsz := uint64(order.Uint32(data[off+4:]))
		typ := order.Uint32(data[off+8:])
		nameOff := off + 12
		descOff := nameOff + up(namesz)
		end := descOff + up(descsz)
		if descOff+descsz > uint64(len(data)) || descOff < nameOff {
			return ""
		}
		if typ == ntGNUBuildID && namesz == 4 && string(data[nameOff:nameOff+4]) == "GNU\x00" && descsz > 0 {
			return hex.EncodeToString(data[descOff : descOff+descsz])
		}
		if end <= off {
			return ""
		}
		off = end
	}
	return ""
}
