package session

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
	godap "github.com/google/go-dap"
	"github.com/kdap/kdap/session/cexpr"
	"github.com/kdap/kdap/session/stack"
	"github.com/kdap/kdap/session/values"
	"github.com/kdap/kdap/target"
	"github.com/kdap/kdap/target/symbols"
)

// replCommands are the kernel commands the debug console understands, with
// their help text.
var replCommands = map[string]string{
	"dmesg":        "the whole kernel message buffer",
	"ps":           "the thread list",
	"info threads": "the thread list",
	"bt":           "bt [tid]: a thread's backtrace (default: the crashed thread)",
	"x":            "x/NFU ADDR: examine memory (F: x, d, u; U: b, h, w, g)",
	"ptype":        "ptype TYPE|VARIABLE: a type's definition",
	"help":         "list the kernel commands",
}

// maxExamine bounds the bytes one x command reads.
const maxExamine = 64 << 10

// evaluate answers hovers, watches, the debug console and clipboard copies.
func (s *Session) evaluate(_ context.Context, r *godap.Request, a godap.EvaluateArguments) (godap.Message, error) {
	t, err := s.target()
	if err != nil {
		return nil, err
	}
	expr := strings.TrimSpace(a.Expression)
	if expr == "" {
		return nil, withID(ErrIDEvaluate, errors.New("empty expression"))
	}
	if a.Context == "repl" {
		if out, handled, err := s.replCommand(t, expr); handled {
			if err != nil {
				return nil, withID(ErrIDEvaluate, err)
			}
			return &godap.EvaluateResponse{Response: ok(r), Body: godap.EvaluateResponseBody{Result: out}}, nil
		}
	}
	hex := a.Format != nil && a.Format.Hex
	res, err := s.evalExpr(expr, a.FrameId, hex)
	if err != nil {
		return nil, withID(ErrIDEvaluate, err)
	}
	return &godap.EvaluateResponse{Response: ok(r), Body: godap.EvaluateResponseBody{
		Result: res.value, Type: res.typ, VariablesReference: res.ref, MemoryReference: res.memRef,
		IndexedVariables: res.indexed, NamedVariables: res.named}}, nil
}

// replCommand runs a kernel command; handled is false when expr is not one.
func (s *Session) replCommand(t *target.Target, expr string) (out string, handled bool, err error) {
	word, rest, _ := strings.Cut(expr, " ")
	rest = strings.TrimSpace(rest)
	switch {
	case expr == "help":
		return replHelp(), true, nil
	case expr == "dmesg":
		mb, err := t.OS.MessageBuffer()
		if err != nil {
			return "", true, err
		}
		return mb.All, true, nil
	case expr == "ps" || expr == "info threads":
		return s.threadList(t)
	case word == "bt" || word == "backtrace":
		return s.btCommand(t, rest)
	case strings.HasPrefix(expr, "x/") || word == "x":
		out, err := s.examine(t, expr)
		return out, true, err
	case word == "ptype":
		out, err := ptype(t, rest)
		return out, true, err
	}
	return "", false, nil
}

// replHelp lists the kernel commands.
func replHelp() string {
	names := make([]string, 0, len(replCommands))
	for n := range replCommands {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("Kernel commands (anything else is evaluated as a C expression):\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-13s %s\n", n, replCommands[n])
	}
	return b.String()
}

