#!/usr/bin/env python3
"""test_proxy.py: the PROXY protocol in the real posternd, with headers
written by hand (tests/interop/test_haproxy.py puts a real HAProxy in
front).

posternd -n checks the new settings; on a listener with proxy = true a
v1 or v2 header gives the session the client's address, which decides
the plaintext policy and fills the log lines; a LOCAL header keeps the
connection's own; input sent right after the header is served; a peer
outside proxy_trusted_networks, or one that sends no header, is closed
without a word.
"""
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import POSTERND, Server, Tap  # noqa: E402

t = Tap()
SIG = b"\r\n\r\n\x00\r\nQUIT\n"
PROXY_LISTEN = ('listen { protocol = "pop3" address = "127.0.0.1" '
                'port = 0 proxy = true }\n')


def v2(src, sport, dst, dport, cmd=0x21):
    """A v2 PROXY header for TCP over IPv4."""
    body = socket.inet_aton(src) + socket.inet_aton(dst) + \
        struct.pack("!HH", sport, dport)
    return SIG + bytes([cmd, 0x11]) + struct.pack("!H", len(body)) + body


def check(text):
    """posternd -n on a configuration; returns (status, stdout, stderr)."""
    d = tempfile.mkdtemp(prefix="postern-proxy-conf-")
    path = os.path.join(d, "postern.conf")
    with open(path, "w") as f:
        f.write('passwd_file = "/nonexistent"\n' + text)
    p = subprocess.run([POSTERND, "-n", "-c", path], capture_output=True,
                       text=True, timeout=30)
    os.unlink(path)
    os.rmdir(d)
    return p.returncode, p.stdout, p.stderr


def config():
    rc, out, err = check('proxy_trusted_networks = "127.0.0.0/8, ::1/128"\n'
                         "proxy_timeout = 5\n" + PROXY_LISTEN)
    t.eq(rc, 0, "-n accepts proxy settings")
    t.ok('proxy_trusted_networks = "127.0.0.0/8, ::1/128"' in out and
         "proxy_timeout = 5" in out and "\tproxy = true" in out,
         "-n prints them", out)
    rc, out, err = check('listen { protocol = "pop3" port = 0 }\n')
    t.ok(rc == 0 and "proxy_timeout = 3" in out and
         'proxy_trusted_networks = ""' in out and "proxy = true" not in out,
         "the defaults: 3 s, no trusted network, no proxy listener", out)
    bad = [
        ('proxy_trusted_networks = "10.1.2.3/8"\n' + PROXY_LISTEN,
         r":2: proxy_trusted_networks: \"10\.1\.2\.3/8\" has address bits "
         r"set past its prefix length"),
        ('proxy_trusted_networks = "127.0.0.0/8 localhost"\n' + PROXY_LISTEN,
         r"\"localhost\" is not an IPv4 or IPv6 address"),
        ('proxy_trusted_networks = "::/200"\n' + PROXY_LISTEN,
         r"prefix length must be 0 to 128"),
        (PROXY_LISTEN,
         r":2: a listen section with proxy = true needs "
         r"proxy_trusted_networks"),
        ('proxy_trusted_networks = "127.0.0.1"\nproxy_timeout = 2\n' +
         PROXY_LISTEN, r":3: proxy_timeout must be from 3 to 60, not 2"),
    ]
    for text, want in bad:
        rc, out, err = check(text)
        t.ok(rc == 1 and re.search(want, err), f"-n refuses: {want}",
             f"status {rc}, stderr: {err}")


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=10)


class Raw:
    """A POP3 client that sends a header first."""

    def __init__(self, port, header, first=b""):
        self.sock = connect(port)
        self.port = self.sock.getsockname()[1]
        self.sock.sendall(header + first)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                return self.buf.decode("latin-1")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("latin-1")

    def cmd(self, line):
        self.sock.sendall(line.encode() + b"\r\n")
        return self.line()

    def eof(self):
        """Whether the server closes having sent nothing."""
        data = b""
        try:
            while True:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
        return data == b"" and self.buf == b""

    def close(self):
        self.sock.close()


