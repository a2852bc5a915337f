#!/bin/sh
# deps.sh: the Debian packages Postern's build, tests and demo need, in one place.
#   deps.sh install   install every missing package (as root), or print the apt-get line
#   deps.sh ensure    the same, but only when something is missing
#   deps.sh list      print the package names
# As root, install and ensure also create the unprivileged system user
# "postern" that posternd's pre-login workers run as.
# Packages of UNPACK are test oracles whose package would also start a
# service (fail2ban's bans addresses): they are fetched and unpacked under
# build/deps/ instead, and never installed or run as a daemon; the tests
# that use them say they skipped when that failed.
# On a system without dpkg (the BSDs) it only says what to install and succeeds.
set -u

PACKAGES="gcc make autoconf automake pkg-config libbsd-dev libconfuse-dev
libcmocka-dev libssl-dev libtls-dev libcrypt-dev libpam0g-dev mandoc cppcheck python3 curl openssl netcat-openbsd
python3-cryptography iproute2
fetchmail getmail6 mpop libmail-pop3client-perl haproxy
clang-14 libclang-rt-14-dev clang-tidy-14 valgrind"
UNPACK="fail2ban"
UNPACKED="$(cd "$(dirname "$0")/.." && pwd)/build/deps"

missing() {
	for p in $PACKAGES; do
		s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
		case "$s" in *" installed") ;; *) printf '%s ' "$p" ;; esac
	done
}

# unpack: fetches and unpacks each package of UNPACK not yet under
# UNPACKED; a failure is reported and does not stop the build.
unpack() {
	for p in $UNPACK; do
		[ -d "$UNPACKED/$p" ] && continue
		tmp=$(mktemp -d) || return 0
		if (cd "$tmp" && apt-get -qq -o APT::Sandbox::User=root \
		    download "$p" >/dev/null && mkdir -p "$UNPACKED" &&
		    dpkg-deb -x "$p"_*.deb "$UNPACKED/$p.new" &&
		    mv "$UNPACKED/$p.new" "$UNPACKED/$p"); then
			echo "deps.sh: unpacked $p in $UNPACKED/$p"
		else
			echo "deps.sh: could not fetch $p; the tests that use it will skip" >&2
			rm -rf "$UNPACKED/$p.new"
		fi
		rm -rf "$tmp"
	done
}

cmd=${1:-install}
if [ "$cmd" = list ]; then
	echo $PACKAGES
	exit 0
fi
if ! command -v dpkg-query >/dev/null 2>&1; then
	[ "$cmd" = install ] && echo "deps.sh: not a Debian system; install the equivalents of: $(echo $PACKAGES)"
	exit 0
fi
# The user pre-login workers run as (postern.conf(5): user).
if [ "$(id -u)" = 0 ] && ! id postern >/dev/null 2>&1; then
	echo "deps.sh: creating the system user postern"
	useradd --system --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin postern || exit 1
fi
need=$(missing)
if [ -z "$need" ]; then
	[ "$cmd" = install ] && echo "deps.sh: every package is installed"
	unpack
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages; as root run:" >&2
	echo "  apt-get update && apt-get install -y $need" >&2
	exit 1
fi
echo "deps.sh: installing $need"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || exit 1
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $need || exit 1
unpack
