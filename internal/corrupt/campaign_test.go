//go:build linux

package corrupt

import (
	"bytes"
	"compress/zlib"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/target"
	_ "github.com/kdap/kdap/target/all"
	"github.com/kdap/kdap/target/core/elfcore"
	"github.com/kdap/kdap/target/core/fbsdmini"
)

// Bounds every run of a verb must keep.
const (
	timeBound = 10 * time.Second
	memBound  = 256 << 20 // peak RSS, bytes; Linux cases get 1.5× their undamaged run
)

// verbRun is one command run's outcome.
type verbRun struct {
	name           string
	exit           int
	stdout, stderr string
	rss            int64
	took           time.Duration
	timedOut       bool
}

// buildKdap builds the kdap binary once for the campaign.
func buildKdap(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kdap")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/kdap/kdap/cmd/kdap")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runVerb runs kdap with args under the time bound and measures its peak
// memory.
func runVerb(bin string, args ...string) verbRun {
	ctx, cancel := context.WithTimeout(context.Background(), timeBound)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := verbRun{name: strings.Join(args, " "), stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	// The files' paths differ between a case and its fixture: compare
	// outputs without them.
	for _, a := range args {
		if filepath.IsAbs(a) {
			r.stdout = strings.ReplaceAll(r.stdout, a, "FILE")
			r.stderr = strings.ReplaceAll(r.stderr, a, "FILE")
		}
	}
	r.timedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
	if cmd.ProcessState != nil {
		r.exit = cmd.ProcessState.ExitCode()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.rss = ru.Maxrss * 1024 // kilobytes on Linux
		}
	} else if err != nil {
		r.exit = -1
	}
	return r
}

// verbsFor returns the command lines run on each case: every terminal
// verb that reads a dump; for a large fixture (whose every run costs the
// opening of a large kernel) info and bt -a, which read what the others do.
func verbsFor(c Case, f fixture) [][]string {
	if f.big {
		return [][]string{{"info", c.Core, c.Kernel}, {"bt", "-a", c.Core, c.Kernel}}
	}
	return [][]string{
		{"info", c.Core, c.Kernel},
		{"threads", c.Core, c.Kernel},
		{"bt", "-a", c.Core, c.Kernel},
		{"read", c.Core, c.Kernel, f.sym, "16"},
		{"eval", c.Core, c.Kernel, f.sym},
	}
}

// defect says what is wrong with a run, or "" when it behaved: no panic,
// in time, in memory, and never a silent shorter output.
func defect(r, base verbRun, bound int64) string {
	switch {
	case r.timedOut:
		return fmt.Sprintf("hang: killed after %s", timeBound)
	case goCrash.MatchString(r.stderr):
		return "crash: " + goCrash.FindString(r.stderr)
	case r.rss > bound:
		return fmt.Sprintf("peak memory %d MiB, bound %d MiB", r.rss>>20, bound>>20)
	case r.exit == 0 && len(r.stdout) < len(base.stdout) && !warns(r):
		return fmt.Sprintf("exit 0 with %d bytes of output (undamaged: %d) and no warning", len(r.stdout), len(base.stdout))
	case r.exit != 0 && strings.TrimSpace(r.stderr) == "":
		return fmt.Sprintf("exit %d with no message", r.exit)
	}
	return ""
}

// goCrash matches what the Go runtime prints when a program panics or
// dies: "panic: …" or "fatal error: …" at the start of a line.
var goCrash = regexp.MustCompile(`(?m)^(panic|fatal error): .*$`)

func warns(r verbRun) bool {
	s := r.stdout + r.stderr
	return strings.Contains(s, "warning:") || strings.Contains(s, "Warning:") || strings.Contains(s, "Error:")
}

// fixture is one undamaged dump the campaign derives cases from.
type fixture struct {
	name, core, kernel, sym string
	bound                   int64
	big                     bool // a dump or kernel over 16 MiB
}

