package fbsdmini

import (
	"debug/elf"
	"encoding/binary"
	"fmt"

	"github.com/kdap/kdap/target/core"
)

// i386 minidumps (sys/i386/include/minidump.h): after the magic come u32
// version, msgbufsize, bitmapsize, ptesize, kernbase, paemode; version 2
// adds u32 dumpavailsize (and the dump_avail section, of 64-bit
// addresses). The bitmap is written in 32-bit words.
//
// The page map (sys/i386/i386/minidump_machdep_base.c) is a flat array of
// PTEs from kernbase, one page of them per page-directory entry: 4-byte
// PTEs without PAE, 8-byte ones with; the kernel writes superpages out as
// pages of fake PTEs, so entry i maps kernbase + i*4 KiB. i386 has no
// direct map, and the header names none: only the page map translates.

const (
	i386PGV        = 1 << 0             // PG_V
	i386FrameNoPAE = 0xfffff000         // PG_FRAME without PAE
	i386FramePAE   = 0x000ffffffffff000 // PG_FRAME with PAE
)

var i386Arch = arch{
	name:         "i386",
	magic:        MagicI386,
	machine:      elf.EM_386,
	bitmapWord:   4,
	pmapName:     "ptesize",
	availOff:     0x30,
	decode:       decodeI386,
	hasDumpAvail: func(v uint32) bool { return v >= 2 },
	entrySize: func(h Header) uint64 {
		if h.PAEMode != 0 {
			return 8
		}
		return 4
	},
	translate: translateI386,
	info: func(h Header) []core.Field {
		return []core.Field{{Name: "paemode", Value: fmt.Sprint(h.PAEMode)}}
	},
}

func decodeI386(raw []byte) (Header, error) {
	le := binary.LittleEndian
	h := Header{
		Version:       le.Uint32(raw[24:]),
		MsgBufSize:    le.Uint32(raw[28:]),
		BitmapSize:    le.Uint32(raw[32:]),
		PmapSize:      le.Uint32(raw[36:]),
		KernBase:      uint64(le.Uint32(raw[40:])),
		PAEMode:       le.Uint32(raw[44:]),
		DumpAvailSize: le.Uint32(raw[48:]),
	}
	if h.Version < 1 || h.Version > 2 {
		return h, fmt.Errorf("version %d is not supported, expected 1 or 2 (file offset 0x18)", h.Version)
	}
	return h, nil
}

// translateI386 maps va through the PTEs of the page map.
func translateI386(d *Dump, va uint64) (uint64, uint64, error) {
	h := d.hdr
	if va > 0xffffffff {
		return 0, 0, fmt.Errorf("minidump: va %#x does not fit i386's 32-bit address space: %w", va,
			&core.NotPresentError{Addr: va, Virtual: true, Reason: "not an i386 address"})
	}
	if va < h.KernBase {
		return 0, 0, fmt.Errorf("minidump: va %#x is below kernbase %#x, and i386 minidumps have no direct map: %w",
			va, h.KernBase, &core.NotPresentError{Addr: va, Virtual: true, Reason: "minidumps hold kernel memory only"})
	}
	idx := (va - h.KernBase) >> pageShift
	if idx >= d.pmapLen {
		return 0, 0, d.pastMap(va, pageShift)
	}
	e, err := d.mapEntry(va, idx)
	if err != nil {
		return 0, 0, err
	}
	if e&i386PGV == 0 {
		return 0, 0, &core.NotPresentError{Addr: va, Virtual: true, Reason: fmt.Sprintf("PTE %d of the kernel page map (%#x) is not valid", idx, e)}
	}
	frame := uint64(i386FrameNoPAE)
	if h.PAEMode != 0 {
		frame = i386FramePAE
	}
	return e&frame | va&(pageSize-1), pageSize, nil
}
