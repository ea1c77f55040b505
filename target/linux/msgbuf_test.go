package linux

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// flatMem is memory at base, for ring buffer tests.
type flatMem struct {
	base uint64
	b    []byte
}

func (m *flatMem) read(b []byte, va uint64) error {
	if va < m.base || va-m.base > uint64(len(m.b)) || uint64(len(b)) > uint64(len(m.b))-(va-m.base) {
		return fmt.Errorf("address %#x not in test memory", va)
	}
	copy(b, m.b[va-m.base:])
	return nil
}

func (m *flatMem) put64(va, v uint64) { binary.LittleEndian.PutUint64(m.b[va-m.base:], v) }

// testLayout places struct printk_ringbuffer at 0x1000, the descriptors
// at 0x2000 (24 bytes each), the infos at 0x3000 (16 bytes each) and a
// 64-byte text ring at 0x4000.
var testLayout = ringLayout{off: map[string]uint64{
	"printk_ringbuffer.desc_ring.count_bits": 0, "printk_ringbuffer.desc_ring.descs": 8,
	"printk_ringbuffer.desc_ring.infos": 16, "printk_ringbuffer.desc_ring.head_id": 24,
	"printk_ringbuffer.desc_ring.tail_id": 32, "printk_ringbuffer.text_data_ring.size_bits": 48,
	"printk_ringbuffer.text_data_ring.data": 56, "prb_desc.state_var": 0,
	"prb_desc.text_blk_lpos.begin": 8, "prb_desc.text_blk_lpos.next": 16, "printk_info.text_len": 8,
}, descSize: 24, infoSize: 16}

// testRing builds a ring of four descriptors holding ids 5 to 7: id 5
// finalized with "hello" at data offset 32, id 6 committed with a block
// that wraps (so its text "wrapped!" starts at offset 0), id 7 reusable.
func testRing(countBits, head, tail uint64) *flatMem {
	m := &flatMem{base: 0x1000, b: make([]byte, 0x4000)}
	m.put64(0x1000, countBits)
	m.put64(0x1008, 0x2000)
	m.put64(0x1010, 0x3000)
	m.put64(0x1018, head)
	m.put64(0x1020, tail)
	m.put64(0x1030, 6)
	m.put64(0x1038, 0x4000)
	rec := func(id, state, begin, next uint64, text string, at uint64) {
		i := id & 3
		m.put64(0x2000+24*i, state<<62|id)
		m.put64(0x2000+24*i+8, begin)
		m.put64(0x2000+24*i+16, next)
		binary.LittleEndian.PutUint16(m.b[0x3000+16*i+8-0x1000:], uint16(len(text)))
		m.put64(0x4000+at, id)
		copy(m.b[0x4000+at+8-0x1000:], text)
	}
	rec(5, descFinalized, 64+32, 64+48, "hello", 32)
	rec(6, descCommitted, 64+48, 128+24, "wrapped!", 0)
	rec(7, 3, 128+24, 128+40, "stale", 24)
	return m
}

func TestReadRing(t *testing.T) {
	tests := []struct {
		name                  string
		countBits, head, tail uint64
		want                  []string
		err                   string
	}{
		{"three records", 2, 7, 5, []string{"hello", "wrapped!"}, ""},
		{"one record", 2, 5, 5, []string{"hello"}, ""},
		{"ids too far apart", 2, 9, 5, nil, "more than 4 records apart"},
		{"count_bits out of range", 40, 7, 5, nil, "count_bits 40"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testRing(tt.countBits, tt.head, tt.tail)
			got, err := readRing(m.read, 0x1000, testLayout)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %q, %v; want an error with %q", got, err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func FuzzReadRing(f *testing.F) {
	f.Add(testRing(2, 7, 5).b)
	f.Fuzz(func(t *testing.T, b []byte) {
		m := &flatMem{base: 0x1000, b: b}
		recs, err := readRing(m.read, 0x1000, testLayout)
		if err == nil && len(recs) > len(b) {
			t.Fatalf("%d records from %d bytes", len(recs), len(b))
		}
	})
}

// ringCrasher is FuzzReadRing's crasher: a one-descriptor ring whose
// head_id 0x4000000000000000 has a flag bit set, tail_id 0. The loop from
// tail to head compared masked ids with the unmasked head, and never ended.
func ringCrasher() []byte {
	m := &flatMem{base: 0x1000, b: make([]byte, 0x60)}
	m.put64(0x1000, 0) // count_bits: one descriptor
	m.put64(0x1008, 0x1040)
	m.put64(0x1010, 0x1040)
	m.put64(0x1018, 1<<62)
	m.put64(0x1020, 0)
	m.put64(0x1030, 3) // an 8-byte text ring
	m.put64(0x1038, 0x1040)
	return m.b
}

// TestReadRingBounded reads corrupt rings through a memory that fails
// after many reads, so that a loop that does not end fails the test.
func TestReadRingBounded(t *testing.T) {
	manyTexts := testRing(2, 7, 4)
	for id := uint64(4); id <= 7; id++ { // four records of 40 bytes in a 64-byte ring
		i := id & 3
		manyTexts.put64(0x2000+24*i, descCommitted<<62|id)
		manyTexts.put64(0x2000+24*i+8, 64)
		manyTexts.put64(0x2000+24*i+16, 64+48)
		binary.LittleEndian.PutUint16(manyTexts.b[0x3000+16*i+8-0x1000:], 40)
	}
	tests := []struct {
		name string
		mem  []byte
		want []string
		err  string
	}{
		{"flag bits in head_id", ringCrasher(), []string{}, ""},
		{"flag bits in head_id and tail_id", testRing(2, 7|1<<62, 5|3<<62).b, []string{"hello", "wrapped!"}, ""},
		{"more text than the data ring", manyTexts.b, nil, "more text than the 64-byte data ring"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &flatMem{base: 0x1000, b: tt.mem}
			reads := 0
			read := func(b []byte, va uint64) error {
				if reads++; reads > 1000 {
					return fmt.Errorf("more than 1000 reads")
				}
				return m.read(b, va)
			}
			got, err := readRing(read, 0x1000, testLayout)
			if reads > 100 {
				t.Fatalf("%d reads of a ring of at most 4 descriptors (%v)", reads, err)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %q, %v; want an error with %q", got, err, tt.err)
				}
				return
			}
			if err != nil || len(got) != len(tt.want) || (len(got) > 0 && !reflect.DeepEqual(got, tt.want)) {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
