#!/usr/bin/env python3
"""test_papm.py: PAPM (Push And Pull For Mail) against the real posternd.

Replays every example of the PAPM document (QUIT, STAT, LIST, READ, DELE,
NOOP, RSET, USER, PASS, HELO, MAIL, RCPT, DATA, RSTE, QUTI) with the
replies postern-papm(7) settles, then checks each command's error
replies, that deletion happens only at QUIT or QUTI (never on a dropped
connection), that push is refused before login and for forged senders,
that a message pushed to two local users lands in both Maildirs byte for
byte, that an oversized message or an over-long line delivers nothing,
and the relay command (its argv, its input, as root a set-group-ID one
keeping its group, a failing one delivering nothing anywhere).  Run as root, posternd separates privileges: sessions
and deliveries run as nobody, the mail_user all accounts share.
"""
import grp
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import Client, Server, Tap, crlf, files, put  # noqa: E402

t = Tap()

USERS = {"zzkaing": "universe", "bob": "builder", "carol": "carpet"}
LIMIT = 4096


def sized(n, subject="s"):
    """A message whose network size (CRLF counted) is exactly n."""
    text = f"Subject: {subject}\n\n"
    left = n - len(crlf(text))
    assert left == 0 or left >= 3
    while left > 0:
        k = min(left, 72) if left - min(left, 72) not in (1, 2) else 60
        text += "x" * (k - 2) + "\n"
        left -= k
    assert len(crlf(text)) == n
    return text


def start():
    srv = Server(users=USERS, settings={
        "papm_helo_domains": "bar.com, hotmail.com",
        "papm_max_message_size": LIMIT,
        "papm_relay_command": "",
        "max_auth_failures": 10})
    srv.relay_dir = os.path.join(srv.dir, "home")
    script = os.path.join(srv.dir, "relay.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\n"
                f'printf "%s\\n" "$@" > {srv.relay_dir}/relay.args\n'
                f"id -g > {srv.relay_dir}/relay.gid\n"
                f"cat > {srv.relay_dir}/relay.msg\n"
                f"[ -f {srv.relay_dir}/relay.fail ] && exit 75\n"
                "exit 0\n")
    os.chmod(script, 0o755)
    srv.settings["papm_relay_command"] = script
    srv.relay_gid = None
    if os.geteuid() == 0:
        # As Postfix's sendmail is: a set-group-ID program (env(1) here,
        # which runs the script with its group, sh -p keeping it), whose
        # group the session's system call filter must leave it
        # (posternd(8)).
        env = os.path.join(srv.dir, "sgid-env")
        shutil.copy("/usr/bin/env", env)
        srv.relay_gid = grp.getgrnam("mail").gr_gid
        os.chown(env, 0, srv.relay_gid)
        os.chmod(env, 0o2755)
        srv.settings["papm_relay_command"] = f"{env} /bin/sh -p {script}"
    srv.write_conf('listen { protocol = "papm" address = "127.0.0.1" '
                   'port = 0 }\n')
    return srv


def papm_port(srv):
    line = srv.wait_log(r"listening on 127\.0\.0\.1:\d+ \(papm\)")
    return int(re.search(r":(\d+) \(papm\)", line).group(1))


def connect(srv):
    return Client(srv.papm)


def login(c, user="zzkaing"):
    return c.cmd(f"USER {user}"), c.cmd(f"PASS {USERS[user]}")


def lines_until_dot(c):
    out = []
    while True:
        line = c.line()
        out.append(line)
        if line in (".", ""):
            return out


def message_files(md):
    """{name: bytes} of the messages in new/ and cur/."""
    out = {}
    for f in files(md):
        with open(os.path.join(md, f), "rb") as fp:
            out[f] = fp.read()
    return out


