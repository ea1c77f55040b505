#!/bin/sh
# mkfixture.sh: make a real Linux kernel crash dump to test kdap against.
#
# Downloads Debian bookworm's current cloud-amd64 kernel (image and -dbg
# packages) and busybox-static, builds a small initramfs whose /init starts
# a few processes and crashes the kernel with sysrq-c, boots it under QEMU
# (TCG, 2 CPUs, KASLR on), and takes two dumps through the QEMU monitor:
# an ELF core (paging off) and a zlib kdump (QEMU writes makedumpfile's
# flattened layout; `makedumpfile -R` from Debian rearranges it into the
# normal kdump-compressed file).
#
# Output (nothing goes into the repository):
#   ${KDAP_LINUX_FIXTURE:-${XDG_CACHE_HOME:-$HOME/.cache}/kdap-linux}/
#     debs/                      downloaded .deb files (shared by versions)
#     <kernel version>/
#       vmlinux                  the debug vmlinux (DWARF) from the -dbg package
#       System.map               the real System.map from the -dbg package
#       vmlinuz                  the kernel QEMU booted
#       initrd.gz                the initramfs QEMU booted (init script: init.sh)
#       console.txt              the serial console, panic included
#       vmcoreinfo.txt           the VMCOREINFO note of the ELF dump
#       vmcore.elf               dump-guest-memory (ELF, paging off)
#       vmcore.kdump-flat        dump-guest-memory -z (flattened kdump, zlib)
#       vmcore.kdump             makedumpfile -R of the above (if it ran)
#       fixture.env              KERNEL_VERSION, file paths, sha256 sums
#
# Every step is skipped when its output already exists; delete a file to
# redo the step that makes it (delete console.txt to boot and dump again).
#
# Needs (Debian bookworm):
#   apt-get install qemu-system-x86 cpio gzip xz-utils zstd kmod
# plus apt-get and dpkg-deb (always there on Debian) and coreutils.
# busybox-static and makedumpfile are downloaded as .deb files, not installed.
#
# Environment:
#   KDAP_LINUX_FIXTURE   output root (see above)
#   KDAP_LINUX_ABI       kernel package to use, e.g. linux-image-6.1.0-56-cloud-amd64
#                        (default: what linux-image-cloud-amd64 depends on now)
#   KDAP_LINUX_TIMEOUT   seconds to wait for the panic (default 180)
#   QEMU                 QEMU binary (default qemu-system-x86_64)
set -eu

start=$(date +%s)
say() { printf 'mkfixture [%4ss]: %s\n' "$(($(date +%s) - start))" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# --- tools -------------------------------------------------------------------
qemu=${QEMU:-qemu-system-x86_64}
missing=
for t in apt-get apt-cache dpkg-deb tar "$qemu" cpio gzip xz zstd mkfifo \
	sha256sum find sort sed grep awk stat; do
	command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
if [ -n "$missing" ]; then
	say "missing programs:$missing"
	say "install them with: apt-get install qemu-system-x86 cpio gzip xz-utils zstd kmod"
	exit 1
fi

root=${KDAP_LINUX_FIXTURE:-${XDG_CACHE_HOME:-$HOME/.cache}/kdap-linux}
debs=$root/debs
mkdir -p "$debs"

# apt-cache/apt-get download need package lists; refresh them only when a
# look-up fails (apt-get update needs root).
apt_updated=no
apt_update() {
	[ "$apt_updated" = yes ] && return 1
	apt_updated=yes
	say "apt-get update"
	apt-get update >&2 || die "apt-get update failed (run as root, or set KDAP_LINUX_ABI)"
}

# --- which kernel ---------------------------------------------------------------
abi=${KDAP_LINUX_ABI:-}
if [ -z "$abi" ]; then
	dep() {
		apt-cache show --no-all-versions linux-image-cloud-amd64 2>/dev/null |
			sed -n 's/^Depends: *\(linux-image-[^ ,]*-cloud-amd64\).*/\1/p' | head -n 1
	}
	abi=$(dep)
	if [ -z "$abi" ]; then
		apt_update
		abi=$(dep)
	fi
	[ -n "$abi" ] || die "apt-cache: linux-image-cloud-amd64 has no linux-image-*-cloud-amd64 dependency"
fi
kver=${abi#linux-image-}
case $kver in
*-cloud-amd64) ;;
*) die "KDAP_LINUX_ABI=$abi: expected linux-image-<version>-cloud-amd64" ;;
esac
out=$root/$kver
work=$out/work
mkdir -p "$out" "$work"
say "kernel $kver, output in $out"

