# trixie.sh: sourced by fetch-crash.sh and fetch-drgn.sh. Gets packages of
# Debian trixie without installing anything: a separate apt state points at
# the trixie suite of the mirror this machine already uses, `apt-get
# download` fetches the .deb files and `dpkg-deb -x` unpacks them into one
# folder, whose own ld-linux-x86-64.so.2 then runs the programs (trixie's
# libc is newer than bookworm's, so the host's loader cannot).
#
# The caller sets `me` (its name, for messages) and then calls
# trixie_fetch PACKAGE... ; the folder is
#   ${KDAP_LINUX_FIXTURE:-${XDG_CACHE_HOME:-$HOME/.cache}/kdap-linux}/trixie/
#     apt/  debs/  root/
# and trixie_root names it.
#
# Needs: apt-get, apt-cache, dpkg-deb, awk, and the trixie keys of
# debian-archive-keyring (bookworm's 2023.3+deb12u2 has them).

say() { printf '%s: %s\n' "$me" "$*" >&2; }
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

trixie_root=${KDAP_LINUX_FIXTURE:-${XDG_CACHE_HOME:-$HOME/.cache}/kdap-linux}/trixie
state=$trixie_root/apt
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/preferences.d" \
	"$trixie_root/debs" "$trixie_root/root"
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

# trixie_fetch downloads the named packages (those not already in debs/)
# and unpacks every one of them into root/. The package lists are
# refreshed only when the first package is unknown to the saved state.
trixie_fetch() {
	if ! apt_trixie apt-cache show "$1" >/dev/null 2>&1; then
		say "apt-get update (trixie, separate state in $state)"
		apt_trixie apt-get update >&2 || die "apt-get update for trixie failed"
	fi
	for p in "$@"; do
		ls "$trixie_root/debs/${p}"_*.deb >/dev/null 2>&1 && continue
		say "apt-get download $p (trixie)"
		(cd "$trixie_root/debs" && apt_trixie apt-get download "$p" >&2) ||
			die "apt-get download $p (trixie) failed"
	done
	for p in "$@"; do
		for f in "$trixie_root/debs/${p}"_*.deb; do
			dpkg-deb -x "$f" "$trixie_root/root" || die "dpkg-deb -x $f failed"
		done
	done
}
