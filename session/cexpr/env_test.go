package cexpr

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
)

// The test environment mirrors the shapes of FreeBSD's struct proc, thread,
// pcb and msgbuf with hand-chosen offsets and contents. Every expected value
// in the tests follows from the layout and the bytes written here.

// Addresses of the objects in the fake memory.
const (
	addrProc0   = 0xffffffff81d43950 // struct proc proc0 (symbol)
	addrProc1   = 0xfffff80003a4e000 // struct proc, pid 1 (heap, no symbol)
	addrThread0 = 0xfffff8000336e000 // struct thread (heap)
	addrPCB     = 0xfffffe0000a00000 // struct pcb
	addrMsgbuf  = 0xfffff80000100000 // struct msgbuf
	addrMsgText = 0xfffff80000200000 // message buffer text
	addrGlobals = 0xffffffff81d40000 // page of scalar globals (symbols)
	addrStack   = 0xfffffe0000b00e00 // stack page holding the local td
	addrPanic   = 0xffffffff80b00000 // function panic, 0x100 bytes
	addrSched   = 0xffffffff80c00000 // function sched_idle, 0x80 bytes
)

// Offsets of globals within the globals page.
const (
	offMsgbufp = 0x000
	offAllproc = 0x100
	offCounter = 0x200
	offArr     = 0x210
	offNeg     = 0x230
	offBig     = 0x238
	offUc      = 0x240
	offSc      = 0x241
	offFlag    = 0x242
	offNullp   = 0x248
	offBadp    = 0x250
	offDbl     = 0x258
	offVp      = 0x260
	offStrs    = 0x270
	offLoopv   = 0x280
)

type region struct {
	base uint64
	data []byte
}

type testEnv struct {
	regions  []*region
	vars     map[string]Value
	regs     map[string]Value
	typedefs map[string]*Type
	tags     map[string]*Type
	syms     []testSym
	reads    int
	readLens []int // the length of every read, in order
}

type testSym struct {
	name       string
	addr, size uint64
}

func (e *testEnv) mem(base uint64, size int) []byte {
	r := &region{base: base, data: make([]byte, size)}
	e.regions = append(e.regions, r)
	return r.data
}

func (e *testEnv) LookupVar(name string) (Value, error) {
	if v, ok := e.vars[name]; ok {
		return v, nil
	}
	return Value{}, fmt.Errorf("variable %q: %w", name, ErrNotFound)
}

func (e *testEnv) Register(name string) (Value, error) {
	if v, ok := e.regs[name]; ok {
		return v, nil
	}
	return Value{}, fmt.Errorf("register %q: %w", name, ErrNotFound)
}

func (e *testEnv) LookupType(name string) (*Type, error) {
	if t, ok := e.typedefs[name]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("type %q: %w", name, ErrNotFound)
}

func (e *testEnv) LookupTag(kind Kind, name string) (*Type, error) {
	if t, ok := e.tags[kind.String()+" "+name]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("%s %s: %w", kind, name, ErrNotFound)
}

func (e *testEnv) ReadMemory(addr uint64, p []byte) error {
	e.reads++
	e.readLens = append(e.readLens, len(p))
	for _, r := range e.regions {
		if addr >= r.base && addr-r.base <= uint64(len(r.data)) && uint64(len(p)) <= uint64(len(r.data))-(addr-r.base) {
			copy(p, r.data[addr-r.base:])
			return nil
		}
	}
	return fmt.Errorf("address %#x not in dump", addr)
}

func (e *testEnv) Symbolize(addr uint64) (string, uint64, bool) {
	for _, s := range e.syms {
		if addr >= s.addr && addr < s.addr+s.size {
			return s.name, addr - s.addr, true
		}
	}
	return "", 0, false
}

func put64(b []byte, off int, v uint64) { binary.LittleEndian.PutUint64(b[off:], v) }
func put32(b []byte, off int, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }

func typedef(name string, t *Type) *Type { return &Type{Kind: Typedef, Name: name, Elem: t} }

