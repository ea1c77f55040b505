package cexpr

import (
	"errors"
	"fmt"
)

// Error is a parse or evaluation error located at a byte column of the
// expression. Syntax errors print as "syntax error: expected ')' at column 9",
// evaluation errors as "1:5: unknown identifier 'foo'".
type Error struct {
	Col    int    // 1-based byte column in the expression
	Msg    string // what went wrong
	Syntax bool   // the expression does not parse
	Err    error  // the underlying cause, e.g. a memory read error
}

// Error formats the message with its column.
func (e *Error) Error() string {
	msg := e.Msg
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Syntax {
		return fmt.Sprintf("%s at column %d", msg, e.Col)
	}
	return fmt.Sprintf("1:%d: %s", e.Col, msg)
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrNotFound is returned (possibly wrapped) by an Env that has no variable,
// register or type of the requested name.
var ErrNotFound = errors.New("not found")

// Node is an expression tree node.
type Node interface {
	// Pos returns the 1-based byte column where the node's text starts (for
	// operators, the column of the operator).
	Pos() int
}

// Ident is a variable, function or enumerator name.
type Ident struct {
	Col  int
	Name string
}

// IntLit is an integer literal with the type C gives it.
type IntLit struct {
	Col  int
	Text string
	Val  uint64
	Type *Type
}

// FloatLit is a floating literal (type double).
type FloatLit struct {
	Col  int
	Text string
	Val  float64
}

// CharLit is a character literal; like gdb, its type is char.
type CharLit struct {
	Col int
	Val byte
}

// StringLit is a string literal: an array of char with a terminating NUL.
type StringLit struct {
	Col int
	Val string
}

// Reg is a register or convenience variable: `$rip`, `$sp`.
type Reg struct {
	Col  int
	Name string
}

// Unary is a prefix operator: one of * & - + ! ~.
type Unary struct {
	Col int
	Op  string
	X   Node
}

// Cast converts X to Type: `(type-name)X`.
type Cast struct {
	Col  int
	Type *TypeName
	X    Node
}

// SizeofExpr is `sizeof X`.
type SizeofExpr struct {
	Col int
	X   Node
}

// SizeofType is `sizeof(type-name)`.
type SizeofType struct {
	Col  int
	Type *TypeName
}

// Binary is a binary operator, including gdb's `@`.
type Binary struct {
	Col  int // column of the operator
	Op   string
	X, Y Node
}

// Cond is `Cond ? Then : Else`.
type Cond struct {
	Col              int // column of '?'
	Cond, Then, Else Node
}

// Select is member access `X.Name` or `X->Name`.
type Select struct {
	Col   int // column of the member name
	X     Node
	Name  string
	Arrow bool
}

// Index is `X[Index]`.
type Index struct {
	Col      int // column of '['
	X, Index Node
}

// TypeName is a C type-name as written in a cast or sizeof.
type TypeName struct {
	Col int
	// Tag is Struct, Union or Enum for `struct X` etc., Typedef for a typedef
	// name, or Invalid for base-type keywords.
	Tag Kind
	// Name is the tag, the typedef name or the canonical base type spelling
	// ("unsigned long").
	Name string
	// Const and Volatile qualify the base type.
	Const, Volatile bool
	// Derived lists pointer and array derivations, applied to the base type
	// in order: `int *[3]` is {Ptr, Array 3}; `int (*)[3]` is {Array 3, Ptr}.
	Derived []Derivation
}

// Derivation is one step of an abstract declarator.
type Derivation struct {
	Ptr   bool // pointer to (else array of)
	Const bool // for pointers: `* const`
	Len   Node // for arrays: the bound, nil for `[]`
}

// Pos implementations.

// Pos returns the node's column.
func (n *Ident) Pos() int { return n.Col }

// Pos returns the node's column.
func (n *IntLit) Pos() int { return n.Col }

// Pos returns the node's column.
func (n *FloatLit) Pos() int { return n.Col }

// Pos returns the node's column.
func (n *CharLit) Pos() int { return n.Col }

// Pos returns the node's column.
func (n *StringLit) Pos() int { return n.Col }

// Pos returns the node's column.
func (n *Reg) Pos() int { return n.Col }

// Pos returns the node's column.
func (n *Unary) Pos() int { return n.Col }

// Pos returns the node's column.
func (n *Cast) Pos() int { return n.Col }

// Pos returns the node's column.
func (n *SizeofExpr) Pos() int { return n.Col }

// Pos returns the node's column.
func (n *SizeofType) Pos() int { return n.Col }

// Pos returns the node's column.
func (n *Binary) Pos() int { return n.Col }

// Pos returns the node's column.
func (n *Cond) Pos() int { return n.Col }

// Pos returns the node's column.
func (n *Select) Pos() int { return n.Col }

// Pos returns the node's column.
func (n *Index) Pos() int { return n.Col }
