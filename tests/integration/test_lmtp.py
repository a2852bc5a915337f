#!/usr/bin/env python3
"""test_lmtp.py: LMTP end to end against the real build/posternd.

Python's smtplib.LMTP delivers over a TCP listener and over a UNIX socket
listener; POP3 then returns each message byte for byte, with the
Return-Path: and Delivered-To: lines the LMTP module adds.

Sandboxed workers (privilege separation, posternd started as root) do not
serve LMTP in this version: when run as root, these tests start posternd
as nobody, without privilege separation, and check that a root posternd
turns LMTP clients away with 421.
"""
import os
import re
import smtplib
import socket
import stat
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import postern  # noqa: E402
from postern import POSTERN, Server, Tap, crlf  # noqa: E402

t = Tap()
NOBODY = 65534


def unprivileged(srv):
    """As root, makes srv start posternd as nobody: no privilege
    separation, every session and delivery as nobody."""
    if os.geteuid() != 0:
        return
    wrap = os.path.join(srv.dir, "posternd-as-nobody")
    with open(wrap, "w") as f:
        f.write(f"#!/bin/sh\nexec setpriv --reuid={NOBODY} "
                f"--regid={NOBODY} --clear-groups {postern.POSTERND} "
                f'"$@"\n')
    os.chmod(wrap, 0o755)
    os.chown(srv.dir, NOBODY, NOBODY)
    os.chmod(srv.passwd, 0o644)
    srv.posternd = wrap


def start(srv):
    """srv.start() with srv.posternd, if set, as the daemon."""
    saved = postern.POSTERND
    postern.POSTERND = getattr(srv, "posternd", saved)
    try:
        srv.start()
    finally:
        postern.POSTERND = saved


def lmtp_server():
    """A Server with an LMTP listener on TCP and one on a UNIX socket."""
    srv = Server(settings={"lmtp_max_message_size": 200000})
    sock = os.path.join(srv.dir, "lmtp.sock")
    srv.write_conf('listen { protocol = "lmtp" address = "127.0.0.1" '
                   'port = 0 }\n'
                   f'listen {{ protocol = "lmtp" path = "{sock}" }}\n')
    unprivileged(srv)
    start(srv)
    line = srv.wait_log(r"listening on 127\.0\.0\.1:\d+ \(lmtp\)")
    srv.lmtp_port = int(re.search(r":(\d+) \(lmtp\)", line).group(1))
    srv.lmtp_sock = sock
    return srv


def pop3_messages(srv, user, password):
    """RETR of every message of user, in order."""
    c = srv.client()
    c.login(user, password)
    n = int(c.cmd("STAT").split()[1])
    out = []
    for i in range(1, n + 1):
        c.cmd(f"RETR {i}")
        out.append(c.multi())
    c.cmd("QUIT")
    c.close()
    return out


def tcp_and_unix():
    srv = lmtp_server()
    try:
        msg = (b"From: a@example.org\r\nSubject: over lmtp\r\n\r\n"
               b".starts with a dot\r\n\r\n8 bit: \xc3\xa9\r\nend\r\n")
        lm = smtplib.LMTP("127.0.0.1", srv.lmtp_port, timeout=10)
        code, caps = lm.ehlo("client.example")
        t.eq(code, 250, "LHLO over TCP")
        t.ok(b"PIPELINING" in caps and b"SIZE 200000" in caps,
             "LHLO lists PIPELINING and the SIZE limit", caps)
        refused = lm.sendmail("a@example.org",
                              ["alice@test.example", "mallory", "bob"], msg)
        t.eq(refused, {"mallory": (550, b"5.1.1 <mallory> unknown user")},
             "the unknown recipient is refused, the others accepted")
        lm.quit()

        lm = smtplib.LMTP(srv.lmtp_sock, timeout=10)
        lm.ehlo("client.example")
        t.eq(lm.sendmail("", ["alice"], b"Subject: unix\r\n\r\nx\r\n"), {},
             "delivery over the UNIX socket")
        lm.quit()
        mode = stat.S_IMODE(os.stat(srv.lmtp_sock).st_mode)
        t.eq(oct(mode), oct(0o660), "the UNIX socket has mode 0660")

        got = pop3_messages(srv, "alice", "wonderland")
        t.eq(len(got), 2, "alice has both messages")
        t.eq(got[0], crlf(b"Return-Path: <a@example.org>\n"
                          b"Delivered-To: <alice@test.example>\n") + msg,
             "POP3 returns the LMTP message byte for byte")
        t.eq(got[1], crlf(b"Return-Path: <>\nDelivered-To: <alice>\n"
                          b"Subject: unix\n\nx\n"),
             "and the one from the UNIX socket")
        bob = pop3_messages(srv, "bob", "builder")
        t.eq(bob, [crlf(b"Return-Path: <a@example.org>\n"
                        b"Delivered-To: <bob>\n") + msg],
             "bob got his copy")
        t.ok(srv.wait_log(r"lmtp: delivered: user=<alice> rip=127\.0\.0\.1 "
                          r"from=<a@example\.org> rcpt=<alice@test\.example>"
                          r" name=\S+,S=\d+,W=\d+") is not None,
             "each delivery is logged")
    finally:
        srv.cleanup()


