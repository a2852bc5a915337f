#!/usr/bin/env python3
"""test_limits.py: the connection limits and timeouts of posternd.

max_connections and max_connections_per_ip (addresses given by PROXY
headers from a trusted loopback peer, IPv6 grouped by /64; loopback
clients themselves are exempt) refuse with the protocol's reply and log
once a minute; max_sessions_per_user refuses a login (with privilege
separation); max_session_time ends a session with the protocol's reply;
lmtp_idle_timeout and login_timeout end idle clients; posternd -n checks
the settings.
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import POSTERND, Server, Tap  # noqa: E402

t = Tap()


def ports(srv, proto):
    """The ports of srv's listeners for proto, in the file's order."""
    out = []
    for line in srv.log:
        m = re.search(rf"listening on 127\.0\.0\.1:(\d+) \({proto}\)", line)
        if m:
            out.append(int(m.group(1)))
    return out


def lines(sock, n, timeout=10, close=True):
    """Up to n reply lines, and (when close) whether the server closed
    the connection after them."""
    sock.settimeout(timeout)
    buf = b""
    closed = False
    try:
        while buf.count(b"\r\n") < n or (close and not closed):
            chunk = sock.recv(4096)
            if not chunk:
                closed = True
                break
            buf += chunk
            if buf.count(b"\r\n") >= n:
                sock.settimeout(1)
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    return buf.decode("latin-1").split("\r\n")[:n], closed


def proxied(port, src, family="TCP4"):
    """A connection to a PROXY listener presenting client address src."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    dst = "127.0.0.1" if family == "TCP4" else "::1"
    s.sendall(f"PROXY {family} {src} {dst} 40000 110\r\n".encode())
    return s


def count(srv, pattern):
    return len([x for x in srv.log if re.search(pattern, x)])


def max_connections():
    extra = "".join(f'listen {{ protocol = "{p}" address = "127.0.0.1" '
                    f'port = 0 }}\n' for p in ("pop1", "papm", "mrp"))
    srv = Server(workers=4, settings=dict(max_connections=2))
    srv.write_conf(extra)
    with srv:
        a, b = srv.client(), srv.client()
        t.ok(a.greeting.startswith("+OK") and b.greeting.startswith("+OK"),
             "max_connections = 2: two clients are served")
        for _ in range(2):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            got, closed = lines(s, 1)
            s.close()
        t.eq(got, ["-ERR [SYS/TEMP] too many connections"],
             "a third gets POP3's refusal")
        t.ok(closed, "and is closed")
        pat = (r"refused: rip=127\.0\.0\.1 proto=pop3 reason=too many "
               r"connections \(max_connections = 2\)$")
        t.ok(srv.wait_log(pat) is not None, "the refusal is logged",
             "\n".join(srv.log))
        time.sleep(0.3)
        t.eq(count(srv, pat), 1, "two refusals, one line (once a minute)")
        for proto, want in (("pop1", "-ERR too many connections"),
                            ("papm", "-ERR too many connections"),
                            ("mrp", "OK Closing: too many connections")):
            s = socket.create_connection(
                ("127.0.0.1", ports(srv, proto)[0]), timeout=10)
            got, closed = lines(s, 1)
            s.close()
            t.eq(got, [want], f"{proto} refuses in its own form")
            t.ok(closed, f"and {proto} closes")
        a.cmd("QUIT")
        a.close()
        time.sleep(0.3)
        c = srv.client()
        t.ok(c.greeting.startswith("+OK"), "a freed place is taken again")


