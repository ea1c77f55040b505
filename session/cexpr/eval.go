package cexpr

import (
	"errors"
	"fmt"
	"math"
)

// MaxArtificialLen is the largest element count gdb's `expr@len` accepts.
const MaxArtificialLen = 1 << 20

// Evaluate parses src in env's data model, asking env which identifiers
// are typedef names, and evaluates it.
func Evaluate(env Env, src string) (Value, error) {
	n, err := ParseModel(src, TypeNameFunc(env), ModelOf(env))
	if err != nil {
		return Value{}, err
	}
	return Eval(env, n)
}

// TypeNameFunc returns a Parse callback that asks env whether a name is a
// typedef.
func TypeNameFunc(env Env) func(string) bool {
	return func(name string) bool {
		_, err := env.LookupType(name)
		return err == nil
	}
}

// Eval evaluates a parsed expression in env's data model (ModelOf).
//
// A scalar result in memory comes back with its Bytes read, and the start of
// an aggregate is probed, so that an unreadable address is reported here
// (as gdb's "Cannot access memory") rather than when the value is printed.
func Eval(env Env, n Node) (Value, error) {
	ev := &evaluator{env: env, m: ModelOf(env)}
	v, err := ev.eval(n)
	if err != nil {
		return Value{}, err
	}
	return fetch(env, n, v)
}

// fetch reads a scalar lvalue's bytes and probes an aggregate's first bytes.
func fetch(env Env, n Node, v Value) (Value, error) {
	if !v.HasAddr || v.Bytes != nil || v.OptimizedOut || v.Unavailable {
		return v, nil
	}
	size := sizeOf(v.Type)
	if v.BitSize > 0 {
		size = (v.BitOffset + v.BitSize + 7) / 8
	}
	if size <= 0 || size > maxLoad {
		return v, nil
	}
	if v.BitSize > 0 || isScalar(v.Type) {
		b, err := load(env, v, size)
		if err != nil {
			return Value{}, wrapAt(n, err)
		}
		v.Bytes = b
		return v, nil
	}
	if _, err := load(env, v, min(size, 64)); err != nil {
		return Value{}, wrapAt(n, err)
	}
	return v, nil
}

// TypeOf returns the type of a parsed expression without reading memory
// (like sizeof, reads yield zero bytes).
func TypeOf(env Env, n Node) (*Type, error) {
	ev := &evaluator{env: dryEnv{env}, m: ModelOf(env)}
	v, err := ev.eval(n)
	if err != nil {
		return nil, err
	}
	return v.Type, nil
}

type evaluator struct {
	env Env
	m   DataModel // the target's data model, fixed for one evaluation
}

// dryRun returns an evaluator of the same model that reads no memory.
func (ev *evaluator) dryRun() *evaluator {
	return &evaluator{env: dryEnv{ev.env}, m: ev.m}
}

// dryEnv answers memory reads with zeros: it evaluates the operand of
// sizeof and the untaken arm of ?: for their types only, as C does not
// evaluate them.
type dryEnv struct{ Env }

// ReadMemory fills p with zeros.
func (dryEnv) ReadMemory(_ uint64, p []byte) error {
	clear(p)
	return nil
}

// DataModel is the wrapped Env's data model.
func (d dryEnv) DataModel() DataModel { return ModelOf(d.Env) }

func (ev *evaluator) dry() bool {
	_, ok := ev.env.(dryEnv)
	return ok
}

// errAt builds an evaluation error at n's column.
func errAt(n Node, format string, args ...any) error {
	return &Error{Col: n.Pos(), Msg: fmt.Sprintf(format, args...)}
}

// wrapAt locates err at n unless it already carries a column.
func wrapAt(n Node, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	var me *MemoryError
	if errors.As(err, &me) {
		return &Error{Col: n.Pos(), Msg: fmt.Sprintf("cannot read memory at %#x", me.Addr), Err: me.Err}
	}
	return &Error{Col: n.Pos(), Msg: err.Error(), Err: errors.Unwrap(err)}
}

func tname(t *Type) string { return TypeString(t) }