def size_limit():
    srv = lmtp_server()
    try:
        lm = smtplib.LMTP("127.0.0.1", srv.lmtp_port, timeout=10)
        lm.ehlo("x")
        try:
            lm.sendmail("a@x", ["alice"], b"x" * 250000 + b"\r\n")
            t.ok(False, "a message over the limit is refused")
        except smtplib.SMTPException as e:
            t.ok("552" in str(e) or "5.3.4" in str(e),
                 "a message over the limit is refused with 552", e)
        lm.close()
        t.eq(pop3_messages(srv, "alice", "wonderland"), [],
             "and not delivered")
    finally:
        srv.cleanup()


def conf_check():
    srv = Server()
    try:
        srv.write_conf('lmtp_max_message_size = 4096\n'
                       'lmtp_temp_dir = "/var/tmp"\n'
                       'listen { protocol = "lmtp" path = "/run/x.sock" }\n')
        p = subprocess.run([POSTERN, "check", "-c", srv.conf],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=10)
        t.eq(p.returncode, 0, "postern check accepts the LMTP settings")
        t.ok("lmtp_max_message_size = 4096" in p.stdout and
             'lmtp_temp_dir = "/var/tmp"' in p.stdout and
             'path = "/run/x.sock"' in p.stdout,
             "and prints them", p.stdout)
        srv.write_conf('listen { protocol = "lmtp" path = "/run/x.sock" '
                       'port = 24 }\n')
        p = subprocess.run([POSTERN, "check", "-c", srv.conf],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=10)
        t.ok(p.returncode != 0 and "path excludes address and port" in
             p.stderr, "path with a port is refused", p.stderr)
        srv.write_conf('lmtp_temp_dir = "tmp"\n')
        p = subprocess.run([POSTERN, "check", "-c", srv.conf],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=10)
        t.ok(p.returncode != 0 and "absolute" in p.stderr,
             "a relative lmtp_temp_dir is refused", p.stderr)
    finally:
        srv.cleanup()


def sandboxed():
    """posternd started as root: sandboxed workers answer 421."""
    if os.geteuid() != 0:
        t.skip("a root posternd turns LMTP away with 421", "needs root")
        return
    srv = Server()
    try:
        srv.write_conf('listen { protocol = "lmtp" address = "127.0.0.1" '
                       'port = 0 }\n')
        srv.start()
        line = srv.wait_log(r"listening on 127\.0\.0\.1:\d+ \(lmtp\)")
        port = int(re.search(r":(\d+) \(lmtp\)", line).group(1))
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            greeting = s.recv(200)
        t.eq(greeting, b"421 4.3.5 test.example LMTP not available, try "
             b"again later\r\n",
             "a root posternd turns LMTP away with 421 (sandboxed workers)")
    finally:
        srv.cleanup()


tcp_and_unix()
size_limit()
conf_check()
sandboxed()
t.done()