// TestCampaign derives damaged inputs from every fixture present (the
// repository's FreeBSD dumps always; LLDB's real FreeBSD dumps and the
// Linux dump when fetched) and runs every verb over each.
func TestCampaign(t *testing.T) {
	if testing.Short() {
		t.Skip("the campaign runs some thousand commands; not in -short")
	}
	bin := buildKdap(t)
	dir := t.TempDir()
	var fixtures []fixture
	fbsdKernel := testfixture.Path(t, "fbsdkern/fixtures/fp/kernel.debug")
	for _, kind := range []string{"mini", "full"} {
		fixtures = append(fixtures, fixture{name: "fbsdkern-" + kind, core: testfixture.Path(t, "fbsdkern/fixtures/fp/assert/vmcore."+kind), kernel: fbsdKernel, sym: "hz", bound: memBound})
	}
	for _, d := range []struct{ core, kernel string }{
		{"vmcore-amd64-full", "kernel-amd64"}, {"vmcore-amd64-minidump", "kernel-amd64"},
		{"vmcore-arm64-minidump", "kernel-arm64"}, {"vmcore-i386-minidump", "kernel-i386"},
	} {
		fixtures = append(fixtures, fixture{name: "lldb-" + d.core, core: testfixture.FreeBSDLLDB(t, d.core), kernel: testfixture.FreeBSDLLDB(t, d.kernel), sym: "hz", bound: memBound})
	}
	for _, ld := range testfixture.LinuxDirs(t) {
		fixtures = append(fixtures, fixture{name: "linux-" + filepath.Base(ld), core: filepath.Join(ld, "vmcore.kdump"), kernel: filepath.Join(ld, "vmlinux"), sym: "jiffies_64"})
	}

	for i, f := range fixtures {
		for _, p := range []string{f.core, f.kernel} {
			if st, err := os.Stat(p); err == nil && st.Size() > 16<<20 {
				fixtures[i].big = true
			}
		}
	}
	var cases []Case
	base := map[string]map[string]verbRun{} // fixture → verb → run
	for _, f := range fixtures {
		sub := filepath.Join(dir, f.name)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		cs, err := derive(f, sub)
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		t.Logf("%s: %d cases made in %s", f.name, len(cs), time.Since(start).Round(time.Millisecond))
		cases = append(cases, cs...)
		base[f.name] = map[string]verbRun{}
		for _, args := range verbsFor(Case{Core: f.core, Kernel: f.kernel}, f) {
			r := runVerb(bin, args...)
			if r.exit != 0 {
				t.Fatalf("undamaged %s: kdap %s: exit %d: %s", f.name, args[0], r.exit, r.stderr)
			}
			base[f.name][args[0]] = r
		}
	}
	spDir := filepath.Join(dir, "special")
	if err := os.MkdirAll(spDir, 0o755); err != nil {
		t.Fatal(err)
	}
	sp, err := Special(spDir)
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range sp {
		cases = append(cases,
			Case{Name: name + " as the dump", Core: p, Kernel: fbsdKernel, Base: "fbsdkern-mini"},
			Case{Name: name + " as the kernel", Core: fixtures[0].core, Kernel: p, Base: "fbsdkern-mini"})
	}

	byName := map[string]fixture{}
	for _, f := range fixtures {
		byName[f.name] = f
	}
	type result struct {
		c      Case
		runs   []verbRun
		faults []string
	}
	results := make([]result, len(cases))
	runStart := time.Now()
	defer func() { t.Logf("runs took %s", time.Since(runStart).Round(time.Millisecond)) }()
	var wg sync.WaitGroup
	next := make(chan int)
	for range 2 * max(2, runtime.NumCPU()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c := cases[i]
				f := byName[c.Base]
				res := result{c: c}
				for _, args := range verbsFor(c, f) {
					r := runVerb(bin, args...)
					bound := f.bound
					if bound == 0 {
						bound = max(memBound, base[c.Base][args[0]].rss*3/2)
					}
					if d := defect(r, base[c.Base][args[0]], bound); d != "" {
						res.faults = append(res.faults, fmt.Sprintf("kdap %s: %s", args[0], d))
					}
					res.runs = append(res.runs, r)
				}
				results[i] = res
			}
		}()
	}
	for i := range cases {
		next <- i
	}
	close(next)
	wg.Wait()

	runs, defective := 0, 0
	var peak verbRun
	var slowest verbRun
	slowCase, peakCase := "", ""
	for _, res := range results {
		runs += len(res.runs)
		if len(res.faults) > 0 {
			defective++
			for _, f := range res.faults {
				t.Errorf("%s: %s", res.c.Name, f)
			}
		}
		for _, r := range res.runs {
			if r.rss > peak.rss {
				peak, peakCase = r, res.c.Name
			}
			if r.took > slowest.took {
				slowest, slowCase = r, res.c.Name
			}
		}
	}
	t.Logf("campaign: %d cases from %d fixtures, %d runs; %d clean, %d defective; peak RSS %d MiB (%s: kdap %s); slowest %s (%s: kdap %s)",
		len(cases), len(fixtures), runs, len(cases)-defective, defective, peak.rss>>20, peakCase, verbOf(peak), slowest.took.Round(time.Millisecond), slowCase, verbOf(slowest))
}

