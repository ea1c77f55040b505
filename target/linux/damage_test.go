package linux

import (
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/target"
)

// A task list that loops before returning to its head (the second
// process's tasks.next pointing back at the first) no longer makes the
// whole dump unusable: the tasks read before the loop and every CPU's
// running task (the crashed one among them) are listed, and Warnings
// says where the list broke.
func TestDamagedTaskList(t *testing.T) {
	for _, dir := range fixtureDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			tg := openTarget(t, dir, "vmcore.elf")
			good, err := tg.Threads()
			if err != nil {
				t.Fatal(err)
			}
			var crashed *target.Thread
			for _, th := range good {
				if th.Crashed {
					crashed = th
				}
			}
			if crashed == nil {
				t.Fatal("the undamaged dump has no crashed task")
			}
			off, err := tg.Kernel.MemberOffset("struct task_struct", "tasks")
			if err != nil {
				t.Fatal(err)
			}
			init, _ := tg.Kernel.Addr("init_task")
			first, err := tg.ReadU64(init + uint64(off)) // the first process's tasks node
			if err != nil {
				t.Fatal(err)
			}
			second, err := tg.ReadU64(first)
			if err != nil {
				t.Fatal(err)
			}
			pa, err := tg.Translate(second)
			if err != nil {
				t.Fatal(err)
			}
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], first)
			bad := testfixture.PatchELFCore(t, filepath.Join(dir, "vmcore.elf"), pa, b[:])
			btg, err := target.Open(bad, filepath.Join(dir, "vmlinux"), target.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer btg.Close()
			ths, err := btg.Threads()
			if err != nil {
				t.Fatalf("Threads: %v, want the tasks that can be read", err)
			}
			if len(ths) == 0 || len(ths) >= len(good) || !ths[0].Crashed || ths[0].Addr != crashed.Addr {
				t.Errorf("%d tasks (undamaged: %d), first %+v; want fewer, the crashed task %#x first", len(ths), len(good), ths[0], crashed.Addr)
			}
			warned := false
			for _, w := range btg.Warnings() {
				warned = warned || strings.Contains(w, "init_task.tasks") && strings.Contains(w, "loops back")
			}
			if !warned {
				t.Errorf("Warnings() = %q, want the broken init_task.tasks", btg.Warnings())
			}
		})
	}
}
