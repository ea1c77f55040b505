package orc

import (
	"debug/elf"
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/target/arch/amd64"
	"github.com/kdap/kdap/unwind"
)

// fixtureVmlinux returns the vmlinux of a Linux dump fixture, or skips.
func fixtureVmlinux(t testing.TB) string {
	for _, dir := range testfixture.LinuxDirs(t) {
		if ks, _ := filepath.Glob(filepath.Join(dir, "vmlinux*")); len(ks) > 0 {
			return ks[0]
		}
	}
	testfixture.Missing(t, "vmlinux in the Linux dump fixtures", testfixture.LinuxGet)
	return ""
}

// TestVmlinuxTable opens the ORC table of the Debian 6.1 vmlinux: the
// sections are read only on the first lookup, the table is sorted, and
// every entry decodes to a known type with the 6.1 layout.
func TestVmlinuxTable(t *testing.T) {
	f, err := elf.Open(fixtureVmlinux(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tab, err := OpenELF(f, LayoutV1)
	if err != nil {
		t.Fatal(err)
	}
	ipSec := f.Section(".orc_unwind_ip")
	if tab.Len() != int(ipSec.Size/4) || tab.Loaded() {
		t.Fatalf("Len %d (want %d), loaded at open %v", tab.Len(), ipSec.Size/4, tab.Loaded())
	}
	text := f.Section(".text")
	counts := map[Type]int{}
	var prev uint64
	for i := 0; i < tab.Len(); i++ {
		e, err := tab.Entry(i)
		if err != nil {
			t.Fatal(err)
		}
		if e.PC < prev {
			t.Fatalf("entry %d at %#x precedes entry %d at %#x: the table is not sorted", i, e.PC, i-1, prev)
		}
		prev = e.PC
		counts[e.Type]++
	}
	t.Logf("%d entries: %v", tab.Len(), counts)
	if counts[TypeCall] < tab.Len()/2 || counts[TypeRegs] == 0 || counts[TypeRegsPartial] == 0 || counts[TypeEndOfStack] == 0 {
		t.Errorf("type counts %v: want mostly calls and some of each other type", counts)
	}
	// Every function of .text starts with CFA = rsp+8 (the return address
	// alone on the stack): look one up by its symbol.
	syms, _ := f.Symbols()
	checked := 0
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) != elf.STT_FUNC || s.Value < text.Addr || s.Value >= text.Addr+text.Size || s.Name != "vfs_write" && s.Name != "ksys_write" {
			continue
		}
		e, err := tab.Lookup(s.Value)
		if err != nil {
			t.Fatal(err)
		}
		if e.Type != TypeCall || e.SPReg != RegSP || e.SPOffset != 8 {
			t.Errorf("%s at %#x: entry %+v, want call sp+8", s.Name, s.Value, e)
		}
		checked++
	}
	if checked != 2 {
		t.Errorf("checked %d functions, want 2", checked)
	}
}

// FuzzTable decodes arbitrary section contents and steps through them: no
// input may panic or allocate by a size it claims.
func FuzzTable(f *testing.F) {
	ip, ent := encode(f, LayoutV1, []spec{
		{pc: ipBase - 0x1000, spReg: RegSP, spOff: 8, typ: TypeCall},
		{pc: ipBase - 0x800, spReg: RegSPIndirect, typ: TypeCall},
		{pc: ipBase - 0x400, spReg: RegSP, typ: TypeRegs},
		{pc: ipBase - 0x200, typ: TypeEndOfStack},
	})
	f.Add(append(ip, ent...), uint64(ipBase-0x900), uint8(0))
	f.Add(append(ip, ent...), uint64(ipBase-0x300), uint8(2))
	f.Add([]byte{}, uint64(0), uint8(1))
	// Real data: the first entries of the fixture's vmlinux, when present.
	if dirs, _ := filepath.Glob(filepath.Join(testfixture.LinuxRoot(), "*", "vmlinux")); len(dirs) > 0 {
		if ef, err := elf.Open(dirs[0]); err == nil {
			ipSec, entSec := ef.Section(".orc_unwind_ip"), ef.Section(".orc_unwind")
			if ipSec != nil && entSec != nil {
				const n = 64
				a, b := make([]byte, 4*n), make([]byte, 6*n)
				if _, err := ipSec.ReadAt(a, 0); err == nil {
					if _, err := entSec.ReadAt(b, 0); err == nil {
						// The offsets are relative to ipSec.Addr; the
						// fuzz table lies at ipBase.
						for i := 0; i < n; i++ {
							off := uint64(int64(int32(binary.LittleEndian.Uint32(a[4*i:])))) + ipSec.Addr - ipBase
							binary.LittleEndian.PutUint32(a[4*i:], uint32(off))
						}
						first := ipBase + uint64(int64(int32(binary.LittleEndian.Uint32(a))))
						f.Add(append(a, b...), first+0x40, uint8(0))
					}
				}
			}
			ef.Close()
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, pc uint64, sel uint8) {
		l := []Layout{LayoutV1, LayoutV2, LayoutV3}[int(sel)%3]
		n := len(data) / 10
		tab, err := NewTable(ipBase, data[:4*n], data[4*n:10*n], l)
		if err != nil {
			t.Fatal(err) // well-formed sizes must be accepted
		}
		e, err := tab.Lookup(pc)
		if err == nil && e.PC > pc {
			t.Fatalf("Lookup(%#x) returned an entry at %#x", pc, e.PC)
		}
		// Memory is the data itself, mapped at 0x10000.
		mem := newStack(0x10000, nil)
		copy(mem.b, data)
		s := &Stepper{Table: tab, PtRegs: testPtRegs}
		r := rs(amd64.RIP, pc, amd64.RSP, 0x10000+uint64(sel), amd64.RBP, 0x10100, amd64.R10, 0x10200)
		res, err := s.Step(&r, pc, unwind.Memory(mem))
		if err == nil && res.Kind != KindEnd && !res.Regs.Has(amd64.RIP) {
			t.Fatalf("step %+v without a pc", res)
		}
	})
}