# --- downloads --------------------------------------------------------------------
# deb_path PACKAGE: the newest downloaded .deb of PACKAGE in $debs, if any.
deb_path() {
	find "$debs/" -maxdepth 1 -name "$1_*_amd64.deb" | sort -V | tail -n 1
}
fetch() {
	for p in "$@"; do
		[ -n "$(deb_path "$p")" ] && continue
		say "apt-get download $p"
		if ! (cd "$debs" && apt-get download "$p" >&2); then
			apt_update || die "apt-get download $p failed"
			(cd "$debs" && apt-get download "$p" >&2) || die "apt-get download $p failed"
		fi
		[ -n "$(deb_path "$p")" ] || die "apt-get download $p left no ${p}_*_amd64.deb in $debs"
	done
}
fetch "$abi-unsigned" "$abi-dbg" busybox-static makedumpfile liblzo2-2
img_deb=$(deb_path "$abi-unsigned")
dbg_deb=$(deb_path "$abi-dbg")
bb_deb=$(deb_path busybox-static)
pkg_version=$(dpkg-deb -f "$img_deb" Version)
bb_version=$(dpkg-deb -f "$bb_deb" Version)

# --- kernel files -------------------------------------------------------------------
if [ ! -s "$out/vmlinuz" ] || [ ! -d "$work/img" ]; then
	say "extracting vmlinuz and qemu_fw_cfg from $(basename "$img_deb")"
	rm -rf "$work/img"
	mkdir -p "$work/img"
	dpkg-deb --fsys-tarfile "$img_deb" | tar -x -C "$work/img" --wildcards \
		"./boot/vmlinuz-$kver" "./lib/modules/$kver/kernel/drivers/firmware/qemu_fw_cfg.ko*"
	cp "$work/img/boot/vmlinuz-$kver" "$out/vmlinuz.tmp"
	mv "$out/vmlinuz.tmp" "$out/vmlinuz"
fi
if [ ! -s "$out/vmlinux" ] || [ ! -s "$out/System.map" ]; then
	say "extracting the debug vmlinux from $(basename "$dbg_deb") (large; takes a while)"
	rm -rf "$work/dbg"
	mkdir -p "$work/dbg"
	dpkg-deb --fsys-tarfile "$dbg_deb" | tar -x -C "$work/dbg" --wildcards \
		"./usr/lib/debug/boot/vmlinux-*" "./usr/lib/debug/boot/System.map-*"
	mv "$work/dbg/usr/lib/debug/boot/vmlinux-$kver" "$out/vmlinux"
	mv "$work/dbg/usr/lib/debug/boot/System.map-$kver" "$out/System.map"
	rm -rf "$work/dbg"
fi

# --- initramfs -----------------------------------------------------------------------
if [ ! -s "$out/initrd.gz" ]; then
	say "building the initramfs"
	ir=$work/initramfs
	rm -rf "$ir"
	mkdir -p "$ir/bin" "$ir/dev" "$ir/proc" "$ir/sys" "$ir/lib/modules" "$ir/tmp"
	dpkg-deb --fsys-tarfile "$bb_deb" | tar -xO ./bin/busybox >"$ir/bin/busybox"
	chmod 755 "$ir/bin/busybox"
	for a in $("$ir/bin/busybox" --list); do
		[ "$a" = busybox ] || ln -s busybox "$ir/bin/$a"
	done
	ko=$(find "$work/img/lib/modules" -name 'qemu_fw_cfg.ko*' | head -n 1)
	[ -n "$ko" ] || die "$(basename "$img_deb"): no qemu_fw_cfg.ko* under /lib/modules/$kver"
	case $ko in
	*.ko.xz) xz -dc "$ko" ;;
	*.ko.zst) zstd -qdc "$ko" ;;
	*.ko.gz) gzip -dc "$ko" ;;
	*.ko) cat "$ko" ;;
	esac >"$ir/lib/modules/qemu_fw_cfg.ko"
	# The init script is kept beside the dumps: it is the ground truth of
	# which processes ran.
	cat >"$out/init.sh" <<'EOF'
