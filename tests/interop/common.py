"""common.py: what the interop tests share: the seeded corpus, the
comparison of what a real client received with what was seeded, the
Maildir check and the TLS probe.  It starts no client itself; each
test_*.py drives one client and SKIPs when that client is missing.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import POSTERND, Server, Tap, files, put  # noqa: E402,F401

__all__ = ["POSTERND", "Server", "Tap", "files", "put", "USER", "PASSWORD",
           "corpus", "seed", "deliver_late", "bases", "norm",
           "compare", "compare_all", "read_dir", "run", "exits", "missing",
           "Tls", "tls_server"]

USER, PASSWORD = "alice", "wonderland"
BIG = 5 * 1024 * 1024


def _big():
    """A 5 MiB message whose lines start with dots here and there, so that
    stuffing happens across the server's buffer boundaries."""
    head = (b"Message-ID: <seed-6@test.example>\nSubject: seed 6, big\n"
            b"From: big@test.example\n\n")
    out = [head]
    size = len(head)
    n = 0
    while size < BIG:
        n += 1
        if n % 97 == 0:
            line = b"." * (n % 5 + 1) + b" dotted line %d\n" % n
        else:
            line = b"line %07d " % n + b"abcdefghijklmnopqrstuvwxyz" * 2 + \
                b"\n"
        out.append(line)
        size += len(line)
    data = b"".join(out)
    return data[:BIG - 1] + b"\n"


def corpus():
    """The seeded messages, as (Maildir file name, stored bytes), in the
    order the server numbers them."""
    msgs = [
        b"Message-ID: <seed-1@test.example>\nSubject: seed 1, plain\n"
        b"From: one@test.example\nTo: alice@test.example\n\n"
        b"Hello Alice,\nthis is a plain message.\n",
        b"Message-ID: <seed-2@test.example>\nSubject: seed 2, dots\n"
        b"From: two@test.example\n\n"
        b"a lone dot follows\n.\n..two dots\n...three dots\n.x\n"
        b". space\nthe last line is a lone dot\n.\n",
        "Message-ID: <seed-3@test.example>\nSubject: seed 3, Grüße 📬\n"
        "From: drei@test.example\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n\n"
        "Grüße aus Köln: äöüß ÄÖÜ\n日本語のテキスト\nemoji 📬✉️\n"
        .encode(),
        b"Message-ID: <seed-4@test.example>\nSubject: seed 4, no final "
        b"newline\nFrom: four@test.example\n\n"
        b"first line\nthe last line has no newline",
        b"Message-ID: <seed-5@test.example>\r\nSubject: seed 5, stored "
        b"with CRLF\r\nFrom: five@test.example\r\n\r\n"
        b"line one\r\n.dot after CRLF\r\nline three\r\n",
        _big(),
        b"Message-ID: <seed-7@test.example>\nSubject: seed 7, no body\n"
        b"From: seven@test.example\n\n",
    ]
    return [(f"{1700000000 + i}.M{i}P{i}.test", m)
            for i, m in enumerate(msgs, 1)]


def seed(srv):
    """Empties the Maildir of USER on srv and puts the corpus into it;
    returns the Maildir's path and the corpus."""
    md = srv.maildir(USER)
    for f in files(md):
        os.unlink(os.path.join(md, f))
    c = corpus()
    for name, data in c:
        put(md, name, data)
    if hasattr(srv, "own"):
        srv.own()
    return md, c


LATE = ("1800000000.M8P8.test",
        b"Message-ID: <seed-8@test.example>\nSubject: late\n\nlate\n")


def deliver_late(srv):
    """Delivers one more message, LATE, into the Maildir of USER on srv;
    returns it as a one-message corpus."""
    put(srv.maildir(USER), *LATE)
    if hasattr(srv, "own"):
        srv.own()
    return [LATE]


def bases(md):
    """The base names of the messages left in a Maildir, sorted: "new/x"
    and "cur/x:2,S" both give "x"."""
    return sorted(f.split("/", 1)[1].split(":", 1)[0] for f in files(md))


def norm(data):
    """Message bytes with CRLF line ends made LF."""
    return data.replace(b"\r\n", b"\n")


def seed_id(data):
    """The seed number in a message's Message-ID, or None."""
    m = re.search(rb"^Message-ID: <seed-(\d+)@test\.example>", data,
                  re.MULTILINE | re.IGNORECASE)
    return int(m.group(1)) if m else None


def strip_added(data, names):
    """Drops the header fields named in names (lower case) that a client
    put in front of the message, continuation lines included."""
    lines = data.split(b"\n")
    i = 0
    while i < len(lines):
        m = re.match(rb"([!-9;-~]+):", lines[i])
        if not m or m.group(1).lower().decode() not in names:
            break
        i += 1
        while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
            i += 1
    return b"\n".join(lines[i:])


