package freebsd_test

import (
	"testing"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"

	"github.com/kdap/kdap/internal/testfixture"
	"github.com/kdap/kdap/target"
)

// DWARF says which shape stoppcbs has: gcc gives the definition of a
// variable a header declares extern no type of its own, only
// DW_AT_specification, so the type must be found through the declaration.
func TestStoppcbsDWARFType(t *testing.T) {
	for _, c := range []struct {
		kernel string
		ptr    bool
	}{
		{"fbsdkern/fixtures/fp/kernel.debug", false},
		{"fbsdkern/fixtures/fp-stoppcbs-ptr/kernel.debug", true},
	} {
		k, err := target.OpenKernel(testfixture.Path(t, c.kernel), false)
		if err != nil {
			t.Fatal(err)
		}
		d, err := k.DWARF()
		if err != nil {
			t.Fatal(err)
		}
		ty, err := d.VariableType("stoppcbs")
		if err != nil {
			t.Fatalf("%s: VariableType(stoppcbs): %v", c.kernel, err)
		}
		_, isPtr := ty.(*godwarf.PtrType)
		_, isArr := ty.(*godwarf.ArrayType)
		if isPtr != c.ptr || isArr == c.ptr {
			t.Errorf("%s: stoppcbs is %s, want a pointer: %v", c.kernel, ty, c.ptr)
		}
		k.Close()
	}
}