#!/bin/sh
# PID 1 of the kdap Linux fixture: start a few processes, then crash.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
# qemu_fw_cfg hands the VMCOREINFO address to QEMU's vmcoreinfo device.
insmod /lib/modules/qemu_fw_cfg.ko
echo "KDAP-FIXTURE: fw_cfg $(ls /sys/firmware/qemu_fw_cfg/rev 2>/dev/null || echo missing)"
# PID 1 stays on CPU 0, so the crash happens there.
taskset -p 1 $$ >/dev/null
sleep 1000 &
echo "KDAP-FIXTURE: sleep pid $!"
taskset -c 1 sh -c 'while :; do :; done' &
echo "KDAP-FIXTURE: busy loop (sh, CPU 1) pid $!"
taskset -c 0 cat /dev/zero >/dev/null &
echo "KDAP-FIXTURE: cat /dev/zero (CPU 0) pid $!"
sleep 2
echo "KDAP-FIXTURE: ps"
ps -o pid,ppid,stat,comm,args
echo "KDAP-FIXTURE: init pid $$ comm $(cat /proc/$$/comm) crashing on CPU $(awk '{print $39}' /proc/$$/stat)"
echo c >/proc/sysrq-trigger
EOF
	cp "$out/init.sh" "$ir/init"
	chmod 755 "$ir/init"
	# Fixed times and owner make the archive the same on every run.
	find "$ir" -exec touch -h -d @0 {} +
	(cd "$ir" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -9n >"$out/initrd.gz.tmp"
	mv "$out/initrd.gz.tmp" "$out/initrd.gz"
fi

# --- boot, crash, dump ------------------------------------------------------------------
if [ ! -s "$out/console.txt" ] || [ ! -s "$out/vmcore.elf" ] || [ ! -s "$out/vmcore.kdump-flat" ]; then
	timeout=${KDAP_LINUX_TIMEOUT:-180}
	rm -f "$out/console.txt" "$work/console.raw" "$out/vmcore.elf" "$out/vmcore.kdump-flat" \
		"$out/vmcore.kdump" "$out/vmcoreinfo.txt" "$work/vmcore.elf.tmp" "$work/vmcore.kdump-flat.tmp" \
		"$work/mon.in" "$work/mon.out" "$work/monitor.log"
	mkfifo "$work/mon.in" "$work/mon.out"
	say "booting $kver under QEMU (TCG, 2 CPUs, 512 MiB)"
	t0=$(date +%s)
	"$qemu" -accel tcg -m 512 -smp 2 -nodefaults -display none -net none \
		-device vmcoreinfo \
		-kernel "$out/vmlinuz" -initrd "$out/initrd.gz" \
		-append "console=ttyS0 panic=0" \
		-serial "file:$work/console.raw" \
		-monitor "pipe:$work/mon" &
	qpid=$!
	cat "$work/mon.out" >"$work/monitor.log" &
	catpid=$!
	exec 3>"$work/mon.in"
	stop_qemu() {
		kill "$qpid" 2>/dev/null || true
		kill "$catpid" 2>/dev/null || true
	}
	deadline=$(($(date +%s) + timeout))
	until grep -q 'end Kernel panic' "$work/console.raw" 2>/dev/null; do
		kill -0 "$qpid" 2>/dev/null || die "QEMU exited before the kernel panicked (see $work/console.raw)"
		if [ "$(date +%s)" -ge "$deadline" ]; then
			stop_qemu
			die "no kernel panic within ${timeout}s (see $work/console.raw)"
		fi
		sleep 0.2
	done
	t1=$(date +%s)
	say "panicked after $((t1 - t0)) s; dumping"
	# HMP runs one command at a time: quit comes after both dumps are written.
	echo "dump-guest-memory $work/vmcore.elf.tmp" >&3
	echo "dump-guest-memory -z $work/vmcore.kdump-flat.tmp" >&3
	echo "quit" >&3
	exec 3>&-
	deadline=$(($(date +%s) + timeout))
	while kill -0 "$qpid" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			stop_qemu
			die "QEMU did not finish the dumps within ${timeout}s"
		fi
		sleep 0.2
	done
	wait "$qpid" || true
	wait "$catpid" 2>/dev/null || true
	rm -f "$work/mon.in" "$work/mon.out"
	t2=$(date +%s)
	say "dumps took $((t2 - t1)) s"
	[ -s "$work/vmcore.elf.tmp" ] || die "QEMU wrote no ELF dump (see $work/monitor.log)"
	[ -s "$work/vmcore.kdump-flat.tmp" ] || die "QEMU wrote no kdump dump (see $work/monitor.log)"
	mv "$work/vmcore.elf.tmp" "$out/vmcore.elf"
	mv "$work/vmcore.kdump-flat.tmp" "$out/vmcore.kdump-flat"
	tr -d '\r' <"$work/console.raw" >"$out/console.txt"
fi

# --- rearranged kdump -----------------------------------------------------------------
if [ ! -s "$out/vmcore.kdump" ]; then
	md=$work/makedumpfile
	rm -rf "$md"
	mkdir -p "$md"
	dpkg-deb -x "$(deb_path makedumpfile)" "$md"
	dpkg-deb -x "$(deb_path liblzo2-2)" "$md"
	libs=$md/lib/x86_64-linux-gnu:$md/usr/lib/x86_64-linux-gnu
	if LD_LIBRARY_PATH=$libs "$md/usr/bin/makedumpfile" -R "$out/vmcore.kdump.tmp" \
		<"$out/vmcore.kdump-flat" >&2; then
		mv "$out/vmcore.kdump.tmp" "$out/vmcore.kdump"
	else
		rm -f "$out/vmcore.kdump.tmp"
		say "warning: makedumpfile -R failed; only the flattened kdump is available"
	fi
fi

# --- VMCOREINFO ----------------------------------------------------------------------------
# The kernel's own VMCOREINFO note (KERNELOFFSET, phys_base, BUILD-ID, ...),
# taken from the ELF dump's notes near the start of the file. Its absence
# means qemu_fw_cfg did not load and the dumps lack what KASLR needs.
if [ ! -s "$out/vmcoreinfo.txt" ]; then
	head -c 1048576 "$out/vmcore.elf" | tr -c '[:print:]\n' '\n' |
		awk '/^OSRELEASE=/ { on = 1 }
			on && !/^[A-Z][A-Za-z0-9_-]*(\([^)]*\))?=/ { exit }
			on' >"$out/vmcoreinfo.txt.tmp"
	grep -q "^OSRELEASE=$kver\$" "$out/vmcoreinfo.txt.tmp" ||
		die "vmcore.elf: no VMCOREINFO note with OSRELEASE=$kver in the first MiB (was qemu_fw_cfg loaded? see console.txt)"
	mv "$out/vmcoreinfo.txt.tmp" "$out/vmcoreinfo.txt"
