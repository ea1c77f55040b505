package debuginfo

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"math/rand"
	"os"
	"strings"
	"testing"
	"time"
)

// exercise runs the whole API over an ELF file's bytes; errors are fine,
// panics and hangs are not.
func exercise(b []byte) {
	ef, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return
	}
	d, err := Open(ef)
	if err != nil {
		return
	}
	exerciseData(d)
}

// exerciseData runs the whole API of d on tiny.elf's names and pcs.
func exerciseData(d *Data) {
	for _, name := range []string{"struct node", "node_t", "struct flags", "int"} {
		if ty, err := d.Type(name); err == nil {
			d.Member(ty, "n_list.le_next")
			d.Member(ty, "f_neg")
			_ = ty.String()
		}
	}
	d.Variable("root_node")
	d.Enumerator("BLUE")
	d.FrameTable()
	for _, pc := range []uint64{0x401000, 0x401004, 0x401010, 0x401050, 0x401080} {
		if fn, err := d.FuncAt(pc); err == nil {
			vars, _ := d.Vars(fn.Offset, pc)
			for _, v := range vars {
				d.LocationAt(v, pc)
			}
		}
		d.LineAt(pc)
		d.InlineChain(pc)
		d.FDEFor(pc)
	}
	d.PCsForLine("tiny.c", 60)
}

func FuzzDebugInfo(f *testing.F) {
	data, err := os.ReadFile(tinyELF)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Fuzz(func(t *testing.T, b []byte) { exercise(b) })
}

// TestMutations runs exercise over deterministic corruptions of the debug
// sections of tiny.elf, each within a time limit. It complements
// FuzzDebugInfo, whose coverage-guided runs are slow on a busy machine; it
// found an endless null-entry scan, a line header that made debug/dwarf
// loop, and a struct that was its own anonymous member.
func TestMutations(t *testing.T) {
	b0, err := os.ReadFile(tinyELF)
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.NewFile(bytes.NewReader(b0))
	if err != nil {
		t.Fatal(err)
	}
	// The mutated span: from the first to the end of the last debug or
	// CFI section.
	var lo, hi uint64
	for _, s := range ef.Sections {
		if strings.HasPrefix(s.Name, ".debug") || s.Name == ".eh_frame" {
			if lo == 0 || s.Offset < lo {
				lo = s.Offset
			}
			hi = max(hi, s.Offset+s.Size)
		}
	}
	r := rand.New(rand.NewSource(1))
	for it := range 3000 {
		b := bytes.Clone(b0)
		for range 1 + r.Intn(4) {
			i := int(lo) + r.Intn(int(hi-lo)-8)
			switch r.Intn(3) {
			case 0:
				b[i] = byte(r.Intn(256))
			case 1:
				binary.LittleEndian.PutUint64(b[i:], r.Uint64()>>uint(r.Intn(64)))
			case 2:
				binary.LittleEndian.PutUint32(b[i:], uint32(r.Intn(1<<16)))
			}
		}
		done := make(chan any, 1)
		go func() {
			defer func() { done <- recover() }()
			exercise(b)
		}()
		select {
		case p := <-done:
			if p != nil {
				t.Fatalf("mutation %d: panic: %v", it, p)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("mutation %d: no answer within 10s", it)
		}
	}
}
