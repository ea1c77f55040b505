package kdump

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// Layout of makedumpfile's headers on 64-bit machines (diskdump_mod.h):
// struct disk_dump_header is 8 signature bytes, int header_version, a
// struct new_utsname of six 65-byte strings (ending at 402), padding to 8,
// a 16-byte struct timeval, then ten 32-bit fields; struct kdump_sub_header
// follows one block later.
const (
	headerSize     = 464
	utsnameOff     = 12
	utsFieldLen    = 65
	timestampOff   = 408
	statusOff      = 424
	subHeaderSize  = 104
	pageDescSize   = 24
	minBlockSize   = 1 << 10
	maxBlockSize   = 1 << 18
	maxHeaderVer   = 1 << 10
	maxNoteBytes   = 64 << 20
	maxBitmapBytes = 1 << 30
	// maxVmcoreinfoBytes bounds VMCOREINFO (the kernel's is one page).
	maxVmcoreinfoBytes = 1 << 20
)

// Status and page-descriptor compression flags (diskdump_mod.h).
const (
	FlagZlib       = 0x1  // DUMP_DH_COMPRESSED_ZLIB
	FlagLZO        = 0x2  // DUMP_DH_COMPRESSED_LZO
	FlagSnappy     = 0x4  // DUMP_DH_COMPRESSED_SNAPPY
	FlagIncomplete = 0x8  // DUMP_DH_COMPRESSED_INCOMPLETE
	FlagExclVmemap = 0x10 // DUMP_DH_EXCLUDED_VMEMMAP
	FlagZstd       = 0x20 // DUMP_DH_COMPRESSED_ZSTD
)

// Header is struct disk_dump_header.
type Header struct {
	Signature      string
	Version        int32
	Sysname        string
	Nodename       string
	Release        string
	KernelVersion  string // utsname.version
	Machine        string
	Domainname     string
	TimeSec        int64
	TimeUsec       int64
	Status         uint32
	BlockSize      int32
	SubHdrSize     int32 // in blocks
	BitmapBlocks   uint32
	MaxMapnr       uint32
	TotalRAMBlocks uint32
	DeviceBlocks   uint32
	WrittenBlocks  uint32
	CurrentCPU     uint32
	NrCPUs         int32
}

// SubHeader is struct kdump_sub_header; fields beyond what Header.Version
// defines are zero.
type SubHeader struct {
	// PhysBase is wrong in QEMU's dumps (it reads VMCOREINFO's decimal
	// NUMBER(phys_base) as hexadecimal): prefer VMCOREINFO's value.
	PhysBase         uint64
	DumpLevel        int32
	Split            int32
	StartPFN         uint64
	EndPFN           uint64
	OffsetVmcoreinfo int64
	SizeVmcoreinfo   uint64
	OffsetNote       int64
	SizeNote         uint64
	OffsetEraseinfo  int64
	SizeEraseinfo    uint64
	StartPFN64       uint64
	EndPFN64         uint64
	MaxMapnr64       uint64
}

func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// isKdumpSignature reports whether b starts with a kdump-compressed
// signature.
func isKdumpSignature(b []byte) bool {
	return len(b) >= 8 && (string(b[:8]) == "KDUMP   " || string(b[:8]) == "diskdump")
}

