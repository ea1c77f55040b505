package linux

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/arch/x86/x86asm"

	"github.com/kdap/kdap/internal/refcheck"
	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/target"
	"github.com/kdap/kdap/target/arch/amd64"
	"github.com/kdap/kdap/target/symbols"
	"github.com/kdap/kdap/unwind"
	"github.com/kdap/kdap/unwind/orc"
)

// koFile opens the fixture's copy of a module's .ko from the unpacked
// kernel package (init.sh loaded that very file), decompressing a .ko.zst;
// it skips when there is none.
func koFile(t *testing.T, dir, name string) *elf.File {
	t.Helper()
	root := filepath.Join(dir, "work", "img", "lib", "modules")
	var paths []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), name+".ko") {
			paths = append(paths, p)
		}
		return nil
	})
	if len(paths) == 0 {
		testfixture.Missing(t, name+".ko under "+root, "sh testdata/linux/mkfixture.sh (it keeps the kernel package unpacked in work/img)")
	}
	p := paths[0]
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case strings.HasSuffix(p, ".ko"):
	case strings.HasSuffix(p, ".ko.zst"):
		zr, err := zstd.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		data, err = io.ReadAll(zr)
		zr.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	default:
		// Not an absence: the module is there, compressed in a way this
		// test does not unpack (Debian 6.1's are plain .ko).
		t.Skipf("%s: compression not read by this test", p)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return f
}

// fixtureModule opens the fixture's kdump file and returns its only
// loaded module, qemu_fw_cfg (init.sh's insmod).
func fixtureModule(t *testing.T, dir string) (*target.Target, *kernel, *loadedModule) {
	t.Helper()
	tg := openTarget(t, dir, "vmcore.kdump")
	k := tg.OS.(*kernel)
	mods, err := k.loadedModules()
	if err != nil || len(mods) != 1 || mods[0].Name != "qemu_fw_cfg" {
		t.Fatalf("modules %v, %v; want only qemu_fw_cfg", mods, err)
	}
	return tg, k, mods[0]
}

