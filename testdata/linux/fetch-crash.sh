#!/bin/sh
# fetch-crash.sh: get Debian trixie's `crash` (8.0.x) as a reference tool for
# the Linux fixture, without installing anything. Bookworm's crash 8.0.2 loses
# most tasks on Debian 6.1 kernels >= 6.1.112 (struct pid changed).
#
# It keeps a separate apt state pointing at the trixie suite of the mirror
# this machine already uses, downloads crash and its libraries (trixie's
# libc included), unpacks them with dpkg-deb -x and writes a wrapper that
# runs crash through that folder's own ld-linux-x86-64.so.2.
#
# Output: ${KDAP_LINUX_FIXTURE:-${XDG_CACHE_HOME:-$HOME/.cache}/kdap-linux}/trixie/
#   apt/  debs/  root/  crash   (the wrapper: crash VMLINUX VMCORE)
#
# Needs: apt-get, apt-cache, dpkg-deb, awk, and the trixie keys of
# debian-archive-keyring (bookworm's 2023.3+deb12u2 has them).
set -eu

say() { printf 'fetch-crash: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

for t in apt-get apt-cache dpkg-deb awk; do
	command -v "$t" >/dev/null 2>&1 || die "missing program: $t"
done
keys=
for k in trixie-stable trixie-automatic; do
	f=/usr/share/keyrings/debian-archive-$k.gpg
	[ -r "$f" ] || die "missing $f: apt-get install debian-archive-keyring (a version that knows trixie)"
	keys=${keys:+$keys,}$f
done

root=${KDAP_LINUX_FIXTURE:-${XDG_CACHE_HOME:-$HOME/.cache}/kdap-linux}/trixie
state=$root/apt
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/preferences.d" \
	"$root/debs" "$root/root"
: >"$state/status"

# The Debian mirror this machine uses for bookworm, reused for trixie.
uri=$(apt-cache policy | awk '$2 ~ /^https?:/ && $3 == "bookworm/main" { print $2; exit }')
[ -n "$uri" ] || die "apt-cache policy: no bookworm/main source to take the mirror from"
echo "deb [signed-by=$keys] $uri trixie main" >"$state/sources.list"

apt_trixie() {
	cmd=$1
	shift
	"$cmd" -o "Dir::State=$state" -o "Dir::State::Lists=$state/lists" \
		-o "Dir::State::status=$state/status" -o "Dir::Cache=$state/cache" \
		-o "Dir::Etc::SourceList=$state/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o Dir::Etc::Preferences=/dev/null -o "Dir::Etc::PreferencesParts=$state/preferences.d" \
		-o APT::Architecture=amd64 "$@"
}

if ! apt_trixie apt-cache show crash >/dev/null 2>&1; then
	say "apt-get update (trixie, separate state in $state)"
	apt_trixie apt-get update >&2 || die "apt-get update for trixie failed"
fi

# crash's Depends in trixie (binutils is not needed to run it), plus what
# those libraries need in turn.
pkgs="crash libc6 libgcc-s1 liblzo2-2 libncursesw6 libsnappy1v5 libstdc++6 libtinfo6 libzstd1 zlib1g liblzma5"
for p in $pkgs; do
	ls "$root/debs/${p}"_*.deb >/dev/null 2>&1 && continue
	say "apt-get download $p (trixie)"
	(cd "$root/debs" && apt_trixie apt-get download "$p" >&2) || die "apt-get download $p (trixie) failed"
done
for f in "$root"/debs/*.deb; do
	dpkg-deb -x "$f" "$root/root"
done

cat >"$root/crash" <<EOF
#!/bin/sh
# Runs trixie's crash with trixie's own loader and libraries.
r="$root/root"
exec "\$r/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" \\
	--library-path "\$r/usr/lib/x86_64-linux-gnu:\$r/lib/x86_64-linux-gnu" \\
	"\$r/usr/bin/crash" "\$@"
EOF
chmod 755 "$root/crash"
"$root/crash" --version | head -n 1 >&2
say "run it as: $root/crash -s VMLINUX VMCORE"
