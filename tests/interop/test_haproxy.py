#!/usr/bin/env python3
"""test_haproxy.py: a real HAProxy in front of posternd, speaking the
PROXY protocol to it.

posternd gets three loopback listeners: a plain one, and two with
proxy = true.  A private HAProxy (its own generated configuration, run in
the foreground as a child of this script and stopped by its pid) has two
TCP frontends on free loopback ports: one forwards to the first proxy
listener with send-proxy-v2, the other to the second with send-proxy
(version 1).  Through each, a POP3 session logs in and reads a message,
and posternd's log must name the client's own source port (HAProxy's
connection to posternd comes from another port of 127.0.0.1).  A client
that connects to a proxy listener directly gets no greeting and is
closed.  HAProxy is installed with apt when missing and this runs as
root; otherwise every check is SKIPped with the reason.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import Server, Tap, put  # noqa: E402

t = Tap()
CHECKS = ["HAProxy installed", "haproxy -c accepts the configuration",
          "HAProxy starts",
          "v2: a POP3 session through HAProxy logs in and reads mail",
          "v2: the log names the client's address and source port",
          "v2: the login line names the client's address",
          "v1: a POP3 session through HAProxy logs in and reads mail",
          "v1: the log names the client's address and source port",
          "v1: the login line names the client's address",
          "a direct client that speaks first is closed without a greeting",
          "the refusal is logged",
          "a silent direct client is closed after proxy_timeout, "
          "without a greeting",
          "the plain listener still serves without a header",
          "HAProxy's health checks arrive as v2 LOCAL and end with QUIT"]
MSG = b"Subject: through HAProxy\n\nHello through the proxy.\n"


def run(argv, timeout=60, **kw):
    """Runs a command; returns (exit status, output).  -1 on failure."""
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, **kw)
        return p.returncode, p.stdout.decode("utf-8", "replace")
    except (subprocess.TimeoutExpired, OSError) as e:
        return -1, str(e)


def skip_all(reason, start=0):
    for name in CHECKS[start:]:
        t.skip(name, reason)
    t.done()


def install():
    """Installs HAProxy if missing.  Returns None, or why not."""
    if shutil.which("haproxy"):
        return None
    if os.geteuid() != 0:
        return "haproxy missing and not root to install it"
    if not shutil.which("apt-get"):
        return "haproxy missing and no apt-get here"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    argv = ["apt-get", "install", "-y", "-qq", "--no-install-recommends",
            "haproxy"]
    rc, out = run(argv, timeout=600, env=env)
    if rc != 0:
        run(["apt-get", "update", "-qq"], timeout=300, env=env)
        rc, out = run(argv, timeout=600, env=env)
    if rc != 0 or not shutil.which("haproxy"):
        last = out.strip().splitlines()[-1:]
        return "apt-get install haproxy failed: " + (last[0] if last
                                                      else "no output")
    return None


def free_port():
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_pop(port, secs):
    """Whether a POP3 greeting comes through port within secs; each try
    ends with QUIT, so that posternd sees no connection dropped."""
    end = time.monotonic() + secs
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port),
                                          timeout=2) as s:
                f = s.makefile("rb")
                if f.readline().startswith(b"+OK"):
                    s.sendall(b"QUIT\r\n")
                    f.readline()
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def haproxy_conf(path, fe_v2, be_v2, fe_v1, be_v1):
    """Two TCP frontends, each to one posternd proxy listener."""
    with open(path, "w") as f:
        f.write(f"""global
    maxconn 64

defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend pop3_v2
    bind 127.0.0.1:{fe_v2}
    default_backend postern_v2

backend postern_v2
    # Health checks as posternd(8) suggests: a LOCAL header, the
    # greeting, QUIT.
    option tcp-check
    tcp-check expect string +OK
    tcp-check send QUIT\\r\\n
    tcp-check expect string +OK
    server p1 127.0.0.1:{be_v2} send-proxy-v2 check inter 500

frontend pop3_v1
    bind 127.0.0.1:{fe_v1}
    default_backend postern_v1

backend postern_v1
    server p1 127.0.0.1:{be_v1} send-proxy
""")


class Pop:
    """A raw POP3 client on a socket whose own port is known."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.port = self.sock.getsockname()[1]
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                rest, self.buf = self.buf, b""
                return rest.decode("latin-1")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("latin-1")

    def cmd(self, line):
        self.sock.sendall(line.encode() + b"\r\n")
        return self.line()

    def until_dot(self):
        while b"\r\n.\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buf += chunk
        data, _, self.buf = self.buf.partition(b"\r\n.\r\n")
        return data

    def close(self):
        self.sock.close()


def session(port):
    """A whole session through HAProxy: returns (ok, client port,
    transcript)."""
    try:
        c = Pop(port)
        got = [c.line(), c.cmd("USER alice"), c.cmd("PASS wonderland"),
               c.cmd("STAT"), c.cmd("RETR 1")]
        body = c.until_dot()
        got.append(c.cmd("QUIT"))
        c.close()
    except OSError as e:
        return False, None, str(e)
    ok = (got[0].startswith("+OK") and got[2].startswith("+OK") and
          got[3].startswith("+OK 1 ") and got[4].startswith("+OK") and
          b"Hello through the proxy." in body and got[5].startswith("+OK"))
    return ok, c.port, "\n".join(got)


