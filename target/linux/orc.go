package linux

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"

	"github.com/kdap/kdap/target/arch/amd64"
	"github.com/kdap/kdap/unwind"
	"github.com/kdap/kdap/unwind/orc"
)

// The ORC unwinder lives in unwind/orc, beside the other unwinders: it is
// a file format and a set of x86-64 step rules. What is Linux's is here:
// where the tables are (vmlinux), which layout struct orc_entry has in this
// build, struct pt_regs, and how a trap frame is labelled.

// orcState is the kernel's ORC unwinder, built on its first step: the
// layout of struct orc_entry comes from DWARF, whose type index a caller
// that only lists threads should not pay for.
type orcState struct {
	once sync.Once
	st   *orc.Stepper
	orig uint64 // offsetof(struct pt_regs, orig_ax)
	err  error
}

// FrameInfo returns an unwind.FrameInfo that steps through the kernel's
// ORC tables, or nil when the kernel file has none. The tables, their
// layout and struct pt_regs are read on the first step; an error there
// (a kernel whose ORC sections or layout are unusable) is the error of
// every step.
func (k *kernel) FrameInfo() (unwind.FrameInfo, error) {
	ef := k.t.Kernel.ELF
	if ef.Section(".orc_unwind_ip") == nil && ef.Section(".orc_unwind") == nil {
		return nil, nil
	}
	return &orcFrames{k: k}, nil
}

// stepper builds the ORC stepper once.
func (k *kernel) stepper() (*orc.Stepper, uint64, error) {
	k.orc.once.Do(func() { k.orc.st, k.orc.orig, k.orc.err = k.newORC() })
	return k.orc.st, k.orc.orig, k.orc.err
}

func (k *kernel) newORC() (*orc.Stepper, uint64, error) {
	ef := k.t.Kernel.ELF
	layout, err := k.orcLayout()
	if err != nil {
		return nil, 0, fmt.Errorf("ORC tables of %s: %w", k.t.Kernel.Path, err)
	}
	tab, err := orc.OpenELF(ef, layout)
	if err != nil {
		return nil, 0, fmt.Errorf("ORC tables of %s: %w", k.t.Kernel.Path, err)
	}
	pt, err := k.ptRegsLayout()
	if err != nil {
		return nil, 0, fmt.Errorf("ORC unwinding needs struct pt_regs: %w", err)
	}
	origAX, err := k.member("pt_regs", "orig_ax")
	if err != nil {
		return nil, 0, fmt.Errorf("ORC unwinding needs struct pt_regs: %w", err)
	}
	kern := k.t.Kernel
	st := &orc.Stepper{Table: tab, Slide: kern.Slide, PtRegs: pt, Covers: func(file uint64) bool {
		return kern.InText(file + kern.Slide)
	}}
	return st, origAX, nil
}

// orcLayout reads the layout of struct orc_entry from DWARF; without it,
// it falls back to the layout of the kernel's release (see layoutFor).
func (k *kernel) orcLayout() (orc.Layout, error) {
	d, err := k.t.Kernel.DWARF()
	if err == nil {
		var t godwarf.Type
		if t, err = d.Type("struct orc_entry"); err == nil {
			return orcLayoutFromDWARF(func(name string) (*godwarf.StructField, error) {
				_, f, err := d.Member(t, name)
				return f, err
			}, t.Size())
		}
	}
	l, lerr := layoutFor(k.release)
	if lerr != nil {
		return orc.Layout{}, fmt.Errorf("no struct orc_entry in DWARF (%v) and %w", err, lerr)
	}
	return l, nil
}

// orcLayoutFromDWARF builds the layout from the members of struct
// orc_entry: end exists up to Linux 6.3 and goes with the old type
// numbering; a 3-bit type without it is the numbering of 6.4.
func orcLayoutFromDWARF(member func(string) (*godwarf.StructField, error), size int64) (orc.Layout, error) {
	l := orc.Layout{Size: int(size)}
	for _, m := range []struct {
		name string
		off  *int
	}{{"sp_offset", &l.SPOffset}, {"bp_offset", &l.BPOffset}} {
		f, err := member(m.name)
		if err != nil {
			return l, fmt.Errorf("struct orc_entry: %w", err)
		}
		*m.off = int(f.ByteOffset)
	}
	for _, m := range []struct {
		name     string
		dst      *orc.Field
		optional bool
	}{{"sp_reg", &l.SPReg, false}, {"bp_reg", &l.BPReg, false}, {"type", &l.Type, false},
		{"end", &l.End, true}, {"signal", &l.Signal, true}} {
		f, err := member(m.name)
		if err != nil {
			if m.optional {
				continue
			}
			return l, fmt.Errorf("struct orc_entry: %w", err)
		}
		if f.BitSize <= 0 || f.ByteOffset < 0 || f.BitOffset < 0 {
			return l, fmt.Errorf("struct orc_entry: member %s is not a bit field (byte %d, bit %d, %d bits)", m.name, f.ByteOffset, f.BitOffset, f.BitSize)
		}
		*m.dst = orc.Field{Bit: uint(f.ByteOffset*8 + f.BitOffset), Width: uint(f.BitSize)}
	}
	l.OldTypes = l.End.Width > 0
	if err := l.Check(); err != nil {
		return l, fmt.Errorf("struct orc_entry from DWARF: %w", err)
	}
	return l, nil
}

