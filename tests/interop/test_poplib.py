#!/usr/bin/env python3
"""test_poplib.py: Python's poplib against the real posternd: USER/PASS,
LIST, RETR, TOP, UIDL stable across sessions, DELE/RSET/QUIT; APOP when
the greeting carries a time stamp; STLS and implicit TLS when TLS is
built; and a whole session pipelined in one write on a raw socket.
"""
import hashlib
import os
import poplib
import re
import socket
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import (PASSWORD, POSTERND, USER, Server, Tap, Tls,  # noqa
                    bases, compare, seed, tls_server)
from postern import crlf  # noqa: E402

t = Tap()


def joined(lines):
    """poplib's lines of a message as bytes with LF line ends."""
    return b"".join(line + b"\n" for line in lines)


def session(tag, pop, md, seeded):
    """Logs in with USER/PASS on a connected poplib client and reads
    every message, checking the sizes poplib counted."""
    t.ok(pop.user(USER).startswith(b"+OK"), f"poplib {tag}: USER")
    t.ok(pop.pass_(PASSWORD).startswith(b"+OK"), f"poplib {tag}: PASS")
    sizes = [len(crlf(m)) for _, m in seeded]
    t.eq(pop.stat(), (len(seeded), sum(sizes)), f"poplib {tag}: STAT")
    _, lst, _ = pop.list()
    t.eq(lst, [b"%d %d" % (i, s) for i, s in enumerate(sizes, 1)],
         f"poplib {tag}: LIST")
    for i, (_, want) in enumerate(seeded, 1):
        _, lines, octets = pop.retr(i)
        compare(t, f"poplib {tag}: RETR {i} intact", joined(lines), want)
        t.eq(octets, sizes[i - 1], f"poplib {tag}: RETR {i} has the "
             "LIST size")


def plain():
    with Server() as srv:
        md, seeded = seed(srv)
        names = [n for n, _ in seeded]
        pop = poplib.POP3("127.0.0.1", srv.port, timeout=20)
        session("USER/PASS", pop, md, seeded)
        _, uids, _ = pop.uidl()
        t.eq(len(set(uids)), len(seeded), "poplib: UIDL lists every "
             "message once, with distinct ids")
        _, lines, _ = pop.top(2, 0)
        head = seeded[1][1].split(b"\n\n", 1)[0] + b"\n\n"
        t.eq(joined(lines), head, "poplib: TOP 2 0 sends the header and "
             "the blank line")
        _, lines, _ = pop.top(2, 2)
        t.eq(joined(lines), head + b"a lone dot follows\n.\n",
             "poplib: TOP 2 2 adds two body lines, a lone dot unstuffed")
        pop.dele(1)
        pop.rset()
        pop.dele(3)
        t.ok(pop.quit().startswith(b"+OK"), "poplib: QUIT")
        t.eq(bases(md), names[:2] + names[3:],
             "poplib: DELE 1, RSET, DELE 3, QUIT removes message 3 only")

        pop = poplib.POP3("127.0.0.1", srv.port, timeout=20)
        pop.user(USER)
        pop.pass_(PASSWORD)
        _, again, _ = pop.uidl()
        t.eq(again, [b"%d %s" % (i, u.split()[1]) for i, u in
                     enumerate(uids[:2] + uids[3:], 1)],
             "poplib: UIDLs stay the same after the messages were "
             "retrieved and moved to cur/")
        pop.quit()

        pop = poplib.POP3("127.0.0.1", srv.port, timeout=20)
        pop.user(USER)
        try:
            pop.pass_("wrong")
            t.ok(False, "poplib: a wrong password raises error_proto")
        except poplib.error_proto as e:
            t.ok(str(e).startswith("b'-ERR"), "poplib: a wrong password "
                 "raises error_proto", e)
        pop.close()


def apop_settings(srv_dir):
    """The settings that make posternd offer APOP, or None when this
    build has no apop_secrets setting."""
    secrets = os.path.join(srv_dir, "apop_secrets")
    with open(secrets, "w") as f:
        f.write(f"{USER}:{PASSWORD}\n")
    os.chmod(secrets, 0o600)
    conf = os.path.join(srv_dir, "apop-probe.conf")
    with open(conf, "w") as f:
        f.write(f'apop_secrets = "{secrets}"\npidfile = ""\n'
                'listen { protocol = "pop3" address = "127.0.0.1" '
                'port = 0 }\n')
    rc = subprocess.run([POSTERND, "-n", "-c", conf],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL).returncode
    return {"apop_secrets": secrets} if rc == 0 else None


