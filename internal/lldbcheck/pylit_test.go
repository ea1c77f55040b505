package lldbcheck

import (
	"reflect"
	"testing"
)

// A made-up test file in the shape of LLDB's.
const sample = `
class T:
    def do_test(self, kernel_yaml, vmcore_bz2, numthread, threads={}, hz=250):
        pass

    def test_one(self):
        self.do_test("kernel-x.yaml", "vmcore-x.bz2",
                     numthread=3,
                     threads={
                         2: {"name": "(pid 7) a/b (on CPU 1)",
                             # a comment
                             "bt": [0x10, 0x2_0,
                                    ],
                             "regs": {"rip": "0x0000000000000010", 'rsp': "0x20"},
                             },
                     })

    def test_two(self):
        self.do_test("k2.yaml", "v2.bz2", hz=1000, numthread=1)
`

func TestParse(t *testing.T) {
	cs, err := Parse(sample)
	if err != nil {
		t.Fatal(err)
	}
	want := []Case{
		{Test: "test_one", Kernel: "kernel-x.yaml", Vmcore: "vmcore-x.bz2", NumThreads: 3, HZ: 250,
			Threads: map[int]Thread{2: {Name: "(pid 7) a/b (on CPU 1)", BT: []uint64{0x10, 0x20}, Regs: map[string]uint64{"rip": 0x10, "rsp": 0x20}}}},
		{Test: "test_two", Kernel: "k2.yaml", Vmcore: "v2.bz2", NumThreads: 1, HZ: 1000},
	}
	if !reflect.DeepEqual(cs, want) {
		t.Errorf("Parse:\n got %+v\nwant %+v", cs, want)
	}
}

func TestParseErrors(t *testing.T) {
	for _, src := range []string{
		"nothing here",
		`self.do_test("k", numthread=1)`,
		`self.do_test("k", "v", numthread="x")`,
		`self.do_test("k", "v", threads={0: {"name": "n"}})`,
		`self.do_test("k", "v", threads={0: {"name": "n", "bt": [1], "regs": {"rip": "zz"}}})`,
		`self.do_test("k", "v", numthread=1`,
	} {
		if _, err := Parse(src); err == nil {
			t.Errorf("Parse(%q) succeeded", src)
		}
	}
}

// FuzzParse: any text parses or fails with an error, never a panic or a
// hang.
func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Add(`self.do_test("k", "v", threads={0: {"name": "n", "bt": [1], "regs": {"r": "0x1"}}})`)
	f.Fuzz(func(t *testing.T, src string) {
		cs, err := Parse(src)
		if err == nil && len(cs) == 0 {
			t.Fatal("no cases and no error")
		}
	})
}
