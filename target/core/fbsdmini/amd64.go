package fbsdmini

import (
	"debug/elf"
	"encoding/binary"
	"fmt"

	"github.com/kdap/kdap/target/core"
)

// amd64 minidumps (sys/amd64/include/minidump.h): after the magic come
// u32 version, msgbufsize, bitmapsize, pmapsize, then u64 kernbase,
// dmapbase, dmapend, and in version 3 a u32 dumpavailsize. The page map
// holds one PDE per 2 MiB from kernbase (version 1: one PTE per 4 KiB).

const (
	pdrShift  = 21 // log2 of the 2 MiB a PDE maps
	pteValid  = 1 << 0
	ptePS     = 1 << 7
	pgFrame   = 0x000ffffffffff000
	pgPSFrame = 0x000fffffffe00000
)

var amd64Arch = arch{
	name:         "amd64",
	magic:        MagicAMD64,
	machine:      elf.EM_X86_64,
	bitmapWord:   8,
	pmapName:     "pmapsize",
	availOff:     0x40,
	decode:       decodeAMD64,
	hasDumpAvail: func(v uint32) bool { return v >= 3 },
	entrySize:    func(Header) uint64 { return 8 },
	translate:    translateAMD64,
	info: func(h Header) []core.Field {
		return []core.Field{{Name: "dmapbase", Value: hex(h.DmapBase)}, {Name: "dmapend", Value: hex(h.DmapEnd)}}
	},
}

func decodeAMD64(raw []byte) (Header, error) {
	le := binary.LittleEndian
	h := Header{
		Version:       le.Uint32(raw[24:]),
		MsgBufSize:    le.Uint32(raw[28:]),
		BitmapSize:    le.Uint32(raw[32:]),
		PmapSize:      le.Uint32(raw[36:]),
		KernBase:      le.Uint64(raw[40:]),
		DmapBase:      le.Uint64(raw[48:]),
		DmapEnd:       le.Uint64(raw[56:]),
		DumpAvailSize: le.Uint32(raw[64:]),
	}
	if h.Version < 1 || h.Version > 3 {
		return h, fmt.Errorf("version %d is not supported, expected 1, 2 or 3 (file offset 0x18)", h.Version)
	}
	if h.DmapBase > h.DmapEnd {
		return h, fmt.Errorf("dmapbase %#x is above dmapend %#x (file offset 0x30)", h.DmapBase, h.DmapEnd)
	}
	return h, nil
}

// translateAMD64 maps va through the page map from kernbase up, by
// subtraction in the direct map.
func translateAMD64(d *Dump, va uint64) (uint64, uint64, error) {
	h := d.hdr
	switch {
	case va >= h.KernBase:
		return d.translateAMD64KVA(va)
	case va >= h.DmapBase && va < h.DmapEnd:
		return va - h.DmapBase, pageSize, nil
	}
	return 0, 0, fmt.Errorf("minidump: va %#x is neither at or above kernbase %#x nor in the direct map [%#x, %#x): %w",
		va, h.KernBase, h.DmapBase, h.DmapEnd,
		&core.NotPresentError{Addr: va, Virtual: true, Reason: "minidumps hold kernel memory only"})
}

func (d *Dump) translateAMD64KVA(va uint64) (uint64, uint64, error) {
	shift := uint(pdrShift)
	kind := "PDE"
	if d.hdr.Version == 1 {
		shift, kind = pageShift, "PTE" // version 1 stores PTEs
	}
	idx := (va - d.hdr.KernBase) >> shift
	if idx >= d.pmapLen {
		return 0, 0, d.pastMap(va, shift)
	}
	e, err := d.mapEntry(va, idx)
	if err != nil {
		return 0, 0, err
	}
	if e&pteValid == 0 {
		return 0, 0, &core.NotPresentError{Addr: va, Virtual: true, Reason: fmt.Sprintf("%s %d of the kernel page map is not valid", kind, idx)}
	}
	if d.hdr.Version == 1 {
		return e&pgFrame | va&(pageSize-1), pageSize, nil
	}
	if e&ptePS != 0 {
		return e&pgPSFrame | va&(1<<pdrShift-1), 1 << pdrShift, nil
	}
	ptePA := e&pgFrame + (va>>pageShift&511)*8
	var b [8]byte
	if err := d.ReadPhys(b[:], ptePA); err != nil {
		return 0, 0, fmt.Errorf("minidump: va %#x: page-table page %#x named by PDE %d (%#x): %w", va, e&pgFrame, idx, e, err)
	}
	pte := binary.LittleEndian.Uint64(b[:])
	if pte&pteValid == 0 {
		return 0, 0, &core.NotPresentError{Addr: va, Virtual: true, Reason: fmt.Sprintf("PTE at physical address %#x is not valid", ptePA)}
	}
	return pte&pgFrame | va&(pageSize-1), pageSize, nil
}