def apop():
    srv = Server()
    try:
        settings = apop_settings(srv.dir)
        if settings:
            srv.settings.update(settings)
            srv.write_conf()
        srv.start()
        md, seeded = seed(srv)
        pop = poplib.POP3("127.0.0.1", srv.port, timeout=20)
        stamp = re.search(rb"<[^<>]*@[^<>]*>", pop.getwelcome())
        if not stamp:
            t.skip("poplib APOP", "the greeting carries no APOP time stamp"
                   + ("" if settings else " (no apop_secrets setting)"))
            pop.close()
            return
        t.ok(pop.apop(USER, PASSWORD).startswith(b"+OK"), "poplib: APOP "
             "logs in")
        t.eq(pop.stat()[0], len(seeded), "poplib APOP: STAT")
        _, lines, _ = pop.retr(2)
        compare(t, "poplib APOP: RETR 2 intact", joined(lines), seeded[1][1])
        pop.quit()

        pop = poplib.POP3("127.0.0.1", srv.port, timeout=20)
        try:
            pop.apop(USER, "wrong")
            t.ok(False, "poplib: APOP with a wrong secret is refused")
        except poplib.error_proto:
            t.ok(True, "poplib: APOP with a wrong secret is refused")
        pop.close()
        digest = hashlib.md5(stamp.group(0) + PASSWORD.encode()).hexdigest()
        c = srv.client()
        t.ok(c.cmd(f"APOP {USER} {digest}").startswith("-ERR"),
             "APOP: the digest of an old time stamp is refused")
        c.close()
    finally:
        srv.cleanup()


def tls():
    cert = Tls()
    try:
        if not cert.ok:
            t.skip("poplib stls()", cert.reason)
            t.skip("poplib POP3_SSL", cert.reason)
            return
        ctx = insecure()
        srv = tls_server(cert)
        try:
            md, seeded = seed(srv)
            pop = poplib.POP3("127.0.0.1", srv.port, timeout=20)
            t.ok("STLS" in pop.capa(), "poplib: CAPA lists STLS")
            t.ok(pop.stls(ctx).startswith(b"+OK"), "poplib: stls()")
            session("STLS", pop, md, seeded)
            pop.quit()
            pop = poplib.POP3_SSL("127.0.0.1", srv.tls_port, context=ctx,
                                  timeout=20)
            session("POP3_SSL", pop, md, seeded)
            pop.quit()
            t.eq(len(bases(md)), len(seeded), "poplib TLS: every message "
                 "stays")
        finally:
            srv.cleanup()
    finally:
        cert.cleanup()


def insecure():
    """A client TLS context that takes the self-signed certificate."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def readline(sock, buf):
    """One CRLF line from sock after buf; returns (line, rest)."""
    while b"\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    return buf.split(b"\r\n", 1)


def converse(port, data, multi, timeout=5, tls=None):
    """Sends data in one write (over implicit TLS when tls is "implicit",
    after STLS when it is "stls"), reads until the server closes, and
    splits what came into replies: multi[i] says whether reply i is
    multi-line when it is +OK.  Returns (replies, transcript); a reply is
    (status line, body bytes un-stuffed with CRLF line ends, or None)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if tls == "implicit":
        sock = insecure().wrap_socket(sock)
    greeting, buf = readline(sock, b"")
    if tls == "stls":
        sock.sendall(b"STLS\r\n")
        line, buf = readline(sock, buf)
        if not line.startswith(b"+OK") or buf:
            sock.close()
            return [], f"STLS answered {line!r}, then {buf!r}"
        sock = insecure().wrap_socket(sock)
    sock.sendall(data)
    raw = b""
    try:
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            raw += chunk
    except OSError:
        pass
    sock.close()
    buf += raw
    replies = []
    for m in multi:
        if b"\r\n" not in buf:
            break
        line, buf = buf.split(b"\r\n", 1)
        body = None
        if m and line.startswith(b"+OK"):
            end = buf.find(b"\r\n.\r\n")
            if buf.startswith(b".\r\n"):
                body, buf = b"", buf[3:]
            elif end < 0:
                replies.append((line.decode("latin-1"), None))
                break
            else:
                body = re.sub(rb"(?m)^\.", b"", buf[:end + 2])
                buf = buf[end + 5:]
        replies.append((line.decode("latin-1"), body))
    shown = (greeting.decode("latin-1") + "\n" + raw[:600].decode("latin-1") +
             ("..." if len(raw) > 600 else ""))
    return replies, shown


