package session

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	godap "github.com/google/go-dap"
	"github.com/kdap/kdap/target"
	"github.com/kdap/kdap/target/arch"
	"github.com/kdap/kdap/target/symbols"
	"go.uber.org/zap"
)

// Limits on what one request may ask for.
const (
	maxReadMemory   = 1 << 20
	maxInstructions = 4096
	maxSourceSize   = 16 << 20
	maxBackDecode   = 1 << 20 // bytes decoded from a function start backwards
	maxLoadedSource = 10000
	maxSourceFiles  = 1 << 18
	readChunk       = 4096
)

// parseMemRef parses a memory reference ("0xffffffff80200000").
func parseMemRef(ref string) (uint64, error) {
	v, err := strconv.ParseUint(strings.TrimSpace(ref), 0, 64)
	if err != nil {
		return 0, withID(ErrIDMemory, fmt.Errorf("memoryReference %q: expected an address such as 0xffffffff80200000", ref))
	}
	return v, nil
}

// memTarget returns the opened target and the address a memory reference names.
func (s *Session) memTarget(ref string) (*target.Target, uint64, error) {
	t, err := s.target()
	if err != nil {
		return nil, 0, err
	}
	base, err := parseMemRef(ref)
	return t, base, err
}

// readPartial reads up to len(b) bytes at va, page by page, stopping at the
// first unreadable page; it returns how many bytes were read.
func readPartial(t *target.Target, b []byte, va uint64) int {
	n := 0
	for n < len(b) {
		a := va + uint64(n)
		chunk := min(len(b)-n, readChunk-int(a%readChunk))
		if err := t.ReadVirt(b[n:n+chunk], a); err != nil {
			// The page may be partly readable at a finer grain
			// (a mapping that ends inside it): try bytewise.
			for k := 0; k < chunk; k++ {
				if t.ReadVirt(b[n+k:n+k+1], a+uint64(k)) != nil {
					return n + k
				}
			}
		}
		n += chunk
	}
	return n
}

// readMemory returns memory bytes; unreadable ones are counted, not fatal.
func (s *Session) readMemory(r *godap.Request, a godap.ReadMemoryArguments) (godap.Message, error) {
	t, base, err := s.memTarget(a.MemoryReference)
	if err != nil {
		return nil, err
	}
	if a.Count < 0 || a.Count > maxReadMemory {
		return nil, withID(ErrIDMemory, fmt.Errorf("readMemory: count %d out of range (0..%d)", a.Count, maxReadMemory))
	}
	addr := base + uint64(int64(a.Offset))
	buf := make([]byte, a.Count)
	n := readPartial(t, buf, addr)
	body := godap.ReadMemoryResponseBody{Address: fmt.Sprintf("%#x", addr), Data: base64.StdEncoding.EncodeToString(buf[:n]), UnreadableBytes: a.Count - n}
	return &godap.ReadMemoryResponse{Response: ok(r), Body: body}, nil
}

// decoded is one decoded instruction.
type decoded struct {
	addr uint64
	raw  []byte
	inst arch.Inst
	ok   bool
}

// decodeAt decodes one instruction at addr with the target's
// architecture, in the given syntax flavor.
func decodeAt(t *target.Target, addr uint64, flavor string) decoded {
	a := t.Arch
	buf := make([]byte, a.MaxInstLen)
	n := readPartial(t, buf, addr)
	if n == 0 {
		return decoded{addr: addr}
	}
	inst, err := a.Decode(buf[:n], addr, flavor)
	if err != nil || inst.Len <= 0 || inst.Len > n {
		bad := max(a.MinInstLen, 1)
		return decoded{addr: addr, raw: buf[:min(bad, n):min(bad, n)]}
	}
	return decoded{addr: addr, raw: buf[:inst.Len:inst.Len], inst: inst, ok: true}
}

// maxBackFuncs bounds how many functions a backwards disassembly crosses.
const maxBackFuncs = 64

// instructionsBefore returns the addresses of up to n instructions that end
// at or before addr. x86 cannot be decoded backwards, so it decodes forwards
// from the start of the function holding each stretch, walking to earlier
// functions (across alignment padding) until it has n instructions.
func instructionsBefore(t *target.Target, addr uint64, n int) []uint64 {
	var addrs []uint64
	if a := t.Arch; a.MinInstLen == a.MaxInstLen && a.MinInstLen > 0 {
		// Fixed-length instructions decode backwards by arithmetic.
		step := uint64(a.MinInstLen)
		for i := n; i >= 1; i-- {
			if back := uint64(i) * step; back <= addr {
				addrs = append(addrs, addr-back)
			}
		}
		return addrs
	}
	end := addr
	for range maxBackFuncs {
		start, ok := functionStartBefore(t, end)
		if !ok {
			break
		}
		var seg []uint64
		for pc := start; pc < end; {
			seg = append(seg, pc)
			d := decodeAt(t, pc, "")
			pc += uint64(max(len(d.raw), 1))
		}
		addrs = append(seg, addrs...)
		if len(addrs) >= n || start == 0 {
			break
		}
		end = start
	}
	if len(addrs) > n {
		addrs = addrs[len(addrs)-n:]
	}
	return addrs
}

