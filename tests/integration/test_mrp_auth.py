#!/usr/bin/env python3
"""test_mrp_auth.py: MRP's AUTH channel, by a client written from
postern-mrp(7) alone with Python's cryptography package (Debian's
python3-cryptography).

AES/CBC and DES/CBC: key exchange, LOGIN, SELECT, FETCH, SEARCH and TOKEN
through the channel (as root with privilege separation, so the channel
moves to the session process with the login); a flipped ciphertext bit
and a replayed record end the session without effect; the ECB modes are
refused unless enabled, and work when they are; the same without
privilege separation; and MRP over an implicit-TLS listener.
"""
import base64
import hmac
import hashlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import Server, Tap, put  # noqa: E402

t = Tap()

try:
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey, X25519PublicKey)
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, \
        modes
    from cryptography.hazmat.primitives.hashes import SHA256
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from cryptography.hazmat.primitives.serialization import Encoding, \
        PublicFormat
    try:
        from cryptography.hazmat.decrepit.ciphers.algorithms import \
            TripleDES
    except ImportError:
        TripleDES = algorithms.TripleDES
except ImportError:
    t.skip("AUTH channel", "python3-cryptography is not installed")
    t.done()
    sys.exit(0)

MRP_LISTEN = 'listen { protocol = "mrp" address = "127.0.0.1" port = 0 }\n'


class Channel:
    """The record layer of postern-mrp(7), client side."""

    def __init__(self, mode, secret, cnonce, snonce):
        self.mode = mode
        okm = HKDF(algorithm=SHA256(), length=128, salt=cnonce + snonce,
                   info=b"postern-mrp-v1 " + mode.encode()).derive(secret)
        self.c2s_enc, self.c2s_mac = okm[0:32], okm[32:64]
        self.s2c_enc, self.s2c_mac = okm[64:96], okm[96:128]
        self.c2s_seq = self.s2c_seq = 0
        aes = mode.startswith("AES")
        self.block = 16 if aes else 8
        self.ivlen = 0 if mode.endswith("ECB") else self.block

    def cipher(self, key, iv):
        alg = algorithms.AES(key) if self.block == 16 else TripleDES(key[:24])
        return Cipher(alg, modes.ECB() if self.ivlen == 0 else modes.CBC(iv))

    def seal(self, plain):
        iv = os.urandom(self.ivlen)
        p = padding.PKCS7(self.block * 8).padder()
        data = p.update(plain) + p.finalize()
        e = self.cipher(self.c2s_enc, iv).encryptor()
        ct = e.update(data) + e.finalize()
        tag = hmac.new(self.c2s_mac, self.c2s_seq.to_bytes(8, "big") + iv +
                       ct, hashlib.sha256).digest()
        self.c2s_seq += 1
        return base64.b64encode(iv + ct + tag)

    def open(self, line):
        rec = base64.b64decode(line, validate=True)
        iv, ct, tag = rec[:self.ivlen], rec[self.ivlen:-32], rec[-32:]
        want = hmac.new(self.s2c_mac, self.s2c_seq.to_bytes(8, "big") + iv +
                        ct, hashlib.sha256).digest()
        if not hmac.compare_digest(want, tag):
            raise ValueError("bad tag")
        self.s2c_seq += 1
        d = self.cipher(self.s2c_enc, iv).decryptor()
        u = padding.PKCS7(self.block * 8).unpadder()
        return u.update(d.update(ct) + d.finalize()) + u.finalize()


