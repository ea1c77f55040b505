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

// MaxMessageSize is the largest Content-Length the server accepts.
const MaxMessageSize = 64 << 20

const (
	// maxHeaderLine bounds one header line, terminator included.
	maxHeaderLine = 4096
	// maxHeaderLines bounds the number of header fields of one message.
	maxHeaderLines = 32
)

// ErrFraming is wrapped by every error about the base protocol's
// header/content framing; the stream cannot be resynchronised after one.
var ErrFraming = errors.New("dap framing")

// frameReader reads base-protocol messages and tracks the stream offset so
// errors can say where the input went wrong.
type frameReader struct {
	r   *bufio.Reader
	off int64
	max int64
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
			return nil, framingErr(lineOff, "Content-Length %d is above the limit of %d bytes", n, f.max)
		}
		if length >= 0 && n != length {
			return nil, framingErr(lineOff, "second Content-Length %d contradicts the first, %d", n, length)
		}
		length = n
	}
	if length < 0 {
		return nil, framingErr(start, "message header has no Content-Length field")
	}
	// Grow the buffer as bytes arrive so a lying Content-Length costs nothing.
	var buf bytes.Buffer
	buf.Grow(int(min(length, 64<<10)))
	n, err := io.CopyN(&buf, f.r, length)
	f.off += n
	if err != nil {
		if err == io.EOF {
			return nil, framingErr(f.off, "stream ended after %d of %d content bytes: %w", n, length, io.ErrUnexpectedEOF)
		}
		return nil, err
	}
	return buf.Bytes(), nil
}

// truncate shortens b for an error message.
func truncate(b []byte) string {
	const limit = 64
	if len(b) > limit {
		return string(b[:limit]) + "..."
	}
	return string(b)
}
