package core_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kdap/kdap/target/core"
	_ "github.com/kdap/kdap/target/core/all"
	"github.com/kdap/kdap/target/core/elfcore"
	"github.com/kdap/kdap/target/core/fbsdmini"
	"github.com/kdap/kdap/target/core/kdh"
)

// secret is the first line of a file that is no dump: errors about it
// must not echo it.
const secret = "root:$6$kdapSecretSalt$Hk3dQ9vXz0:19700:0:99999:7:::\n"

// byteList matches Go's rendering of a byte slice with %v or %d, four or
// more decimal numbers in brackets ("[114 111 111 116]").
var byteList = regexp.MustCompile(`\[\d{1,3}( \d{1,3}){3,}\]`)

// checkNoEcho fails the test if msg holds any rendering of the start of
// content: its text, its bytes as a decimal list, its hex.
func checkNoEcho(t *testing.T, what, msg string, content []byte) {
	t.Helper()
	head := content[:8]
	forms := []string{
		string(content[:4]), "kdapSecret", "Secret", "99999",
		fmt.Sprint(head[:4]), fmt.Sprintf("%v", head), fmt.Sprintf("%d", head[:4]),
		strings.Trim(fmt.Sprint(head[:4]), "[]"),
		hex.EncodeToString(head[:4]), fmt.Sprintf("% x", head[:4]), fmt.Sprintf("%#v", head[:4]),
		fmt.Sprintf("%q", head[:4]), `\x72\x6f`, "[]byte", "0x72, 0x6f",
	}
	for _, f := range forms {
		if strings.Contains(msg, f) {
			t.Errorf("%s: error %q echoes the file's content (%q)", what, msg, f)
			return
		}
	}
	if m := byteList.FindString(msg); m != "" {
		t.Errorf("%s: error %q holds a byte list %s", what, msg, m)
	}
}

// secretFile returns content: the secret line, padded to size with more
// text.
func secretFile(size int) []byte {
	b := []byte(secret)
	for len(b) < size {
		b = append(b, "daemon:*:19700:0:99999:7:::\n"...)
	}
	return b[:size]
}

// TestOpenNoEcho: a text file given as a dump is refused without echoing
// its bytes, by core.Open and by each format's own Open when called on it
// directly (minidump and kerneldumpheader magic, ELF identification).
func TestOpenNoEcho(t *testing.T) {
	content := secretFile(8192)
	p := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := core.Open(p); err == nil {
		t.Fatal("core.Open of a text file succeeded")
	} else {
		checkNoEcho(t, "core.Open", err.Error(), content)
		if !strings.Contains(err.Error(), "not a crash dump") {
			t.Errorf("core.Open = %v, want it to say it is not a crash dump", err)
		}
	}
	direct := []struct {
		name string
		open func() error
		want string
	}{
		{"fbsdmini.Open", func() error { _, err := fbsdmini.Open(bytes.NewReader(content)); return err }, "minidump header: magic (file offset 0x0) is not"},
		{"elfcore.Open", func() error { _, err := elfcore.Open(bytes.NewReader(content)); return err }, "not an ELF file"},
		{"kdh.Open", func() error { _, err := kdh.Open(bytes.NewReader(content)); return err }, "kerneldumpheader: magic (file offset 0x0) is not"},
		{"kdh.ParseHeader", func() error { _, err := kdh.ParseHeader(content[:kdh.Size]); return err }, "kerneldumpheader: magic (file offset 0x0) is not"},
	}
	for _, tc := range direct {
		err := tc.open()
		if err == nil {
			t.Errorf("%s of a text file succeeded", tc.name)
			continue
		}
		checkNoEcho(t, tc.name, err.Error(), content)
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s = %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