// layoutFor returns the struct orc_entry layout of a mainline release
// ("6.1.0-57-cloud-amd64"): type:2 and end up to 6.2, signal added in 6.3,
// the 3-bit type of 6.4. A distribution kernel that backported a change
// is misread: the DWARF layout, when there is one, is never a guess.
func layoutFor(release string) (orc.Layout, error) {
	if release == "" {
		return orc.Layout{}, errors.New("the kernel release is unknown (no OSRELEASE in VMCOREINFO)")
	}
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return orc.Layout{}, fmt.Errorf("kernel release %q does not start with MAJOR.MINOR", release)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return orc.Layout{}, fmt.Errorf("kernel release %q does not start with MAJOR.MINOR", release)
	}
	v := major*1000 + minor
	switch {
	case v < 4014:
		return orc.Layout{}, fmt.Errorf("kernel release %s predates ORC (4.14)", release)
	case v < 6003:
		return orc.LayoutV1, nil
	case v < 6004:
		return orc.LayoutV2, nil
	}
	return orc.LayoutV3, nil
}

// ptRegsLayout reads struct pt_regs from DWARF.
func (k *kernel) ptRegsLayout() (orc.PtRegs, error) {
	var p orc.PtRegs
	size, err := k.t.Kernel.TypeSize("struct pt_regs")
	if err != nil {
		return p, err
	}
	p.Size = uint64(size)
	for _, m := range ptRegs {
		off, err := k.member("pt_regs", m.member)
		if err != nil {
			return p, err
		}
		p.Regs = append(p.Regs, orc.RegOffset{Reg: m.reg, Off: off})
	}
	for _, m := range []struct {
		name string
		dst  *uint64
	}{{"ip", &p.IP}, {"sp", &p.SP}, {"cs", &p.CS}} {
		if *m.dst, err = k.member("pt_regs", m.name); err != nil {
			return p, err
		}
	}
	return p, p.Check()
}

// orcFrames adapts the ORC stepper to the unwinder.
type orcFrames struct{ k *kernel }

// Step unwinds one frame through ORC. A pc the tables do not cover, or
// whose entry is undefined, is left to CFI and the frame pointer.
func (o *orcFrames) Step(f *unwind.Frame, mem unwind.Memory) (unwind.Step, error) {
	stepper, origAX, err := o.k.stepper()
	if err != nil {
		return unwind.Step{}, err
	}
	if !o.k.t.Kernel.InText(f.LookupPC) {
		if m := o.k.moduleAt(f.LookupPC, true); m != nil {
			if stepper, err = o.k.moduleORC(m, stepper); err != nil {
				return unwind.Step{}, err
			}
		}
	}
	res, err := stepper.Step(&f.Regs, f.LookupPC, mem)
	if errors.Is(err, orc.ErrNoEntry) || errors.Is(err, orc.ErrUndefined) {
		return unwind.Step{Kind: unwind.StepNone}, nil
	}
	if err != nil {
		return unwind.Step{}, err
	}
	st := unwind.Step{Regs: res.Regs, CFA: res.CFA, Exact: res.Entry.Signal, SwitchesStack: res.Indirect}
	switch res.Kind {
	case orc.KindEnd:
		st.Kind, st.Reason = unwind.StepEnd, "ORC marks the end of the stack"
		if f.Function != "" {
			st.Reason += " in " + f.Function
		}
	case orc.KindCall:
		st.Kind = unwind.StepCall
	case orc.KindRegs, orc.KindRegsPartial:
		st.Kind, st.UserMode = unwind.StepTrap, res.UserMode
		st.Label = label(res, origAX, mem)
	}
	return st, nil
}

// label is the marker of a trap frame, in the style of the name-based
// one: "--- pt_regs at 0x…, orig_ax 0x…, rip = 0x…, rsp = 0x…, rbp = 0x… ---".
func label(res orc.Result, origAX uint64, mem unwind.Memory) string {
	rip, _ := res.Regs.Get(amd64.RIP)
	rsp, _ := res.Regs.Get(amd64.RSP)
	mode := ""
	if res.UserMode {
		mode = "user-mode "
	}
	if res.Kind == orc.KindRegsPartial {
		return fmt.Sprintf("--- %siret frame at %#x, rip = %#x, rsp = %#x ---", mode, res.CFA, rip, rsp)
	}
	rbp, _ := res.Regs.Get(amd64.RBP)
	orig := "?"
	var b [8]byte
	if err := mem.ReadVirt(b[:], res.PtRegs+origAX); err == nil {
		orig = fmt.Sprintf("%#x", binary.LittleEndian.Uint64(b[:]))
	}
	return fmt.Sprintf("--- %spt_regs at %#x, orig_ax %s, rip = %#x, rsp = %#x, rbp = %#x ---", mode, res.PtRegs, orig, rip, rsp, rbp)
}