func (ev *evaluator) eval(n Node) (Value, error) {
	switch n := n.(type) {
	case *Ident:
		v, err := ev.env.LookupVar(n.Name)
		return named(n, v, err, "identifier '"+n.Name+"'")
	case *IntLit:
		return ev.m.IntValue(n.Type, n.Val), nil
	case *FloatLit:
		return ev.m.floatValue(TypeDouble, n.Val), nil
	case *CharLit:
		return ev.m.IntValue(TypeChar, uint64(n.Val)), nil
	case *StringLit:
		b := append([]byte(n.Val), 0)
		return Value{Type: ArrayOf(TypeChar, int64(len(b))), Bytes: b}, nil
	case *Reg:
		v, err := ev.env.Register(n.Name)
		if v.Register == "" {
			v.Register = n.Name
		}
		return named(n, v, err, "register or convenience variable '$"+n.Name+"'")
	case *Unary:
		return ev.unary(n)
	case *Cast:
		t, err := ev.typeName(n.Type)
		if err != nil {
			return Value{}, err
		}
		x, err := ev.eval(n.X)
		if err != nil {
			return Value{}, err
		}
		v, err := ev.cast(x, t)
		if err != nil {
			return Value{}, wrapAt(n, err)
		}
		return v, nil
	case *SizeofExpr:
		x, err := ev.dryRun().eval(n.X)
		if err != nil {
			return Value{}, err
		}
		if x.BitSize > 0 {
			return Value{}, errAt(n, "invalid application of 'sizeof' to a bitfield")
		}
		return ev.sizeofType(n, x.Type)
	case *SizeofType:
		t, err := ev.typeName(n.Type)
		if err != nil {
			return Value{}, err
		}
		return ev.sizeofType(n, t)
	case *Binary:
		return ev.binary(n)
	case *Cond:
		return ev.cond(n)
	case *Select:
		return ev.selectMember(n)
	case *Index:
		return ev.index(n)
	}
	return Value{}, fmt.Errorf("cexpr: unknown node %T", n)
}

// named checks what the environment answered for a name.
func named(n Node, v Value, err error, what string) (Value, error) {
	if errors.Is(err, ErrNotFound) {
		return Value{}, errAt(n, "unknown %s", what)
	}
	if err != nil {
		return Value{}, &Error{Col: n.Pos(), Msg: "cannot resolve " + what, Err: err}
	}
	if v.Type == nil {
		return Value{}, errAt(n, "%s has no type", what)
	}
	return v, nil
}

func (ev *evaluator) sizeofType(n Node, t *Type) (Value, error) {
	u := Resolve(t)
	sz := sizeOf(t)
	switch {
	case u.Kind == Func:
		return Value{}, errAt(n, "invalid application of 'sizeof' to a function type")
	case u.Kind == Invalid:
		return Value{}, errAt(n, "invalid application of 'sizeof' to malformed type '%s'", tname(t))
	case u.Kind == Void:
		return Value{}, errAt(n, "invalid application of 'sizeof' to type 'void'")
	case sz == 0 && (u.Incomplete || (u.Kind == Array && !u.LenKnown)):
		return Value{}, errAt(n, "invalid application of 'sizeof' to incomplete type '%s'", tname(t))
	}
	return ev.m.IntValue(ev.m.ULong(), uint64(sz)), nil
}

// typeName resolves a parsed type-name against the environment.
func (ev *evaluator) typeName(tn *TypeName) (*Type, error) {
	var t *Type
	switch tn.Tag {
	case Struct, Union, Enum:
		var err error
		t, err = ev.env.LookupTag(tn.Tag, tn.Name)
		if errors.Is(err, ErrNotFound) {
			return nil, &Error{Col: tn.Col, Msg: fmt.Sprintf("unknown type '%s %s'", tn.Tag, tn.Name)}
		}
		if err != nil {
			return nil, &Error{Col: tn.Col, Msg: fmt.Sprintf("cannot resolve type '%s %s'", tn.Tag, tn.Name), Err: err}
		}
	case Typedef:
		var err error
		t, err = ev.env.LookupType(tn.Name)
		if errors.Is(err, ErrNotFound) {
			return nil, &Error{Col: tn.Col, Msg: fmt.Sprintf("unknown type '%s'", tn.Name)}
		}
		if err != nil {
			return nil, &Error{Col: tn.Col, Msg: fmt.Sprintf("cannot resolve type '%s'", tn.Name), Err: err}
		}
	default:
		t = ev.m.baseType(tn.Name)
		if t == nil {
			return nil, &Error{Col: tn.Col, Msg: fmt.Sprintf("unknown type '%s'", tn.Name)}
		}
	}
	if t == nil {
		return nil, &Error{Col: tn.Col, Msg: fmt.Sprintf("type '%s' resolved to nothing", tn)}
	}
	if tn.Const || tn.Volatile {
		c := *t
		c.Const = c.Const || tn.Const
		c.Volatile = c.Volatile || tn.Volatile
		t = &c
	}
	for _, d := range tn.Derived {
		if d.Ptr {
			t = ev.m.PointerTo(t)
			t.Const = d.Const
			continue
		}
		if d.Len == nil {
			t = &Type{Kind: Array, Elem: t}
			continue
		}
		lv, err := ev.eval(d.Len)
		if err != nil {
			return nil, err
		}
		if !isInteger(lv.Type) {
			return nil, errAt(d.Len, "array bound has non-integer type '%s'", tname(lv.Type))
		}
		n, err := scalarBits(ev.env, ev.m, lv)
		if err != nil {
			return nil, wrapAt(d.Len, err)
		}
		if int64(n) < 0 || n > 1<<32 {
			return nil, errAt(d.Len, "array bound %d is out of range", int64(n))
		}
		t = ArrayOf(t, int64(n))
	}
	return t, nil
}

