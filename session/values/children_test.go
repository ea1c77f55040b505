package values

import (
	"strings"
	"testing"

	"github.com/kdap/kdap/session/cexpr"
)

// children evaluates expr in env and returns its children [start, start+count).
func children(t *testing.T, env *Env, expr string, start, count int) ([]Child, int) {
	t.Helper()
	v, err := cexpr.Evaluate(env, expr)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	cs, total, err := Children(env, expr, v, start, count)
	if err != nil {
		t.Fatalf("children of %s: %v", expr, err)
	}
	return cs, total
}

func TestChildren(t *testing.T) {
	env := handlerEnv(t)
	tests := []struct {
		expr         string
		start, count int
		total        int
		// name|evalName|value of the children; the formatted value ends
		// with value (a pointer is preceded by its address)
		want []string
	}{
		{"pair", 0, 0, 3, []string{"kp_key|pair.kp_key|42", "kp_val|pair.kp_val|-1234567890123", `kp_name|pair.kp_name|"answer"`}},
		{"word", 0, 0, 3, []string{"kw_u64|word.kw_u64|1234605616436508552", "kw_u32|word.kw_u32|{1432778632, 287454020}", "kw_bytes|word.kw_bytes|"}},
		{"word.kw_u32", 0, 0, 2, []string{"[0]|word.kw_u32[0]|1432778632", "[1]|word.kw_u32[1]|287454020"}},
		{"primes", 2, 3, 6, []string{"[2]|primes[2]|5", "[3]|primes[3]|7", "[4]|primes[4]|11"}},
		{"primes", 5, 10, 6, []string{"[5]|primes[5]|13"}},
		{"primes", 7, 1, 6, nil},
		{"bits", 0, 0, 4, []string{"kb_ready|bits.kb_ready|1", "kb_mode|bits.kb_mode|5", "kb_count|bits.kb_count|1000", "kb_neg|bits.kb_neg|-3"}},
		{"tdpp", 0, 0, 1, []string{"*tdpp|(*tdpp)|"}},
		{"ctx.kc_td", 0, 0, 1, []string{"*ctx.kc_td|(*ctx.kc_td)|"}},
		{"ctx.kc_backing", 0, 0, 1, []string{"*ctx.kc_backing|(*ctx.kc_backing)|{kb_magic = 1801740656, kb_generation = 3, kb_flags = 17, kb_cookie = 12648430}"}},
		{"(*ctx.kc_backing)", 0, 2, 4, []string{"kb_magic|ctx.kc_backing->kb_magic|1801740656", "kb_generation|ctx.kc_backing->kb_generation|3"}},
		{"msgbufp->msg_ptr[0]@16", 3, 2, 16, nil},
		{"color", 0, 0, 0, nil},
		{"handler", 0, 0, 0, nil},
		{"scratch", 0, 0, 0, nil},
	}
	for _, tc := range tests {
		cs, total := children(t, env, tc.expr, tc.start, tc.count)
		if total != tc.total {
			t.Errorf("%s: %d children, want %d", tc.expr, total, tc.total)
		}
		if tc.want == nil {
			if tc.expr == "msgbufp->msg_ptr[0]@16" {
				if len(cs) != 2 || cs[0].EvalName != "(msgbufp->msg_ptr[0]@16)[3]" || cs[1].Name != "[4]" {
					t.Errorf("%s: children %+v", tc.expr, cs)
				}
				continue
			}
			if len(cs) != 0 {
				t.Errorf("%s: %d children, want none", tc.expr, len(cs))
			}
			continue
		}
		if len(cs) != len(tc.want) {
			t.Errorf("%s: %d children returned, want %d", tc.expr, len(cs), len(tc.want))
			continue
		}
		for i, c := range cs {
			w := strings.SplitN(tc.want[i], "|", 3)
			if c.Name != w[0] || c.EvalName != w[1] {
				t.Errorf("%s child %d: %q %q, want %q %q", tc.expr, i, c.Name, c.EvalName, w[0], w[1])
			}
			if got := Format(env, c.Value, false); w[2] != "" && !strings.HasSuffix(got, w[2]) {
				t.Errorf("%s child %s = %s, want %s", tc.expr, c.Name, got, w[2])
			}
			// The evaluate name reproduces the child.
			v, err := cexpr.Evaluate(env, c.EvalName)
			if err != nil {
				t.Errorf("%s child %s: evaluating %q: %v", tc.expr, c.Name, c.EvalName, err)
				continue
			}
			if a, b := Format(env, v, true), Format(env, c.Value, true); a != b {
				t.Errorf("%s child %s: %q gives %s, the child is %s", tc.expr, c.Name, c.EvalName, a, b)
			}
		}
	}
}

