package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/lldbcheck"
)

// TestVerbsOnLLDBDumps runs info, threads and bt -a (text and JSON) on
// LLDB's four real FreeBSD vmcores: each exits 0, says how the dump is
// incomplete, lists LLDB's thread count and names, and prints a
// backtrace for every thread, LLDB's frames among them.
func TestVerbsOnLLDBDumps(t *testing.T) {
	for _, lc := range lldbcheck.Load(t) {
		t.Run(lc.Test, func(t *testing.T) {
			core, kernel := lc.Files(t)

			out, stderr, code := runCmd(t, "info", core, kernel, "--json")
			if code != 0 {
				t.Fatalf("info: exit %d: %s", code, stderr)
			}
			var info struct {
				Threads  int      `json:"threads"`
				Warnings []string `json:"warnings"`
			}
			if err := json.Unmarshal([]byte(out), &info); err != nil {
				t.Fatalf("info --json: %v", err)
			}
			// Every one of LLDB's copies ends early (they hold only what
			// LLDB's test read): info must say so.
			if info.Threads != lc.NumThreads || len(info.Warnings) == 0 || !strings.Contains(info.Warnings[0], "ends early") {
				t.Errorf("info: %d threads (LLDB %d), warnings %q", info.Threads, lc.NumThreads, info.Warnings)
			}
			text, stderr, code := runCmd(t, "info", core, kernel)
			if code != 0 || !strings.Contains(text, fmt.Sprintf("Threads:  %d\n", lc.NumThreads)) || !strings.Contains(text, "Warning:  the file ends early") {
				t.Errorf("info: exit %d, %s%s", code, text, stderr)
			}

			out, stderr, code = runCmd(t, "threads", core, kernel)
			if code != 0 {
				t.Fatalf("threads: exit %d: %s", code, stderr)
			}
			for _, th := range lc.Threads {
				if !strings.Contains(out, th.Name+"\n") {
					t.Errorf("threads lacks %q:\n%s", th.Name, out)
				}
			}

			out, stderr, code = runCmd(t, "bt", "-a", core, kernel)
			if code != 0 {
				t.Fatalf("bt -a: exit %d: %s", code, stderr)
			}
			if n := strings.Count(out, "\nThread ") + 1; n != lc.NumThreads {
				t.Errorf("bt -a: %d thread headers, want %d", n, lc.NumThreads)
			}
			for _, th := range lc.Threads {
				for _, pc := range th.BT[1:] {
					if !strings.Contains(out, fmt.Sprintf("%#016x in ", pc)) && pc > 0x1000 {
						t.Errorf("bt -a lacks %s's frame %#x", th.Name, pc)
					}
				}
			}
		})
	}
}