// A module's ORC tables are in its memory, sorted by the kernel when it
// loaded the module (arch/x86/kernel/unwind_orc.c, unwind_module_init):
// struct module's arch (struct mod_arch_specific) has num_orcs and the
// arrays orc_unwind_ip (int offsets from each slot, like vmlinux's) and
// orc_unwind (struct orc_entry, the kernel's layout). Their addresses
// are final: a module is not moved by the kernel's KASLR slide.

// moduleORC returns the ORC stepper of module m, read on first use; kst
// is the kernel's, whose entry and pt_regs layouts the module shares.
func (k *kernel) moduleORC(m *loadedModule, kst *orc.Stepper) (*orc.Stepper, error) {
	m.orcOnce.Do(func() {
		tab, err := k.readModuleORC(k.t, m, kst.Table.Layout())
		if err != nil {
			m.orcErr = fmt.Errorf("ORC table of module %s: %w", m.Name, err)
			return
		}
		m.orc = &orc.Stepper{Table: tab, PtRegs: kst.PtRegs, Covers: m.InText}
	})
	return m.orc, m.orcErr
}

// readModuleORC reads the ORC table of the struct module of m.
func (k *kernel) readModuleORC(mem memReader, m *loadedModule, l orc.Layout) (*orc.Table, error) {
	numOff, numSize, err := k.t.Kernel.Member("struct module", "arch.num_orcs")
	if err != nil {
		return nil, fmt.Errorf("struct module member arch.num_orcs: %w", err)
	}
	ipOff, err := k.member("module", "arch.orc_unwind_ip")
	if err != nil {
		return nil, err
	}
	entOff, err := k.member("module", "arch.orc_unwind")
	if err != nil {
		return nil, err
	}
	return readORCArrays(mem, m.Addr, orcArrays{num: uint64(numOff), numSize: numSize, ip: ipOff, ent: entOff}, l)
}

// maxModuleORCs bounds a module's num_orcs: the largest modules (GPU
// drivers, a few MB of code) have a few hundred thousand entries.
const maxModuleORCs = 1 << 22

// orcArrays is where struct module keeps its ORC table.
type orcArrays struct {
	num     uint64 // offset of arch.num_orcs
	numSize int64  // its size: 4 (unsigned int)
	ip, ent uint64 // offsets of the pointers arch.orc_unwind_ip, arch.orc_unwind
}

// readORCArrays reads the ORC arrays of the struct module at mod.
func readORCArrays(mem memReader, mod uint64, a orcArrays, l orc.Layout) (*orc.Table, error) {
	if a.numSize != 4 && a.numSize != 8 {
		return nil, fmt.Errorf("arch.num_orcs has %d bytes, want 4 or 8", a.numSize)
	}
	var b [8]byte
	if err := mem.ReadVirt(b[:a.numSize], mod+a.num); err != nil {
		return nil, fmt.Errorf("reading num_orcs: %w", err)
	}
	n := binary.LittleEndian.Uint64(b[:])
	if err := mem.ReadVirt(b[:], mod+a.ip); err != nil {
		return nil, fmt.Errorf("reading orc_unwind_ip: %w", err)
	}
	ipAddr := binary.LittleEndian.Uint64(b[:])
	if err := mem.ReadVirt(b[:], mod+a.ent); err != nil {
		return nil, fmt.Errorf("reading orc_unwind: %w", err)
	}
	entAddr := binary.LittleEndian.Uint64(b[:])
	switch {
	case n == 0 || ipAddr == 0 || entAddr == 0:
		return nil, fmt.Errorf("no table (num_orcs %d, orc_unwind_ip %#x, orc_unwind %#x)", n, ipAddr, entAddr)
	case l.Size <= 0 || n > maxModuleORCs:
		return nil, fmt.Errorf("num_orcs %d exceeds %d", n, maxModuleORCs)
	}
	ip := make([]byte, 4*n)
	if err := mem.ReadVirt(ip, ipAddr); err != nil {
		return nil, fmt.Errorf("reading %d orc_unwind_ip entries at %#x: %w", n, ipAddr, err)
	}
	ent := make([]byte, n*uint64(l.Size))
	if err := mem.ReadVirt(ent, entAddr); err != nil {
		return nil, fmt.Errorf("reading %d orc_unwind entries at %#x: %w", n, entAddr, err)
	}
	return orc.NewTable(ipAddr, ip, ent, l)
}