fi
# The debug vmlinux must be the kernel that ran: compare build-ids.
if command -v readelf >/dev/null 2>&1; then
	want=$(sed -n 's/^BUILD-ID=//p' "$out/vmcoreinfo.txt")
	have=$(readelf -n "$out/vmlinux" | sed -n 's/.*Build ID: *//p' | head -n 1)
	[ "$want" = "$have" ] || die "vmlinux build-id $have differs from VMCOREINFO BUILD-ID $want"
	say "vmlinux build-id $have matches VMCOREINFO"
fi

# --- fixture.env --------------------------------------------------------------------------
say "writing fixture.env (sha256 of every file)"
{
	echo "# kdap Linux fixture: $abi $pkg_version"
	echo "KERNEL_VERSION=$kver"
	echo "KERNEL_PACKAGE=$abi-unsigned"
	echo "KERNEL_PACKAGE_VERSION=$pkg_version"
	echo "BUSYBOX_VERSION=$bb_version"
	echo "QEMU_VERSION='$("$qemu" --version | head -n 1)'"
	echo "FIXTURE_DIR=$out"
	echo "KERNELOFFSET=$(sed -n 's/^KERNELOFFSET=//p' "$out/vmcoreinfo.txt")"
	for f in vmlinux System.map vmlinuz initrd.gz init.sh console.txt vmcoreinfo.txt \
		vmcore.elf vmcore.kdump-flat vmcore.kdump; do
		[ -e "$out/$f" ] || continue
		v=$(echo "$f" | tr 'a-z.-' 'A-Z__')
		echo "$v=$out/$f"
		echo "${v}_SIZE=$(stat -c %s "$out/$f")"
		echo "${v}_SHA256=$(sha256sum "$out/$f" | cut -d ' ' -f 1)"
	done
} >"$out/fixture.env.tmp"
mv "$out/fixture.env.tmp" "$out/fixture.env"

grep -E 'KDAP-FIXTURE|Kernel panic|CPU: [0-9]+ PID|Kernel Offset' "$out/console.txt" >&2 || true
say "done in $(($(date +%s) - start)) s: $out"