// newTestEnv builds the fake kernel.
func newTestEnv() *testEnv {
	e := &testEnv{vars: map[string]Value{}, regs: map[string]Value{}, typedefs: map[string]*Type{}, tags: map[string]*Type{}}

	// Typedef chains as FreeBSD declares them.
	int32 := typedef("__int32_t", TypeInt)
	lwpid := typedef("lwpid_t", typedef("__lwpid_t", int32))
	pid := typedef("pid_t", typedef("__pid_t", int32))
	uint := typedef("u_int", TypeUInt)
	uchar := typedef("u_char", TypeUChar)
	regT := typedef("register_t", typedef("__register_t", typedef("__int64_t", TypeLong)))
	vmoff := typedef("vm_offset_t", typedef("__vm_offset_t", typedef("__uint64_t", TypeULong)))
	loop := &Type{Kind: Typedef, Name: "loop_t"}
	loop.Elem = loop
	for _, t := range []*Type{int32, lwpid, pid, uint, uchar, regT, vmoff, loop} {
		e.typedefs[t.Name] = t
	}

	proc := &Type{Kind: Struct, Name: "proc", Size: 88}
	thread := &Type{Kind: Struct, Name: "thread", Size: 112}
	pcb := &Type{Kind: Struct, Name: "pcb", Size: 64}
	msgbuf := &Type{Kind: Struct, Name: "msgbuf", Size: 40}
	proclist := &Type{Kind: Struct, Name: "proclist", Size: 8, Members: []Member{{Name: "lh_first", Type: PointerTo(proc)}}}
	opaque := &Type{Kind: Struct, Name: "mtx", Incomplete: true}
	states := &Type{Kind: Enum, Name: "p_states", Size: 4, Enumerators: []Enumerator{{"PRS_NEW", 0}, {"PRS_NORMAL", 1}, {"PRS_ZOMBIE", 2}}}
	pflags := &Type{Kind: Enum, Name: "pflags", Size: 4, Enumerators: []Enumerator{{"P_A", 1}, {"P_B", 2}, {"P_C", 4}}}
	for _, t := range []*Type{proc, thread, pcb, msgbuf, proclist, opaque, states, pflags} {
		e.tags[t.Kind.String()+" "+t.Name] = t
	}

	proc.Members = []Member{
		{Name: "p_list", Offset: 0, Type: &Type{Kind: Struct, Size: 16, Members: []Member{
			{Name: "le_next", Type: PointerTo(proc)}, {Name: "le_prev", Offset: 8, Type: PointerTo(PointerTo(proc))}}}},
		{Name: "p_threads", Offset: 16, Type: &Type{Kind: Struct, Size: 16, Members: []Member{
			{Name: "tqh_first", Type: PointerTo(thread)}, {Name: "tqh_last", Offset: 8, Type: PointerTo(PointerTo(thread))}}}},
		{Name: "p_pid", Offset: 32, Type: pid},
		{Name: "p_state", Offset: 36, Type: states},
		{Name: "p_flag", Offset: 40, Type: TypeInt},
		{Name: "p_comm", Offset: 44, Type: ArrayOf(TypeChar, 20)},
		{Offset: 64, Type: &Type{Kind: Union, Size: 8, Members: []Member{{Name: "p_xa", Type: TypeInt}, {Name: "p_xb", Type: TypeLong}}}},
		{Name: "p_f1", Offset: 72, Type: TypeUInt, BitOffset: 0, BitSize: 3},
		{Name: "p_f2", Offset: 72, Type: TypeInt, BitOffset: 3, BitSize: 5},
		{Name: "p_f3", Offset: 72, Type: TypeUInt, BitOffset: 8, BitSize: 24},
		{Name: "p_fl", Offset: 76, Type: pflags},
		{Name: "p_stats", Offset: 80, Type: PointerTo(TypeVoid)},
	}
	fnType := &Type{Kind: Func, Elem: TypeVoid}
	thread.Members = []Member{
		{Name: "td_proc", Offset: 0, Type: PointerTo(proc)},
		{Name: "td_plist", Offset: 8, Type: &Type{Kind: Struct, Size: 16, Members: []Member{
			{Name: "tqe_next", Type: PointerTo(thread)}, {Name: "tqe_prev", Offset: 8, Type: PointerTo(PointerTo(thread))}}}},
		{Name: "td_tid", Offset: 24, Type: lwpid},
		{Name: "td_name", Offset: 28, Type: ArrayOf(TypeChar, 20)},
		{Name: "td_pri", Offset: 48, Type: uchar},
		{Name: "td_pcb", Offset: 56, Type: PointerTo(pcb)},
		{Name: "td_short", Offset: 64, Type: TypeShort},
		{Name: "td_arr", Offset: 72, Type: ArrayOf(TypeLong, 4)},
		{Name: "td_fn", Offset: 104, Type: PointerTo(fnType)},
	}
	for i, n := range []string{"pcb_r15", "pcb_r14", "pcb_r13", "pcb_r12", "pcb_rbp", "pcb_rsp", "pcb_rbx", "pcb_rip"} {
		pcb.Members = append(pcb.Members, Member{Name: n, Offset: int64(8 * i), Type: regT})
	}
	for i, n := range []string{"msg_magic", "msg_size", "msg_wseq", "msg_rseq", "msg_cksum", "msg_seqmod"} {
		msgbuf.Members = append(msgbuf.Members, Member{Name: n, Offset: int64(8 + 4*i), Type: uint})
	}
	msgbuf.Members = append([]Member{{Name: "msg_ptr", Type: PointerTo(TypeChar)}}, msgbuf.Members...)
	msgbuf.Members = append(msgbuf.Members, Member{Name: "msg_lastpri", Offset: 32, Type: TypeInt}, Member{Name: "msg_flags", Offset: 36, Type: uint})

	// proc0
	p0 := e.mem(addrProc0, 88)
	put64(p0, 0, addrProc1)
	put64(p0, 8, addrGlobals+offAllproc)
	put64(p0, 16, addrThread0)
	put64(p0, 24, addrThread0+8)
	put32(p0, 32, 0)
	put32(p0, 36, 1)
	put32(p0, 40, 0x10000200)
	copy(p0[44:], "kernel")
	put64(p0, 64, 0xfffffffffffffffe)
	put32(p0, 72, 0x123456ed) // p_f1 = 5, p_f2 = 0x1d (-3), p_f3 = 0x123456
	put32(p0, 76, 5)
	// proc 1, a zombie
	p1 := e.mem(addrProc1, 88)
	put64(p1, 8, addrProc0)
	put32(p1, 32, 1)
	put32(p1, 36, 2)
	copy(p1[44:], "init")
	put32(p1, 76, 8)
	// thread0
	t0 := e.mem(addrThread0, 112)
	put64(t0, 0, addrProc0)
	put64(t0, 16, addrProc0+16)
	put32(t0, 24, 100000)
	copy(t0[28:], "swapper")
	t0[48] = 84
	put64(t0, 56, addrPCB)
	binary.LittleEndian.PutUint16(t0[64:], 0xfffe)
	for i, v := range []int64{1, -2, 3, 4} {
		put64(t0, 72+8*i, uint64(v))
	}
	put64(t0, 104, addrSched)
	// pcb
	pc := e.mem(addrPCB, 64)
	put64(pc, 32, 0xfffffe0000b00f00)
	put64(pc, 40, 0xfffffe0000b00e00)
	put64(pc, 56, addrPanic+0x20)
	// msgbuf
	mb := e.mem(addrMsgbuf, 40)
	put64(mb, 0, addrMsgText)
	put32(mb, 8, 0x063062)
	put32(mb, 12, 4096)
	put32(mb, 16, 15)
	put32(mb, 32, 0xffffffff)
	txt := e.mem(addrMsgText, 4096)
	copy(txt, "Hello, kernel!\n")
	// globals
	g := e.mem(addrGlobals, 0x1000)
	put64(g, offMsgbufp, addrMsgbuf)
	put64(g, offAllproc, addrProc0)
	put32(g, offCounter, 42)
	for i, v := range []uint32{10, 20, 30, 40, 50} {
		put32(g, offArr+4*i, v)
	}
	put32(g, offNeg, uint32(0xfffffffb))
	put64(g, offBig, math.MaxUint64)
	g[offUc] = 200
	g[offSc] = 0xfd
	g[offFlag] = 1
	put64(g, offBadp, 0xdead000000000000)
	put64(g, offDbl, math.Float64bits(2.5))
	put64(g, offVp, addrProc0)
	put64(g, offStrs, addrMsgText)
	// the stack slot of the local td
	st := e.mem(addrStack, 0x200)
	put64(st, 0x80, addrThread0)

	lv := func(name string, t *Type, addr uint64, size uint64) {
		e.vars[name] = Value{Type: t, Addr: addr, HasAddr: true}
		if size > 0 {
			e.syms = append(e.syms, testSym{name, addr, size})
		}
	}
	lv("proc0", proc, addrProc0, 88)
	lv("msgbufp", PointerTo(msgbuf), addrGlobals+offMsgbufp, 8)
	lv("allproc", proclist, addrGlobals+offAllproc, 8)
	lv("counter", TypeInt, addrGlobals+offCounter, 4)
	lv("arr", ArrayOf(TypeInt, 5), addrGlobals+offArr, 20)
	lv("neg", TypeInt, addrGlobals+offNeg, 4)
	lv("big", TypeULong, addrGlobals+offBig, 8)
	lv("uc", TypeUChar, addrGlobals+offUc, 1)
	lv("sc", TypeSChar, addrGlobals+offSc, 1)
	lv("flag", TypeBool, addrGlobals+offFlag, 1)
	lv("nullp", PointerTo(proc), addrGlobals+offNullp, 8)
	lv("badp", PointerTo(proc), addrGlobals+offBadp, 8)
	lv("dbl", TypeDouble, addrGlobals+offDbl, 8)
	lv("vp", PointerTo(TypeVoid), addrGlobals+offVp, 8)
	lv("strs", ArrayOf(PointerTo(TypeChar), 2), addrGlobals+offStrs, 16)
	lv("loopv", loop, addrGlobals+offLoopv, 8)
	lv("mtxp", PointerTo(opaque), addrGlobals+offNullp, 0)
	lv("panic", fnType, addrPanic, 0x100)
	lv("sched_idle", fnType, addrSched, 0x80)
	lv("td", PointerTo(thread), addrStack+0x80, 0) // a local: no symbol
	e.vars["i"] = Value{Type: TypeInt, Bytes: []byte{3, 0, 0, 0}, Register: "rbx"}
	e.vars["gone"] = Value{Type: TypeInt, OptimizedOut: true}
	e.vars["lost"] = Value{Type: TypeLong, Unavailable: true}
	for _, en := range append(states.Enumerators, pflags.Enumerators...) {
		t := states
		if en.Name[0] == 'P' && en.Name[1] == '_' {
			t = pflags
		}
		e.vars[en.Name] = IntValue(t, uint64(en.Value))
	}
	e.regs["rip"] = IntValue(PointerTo(fnType), addrPanic+0x10)
	e.regs["rsp"] = IntValue(PointerTo(TypeVoid), addrStack)
	e.regs["eflags"] = IntValue(TypeInt, 0x246)
	sort.Slice(e.syms, func(i, j int) bool { return e.syms[i].addr < e.syms[j].addr })
	return e
}

