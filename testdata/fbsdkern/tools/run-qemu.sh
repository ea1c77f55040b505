#!/bin/sh
# Boot a fixture kernel under QEMU (TCG), wait for it to finish writing its
# minidump to the debugcon port, take QEMU's physical memory dump through the
# monitor (a pair of FIFOs), then quit.
#
# usage: run-qemu.sh KERNEL "APPEND" OUTDIR [TIMEOUT_SECONDS]
# writes OUTDIR/dumpdev.raw, OUTDIR/serial.log, OUTDIR/guest.elf
set -eu

kernel=$1
append=$2
out=$3
timeout=${4:-120}
qemu=${QEMU:-qemu-system-x86_64}

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
