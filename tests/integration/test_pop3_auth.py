#!/usr/bin/env python3
"""test_pop3_auth.py: logins other than USER/PASS, end to end.

Python's poplib against the real posternd: CAPA's contents, USER/PASS,
APOP (RFC 1939 section 7) with an apop_secrets file, RPOP (the 1985
revised POP draft) from a reserved source port, AUTH PLAIN and LOGIN
(RFC 5034), the close after max_auth_failures, the failure delay, and
the log lines of each.
"""
import base64
import os
import poplib
import re
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import Server, Tap, put  # noqa: E402

t = Tap()
MSG = "Subject: hello\n\nbody\n"


def b64(s):
    return base64.b64encode(s.encode()).decode()


def secrets_file(srv, text, mode=0o600):
    path = os.path.join(srv.dir, "apop_secrets")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def pop(srv, source_port=None):
    """A poplib client, optionally from a given local port."""
    if source_port is None:
        return poplib.POP3("127.0.0.1", srv.port, timeout=10)

    class Bound(poplib.POP3):
        def _create_socket(self, timeout):
            return socket.create_connection((self.host, self.port), timeout,
                                            ("127.0.0.1", source_port))
    return Bound("127.0.0.1", srv.port, timeout=10)


def capa():
    settings = dict(pop3_login_delay=900,
                    pop3_implementation="Postern-test")
    with Server(settings=settings) as srv:
        p = pop(srv)
        caps = p.capa()
        for c in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE",
                  "PIPELINING", "USER"):
            t.ok(c in caps, f"CAPA lists {c}", caps)
        t.eq(caps.get("SASL"), ["PLAIN", "LOGIN"], "CAPA SASL PLAIN LOGIN")
        t.eq(caps.get("EXPIRE"), ["NEVER"], "CAPA EXPIRE NEVER")
        t.eq(caps.get("LOGIN-DELAY"), ["900"], "CAPA LOGIN-DELAY as set")
        t.eq(caps.get("IMPLEMENTATION"), ["Postern-test"],
             "CAPA IMPLEMENTATION as set")
        t.ok(b"<" not in p.getwelcome(), "no APOP timestamp without "
             "apop_secrets", p.getwelcome())
        t.ok(p.user("alice").startswith(b"+OK"), "poplib user()")
        t.ok(p.pass_("wonderland").startswith(b"+OK maildrop has"),
             "poplib pass_()")
        caps = p.capa()
        t.ok("USER" not in caps and "SASL" not in caps,
             "after login CAPA lists neither USER nor SASL", caps)
        p.quit()
    with Server() as srv:
        caps = pop(srv).capa()
        t.ok("LOGIN-DELAY" not in caps and "IMPLEMENTATION" not in caps,
             "LOGIN-DELAY and IMPLEMENTATION are off by default", caps)


def apop():
    srv = Server()
    try:
        path = secrets_file(srv, "# user:secret\nalice:tanstaaf\n")
        srv.settings["apop_secrets"] = path
        srv.write_conf()
        srv.start()
        put(srv.maildir("alice"), "1000000001.a.test", MSG)
        srv.own()
        p = pop(srv)
        stamp = re.search(rb"<[^>]*>", p.getwelcome())
        t.ok(stamp is not None and
             re.fullmatch(rb"<\d+\.\d+\.\d+@test\.example>", stamp.group()),
             "greeting carries <pid.time.random@hostname>", p.getwelcome())
        try:
            p.apop("alice", "wrong")
            t.ok(False, "APOP with a wrong secret is refused")
        except poplib.error_proto as e:
            t.eq(e.args[0], b"-ERR [AUTH] invalid user name or digest",
                 "APOP with a wrong secret is refused")
        r = p.apop("alice", "tanstaaf")
        t.eq(r, b"+OK maildrop has 1 messages (24 octets)",
             "poplib apop() logs in")
        t.eq(p.stat(), (1, 24), "STAT after APOP")
        p.quit()
        t.ok(srv.wait_log(r"auth failed: user=<alice> rip=127\.0\.0\.1 "
                          r"proto=pop3 reason=wrong APOP digest"),
             "the failed APOP is logged")
        # A second session has another timestamp.
        p2 = pop(srv)
        t.ok(re.search(rb"<[^>]*>", p2.getwelcome()).group() !=
             stamp.group(), "each session has its own timestamp")
        p2.quit()
    finally:
        srv.cleanup()


