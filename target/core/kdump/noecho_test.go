package kdump

import (
	"fmt"
	"strings"
	"testing"
)

// Errors about a file that is not a kdump or flattened dump say so
// without echoing its bytes (a client could otherwise read the start of
// any file the server can).
func TestErrorsDoNotEchoContent(t *testing.T) {
	secret := []byte("root:$6$kdapSecret$abcdefghijklmnopqrstuvwxyz0123456789")
	content := append(append([]byte(nil), secret...), make([]byte, 8192)...)
	var errs []error
	if _, _, err := parseHeader(content); err != nil {
		errs = append(errs, err)
	}
	if _, err := NewFlat(file(content)); err != nil {
		errs = append(errs, err)
	}
	if _, err := Open(file(content)); err != nil {
		errs = append(errs, err)
	}
	if len(errs) != 3 {
		t.Fatalf("%d of 3 parsers refused the file: %v", len(errs), errs)
	}
	for _, err := range errs {
		msg := err.Error()
		for _, leak := range []string{string(secret[:4]), fmt.Sprint(secret[:4]), fmt.Sprintf("%x", secret[:4]), fmt.Sprintf("%q", secret[:8])} {
			if strings.Contains(msg, leak) {
				t.Errorf("%q echoes the file (%q)", msg, leak)
			}
		}
	}
}
