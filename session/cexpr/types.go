// Package cexpr parses and evaluates C expressions over a crash dump the way a
// debugger's `print` command does: `td->td_proc->p_comm`, `*msgbufp`,
// `((struct thread *)0xfffff8000336e000)->td_name`, `sizeof(struct pcb)`,
// `msgbufp->msg_ptr[0]@16`, `$rip`.
//
// The package knows nothing about DWARF or dump files: the caller supplies an
// Env that resolves names, types and memory, and builds Types from whatever
// debug information it has. Arithmetic follows C in the target's DataModel,
// which the Env may give (DataModeler): on LP64 (amd64, arm64) int is 4
// bytes, long and pointers are 8; on ILP32 (i386) long and pointers are 4.
// Without one, the model is LP64.
package cexpr

import (
	"fmt"
	"strings"
)

// Kind classifies a Type.
type Kind uint8

// The kinds of type the evaluator understands.
const (
	Invalid Kind = iota // Invalid is the zero Kind; no valid type has it.
	Void                // Void is the void type.
	Bool                // Bool is _Bool.
	Char                // Char is char, signed char and unsigned char.
	Int                 // Int is every other integer type.
	Float               // Float is float, double and long double.
	Pointer             // Pointer points to Elem.
	Array               // Array holds Len elements of Elem.
	Struct              // Struct has Members at increasing offsets.
	Union               // Union has Members that overlap.
	Enum                // Enum is an integer with named Enumerators.
	Func                // Func is a function type returning Elem.
	Typedef             // Typedef names Elem.
)

var kindNames = [...]string{"invalid", "void", "bool", "char", "int", "float", "pointer", "array", "struct", "union", "enum", "func", "typedef"}

// String returns the kind's lower-case name.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Type describes a C type. Environments build Types from debug information;
// the evaluator builds base, pointer and array types itself.
type Type struct {
	Kind Kind
	// Name is the spelling of a base type ("unsigned long"), the tag of a
	// struct, union or enum (empty when anonymous) or a typedef's name.
	Name string
	// Size is the size in bytes (0 for void, functions and incomplete types).
	Size int64
	// Signed tells whether an Int, Char or Enum is signed.
	Signed bool
	// Elem is the pointee, the element type, the return type or the typedef's
	// underlying type.
	Elem *Type
	// Len is an array's element count, meaningful when LenKnown.
	Len int64
	// LenKnown is false for arrays declared without a bound (`char x[]`).
	LenKnown bool
	// Members lists a struct's or union's members in declaration order.
	Members []Member
	// Enumerators lists an enum's named values.
	Enumerators []Enumerator
	// Const and Volatile are the type's qualifiers.
	Const, Volatile bool
	// Incomplete marks a struct, union or enum declared but not defined.
	Incomplete bool
}

// Member is one member of a struct or union.
type Member struct {
	// Name is empty for an anonymous struct or union member.
	Name string
	// Type is the member's type.
	Type *Type
	// Offset is the byte offset of the member from the start of its parent.
	Offset int64
	// BitOffset and BitSize describe a bitfield: the field occupies BitSize
	// bits starting BitOffset bits (counted from the least significant bit
	// of the byte at Offset, little-endian) into the parent. BitSize is 0 for
	// ordinary members.
	BitOffset, BitSize int64
}

// Enumerator is one named value of an enum.
type Enumerator struct {
	Name  string
	Value int64
}

// Base types of an LP64 C implementation, shared by parser and evaluator;
// DataModel.Long and ULong give a target's long.
var (
	TypeVoid       = &Type{Kind: Void, Name: "void"}
	TypeBool       = &Type{Kind: Bool, Name: "_Bool", Size: 1}
	TypeChar       = &Type{Kind: Char, Name: "char", Size: 1, Signed: true}
	TypeSChar      = &Type{Kind: Char, Name: "signed char", Size: 1, Signed: true}
	TypeUChar      = &Type{Kind: Char, Name: "unsigned char", Size: 1}
	TypeShort      = &Type{Kind: Int, Name: "short", Size: 2, Signed: true}
	TypeUShort     = &Type{Kind: Int, Name: "unsigned short", Size: 2}
	TypeInt        = &Type{Kind: Int, Name: "int", Size: 4, Signed: true}
	TypeUInt       = &Type{Kind: Int, Name: "unsigned int", Size: 4}
	TypeLong       = &Type{Kind: Int, Name: "long", Size: 8, Signed: true}
	TypeULong      = &Type{Kind: Int, Name: "unsigned long", Size: 8}
	TypeLongLong   = &Type{Kind: Int, Name: "long long", Size: 8, Signed: true}
	TypeULongLong  = &Type{Kind: Int, Name: "unsigned long long", Size: 8}
	TypeFloat      = &Type{Kind: Float, Name: "float", Size: 4}
	TypeDouble     = &Type{Kind: Float, Name: "double", Size: 8}
	TypeLongDouble = &Type{Kind: Float, Name: "long double", Size: 16}
)

