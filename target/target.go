// Package target answers "what did the machine look like": it opens a crash
// dump with its kernel and offers kernel virtual memory, the kernel's
// symbols and types, the thread list with saved registers, the panic string
// and the message buffer, whatever the dump format and operating system.
package target

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/kdap/kdap/target/arch"
	_ "github.com/kdap/kdap/target/arch/all" // every architecture
	"github.com/kdap/kdap/target/core"
	"github.com/kdap/kdap/target/symbols"
)

// Options tune Open.
type Options struct {
	// Logger receives diagnostics; nil means none.
	Logger *zap.Logger
	// NoDWARF ignores the kernel's DWARF, as if it had none (member
	// offsets then come from the kernel's exported offset symbols).
	NoDWARF bool
}

// Thread is one kernel thread as the dump recorded it.
type Thread struct {
	// ID identifies the thread within the dump: positive and unique, the
	// DAP thread id. It is TID unless the kernel gives several threads the
	// same TID (Linux's idle tasks all have pid 0) or a TID below 1.
	ID      int64
	TID     int64
	PID     int64
	Comm    string // the process name (p_comm, comm)
	Name    string // the thread name (td_name)
	CPU     int    // the CPU it ran on, or -1
	Crashed bool   // the thread that panicked
	Zombie  bool   // its process had exited
	Addr    uint64 // address of the kernel's thread structure
	// Regs are the registers to unwind from; RegsFrom names where they
	// were found ("dumppcb", "stoppcbs[1]", "td_pcb", ...).
	Regs     arch.Regs
	RegsFrom string
	// RegsErr says why Regs is empty: the saved context could not be read.
	RegsErr string
	// SavedByCall says Regs were saved by a function call (a PCB written
	// by cpu_switch or savectx), so the pc is that call's return address.
	SavedByCall bool
	// StackLo and StackHi bound the thread's kernel stack when known.
	StackLo, StackHi uint64
}

// DisplayName names the thread as lldb does: "(pid 806) sysctl (crashed)".
func (t *Thread) DisplayName() string {
	var b strings.Builder
	fmt.Fprintf(&b, "(pid %d) %s", t.PID, t.Comm)
	if t.Name != "" && t.Name != t.Comm {
		b.WriteString("/" + t.Name)
	}
	switch {
	case t.Crashed:
		b.WriteString(" (crashed)")
	case t.CPU >= 0:
		fmt.Fprintf(&b, " (on CPU %d)", t.CPU)
	case t.Zombie:
		b.WriteString(" (zombie)")
	}
	return b.String()
}

// MessageBuffer is the kernel's message buffer.
type MessageBuffer struct {
	// All is the whole ring in order, oldest first.
	All string
	// Unread is the part no reader had consumed (FreeBSD msg_rseq..msg_wseq).
	Unread string
}

// OS is one kernel's model of its own data structures.
type OS interface {
	// Name is the operating system's name, e.g. "FreeBSD".
	Name() string
	// Version is the kernel's version string as the dump holds it.
	Version() (string, error)
	// Threads lists every kernel thread, the crashed one first.
	Threads() ([]*Thread, error)
	// PanicString is the panic message, or "" if the kernel had not panicked.
	PanicString() (string, error)
	// MessageBuffer reads the kernel's message buffer.
	MessageBuffer() (*MessageBuffer, error)
	// TrapFrame is the trap-entry knowledge the unwinder needs.
	TrapFrame() TrapRules
}

// TrapRules tell an unwinder which functions are trap entries, how to
// read the registers they saved, and where a kernel thread's stack ends.
type TrapRules interface {
	// IsTrapEntry reports whether fn is a trap or interrupt entry whose
	// frame holds the interrupted registers.
	IsTrapEntry(fn string) bool
	// IsThreadEntry reports whether fn begins a kernel thread's stack.
	IsThreadEntry(fn string) bool
	// Interrupted reads the registers saved by a trap entry whose stack
	// pointer at the call into C was sp; it returns them and a marker
	// such as "--- trap 0xc, rip = 0x…, rsp = 0x…, rbp = 0x… ---".
	Interrupted(sp uint64) (arch.Regs, string, error)
}

