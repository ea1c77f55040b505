package linux

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/kdap/kdap/target"
)

// Limits on the printk ring buffer read from a dump.
const (
	maxDescBits = 22 // at most 4M records (LOG_BUF_SHIFT 25 gives 1M)
	maxDataBits = 30 // at most 1 GiB of text
	unreadLines = 30
	maxTextLen  = 1 << 16
	panicPrefix = "Kernel panic - not syncing: "
)

// Descriptor states of kernel/printk/printk_ringbuffer.h, in the top two
// bits of prb_desc.state_var.
const (
	descCommitted = 1
	descFinalized = 2
)

// records reads the text of every committed record of the ring buffer
// that the kernel's prb pointer designates, oldest first.
func (k *kernel) records() ([]string, error) {
	t := k.t
	prbSym, ok := t.Kernel.Addr("prb")
	if !ok {
		return nil, fmt.Errorf("kernel has no symbol prb (the printk ring buffer of Linux 5.10 and later)")
	}
	rb, err := t.ReadU64(prbSym)
	if err != nil {
		return nil, fmt.Errorf("reading prb: %w", err)
	}
	off := map[string]uint64{}
	for _, m := range []struct{ typ, path string }{
		{"printk_ringbuffer", "desc_ring.count_bits"}, {"printk_ringbuffer", "desc_ring.descs"},
		{"printk_ringbuffer", "desc_ring.infos"}, {"printk_ringbuffer", "desc_ring.head_id"},
		{"printk_ringbuffer", "desc_ring.tail_id"}, {"printk_ringbuffer", "text_data_ring.size_bits"},
		{"printk_ringbuffer", "text_data_ring.data"}, {"prb_desc", "state_var"},
		{"prb_desc", "text_blk_lpos.begin"}, {"prb_desc", "text_blk_lpos.next"},
		{"printk_info", "text_len"},
	} {
		o, err := k.member(m.typ, m.path)
		if err != nil {
			return nil, err
		}
		off[m.typ+"."+m.path] = o
	}
	descSize, err := t.Kernel.TypeSize("struct prb_desc")
	if err != nil {
		return nil, err
	}
	infoSize, err := t.Kernel.TypeSize("struct printk_info")
	if err != nil {
		return nil, err
	}
	return readRing(t.ReadVirt, rb, ringLayout{off: off, descSize: uint64(descSize), infoSize: uint64(infoSize)})
}

// ringLayout holds the printk ring buffer's member offsets, keyed
// "type.member.path", and the sizes of a descriptor and an info record.
type ringLayout struct {
	off                map[string]uint64
	descSize, infoSize uint64
}

// readRing reads the records of the printk_ringbuffer at rb through read.
func readRing(read func(b []byte, va uint64) error, rb uint64, lay ringLayout) ([]string, error) {
	off := lay.off
	var err error
	rd := func(what string, va uint64) uint64 {
		if err != nil {
			return 0
		}
		var b [8]byte
		err = read(b[:], va)
		v := binary.LittleEndian.Uint64(b[:])
		if err != nil {
			err = fmt.Errorf("printk ring buffer: %s at %#x: %w", what, va, err)
		}
		return v
	}
	countBits := rd("desc_ring.count_bits", rb+off["printk_ringbuffer.desc_ring.count_bits"]) & 0xffffffff
	descs := rd("desc_ring.descs", rb+off["printk_ringbuffer.desc_ring.descs"])
	infos := rd("desc_ring.infos", rb+off["printk_ringbuffer.desc_ring.infos"])
	head := rd("desc_ring.head_id", rb+off["printk_ringbuffer.desc_ring.head_id"])
	tail := rd("desc_ring.tail_id", rb+off["printk_ringbuffer.desc_ring.tail_id"])
	sizeBits := rd("text_data_ring.size_bits", rb+off["printk_ringbuffer.text_data_ring.size_bits"]) & 0xffffffff
	data := rd("text_data_ring.data", rb+off["printk_ringbuffer.text_data_ring.data"])
	if err != nil {
		return nil, err
	}
	if countBits > maxDescBits || sizeBits > maxDataBits {
		return nil, fmt.Errorf("printk ring buffer at %#x: count_bits %d or size_bits %d out of range (at most %d, %d)", rb, countBits, sizeBits, maxDescBits, maxDataBits)
	}
	count, size := uint64(1)<<countBits, uint64(1)<<sizeBits
	// Ids are 62 bits wide (the top two bits of state_var hold the
	// state); the kernel never stores flag bits in head_id or tail_id, so
	// a dump that does is read as if it did not.
	idMask := uint64(1)<<62 - 1
	head, tail = head&idMask, tail&idMask
	n := (head-tail)&idMask + 1 // records from tail to head
	if n > count {
		return nil, fmt.Errorf("printk ring buffer at %#x: head_id %#x and tail_id %#x are more than %d records apart", rb, head, tail, count)
	}
	var out []string
	// Each record's text is a block of the data ring, so together they
	// hold at most its size; more means the descriptors are corrupt.
	var textTotal uint64
	for k, id := uint64(0), tail; k < n; k, id = k+1, (id+1)&idMask {
		i := id & (count - 1)
		d := descs + i*lay.descSize
		state := rd("prb_desc.state_var", d+off["prb_desc.state_var"])
		begin := rd("text_blk_lpos.begin", d+off["prb_desc.text_blk_lpos.begin"])
		next := rd("text_blk_lpos.next", d+off["prb_desc.text_blk_lpos.next"])
		if err != nil {
			return nil, err
		}
		st := state >> 62
		if state&idMask != id || (st != descCommitted && st != descFinalized) || begin&1 != 0 {
			continue
		}
		var lenb [2]byte
		if e := read(lenb[:], infos+i*lay.infoSize+off["printk_info.text_len"]); e != nil {
			return nil, fmt.Errorf("printk ring buffer: printk_info %d: %w", i, e)
		}
		textLen := uint64(lenb[0]) | uint64(lenb[1])<<8
		blk := begin & (size - 1)
		if begin/size != next/size { // the block wrapped: it starts at 0
			blk = 0
		}
		if blk+8+textLen > size {
			textLen = 0
		}
		if textTotal += textLen; textTotal > size {
			return nil, fmt.Errorf("printk ring buffer at %#x: records %#x to %#x hold more text than the %d-byte data ring", rb, tail, id, size)
		}
		buf := make([]byte, textLen)
		if e := read(buf, data+blk+8); e != nil {
			return nil, fmt.Errorf("printk ring buffer: record %d text at %#x: %w", id, data+blk+8, e)
		}
		out = append(out, string(buf))
	}
	return out, nil
}

// MessageBuffer returns every record of the printk ring buffer joined by
// newlines. Linux keeps no read mark other than syslog's, which dmesg
// readers do not move, so Unread is the last 30 records, about one screen.
func (k *kernel) MessageBuffer() (*target.MessageBuffer, error) {
	recs, err := k.records()
	if err != nil {
		return nil, err
	}
	last := recs
	if len(last) > unreadLines {
		last = last[len(last)-unreadLines:]
	}
	return &target.MessageBuffer{All: strings.Join(recs, "\n"), Unread: strings.Join(last, "\n")}, nil
}

// PanicString returns the message of the last "Kernel panic - not
// syncing: " record of the log: Linux keeps no panic string variable.
func (k *kernel) PanicString() (string, error) {
	recs, err := k.records()
	if err != nil {
		return "", err
	}
	for i := len(recs) - 1; i >= 0; i-- {
		if msg, ok := strings.CutPrefix(recs[i], panicPrefix); ok {
			return strings.TrimSpace(msg), nil
		}
	}
	return "", nil
}