func verbOf(r verbRun) string {
	v, _, _ := strings.Cut(r.name, " ")
	return v
}

// derive makes the damaged cases of one fixture in dir.
func derive(f fixture, dir string) ([]Case, error) {
	st, err := os.Stat(f.core)
	if err != nil {
		return nil, err
	}
	size := st.Size()
	var cases []Case
	n := 0
	big := size > 16<<20 // such dumps are copied whole once only
	add := func(name, kernel string, cut int64, patches ...Patch) error {
		n++
		p := filepath.Join(dir, fmt.Sprintf("case%03d", n))
		var err error
		if big && cut < 0 && len(patches) > 0 {
			name += " (first MiB kept, the rest a hole)"
			err = WriteHead(p, f.core, 1<<20, patches...)
		} else {
			err = Write(p, f.core, cut, patches...)
		}
		if err != nil {
			return err
		}
		cases = append(cases, Case{Name: f.name + ": " + name, Core: p, Kernel: kernel, Base: f.name})
		return nil
	}
	bounds, fields, err := layout(f.core)
	if err != nil {
		return nil, err
	}
	cuts := Truncations(size, bounds...)
	if big {
		// The structure boundaries in the first MiB, and the middle.
		cuts = []int64{size / 2}
		for _, b := range bounds {
			if b < 1<<20 {
				cuts = append(cuts, b)
			}
		}
	}
	for _, c := range cuts {
		if err := add(fmt.Sprintf("cut at %#x of %#x", c, size), f.kernel, c); err != nil {
			return nil, err
		}
	}
	for _, fl := range fields {
		vals := Extremes
		if big {
			vals = []uint64{0, 0xffffffff}
		}
		for _, v := range vals {
			b := U64(v)[:fl.size]
			if err := add(fmt.Sprintf("%s (file offset %#x) = %#x", fl.name, fl.off, v), f.kernel, -1, Patch{fl.off, b}); err != nil {
				return nil, err
			}
		}
	}
	if !big {
		ps, err := listPatches(f)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if err := add(p.name, f.kernel, -1, p.patches...); err != nil {
				return nil, err
			}
		}
	}
	if bomb, ok, err := kdumpBomb(f.core, size); err != nil {
		return nil, err
	} else if ok {
		if err := add("page descriptors pointing at a zlib bomb (8 KiB that inflate to 8 MiB)", f.kernel, -1, bomb...); err != nil {
			return nil, err
		}
	}
	ks, err := kernelCases(f, dir)
	if err != nil {
		return nil, err
	}
	return append(cases, ks...), nil
}

// field is a header field to set to extreme values.
type field struct {
	name string
	off  int64
	size int
}

