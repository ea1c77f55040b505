// Package freebsd is the FreeBSD kernel model: processes and threads from
// allproc and zombproc, registers from PCBs (dumppcb for the thread that
// crashed, stoppcbs[] for threads on other CPUs, td_pcb for the rest), the
// panic string and the message buffer.
//
// Structure members are found through DWARF by name; without DWARF the
// kernel's exported offset symbols (proc_off_p_pid, thread_off_td_tid, ...)
// are used, as libkvm and kgdb do.
package freebsd

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/kdap/kdap/target"
	"github.com/kdap/kdap/target/core"
)

func init() {
	target.RegisterOS(target.OSModel{Name: "FreeBSD", Detect: detect, Open: open})
}

// detect recognises a FreeBSD kernel by the globals a kernel debugger uses.
func detect(k *target.Kernel) bool {
	_, a := k.Addr("allproc")
	_, b := k.Addr("dumptid")
	return a && b
}

// Limits that keep a corrupt dump from producing endless lists.
const (
	maxProcs          = 1 << 20
	maxThreadsPerProc = 1 << 16
	maxCPUs           = 1024
	nocpu             = 0xff // td_oncpu of a thread on no CPU (NOCPU)
	maxPanicLen       = 1024
	maxMsgBuf         = 64 << 20
	msgMagic          = 0x063062 // MSG_MAGIC of sys/sys/msgbuf.h
)

// kernel is the FreeBSD OS model of one target.
type kernel struct {
	t        *target.Target
	md       *machdep
	kernbase uint64
	kernphys uint64 // physical address of kernbase in a full dump
	lay      layout
	damage   []string // what the last Threads call could not read

	stopOnce sync.Once // stoppcbs[0]'s address, found on first use
	stopBase uint64
	stopOK   bool
}

func open(t *target.Target) (target.OS, error) {
	md, err := machdepFor(t)
	if err != nil {
		return nil, err
	}
	k := &kernel{t: t, md: md}
	kb, ok := t.Kernel.Addr("kernbase")
	if !ok {
		return nil, errors.New("kernel has no symbol kernbase")
	}
	k.kernbase = kb
	if m, ok := core.As[core.KernelMapper](t.Dump); ok {
		t.SetTranslate(m.TranslateKernel)
	} else {
		if t.Arch.Walk == nil {
			return nil, fmt.Errorf("kdap reads FreeBSD/%s minidumps but not yet full dumps, which need a walk of the kernel's page tables", t.Arch.Name)
		}
		root, levels, err := k.pageTableRoot()
		if err != nil {
			return nil, err
		}
		tr, err := target.PageTableTranslate(t.Arch, t.Dump, root, levels)
		if err != nil {
			return nil, err
		}
		t.SetTranslate(tr)
	}
	if err := t.CheckBuildID(); err != nil {
		return nil, err
	}
	if err := k.checkVersion(); err != nil {
		return nil, err
	}
	if !t.Kernel.HasText() {
		// A symbol-only kernel: its code lies from kernbase up to the
		// end of its image (text is linked first), and on i386 in the
		// trampoline of the 4/4 address-space split, at the top 4 MB.
		_, hi := t.Kernel.ImageSpan()
		guess := [][2]uint64{{kb, hi}}
		guess = append(guess, md.extraText...)
		t.Kernel.GuessText(guess)
	}
	lay, err := loadLayout(t, md)
	if err != nil {
		return nil, err
	}
	k.lay = lay
	return k, nil
}

// imagePhys returns the physical address of a kernel image address: the
// kernel maps its image at kernbase onto physical kernphys.
func (k *kernel) imagePhys(va uint64) (uint64, error) {
	if va < k.kernbase {
		return 0, fmt.Errorf("address %#x is below kernbase %#x", va, k.kernbase)
	}
	return va - k.kernbase + k.kernphys, nil
}

// readImageU64 reads a 64-bit kernel image variable before translation
// is set up.
func (k *kernel) readImageU64(sym string) (uint64, error) {
	a, ok := k.t.Kernel.Addr(sym)
	if !ok {
		return 0, fmt.Errorf("kernel has no symbol %s", sym)
	}
	pa, err := k.imagePhys(a)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", sym, err)
	}
	var b [8]byte
	if err := k.t.Dump.ReadPhys(b[:], pa); err != nil {
		return 0, fmt.Errorf("reading %s at physical %#x: %w", sym, pa, err)
	}
	return k.t.Arch.ByteOrder.Uint64(b[:]), nil
}