def per_ip():
    extra = ('listen { protocol = "pop3" address = "127.0.0.1" port = 0 '
             'proxy = true }\n')
    settings = dict(workers=8, max_connections_per_ip=2,
                    proxy_trusted_networks="127.0.0.1")
    srv = Server(settings=settings)
    srv.write_conf(extra)
    with srv:
        port = ports(srv, "pop3")[1]
        held = [proxied(port, "192.0.2.7"), proxied(port, "192.0.2.7")]
        got = [lines(s, 1, close=False)[0] for s in held]
        t.eq(got, [["+OK Postern POP3 server ready"]] * 2,
             "max_connections_per_ip = 2: two clients of 192.0.2.7")
        for _ in range(2):
            s = proxied(port, "192.0.2.7")
            got, closed = lines(s, 1)
            s.close()
        t.eq(got, ["-ERR [SYS/TEMP] too many connections from your "
                   "address"], "a third from the address gets the refusal")
        t.ok(closed, "and is closed")
        s = proxied(port, "192.0.2.8")
        t.eq(lines(s, 1, close=False)[0], ["+OK Postern POP3 server ready"],
             "another address is served")
        held.append(s)
        pat = (r"refused: rip=192\.0\.2\.7 proto=pop3 reason=too many "
               r"connections from your address \(max_connections_per_ip = "
               r"2\)$")
        t.ok(srv.wait_log(pat) is not None, "the refusal is logged with the "
             "client's address", "\n".join(srv.log))
        time.sleep(0.3)
        t.eq(count(srv, pat), 1, "once for the address in a minute")

        v6 = [proxied(port, "2001:db8:1:2::1", "TCP6"),
              proxied(port, "2001:db8:1:2:ffff::2", "TCP6")]
        t.eq([lines(s, 1, close=False)[0] for s in v6],
             [["+OK Postern POP3 server ready"]] * 2,
             "two clients in 2001:db8:1:2::/64")
        s = proxied(port, "2001:db8:1:2:aaaa::3", "TCP6")
        t.eq(lines(s, 1)[0], ["-ERR [SYS/TEMP] too many connections from "
                              "your address"],
             "a third in the same /64 is refused")
        s.close()
        s = proxied(port, "2001:db8:1:3::1", "TCP6")
        t.eq(lines(s, 1, close=False)[0], ["+OK Postern POP3 server ready"],
             "the next /64 is another address")
        held += v6 + [s]
        t.ok(srv.wait_log(r"refused: rip=2001:db8:1:2:aaaa::3 ") is not None,
             "logged for that /64")

        local = [srv.client() for _ in range(3)]
        t.ok(all(c.greeting.startswith("+OK") for c in local),
             "loopback clients are not limited per address")
        for s in held:
            s.close()
        for c in local:
            c.close()


def per_user():
    if os.geteuid() != 0:
        t.skip("max_sessions_per_user", "needs privilege separation (root)")
        return
    with Server(settings=dict(max_sessions_per_user=1)) as srv:
        a = srv.client()
        t.ok(a.login()[1].startswith("+OK"), "alice's first session")
        b = srv.client()
        t.eq(b.cmd("USER alice"), "+OK send PASS", "a second one: USER")
        t.eq(b.cmd("PASS wonderland"),
             "-ERR [SYS/TEMP] too many sessions for this user",
             "max_sessions_per_user = 1: PASS is refused with the reason")
        t.ok(b.closed(), "and the connection closed")
        c = srv.client()
        t.ok(c.login("bob", "builder")[1].startswith("+OK"),
             "bob still logs in")
        pat = (r"refused: user=<alice> rip=127\.0\.0\.1 proto=pop3 "
               r"reason=too many sessions for this user "
               r"\(max_sessions_per_user = 1\)$")
        t.ok(srv.wait_log(pat) is not None, "the refusal is logged")
        e = srv.client()
        e.login()
        t.ok(e.closed(), "a second refusal")
        time.sleep(0.3)
        t.eq(count(srv, pat), 1, "is not logged again within the minute")
        a.cmd("QUIT")
        a.close()
        time.sleep(0.3)
        d = srv.client()
        t.ok(d.login()[1].startswith("+OK"),
             "after the first ends, alice logs in again")
        d.cmd("QUIT")
        c.cmd("QUIT")
        # Sessions that end as soon as they start (QUIT sent with PASS)
        # must each give their slot back: none may count afterwards.
        for _ in range(30):
            f = srv.client()
            f.send("USER alice\r\nPASS wonderland\r\nQUIT\r\n")
            f.closed()
            f.close()
        ok = False
        for _ in range(20):
            g = srv.client()
            ok = g.login()[1].startswith("+OK")
            g.cmd("QUIT")
            g.close()
            if ok:
                break
            time.sleep(0.1)
        t.ok(ok, "thirty sessions ended at once leave no slot counting "
             "against alice")


