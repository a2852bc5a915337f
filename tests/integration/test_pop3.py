#!/usr/bin/env python3
"""test_pop3.py: POP3 end to end against the real build/posternd.

Replays the example session of RFC 1939 section 10, then checks deferred
deletion, the maildrop lock, bad input, timeouts and the Maildir left
behind after each session.
"""
import os
import re
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import Client, Server, Tap, crlf, files, put  # noqa: E402

t = Tap()

# RFC 1939 section 10: two messages of 120 and 200 octets.
MSG1 = ("From: mrose@dbc.mtview.ca.us\nTo: mrose@dbc.mtview.ca.us\n"
        "Subject: one\n\n")
MSG1 += "x" * (120 - len(crlf(MSG1)) - 2) + "\n"
MSG2 = ("From: dewey@dbc.mtview.ca.us\nTo: mrose@dbc.mtview.ca.us\n"
        "Subject: two\n\n")
MSG2 += "y" * (200 - len(crlf(MSG2)) - 2) + "\n"


def rfc1939_example():
    with Server() as srv:
        md = srv.maildir("alice")
        put(md, "1000000001.M1P1.test", MSG1)
        put(md, "1000000002.M2P2.test", MSG2)
        c = srv.client()
        t.ok(c.greeting.startswith("+OK"), "greeting is +OK", c.greeting)
        r1, r2 = c.login()
        t.ok(r1.startswith("+OK"), "USER accepted", r1)
        t.eq(r2, "+OK maildrop has 2 messages (320 octets)",
             "PASS opens the maildrop with the RFC's counts")
        t.eq(c.cmd("STAT"), "+OK 2 320", "STAT")
        t.eq(c.cmd("LIST"), "+OK 2 messages (320 octets)", "LIST header")
        t.eq(c.multi(), b"1 120\r\n2 200\r\n", "LIST scan listing")
        t.eq(c.cmd("RETR 1"), "+OK 120 octets", "RETR 1 status")
        t.eq(c.multi(), crlf(MSG1), "RETR 1 sends message 1")
        t.eq(c.cmd("DELE 1"), "+OK message 1 deleted", "DELE 1")
        t.eq(c.cmd("RETR 2"), "+OK 200 octets", "RETR 2 status")
        t.eq(c.multi(), crlf(MSG2), "RETR 2 sends message 2")
        t.eq(c.cmd("DELE 2"), "+OK message 2 deleted", "DELE 2")
        t.eq(c.cmd("QUIT"),
             "+OK Postern POP3 server signing off (maildrop empty)",
             "QUIT reports the maildrop empty")
        t.ok(c.closed(), "server closes after QUIT")
        t.eq(files(md), [], "both messages removed from the Maildir")
        t.ok(srv.wait_log(r"login: user=<alice> rip=127\.0\.0\.1 "
                          r"proto=pop3") is not None, "login is logged")
        t.ok(srv.wait_log(r"logout: user=<alice> .*retr=2/320 del=2/320")
             is not None, "logout line has the counts")


def deferred_delete():
    with Server() as srv:
        md = srv.maildir("alice")
        for i in range(3):
            put(md, f"100000000{i}.M{i}.test", f"Subject: {i}\n\nbody {i}\n")
        before = files(md)
        c = srv.client()
        c.login()
        c.cmd("DELE 1")
        c.cmd("DELE 2")
        c.close()                      # dropped: nothing is deleted
        time.sleep(0.3)
        t.eq(files(md), before, "a dropped connection deletes nothing")

        c = srv.client()
        c.login()
        c.cmd("DELE 1")
        size = len(crlf("Subject: 0\n\nbody 0\n"))
        t.eq(c.cmd("RSET"), f"+OK maildrop has 3 messages ({3 * size} "
             "octets)", "RSET unmarks")
        t.ok(c.cmd("QUIT").startswith("+OK"), "QUIT after RSET")
        c.closed()
        t.eq(files(md), before, "DELE + RSET + QUIT keeps everything")

        c = srv.client()
        c.login()
        t.eq(c.cmd("DELE 2"), "+OK message 2 deleted", "DELE 2")
        t.ok(c.cmd("RETR 2").startswith("-ERR message 2 already deleted"),
             "RETR of a deleted message is refused")
        t.eq(c.cmd("STAT"), f"+OK 2 {2 * size}", "STAT leaves out deleted messages")
        put(md, "2000000000.late.test", "Subject: late\n\nlate\n")
        t.eq(c.cmd("QUIT"),
             "+OK Postern POP3 server signing off (2 messages left)",
             "QUIT counts what is left")
        c.closed()
        left = files(md)
        t.eq(len(left), 3, "exactly the marked message is gone")
        t.ok(not any("1000000001" in f for f in left),
             "the removed file is message 2's")
        t.ok(any("2000000000.late.test" in f for f in left),
             "mail delivered during the session is untouched")


