// Package testfixture gives tests the committed dump fixtures of testdata/,
// decompressed once per test process.
package testfixture

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	mu    sync.Mutex
	cache = map[string]string{}
	dir   string
)

// Root returns the absolute path of the repository's testdata directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata")
}

// Path returns a readable file for rel (relative to testdata/). When only
// rel+".gz" exists it is decompressed into a temporary directory shared by
// the whole test process. A missing fixture skips the test.
func Path(t testing.TB, rel string) string {
	t.Helper()
	p, err := Find(rel)
	if err != nil {
		t.Skipf("fixture %s: %v", rel, err)
	}
	return p
}

// Find is Path without a testing.TB: it returns an error when the fixture
// is missing or cannot be decompressed.
func Find(rel string) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if p, ok := cache[rel]; ok {
		return p, nil
	}
	plain := filepath.Join(Root(), rel)
	if _, err := os.Stat(plain); err == nil {
		cache[rel] = plain
		return plain, nil
	}
	gz := plain + ".gz"
	in, err := os.Open(gz)
	if err != nil {
		return "", fmt.Errorf("not found (neither %s nor %s.gz; run `make -C testdata/fbsdkern fixtures`)", rel, rel)
	}
	defer in.Close()
	if dir == "" {
		d, err := os.MkdirTemp("", "kdap-fixtures-")
		if err != nil {
			return "", err
		}
		dir = d
	}
	out := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	zr, err := gzip.NewReader(in)
	if err != nil {
		return "", fmt.Errorf("%s: %w", gz, err)
	}
	f, err := os.Create(out)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, zr); err != nil {
		f.Close()
		return "", fmt.Errorf("decompressing %s: %w", gz, err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	cache[rel] = out
	return out, nil
}
