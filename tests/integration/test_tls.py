#!/usr/bin/env python3
"""test_tls.py: TLS end to end against the real build/posternd, with
self-signed certificates made by the openssl command.

STLS (RFC 2595) on the plain listener and implicit TLS (RFC 8314) on a
tls = true listener, with Python's ssl module and with curl; the rules
around STLS (twice, after login, a failed handshake, clear text pipelined
after it, CAPA); TLS 1.1 refused; the configuration checks; and SIGHUP
reloading the certificate, or keeping the old one when the new one is
broken.
"""
import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import (POSTERND, Client, Server, Tap, crlf, put,  # noqa: E402
                     read_to_end)

t = Tap()
# TLS 1.0 and 1.1 are deprecated: that is what the test checks.
warnings.filterwarnings("ignore", category=DeprecationWarning)

TLS_LISTEN = ('listen { protocol = "pop3" address = "127.0.0.1" port = 0 '
              'tls = true }\n')
# A message of several TLS records: bare LFs, lines that start with dots.
BIG = "Subject: big\n\n" + "".join(
    (f".dot line {i}\n" if i % 5 == 0 else f"body line {i} " + "x" * 60 +
     "\n") for i in range(6000))
SMALL = "From: a@example.org\nSubject: small\n\n.\n..two\nend"


def stuffed(data):
    """The octets RETR sends for a message, terminator included."""
    out = crlf(data)
    out = re.sub(rb"(?m)^\.", b"..", out)
    return out + b".\r\n"


