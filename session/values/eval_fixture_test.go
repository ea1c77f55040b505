package values

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/session/cexpr"
	"github.com/kdap/kdap/target"
	"github.com/kdap/kdap/target/arch/amd64"
	"github.com/kdap/kdap/unwind"
)

// evalCase is one expression evaluated in the sysctl_kdap_handler frame
// of an assert run. Expected values come from kern_kdap.c, the fixture's
// headers, testdata/README.md and C's rules.
type evalCase struct {
	expr string
	want string // the formatted value; "" when only err is checked
	hex  bool   // format integers in hexadecimal
	sub  bool   // want is a substring of the formatted value
	err  string // a substring of the expected error
}

var handlerCases = []evalCase{
	// Locals (README "Locals of sysctl_kdap_handler").
	{expr: "pair.kp_key", want: "42"},
	{expr: "pair.kp_val", want: "-1234567890123"},
	{expr: "pair.kp_name", want: `"answer"`, sub: true},
	{expr: "*pair.kp_name", want: "97 'a'"},
	{expr: "pair.kp_name[5]", want: "114 'r'"},
	{expr: "word.kw_u64", want: "0x1122334455667788", hex: true},
	{expr: "word.kw_u32[0]", want: "0x55667788", hex: true},
	{expr: "word.kw_u32[1]", want: "0x11223344", hex: true},
	{expr: "word.kw_bytes[0]", want: "0x88", hex: true},
	{expr: "word.kw_bytes[7]", want: "0x11", hex: true},
	{expr: "word.kw_u32[0] == (word.kw_u64 & 0xffffffff)", want: "1"},
	{expr: "color", want: "KDAP_COLOR_BLUE"},
	{expr: "(int)color", want: "7"},
	{expr: "color == KDAP_COLOR_BLUE", want: "1"},
	{expr: "bits.kb_ready", want: "1"},
	{expr: "bits.kb_mode", want: "5"},
	{expr: "bits.kb_count", want: "1000"},
	{expr: "bits.kb_neg", want: "-3"},
	{expr: "bits", want: "{kb_ready = 1, kb_mode = 5, kb_count = 1000, kb_neg = -3}"},
	{expr: "primes", want: "{2, 3, 5, 7, 11, 13}"},
	{expr: "primes[0]", want: "2"},
	{expr: "primes[5]", want: "13"},
	{expr: "primes[1] + primes[2]", want: "8"},
	{expr: "*(primes + 4)", want: "11"},
	{expr: "*primes", want: "2"},
	{expr: "&primes[3] - &primes[0]", want: "3"},
	{expr: "sizeof(primes)", want: "24"},
	{expr: "sizeof primes / sizeof primes[0]", want: "6"},
	{expr: "label", want: `"kdap-label"`},
	{expr: "label[4]", want: "45 '-'"},
	{expr: "label[10]", want: `0 '\000'`},
	{expr: "sizeof(label)", want: "16"},
	{expr: "handler", want: "<kdap_default_handler>", sub: true},
	{expr: "handler == kdap_default_handler", want: "1"},
	{expr: "*tdpp == ctx.kc_td", want: "1"},
	{expr: "tdpp == &ctx.kc_td", want: "1"},
	{expr: "(*tdpp)->td_tid", want: "0"},
	{expr: "ctx.kc_depth", want: "3"},
	{expr: "ctx.kc_what", want: `"debug.kdap.check"`, sub: true},
	{expr: "ctx.kc_backing == &kdap_backing0", want: "1"},
	{expr: "ctx.kc_backing->kb_cookie", want: "0xc0ffee", hex: true},
	{expr: "ctx.kc_td->td_tid", want: "0"},
	{expr: "ctx.kc_td->td_oncpu", want: "0xff", hex: true},
	{expr: "ctx.kc_td->td_lastcpu", want: "0xff", hex: true},
	{expr: "ctx.kc_td->td_name[0]", want: `0 '\000'`},
	{expr: "sizeof(ctx)", want: "32"},
	{expr: "sizeof(pair)", want: "24"},
	{expr: "(char *)&pair.kp_val - (char *)&pair", want: "8"},
	{expr: "&pair.kp_key == (int *)&pair", want: "1"},
	{expr: "scratch", want: "<optimized out>"},
	{expr: "error", want: "<optimized out>"},
	// Arguments.
	{expr: "oidp->oid_name", want: `"debug.kdap.check"`, sub: true},
	{expr: "oidp->oid_arg2", want: "3"},
	{expr: "oidp == &sysctl_oids[2]", want: "1"},
	{expr: "req->td->td_tid", want: "100016"},
	{expr: "req->td->td_name", want: `"sysctl"`},
	{expr: "req->td->td_proc->p_pid", want: "806"},
	{expr: "req->td->td_proc->p_comm", want: `"sysctl"`},
	// Globals (README "Kernel names" and "Ground truth").
	{expr: "hz", want: "1000"},
	{expr: "mp_maxid", want: "1"},
	{expr: "mp_ncpus", want: "2"},
	{expr: "stopped_cpus.__bits[0]", want: "2"},
	{expr: "dumptid", want: "100016"},
	{expr: "msgbufp->msg_magic", want: "0x63062", hex: true},
	{expr: "msgbufp->msg_size", want: "8192"},
	{expr: "msgbufp->msg_seqmod", want: "131072"},
	{expr: "msgbufp->msg_wseq", want: "12224"},
	{expr: "msgbufp->msg_ptr", want: "0xfffff80000800000", sub: true},
	{expr: "(*msgbufp).msg_size", want: "8192"},
	{expr: "sizeof(msgbufp->msg_ptr[0]@16)", want: "16"},
	{expr: "kdap_backing0.kb_magic", want: "0x6b646170", hex: true},
	{expr: "kdap_backing0.kb_generation", want: "3"},
	{expr: "kdap_backing0.kb_flags", want: "0x11", hex: true},
	{expr: "kdap_backing0.kb_cookie", want: "0xc0ffee", hex: true},
	{expr: "&kdap_backing0", want: "<kdap_backing0>", sub: true},
	{expr: "ostype", want: `"FreeBSD"`},
	{expr: "osrelease", want: `"14.1-RELEASE"`},
	{expr: "allproc.lh_first->p_pid", want: "806"},
	{expr: "allproc.lh_first->p_comm", want: `"sysctl"`},
	{expr: "allproc.lh_first->p_list.le_next->p_pid", want: "1"},
	{expr: "zombproc.lh_first->p_pid", want: "807"},
	{expr: "zombproc.lh_first->p_state", want: "PRS_ZOMBIE"},
	{expr: "(int)PRS_ZOMBIE", want: "2"},
	{expr: "proc0.p_pid", want: "0"},
	{expr: "proc0.p_comm", want: `"kernel"`},
	{expr: "thread0.td_tid", want: "100000"},
	{expr: "thread0.td_name", want: `"swapper"`},
	{expr: "thread0.td_proc == &proc0", want: "1"},
	{expr: "__pcpu[0].pc_curthread->td_tid", want: "100016"},
	{expr: "__pcpu[1].pc_curthread->td_tid", want: "100007"},
	{expr: "__pcpu[0].pc_idlethread->td_name", want: `"idle: cpu0"`},
	{expr: "__pcpu[1].pc_idlethread->td_name", want: `"idle: cpu1"`},
	{expr: "__pcpu[1].pc_cpuid", want: "1"},
	{expr: "cpuid_to_pcpu[1] == &__pcpu[1]", want: "1"},
	{expr: "panicstr", want: `"Assertion td->td_name[0] != '`, sub: true},
	{expr: "sizeof(struct pcb)", want: "320"},
	{expr: "sizeof(struct kdap_pair)", want: "24"},
	{expr: "sizeof(union kdap_word)", want: "8"},
	{expr: "sizeof(struct kdap_bits)", want: "4"},
	{expr: "sizeof(struct kdap_backing)", want: "32"},
	{expr: "sizeof(struct kdap_ctx)", want: "32"},
	{expr: "sizeof(kdap_handler_t *)", want: "8"},
	{expr: "sizeof(lwpid_t)", want: "4"},
	{expr: "KDAP_COLOR_GREEN", want: "KDAP_COLOR_GREEN"},
	{expr: "KDAP_COLOR_BLUE + 1", want: "8"},
	{expr: "(enum kdap_color)1", want: "KDAP_COLOR_GREEN"},
	{expr: "kdap_default_handler", want: "<kdap_default_handler>", sub: true},
	// ELF symbols without DWARF (assembly labels): gdb's int-typed
	// "data variable, no debug info". PML4[0] is 0 (identity map removed)
	// and the kernel image maps KERNBASE to physical 0.
	{expr: "boot_pml4", want: "0"},
	{expr: "sizeof(boot_pml4)", want: "4"},
	{expr: "*(unsigned long *)&boot_pml4", want: "0"},
	{expr: "(unsigned long)&boot_pml4 - 0xffffffff80000000 == KPML4phys", want: "1"},
	{expr: "(unsigned long)&kernbase", want: "0xffffffff80000000", hex: true},
	// Registers of the frame.
	{expr: "$pc == $rip", want: "1"},
	{expr: "$sp == $rsp", want: "1"},
	{expr: "$fp == $rbp", want: "1"},
	// Plain C.
	{expr: "1 + 2 * 3", want: "7"},
	{expr: "-5 / 2", want: "-2"},
	{expr: "7 % 3", want: "1"},
	{expr: "0x10 | 0x01", want: "17"},
	{expr: "~0", want: "-1"},
	{expr: "(unsigned int)-1", want: "4294967295"},
	{expr: "(unsigned char)300", want: "44 ','"},
	{expr: "10 > 3 && 2 < 1", want: "0"},
	{expr: "sizeof(long)", want: "8"},
	// Errors.
	{expr: "ctx.kc_td->td_nmae", err: "did you mean 'td_name'"},
	{expr: "no_such_variable_xyz", err: "unknown identifier 'no_such_variable_xyz'"},
	{expr: "*pair.kp_key", err: "int"},
	{expr: "*(int *)0x10", err: "cannot read memory at 0x10"},
	{expr: "pair.kp_key.x", err: "not a structure or union"},
	{expr: "pair->kp_key", err: "not a pointer"},
	{expr: "(struct no_such_tag *)0", err: "no_such_tag"},
	{expr: "$nosuchreg", err: "nosuchreg"},
	{expr: "$rax", err: "register rax is not available in frame"},
	{expr: "scratch + 1", err: "optimized out"},
	{expr: "arg2 + 1", err: "not available"},
}

