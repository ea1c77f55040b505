package linux

import (
	"fmt"
	"sort"
	"sync"

	"github.com/kdap/kdap/target"
	"github.com/kdap/kdap/target/symbols"
	"github.com/kdap/kdap/unwind/orc"
)

// maxModules bounds the walk of the modules list.
const maxModules = 1 << 16

// moduleNameLen is MODULE_NAME_LEN's upper bound for reading module.name
// when DWARF gives no size.
const moduleNameLen = 64

// loadedModule is one module of the dump with what was read of it: its
// symbols and ORC table on first use.
type loadedModule struct {
	target.Module
	kallsyms uint64 // address of its struct mod_kallsyms, 0 if none

	symOnce sync.Once
	syms    *symbols.Table
	symErr  error

	orcOnce sync.Once
	orc     *orc.Stepper
	orcErr  error
}

// moduleState is the kernel's module list, read once: a dump does not
// change.
type moduleState struct {
	once sync.Once
	mods []*loadedModule // by the lowest address of their text
	err  error
}

// Modules lists the loaded modules from the kernel's modules list, each
// with the base and size of its core allocation and its text ranges:
// module.core_layout and init_layout (before 6.4) or module.mem[MOD_TEXT]
// (6.4 and later), found through DWARF.
func (k *kernel) Modules() ([]target.Module, error) {
	mods, err := k.loadedModules()
	out := make([]target.Module, len(mods))
	for i, m := range mods {
		out[i] = m.Module
		out[i].Text = append([][2]uint64(nil), m.Text...)
	}
	sort.SliceStable(out, func(i, j int) bool { return k.modOrder[out[i].Addr] < k.modOrder[out[j].Addr] })
	return out, err
}

// loadedModules reads the modules list once.
func (k *kernel) loadedModules() ([]*loadedModule, error) {
	k.mods.once.Do(func() {
		k.mods.mods, k.mods.err = k.readModules()
		k.modOrder = map[uint64]int{}
		for i, m := range k.mods.mods {
			k.modOrder[m.Addr] = i
		}
		sort.SliceStable(k.mods.mods, func(i, j int) bool { return k.mods.mods[i].Base < k.mods.mods[j].Base })
	})
	return k.mods.mods, k.mods.err
}

// moduleLayout is where struct module keeps what kdap reads of it.
type moduleLayout struct {
	name     uint64
	nameSize int64
	base     uint64 // core allocation's base pointer
	size     uint64 // its size (unsigned int)
	textSize uint64 // its text size (unsigned int); 0 when size is the text's
	init     *[3]uint64
	kallsyms uint64 // the kallsyms pointer; 0 without CONFIG_KALLSYMS
}

