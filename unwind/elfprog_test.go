package unwind

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/go-delve/delve/pkg/dwarf/frame"

	"github.com/kdap/kdap/target/arch/amd64"
)

// elfProg gives the tests Symbolizer, Inliner and CFI views of a small ELF
// executable, using only the standard library's ELF and DWARF readers.
type elfProg struct {
	funcs   []elfFunc
	text    [][2]uint64
	inlined []inlRange
	lines   []lineRow
	fdes    frame.FrameDescriptionEntries
	cfiName string
}

type elfFunc struct {
	name       string
	start, end uint64
}

type inlRange struct {
	lo, hi   uint64
	depth    int
	name     string
	callFile string
	callLine int
}

type lineRow struct {
	addr uint64
	file string
	line int
	end  bool
}

func loadELFProg(t testing.TB, path string) *elfProg {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := &elfProg{}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Size > 0 {
			p.funcs = append(p.funcs, elfFunc{s.Name, s.Value, s.Value + s.Size})
		}
	}
	sort.Slice(p.funcs, func(i, j int) bool { return p.funcs[i].start < p.funcs[j].start })
	for _, pr := range f.Progs {
		if pr.Type == elf.PT_LOAD && pr.Flags&elf.PF_X != 0 {
			p.text = append(p.text, [2]uint64{pr.Vaddr, pr.Vaddr + pr.Memsz})
		}
	}
	if s := f.Section(".debug_frame"); s != nil {
		data, err := s.Data()
		if err != nil {
			t.Fatal(err)
		}
		p.fdes, err = frame.Parse(data, binary.LittleEndian, 0, 8, 0)
		if err != nil {
			t.Fatal(err)
		}
		p.cfiName = ".debug_frame"
	} else if s := f.Section(".eh_frame"); s != nil {
		data, err := s.Data()
		if err != nil {
			t.Fatal(err)
		}
		p.fdes, err = frame.Parse(data, binary.LittleEndian, 0, 8, s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		p.cfiName = ".eh_frame"
	}
	d, err := f.DWARF()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.loadDWARF(d); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *elfProg) loadDWARF(d *dwarf.Data) error {
	r := d.Reader()
	for {
		cu, err := r.Next()
		if err != nil {
			return err
		}
		if cu == nil {
			break
		}
		if cu.Tag != dwarf.TagCompileUnit {
			r.SkipChildren()
			continue
		}
		lr, err := d.LineReader(cu)
		if err != nil {
			return err
		}
		var files []*dwarf.LineFile
		if lr != nil {
			files = lr.Files()
			var le dwarf.LineEntry
			for lr.Next(&le) == nil {
				name := ""
				if le.File != nil {
					name = filepath.Base(le.File.Name)
				}
				p.lines = append(p.lines, lineRow{le.Address, name, le.Line, le.EndSequence})
			}
		}
		depth := 0
		for {
			e, err := r.Next()
			if err != nil {
				return err
			}
			if e == nil || e.Tag == 0 {
				if depth == 0 {
					break
				}
				depth--
				continue
			}
			if e.Tag == dwarf.TagInlinedSubroutine {
				ranges, err := d.Ranges(e)
				if err != nil {
					return err
				}
				name, err := originName(d, e)
				if err != nil {
					return err
				}
				cf := ""
				if i, ok := e.Val(dwarf.AttrCallFile).(int64); ok && int(i) < len(files) && files[i] != nil {
					cf = filepath.Base(files[i].Name)
				}
				cl, _ := e.Val(dwarf.AttrCallLine).(int64)
				for _, rg := range ranges {
					p.inlined = append(p.inlined, inlRange{rg[0], rg[1], depth, name, cf, int(cl)})
				}
			}
			if e.Children {
				depth++
			}
		}
	}
	sort.SliceStable(p.lines, func(i, j int) bool { return p.lines[i].addr < p.lines[j].addr })
	return nil
}

func originName(d *dwarf.Data, e *dwarf.Entry) (string, error) {
	for range 4 {
		if n, ok := e.Val(dwarf.AttrName).(string); ok {
			return n, nil
		}
		off, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
		if !ok {
			return "", errors.New("inlined subroutine without a name")
		}
		r := d.Reader()
		r.Seek(off)
		var err error
		if e, err = r.Next(); err != nil {
			return "", err
		}
	}
	return "", errors.New("abstract origin chain too long")
}

func (p *elfProg) FuncForPC(pc uint64) (string, uint64, bool) {
	i := sort.Search(len(p.funcs), func(i int) bool { return p.funcs[i].start > pc }) - 1
	if i >= 0 && pc < p.funcs[i].end {
		return p.funcs[i].name, p.funcs[i].start, true
	}
	return "", 0, false
}

func (p *elfProg) InText(pc uint64) bool {
	for _, r := range p.text {
		if pc >= r[0] && pc < r[1] {
			return true
		}
	}
	return false
}

