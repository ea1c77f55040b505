// Package refcheck runs the reference tools crash and drgn on the Linux dump
// fixture (testdata/linux/mkfixture.sh), parses what they print and caches
// it, so tests can compare kdap's view of the dump with theirs.
//
// The tools are Debian trixie's crash 8.0.6 and python3-drgn 0.0.31, made
// runnable by testdata/linux/fetch-crash.sh and fetch-drgn.sh (bookworm's
// crash 8.0.2 and drgn 0.0.22 are wrong on these kernels). Their output is
// cached per fixture, keyed by the dump's and vmlinux's sha256 from
// fixture.env, the tool's version and the script it ran, because crash
// takes several seconds to open the dump.
package refcheck

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/kdap/kdap/internal/testfixture"
)

// ErrNoTool says a reference tool is not installed where Find looks.
var ErrNoTool = errors.New("reference tool not installed")

// Tool is one reference tool's wrapper script.
type Tool struct {
	// Name is "crash" or "drgn".
	Name string
	// Path is the wrapper (or any executable) that runs it.
	Path string
	// Fetch is the script that installs it, for skip messages.
	Fetch string
}

// Find locates a reference tool: $KDAP_CRASH or $KDAP_DRGN when set, else
// the wrapper that testdata/linux/fetch-NAME.sh writes into the fixture
// root's trixie/ folder. It returns an error wrapping ErrNoTool that names
// the fetch script when the tool is absent.
func Find(name string) (Tool, error) {
	tl := Tool{Name: name, Fetch: "testdata/linux/fetch-" + name + ".sh"}
	if p := os.Getenv("KDAP_" + strings.ToUpper(name)); p != "" {
		tl.Path = p
	} else {
		tl.Path = filepath.Join(testfixture.LinuxRoot(), "trixie", name)
	}
	if st, err := os.Stat(tl.Path); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return tl, fmt.Errorf("%w: no executable %s at %s (run %s, or set KDAP_%s)",
			ErrNoTool, name, tl.Path, tl.Fetch, strings.ToUpper(name))
	}
	return tl, nil
}

// Version returns the first non-empty line of the tool's --version output,
// e.g. "crash 8.0.6" or "drgn 0.0.31 (using Python 3.13.5, ...".
func (tl Tool) Version() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, tl.Path, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", tl.Path, err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l, nil
		}
	}
	return "", fmt.Errorf("%s --version printed nothing", tl.Path)
}

// Env reads a fixture folder's fixture.env (KEY=VALUE lines, shell
// quotes stripped).
func Env(dir string) (map[string]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "fixture.env"))
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		env[k] = strings.Trim(v, `'"`)
	}
	return env, sc.Err()
}

// Run runs the tool with args and stdin and returns its standard output,
// from the cache when an earlier run had the same key. The key combines
// the tool's version, args (with paths reduced to their base names),
// stdin and the given content sums (the dump's and vmlinux's sha256), so
// a new dump, tool or script runs the tool again. Cached results live in
// the fixture root's refcheck/ folder. A tool that fails or runs longer
// than timeout gives an error with its standard error's last lines.
func (tl Tool) Run(args []string, stdin string, sums []string, timeout time.Duration) (string, error) {
	ver, err := tl.Version()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", tl.Name, ver)
	for _, a := range args {
		fmt.Fprintf(h, "%s\x00", filepath.Base(a))
	}
	fmt.Fprintf(h, "%s\x00", stdin)
	for _, s := range sums {
		fmt.Fprintf(h, "%s\x00", s)
	}
	key := hex.EncodeToString(h.Sum(nil))[:24]
	cache := filepath.Join(testfixture.LinuxRoot(), "refcheck", tl.Name+"-"+key+".out")
	if b, err := os.ReadFile(cache); err == nil {
		return string(b), nil
	}

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, tl.Path, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("no result after %v", timeout)
		}
		return "", fmt.Errorf("%s %s: %w; stderr: %s", tl.Path, strings.Join(args, " "), err, tail(stderr.String(), 5))
	}
	// Written to a temporary file and renamed, so concurrent test
	// processes never read half a result.
	if err := os.MkdirAll(filepath.Dir(cache), 0o755); err == nil {
		if f, err := os.CreateTemp(filepath.Dir(cache), ".partial-*"); err == nil {
			_, werr := f.Write(stdout.Bytes())
			cerr := f.Close()
			if werr == nil && cerr == nil {
				_ = os.Rename(f.Name(), cache)
			}
			_ = os.Remove(f.Name())
		}
	}
	return stdout.String(), nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