// threadList prints every thread, the crashed one marked.
func (s *Session) threadList(t *target.Target) (string, bool, error) {
	ths, err := t.Threads()
	if err != nil {
		return "", true, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  %7s %6s  %s\n", "ID", "PID", "NAME")
	for _, th := range ths {
		mark := " "
		if th.Crashed {
			mark = "*"
		}
		fmt.Fprintf(&b, "%s %7d %6d  %s\n", mark, th.ID, th.PID, th.DisplayName())
	}
	return b.String(), true, nil
}

// btCommand prints a thread's backtrace like gdb.
func (s *Session) btCommand(t *target.Target, arg string) (string, bool, error) {
	var tid int64
	if arg == "" {
		th, err := t.CrashedThread()
		if err != nil {
			return "", true, err
		}
		if th == nil {
			return "", true, errors.New("bt: the dump records no crashed thread; give a thread id")
		}
		tid = th.ID
	} else {
		n, err := strconv.ParseInt(arg, 0, 64)
		if err != nil {
			return "", true, fmt.Errorf("bt: expected a thread id, got %q", arg)
		}
		th, err := t.ThreadByTID(n)
		if err != nil {
			return "", true, fmt.Errorf("bt: thread %d: %w", n, err)
		}
		tid = th.ID
	}
	st, err := s.backtrace(tid)
	if err != nil {
		return "", true, err
	}
	return stack.Format(st.frames, nil), true, nil
}

// examine runs x/NFU ADDR.
func (s *Session) examine(t *target.Target, expr string) (string, error) {
	spec, addrText, _ := strings.Cut(strings.TrimPrefix(expr, "x"), " ")
	addrText = strings.TrimSpace(addrText)
	if addrText == "" {
		return "", errors.New("x: expected an address: x/8gx 0xfffff80000800000")
	}
	count, format, size := 1, byte('x'), 4
	if spec = strings.TrimPrefix(spec, "/"); spec != "" {
		i := 0
		for i < len(spec) && spec[i] >= '0' && spec[i] <= '9' {
			i++
		}
		if i > 0 {
			n, err := strconv.Atoi(spec[:i])
			if err != nil || n <= 0 {
				return "", fmt.Errorf("x: bad count %q", spec[:i])
			}
			count = n
		}
		for _, c := range []byte(spec[i:]) {
			switch c {
			case 'x', 'd', 'u':
				format = c
			case 'b':
				size = 1
			case 'h':
				size = 2
			case 'w':
				size = 4
			case 'g':
				size = 8
			default:
				return "", fmt.Errorf("x: unknown format letter %q in %q (expected x, d, u, b, h, w, g)", c, spec)
			}
		}
	}
	if count*size > maxExamine {
		return "", fmt.Errorf("x: %d bytes asked, at most %d at once", count*size, maxExamine)
	}
	addr, err := s.address(t, addrText)
	if err != nil {
		return "", fmt.Errorf("x: %w", err)
	}
	buf := make([]byte, count*size)
	if err := t.ReadVirt(buf, addr); err != nil {
		return "", fmt.Errorf("x: cannot access memory at %#x: %w", addr, err)
	}
	perLine := 16 / size
	var b strings.Builder
	for i := 0; i < count; i++ {
		if i%perLine == 0 {
			if i > 0 {
				b.WriteByte('\n')
			}
			a := addr + uint64(i*size)
			fmt.Fprintf(&b, "%#x", a)
			if name := symOff(t, a); name != "" {
				b.WriteString(" " + name)
			}
			b.WriteByte(':')
		}
		var v uint64
		w := buf[i*size : (i+1)*size]
		switch size {
		case 1:
			v = uint64(w[0])
		case 2:
			v = uint64(binary.LittleEndian.Uint16(w))
		case 4:
			v = uint64(binary.LittleEndian.Uint32(w))
		default:
			v = binary.LittleEndian.Uint64(w)
		}
		switch format {
		case 'x':
			fmt.Fprintf(&b, "\t0x%0*x", size*2, v)
		case 'u':
			fmt.Fprintf(&b, "\t%d", v)
		default:
			shift := 64 - 8*size
			fmt.Fprintf(&b, "\t%d", int64(v<<shift)>>shift)
		}
	}
	return b.String(), nil
}

// address resolves an x command's address: a number, a symbol (with an
// optional leading &), or an expression whose value is an address.
func (s *Session) address(t *target.Target, text string) (uint64, error) {
	if n, err := strconv.ParseUint(text, 0, 64); err == nil {
		return n, nil
	}
	if sym, ok := t.Kernel.Syms.Lookup(strings.TrimPrefix(text, "&")); ok {
		return sym.Addr, nil
	}
	res, err := s.evalExpr(text, 0, true)
	if err != nil {
		return 0, fmt.Errorf("address %q: %w", text, err)
	}
	f := strings.Fields(res.value)
	if len(f) > 0 {
		if n, err := strconv.ParseUint(f[0], 0, 64); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("address %q: value %q is not an address", text, res.value)
}

// ptype prints a type's definition, or a variable's type.
func ptype(t *target.Target, name string) (string, error) {
	if name == "" {
		return "", errors.New("ptype: expected a type or variable name")
	}
	d, err := t.Kernel.DWARF()
	if err != nil {
		return "", fmt.Errorf("ptype: %w", err)
	}
	typ, err := d.Type(name)
	if err != nil {
		_, vt, verr := d.Variable(name)
		if verr != nil {
			return "", fmt.Errorf("ptype: no type or variable %q: %w", name, err)
		}
		typ = vt
	}
	return "type = " + typeDefinition(typ), nil
}

// typeDefinition spells a struct, union or enum with its members, and
// other types by their C name.
func typeDefinition(typ godwarf.Type) string {
	switch tt := typ.(type) {
	case *godwarf.TypedefType:
		if st, ok := tt.Type.(*godwarf.StructType); ok && st.StructName == "" {
			return typeDefinition(st)
		}
		return cDecl(tt.Type, "")
	case *godwarf.StructType:
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s {\n", tt.Kind, tt.StructName)
		for _, f := range tt.Field {
			bits := ""
			if f.BitSize > 0 {
				bits = fmt.Sprintf(" : %d", f.BitSize)
			}
			fmt.Fprintf(&b, "    %s%s;\n", cDecl(f.Type, f.Name), bits)
		}
		b.WriteString("}")
		return b.String()
	case *godwarf.EnumType:
		var b strings.Builder
		fmt.Fprintf(&b, "enum %s {", tt.EnumName)
		for i, v := range tt.Val {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, " %s = %d", v.Name, v.Val)
		}
		b.WriteString(" }")
		return b.String()
	}
	return cDecl(typ, "")
}

// maxDeclDepth bounds the declarator nesting cDecl follows (a corrupt DWARF
// type graph may be cyclic).
const maxDeclDepth = 32

// cDecl spells the C declaration of name with type t ("char p_comm[20]",
// "int (*handler)(int)"); an empty name gives the abstract type.
func cDecl(t godwarf.Type, name string) string {
	return cDeclDepth(t, name, 0)
}

func cDeclDepth(t godwarf.Type, name string, depth int) string {
	join := func(base string) string {
		if name == "" {
			return base
		}
		return base + " " + name
	}
	if depth > maxDeclDepth {
		return join("...")
	}
	switch tt := t.(type) {
	case nil:
		return join("void")
	case *godwarf.PtrType:
		inner := "*" + name
		switch tt.Type.(type) {
		case *godwarf.ArrayType, *godwarf.FuncType:
			inner = "(" + inner + ")"
		}
		return cDeclDepth(tt.Type, inner, depth+1)
	case *godwarf.ArrayType:
		n := ""
		if tt.Count >= 0 {
			n = strconv.FormatInt(tt.Count, 10)
		}
		return cDeclDepth(tt.Type, name+"["+n+"]", depth+1)
	case *godwarf.FuncType:
		params := make([]string, len(tt.ParamType))
		for i, p := range tt.ParamType {
			params[i] = cDeclDepth(p, "", depth+1)
		}
		if len(params) == 0 {
			params = []string{"void"}
		}
		return cDeclDepth(tt.ReturnType, name+"("+strings.Join(params, ", ")+")", depth+1)
	case *godwarf.QualType:
		return tt.Qual + " " + cDeclDepth(tt.Type, name, depth+1)
	case *godwarf.StructType:
		return join(tt.Kind + " " + tt.StructName)
	case *godwarf.EnumType:
		return join("enum " + tt.EnumName)
	case *godwarf.TypedefType:
		return join(tt.Name)
	case *godwarf.VoidType:
		return join("void")
	}
	return join(t.Common().Name)
}

// exceptionInfo describes the panic.
func (s *Session) exceptionInfo(r *godap.Request) (godap.Message, error) {
	t, err := s.target()
	if err != nil {
		return nil, err
	}
	p, err := t.OS.PanicString()
	if err != nil {
		return nil, err
	}
	desc := p
	if desc == "" {
		desc = "the dump records no panic"
	}
	details := &godap.ExceptionDetails{Message: desc, TypeName: "panic"}
	if mb, err := t.OS.MessageBuffer(); err == nil {
		details.StackTrace = tail(mb.All, 4096)
	}
	return &godap.ExceptionInfoResponse{Response: ok(r), Body: godap.ExceptionInfoResponseBody{
		ExceptionId: "panic", Description: desc, BreakMode: "always", Details: details}}, nil
}

// tail returns the last n bytes of s, starting at a line boundary.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i+1 < len(s) {
		s = s[i+1:]
	}
	return s
}

