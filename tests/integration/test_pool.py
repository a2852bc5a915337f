#!/usr/bin/env python3
"""test_pool.py: the master's adaptive pool and its scoreboard.

Ten clients at once make the pool grow from workers = 2, and it shrinks
back to 2 when they leave; at max_workers further clients wait in the
listen queue, which is logged once; a worker serves at most
max_sessions_per_worker connections; `postern status` (root only) and
SIGUSR1 show a logged-in session's user and address; posternd -n
checks the pool's settings.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import (POSTERN, POSTERND, Client, Server,  # noqa: E402
                     Tap, wait_for)

t = Tap()


def pool(srv):
    """The pre-login workers' pids."""
    return [p for p in srv.workers() if "local" not in Server.title(p)]


def greeting(sock, timeout):
    """The first line a raw socket receives, "" if none in time."""
    sock.settimeout(timeout)
    buf = b""
    try:
        while b"\r\n" not in buf:
            chunk = sock.recv(512)
            if not chunk:
                break
            buf += chunk
    except socket.timeout:
        pass
    return buf.decode("latin-1").split("\r\n")[0]


def status(srv, as_nobody=False):
    argv = [POSTERN, "status", "-c", srv.conf]
    if as_nobody:
        argv = ["setpriv", "--reuid=65534", "--regid=65534",
                "--clear-groups"] + argv
    return subprocess.run(argv, capture_output=True, text=True, timeout=10)


def grow_and_shrink():
    settings = dict(min_spare=1, max_spare=2, max_workers=16)
    with Server(workers=2, settings=settings) as srv:
        t.ok(wait_for(lambda: len(pool(srv)) == 2),
             "the pool starts with workers = 2", pool(srv))
        socks = [socket.create_connection(("127.0.0.1", srv.port),
                                          timeout=10) for _ in range(10)]
        got = [greeting(s, 15) for s in socks]
        t.ok(all(g.startswith("+OK") for g in got),
             "10 clients at once are all greeted as the pool grows", got)
        t.ok(wait_for(lambda: len(pool(srv)) >= 11),
             "the pool holds 10 busy workers and a spare", pool(srv))
        st = status(srv)
        busy = [x for x in st.stdout.splitlines()
                if re.match(r"\d+ +worker +busy +pop3 .* 127\.0\.0\.1 ", x)]
        t.eq(len(busy), 10, "postern status shows the 10 busy workers")
        for s in socks:
            s.close()
        t.ok(wait_for(lambda: len(pool(srv)) == 2, 20),
             "when they leave, idle workers beyond max_spare are retired "
             "down to workers", pool(srv))
        t.ok(srv.wait_log("reached", 0) is None,
             "max_workers was not reached: nothing logged")


def at_max_workers():
    settings = dict(min_spare=1, max_spare=2, max_workers=2)
    with Server(workers=2, settings=settings) as srv:
        a = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        b = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        t.ok(greeting(a, 10).startswith("+OK") and
             greeting(b, 10).startswith("+OK"), "two clients, two workers")
        c = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        t.eq(greeting(c, 1.5), "", "a third waits in the listen queue")
        line = srv.wait_log(r"max_workers \(2\) reached: clients wait in "
                            r"the listen queue", 5)
        t.ok(line is not None, "and that is logged", "\n".join(srv.log))
        t.eq(len(pool(srv)), 2, "no worker beyond max_workers")
        a.close()
        t.ok(greeting(c, 10).startswith("+OK"),
             "the queued client is served when a worker is free")
        time.sleep(2.2)
        n = len([x for x in srv.log if "reached: clients wait" in x])
        t.eq(n, 1, "the line is logged once a minute at most")
        b.close()
        c.close()


def recycled():
    settings = dict(min_spare=1, max_spare=2, max_workers=4,
                    max_sessions_per_worker=2)
    with Server(workers=1, settings=settings) as srv:
        served = []
        for _ in range(6):
            c = srv.client()
            port = c.sock.getsockname()[1]
            c.cmd("QUIT")
            c.closed()
            line = srv.wait_log(r"posternd\[\d+\]: .*connection from "
                                rf"127\.0\.0\.1:{port}$")
            m = re.search(r"posternd\[(\d+)\]", line or "")
            served.append(int(m.group(1)) if m else None)
        counts = {p: served.count(p) for p in served}
        t.ok(None not in served and max(counts.values()) <= 2,
             "no worker serves more than max_sessions_per_worker = 2",
             served)
        t.ok(len(counts) >= 3, "spent workers are replaced", served)