def lock_and_errors():
    with Server() as srv:
        md = srv.maildir("alice")
        msg = "Subject: a\n\n.\n..dots\n"
        size = len(crlf(msg))
        put(md, "1000000001.x.test", msg)
        a = srv.client()
        a.login()
        b = srv.client()
        b.cmd("USER alice")
        t.eq(b.cmd("PASS wonderland"),
             "-ERR [IN-USE] maildrop locked by another session",
             "a second session is refused with [IN-USE]")
        t.ok(b.closed(), "the refused session is closed (RFC 1939 4 "
             "allows it; a session process serves one login)")
        b.close()
        t.ok(srv.wait_log(r"logout: user=<alice> rip=\S+ proto=pop3 "
                          r"reason=\S+"),
             "and logged out (the held session is still in)")

        checks = [
            ("RETR", "-ERR message number required"),
            ("RETR x", "-ERR invalid message number"),
            ("RETR -1", "-ERR invalid message number"),
            ("RETR 0", "-ERR no such message"),
            ("RETR 2", "-ERR no such message"),
            ("RETR 99999999999999999999", "-ERR invalid message number"),
            ("LIST 1 2", "-ERR LIST takes at most one argument"),
            ("TOP 1", "-ERR TOP needs a number of lines"),
            ("TOP 1 -1", "-ERR TOP needs a number of lines"),
            ("STAT 1", "-ERR STAT takes no argument"),
            ("USER bob", "-ERR USER is not valid after login"),
            ("FOO", "-ERR unknown command"),
            ("X" * 600, "-ERR line too long"),
        ]
        for cmd, want in checks:
            got = a.cmd(cmd)
            t.ok(got.startswith(want), f"{cmd[:30]!r} -> {want}", got)
        t.eq(a.cmd("STAT"), f"+OK 1 {size}", "the session goes on after errors")
        t.eq(a.cmd("RETR 1"), f"+OK {size} octets", "RETR of dot lines")
        raw = a.raw_until_dot()
        t.eq(raw, b"Subject: a\r\n\r\n..\r\n...dots\r\n.\r\n",
             "leading dots are stuffed on the wire")
        t.eq(a.cmd("TOP 1 0"), "+OK top of message follows", "TOP 1 0")
        t.eq(a.multi(), b"Subject: a\r\n\r\n", "TOP 1 0 sends the header")
        t.eq(a.cmd("UIDL 1"), "+OK 1 1000000001.x.test",
             "UIDL is the Maildir base name")
        t.eq(a.cmd("list 1"), f"+OK 1 {size}", "commands are case-insensitive")
        a.cmd("QUIT")
        t.eq(files(md), ["cur/1000000001.x.test:2,S"],
             "a retrieved message moves to cur/ with S at QUIT")

        c = srv.client()
        t.ok(c.cmd("STAT").startswith("-ERR STAT is not valid before"),
             "STAT before login is refused")
        c.cmd("USER alice")
        t.eq(c.cmd("PASS wrong"), "-ERR [AUTH] invalid user name or "
             "password", "a wrong password is refused")
        t.ok(srv.wait_log(r"auth failed: user=<alice> rip=127\.0\.0\.1 "
                          r"proto=pop3 reason=wrong password") is not None,
             "the failure is logged with user, address and reason")
        c.cmd("USER nobody")
        t.eq(c.cmd("PASS x"), "-ERR [AUTH] invalid user name or password",
             "an unknown user gets the same answer")
        t.eq(c.cmd("PASS x"), "-ERR send USER first", "PASS needs USER")
        c.login()
        t.eq(c.cmd("UIDL"), "+OK unique-id listing follows", "UIDL list")
        t.eq(c.multi(), b"1 1000000001.x.test\r\n",
             "UIDL is stable across the move to cur/")
        c.cmd("QUIT")


