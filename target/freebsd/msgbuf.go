package freebsd

import (
	"fmt"
	"strings"

	"github.com/kdap/kdap/target"
)

// MessageBuffer reads *msgbufp: the ring in order and its unread part
// (msg_rseq up to msg_wseq), as dmesg and savecore show them.
func (k *kernel) MessageBuffer() (*target.MessageBuffer, error) {
	t := k.t
	mp, err := t.SymbolPtr("msgbufp")
	if err != nil {
		return nil, err
	}
	if mp == 0 {
		return nil, fmt.Errorf("msgbufp is NULL")
	}
	word := func(off int64) (uint32, error) { return t.ReadU32(mp + uint64(off)) }
	magic, err := word(k.lay.msgMagic)
	if err != nil {
		return nil, fmt.Errorf("reading struct msgbuf at %#x: %w", mp, err)
	}
	if magic != msgMagic {
		return nil, fmt.Errorf("struct msgbuf at %#x: msg_magic is %#x, expected %#x", mp, magic, msgMagic)
	}
	size, err := word(k.lay.msgSize)
	if err != nil {
		return nil, err
	}
	wseq, err := word(k.lay.msgWseq)
	if err != nil {
		return nil, err
	}
	rseq, err := word(k.lay.msgRseq)
	if err != nil {
		return nil, err
	}
	seqmod, err := word(k.lay.msgSeqmod)
	if err != nil {
		return nil, err
	}
	if size == 0 || size > maxMsgBuf {
		return nil, fmt.Errorf("struct msgbuf at %#x: msg_size %d is out of range", mp, size)
	}
	ptr, err := t.ReadPtr(mp + uint64(k.lay.msgPtr))
	if err != nil {
		return nil, err
	}
	if seqmod < size || seqmod%size != 0 || wseq >= seqmod || rseq >= seqmod {
		return nil, fmt.Errorf("struct msgbuf at %#x: inconsistent sequence numbers (size %d, seqmod %d, wseq %d, rseq %d)", mp, size, seqmod, wseq, rseq)
	}
	ring := make([]byte, size)
	if err := t.ReadVirt(ring, ptr); err != nil {
		return nil, fmt.Errorf("reading the message buffer text (msg_ptr %#x, %d bytes): %w", ptr, size, err)
	}
	return decodeRing(ring, wseq, rseq, seqmod), nil
}

// decodeRing orders a FreeBSD message ring. Sequence numbers count bytes
// modulo msg_seqmod (a multiple of msg_size); a position is seq % size.
func decodeRing(ring []byte, wseq, rseq, seqmod uint32) *target.MessageBuffer {
	size := uint32(len(ring))
	wpos := wseq % size
	var all []byte
	if wseq < size {
		all = ring[:wpos] // never wrapped
	} else {
		all = append(append([]byte{}, ring[wpos:]...), ring[:wpos]...)
	}
	unreadLen := (wseq + seqmod - rseq) % seqmod
	if unreadLen > size {
		unreadLen = size
	}
	var unread []byte
	if unreadLen > 0 {
		start := (wseq - unreadLen) % size
		if start+unreadLen <= size {
			unread = ring[start : start+unreadLen]
		} else {
			unread = append(append([]byte{}, ring[start:]...), ring[:(start+unreadLen)%size]...)
		}
	}
	return &target.MessageBuffer{All: clean(all), Unread: clean(unread)}
}

// clean drops NUL bytes, which FreeBSD's ring can hold where nothing was
// written yet.
func clean(b []byte) string { return strings.ReplaceAll(string(b), "\x00", "") }
