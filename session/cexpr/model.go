package cexpr

import (
	"encoding/binary"
	"math"
	"strings"
)

// DataModel is a target's C data model: the sizes of long and of pointers,
// and the byte order of the values the evaluator reads and builds. int is
// 4 bytes and long long 8 in every model. The zero DataModel is LP64,
// little-endian.
type DataModel struct {
	// LongSize is the size in bytes of long and unsigned long: 8 (LP64)
	// or 4 (ILP32); any other value is taken as 8.
	LongSize int64
	// PtrSize is the size in bytes of a pointer; 0 is taken as 8.
	PtrSize int64
	// ByteOrder is the byte order of scalar values; nil is little-endian.
	ByteOrder binary.ByteOrder
}

var (
	// LP64 is the data model of amd64 and arm64: long and pointers are 8 bytes.
	LP64 = DataModel{LongSize: 8, PtrSize: 8, ByteOrder: binary.LittleEndian}
	// ILP32 is the data model of i386: int, long and pointers are 4 bytes.
	ILP32 = DataModel{LongSize: 4, PtrSize: 4, ByteOrder: binary.LittleEndian}
)

// DataModeler is implemented by an Env that knows its target's data model.
type DataModeler interface {
	// DataModel returns the target's C data model.
	DataModel() DataModel
}

// ModelOf returns env's data model: what its DataModel method answers, or
// LP64 when env is nil or has no such method.
func ModelOf(env Env) DataModel {
	if d, ok := env.(DataModeler); ok {
		return d.DataModel().norm()
	}
	return LP64
}

// norm fills in the defaults of zero or unsupported fields.
func (m DataModel) norm() DataModel {
	if m.LongSize != 4 {
		m.LongSize = 8
	}
	if m.PtrSize <= 0 || m.PtrSize > 8 {
		m.PtrSize = 8
	}
	if m.ByteOrder == nil {
		m.ByteOrder = binary.LittleEndian
	}
	return m
}

// The 4-byte long types of ILP32.
var (
	typeLong32  = &Type{Kind: Int, Name: "long", Size: 4, Signed: true}
	typeULong32 = &Type{Kind: Int, Name: "unsigned long", Size: 4}
)

// Long returns the model's long type (TypeLong on LP64).
func (m DataModel) Long() *Type {
	if m.norm().LongSize == 4 {
		return typeLong32
	}
	return TypeLong
}

// ULong returns the model's unsigned long type, which is also the type of
// sizeof (TypeULong on LP64).
func (m DataModel) ULong() *Type {
	if m.norm().LongSize == 4 {
		return typeULong32
	}
	return TypeULong
}

// PointerTo returns a pointer type to t of the model's pointer size.
func (m DataModel) PointerTo(t *Type) *Type {
	return &Type{Kind: Pointer, Size: m.norm().PtrSize, Elem: t}
}

// IntValue returns an rvalue of integer or pointer type t holding v
// (truncated to t), in the model's byte order.
func (m DataModel) IntValue(t *Type, v uint64) Value {
	n := sizeOf(t)
	if n <= 0 || n > 8 {
		n = 8
	}
	b := make([]byte, n)
	putUint(m.norm().ByteOrder, b, v)
	return Value{Type: t, Bytes: b}
}

// isBigEndian reports whether bo stores the most significant byte first.
func isBigEndian(bo binary.ByteOrder) bool { return bo.Uint16([]byte{0, 1}) == 1 }

// putUint stores the low len(b) bytes of v in b in byte order bo.
func putUint(bo binary.ByteOrder, b []byte, v uint64) {
	var buf [8]byte
	bo.PutUint64(buf[:], v)
	if isBigEndian(bo) {
		copy(b, buf[8-len(b):])
		return
	}
	copy(b, buf[:len(b)])
}

