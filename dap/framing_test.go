package dap

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestFrameReaderAccepts(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []string
	}{
		{"plain", "Content-Length: 2\r\n\r\n{}", []string{"{}"}},
		{"content type first", "Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: 2\r\n\r\n{}", []string{"{}"}},
		{"lower case, no space", "content-length:2\r\n\r\n{}", []string{"{}"}},
		{"repeated equal length", "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}", []string{"{}"}},
		{"empty content", "Content-Length: 0\r\n\r\n", []string{""}},
		{"two messages", "Content-Length: 1\r\n\r\n1Content-Length: 3\r\n\r\n[2]", []string{"1", "[2]"}},
		{"content with CRLF", "Content-Length: 4\r\n\r\n\r\n\r\n", []string{"\r\n\r\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fr := newFrameReader(strings.NewReader(tt.input), DefaultMaxMessageSize)
			for i, want := range tt.want {
				got, err := fr.next()
				if err != nil || string(got) != want {
					t.Fatalf("message %d = %q, %v; want %q", i, got, err, want)
				}
			}
			if _, err := fr.next(); !errors.Is(err, io.EOF) || errors.Is(err, ErrFraming) {
				t.Errorf("after the last message: %v, want a clean io.EOF", err)
			}
		})
	}
}
