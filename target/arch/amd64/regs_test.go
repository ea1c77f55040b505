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
		if n, ok := Number(tc.name); !ok || n != tc.num {
			t.Errorf("Number(%q) = %d, %v; want %d", tc.name, n, ok, tc.num)
		}
		if got := Name(tc.num); got != tc.name {
			t.Errorf("Name(%d) = %q, want %q", tc.num, got, tc.name)
		}
	}
	if _, ok := Number("eax"); ok {
		t.Error("Number(eax) found a register")
	}
	if Name(17) != "" || Name(-1) != "" {
		t.Error("Name outside 0..16 is not empty")
	}
}

func TestNamesCoverEveryRegisterOnce(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range Names {
		if _, ok := Number(n); !ok || seen[n] {
			t.Errorf("Names has %q twice or unknown", n)
		}
		seen[n] = true
	}
	if len(seen) != NumRegs {
		t.Errorf("Names lists %d registers, want %d", len(seen), NumRegs)
	}
}

func TestRegs(t *testing.T) {
	var r Regs
	if _, ok := r.Get(RIP); ok {
		t.Fatal("zero Regs has rip")
	}
	r.Set(RIP, 0xffffffff80201234)
	r.Set(RSP, 0xfffffe0012345678)
	r.Set(17, 1) // ignored
	r.Set(-1, 1) // ignored
	if v, ok := r.PC(); !ok || v != 0xffffffff80201234 {
		t.Errorf("PC = %#x, %v", v, ok)
	}
	if v, ok := r.SP(); !ok || v != 0xfffffe0012345678 {
		t.Errorf("SP = %#x, %v", v, ok)
	}
	if r.Valid != 1<<16|1<<7 {
		t.Errorf("Valid = %#b, want bits 7 and 16", r.Valid)
	}
	r.Clear(RSP)
	if _, ok := r.Get(RSP); ok {
		t.Error("rsp still valid after Clear")
	}
}
