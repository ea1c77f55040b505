// Package vmcoreinfo parses the Linux kernel's VMCOREINFO text: the
// KEY=VALUE lines a crashed kernel leaves for dump readers (release, page
// size, KASLR offset, phys_base, symbol addresses, structure sizes and
// member offsets).
package vmcoreinfo

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/kdap/kdap/target/core"
	"github.com/kdap/kdap/target/core/elfcore"
)

const (
	// MaxSize bounds the text accepted (the kernel reserves one page for it;
	// a generous multiple leaves room for other producers).
	MaxSize = 1 << 20
	// MaxLines bounds the number of lines accepted.
	MaxLines = 16384
	// NoteOwner is the ELF note name that carries VMCOREINFO.
	NoteOwner = "VMCOREINFO"
	// NoteType is the ELF note type of the VMCOREINFO note.
	NoteType = 0
)

// ErrMissing is wrapped by accessors whose key is absent.
var ErrMissing = errors.New("key not in VMCOREINFO")

// Info is parsed VMCOREINFO text.
type Info struct {
	// Raw maps every key to its value as written.
	Raw map[string]string
	// Keys lists the keys in the order they appeared.
	Keys []string
	// lines remembers each key's 1-based line number for error messages.
	lines map[string]int
}

// Parse decodes VMCOREINFO text. Trailing NUL bytes are ignored; every
// non-empty line must be KEY=VALUE with a non-empty key.
func Parse(text []byte) (*Info, error) {
	if len(text) > MaxSize {
		return nil, fmt.Errorf("VMCOREINFO: %d bytes exceed the %d-byte limit", len(text), MaxSize)
	}
	text = bytes.TrimRight(text, "\x00")
	info := &Info{Raw: map[string]string{}, lines: map[string]int{}}
	lineNo := 0
	for len(text) > 0 {
		var line []byte
		line, text, _ = bytes.Cut(text, []byte{'\n'})
		lineNo++
		if lineNo > MaxLines {
			return nil, fmt.Errorf("VMCOREINFO: more than %d lines", MaxLines)
		}
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			continue
		}
		k, v, ok := bytes.Cut(line, []byte{'='})
		if !ok || len(k) == 0 {
			return nil, fmt.Errorf("VMCOREINFO line %d: %q is not KEY=VALUE", lineNo, truncate(line))
		}
		if bytes.IndexByte(line, 0) >= 0 {
			return nil, fmt.Errorf("VMCOREINFO line %d: NUL byte inside %q", lineNo, truncate(line))
		}
		key := string(k)
		if _, dup := info.Raw[key]; !dup {
			info.Keys = append(info.Keys, key)
		}
		// A repeated key keeps the last value, as the kernel appends
		// corrections after the generic block.
		info.Raw[key] = string(v)
		info.lines[key] = lineNo
	}
	return info, nil
}

func truncate(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}

// Get returns the raw value of key.
func (i *Info) Get(key string) (string, bool) {
	v, ok := i.Raw[key]
	return v, ok
}

func (i *Info) value(key string) (string, error) {
	v, ok := i.Raw[key]
	if !ok {
		return "", fmt.Errorf("VMCOREINFO: %s: %w", key, ErrMissing)
	}
	return v, nil
}

// parse converts key's value with conv and names the line on failure.
func (i *Info) parse(key, what string, conv func(string) (uint64, error)) (uint64, error) {
	v, err := i.value(key)
	if err != nil {
		return 0, err
	}
	n, err := conv(v)
	if err != nil {
		return 0, fmt.Errorf("VMCOREINFO line %d: %s=%q is not a %s: %w", i.lines[key], key, v, what, err)
	}
	return n, nil
}

func hex(s string) (uint64, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	return strconv.ParseUint(s, 16, 64)
}

func dec(s string) (uint64, error) { return strconv.ParseUint(s, 10, 64) }

// Hex returns key's value read as hexadecimal (with or without 0x).
func (i *Info) Hex(key string) (uint64, error) { return i.parse(key, "hexadecimal number", hex) }

// Decimal returns key's value read as an unsigned decimal.
func (i *Info) Decimal(key string) (uint64, error) { return i.parse(key, "decimal number", dec) }

