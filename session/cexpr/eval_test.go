package cexpr

import (
	"fmt"
	"strings"
	"testing"
)

// evalCase is one expression with the printed value or the error expected.
// Expected values are worked out by hand from C's rules and the bytes
// newTestEnv writes.
type evalCase struct {
	expr string
	want string // formatted value; empty when err is set
	err  string // expected error text (exact)
	hex  bool
}

var evalCases = []evalCase{
	// Integer arithmetic, C rules on LP64.
	{expr: "1 + 2 * 3", want: "7"},
	{expr: "(1 + 2) * 3", want: "9"},
	{expr: "10 - 4 - 3", want: "3"},
	{expr: "-7 / 2", want: "-3"},
	{expr: "-7 % 2", want: "-1"},
	{expr: "7 / -2", want: "-3"},
	{expr: "7 % -2", want: "1"},
	{expr: "1u - 2", want: "4294967295"},
	{expr: "1ul - 2", want: "18446744073709551615"},
	{expr: "(char)300", want: "44 ','"},
	{expr: "(char)65", want: "65 'A'"},
	{expr: "(unsigned char)-1", want: `255 '\377'`},
	{expr: "(signed char)200", want: `-56 '\310'`},
	{expr: "(short)65535", want: "-1"},
	{expr: "(unsigned short)-1", want: "65535"},
	{expr: "-1 >> 3", want: "-1"},
	{expr: "-16 >> 2", want: "-4"},
	{expr: "0xff >> 4", want: "15"},
	{expr: "1 << 31", want: "-2147483648"},
	{expr: "1u << 31", want: "2147483648"},
	{expr: "1L << 40", want: "1099511627776"},
	{expr: "1 << 32", err: "1:3: shift count 32 is out of range for type 'int' (0..31)"},
	{expr: "1 << -1", err: "1:3: shift count -1 is out of range for type 'int' (0..31)"},
	{expr: "0x7fffffff + 1", want: "-2147483648"},
	{expr: "2147483647 + 1", want: "-2147483648"},
	{expr: "2147483648", want: "2147483648"},
	{expr: "0xffffffff", want: "4294967295"},
	{expr: "0xffffffff + 1", want: "0"},
	{expr: "sizeof(0xffffffff)", want: "4"},
	{expr: "sizeof(2147483648)", want: "8"},
	{expr: "sizeof(4294967296)", want: "8"},
	{expr: "sizeof 1", want: "4"},
	{expr: "sizeof 1L", want: "8"},
	{expr: "0b1010", want: "10"},
	{expr: "017", want: "15"},
	{expr: "0x10", want: "16"},
	{expr: "10ull", want: "10"},
	{expr: "!0", want: "1"},
	{expr: "!5", want: "0"},
	{expr: "~0", want: "-1"},
	{expr: "~0u", want: "4294967295"},
	{expr: "-(-3)", want: "3"},
	{expr: "+5", want: "5"},
	{expr: "- -5", want: "5"},
	{expr: "5 > 3", want: "1"},
	{expr: "-1 < 0", want: "1"},
	{expr: "-1 < 0u", want: "0"},
	{expr: "-1L < 0u", want: "1"},
	{expr: "3 == 3", want: "1"},
	{expr: "3 != 3", want: "0"},
	{expr: "2 <= 2", want: "1"},
	{expr: "2 >= 3", want: "0"},
	{expr: "6 & 3", want: "2"},
	{expr: "6 | 3", want: "7"},
	{expr: "6 ^ 3", want: "5"},
	{expr: "1 | 2 ^ 3 & 4", want: "3"},
	{expr: "1 && 0", want: "0"},
	{expr: "1 || 0", want: "1"},
	{expr: "2 && 3", want: "1"},
	{expr: "0 && 1 / 0", want: "0"},
	{expr: "1 || *(int *)0", want: "1"},
	{expr: "1 ? 2 : 3", want: "2"},
	{expr: "0 ? 2 : 3", want: "3"},
	{expr: "1 ? -1 : 0u", want: "4294967295"},
	{expr: "0 ? 1 : 2 ? 3 : 4", want: "3"},
	{expr: "1 / 0", err: "1:3: division by zero"},
	{expr: "5 % 0", err: "1:3: division by zero"},
	{expr: "sizeof(1 / 0)", want: "4"},
	{expr: "-1 / 0u", err: "1:4: division by zero"},
	// Characters and strings.
	{expr: "'A'", want: "65 'A'"},
	{expr: `'\n'`, want: `10 '\n'`},
	{expr: `'\x41'`, want: "65 'A'"},
	{expr: `'\0'`, want: `0 '\000'`},
	{expr: `'\377'`, want: `-1 '\377'`},
	{expr: `'\''`, want: `39 '\''`},
	{expr: "'a' + 1", want: "98"},
	{expr: `"abc"`, want: `"abc"`},
	{expr: `sizeof("abc")`, want: "4"},
	{expr: `"abc"[1]`, want: "98 'b'"},
	{expr: `"ab" "cd"`, want: `"abcd"`},
	{expr: `"abc"[3]`, want: `0 '\000'`},
	{expr: `"abc"[4]`, err: "1:6: index 4 is outside the array of type 'char [4]'"},
	// Floating point.
	{expr: "1.5 + 1", want: "2.5"},
	{expr: "dbl * 2", want: "5"},
	{expr: "(int)dbl", want: "2"},
	{expr: "dbl > 2", want: "1"},
	{expr: "(double)7 / 2", want: "3.5"},
	{expr: "-dbl", want: "-2.5"},
	{expr: "5 % 2.0", err: "1:3: invalid operands to binary '%' (have 'int' and 'double')"},
	// Sizes of types (LP64, and the layouts of the test structs).
	{expr: "sizeof(long)", want: "8"},
	{expr: "sizeof(int)", want: "4"},
	{expr: "sizeof(char)", want: "1"},
	{expr: "sizeof(short int)", want: "2"},
	{expr: "sizeof(long long)", want: "8"},
	{expr: "sizeof(unsigned long long int)", want: "8"},
	{expr: "sizeof(long double)", want: "16"},
	{expr: "sizeof(_Bool)", want: "1"},
	{expr: "sizeof(struct proc)", want: "88"},
	{expr: "sizeof(struct thread)", want: "112"},
	{expr: "sizeof(struct pcb)", want: "64"},
	{expr: "sizeof(struct thread *)", want: "8"},
	{expr: "sizeof(char [20])", want: "20"},
	{expr: "sizeof(int *[3])", want: "24"},
	{expr: "sizeof(int (*)[3])", want: "8"},
	{expr: "sizeof(long [2][3])", want: "48"},
	{expr: "sizeof(lwpid_t)", want: "4"},
	{expr: "sizeof(struct proc) * 2", want: "176"},
	{expr: "sizeof td->td_name", want: "20"},
	{expr: "sizeof(td->td_arr) / sizeof(td->td_arr[0])", want: "4"},
	{expr: "sizeof(*nullp)", want: "88"},
	{expr: "sizeof(struct mtx)", err: "1:1: invalid application of 'sizeof' to incomplete type 'struct mtx'"},
	{expr: "sizeof(void)", err: "1:1: invalid application of 'sizeof' to type 'void'"},
	{expr: "sizeof(loop_t)", err: "1:1: invalid application of 'sizeof' to malformed type 'loop_t'"},
	{expr: "sizeof(proc0.p_f1)", err: "1:1: invalid application of 'sizeof' to a bitfield"},
	// Globals, arrays, pointer arithmetic.
	{expr: "counter", want: "42"},
	{expr: "counter * 2 + 1", want: "85"},
	{expr: "&counter", want: "0xffffffff81d40200 <counter>"},
	{expr: "*&counter", want: "42"},
	{expr: "arr", want: "{10, 20, 30, 40, 50}"},
	{expr: "arr[2]", want: "30"},
	{expr: "2[arr]", want: "30"},
	{expr: "*(arr + 3)", want: "40"},
	{expr: "*arr", want: "10"},
	{expr: "&arr[1] - &arr[0]", want: "1"},
	{expr: "&arr[4] - arr", want: "4"},
	{expr: "(char *)&arr[1] - (char *)arr", want: "4"},
	{expr: "&arr[1]", want: "0xffffffff81d40214 <arr+4>"},
	{expr: "arr + 1 == &arr[1]", want: "1"},
	{expr: "(int)(long)&arr[1] & 0xfff", want: "532"},
	{expr: "arr[1]@3", want: "{20, 30, 40}"},
	{expr: "arr[0]@2+1", want: "{10, 20, 30}"},
	{expr: "sizeof(arr[0]@3)", want: "12"},
	{expr: "counter@2", want: "{42, 0}"},
	{expr: "arr[0]@0", err: "1:8: the right operand of '@' must be positive, got 0"},
	{expr: "arr[0]@-1", err: "1:8: the right operand of '@' must be positive, got -1"},
	{expr: "arr[0]@2000000", err: "1:8: the right operand of '@' is 2000000, more than the limit of 1048576 elements"},
	{expr: "1@2", err: "1:2: the left operand of '@' must be an object in memory"},
	{expr: "neg", want: "-5"},
	{expr: "neg / 2", want: "-2"},
	{expr: "neg >> 1", want: "-3"},
	{expr: "(unsigned)neg", want: "4294967291"},
	{expr: "neg < 0u", want: "0"},
	{expr: "big", want: "18446744073709551615"},
	{expr: "big + 1", want: "0"},
	{expr: "(long)big", want: "-1"},
	{expr: "(int)big", want: "-1"},
	{expr: "big", want: "0xffffffffffffffff", hex: true},
	{expr: "uc", want: `200 '\310'`},
	{expr: "uc + 1", want: "201"},
	{expr: "sc", want: `-3 '\375'`},
	{expr: "sc * 2", want: "-6"},
	{expr: "flag", want: "true"},
	{expr: "!flag", want: "0"},
	{expr: "(_Bool)5", want: "true"},
	{expr: "(_Bool)0", want: "false"},
	{expr: "(lwpid_t)5", want: "5"},
	{expr: "(vm_offset_t)-1", want: "18446744073709551615"},
	{expr: "(u_char)65", want: "65 'A'"},
	{expr: "(const char *)0", want: "0x0"},
	// Structs, unions, enums, bitfields through pointers and typedefs.
	{expr: "td->td_proc->p_comm", want: `"kernel"`},
	{expr: "td->td_name", want: `"swapper"`},
	{expr: "td->td_tid", want: "100000"},
	{expr: "td->td_pri", want: "84 'T'"},
	{expr: "td->td_short", want: "-2"},
	{expr: "td->td_arr", want: "{1, -2, 3, 4}"},
	{expr: "td->td_arr[1] * td->td_arr[2]", want: "-6"},
	{expr: "td->td_proc", want: "0xffffffff81d43950 <proc0>"},
	{expr: "td->td_proc->p_pid", want: "0"},
	{expr: "((struct thread *)0xfffff8000336e000)->td_name", want: `"swapper"`},
	{expr: "(*td).td_tid", want: "100000"},
	{expr: "td.td_tid", want: "100000"},
	{expr: "allproc.lh_first->p_pid", want: "0"},
	{expr: "allproc.lh_first->p_list.le_next->p_pid", want: "1"},
	{expr: "allproc.lh_first->p_list.le_next->p_comm", want: `"init"`},
	{expr: "proc0.p_state", want: "PRS_NORMAL"},
	{expr: "allproc.lh_first->p_list.le_next->p_state", want: "PRS_ZOMBIE"},
	{expr: "proc0.p_state == PRS_NORMAL", want: "1"},
	{expr: "PRS_ZOMBIE", want: "PRS_ZOMBIE"},
	{expr: "PRS_ZOMBIE + 1", want: "3"},
	{expr: "(enum p_states)2", want: "PRS_ZOMBIE"},
	{expr: "(enum p_states)7", want: "7"},
	{expr: "proc0.p_fl", want: "P_A | P_C"},
	{expr: "allproc.lh_first->p_list.le_next->p_fl", want: "8"},
	{expr: "proc0.p_xa", want: "-2"},
	{expr: "proc0.p_xb", want: "-2"},
	{expr: "proc0.p_f1", want: "5"},
	{expr: "proc0.p_f2", want: "-3"},
	{expr: "proc0.p_f3", want: "1193046"},
	{expr: "proc0.p_f2 * 2", want: "-6"},
	{expr: "proc0.p_f1 - 6", want: "-1"},
	{expr: "&proc0.p_f1", err: "1:1: cannot take the address of a bitfield"},
	{expr: "proc0.p_flag", want: "0x10000200", hex: true},
	{expr: "&proc0", want: "0xffffffff81d43950 <proc0>"},
	{expr: "&proc0.p_comm", want: "0xffffffff81d4397c <proc0+44>"},
	{expr: "&td->td_name[0]", want: `0xfffff8000336e01c "swapper"`},
	{expr: "td->td_name + 3", want: `0xfffff8000336e01f "pper"`},
	{expr: "(const char *)td->td_name", want: `0xfffff8000336e01c "swapper"`},
	{expr: "(unsigned long)td", want: "0xfffff8000336e000", hex: true},
	{expr: "(struct proc **)&td->td_proc", want: "0xfffff8000336e000"},
	{expr: "td->td_proc == &proc0", want: "1"},
	{expr: "td->td_proc != 0", want: "1"},
	{expr: "!nullp", want: "1"},
	{expr: "td->td_proc->p_threads.tqh_first == td", want: "1"},
	{expr: "*td->td_plist.tqe_prev == td", want: "1"},
	{expr: "*msgbufp", want: `{msg_ptr = 0xfffff80000200000 "Hello, kernel!\n", msg_magic = 405602, msg_size = 4096, msg_wseq = 15, msg_rseq = 0, msg_cksum = 0, msg_seqmod = 0, msg_lastpri = -1, msg_flags = 0}`},
	{expr: "msgbufp->msg_ptr[0]@5", want: `"Hello"`},
	{expr: "msgbufp->msg_ptr", want: `0xfffff80000200000 "Hello, kernel!\n"`},
	{expr: "msgbufp->msg_magic", want: "0x63062", hex: true},
	{expr: "*msgbufp->msg_ptr", want: "72 'H'"},
	{expr: "td->td_pcb->pcb_rip", want: "-2135949280"},
	{expr: "td->td_pcb->pcb_rip", want: "0xffffffff80b00020", hex: true},
	{expr: "(void *)td->td_pcb->pcb_rip", want: "0xffffffff80b00020 <panic+32>"},
	{expr: "td->td_fn", want: "0xffffffff80c00000 <sched_idle>"},
	{expr: "panic", want: "0xffffffff80b00000 <panic>"},
	{expr: "&panic", want: "0xffffffff80b00000 <panic>"},
	{expr: "*panic", want: "0xffffffff80b00000 <panic>"},
	{expr: "strs", want: `{0xfffff80000200000 "Hello, kernel!\n", 0x0}`},
	{expr: "strs[1]", want: "0x0"},
	{expr: "proc0", want: `{p_list = {le_next = 0xfffff80003a4e000, le_prev = 0xffffffff81d40100 <allproc>}, p_threads = {tqh_first = 0xfffff8000336e000, tqh_last = 0xfffff8000336e008}, p_pid = 0, p_state = PRS_NORMAL, p_flag = 268435968, p_comm = "kernel", {p_xa = -2, p_xb = -2}, p_f1 = 5, p_f2 = -3, p_f3 = 1193046, p_fl = P_A | P_C, p_stats = 0x0}`},
	{expr: "vp", want: "0xffffffff81d43950 <proc0>"},
	{expr: "vp + 1", want: "0xffffffff81d43951 <proc0+1>"},
	{expr: "((struct proc *)vp)->p_pid", want: "0"},
	{expr: "*vp", err: "1:1: cannot dereference a pointer to void ('void *'); cast it first"},
	// Registers, locals, markers.
	{expr: "$rip", want: "0xffffffff80b00010 <panic+16>"},
	{expr: "$rsp", want: "0xfffffe0000b00e00"},
	{expr: "$eflags & 0x200", want: "512"},
	{expr: "(unsigned long)$rip - (unsigned long)panic", want: "16"},
	{expr: "$foo", err: "1:1: unknown register or convenience variable '$foo'"},
	{expr: "&$rsp", err: "1:1: cannot take the address of a value in register 'rsp'"},
	{expr: "i", want: "3"},
	{expr: "&i", err: "1:1: cannot take the address of a value in register 'rbx'"},
	{expr: "gone", want: "<optimized out>"},
	{expr: "lost", want: "<unavailable>"},
	{expr: "gone + 1", err: "1:1: value has been optimized out"},
	// Errors.
	{expr: "nullp", want: "0x0"},
	{expr: "nullp->p_pid", err: "1:8: cannot read memory at 0x20: address 0x20 not in dump"},
	{expr: "*nullp", err: "1:1: cannot read memory at 0x0: address 0x0 not in dump"},
	{expr: "badp->p_comm", err: "1:7: cannot read memory at 0xdead00000000002c: address 0xdead00000000002c not in dump"},
	{expr: "*counter", err: "1:1: cannot dereference a non-pointer value of type 'int'"},
	{expr: "td->td_nmae", err: "1:5: no member named 'td_nmae' in 'struct thread' (did you mean 'td_name'?)"},
	{expr: "proc0.p_xc", err: "1:7: no member named 'p_xc' in 'struct proc' (did you mean 'p_xa'?)"},
	{expr: "td->zzzzzz", err: "1:5: no member named 'zzzzzz' in 'struct thread'"},
	{expr: "mtxp->mtx_lock", err: "1:7: 'struct mtx' is an incomplete type (only declared, no members known)"},
	{expr: "foo", err: "1:1: unknown identifier 'foo'"},
	{expr: "counter + foo", err: "1:11: unknown identifier 'foo'"},
	{expr: "counter.x", err: "1:9: member reference base type 'int' is not a structure or union"},
	{expr: "proc0->p_pid", err: "1:8: member reference type 'struct proc' is not a pointer; use '.' instead of '->'"},
	{expr: "counter[1]", err: "1:8: subscripted value of type 'int' is not an array or pointer"},
	{expr: "arr[td]", err: "1:5: array subscript has type 'struct thread *', an integer is needed"},
	{expr: "(struct nosuch *)0", err: "1:2: unknown type 'struct nosuch'"},
	{expr: "(struct proc)counter", err: "1:1: cannot cast a value of type 'int' to 'struct proc'"},
	{expr: "(int)proc0", err: "1:1: cannot cast a value of type 'struct proc' to 'int'"},
	{expr: "td + td", err: "1:4: invalid operands to binary '+' (have 'struct thread *' and 'struct thread *')"},
	{expr: "td - (struct proc *)0", err: "1:4: cannot subtract pointers to types of different sizes ('struct thread *' and 'struct proc *')"},
	{expr: "proc0 + 1", err: "1:7: invalid operands to binary '+' (have 'struct proc' and 'int')"},
	{expr: "-proc0", err: "1:1: invalid operand of type 'struct proc' to unary '-'"},
	{expr: "proc0 && 1", err: "1:1: a scalar is needed here, not a value of type 'struct proc'"},
	{expr: "mtxp + 1", err: "1:6: arithmetic on a pointer to incomplete type 'struct mtx'"},
	// Syntax errors.
	{expr: "(counter", err: "syntax error: expected ')' at column 9"},
	{expr: "counter +", err: "syntax error: expected an expression, found end of expression at column 10"},
	{expr: "counter = 1", err: "syntax error: assignment '=' is not supported: a crash dump is read-only at column 9"},
	{expr: "counter++", err: "syntax error: '++' is not supported: a crash dump is read-only at column 8"},
	{expr: "panic(1)", err: "syntax error: function calls are not supported: a crash dump cannot run code at column 6"},
	{expr: "(void (*)(void))panic", err: "syntax error: function pointer casts are not supported at column 10"},
	{expr: "lwpid_t", err: "syntax error: 'lwpid_t' is a type, not a value (a cast needs parentheses) at column 1"},
	{expr: "1 2", err: "syntax error: unexpected '2', expected end of expression at column 3"},
	{expr: "td->", err: "syntax error: expected a member name after '->' at column 5"},
	{expr: "(unsigned signed)1", err: "syntax error: both 'signed' and 'unsigned' in 'unsigned signed' at column 2"},
	{expr: "0x", err: "syntax error: invalid number \"0x\": no digits at column 1"},
	{expr: "09", err: "syntax error: invalid number \"09\": not a base-8 integer at column 1"},
	{expr: "99999999999999999999", err: "syntax error: invalid number \"99999999999999999999\": too large for any integer type at column 1"},
	{expr: "1zz", err: "syntax error: invalid number \"1zz\": unknown suffix \"zz\" at column 1"},
	{expr: "'ab'", err: "syntax error: unterminated character constant (expected ') at column 1"},
	{expr: `"abc`, err: `syntax error: unterminated string literal (expected ") at column 1`},
	{expr: "a # b", err: "syntax error: unexpected character '#' at column 3"},
	{expr: "$", err: "syntax error: expected a register or variable name after '$' at column 1"},
}