def pipeline(tag, srv, port, tls=None):
    """A whole session in one write; every reply must come, in order."""
    md, seeded = seed(srv)
    names = [n for n, _ in seeded]
    sizes = [len(crlf(m)) for _, m in seeded]
    cmds = [("CAPA", True), (f"USER {USER}", False),
            (f"PASS {PASSWORD}", False), ("STAT", False), ("LIST", True),
            ("RETR 6", True), ("RETR 2", True), ("UIDL 2", False),
            ("TOP 4 1", True), ("DELE 2", False), ("NOOP", False),
            ("RETR 2", True), ("LIST 4", False), ("QUIT", False)]
    replies, shown = converse(
        port, "".join(c + "\r\n" for c, _ in cmds).encode(),
        [m for _, m in cmds], tls=tls)
    if not t.ok(len(replies) == len(cmds), f"{tag}: a reply to every "
                "command sent in one write",
                f"{len(replies)} replies of {len(cmds)}\n{shown}"):
        replies += [("", None)] * (len(cmds) - len(replies))
    r = dict(zip(range(len(cmds)), replies))
    for i in (0, 1, 2, 9, 10, 13):
        t.ok(r[i][0].startswith("+OK"), f"{tag}: {cmds[i][0]}", r[i][0])
    t.eq(r[3][0], f"+OK {len(seeded)} {sum(sizes)}", f"{tag}: STAT")
    t.eq(r[4][1], b"".join(b"%d %d\r\n" % (i, s)
                           for i, s in enumerate(sizes, 1)),
         f"{tag}: LIST listing")
    compare(t, f"{tag}: RETR 6 (5 MiB) intact", r[5][1] or b"",
            seeded[5][1])
    compare(t, f"{tag}: RETR 2 intact", r[6][1] or b"", seeded[1][1])
    t.ok(re.match(r"\+OK 2 \S+$", r[7][0]), f"{tag}: UIDL 2", r[7][0])
    t.eq(r[8][1], crlf(seeded[3][1].split(b"\n\n")[0] +
                       b"\n\nfirst line\n"), f"{tag}: TOP 4 1")
    t.ok(r[11][0].startswith("-ERR"), f"{tag}: RETR 2 after DELE 2 is "
         "refused", r[11][0])
    t.eq(r[12][0], f"+OK 4 {sizes[3]}", f"{tag}: LIST 4")
    t.eq(bases(md), names[:1] + names[2:], f"{tag}: QUIT removed message "
         "2")


def pipelined():
    with Server() as srv:
        pipeline("pipelined", srv, srv.port)
        n = 2000
        replies, shown = converse(
            srv.port, (f"USER {USER}\r\nPASS {PASSWORD}\r\n" +
                       "NOOP\r\n" * n + "QUIT\r\n").encode(),
            [False] * (n + 3))
        t.ok(len(replies) == n + 3 and
             all(line.startswith("+OK") for line, _ in replies),
             f"pipelined: {n} NOOPs after USER and PASS in one write all "
             "answered +OK", f"{len(replies)} replies of {n + 3}\n{shown}")


def pipelined_tls():
    cert = Tls()
    try:
        if not cert.ok:
            t.skip("pipelined over implicit TLS", cert.reason)
            t.skip("pipelined after STLS", cert.reason)
            return
        for tag, how in (("pipelined TLS", "implicit"),
                         ("pipelined STLS", "stls")):
            srv = tls_server(cert)
            try:
                pipeline(tag, srv, srv.tls_port if how == "implicit"
                         else srv.port, how)
            finally:
                srv.cleanup()
    finally:
        cert.cleanup()


def guarded(part):
    """Runs one part; an exception from poplib or the socket is a
    failure of that part, and the other parts still run."""
    try:
        part()
    except (OSError, EOFError, poplib.error_proto, ssl.SSLError) as e:
        t.ok(False, f"poplib: {part.__name__} ran to its end",
             f"{type(e).__name__}: {e}")


for part in (plain, apop, tls, pipelined, pipelined_tls):
    guarded(part)
t.done()
