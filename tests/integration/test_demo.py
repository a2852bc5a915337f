#!/usr/bin/env python3
"""test_demo.py: what `make demo` serves, as a newcomer would try it.

Runs contrib/demo.sh (the script `make demo` runs once the build is done)
with its directory in a temporary one, waits for its listeners, and
tries every protocol it announces on its fixed ports, with the demo
users: POP3 with and without STLS, POP3S, LMTP delivery seen by POP3,
RFC 918 POP, PAPM, MRP and MRP over TLS.  Then Ctrl-C (SIGINT) must end
it cleanly, and a second start must keep the users and their mail.  Skipped when one of the ports is taken (a demo running in
another terminal, say).
"""
import os
import poplib
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import BUILD, TOP, Tap  # noqa: E402

t = Tap()
PORTS = {"pop3": 1110, "pop3s": 1995, "pop1": 1109, "papm": 49153,
         "mrp": 5000, "mrps": 5001, "lmtp": 2424}
HOST = "127.0.0.1"


def taken():
    """The demo's ports that something else listens on now."""
    out = []
    for name, port in PORTS.items():
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            out.append(f"{name} ({port})")
        finally:
            s.close()
    return out


class Lines:
    """A line-at-a-time client for the protocols poplib does not speak."""

    def __init__(self, port, tls=False):
        sock = socket.create_connection((HOST, port), timeout=10)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            sock = ctx.wrap_socket(sock, server_hostname="localhost")
        self.sock = sock
        self.f = sock.makefile("rb")

    def line(self):
        return self.f.readline().decode("utf-8", "replace").rstrip("\r\n")

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.line()

    def until(self, pattern, most=200):
        """Lines up to the first that matches pattern, that one last."""
        got = []
        for _ in range(most):
            got.append(self.line())
            if re.match(pattern, got[-1]) or got[-1] == "":
                break
        return got

    def close(self):
        self.f.close()
        self.sock.close()


