package kdh_test

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/target/core"
	_ "github.com/kdap/kdap/target/core/elfcore"
	"github.com/kdap/kdap/target/core/fbsdmini"
	"github.com/kdap/kdap/target/core/kdh"
)

// header builds a version 4 struct kerneldumpheader by the layout in
// sys/sys/kerneldump.h, with a correct parity word.
func header(magic string, dumplen uint64, mutate func(b []byte)) []byte {
	b := make([]byte, 512)
	be := binary.BigEndian
	copy(b[0:20], magic)
	copy(b[20:32], "amd64")
	be.PutUint32(b[32:], 4)
	be.PutUint32(b[36:], 2)
	be.PutUint64(b[40:], dumplen)
	be.PutUint64(b[48:], 1700000000)
	be.PutUint32(b[60:], 512)
	copy(b[64:], "host")
	copy(b[128:], "FreeBSD 14.1-RELEASE test")
	copy(b[320:], "panic message")
	be.PutUint64(b[496:], dumplen)
	if mutate != nil {
		mutate(b)
	}
	var p uint32
	for i := 0; i < 508; i += 4 {
		p ^= binary.LittleEndian.Uint32(b[i:])
	}
	binary.LittleEndian.PutUint32(b[508:], p)
	return b
}

func TestParseHeader(t *testing.T) {
	h, err := kdh.ParseHeader(header(kdh.MagicKernel, 4096, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := kdh.Header{Magic: "FreeBSD Kernel Dump", Architecture: "amd64", Version: 4, ArchVersion: 2,
		DumpLength: 4096, DumpTime: 1700000000, BlockSize: 512, Hostname: "host",
		VersionString: "FreeBSD 14.1-RELEASE test", PanicString: "panic message", DumpExtent: 4096, Parity: h.Parity}
	if h != want {
		t.Errorf("ParseHeader =\n%+v\nwant\n%+v", h, want)
	}

	// Version 1 (FreeBSD 10 and earlier): no dumpkeysize, so blocksize
	// sits at 56 and the strings 4 bytes earlier.
	v1 := header(kdh.MagicKernel, 8192, func(b []byte) {
		clear(b[56:])
		binary.BigEndian.PutUint32(b[32:], 1)
		binary.BigEndian.PutUint32(b[56:], 512)
		copy(b[60:], "oldhost")
		copy(b[124:], "FreeBSD 10.4")
		copy(b[316:], "old panic")
	})
	h, err = kdh.ParseHeader(v1)
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != 1 || h.BlockSize != 512 || h.Hostname != "oldhost" || h.VersionString != "FreeBSD 10.4" || h.PanicString != "old panic" || h.DumpExtent != 8192 {
		t.Errorf("version 1 header = %+v", h)
	}
}

func TestParseHeaderErrors(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"short", make([]byte, 100), "100 bytes, expected 512"},
		{"magic", header("Linux Kernel Dump", 0, nil), `kerneldumpheader: magic (file offset 0x0) is not "FreeBSD Kernel Dump"`},
		{"version 3", header(kdh.MagicKernel, 0, func(b []byte) { binary.BigEndian.PutUint32(b[32:], 3) }), "version 3 is not supported"},
		{"parity", func() []byte { b := header(kdh.MagicKernel, 0, nil); b[70] ^= 1; return b }(), "parity check failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kdh.ParseHeader(tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	body := bytes.Repeat([]byte{0}, 4096)
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"textdump", append(header(kdh.MagicText, 4096, nil), body...), "textdump"},
		{"compressed", append(header(kdh.MagicKernel, 4096, func(b []byte) { b[495] = kdh.CompZstd }), body...), "compressed (compression 2: zstd)"},
		{"encrypted", append(header(kdh.MagicKernel, 4096, func(b []byte) { binary.BigEndian.PutUint32(b[56:], 64) }), body...), "encrypted (dumpkeysize 64)"},
		{"truncated", append(header(kdh.MagicKernel, 1<<20, nil), body...), "dumplength 1048576 after the 512-byte leader extends past the end"},
		{"blocksize", append(header(kdh.MagicKernel, 4096, func(b []byte) { binary.BigEndian.PutUint32(b[60:], 700) }), body...), "blocksize 700"},
		{"unknown inner format", append(header(kdh.MagicKernel, 4096, nil), body...), "not a crash dump"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kdh.Open(bytes.NewReader(tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// fixture facts, from testdata/README.md and the fixture kernel.
func fixtureFacts(t *testing.T) (dumpdev, mini []byte, version, panicMsg string) {
	t.Helper()
	dir := "fbsdkern/fixtures/fp/"
	var err error
	if dumpdev, err = os.ReadFile(testfixture.Path(t, dir+"assert/vmcore.dumpdev")); err != nil {
		t.Fatal(err)
	}
	if mini, err = os.ReadFile(testfixture.Path(t, dir+"assert/vmcore.mini")); err != nil {
		t.Fatal(err)
	}
	console, err := os.ReadFile(testfixture.Path(t, dir+"assert/console.txt"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^panic: (.*)$`).FindSubmatch(console)
	if m == nil {
		t.Fatal("console.txt has no panic line")
	}
	ef, err := elf.Open(testfixture.Path(t, dir+"kernel.debug"))
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	syms, _ := ef.Symbols()
	for _, s := range syms {
		if s.Name != "version" {
			continue
		}
		for _, sec := range ef.Sections {
			if sec.Type == elf.SHT_PROGBITS && s.Value >= sec.Addr && s.Value < sec.Addr+sec.Size {
				b := make([]byte, 192)
				sec.ReadAt(b, int64(s.Value-sec.Addr))
				version = string(b[:bytes.IndexByte(b, 0)])
			}
		}
	}
	return dumpdev, mini, version, string(m[1])
}

func TestFixtureDumpDevice(t *testing.T) {
	dumpdev, mini, version, panicMsg := fixtureFacts(t)
	d, err := core.OpenFile(bytes.NewReader(dumpdev))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := d.Format(); got != "FreeBSD amd64 minidump v3 behind a kerneldumpheader" {
		t.Errorf("Format = %q", got)
	}
	k, ok := core.As[*kdh.Dump](d)
	if !ok {
		t.Fatal("not a kdh.Dump")
	}
	h := k.Header()
	want := kdh.Header{Magic: kdh.MagicKernel, Architecture: "amd64", Version: 4, ArchVersion: 2,
		DumpLength: uint64(len(mini)), DumpTime: 1700000000, BlockSize: 512, Hostname: "kdap-fixture",
		VersionString: version, PanicString: panicMsg, DumpExtent: uint64(len(mini)), Parity: h.Parity}
	if h != want {
		t.Errorf("header =\n%+v\nwant\n%+v", h, want)
	}
	info := map[string]string{}
	for _, f := range d.Info() {
		info[f.Name] = f.Value
	}
	for name, v := range map[string]string{"kdh trailer": "matches the leader", "kdh dumptime": "2023-11-14T22:13:20Z",
		"kdh hostname": "kdap-fixture", "version": "3", "kdh compression": "none"} {
		if info[name] != v {
			t.Errorf("Info %q = %q, want %q", name, info[name], v)
		}
	}
	// The wrapped minidump is the same as the stand-alone one.
	km, ok := core.As[core.KernelMapper](d)
	if !ok {
		t.Fatal("no KernelMapper through Unwrap")
	}
	plain, err := fbsdmini.Open(bytes.NewReader(mini))
	if err != nil {
		t.Fatal(err)
	}
	for _, va := range []uint64{0xfffffe0000001000, 0xfffffe0000002ff8, 0xffffffff80206000} {
		pa, _, err := km.TranslateKernel(va)
		if err != nil {
			t.Fatalf("%#x: %v", va, err)
		}
		a, b := make([]byte, 64), make([]byte, 64)
		if err := d.ReadPhys(a, pa); err != nil {
			t.Fatal(err)
		}
		if err := plain.ReadPhys(b, pa); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("va %#x reads differently behind the header", va)
		}
	}
}

func TestFixtureCorrupt(t *testing.T) {
	dumpdev, _, _, _ := fixtureFacts(t)
	tests := []struct {
		name   string
		mutate func(b []byte) []byte
		want   string
	}{
		{"parity", func(b []byte) []byte { b[64] ^= 0x20; return b }, "parity check failed"},
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }, "extends past the end of the file"},
		{"inner minidump corrupt", func(b []byte) []byte { b[512+32] = 12; b[512+33], b[512+34], b[512+35] = 0, 0, 0; return b },
			"dump after the kerneldumpheader (file offset 0x200): FreeBSD amd64 minidump: minidump header: bitmapsize 12 is not a multiple of 8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kdh.Open(bytes.NewReader(tc.mutate(append([]byte(nil), dumpdev...))))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func FuzzKerneldumpHeader(f *testing.F) {
	f.Add(append(header(kdh.MagicKernel, 4096, nil), make([]byte, 4096)...))
	f.Add(header(kdh.MagicCleared, 0, nil))
	if p, err := testfixture.Find("fbsdkern/fixtures/fp/assert/vmcore.dumpdev"); err == nil {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b[:512+5*4096])
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := kdh.ParseHeader(data); err != nil {
			return
		}
		d, err := kdh.Open(bytes.NewReader(data))
		if err != nil {
			return
		}
		var b [8]byte
		_ = d.ReadPhys(b[:], 0x1000)
		_ = d.Info()
	})
}
