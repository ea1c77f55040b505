// Package testfixture gives tests the committed dump fixtures of testdata/,
// decompressed once per test process.
package testfixture

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	mu    sync.Mutex
	cache = map[string]string{}
)

// Root returns the absolute path of the repository's testdata directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata")
}

// FreeBSDGet is how to make the committed FreeBSD fixtures of
// testdata/fbsdkern when they are absent (see testdata/README.md).
const FreeBSDGet = "make -C testdata/fbsdkern fixtures (needs gcc, make, qemu-system-x86)"

// LinuxGet is how to make the Linux dump fixture (see testdata/README.md).
const LinuxGet = "sh testdata/linux/mkfixture.sh (or set KDAP_LINUX_FIXTURE to where one is)"

// Path returns a readable file for rel (relative to testdata/). When only
// rel+".gz" exists it is decompressed once into a cache shared by
// test processes and runs (see cacheDir). A missing fixture ends the test
// through Missing; one that cannot be decompressed fails it.
func Path(t testing.TB, rel string) string {
	t.Helper()
	p, err := Find(rel)
	if err != nil {
		MissingFile(t, err, "fixture testdata/"+rel, FreeBSDGet)
	}
	return p
}

// Find is Path without a testing.TB: it returns an error when the fixture
// is missing (wrapping fs.ErrNotExist) or cannot be decompressed.
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
	data, err := os.ReadFile(gz)
	if err != nil {
		return "", fmt.Errorf("neither %s nor %s.gz: %w", rel, rel, fs.ErrNotExist)
	}
	// Decompressed fixtures are kept in a cache keyed by the compressed
	// file's hash, shared by test processes and runs.
	sum := sha256.Sum256(data)
	out := filepath.Join(cacheDir(), hex.EncodeToString(sum[:12]), filepath.Base(rel))
	if _, err := os.Stat(out); err == nil {
		cache[rel] = out
		return out, nil
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("%s: %w", gz, err)
	}
	f, err := os.CreateTemp(filepath.Dir(out), ".partial-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if _, err := io.Copy(f, zr); err != nil {
		f.Close()
		return "", fmt.Errorf("decompressing %s: %w", gz, err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	// Rename is atomic: concurrent test processes see the whole file or none.
	if err := os.Rename(f.Name(), out); err != nil {
		return "", err
	}
	cache[rel] = out
	return out, nil
}

// cacheDir is where decompressed fixtures are kept: $KDAP_FIXTURE_CACHE,
// else the user's cache directory, else the temporary directory.
func cacheDir() string {
	if d := os.Getenv("KDAP_FIXTURE_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "kdap-fixtures")
	}
	return filepath.Join(os.TempDir(), "kdap-fixtures")
}

// PatchELFCore copies the ELF core at path into a temporary file with b
// written over physical address pa (found through the PT_LOAD headers),
// for corrupt-input tests.
func PatchELFCore(t testing.TB, path string, pa uint64, b []byte) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_LOAD && pa >= p.Paddr && pa+uint64(len(b)) <= p.Paddr+p.Filesz {
			copy(data[p.Off+pa-p.Paddr:], b)
			out := filepath.Join(t.TempDir(), filepath.Base(path)+".patched")
			if err := os.WriteFile(out, data, 0o644); err != nil {
				t.Fatal(err)
			}
			return out
		}
	}
	t.Fatalf("physical %#x is not in any PT_LOAD of %s", pa, path)
	return ""
}

// LinuxRoot is the folder of the Linux dump fixtures that
// testdata/linux/mkfixture.sh makes (one folder per kernel version):
// $KDAP_LINUX_FIXTURE, else $XDG_CACHE_HOME/kdap-linux, else
// ~/.cache/kdap-linux. It is "" when there is no home folder.
func LinuxRoot() string { return cacheFolder("KDAP_LINUX_FIXTURE", "kdap-linux") }

