package cexpr

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Env is what the evaluator needs from a debugging session: names, types and
// memory. Lookups that find nothing return an error wrapping ErrNotFound.
type Env interface {
	// LookupVar resolves an identifier: locals of the selected frame first,
	// then globals, functions and enumerator constants. Variables in memory
	// come back as lvalues (HasAddr), others with Bytes or a marker.
	LookupVar(name string) (Value, error)
	// Register returns a register (`$rip`) or convenience variable of the
	// selected frame.
	Register(name string) (Value, error)
	// LookupType resolves a typedef name (`lwpid_t`).
	LookupType(name string) (*Type, error)
	// LookupTag resolves `struct X`, `union X` or `enum X`; kind is Struct,
	// Union or Enum.
	LookupTag(kind Kind, name string) (*Type, error)
	// ReadMemory fills p with the bytes at virtual address addr.
	ReadMemory(addr uint64, p []byte) error
	// Symbolize names the symbol that contains addr, with addr's offset
	// into it; ok is false when no symbol does.
	Symbolize(addr uint64) (name string, offset uint64, ok bool)
}

// Value is the result of evaluating an expression: an object in memory
// (an lvalue with an address), or a computed value held in Bytes.
type Value struct {
	// Type is the value's type, possibly a typedef.
	Type *Type
	// Addr is where the object lives when HasAddr is true.
	Addr uint64
	// HasAddr marks an lvalue in target memory.
	HasAddr bool
	// Bytes holds the value's contents, in the byte order of the Env's
	// DataModel, for values that are not in memory (literals, results,
	// registers). When both Bytes and
	// HasAddr are set, Bytes is a copy of the memory at Addr.
	Bytes []byte
	// BitOffset and BitSize select a bitfield within the bytes at Addr (or
	// within Bytes): BitSize bits starting BitOffset bits from the least
	// significant bit of the first byte. BitSize 0 means the whole value.
	BitOffset, BitSize int64
	// Register names the register that holds the value, if any; registers
	// have no address.
	Register string
	// OptimizedOut marks a variable the compiler did not keep.
	OptimizedOut bool
	// Unavailable marks a value the dump does not hold (e.g. a register the
	// unwinder could not recover).
	Unavailable bool
}

// maxLoad bounds how many bytes one value may pull from memory at once.
const maxLoad = 1 << 20

// IntValue returns an rvalue of integer type t holding v (truncated to t),
// little-endian; DataModel.IntValue builds one in a target's byte order.
func IntValue(t *Type, v uint64) Value { return LP64.IntValue(t, v) }

// MemoryError reports a failed read of target memory.
type MemoryError struct {
	Addr uint64
	Err  error
}

// Error names the address.
func (e *MemoryError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("cannot read memory at %#x", e.Addr)
	}
	return fmt.Sprintf("cannot read memory at %#x: %v", e.Addr, e.Err)
}

// Unwrap returns the environment's read error.
func (e *MemoryError) Unwrap() error { return e.Err }

// load returns n bytes of v's storage (starting at its first byte), reading
// memory for lvalues. A bitfield's storage spans the bytes holding its bits.
func load(env Env, v Value, n int64) ([]byte, error) {
	if v.OptimizedOut {
		return nil, fmt.Errorf("value has been optimized out")
	}
	if v.Unavailable {
		return nil, fmt.Errorf("value is not available in the dump")
	}
	if n < 0 || n > maxLoad {
		return nil, fmt.Errorf("object of %d bytes is too large to read (limit %d)", n, maxLoad)
	}
	if v.Bytes != nil {
		if int64(len(v.Bytes)) < n {
			return nil, fmt.Errorf("value holds %d bytes, %d needed", len(v.Bytes), n)
		}
		return v.Bytes[:n], nil
	}
	if !v.HasAddr {
		return nil, fmt.Errorf("value has no contents")
	}
	b := make([]byte, n)
	if err := env.ReadMemory(v.Addr, b); err != nil {
		return nil, &MemoryError{Addr: v.Addr, Err: err}
	}
	return b, nil
}

// scalarBits returns the bits of an integer, enum, bool or pointer value,
// sign- or zero-extended to 64 bits according to its type; m gives the
// byte order. Bitfields are numbered from the least significant bit of
// their first byte.
func scalarBits(env Env, m DataModel, v Value) (uint64, error) {
	t := Resolve(v.Type)
	if v.BitSize > 0 {
		if v.BitSize > 64 || v.BitOffset < 0 || v.BitOffset > 1<<20 {
			return 0, fmt.Errorf("bitfield of %d bits at bit %d is malformed", v.BitSize, v.BitOffset)
		}
		nbytes := (v.BitOffset + v.BitSize + 7) / 8
		b, err := load(env, v, nbytes)
		if err != nil {
			return 0, err
		}
		var x uint64
		for i := int64(0); i < v.BitSize; i++ {
			bit := v.BitOffset + i
			if b[bit/8]&(1<<(bit%8)) != 0 {
				x |= 1 << i
			}
		}
		if t.Signed && v.BitSize < 64 && x&(1<<(v.BitSize-1)) != 0 {
			x |= ^uint64(0) << v.BitSize
		}
		return x, nil
	}
	n := t.Size
	if n <= 0 || n > 8 {
		return 0, fmt.Errorf("%s value of %d bytes is not a scalar the evaluator can read", TypeString(v.Type), n)
	}
	b, err := load(env, v, n)
	if err != nil {
		return 0, err
	}
	x := getUint(m.norm().ByteOrder, b)
	if t.Signed && n < 8 && x&(1<<(n*8-1)) != 0 {
		x |= ^uint64(0) << (n * 8)
	}
	return x, nil
}

// floatBits returns a floating value as float64; m gives the byte order.
// A long double of 10, 12 (i386) or 16 bytes is read as x87 extended
// precision.
func floatBits(env Env, m DataModel, v Value) (float64, error) {
	t := Resolve(v.Type)
	bo := m.norm().ByteOrder
	switch t.Size {
	case 4:
		b, err := load(env, v, 4)
		if err != nil {
			return 0, err
		}
		return float64(math.Float32frombits(bo.Uint32(b))), nil
	case 8:
		b, err := load(env, v, 8)
		if err != nil {
			return 0, err
		}
		return math.Float64frombits(bo.Uint64(b)), nil
	case 16, 12, 10:
		b, err := load(env, v, 10)
		if err != nil {
			return 0, err
		}
		return x87ToFloat64(b), nil
	}
	return 0, fmt.Errorf("floating type of %d bytes is not supported", t.Size)
}

// x87ToFloat64 converts an 80-bit x87 extended-precision number.
func x87ToFloat64(b []byte) float64 {
	mant := binary.LittleEndian.Uint64(b[:8])
	se := binary.LittleEndian.Uint16(b[8:10])
	sign := 1.0
	if se&0x8000 != 0 {
		sign = -1
	}
	exp := int(se & 0x7fff)
	switch {
	case exp == 0 && mant == 0:
		return sign * 0
	case exp == 0x7fff:
		if mant<<1 == 0 {
			return math.Inf(int(sign))
		}
		return math.NaN()
	}
	return sign * math.Ldexp(float64(mant), exp-16383-63)
}