// functionStartBefore returns the start of the symbol holding the byte just
// below end, looking past up to 64 bytes of unnamed padding.
func functionStartBefore(t *target.Target, end uint64) (uint64, bool) {
	for gap := uint64(1); gap <= 64 && gap <= end; gap++ {
		sym, off, ok := t.SymbolAt(end - gap)
		if !ok {
			continue
		}
		if off > maxBackDecode {
			return 0, false
		}
		return sym.Addr, true
	}
	return 0, false
}

// disassemble decodes the target architecture's instructions around a
// memory reference.
func (s *Session) disassemble(r *godap.Request, a godap.DisassembleArguments) (godap.Message, error) {
	t, base, err := s.memTarget(a.MemoryReference)
	if err != nil {
		return nil, err
	}
	if a.InstructionCount <= 0 || a.InstructionCount > maxInstructions {
		return nil, withID(ErrIDMemory, fmt.Errorf("disassemble: instructionCount %d out of range (1..%d)", a.InstructionCount, maxInstructions))
	}
	if a.InstructionOffset < -maxInstructions || a.InstructionOffset > maxInstructions {
		return nil, withID(ErrIDMemory, fmt.Errorf("disassemble: instructionOffset %d out of range (±%d)", a.InstructionOffset, maxInstructions))
	}
	pc := base + uint64(int64(a.Offset))
	var out []godap.DisassembledInstruction
	skip := a.InstructionOffset
	if skip < 0 {
		back := instructionsBefore(t, pc, -skip)
		// Pad what cannot be decoded backwards so that the caller gets
		// the instruction at pc at index -instructionOffset; the pads
		// take the bytes just below the first decoded instruction.
		first := pc
		if len(back) > 0 {
			first = back[0]
		}
		pad := -skip - len(back)
		for i := range pad {
			out = append(out, godap.DisassembledInstruction{Address: fmt.Sprintf("%#x", first-uint64(pad-i)), Instruction: "??"})
		}
		for _, a := range back {
			out = append(out, s.instruction(t, decodeAt(t, a, s.args.DisassemblyFlavor)))
		}
		skip = 0
	}
	for ; skip > 0; skip-- {
		d := decodeAt(t, pc, s.args.DisassemblyFlavor)
		pc += uint64(max(len(d.raw), 1))
	}
	for len(out) < a.InstructionCount {
		d := decodeAt(t, pc, s.args.DisassemblyFlavor)
		out = append(out, s.instruction(t, d))
		pc += uint64(max(len(d.raw), 1))
	}
	out = out[:a.InstructionCount]
	return &godap.DisassembleResponse{Response: ok(r), Body: godap.DisassembleResponseBody{Instructions: out}}, nil
}

// instruction formats one decoded instruction.
func (s *Session) instruction(t *target.Target, d decoded) godap.DisassembledInstruction {
	di := godap.DisassembledInstruction{Address: fmt.Sprintf("%#x", d.addr), InstructionBytes: hex.EncodeToString(d.raw)}
	if !d.ok {
		di.Instruction = "(bad)"
		if len(d.raw) == 0 {
			di.Instruction = "?? (memory not in the dump)"
		}
		return di
	}
	// Branch targets and pc-relative operands are annotated gdb style:
	// "call 0x… <sym+off>", "# 0x… <sym+off>".
	text := d.inst.Text
	for _, ref := range d.inst.Refs {
		name := symOff(t, ref.Addr)
		switch {
		case name == "":
		case ref.Branch:
			text += " " + name
		default:
			text += fmt.Sprintf("        # %#x %s", ref.Addr, name)
		}
	}
	di.Instruction = text
	if sym, off, ok := t.SymbolAt(d.addr); ok && off == 0 {
		di.Symbol = sym.Name
	}
	if dw, err := t.Kernel.DWARF(); err == nil {
		if file, line, _, err := dw.LineAt(d.addr - t.Kernel.Slide); err == nil && file != "" {
			di.Location = s.sourceFor(file)
			di.Line = line
		}
	}
	return di
}

// symOff names addr as "<sym>" or "<sym+off>" (decimal offset, as gdb
// prints it), or "" when no symbol holds it.
func symOff(t *target.Target, addr uint64) string {
	sym, off, ok := t.SymbolAt(addr)
	if !ok {
		return ""
	}
	if off == 0 {
		return "<" + sym.Name + ">"
	}
	return fmt.Sprintf("<%s+%d>", sym.Name, off)
}

