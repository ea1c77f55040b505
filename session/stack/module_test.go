package stack_test

import (
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/target/arch"
	"github.com/kdap/kdap/target/arch/amd64"
	"github.com/kdap/kdap/unwind"
)

// TestLinuxModuleFrame unwinds from qemu_fw_cfg's first function on the
// crashed task's real stack (the fixture's backtraces never enter module
// code): starting at the function's entry with rsp pointing at a real
// frame's return address, the first frame is named as crash names module
// functions, and the rest are the real backtrace's frames from that
// return address on.
func TestLinuxModuleFrame(t *testing.T) {
	for _, dir := range testfixture.LinuxDirs(t) {
		tg, u := openLinux(t, dir, "vmcore.kdump")
		th, err := tg.CrashedThread()
		if err != nil || th == nil {
			t.Fatalf("crashed thread: %v", err)
		}
		frames, _ := u.Backtrace(th)
		var phys []unwind.Frame
		for _, f := range frames {
			if f.Kind == unwind.KindNormal {
				phys = append(phys, f)
			}
		}
		if len(phys) < 6 {
			t.Fatalf("crashed task has %d physical frames", len(phys))
		}
		mods, err := tg.Modules()
		if err != nil || len(mods) != 1 || len(mods[0].Text) == 0 {
			t.Fatalf("modules %+v, %v", mods, err)
		}
		entry := mods[0].Text[0][0]
		sym, off, ok := tg.SymbolAt(entry)
		if !ok || off != 0 || sym.Module != mods[0].Name {
			t.Fatalf("no module function at the start of its text: %+v+%#x, %v", sym, off, ok)
		}
		k := 2 // a frame in the middle of the real stack
		fake := *th
		fake.SavedByCall = false
		fake.Regs = arch.Regs{}
		fake.Regs.Set(amd64.RIP, entry)
		fake.Regs.Set(amd64.RSP, phys[k].CFA-8)
		if bp, ok := phys[k].Regs.Get(amd64.RBP); ok {
			fake.Regs.Set(amd64.RBP, bp)
		}
		got, stop := u.Backtrace(&fake)
		var names []string
		for _, f := range got {
			if f.Kind == unwind.KindNormal {
				names = append(names, f.Function)
			}
		}
		want := []string{sym.Name + " [" + mods[0].Name + "]"}
		for _, f := range phys[k+1:] {
			want = append(want, f.Function)
		}
		t.Logf("%v", names)
		if strings.Join(names, " ") != strings.Join(want, " ") {
			t.Errorf("from %s\n got %v\nwant %v (stop %v %q)", sym.Display(), names, want, stop.Kind, stop.Message)
		}
	}
}
