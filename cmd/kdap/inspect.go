package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/kdap/kdap/target"
)

func init() {
	register("info", verb{summary: "summarise a dump: format, kernel, panic, crashed thread, messages",
		usage: "info CORE [KERNEL] [--json]", run: runInfo, showsWarnings: true})
	register("threads", verb{summary: "list the kernel threads of a dump",
		usage: "threads CORE [KERNEL] [--json]", run: runThreads})
	register("read", verb{summary: "hex-dump kernel memory at an address or symbol",
		usage: "read CORE [KERNEL] ADDR|SYMBOL[+OFF] LEN [--json]", run: runRead})
}

// openArgs parses "CORE KERNEL rest..." with a --json flag.
func openArgs(name string, args []string, extra int) (*target.Target, []string, bool, error) {
	fs := newFlags(name)
	asJSON := fs.Bool("json", false, "print JSON")
	noDWARF := fs.Bool("no-dwarf", false, "ignore the kernel's DWARF (use its offset symbols)")
	pos, err := parse(fs, args)
	if err != nil {
		return nil, nil, false, err
	}
	if len(pos) < 1+extra || len(pos) > 2+extra {
		return nil, nil, false, fmt.Errorf("%w: expected %d or %d arguments, got %d", errUsage, 1+extra, 2+extra, len(pos))
	}
	t, rest, err := openDump(pos, target.Options{NoDWARF: *noDWARF})
	if err != nil {
		return nil, nil, false, err
	}
	if len(rest) != extra {
		t.Close()
		return nil, nil, false, fmt.Errorf("%w: expected %d arguments after CORE and KERNEL, got %d", errUsage, extra, len(rest))
	}
	return t, rest, *asJSON, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// moduleJSON is a loaded module as --json prints it.
type moduleJSON struct {
	Name string `json:"name"`
	Base string `json:"base"`
	Size uint64 `json:"size"`
	Addr string `json:"addr"`
}

// threadJSON is a thread as --json prints it.
type threadJSON struct {
	ID       int64             `json:"id"`
	TID      int64             `json:"tid"`
	PID      int64             `json:"pid"`
	Comm     string            `json:"comm"`
	Name     string            `json:"name"`
	Display  string            `json:"display"`
	CPU      int               `json:"cpu"`
	Crashed  bool              `json:"crashed,omitempty"`
	Zombie   bool              `json:"zombie,omitempty"`
	Addr     string            `json:"addr"`
	RegsFrom string            `json:"regsFrom"`
	Regs     map[string]string `json:"regs"`
}

func toJSON(t *target.Target, th *target.Thread) threadJSON {
	regs := map[string]string{}
	for _, r := range t.Arch.Regs {
		if v, ok := th.Regs.Get(r.DWARF); ok {
			regs[r.Name] = fmt.Sprintf("%#x", v)
		}
	}
	return threadJSON{ID: th.ID, TID: th.TID, PID: th.PID, Comm: th.Comm, Name: th.Name, Display: th.DisplayName(),
		CPU: th.CPU, Crashed: th.Crashed, Zombie: th.Zombie, Addr: fmt.Sprintf("%#x", th.Addr),
		RegsFrom: th.RegsFrom, Regs: regs}
}

func runInfo(args []string, w io.Writer) error {
	t, _, asJSON, err := openArgs("info", args, 0)
	if err != nil {
		return err
	}
	defer t.Close()
	type field struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	info := struct {
		Core       string       `json:"core"`
		Kernel     string       `json:"kernel"`
		Format     string       `json:"format"`
		Header     []field      `json:"header"`
		OS         string       `json:"os"`
		Version    string       `json:"version"`
		Panic      string       `json:"panic"`
		Crashed    *threadJSON  `json:"crashedThread,omitempty"`
		NumThreads int          `json:"threads"`
		Modules    []moduleJSON `json:"modules"`
		Unread     string       `json:"unreadMessages"`
		Warnings   []string     `json:"warnings,omitempty"`
		Errors     []string     `json:"errors,omitempty"`
	}{Core: t.CorePath, Kernel: t.Kernel.Path, Format: t.Dump.Format(), OS: t.OS.Name()}
	for _, f := range t.Dump.Info() {
		info.Header = append(info.Header, field{f.Name, strings.TrimRight(f.Value, "\n")})
	}
	note := func(what string, err error) {
		info.Errors = append(info.Errors, fmt.Sprintf("%s: %v", what, err))
	}
	if info.Version, err = t.OS.Version(); err != nil {
		note("version", err)
	}
	if info.Panic, err = t.OS.PanicString(); err != nil {
		note("panic string", err)
	}
	if ths, err := t.Threads(); err != nil {
		note("threads", err)
	} else {
		info.NumThreads = len(ths)
		for _, th := range ths {
			if th.Crashed {
				j := toJSON(t, th)
				info.Crashed = &j
			}
		}
	}
	if mods, err := t.Modules(); err != nil {
		note("modules", err)
	} else {
		for _, m := range mods {
			info.Modules = append(info.Modules, moduleJSON{Name: m.Name, Base: fmt.Sprintf("%#x", m.Base), Size: m.Size, Addr: fmt.Sprintf("%#x", m.Addr)})
		}
	}
	if mb, err := t.OS.MessageBuffer(); err != nil {
		note("message buffer", err)
	} else {
		info.Unread = mb.Unread
	}
	info.Warnings = t.Warnings()
	if asJSON {
		return writeJSON(w, info)
	}
	fmt.Fprintf(w, "Dump:     %s\nKernel:   %s\nFormat:   %s\n", info.Core, info.Kernel, info.Format)
	for _, f := range info.Header {
		fmt.Fprintf(w, "  %-16s %s\n", f.Name+":", f.Value)
	}
	fmt.Fprintf(w, "OS:       %s\nVersion:  %s\n", info.OS, strings.ReplaceAll(info.Version, "\n", "\n          "))
	fmt.Fprintf(w, "Panic:    %s\n", info.Panic)
	if info.Crashed != nil {
		fmt.Fprintf(w, "Crashed:  tid %d %s\n", info.Crashed.TID, info.Crashed.Display)
	}
	fmt.Fprintf(w, "Threads:  %d\n", info.NumThreads)
	if len(info.Modules) > 0 {
		fmt.Fprintf(w, "Modules:  %d\n", len(info.Modules))
		for _, m := range info.Modules {
			fmt.Fprintf(w, "  %-20s %s  %d bytes\n", m.Name, m.Base, m.Size)
		}
	}
	for _, e := range info.Warnings {
		fmt.Fprintf(w, "Warning:  %s\n", e)
	}
	for _, e := range info.Errors {
		fmt.Fprintf(w, "Error:    %s\n", e)
	}
	fmt.Fprintf(w, "\nUnread portion of the kernel message buffer:\n%s", info.Unread)
	if !strings.HasSuffix(info.Unread, "\n") {
		fmt.Fprintln(w)
	}
	return nil
}

func runThreads(args []string, w io.Writer) error {
	t, _, asJSON, err := openArgs("threads", args, 0)
	if err != nil {
		return err
	}
	defer t.Close()
	ths, err := t.Threads()
	if err != nil {
		return err
	}
	if asJSON {
		out := make([]threadJSON, len(ths))
		for i, th := range ths {
			out[i] = toJSON(t, th)
		}
		return writeJSON(w, out)
	}
	fmt.Fprintf(w, "  %-7s %-7s %-18s %-6s %-18s %s\n", "ID", "TID", "ADDR", "PID", "PC", "NAME")
	for _, th := range ths {
		mark := " "
		if th.Crashed {
			mark = "*"
		}
		pc, _ := th.Regs.Get(t.Arch.PC)
		fmt.Fprintf(w, "%s %-7d %-7d %#-18x %-6d %-18s %s\n", mark, th.ID, th.TID, th.Addr, th.PID, t.Kernel.Syms.Format(pc), th.DisplayName())
	}
	return nil
}

// resolveAddr accepts a number (0x-prefixed or decimal) or SYMBOL[+OFF].
func resolveAddr(t *target.Target, s string) (uint64, error) {
	if v, err := strconv.ParseUint(s, 0, 64); err == nil {
		return v, nil
	}
	name, offs, hasOff := strings.Cut(s, "+")
	a, ok := t.Kernel.Addr(name)
	if !ok {
		return 0, fmt.Errorf("%q is neither an address nor a kernel symbol", s)
	}
	if hasOff {
		off, err := strconv.ParseUint(offs, 0, 64)
		if err != nil {
			return 0, fmt.Errorf("bad offset in %q: %v", s, err)
		}
		a += off
	}
	return a, nil
}

func runRead(args []string, w io.Writer) error {
	t, rest, asJSON, err := openArgs("read", args, 2)
	if err != nil {
		return err
	}
	defer t.Close()
	addr, err := resolveAddr(t, rest[0])
	if err != nil {
		return err
	}
	n, err := strconv.ParseUint(rest[1], 0, 32)
	if err != nil || n == 0 || n > 1<<20 {
		return fmt.Errorf("%w: LEN must be a number from 1 to 1048576, got %q", errUsage, rest[1])
	}
	b := make([]byte, n)
	if err := t.ReadVirt(b, addr); err != nil {
		return err
	}
	if asJSON {
		return writeJSON(w, struct {
			Addr  string `json:"addr"`
			Bytes string `json:"hex"`
		}{fmt.Sprintf("%#x", addr), fmt.Sprintf("%x", b)})
	}
	hexdump(w, addr, b)
	return nil
}

// hexdump prints 16 bytes a line with the address, 8-byte words and ASCII.
func hexdump(w io.Writer, addr uint64, b []byte) {
	for off := 0; off < len(b); off += 16 {
		line := b[off:min(off+16, len(b))]
		fmt.Fprintf(w, "%016x  ", addr+uint64(off))
		for i := 0; i < 16; i++ {
			if i < len(line) {
				fmt.Fprintf(w, "%02x ", line[i])
			} else {
				fmt.Fprint(w, "   ")
			}
			if i == 7 {
				fmt.Fprint(w, " ")
			}
		}
		fmt.Fprint(w, " |")
		for _, c := range line {
			if c < 32 || c > 126 {
				c = '.'
			}
			fmt.Fprintf(w, "%c", c)
		}
		fmt.Fprintln(w, "|")
	}
}
