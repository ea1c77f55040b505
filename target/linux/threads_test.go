package linux

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestWalkList(t *testing.T) {
	tests := []struct {
		name string
		next map[uint64]uint64 // node → its next pointer; 0x100 is the head
		max  int
		want []uint64
		err  string
	}{
		{"empty", map[uint64]uint64{0x100: 0x100}, 10, nil, ""},
		{"three", map[uint64]uint64{0x100: 0x10, 0x10: 0x20, 0x20: 0x30, 0x30: 0x100}, 10, []uint64{0x10, 0x20, 0x30}, ""},
		{"loop without the head", map[uint64]uint64{0x100: 0x10, 0x10: 0x20, 0x20: 0x10}, 10, nil, "loops back to 0x10"},
		{"too long", map[uint64]uint64{0x100: 0x10, 0x10: 0x20, 0x20: 0x30, 0x30: 0x100}, 1, nil, "more than 1 entries"},
		{"unreadable node", map[uint64]uint64{0x100: 0x10, 0x10: 0x20}, 10, nil, "reading list node 0x20"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			read := func(va uint64) (uint64, error) {
				v, ok := tt.next[va]
				if !ok {
					return 0, fmt.Errorf("no memory at %#x", va)
				}
				return v, nil
			}
			var got []uint64
			err := walkList(read, 0x100, tt.max, func(n uint64) error { got = append(got, n); return nil })
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error with %q", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#x, %v; want %#x", got, err, tt.want)
			}
		})
	}
}

func TestTrapNames(t *testing.T) {
	tests := []struct {
		fn           string
		trap, thread bool
	}{
		{"asm_exc_page_fault", true, false},
		{"asm_sysvec_reboot", true, false},
		{"asm_common_interrupt", true, false},
		{"exc_page_fault", false, false},
		{"ret_from_fork", false, true},
		{"panic", false, false},
	}
	var r trapRules
	for _, tt := range tests {
		if got := r.IsTrapEntry(tt.fn); got != tt.trap {
			t.Errorf("IsTrapEntry(%s) = %v", tt.fn, got)
		}
		if got := r.IsThreadEntry(tt.fn); got != tt.thread {
			t.Errorf("IsThreadEntry(%s) = %v", tt.fn, got)
		}
	}
}

func TestCrashedCPU(t *testing.T) {
	names := map[uint64]string{0x10: "native_safe_halt", 0x20: "delay_tsc", 0x30: "crash_nmi_callback", 0x40: "stop_this_cpu"}
	name := func(pc uint64) string { return names[pc] }
	tests := []struct {
		name     string
		panicCPU int32
		pcs      []uint64
		want     int
	}{
		{"panic_cpu set", 1, []uint64{0x20, 0x10}, 1},
		{"panic_cpu invalid, delay loop", -1, []uint64{0x10, 0x20}, 1},
		{"panic_cpu invalid, crash callback", -1, []uint64{0x30, 0x10}, 0},
		{"panic_cpu beyond the notes", 5, []uint64{0x10, 0x20}, 1},
		{"no panic", -1, []uint64{0x10, 0x40}, -1},
	}
	for _, tt := range tests {
		if got := crashedCPU(tt.panicCPU, tt.pcs, name); got != tt.want {
			t.Errorf("%s: crashedCPU = %d, want %d", tt.name, got, tt.want)
		}
	}
}
