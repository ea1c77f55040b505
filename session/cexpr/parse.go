package cexpr

import (
	"fmt"
	"strings"
)

// MaxDepth bounds the nesting of an expression (parentheses, unary operators,
// casts); deeper input is refused with "expression nested too deeply".
const MaxDepth = 256

// Parse parses one C expression for an LP64 target; see ParseModel.
func Parse(src string, isTypeName func(string) bool) (Node, error) {
	return ParseModel(src, isTypeName, LP64)
}

// ParseModel parses one C expression, typing its integer literals in data
// model m (2147483648 is long on LP64, long long on ILP32). isTypeName
// tells whether an identifier names a typedef (so that `(lwpid_t)5` is a
// cast and `(x)-1` a subtraction); it may be nil when no typedef names
// exist.
//
// Precedence follows C; gdb's binary `@` binds tighter than the shifts and
// looser than `+` and `-` (GDB manual, "C Operators"), so `a@n+1` is
// `a@(n+1)` and `a@2 == b` is `(a@2) == b`. Assignment, increment, function
// calls and the comma operator are refused: a crash dump cannot run code or
// change memory.
func ParseModel(src string, isTypeName func(string) bool, m DataModel) (Node, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	if isTypeName == nil {
		isTypeName = func(string) bool { return false }
	}
	p := &parser{toks: toks, isType: isTypeName, model: m}
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t, "end of expression")
	}
	return n, nil
}

