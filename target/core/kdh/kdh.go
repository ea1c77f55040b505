// Package kdh reads FreeBSD's struct kerneldumpheader, the 512-byte block
// that frames a crash dump on a dump device (a leader before the dump and
// a copy after it), and opens the dump behind it.
package kdh

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/kdap/kdap/target/core"
)

// Magic strings of the header.
const (
	MagicKernel  = "FreeBSD Kernel Dump" // a memory dump follows
	MagicText    = "FreeBSD Text Dump"   // a textdump (tar of ddb output) follows
	MagicCleared = "Cleared Kernel Dump" // savecore(8) has saved and cleared it
)

// Size is the size of struct kerneldumpheader.
const Size = 512

// Compression algorithms of the compression field.
const (
	CompNone = 0 // KERNELDUMP_COMP_NONE
	CompGzip = 1 // KERNELDUMP_COMP_GZIP
	CompZstd = 2 // KERNELDUMP_COMP_ZSTD
)

// Header is a decoded struct kerneldumpheader. Its integer fields are
// stored big-endian ("dump byte order") whatever the machine.
type Header struct {
	Magic         string
	Architecture  string
	Version       uint32 // header layout version: 1, 2 or 4
	ArchVersion   uint32 // architectureversion, e.g. 2 for amd64
	DumpLength    uint64 // bytes of dump after the leader
	DumpTime      uint64 // seconds since the epoch
	DumpKeySize   uint32 // bytes of encryption key after the leader (0: not encrypted)
	BlockSize     uint32 // dump device block size
	Hostname      string
	VersionString string
	PanicString   string
	Compression   uint8  // CompNone, CompGzip or CompZstd
	DumpExtent    uint64 // bytes the dump occupies on the device
	Parity        uint32
}

// Parity returns the XOR of the header's 32-bit words, as FreeBSD's
// kerneldump_parity computes it; a valid header gives 0.
func Parity(b []byte) uint32 {
	var p uint32
	for i := 0; i+4 <= len(b); i += 4 {
		p ^= binary.LittleEndian.Uint32(b[i:])
	}
	return p
}

func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// ParseHeader decodes and checks a 512-byte kerneldumpheader.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < Size {
		return Header{}, fmt.Errorf("kerneldumpheader: %d bytes, expected %d", len(b), Size)
	}
	b = b[:Size]
	be := binary.BigEndian
	h := Header{
		Magic:        cstr(b[0:20]),
		Architecture: cstr(b[20:32]),
		Version:      be.Uint32(b[32:]),
		ArchVersion:  be.Uint32(b[36:]),
		DumpLength:   be.Uint64(b[40:]),
		DumpTime:     be.Uint64(b[48:]),
		Parity:       be.Uint32(b[508:]),
	}
	switch h.Magic {
	case MagicKernel, MagicText, MagicCleared:
	default:
		// The file's bytes are not echoed: it may be any file.
		return h, fmt.Errorf("kerneldumpheader: magic (file offset 0x0) is not %q", MagicKernel)
	}
	switch h.Version {
	case 1: // FreeBSD up to 10: no key size, 192-byte panic string
		h.BlockSize = be.Uint32(b[56:])
		h.Hostname = cstr(b[60:124])
		h.VersionString = cstr(b[124:316])
		h.PanicString = cstr(b[316:508])
	case 2: // FreeBSD 11: encryption key size added
		h.DumpKeySize = be.Uint32(b[56:])
		h.BlockSize = be.Uint32(b[60:])
		h.Hostname = cstr(b[64:128])
		h.VersionString = cstr(b[128:320])
		h.PanicString = cstr(b[320:508])
	case 4: // FreeBSD 12 and later: compression and dump extent added
		h.DumpKeySize = be.Uint32(b[56:])
		h.BlockSize = be.Uint32(b[60:])
		h.Hostname = cstr(b[64:128])
		h.VersionString = cstr(b[128:320])
		h.PanicString = cstr(b[320:495])
		h.Compression = b[495]
		h.DumpExtent = be.Uint64(b[496:])
	default:
		return h, fmt.Errorf("kerneldumpheader: version %d is not supported, expected 1, 2 or 4 (file offset 0x20)", h.Version)
	}
	if h.Version < 4 {
		h.DumpExtent = h.DumpLength
	}
	if p := Parity(b); p != 0 {
		return h, fmt.Errorf("kerneldumpheader: parity check failed: the XOR of the header's 32-bit words is %#08x, expected 0 (parity field %#08x at file offset 0x1fc)", p, h.Parity)
	}
	return h, nil
}

// Dump is a dump opened behind its kerneldumpheader leader.
type Dump struct {
	inner   core.Dump
	hdr     Header
	offset  int64
	trailer string
}

// init registers the format; core.OpenFile checks the error before the
// Dump, so a failed Open's typed nil never escapes.
func init() {
	core.Register(core.Format{Name: "FreeBSD kerneldumpheader", Probe: Probe, Open: func(f core.File) (core.Dump, error) { return Open(f) }})
}