// decay converts arrays and functions in memory to pointers to their first
// element (C11 6.3.2.1), pointers of the model's size.
func (ev *evaluator) decay(v Value) (Value, error) {
	switch t := Resolve(v.Type); t.Kind {
	case Array:
		if !v.HasAddr {
			return Value{}, fmt.Errorf("array of type '%s' is not in memory and has no address", tname(v.Type))
		}
		return ev.m.IntValue(ev.m.PointerTo(t.Elem), v.Addr), nil
	case Func:
		if !v.HasAddr {
			return Value{}, fmt.Errorf("function has no address")
		}
		return ev.m.IntValue(ev.m.PointerTo(v.Type), v.Addr), nil
	}
	return v, nil
}

// deref returns the object a pointer value points to.
func (ev *evaluator) deref(n Node, p Value) (Value, error) {
	p, err := ev.decay(p)
	if err != nil {
		return Value{}, wrapAt(n, err)
	}
	t := Resolve(p.Type)
	if t.Kind != Pointer {
		return Value{}, errAt(n, "cannot dereference a non-pointer value of type '%s'", tname(p.Type))
	}
	if t.Elem == nil || Resolve(t.Elem).Kind == Void {
		return Value{}, errAt(n, "cannot dereference a pointer to void ('%s'); cast it first", tname(p.Type))
	}
	addr, err := scalarBits(ev.env, ev.m, p)
	if err != nil {
		return Value{}, wrapAt(n, err)
	}
	return Value{Type: t.Elem, Addr: addr, HasAddr: true}, nil
}

func (ev *evaluator) unary(n *Unary) (Value, error) {
	x, err := ev.eval(n.X)
	if err != nil {
		return Value{}, err
	}
	switch n.Op {
	case "*":
		if Resolve(x.Type).Kind == Func {
			return x, nil // *func is the function again
		}
		return ev.deref(n, x)
	case "&":
		switch {
		case x.BitSize > 0:
			return Value{}, errAt(n, "cannot take the address of a bitfield")
		case x.Register != "" && !x.HasAddr:
			return Value{}, errAt(n, "cannot take the address of a value in register '%s'", x.Register)
		case !x.HasAddr:
			return Value{}, errAt(n, "cannot take the address of a value of type '%s' that is not in memory", tname(x.Type))
		}
		return ev.m.IntValue(ev.m.PointerTo(x.Type), x.Addr), nil
	case "!":
		b, err := ev.truth(n, x)
		if err != nil {
			return Value{}, err
		}
		if b {
			return ev.m.IntValue(TypeInt, 0), nil
		}
		return ev.m.IntValue(TypeInt, 1), nil
	}
	// - + ~ on arithmetic operands.
	if Resolve(x.Type).Kind == Float && n.Op != "~" {
		f, err := floatBits(ev.env, ev.m, x)
		if err != nil {
			return Value{}, wrapAt(n, err)
		}
		if n.Op == "-" {
			f = -f
		}
		return ev.m.floatValue(x.Type, f), nil
	}
	if !isInteger(x.Type) {
		return Value{}, errAt(n, "invalid operand of type '%s' to unary '%s'", tname(x.Type), n.Op)
	}
	t := ev.m.promotedOf(x)
	v, err := scalarBits(ev.env, ev.m, x)
	if err != nil {
		return Value{}, wrapAt(n, err)
	}
	switch n.Op {
	case "-":
		v = -v
	case "~":
		v = ^v
	}
	return ev.m.IntValue(t, v), nil
}