def scoreboard():
    with Server() as srv:
        c = srv.client()
        r = c.login()
        t.ok(r[1].startswith("+OK"), "alice logs in")
        d = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        greeting(d, 10)
        st = status(srv)
        t.ok(st.returncode == 0, "postern status exits 0", st.stderr)
        t.ok(re.search(r"^posternd \d+, up \d+:\d\d:\d\d, configuration "
                       r"generation 1, (auth process \d+|no privilege "
                       r"separation)$", st.stdout, re.M),
             "it names the master and the configuration", st.stdout)
        kind = "session +session" if os.geteuid() == 0 else "worker +busy"
        t.ok(re.search(rf"^\d+ +{kind} +pop3 +- +\d+:\d\d:\d\d +"
                       r"127\.0\.0\.1 +alice$", st.stdout, re.M),
             "a logged-in session shows its user, address and age",
             st.stdout)
        t.ok(re.search(r"^\d+ +worker +busy +pop3 +- +\d+:\d\d:\d\d +"
                       r"127\.0\.0\.1 +-$", st.stdout, re.M),
             "a client at the greeting shows as a busy worker", st.stdout)
        srv.proc.send_signal(signal.SIGUSR1)
        t.ok(srv.wait_log(r"scoreboard: \d+ +\w+ +\w+ +pop3 .*127\.0\.0\.1 "
                          r"+alice$") is not None,
             "SIGUSR1 writes the scoreboard to the log")
        if os.geteuid() == 0:
            st = status(srv, as_nobody=True)
            t.ok(st.returncode == 1 and "root's" in st.stderr,
                 "status is refused to other users", st.stderr)
        else:
            t.skip("status is refused to other users", "needs root")
        c.cmd("QUIT")
        c.close()
        d.close()
        t.ok(wait_for(lambda: "alice" not in status(srv).stdout),
             "the session leaves the scoreboard when it ends")
        srv.stop()
        st = status(srv)
        t.ok(st.returncode == 1 and "posternd" in st.stderr,
             "status without a running posternd says so", st.stderr)


def mail_workers():
    """While every mail worker is busy an extra one is started, ready for
    the next login; extras serve later sessions too and end after a
    minute idle."""
    if os.geteuid() != 0:
        t.skip("extra mail workers", "needs privilege separation (root)")
        return
    users = {f"u{i}": f"pw{i}" for i in range(4)}
    settings = dict(mail_workers=1, max_workers=8, min_spare=4)

    def mail(srv):
        return [p for p in srv.sessions()
                if Server.title(p).startswith("posternd: ")]

    with Server(users=users, settings=settings, workers=4) as srv:
        t.ok(wait_for(lambda: len(mail(srv)) == 1),
             "mail_workers = 1: one mail worker waits", mail(srv))
        clients = []
        for u, pw in users.items():
            c = srv.client()
            t.ok(c.login(u, pw)[1].startswith("+OK"), f"{u} logs in")
            clients.append(c)
        t.ok(wait_for(lambda: len(mail(srv)) == 5),
             "four sessions at once: three extra mail workers, and a "
             "fourth ready for the next login", mail(srv))
        busy = [p for p in mail(srv) if "mail idle" not in Server.title(p)]
        t.eq(len(busy), 4, "four of them busy")
        held = set(mail(srv))
        closed = []
        for c in clients:
            c.cmd("QUIT")
            closed.append(c.closed())
            c.close()
        t.eq(closed, [True] * 4, "each connection closes after QUIT: no "
             "extra worker keeps a copy of another's")
        t.ok(wait_for(lambda: all("mail idle" in Server.title(p)
                                  for p in mail(srv))),
             "their sessions over, all five wait for more",
             [Server.title(p) for p in mail(srv)])
        c = srv.client()
        c.login("u3", "pw3")
        t.ok(set(mail(srv)) == held, "a new login is served by one of them, "
             "no new process")
        c.cmd("QUIT")
        c.close()
        t.ok(wait_for(lambda: len(mail(srv)) == 1, 90),
             "after a minute idle the extras end: one is left", mail(srv))


