package arm64

import "testing"

// Register numbers of the DWARF for the Arm 64-bit Architecture ABI; names
// as LLDB shows them (its FreeBSD kernel test names x29 "fp").
func TestRegisters(t *testing.T) {
	for _, tc := range []struct {
		name string
		num  int
	}{{"x0", 0}, {"x18", 18}, {"x28", 28}, {"fp", 29}, {"x29", 29}, {"lr", 30}, {"x30", 30}, {"sp", 31}, {"pc", 32}} {
		if n, ok := Arch.RegNumber(tc.name); !ok || n != tc.num {
			t.Errorf("RegNumber(%s) = %d, %v; want %d", tc.name, n, ok, tc.num)
		}
	}
	if Arch.RegName(29) != "fp" || Arch.RegName(30) != "lr" || len(Arch.Regs) != NumRegs {
		t.Errorf("RegName(29) %q, RegName(30) %q, %d registers", Arch.RegName(29), Arch.RegName(30), len(Arch.Regs))
	}
}

// Encodings worked out by hand from the A64 instruction set manual.
func TestDecode(t *testing.T) {
	const pc = 0xffff000000400000
	for _, tc := range []struct {
		word   uint32
		text   string
		ref    uint64
		branch bool
	}{
		// bl pc+0x100: 100101 imm26=0x40
		{0x94000040, "bl 0xffff000000400100", pc + 0x100, true},
		// b pc-8: 000101 imm26=-2
		{0x17fffffe, "b 0xffff0000003ffff8", pc - 8, true},
		// adrp x0: immhi=1, immlo=0, so imm = immhi<<2|immlo = 4 pages
		{0x90000020, "adrp x0, 0xffff000000404000", pc + 0x4000, false},
		// ret (x30)
		{0xd65f03c0, "ret", 0, false},
		// stp x29, x30, [sp, #-16]! (the decoder prints no space after the comma)
		{0xa9bf7bfd, "stp x29, x30, [sp,#-16]!", 0, false},
	} {
		code := []byte{byte(tc.word), byte(tc.word >> 8), byte(tc.word >> 16), byte(tc.word >> 24)}
		in, err := Arch.Decode(code, pc, "")
		if err != nil {
			t.Errorf("%#08x: %v", tc.word, err)
			continue
		}
		if in.Len != 4 || in.Text != tc.text {
			t.Errorf("%#08x: %q (len %d), want %q", tc.word, in.Text, in.Len, tc.text)
		}
		if tc.ref != 0 && (len(in.Refs) != 1 || in.Refs[0].Addr != tc.ref || in.Refs[0].Branch != tc.branch) {
			t.Errorf("%#08x: refs %+v, want %#x branch %v", tc.word, in.Refs, tc.ref, tc.branch)
		}
	}
	if _, err := Arch.Decode([]byte{1, 2}, pc, ""); err == nil {
		t.Error("2 bytes decoded")
	}
}
