package cexpr

import (
	"strings"
	"testing"
)

func isTestType(name string) bool {
	switch name {
	case "T", "lwpid_t", "u_int", "size_t":
		return true
	}
	return false
}

// TestParsePrecedence checks precedence and associativity against the C
// standard's grammar (and, for `@`, the GDB manual's operator table), by the
// fully parenthesized form of each tree.
func TestParsePrecedence(t *testing.T) {
	cases := []struct{ in, want string }{
		{"a + b * c", "(a + (b * c))"},
		{"a * b + c", "((a * b) + c)"},
		{"a - b - c", "((a - b) - c)"},
		{"a / b % c", "((a / b) % c)"},
		{"a << 1 + 2", "(a << (1 + 2))"},
		{"a < b << c", "(a < (b << c))"},
		{"a == b < c", "(a == (b < c))"},
		{"a & b == c", "(a & (b == c))"},
		{"a ^ b & c", "(a ^ (b & c))"},
		{"a | b ^ c", "(a | (b ^ c))"},
		{"a && b | c", "(a && (b | c))"},
		{"a || b && c", "(a || (b && c))"},
		{"a ? b : c ? d : e", "(a ? b : (c ? d : e))"},
		{"a ? b ? c : d : e", "(a ? (b ? c : d) : e)"},
		{"a || b ? c : d", "((a || b) ? c : d)"},
		{"a@n+1", "(a @ (n + 1))"},
		{"a@2 == b", "((a @ 2) == b)"},
		{"a@2 << 1", "((a @ 2) << 1)"},
		{"a@b@c", "((a @ b) @ c)"},
		{"-a->b[1]", "(-a->b[1])"},
		{"*p.q", "(*p.q)"},
		{"&a[1]", "(&a[1])"},
		{"!~x", "(!(~x))"},
		{"- -x", "(-(-x))"},
		{"a.b->c[d].e", "a.b->c[d].e"},
		{"(a + b)[c]", "(a + b)[c]"},
		{"(T)-1", "((T)(-1))"},
		{"(x)-1", "(x - 1)"},
		{"(T)*p", "((T)(*p))"},
		{"(x)*p", "(x * p)"},
		{"(T)a.b", "((T)a.b)"},
		{"(T)a + 1", "(((T)a) + 1)"},
		{"sizeof(T) * 2", "(sizeof(T) * 2)"},
		{"sizeof x * 2", "(sizeof(x) * 2)"},
		{"sizeof(x) * 2", "(sizeof(x) * 2)"},
		{"sizeof -x", "sizeof((-x))"},
		{"sizeof *p->q", "sizeof((*p->q))"},
		{"(struct proc **)p", "((struct proc **)p)"},
		{"(unsigned long)x", "((unsigned long)x)"},
		{"(long unsigned int)x", "((unsigned long)x)"},
		{"(long int)x", "((long)x)"},
		{"(long long)x", "((long long)x)"},
		{"(signed char)x", "((signed char)x)"},
		{"(short int)x", "((short)x)"},
		{"(unsigned)x", "((unsigned int)x)"},
		{"(signed)x", "((int)x)"},
		{"(const char *)p", "((const char *)p)"},
		{"(char const *)p", "((const char *)p)"},
		{"(volatile int *)p", "((volatile int *)p)"},
		{"(char * const)p", "((char * const)p)"},
		{"(int *[3])p", "((int *[3])p)"},
		{"(int (*)[3])p", "((int (*)[3])p)"},
		{"(int [2][3])p", "((int [2][3])p)"},
		{"(enum e)1", "((enum e)1)"},
		{"(union u *)p", "((union u *)p)"},
		{"(lwpid_t)5", "((lwpid_t)5)"},
		{"(u_int *)p", "((u_int *)p)"},
		{"((struct thread *)0xfffff8000336e000)->td_name", "((struct thread *)0xfffff8000336e000)->td_name"},
		{"$rip + 4", "($rip + 4)"},
		{"'a'", "'a'"},
		{`'\n'`, `'\n'`},
		{`"a\"b"`, `"a\"b"`},
		{"a\t+\nb", "(a + b)"},
		{"msgbufp->msg_ptr[0]@16", "(msgbufp->msg_ptr[0] @ 16)"},
	}
	for _, tc := range cases {
		n, err := Parse(tc.in, isTestType)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got := String(n); got != tc.want {
			t.Errorf("Parse(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestParsePositions checks the byte column recorded on nodes.
func TestParsePositions(t *testing.T) {
	n, err := Parse("  td->td_proc + (T)x[3]", isTestType)
	if err != nil {
		t.Fatal(err)
	}
	b, ok := n.(*Binary)
	if !ok {
		t.Fatalf("root is %T, want *Binary", n)
	}
	sel := b.X.(*Select)
	cast := b.Y.(*Cast)
	idx := cast.X.(*Index)
	cases := []struct {
		what      string
		got, want int
	}{
		{"binary operator '+'", b.Col, 15},
		{"member name td_proc", sel.Col, 7},
		{"identifier td", sel.X.Pos(), 3},
		{"cast '('", cast.Col, 17},
		{"type name T", cast.Type.Col, 18},
		{"index '['", idx.Col, 21},
		{"index value 3", idx.Index.Pos(), 22},
		{"identifier x", idx.X.Pos(), 20},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s at column %d, want %d", c.what, c.got, c.want)
		}
	}
}

// TestIntLiteralTypes checks C11 6.4.4.1's rules for the type of an integer
// constant on LP64.
func TestIntLiteralTypes(t *testing.T) {
	cases := []struct {
		in   string
		val  uint64
		want *Type
	}{
		{"0", 0, TypeInt},
		{"2147483647", 2147483647, TypeInt},
		{"2147483648", 2147483648, TypeLong},
		{"0x7fffffff", 0x7fffffff, TypeInt},
		{"0x80000000", 0x80000000, TypeUInt},
		{"0x100000000", 0x100000000, TypeLong},
		{"0x8000000000000000", 0x8000000000000000, TypeULong},
		{"9223372036854775808", 9223372036854775808, TypeULongLong},
		{"1u", 1, TypeUInt},
		{"0x100000000u", 0x100000000, TypeULong},
		{"1l", 1, TypeLong},
		{"1L", 1, TypeLong},
		{"0xffffffffffffffffl", 0xffffffffffffffff, TypeULong},
		{"1ul", 1, TypeULong},
		{"1LU", 1, TypeULong},
		{"1ll", 1, TypeLongLong},
		{"1ull", 1, TypeULongLong},
		{"1LLU", 1, TypeULongLong},
		{"0b101", 5, TypeInt},
		{"0B11u", 3, TypeUInt},
		{"0755", 493, TypeInt},
		{"0u", 0, TypeUInt},
		{"0xABCdef", 0xabcdef, TypeInt},
	}
	for _, tc := range cases {
		n, err := Parse(tc.in, nil)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		lit, ok := n.(*IntLit)
		if !ok {
			t.Errorf("Parse(%q) = %T, want *IntLit", tc.in, n)
			continue
		}
		if lit.Val != tc.val || lit.Type != tc.want {
			t.Errorf("Parse(%q) = %d of type %s, want %d of type %s", tc.in, lit.Val, lit.Type, tc.val, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	deep := strings.Repeat("(", MaxDepth+10) + "1" + strings.Repeat(")", MaxDepth+10)
	cases := []struct{ in, want string }{
		{"", "syntax error: expected an expression, found end of expression at column 1"},
		{"a * / b", "syntax error: unexpected '/', expected an expression at column 5"},
		{"(T", "syntax error: expected ')' at column 3"},
		{"(T)", "syntax error: expected an expression, found end of expression at column 4"},
		{"a[1", "syntax error: expected ']' at column 4"},
		{"a ? b", "syntax error: expected ':' at column 6"},
		{"a ? b :", "syntax error: expected an expression, found end of expression at column 8"},
		{"a.", "syntax error: expected a member name after '.' at column 3"},
		{"a.1", "syntax error: unexpected '.1', expected end of expression at column 2"},
		{"a, b", "syntax error: the comma operator is not supported at column 2"},
		{"a += 1", "syntax error: assignment '+=' is not supported: a crash dump is read-only at column 3"},
		{"--a", "syntax error: '--' is not supported: a crash dump is read-only at column 1"},
		{"f(x)", "syntax error: function calls are not supported: a crash dump cannot run code at column 2"},
		{"(struct)x", "syntax error: expected a tag name after 'struct' at column 8"},
		{"(struct int)x", "syntax error: expected a tag name after 'struct' at column 9"},
		{"(int struct s)x", "syntax error: 'struct' cannot follow another type specifier at column 6"},
		{"(long long long)x", "syntax error: 'long long long' is too long in 'long long long' at column 2"},
		{"(short long)x", "syntax error: both 'short' and 'long' in 'short long' at column 2"},
		{"(char int)x", "syntax error: conflicting type specifiers in 'char int' at column 2"},
		{"(int int)x", "syntax error: duplicate 'int' in 'int int' at column 2"},
		{"(int (void))x", "syntax error: function types are not supported in casts at column 6"},
		{"(int (*)(int))x", "syntax error: function pointer casts are not supported at column 9"},
		{"(T[)x", "syntax error: unexpected ')', expected an expression at column 4"},
		{"sizeof(int", "syntax error: expected ')' at column 11"},
		{"struct proc", "syntax error: 'struct' is a type, not a value (a cast needs parentheses) at column 1"},
		{"T + 1", "syntax error: 'T' is a type, not a value (a cast needs parentheses) at column 1"},
		{`'\q'`, `syntax error: unknown escape sequence '\q' at column 2`},
		{`'\x'`, `syntax error: \x used with no following hex digits at column 2`},
		{`''`, "syntax error: empty character constant at column 1"},
		{`'\777'`, "syntax error: octal escape sequence out of range at column 2"},
		{deep, "syntax error: expression nested too deeply at column 129"},
		{strings.Repeat("- ", 5000) + "1", "syntax error: expression longer than 4096 tokens at column 8193"},
	}
	for _, tc := range cases {
		_, err := Parse(tc.in, isTestType)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want %q", short(tc.in), tc.want)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("Parse(%q)\n got: %v\nwant: %s", short(tc.in), err, tc.want)
		}
		if e, ok := err.(*Error); !ok || !e.Syntax {
			t.Errorf("Parse(%q) error %T is not a syntax *Error", short(tc.in), err)
		}
	}
}

func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func TestTypeString(t *testing.T) {
	fn := &Type{Kind: Func, Elem: TypeInt}
	st := &Type{Kind: Struct, Name: "proc", Size: 8}
	cases := []struct {
		t    *Type
		want string
	}{
		{TypeULong, "unsigned long"},
		{PointerTo(st), "struct proc *"},
		{PointerTo(PointerTo(st)), "struct proc **"},
		{ArrayOf(TypeChar, 20), "char [20]"},
		{ArrayOf(PointerTo(TypeChar), 3), "char *[3]"},
		{PointerTo(ArrayOf(TypeInt, 3)), "int (*)[3]"},
		{ArrayOf(ArrayOf(TypeLong, 3), 2), "long [2][3]"},
		{PointerTo(fn), "int (*)()"},
		{ArrayOf(PointerTo(fn), 4), "int (*[4])()"},
		{&Type{Kind: Array, Elem: TypeChar}, "char []"},
		{&Type{Kind: Struct}, "struct <anonymous>"},
		{typedef("lwpid_t", TypeInt), "lwpid_t"},
		{PointerTo(&Type{Kind: Char, Name: "char", Size: 1, Signed: true, Const: true}), "const char *"},
		{&Type{Kind: Pointer, Size: 8, Elem: TypeChar, Const: true}, "char * const"},
	}
	for _, tc := range cases {
		if got := TypeString(tc.t); got != tc.want {
			t.Errorf("TypeString = %q, want %q", got, tc.want)
		}
	}
}

// FuzzParse checks that no input makes the parser panic or run away, and
// that what parses prints back into something that parses to the same tree.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"*msgbufp", "msgbufp->msg_ptr[0]@16", "((struct thread *)0xfffff8000336e000)->td_name",
		"sizeof(struct pcb)", "allproc.lh_first->p_pid", "td->td_proc->p_comm", "$rip", "(char)65",
		"a ? b : c", "&x", "-1 >> 3", "(lwpid_t)5", "(struct proc **)p", "(unsigned long)x",
		"(const char *)p", "(int (*)[3])p", `"a\x41\101" 'b'`, "0x1p3", "1e10 + .5", "0b101ull",
		strings.Repeat("(", 300), strings.Repeat("*", 300) + "p",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s, isTestType)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Parse(%q) error %T is not *Error", s, err)
			}
			return
		}
		printed := String(n)
		n2, err := Parse(printed, isTestType)
		if err != nil && strings.Contains(err.Error(), "nested too deeply") {
			return // the added parentheses count towards the depth limit
		}
		if err != nil {
			t.Fatalf("Parse(%q) printed as %q, which does not parse: %v", s, printed, err)
		}
		if again := String(n2); again != printed {
			t.Fatalf("Parse(%q): printed %q reparses as %q", s, printed, again)
		}
	})
}

// FuzzEval evaluates arbitrary expressions against the LP64 and the ILP32
// test environments: errors are fine, panics and unbounded work are not.
func FuzzEval(f *testing.F) {
	for _, c := range append(evalCases, ilp32Cases...) {
		f.Add(c.expr)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, env := range []Env{newTestEnv(), newTestEnv32()} {
			v, err := Evaluate(env, s)
			if err != nil {
				continue
			}
			out := Format(env, v, FormatOptions{})
			if len(out) > maxOutput+4096 {
				t.Fatalf("Format(%q) printed %d bytes", s, len(out))
			}
		}
	})
}

func BenchmarkParseEvalMember(b *testing.B) {
	env := newTestEnv()
	isType := TypeNameFunc(env)
	for b.Loop() {
		n, err := Parse("td->td_proc->p_threads.tqh_first->td_name[3]", isType)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Eval(env, n); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseEvalFormatStruct(b *testing.B) {
	env := newTestEnv()
	for b.Loop() {
		v, err := Evaluate(env, "*allproc.lh_first")
		if err != nil {
			b.Fatal(err)
		}
		_ = Format(env, v, FormatOptions{})
	}
}
