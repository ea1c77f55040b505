package debuginfo

import (
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"strings"
)

// loadDWARF builds debug/dwarf's Data over the image's debug sections.
// Unlike elf.File.DWARF, which reads every .debug_* section into memory,
// it hands debug/dwarf slices of the mapped file, so a section costs the
// pages that are read of it. The caller holds d.mu or owns d.
func (d *Data) loadDWARF() (*dwarf.Data, error) {
	f := d.img.File
	if needsRelocation(f) {
		// Object files need their relocations applied to a copy;
		// debug/elf knows how.
		return f.DWARF()
	}
	get := d.debugSection
	var sec [5][]byte
	for i, name := range []string{".debug_abbrev", ".debug_info", ".debug_line", ".debug_ranges", ".debug_str"} {
		b, err := get(name)
		if err != nil {
			return nil, err
		}
		sec[i] = b
	}
	dw, err := dwarf.New(sec[0], nil, nil, sec[1], sec[2], nil, sec[3], sec[4])
	if err != nil {
		return nil, err
	}
	// New has read every unit header and parsed every abbreviation
	// table into memory: the pages it touched are not needed again soon.
	d.img.Release(sec[0])
	d.img.Release(sec[1])
	// The DWARF 5 sections debug/dwarf reads itself; location lists and
	// .debug_addr lookups of our own go through d.section.
	for _, name := range []string{".debug_addr", ".debug_line_str", ".debug_str_offsets", ".debug_rnglists"} {
		b, err := get(name)
		if err != nil {
			return nil, err
		}
		if b != nil {
			if err := dw.AddSection(name, b); err != nil {
				return nil, fmt.Errorf("section %s: %w", name, err)
			}
		}
	}
	for i, s := range f.Sections {
		if s.Name != ".debug_types" && s.Name != ".zdebug_types" {
			continue
		}
		b, err := d.img.SectionData(s)
		if err != nil {
			return nil, err
		}
		if err := dw.AddTypes(fmt.Sprintf("types-%d", i), b); err != nil {
			return nil, fmt.Errorf("section %s (file offset %#x): %w", s.Name, s.Offset, err)
		}
	}
	return dw, nil
}

// needsRelocation reports whether debug/elf would apply relocations to
// f's debug sections: not in executables (their DWARF is linked; a
// relocatable vmlinux's .rela.debug_* sections are for the kernel's own
// relocation tools), only where a REL or RELA section targets one.
func needsRelocation(f *elf.File) bool {
	if f.Type == elf.ET_EXEC {
		return false
	}
	for _, r := range f.Sections {
		if r.Type != elf.SHT_REL && r.Type != elf.SHT_RELA || int(r.Info) <= 0 || int(r.Info) >= len(f.Sections) {
			continue
		}
		n := f.Sections[r.Info].Name
		if strings.HasPrefix(n, ".debug_") || strings.HasPrefix(n, ".zdebug_") {
			return true
		}
	}
	return false
}

// section returns the (decompressed) bytes of an ELF section, nil when
// absent: a slice of the mapped file when it is stored uncompressed. The
// caller holds d.mu (or owns d).
func (d *Data) section(name string) ([]byte, error) {
	if b, ok := d.sections[name]; ok {
		return b, nil
	}
	b, err := d.img.Section(name)
	if err != nil {
		return nil, err
	}
	d.sections[name] = b
	return b, nil
}

// releaseInfo drops the resident pages of .debug_info after a scan over
// many units (see elfimage.Image.Release). The caller holds d.mu.
func (d *Data) releaseInfo() {
	if info, _ := d.section(".debug_info"); info != nil {
		d.img.Release(info)
	}
}

// debugSection returns the DWARF section called name (".debug_info"),
// or its old-style compressed twin (".zdebug_info"). The caller holds
// d.mu (or owns d).
func (d *Data) debugSection(name string) ([]byte, error) {
	if b, err := d.section(name); b != nil || err != nil {
		return b, err
	}
	return d.section(".zdebug_" + strings.TrimPrefix(name, ".debug_"))
}