func TestHandlerExpressions(t *testing.T) {
	eachVariant(t, "assert", func(t *testing.T, tg *target.Target, frames []unwind.Frame) {
		env, _ := frameEnv(t, tg, frames, "sysctl_kdap_handler")
		for _, c := range handlerCases {
			checkExpr(t, env, c)
		}
	})
}

// checkExpr evaluates one case and compares the result.
func checkExpr(t *testing.T, env *Env, c evalCase) {
	t.Helper()
	v, err := cexpr.Evaluate(env, c.expr)
	if c.err != "" {
		if err == nil {
			t.Errorf("%s = %s, want an error with %q", c.expr, Format(env, v, c.hex), c.err)
		} else if !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: error %q, want one with %q", c.expr, err, c.err)
		}
		return
	}
	if err != nil {
		t.Errorf("%s: %v", c.expr, err)
		return
	}
	got := Format(env, v, c.hex)
	if c.sub && !strings.Contains(got, c.want) || !c.sub && got != c.want {
		t.Errorf("%s = %s, want %s", c.expr, got, c.want)
	}
}

func TestHandlerFrameVars(t *testing.T) {
	// The same machine state read from every dump format of the fp
	// assert run.
	for _, file := range []string{"vmcore.mini", "vmcore.full", "vmcore.dumpdev"} {
		t.Run(file, func(t *testing.T) {
			tg := openFixture(t, "fp", "assert", file)
			_, frames := crashedFrames(t, tg)
			env, _ := frameEnv(t, tg, frames, "sysctl_kdap_handler")
			checkHandlerVars(t, env)
		})
	}
}

