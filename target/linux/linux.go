// Package linux is the Linux/amd64 kernel model: VMCOREINFO for the KASLR
// offset and the page tables, tasks from init_task.tasks and each
// process's thread list, registers from the CPUs' NT_PRSTATUS notes for
// running tasks and from the inactive_task_frame that __switch_to_asm left
// on a sleeping task's stack, and the printk ring buffer (5.10 and later).
//
// Every CPU's idle task comes from its run queue (they all have pid 0 and
// are on no task list), and loaded modules from the modules list.
// Structure members are found through DWARF by name, so the kernel file
// must carry DWARF (a -dbg vmlinux). Backtraces step through the
// kernel's ORC tables (FrameInfo, orc.go), which also find the pt_regs of
// exception, interrupt and system call entries; without ORC, trap frames
// are found by entry name (trap.go). Loaded modules' symbols come from
// their in-memory kallsyms (kallsyms.go) and their unwind information
// from their own ORC tables (orc.go), so no .ko file is needed.
package linux

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/kdap/kdap/target"
	"github.com/kdap/kdap/target/arch/amd64"
	"github.com/kdap/kdap/target/core/vmcoreinfo"
)

func init() {
	target.RegisterOS(target.OSModel{Name: "Linux", Detect: detect, Open: open})
}

// detect recognises a Linux kernel by its first task and its banner.
func detect(k *target.Kernel) bool {
	_, a := k.Addr("init_task")
	_, b := k.Addr("linux_banner")
	return a && b
}

// Constants of the x86-64 kernel's memory layout.
const (
	startKernelMap = 0xffffffff80000000 // __START_KERNEL_map
	threadSize     = 16 << 10           // THREAD_SIZE with KASAN off
	maxTasks       = 1 << 20
	maxCPUs        = 8192
	maxBanner      = 512
)

// kernel is the Linux OS model of one target.
type kernel struct {
	t       *target.Target
	info    *vmcoreinfo.Info
	release string
	orc     orcState

	mods     moduleState
	modOrder map[uint64]int // a module's place in the kernel's list, by address

	damage []string // what the last Threads call could not read
}

// maxDamage bounds the damage Threads reports.
const maxDamage = 64

// damaged records something of the task lists that could not be read.
func (k *kernel) damaged(format string, args ...any) {
	if len(k.damage) < maxDamage {
		k.damage = append(k.damage, fmt.Sprintf(format, args...))
	} else if len(k.damage) == maxDamage {
		k.damage = append(k.damage, "more damage not listed")
	}
}

// Damage lists what the last Threads call could not read.
func (k *kernel) Damage() []string { return append([]string(nil), k.damage...) }

func open(t *target.Target) (target.OS, error) {
	if t.Arch != amd64.Arch {
		// Registers, pt_regs, ORC and the page-table root below are
		// x86-64's.
		return nil, fmt.Errorf("kdap reads Linux dumps of amd64 machines only; this kernel is for %s", t.Arch.Name)
	}
	text, err := vmcoreinfo.FromDump(t.Dump)
	if err != nil {
		return nil, err
	}
	info, err := vmcoreinfo.Parse(text)
	if err != nil {
		return nil, err
	}
	k := &kernel{t: t, info: info}
	if off, err := info.KernelOffset(); err == nil && off != 0 {
		t.Kernel.SetSlide(off)
	} else if err != nil && !errors.Is(err, vmcoreinfo.ErrMissing) {
		return nil, err
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
	if err := k.checkVersion(); err != nil {
		return nil, err
	}
	return k, nil
}

// pageTableRoot returns the physical address of swapper_pg_dir and the
// number of paging levels.
func (k *kernel) pageTableRoot() (uint64, int, error) {
	va, err := k.info.Symbol("swapper_pg_dir")
	if err != nil {
		a, ok := k.t.Kernel.Addr("swapper_pg_dir")
		if !ok {
			return 0, 0, fmt.Errorf("VMCOREINFO has no SYMBOL(swapper_pg_dir) and the kernel no such symbol: %w", err)
		}
		va = a
	}
	physBase, err := k.info.PhysBase()
	if err != nil {
		return 0, 0, fmt.Errorf("VMCOREINFO: %w", err)
	}
	if va < startKernelMap {
		return 0, 0, fmt.Errorf("swapper_pg_dir %#x is below the kernel image map %#x", va, uint64(startKernelMap))
	}
	root := va - startKernelMap + uint64(physBase)
	if root&0xfff != 0 {
		return 0, 0, fmt.Errorf("swapper_pg_dir at physical %#x is not page-aligned (phys_base %d)", root, physBase)
	}
	levels := 4
	if l5, err := k.info.PgtableL5Enabled(); err == nil && l5 {
		levels = 5
	}
	return root, levels, nil
}

// checkVersion compares the banner in the kernel file with the one in the
// dump, and the OSRELEASE of VMCOREINFO with both.
func (k *kernel) checkVersion() error {
	a, _ := k.t.Kernel.Addr("linux_banner")
	file := make([]byte, maxBanner)
	if err := k.t.Kernel.ReadFile(file, a-k.t.Kernel.Slide); err != nil {
		// the banner is near the end of .rodata: read what there is
		file = file[:0]
	}
	if i := bytes.IndexByte(file, 0); i >= 0 {
		file = file[:i]
	}
	mem, err := k.t.ReadCString(a, maxBanner)
	if err != nil {
		return fmt.Errorf("reading linux_banner at %#x in the dump: %w", a, err)
	}
	if len(file) > 0 && string(file) != mem {
		return fmt.Errorf("vmlinux does not match this dump: banner %q in the file, %q in the dump",
			strings.TrimSpace(string(file)), strings.TrimSpace(mem))
	}
	if rel, err := k.info.OSRelease(); err == nil {
		k.release = rel
		if !strings.HasPrefix(mem, "Linux version "+rel+" ") {
			return fmt.Errorf("vmlinux does not match this dump: VMCOREINFO says OSRELEASE=%s, the kernel's banner is %q", rel, strings.TrimSpace(mem))
		}
	}
	return nil
}

// Name is "Linux".
func (k *kernel) Name() string { return "Linux" }

// Version is the linux_banner string in the dump.
func (k *kernel) Version() (string, error) {
	a, _ := k.t.Kernel.Addr("linux_banner")
	s, err := k.t.ReadCString(a, maxBanner)
	if err != nil {
		return "", fmt.Errorf("reading linux_banner: %w", err)
	}
	return strings.TrimSpace(s), nil
}
