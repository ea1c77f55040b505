package i386

import "testing"

// Numbers of the System V i386 psABI's DWARF register mapping.
func TestRegisters(t *testing.T) {
	for _, tc := range []struct {
		name string
		num  int
	}{{"eax", 0}, {"ecx", 1}, {"edx", 2}, {"ebx", 3}, {"esp", 4}, {"ebp", 5}, {"esi", 6}, {"edi", 7}, {"eip", 8}, {"pc", 8}, {"sp", 4}} {
		if n, ok := Arch.RegNumber(tc.name); !ok || n != tc.num {
			t.Errorf("RegNumber(%s) = %d, %v; want %d", tc.name, n, ok, tc.num)
		}
	}
	if Arch.PtrSize != 4 || len(Arch.Regs) != NumRegs {
		t.Errorf("pointer size %d, %d registers", Arch.PtrSize, len(Arch.Regs))
	}
}

// 32-bit decoding: a call's target wraps at 4 GB, as the CPU computes it.
func TestDecode(t *testing.T) {
	// call rel32 from 0xfffffff0 (5 bytes) + 0x20 → 0x00000015
	in, err := Arch.Decode([]byte{0xe8, 0x20, 0, 0, 0}, 0xfffffff0, "")
	if err != nil || in.Len != 5 || len(in.Refs) != 1 || in.Refs[0].Addr != 0x15 || !in.Refs[0].Branch {
		t.Errorf("call: %+v, %v; want a 5-byte call to 0x15", in, err)
	}
	// push %ebp; in 64-bit mode 0x55 would be push %rbp.
	in, err = Arch.Decode([]byte{0x55}, 0x1000, "")
	if err != nil || in.Text != "push %ebp" {
		t.Errorf("push: %q, %v", in.Text, err)
	}
	in, err = Arch.Decode([]byte{0x55}, 0x1000, "intel")
	if err != nil || in.Text != "push ebp" {
		t.Errorf("push (intel): %q, %v", in.Text, err)
	}
}