// TestFixtureModuleSymbols reads qemu_fw_cfg's symbols from its kallsyms
// in the dump and checks them against the .ko file's own symbol table:
// every name is there with the same size and kind, every function of the
// module's core text is found, and functions of one section lie as far
// apart in memory as in the file.
func TestFixtureModuleSymbols(t *testing.T) {
	for _, dir := range fixtureDirs(t) {
		tg, k, m := fixtureModule(t, dir)
		if len(m.Text) != 1 || m.Text[0][0] != m.Base || m.Text[0][1] <= m.Base || m.Text[0][1] > m.Base+m.Size {
			t.Errorf("text ranges %#x: want only the core text, within [%#x, %#x)", m.Text, m.Base, m.Base+m.Size)
		}
		tab, err := k.moduleSymbols(m)
		if err != nil {
			t.Fatal(err)
		}
		ko := koFile(t, dir, m.Name)
		kosyms, err := ko.Symbols()
		if err != nil {
			t.Fatal(err)
		}
		type koSym struct {
			elf.Symbol
			sec string
		}
		byName := map[string][]koSym{}
		for _, s := range kosyms {
			sec := ""
			if int(s.Section) < len(ko.Sections) {
				sec = ko.Sections[s.Section].Name
			}
			byName[s.Name] = append(byName[s.Name], koSym{s, sec})
		}
		got := map[string]symbols.Symbol{}
		for s := range tab.All() {
			got[s.Name] = s
			cands := byName[s.Name]
			if len(cands) == 0 {
				t.Errorf("kallsyms has %s, the .ko has no such symbol", s.Name)
				continue
			}
			match := false
			for _, c := range cands {
				kind := symbols.Other
				switch elf.ST_TYPE(c.Info) {
				case elf.STT_FUNC:
					kind = symbols.Func
				case elf.STT_OBJECT:
					kind = symbols.Object
				}
				match = match || c.Size == s.Size && kind == s.Kind
			}
			if !match {
				t.Errorf("kallsyms %s: %d bytes, %v; the .ko has %+v", s.Name, s.Size, s.Kind, cands)
			}
			if s.Kind == symbols.Func && !m.InText(s.Addr) {
				t.Errorf("function %s at %#x is outside the module's text %#x", s.Name, s.Addr, m.Text)
			}
		}
		// Every function of the .ko's core sections (not .init.*) is in
		// kallsyms; one section's functions keep their distances.
		var base = map[string][2]uint64{} // section -> file value, memory address of its first function seen
		nfunc := 0
		for _, s := range kosyms {
			if elf.ST_TYPE(s.Info) != elf.STT_FUNC || s.Section >= elf.SectionIndex(len(ko.Sections)) {
				continue
			}
			sec := ko.Sections[s.Section].Name
			g, ok := got[s.Name]
			if strings.HasPrefix(sec, ".init") {
				if ok && m.InText(g.Addr) {
					t.Errorf("init function %s at %#x is still in the text", s.Name, g.Addr)
				}
				continue
			}
			nfunc++
			if !ok {
				t.Errorf("the .ko's function %s (%s) is not in kallsyms", s.Name, sec)
				continue
			}
			b, seen := base[sec]
			if !seen {
				base[sec] = [2]uint64{s.Value, g.Addr}
				continue
			}
			if g.Addr-b[1] != s.Value-b[0] {
				t.Errorf("%s at %#x: %#x from its section's first function in memory, %#x in the .ko", s.Name, g.Addr, g.Addr-b[1], s.Value-b[0])
			}
		}
		t.Logf("%s: %d kallsyms symbols, %d core functions in the .ko, text %#x", m.Name, tab.Len(), nfunc, m.Text)
		if nfunc < 10 {
			t.Errorf("only %d core functions in the .ko", nfunc)
		}
		// The target names an address inside a module function.
		probe := got["fw_cfg_sysfs_probe"]
		sym, off, ok := tg.SymbolAt(probe.Addr + 0x10)
		if !ok || sym.Name != "fw_cfg_sysfs_probe" || sym.Module != "qemu_fw_cfg" || off != 0x10 ||
			sym.Display() != "fw_cfg_sysfs_probe [qemu_fw_cfg]" || !tg.InText(probe.Addr) {
			t.Errorf("SymbolAt(%#x) = %+v+%#x, %v; InText %v", probe.Addr+0x10, sym, off, ok, tg.InText(probe.Addr))
		}
		// A kernel address keeps its kernel name.
		if a, ok := tg.Kernel.Addr("panic"); ok {
			if sym, _, ok := tg.SymbolAt(a); !ok || sym.Name != "panic" || sym.Module != "" {
				t.Errorf("SymbolAt(panic) = %+v, %v", sym, ok)
			}
		}
		t.Run("crash", func(t *testing.T) { compareCrashSym(t, dir, "fw_cfg_sysfs_probe", probe.Addr) })
	}
}

