package target

import (
	"errors"
	"fmt"
	"sync"

	"github.com/kdap/kdap/target/arch"
	"github.com/kdap/kdap/target/core"
)

// Translate maps a kernel virtual address to a physical one and returns
// the size of the page that holds it.
type Translate func(va uint64) (pa uint64, pageSize uint64, err error)

// memory reads kernel virtual memory through a translation and the dump's
// physical memory, remembering recent page translations.
type memory struct {
	dump core.Dump
	tr   Translate

	mu    sync.Mutex
	pages map[uint64]uint64 // 4 KiB virtual page → physical page
}

// maxCachedPages bounds the translation cache.
const maxCachedPages = 1 << 16

func (m *memory) translate(va uint64) (uint64, error) {
	vp := va &^ 0xfff
	m.mu.Lock()
	pp, ok := m.pages[vp]
	m.mu.Unlock()
	if ok {
		return pp | va&0xfff, nil
	}
	if m.tr == nil {
		return 0, errors.New("no address translation for this dump")
	}
	pa, _, err := m.tr(vp)
	if err != nil {
		return 0, err
	}
	m.mu.Lock()
	if len(m.pages) >= maxCachedPages {
		clear(m.pages)
	}
	m.pages[vp] = pa
	m.mu.Unlock()
	return pa | va&0xfff, nil
}

// ReadVirt fills b with kernel virtual memory at va, page by page.
func (m *memory) ReadVirt(b []byte, va uint64) error {
	start := va
	for len(b) > 0 {
		pa, err := m.translate(va)
		if err != nil {
			return fmt.Errorf("cannot read %d bytes at %#x: %w", len(b), start, err)
		}
		n := 0x1000 - int(va&0xfff)
		if n > len(b) {
			n = len(b)
		}
		if err := m.dump.ReadPhys(b[:n], pa); err != nil {
			return fmt.Errorf("cannot read %d bytes at %#x (page %#x → physical %#x): %w", len(b), start, va&^0xfff, pa&^0xfff, err)
		}
		b = b[n:]
		va += uint64(n)
	}
	return nil
}

// PageTableTranslate returns a Translate that walks the architecture's
// page tables rooted at the physical address root (levels deep) in the
// dump.
func PageTableTranslate(a *arch.Arch, d core.Dump, root uint64, levels int) (Translate, error) {
	if a.Walk == nil {
		return nil, fmt.Errorf("kdap cannot walk %s page tables yet: this dump has no map of its own kernel memory", a.Name)
	}
	read := func(pa uint64, b []byte) error { return d.ReadPhys(b, pa) }
	return func(va uint64) (uint64, uint64, error) {
		return a.Walk(read, root, levels, va)
	}, nil
}
