package freebsd_test

import (
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/target"
)

// With the page that holds the first process on allproc zeroed, the list
// walk finds nothing; the threads the CPUs were running
// (cpuid_to_pcpu[cpu]->pc_curthread) still exist: they are listed, the
// crashed one first, and Warnings says they were on no readable list.
func TestZeroedFirstProc(t *testing.T) {
	f := fixture{"fp", "assert", "full"}
	tg := open(t, f, target.Options{})
	good, err := tg.Threads()
	if err != nil {
		t.Fatal(err)
	}
	head, _ := tg.Kernel.Addr("allproc")
	first, err := tg.ReadU64(head)
	if err != nil {
		t.Fatal(err)
	}
	pa, err := tg.Translate(first &^ 0xfff)
	if err != nil {
		t.Fatal(err)
	}
	core, kernel := f.paths(t)
	bad := testfixture.PatchELFCore(t, core, pa, make([]byte, 4096))
	btg, err := target.Open(bad, kernel, target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer btg.Close()
	ths, err := btg.Threads()
	if err != nil {
		t.Fatalf("Threads: %v", err)
	}
	running := 0
	for _, th := range good {
		if th.CPU >= 0 {
			running++
		}
	}
	if len(ths) == 0 || !ths[0].Crashed || ths[0].TID != good[0].TID || len(ths) > running {
		t.Fatalf("%d threads, first %+v; want the %d running ones, crashed tid %d first", len(ths), ths, running, good[0].TID)
	}
	// The crashed thread's process is that first process, in the zeroed
	// page: its pid and name read as the zeros the dump now holds.
	if ths[0].PID != 0 || ths[0].Comm != "" || ths[0].Regs.Empty() {
		t.Errorf("crashed thread: pid %d %q, registers known %v; want pid 0 \"\" from the zeroed proc, registers from dumppcb", ths[0].PID, ths[0].Comm, !ths[0].Regs.Empty())
	}
	warned := false
	for _, w := range btg.Warnings() {
		warned = warned || strings.Contains(w, "is on no process list")
	}
	if !warned {
		t.Errorf("Warnings() = %q, want one saying the running threads were on no list", btg.Warnings())
	}
}