// maxCompletions bounds the items one completions answer lists.
const maxCompletions = 200

// completions suggests kernel commands and symbols.
func (s *Session) completions(r *godap.Request, a godap.CompletionsArguments) (godap.Message, error) {
	t, err := s.target()
	if err != nil {
		return nil, err
	}
	text := a.Text
	if col := a.Column - 1; col >= 0 && col < len(text) {
		text = text[:col]
	}
	// The word being typed: the identifier characters before the cursor.
	i := len(text)
	for i > 0 && isIdentByte(text[i-1]) {
		i--
	}
	word := text[i:]
	var items []godap.CompletionItem
	if i == 0 {
		for name := range replCommands {
			if strings.HasPrefix(name, word) {
				items = append(items, godap.CompletionItem{Label: name, Type: "keyword"})
			}
		}
		sort.Slice(items, func(a, b int) bool { return items[a].Label < items[b].Label })
	}
	before := strings.TrimRight(text[:i], " ")
	if strings.HasSuffix(before, ".") || strings.HasSuffix(before, "->") {
		items = append(items, s.memberCompletions(before, word, a.FrameId)...)
	} else if word != "" {
		for _, sym := range t.Kernel.Syms.WithPrefix(word, maxCompletions) {
			typ := godap.CompletionItemType("variable")
			if sym.Kind == symbols.Func {
				typ = "function"
			}
			items = append(items, godap.CompletionItem{Label: sym.Name, Type: typ})
		}
	}
	if len(items) > maxCompletions {
		items = items[:maxCompletions]
	}
	for k := range items {
		items[k].Start = i + 1
		items[k].Length = len(word)
	}
	if items == nil {
		items = []godap.CompletionItem{}
	}
	return &godap.CompletionsResponse{Response: ok(r), Body: godap.CompletionsResponseBody{Targets: items}}, nil
}