// checkHandlerVars checks the names, order and notes of the handler
// frame's variables and a few of their values.
func checkHandlerVars(t *testing.T, env *Env) {
	args, locals, err := FrameVars(env)
	if err != nil {
		t.Fatal(err)
	}
	names := func(vs []Var) string {
		var s []string
		for _, v := range vs {
			s = append(s, v.Name)
		}
		return strings.Join(s, " ")
	}
	// Declaration order in kern_kdap.c.
	if got, want := names(args), "oidp arg1 arg2 req"; got != want {
		t.Errorf("arguments %q, want %q", got, want)
	}
	if got, want := names(locals), "ctx pair word color bits primes label handler tdpp scratch error"; got != want {
		t.Errorf("locals %q, want %q", got, want)
	}
	notes := map[string]string{"scratch": "optimized out", "error": "optimized out", "arg1": "unavailable", "arg2": "unavailable"}
	values := map[string]string{
		"pair":   `{kp_key = 42, kp_val = -1234567890123, kp_name = `,
		"bits":   "{kb_ready = 1, kb_mode = 5, kb_count = 1000, kb_neg = -3}",
		"primes": "{2, 3, 5, 7, 11, 13}",
		"label":  `"kdap-label"`,
		"color":  "KDAP_COLOR_BLUE",
	}
	for _, v := range append(args, locals...) {
		if v.Err != nil {
			t.Errorf("%s: %v", v.Name, v.Err)
		}
		if v.Note != notes[v.Name] {
			t.Errorf("%s: note %q, want %q", v.Name, v.Note, notes[v.Name])
		}
		if want, ok := values[v.Name]; ok {
			if got := Format(env, v.Value, false); !strings.HasPrefix(got, want) {
				t.Errorf("%s = %s, want %s", v.Name, got, want)
			}
		}
	}
}

