#!/bin/sh
# demo.sh: sets up demo/ on first run (configuration, users demo/demo and
# demo2/demo2, their Maildirs with sample mail) and runs posternd in the
# foreground on 127.0.0.1.  Called by `make demo`; Ctrl-C stops it.
set -eu

BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
DEMO=$TOP/demo
POSTERND=$TOP/$BUILD/posternd
POSTERN=$TOP/$BUILD/postern

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

as_nobody() {	# whether sessions can run as nobody here (root, and a path
		# nobody may traverse: not true under /root, for example)
	[ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 &&
	    su -s /bin/sh nobody -c "test -x '$DEMO'" 2>/dev/null
}

user() {	# user NAME: a passwd line and a Maildir with three messages
	name=$1
	md=$DEMO/mail/$name/Maildir
	mkdir -p "$md/new" "$md/cur" "$md/tmp"
	hash=$(printf '%s\n' "$name" | "$POSTERN" hash)
	ids=":"
	if as_nobody; then
		# As root, sessions run as nobody once logged in.
		ids="$(id -u nobody):$(id -g nobody)"
	fi
	echo "$name:$hash:$ids::$DEMO/mail/$name::" >> "$DEMO/passwd"
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
	user demo
	user demo2
	if as_nobody; then
		chown -R nobody:"$(id -gn nobody)" "$DEMO/mail"
	fi
	cat > "$DEMO/postern.conf" <<CONF
# postern.conf for make demo: loopback only, unprivileged ports.
workers = 4
pidfile = "$DEMO/posternd.pid"
hostname = "localhost"
passwd_file = "$DEMO/passwd"
maildir = "%h/Maildir"
auth_fail_delay = 2

# POP3 (RFC 1939)
listen {
	protocol = "pop3"
	address = "127.0.0.1"
	port = 1110
}
CONF
	echo "demo: created $DEMO (users demo/demo and demo2/demo2)"
}

[ -f "$DEMO/postern.conf" ] || setup
cat <<MSG
demo: posternd serving on 127.0.0.1 (Ctrl-C stops it):
  POP3   port 1110    curl pop3://demo:demo@127.0.0.1:1110/
                      curl pop3://demo:demo@127.0.0.1:1110/1
                      telnet 127.0.0.1 1110   (USER demo, PASS demo, LIST, RETR 1, QUIT)
  Maildirs: $DEMO/mail/demo/Maildir, $DEMO/mail/demo2/Maildir
  Start afresh: rm -rf demo && make demo
MSG
exec "$POSTERND" -f -c "$DEMO/postern.conf"