// truth tests a scalar for non-zero.
func (ev *evaluator) truth(n Node, x Value) (bool, error) {
	x, err := ev.decay(x)
	if err != nil {
		return false, wrapAt(n, err)
	}
	if !isScalar(x.Type) {
		return false, errAt(n, "a scalar is needed here, not a value of type '%s'", tname(x.Type))
	}
	if Resolve(x.Type).Kind == Float {
		f, err := floatBits(ev.env, ev.m, x)
		if err != nil {
			return false, wrapAt(n, err)
		}
		return f != 0, nil
	}
	v, err := scalarBits(ev.env, ev.m, x)
	if err != nil {
		return false, wrapAt(n, err)
	}
	return v != 0, nil
}

// cast converts x to type t.
func (ev *evaluator) cast(x Value, t *Type) (Value, error) {
	tt := Resolve(t)
	if tt.Kind == Void {
		return Value{Type: t, Bytes: []byte{}}, nil
	}
	xt := Resolve(x.Type)
	if tt.Kind == Struct || tt.Kind == Union {
		if xt == tt || (xt.Kind == tt.Kind && xt.Name == tt.Name && xt.Name != "" && xt.Size == tt.Size) {
			x.Type = t
			return x, nil
		}
		return Value{}, fmt.Errorf("cannot cast a value of type '%s' to '%s'", tname(x.Type), tname(t))
	}
	if tt.Kind == Array || tt.Kind == Func {
		return Value{}, fmt.Errorf("cannot cast to %s type '%s'", tt.Kind, tname(t))
	}
	x, err := ev.decay(x)
	if err != nil {
		return Value{}, err
	}
	xt = Resolve(x.Type)
	if !isScalar(x.Type) {
		return Value{}, fmt.Errorf("cannot cast a value of type '%s' to '%s'", tname(x.Type), tname(t))
	}
	if xt.Kind == Float {
		f, err := floatBits(ev.env, ev.m, x)
		if err != nil {
			return Value{}, err
		}
		switch {
		case tt.Kind == Float:
			return ev.m.floatValue(t, f), nil
		case tt.Kind == Pointer:
			return Value{}, fmt.Errorf("cannot cast a floating value to pointer type '%s'", tname(t))
		case tt.Kind == Bool:
			return ev.m.IntValue(t, b2u(f != 0)), nil
		case tt.Signed:
			return ev.m.IntValue(t, uint64(int64(f))), nil
		}
		return ev.m.IntValue(t, floatToUint(f)), nil
	}
	v, err := scalarBits(ev.env, ev.m, x)
	if err != nil {
		return Value{}, err
	}
	switch tt.Kind {
	case Float:
		if xt.Signed {
			return ev.m.floatValue(t, float64(int64(v))), nil
		}
		return ev.m.floatValue(t, float64(v)), nil
	case Bool:
		return ev.m.IntValue(t, b2u(v != 0)), nil
	}
	if tt.Size <= 0 || tt.Size > 8 {
		return Value{}, fmt.Errorf("cannot cast to '%s' of %d bytes", tname(t), tt.Size)
	}
	return ev.m.IntValue(t, v), nil
}