def auth_sasl():
    with Server() as srv:
        c = srv.client()
        t.eq(c.cmd("AUTH"), "+OK", "AUTH lists")
        t.eq(c.multi(), b"PLAIN\r\nLOGIN\r\n", "AUTH lists PLAIN and LOGIN")
        t.eq(c.cmd("AUTH PLAIN " + b64("\0alice\0wonderland")),
             "+OK maildrop has 0 messages (0 octets)",
             "AUTH PLAIN with an initial response")
        c.cmd("QUIT")
        c = srv.client()
        t.eq(c.cmd("AUTH LOGIN"), "+ VXNlcm5hbWU6", "AUTH LOGIN asks Username")
        t.eq(c.cmd(b64("bob")), "+ UGFzc3dvcmQ6", "then Password")
        t.eq(c.cmd(b64("builder")), "+OK maildrop has 0 messages (0 octets)",
             "AUTH LOGIN logs in")
        c.cmd("QUIT")
        c = srv.client()
        t.eq(c.cmd("AUTH PLAIN"), "+ ", "AUTH PLAIN without initial "
             "response: empty challenge")
        t.eq(c.cmd("*"), "-ERR AUTH cancelled", "* cancels")
        t.eq(c.cmd("AUTH PLAIN !!!!"), "-ERR [AUTH] invalid base64",
             "bad base64")
        t.eq(c.cmd("AUTH PLAIN " + b64("bob\0alice\0wonderland")),
             "-ERR [AUTH] authorization identity refused: no proxy "
             "authorization", "authzid naming another user is refused")
        t.ok(srv.wait_log(r"auth failed: user=<alice> rip=127\.0\.0\.1 "
                          r"proto=pop3 reason=authzid differs"),
             "the refused authzid is logged as a failure")
        c.cmd("QUIT")


def rpop():
    if os.geteuid() != 0:
        t.skip("RPOP from a reserved port", "needs root to bind port < 1024")
        return
    srv = Server()
    try:
        path = os.path.join(srv.dir, "rpop_trust")
        with open(path, "w") as f:
            f.write("# client-host remote-user local-user\n"
                    "127.0.0.1 mrose alice\n")
        srv.settings["rpop_trust_file"] = path
        srv.write_conf()
        srv.start()
        # A free reserved port, tried from the top.
        p = None
        for port in range(1023, 600, -1):
            try:
                p = pop(srv, port)
                break
            except OSError:
                continue
        if p is None:
            t.skip("RPOP from a reserved port", "no free port below 1024")
            return
        t.ok(p.user("alice").startswith(b"+OK"), "USER before RPOP")
        t.ok(p.rpop("mrose").startswith(b"+OK maildrop has"),
             "poplib rpop() from a reserved port logs in")
        p.quit()
        p = pop(srv)
        p.user("alice")
        try:
            p.rpop("mrose")
            t.ok(False, "RPOP from an unreserved port is refused")
        except poplib.error_proto as e:
            t.eq(e.args[0], b"-ERR [AUTH] permission denied",
                 "RPOP from an unreserved port is refused")
        p.quit()
        t.ok(srv.wait_log(r"auth failed: user=<alice> .*reason=RPOP from "
                          r"an unreserved port"), "and logged why")
    finally:
        srv.cleanup()


def rpop_disabled():
    with Server() as srv:
        c = srv.client()
        t.eq(c.cmd("RPOP alice"), "-ERR RPOP disabled", "RPOP off by default")
        c.cmd("QUIT")


def failures():
    with Server(settings=dict(max_auth_failures=3)) as srv:
        c = srv.client()
        for i in range(2):
            c.cmd("USER alice")
            t.eq(c.cmd("PASS nope"), "-ERR [AUTH] invalid user name or "
                 "password", f"failure {i + 1} answered")
        c.cmd("USER alice")
        t.eq(c.cmd("PASS nope"), "-ERR [AUTH] invalid user name or password",
             "third failure answered")
        t.eq(c.line(), "-ERR [AUTH] too many failures, closing",
             "then the connection is closed")
        t.ok(c.closed(), "closed after max_auth_failures")
        t.eq(srv.log_count(r"auth failed: user=<alice>", 3), 3,
             "each failure logged on one line")


def delay():
    # A lower bound only: the reply cannot come before the delay.
    with Server(settings=dict(auth_fail_delay=1,
                              auth_fail_delay_max=1)) as srv:
        c = srv.client()
        c.cmd("USER alice")
        t0 = time.monotonic()
        r = c.cmd("PASS nope")
        t.ok(time.monotonic() - t0 >= 0.9 and r.startswith("-ERR [AUTH]"),
             "a failure is answered after auth_fail_delay")
        c.cmd("QUIT")


def logout_line():
    with Server() as srv:
        md = srv.maildir("alice")
        put(md, "1000000001.a.test", MSG)
        put(md, "1000000002.b.test", MSG)
        srv.own()
        c = srv.client()
        c.login()
        c.cmd("TOP 1 0")
        c.multi()
        c.cmd("RETR 2")
        c.multi()
        c.cmd("DELE 1")
        c.cmd("QUIT")
        line = srv.wait_log(r"logout: user=<alice>")
        t.ok(line is not None and re.search(
            r"logout: user=<alice> rip=127\.0\.0\.1 proto=pop3 "
            r"top=1/\d+ retr=1/24 del=1/24 size=48 left=1/24 reason=quit$",
            line), "logout line: top, retr, del, size, messages and octets "
            "left", line)


capa()
apop()
auth_sasl()
rpop()
rpop_disabled()
failures()
delay()
logout_line()
t.done()
