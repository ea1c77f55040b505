package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/kdap/kdap/internal/testfixture"
)

// linuxFixture returns the first Linux fixture's dump (name) and vmlinux,
// or skips.
func linuxFixture(b *testing.B, name string) (string, string) {
	dir := testfixture.LinuxDirs(b)[0]
	core, kernel := filepath.Join(dir, name), filepath.Join(dir, "vmlinux")
	for _, p := range []string{core, kernel} {
		if _, err := os.Stat(p); err != nil {
			testfixture.MissingFile(b, err, "Linux dump fixture file "+p, testfixture.LinuxGet)
		}
	}
	return core, kernel
}

// resetPeakRSS clears the kernel's high-water mark of this process's
// resident set (Linux: writing 5 to clear_refs), after returning freed
// heap to the system so that earlier iterations do not count. It reports
// false where that is not possible.
func resetPeakRSS() bool {
	runtime.GC()
	debug.FreeOSMemory()
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSS returns the process's resident-set high-water mark in bytes
// (VmHWM), or 0 when unknown.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb * 1024
		}
	}
	return 0
}

// benchVerb runs a kdap verb per iteration and reports the largest peak
// resident set of one run (file pages mapped and touched included).
func benchVerb(b *testing.B, want string, args ...string) {
	b.ReportAllocs()
	var worst float64
	for b.Loop() {
		b.StopTimer()
		measured := resetPeakRSS()
		b.StartTimer()
		var out bytes.Buffer
		if code := run(args, &out, io.Discard); code != 0 {
			b.Fatalf("kdap %s: exit %d", strings.Join(args, " "), code)
		}
		b.StopTimer()
		if !strings.Contains(out.String(), want) {
			b.Fatalf("kdap %s: output lacks %q:\n%s", args[0], want, out.String())
		}
		if measured {
			worst = max(worst, peakRSS())
		}
		b.StartTimer()
	}
	if worst > 0 {
		b.ReportMetric(worst/(1<<20), "peak-RSS-MiB")
	}
}

// BenchmarkLinuxFirstBacktrace is `kdap bt` on the Linux fixture's ELF
// dump: open the dump and the 590 MB vmlinux, list tasks, unwind the
// crashed one.
func BenchmarkLinuxFirstBacktrace(b *testing.B) {
	core, kernel := linuxFixture(b, "vmcore.elf")
	benchVerb(b, "in panic ()", "bt", core, kernel)
}

// BenchmarkLinuxThreads is `kdap threads` on the Linux fixture's
// kdump-compressed dump.
func BenchmarkLinuxThreads(b *testing.B) {
	core, kernel := linuxFixture(b, "vmcore.kdump")
	benchVerb(b, "(crashed)", "threads", core, kernel)
}
