package dap

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/kdap/kdap/dap/schema"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zapCoreTo is a debug-level JSON core writing to w.
func zapCoreTo(w io.Writer) zapcore.Core {
	return zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.Lock(zapcore.AddSync(w)), zapcore.DebugLevel)
}

// byteStream reads fixed input and discards output.
type byteStream struct {
	io.Reader
	io.Writer
}

func frame(s string) string {
	return "Content-Length: " + itoa(len(s)) + "\r\n\r\n" + s
}

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		if n /= 10; n == 0 {
			return string(b)
		}
	}
}

func FuzzReadMessage(f *testing.F) {
	for _, s := range []string{
		frame(`{"seq":1,"type":"request","command":"initialize","arguments":{"adapterID":"kdap"}}`),
		frame(`{"seq":1,"type":"request","command":"threads"}`) + frame(`{"seq":2,"type":"request","command":"disconnect"}`),
		frame(`{"seq":3,"type":"request","command":"stackTrace","arguments":{"threadId":"x"}}`),
		frame(`{"seq":4,"type":"request","command":"frobnicate"}`),
		frame(`{"seq":5,"type":"request","command":"evaluate","arguments":{"expression":"panic"}}`),
		frame(`{"seq":6,"type":"request","command":"cancel","arguments":{"requestId":6}}`),
		frame(`{"seq":`),
		"Content-Length: 99999999999999\r\n\r\n",
		"Content-Length: 10\r\nContent-Type: x\r\n\r\n{}",
		"\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rec := newRecorder()
		var out bytes.Buffer
		done := make(chan error, 1)
		go func() {
			done <- Serve(context.Background(), byteStream{bytes.NewReader(data), &out}, rec.factory(), zap.NewNop())
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Serve did not return on %q", data)
		}
		// Whatever came in, what went out is well-framed JSON.
		fr := newFrameReader(&out, DefaultMaxMessageSize)
		for {
			b, err := fr.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("server output is not framed: %v", err)
			}
			if err := schema.Check(b); err != nil {
				t.Fatalf("server wrote %s: %v", b, err)
			}
		}
	})
}