// maxTypeDepth bounds typedef chains and nested anonymous members so that a
// cyclic type graph from a damaged debug file cannot loop forever.
const maxTypeDepth = 64

// PointerTo returns an 8-byte (LP64) pointer type to t; DataModel.PointerTo
// makes one of a target's pointer size.
func PointerTo(t *Type) *Type { return &Type{Kind: Pointer, Size: 8, Elem: t} }

// ArrayOf returns an array type of n elements of t.
func ArrayOf(t *Type, n int64) *Type {
	sz := int64(0)
	if es := Resolve(t).Size; es > 0 && n > 0 && n <= (1<<62)/es {
		sz = es * n
	}
	return &Type{Kind: Array, Elem: t, Len: n, LenKnown: true, Size: sz}
}

// Resolve strips typedefs from t and returns the underlying type. Qualifiers
// of the typedefs are not carried over; a typedef cycle resolves to t itself.
func Resolve(t *Type) *Type {
	u := t
	for i := 0; u != nil && u.Kind == Typedef && i < maxTypeDepth; i++ {
		u = u.Elem
	}
	if u == nil || u.Kind == Typedef {
		return &Type{Kind: Invalid, Name: "<bad typedef>"}
	}
	return u
}

// sizeOf returns the storage size of t in bytes.
func sizeOf(t *Type) int64 {
	u := Resolve(t)
	if u.Kind == Array && u.Size == 0 && u.LenKnown && u.Len > 0 {
		if es := sizeOf(u.Elem); es > 0 && u.Len <= (1<<62)/es {
			return es * u.Len
		}
	}
	return u.Size
}

// isInteger reports whether t is an integer type (including char, _Bool, enum).
func isInteger(t *Type) bool {
	switch Resolve(t).Kind {
	case Bool, Char, Int, Enum:
		return true
	}
	return false
}

// isArithmetic reports whether t is an integer or floating type.
func isArithmetic(t *Type) bool { return isInteger(t) || Resolve(t).Kind == Float }

// isScalar reports whether t is arithmetic or a pointer.
func isScalar(t *Type) bool { return isArithmetic(t) || Resolve(t).Kind == Pointer }

// String returns the type as C spells it, e.g. "struct thread *" or "char [20]".
func (t *Type) String() string { return TypeString(t) }

// TypeString spells t the way C declares it with an empty declarator:
// "struct proc **", "char [20]", "int (*)[4]", "void (*)()".
func TypeString(t *Type) string {
	base, decl := typeParts(t, "", 0)
	if decl == "" {
		return base
	}
	return base + " " + decl
}

// typeParts splits t into its base specifier and the declarator wrapped
// around inner, building the declarator inside-out as C does.
func typeParts(t *Type, inner string, depth int) (string, string) {
	if t == nil {
		return "<nil type>", inner
	}
	if depth > maxTypeDepth {
		return "<deep type>", inner
	}
	q := ""
	if t.Const {
		q += "const "
	}
	if t.Volatile {
		q += "volatile "
	}
	switch t.Kind {
	case Pointer:
		s := "*"
		if t.Const {
			s += " const"
		}
		if t.Volatile {
			s += " volatile"
		}
		if (t.Const || t.Volatile) && inner != "" {
			s += " "
		}
		return typeParts(t.Elem, s+inner, depth+1)
	case Array:
		if strings.HasPrefix(inner, "*") {
			inner = "(" + inner + ")"
		}
		if t.LenKnown {
			return typeParts(t.Elem, fmt.Sprintf("%s[%d]", inner, t.Len), depth+1)
		}
		return typeParts(t.Elem, inner+"[]", depth+1)
	case Func:
		if strings.HasPrefix(inner, "*") {
			inner = "(" + inner + ")"
		}
		ret := t.Elem
		if ret == nil {
			ret = TypeVoid
		}
		return typeParts(ret, inner+"()", depth+1)
	case Struct, Union, Enum:
		name := t.Name
		if name == "" {
			name = "<anonymous>"
		}
		return q + t.Kind.String() + " " + name, inner
	case Void, Bool, Char, Int, Float, Typedef:
		return q + t.Name, inner
	}
	return q + "<" + t.Kind.String() + ">", inner
}