// compareCrashSym compares a module symbol's address with crash's
// `sym NAME` on the ELF dump (crash reads the module's kallsyms itself).
func compareCrashSym(t *testing.T, dir, name string, addr uint64) {
	tl, err := refcheck.Find("crash")
	if err != nil {
		testfixture.Missing(t, "crash (Debian trixie's, at "+tl.Path+")", "sh "+tl.Fetch+" (or set KDAP_CRASH)")
	}
	env, err := refcheck.Env(dir)
	if err != nil {
		t.Fatal(err)
	}
	if env["VMCORE_ELF_SHA256"] == "" || env["VMLINUX_SHA256"] == "" {
		testfixture.Missing(t, "checksums in "+dir+"/fixture.env", "sh testdata/linux/mkfixture.sh (it rewrites fixture.env)")
	}
	out, err := tl.Run([]string{"-s", filepath.Join(dir, "vmlinux"), filepath.Join(dir, "vmcore.elf")},
		"sym "+name+"\nquit\n", []string{env["VMCORE_ELF_SHA256"], env["VMLINUX_SHA256"]}, 10*time.Minute)
	if err != nil {
		t.Fatalf("crash: %v", err)
	}
	// "ffffffffc057e450 (t) fw_cfg_sysfs_probe [qemu_fw_cfg]"
	re := regexp.MustCompile(`(?m)^([0-9a-f]{16}) \(\w\) ` + regexp.QuoteMeta(name) + ` \[(\w+)\]`)
	mm := re.FindStringSubmatch(out)
	if mm == nil {
		t.Fatalf("crash's sym %s printed no module symbol line: %q", name, out)
	}
	want, _ := strconv.ParseUint(mm[1], 16, 64)
	if want != addr || mm[2] != "qemu_fw_cfg" {
		t.Errorf("crash: %s at %#x in [%s]; kdap: %#x", name, want, mm[2], addr)
	}
}

// TestFixtureModuleORC reads qemu_fw_cfg's ORC table from the dump: it
// decodes, is sorted, and covers the module's functions.
func TestFixtureModuleORC(t *testing.T) {
	for _, dir := range fixtureDirs(t) {
		_, k, m := fixtureModule(t, dir)
		kst, _, err := k.stepper()
		if err != nil {
			t.Fatal(err)
		}
		st, err := k.moduleORC(m, kst)
		if err != nil {
			t.Fatal(err)
		}
		tab := st.Table
		if tab.Len() < 16 {
			t.Fatalf("%d ORC entries", tab.Len())
		}
		var prev uint64
		inText := 0
		for i := 0; i < tab.Len(); i++ {
			e, err := tab.Entry(i)
			if err != nil {
				t.Fatal(err)
			}
			if e.PC < prev {
				t.Fatalf("entry %d at %#x is below entry %d at %#x", i, e.PC, i-1, prev)
			}
			prev = e.PC
			if m.InText(e.PC) {
				inText++
			}
		}
		t.Logf("%s: %d ORC entries, %d in its core text %#x", m.Name, tab.Len(), inText, m.Text)
		syms, _ := k.moduleSymbols(m)
		for s := range syms.All() {
			if s.Kind != symbols.Func || !m.InText(s.Addr) || strings.Contains(s.Name, ".cold") {
				continue // GCC's .cold parts run in their parent's frame
			}
			// At a function's first instruction the return address is
			// the top of the stack: a call frame whose CFA is rsp+8.
			e, err := tab.Lookup(s.Addr)
			if err != nil || e.Type != orc.TypeCall || e.SPReg != orc.RegSP || e.SPOffset != 8 {
				t.Errorf("function %s at %#x: ORC entry %+v, %v; want a call frame at sp+8", s.Name, s.Addr, e, err)
			}
		}
	}
}

// overlay is the target's memory with a synthetic stack on top.
type overlay struct {
	fakeMem
	under memReader
}

func (o overlay) ReadVirt(b []byte, va uint64) error {
	if _, ok := o.fakeMem[va&^4095]; ok {
		return o.fakeMem.ReadVirt(b, va)
	}
	return o.under.ReadVirt(b, va)
}