// Module is a loadable kernel module as the dump recorded it.
type Module struct {
	// Name is the module's name ("qemu_fw_cfg").
	Name string
	// Base and Size bound its core allocation in kernel memory (code,
	// and data too where the kernel allocates them together).
	Base, Size uint64
	// Text lists the ranges [lo, hi) of its executable code still in
	// memory (its core text, and its init text until that is freed).
	Text [][2]uint64
	// Addr is the address of the kernel's structure for it.
	Addr uint64
}

// InText reports whether addr lies in the module's code.
func (m *Module) InText(addr uint64) bool {
	for _, r := range m.Text {
		if addr >= r[0] && addr < r[1] {
			return true
		}
	}
	return false
}

// ModuleSymbolizer is implemented by OS models that know the symbols and
// code of loaded modules (read from the dump itself).
type ModuleSymbolizer interface {
	// ModuleSymbol returns the module symbol that names addr, addr's
	// offset from it and the module's name; ok is false when addr is in
	// no module or no symbol of its module names it.
	ModuleSymbol(addr uint64) (sym symbols.Symbol, off uint64, module string, ok bool)
	// InModuleText reports whether addr lies in a loaded module's code.
	InModuleText(addr uint64) bool
}

// Symbol is a symbol of the kernel or of a loaded module.
type Symbol struct {
	symbols.Symbol
	// Module is the name of the loaded module that holds the symbol, ""
	// for the kernel's own.
	Module string
}

// Display names the symbol as crash's bt does: "fw_cfg_sysfs_probe
// [qemu_fw_cfg]" in a module, the bare name in the kernel.
func (s Symbol) Display() string {
	if s.Module == "" {
		return s.Name
	}
	return s.Name + " [" + s.Module + "]"
}

// SymbolAt finds the symbol that names addr and addr's offset from it:
// the kernel's symbol table inside the kernel image, then the loaded
// modules' symbols (when the OS model knows them), then the kernel's
// table again for addresses outside both.
func (t *Target) SymbolAt(addr uint64) (Symbol, uint64, bool) {
	if !t.Kernel.InImage(addr) {
		if ms, ok := t.OS.(ModuleSymbolizer); ok {
			if s, off, mod, ok := ms.ModuleSymbol(addr); ok {
				return Symbol{Symbol: s, Module: mod}, off, true
			}
		}
	}
	s, off, ok := t.Kernel.Syms.Addr(addr)
	return Symbol{Symbol: s}, off, ok
}

// InText reports whether addr lies in executable code: the kernel's
// text sections (where the running kernel has them) or a loaded module's
// code.
func (t *Target) InText(addr uint64) bool {
	if t.Kernel.InText(addr) {
		return true
	}
	ms, ok := t.OS.(ModuleSymbolizer)
	return ok && ms.InModuleText(addr)
}

// DamageReporter is implemented by OS models that go on past structures
// a dump lacks or that are corrupt, and say what they skipped.
type DamageReporter interface {
	// Damage lists what could not be read, one line each.
	Damage() []string
}

// Warnings lists what the dump lacks (a file that ends early), what the
// OS model could not read of the kernel's lists (after Threads) and what
// could not be decoded of the kernel's debug information so far.
func (t *Target) Warnings() []string {
	var out []string
	if w, ok := core.As[core.Warner](t.Dump); ok {
		out = append(out, w.Warnings()...)
	}
	if d, ok := t.OS.(DamageReporter); ok {
		out = append(out, d.Damage()...)
	}
	return append(out, t.Kernel.Problems()...)
}

// ModuleLister is implemented by OS models that can list loaded modules.
type ModuleLister interface {
	// Modules lists the loaded modules in the kernel's order.
	Modules() ([]Module, error)
}

// Modules lists the kernel's loaded modules; none when the OS model does
// not know how.
func (t *Target) Modules() ([]Module, error) {
	if m, ok := t.OS.(ModuleLister); ok {
		return m.Modules()
	}
	return nil, nil
}

// OSModel recognises one operating system's kernel and builds its OS.
type OSModel struct {
	// Name identifies the model, e.g. "FreeBSD".
	Name string
	// Detect reports whether the kernel file is this OS's.
	Detect func(k *Kernel) bool
	// Open sets up address translation on t (t.SetTranslate) and returns
	// the OS model. It checks that the kernel matches the dump.
	Open func(t *Target) (OS, error)
}

var (
	osMu     sync.Mutex
	osModels []OSModel
)