// Where an amd64 kernel's image may lie in physical memory: the BIOS
// loader put kernbase at physical 0 (the image at 2 MB) until FreeBSD
// 13.1; loader.efi now leaves it wherever UEFI gave it memory, 2 MB
// aligned and below 4 GB.
const (
	kernphysAlign = 2 << 20
	kernphysLimit = 4 << 30
)

// pageTableRoot finds the kernel's top-level page table, the physical
// address stored in KPML4phys (five levels when la57 is set), and with
// it where the kernel image lies in physical memory. Each candidate
// physical base is checked by walking KPML4phys's own address through the
// page tables it names: the walk must lead back to where it was read.
func (k *kernel) pageTableRoot() (uint64, int, error) {
	va, ok := k.t.Kernel.Addr("KPML4phys")
	if !ok {
		return 0, 0, errors.New("kernel has no symbol KPML4phys")
	}
	var firstErr error
	for base := uint64(0); base < kernphysLimit; base += kernphysAlign {
		k.kernphys = base
		root, err := k.readImageU64("KPML4phys")
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if root == 0 || root&0xfff != 0 || root >= 1<<52 {
			if firstErr == nil {
				firstErr = fmt.Errorf("KPML4phys holds %#x, not a page-aligned physical address: is this kernel the dump's?", root)
			}
			continue
		}
		levels := 4
		if _, ok := k.t.Kernel.Addr("la57"); ok {
			if v, err := k.readImageU64("la57"); err == nil && uint32(v) != 0 {
				levels = 5
			}
		}
		read := func(pa uint64, b []byte) error { return k.t.Dump.ReadPhys(b, pa) }
		pa, _, err := k.t.Arch.Walk(read, root, levels, va)
		if err == nil && pa == va-k.kernbase+base {
			if base != 0 {
				k.t.Log.Debug("kernel image found away from physical 0", zap.Uint64("kernphys", base))
			}
			return root, levels, nil
		}
		if base == 0 && firstErr == nil {
			if err == nil {
				err = fmt.Errorf("the page tables map it to physical %#x", pa)
			}
			firstErr = fmt.Errorf("KPML4phys read at physical %#x holds %#x, which does not map KPML4phys back to that address (%v)", va-k.kernbase, root, err)
		}
	}
	k.kernphys = 0
	return 0, 0, fmt.Errorf("cannot find the kernel's page tables in the dump: no 2 MB-aligned physical base below 4 GB holds a KPML4phys that maps itself (at physical base 0: %w)", firstErr)
}

// checkVersion compares the version string in the dump with the one in
// the kernel file: a mismatch means the wrong kernel.debug.
func (k *kernel) checkVersion() error {
	sym, ok := k.t.Kernel.Syms.Lookup("version")
	if !ok || sym.Size == 0 {
		return nil // nothing to compare with
	}
	want := make([]byte, min(sym.Size, 1024))
	if err := k.t.Kernel.ReadFile(want, sym.Addr); err != nil {
		return nil // not initialised data in the file: nothing to compare with
	}
	if i := bytes.IndexByte(want, 0); i >= 0 {
		want = want[:i]
	}
	got, err := k.t.ReadCString(sym.Addr, len(want)+1)
	if err != nil {
		return fmt.Errorf("kernel.debug does not match this dump: cannot read its version string at %#x: %w", sym.Addr, err)
	}
	if got != string(want) {
		return fmt.Errorf("kernel.debug does not match this dump: the dump's version string is %q, the kernel file's is %q", firstLine(got), firstLine(string(want)))
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func (k *kernel) Name() string { return "FreeBSD" }

func (k *kernel) Version() (string, error) {
	a, ok := k.t.Kernel.Addr("version")
	if !ok {
		return "", errors.New("kernel has no symbol version")
	}
	s, err := k.t.ReadCString(a, 1024)
	return strings.TrimRight(s, "\n"), err
}

func (k *kernel) PanicString() (string, error) {
	p, err := k.t.SymbolPtr("panicstr")
	if err != nil {
		return "", err
	}
	if p == 0 {
		return "", nil
	}
	s, err := k.t.ReadCString(p, maxPanicLen)
	if err != nil {
		return "", fmt.Errorf("panicstr points at %#x: %w", p, err)
	}
	return s, nil
}