func TestChildCount(t *testing.T) {
	env := handlerEnv(t)
	tests := []struct {
		expr           string
		named, indexed int
	}{
		{"pair", 3, 0},
		{"word", 3, 0},
		{"primes", 0, 6},
		{"label", 0, 16},
		{"tdpp", 1, 0},
		{"handler", 0, 0}, // a function pointer
		{"color", 0, 0},
		{"scratch", 0, 0},
		{"*msgbufp", 10, 0},
		{"msgbufp->msg_ptr[0]@8192", 0, 8192},
	}
	for _, tc := range tests {
		v, err := cexpr.Evaluate(env, tc.expr)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if n, i := ChildCount(env, v); n != tc.named || i != tc.indexed {
			t.Errorf("ChildCount(%s) = %d, %d, want %d, %d", tc.expr, n, i, tc.named, tc.indexed)
		}
	}
}

func TestChildrenOfThreadPointer(t *testing.T) {
	env := handlerEnv(t)
	// *tdpp is ctx.kc_td: expanding it shows the zeroed thread.
	cs, _ := children(t, env, "tdpp", 0, 0)
	if len(cs) != 1 {
		t.Fatalf("tdpp has %d children", len(cs))
	}
	td, total, err := Children(env, cs[0].EvalName, cs[0].Value, 0, 0)
	if err != nil || total != 1 {
		t.Fatalf("children of %s: %d, %v", cs[0].EvalName, total, err)
	}
	members, n, err := Children(env, td[0].EvalName, td[0].Value, 0, 0)
	if err != nil || n < 10 {
		t.Fatalf("members of %s: %d, %v", td[0].EvalName, n, err)
	}
	found := false
	for _, m := range members {
		if m.Name == "td_name" {
			found = true
			if m.EvalName != "(*tdpp)->td_name" {
				t.Errorf("td_name eval name %q, want (*tdpp)->td_name", m.EvalName)
			}
			if got := Format(env, m.Value, false); got != `""` {
				t.Errorf("td_name = %s, want \"\" (a zeroed thread)", got)
			}
		}
	}
	if !found {
		t.Errorf("no td_name among the members of %s", td[0].EvalName)
	}
}

func TestListStaysLazy(t *testing.T) {
	tg := openFixture(t, "fp", "assert", "vmcore.mini")
	env := NewGlobalEnv(tg)
	// Walk allproc through p_list.le_next one expansion at a time: the
	// ground truth order is 806, 1, 22, 19, 18, 15, 12, 11, 0.
	want := []string{"806", "1", "22", "19", "18", "15", "12", "11", "0"}
	expr := "allproc.lh_first"
	for i, pid := range want {
		checkExpr(t, env, evalCase{expr: expr + "->p_pid", want: pid})
		v, err := cexpr.Evaluate(env, expr)
		if err != nil {
			t.Fatal(err)
		}
		cs, total, err := Children(env, expr, v, 0, 0)
		if err != nil || total != 1 {
			t.Fatalf("step %d: %d children, %v", i, total, err)
		}
		ms, _, err := Children(env, cs[0].EvalName, cs[0].Value, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.Name == "p_list" {
				expr = m.EvalName + ".le_next"
			}
		}
	}
	checkExpr(t, env, evalCase{expr: expr, want: "0x0"})
}