// RegisterOS adds an operating system model.
func RegisterOS(m OSModel) {
	osMu.Lock()
	defer osMu.Unlock()
	osModels = append(osModels, m)
	sort.Slice(osModels, func(i, j int) bool { return osModels[i].Name < osModels[j].Name })
}

// Target is an opened dump with its kernel.
type Target struct {
	CorePath string
	Dump     core.Dump
	Kernel   *Kernel
	OS       OS
	Log      *zap.Logger
	// Arch is the machine's architecture, the same for the dump and the
	// kernel file.
	Arch *arch.Arch

	mem memory

	threadsOnce sync.Once
	threads     []*Thread
	threadsErr  error
}

// Open opens the dump at corePath with the kernel at kernelPath.
func Open(corePath, kernelPath string, opts Options) (*Target, error) {
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	d, err := core.Open(corePath)
	if err != nil {
		return nil, err
	}
	k, err := OpenKernel(kernelPath, opts.NoDWARF)
	if err != nil {
		d.Close()
		return nil, err
	}
	a, err := machineOf(d, k, corePath)
	if err != nil {
		d.Close()
		k.Close()
		return nil, err
	}
	t := &Target{CorePath: corePath, Dump: d, Kernel: k, Log: log, Arch: a}
	t.mem = memory{dump: d, pages: map[uint64]uint64{}}
	osMu.Lock()
	models := append([]OSModel(nil), osModels...)
	osMu.Unlock()
	for _, m := range models {
		if !m.Detect(k) {
			continue
		}
		o, err := m.Open(t)
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("%s kernel %s with dump %s: %w", m.Name, kernelPath, corePath, err)
		}
		t.OS = o
		log.Debug("opened target", zap.String("core", corePath), zap.String("format", d.Format()), zap.String("os", m.Name))
		return t, nil
	}
	t.Close()
	names := make([]string, len(models))
	for i, m := range models {
		names[i] = m.Name
	}
	return nil, fmt.Errorf("kernel %s: none of kdap's kernel models (%s) recognises its symbols", kernelPath, strings.Join(names, ", "))
}

// machineOf returns the architecture of the kernel file, checked against
// the machine the dump's headers name: reading a dump with another
// machine's kernel would decode every structure wrongly.
func machineOf(d core.Dump, k *Kernel, corePath string) (*arch.Arch, error) {
	km := k.ELF.Machine
	if m, ok := core.As[core.Machiner](d); ok && m.Machine() != km {
		return nil, fmt.Errorf("kernel %s is for %s but the dump %s was taken on %s: give the kernel of the machine that crashed",
			k.Path, arch.MachineName(km), corePath, arch.MachineName(m.Machine()))
	}
	a, err := arch.ForMachine(km)
	if err != nil {
		return nil, fmt.Errorf("kernel %s: %w", k.Path, err)
	}
	return a, nil
}

// Close releases the dump and the kernel file.
func (t *Target) Close() error {
	err := t.Dump.Close()
	if kerr := t.Kernel.Close(); err == nil {
		err = kerr
	}
	return err
}

// SetTranslate installs the kernel virtual address translation.
func (t *Target) SetTranslate(tr Translate) {
	t.mem.mu.Lock()
	t.mem.tr = tr
	clear(t.mem.pages)
	t.mem.mu.Unlock()
}

// ReadVirt fills b with kernel virtual memory at va.
func (t *Target) ReadVirt(b []byte, va uint64) error { return t.mem.ReadVirt(b, va) }

// ReadU64 reads a 64-bit word at va, in the machine's byte order.
func (t *Target) ReadU64(va uint64) (uint64, error) {
	var b [8]byte
	if err := t.ReadVirt(b[:], va); err != nil {
		return 0, err
	}
	return t.order().Uint64(b[:]), nil
}

// ReadU32 reads a 32-bit word at va, in the machine's byte order.
func (t *Target) ReadU32(va uint64) (uint32, error) {
	var b [4]byte
	if err := t.ReadVirt(b[:], va); err != nil {
		return 0, err
	}
	return t.order().Uint32(b[:]), nil
}

// ReadPtr reads a pointer (4 or 8 bytes, as the architecture has them) at va.
func (t *Target) ReadPtr(va uint64) (uint64, error) {
	if t.Arch != nil && t.Arch.PtrSize == 4 {
		v, err := t.ReadU32(va)
		return uint64(v), err
	}
	return t.ReadU64(va)
}