func (p *elfProg) InlinedAt(pc uint64) ([]InlinedCall, error) {
	var hits []inlRange
	for _, r := range p.inlined {
		if pc >= r.lo && pc < r.hi {
			hits = append(hits, r)
		}
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].depth > hits[j].depth })
	var out []InlinedCall
	for _, h := range hits {
		out = append(out, InlinedCall{h.name, h.callFile, h.callLine})
	}
	return out, nil
}

func (p *elfProg) LineForPC(pc uint64) (string, int, bool) {
	i := sort.Search(len(p.lines), func(i int) bool { return p.lines[i].addr > pc }) - 1
	// Of several rows at the same address the last one describes it.
	if i < 0 || p.lines[i].end {
		return "", 0, false
	}
	return p.lines[i].file, p.lines[i].line, true
}

// snapshot is a stack photograph written by testdata/sigstack/prog.c.
type snapshot struct {
	regs    Regs
	gregOff [17]uint64
	lo      uint64
	stack   []byte
}

func loadSnapshot(t testing.TB, path string) *snapshot {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := parseSnapshot(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

func parseSnapshot(b []byte) (*snapshot, error) {
	const head = 8 + 8 + 17*8*2 + 16
	if len(b) < head || string(b[:8]) != "KDAPSNAP" {
		return nil, errors.New("not a KDAPSNAP snapshot")
	}
	u := func(i int) uint64 { return binary.LittleEndian.Uint64(b[8+8*i:]) }
	if u(0) != 17 {
		return nil, fmt.Errorf("snapshot holds %d registers, want 17", u(0))
	}
	s := &snapshot{}
	for i := range 17 {
		s.regs.Set(i, u(1+i))
		s.gregOff[i] = u(18 + i)
	}
	s.lo = u(35)
	n := u(36)
	if n != uint64(len(b)-head) {
		return nil, fmt.Errorf("snapshot says %d stack bytes, file holds %d", n, len(b)-head)
	}
	s.stack = b[head:]
	return s, nil
}

func (s *snapshot) hi() uint64 { return s.lo + uint64(len(s.stack)) }

func (s *snapshot) ReadVirt(b []byte, va uint64) error {
	if va < s.lo || va-s.lo > uint64(len(s.stack)) || uint64(len(b)) > uint64(len(s.stack))-(va-s.lo) {
		return fmt.Errorf("address %#x+%d outside the captured stack [%#x, %#x)", va, len(b), s.lo, s.hi())
	}
	copy(b, s.stack[va-s.lo:])
	return nil
}

// sigOS treats the signal restorer as a trap entry whose frame is the
// kernel's ucontext_t, as a kernel's OS model treats its trap entries.
type sigOS struct {
	snap *snapshot
}

func (o sigOS) IsTrapEntry(fn string, _ uint64) bool { return fn == "__restore_rt" }
func (o sigOS) IsStackEnd(fn string, _ uint64) bool  { return fn == "_start" }

func (o sigOS) TrapFrame(f *Frame, mem Memory) (Regs, string, bool, error) {
	var regs Regs
	var b [8]byte
	for i, off := range o.snap.gregOff {
		if err := mem.ReadVirt(b[:], f.SP+off); err != nil {
			return Regs{}, "", false, err
		}
		regs.Set(i, binary.LittleEndian.Uint64(b[:]))
	}
	pc, _ := regs.Get(amd64.RIP)
	sp, _ := regs.Get(amd64.RSP)
	bp, _ := regs.Get(amd64.RBP)
	return regs, fmt.Sprintf("--- signal, rip = %#x, rsp = %#x, rbp = %#x ---", pc, sp, bp), true, nil
}

// gdbFrame is one frame of the backtrace gdb printed for the same run.
type gdbFrame struct {
	Function string            `json:"function"`
	Kind     string            `json:"kind"`
	PC       uint64            `json:"pc"`
	File     string            `json:"file"`
	Line     int               `json:"line"`
	Regs     map[string]uint64 `json:"regs"`
}

func loadGDB(t testing.TB, path string) []gdbFrame {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fs []gdbFrame
	if err := json.Unmarshal(b, &fs); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return fs
}

// sigFixture is one build of the sigstack program with its snapshot.
type sigFixture struct {
	prog *elfProg
	snap *snapshot
	gdb  []gdbFrame
}

func loadSigFixture(t testing.TB, variant string) *sigFixture {
	t.Helper()
	dir := filepath.Join("testdata", "sigstack")
	return &sigFixture{
		prog: loadELFProg(t, filepath.Join(dir, variant)),
		snap: loadSnapshot(t, filepath.Join(dir, variant+".snap")),
		gdb:  loadGDB(t, filepath.Join(dir, variant+".snap.gdb.json")),
	}
}

func (fx *sigFixture) unwinder(t testing.TB, cfi CFI) *Unwinder {
	t.Helper()
	u, err := New(Config{Arch: amd64.Arch, Memory: fx.snap, CFI: cfi, Symbolizer: fx.prog, Inliner: fx.prog, OS: sigOS{fx.snap}})
	if err != nil {
		t.Fatal(err)
	}
	return u
}