def proxy_ports(srv):
    return [int(m.group(1)) for m in
            (re.search(r"listening on 127\.0\.0\.1:(\d+) \(pop3\)", ln)
             for ln in list(srv.log)) if m][1:]


def sessions():
    srv = Server(settings={"proxy_trusted_networks": "127.0.0.0/8"})
    srv.write_conf(PROXY_LISTEN)
    with srv:
        port = proxy_ports(srv)[0]

        # A client off loopback, through the proxy: no password in the
        # clear, though the proxy's own connection is on loopback.
        c = Raw(port, b"PROXY TCP4 192.0.2.7 127.0.0.1 40001 110\r\n")
        t.ok(c.line().startswith("+OK"), "v1: the greeting follows the "
             "header")
        r = c.cmd("USER alice")
        t.ok(r.startswith("-ERR [AUTH] plaintext"), "v1: a client off "
             "loopback may not send its password in the clear", r)
        c.cmd("QUIT")
        c.close()
        t.ok(srv.wait_log(r"rip=192\.0\.2\.7 rport=40001 lip=127\.0\.0\.1 "
                          r"lport=110 via 127\.0\.0\.1:\d+ \(v1\)"),
             "v1: the log names the client and the proxy")

        # A loopback client through v2, with its first command in the
        # same segment as the header.
        c = Raw(port, v2("127.0.0.9", 40002, "127.0.0.1", 110),
                b"USER alice\r\n")
        t.ok(c.line().startswith("+OK"), "v2: the greeting")
        t.ok(c.line().startswith("+OK"), "v2: the command sent with the "
             "header is answered: nothing past the header was lost")
        t.ok(c.cmd("PASS wonderland").startswith("+OK"), "v2: logs in")
        c.cmd("QUIT")
        c.close()
        t.ok(srv.wait_log(r"login: user=<alice> rip=127\.0\.0\.9 "
                          r"proto=pop3"),
             "v2: the login line names the client's address")

        # LOCAL: a health check, served as the connection it is.
        c = Raw(port, v2("0.0.0.0", 0, "0.0.0.0", 0, cmd=0x20))
        t.ok(c.line().startswith("+OK") and
             c.cmd("USER bob").startswith("+OK") and
             c.cmd("PASS builder").startswith("+OK"),
             "v2 LOCAL: served with the connection's own addresses")
        c.cmd("QUIT")
        c.close()
        t.ok(srv.wait_log(r"login: user=<bob> rip=127\.0\.0\.1 "),
             "v2 LOCAL: logged with the connection's own address")

        # Malformed: a v2 signature with version 1.
        bad = bytearray(v2("192.0.2.7", 1, "127.0.0.1", 110))
        bad[12] = 0x11
        c = Raw(port, bytes(bad))
        t.ok(c.eof(), "a bad version is closed without a word")
        c.close()
        t.ok(srv.wait_log(r"refused: v2 header with a version other "
                          r"than 2"), "and logged")

        # No header: closed at once without a greeting.
        c = Raw(port, b"", b"CAPA\r\n")
        t.ok(c.eof(), "a client without a header gets no greeting")
        c.close()

        # The plain listener takes no header.
        c = srv.client()
        t.ok(c.greeting.startswith("+OK"), "the plain listener greets "
             "at once")
        c.close()

    srv = Server(settings={"proxy_trusted_networks": "192.0.2.0/24 ::1"})
    srv.write_conf(PROXY_LISTEN)
    with srv:
        port = proxy_ports(srv)[0]
        c = Raw(port, b"PROXY TCP4 192.0.2.7 127.0.0.1 40001 110\r\n")
        t.ok(c.eof(), "a peer outside proxy_trusted_networks is closed "
             "without a word, however good its header")
        c.close()
        t.ok(srv.wait_log(r"rip=127\.0\.0\.1: not in "
                          r"proxy_trusted_networks, closed"), "and logged")


config()
sessions()
t.done()