// modelEnv is a testEnv that states its data model.
type modelEnv struct {
	*testEnv
	model DataModel
}

// DataModel returns the model the test chose.
func (e modelEnv) DataModel() DataModel { return e.model }

// Addresses of the ILP32 test kernel (an i386 layout: the kernel above
// 0xc0000000).
const (
	addr32Globals = 0xc1000000 // page of globals (symbols)
	addr32Text    = 0xc1000100 // a string
	addr32Proc0   = 0xc1000200 // struct proc32 proc0 (symbol)
	addr32Proc1   = 0xc1000300 // struct proc32, pid 1 (no symbol)
	addr32Panic   = 0xc0400000 // function panic, 0x100 bytes
	addr32Stack   = 0xc5000f00 // the stack pointer
)

// newTestEnv32 builds a small i386 kernel: long and pointers are 4 bytes,
// long long 8, long double the 12-byte x87 format. The word after every
// pointer is non-zero, so that reading a pointer as 8 bytes gives a wrong
// address.
func newTestEnv32() modelEnv {
	e := &testEnv{vars: map[string]Value{}, regs: map[string]Value{}, typedefs: map[string]*Type{}, tags: map[string]*Type{}}
	m := ILP32
	long, ulong := m.Long(), m.ULong()
	e.typedefs["size_t"] = typedef("size_t", typedef("__size_t", ulong))
	e.typedefs["vm_offset_t"] = typedef("vm_offset_t", typedef("__vm_offset_t", typedef("__uint32_t", TypeUInt)))

	proc := &Type{Kind: Struct, Name: "proc32", Size: 16}
	proc.Members = []Member{
		{Name: "p_pid", Offset: 0, Type: TypeInt},
		{Name: "p_comm", Offset: 4, Type: m.PointerTo(TypeChar)},
		{Name: "p_next", Offset: 8, Type: m.PointerTo(proc)},
		{Name: "p_flag", Offset: 12, Type: long},
	}
	e.tags["struct proc32"] = proc
	ldbl := &Type{Kind: Float, Name: "long double", Size: 12}

	g := e.mem(addr32Globals, 0x100)
	put32(g, 0x00, 42)                 // int counter
	put32(g, 0x04, uint32(0xfffffffb)) // long lng = -5
	put32(g, 0x08, 0xffffffff)         // unsigned long ul
	put32(g, 0x0c, 0x11111111)         // (padding)
	put64(g, 0x10, 0x100000000)        // long long llg
	put32(g, 0x18, addr32Text)         // char *p32
	for i, v := range []uint32{1, 2, 3, 4} {
		put32(g, 0x1c+4*i, v) // int arr[4]
	}
	put32(g, 0x2c, addr32Proc0) // struct proc32 *pp
	put32(g, 0x30, 0xdeadbeef)  // (padding)
	// long double ldbl = 2.5: mantissa 1.01b with the explicit integer
	// bit, exponent 16383+1, two bytes of padding.
	put64(g, 0x40, 0xa000000000000000)
	binary.LittleEndian.PutUint16(g[0x48:], 0x4000)
	g[0x4a], g[0x4b] = 0x55, 0x55
	copy(e.mem(addr32Text, 0x20), "i386 kernel")
	p0 := e.mem(addr32Proc0, 16)
	put32(p0, 0, 0)
	put32(p0, 4, addr32Text)
	put32(p0, 8, addr32Proc1)
	put32(p0, 12, 0x80000001)
	p1 := e.mem(addr32Proc1, 20)
	put32(p1, 0, 1)
	put32(p1, 4, addr32Text+5)
	put32(p1, 8, 0)
	put32(p1, 12, 7)
	put32(p1, 16, 0x99999999) // (whatever follows)

	lv := func(name string, t *Type, addr uint64, size uint64) {
		e.vars[name] = Value{Type: t, Addr: addr, HasAddr: true}
		if size > 0 {
			e.syms = append(e.syms, testSym{name, addr, size})
		}
	}
	lv("counter", TypeInt, addr32Globals+0x00, 4)
	lv("lng", long, addr32Globals+0x04, 4)
	lv("ul", ulong, addr32Globals+0x08, 4)
	lv("llg", TypeLongLong, addr32Globals+0x10, 8)
	lv("p32", m.PointerTo(TypeChar), addr32Globals+0x18, 4)
	lv("arr", ArrayOf(TypeInt, 4), addr32Globals+0x1c, 16)
	lv("pp", m.PointerTo(proc), addr32Globals+0x2c, 4)
	lv("ldbl", ldbl, addr32Globals+0x40, 12)
	lv("proc0", proc, addr32Proc0, 16)
	fnType := &Type{Kind: Func, Elem: TypeVoid}
	lv("panic", fnType, addr32Panic, 0x100)
	e.regs["eip"] = m.IntValue(m.PointerTo(fnType), addr32Panic+0x10)
	e.regs["esp"] = m.IntValue(m.PointerTo(TypeVoid), addr32Stack)
	e.regs["eax"] = m.IntValue(long, 0xfffffffe)
	sort.Slice(e.syms, func(i, j int) bool { return e.syms[i].addr < e.syms[j].addr })
	return modelEnv{testEnv: e, model: m}
}