func TestRegistersAndGlobals(t *testing.T) {
	tg := openFixture(t, "fp", "assert", "vmcore.mini")
	th, frames := crashedFrames(t, tg)
	env0, err := NewFrameEnv(tg, frames, 0)
	if err != nil {
		t.Fatal(err)
	}
	rip, _ := th.Regs.Get(amd64.RIP)
	checkExpr(t, env0, evalCase{expr: "(unsigned long)$rip", want: fmt.Sprintf("%#x", rip), hex: true})
	checkExpr(t, env0, evalCase{expr: "$rip", want: "<doadump+", sub: true})

	g := NewGlobalEnv(tg)
	checkExpr(t, g, evalCase{expr: "$rip", err: "no frame"})
	checkExpr(t, g, evalCase{expr: "*msgbufp", want: "msg_magic = 405602", sub: true})
	checkExpr(t, g, evalCase{expr: "*msgbufp", want: "msg_size = 8192", sub: true})
	checkExpr(t, g, evalCase{expr: "pair", err: "unknown identifier"})

	// An artificial array over the message buffer's text matches an
	// independent read of the same bytes.
	v, err := cexpr.Evaluate(g, "msgbufp->msg_ptr[0]@16")
	if err != nil {
		t.Fatal(err)
	}
	if got := cexpr.TypeString(v.Type); got != "char [16]" {
		t.Errorf("type of msgbufp->msg_ptr[0]@16 is %q, want char [16]", got)
	}
	ptr, err := tg.SymbolValueU64("msgbufp")
	if err != nil {
		t.Fatal(err)
	}
	text, err := tg.ReadU64(ptr) // msg_ptr is the first member
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 16)
	if err := tg.ReadVirt(want, text); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 16)
	if err := g.ReadMemory(v.Addr, got); err != nil || !bytes.Equal(got, want) {
		t.Errorf("msg_ptr[0]@16 at %#x reads %q (%v), want %q", v.Addr, got, err, want)
	}

	// A thread structure through a cast of its address.
	ths, err := tg.Threads()
	if err != nil {
		t.Fatal(err)
	}
	for _, th := range ths {
		if th.TID != 100014 {
			continue
		}
		checkExpr(t, g, evalCase{expr: fmt.Sprintf("((struct thread *)%#x)->td_name", th.Addr), want: `"init"`})
		checkExpr(t, g, evalCase{expr: fmt.Sprintf("((struct thread *)%#x)->td_proc->p_pid", th.Addr), want: "1"})
	}
}

// TestInlinedFrame checks the frames of kdap_check_thread: the inlined
// kdap_thread_name_ok (its parameter td) and the physical frame around it.
func TestInlinedFrame(t *testing.T) {
	for _, file := range []string{"vmcore.mini", "vmcore.full"} {
		for _, variant := range []string{"fp", "nofp"} {
			t.Run(variant+"/"+file, func(t *testing.T) {
				tg := openFixture(t, variant, "assert", file)
				_, frames := crashedFrames(t, tg)
				inl, i := frameEnv(t, tg, frames, "kdap_thread_name_ok")
				if !frames[i].Inlined {
					t.Fatalf("frame %d (kdap_thread_name_ok) is not marked inlined", i)
				}
				args, locals, err := FrameVars(inl)
				if err != nil || len(args) != 1 || args[0].Name != "td" || len(locals) != 0 {
					t.Fatalf("inlined frame variables: %+v %+v %v, want the one parameter td", args, locals, err)
				}
				phys, _ := frameEnv(t, tg, frames, "kdap_check_thread")
				h, _ := frameEnv(t, tg, frames, "sysctl_kdap_handler")
				// td's location list (objdump --dwarf=loc) covers only
				// instructions before the MPASS test; at the call to panic it
				// has no location.
				want := Format(h, mustEval(t, h, "ctx.kc_td"), true)
				for _, c := range []evalCase{
					{expr: "td", want: "<optimized out>"},
					{expr: "td->td_tid", err: "optimized out"},
				} {
					checkExpr(t, inl, c)
				}
				checkExpr(t, phys, evalCase{expr: "ctx->kc_depth", want: "3"})
				checkExpr(t, phys, evalCase{expr: "ctx->kc_td", want: want, hex: true})
			})
		}
	}
}