func TestEvalNameSpelling(t *testing.T) {
	tests := []struct{ x, m, member, postfix string }{
		{"ctx", "kc_td", "ctx.kc_td", "ctx"},
		{"(*tdpp)", "td_name", "tdpp->td_name", "(*tdpp)"},
		{"(*ctx.kc_td)", "td_proc", "ctx.kc_td->td_proc", "(*ctx.kc_td)"},
		{"a[3]", "b", "a[3].b", "a[3]"},
		{"p->q", "r", "p->q.r", "p->q"},
		{"(struct thread *)0x10", "td_name", "((struct thread *)0x10).td_name", "((struct thread *)0x10)"},
		{"(*a) + (*b)", "c", "((*a) + (*b)).c", "((*a) + (*b))"},
		{"x@4", "y", "(x@4).y", "(x@4)"},
		{"*p", "y", "(*p).y", "(*p)"},
		{"$rip", "y", "$rip.y", "$rip"},
	}
	for _, tc := range tests {
		if got := memberExpr(tc.x, tc.m); got != tc.member {
			t.Errorf("memberExpr(%q, %q) = %q, want %q", tc.x, tc.m, got, tc.member)
		}
		if got := postfix(tc.x); got != tc.postfix {
			t.Errorf("postfix(%q) = %q, want %q", tc.x, got, tc.postfix)
		}
	}
}

func TestChildrenSynthetic(t *testing.T) {
	intT := cexpr.TypeInt
	inner := &cexpr.Type{Kind: cexpr.Union, Size: 4, Members: []cexpr.Member{{Name: "u_i", Type: intT}, {Name: "u_c", Type: cexpr.TypeChar}}}
	st := &cexpr.Type{Kind: cexpr.Struct, Name: "anon", Size: 12, Members: []cexpr.Member{
		{Name: "a", Type: intT, Offset: 0},
		{Name: "", Type: inner, Offset: 4},
		{Name: "f", Type: cexpr.TypeUInt, Offset: 8, BitOffset: 3, BitSize: 5},
	}}
	// A value held in bytes (a register or composite location), not memory.
	b := []byte{1, 0, 0, 0, 0x41, 0, 0, 0, 0xf8, 0, 0, 0}
	v := cexpr.Value{Type: st, Bytes: b}
	cs, total, err := Children(nil, "s", v, 0, 0)
	if err != nil || total != 4 {
		t.Fatalf("children: %d, %v", total, err)
	}
	want := []struct{ name, eval, val string }{
		{"a", "s.a", "1"}, {"u_i", "s.u_i", "65"}, {"u_c", "s.u_c", "65 'A'"}, {"f", "s.f", "31"},
	}
	for i, w := range want {
		c := cs[i]
		if got := cexpr.Format(nil, c.Value, cexpr.FormatOptions{}); c.Name != w.name || c.EvalName != w.eval || got != w.val {
			t.Errorf("child %d: %q %q %s, want %q %q %s", i, c.Name, c.EvalName, got, w.name, w.eval, w.val)
		}
	}
	// Elements of an array held in bytes, paged.
	arr := cexpr.Value{Type: cexpr.ArrayOf(cexpr.TypeShort, 3), Bytes: []byte{1, 0, 2, 0, 0xff, 0xff}}
	cs, total, err = Children(nil, "x@3", arr, 1, 5)
	if err != nil || total != 3 || len(cs) != 2 {
		t.Fatalf("array children: %d of %d, %v", len(cs), total, err)
	}
	if got := cexpr.Format(nil, cs[1].Value, cexpr.FormatOptions{}); cs[1].EvalName != "(x@3)[2]" || got != "-1" {
		t.Errorf("element 2: %q = %s, want (x@3)[2] = -1", cs[1].EvalName, got)
	}
	if _, _, err := Children(nil, "x", arr, -1, 1); err == nil {
		t.Error("a negative start gave no error")
	}
	// A member beyond the bytes held is an error, not a panic.
	short := cexpr.Value{Type: st, Bytes: b[:6]}
	if _, _, err := Children(nil, "s", short, 0, 0); err == nil {
		t.Error("members of a short value gave no error")
	}
}
