#!/bin/sh
# Rebuilds the sigstack fixtures: two builds of prog.c, each run once under
# gdb, which stops at snapshot_pc and records its own backtrace
# (<variant>.snap.gdb.json, see truth.py) while the program writes its
# snapshot (<variant>.snap) in the same run.
#   fp:   -O2 -fno-omit-frame-pointer, CFI in .eh_frame
#   nofp: -O2 -fomit-frame-pointer, CFI in .debug_frame only (as kernels)
# The programs run from a fixed scratch directory with an empty environment
# because dead stack slots keep copies of the program's path.
# Needs gcc and gdb (with Python) on x86-64 Linux.
set -eu
cd "$(dirname "$0")"
src=$PWD
run=/tmp/kdap-sigstack
common="-O2 -g -no-pie -fdebug-prefix-map=$src=."
gcc $common -fno-omit-frame-pointer -o fp prog.c
gcc $common -fomit-frame-pointer -fno-asynchronous-unwind-tables -o nofp prog.c
rm -rf $run
mkdir -p $run
cp fp nofp truth.py $run/
for v in fp nofp; do
	(cd $run && env -i PATH=/usr/bin:/bin gdb -q -batch -nx \
		-ex "set args $v.snap" -x truth.py ./$v >/dev/null 2>&1)
	test -s $run/$v.snap || { echo "$v.snap missing" >&2; exit 1; }
	test -s $run/$v.snap.gdb.json || { echo "$v.snap.gdb.json missing" >&2; exit 1; }
	cp $run/$v.snap $run/$v.snap.gdb.json .
done
rm -rf $run
sha256sum fp nofp fp.snap nofp.snap
