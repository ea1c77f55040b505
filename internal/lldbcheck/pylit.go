// Package lldbcheck reads LLDB's expectations for its FreeBSD kernel
// vmcore tests (TestFreeBSDKernelVMCore.py, fetched from LLVM's sources by
// testdata/freebsd-lldb/fetch.sh) so that kdap's tests compare with what
// LLDB itself asserts, not with a copy typed into kdap.
package lldbcheck

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/kdap/kdap/internal/testfixture"
)

// Case is one do_test call of TestFreeBSDKernelVMCore.py.
type Case struct {
	// Test is the Python test method's name ("test_amd64_full_vmcore").
	Test string
	// Kernel and Vmcore are the fixture names as LLDB gives them
	// ("kernel-amd64.yaml", "vmcore-amd64-full.bz2").
	Kernel, Vmcore string
	// NumThreads is how many threads LLDB lists.
	NumThreads int
	// HZ is the value of the kernel variable hz.
	HZ int
	// Threads are LLDB's expectations for some threads, by LLDB's index.
	Threads map[int]Thread
}

// Thread is what LLDB expects of one thread.
type Thread struct {
	Name string
	// BT are the frames' pcs, innermost first.
	BT []uint64
	// Regs are frame 0's registers by LLDB's name.
	Regs map[string]uint64
}

// Parse extracts every do_test call from the text of
// TestFreeBSDKernelVMCore.py.
func Parse(src string) ([]Case, error) {
	defHZ := 0
	if i := strings.Index(src, "def do_test("); i >= 0 {
		sig := src[i:]
		if j := strings.IndexByte(sig, ':'); j >= 0 {
			sig = sig[:j]
		}
		if k := strings.Index(sig, "hz="); k >= 0 {
			p := &parser{s: sig[k+3:]}
			if v, err := p.value(); err == nil {
				defHZ, _ = toInt(v)
			}
		}
	}
	var out []Case
	rest := src
	for {
		i := strings.Index(rest, "self.do_test(")
		if i < 0 {
			break
		}
		test := enclosingDef(src[:len(src)-len(rest)+i])
		p := &parser{s: rest[i+len("self.do_test("):]}
		c, err := p.call(defHZ)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", test, err)
		}
		c.Test = test
		out = append(out, c)
		rest = p.s
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no self.do_test( call found")
	}
	return out, nil
}

// enclosingDef names the last "def NAME(" before the end of s.
func enclosingDef(s string) string {
	i := strings.LastIndex(s, "def ")
	if i < 0 {
		return ""
	}
	name := s[i+4:]
	if j := strings.IndexByte(name, '('); j >= 0 {
		name = name[:j]
	}
	return strings.TrimSpace(name)
}

// parser reads the Python literals of a do_test call.
type parser struct{ s string }

func (p *parser) skip() {
	for {
		p.s = strings.TrimLeftFunc(p.s, unicode.IsSpace)
		if strings.HasPrefix(p.s, "#") {
			if i := strings.IndexByte(p.s, '\n'); i >= 0 {
				p.s = p.s[i:]
				continue
			}
			p.s = ""
		}
		return
	}
}

func (p *parser) eat(tok string) bool {
	p.skip()
	if strings.HasPrefix(p.s, tok) {
		p.s = p.s[len(tok):]
		return true
	}
	return false
}

// call reads `"kernel", "vmcore", key=value, ...)`.
func (p *parser) call(defHZ int) (Case, error) {
	c := Case{HZ: defHZ}
	var pos []any
	for !p.eat(")") {
		p.skip()
		key := ""
		if j := strings.IndexAny(p.s, "=,)\"'{[\n"); j > 0 && p.s[j] == '=' && isIdent(p.s[:j]) {
			key = strings.TrimSpace(p.s[:j])
			p.s = p.s[j+1:]
		}
		v, err := p.value()
		if err != nil {
			return c, err
		}
		switch key {
		case "":
			pos = append(pos, v)
		case "numthread":
			c.NumThreads, err = toInt(v)
		case "hz":
			c.HZ, err = toInt(v)
		case "threads":
			c.Threads, err = toThreads(v)
		}
		if err != nil {
			return c, fmt.Errorf("%s: %w", key, err)
		}
		if !p.eat(",") && !strings.HasPrefix(strings.TrimSpace(p.s), ")") {
			return c, fmt.Errorf("expected , or ) at %q", head(p.s))
		}
	}
	if len(pos) != 2 {
		return c, fmt.Errorf("do_test has %d positional arguments, expected the kernel and the vmcore", len(pos))
	}
	var ok1, ok2 bool
	c.Kernel, ok1 = pos[0].(string)
	c.Vmcore, ok2 = pos[1].(string)
	if !ok1 || !ok2 {
		return c, fmt.Errorf("do_test's kernel and vmcore are not strings")
	}
	return c, nil
}

