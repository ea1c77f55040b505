#!/bin/sh
# fetch-crash.sh: get Debian trixie's `crash` (8.0.x) as a reference tool for
# the Linux fixture, without installing anything. Bookworm's crash 8.0.2 loses
# most tasks on Debian 6.1 kernels >= 6.1.112 (struct pid changed).
#
# trixie.sh downloads crash and its libraries (trixie's libc included) and
# unpacks them; this script writes a wrapper that runs crash through that
# folder's own ld-linux-x86-64.so.2.
#
# Output: ${KDAP_LINUX_FIXTURE:-${XDG_CACHE_HOME:-$HOME/.cache}/kdap-linux}/trixie/
#   apt/  debs/  root/  crash   (the wrapper: crash -s VMLINUX VMCORE)
#
# Needs: apt-get, apt-cache, dpkg-deb, awk, and the trixie keys of
# debian-archive-keyring (bookworm's 2023.3+deb12u2 has them).
set -eu
me=fetch-crash
. "$(dirname "$0")/trixie.sh"

# crash's Depends in trixie (binutils is not needed to run it), plus what
# those libraries need in turn.
trixie_fetch crash libc6 libgcc-s1 liblzo2-2 libncursesw6 libsnappy1v5 libstdc++6 \
	libtinfo6 libzstd1 zlib1g liblzma5

root=$trixie_root
cat >"$root/crash" <<WRAP
#!/bin/sh
# Runs trixie's crash with trixie's own loader and libraries.
r="$root/root"
exec "\$r/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" \\
	--library-path "\$r/usr/lib/x86_64-linux-gnu:\$r/lib/x86_64-linux-gnu" \\
	"\$r/usr/bin/crash" "\$@"
WRAP
chmod 755 "$root/crash"
"$root/crash" --version | awk 'NF { print; exit }' >&2
say "run it as: $root/crash -s VMLINUX VMCORE"