def session_time():
    extra = 'listen { protocol = "lmtp" address = "127.0.0.1" port = 0 }\n'
    srv = Server(settings=dict(max_session_time=2, lmtp_idle_timeout=30))
    srv.write_conf(extra)
    with srv:
        a = srv.client()
        start = time.monotonic()
        t.ok(a.login()[1].startswith("+OK"), "a session starts")
        time.sleep(0.5)
        t.eq(a.cmd("NOOP"), "+OK", "it goes on within max_session_time")
        got, closed = lines(a.sock, 1)
        took = time.monotonic() - start
        t.eq(got, ["-ERR [SYS/TEMP] session time limit reached"],
             "max_session_time = 2: POP3's closing reply")
        t.ok(closed and 1.5 < took < 6, "then the close, after 2 s", took)
        t.ok(srv.wait_log(r"session time limit: user=<alice> "
                          r"rip=127\.0\.0\.1 proto=pop3 closed after \d+ s "
                          r"\(max_session_time\)") is not None,
             "logged with the user", "\n".join(srv.log))
        lm = socket.create_connection(("127.0.0.1", ports(srv, "lmtp")[0]),
                                      timeout=10)
        got, closed = lines(lm, 2)
        t.eq(got, ["220 test.example LMTP Postern ready",
                   "421 4.3.2 test.example session time limit reached"],
             "an LMTP session gets LMTP's closing reply")
        t.ok(srv.wait_log(r"session time limit: rip=127\.0\.0\.1 proto=lmtp "
                          r"closed after") is not None,
             "a worker's session is logged too")


def idle_timeouts():
    extra = 'listen { protocol = "lmtp" address = "127.0.0.1" port = 0 }\n'
    srv = Server(settings=dict(lmtp_idle_timeout=1, login_timeout=1))
    srv.write_conf(extra)
    with srv:
        lm = socket.create_connection(("127.0.0.1", ports(srv, "lmtp")[0]),
                                      timeout=10)
        got, closed = lines(lm, 2)
        t.eq(got, ["220 test.example LMTP Postern ready",
                   "421 4.4.2 test.example timeout, closing"],
             "lmtp_idle_timeout = 1 ends an idle LMTP client")
        c = srv.client()
        got, closed = lines(c.sock, 1)
        t.eq(got, ["-ERR autologout: idle for too long"],
             "login_timeout = 1 ends a POP3 client that does not log in")


def config():
    d = tempfile.mkdtemp(prefix="postern-limits-conf-")
    path = os.path.join(d, "postern.conf")

    def check(text):
        with open(path, "w") as f:
            f.write(text + 'listen { protocol = "pop3" port = 0 }\n')
        return subprocess.run([POSTERND, "-n", "-c", path],
                              capture_output=True, text=True, timeout=10)

    p = check("")
    t.ok(p.returncode == 0 and "max_connections = 1000\n" in p.stdout and
         "max_connections_per_ip = 10\n" in p.stdout and
         "max_sessions_per_user = 10\n" in p.stdout and
         "max_session_time = 14400\n" in p.stdout and
         "lmtp_idle_timeout = 300\n" in p.stdout,
         "-n prints the limits' defaults", p.stdout + p.stderr)
    p = check("max_connections_per_ip = 0\nmax_session_time = 0\n")
    t.ok(p.returncode == 0 and "max_connections_per_ip = 0\n" in p.stdout,
         "0 turns a limit off", p.stderr)
    for text, want in [("max_connections = 0\n", "max_connections must be "
                        "from 1 to 65536"),
                       ("max_session_time = 700000\n", "max_session_time "
                        "must be from 0 to 604800"),
                       ("lmtp_idle_timeout = 0\n", "lmtp_idle_timeout must "
                        "be from 1")]:
        p = check(text)
        t.ok(p.returncode == 1 and want in p.stderr, f"-n refuses {text!r}",
             p.stderr)
    os.unlink(path)
    os.rmdir(d)


def refused_no_login_line():
    """A login refused over max_sessions_per_user is not logged as a
    login: "login:" lines are for successful logins only, and the
    refusal itself is logged once a minute at most."""
    if os.geteuid() != 0:
        t.skip("no login line for a refusal", "needs privilege separation")
        return
    with Server(settings=dict(max_sessions_per_user=1)) as srv:
        a = srv.client()
        t.eq(a.login()[1], "+OK maildrop has 0 messages (0 octets)",
             "alice's first session")
        for _ in range(2):
            b = srv.client()
            t.eq(b.login()[1],
                 "-ERR [SYS/TEMP] too many sessions for this user",
                 "a second one is refused")
            b.closed()
        c = srv.client()
        t.eq(c.login("bob", "builder")[1],
             "+OK maildrop has 0 messages (0 octets)", "bob logs in")
        t.eq(srv.log_count(r"login: user=<bob> ", 1), 1,
             "bob's login is logged")
        t.eq(srv.log_count(r"login: user=<alice> ", 2, 0.5), 1,
             "alice's refusals are no logins")
        a.cmd("QUIT")
        c.cmd("QUIT")


max_connections()
per_ip()
per_user()
refused_no_login_line()
session_time()
idle_timeouts()
config()
t.done()