// Signed returns key's value read as a signed decimal.
func (i *Info) Signed(key string) (int64, error) {
	n, err := i.parse(key, "signed decimal number", func(s string) (uint64, error) {
		v, err := strconv.ParseInt(s, 10, 64)
		return uint64(v), err
	})
	return int64(n), err
}

// OSRelease returns OSRELEASE, the kernel release string.
func (i *Info) OSRelease() (string, error) { return i.value("OSRELEASE") }

// BuildID returns BUILD-ID, the kernel's build id in hexadecimal.
func (i *Info) BuildID() (string, error) { return i.value("BUILD-ID") }

// PageSize returns PAGESIZE in bytes.
func (i *Info) PageSize() (uint64, error) {
	n, err := i.Decimal("PAGESIZE")
	if err == nil && (n == 0 || n&(n-1) != 0) {
		return 0, fmt.Errorf("VMCOREINFO line %d: PAGESIZE=%d is not a power of two", i.lines["PAGESIZE"], n)
	}
	return n, err
}

// KernelOffset returns KERNELOFFSET, the KASLR slide (hexadecimal).
func (i *Info) KernelOffset() (uint64, error) { return i.Hex("KERNELOFFSET") }

// PhysBase returns NUMBER(phys_base); it may be negative.
func (i *Info) PhysBase() (int64, error) { return i.Number("phys_base") }

// CrashTime returns CRASHTIME, seconds since the epoch.
func (i *Info) CrashTime() (int64, error) {
	n, err := i.parse("CRASHTIME", "signed decimal number", func(s string) (uint64, error) {
		v, err := strconv.ParseInt(s, 10, 64)
		return uint64(v), err
	})
	return int64(n), err
}

// Symbol returns SYMBOL(name), an address in hexadecimal.
func (i *Info) Symbol(name string) (uint64, error) { return i.Hex("SYMBOL(" + name + ")") }

// Number returns NUMBER(name), a signed decimal.
func (i *Info) Number(name string) (int64, error) { return i.Signed("NUMBER(" + name + ")") }

// Size returns SIZE(name), a structure size in bytes.
func (i *Info) Size(name string) (uint64, error) { return i.Decimal("SIZE(" + name + ")") }

// Offset returns OFFSET(name), a member offset in bytes.
func (i *Info) Offset(name string) (uint64, error) { return i.Decimal("OFFSET(" + name + ")") }

// Length returns LENGTH(name), an array length.
func (i *Info) Length(name string) (uint64, error) { return i.Decimal("LENGTH(" + name + ")") }

// PgtableL5Enabled reports NUMBER(pgtable_l5_enabled); absent means false.
func (i *Info) PgtableL5Enabled() (bool, error) {
	n, err := i.Number("pgtable_l5_enabled")
	if errors.Is(err, ErrMissing) {
		return false, nil
	}
	return n != 0, err
}

// FindNote returns the descriptor of the first VMCOREINFO note (owner
// "VMCOREINFO", type 0) among notes, such as elfcore.Dump.Notes().
func FindNote(notes []elfcore.Note) ([]byte, bool) {
	for _, n := range notes {
		if n.Owner == NoteOwner && n.Type == NoteType {
			return n.Desc, true
		}
	}
	return nil, false
}

// FromDump returns the VMCOREINFO text a dump carries: the kdump header's
// VMCOREINFO block, else the ELF note.
func FromDump(d core.Dump) ([]byte, error) {
	if v, ok := core.As[interface{ VMCOREINFO() []byte }](d); ok {
		if b := v.VMCOREINFO(); len(b) > 0 {
			return b, nil
		}
	}
	if n, ok := core.As[interface{ Notes() []elfcore.Note }](d); ok {
		if b, ok := FindNote(n.Notes()); ok {
			return b, nil
		}
	}
	return nil, fmt.Errorf("no VMCOREINFO in this dump: the %s file has neither a VMCOREINFO note nor a kdump VMCOREINFO block (QEMU writes one only with -device vmcoreinfo and the guest's qemu_fw_cfg driver loaded): %w", d.Format(), ErrMissing)
}
