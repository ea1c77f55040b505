package amd64

import "testing"

// The numbers come from the System V x86-64 psABI, figure "DWARF Register
// Number Mapping".
func TestDWARFNumbers(t *testing.T) {
	for _, tc := range []struct {
		name string
		num  int
	}{
		{"rax", 0}, {"rdx", 1}, {"rcx", 2}, {"rbx", 3}, {"rsi", 4}, {"rdi", 5},
		{"rbp", 6}, {"rsp", 7}, {"r8", 8}, {"r9", 9}, {"r10", 10}, {"r11", 11},
		{"r12", 12}, {"r13", 13}, {"r14", 14}, {"r15", 15}, {"rip", 16},
	} {
		if n, ok := Arch.RegNumber(tc.name); !ok || n != tc.num {
			t.Errorf("RegNumber(%q) = %d, %v; want %d", tc.name, n, ok, tc.num)
		}
		if got := Arch.RegName(tc.num); got != tc.name {
			t.Errorf("RegName(%d) = %q, want %q", tc.num, got, tc.name)
		}
	}
	if _, ok := Arch.RegNumber("eax"); ok {
		t.Error("RegNumber(eax) found a register")
	}
	if n, ok := Arch.RegNumber("PC"); !ok || n != RIP {
		t.Errorf("RegNumber(PC) = %d, %v; want rip", n, ok)
	}
}

func TestRegisterTableCoversEveryNumberOnce(t *testing.T) {
	seen := map[int]bool{}
	for _, r := range Arch.Regs {
		if seen[r.DWARF] || r.DWARF < 0 || r.DWARF >= Arch.NumRegs {
			t.Errorf("register %s: DWARF number %d twice or out of range", r.Name, r.DWARF)
		}
		seen[r.DWARF] = true
	}
	if len(seen) != NumRegs {
		t.Errorf("the table lists %d registers, want %d", len(seen), NumRegs)
	}
}

// Instruction bytes with their AT&T text and the targets worked out by hand.
func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		code []byte
		pc   uint64
		text string
		refs []uint64
		ilen int
	}{
		{[]byte{0x55}, 0xffffffff80200000, "push %rbp", nil, 1},
		{[]byte{0xe8, 0x10, 0x00, 0x00, 0x00}, 0xffffffff80200000, "callq 0xffffffff80200015", []uint64{0xffffffff80200015}, 5},
		{[]byte{0x48, 0x8b, 0x05, 0x00, 0x01, 0x00, 0x00}, 0xffffffff80200000, "mov 0x100(%rip),%rax", []uint64{0xffffffff80200107}, 7},
	} {
		in, err := Arch.Decode(tc.code, tc.pc, "")
		if err != nil {
			t.Errorf("% x: %v", tc.code, err)
			continue
		}
		if in.Text != tc.text || in.Len != tc.ilen || len(in.Refs) != len(tc.refs) {
			t.Errorf("% x: %q len %d refs %v; want %q len %d refs %#x", tc.code, in.Text, in.Len, in.Refs, tc.text, tc.ilen, tc.refs)
			continue
		}
		for i, r := range tc.refs {
			if in.Refs[i].Addr != r {
				t.Errorf("% x: ref %d = %#x, want %#x", tc.code, i, in.Refs[i].Addr, r)
			}
		}
	}
	if _, err := Arch.Decode(nil, 0, ""); err == nil {
		t.Error("decoding no bytes succeeded")
	}
}
