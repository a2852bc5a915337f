#!/bin/sh
# demo.sh: sets up demo/ on first run (users demo/demo and demo2/demo2,
# their Maildirs with sample mail, a self-signed certificate), writes its configuration afresh on
# every run (so that an older demo/ gets new listeners too), and runs
# posternd in the foreground on 127.0.0.1.  Called by `make demo`; Ctrl-C
# stops it.
set -eu

BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
# DEMO: another directory for it (tests/integration/test_demo.py).
DEMO=${DEMO:-$TOP/demo}
POSTERND=$BUILD/posternd
POSTERN=$BUILD/postern

sample() {	# sample MAILDIR NAME SUBJECT BODY...
	md=$1 name=$2 subject=$3
	shift 3
	{
		printf 'Return-Path: <postmaster@example.org>\n'
		printf 'From: Postern Demo <postmaster@example.org>\n'
		printf 'To: you@example.org\n'
		printf 'Subject: %s\n' "$subject"
		printf 'Date: %s\n' "$(LC_ALL=C date -R)"
		printf 'Message-ID: <%s@demo.postern>\n' "$name"
		printf 'MIME-Version: 1.0\n'
		printf 'Content-Type: text/plain; charset=utf-8\n\n'
		for line in "$@"; do printf '%s\n' "$line"; done
	} > "$md/new/$name"
}

# Started as root, posternd separates privileges: sessions run as the
# account's uid, here nobody's, so the Maildirs must be nobody's and
# reachable by it.  A clone under /root is not: then the Maildirs live
# under /var/lib/postern-demo and demo/mail points there.
as_root() {
	[ "$(id -u)" = 0 ]
}

reachable() {	# whether nobody may reach directory $1
	su -s /bin/sh nobody -c "test -x '$1'" 2>/dev/null
}

mailroot() {	# where the demo Maildirs go; prints the directory
	if ! as_root || reachable "$DEMO"; then
		echo "$DEMO/mail"
		return
	fi
	root=/var/lib/postern-demo/$(printf '%s' "$TOP" | cksum | cut -d' ' -f1)
	mkdir -p "$root/mail"
	chmod 755 /var/lib/postern-demo "$root"
	ln -sfn "$root/mail" "$DEMO/mail"
	echo "$root/mail"
}

user() {	# user NAME ROOT: a passwd line and a Maildir with three messages
	name=$1
	md=$2/$name/Maildir
	mkdir -p "$md/new" "$md/cur" "$md/tmp"
	hash=$(printf '%s\n' "$name" | "$POSTERN" hash)
	ids=":"
	if as_root; then
		ids="$(id -u nobody):$(id -g nobody)"
	fi
	echo "$name:$hash:$ids::$2/$name::" >> "$DEMO/passwd"
	now=$(date +%s)
	sample "$md" "$now.M1P$$.demo" "Welcome to Postern, $name" \
	    "This message was made by make demo." \
	    "Retrieve it with any POP3 client; DELE it and QUIT to remove it."
	sample "$md" "$((now + 1)).M2P$$.demo" "Lines that start with dots" \
	    "The next line is a lone dot, sent as '..' on the wire:" "." \
	    "..and this one starts with two dots."
	sample "$md" "$((now + 2)).M3P$$.demo" "8-bit text" \
	    "Grüße aus Köln, 東京からこんにちは." "(UTF-8, sent as is.)"
}

setup() {
	mkdir -p "$DEMO"
	: > "$DEMO/passwd"
	chmod 600 "$DEMO/passwd"
	root=$(mailroot)
	user demo "$root"
	user demo2 "$root"
	if as_root; then
		chown -R nobody:"$(id -gn nobody)" "$root"
	fi
	echo "demo: created $DEMO (users demo/demo and demo2/demo2)"
}

mkcert() {	# a self-signed certificate for localhost, for STLS and POP3S
	mkdir -p "$DEMO/tls"
	(umask 077 && openssl req -x509 -newkey ec \
	    -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
	    -subj /CN=localhost \
	    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	    -keyout "$DEMO/tls/key.pem" -out "$DEMO/tls/cert.pem" 2>/dev/null)
	chmod 600 "$DEMO/tls/key.pem"
	chmod 644 "$DEMO/tls/cert.pem"
	echo "demo: made a self-signed certificate for localhost in $DEMO/tls"
}

