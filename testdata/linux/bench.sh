#!/bin/sh
# bench.sh: time kdap, crash and drgn on the Linux fixture, side by side:
# wall time, CPU time (user + system) and peak resident memory (GNU time's
# %e, %U + %S and %M) to open the dump and print the crashed task's
# backtrace. CPU time varies less than wall time on a busy machine.
#
#   kdap:  kdap bt CORE VMLINUX
#   crash: crash -s VMLINUX CORE  with "bt" and "quit" on its input
#   drgn:  drgn -q -c CORE -s VMLINUX -e 'print(prog.crashed_thread().stack_trace())'
#
# Each command runs once to warm the page cache (not counted), then RUNS
# times (default 3); the table shows every run's time, the best and the
# median, and the CPU time and peak memory of the best run. crash runs on vmcore.elf
# and vmcore.kdump, kdap on both too, drgn on vmcore.elf only (its
# libkdumpfile reads neither of QEMU's kdump files).
#
# Usage: testdata/linux/bench.sh [FIXTURE_DIR]
#   FIXTURE_DIR  default: the first folder with a fixture.env under
#                ${KDAP_LINUX_FIXTURE:-${XDG_CACHE_HOME:-$HOME/.cache}/kdap-linux}
# Environment: RUNS, KDAP (a built kdap; default: go build ./cmd/kdap into
# a temporary folder), KDAP_CRASH, KDAP_DRGN (default: the wrappers of
# fetch-crash.sh and fetch-drgn.sh). A tool that is missing is skipped
# with a message.
set -eu

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

root=${KDAP_LINUX_FIXTURE:-${XDG_CACHE_HOME:-$HOME/.cache}/kdap-linux}
dir=${1:-}
if [ -z "$dir" ]; then
	for e in "$root"/*/fixture.env; do
		[ -f "$e" ] && { dir=$(dirname "$e"); break; }
	done
fi
[ -n "$dir" ] && [ -f "$dir/fixture.env" ] || die "no Linux fixture (fixture.env) in ${dir:-$root/*}: run testdata/linux/mkfixture.sh"
vmlinux=$dir/vmlinux
[ -r "$vmlinux" ] || die "no readable $vmlinux"
runs=${RUNS:-3}
case $runs in '' | *[!0-9]* | 0) die "RUNS must be a positive number, got '$runs'" ;; esac
[ -x /usr/bin/time ] || die "GNU time is missing: apt-get install time"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
kdap=${KDAP:-}
if [ -z "$kdap" ]; then
	src=$(cd "$(dirname "$0")/../.." && pwd)
	say "building kdap from $src"
	(cd "$src" && go build -o "$tmp/kdap" ./cmd/kdap) || die "go build ./cmd/kdap failed"
	kdap=$tmp/kdap
fi
crash=${KDAP_CRASH:-$root/trixie/crash}
drgn=${KDAP_DRGN:-$root/trixie/drgn}
printf 'bt\nquit\n' >"$tmp/crash.in"

# measure NAME DUMP CMD...: runs CMD (stdin from $stdin) 1 + RUNS times
# and prints one table row.
measure() {
	name=$1 dump=$2
	shift 2
	"$@" <"$stdin" >"$tmp/out" 2>"$tmp/err" || {
		say "$name on $dump failed: $(tail -n 3 "$tmp/err")"
		return 0
	}
	: >"$tmp/times"
	i=0
	while [ "$i" -lt "$runs" ]; do
		/usr/bin/time -o "$tmp/t" -f '%e %M %U %S' "$@" <"$stdin" >"$tmp/out" 2>/dev/null ||
			{ say "$name on $dump failed on run $((i + 1))"; return 0; }
		cat "$tmp/t" >>"$tmp/times"
		i=$((i + 1))
	done
	sort -n "$tmp/times" | awk -v name="$name" -v dump="$dump" '
		{ t[NR] = $1; m[NR] = $2; c[NR] = $3 + $4; all = all (NR > 1 ? " " : "") $1 }
		END {
			med = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
			printf "%-6s %-13s %7.2f %9.2f %6.2f %9.0f   %s\n", name, dump, t[1], med, c[1], m[1] / 1024, all
		}'
}

say "fixture $dir, $runs runs each after one warm-up run"
printf '%-6s %-13s %7s %9s %6s %9s   %s\n' tool dump "best s" "median s" "cpu s" "peak MiB" "all runs (s)"
for d in vmcore.elf vmcore.kdump; do
	[ -r "$dir/$d" ] || { say "no $dir/$d"; continue; }
	stdin=/dev/null
	measure kdap "$d" "$kdap" bt "$dir/$d" "$vmlinux"
	if [ -x "$crash" ]; then
		stdin=$tmp/crash.in
		measure crash "$d" "$crash" -s "$vmlinux" "$dir/$d"
	else
		say "no crash at $crash (run testdata/linux/fetch-crash.sh)"
	fi
	if [ "$d" = vmcore.elf ]; then
		if [ -x "$drgn" ]; then
			stdin=/dev/null
			measure drgn "$d" "$drgn" -q -c "$dir/$d" -s "$vmlinux" -e 'print(prog.crashed_thread().stack_trace())'
		else
			say "no drgn at $drgn (run testdata/linux/fetch-drgn.sh)"
		fi
	fi
done
