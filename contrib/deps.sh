#!/bin/sh
# deps.sh: the Debian packages Postern's build, tests and demo need, in one place.
#   deps.sh install   install every missing package (as root), or print the apt-get line
#   deps.sh ensure    the same, but only when something is missing
#   deps.sh list      print the package names
# As root, install and ensure also create the unprivileged system user
# "postern" that posternd's pre-login workers run as.
# On a system without dpkg (the BSDs) it only says what to install and succeeds.
set -u

PACKAGES="gcc make autoconf automake pkg-config libbsd-dev libconfuse-dev
libcmocka-dev libssl-dev libtls-dev libcrypt-dev libpam0g-dev mandoc cppcheck python3 curl openssl
python3-cryptography iproute2
fetchmail getmail6 mpop libmail-pop3client-perl haproxy
clang-14 libclang-rt-14-dev clang-tidy-14 valgrind"

missing() {
	for p in $PACKAGES; do
		s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
		case "$s" in *" installed") ;; *) printf '%s ' "$p" ;; esac
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