class Client:
    """An MRP client that speaks in the clear until AUTH, then through
    the channel: the decrypted records form the reply stream."""

    def __init__(self, port, tls=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.sock = ctx.wrap_socket(self.sock)
        self.raw = b""          # octets from the socket
        self.plain = b""        # the reply stream
        self.ch = None
        self.greeting = self.line()

    def recv(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError
        self.raw += chunk

    def more(self):
        """Moves at least one more piece into the reply stream."""
        while b"\r\n" not in self.raw:
            self.recv()
        ln, self.raw = self.raw.split(b"\r\n", 1)
        self.plain += self.ch.open(ln) if self.ch else ln + b"\r\n"

    def line(self):
        while b"\r\n" not in self.plain:
            self.more()
        ln, self.plain = self.plain.split(b"\r\n", 1)
        return ln.decode("latin-1")

    def octets(self, n):
        while len(self.plain) < n:
            self.more()
        d, self.plain = self.plain[:n], self.plain[n:]
        return d

    def send_line(self, text):
        data = text.encode("latin-1") + b"\r\n"
        self.sock.sendall(self.ch.seal(data) + b"\r\n" if self.ch else data)

    def reply(self):
        out = []
        while True:
            ln = self.line()
            m = re.match(r"\* FETCH ID (\d+) SIZE (\d+)$", ln)
            if m:
                out.append((ln, self.octets(int(m.group(2)))))
                continue
            out.append(ln)
            if ln.startswith("OK ") or ln.startswith("BAD "):
                return out

    def cmd(self, text):
        self.send_line(text)
        return self.reply()

    def auth(self, mode):
        self.send_line("AUTH " + mode)
        offer = self.line()
        m = re.fullmatch(r"\* X25519 (\S+) (\S+)", offer)
        if not m:
            return [offer] + ([] if offer.startswith("BAD") else
                              self.reply())
        spub = base64.b64decode(m.group(1), validate=True)
        snonce = base64.b64decode(m.group(2), validate=True)
        key = X25519PrivateKey.generate()
        cpub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        cnonce = os.urandom(16)
        self.send_line(base64.b64encode(cpub).decode() + " " +
                       base64.b64encode(cnonce).decode())
        secret = key.exchange(X25519PublicKey.from_public_bytes(spub))
        r = self.reply()
        if r[-1] == "OK AUTH Completed":
            self.ch = Channel(mode, secret, cnonce, snonce)
        return [offer] + r

    def closed(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (socket.timeout, ConnectionResetError):
            return False


class MrpServer(Server):
    def write_conf(self, extra=""):
        super().write_conf(MRP_LISTEN + extra)

    def start(self):
        self.log = []
        self.port = None
        super().start()
        line = self.wait_log(r"listening on 127\.0\.0\.1:\d+ \(mrp\)")
        self.mrp_port = int(re.search(r":(\d+) \(mrp\)", line).group(1))
        return self


def session(srv, mode):
    """AUTH in mode, then LOGIN, SELECT, FETCH, SEARCH, all encrypted."""
    c = Client(srv.mrp_port)
    r = c.auth(mode)
    t.eq(r[1:], [f"* {mode} Encryption is established", "OK AUTH Completed"],
         f"{mode}: AUTH")
    t.eq(c.cmd("NOOP"), ["OK NOOP Completed"], f"{mode}: NOOP encrypted")
    r = c.cmd("LOGIN alice wonderland")
    t.ok(len(r) == 2 and r[0].startswith("* TOKEN ") and
         r[1] == "OK LOGIN Completed", f"{mode}: LOGIN through the channel",
         r)
    tok = r[0][8:]
    t.eq(c.cmd("SELECT")[0], "* 2 EXISTS", f"{mode}: SELECT")
    r = c.cmd("FETCH 1:2")
    t.ok(len(r) == 3 and r[1][1].endswith(b"second body\r\n") and
         r[2] == "OK FETCH Completed", f"{mode}: FETCH", r)
    t.eq(c.cmd("SEARCH BODY=[second]"), ["* SEARCH 2", "OK SEARCH Completed"],
         f"{mode}: SEARCH")
    t.eq(c.cmd("QUIT"), ["OK QUIT Completed"], f"{mode}: QUIT")
    c2 = Client(srv.mrp_port)
    c2.auth(mode)
    t.eq(c2.cmd(f"TOKEN alice {tok}"), ["OK TOKEN Completed"],
         f"{mode}: TOKEN through the channel")
    t.eq(c2.cmd("SELECT")[0], "* 2 EXISTS", f"{mode}: SELECT after TOKEN")
    return tok


srv = MrpServer(settings={"plaintext_auth": "never"})
md = srv.maildir("alice")
put(md, "1000.M1.host", "Subject: one\n\nfirst body\n")
put(md, "1001.M2.host", "Subject: two\n\nsecond body\n")
srv.start()
try:
    c = Client(srv.mrp_port)
    t.eq(c.cmd("LOGIN alice wonderland"),
         ["BAD Plaintext logins are disabled here: use TLS"],
         "plaintext_auth never: no LOGIN in the clear")
    t.eq(c.cmd("AUTH AES/ECB"), ["BAD AES/ECB is disabled: ECB shows "
                                 "patterns of the plaintext"],
         "AES/ECB is off by default")
    t.eq(c.cmd("AUTH DES/ECB"), ["BAD DES/ECB is disabled: ECB shows "
                                 "patterns of the plaintext"],
         "DES/ECB is off by default")
    c.send_line("AUTH AES/CBC")
    c.line()
    t.eq(c.cmd("not base64 at all"),
         ["BAD Syntax error: the key exchange line is a base64 X25519 key "
          "and a base64 16-octet nonce"], "a malformed key line")
    t.eq(c.cmd("NOOP"), ["OK NOOP Completed"], "still in the clear after")

    session(srv, "AES/CBC")
    tok = session(srv, "DES/CBC")     # the account's latest token

    # A flipped ciphertext bit ends the session, without effect.
    c = Client(srv.mrp_port)
    c.auth("AES/CBC")
    c.cmd(f"TOKEN alice {tok}")
    c.cmd("SELECT")
    ids = [x[0].split()[3] for x in c.cmd("FETCH ALL")[:-1]]
    rec = bytearray(base64.b64decode(c.ch.seal(
        f"CHANGE {ids[0]} DELETED\r\n".encode())))
    rec[20] ^= 0x01
    c.sock.sendall(base64.b64encode(bytes(rec)) + b"\r\n")
    t.ok(c.closed(), "a flipped bit ends the session")
    names = os.listdir(os.path.join(md, "cur")) + \
        os.listdir(os.path.join(md, "new"))
    t.ok(len(ids) == 2 and len(names) == 2 and
         not any("T" in n.partition(":2,")[2] for n in names),
         "and the tampered CHANGE had no effect", names)
    t.ok(srv.wait_log(r"a record failed its check") is not None,
         "the bad record is logged")

    # A replayed record ends the session too.
    c = Client(srv.mrp_port)
    c.auth("DES/CBC")
    rec = c.ch.seal(b"NOOP\r\n")
    c.sock.sendall(rec + b"\r\n")
    t.eq(c.reply(), ["OK NOOP Completed"], "a record")
    c.sock.sendall(rec + b"\r\n")
    t.ok(c.closed(), "the same record again ends the session")
finally:
    srv.cleanup()

# A session process forked for the login (no mail workers) carries the
# channel on as well.
srv = MrpServer(settings={"mail_workers": 0})
put(srv.maildir("alice"), "1000.M1.host", "Subject: one\n\nfirst\n")
put(srv.maildir("alice"), "1001.M2.host", "Subject: two\n\nsecond body\n")
srv.start()
try:
    session(srv, "AES/CBC")
finally:
    srv.cleanup()

# Without privilege separation (posternd as nobody, when run as root):
# the channel stays in the process that set it up.
if os.geteuid() == 0:
    import postern
    srv = MrpServer()
    put(srv.maildir("alice"), "1000.M1.host", "Subject: one\n\nfirst\n")
    put(srv.maildir("alice"), "1001.M2.host", "Subject: two\n\nsecond body\n")
    wrap = os.path.join(srv.dir, "posternd-as-nobody")
    with open(wrap, "w") as f:
        f.write("#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 "
                f'--clear-groups {postern.POSTERND} "$@"\n')
    os.chmod(wrap, 0o755)
    os.chown(srv.dir, 65534, 65534)
    os.chown(srv.settings["state_dir"], 65534, 65534)
    os.chmod(srv.passwd, 0o644)
    saved = postern.POSTERND
    postern.POSTERND = wrap
    try:
        srv.start()
        session(srv, "AES/CBC")
    finally:
        postern.POSTERND = saved
        srv.cleanup()
else:
    t.skip("AUTH without privilege separation", "covered above: not root")

# MRP over implicit TLS, what postern-mrp(7) recommends.
if shutil.which("openssl") is None:
    t.skip("MRP over TLS", "no openssl command")
else:
    srv = MrpServer()
    crt = os.path.join(srv.dir, "tls.crt")
    key = os.path.join(srv.dir, "tls.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-keyout", key, "-out", crt],
                   check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    srv.settings.update(tls_cert=crt, tls_key=key)
    srv.write_conf('listen { protocol = "mrp" address = "127.0.0.1" '
                   'port = 0 tls = true }\n')
    put(srv.maildir("alice"), "1000.M1.host", "Subject: one\n\nfirst\n")
    srv.start()
    try:
        ports = [int(p) for p in re.findall(
            r"listening on 127\.0\.0\.1:(\d+) \(mrp", "\n".join(srv.log))]
        tls_port = [p for p in ports if p != srv.mrp_port]
        t.ok(len(tls_port) == 1, "an MRP listener with TLS", srv.log)
        c = Client(tls_port[0], tls=True)
        t.eq(c.greeting, "OK Postern MRP server ready", "TLS: greeting")
        r = c.cmd("LOGIN alice wonderland")
        t.eq(r[-1], "OK LOGIN Completed", "TLS: LOGIN")
        t.eq(c.cmd("SELECT")[0], "* 1 EXISTS", "TLS: SELECT")
        r = c.cmd("FETCH 1")
        t.ok(len(r) == 2 and r[0][1].endswith(b"\r\n\r\nfirst\r\n"),
             "TLS: FETCH", r)
        t.eq(c.cmd("QUIT"), ["OK QUIT Completed"], "TLS: QUIT")
    finally:
        srv.cleanup()

srv = MrpServer(settings={"mrp_auth_ecb": True})
put(srv.maildir("alice"), "1000.M1.host", "Subject: one\n\nfirst body\n")
put(srv.maildir("alice"), "1001.M2.host", "Subject: two\n\nsecond body\n")
srv.start()
try:
    session(srv, "AES/ECB")
    session(srv, "DES/ECB")
finally:
    srv.cleanup()
t.done()