func isIdent(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" {
		return false
	}
	for _, r := range s {
		if r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

func head(s string) string {
	if len(s) > 30 {
		return s[:30]
	}
	return s
}

// value reads a string, an integer, a list or a dict.
func (p *parser) value() (any, error) {
	p.skip()
	switch {
	case p.s == "":
		return nil, fmt.Errorf("unexpected end of file")
	case p.s[0] == '"' || p.s[0] == '\'':
		q := p.s[0]
		j := strings.IndexByte(p.s[1:], q)
		if j < 0 {
			return nil, fmt.Errorf("unterminated string at %q", head(p.s))
		}
		v := p.s[1 : 1+j]
		p.s = p.s[2+j:]
		return v, nil
	case p.s[0] == '[':
		p.s = p.s[1:]
		var list []any
		for !p.eat("]") {
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			list = append(list, v)
			if !p.eat(",") && !strings.HasPrefix(strings.TrimSpace(p.s), "]") {
				return nil, fmt.Errorf("expected , or ] at %q", head(p.s))
			}
			p.skip()
		}
		return list, nil
	case p.s[0] == '{':
		p.s = p.s[1:]
		var keys, vals []any
		for !p.eat("}") {
			k, err := p.value()
			if err != nil {
				return nil, err
			}
			if !p.eat(":") {
				return nil, fmt.Errorf("expected : at %q", head(p.s))
			}
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			keys, vals = append(keys, k), append(vals, v)
			if !p.eat(",") && !strings.HasPrefix(strings.TrimSpace(p.s), "}") {
				return nil, fmt.Errorf("expected , or } at %q", head(p.s))
			}
			p.skip()
		}
		return dict{keys, vals}, nil
	}
	j := 0
	for j < len(p.s) && (p.s[j] == 'x' || p.s[j] == 'X' || p.s[j] == '_' || unicode.Is(unicode.ASCII_Hex_Digit, rune(p.s[j]))) {
		j++
	}
	if j == 0 {
		return nil, fmt.Errorf("unexpected %q", head(p.s))
	}
	n, err := strconv.ParseUint(strings.ReplaceAll(p.s[:j], "_", ""), 0, 64)
	if err != nil {
		return nil, fmt.Errorf("number %q: %w", p.s[:j], err)
	}
	p.s = p.s[j:]
	return n, nil
}

// dict is a Python dict literal, in source order.
type dict struct{ keys, vals []any }

func (d dict) get(k string) (any, bool) {
	for i, key := range d.keys {
		if key == k {
			return d.vals[i], true
		}
	}
	return nil, false
}

func toInt(v any) (int, error) {
	n, ok := v.(uint64)
	if !ok || n > 1<<31 {
		return 0, fmt.Errorf("%v is not a small integer", v)
	}
	return int(n), nil
}

func toThreads(v any) (map[int]Thread, error) {
	d, ok := v.(dict)
	if !ok {
		return nil, fmt.Errorf("threads is not a dict")
	}
	out := map[int]Thread{}
	for i, k := range d.keys {
		idx, err := toInt(k)
		if err != nil {
			return nil, err
		}
		td, ok := d.vals[i].(dict)
		if !ok {
			return nil, fmt.Errorf("thread %d is not a dict", idx)
		}
		var th Thread
		if name, ok := td.get("name"); ok {
			th.Name, _ = name.(string)
		}
		if bt, ok := td.get("bt"); ok {
			list, _ := bt.([]any)
			for _, pc := range list {
				n, ok := pc.(uint64)
				if !ok {
					return nil, fmt.Errorf("thread %d: bt holds %v", idx, pc)
				}
				th.BT = append(th.BT, n)
			}
		}
		if regs, ok := td.get("regs"); ok {
			rd, _ := regs.(dict)
			th.Regs = map[string]uint64{}
			for j, rk := range rd.keys {
				name, _ := rk.(string)
				s, _ := rd.vals[j].(string)
				n, err := strconv.ParseUint(s, 0, 64)
				if err != nil {
					return nil, fmt.Errorf("thread %d: register %s: %w", idx, name, err)
				}
				th.Regs[name] = n
			}
		}
		if th.Name == "" || len(th.BT) == 0 || len(th.Regs) == 0 {
			return nil, fmt.Errorf("thread %d lacks a name, a backtrace or registers", idx)
		}
		out[idx] = th
	}
	return out, nil
}

// Load reads and parses LLDB's test file as testdata/freebsd-lldb/fetch.sh
// leaves it, ending t through testfixture.Missing when it is absent.
func Load(t testing.TB) []Case {
	t.Helper()
	src, err := os.ReadFile(testfixture.FreeBSDLLDB(t, "TestFreeBSDKernelVMCore.py"))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := Parse(string(src))
	if err != nil {
		t.Fatalf("TestFreeBSDKernelVMCore.py: %v", err)
	}
	return cs
}

// Files returns the paths of a case's dump and kernel as fetch.sh leaves
// them (decompressed, built from YAML).
func (c Case) Files(t testing.TB) (core, kernel string) {
	t.Helper()
	return testfixture.FreeBSDLLDB(t, strings.TrimSuffix(c.Vmcore, ".bz2")),
		testfixture.FreeBSDLLDB(t, strings.TrimSuffix(c.Kernel, ".yaml"))
}