func (k *kernel) readModules() ([]*loadedModule, error) {
	head, ok := k.t.Kernel.Addr("modules")
	if !ok {
		return nil, nil // a kernel built without module support
	}
	list, err := k.member("module", "list")
	if err != nil {
		return nil, err
	}
	var l moduleLayout
	nameOff, nameSize, err := k.t.Kernel.Member("struct module", "name")
	if err != nil {
		return nil, fmt.Errorf("struct module member name: %w", err)
	}
	if nameSize <= 0 || nameSize > moduleNameLen {
		nameSize = moduleNameLen
	}
	l.name, l.nameSize = uint64(nameOff), nameSize
	if err := k.moduleTextLayout(&l); err != nil {
		return nil, err
	}
	if off, err := k.member("module", "kallsyms"); err == nil {
		l.kallsyms = off
	}
	var out []*loadedModule
	err = k.walkList(head, maxModules, func(node uint64) error {
		m, err := k.readModule(node-list, &l)
		if err != nil {
			return err
		}
		out = append(out, m)
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("modules list: %w", err)
	}
	return out, nil
}

// readModule reads the struct module at m.
func (k *kernel) readModule(m uint64, l *moduleLayout) (*loadedModule, error) {
	name, err := k.t.ReadCString(m+l.name, int(l.nameSize))
	if err != nil {
		return nil, fmt.Errorf("module at %#x: name: %w", m, err)
	}
	b, err := k.t.ReadU64(m + l.base)
	if err != nil {
		return nil, fmt.Errorf("module %s at %#x: text base: %w", name, m, err)
	}
	sz, err := k.t.ReadU32(m + l.size)
	if err != nil {
		return nil, fmt.Errorf("module %s at %#x: text size: %w", name, m, err)
	}
	lm := &loadedModule{Module: target.Module{Name: name, Base: b, Size: uint64(sz), Addr: m}}
	text := uint64(sz)
	if l.textSize != 0 {
		ts, err := k.t.ReadU32(m + l.textSize)
		if err != nil {
			return nil, fmt.Errorf("module %s at %#x: text size: %w", name, m, err)
		}
		text = min(uint64(ts), text)
	}
	lm.Text = appendRange(lm.Text, b, text)
	if l.init != nil {
		// The init text is freed once the module's init has run: its
		// base is then NULL.
		ib, err1 := k.t.ReadU64(m + l.init[0])
		isz, err2 := k.t.ReadU32(m + l.init[1])
		its, err3 := k.t.ReadU32(m + l.init[2])
		if err1 == nil && err2 == nil && err3 == nil && ib != 0 {
			lm.Text = appendRange(lm.Text, ib, min(uint64(its), uint64(isz)))
		}
	}
	if l.kallsyms != 0 {
		if lm.kallsyms, err = k.t.ReadU64(m + l.kallsyms); err != nil {
			return nil, fmt.Errorf("module %s at %#x: kallsyms: %w", name, m, err)
		}
	}
	return lm, nil
}

// appendRange adds [base, base+size) to ranges unless it is empty or
// wraps the address space.
func appendRange(ranges [][2]uint64, base, size uint64) [][2]uint64 {
	if size == 0 || base+size < base {
		return ranges
	}
	return append(ranges, [2]uint64{base, base + size})
}

// moduleTextLayout finds in struct module the core text's base pointer
// and size (an unsigned int in both layouts), and, before 6.4, the text
// size within the core allocation and the init text.
func (k *kernel) moduleTextLayout(l *moduleLayout) error {
	var err error
	if l.base, err = k.member("module", "core_layout.base"); err == nil {
		if l.size, err = k.member("module", "core_layout.size"); err != nil {
			return err
		}
		l.textSize, _ = k.member("module", "core_layout.text_size")
		var init [3]uint64
		var e1, e2, e3 error
		init[0], e1 = k.member("module", "init_layout.base")
		init[1], e2 = k.member("module", "init_layout.size")
		init[2], e3 = k.member("module", "init_layout.text_size")
		if e1 == nil && e2 == nil && e3 == nil {
			l.init = &init
		}
		return nil
	}
	mem, merr := k.member("module", "mem") // mem[MOD_TEXT], MOD_TEXT being 0
	if merr != nil {
		return fmt.Errorf("struct module has neither core_layout nor mem: %w", err)
	}
	base, err := k.member("module_memory", "base")
	if err != nil {
		return err
	}
	size, err := k.member("module_memory", "size")
	if err != nil {
		return err
	}
	l.base, l.size = mem+base, mem+size
	return nil
}

// moduleAt returns the module whose text holds addr, or, when text
// says false, whose core allocation holds it.
func (k *kernel) moduleAt(addr uint64, text bool) *loadedModule {
	mods, _ := k.loadedModules()
	for _, m := range mods {
		if m.InText(addr) || !text && addr >= m.Base && addr-m.Base < m.Size {
			return m
		}
	}
	return nil
}

// InModuleText reports whether addr lies in a loaded module's code.
func (k *kernel) InModuleText(addr uint64) bool { return k.moduleAt(addr, true) != nil }

// ModuleSymbol names addr from the kallsyms of the module that holds it.
func (k *kernel) ModuleSymbol(addr uint64) (symbols.Symbol, uint64, string, bool) {
	m := k.moduleAt(addr, false)
	if m == nil {
		return symbols.Symbol{}, 0, "", false
	}
	tab, err := k.moduleSymbols(m)
	if err != nil || tab == nil {
		return symbols.Symbol{}, 0, "", false
	}
	s, off, ok := tab.Addr(addr)
	if !ok || s.Kind == symbols.Abs {
		return symbols.Symbol{}, 0, "", false
	}
	return s, off, m.Name, true
}

// moduleSymbols reads a module's kallsyms once; an error is logged once
// and is then the answer of every lookup in that module.
func (k *kernel) moduleSymbols(m *loadedModule) (*symbols.Table, error) {
	m.symOnce.Do(func() {
		if m.kallsyms == 0 {
			m.symErr = fmt.Errorf("module %s has no kallsyms", m.Name)
			return
		}
		l, err := k.kallsymsLayout()
		if err != nil {
			m.symErr = fmt.Errorf("module %s: %w", m.Name, err)
		} else {
			var syms []symbols.Symbol
			if syms, err = readKallsyms(k.t, l, m.kallsyms); err != nil {
				m.symErr = fmt.Errorf("module %s: %w", m.Name, err)
			} else {
				m.syms = symbols.New(syms)
			}
		}
		if m.symErr != nil {
			k.t.Log.Warn("module symbols: " + m.symErr.Error())
		}
	})
	return m.syms, m.symErr
}
