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
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

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
	kernbase uint64
	lay      layout
}

func open(t *target.Target) (target.OS, error) {
	k := &kernel{t: t}
	kb, ok := t.Kernel.Addr("kernbase")
	if !ok {
		return nil, errors.New("kernel has no symbol kernbase")
	}
	k.kernbase = kb
	if m, ok := core.As[core.KernelMapper](t.Dump); ok {
		t.SetTranslate(m.TranslateKernel)
	} else {
		root, levels, err := k.pageTableRoot()
		if err != nil {
			return nil, err
		}
		t.SetTranslate(target.PageTableTranslate(t.Dump, root, levels))
	}
	if err := t.CheckBuildID(); err != nil {
		return nil, err
	}
	if err := k.checkVersion(); err != nil {
		return nil, err
	}
	lay, err := loadLayout(t.Kernel)
	if err != nil {
		return nil, err
	}
	k.lay = lay
	return k, nil
}

// imagePhys returns the physical address of a kernel image address: the
// kernel maps its image at KERNBASE onto physical 0 (what libkvm assumes
// for full dumps).
func (k *kernel) imagePhys(va uint64) (uint64, error) {
	if va < k.kernbase {
		return 0, fmt.Errorf("address %#x is below kernbase %#x", va, k.kernbase)
	}
	return va - k.kernbase, nil
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
	return binary.LittleEndian.Uint64(b[:]), nil
}

// pageTableRoot finds the kernel's top-level page table as libkvm does:
// the physical address stored in KPML4phys, five levels when la57 is set.
func (k *kernel) pageTableRoot() (uint64, int, error) {
	root, err := k.readImageU64("KPML4phys")
	if err != nil {
		return 0, 0, err
	}
	if root == 0 || root&0xfff != 0 {
		return 0, 0, fmt.Errorf("KPML4phys holds %#x, not a page-aligned physical address: is this kernel the dump's?", root)
	}
	levels := 4
	if _, ok := k.t.Kernel.Addr("la57"); ok {
		v, err := k.readImageU64("la57")
		if err == nil && uint32(v) != 0 {
			levels = 5
		}
	}
	return root, levels, nil
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
	p, err := k.t.SymbolValueU64("panicstr")
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
