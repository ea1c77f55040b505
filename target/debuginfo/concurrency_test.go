package debuginfo

import (
	"sync"
	"testing"
)

// TestConcurrentUse runs lookups from several goroutines at once (run
// with -race to check the locking).
func TestConcurrentUse(t *testing.T) {
	f, d := open(t, tinyELF)
	syms := funcSymbols(t, f)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, s := range syms {
				pc := s.Value + uint64(i+g)%s.Size
				if fn, err := d.FuncAt(pc); err == nil {
					d.Vars(fn.Offset, pc)
				}
				d.LineAt(pc)
				d.InlineChain(pc)
				d.FDEFor(pc)
				if _, err := d.Type("struct node"); err != nil {
					t.Error(err)
				}
				d.Variable("root_node")
			}
		}()
	}
	wg.Wait()
}
