package target

import (
	"fmt"
	"sync"
)

// maxProblems bounds the debug-information problems a kernel records.
const maxProblems = 32

// problems records what could not be decoded of a kernel file's debug
// information (a damaged line table, range list or call frame table), so
// that a shorter answer is never silent.
type problems struct {
	mu   sync.Mutex
	list []string
	seen map[string]bool
}

// Problem records a problem with the kernel file's debug information,
// once per distinct text.
func (k *Kernel) Problem(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	p := &k.probs
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	if p.seen[s] || len(p.list) > maxProblems {
		return
	}
	p.seen[s] = true
	if len(p.list) == maxProblems {
		s = "more problems with the kernel's debug information not listed"
	}
	p.list = append(p.list, s)
}

// Problems lists the problems recorded so far.
func (k *Kernel) Problems() []string {
	k.probs.mu.Lock()
	defer k.probs.mu.Unlock()
	return append([]string(nil), k.probs.list...)
}