class Demo:
    """contrib/demo.sh in its own directory, its output collected."""

    def __init__(self, where):
        env = dict(os.environ, DEMO=where)
        self.out = []
        self.proc = subprocess.Popen(
            ["sh", os.path.join(TOP, "contrib", "demo.sh"), BUILD],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            self.out.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def wait_for(self, pattern, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(re.search(pattern, x) for x in self.out):
                return True
            if self.proc.poll() is not None:
                time.sleep(0.2)     # the last lines
                return any(re.search(pattern, x) for x in self.out)
            time.sleep(0.1)
        return False

    def text(self):
        return "\n".join(self.out)


def unverified():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def try_pop3():
    p = poplib.POP3(HOST, PORTS["pop3"], timeout=10)
    t.ok(p.getwelcome().startswith(b"+OK"), "POP3 1110: a greeting")
    p.user("demo")
    t.ok(p.pass_("demo").startswith(b"+OK maildrop has 3 messages"),
         "POP3 1110: demo/demo logs in to three messages")
    _, lines, _ = p.retr(1)
    t.ok(b"Subject: Welcome to Postern, demo" in lines,
         "POP3 1110: RETR 1 is the welcome message")
    p.quit()

    p = poplib.POP3(HOST, PORTS["pop3"], timeout=10)
    t.ok("STLS" in p.capa(), "POP3 1110: CAPA offers STLS")
    p.stls(context=unverified())
    p.user("demo2")
    p.pass_("demo2")
    t.eq(p.stat()[0], 3, "POP3 1110 after STLS: demo2/demo2, three messages")
    p.quit()

    p = poplib.POP3_SSL(HOST, PORTS["pop3s"], timeout=10,
                        context=unverified())
    p.user("demo")
    p.pass_("demo")
    t.eq(p.stat()[0], 3, "POP3S 1995: demo/demo, three messages")
    p.quit()


def try_lmtp():
    with smtplib.LMTP(HOST, PORTS["lmtp"]) as m:
        refused = m.sendmail("me@example.org", ["demo"],
                             "Subject: hi\r\n\r\nhello\r\n")
    t.eq(refused, {}, "LMTP 2424: a message for demo is taken")
    p = poplib.POP3(HOST, PORTS["pop3"], timeout=10)
    p.user("demo")
    p.pass_("demo")
    t.eq(p.stat()[0], 4, "and POP3 lists one more for demo")
    _, lines, _ = p.retr(4)
    t.ok(b"hello" in lines, "the one LMTP delivered")
    p.quit()


def try_user_pass(name, then, want):
    """RFC 918 POP or PAPM: USER demo, PASS demo, then a command whose
    reply must match want."""
    c = Lines(PORTS[name])
    label = f"{name.upper()} {PORTS[name]}"
    t.ok(c.line().startswith("+OK"), f"{label}: a greeting")
    c.cmd("USER demo")
    t.ok(c.cmd("PASS demo").startswith("+OK"), f"{label}: demo logs in")
    got = c.cmd(then)
    t.ok(re.match(want, got) is not None, f"{label}: {then}", got)
    c.close()


def try_mrp(tls):
    name = "MRP/TLS 5001" if tls else "MRP 5000"
    c = Lines(PORTS["mrps" if tls else "mrp"], tls=tls)
    t.ok(c.line().startswith("OK"), f"{name}: a greeting")
    c.sock.sendall(b"LOGIN demo demo\r\n")
    got = c.until(r"(OK|NO|BAD) ")
    t.ok(got[-1].startswith("OK LOGIN"), f"{name}: LOGIN demo demo", got)
    c.close()


def main():
    busy = taken()
    if busy:
        t.skip("make demo", "ports taken: " + ", ".join(busy))
        return
    with tempfile.TemporaryDirectory() as where:
        # Sessions run as nobody when root runs the demo: it must reach
        # the Maildirs, as under a clone in a home directory.
        os.chmod(where, 0o755)
        d = Demo(where)
        try:
            up = d.wait_for(r"started \d+ workers")
            t.ok(up, "the demo starts its workers", d.text())
            if not up:
                return
            for port in PORTS.values():
                t.ok(re.search(rf"\b{port}\b", d.text()) is not None,
                     f"its hints name port {port}")
            t.ok(os.path.exists(os.path.join(where, "tls", "cert.pem")),
                 "it made a self-signed certificate")
            for name, fn in (("POP3", try_pop3), ("LMTP", try_lmtp),
                             ("POP1", lambda: try_user_pass(
                                 "pop1", "RETR INBOX", r"#\d+$")),
                             ("PAPM", lambda: try_user_pass(
                                 "papm", "QUTI", r"\+OK")),
                             ("MRP", lambda: try_mrp(False)),
                             ("MRP/TLS", lambda: try_mrp(True))):
                try:
                    fn()
                except (OSError, poplib.error_proto,
                        smtplib.SMTPException) as e:
                    t.ok(False, f"{name}: the dialogue ran", repr(e))
        finally:
            d.proc.send_signal(signal.SIGINT)
            try:
                rc = d.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                d.proc.kill()
                rc = d.proc.wait()
        t.eq(rc, 0, "Ctrl-C ends it with status 0")
        t.ok(not os.path.exists(os.path.join(where, "posternd.pid")),
             "and its pidfile is gone")
        again(where)


def again(where):
    """make demo a second time: the same users and mail, kept."""
    d = Demo(where)
    try:
        t.ok(d.wait_for(r"started \d+ workers"), "the demo starts again",
             d.text())
        t.ok(not any("demo: created" in x or "demo: made" in x
                     for x in d.out),
             "reusing its users, Maildirs and certificate", d.text())
        p = poplib.POP3(HOST, PORTS["pop3"], timeout=10)
        p.user("demo")
        p.pass_("demo")
        t.eq(p.stat()[0], 4, "demo still has the message LMTP delivered")
        p.quit()
    except (OSError, poplib.error_proto) as e:
        t.ok(False, "POP3 after the second start", repr(e))
    finally:
        d.proc.send_signal(signal.SIGINT)
        try:
            d.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            d.proc.kill()
            d.proc.wait()


main()
t.done()
