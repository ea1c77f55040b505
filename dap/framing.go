package dap

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// DefaultMaxMessageSize is the largest Content-Length a server accepts
// unless its Limits say otherwise: DAP requests are small, and whatever is
// accepted is held in memory until it is answered.
const DefaultMaxMessageSize = 8 << 20

const (
	// maxHeaderLine bounds one header line, terminator included.
	maxHeaderLine = 4096
	// maxHeaderLines bounds the number of header fields of one message.
	maxHeaderLines = 32
)

// ErrFraming is wrapped by every error about the base protocol's
// header/content framing; the stream cannot be resynchronised after one.
var ErrFraming = errors.New("dap framing")

// ErrLimit is wrapped by the errors of a message refused because of the
// server's Limits (too large, or too many bytes in flight); the connection
// is closed after one.
var ErrLimit = errors.New("dap limit")

// limitError marks err as caused by a limit: it is ErrLimit as well as
// whatever err is.
type limitError struct{ error }

func (e limitError) Is(target error) bool { return target == ErrLimit }
func (e limitError) Unwrap() error        { return e.error }

// frameReader reads base-protocol messages and tracks the stream offset so
// errors can say where the input went wrong.
type frameReader struct {
	r   *bufio.Reader
	off int64
	max int64
	// admit, when set, is asked for every message's length before its
	// content is read; an error stops reading.
	admit func(n int64) error
}

func newFrameReader(r io.Reader, max int64) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, maxHeaderLine), max: max}
}

// framingErr builds an ErrFraming error located at stream offset off.
func framingErr(off int64, format string, args ...any) error {
	args = append(append([]any{ErrFraming}, args...), off)
	return fmt.Errorf("%w: "+format+" (stream offset %#x)", args...)
}

// next returns the content of the next message. A clean end of stream
// between messages is io.EOF; anything else that stops reading wraps
// ErrFraming or the underlying read error.
func (f *frameReader) next() ([]byte, error) {
	start := f.off
	length := int64(-1)
	for i := 0; ; i++ {
		if i > maxHeaderLines {
			return nil, framingErr(start, "more than %d header lines", maxHeaderLines)
		}
		lineOff := f.off
		line, err := f.r.ReadSlice('\n')
		f.off += int64(len(line))
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			return nil, framingErr(lineOff, "header line longer than %d bytes", maxHeaderLine)
		case err == io.EOF && len(line) == 0 && i == 0:
			return nil, io.EOF
		case err == io.EOF:
			return nil, framingErr(lineOff, "stream ended inside a message header: %w", io.ErrUnexpectedEOF)
		case err != nil:
			return nil, err
		}
		if !bytes.HasSuffix(line, []byte("\r\n")) {
			return nil, framingErr(lineOff, "header line %q does not end with CRLF", truncate(line))
		}
		field := string(line[:len(line)-2])
		if field == "" {
			break
		}
		name, value, ok := strings.Cut(field, ":")
		if !ok {
			return nil, framingErr(lineOff, "header line %q is not \"Name: value\"", truncate(line))
		}
		if !strings.EqualFold(strings.TrimSpace(name), "Content-Length") {
			continue // other fields (Content-Type) carry nothing the server needs
		}
		value = strings.TrimSpace(value)
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || value == "" || strings.Trim(value, "0123456789") != "" {
			return nil, framingErr(lineOff, "Content-Length %q is not a non-negative decimal integer", truncate([]byte(value)))
		}
		if n > f.max {
			return nil, limitError{framingErr(lineOff, "Content-Length %d is above the limit of %d bytes", n, f.max)}
		}
		if length >= 0 && n != length {
			return nil, framingErr(lineOff, "second Content-Length %d contradicts the first, %d", n, length)
		}
		length = n
	}
	if length < 0 {
		return nil, framingErr(start, "message header has no Content-Length field")
	}
	if f.admit != nil {
		if err := f.admit(length); err != nil {
			return nil, err
		}
	}
	// Admitted bytes are counted against the server's limits, so the
	// content is read into a buffer of exactly its size: nothing grows by
	// doubling, and nothing outlives the message.
	buf := make([]byte, length)
	n, err := io.ReadFull(f.r, buf)
	f.off += int64(n)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, framingErr(f.off, "stream ended after %d of %d content bytes: %w", n, length, io.ErrUnexpectedEOF)
		}
		return nil, err
	}
	return buf, nil
}

// truncate shortens b for an error message.
func truncate(b []byte) string {
	const limit = 64
	if len(b) > limit {
		return string(b[:limit]) + "..."
	}
	return string(b)
}