// PtrSize is the size of a pointer on the machine.
func (t *Target) PtrSize() int {
	if t.Arch == nil {
		return 8
	}
	return t.Arch.PtrSize
}

func (t *Target) order() binary.ByteOrder {
	if t.Arch == nil {
		return binary.LittleEndian
	}
	return t.Arch.ByteOrder
}

// ReadCString reads a NUL-terminated string of at most max bytes at va.
func (t *Target) ReadCString(va uint64, max int) (string, error) {
	var out []byte
	var chunk [64]byte
	for len(out) < max {
		n := len(chunk) - int(va%64) // never cross a page within one read
		if n > max-len(out) {
			n = max - len(out)
		}
		if err := t.ReadVirt(chunk[:n], va); err != nil {
			if len(out) > 0 {
				return string(out), nil
			}
			return "", err
		}
		for i := 0; i < n; i++ {
			if chunk[i] == 0 {
				return string(append(out, chunk[:i]...)), nil
			}
		}
		out = append(out, chunk[:n]...)
		va += uint64(n)
	}
	return string(out), nil
}

// SymbolValueU64 reads the 64-bit variable named sym.
func (t *Target) SymbolValueU64(sym string) (uint64, error) {
	a, ok := t.Kernel.Addr(sym)
	if !ok {
		return 0, fmt.Errorf("kernel has no symbol %q", sym)
	}
	return t.ReadU64(a)
}

// SymbolPtr reads the pointer variable named sym.
func (t *Target) SymbolPtr(sym string) (uint64, error) {
	a, ok := t.Kernel.Addr(sym)
	if !ok {
		return 0, fmt.Errorf("kernel has no symbol %q", sym)
	}
	return t.ReadPtr(a)
}

// Threads lists every kernel thread, the crashed one first. The list is
// built once.
func (t *Target) Threads() ([]*Thread, error) {
	t.threadsOnce.Do(func() {
		t.threads, t.threadsErr = t.OS.Threads()
		assignIDs(t.threads)
	})
	return t.threads, t.threadsErr
}

// assignIDs gives every thread a positive, unique ID: the one its OS
// model chose, else its TID, else (a duplicate or a TID below 1) the next
// number above every ID in use.
func assignIDs(ths []*Thread) {
	used := map[int64]bool{}
	next := int64(1)
	for _, th := range ths {
		if th.ID == 0 && th.TID > 0 {
			th.ID = th.TID
		}
		if th.ID > 0 && !used[th.ID] {
			used[th.ID] = true
		} else {
			th.ID = 0
		}
		next = max(next, th.ID+1)
	}
	for _, th := range ths {
		if th.ID == 0 {
			th.ID = next
			used[next] = true
			next++
		}
	}
}

// CrashedThread returns the thread that panicked, or nil.
func (t *Target) CrashedThread() (*Thread, error) {
	ths, err := t.Threads()
	if err != nil {
		return nil, err
	}
	for _, th := range ths {
		if th.Crashed {
			return th, nil
		}
	}
	return nil, nil
}

// ErrNoSuchThread is returned for an unknown thread id.
var ErrNoSuchThread = errors.New("no such thread")

// Thread returns the thread with the given ID.
func (t *Target) Thread(id int64) (*Thread, error) {
	ths, err := t.Threads()
	if err != nil {
		return nil, err
	}
	for _, th := range ths {
		if th.ID == id {
			return th, nil
		}
	}
	return nil, fmt.Errorf("%w: %d", ErrNoSuchThread, id)
}

// ThreadByTID returns the thread with the given ID or, failing that, the
// first thread whose kernel TID is tid (Linux's pid 0 is CPU 0's idle
// task), for users who name threads as the kernel numbers them.
func (t *Target) ThreadByTID(tid int64) (*Thread, error) {
	th, err := t.Thread(tid)
	if err == nil || !errors.Is(err, ErrNoSuchThread) {
		return th, err
	}
	ths, _ := t.Threads()
	for _, th := range ths {
		if th.TID == tid {
			return th, nil
		}
	}
	return nil, err
}

// Translate maps a kernel virtual address to its physical address.
func (t *Target) Translate(va uint64) (uint64, error) { return t.mem.translate(va) }