// layout returns a dump's structure boundaries (for truncations) and its
// header fields, by format.
func layout(path string) ([]int64, []field, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer fh.Close()
	head := make([]byte, 64)
	if _, err := fh.ReadAt(head, 0); err != nil {
		return nil, nil, err
	}
	st, _ := fh.Stat()
	switch {
	case bytes.HasPrefix(head, []byte("minidump FreeBSD/")):
		d, err := fbsdmini.Open(fileOf{fh, st.Size()})
		if err != nil {
			return nil, nil, err
		}
		h := d.Header()
		page := func(n uint64) int64 { return int64((n + 4095) &^ 4095) }
		b := []int64{64, 4096}
		off := int64(4096) + page(uint64(h.MsgBufSize))
		b = append(b, off)
		off += page(uint64(h.DumpAvailSize))
		b = append(b, off)
		off += page(uint64(h.BitmapSize))
		b = append(b, off)
		off += page(uint64(h.PmapSize))
		b = append(b, off, off+4096)
		fs := []field{{"version", 24, 4}, {"msgbufsize", 28, 4}, {"bitmapsize", 32, 4}, {"pmapsize", 36, 4}, {"header word 0x28", 40, 8}, {"header word 0x30", 48, 8}, {"header word 0x38", 56, 8}, {"header word 0x40", 64, 4}}
		return b, fs, nil
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		d, err := elfcore.Open(fileOf{fh, st.Size()})
		if err != nil {
			return nil, nil, err
		}
		b := []int64{16, 52, 64}
		for _, s := range d.Segments() {
			b = append(b, int64(s.Off), int64(s.Off+s.FileSz/2))
		}
		fs := []field{{"e_phoff", 32, 8}, {"e_phentsize", 54, 2}, {"e_phnum", 56, 2}}
		phoff := int64(64) // ELF64 cores of these fixtures
		for i := int64(0); i < 2; i++ {
			p := phoff + 56*i
			fs = append(fs, field{fmt.Sprintf("phdr %d p_offset", i), p + 8, 8}, field{fmt.Sprintf("phdr %d p_paddr", i), p + 24, 8},
				field{fmt.Sprintf("phdr %d p_filesz", i), p + 32, 8}, field{fmt.Sprintf("phdr %d p_memsz", i), p + 40, 8})
		}
		return b, fs, nil
	case bytes.HasPrefix(head, []byte("KDUMP   ")):
		names := []string{"status", "block_size", "sub_hdr_size", "bitmap_blocks", "max_mapnr", "total_ram_blocks", "device_blocks", "written_blocks", "current_cpu", "nr_cpus"}
		var fs []field
		for i, n := range names {
			fs = append(fs, field{n, 424 + 4*int64(i), 4})
		}
		for i, n := range []string{"phys_base", "dump_level", "split", "start_pfn", "end_pfn", "offset_vmcoreinfo", "size_vmcoreinfo", "offset_note", "size_note"} {
			sz := 8
			off := int64(4096)
			switch {
			case i == 0:
			case i <= 2:
				off += 8 + 4*int64(i-1)
				sz = 4
			default:
				off += 16 + 8*int64(i-3)
			}
			fs = append(fs, field{"sub-header " + n, off, sz})
		}
		return []int64{464, 4096, 8192, 3 * 4096}, fs, nil
	}
	return nil, nil, fmt.Errorf("%s: no layout known for this format", path)
}

// kdumpBomb returns, for a kdump-compressed file, the patches that append
// a zlib stream of 8 KiB inflating to 8 MiB (the most a page descriptor
// may claim is two pages) and point the first 4096 page descriptors at it.
func kdumpBomb(path string, size int64) ([]Patch, bool, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer fh.Close()
	var h [464]byte
	if _, err := fh.ReadAt(h[:], 0); err != nil || !bytes.HasPrefix(h[:], []byte("KDUMP   ")) {
		return nil, false, nil
	}
	le := binary.LittleEndian
	bs := int64(le.Uint32(h[428:]))
	sub := int64(le.Uint32(h[432:]))
	bitmap := int64(le.Uint32(h[436:]))
	descOff := (1 + sub + bitmap) * bs
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	zw.Write(make([]byte, 8<<20))
	zw.Close()
	if z.Len() > int(2*bs) {
		return nil, false, fmt.Errorf("zlib bomb of %d bytes exceeds two %d-byte pages", z.Len(), bs)
	}
	descs := make([]byte, 0, 4096*24)
	for i := 0; i < 4096; i++ {
		descs = le.AppendUint64(descs, uint64(size))    // offset: the bomb
		descs = le.AppendUint32(descs, uint32(z.Len())) // size
		descs = le.AppendUint32(descs, 1)               // DUMP_DH_COMPRESSED_ZLIB
		descs = le.AppendUint64(descs, 0)               // page_flags
	}
	return []Patch{{descOff, descs}, {size, z.Bytes()}}, true, nil
}