def config():
    d = tempfile.mkdtemp(prefix="postern-pool-conf-")
    path = os.path.join(d, "postern.conf")

    def check(text):
        with open(path, "w") as f:
            f.write(text + 'listen { protocol = "pop3" port = 0 }\n')
        return subprocess.run([POSTERND, "-n", "-c", path],
                              capture_output=True, text=True, timeout=10)

    p = check("")
    t.ok(p.returncode == 0 and "workers = 4\n" in p.stdout and
         "min_spare = 2\n" in p.stdout and "max_spare = 10\n" in p.stdout and
         "max_workers = 256\n" in p.stdout and
         "max_sessions_per_worker = 1000\n" in p.stdout and
         "max_local_workers = 20\n" in p.stdout,
         "-n prints the pool's defaults", p.stdout + p.stderr)
    p = check("workers = 300\n")
    t.ok(p.returncode == 0 and "max_workers = 300\n" in p.stdout,
         "an old file's workers = 300 raises max_workers with it", p.stdout)
    p = check("workers = 8\nmax_workers = 4\n")
    t.ok(p.returncode == 1 and re.search(r"workers \(8\) and min_spare "
                                         r"\(2\) must not exceed max_workers "
                                         r"\(4\)", p.stderr),
         "workers above max_workers is refused", p.stderr)
    p = check("min_spare = 5\nmax_spare = 3\n")
    t.ok(p.returncode == 1 and "max_spare (3) must be at least min_spare "
         "(5)" in p.stderr, "max_spare below min_spare is refused", p.stderr)
    p = check("max_workers = 2000\n")
    t.ok(p.returncode == 1 and "max_workers must be from 1 to 1024" in
         p.stderr, "max_workers is bounded", p.stderr)
    os.unlink(path)
    os.rmdir(d)


def wchan(pid):
    """What the kernel says pid sleeps in, "" where it will not say."""
    try:
        with open(f"/proc/{pid}/wchan") as f:
            return f.read().strip()
    except OSError:
        return ""


def idle_waits(srv, n):
    """The wait of each of n idle pre-login workers, once all n idle."""
    def idle():
        return [p for p in pool(srv) if "worker idle" in Server.title(p)]
    wait_for(lambda: len(idle()) == n and all(wchan(p) not in ("", "0")
                                              for p in idle()))
    time.sleep(0.2)
    return sorted(wchan(p) for p in idle())


def logins(srv, port, n):
    """n logins one after another on port; how many got +OK."""
    ok = 0
    for _ in range(n):
        c = Client(port)
        ok += c.login()[1].startswith("+OK")
        c.cmd("QUIT")
        c.close()
    return ok


def stops_at_once(srv, name):
    """SIGTERM stops srv within 3 s with status 0."""
    start = time.monotonic()
    rc = srv.stop()
    t.ok(rc == 0 and time.monotonic() - start < 3, name,
         (rc, time.monotonic() - start))


def accept_modes():
    """One listener: the idle workers all block in accept(2), which wakes
    one of them per connection, with no accept lock; two: they take turns
    under the lock, one at a time in ppoll(2).  SIGTERM ends either at
    once."""
    if not os.path.exists(f"/proc/{os.getpid()}/wchan"):
        t.skip("accept modes", "no /proc/PID/wchan")
        return
    with Server(workers=3) as srv:
        waits = idle_waits(srv, 3)
        t.ok(all("accept" in w for w in waits),
             "one listener: every idle worker waits in accept", waits)
        t.eq(logins(srv, srv.port, 12), 12, "and twelve logins in a row "
             "are served")
        t.eq(sum("accept" in w for w in idle_waits(srv, 3)), 3,
             "then all wait in accept again")
        stops_at_once(srv, "SIGTERM ends workers blocked in accept at "
                      "once, status 0")
    srv = Server(workers=3)
    srv.write_conf('listen { protocol = "pop3" address = "127.0.0.1" '
                   'port = 0 }\n')
    with srv:
        waits = idle_waits(srv, 3)
        t.ok(not any("accept" in w for w in waits) and
             sum("poll" in w for w in waits) == 1,
             "two listeners: one idle worker polls both, the others wait "
             "for the lock", waits)
        ports = sorted({int(m) for m in re.findall(
            r"listening on 127\.0\.0\.1:(\d+) \(pop3\)",
            "\n".join(srv.log))})
        t.eq([logins(srv, p, 4) for p in ports], [4, 4],
             "logins on either listener are served")
        stops_at_once(srv, "SIGTERM ends them at once, status 0")


grow_and_shrink()
at_max_workers()
recycled()
scoreboard()
mail_workers()
accept_modes()
config()
t.done()
