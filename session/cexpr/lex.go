package cexpr

import (
	"fmt"
	"strconv"
)

// tokKind classifies a token.
type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tInt
	tFloat
	tChar
	tString
	tReg // $name
	tPunct
)

// token is one lexeme; col is the 1-based byte column of its first byte.
type token struct {
	kind tokKind
	col  int
	text string // punctuation or identifier spelling, literal source text
	// For tInt: the value and suffix facts; for tChar: the value in ival.
	ival     uint64
	unsigned bool
	longs    int // 0, 1 (l) or 2 (ll)
	decimal  bool
	fval     float64
	sval     string // decoded string literal
}

// puncts lists multi-character operators first so the longest match wins.
var puncts = []string{
	"<<=", ">>=", "...",
	"->", "++", "--", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||",
	"+=", "-=", "*=", "/=", "%=", "&=", "^=", "|=", "::",
	"+", "-", "*", "/", "%", "<", ">", "&", "^", "|", "!", "~", "?", ":",
	"(", ")", "[", "]", ".", ",", "@", "=", "{", "}", ";",
}

// maxTokens bounds the work done on one expression.
const maxTokens = 4096

// lex splits src into tokens, ending with a tEOF token.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for {
		for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
			i++
		}
		if len(toks) >= maxTokens {
			return nil, &Error{Col: i + 1, Msg: fmt.Sprintf("syntax error: expression longer than %d tokens", maxTokens), Syntax: true}
		}
		if i >= len(src) {
			toks = append(toks, token{kind: tEOF, col: i + 1})
			return toks, nil
		}
		start := i
		c := src[i]
		switch {
		case isIdentStart(c):
			for i < len(src) && isIdentChar(src[i]) {
				i++
			}
			toks = append(toks, token{kind: tIdent, col: start + 1, text: src[start:i]})
		case c == '$':
			i++
			for i < len(src) && isIdentChar(src[i]) {
				i++
			}
			if i == start+1 {
				return nil, &Error{Col: start + 1, Msg: "syntax error: expected a register or variable name after '$'", Syntax: true}
			}
			toks = append(toks, token{kind: tReg, col: start + 1, text: src[start+1 : i]})
		case isDigit(c) || (c == '.' && i+1 < len(src) && isDigit(src[i+1])):
			t, n, err := lexNumber(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i = n
		case c == '\'':
			t, n, err := lexChar(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i = n
		case c == '"':
			t, n, err := lexString(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i = n
		default:
			matched := ""
			for _, p := range puncts {
				if len(src)-i >= len(p) && src[i:i+len(p)] == p {
					matched = p
					break
				}
			}
			if matched == "" {
				return nil, &Error{Col: start + 1, Msg: fmt.Sprintf("syntax error: unexpected character %s", strconv.QuoteRune(rune(c))), Syntax: true}
			}
			i += len(matched)
			toks = append(toks, token{kind: tPunct, col: start + 1, text: matched})
		}
	}
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// lexNumber scans an integer or floating literal starting at src[i].
func lexNumber(src string, i int) (token, int, error) {
	start := i
	for i < len(src) && (isIdentChar(src[i]) || src[i] == '.' ||
		((src[i] == '+' || src[i] == '-') && i > start && (src[i-1] == 'e' || src[i-1] == 'E') && !isHexPrefix(src[start:]))) {
		i++
	}
	text := src[start:i]
	bad := func(why string) (token, int, error) {
		return token{}, 0, &Error{Col: start + 1, Msg: fmt.Sprintf("syntax error: invalid number %q: %s", text, why), Syntax: true}
	}
	if isFloatText(text) {
		f, err := strconv.ParseFloat(trimFloatSuffix(text), 64)
		if err != nil {
			return bad("not a floating constant")
		}
		return token{kind: tFloat, col: start + 1, text: text, fval: f}, i, nil
	}
	base, digits := 10, text
	switch {
	case len(text) >= 2 && (text[:2] == "0x" || text[:2] == "0X"):
		base, digits = 16, text[2:]
	case len(text) >= 2 && (text[:2] == "0b" || text[:2] == "0B"):
		base, digits = 2, text[2:]
	case len(text) > 1 && text[0] == '0' && isDigit(text[1]):
		base, digits = 8, text[1:]
	}
	// The digits run up to the first character that cannot be a digit in
	// any base up to the literal's; the rest is the suffix.
	end := 0
	for end < len(digits) && (isDigit(digits[end]) || (base == 16 && isHexDigit(digits[end]))) {
		end++
	}
	suffix := digits[end:]
	digits = digits[:end]
	t := token{kind: tInt, col: start + 1, text: text}
	switch suffix {
	case "", "u", "U":
	case "l", "L", "ul", "uL", "Ul", "UL", "lu", "lU", "Lu", "LU":
		t.longs = 1
	case "ll", "LL", "ull", "uLL", "Ull", "ULL", "llu", "llU", "LLu", "LLU":
		t.longs = 2
	default:
		return bad("unknown suffix " + strconv.Quote(suffix))
	}
	for _, c := range suffix {
		if c == 'u' || c == 'U' {
			t.unsigned = true
		}
	}
	if digits == "" {
		return bad("no digits")
	}
	v, err := strconv.ParseUint(digits, base, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return bad("too large for any integer type")
		}
		return bad(fmt.Sprintf("not a base-%d integer", base))
	}
	t.ival = v
	t.decimal = base == 10
	return t, i, nil
}

func isHexPrefix(s string) bool { return len(s) > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') }

// isFloatText reports whether a numeric literal is a floating constant.
func isFloatText(s string) bool {
	if isHexPrefix(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '.' || s[i] == 'e' || s[i] == 'E' {
			return true
		}
	}
	return false
}

func trimFloatSuffix(s string) string {
	if n := len(s); n > 0 && (s[n-1] == 'f' || s[n-1] == 'F' || s[n-1] == 'l' || s[n-1] == 'L') {
		return s[:n-1]
	}
	return s
}

// lexEscape decodes one character or escape sequence at src[i] inside a
// character or string literal and returns its byte value and the next index.
func lexEscape(src string, i int) (byte, int, error) {
	if src[i] != '\\' {
		return src[i], i + 1, nil
	}
	if i+1 >= len(src) {
		return 0, 0, &Error{Col: i + 1, Msg: "syntax error: unterminated escape sequence", Syntax: true}
	}
	c := src[i+1]
	switch {
	case c == 'x':
		j := i + 2
		var v uint64
		for j < len(src) && j < i+4 && isHexDigit(src[j]) {
			d, _ := strconv.ParseUint(src[j:j+1], 16, 8)
			v = v*16 + d
			j++
		}
		if j == i+2 {
			return 0, 0, &Error{Col: i + 1, Msg: `syntax error: \x used with no following hex digits`, Syntax: true}
		}
		return byte(v), j, nil
	case c >= '0' && c <= '7':
		j := i + 1
		var v uint64
		for j < len(src) && j < i+4 && src[j] >= '0' && src[j] <= '7' {
			v = v*8 + uint64(src[j]-'0')
			j++
		}
		if v > 255 {
			return 0, 0, &Error{Col: i + 1, Msg: "syntax error: octal escape sequence out of range", Syntax: true}
		}
		return byte(v), j, nil
	}
	if b, ok := simpleEscapes[c]; ok {
		return b, i + 2, nil
	}
	return 0, 0, &Error{Col: i + 1, Msg: fmt.Sprintf("syntax error: unknown escape sequence '\\%c'", c), Syntax: true}
}

// simpleEscapes maps the letter after a backslash to the byte it stands for.
var simpleEscapes = map[byte]byte{'n': '\n', 't': '\t', 'r': '\r', 'a': 7, 'b': 8, 'f': 12, 'v': 11, 'e': 27,
	'\\': '\\', '\'': '\'', '"': '"', '?': '?'}

func isHexDigit(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// lexChar scans a character literal such as 'A' or '\n'.
func lexChar(src string, i int) (token, int, error) {
	start := i
	i++
	if i >= len(src) || src[i] == '\'' {
		return token{}, 0, &Error{Col: start + 1, Msg: "syntax error: empty character constant", Syntax: true}
	}
	b, n, err := lexEscape(src, i)
	if err != nil {
		return token{}, 0, err
	}
	if n >= len(src) || src[n] != '\'' {
		return token{}, 0, &Error{Col: start + 1, Msg: "syntax error: unterminated character constant (expected ')", Syntax: true}
	}
	return token{kind: tChar, col: start + 1, text: src[start : n+1], ival: uint64(b)}, n + 1, nil
}

// lexString scans a string literal.
func lexString(src string, i int) (token, int, error) {
	start := i
	i++
	var out []byte
	for {
		if i >= len(src) {
			return token{}, 0, &Error{Col: start + 1, Msg: `syntax error: unterminated string literal (expected ")`, Syntax: true}
		}
		if src[i] == '"' {
			break
		}
		b, n, err := lexEscape(src, i)
		if err != nil {
			return token{}, 0, err
		}
		out = append(out, b)
		i = n
	}
	return token{kind: tString, col: start + 1, text: src[start : i+1], sval: string(out)}, i + 1, nil
}