// fileOf adapts an *os.File to core.File.
type fileOf struct {
	*os.File
	size int64
}

func (f fileOf) Size() int64 { return f.size }

// namedPatches is a damage made of several writes.
type namedPatches struct {
	name    string
	patches []Patch
}

// listPatches damages the kernel's lists in a FreeBSD fixture: zeroed
// pages under allproc, the first process, a thread, dumppcb and the
// message buffer; a cyclic and a wild p_list; a zeroed and a
// self-referencing top-level page table (full dumps).
func listPatches(f fixture) ([]namedPatches, error) {
	tg, err := target.Open(f.core, f.kernel, target.Options{})
	if err != nil {
		return nil, err
	}
	defer tg.Close()
	ths, err := tg.Threads()
	if err != nil || len(ths) < 2 {
		return nil, fmt.Errorf("%s: threads: %v", f.name, err)
	}
	off := func(va uint64) (int64, error) { return fileOffset(f.core, tg, va) }
	var out []namedPatches
	zeroPage := func(name string, va uint64) {
		if o, err := off(va &^ 0xfff); err == nil {
			out = append(out, namedPatches{"zeroed page of " + name, []Patch{{o, make([]byte, 4096)}}})
		}
	}
	head, _ := tg.Kernel.Addr("allproc")
	first, _ := tg.ReadU64(head)
	zeroPage("allproc", head)
	zeroPage("the first process", first)
	zeroPage("a thread", ths[len(ths)-1].Addr)
	if a, ok := tg.Kernel.Addr("dumppcb"); ok {
		zeroPage("dumppcb", a)
	}
	if mp, err := tg.SymbolPtr("msgbufp"); err == nil {
		zeroPage("the message buffer header", mp)
	}
	if pl, err := tg.Kernel.MemberOffset("struct proc", "p_list"); err == nil {
		if o, err := off(first + uint64(pl)); err == nil {
			out = append(out,
				namedPatches{"p_list of the first process points to itself", []Patch{{o, U64(first)}}},
				namedPatches{"p_list of the first process is wild", []Patch{{o, U64(0xfffff8001f000000)}}},
				namedPatches{"p_list of the first process is unmapped", []Patch{{o, U64(0xfffffe0012340000)}}})
		}
	}
	if tp, err := tg.Kernel.MemberOffset("struct thread", "td_pcb"); err == nil {
		th := ths[len(ths)-1]
		if o, err := off(th.Addr + uint64(tp)); err == nil {
			out = append(out, namedPatches{"a thread's td_pcb is NULL", []Patch{{o, U64(0)}}},
				namedPatches{"a thread's td_pcb is wild", []Patch{{o, U64(0xdeadbeefdeadb000)}}})
		}
	}
	if kp, ok := tg.Kernel.Addr("KPML4phys"); ok && strings.HasPrefix(tg.Dump.Format(), "ELF") {
		if root, err := tg.ReadU64(kp); err == nil {
			if o, err := physOffset(f.core, root); err == nil {
				loop := make([]byte, 4096)
				for i := 0; i < 512; i++ {
					copy(loop[8*i:], U64(root|0x3)) // every entry points back at the table
				}
				out = append(out, namedPatches{"zeroed top-level page table", []Patch{{o, make([]byte, 4096)}}},
					namedPatches{"top-level page table pointing at itself", []Patch{{o, loop}}})
			}
		}
	}
	return out, nil
}