config() {	# the configuration, written on every run
	# The global message-ID counter, beside the Maildirs.
	state=$(dirname "$(readlink -f "$DEMO/mail")")/state
	mkdir -p "$state"
	if as_root; then
		# root's: the sessions open the counter in it before they
		# give up root (postern-storage(7)).
		chown 0:0 "$state"
		# LMTP's local workers run as mail_user (nobody) and look
		# recipients up in it (postern.conf(5), passwd_file).
		chgrp "$(id -gn nobody)" "$DEMO/passwd"
		chmod 640 "$DEMO/passwd"
	fi
	cat > "$DEMO/postern.conf" <<CONF
# postern.conf for make demo: loopback only, unprivileged ports.
workers = 4
pidfile = "$DEMO/posternd.pid"
hostname = "localhost"
passwd_file = "$DEMO/passwd"
maildir = "%h/Maildir"
state_dir = "$state"
auth_fail_delay = 2
tls_cert = "$DEMO/tls/cert.pem"
tls_key = "$DEMO/tls/key.pem"

# POP3 (RFC 1939), with STLS (RFC 2595)
listen {
	protocol = "pop3"
	address = "127.0.0.1"
	port = 1110
}

# POP3 over TLS (RFC 8314)
listen {
	protocol = "pop3"
	address = "127.0.0.1"
	port = 1995
	tls = true
}

# The Post Office Protocol of RFC 918 (1984): a whole mailbox at a time
listen {
	protocol = "pop1"
	address = "127.0.0.1"
	port = 1109
}

# PAPM (Push And Pull For Mail): pull as POP3 does, push to local users
listen {
	protocol = "papm"
	address = "127.0.0.1"
	port = 49153
}

# MRP, the Mail Retrieval Protocol (postern-mrp(7))
listen {
	protocol = "mrp"
	address = "127.0.0.1"
	port = 5000
}

# MRP over TLS
listen {
	protocol = "mrp"
	address = "127.0.0.1"
	port = 5001
	tls = true
}

# LMTP (RFC 2033): delivery into the Maildirs, as an MTA would
listen {
	protocol = "lmtp"
	address = "127.0.0.1"
	port = 2424
}
CONF
}

[ -f "$DEMO/passwd" ] || setup
[ -f "$DEMO/tls/cert.pem" ] && [ -f "$DEMO/tls/key.pem" ] || mkcert
config
cat <<MSG
demo: posternd serving on 127.0.0.1 (Ctrl-C stops it):
  POP3   port 1110    curl pop3://demo:demo@127.0.0.1:1110/
                      curl pop3://demo:demo@127.0.0.1:1110/1
                      nc -C 127.0.0.1 1110    (USER demo, PASS demo, LIST, RETR 1, QUIT)
                      curl --ssl-reqd -k pop3://demo:demo@127.0.0.1:1110/   (STLS)
  POP3S  port 1995    curl -k pop3s://demo:demo@127.0.0.1:1995/
                      openssl s_client -quiet -connect 127.0.0.1:1995
  LMTP   port 2424    python3 -c 'import smtplib; smtplib.LMTP("127.0.0.1", 2424).sendmail("me@example.org", ["demo"], "Subject: hi\\n\\nhello\\n")'
                      (then curl pop3://demo:demo@127.0.0.1:1110/ lists one more)
  POP1   port 1109    nc -C 127.0.0.1 1109    (RFC 918: USER demo, PASS demo, RETR INBOX, RCEV, RCVD, QUIT)
  PAPM   port 49153   nc -C 127.0.0.1 49153   (USER demo, PASS demo, LIST, READ 1, HELO localhost,
                      MAIL FROM: demo@localhost, RCPT TO: demo2@localhost, DATA, text, ".", QUTI)
  MRP    port 5000    nc -C 127.0.0.1 5000    (LOGIN demo demo, SELECT, FETCH ALL, SEARCH BODY=[hello], QUIT)
  MRP/TLS port 5001   openssl s_client -quiet -crlf -connect 127.0.0.1:5001
  Maildirs: $DEMO/mail/demo/Maildir, $DEMO/mail/demo2/Maildir
  Start afresh: rm -rf demo && make demo
MSG
exec "$POSTERND" -f -c "$DEMO/postern.conf"