def mkcert(dirname, name, cn="localhost"):
    """A self-signed certificate and key: (cert path, key path)."""
    crt = os.path.join(dirname, name + ".crt")
    key = os.path.join(dirname, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=" + cn, "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", crt],
                   check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return crt, key


def fingerprint(crt):
    """SHA-256 of a PEM certificate's DER form."""
    der = subprocess.run(["openssl", "x509", "-in", crt, "-outform", "DER"],
                         check=True, stdout=subprocess.PIPE).stdout
    return hashlib.sha256(der).hexdigest()


def client_ctx(maxv=None, minv=None, ciphers=None):
    """A client context that trusts any certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if ciphers:
        ctx.set_ciphers(ciphers)
    if minv:
        ctx.minimum_version = minv
    if maxv:
        ctx.maximum_version = maxv
    return ctx


class TlsServer(Server):
    """A posternd with tls_cert and tls_key set, a plain POP3 listener
    (STLS) and, with implicit, a tls = true one."""

    def __init__(self, crt, key, implicit=True, settings=None, **kw):
        s = dict(tls_cert=crt, tls_key=key)
        s.update(settings or {})
        super().__init__(settings=s, **kw)
        self.write_conf(TLS_LISTEN if implicit else "")
        self.implicit = implicit
        self.tls_port = None

    def start(self):
        super().start()
        if self.implicit:
            line = self.wait_log(r"listening on 127\.0\.0\.1:\d+ \(pop3\) "
                                 r"with TLS")
            if line is None:
                self.stop()
                raise RuntimeError("no TLS listener:\n" +
                                   "\n".join(self.log))
            self.tls_port = int(re.search(r":(\d+) \(pop3\) with TLS",
                                          line).group(1))
        return self

    def plain_port(self):
        for line in self.log:
            m = re.search(r"listening on 127\.0\.0\.1:(\d+) \(pop3\)$", line)
            if m:
                return int(m.group(1))
        return self.port


class TlsClient(Client):
    """Client whose socket can turn into TLS, or starts as TLS."""

    def __init__(self, port, implicit=False, ctx=None):
        self.ctx = ctx or client_ctx()
        if not implicit:
            super().__init__(port)
            return
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock = self.ctx.wrap_socket(raw, server_hostname="localhost")
        self.buf = b""
        self.greeting = self.line()

    def starttls(self):
        """STLS; returns its reply, and the handshake is done on +OK."""
        r = self.cmd("STLS")
        if r.startswith("+OK"):
            assert self.buf == b"", "data after the STLS reply"
            self.sock = self.ctx.wrap_socket(self.sock,
                                             server_hostname="localhost")
        return r

    def capa(self):
        r = self.cmd("CAPA")
        return r, self.multi().decode().split("\r\n")[:-1]

    def peer_fingerprint(self):
        return hashlib.sha256(self.sock.getpeercert(True)).hexdigest()


def stls_session(crt, key):
    with TlsServer(crt, key, implicit=False) as srv:
        md = srv.maildir("alice")
        put(md, "1000000001.M1P1.test", BIG)
        put(md, "1000000002.M2P2.test", SMALL)
        srv.own()
        c = TlsClient(srv.port)
        r, caps = c.capa()
        t.ok("STLS" in caps, "CAPA lists STLS before TLS", caps)
        t.eq(c.starttls(), "+OK Begin TLS negotiation", "STLS accepted")
        t.ok(c.sock.version() in ("TLSv1.2", "TLSv1.3"),
             "TLS 1.2 or 1.3 negotiated", c.sock.version())
        t.eq(c.peer_fingerprint(), fingerprint(crt),
             "the configured certificate is served")
        r, caps = c.capa()
        t.ok("STLS" not in caps and "USER" in caps,
             "CAPA over TLS: USER, no STLS", caps)
        t.eq(c.cmd("STLS"), "-ERR TLS is already active",
             "STLS twice is refused")
        t.eq(c.login(), ("+OK send PASS",
                         f"+OK maildrop has 2 messages "
                         f"({len(crlf(BIG)) + len(crlf(SMALL))} octets)"),
             "login over TLS")
        t.eq(c.cmd("RETR 1"), f"+OK {len(crlf(BIG))} octets", "RETR 1")
        t.eq(c.raw_until_dot(), stuffed(BIG),
             "RETR 1 over TLS is byte-exact (several TLS records)")
        c.send("RETR 2\r\nNOOP\r\n")
        t.eq(c.line(), f"+OK {len(crlf(SMALL))} octets", "pipelined RETR 2")
        t.eq(c.raw_until_dot(), stuffed(SMALL), "RETR 2 byte-exact")
        t.eq(c.line(), "+OK", "pipelined NOOP")
        t.eq(c.cmd("STLS"), "-ERR STLS is not valid after login",
             "STLS after login is refused")
        t.ok(c.cmd("QUIT").startswith("+OK"), "QUIT over TLS")
        t.ok(c.closed(), "server closes after QUIT")
        t.ok(srv.wait_log(r"tls: rip=127\.0\.0\.1 proto=pop3 TLSv1\.[23] ")
             is not None, "the TLS version and cipher are logged")
        t.ok(srv.wait_log(r"logout: user=<alice> .*retr=2/") is not None,
             "the session over TLS logs out normally")

        # Logged in in the clear (loopback), STLS is no longer valid.
        c = TlsClient(srv.port)
        c.login()
        t.eq(c.cmd("STLS"), "-ERR STLS is not valid after login",
             "STLS after a clear-text login is refused")
        c.cmd("QUIT")
        c.close()


def stls_injection(crt, key):
    """CVE-2011-0411: commands pipelined after STLS in the clear are
    dropped, not run after the handshake."""
    with TlsServer(crt, key, implicit=False) as srv:
        srv.own()
        c = TlsClient(srv.port)
        inject = "USER alice\r\nPASS wonderland\r\n"
        c.send("STLS\r\n" + inject)
        t.eq(c.line(), "+OK Begin TLS negotiation", "STLS with a tail")
        c.sock = c.ctx.wrap_socket(c.sock, server_hostname="localhost")
        t.eq(c.cmd("STAT"), "-ERR STAT is not valid before login",
             "the injected USER/PASS were not run")
        t.eq(c.cmd("PASS wonderland"), "-ERR send USER first",
             "the injected USER was forgotten")
        t.ok(srv.wait_log(rf"tls: rip=127\.0\.0\.1 proto=pop3: dropped "
                          rf"{len(inject)} octets sent in the clear")
             is not None, "the dropped clear text is logged")
        t.ok(srv.wait_log(r"login: user=<alice>", timeout=0.5) is None,
             "no login happened")
        c.cmd("QUIT")
        c.close()

        # USER given in the clear before STLS is forgotten too.
        c = TlsClient(srv.port)
        t.eq(c.cmd("USER alice"), "+OK send PASS", "USER in the clear")
        c.starttls()
        t.eq(c.cmd("PASS wonderland"), "-ERR send USER first",
             "STLS forgets the USER given before it")
        c.cmd("QUIT")
        c.close()


def stls_failures(crt, key):
    with TlsServer(crt, key, implicit=True) as srv:
        c = TlsClient(srv.port)
        t.eq(c.cmd("STLS"), "+OK Begin TLS negotiation", "STLS")
        c.send("this is not a TLS ClientHello\r\nUSER alice\r\n")
        got, closed = read_to_end(c.sock, 5)
        t.ok(closed, "a failed STLS handshake ends the session")
        t.ok(b"-ERR" not in got and b"+OK" not in got,
             "nothing is answered in the clear after it", got)
        t.ok(srv.wait_log(r"tls: rip=127\.0\.0\.1 proto=pop3 handshake "
                          r"failed: ") is not None,
             "the failed handshake is logged with its reason")

        c = TlsClient(srv.port)
        t.eq(c.cmd("STLS extra"), "-ERR STLS takes no argument",
             "STLS with an argument is refused")
        c.close()

        # Implicit TLS: garbage instead of a ClientHello, no greeting.
        s = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=10)
        s.sendall(b"USER alice\r\n")
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        t.ok(b"+OK" not in data, "no greeting in the clear on the TLS "
             "listener", data)
        s.close()
        t.ok(srv.wait_log(r"tls: rip=127\.0\.0\.1 proto=pop3 handshake "
                          r"failed: .*") is not None,
             "the failed implicit handshake is logged")

    # Without tls_cert: no STLS anywhere.
    with Server() as srv:
        c = TlsClient(srv.port)
        r, caps = c.capa()
        t.ok("STLS" not in caps, "no STLS in CAPA without TLS", caps)
        t.eq(c.cmd("STLS"), "-ERR STLS is not available: TLS is not "
             "configured", "STLS without TLS configured is refused")
        c.cmd("QUIT")
        c.close()


def implicit_tls(crt, key):
    with TlsServer(crt, key) as srv:
        md = srv.maildir("alice")
        put(md, "1000000001.M1P1.test", BIG)
        srv.own()
        c = TlsClient(srv.tls_port, implicit=True)
        t.eq(c.greeting[:3], "+OK", "POP3S greeting over TLS")
        r, caps = c.capa()
        t.ok("STLS" not in caps and "USER" in caps,
             "POP3S CAPA: USER, no STLS", caps)
        t.eq(c.cmd("STLS"), "-ERR TLS is already active",
             "STLS on POP3S is refused")
        r1, r2 = c.login()
        t.ok(r2.startswith("+OK maildrop has 1 messages"),
             "login over POP3S", r2)
        t.eq(c.cmd("RETR 1"), f"+OK {len(crlf(BIG))} octets", "RETR")
        t.eq(c.raw_until_dot(), stuffed(BIG), "POP3S RETR is byte-exact")
        t.ok(c.cmd("QUIT").startswith("+OK"), "QUIT over POP3S")
        c.close()

        # TLS 1.2 alone is accepted; TLS 1.1 is refused by the server.
        c = TlsClient(srv.tls_port, implicit=True,
                      ctx=client_ctx(maxv=ssl.TLSVersion.TLSv1_2))
        t.eq(c.sock.version(), "TLSv1.2", "a TLS 1.2 client is served")
        c.cmd("QUIT")
        c.close()
        old = client_ctx(minv=ssl.TLSVersion.TLSv1,
                         maxv=ssl.TLSVersion.TLSv1_1,
                         ciphers="DEFAULT:@SECLEVEL=0")
        why = None
        try:
            TlsClient(srv.tls_port, implicit=True, ctx=old)
        except ssl.SSLError as e:
            why = e
        t.ok(why is not None and why.reason in
             ("TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL"),
             "TLS 1.1 is refused by the server (protocol version alert)",
             repr(why))

        # plaintext_auth = never does not matter over POP3S.
    with TlsServer(crt, key, settings={"plaintext_auth": "never"}) as srv:
        srv.own()
        c = TlsClient(srv.port)
        r, caps = c.capa()
        t.ok("USER" not in caps and "STLS" in caps,
             "plaintext_auth never: CAPA offers STLS, not USER", caps)
        t.eq(c.cmd("USER alice"), "-ERR [AUTH] plaintext authentication "
             "disallowed without TLS: use STLS first",
             "USER in the clear points to STLS")
        c.starttls()
        t.eq(c.login(), ("+OK send PASS",
                         "+OK maildrop has 0 messages (0 octets)"),
             "after STLS the login works")
        c.cmd("QUIT")
        c.close()
        c = TlsClient(srv.tls_port, implicit=True)
        t.eq(c.login()[1], "+OK maildrop has 0 messages (0 octets)",
             "plaintext_auth never: login over POP3S works")
        c.cmd("QUIT")
        c.close()


def with_curl(crt, key):
    if shutil.which("curl") is None:
        for name in ("curl STLS list", "curl STLS retrieve",
                     "curl pop3s list", "curl pop3s retrieve"):
            t.skip(name, "no curl")
        return
    with TlsServer(crt, key) as srv:
        md = srv.maildir("alice")
        put(md, "1000000001.M1P1.test", SMALL)
        srv.own()
        size = len(crlf(SMALL))
        base = ["curl", "-s", "-S", "--max-time", "20", "-k"]
        for url, extra, what in (
                (f"pop3://alice:wonderland@127.0.0.1:{srv.port}/",
                 ["--ssl-reqd"], "curl STLS"),
                (f"pop3s://alice:wonderland@127.0.0.1:{srv.tls_port}/",
                 [], "curl pop3s")):
            r = subprocess.run(base + extra + [url], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
            t.eq((r.returncode, r.stdout), (0, f"1 {size}\r\n".encode()),
                 what + " list")
            r = subprocess.run(base + extra + [url + "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            want = crlf(SMALL).replace(b"\r\n..two", b"\r\n.two")
            t.ok(r.returncode == 0 and r.stdout.replace(b"\r\n", b"\n") in
                 (want.replace(b"\r\n", b"\n"),
                  crlf(SMALL).replace(b"\r\n", b"\n")),
                 what + " retrieve", r.stdout + r.stderr)


def config_checks(d, crt, key):
    conf = os.path.join(d, "check.conf")

    def check(text):
        with open(conf, "w") as f:
            f.write(text)
        return subprocess.run([POSTERND, "-n", "-c", conf],
                              stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)

    sample = os.path.join(os.path.dirname(__file__), "..", "..", "contrib",
                          "postern.conf")
    with open(sample) as f:
        text = f.read().replace("/etc/postern/fullchain.pem", crt)
        text = text.replace("/etc/postern/privkey.pem", key)
    r = check(text)
    t.ok(r.returncode == 0 and "mail_user = \"vmail\"" in r.stdout,
         "contrib/postern.conf, the sample, is a valid configuration",
         r.stderr)
    base = f'passwd_file = "{d}/passwd"\npidfile = ""\n'
    r = check(base + 'listen { protocol = "pop3" port = 0 }\n'
              'listen { protocol = "pop3" port = 0 tls = true }\n'
              'workers = 2\n')
    t.ok(r.returncode != 0 and re.search(r"check\.conf:4: .*tls", r.stderr),
         "tls = true without tls_cert: file:line error", r.stderr)
    r = check(base + f'tls_cert = "{crt}"\n'
              'listen { protocol = "pop3" port = 0 }\n')
    t.ok(r.returncode != 0 and "tls_key" in r.stderr,
         "tls_cert without tls_key is an error", r.stderr)
    other_crt, other_key = mkcert(d, "other")
    r = check(base + f'tls_cert = "{crt}"\ntls_key = "{other_key}"\n'
              'listen { protocol = "pop3" port = 0 tls = true }\n')
    t.ok(r.returncode != 0 and "TLS" in r.stderr,
         "posternd -n: a key that does not match is an error", r.stderr)
    r = check(base + f'tls_cert = "{d}/missing.crt"\ntls_key = "{key}"\n'
              'listen { protocol = "pop3" port = 0 }\n')
    t.ok(r.returncode != 0 and "missing.crt" in r.stderr,
         "posternd -n: a missing certificate is an error", r.stderr)
    # The key is read after the certificate: its error names it.
    missing = os.path.join(d, "missing.key")
    r = check(base + f'tls_cert = "{crt}"\ntls_key = "{missing}"\n'
              'listen { protocol = "pop3" port = 0 }\n')
    t.eq((r.returncode, r.stdout, r.stderr),
         (1, "", f"{conf}: TLS: tls_key {missing}: failed to open key "
          f"file '{missing}': No such file or directory\n"),
         "posternd -n: a missing key is an error that names it")
    r = check(base + f'tls_cert = "{crt}"\ntls_key = "{key}"\n'
              'tls_ciphers = "NOT-A-CIPHER"\n'
              'listen { protocol = "pop3" port = 0 }\n')
    t.ok(r.returncode != 0 and "tls_ciphers" in r.stderr,
         "posternd -n: a bad cipher list is an error", r.stderr)
    r = check(base + f'tls_cert = "{crt}"\ntls_key = "{key}"\n'
              'tls_prefer_client_ciphers = true\n'
              'listen { protocol = "pop3" port = 0 tls = true }\n')
    t.ok(r.returncode == 0 and "tls = true" in r.stdout and
         "tls_prefer_client_ciphers = true" in r.stdout and
         'tls_ciphers = "secure"' in r.stdout,
         "posternd -n accepts and prints the TLS settings",
         r.stdout + r.stderr)


def reload(d):
    crt, key = mkcert(d, "live")
    first = fingerprint(crt)
    with TlsServer(crt, key, workers=2) as srv:
        srv.own()
        c = TlsClient(srv.tls_port, implicit=True)
        t.eq(c.peer_fingerprint(), first, "before SIGHUP: the first cert")
        t.ok(c.login()[1].startswith("+OK"), "a session open over SIGHUP")

        # A new valid certificate and key, in place.
        new_crt, new_key = mkcert(d, "next")
        second = fingerprint(new_crt)
        shutil.copy(new_key, key)
        shutil.copy(new_crt, crt)
        srv.proc.send_signal(signal.SIGHUP)
        t.ok(srv.wait_log(r"TLS: reloaded ") is not None,
             "SIGHUP reloads the certificate", "\n".join(srv.log))
        seen = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            n = TlsClient(srv.tls_port, implicit=True)
            seen = n.peer_fingerprint()
            n.cmd("QUIT")
            n.close()
            if seen == second:
                break
            time.sleep(0.1)
        t.eq(seen, second, "after SIGHUP new connections get the new cert")
        t.eq(c.cmd("NOOP"), "+OK",
             "the session opened before SIGHUP goes on")
        c.cmd("QUIT")
        c.close()

        # A broken certificate: the one in use stays.
        with open(crt, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nbroken\n"
                    "-----END CERTIFICATE-----\n")
        srv.proc.send_signal(signal.SIGHUP)
        t.ok(srv.wait_log(r"TLS reload failed, keeping the certificate in "
                          r"use: .*live\.crt") is not None,
             "a broken certificate at SIGHUP is logged with the reason",
             "\n".join(srv.log[-5:]))
        n = TlsClient(srv.tls_port, implicit=True)
        t.eq(n.peer_fingerprint(), second,
             "the certificate in use is kept")
        t.ok(n.login()[1].startswith("+OK"), "and logins go on")
        n.cmd("QUIT")
        n.close()
        t.ok(srv.proc.poll() is None, "posternd still runs")


def main():
    if shutil.which("openssl") is None:
        t.skip("TLS tests", "no openssl command")
        t.done()
    d = tempfile.mkdtemp(prefix="postern-tls-")
    os.chmod(d, 0o755)
    try:
        crt, key = mkcert(d, "server")
        stls_session(crt, key)
        stls_injection(crt, key)
        stls_failures(crt, key)
        implicit_tls(crt, key)
        with_curl(crt, key)
        config_checks(d, crt, key)
        reload(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    t.done()


main()