type parser struct {
	toks   []token
	pos    int
	depth  int
	isType func(string) bool
	model  DataModel // types integer literals
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) peekAt(k int) token {
	if p.pos+k < len(p.toks) {
		return p.toks[p.pos+k]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *parser) isPunct(s string) bool {
	t := p.peek()
	return t.kind == tPunct && t.text == s
}

func (p *parser) expect(s string) (token, error) {
	t := p.peek()
	if t.kind != tPunct || t.text != s {
		return t, &Error{Col: t.col, Msg: fmt.Sprintf("syntax error: expected '%s'", s), Syntax: true}
	}
	return p.next(), nil
}

// unexpected explains a token that cannot appear where it is.
func (p *parser) unexpected(t token, want string) error {
	if t.kind == tEOF {
		return &Error{Col: t.col, Msg: "syntax error: expected " + want + ", found end of expression", Syntax: true}
	}
	if t.kind == tPunct {
		switch t.text {
		case "=", "+=", "-=", "*=", "/=", "%=", "&=", "^=", "|=", "<<=", ">>=":
			return &Error{Col: t.col, Msg: fmt.Sprintf("syntax error: assignment '%s' is not supported: a crash dump is read-only", t.text), Syntax: true}
		case "++", "--":
			return &Error{Col: t.col, Msg: fmt.Sprintf("syntax error: '%s' is not supported: a crash dump is read-only", t.text), Syntax: true}
		case ",":
			return &Error{Col: t.col, Msg: "syntax error: the comma operator is not supported", Syntax: true}
		case "(":
			return &Error{Col: t.col, Msg: "syntax error: function calls are not supported: a crash dump cannot run code", Syntax: true}
		}
	}
	return &Error{Col: t.col, Msg: fmt.Sprintf("syntax error: unexpected '%s', expected %s", t.text, want), Syntax: true}
}

func (p *parser) enter(col int) error {
	p.depth++
	if p.depth > MaxDepth {
		return &Error{Col: col, Msg: "syntax error: expression nested too deeply", Syntax: true}
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// expr parses a conditional expression (the top of the grammar we accept).
func (p *parser) expr() (Node, error) {
	if err := p.enter(p.peek().col); err != nil {
		return nil, err
	}
	defer p.leave()
	c, err := p.binary(0)
	if err != nil {
		return nil, err
	}
	if !p.isPunct("?") {
		return c, nil
	}
	q := p.next()
	then, err := p.expr()
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(":"); err != nil {
		return nil, err
	}
	els, err := p.expr() // right-associative
	if err != nil {
		return nil, err
	}
	return &Cond{Col: q.col, Cond: c, Then: then, Else: els}, nil
}

// binLevels lists binary operators from the loosest to the tightest binding.
var binLevels = [][]string{
	{"||"},
	{"&&"},
	{"|"},
	{"^"},
	{"&"},
	{"==", "!="},
	{"<", "<=", ">", ">="},
	{"<<", ">>"},
	{"@"},
	{"+", "-"},
	{"*", "/", "%"},
}

// binary parses a left-associative chain of operators of binLevels[level]
// and tighter.
func (p *parser) binary(level int) (Node, error) {
	if level == len(binLevels) {
		return p.unary()
	}
	x, err := p.binary(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tPunct || !contains(binLevels[level], t.text) {
			return x, nil
		}
		p.next()
		y, err := p.binary(level + 1)
		if err != nil {
			return nil, err
		}
		x = &Binary{Col: t.col, Op: t.text, X: x, Y: y}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// unary parses prefix operators, casts and sizeof.
func (p *parser) unary() (Node, error) {
	t := p.peek()
	if err := p.enter(t.col); err != nil {
		return nil, err
	}
	defer p.leave()
	switch {
	case t.kind == tPunct && (t.text == "*" || t.text == "&" || t.text == "-" || t.text == "+" || t.text == "!" || t.text == "~"):
		p.next()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &Unary{Col: t.col, Op: t.text, X: x}, nil
	case t.kind == tIdent && t.text == "sizeof":
		p.next()
		if p.isPunct("(") && p.startsTypeName(p.peekAt(1)) {
			tn, err := p.parenTypeName()
			if err != nil {
				return nil, err
			}
			return &SizeofType{Col: t.col, Type: tn}, nil
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &SizeofExpr{Col: t.col, X: x}, nil
	case t.kind == tPunct && t.text == "(" && p.startsTypeName(p.peekAt(1)):
		tn, err := p.parenTypeName()
		if err != nil {
			return nil, err
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &Cast{Col: t.col, Type: tn, X: x}, nil
	}
	return p.postfix()
}

// parenTypeName parses `( type-name )`.
func (p *parser) parenTypeName() (*TypeName, error) {
	p.next()
	tn, err := p.typeName()
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(")"); err != nil {
		return nil, err
	}
	return tn, nil
}

// postfix parses a primary expression followed by [] . -> suffixes.
func (p *parser) postfix() (Node, error) {
	x, err := p.primary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tPunct {
			return x, nil
		}
		switch t.text {
		case "[":
			p.next()
			i, err := p.expr()
			if err != nil {
				return nil, err
			}
			if _, err := p.expect("]"); err != nil {
				return nil, err
			}
			x = &Index{Col: t.col, X: x, Index: i}
		case ".", "->":
			p.next()
			name := p.peek()
			if name.kind != tIdent {
				return nil, &Error{Col: name.col, Msg: fmt.Sprintf("syntax error: expected a member name after '%s'", t.text), Syntax: true}
			}
			p.next()
			x = &Select{Col: name.col, X: x, Name: name.text, Arrow: t.text == "->"}
		case "(", "++", "--":
			return nil, p.unexpected(t, "an operator")
		default:
			return x, nil
		}
	}
}

// primary parses literals, names, registers and parenthesized expressions.
func (p *parser) primary() (Node, error) {
	t := p.peek()
	switch t.kind {
	case tIdent:
		if isKeyword(t.text) || p.isType(t.text) {
			return nil, &Error{Col: t.col, Msg: fmt.Sprintf("syntax error: '%s' is a type, not a value (a cast needs parentheses)", t.text), Syntax: true}
		}
		p.next()
		return &Ident{Col: t.col, Name: t.text}, nil
	case tInt:
		p.next()
		return &IntLit{Col: t.col, Text: t.text, Val: t.ival, Type: literalType(t, p.model)}, nil
	case tFloat:
		p.next()
		return &FloatLit{Col: t.col, Text: t.text, Val: t.fval}, nil
	case tChar:
		p.next()
		return &CharLit{Col: t.col, Val: byte(t.ival)}, nil
	case tString:
		p.next()
		s := t.sval
		for p.peek().kind == tString { // adjacent literals concatenate
			s += p.next().sval
		}
		return &StringLit{Col: t.col, Val: s}, nil
	case tReg:
		p.next()
		return &Reg{Col: t.col, Name: t.text}, nil
	case tPunct:
		if t.text == "(" {
			p.next()
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			if _, err := p.expect(")"); err != nil {
				return nil, err
			}
			return x, nil
		}
	}
	return nil, p.unexpected(t, "an expression")
}

// literalType gives an integer constant its C type: the first of a list that
// can represent the value (C11 6.4.4.1), with data model m's long.
func literalType(t token, m DataModel) *Type {
	long, ulong := m.Long(), m.ULong()
	var cands []*Type
	switch {
	case t.unsigned && t.longs == 0:
		cands = []*Type{TypeUInt, ulong, TypeULongLong}
	case t.unsigned && t.longs == 1:
		cands = []*Type{ulong, TypeULongLong}
	case t.unsigned:
		cands = []*Type{TypeULongLong}
	case t.decimal && t.longs == 0:
		cands = []*Type{TypeInt, long, TypeLongLong}
	case t.decimal && t.longs == 1:
		cands = []*Type{long, TypeLongLong}
	case t.decimal:
		cands = []*Type{TypeLongLong}
	case t.longs == 0:
		cands = []*Type{TypeInt, TypeUInt, long, ulong, TypeLongLong, TypeULongLong}
	case t.longs == 1:
		cands = []*Type{long, ulong, TypeLongLong, TypeULongLong}
	default:
		cands = []*Type{TypeLongLong, TypeULongLong}
	}
	for _, c := range cands {
		bits := uint(c.Size * 8)
		if c.Signed {
			bits--
		}
		if bits >= 64 || t.ival < 1<<bits {
			return c
		}
	}
	// A decimal constant too big for long long: gcc makes it unsigned.
	return TypeULongLong
}

// typeKeywords are the words that can start a type-name.
var typeKeywords = map[string]bool{
	"void": true, "char": true, "short": true, "int": true, "long": true, "float": true, "double": true,
	"signed": true, "unsigned": true, "_Bool": true, "const": true, "volatile": true,
	"struct": true, "union": true, "enum": true, "__signed__": true, "__const": true, "__volatile__": true,
}

func isKeyword(s string) bool { return typeKeywords[s] || s == "sizeof" }

// startsTypeName reports whether t begins a type-name.
func (p *parser) startsTypeName(t token) bool {
	return t.kind == tIdent && (typeKeywords[t.text] || (t.text != "sizeof" && p.isType(t.text)))
}

// typeName parses specifiers, qualifiers and an abstract declarator.
func (p *parser) typeName() (*TypeName, error) {
	start := p.peek()
	tn := &TypeName{Col: start.col}
	counts := map[string]int{}
	var order []string
	for {
		t := p.peek()
		if t.kind != tIdent {
			break
		}
		w := t.text
		switch w {
		case "__signed__":
			w = "signed"
		case "__const":
			w = "const"
		case "__volatile__":
			w = "volatile"
		}
		switch {
		case w == "const":
			tn.Const = true
			p.next()
			continue
		case w == "volatile":
			tn.Volatile = true
			p.next()
			continue
		case w == "struct" || w == "union" || w == "enum":
			if len(order) > 0 || tn.Tag != Invalid {
				return nil, &Error{Col: t.col, Msg: fmt.Sprintf("syntax error: '%s' cannot follow another type specifier", w), Syntax: true}
			}
			p.next()
			name := p.peek()
			if name.kind != tIdent || isKeyword(name.text) {
				return nil, &Error{Col: name.col, Msg: fmt.Sprintf("syntax error: expected a tag name after '%s'", w), Syntax: true}
			}
			p.next()
			tn.Tag = map[string]Kind{"struct": Struct, "union": Union, "enum": Enum}[w]
			tn.Name = name.text
			continue
		case typeKeywords[w]:
			if tn.Tag != Invalid {
				return nil, &Error{Col: t.col, Msg: fmt.Sprintf("syntax error: '%s' cannot follow another type specifier", w), Syntax: true}
			}
			counts[w]++
			order = append(order, w)
			p.next()
			continue
		case len(order) == 0 && tn.Tag == Invalid && p.isType(w):
			p.next()
			tn.Tag = Typedef
			tn.Name = w
			continue
		}
		break
	}
	if tn.Tag == Invalid {
		if len(order) == 0 {
			return nil, &Error{Col: start.col, Msg: "syntax error: expected a type name", Syntax: true}
		}
		name, err := baseTypeName(counts)
		if err != nil {
			return nil, &Error{Col: start.col, Msg: "syntax error: " + err.Error() + " in '" + strings.Join(order, " ") + "'", Syntax: true}
		}
		tn.Name = name
	}
	d, err := p.abstractDeclarator()
	if err != nil {
		return nil, err
	}
	tn.Derived = d
	return tn, nil
}

// baseTypeName turns a multiset of base-type keywords into the canonical
// spelling ("long unsigned int" → "unsigned long").
func baseTypeName(c map[string]int) (string, error) {
	if c["signed"] > 0 && c["unsigned"] > 0 {
		return "", fmt.Errorf("both 'signed' and 'unsigned'")
	}
	for w, n := range c {
		if n > 1 && w != "long" {
			return "", fmt.Errorf("duplicate '%s'", w)
		}
	}
	if c["long"] > 2 {
		return "", fmt.Errorf("'long long long' is too long")
	}
	others := 0
	for _, w := range []string{"void", "char", "short", "float", "double", "_Bool"} {
		others += c[w]
	}
	if others > 1 || (others == 1 && c["int"] > 0 && c["short"] == 0) {
		return "", fmt.Errorf("conflicting type specifiers")
	}
	sign := c["signed"] + c["unsigned"]
	switch {
	case c["void"] == 1:
		if sign+c["long"]+c["int"] > 0 {
			return "", fmt.Errorf("'void' cannot be combined")
		}
		return "void", nil
	case c["_Bool"] == 1:
		if sign+c["long"]+c["int"] > 0 {
			return "", fmt.Errorf("'_Bool' cannot be combined")
		}
		return "_Bool", nil
	case c["float"] == 1:
		if sign+c["long"] > 0 {
			return "", fmt.Errorf("'float' cannot be combined")
		}
		return "float", nil
	case c["double"] == 1:
		if sign > 0 || c["long"] > 1 {
			return "", fmt.Errorf("invalid 'double' type")
		}
		if c["long"] == 1 {
			return "long double", nil
		}
		return "double", nil
	case c["char"] == 1:
		if c["long"] > 0 {
			return "", fmt.Errorf("'long char' is not a type")
		}
		switch {
		case c["signed"] == 1:
			return "signed char", nil
		case c["unsigned"] == 1:
			return "unsigned char", nil
		}
		return "char", nil
	case c["short"] == 1:
		if c["long"] > 0 {
			return "", fmt.Errorf("both 'short' and 'long'")
		}
		if c["unsigned"] == 1 {
			return "unsigned short", nil
		}
		return "short", nil
	}
	name := [...]string{"int", "long", "long long"}[c["long"]]
	if c["unsigned"] == 1 {
		if name == "int" {
			return "unsigned int", nil
		}
		return "unsigned " + name, nil
	}
	return name, nil
}

// baseTypes maps canonical base-type spellings to their LP64 types
// (DataModel.baseType substitutes the model's long).
var baseTypes = map[string]*Type{
	"void": TypeVoid, "_Bool": TypeBool, "char": TypeChar, "signed char": TypeSChar, "unsigned char": TypeUChar,
	"short": TypeShort, "unsigned short": TypeUShort, "int": TypeInt, "unsigned int": TypeUInt,
	"long": TypeLong, "unsigned long": TypeULong, "long long": TypeLongLong, "unsigned long long": TypeULongLong,
	"float": TypeFloat, "double": TypeDouble, "long double": TypeLongDouble,
}

// abstractDeclarator parses pointer and array derivations, with an optional
// parenthesized inner declarator: `*`, `**`, `[4]`, `*[4]`, `(*)[4]`.
func (p *parser) abstractDeclarator() ([]Derivation, error) {
	if err := p.enter(p.peek().col); err != nil {
		return nil, err
	}
	defer p.leave()
	var out []Derivation
	for p.isPunct("*") {
		p.next()
		d := Derivation{Ptr: true}
		for p.peek().kind == tIdent && (p.peek().text == "const" || p.peek().text == "volatile") {
			d.Const = d.Const || p.peek().text == "const"
			p.next()
		}
		out = append(out, d)
	}
	var inner []Derivation
	if p.isPunct("(") {
		lp := p.next()
		if p.isPunct(")") || p.startsTypeName(p.peek()) {
			return nil, &Error{Col: lp.col, Msg: "syntax error: function types are not supported in casts", Syntax: true}
		}
		var err error
		inner, err = p.abstractDeclarator()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(")"); err != nil {
			return nil, err
		}
	}
	var arrays []Derivation
	for {
		if p.isPunct("(") {
			return nil, &Error{Col: p.peek().col, Msg: "syntax error: function pointer casts are not supported", Syntax: true}
		}
		if !p.isPunct("[") {
			break
		}
		p.next()
		d := Derivation{}
		if !p.isPunct("]") {
			n, err := p.expr()
			if err != nil {
				return nil, err
			}
			d.Len = n
		}
		if _, err := p.expect("]"); err != nil {
			return nil, err
		}
		arrays = append(arrays, d)
	}
	// `T *[2][3]` is array 2 of array 3 of pointer to T: pointers apply
	// first, then the array bounds from the innermost (rightmost) outwards,
	// then whatever the parentheses held.
	for i := len(arrays) - 1; i >= 0; i-- {
		out = append(out, arrays[i])
	}
	return append(out, inner...), nil
}

// String returns the expression fully parenthesized, for tests and logs.
func String(n Node) string {
	var b strings.Builder
	writeNode(&b, n)
	return b.String()
}

func writeNode(b *strings.Builder, n Node) {
	switch n := n.(type) {
	case *Ident:
		b.WriteString(n.Name)
	case *IntLit:
		b.WriteString(n.Text)
	case *FloatLit:
		b.WriteString(n.Text)
	case *CharLit:
		fmt.Fprintf(b, "'%s'", escapeChar(n.Val, '\''))
	case *StringLit:
		b.WriteString(quoteC([]byte(n.Val)))
	case *Reg:
		b.WriteString("$" + n.Name)
	case *Unary:
		b.WriteString("(" + n.Op)
		writeNode(b, n.X)
		b.WriteString(")")
	case *Cast:
		b.WriteString("((" + n.Type.String() + ")")
		writeNode(b, n.X)
		b.WriteString(")")
	case *SizeofExpr:
		b.WriteString("sizeof(")
		writeNode(b, n.X)
		b.WriteString(")")
	case *SizeofType:
		b.WriteString("sizeof(" + n.Type.String() + ")")
	case *Binary:
		b.WriteString("(")
		writeNode(b, n.X)
		b.WriteString(" " + n.Op + " ")
		writeNode(b, n.Y)
		b.WriteString(")")
	case *Cond:
		b.WriteString("(")
		writeNode(b, n.Cond)
		b.WriteString(" ? ")
		writeNode(b, n.Then)
		b.WriteString(" : ")
		writeNode(b, n.Else)
		b.WriteString(")")
	case *Select:
		switch n.X.(type) {
		case *IntLit, *FloatLit: // `1.x` would lex as a number
			b.WriteString("(")
			writeNode(b, n.X)
			b.WriteString(")")
		default:
			writeNode(b, n.X)
		}
		if n.Arrow {
			b.WriteString("->")
		} else {
			b.WriteString(".")
		}
		b.WriteString(n.Name)
	case *Index:
		writeNode(b, n.X)
		b.WriteString("[")
		writeNode(b, n.Index)
		b.WriteString("]")
	}
}

// String spells the type-name as written (canonical base spelling).
func (tn *TypeName) String() string {
	base := tn.Name
	if tn.Tag == Struct || tn.Tag == Union || tn.Tag == Enum {
		base = tn.Tag.String() + " " + tn.Name
	}
	if tn.Volatile {
		base = "volatile " + base
	}
	if tn.Const {
		base = "const " + base
	}
	// The last derivation is the outermost type, which C writes closest to
	// the (absent) name: build the declarator from it inwards.
	decl := ""
	for i := len(tn.Derived) - 1; i >= 0; i-- {
		d := tn.Derived[i]
		if d.Ptr {
			switch {
			case d.Const && decl != "":
				decl = "* const " + decl
			case d.Const:
				decl = "* const"
			default:
				decl = "*" + decl
			}
			continue
		}
		if strings.HasPrefix(decl, "*") {
			decl = "(" + decl + ")"
		}
		if d.Len == nil {
			decl += "[]"
		} else {
			decl += "[" + String(d.Len) + "]"
		}
	}
	if decl == "" {
		return base
	}
	return base + " " + decl
}