def direct_speaks(srv, port):
    """A client straight to a proxy listener that sends a command: the
    connection must close with no byte from the server."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"CAPA\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
    except ConnectionResetError:
        data = b""
    except OSError as e:
        return False, str(e)
    return data == b"", repr(data)


def direct_silent(port):
    """A client straight to a proxy listener that says nothing: closed
    after proxy_timeout with nothing sent to it."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=15)
        start = time.monotonic()
        data = s.recv(4096)
        waited = time.monotonic() - start
        s.close()
    except ConnectionResetError:
        data, waited = b"", 0
    except OSError as e:
        return False, str(e)
    return data == b"", f"got {data!r} after {waited:.1f} s"


def logged(srv, pattern, timeout=5):
    return srv.wait_log(pattern, timeout) is not None


def main():
    why = install()
    if why:
        skip_all(why)
    t.ok(True, CHECKS[0])
    work = tempfile.mkdtemp(prefix="postern-haproxy-")
    os.chmod(work, 0o755)
    srv = Server(settings={
        "proxy_trusted_networks": "127.0.0.0/8 ::1/128",
        "proxy_timeout": 3})
    srv.write_conf(
        'listen { protocol = "pop3" address = "127.0.0.1" port = 0 '
        'proxy = true }\n'
        'listen { protocol = "pop3" address = "127.0.0.1" port = 0 '
        'proxy = true }\n')
    put(srv.maildir("alice"), "1700000000.M1P1.test", MSG)
    hp = None
    try:
        srv.start()
        ports = [int(m.group(1)) for m in
                 (re.search(r"listening on 127\.0\.0\.1:(\d+) \(pop3\)", ln)
                  for ln in list(srv.log)) if m]
        if len(ports) != 3:
            skip_all(f"posternd listened on {ports}, not three ports", 1)
        plain, be_v2, be_v1 = ports
        fe_v2, fe_v1 = free_port(), free_port()
        cfg = os.path.join(work, "haproxy.cfg")
        haproxy_conf(cfg, fe_v2, be_v2, fe_v1, be_v1)
        rc, out = run(["haproxy", "-c", "-f", cfg], timeout=30)
        if not t.ok(rc == 0, CHECKS[1], out):
            skip_all("HAProxy refuses its configuration", 2)
        hp = subprocess.Popen(["haproxy", "-db", "-f", cfg],
                              stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        up = wait_pop(fe_v2, 10) and wait_pop(fe_v1, 10)
        if not t.ok(up and hp.poll() is None, CHECKS[2]):
            skip_all("HAProxy did not start", 3)
        for n, (fe, ver) in enumerate(((fe_v2, 2), (fe_v1, 1))):
            base = 3 + 3 * n
            ok, cport, transcript = session(fe)
            t.ok(ok, CHECKS[base], transcript)
            pat = (rf"proxy: 127\.0\.0\.1:{be_v2 if ver == 2 else be_v1} "
                   rf"\(pop3\): rip=127\.0\.0\.1 rport={cport} .*\(v{ver}")
            t.ok(cport is not None and logged(srv, pat), CHECKS[base + 1],
                 f"no line matching {pat!r} in:\n" + "\n".join(srv.log))
            t.ok(logged(srv, r"login: user=<alice> rip=127\.0\.0\.1 "
                        r"proto=pop3"), CHECKS[base + 2])
        ok, detail = direct_speaks(srv, be_v2)
        t.ok(ok, CHECKS[9], detail)
        t.ok(logged(srv, rf"proxy: 127\.0\.0\.1:{be_v2} \(pop3\): "
                    r"rip=127\.0\.0\.1: refused: no PROXY protocol header"),
             CHECKS[10], "\n".join(srv.log))
        ok, detail = direct_silent(be_v1)
        t.ok(ok and logged(srv, r"refused: timed out in the header"),
             CHECKS[11], detail + "\n" + "\n".join(srv.log[-5:]))
        c = srv.client()
        t.ok(c.greeting.startswith("+OK") and
             c.cmd("USER alice").startswith("+OK") and
             c.cmd("PASS wonderland").startswith("+OK"), CHECKS[12])
        c.cmd("QUIT")
        c.close()
        t.ok(logged(srv, rf"proxy: 127\.0\.0\.1:{be_v2} \(pop3\): v2 "
                    r"LOCAL from 127\.0\.0\.1:\d+", 5) and
             not any("io: read" in ln for ln in srv.log),
             CHECKS[13], "\n".join(srv.log))
    finally:
        if hp is not None and hp.poll() is None:
            hp.send_signal(signal.SIGTERM)
            try:
                hp.wait(10)
            except subprocess.TimeoutExpired:
                hp.kill()
                hp.wait()
        srv.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    t.done()


main()