func floatToUint(f float64) uint64 {
	if f < 0 {
		return uint64(int64(f))
	}
	if f >= math.MaxUint64 {
		return math.MaxUint64
	}
	return uint64(f)
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func (ev *evaluator) binary(n *Binary) (Value, error) {
	x, err := ev.eval(n.X)
	if err != nil {
		return Value{}, err
	}
	switch n.Op {
	case "&&", "||":
		a, err := ev.truth(n.X, x)
		if err != nil {
			return Value{}, err
		}
		if (n.Op == "&&" && !a) || (n.Op == "||" && a) {
			return ev.m.IntValue(TypeInt, b2u(a)), nil
		}
		y, err := ev.eval(n.Y)
		if err != nil {
			return Value{}, err
		}
		b, err := ev.truth(n.Y, y)
		if err != nil {
			return Value{}, err
		}
		return ev.m.IntValue(TypeInt, b2u(b)), nil
	}
	y, err := ev.eval(n.Y)
	if err != nil {
		return Value{}, err
	}
	if n.Op == "@" {
		return ev.artificialArray(n, x, y)
	}
	if x, err = ev.decay(x); err != nil {
		return Value{}, wrapAt(n.X, err)
	}
	if y, err = ev.decay(y); err != nil {
		return Value{}, wrapAt(n.Y, err)
	}
	xp, yp := Resolve(x.Type).Kind == Pointer, Resolve(y.Type).Kind == Pointer
	if xp || yp {
		return ev.pointerOp(n, x, y, xp, yp)
	}
	if !isArithmetic(x.Type) || !isArithmetic(y.Type) {
		return Value{}, errAt(n, "invalid operands to binary '%s' (have '%s' and '%s')", n.Op, tname(x.Type), tname(y.Type))
	}
	if Resolve(x.Type).Kind == Float || Resolve(y.Type).Kind == Float {
		return ev.floatOp(n, x, y)
	}
	return ev.intOp(n, x, y)
}

// intOp applies an arithmetic operator to two integer operands.
func (ev *evaluator) intOp(n *Binary, x, y Value) (Value, error) {
	a, err := scalarBits(ev.env, ev.m, x)
	if err != nil {
		return Value{}, wrapAt(n.X, err)
	}
	b, err := scalarBits(ev.env, ev.m, y)
	if err != nil {
		return Value{}, wrapAt(n.Y, err)
	}
	pa, pb := ev.m.promotedOf(x), ev.m.promotedOf(y)
	if n.Op == "<<" || n.Op == ">>" {
		// Each operand is promoted on its own; the result has the left's type.
		bits := uint64(pa.Size * 8)
		// b is already sign-extended when its type is signed.
		if (pb.Signed && int64(b) < 0) || b >= bits {
			return Value{}, errAt(n, "shift count %s is out of range for type '%s' (0..%d)", formatInt(b, pb), tname(pa), bits-1)
		}
		cnt := b
		if n.Op == "<<" {
			return ev.m.IntValue(pa, a<<cnt), nil
		}
		if pa.Signed {
			return ev.m.IntValue(pa, uint64(int64(a)>>cnt)), nil
		}
		return ev.m.IntValue(pa, truncUnsigned(a, pa)>>cnt), nil
	}
	t := ev.m.common(pa, pb)
	// Convert both operands to the common type.
	if t.Signed {
		a, b = truncSigned(a, t), truncSigned(b, t)
	} else {
		a, b = truncUnsigned(a, t), truncUnsigned(b, t)
	}
	sa, sb := int64(a), int64(b)
	var r uint64
	switch n.Op {
	case "+":
		r = a + b
	case "-":
		r = a - b
	case "*":
		r = a * b
	case "/", "%":
		if b == 0 {
			if ev.dry() {
				return ev.m.IntValue(t, 0), nil
			}
			return Value{}, errAt(n, "division by zero")
		}
		switch {
		case t.Signed && n.Op == "/":
			r = uint64(sa / sb)
		case t.Signed:
			r = uint64(sa % sb)
		case n.Op == "/":
			r = a / b
		default:
			r = a % b
		}
	case "&":
		r = a & b
	case "|":
		r = a | b
	case "^":
		r = a ^ b
	case "==", "!=", "<", "<=", ">", ">=":
		var c int
		switch {
		case t.Signed && sa < sb, !t.Signed && a < b:
			c = -1
		case a != b:
			c = 1
		}
		return ev.m.IntValue(TypeInt, b2u(compare(n.Op, c))), nil
	default:
		return Value{}, errAt(n, "operator '%s' is not supported", n.Op)
	}
	return ev.m.IntValue(t, r), nil
}

// truncSigned converts 64 bits to type t's width, sign-extending.
func truncSigned(v uint64, t *Type) uint64 {
	if t.Size >= 8 {
		return v
	}
	sh := uint(64 - t.Size*8)
	return uint64(int64(v<<sh) >> sh)
}

// truncUnsigned converts 64 bits to type t's width, zero-extending.
func truncUnsigned(v uint64, t *Type) uint64 {
	if t.Size >= 8 {
		return v
	}
	return v & (1<<uint(t.Size*8) - 1)
}

func formatInt(v uint64, t *Type) string {
	if t.Signed {
		return fmt.Sprint(int64(truncSigned(v, t)))
	}
	return fmt.Sprint(truncUnsigned(v, t))
}

// compare turns a three-way comparison result into the operator's answer.
func compare(op string, c int) bool {
	switch op {
	case "==":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	}
	return c >= 0
}

// floatOp applies an operator when either operand is floating.
func (ev *evaluator) floatOp(n *Binary, x, y Value) (Value, error) {
	get := func(v Value, at Node) (float64, error) {
		if Resolve(v.Type).Kind == Float {
			return floatBits(ev.env, ev.m, v)
		}
		u, err := scalarBits(ev.env, ev.m, v)
		if Resolve(v.Type).Signed {
			return float64(int64(u)), err
		}
		return float64(u), err
	}
	a, err := get(x, n.X)
	if err != nil {
		return Value{}, wrapAt(n.X, err)
	}
	b, err := get(y, n.Y)
	if err != nil {
		return Value{}, wrapAt(n.Y, err)
	}
	switch n.Op {
	case "+":
		return ev.m.floatValue(TypeDouble, a+b), nil
	case "-":
		return ev.m.floatValue(TypeDouble, a-b), nil
	case "*":
		return ev.m.floatValue(TypeDouble, a*b), nil
	case "/":
		return ev.m.floatValue(TypeDouble, a/b), nil
	case "==", "!=", "<", "<=", ">", ">=":
		c := 0
		switch {
		case a < b:
			c = -1
		case a > b:
			c = 1
		case a != b: // NaN: unordered, only != holds
			return ev.m.IntValue(TypeInt, b2u(n.Op == "!=")), nil
		}
		return ev.m.IntValue(TypeInt, b2u(compare(n.Op, c))), nil
	}
	return Value{}, errAt(n, "invalid operands to binary '%s' (have '%s' and '%s')", n.Op, tname(x.Type), tname(y.Type))
}

// pointerOp handles pointer arithmetic and pointer comparisons.
func (ev *evaluator) pointerOp(n *Binary, x, y Value, xp, yp bool) (Value, error) {
	a, err := scalarBits(ev.env, ev.m, x)
	if err != nil {
		return Value{}, wrapAt(n.X, err)
	}
	if !isScalar(y.Type) || !isScalar(x.Type) {
		return Value{}, errAt(n, "invalid operands to binary '%s' (have '%s' and '%s')", n.Op, tname(x.Type), tname(y.Type))
	}
	if Resolve(x.Type).Kind == Float || Resolve(y.Type).Kind == Float {
		return Value{}, errAt(n, "invalid operands to binary '%s' (have '%s' and '%s')", n.Op, tname(x.Type), tname(y.Type))
	}
	b, err := scalarBits(ev.env, ev.m, y)
	if err != nil {
		return Value{}, wrapAt(n.Y, err)
	}
	switch n.Op {
	case "==", "!=", "<", "<=", ">", ">=":
		c := 0
		switch {
		case a < b:
			c = -1
		case a > b:
			c = 1
		}
		return ev.m.IntValue(TypeInt, b2u(compare(n.Op, c))), nil
	case "+":
		if xp && yp {
			return Value{}, errAt(n, "invalid operands to binary '+' (have '%s' and '%s')", tname(x.Type), tname(y.Type))
		}
		if yp { // int + ptr
			x, y, a, b = y, x, b, a
		}
		sz, err := elemSize(n, x.Type)
		if err != nil {
			return Value{}, err
		}
		return ev.m.IntValue(x.Type, a+b*uint64(sz)), nil
	case "-":
		if !xp {
			return Value{}, errAt(n, "invalid operands to binary '-' (have '%s' and '%s')", tname(x.Type), tname(y.Type))
		}
		sz, err := elemSize(n, x.Type)
		if err != nil {
			return Value{}, err
		}
		if !yp {
			return ev.m.IntValue(x.Type, a-b*uint64(sz)), nil
		}
		sy, err := elemSize(n, y.Type)
		if err != nil {
			return Value{}, err
		}
		if sy != sz {
			return Value{}, errAt(n, "cannot subtract pointers to types of different sizes ('%s' and '%s')", tname(x.Type), tname(y.Type))
		}
		return ev.m.IntValue(ev.m.Long(), uint64(int64(a-b)/sz)), nil
	}
	return Value{}, errAt(n, "invalid operands to binary '%s' (have '%s' and '%s')", n.Op, tname(x.Type), tname(y.Type))
}

// elemSize is the scale of pointer arithmetic on pointer type t. Like GNU C,
// void and function pointers step by one byte.
func elemSize(n Node, t *Type) (int64, error) {
	e := Resolve(t).Elem
	if e == nil {
		return 1, nil
	}
	switch Resolve(e).Kind {
	case Void, Func:
		return 1, nil
	}
	sz := sizeOf(e)
	if sz <= 0 {
		return 0, errAt(n, "arithmetic on a pointer to incomplete type '%s'", tname(e))
	}
	return sz, nil
}

// artificialArray implements gdb's `x@n`: n objects of x's type starting at
// x's address.
func (ev *evaluator) artificialArray(n *Binary, x, y Value) (Value, error) {
	if !isInteger(y.Type) {
		return Value{}, errAt(n.Y, "the right operand of '@' must be an integer, not '%s'", tname(y.Type))
	}
	cnt, err := scalarBits(ev.env, ev.m, y)
	if err != nil {
		return Value{}, wrapAt(n.Y, err)
	}
	c := int64(cnt)
	if !Resolve(y.Type).Signed && cnt > math.MaxInt64 {
		c = math.MaxInt64
	}
	switch {
	case x.BitSize > 0:
		return Value{}, errAt(n, "the left operand of '@' cannot be a bitfield")
	case !x.HasAddr:
		return Value{}, errAt(n, "the left operand of '@' must be an object in memory")
	case c <= 0:
		return Value{}, errAt(n.Y, "the right operand of '@' must be positive, got %d", c)
	case c > MaxArtificialLen:
		return Value{}, errAt(n.Y, "the right operand of '@' is %d, more than the limit of %d elements", c, MaxArtificialLen)
	}
	if sizeOf(x.Type) <= 0 {
		return Value{}, errAt(n, "the left operand of '@' has type '%s' of unknown size", tname(x.Type))
	}
	return Value{Type: ArrayOf(x.Type, c), Addr: x.Addr, HasAddr: true}, nil
}

func (ev *evaluator) cond(n *Cond) (Value, error) {
	c, err := ev.eval(n.Cond)
	if err != nil {
		return Value{}, err
	}
	b, err := ev.truth(n.Cond, c)
	if err != nil {
		return Value{}, err
	}
	taken, other := n.Then, n.Else
	if !b {
		taken, other = other, taken
	}
	v, err := ev.eval(taken)
	if err != nil {
		return Value{}, err
	}
	// The untaken arm is not evaluated, but it takes part in the result's
	// type: `1 ? -1 : 0u` is 4294967295.
	o, err := ev.dryRun().eval(other)
	if err != nil {
		return Value{}, err
	}
	if isArithmetic(v.Type) && isArithmetic(o.Type) {
		if Resolve(v.Type).Kind == Float || Resolve(o.Type).Kind == Float {
			r, err := ev.cast(v, TypeDouble)
			return r, wrapIf(taken, err)
		}
		r, err := ev.cast(v, ev.m.common(ev.m.promotedOf(v), ev.m.promotedOf(o)))
		return r, wrapIf(taken, err)
	}
	return v, nil
}

func wrapIf(n Node, err error) error {
	if err == nil {
		return nil
	}
	return wrapAt(n, err)
}

func (ev *evaluator) selectMember(n *Select) (Value, error) {
	x, err := ev.eval(n.X)
	if err != nil {
		return Value{}, err
	}
	k := Resolve(x.Type).Kind
	switch {
	case n.Arrow && k != Pointer && k != Array:
		return Value{}, errAt(n, "member reference type '%s' is not a pointer; use '.' instead of '->'", tname(x.Type))
	case n.Arrow || k == Pointer:
		// Like gdb, accept `ptr.member` as `ptr->member`.
		if x, err = ev.deref(n, x); err != nil {
			return Value{}, err
		}
	}
	return member(n, x, n.Name)
}

// member selects the named member of a struct or union value, looking into
// anonymous struct and union members.
func member(n Node, x Value, name string) (Value, error) {
	st := Resolve(x.Type)
	if st.Kind != Struct && st.Kind != Union {
		return Value{}, errAt(n, "member reference base type '%s' is not a structure or union", tname(x.Type))
	}
	if st.Incomplete {
		return Value{}, errAt(n, "'%s' is an incomplete type (only declared, no members known)", tname(x.Type))
	}
	m, off, ok := findMember(st, name, 0)
	if !ok {
		msg := fmt.Sprintf("no member named '%s' in '%s'", name, tname(x.Type))
		if s := suggest(st, name); s != "" {
			msg += fmt.Sprintf(" (did you mean '%s'?)", s)
		}
		return Value{}, errAt(n, "%s", msg)
	}
	v := Value{Type: m.Type, BitOffset: m.BitOffset, BitSize: m.BitSize}
	if x.HasAddr {
		v.Addr, v.HasAddr = x.Addr+uint64(off), true
	}
	if x.Bytes != nil {
		end := off + sizeOf(m.Type)
		if m.BitSize > 0 {
			end = off + (m.BitOffset+m.BitSize+7)/8
		}
		if off < 0 || end > int64(len(x.Bytes)) || end < off {
			return Value{}, errAt(n, "member '%s' at offset %d lies outside the %d-byte value", name, off, len(x.Bytes))
		}
		v.Bytes = x.Bytes[off:end]
	}
	v.OptimizedOut, v.Unavailable = x.OptimizedOut, x.Unavailable
	return v, nil
}

// findMember searches st's members, descending into anonymous members; off
// is the member's byte offset from the start of st.
func findMember(st *Type, name string, depth int) (Member, int64, bool) {
	if depth > maxTypeDepth {
		return Member{}, 0, false
	}
	for _, m := range st.Members {
		if m.Name == name {
			return m, m.Offset, true
		}
	}
	for _, m := range st.Members {
		if m.Name != "" {
			continue
		}
		mt := Resolve(m.Type)
		if mt.Kind != Struct && mt.Kind != Union {
			continue
		}
		if f, off, ok := findMember(mt, name, depth+1); ok {
			return f, m.Offset + off, true
		}
	}
	return Member{}, 0, false
}

// memberNames lists every member name reachable from st, for suggestions.
func memberNames(st *Type, depth int, out []string) []string {
	if depth > maxTypeDepth {
		return out
	}
	for _, m := range st.Members {
		if m.Name != "" {
			out = append(out, m.Name)
			continue
		}
		if mt := Resolve(m.Type); mt.Kind == Struct || mt.Kind == Union {
			out = memberNames(mt, depth+1, out)
		}
	}
	return out
}

// suggest returns the member name closest to a misspelt one, or "".
func suggest(st *Type, name string) string {
	best, bestD := "", min(len(name)/3+1, 3)+1
	for _, m := range memberNames(st, 0, nil) {
		if d := editDistance(name, m); d < bestD {
			best, bestD = m, d
		}
	}
	return best
}

// editDistance is the Damerau (adjacent transposition) Levenshtein distance.
func editDistance(a, b string) int {
	if len(a) > 256 || len(b) > 256 {
		return 1 << 30
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

func (ev *evaluator) index(n *Index) (Value, error) {
	x, err := ev.eval(n.X)
	if err != nil {
		return Value{}, err
	}
	i, err := ev.eval(n.Index)
	if err != nil {
		return Value{}, err
	}
	// i[a] is a[i].
	if isInteger(x.Type) && !isInteger(i.Type) {
		x, i = i, x
	}
	if !isInteger(i.Type) {
		return Value{}, errAt(n.Index, "array subscript has type '%s', an integer is needed", tname(i.Type))
	}
	idx, err := scalarBits(ev.env, ev.m, i)
	if err != nil {
		return Value{}, wrapAt(n.Index, err)
	}
	xt := Resolve(x.Type)
	switch {
	case xt.Kind == Array && !x.HasAddr:
		// An array that is only a value (a string literal, a register
		// vector): index into its bytes.
		es := sizeOf(xt.Elem)
		if es <= 0 || int64(idx) < 0 || (xt.LenKnown && int64(idx) >= xt.Len) {
			return Value{}, errAt(n, "index %d is outside the array of type '%s'", int64(idx), tname(x.Type))
		}
		off := int64(idx) * es
		if x.Bytes == nil || off+es > int64(len(x.Bytes)) {
			return Value{}, errAt(n, "index %d is outside the value of type '%s'", int64(idx), tname(x.Type))
		}
		return Value{Type: xt.Elem, Bytes: x.Bytes[off : off+es]}, nil
	case xt.Kind == Array || xt.Kind == Pointer:
		p, err := ev.decay(x)
		if err != nil {
			return Value{}, wrapAt(n, err)
		}
		sz, err := elemSize(n, p.Type)
		if err != nil {
			return Value{}, err
		}
		if Resolve(Resolve(p.Type).Elem).Kind == Void {
			return Value{}, errAt(n, "subscript of a pointer to void ('%s')", tname(p.Type))
		}
		base, err := scalarBits(ev.env, ev.m, p)
		if err != nil {
			return Value{}, wrapAt(n.X, err)
		}
		return Value{Type: Resolve(p.Type).Elem, Addr: ev.m.addr(base + idx*uint64(sz)), HasAddr: true}, nil
	}
	return Value{}, errAt(n, "subscripted value of type '%s' is not an array or pointer", tname(x.Type))
}
