#!/bin/sh
# Boot a fixture kernel under QEMU (TCG), wait for it to finish writing its
# minidump to the debugcon port, take QEMU's physical memory dump through the
# monitor (a pair of FIFOs), then quit.
#
# usage: run-qemu.sh KERNEL "APPEND" OUTDIR [TIMEOUT_SECONDS]
# writes OUTDIR/dumpdev.raw, OUTDIR/serial.log, OUTDIR/guest.elf
#
# The dump device image must be as long as the kernel dump header at its
# start says (dumplength + both 512-byte headers).  QEMU 7.2 was once seen
# to drop 54922 bytes from the middle of the debugcon file of one run on a
# heavily loaded machine (the guest's own count was right); such a run is
# made again, up to three times in all.  The guest is deterministic
# (-icount), so a complete run gives the same bytes every time.
set -eu

kernel=$1
append=$2
out=$3
timeout=${4:-120}
qemu=${QEMU:-qemu-system-x86_64}

run_once() {
	mkdir -p "$out"
	rm -f "$out/dumpdev.raw" "$out/serial.log" "$out/guest.elf" \
	    "$out/mon.in" "$out/mon.out" "$out/monitor.log"
	mkfifo "$out/mon.in" "$out/mon.out"

	"$qemu" -accel tcg -cpu qemu64,+pdpe1gb -m 32M -smp 1 -nographic \
	    -icount shift=0,sleep=off -rtc base=2023-11-14T22:13:20,clock=vm \
	    -no-reboot -nodefaults -net none \
	    -kernel "$kernel" -append "$append" \
	    -debugcon "file:$out/dumpdev.raw" \
	    -serial "file:$out/serial.log" \
	    -monitor "pipe:$out/mon" &
	qpid=$!

	cat "$out/mon.out" > "$out/monitor.log" &
	catpid=$!
	exec 3> "$out/mon.in"

	n=0
	until grep -q 'KDAP-DUMP-DONE' "$out/serial.log" 2>/dev/null; do
		if ! kill -0 "$qpid" 2>/dev/null; then
			echo "run-qemu: QEMU exited before the dump was written" >&2
			exit 1
		fi
		n=$((n + 1))
		if [ "$n" -gt $((timeout * 5)) ]; then
			echo "run-qemu: timeout waiting for KDAP-DUMP-DONE" >&2
			kill "$qpid" 2>/dev/null || true
			exit 1
		fi
		sleep 0.2
	done

	echo "dump-guest-memory $out/guest.elf" >&3
	echo "quit" >&3
	exec 3>&-

	n=0
	while kill -0 "$qpid" 2>/dev/null; do
		n=$((n + 1))
		if [ "$n" -gt $((timeout * 5)) ]; then
			echo "run-qemu: QEMU did not quit" >&2
			kill "$qpid" 2>/dev/null || true
			exit 1
		fi
		sleep 0.2
	done
	wait "$qpid" || true
	kill "$catpid" 2>/dev/null || true
	wait "$catpid" 2>/dev/null || true
	rm -f "$out/mon.in" "$out/mon.out"
	test -s "$out/guest.elf" || { echo "run-qemu: no guest memory dump" >&2; exit 1; }
}

# dump_complete: dumpdev.raw holds the whole dump its leader announces.
dump_complete() {
	set -- $(od -An -tu1 -j40 -N8 "$out/dumpdev.raw")
	n=0
	for b; do
		n=$((n * 256 + b))
	done
	[ "$n" -gt 0 ] && [ "$(stat -c %s "$out/dumpdev.raw")" -eq $((n + 1024)) ]
}

try=1
while :; do
	run_once
	if dump_complete; then
		break
	fi
	echo "run-qemu: $out/dumpdev.raw is $(stat -c %s "$out/dumpdev.raw") bytes, not what its header says (attempt $try)" >&2
	if [ "$try" -ge 3 ]; then
		exit 1
	fi
	try=$((try + 1))
done
