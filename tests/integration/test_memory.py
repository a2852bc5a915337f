#!/usr/bin/env python3
"""test_memory.py: memory stays bounded however large a message is.

A 64 MiB message is read over every protocol that sends mail (POP3 RETR
and TOP, RFC 918 POP's RCEV, PAPM's READ, MRP's FETCH) and taken in by
every way that delivers it (LMTP, PAPM's push, postern deliver).  Each
arrives whole, and the peak resident memory (VmHWM) of every process of
posternd, and that of postern deliver, stays far below the message's
size: messages are streamed, never read whole into memory.  SKIPped
under AddressSanitizer, whose quarantine keeps freed memory.
"""
import hashlib
import os
import re
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import POSTERN, Server, Tap, files, sanitized  # noqa: E402

t = Tap()

BIG = 64 << 20
PEAK_MAX = 24 << 10             # kB: far below the message's 64 MiB
USER, PASSWORD = "bigbox01", "password1"
LINE = b"x" * 70 + b"\n"
HEAD = b"From: a@example.org\nSubject: big\n\n"
MESSAGE = HEAD + LINE * ((BIG - len(HEAD)) // len(LINE))


def tree(srv):
    """The pids of posternd's master and all its descendants."""
    out, todo = [], [srv.proc.pid]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(srv.children(pid))
    return out


def peaks(srv):
    """{pid: (title, VmHWM in kB)} of posternd's processes."""
    out = {}
    for pid in tree(srv):
        try:
            with open(f"/proc/{pid}/status") as f:
                m = re.search(r"VmHWM:\s+(\d+) kB", f.read())
        except OSError:
            continue
        if m:
            out[pid] = (Server.title(pid), int(m.group(1)))
    return out


def check_peak(srv, what):
    """While the session of what is still open (a process that serves
    one session exits after it)."""
    got = peaks(srv)
    top = max(kb for _, kb in got.values())
    t.ok(top < PEAK_MAX, f"{what}: every process of posternd peaks "
         f"below {PEAK_MAX >> 10} MiB", "\n".join(
             f"{pid} {title}: VmHWM {kb} kB"
             for pid, (title, kb) in sorted(got.items())))


class Conn:
    """A raw connection: lines, and bodies streamed through a hash."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=60)
        self.buf = b""

    def fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("latin-1")

    def cmd(self, line):
        self.sock.sendall(line.encode() + b"\r\n")
        return self.line()

    def take(self, n):
        """The next n octets."""
        out = bytearray(self.buf[:n])
        self.buf = self.buf[n:]
        while len(out) < n:
            chunk = self.sock.recv(min(n - len(out), 1 << 20))
            if not chunk:
                raise EOFError("connection closed")
            out += chunk
        return bytes(out)

    def until_dot(self):
        """The sha256 of a dot-terminated body, un-stuffed, with CRLF
        line ends, terminator excluded."""
        body = bytearray(self.buf)
        self.buf = b""
        while not (body.startswith(b".\r\n") or body.endswith(b"\r\n.\r\n")):
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("connection closed in a body")
            body += chunk
        body = b"\r\n" + bytes(body[:-3])
        return hashlib.sha256(body.replace(b"\r\n..", b"\r\n.")[2:]) \
            .hexdigest()

    def send_body(self, data):
        """data with CRLF line ends, dot-stuffed, then "."."""
        for i in range(0, len(data), 1 << 20):
            part = data[i:i + (1 << 20)]
            self.sock.sendall(part.replace(b"\n", b"\r\n"))
        self.sock.sendall(b".\r\n")

    def close(self):
        self.sock.close()


def crlf_sha(data):
    return hashlib.sha256(data.replace(b"\n", b"\r\n")).hexdigest()


def port_of(srv, proto):
    line = srv.wait_log(rf"listening on 127\.0\.0\.1:\d+ \({proto}\)")
    return int(re.search(rf":(\d+) \({proto}\)", line).group(1))


def server():
    srv = Server(users={USER: PASSWORD}, settings={
        "lmtp_max_message_size": 2147483647,
        "papm_max_message_size": 2147483647,
        "papm_helo_domains": "example.org",
        "papm_relay_command": ""})
    srv.write_conf("".join(
        f'listen {{ protocol = "{p}" address = "127.0.0.1" port = 0 }}\n'
        for p in ("pop1", "papm", "mrp", "lmtp")))
    with open(os.path.join(srv.maildir(USER), "cur",
                           "1000000001.big.test:2,"), "wb") as f:
        f.write(MESSAGE)
    return srv.start()


def finish(srv, c, what):
    """check_peak() while the session is open, then QUIT."""
    check_peak(srv, what)
    c.cmd("QUIT")
    c.close()


def logged_in(srv, proto):
    """A connection to proto's listener after its greeting, USER and
    PASS (POP3, RFC 918 POP and PAPM share them), and the reply to
    PASS."""
    c = Conn(srv.port if proto == "pop3" else port_of(srv, proto))
    c.line()
    c.cmd(f"USER {USER}")
    return c, c.cmd(f"PASS {PASSWORD}")


def pop3(srv):
    c, r = logged_in(srv, "pop3")
    t.ok(r.startswith("+OK"), "POP3 login")
    t.ok(c.cmd("RETR 1").startswith("+OK"), "POP3 RETR of 64 MiB: +OK")
    t.eq(c.until_dot(), crlf_sha(MESSAGE), "POP3 RETR: the message whole")
    t.ok(c.cmd("TOP 1 1000000").startswith("+OK"), "POP3 TOP 1 1000000")
    t.eq(c.until_dot(), crlf_sha(MESSAGE), "POP3 TOP: all of its lines")
    finish(srv, c, "POP3 RETR and TOP")


def pop1(srv):
    c, _ = logged_in(srv, "pop1")
    r = c.cmd("RETR INBOX")
    m = re.match(r"#(\d+)", r)
    t.ok(m and int(m.group(1)) > BIG, "RFC 918 RETR: #xxx counts the "
         "message", r)
    if m:
        c.sock.sendall(b"RCEV\r\n")
        t.ok(MESSAGE.replace(b"\n", b"\r\n")[-1000:] in
             c.take(int(m.group(1))), "RCEV: #xxx octets, the message's "
             "end among them")
        t.eq(c.cmd("RCVD"), "+OK", "and nothing more")
    finish(srv, c, "RFC 918 POP RCEV")


def papm_pull(srv):
    c, _ = logged_in(srv, "papm")
    t.ok(c.cmd("READ 1").startswith("+OK 1 "), "PAPM READ 1: +OK")
    t.eq(c.until_dot(), crlf_sha(MESSAGE), "PAPM READ: the message whole")
    finish(srv, c, "PAPM READ")


def mrp(srv):
    c = Conn(port_of(srv, "mrp"))
    c.line()
    c.cmd(f"LOGIN {USER} {PASSWORD}")
    c.line()                    # OK LOGIN Completed, after * TOKEN
    r = [c.cmd("SELECT")]
    while not r[-1].startswith(("OK ", "BAD ")):
        r.append(c.line())
    t.ok("* 1 EXISTS" in r, "MRP SELECT", r)
    r = c.cmd("FETCH ALL")
    m = re.match(r"\* FETCH ID \d+ SIZE (\d+)$", r)
    t.ok(m is not None, "MRP FETCH: a frame", r)
    if m:
        frame = c.take(int(m.group(1))).split(b"\r\n", 5)
        t.eq(hashlib.sha256(frame[5]).hexdigest(), crlf_sha(MESSAGE),
             "MRP FETCH: five summary lines, then the message whole")
        t.eq(c.line(), "OK FETCH Completed", "MRP FETCH completed")
    check_peak(srv, "MRP FETCH")
    c.close()


def lmtp(srv):
    c = Conn(port_of(srv, "lmtp"))
    c.line()
    c.sock.sendall(b"LHLO test\r\n")
    while not c.line().startswith("250 "):
        pass
    c.cmd("MAIL FROM:<a@example.org>")
    t.ok(c.cmd(f"RCPT TO:<{USER}>").startswith("250"), "LMTP RCPT")
    t.ok(c.cmd("DATA").startswith("354"), "LMTP DATA")
    c.send_body(MESSAGE)
    t.ok(c.line().startswith("250"), "LMTP: 64 MiB delivered")
    finish(srv, c, "LMTP DATA")


def papm_push(srv):
    c, _ = logged_in(srv, "papm")
    c.cmd("HELO example.org")
    t.eq(c.cmd(f"MAIL FROM: {USER}@example.org"), "+OK", "PAPM MAIL FROM")
    t.eq(c.cmd(f"RCPT TO: {USER}@example.org"), "+OK", "PAPM RCPT TO")
    t.eq(c.cmd("DATA"), "+OK", "PAPM DATA")
    c.send_body(MESSAGE)
    t.ok(c.line().startswith("+OK"), "PAPM push: 64 MiB delivered")
    finish(srv, c, "PAPM push")


def deliver(srv):
    """postern deliver, its peak read before it sees the end of its
    input (the peak wait4(2) reports would count this script's, which
    its child had before exec)."""
    p = subprocess.Popen([POSTERN, "deliver", "-c", srv.conf, USER],
                         stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    for i in range(0, len(MESSAGE), 1 << 20):
        p.stdin.write(MESSAGE[i:i + (1 << 20)])
    p.stdin.flush()
    with open(f"/proc/{p.pid}/status") as f:
        m = re.search(r"VmHWM:\s+(\d+) kB", f.read())
    p.stdin.close()
    err = p.stderr.read()
    t.eq(p.wait(), 0, "postern deliver of 64 MiB")
    t.ok(m and int(m.group(1)) < PEAK_MAX, f"postern deliver peaks below "
         f"{PEAK_MAX >> 10} MiB", (m and m.group(0),
                                   err.decode(errors="replace")))


def main():
    if sanitized():
        t.skip("memory bounded by message size",
               "AddressSanitizer's quarantine keeps freed memory")
        return
    srv = server()
    try:
        pop3(srv)
        pop1(srv)
        papm_pull(srv)
        mrp(srv)
        lmtp(srv)
        papm_push(srv)
        deliver(srv)
        md = srv.maildir(USER)
        sizes = sorted(os.path.getsize(os.path.join(md, f))
                       for f in files(md))
        t.ok(len(sizes) == 4 and all(s >= len(MESSAGE) for s in sizes),
             "the three deliveries are in the Maildir, whole", sizes)
    finally:
        srv.cleanup()


main()
t.done()