// getUint returns the unsigned integer of up to 8 bytes stored in b in
// byte order bo.
func getUint(bo binary.ByteOrder, b []byte) uint64 {
	var buf [8]byte
	if isBigEndian(bo) {
		copy(buf[8-len(b):], b)
	} else {
		copy(buf[:], b)
	}
	return bo.Uint64(buf[:])
}

// floatValue returns an rvalue of floating type t holding f, in the
// model's byte order; anything but a float becomes a double.
func (m DataModel) floatValue(t *Type, f float64) Value {
	bo := m.norm().ByteOrder
	if sizeOf(t) == 4 {
		b := make([]byte, 4)
		bo.PutUint32(b, math.Float32bits(float32(f)))
		return Value{Type: t, Bytes: b}
	}
	b := make([]byte, 8)
	bo.PutUint64(b, math.Float64bits(f))
	return Value{Type: TypeDouble, Bytes: b}
}

// addr truncates an address computed in 64 bits to the pointer width.
func (m DataModel) addr(a uint64) uint64 {
	if sz := m.norm().PtrSize; sz < 8 {
		return a & (1<<uint(8*sz) - 1)
	}
	return a
}

// Integer conversion ranks of the canonical promoted types (C11 6.3.1.1).
const (
	rankInt = iota + 1
	rankLong
	rankLongLong
)

// rank returns the conversion rank of an integer type of int size or
// wider, telling long from int by its spelling ("long", "long int",
// "long unsigned int", as DWARF names them).
func rank(t *Type) int {
	switch {
	case strings.Contains(t.Name, "long long"):
		return rankLongLong
	case strings.Contains(t.Name, "long"):
		return rankLong
	}
	return rankInt
}

// canonical returns the model's base type of rank r and signedness.
func (m DataModel) canonical(r int, signed bool) *Type {
	switch {
	case r == rankInt && signed:
		return TypeInt
	case r == rankInt:
		return TypeUInt
	case r == rankLong && signed:
		return m.Long()
	case r == rankLong:
		return m.ULong()
	case signed:
		return TypeLongLong
	}
	return TypeULongLong
}

// promote applies the integer promotions to an integer type (C11 6.3.1.1)
// and maps the result onto the model's canonical types: on LP64 every
// 8-byte type becomes long, on ILP32 long long; a 4-byte type is long on
// ILP32 when it is spelled so, int otherwise.
func (m DataModel) promote(t *Type) *Type {
	u := Resolve(t)
	m = m.norm()
	switch {
	case u.Size < 4:
		return TypeInt
	case u.Size == 4 && m.LongSize == 4 && u.Kind == Int && rank(u) == rankLong:
		return m.canonical(rankLong, u.Signed)
	case u.Size == 4:
		return m.canonical(rankInt, u.Signed)
	case m.LongSize == 8:
		return m.canonical(rankLong, u.Signed)
	}
	return m.canonical(rankLongLong, u.Signed)
}

// promotedOf is promote for a value, taking bitfield widths into account:
// a bitfield whose values all fit in int promotes to int.
func (m DataModel) promotedOf(v Value) *Type {
	if v.BitSize > 0 && v.BitSize < 32 {
		return TypeInt
	}
	if v.BitSize == 32 {
		if Resolve(v.Type).Signed {
			return TypeInt
		}
		return TypeUInt
	}
	return m.promote(v.Type)
}

// common applies the usual arithmetic conversions (C11 6.3.1.8) to two
// promoted types: the wider type wins; at equal width the higher rank
// does, made unsigned when either operand is unsigned.
func (m DataModel) common(a, b *Type) *Type {
	switch {
	case a.Size > b.Size:
		return a
	case a.Size < b.Size:
		return b
	}
	r := max(rank(a), rank(b))
	return m.canonical(r, a.Signed && b.Signed)
}

// baseType returns the model's type for a canonical base-type spelling,
// nil when there is none.
func (m DataModel) baseType(name string) *Type {
	switch name {
	case "long":
		return m.Long()
	case "unsigned long":
		return m.ULong()
	}
	return baseTypes[name]
}