// cacheFolder is $env, else $XDG_CACHE_HOME/name, else ~/.cache/name, the
// way the fetch scripts choose where they put what they get; "" when
// there is no home folder.
func cacheFolder(env, name string) string {
	if root := os.Getenv(env); root != "" {
		return root
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, name)
}

// LinuxDirs returns the Linux fixture folders that hold a fixture.env, or
// ends the test through Missing.
func LinuxDirs(t testing.TB) []string {
	t.Helper()
	root := LinuxRoot()
	envs, _ := filepath.Glob(filepath.Join(root, "*", "fixture.env"))
	if root == "" || len(envs) == 0 {
		where := "in " + root
		if root == "" {
			where = "(no home folder to look in)"
		}
		Missing(t, "Linux dump fixture "+where, LinuxGet)
	}
	dirs := make([]string, len(envs))
	for i, e := range envs {
		dirs[i] = filepath.Dir(e)
	}
	return dirs
}

// LinuxPrefixes returns the first n bytes of each Linux fixture file with
// the given name (e.g. "vmcore.kdump"), for fuzz seeds; none when there
// is no fixture.
func LinuxPrefixes(name string, n int) [][]byte {
	paths, _ := filepath.Glob(filepath.Join(LinuxRoot(), "*", name))
	var out [][]byte
	for _, p := range paths {
		if fh, err := os.Open(p); err == nil {
			b := make([]byte, n)
			got, _ := fh.ReadAt(b, 0)
			fh.Close()
			out = append(out, b[:got])
		}
	}
	return out
}

// RequireEnv names the environment variable that makes an absent fixture
// or reference tool fail a test instead of skipping it. .ci/run sets it
// to 1, so that a CI run cannot pass by skipping the tests on real data.
const RequireEnv = "KDAP_REQUIRE_FIXTURES"

// Required reports whether absent fixtures and tools fail tests.
func Required() bool {
	v := os.Getenv(RequireEnv)
	return v != "" && v != "0"
}

// Missing ends t because what it needs is absent: a skip that says how to
// get it on a developer's machine, or a failure when Required.
func Missing(t testing.TB, what, get string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is absent (%s=1 makes this a failure): %s", what, RequireEnv, get)
	}
	t.Skipf("%s is absent: %s", what, get)
}

// MissingFile ends t after err, from opening or stating what (a fixture
// or a tool), through Missing when err says the file does not exist. Any
// other error fails t: a fixture that is there but unreadable is a fault
// to see, not a reason to skip. It does nothing when err is nil.
func MissingFile(t testing.TB, err error, what, get string) {
	t.Helper()
	if err == nil {
		return
	}
	if errors.Is(err, fs.ErrNotExist) {
		Missing(t, what, get)
	}
	t.Fatalf("%s: %v", what, err)
}

// LookPath returns the path of the host program name (gdb, objcopy,
// readelf, ...), or ends t through Missing, naming the Debian package
// that installs it.
func LookPath(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name, "apt-get install "+pkg)
	}
	return p
}

// FreeBSDLLDBRoot is the folder where testdata/freebsd-lldb/fetch.sh puts
// LLDB's real FreeBSD vmcores: $KDAP_FREEBSD_LLDB, else
// $XDG_CACHE_HOME/kdap-freebsd-lldb, else ~/.cache/kdap-freebsd-lldb.
func FreeBSDLLDBRoot() string { return cacheFolder("KDAP_FREEBSD_LLDB", "kdap-freebsd-lldb") }

// FreeBSDLLDB returns the path of one of the fetched LLDB files
// ("vmcore-arm64-minidump", "kernel-arm64", "TestFreeBSDKernelVMCore.py"),
// or ends the test through Missing.
func FreeBSDLLDB(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(FreeBSDLLDBRoot(), name)
	if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
		Missing(t, "LLDB's FreeBSD vmcore file "+p, "run testdata/freebsd-lldb/fetch.sh (or set KDAP_FREEBSD_LLDB)")
	}
	return p
}