// fileOffset finds where the byte at kernel virtual address va lies in
// the dump file.
func fileOffset(path string, tg *target.Target, va uint64) (int64, error) {
	pa, err := tg.Translate(va)
	if err != nil {
		return 0, err
	}
	if strings.HasPrefix(tg.Dump.Format(), "ELF") {
		return physOffset(path, pa)
	}
	fh, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	st, _ := fh.Stat()
	d, err := fbsdmini.Open(fileOf{fh, st.Size()})
	if err != nil {
		return 0, err
	}
	return d.FileOffset(pa)
}

// physOffset finds the file offset of physical address pa in an ELF core.
func physOffset(path string, pa uint64) (int64, error) {
	fh, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	st, _ := fh.Stat()
	d, err := elfcore.Open(fileOf{fh, st.Size()})
	if err != nil {
		return 0, err
	}
	for _, s := range d.Segments() {
		if pa >= s.PAddr && pa < s.PAddr+s.FileSz {
			return int64(s.Off + pa - s.PAddr), nil
		}
	}
	return 0, fmt.Errorf("physical %#x is in no segment", pa)
}

// kernelCases damages the kernel file: cut at its section boundaries,
// its DWARF and symbol tables overwritten, and the other build's kernel.
func kernelCases(f fixture, dir string) ([]Case, error) {
	ef, err := elf.Open(f.kernel)
	if err != nil {
		return nil, err
	}
	defer ef.Close()
	st, err := os.Stat(f.kernel)
	if err != nil {
		return nil, err
	}
	var cases []Case
	n := 0
	add := func(name string, cut int64, patches ...Patch) error {
		n++
		p := filepath.Join(dir, fmt.Sprintf("kernel%03d", n))
		if err := Write(p, f.kernel, cut, patches...); err != nil {
			return err
		}
		cases = append(cases, Case{Name: f.name + ": kernel " + name, Core: f.core, Kernel: p, Base: f.name})
		return nil
	}
	// A large kernel (a 590 MB vmlinux) is copied only where a cut keeps
	// its first megabyte: its ELF header and first sections.
	limit := st.Size()
	if limit > 64<<20 {
		limit = 1 << 20
	}
	var bounds []int64
	for _, s := range ef.Sections {
		if s.Type == elf.SHT_NOBITS || s.Size == 0 {
			continue
		}
		bounds = append(bounds, int64(s.Offset), int64(s.Offset+s.Size/2))
	}
	sort.Slice(bounds, func(i, j int) bool { return bounds[i] < bounds[j] })
	for _, c := range Truncations(limit, bounds...) {
		if err := add(fmt.Sprintf("cut at %#x of %#x", c, st.Size()), c); err != nil {
			return nil, err
		}
	}
	if limit < st.Size() {
		return cases, nil
	}
	for _, name := range []string{".debug_info", ".debug_abbrev", ".debug_line", ".debug_str", ".debug_frame", ".eh_frame", ".symtab", ".strtab", ".debug_rnglists", ".debug_loclists"} {
		s := ef.Section(name)
		if s == nil || s.Type == elf.SHT_NOBITS || s.Size == 0 {
			continue
		}
		junk := make([]byte, min(s.Size, 4096))
		for i := range junk {
			junk[i] = byte(i*7 + 0xa5)
		}
		if err := add(name+" overwritten", -1, Patch{int64(s.Offset), junk}); err != nil {
			return nil, err
		}
		if err := add(name+" zeroed", -1, Patch{int64(s.Offset), make([]byte, min(s.Size, 64<<10))}); err != nil {
			return nil, err
		}
	}
	// The kernel of the other build (nofp) with this dump: refused.
	if strings.HasPrefix(f.name, "fbsdkern") {
		other, err := testfixture.Find("fbsdkern/fixtures/nofp/kernel.debug")
		if err == nil {
			cases = append(cases, Case{Name: f.name + ": the other build's kernel", Core: f.core, Kernel: other, Base: f.name})
		}
	}
	return cases, nil
}