srv = start()
try:
    zz, bob, carol = (srv.maildir(u) for u in USERS)
    put(zz, "1700000001.a.test", sized(28, "a"))
    put(zz, "1700000002.b.test", sized(86, "b"))
    put(zz, "1700000003.c.test", sized(128, "c"))
    for i in range(4):
        put(bob, f"170000001{i}.b.test", sized(128, f"bob{i}"))
    body512 = "Subject: dots\n\n.\n..\nFrom the start\n.x\n"
    body512 += sized(512 - len(crlf(body512)) + 14).split("\n\n", 1)[1]
    put(carol, "1700000020.c.test", body512)
    srv.start()
    srv.papm = papm_port(srv)

    # Section 3: the pull examples.
    c = connect(srv)
    t.eq(c.greeting, "+OK Postern PAPM server ready", "greeting")
    t.eq(c.cmd("USER zzkaing"), "+OK mail drop name valid",
         "USER zzkaing: +OK mail drop name valid")
    for name in ("god", "zzkaist", "zzkaisn", "zzkkkkk", "dog"):
        t.eq(c.cmd(f"USER {name}"), "+OK mail drop name valid",
             f"USER {name}: +OK (names are not disclosed; PASS refuses)")
    t.eq(c.cmd("PASS god"), "-ERR invalid username/password combination",
         "PASS god: -ERR invalid username/password combination")
    t.eq(c.cmd("USER a/b"), "-ERR mail drop name invalid",
         "USER of a name no account can have: -ERR mail drop name "
         "invalid")
    t.eq(c.cmd("USER"), "-ERR mail drop name invalid", "USER, no name")
    t.eq(c.cmd("PASS x"), "-ERR send USER first", "PASS without USER")
    t.eq(c.cmd("STAT"), "-ERR STAT is not valid before login",
         "STAT before login")
    t.eq(login(c), ("+OK mail drop name valid", "+OK mail drop ready"),
         "USER and PASS: +OK mail drop ready")
    t.eq(c.cmd("USER bob"), "-ERR USER is not valid after login",
         "USER after login")
    t.eq(c.cmd("STAT"), "+OK 3 242", "STAT: +OK num1 num2")
    t.eq(c.cmd("STAT x"), "-ERR STAT takes no argument", "STAT argument")
    t.eq(lines_until_dot(c.send("LIST\r\n") or c),
         ["+OK 1 28", "+OK 2 86", "+OK 3 128", "."],
         "LIST: an L-listing per message, then a \".\" line")
    t.eq(c.cmd("LIST 2"), "+OK 2 86", "LIST 2: +OK 2 86")
    t.eq(c.cmd("LIST 1"), "+OK 1 28", "LIST 1: +OK 1 28")
    t.eq(c.cmd("DELE 3"), "+OK message deleted", "DELE 3: +OK")
    t.eq(c.cmd("LIST 3"), "-ERR no such message",
         "LIST 3 of a deleted message: -ERR no such message")
    t.eq(c.cmd("READ 3"), "-ERR no such message", "READ of a deleted one")
    t.eq(c.cmd("DELE 3"), "-ERR no such message", "DELE of a deleted one")
    t.eq(c.cmd("LIST 9"), "-ERR no such message", "LIST out of range")
    t.eq(c.cmd("LIST x"), "-ERR no such message", "LIST of a non-number")
    t.eq(c.cmd("READ"), "-ERR message number required", "READ no number")
    t.eq(c.cmd("RSET"), "+OK", "RSET: +OK")
    t.eq(c.cmd("LIST 3"), "+OK 3 128", "RSET unmarked message 3")
    t.eq(c.cmd("NOOP"), "+OK", "NOOP: +OK")
    t.eq(c.cmd("DELE 1"), "+OK message deleted", "DELE 1: +OK message "
         "deleted")
    c.close()
    time.sleep(0.3)
    t.eq(len(files(zz)), 3, "a dropped connection deletes nothing")

    c = connect(srv)
    login(c)
    t.eq(c.cmd("DELE 1"), "+OK message deleted", "DELE 1 again")
    t.eq(len(files(zz)), 3, "DELE only marks")
    t.eq(c.cmd("QUIT"), "+OK server signing off", "QUIT: +OK server "
         "signing off")
    t.ok(c.closed(), "QUIT closes the connection")
    c.close()
    t.eq(sorted(f.split("/")[1].split(":")[0] for f in files(zz)),
         ["1700000002.b.test", "1700000003.c.test"],
         "QUIT deleted the message DELE marked")

    c = connect(srv)
    t.eq(login(c, "bob")[1], "+OK mail drop ready", "bob logs in")
    t.eq(c.cmd("STAT"), "+OK 4 512", "STAT: +OK 4 512")
    c.cmd("QUIT")
    c.close()

    c = connect(srv)
    login(c, "carol")
    t.eq(c.cmd("READ 1"), "+OK 1 512", "READ 1: +OK 1 512")
    raw = c.raw_until_dot()
    stuffed = re.sub(rb"(?m)^\.", b"..", crlf(body512)) + b".\r\n"
    t.eq(raw, stuffed, "READ sends the message dot-stuffed, then \".\"")
    t.eq(c.cmd("DELE 1"), "+OK message deleted", "carol: DELE 1")
    t.eq(lines_until_dot(c.send("LIST\r\n") or c), ["+OK", "."],
         "LIST of an empty mail drop: +OK, then \".\"")
    t.eq(c.cmd("QUTI"), "+OK", "QUTI: +OK")
    t.ok(c.closed(), "QUTI closes the connection")
    c.close()
    t.eq(files(carol), [], "QUTI deleted the message, as QUIT does")

    # Section 4: push, refused before login.
    c = connect(srv)
    t.eq(c.cmd("HELO bar.com"), "-ERR HELO is not valid before login",
         "HELO before login: -ERR")
    t.eq(c.cmd("MAIL FROM: zzkaing@hotmail.com"),
         "-ERR user account not registered", "MAIL before login: -ERR "
         "user account not registered")
    t.eq(c.cmd("RCPT TO: bob@hotmail.com"), "-ERR send MAIL FROM: first",
         "RCPT before login: -ERR")
    t.eq(c.cmd("DATA"), "-ERR send MAIL FROM: first", "DATA before login")
    t.eq(c.cmd("RSTE"), "+OK", "RSTE before login: +OK")
    t.eq(c.cmd("NOPO"), "+OK", "NOPO: +OK")
    t.eq(c.cmd("QUTI"), "+OK", "QUTI before login: +OK")
    c.close()

    # The push examples, after a login.
    before = message_files(bob)
    c = connect(srv)
    login(c)
    t.eq(c.cmd("MAIL FROM: zzkaing@hotmail.com"), "-ERR send HELO first",
         "MAIL before HELO: -ERR")
    t.eq(c.cmd("HELO bar.com"), "+OK", "HELO bar.com: +OK")
    t.eq(c.cmd("HELO bal.com"), "-ERR", "HELO bal.com: -ERR")
    t.eq(c.cmd("HELO"), "-ERR HELO needs a domain name", "HELO no name")
    t.eq(c.cmd("HELO bar_com"), "-ERR HELO needs a domain name",
         "HELO of no domain name")
    t.eq(c.cmd("HELO HOTMAIL.COM"), "+OK", "HELO: domains in any case")
    t.eq(c.cmd("MAIL FROM: zzkaing@hotmail.com"), "+OK",
         "MAIL FROM: zzkaing@hotmail.com: +OK")
    t.eq(c.cmd("MAIL FROM: saiduf@hotmail.com"),
         "-ERR user account not registered",
         "MAIL FROM: saiduf@hotmail.com: -ERR user account not registered")
    t.eq(c.cmd("MAIL FROM: zzkaing@hotmail.com"),
         "-ERR sender already given: send RSTE to start again",
         "a second MAIL: -ERR")
    t.eq(c.cmd("RCPT TO: bob@hotmail.com"), "+OK",
         "RCPT TO: bob@hotmail.com: +OK")
    t.eq(c.cmd("RCPT TO: saidux@hotmail.com"), "-ERR user account invalid",
         "RCPT TO: saidux@hotmail.com: -ERR user account invalid")
    t.eq(c.cmd("DATA"), "+OK", "DATA: +OK")
    example = ("Date: Thu, 21 May 1998 05:33:29 -0700\r\n"
               "From: Zikai Zhang <zzkaing@hotmail.com>\r\n"
               "Subject: What about the universe?\r\n"
               "To: bob@hotmail.com\r\n"
               "\r\n"
               "Bob:\r\n"
               "The universe in within our mind.\r\n"
               "Zikai Zhang\r\n")
    c.send(example)
    t.eq(c.cmd("."), "+OK", "the message, then \".\": +OK")
    new = {k: v for k, v in message_files(bob).items() if k not in before}
    t.eq(list(new.values()), [example.replace("\r\n", "\n").encode()],
         "bob's Maildir holds the message as sent (LF line ends)")
    t.ok(all(k.startswith("new/") for k in new), "delivered into new/")
    t.eq(c.cmd("RSTE"), "+OK", "RSTE: +OK")
    t.eq(c.cmd("NOPO"), "+OK", "NOPO: +OK")

    # Error replies and the order rules of push.
    t.eq(c.cmd("RCPT TO: bob@hotmail.com"), "-ERR send MAIL FROM: first",
         "RCPT before MAIL: -ERR")
    t.eq(c.cmd("DATA"), "-ERR send MAIL FROM: first", "DATA before MAIL")
    t.eq(c.cmd("MAIL zzkaing@hotmail.com"), "-ERR syntax: MAIL FROM: "
         "address", "MAIL without FROM:")
    t.eq(c.cmd("MAIL FROM: bob@hotmail.com"),
         "-ERR user account not registered", "a forged sender (another "
         "user): -ERR")
    t.eq(c.cmd("MAIL FROM: zzkaing@gmail.com"),
         "-ERR user account not registered", "a forged sender (another "
         "domain): -ERR")
    t.eq(c.cmd("MAIL FROM:<zzkaing>"), "+OK", "the bare user name, in "
         "angle brackets: +OK")
    t.eq(c.cmd("DATA"), "-ERR send RCPT TO: first", "DATA before RCPT")
    t.eq(c.cmd("RCPT bob@hotmail.com"), "-ERR syntax: RCPT TO: address",
         "RCPT without TO:")
    t.eq(c.cmd("RCPT TO: -oQ@hotmail.com"), "-ERR syntax: RCPT TO: "
         "address", "an address starting with '-' is refused")
    t.eq(c.cmd("RCPT TO: bob"), "+OK", "a bare local user name: +OK")
    t.eq(c.cmd("RSTE"), "+OK", "RSTE")
    t.eq(c.cmd("DATA"), "-ERR send MAIL FROM: first",
         "RSTE forgot the sender and recipients")
    t.eq(c.cmd("NOOP"), "+OK", "the connection stays open after RSTE")

    # Push to two local users: byte for byte in both Maildirs.
    before_b, before_c = message_files(bob), message_files(carol)
    t.eq(c.cmd("MAIL FROM: zzkaing@hotmail.com"), "+OK", "MAIL")
    t.eq(c.cmd("RCPT TO: bob@hotmail.com"), "+OK", "RCPT bob")
    t.eq(c.cmd("RCPT TO: carol@bar.com"), "+OK", "RCPT carol")
    t.eq(c.cmd("RCPT TO: bob"), "+OK", "RCPT bob again (one copy)")
    t.eq(c.cmd("DATA"), "+OK", "DATA")
    text = ("Subject: dots and froms\r\n\r\n.\r\n..two\r\nFrom x\r\n"
            ".leading\r\nlast\r\n")
    c.send(re.sub(r"(?m)^\.", "..", text))     # the client stuffs dots
    t.eq(c.cmd("."), "+OK", "+OK after both copies are in new/")
    want = text.replace("\r\n", "\n").encode()
    nb = [v for k, v in message_files(bob).items() if k not in before_b]
    nc = [v for k, v in message_files(carol).items() if k not in before_c]
    t.eq(nb, [want], "bob's copy: dot-stuffing undone, LF line ends")
    t.eq(nc, [want], "carol's copy is the same, byte for byte")

    # Too large, and a line too long: nothing delivered.
    snapshot = message_files(bob)
    c.cmd("MAIL FROM: zzkaing@hotmail.com")
    c.cmd("RCPT TO: bob@hotmail.com")
    t.eq(c.cmd("DATA"), "+OK", "DATA of a large message")
    c.send(("z" * 70 + "\r\n") * 100)
    t.eq(c.cmd("."), f"-ERR message too large: the limit is {LIMIT} "
         "octets, nothing delivered", "an oversized message: -ERR")
    t.eq(message_files(bob), snapshot, "nothing of it was delivered")
    t.eq(c.cmd("DATA"), "-ERR send MAIL FROM: first",
         "the transaction ended with the refusal")
    c.cmd("MAIL FROM: zzkaing@hotmail.com")
    c.cmd("RCPT TO: bob@hotmail.com")
    c.cmd("DATA")
    c.send("Subject: long\r\n\r\n" + "w" * 70000 + "\r\nshort\r\n")
    t.eq(c.cmd("."), "-ERR message has a line longer than 65536 octets, "
         "nothing delivered", "a line over 64 KiB: -ERR")
    t.eq(message_files(bob), snapshot, "nothing of it was delivered")
    c.cmd("MAIL FROM: zzkaing@hotmail.com")
    c.cmd("RCPT TO: bob@hotmail.com")
    c.cmd("DATA")
    c.send("Subject: wide\r\n\r\n" + "w" * 998 + "\r\nshort\r\n")
    t.eq(c.cmd("."), "+OK", "a 998-octet line (RFC 5321's limit) is "
         "taken, though max_line_length is 512")
    nb = [v for k, v in message_files(bob).items() if k not in snapshot]
    t.eq(nb, [("Subject: wide\n\n" + "w" * 998 + "\nshort\n").encode()],
         "and delivered whole")
    snapshot = message_files(bob)

    # Remote recipients: through the relay command only.
    relay_args = os.path.join(srv.relay_dir, "relay.args")
    relay_msg = os.path.join(srv.relay_dir, "relay.msg")
    c.cmd("MAIL FROM: zzkaing@hotmail.com")
    t.eq(c.cmd("RCPT TO: friend@example.net"), "+OK",
         "a remote recipient with papm_relay_command: +OK")
    t.eq(c.cmd("RCPT TO: bob@hotmail.com"), "+OK", "and a local one")
    c.cmd("DATA")
    c.send("Subject: out\r\n\r\n..hello\r\n")
    t.eq(c.cmd("."), "+OK", "relayed and delivered: +OK")
    with open(relay_args) as f:
        t.eq(f.read().splitlines(),
             ["-i", "-f", "zzkaing@hotmail.com", "--", "friend@example.net"],
             "the relay command's arguments: -i -f SENDER -- RCPTS")
    with open(relay_msg, "rb") as f:
        t.eq(f.read(), b"Subject: out\n\n.hello\n",
             "the relay command's input: the message")
    if srv.relay_gid is not None:
        with open(os.path.join(srv.relay_dir, "relay.gid")) as f:
            t.eq(f.read().strip(), str(srv.relay_gid),
                 "a set-group-ID relay command runs with its group")
    t.eq(len(message_files(bob)), len(snapshot) + 1, "bob got his copy")
    snapshot = message_files(bob)
    open(os.path.join(srv.relay_dir, "relay.fail"), "w").close()
    c.cmd("MAIL FROM: zzkaing@hotmail.com")
    c.cmd("RCPT TO: bob@hotmail.com")
    c.cmd("RCPT TO: friend@example.net")
    c.cmd("DATA")
    c.send("Subject: fails\r\n\r\nx\r\n")
    t.eq(c.cmd("."), "-ERR relay failed: exit status 75, nothing "
         "delivered", "a failing relay command: -ERR")
    t.eq(message_files(bob), snapshot, "and no local copy either")

    # A connection lost in DATA delivers nothing.
    c.cmd("MAIL FROM: zzkaing@hotmail.com")
    c.cmd("RCPT TO: bob@hotmail.com")
    c.cmd("DATA")
    c.send("Subject: cut\r\n\r\nhalf a message\r\n")
    c.close()
    time.sleep(0.3)
    t.eq(message_files(bob), snapshot, "a connection lost in DATA "
         "delivers nothing")
    t.eq(os.listdir(os.path.join(bob, "tmp")), [], "and leaves no tmp/ "
         "file")
    t.ok(srv.wait_log(r"papm: user=<zzkaing> rip=127\.0\.0\.1 "
                      r"from=<zzkaing@hotmail\.com>: disconnected in DATA, "
                      r"nothing delivered") is not None,
         "the log says so")
    t.ok(srv.wait_log(r"papm: delivered: user=<bob> rip=127\.0\.0\.1 "
                      r"from=<zzkaing@hotmail\.com> rcpt=<bob@hotmail\.com> "
                      r"name=\S+ size=\d+") is not None,
         "each delivery is logged")
finally:
    srv.cleanup()

# Without a relay command, remote recipients are refused.
srv = Server(users=USERS, settings={"papm_helo_domains": "hotmail.com"})
srv.write_conf('listen { protocol = "papm" address = "127.0.0.1" '
               'port = 0 }\n')
try:
    srv.start()
    srv.papm = papm_port(srv)
    c = connect(srv)
    login(c)
    c.cmd("HELO hotmail.com")
    c.cmd("MAIL FROM: zzkaing@hotmail.com")
    t.eq(c.cmd("RCPT TO: friend@example.net"),
         "-ERR relaying to other domains is not available",
         "no papm_relay_command: remote recipients refused")
    t.eq(c.cmd("HELO other.org"), "-ERR", "HELO outside papm_helo_domains")
    c.cmd("QUIT")
    c.close()
finally:
    srv.cleanup()

t.done()