// parseHeader decodes struct disk_dump_header from b (headerSize bytes)
// and picks the byte order from header_version, which is small.
func parseHeader(b []byte) (Header, binary.ByteOrder, error) {
	var h Header
	if len(b) < headerSize {
		return h, nil, fmt.Errorf("kdump header: %d bytes, want %d", len(b), headerSize)
	}
	if !isKdumpSignature(b) {
		return h, nil, fmt.Errorf("kdump header: the signature is not \"KDUMP   \" (file offset 0x0): not a kdump-compressed dump")
	}
	var order binary.ByteOrder = binary.LittleEndian
	if v := binary.LittleEndian.Uint32(b[8:]); v > maxHeaderVer {
		if bv := binary.BigEndian.Uint32(b[8:]); bv <= maxHeaderVer {
			order = binary.BigEndian
		} else {
			return h, nil, fmt.Errorf("kdump header: header_version %d is implausible (file offset 0x8)", int32(v))
		}
	}
	h.Signature = string(b[:8])
	h.Version = int32(order.Uint32(b[8:]))
	u := b[utsnameOff:]
	for i, p := range []*string{&h.Sysname, &h.Nodename, &h.Release, &h.KernelVersion, &h.Machine, &h.Domainname} {
		*p = cstr(u[i*utsFieldLen : (i+1)*utsFieldLen])
	}
	h.TimeSec = int64(order.Uint64(b[timestampOff:]))
	h.TimeUsec = int64(order.Uint64(b[timestampOff+8:]))
	w := func(i int) uint32 { return order.Uint32(b[statusOff+4*i:]) }
	h.Status = w(0)
	h.BlockSize = int32(w(1))
	h.SubHdrSize = int32(w(2))
	h.BitmapBlocks = w(3)
	h.MaxMapnr = w(4)
	h.TotalRAMBlocks = w(5)
	h.DeviceBlocks = w(6)
	h.WrittenBlocks = w(7)
	h.CurrentCPU = w(8)
	h.NrCPUs = int32(w(9))
	if h.Version < 1 {
		return h, nil, fmt.Errorf("kdump header: header_version %d is older than 1, the first kdump version (file offset 0x8)", h.Version)
	}
	if !validBlockSize(h.BlockSize) {
		// On 32-bit machines struct timeval is 8 bytes and 4-aligned, so
		// block_size sits 12 bytes earlier.
		if validBlockSize(int32(order.Uint32(b[statusOff-12+4:]))) {
			return h, nil, fmt.Errorf("kdump header: a 32-bit machine's layout is not supported")
		}
		return h, nil, fmt.Errorf("kdump header: block_size %d is not a power of two in [%d, %d] (file offset %#x)", h.BlockSize, minBlockSize, maxBlockSize, statusOff+4)
	}
	if h.SubHdrSize < 0 {
		return h, nil, fmt.Errorf("kdump header: sub_hdr_size %d is negative (file offset %#x)", h.SubHdrSize, statusOff+8)
	}
	if h.BitmapBlocks == 0 || h.BitmapBlocks%2 != 0 {
		return h, nil, fmt.Errorf("kdump header: bitmap_blocks %d is not a positive even number (file offset %#x)", h.BitmapBlocks, statusOff+12)
	}
	return h, order, nil
}

func validBlockSize(n int32) bool {
	return n >= minBlockSize && n <= maxBlockSize && n&(n-1) == 0
}

// parseSubHeader decodes the fields of struct kdump_sub_header that header
// version ver defines, from b (at most subHeaderSize bytes).
func parseSubHeader(b []byte, ver int32, order binary.ByteOrder) (SubHeader, error) {
	var s SubHeader
	need := 16
	switch {
	case ver >= 6:
		need = subHeaderSize
	case ver >= 5:
		need = 80
	case ver >= 4:
		need = 64
	case ver >= 3:
		need = 48
	case ver >= 2:
		need = 32
	}
	if len(b) < need {
		return s, fmt.Errorf("kdump sub-header: %d bytes, header version %d needs %d", len(b), ver, need)
	}
	u := func(off int) uint64 { return order.Uint64(b[off:]) }
	s.PhysBase = u(0)
	s.DumpLevel = int32(order.Uint32(b[8:]))
	if ver >= 2 {
		s.Split = int32(order.Uint32(b[12:]))
		s.StartPFN, s.EndPFN = u(16), u(24)
	}
	if ver >= 3 {
		s.OffsetVmcoreinfo, s.SizeVmcoreinfo = int64(u(32)), u(40)
	}
	if ver >= 4 {
		s.OffsetNote, s.SizeNote = int64(u(48)), u(56)
	}
	if ver >= 5 {
		s.OffsetEraseinfo, s.SizeEraseinfo = int64(u(64)), u(72)
	}
	if ver >= 6 {
		s.StartPFN64, s.EndPFN64, s.MaxMapnr64 = u(80), u(88), u(96)
	}
	return s, nil
}

// compressionName names the compression flags of the header status.
func compressionName(status uint32) string {
	var names []string
	for _, c := range []struct {
		f    uint32
		name string
	}{{FlagZlib, "zlib"}, {FlagLZO, "lzo"}, {FlagSnappy, "snappy"}, {FlagZstd, "zstd"}} {
		if status&c.f != 0 {
			names = append(names, c.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "+")
}