func mustEval(t *testing.T, env *Env, expr string) cexpr.Value {
	t.Helper()
	v, err := cexpr.Evaluate(env, expr)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

func TestFrameEnvErrors(t *testing.T) {
	tg := openFixture(t, "fp", "trap", "vmcore.mini")
	_, frames := crashedFrames(t, tg)
	if _, err := NewFrameEnv(tg, frames, len(frames)); err == nil {
		t.Errorf("frame %d of %d: no error", len(frames), len(frames))
	}
	for i, f := range frames {
		if f.Kind == unwind.KindTrap {
			if _, err := NewFrameEnv(tg, frames, i); err == nil || !strings.Contains(err.Error(), "trap marker") {
				t.Errorf("trap marker frame %d: %v", i, err)
			}
			return
		}
	}
}

// TestEntryValuesThroughCallSites checks parameters whose location at the
// pc is DW_OP_entry_value of an argument register: the caller's
// DW_TAG_call_site_parameter gives them. userland_sysctl calls
// sysctl_root(NULL, name, namelen, &req), and kdap_user_start's syscall
// arguments are { kdap_sysctl_mib, 3, ... } (amd64/amd64/trap.c), whose
// mib is {6, 0x3e8, 1, 0}.
func TestEntryValuesThroughCallSites(t *testing.T) {
	eachVariant(t, "assert", func(t *testing.T, tg *target.Target, frames []unwind.Frame) {
		root, _ := frameEnv(t, tg, frames, "sysctl_root")
		for _, c := range []evalCase{
			{expr: "oidp", want: "0x0"},
			{expr: "arg1", want: "<kdap_sysctl_mib>", sub: true},
			{expr: "arg2", want: "3"},
			{expr: "((int *)arg1)[1]", want: "1000"},
			{expr: "req->td->td_tid", want: "100016"},
		} {
			checkExpr(t, root, c)
		}
		us, _ := frameEnv(t, tg, frames, "userland_sysctl")
		checkExpr(t, us, evalCase{expr: "namelen", want: "3"})
		checkExpr(t, us, evalCase{expr: "name[0]", want: "6"})
		checkExpr(t, us, evalCase{expr: "req.td == td", want: "1"})
	})
}

// TestWithoutDWARF evaluates with the ELF symbol table only: variables are
// gdb's int-typed "data variable, no debug info".
func TestWithoutDWARF(t *testing.T) {
	kernel := testfixture.Path(t, "fbsdkern/fixtures/fp/kernel.debug")
	core := testfixture.Path(t, "fbsdkern/fixtures/fp/assert/vmcore.mini")
	tg, err := target.Open(core, kernel, target.Options{NoDWARF: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { Forget(tg); tg.Close() }()
	env := NewGlobalEnv(tg)
	for _, c := range []evalCase{
		{expr: "hz", want: "1000"},
		{expr: "mp_ncpus", want: "2"},
		{expr: "sizeof(hz)", want: "4"},
		// struct msgbuf as ints: msg_ptr in [0] and [1], msg_magic, msg_size.
		{expr: "((int *)*(long *)&msgbufp)[2]", want: "405602"},
		{expr: "((int *)*(long *)&msgbufp)[3]", want: "8192"},
		{expr: "&kdap_default_handler", want: "<kdap_default_handler>", sub: true},
		{expr: "sizeof(struct pcb)", err: "pcb"},
		{expr: "KDAP_COLOR_BLUE", err: "unknown identifier"},
	} {
		checkExpr(t, env, c)
	}
	if got := cexpr.TypeString(mustEval(t, env, "hz").Type); got != "<data variable, no debug info>" {
		t.Errorf("hz has type %q without DWARF", got)
	}
}

// TestConcurrentEnvs evaluates in several Envs of one target at once; the
// shared type cache must hold (run with -race).
func TestConcurrentEnvs(t *testing.T) {
	tg := openFixture(t, "fp", "assert", "vmcore.mini")
	_, frames := crashedFrames(t, tg)
	_, idx := frameEnv(t, tg, frames, "sysctl_kdap_handler")
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			env, err := NewFrameEnv(tg, frames, idx)
			if err == nil {
				var v cexpr.Value
				if v, err = cexpr.Evaluate(env, "ctx.kc_td->td_proc == 0 && pair.kp_key == 42 && sizeof(struct thread) > 0"); err == nil {
					if got := Format(env, v, false); got != "1" {
						err = fmt.Errorf("got %s, want 1", got)
					}
				}
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