// memberCompletions lists the members named word… of the struct that the
// expression before "." or "->" in before denotes.
func (s *Session) memberCompletions(before, word string, frameID int) []godap.CompletionItem {
	op := "."
	if strings.HasSuffix(before, "->") {
		op = "->"
	}
	base := strings.TrimSuffix(before, op)
	// Walk back over the operand: identifiers, member and index
	// operators, and whole parenthesized groups.
	j, depth := len(base), 0
scan:
	for j > 0 {
		c := base[j-1]
		switch {
		case c == ')':
			depth++
		case c == '(' && depth > 0:
			depth--
		case isIdentByte(c) || strings.IndexByte(".->[]", c) >= 0:
		case depth > 0 && c != '(':
		default:
			break scan
		}
		j--
	}
	expr := base[j:]
	if expr == "" {
		return nil
	}
	if op == "->" {
		expr = "*(" + expr + ")"
	}
	env, err := s.envFor(frameID)
	if err != nil {
		return nil
	}
	v, err := cexpr.Evaluate(env, expr)
	if err != nil {
		return nil
	}
	kids, _, err := values.Children(env, expr, v, 0, maxCompletions)
	if err != nil {
		return nil
	}
	var out []godap.CompletionItem
	for _, k := range kids {
		if strings.HasPrefix(k.Name, word) && k.Name != "" && isIdentByte(k.Name[0]) {
			out = append(out, godap.CompletionItem{Label: k.Name, Type: "field"})
		}
	}
	return out
}

// isIdentByte reports whether c can be part of a C identifier.
func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