def difference(got, want):
    """A short description of where got and want first differ."""
    n = min(len(got), len(want))
    i = next((k for k in range(n) if got[k] != want[k]), n)
    lo = max(0, i - 40)
    return (f"got {len(got)} bytes, want {len(want)}; first difference at "
            f"offset {i}\ngot:  {got[lo:i + 40]!r}\nwant: {want[lo:i + 40]!r}")


def compare(tap, what, got, want, final_newline=True):
    """Checks a received message against the seeded one after CRLF->LF;
    a client may add the final newline a message lacks."""
    g, w = norm(got), norm(want)
    ok = g == w or (final_newline and not w.endswith(b"\n") and
                    g == w + b"\n")
    return tap.ok(ok, what, None if ok else difference(g, w))


def compare_all(tap, client, received, seeded, added=()):
    """Matches received messages (a list of bytes) to the seeded ones
    (a list of (name, bytes)) by the seed number in their Message-ID,
    strips the header fields in added that the client puts in front, and
    compares each; every seeded message must arrive once."""
    got = {}
    for data in received:
        data = strip_added(norm(data), added)
        got.setdefault(seed_id(data), []).append(data)
    for _, want in seeded:
        i = seed_id(want)
        have = got.pop(i, [])
        if len(have) != 1:
            tap.ok(False, f"{client}: seed {i} received once",
                   f"received {len(have)} times")
            continue
        compare(tap, f"{client}: seed {i} received intact", have[0], want)
    tap.ok(not got, f"{client}: nothing else received",
           f"unexpected: {sorted(map(str, got))}")


def read_dir(path):
    """The contents of every file under path (a Maildir's new/cur or a
    plain directory of delivered messages)."""
    out = []
    for root, _, names in os.walk(path):
        for n in sorted(names):
            with open(os.path.join(root, n), "rb") as f:
                out.append(f.read())
    return out


def run(argv, timeout=60, **kw):
    """Runs a client; returns (exit status, its output as text).  A client
    that outlives timeout is killed and reported with status -1."""
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, **kw)
        return p.returncode, p.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        return -1, (e.stdout or b"").decode("utf-8", "replace") + \
            f"\n(killed after {timeout} s)"


def exits(tap, name, rc, out, want=0):
    """Checks a client's exit status, showing the end of its output when
    it is not the one wanted."""
    tail = "\n".join(out.splitlines()[-40:])
    return tap.ok(rc == want, name, f"exit status {rc}, want {want}; "
                  f"output ends:\n{tail}")


def missing(tap, prog, names):
    """SKIPs names and returns True when prog is not installed."""
    if shutil.which(prog):
        return False
    for n in names:
        tap.skip(n, f"{prog} not installed")
    return True


class Tls:
    """A self-signed certificate for localhost and 127.0.0.1, and whether
    this posternd takes tls_cert, tls_key and a listen section with
    tls = true (.ok); .reason says why not.  Once the build takes them,
    a TLS test that fails is a failure, not a SKIP."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="postern-tls-")
        os.chmod(self.dir, 0o755)
        self.cert = os.path.join(self.dir, "cert.pem")
        self.key = os.path.join(self.dir, "key.pem")
        self.ok = False
        self.reason = "TLS not built yet"
        if not shutil.which("openssl"):
            self.reason = "openssl not installed"
            return
        rc, out = run(["openssl", "req", "-x509", "-newkey", "ec",
                       "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                       "-keyout", self.key, "-out", self.cert, "-days", "2",
                       "-subj", "/CN=localhost",
                       "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        if rc != 0:
            self.reason = "openssl req failed: " + out.strip()
            return
        conf = os.path.join(self.dir, "probe.conf")
        with open(conf, "w") as f:
            f.write(f'tls_cert = "{self.cert}"\ntls_key = "{self.key}"\n'
                    f'pidfile = ""\nlisten {{ protocol = "pop3" '
                    f'address = "127.0.0.1" port = 0 tls = true }}\n')
        rc, out = run([POSTERND, "-n", "-c", conf], timeout=10)
        self.ok = rc == 0
        if not self.ok:
            first = (out.strip().splitlines() or ["no output"])[0]
            self.reason = f"TLS not built yet (posternd -n: {first})"

    def settings(self):
        return {"tls_cert": self.cert, "tls_key": self.key}

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


IMPLICIT = ('listen { protocol = "pop3" address = "127.0.0.1" port = 0 '
            'tls = true }\n')


def tls_server(tls, users=None):
    """A started Server with STLS on its plain port and implicit TLS on
    .tls_port."""
    srv = Server(users=users, settings=tls.settings())
    srv.write_conf(IMPLICIT)
    srv.start()
    srv.tls_port = None
    for line in srv.log:
        m = re.search(r"listening on 127\.0\.0\.1:(\d+) .*TLS", line)
        if m:
            srv.tls_port = int(m.group(1))
    if srv.tls_port in (None, srv.port):
        srv.cleanup()
        raise RuntimeError("no implicit TLS port in the log:\n" +
                           "\n".join(srv.log))
    return srv