// modules lists the kernel and its loaded modules.
func (s *Session) modules(r *godap.Request) (godap.Message, error) {
	t, err := s.target()
	if err != nil {
		return nil, err
	}
	status := "Symbols loaded"
	if _, err := t.Kernel.DWARF(); err != nil {
		status = "Symbols not found"
		if t.Kernel.Syms.Len() > 0 {
			status = "Symbols loaded (no debug information)"
		}
	}
	m := godap.Module{Id: ModuleID, Name: filepath.Base(t.Kernel.Path), Path: t.Kernel.Path, SymbolStatus: status, SymbolFilePath: t.Kernel.Path}
	if v, err := t.OS.Version(); err == nil {
		m.Version = strings.TrimSpace(strings.SplitN(v, "\n", 2)[0])
	}
	if lo, hi := textRange(t.Kernel.Syms); lo < hi {
		m.AddressRange = fmt.Sprintf("%#x-%#x", lo, hi)
	}
	mods := []godap.Module{m}
	loaded, err := t.Modules()
	if err != nil {
		s.log.Warn("listing loaded modules", zap.Error(err))
	}
	// Modules' symbols come from the dump itself when the OS model reads
	// them; their DWARF (a .ko debug file under modulePaths) is not read.
	modStatus := "Symbols not loaded"
	if _, ok := t.OS.(target.ModuleSymbolizer); ok {
		modStatus = "Symbols loaded from the dump (no debug information)"
	}
	for _, lm := range loaded {
		mods = append(mods, godap.Module{Id: "module:" + lm.Name, Name: lm.Name,
			AddressRange: fmt.Sprintf("%#x-%#x", lm.Base, lm.Base+lm.Size), SymbolStatus: modStatus})
	}
	return &godap.ModulesResponse{Response: ok(r), Body: godap.ModulesResponseBody{Modules: mods, TotalModules: len(mods)}}, nil
}

// textRange returns the address range of the kernel's functions.
func textRange(tab *symbols.Table) (lo, hi uint64) {
	for sym := range tab.All() {
		if sym.Kind != symbols.Func {
			continue
		}
		if lo == 0 || sym.Addr < lo {
			lo = sym.Addr
		}
		hi = max(hi, sym.Addr+sym.Size)
	}
	return lo, hi
}

// sourceFiles returns the source file names of the kernel's line tables
// (at most maxSourceFiles), read once per session.
func (s *Session) sourceFiles(t *target.Target) []string {
	if s.srcFiles != nil {
		return s.srcFiles
	}
	d, err := t.Kernel.DWARF()
	if err != nil {
		s.srcFiles = []string{}
		return s.srcFiles
	}
	seen := map[string]bool{}
	rd := d.DWARF().Reader()
	for len(seen) < maxSourceFiles {
		if s.ctx != nil && s.ctx.Err() != nil {
			// Cancelled: answer with what was found, and read
			// the whole list again next time.
			return sortedKeys(seen)
		}
		e, err := rd.Next()
		if err != nil || e == nil {
			break
		}
		lr, err := d.DWARF().LineReader(e)
		rd.SkipChildren()
		if err != nil || lr == nil {
			continue
		}
		for _, f := range lr.Files() {
			if f != nil && f.Name != "" && len(seen) < maxSourceFiles {
				seen[f.Name] = true
			}
		}
	}
	s.srcFiles = sortedKeys(seen)
	return s.srcFiles
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// loadedSources lists the source files of the kernel's line tables.
func (s *Session) loadedSources(r *godap.Request) (godap.Message, error) {
	t, err := s.target()
	if err != nil {
		return nil, err
	}
	names := s.sourceFiles(t)
	if len(names) > maxLoadedSource {
		names = names[:maxLoadedSource]
	}
	out := make([]godap.Source, len(names))
	for i, n := range names {
		out[i] = *s.sourceFor(n)
	}
	return &godap.LoadedSourcesResponse{Response: ok(r), Body: godap.LoadedSourcesResponseBody{Sources: out}}, nil
}

// source returns the text of a local source file.
func (s *Session) source(r *godap.Request, a godap.SourceArguments) (godap.Message, error) {
	p := ""
	if a.Source != nil {
		p = a.Source.Path
	}
	if p == "" {
		return nil, withID(ErrIDSource, fmt.Errorf("source: no path given (sourceReference %d is not one kdap handed out)", a.SourceReference))
	}
	t, err := s.target()
	if err != nil {
		return nil, err
	}
	local := s.paths.Map(p)
	orig := s.paths.Unmap(local)
	// Only the kernel's own source files are served: a client (over TCP
	// perhaps another machine's) must not read arbitrary local files.
	files := s.sourceFiles(t)
	if k := sort.SearchStrings(files, orig); k == len(files) || files[k] != orig {
		return nil, withID(ErrIDSource, fmt.Errorf("source %s: not a source file of this kernel's debug information", orig))
	}
	st, err := os.Stat(local)
	if err != nil || !st.Mode().IsRegular() {
		return nil, withID(ErrIDSource, fmt.Errorf("source not available: %s (set sourceMap or substitutePath)", orig))
	}
	if st.Size() > maxSourceSize {
		return nil, withID(ErrIDSource, fmt.Errorf("source %s: %d bytes, more than the %d shown", local, st.Size(), maxSourceSize))
	}
	b, err := os.ReadFile(local)
	if err != nil {
		return nil, withID(ErrIDSource, fmt.Errorf("source not available: %s: %w", orig, err))
	}
	return &godap.SourceResponse{Response: ok(r), Body: godap.SourceResponseBody{Content: string(b), MimeType: "text/x-c"}}, nil
}
