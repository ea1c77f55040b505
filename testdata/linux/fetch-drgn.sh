#!/bin/sh
# fetch-drgn.sh: get Debian trixie's drgn (python3-drgn 0.0.31) as a
# reference tool for the Linux fixture, without installing anything.
# Bookworm's python3-drgn 0.0.22 cannot read QEMU's paging-off ELF dumps.
#
# trixie.sh downloads python3-drgn, trixie's Python 3.13 interpreter and
# standard library and the libraries drgn's extension needs (libdw, libelf,
# libkdumpfile, ...), and unpacks them beside crash's; this script writes a
# wrapper that runs drgn's command line with that folder's own loader and
# Python, ignoring the host's Python and user site-packages.
#
# Output: ${KDAP_LINUX_FIXTURE:-${XDG_CACHE_HOME:-$HOME/.cache}/kdap-linux}/trixie/
#   apt/  debs/  root/  drgn   (the wrapper: drgn -c vmcore.elf -s vmlinux -e 'CODE')
#
# drgn opens the ELF dump only: libkdumpfile 0.5.x reads neither QEMU's
# kdump file nor its flattened form.
#
# Needs: apt-get, apt-cache, dpkg-deb, awk, and the trixie keys of
# debian-archive-keyring (bookworm's 2023.3+deb12u2 has them).
set -eu
me=fetch-drgn
. "$(dirname "$0")/trixie.sh"

# python3-drgn's Depends in trixie and, recursively, what the interpreter,
# its standard library's extension modules and libdw/libkdumpfile load.
# Left out: debconf, tzdata, media-types and the like, which only
# packaging scripts use.
trixie_fetch python3-drgn python3.13-minimal libpython3.13-minimal libpython3.13-stdlib \
	libc6 libgcc-s1 libstdc++6 libgomp1 libdw1t64 libelf1t64 libkdumpfile10 \
	libbz2-1.0 liblzma5 libzstd1 zlib1g liblzo2-2 libsnappy1v5 libexpat1 libffi8 \
	libssl3t64 libsqlite3-0 libuuid1 libreadline8t64 libncursesw6 libtinfo6

root=$trixie_root
py=$(cd "$root/root/usr/bin" && ls python3.1[0-9] 2>/dev/null | head -n 1)
[ -n "$py" ] || die "no python3.1x interpreter in $root/root/usr/bin"
ver=${py#python}
cat >"$root/drgn" <<WRAP
#!/bin/sh
# Runs trixie's drgn with trixie's own loader, libraries and Python $ver.
# PYTHONHOME makes Python find its standard library in the folder (run
# through the loader, it cannot locate it from its own path); PYTHONPATH
# adds Debian's dist-packages, where python3-drgn lives.
r="$root/root"
PYTHONHOME="\$r/usr" PYTHONPATH="\$r/usr/lib/python3/dist-packages" PYTHONNOUSERSITE=1 \\
	PYTHONDONTWRITEBYTECODE=1 \\
	exec "\$r/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" \\
	--library-path "\$r/usr/lib/x86_64-linux-gnu:\$r/lib/x86_64-linux-gnu" \\
	"\$r/usr/bin/$py" -m drgn "\$@"
WRAP
chmod 755 "$root/drgn"
"$root/drgn" --version >&2 || die "the drgn wrapper does not run"
say "run it as: $root/drgn -c vmcore.elf -s vmlinux -e 'CODE'"
