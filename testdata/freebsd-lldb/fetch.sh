#!/bin/sh
# fetch.sh: get LLDB's four real FreeBSD kernel crash dumps and its
# expectations for them, from Debian's llvm-toolchain-16 source package
# (bookworm), into the user cache. Nothing is installed and the system's apt
# sources are left alone: a private apt state with one deb-src line is used.
#
# Output: ${KDAP_FREEBSD_LLDB:-${XDG_CACHE_HOME:-$HOME/.cache}/kdap-freebsd-lldb}/
#   src/                         llvm-toolchain-16 source package files (.dsc, orig tarball)
#   FreeBSDKernel/               the test folder, as LLVM ships it
#   vmcore-{amd64-full,amd64-minidump,arm64-minidump,i386-minidump}
#                                the dumps, decompressed
#   kernel-{amd64,arm64,i386}    the symbol-only kernels, built with yaml2obj
#   TestFreeBSDKernelVMCore.py   LLDB's expectations
#
# The files are LLVM's (Apache-2.0 with LLVM exception) and stay out of the
# repository. Needs: apt-get, apt-cache, tar, xz, bzip2, and yaml2obj (Debian's
# llvm-14 package puts it in /usr/bin).
set -eu
me=freebsd-lldb/fetch
say() { printf '%s: %s\n' "$me" "$*" >&2; }
die() { say "error: $*"; exit 1; }

out=${KDAP_FREEBSD_LLDB:-${XDG_CACHE_HOME:-$HOME/.cache}/kdap-freebsd-lldb}
dir=lldb/test/API/functionalities/postmortem/FreeBSDKernel
dumps="amd64-full amd64-minidump arm64-minidump i386-minidump"
kernels="amd64 arm64 i386"

done_already() {
	for d in $dumps; do [ -s "$out/vmcore-$d" ] || return 1; done
	for k in $kernels; do [ -s "$out/kernel-$k" ] || return 1; done
	[ -s "$out/TestFreeBSDKernelVMCore.py" ]
}
if done_already; then
	say "already in $out"
	exit 0
fi

for t in apt-get apt-cache tar xz bzip2; do
	command -v "$t" >/dev/null 2>&1 || die "missing program: $t"
done
y2o=
for c in yaml2obj yaml2obj-16 yaml2obj-15 yaml2obj-14; do
	if command -v "$c" >/dev/null 2>&1; then y2o=$c; break; fi
done
[ -n "$y2o" ] || die "missing yaml2obj: apt-get install llvm-14"

mkdir -p "$out/src"
if ! ls "$out"/src/llvm-toolchain-16_*.orig.tar.xz >/dev/null 2>&1; then
	state=$out/apt
	mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/preferences.d"
	: >"$state/status"
	# The Debian mirror this machine uses for bookworm, as a deb-src line.
	uri=$(apt-cache policy | awk '$2 ~ /^https?:/ && $3 == "bookworm/main" { print $2; exit }')
	[ -n "$uri" ] || die "apt-cache policy: no bookworm/main source to take the mirror from"
	keys=/usr/share/keyrings/debian-archive-keyring.gpg
	[ -r "$keys" ] || die "missing $keys: apt-get install debian-archive-keyring"
	echo "deb-src [signed-by=$keys] $uri bookworm main" >"$state/sources.list"
	aptp() {
		cmd=$1
		shift
		"$cmd" -o "Dir::State=$state" -o "Dir::State::Lists=$state/lists" \
			-o "Dir::State::status=$state/status" -o "Dir::Cache=$state/cache" \
			-o "Dir::Etc::SourceList=$state/sources.list" -o Dir::Etc::SourceParts=/dev/null \
			-o Dir::Etc::Preferences=/dev/null -o "Dir::Etc::PreferencesParts=$state/preferences.d" "$@"
	}
	say "apt-get update (deb-src bookworm, separate state in $state)"
	aptp apt-get update >&2 || die "apt-get update failed"
	say "apt-get source --download-only llvm-toolchain-16"
	(cd "$out/src" && aptp apt-get source --download-only llvm-toolchain-16 >&2) ||
		die "apt-get source --download-only llvm-toolchain-16 failed"
fi
orig=$(ls "$out"/src/llvm-toolchain-16_*.orig.tar.xz | head -n 1)

say "extracting $dir from $(basename "$orig")"
tmp=$out/tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
tar -xJf "$orig" -C "$tmp" --wildcards "*/$dir/*" || die "tar: $dir not found in $orig"
src=$(find "$tmp" -type d -path "*/$dir" | head -n 1)
[ -n "$src" ] || die "$dir not found in $orig"
rm -rf "$out/FreeBSDKernel"
cp -R "$src" "$out/FreeBSDKernel"

for d in $dumps; do
	f=$out/FreeBSDKernel/vmcore-$d.bz2
	[ -s "$f" ] || die "missing $f"
	bzip2 -dc "$f" >"$out/vmcore-$d.tmp" || die "bzip2 -dc $f failed"
	mv "$out/vmcore-$d.tmp" "$out/vmcore-$d"
done
for k in $kernels; do
	f=$out/FreeBSDKernel/kernel-$k.yaml
	[ -s "$f" ] || die "missing $f"
	# The kernels' .bss is larger than yaml2obj's default 10 MB output limit.
	"$y2o" --max-size=0 "$f" -o "$out/kernel-$k.tmp" || die "$y2o $f failed"
	mv "$out/kernel-$k.tmp" "$out/kernel-$k"
done
cp "$out/FreeBSDKernel/TestFreeBSDKernelVMCore.py" "$out/TestFreeBSDKernelVMCore.py"
rm -rf "$tmp"
say "done: $out"