// TestFixtureModuleStep unwinds out of qemu_fw_cfg's code on a synthetic
// stack (the fixture's backtraces never enter module code). The
// expected frame sizes come from decoding the function's code in address
// order: each push before the first call adds 8 bytes, a sub of rsp its
// immediate.
// At each instruction of the prologue, and at the return address of its
// first call, the step must find the planted return address at the CFA.
func TestFixtureModuleStep(t *testing.T) {
	for _, dir := range fixtureDirs(t) {
		tg, k, m := fixtureModule(t, dir)
		fi, err := k.FrameInfo()
		if err != nil || fi == nil {
			t.Fatalf("FrameInfo: %v, %v", fi, err)
		}
		tab, err := k.moduleSymbols(m)
		if err != nil {
			t.Fatal(err)
		}
		probe, ok := tab.Lookup("fw_cfg_sysfs_probe")
		if !ok {
			t.Fatal("no fw_cfg_sysfs_probe in the module's symbols")
		}
		code := make([]byte, 128)
		if err := tg.ReadVirt(code, probe.Addr); err != nil {
			t.Fatal(err)
		}
		caller, _ := tg.Kernel.Addr("really_probe") // any kernel text address
		const rsp = 0xffffc90000123f00
		type point struct {
			pc     uint64
			exact  bool // the frame's own pc, not a return address
			offset uint64
		}
		var points []point
		depth := uint64(8)
		for off := 0; off < len(code); {
			inst, err := x86asm.Decode(code[off:], 64)
			if err != nil {
				t.Fatalf("decoding at %#x: %v", probe.Addr+uint64(off), err)
			}
			pc := probe.Addr + uint64(off)
			points = append(points, point{pc, true, depth})
			off += inst.Len
			if inst.Op == x86asm.CALL {
				points = append(points, point{probe.Addr + uint64(off), false, depth})
				break
			}
			switch {
			case inst.Op == x86asm.PUSH:
				depth += 8
			case inst.Op == x86asm.SUB && inst.Args[0] == x86asm.RSP:
				imm, ok := inst.Args[1].(x86asm.Imm)
				if !ok {
					t.Fatalf("%v at %#x", inst, pc)
				}
				depth += uint64(imm)
			case writesRSP(inst) || inst.Op == x86asm.JMP:
				// A conditional branch falls through with the same rsp
				// (objtool checks that every path agrees); these do not.
				t.Fatalf("prologue instruction %v at %#x is not modelled by this test", inst, pc)
			}
		}
		if len(points) < 3 || points[len(points)-1].exact {
			t.Fatalf("no call in the first %d bytes of fw_cfg_sysfs_probe", len(code))
		}
		for _, p := range points {
			stack := fakeMem{}
			var ra [8]byte
			binary.LittleEndian.PutUint64(ra[:], caller+5)
			stack.write(rsp, make([]byte, 8)) // the stack page exists
			stack.write(rsp+p.offset-8, ra[:])
			f := &unwind.Frame{PC: p.pc, LookupPC: p.pc}
			if !p.exact {
				f.LookupPC = p.pc - 1
			}
			f.Regs.Set(amd64.RIP, p.pc)
			f.Regs.Set(amd64.RSP, rsp)
			f.Regs.Set(amd64.RBP, 0x1234)
			st, err := fi.Step(f, overlay{stack, tg})
			if err != nil {
				t.Fatalf("step at %#x: %v", p.pc, err)
			}
			gotRIP, _ := st.Regs.Get(amd64.RIP)
			gotRSP, _ := st.Regs.Get(amd64.RSP)
			if st.Kind != unwind.StepCall || st.CFA != rsp+p.offset || gotRIP != caller+5 || gotRSP != rsp+p.offset {
				t.Errorf("step at %#x (rsp+%d): %+v; want a call with the return address %#x at the CFA %#x", p.pc, p.offset, st, caller+5, rsp+p.offset)
			}
		}
		t.Logf("stepped out of fw_cfg_sysfs_probe at %d points, frames of %d to %d bytes", len(points), points[0].offset, points[len(points)-1].offset)
	}
}

// writesRSP reports whether inst changes rsp (other than a push).
func writesRSP(inst x86asm.Inst) bool {
	if r, ok := inst.Args[0].(x86asm.Reg); ok && (r == x86asm.RSP || r == x86asm.ESP || r == x86asm.SP) {
		return true
	}
	return inst.Op == x86asm.POP || inst.Op == x86asm.RET || inst.Op == x86asm.LEAVE || inst.Op == x86asm.ENTER
}