func TestEval(t *testing.T) {
	if len(evalCases) < 100 {
		t.Fatalf("only %d cases", len(evalCases))
	}
	for _, tc := range evalCases {
		t.Run(tc.expr, func(t *testing.T) {
			env := newTestEnv()
			v, err := Evaluate(env, tc.expr)
			if tc.err != "" {
				if err == nil {
					t.Fatalf("Evaluate(%q) = %s, want error %q", tc.expr, Format(env, v, FormatOptions{}), tc.err)
				}
				if err.Error() != tc.err {
					t.Fatalf("Evaluate(%q) error\n got: %s\nwant: %s", tc.expr, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Evaluate(%q): %v", tc.expr, err)
			}
			got := Format(env, v, FormatOptions{Hex: tc.hex})
			if got != tc.want {
				t.Fatalf("Evaluate(%q)\n got: %s\nwant: %s", tc.expr, got, tc.want)
			}
		})
	}
}

// TestTypes checks the type each expression gets, spelled as C spells it.
func TestTypes(t *testing.T) {
	cases := []struct{ expr, want string }{
		{"1", "int"},
		{"1u", "unsigned int"},
		{"1l", "long"},
		{"1ull", "unsigned long long"},
		{"0x80000000", "unsigned int"},
		{"2147483648", "long"},
		{"0xffffffffffffffff", "unsigned long"},
		{"'a'", "char"},
		{"'a' + 'b'", "int"},
		{"uc + uc", "int"},
		{"1u + 1L", "long"},
		{"1u + 1", "unsigned int"},
		{"1ul + 1", "unsigned long"},
		{"1.0", "double"},
		{"sizeof(int)", "unsigned long"},
		{"&td", "struct thread **"},
		{"td->td_tid", "lwpid_t"},
		{"td->td_name", "char [20]"},
		{"&td->td_name", "char (*)[20]"},
		{"td->td_name + 0", "char *"},
		{"&td->td_arr[1] - td->td_arr", "long"},
		{"(struct proc **)0", "struct proc **"},
		{"(const char *)0", "const char *"},
		{"(char * const)0", "char * const"},
		{"(int *[3])0", ""},
		{"(long int)1", "long"},
		{"(unsigned)1", "unsigned int"},
		{"(long unsigned int)1", "unsigned long"},
		{"arr[0]@3", "int [3]"},
		{"td->td_fn", "void (*)()"},
		{"$rip", "void (*)()"},
		{"strs", "char *[2]"},
		{"proc0.p_state", "enum p_states"},
		{"*panic", "void ()"},
		{"1 ? 1 : 1L", "long"},
		{"1 == 1", "int"},
		{"(void)counter", "void"},
	}
	for _, tc := range cases {
		env := newTestEnv()
		n, err := Parse(tc.expr, TypeNameFunc(env))
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.expr, err)
			continue
		}
		typ, err := TypeOf(env, n)
		if tc.want == "" {
			if err == nil {
				t.Errorf("TypeOf(%q) = %s, want an error", tc.expr, typ)
			}
			continue
		}
		if err != nil {
			t.Errorf("TypeOf(%q): %v", tc.expr, err)
			continue
		}
		if got := TypeString(typ); got != tc.want {
			t.Errorf("TypeOf(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

// TestSizeofDoesNotRead checks that sizeof and the untaken arm of ?: read
// no memory, as C does not evaluate them.
func TestSizeofDoesNotRead(t *testing.T) {
	for _, expr := range []string{"sizeof(*badp)", "sizeof(badp->p_comm)", "sizeof badp->p_list.le_next->p_pid", "sizeof(1 ? 2 : *badp->p_comm)"} {
		env := newTestEnv()
		n, err := Parse(expr, TypeNameFunc(env))
		if err != nil {
			t.Fatalf("Parse(%q): %v", expr, err)
		}
		if _, err := Eval(env, n); err != nil {
			t.Errorf("Eval(%q): %v", expr, err)
		}
		if env.reads != 0 {
			t.Errorf("Eval(%q) read memory %d times, want 0", expr, env.reads)
		}
	}
}

func TestFormatOptions(t *testing.T) {
	env := newTestEnv()
	cases := []struct {
		expr string
		opts FormatOptions
		want string
	}{
		{"*td", FormatOptions{MaxDepth: 1}, `{td_proc = 0xffffffff81d43950 <proc0>, td_plist = {...}, td_tid = 100000, td_name = "swapper", td_pri = 84 'T', td_pcb = 0xfffffe0000a00000, td_short = -2, td_arr = {...}, td_fn = 0xffffffff80c00000 <sched_idle>}`},
		{"arr", FormatOptions{MaxElements: 3}, "{10, 20, 30...}"},
		{"arr", FormatOptions{Hex: true}, "{0xa, 0x14, 0x1e, 0x28, 0x32}"},
		{"td->td_name", FormatOptions{MaxString: 4}, `"swap"...`},
		{"msgbufp->msg_ptr", FormatOptions{MaxString: 5}, `0xfffff80000200000 "Hello"...`},
		{"td->td_short", FormatOptions{Hex: true}, "0xfffe"},
		{"'A'", FormatOptions{Hex: true}, "0x41"},
	}
	for _, tc := range cases {
		v, err := Evaluate(env, tc.expr)
		if err != nil {
			t.Fatalf("Evaluate(%q): %v", tc.expr, err)
		}
		if got := Format(env, v, tc.opts); got != tc.want {
			t.Errorf("Format(%q, %+v)\n got: %s\nwant: %s", tc.expr, tc.opts, got, tc.want)
		}
	}
}

// TestFormatUnreadable checks that memory errors inside a value print in
// place instead of failing the whole value.
func TestFormatUnreadable(t *testing.T) {
	env := newTestEnv()
	p := &Type{Kind: Struct, Name: "s", Size: 16, Members: []Member{
		{Name: "ok", Type: TypeInt},
		{Name: "s", Offset: 8, Type: PointerTo(TypeChar)},
	}}
	b := make([]byte, 16)
	put32(b, 0, 7)
	put64(b, 8, 0xdead000000000000)
	got := Format(env, Value{Type: p, Bytes: b}, FormatOptions{})
	want := "{ok = 7, s = 0xdead000000000000 <error: cannot read memory at 0xdead000000000000>}"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	got = Format(env, Value{Type: TypeInt, Addr: 0x10, HasAddr: true}, FormatOptions{})
	if want := "<error: cannot read memory at 0x10>"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestErrorColumnType(t *testing.T) {
	env := newTestEnv()
	_, err := Evaluate(env, "counter + foo")
	e, ok := err.(*Error)
	if !ok || e.Col != 11 || e.Syntax {
		t.Fatalf("error %#v, want *Error at column 11", err)
	}
	_, err = Evaluate(env, "nullp->p_pid")
	var me *Error
	if !strings.Contains(err.Error(), "0x20") {
		t.Fatalf("error %v does not name the address", err)
	}
	me = err.(*Error)
	if me.Unwrap() == nil {
		t.Fatalf("memory error %v does not wrap the environment's error", err)
	}
}

// ilp32Cases are evaluated against newTestEnv32, an i386 kernel: long
// and pointers are 4 bytes, long long 8.
var ilp32Cases = []evalCase{
	// Sizes.
	{expr: "sizeof(long)", want: "4"},
	{expr: "sizeof(unsigned long)", want: "4"},
	{expr: "sizeof(long int)", want: "4"},
	{expr: "sizeof(long long)", want: "8"},
	{expr: "sizeof(unsigned long long int)", want: "8"},
	{expr: "sizeof(int)", want: "4"},
	{expr: "sizeof(void *)", want: "4"},
	{expr: "sizeof(char **)", want: "4"},
	{expr: "sizeof(struct proc32 *)", want: "4"},
	{expr: "sizeof(int *[3])", want: "12"},
	{expr: "sizeof(int (*)[3])", want: "4"},
	{expr: "sizeof(long [2][3])", want: "24"},
	{expr: "sizeof(size_t)", want: "4"},
	{expr: "sizeof(sizeof(int))", want: "4"},
	{expr: "sizeof 1L", want: "4"},
	{expr: "sizeof 1LL", want: "8"},
	{expr: "sizeof(&counter)", want: "4"},
	{expr: "sizeof(arr + 0)", want: "4"},
	{expr: "sizeof(&arr[1] - &arr[0])", want: "4"},
	{expr: "sizeof(p32)", want: "4"},
	{expr: "sizeof($eip)", want: "4"},
	{expr: "sizeof(0x80000000)", want: "4"},
	{expr: "sizeof(0x100000000)", want: "8"},
	{expr: "sizeof(2147483648)", want: "8"},
	// Literals and arithmetic in 32-bit long.
	{expr: "0x80000000", want: "2147483648"},
	{expr: "0x80000000 + 0", want: "2147483648"},
	{expr: "0x100000000", want: "4294967296"},
	{expr: "2147483648", want: "2147483648"},
	{expr: "0xffffffff + 1", want: "0"},
	{expr: "2147483647L + 1", want: "-2147483648"},
	{expr: "1L << 31", want: "-2147483648"},
	{expr: "1L << 32", err: "1:4: shift count 32 is out of range for type 'long' (0..31)"},
	{expr: "1LL << 32", want: "4294967296"},
	{expr: "1UL - 2", want: "4294967295"},
	{expr: "-1L < 0u", want: "0"}, // long and unsigned int meet as unsigned long
	{expr: "-1LL < 0u", want: "1"},
	{expr: "lng", want: "-5"},
	{expr: "lng * 2", want: "-10"},
	{expr: "lng / 2", want: "-2"},
	{expr: "ul", want: "4294967295"},
	{expr: "ul", want: "0xffffffff", hex: true},
	{expr: "ul + 1", want: "0"},
	{expr: "lng + ul", want: "4294967290"},
	{expr: "llg", want: "4294967296"},
	{expr: "llg + lng", want: "4294967291"},
	{expr: "1 ? -1 : 0UL", want: "4294967295"},
	{expr: "ldbl", want: "2.5"},
	{expr: "ldbl * 2", want: "5"},
	// Casts truncate to 32 bits.
	{expr: "(long)-1", want: "-1"},
	{expr: "(long)-1", want: "0xffffffff", hex: true},
	{expr: "(unsigned long)-1", want: "4294967295"},
	{expr: "(size_t)-1", want: "4294967295"},
	{expr: "(long)0x123456789", want: "591751049"},
	{expr: "(unsigned long)0x1ffffffffLL", want: "4294967295"},
	{expr: "(long)4294967295U", want: "-1"},
	{expr: "(long long)(long)-1", want: "-1"},
	{expr: "(unsigned long long)(unsigned long)-1", want: "4294967295"},
	{expr: "(char *)0x123456789", want: "0x23456789 <error: cannot read memory at 0x23456789>"},
	{expr: "(void *)-1", want: "0xffffffff"},
	{expr: "(long)p32", want: "-1056964352"},
	{expr: "(unsigned long)p32", want: "0xc1000100", hex: true},
	{expr: "(long long)(unsigned long)p32", want: "3238002944"},
	{expr: "(int)(long)&arr[1] & 0xfff", want: "32"},
	// Pointer arithmetic wraps at 32 bits.
	{expr: "(char *)0x10 + 4", want: "0x14 <error: cannot read memory at 0x14>"},
	{expr: "(int *)0x10 + 4", want: "0x20"},
	{expr: "(long *)0x10 + 4", want: "0x20"},
	{expr: "(long long *)0x10 + 4", want: "0x30"},
	{expr: "(char *)0xfffffff0 + 0x20", want: "0x10 <error: cannot read memory at 0x10>"},
	{expr: "(char *)0x10 - 0x20", want: "0xfffffff0 <error: cannot read memory at 0xfffffff0>"},
	{expr: "4 + (char *)0x10", want: "0x14 <error: cannot read memory at 0x14>"},
	{expr: "((char *)0x10)[-32]", err: "1:15: cannot read memory at 0xfffffff0: address 0xfffffff0 not in dump"},
	{expr: "&arr[3] - &arr[0]", want: "3"},
	{expr: "&arr[0] - &arr[3]", want: "-3"},
	{expr: "(char *)&arr[1] - (char *)arr", want: "4"},
	{expr: "(char *)0x10 - (char *)0x20", want: "-16"},
	{expr: "arr + 1 == &arr[1]", want: "1"},
	{expr: "p32 + 1", want: `0xc1000101 "386 kernel"`},
	{expr: "p32[1]", want: "51 '3'"},
	{expr: "*(arr + 2)", want: "3"},
	// Addresses, pointers in memory, registers.
	{expr: "&counter", want: "0xc1000000 <counter>"},
	{expr: "*&counter", want: "42"},
	{expr: "&arr[1]", want: "0xc1000020 <arr+4>"},
	{expr: "p32", want: `0xc1000100 "i386 kernel"`},
	{expr: "*p32", want: "105 'i'"},
	{expr: "pp", want: "0xc1000200 <proc0>"},
	{expr: "*pp", want: `{p_pid = 0, p_comm = 0xc1000100 "i386 kernel", p_next = 0xc1000300, p_flag = -2147483647}`},
	{expr: "pp->p_next->p_pid", want: "1"},
	{expr: "pp->p_next->p_comm", want: `0xc1000105 "kernel"`},
	{expr: "pp->p_next->p_next", want: "0x0"},
	{expr: "pp->p_next->p_flag", want: "7"},
	{expr: "&pp->p_next", want: "0xc1000208 <proc0+8>"},
	{expr: "*(struct proc32 **)&pp->p_next == pp->p_next", want: "1"},
	{expr: "((struct proc32 *)0xc1000300)->p_pid", want: "1"},
	{expr: "$eip", want: "0xc0400010 <panic+16>"},
	{expr: "$esp", want: "0xc5000f00"},
	{expr: "$eax", want: "-2"},
	{expr: "(unsigned long)$eip - (unsigned long)panic", want: "16"},
	{expr: "panic", want: "0xc0400000 <panic>"},
	{expr: "&panic", want: "0xc0400000 <panic>"},
}

func TestEvalILP32(t *testing.T) {
	for _, tc := range ilp32Cases {
		t.Run(tc.expr, func(t *testing.T) {
			env := newTestEnv32()
			v, err := Evaluate(env, tc.expr)
			if tc.err != "" {
				if err == nil {
					t.Fatalf("Evaluate(%q) = %s, want error %q", tc.expr, Format(env, v, FormatOptions{}), tc.err)
				}
				if err.Error() != tc.err {
					t.Fatalf("Evaluate(%q) error\n got: %s\nwant: %s", tc.expr, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Evaluate(%q): %v", tc.expr, err)
			}
			if got := Format(env, v, FormatOptions{Hex: tc.hex}); got != tc.want {
				t.Fatalf("Evaluate(%q)\n got: %s\nwant: %s", tc.expr, got, tc.want)
			}
		})
	}
}

// TestTypesILP32 checks the types expressions get on ILP32, and their sizes.
func TestTypesILP32(t *testing.T) {
	cases := []struct {
		expr string
		want string
		size int64
	}{
		{"1", "int", 4},
		{"1L", "long", 4},
		{"1UL", "unsigned long", 4},
		{"1LL", "long long", 8},
		{"0x7fffffff", "int", 4},
		{"0x80000000", "unsigned int", 4},
		{"0xffffffff", "unsigned int", 4},
		{"0x100000000", "long long", 8},
		{"0xffffffffffffffff", "unsigned long long", 8},
		{"2147483647", "int", 4},
		{"2147483648", "long long", 8},
		{"4294967295", "long long", 8},
		{"0x80000000L", "unsigned long", 4},
		{"0x100000000L", "long long", 8},
		{"2147483648L", "long long", 8},
		{"4294967295UL", "unsigned long", 4},
		{"4294967296UL", "unsigned long long", 8},
		{"sizeof(int)", "unsigned long", 4},
		{"(long)1", "long", 4},
		{"(long unsigned int)1", "unsigned long", 4},
		{"1L + 1", "long", 4},
		{"1u + 1L", "unsigned long", 4},
		{"1L + 1LL", "long long", 8},
		{"1UL + 1LL", "long long", 8},
		{"lng + ul", "unsigned long", 4},
		{"-lng", "long", 4},
		{"lng << 1", "long", 4},
		{"1 ? 1 : 1L", "long", 4},
		{"&counter", "int *", 4},
		{"&p32", "char **", 4},
		{"arr + 0", "int *", 4},
		{"&arr", "int (*)[4]", 4},
		{"&arr[1] - arr", "long", 4},
		{"(char *)0x10 + 4", "char *", 4},
		{"(struct proc32 **)0", "struct proc32 **", 4},
		{"*panic", "void ()", 0},
		{"&panic", "void (*)()", 4},
		{"$eip", "void (*)()", 4},
		{"pp->p_next", "struct proc32 *", 4},
		{"&pp->p_next", "struct proc32 **", 4},
	}
	for _, tc := range cases {
		env := newTestEnv32()
		n, err := ParseModel(tc.expr, TypeNameFunc(env), ModelOf(env))
		if err != nil {
			t.Errorf("ParseModel(%q): %v", tc.expr, err)
			continue
		}
		typ, err := TypeOf(env, n)
		if err != nil {
			t.Errorf("TypeOf(%q): %v", tc.expr, err)
			continue
		}
		if got := TypeString(typ); got != tc.want || sizeOf(typ) != tc.size {
			t.Errorf("TypeOf(%q) = %q of %d bytes, want %q of %d", tc.expr, got, sizeOf(typ), tc.want, tc.size)
		}
	}
}

// TestPointerReadsILP32 checks that following 4-byte pointers reads 4
// bytes for each.
func TestPointerReadsILP32(t *testing.T) {
	cases := []struct {
		expr string
		want string
		lens []int
	}{
		{"p32", `0xc1000100 "i386 kernel"`, []int{4}},
		{"*p32", "105 'i'", []int{4, 1}},
		{"pp->p_next->p_pid", "1", []int{4, 4, 4}},
		{"*(char **)&p32", `0xc1000100 "i386 kernel"`, []int{4}},
		{"$eip", "0xc0400010 <panic+16>", nil},
	}
	for _, tc := range cases {
		env := newTestEnv32()
		v, err := Evaluate(env, tc.expr)
		if err != nil {
			t.Errorf("Evaluate(%q): %v", tc.expr, err)
			continue
		}
		lens := env.readLens
		if got := Format(env, v, FormatOptions{}); got != tc.want {
			t.Errorf("Evaluate(%q) = %s, want %s", tc.expr, got, tc.want)
		}
		if fmt.Sprint(lens) != fmt.Sprint(tc.lens) {
			t.Errorf("Evaluate(%q) read %v bytes, want %v", tc.expr, lens, tc.lens)
		}
	}
}

// TestEvalModelLP64 checks that an Env stating LP64, or the zero
// DataModel, evaluates exactly as one that states no model.
func TestEvalModelLP64(t *testing.T) {
	for _, m := range []DataModel{LP64, {}} {
		for _, tc := range evalCases {
			plain := newTestEnv()
			env := modelEnv{testEnv: newTestEnv(), model: m}
			want, wantErr := Evaluate(plain, tc.expr)
			got, err := Evaluate(env, tc.expr)
			if fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Errorf("model %+v: Evaluate(%q) error %v, want %v", m, tc.expr, err, wantErr)
				continue
			}
			if err != nil {
				continue
			}
			if g, w := Format(env, got, FormatOptions{Hex: tc.hex}), Format(plain, want, FormatOptions{Hex: tc.hex}); g != w || TypeString(got.Type) != TypeString(want.Type) {
				t.Errorf("model %+v: Evaluate(%q) = %s (%s), want %s (%s)", m, tc.expr, g, TypeString(got.Type), w, TypeString(want.Type))
			}
		}
	}
}

// TestModelsSideBySide evaluates in an LP64 and an ILP32 Env at the same
// time: the model is the Env's, not the process's.
func TestModelsSideBySide(t *testing.T) {
	envs := []Env{newTestEnv(), newTestEnv32()}
	want := []string{"8 8 18446744073709551615", "4 4 4294967295"}
	done := make(chan error, 2*len(envs))
	for r := 0; r < 2; r++ {
		for i, env := range envs {
			go func() {
				var out []string
				for _, e := range []string{"sizeof(long)", "sizeof(&counter)", "(unsigned long)-1"} {
					v, err := Evaluate(env, e)
					if err != nil {
						done <- err
						return
					}
					out = append(out, Format(env, v, FormatOptions{}))
				}
				if got := strings.Join(out, " "); got != want[i] {
					done <- fmt.Errorf("env %d: got %q, want %q", i, got, want[i])
					return
				}
				done <- nil
			}()
		}
	}
	for range 2 * len(envs) {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
