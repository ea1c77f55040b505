package session

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestPathMap(t *testing.T) {
	tests := []struct {
		name      string
		sourceMap string
		subst     []substitution
		in, want  string
	}{
		{"no rules", ``, nil, "/usr/src/sys/kern/kern_kdap.c", "/usr/src/sys/kern/kern_kdap.c"},
		{"object", `{"/usr/src": "/local/src"}`, nil, "/usr/src/sys/kern/kern_kdap.c", "/local/src/sys/kern/kern_kdap.c"},
		{"trailing slashes", `{"/usr/src/": "/local/src/"}`, nil, "/usr/src/sys/a.c", "/local/src/sys/a.c"},
		{"whole components only", `{"/usr/src": "/x"}`, nil, "/usr/srcfoo/a.c", "/usr/srcfoo/a.c"},
		{"exact path", `{"/usr/src/sys/a.c": "/x/a.c"}`, nil, "/usr/src/sys/a.c", "/x/a.c"},
		{"longest prefix first", `{"/usr/src": "/a", "/usr/src/sys/dev": "/b"}`, nil, "/usr/src/sys/dev/random/r.c", "/b/random/r.c"},
		{"longest prefix across both forms", `{"/usr/src": "/a"}`, []substitution{{From: "/usr/src/sys", To: "/c"}}, "/usr/src/sys/kern/x.c", "/c/kern/x.c"},
		{"pairs", `[["/usr/src", "/p"]]`, nil, "/usr/src/sys/x.c", "/p/sys/x.c"},
		{"substitutePath", ``, []substitution{{From: "/usr/src/", To: "/q"}}, "/usr/src/sys/x.c", "/q/sys/x.c"},
		{"root", `{"/": "/mnt/build/"}`, nil, "/usr/src/x.c", "/mnt/build/usr/src/x.c"},
		{"relative path untouched", `{"/usr/src": "/a"}`, nil, "sys/x.c", "sys/x.c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pm, err := parsePathMap(json.RawMessage(tc.sourceMap), tc.subst)
			if err != nil {
				t.Fatal(err)
			}
			got := pm.Map(tc.in)
			if got != tc.want {
				t.Errorf("Map(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if back := pm.Unmap(got); got != tc.in && back != tc.in {
				t.Errorf("Unmap(%q) = %q, want %q", got, back, tc.in)
			}
		})
	}
}

func TestPathMapErrors(t *testing.T) {
	tests := []struct {
		sourceMap string
		subst     []substitution
		want      string
	}{
		{`12`, nil, "sourceMap: expected an object"},
		{`[["/a"]]`, nil, "sourceMap entry 0: expected [from, to], got 1 strings"},
		{`{"": "/a"}`, nil, "sourceMap: empty prefix"},
		{``, []substitution{{From: "", To: "/a"}}, `substitutePath entry 0: "from" is empty`},
	}
	for _, tc := range tests {
		_, err := parsePathMap(json.RawMessage(tc.sourceMap), tc.subst)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parsePathMap(%s, %v) = %v, want an error containing %q", tc.sourceMap, tc.subst, err, tc.want)
		}
	}
}

func FuzzPathMap(f *testing.F) {
	f.Add(`{"/usr/src": "/local/src"}`, "/usr/src/sys/kern/kern_kdap.c")
	f.Add(`[["/", "/x"]]`, "/a")
	f.Add(`{"/usr/src/sys/dev": "/b", "/usr/src": "/a"}`, "/usr/src/sys/dev/x.c")
	f.Fuzz(func(t *testing.T, sourceMap, p string) {
		pm, err := parsePathMap(json.RawMessage(sourceMap), nil)
		if err != nil {
			return
		}
		out := pm.Map(p)
		_ = pm.Unmap(out)
		if len(pm) == 0 && out != p {
			t.Fatalf("no rules changed %q to %q", p, out)
		}
	})
}
