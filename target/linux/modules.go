package linux

import (
	"fmt"

	"github.com/kdap/kdap/target"
)

// maxModules bounds the walk of the modules list.
const maxModules = 1 << 16

// moduleNameLen is MODULE_NAME_LEN's upper bound for reading module.name
// when DWARF gives no size.
const moduleNameLen = 64

// Modules lists the loaded modules from the kernel's modules list, each
// with the base and size of its core text: module.core_layout (before
// 6.4) or module.mem[MOD_TEXT] (6.4 and later), found through DWARF.
func (k *kernel) Modules() ([]target.Module, error) {
	head, ok := k.t.Kernel.Addr("modules")
	if !ok {
		return nil, nil // a kernel built without module support
	}
	list, err := k.member("module", "list")
	if err != nil {
		return nil, err
	}
	nameOff, nameSize, err := k.t.Kernel.Member("struct module", "name")
	if err != nil {
		return nil, fmt.Errorf("struct module member name: %w", err)
	}
	if nameSize <= 0 || nameSize > moduleNameLen {
		nameSize = moduleNameLen
	}
	base, size, err := k.moduleTextLayout()
	if err != nil {
		return nil, err
	}
	var out []target.Module
	err = k.walkList(head, maxModules, func(node uint64) error {
		m := node - list
		name, err := k.t.ReadCString(m+uint64(nameOff), int(nameSize))
		if err != nil {
			return fmt.Errorf("module at %#x: name: %w", m, err)
		}
		b, err := k.t.ReadU64(m + base)
		if err != nil {
			return fmt.Errorf("module %s at %#x: text base: %w", name, m, err)
		}
		sz, err := k.t.ReadU32(m + size)
		if err != nil {
			return fmt.Errorf("module %s at %#x: text size: %w", name, m, err)
		}
		out = append(out, target.Module{Name: name, Base: b, Size: uint64(sz), Addr: m})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("modules list: %w", err)
	}
	return out, nil
}

// moduleTextLayout returns the offsets in struct module of the core text's
// base pointer and size (an unsigned int in both layouts).
func (k *kernel) moduleTextLayout() (base, size uint64, err error) {
	if base, err = k.member("module", "core_layout.base"); err == nil {
		size, err = k.member("module", "core_layout.size")
		return base, size, err
	}
	mem, merr := k.member("module", "mem") // mem[MOD_TEXT], MOD_TEXT being 0
	if merr != nil {
		return 0, 0, fmt.Errorf("struct module has neither core_layout nor mem: %w", err)
	}
	if base, err = k.member("module_memory", "base"); err != nil {
		return 0, 0, err
	}
	if size, err = k.member("module_memory", "size"); err != nil {
		return 0, 0, err
	}
	return mem + base, mem + size, nil
}
