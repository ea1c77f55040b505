package fbsdmini

import (
	"debug/elf"
	"encoding/binary"
	"fmt"

	"github.com/kdap/kdap/target/core"
)

// arm64 minidumps (sys/arm64/include/minidump.h): after the magic come u32
// version, msgbufsize, bitmapsize, pmapsize, then u64 kernbase, dmapphys,
// dmapbase, dmapend; version 2 adds u32 dumpavailsize (and the dump_avail
// section), version 3 u32 flags, whose low two bits give the page size.
//
// The page map (sys/arm64/arm64/minidump_machdep.c) holds one page of L3
// descriptors per 2 MiB of kernel address space from kernbase: the kernel
// writes 2 MiB and 1 GiB blocks out as pages of fake L3 page descriptors,
// so entry i maps kernbase + i*4 KiB whatever the real mapping size.

const (
	arm64DescrMask = 3 // ATTR_DESCR_MASK: a descriptor's type bits
	arm64L3Page    = 3 // L3_PAGE: a valid level-3 page descriptor
	// arm64AttrMask covers the attribute bits of a block or page
	// descriptor (pte.h ATTR_MASK_H | ATTR_MASK_L); the rest is the
	// output address.
	arm64AttrMask = 0xfffc000000000fff

	arm64FlagPSMask = 3 // MINIDUMP_FLAG_PS_MASK
	arm64FlagPS4K   = 0 // MINIDUMP_FLAG_PS_4K
)

var arm64Arch = arch{
	name:         "arm64",
	magic:        MagicARM64,
	machine:      elf.EM_AARCH64,
	bitmapWord:   8,
	pmapName:     "pmapsize",
	availOff:     0x48,
	decode:       decodeARM64,
	hasDumpAvail: func(v uint32) bool { return v >= 2 },
	entrySize:    func(Header) uint64 { return 8 },
	translate:    translateARM64,
	info: func(h Header) []core.Field {
		return []core.Field{
			{Name: "dmapphys", Value: hex(h.DmapPhys)},
			{Name: "dmapbase", Value: hex(h.DmapBase)},
			{Name: "dmapend", Value: hex(h.DmapEnd)},
			{Name: "flags", Value: hex(uint64(h.Flags))},
		}
	},
}

func decodeARM64(raw []byte) (Header, error) {
	le := binary.LittleEndian
	h := Header{
		Version:       le.Uint32(raw[24:]),
		MsgBufSize:    le.Uint32(raw[28:]),
		BitmapSize:    le.Uint32(raw[32:]),
		PmapSize:      le.Uint32(raw[36:]),
		KernBase:      le.Uint64(raw[40:]),
		DmapPhys:      le.Uint64(raw[48:]),
		DmapBase:      le.Uint64(raw[56:]),
		DmapEnd:       le.Uint64(raw[64:]),
		DumpAvailSize: le.Uint32(raw[72:]),
	}
	if h.Version < 1 || h.Version > 3 {
		return h, fmt.Errorf("version %d is not supported, expected 1, 2 or 3 (file offset 0x18)", h.Version)
	}
	if h.Version >= 3 {
		h.Flags = le.Uint32(raw[76:])
		if ps := h.Flags & arm64FlagPSMask; ps != arm64FlagPS4K {
			return h, fmt.Errorf("flags %#x give page-size code %d; only 4 KiB pages (code 0) are supported (file offset 0x4c)", h.Flags, ps)
		}
	}
	if h.DmapBase > h.DmapEnd {
		return h, fmt.Errorf("dmapbase %#x is above dmapend %#x (file offset 0x38)", h.DmapBase, h.DmapEnd)
	}
	if h.DmapPhys+(h.DmapEnd-h.DmapBase) < h.DmapPhys {
		return h, fmt.Errorf("direct map [%#x, %#x) from dmapphys %#x runs past the end of the physical address space (file offset 0x30)", h.DmapBase, h.DmapEnd, h.DmapPhys)
	}
	return h, nil
}

// translateARM64 maps va by offset in the direct map, and through the L3
// descriptors of the page map from kernbase up. The direct map comes
// first: on arm64 it lies above kernbase.
func translateARM64(d *Dump, va uint64) (uint64, uint64, error) {
	h := d.hdr
	if va >= h.DmapBase && va < h.DmapEnd {
		return va - h.DmapBase + h.DmapPhys, pageSize, nil
	}
	if va < h.KernBase {
		return 0, 0, fmt.Errorf("minidump: va %#x is neither in the direct map [%#x, %#x) nor at or above kernbase %#x: %w",
			va, h.DmapBase, h.DmapEnd, h.KernBase,
			&core.NotPresentError{Addr: va, Virtual: true, Reason: "minidumps hold kernel memory only"})
	}
	idx := (va - h.KernBase) >> pageShift
	if idx >= d.pmapLen {
		return 0, 0, d.pastMap(va, pageShift)
	}
	e, err := d.mapEntry(va, idx)
	if err != nil {
		return 0, 0, err
	}
	if e&arm64DescrMask != arm64L3Page {
		return 0, 0, &core.NotPresentError{Addr: va, Virtual: true, Reason: fmt.Sprintf("L3 descriptor %d of the kernel page map (%#x) is not a valid page", idx, e)}
	}
	return e&^arm64AttrMask | va&(pageSize-1), pageSize, nil
}
