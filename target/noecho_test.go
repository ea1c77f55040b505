package target_test

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
)

// secret is the first line of a file that is no kernel and no dump:
// errors about it must not echo it.
const secret = "root:$6$kdapSecretSalt$Hk3dQ9vXz0:19700:0:99999:7:::\n"

// byteList matches Go's rendering of a byte slice with %v or %d, four or
// more decimal numbers in brackets ("[114 111 111 116]").
var byteList = regexp.MustCompile(`\[\d{1,3}( \d{1,3}){3,}\]`)

// noEcho fails the test if msg holds any rendering of the start of
// content: its text, its bytes as a decimal list, its hex.
func noEcho(t *testing.T, what, msg string, content []byte) {
	t.Helper()
	head := content[:8]
	for _, f := range []string{
		string(content[:4]), "kdapSecret", "Secret", "99999",
		fmt.Sprint(head[:4]), fmt.Sprintf("%v", head), strings.Trim(fmt.Sprint(head[:4]), "[]"),
		hex.EncodeToString(head[:4]), fmt.Sprintf("% x", head[:4]), fmt.Sprintf("%#v", head[:4]),
		fmt.Sprintf("%q", head[:4]), `\x72\x6f`, "[]byte", "0x72, 0x6f",
	} {
		if strings.Contains(msg, f) {
			t.Errorf("%s: error %q echoes the file's content (%q)", what, msg, f)
			return
		}
	}
	if m := byteList.FindString(msg); m != "" {
		t.Errorf("%s: error %q holds a byte list %s", what, msg, m)
	}
}

// TestOpenNoEcho gives a text file (the first line of a shadow file) as
// the kernel and as the dump: the errors say what the file is not and
// echo none of its bytes. debug/elf's own error used to give its first
// four bytes ("bad magic number '[114 111 111 116]'").
func TestOpenNoEcho(t *testing.T) {
	core := testfixture.Path(t, "fbsdkern/fixtures/fp/assert/vmcore.mini")
	kernel := testfixture.Path(t, "fbsdkern/fixtures/fp/kernel.debug")
	content := []byte(strings.Repeat(secret, 200))
	dir := t.TempDir()
	shadow := filepath.Join(dir, "shadow")
	if err := os.WriteFile(shadow, content, 0o600); err != nil {
		t.Fatal(err)
	}
	// An ELF identification followed by text: debug/elf's errors then
	// name header fields, which may be printed as numbers.
	elfish := filepath.Join(dir, "elfish")
	if err := os.WriteFile(elfish, append([]byte("\x7fELF"), content...), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		f    func() error
		want string
	}{
		{"target.OpenKernel", func() error { return openKernel(shadow) }, "kernel " + shadow + ": not an ELF file"},
		{"target.Open as kernel", func() error { return openTarget(core, shadow) }, "kernel " + shadow + ": not an ELF file"},
		{"target.Open as core", func() error { return openTarget(shadow, kernel) }, "core " + shadow + ": not a crash dump"},
		{"target.OpenKernel of an ELF header", func() error { return openKernel(elfish) }, "kernel " + elfish + ": malformed ELF file: "},
		{"target.Open with an ELF header as kernel", func() error { return openTarget(core, elfish) }, "kernel " + elfish + ": malformed ELF file: "},
	} {
		err := c.f()
		if err == nil {
			t.Errorf("%s of a text file succeeded", c.name)
			continue
		}
		noEcho(t, c.name, err.Error(), content)
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s = %v, want an error containing %q", c.name, err, c.want)
		}
	}
}