def limits():
    with Server(settings=dict(login_timeout=1, max_bad_commands=3)) as srv:
        c = srv.client()
        start = time.monotonic()
        t.ok(c.line().startswith("-ERR autologout"),
             "pre-login timeout answers -ERR")
        t.ok(c.closed() and time.monotonic() - start < 5,
             "and closes the connection")
        c = srv.client()
        start = time.monotonic()
        replies = []
        for _ in range(2):
            time.sleep(0.4)
            replies.append(c.cmd("CAPA"))
            c.multi()
        t.ok(all(r.startswith("+OK") for r in replies),
             "CAPA answered before the login deadline", replies)
        t.ok(c.closed() and time.monotonic() - start < 3,
             "a client trickling commands is cut off at login_timeout")
        c = srv.client()
        for _ in range(2):
            c.cmd("BOGUS")
        c.send("BOGUS\r\n")
        t.ok(c.line() == "-ERR unknown command" and
             c.line().startswith("-ERR too many bad commands"),
             "the bad-command limit closes the session")
        t.ok(c.closed(), "closed after too many bad commands")
        c = srv.client()
        c.send("CAPA\r\nNOOP\r\nQUIT\r\n")
        t.eq(c.line(), "+OK capability list follows", "pipelined CAPA")
        caps = c.multi().decode().split("\r\n")
        t.ok("USER" in caps and "PIPELINING" in caps and "UIDL" in caps,
             "CAPA lists USER on loopback, UIDL, PIPELINING", caps)
        t.ok(c.line().startswith("-ERR NOOP is not valid before"),
             "pipelined second reply")
        t.ok(c.line().startswith("+OK"), "pipelined QUIT")


def lock_released_before_ok():
    with Server() as srv:
        put(srv.maildir("alice"), "1000000001.x.test", "Subject: x\n\nx\n")
        refused = []
        for i in range(20):
            c = srv.client()
            r = c.login()[1]
            if not r.startswith("+OK"):
                refused.append(r)
            c.cmd("QUIT")
        t.eq(refused, [], "the lock is released before QUIT's +OK: an "
             "immediate next session is never refused")


rfc1939_example()
def reset_mid_message():
    """A client that resets the connection in the middle of a long
    RETR: the session ends as a connection error, and its DELE is
    forgotten."""
    with Server() as srv:
        md = srv.maildir("alice")
        put(md, "1000000001.big.test",
            "Subject: big\n\n" + ("x" * 100 + "\n") * 100000)
        put(md, "1000000002.small.test", "Subject: small\n\nhi\n")
        srv.own()
        c = srv.client()
        c.login()
        t.ok(c.cmd("DELE 2").startswith("+OK"), "DELE 2 before the reset")
        c.send(b"RETR 1\r\n")
        time.sleep(0.05)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          struct.pack("ii", 1, 0))
        c.sock.close()
        t.ok(srv.wait_log(r"logout: user=<alice> .* del=1/\d+ .*"
                          r"reason=connection error"),
             "a reset mid-message is logged as a connection error, "
             "its DELE as marked")
        t.eq(len(files(md)), 2, "and nothing was deleted")


def ipv6_listener():
    """A listener on ::1: a client of it logs in, and the log names it by
    its IPv6 address."""
    srv = Server()
    srv.write_conf('listen { protocol = "pop3" address = "::1" port = 0 }\n')
    with srv:
        line = srv.wait_log(r"listening on \[::1\]:\d+ \(pop3\)")
        t.ok(line, "posternd listens on [::1]", srv.log)
        if not line:
            return
        port = int(re.search(r"\]:(\d+) ", line).group(1))
        c = Client(port, host="::1")
        t.ok(c.greeting.startswith("+OK"), "a client of ::1 is greeted")
        t.eq(c.login()[1][:3], "+OK", "and logs in")
        t.ok(srv.wait_log(r"login: user=<alice> rip=::1 proto=pop3"),
             "the log names it rip=::1")
        t.ok(c.cmd("QUIT").startswith("+OK"), "and it quits")


lock_released_before_ok()
reset_mid_message()
deferred_delete()
lock_and_errors()
limits()
ipv6_listener()
t.done()