// Probe reports whether head starts with one of the header's magics.
func Probe(head []byte) bool {
	if len(head) < 20 {
		return false
	}
	switch cstr(head[:20]) {
	case MagicKernel, MagicText, MagicCleared:
		return true
	}
	return false
}

// Open checks the leader of f and opens the dump that follows it with
// core.OpenFile.
func Open(f core.File) (*Dump, error) {
	size := f.Size()
	var b [Size]byte
	if size < Size {
		return nil, fmt.Errorf("kerneldumpheader: file is %d bytes, shorter than the %d-byte header", size, Size)
	}
	if n, err := f.ReadAt(b[:], 0); n != Size {
		return nil, fmt.Errorf("kerneldumpheader: reading %d bytes at file offset 0: %w", Size, err)
	}
	h, err := ParseHeader(b[:])
	if err != nil {
		return nil, err
	}
	switch {
	case h.Magic == MagicText:
		return nil, fmt.Errorf("kerneldumpheader: this is a textdump (a tar archive of ddb output), which holds no memory image")
	case h.DumpKeySize != 0:
		return nil, fmt.Errorf("kerneldumpheader: the dump is encrypted (dumpkeysize %d); decrypt it with decryptcore(8) first", h.DumpKeySize)
	case h.Compression != CompNone:
		return nil, fmt.Errorf("kerneldumpheader: the dump is compressed (compression %d: %s); savecore(8) saves it as a compressed file to decompress first", h.Compression, compName(h.Compression))
	}
	off := int64(Size)
	if h.BlockSize != 0 {
		if h.BlockSize < Size || h.BlockSize > 1<<20 || h.BlockSize&(h.BlockSize-1) != 0 {
			return nil, fmt.Errorf("kerneldumpheader: blocksize %d is not a power of two between %d and %d (file offset %#x)", h.BlockSize, Size, 1<<20, blockSizeOffset(h))
		}
		off = int64(h.BlockSize)
	}
	if h.DumpLength > uint64(size-off) {
		return nil, fmt.Errorf("kerneldumpheader: dumplength %d after the %d-byte leader extends past the end of the file (size %d): truncated dump?", h.DumpLength, off, size)
	}
	d := &Dump{hdr: h, offset: off, trailer: "absent"}
	end := off + int64(h.DumpLength)
	if size-end >= Size {
		var t [Size]byte
		if n, _ := f.ReadAt(t[:], end); n == Size {
			d.trailer = "differs from the leader"
			if t == b {
				d.trailer = "matches the leader"
			}
		}
	}
	inner, err := core.OpenFile(io.NewSectionReader(f, off, int64(h.DumpLength)))
	if err != nil {
		return nil, fmt.Errorf("dump after the kerneldumpheader (file offset %#x): %w", off, err)
	}
	d.inner = inner
	return d, nil
}

func blockSizeOffset(h Header) int {
	if h.Version == 1 {
		return 56
	}
	return 60
}

func compName(c uint8) string {
	switch c {
	case CompNone:
		return "none"
	case CompGzip:
		return "gzip"
	case CompZstd:
		return "zstd"
	}
	return "unknown"
}

// Header returns the decoded leader.
func (d *Dump) Header() Header { return d.hdr }

// Unwrap returns the dump behind the header.
func (d *Dump) Unwrap() core.Dump { return d.inner }

// Format names the wrapped format.
func (d *Dump) Format() string { return d.inner.Format() + " behind a kerneldumpheader" }

// ReadPhys reads physical memory from the inner dump.
func (d *Dump) ReadPhys(b []byte, pa uint64) error { return d.inner.ReadPhys(b, pa) }

// Info lists the kerneldumpheader fields, then the inner dump's.
func (d *Dump) Info() []core.Field {
	h := d.hdr
	fs := []core.Field{
		{Name: "kdh magic", Value: h.Magic},
		{Name: "kdh architecture", Value: h.Architecture},
		{Name: "kdh version", Value: fmt.Sprint(h.Version)},
		{Name: "kdh architectureversion", Value: fmt.Sprint(h.ArchVersion)},
		{Name: "kdh dumplength", Value: fmt.Sprint(h.DumpLength)},
		{Name: "kdh dumptime", Value: time.Unix(int64(h.DumpTime), 0).UTC().Format(time.RFC3339)},
		{Name: "kdh blocksize", Value: fmt.Sprint(h.BlockSize)},
		{Name: "kdh hostname", Value: h.Hostname},
		{Name: "kdh versionstring", Value: h.VersionString},
		{Name: "kdh panicstring", Value: h.PanicString},
		{Name: "kdh compression", Value: compName(h.Compression)},
		{Name: "kdh dumpextent", Value: fmt.Sprint(h.DumpExtent)},
		{Name: "kdh dump offset", Value: fmt.Sprintf("%#x", d.offset)},
		{Name: "kdh trailer", Value: d.trailer},
	}
	return append(fs, d.inner.Info()...)
}

// Close closes the inner dump.
func (d *Dump) Close() error { return d.inner.Close() }
