package fbsdmini

import (
	"errors"
	"os"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/target/core"
)

// FileOffset agrees with ReadPhys: the bytes at the offset it gives are
// those ReadPhys returns, and an absent page is a NotPresentError.
func TestFileOffset(t *testing.T) {
	for _, ld := range lldbDumps {
		t.Run(ld.arch, func(t *testing.T) {
			path := testfixture.FreeBSDLLDB(t, "vmcore-"+ld.arch+"-minidump")
			cd, err := core.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer cd.Close()
			d, _ := core.As[*Dump](cd)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var pa uint64
			found := false
			for pfn := uint64(0); pfn < 1<<20 && !found; pfn++ {
				if _, held, why := d.pageOffset(pfn); why == "" && held == pageSize {
					pa, found = pfn<<pageShift+0x123, true
				}
			}
			if !found {
				t.Fatal("no dumped page")
			}
			off, err := d.FileOffset(pa)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]byte, 16)
			if err := d.ReadPhys(want, pa); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 16)
			if _, err := f.ReadAt(got, off); err != nil || string(got) != string(want) {
				t.Errorf("bytes at file offset %#x = % x, ReadPhys(%#x) = % x (%v)", off, got, pa, want, err)
			}
			var np *core.NotPresentError
			if _, err := d.FileOffset(1 << 62); !errors.As(err, &np) {
				t.Errorf("FileOffset of an absent page: %v, want a NotPresentError", err)
			}
		})
	}
}
