#!/usr/bin/env python3
"""test_reload.py: SIGHUP and SIGTERM in the life of posternd.

SIGHUP with a changed max_bad_commands and a new listener: new
connections get both, a session opened before goes on under the old
settings, the idle workers are new processes; the listen queues hold
max_connections connections, kept listeners' too after a change; a
listener dropped from the file stops listening; a UNIX listener is kept
by its path; settings that wait for a restart say so; a broken file, an
unsafe chroot, or a listener that cannot be bound is refused with the
reason and the old configuration keeps serving; the master and the auth
process hold no more files after reloads and sessions than before.
SIGTERM: idle workers end at once, busy clients get the
protocol's closing reply when shutdown_grace runs out, and the master
exits 0 without its pidfile.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import (Client, Server, Tap, open_files,  # noqa: E402
                     wait_for)

t = Tap()


def ports(srv, proto="pop3"):
    out = []
    for line in srv.log:
        m = re.search(rf"listening on 127\.0\.0\.1:(\d+) \({proto}\)", line)
        if m:
            out.append(int(m.group(1)))
    return out


def idle_workers(srv):
    return [p for p in srv.workers()
            if re.search(r"posternd: (worker|local) idle", Server.title(p))]


def bad_commands(c, n):
    """The replies to n unknown commands, and the line after them when
    the server closes (or "")."""
    got = [c.cmd("BOGUS") for _ in range(n)]
    c.sock.settimeout(0.5)
    try:
        return got + [c.line()]
    except OSError:
        return got + [""]


def hup(srv, pattern):
    """SIGHUP, then the log line matching pattern that it caused."""
    mark = len(srv.log)
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in srv.log[mark:]:
            if re.search(pattern, line):
                return line
        time.sleep(0.05)
    return None


def listen_queue(port):
    """The listen queue (backlog) of the TCP listener on port, as ss(8)
    shows it in Send-Q; None when there is none."""
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"],
                         capture_output=True, text=True).stdout.split()
    return int(out[2]) if len(out) >= 3 else None


def reload_changes():
    srv = Server(settings=dict(max_bad_commands=20, max_connections=300))
    with srv:
        t.eq(listen_queue(srv.port), 300, "the listen queue holds "
             "max_connections = 300 connections")
        old = srv.client()
        t.ok(old.login()[1].startswith("+OK"), "a session before SIGHUP")
        idle = [p for p in srv.workers()
                if "worker idle" in Server.title(p)]

        srv.settings["max_bad_commands"] = 2
        srv.settings["max_connections"] = 450
        srv.write_conf('listen { protocol = "pop3" address = "127.0.0.1" '
                       'port = 0 }\n')
        line = hup(srv, r"SIGHUP: configuration reloaded \(generation 2\)")
        t.ok(line is not None, "SIGHUP reloads the configuration",
             "\n".join(srv.log[-10:]))
        t.eq(len(ports(srv)), 2, "the new listener is bound and logged")
        t.eq([listen_queue(p) for p in ports(srv)], [450, 450],
             "max_connections = 450: the kept listener's queue and the "
             "new one's")
        t.ok(wait_for(lambda: not set(idle) & set(srv.workers())),
             "the idle workers are replaced", (idle, srv.workers()))

        new = Client(ports(srv)[1])
        t.ok(new.greeting.startswith("+OK"), "the new listener serves")
        got = bad_commands(new, 2)
        t.eq(got[2], "-ERR too many bad commands, closing",
             "a new connection has the new max_bad_commands = 2")
        t.ok(new.closed(), "and is closed after 2")
        again = srv.client()
        t.ok(again.greeting.startswith("+OK"),
             "the kept listener still serves")
        again.close()
        got = bad_commands(old, 3)
        t.ok(all(r.startswith("-ERR") and "closing" not in r
                 for r in got[:3]) and got[3] == "",
             "the session from before goes on under the old limit", got)
        old.sock.settimeout(10)
        t.eq(old.cmd("STAT"), "+OK 0 0", "and still works")
        old.cmd("QUIT")

        del srv.settings["max_connections"]
        srv.write_conf()
        line = hup(srv, r"SIGHUP: configuration reloaded \(generation 3\)")
        t.ok(line is not None and srv.wait_log(
             rf"no longer listening on 127\.0\.0\.1:{ports(srv)[1]} "
             r"\(pop3\)") is not None,
             "a listener dropped from the file is closed")
        try:
            s = socket.create_connection(("127.0.0.1", ports(srv)[1]),
                                         timeout=2)
            s.settimeout(2)
            refused = s.recv(100) == b""
            s.close()
        except OSError:
            refused = True
        t.ok(refused, "nothing answers on its port any more")
        t.eq(listen_queue(srv.port), 1000, "the default max_connections: "
             "a queue of 1000")


def reload_refused():
    srv = Server(settings=dict(max_bad_commands=2))
    with srv:
        srv.settings["max_bad_commands"] = 0
        srv.write_conf()
        line = hup(srv, r"not reloaded; the configuration in use stays")
        t.ok(line is not None, "a broken file is refused")
        t.ok(srv.wait_log(r"SIGHUP: .*postern\.conf:\d+: max_bad_commands "
                          r"must be from 1 to 1000, not 0") is not None,
             "with the reason, in the log", "\n".join(srv.log[-6:]))
        c = srv.client()
        got = bad_commands(c, 2)
        t.eq(got[2], "-ERR too many bad commands, closing",
             "the configuration in use keeps serving")

        srv.settings["max_bad_commands"] = 5
        srv.write_conf('listen { protocol = "pop3" address = "192.0.2.1" '
                       'port = 0 }\n')
        mark = len(srv.log)
        line = hup(srv, r"not reloaded; the configuration in use stays")
        t.ok(line is not None and any(re.search(r"listen 192\.0\.2\.1 port "
                                                r"0: ", x)
                                      for x in srv.log[mark:]),
             "a listener that cannot be bound is refused with the reason",
             "\n".join(srv.log[mark:]))
        c = srv.client()
        got = bad_commands(c, 2)
        t.eq(got[2], "-ERR too many bad commands, closing",
             "and the old configuration stays")
        t.ok(srv.proc.poll() is None, "posternd still runs")


def shutdown():
    extra = 'listen { protocol = "lmtp" address = "127.0.0.1" port = 0 }\n'
    srv = Server(workers=3, settings=dict(shutdown_grace=2))
    srv.write_conf(extra)
    with srv:
        a = srv.client()
        t.ok(a.login()[1].startswith("+OK"), "a logged-in client")
        b = srv.client()
        lm = socket.create_connection(("127.0.0.1", ports(srv, "lmtp")[0]),
                                      timeout=10)
        lm.settimeout(10)
        lmf = lm.makefile("rb")
        lmf.readline()
        t.ok(wait_for(lambda: len(idle_workers(srv)) >= 2),
             "idle workers wait")
        idle = idle_workers(srv)
        start = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        t.ok(wait_for(lambda: not [p for p in srv.workers() if p in idle
                                   and Server.title(p) != ""], 1),
             "SIGTERM: idle workers end at once",
             [(p, Server.title(p)) for p in srv.workers()])
        t.eq(a.cmd("NOOP"), "+OK", "a busy session goes on in the grace")
        t.eq(a.line(), "-ERR [SYS/TEMP] server shutting down",
             "then gets POP3's closing reply")
        took = time.monotonic() - start
        t.ok(a.closed() and 1.8 < took < 6, "and is closed after "
             "shutdown_grace = 2", took)
        t.eq(b.line(), "-ERR [SYS/TEMP] server shutting down",
             "a client at the greeting gets it too")
        t.eq(lmf.readline(), b"421 4.3.2 test.example server shutting "
             b"down\r\n", "an LMTP client gets LMTP's")
        try:
            rc = srv.proc.wait(10)
        except Exception:
            rc = None
        t.eq(rc, 0, "the master exits 0")
        t.ok(not os.path.exists(srv.pidfile), "and removes the pidfile")
        t.ok(srv.wait_log(r"\d+ sessions still running after 2 s; closing "
                          r"them") is not None, "the closing is logged")


def holder(pids, what, timeout=10):
    """The first of pids() whose title has what, waiting for it up to
    timeout; None if none comes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = [p for p in pids() if what in Server.title(p)]
        if got:
            return got[0]
        time.sleep(0.05)
    return None


def shutdown_kills():
    """Processes that do not end after their closing reply (stopped
    here, as a session stuck in a dead NFS server would be) are killed,
    and each is logged with what it served."""
    with Server(workers=2, settings=dict(shutdown_grace=1)) as srv:
        a = srv.client()
        t.ok(a.login()[1].startswith("+OK"), "a logged-in client")
        b = srv.client()
        sess = holder(srv.sessions, "pop3 alice")
        pre = holder(srv.workers, "pre-auth")
        t.ok(sess and pre, "a session process and a worker at the greeting",
             (sess, pre))
        if not (sess and pre):
            return
        os.kill(sess, signal.SIGSTOP)
        os.kill(pre, signal.SIGSTOP)
        srv.proc.send_signal(signal.SIGTERM)
        try:
            rc = srv.proc.wait(15)
        except subprocess.TimeoutExpired:
            rc = None
        t.eq(rc, 0, "the master exits 0 once they are killed")
        t.ok(srv.wait_log(rf"killing session process {sess}: "
                          r"user=<alice> rip=127\.0\.0\.1 proto=pop3$"),
             "the stuck session is logged by user, address and protocol")
        t.ok(srv.wait_log(rf"killing worker {pre}: user=<> "
                          r"rip=127\.0\.0\.1 proto=pop3$"),
             "the stuck worker at the greeting is logged too")
        t.ok(a.closed() and b.closed(), "both clients are let go")


def reload_restart_only():
    """A changed pidfile, and a max_connections beyond the scoreboard's
    session slots, wait for a restart, and SIGHUP says so; a login that
    finds no slot is refused with the protocol's reply and logged."""
    srv = Server(users={"alice": "wonderland", "bob": "builder"},
                 settings=dict(max_connections=1))
    with srv:
        pidfile = srv.pidfile
        srv.pidfile = os.path.join(srv.dir, "other.pid")
        srv.settings["max_connections"] = 3
        srv.write_conf()
        line = hup(srv, r"SIGHUP: configuration reloaded \(generation 2\)")
        t.ok(line is not None, "the file is reloaded",
             "\n".join(srv.log[-6:]))
        t.ok(srv.wait_log(r"SIGHUP: pidfile: the change takes effect at "
                          r"a restart$") is not None,
             "a changed pidfile is logged as waiting for a restart")
        t.ok(srv.wait_log(r"SIGHUP: max_connections: 1 session processes "
                          r"at most until a restart$") is not None,
             "so is a max_connections beyond the scoreboard")
        t.ok(os.path.exists(pidfile) and
             not os.path.exists(srv.pidfile), "the pidfile stays where "
             "it was")
        a = srv.client()
        t.eq(a.login()[1], "+OK maildrop has 0 messages (0 octets)",
             "a first session takes the one slot")
        b = srv.client()
        t.eq(b.login("bob", "builder")[1],
             "-ERR [SYS/TEMP] too many connections",
             "a second login finds none and is refused")
        t.ok(srv.wait_log(r"refused: user=<bob> rip=127\.0\.0\.1 "
                          r"proto=pop3 reason=too many connections "
                          r"\(max_connections = 1\)$") is not None,
             "and logged with the limit in force", "\n".join(srv.log[-4:]))
        t.ok(srv.wait_log(r"login: user=<bob> ", 0.3) is None,
             "not as a login")
        a.cmd("QUIT")
        b.close()


def reload_privsep_refused():
    """A file whose chroot directory is writable by others is refused
    on SIGHUP with the reason, and the configuration in use stays."""
    if os.geteuid() != 0:
        t.skip("a reload with a bad chroot directory", "needs root")
        return
    with Server() as srv:
        root = os.path.join(srv.dir, "open")
        os.mkdir(root)
        os.chmod(root, 0o777)
        srv.settings["chroot"] = root
        srv.settings["max_bad_commands"] = 1
        srv.write_conf()
        line = hup(srv, r"not reloaded; the configuration in use stays")
        t.ok(line is not None and srv.wait_log(
             rf"chroot directory {re.escape(root)} must be a directory "
             r"owned by root and writable by no one else$") is not None,
             "a chroot directory writable by others is refused",
             "\n".join(srv.log[-6:]))
        c = srv.client()
        t.eq(bad_commands(c, 2)[1], "-ERR unknown command",
             "the configuration in use stays")
        c.close()
        c = srv.client()
        t.eq(c.login()[1], "+OK maildrop has 0 messages (0 octets)",
             "and serves")


def reload_unix():
    """A UNIX socket listener the new file still names, by path, stays
    open across SIGHUP, even when its protocol changes; a new path is
    bound and the old one closed."""
    srv = Server()
    path = os.path.join(srv.dir, "a.sock")
    srv.write_conf(f'listen {{ protocol = "pop3" path = "{path}" }}\n')
    with srv:
        ino = os.stat(path).st_ino
        srv.write_conf(f'listen {{ protocol = "pop1" path = "{path}" }}\n')
        line = hup(srv, r"SIGHUP: configuration reloaded \(generation 2\)")
        t.ok(line is not None, "the file is reloaded")
        t.eq(os.stat(path).st_ino, ino, "the socket is kept, not bound "
             "anew")
        t.eq(len([x for x in srv.log if f"listening on {path} " in x]), 1,
             "neither bound again nor closed")
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(path)
        t.eq(s.recv(100), b"+OK Postern POP server ready\r\n",
             "and it serves the new protocol")
        s.close()
        other = os.path.join(srv.dir, "b.sock")
        srv.write_conf(f'listen {{ protocol = "pop3" path = "{other}" }}\n')
        line = hup(srv, r"SIGHUP: configuration reloaded \(generation 3\)")
        t.ok(srv.wait_log(rf"listening on {re.escape(other)} \(pop3\)$")
             and srv.wait_log(rf"no longer listening on {re.escape(path)}"
                              r" \(pop1\)$"),
             "a new path is bound, the old one closed",
             "\n".join(srv.log[-6:]))


def auth_files(srv):
    """open_files() of the auth process, less the socket it holds for
    each of its mail workers."""
    auth = srv.authd()
    out = open_files(auth)
    out["socket"] -= len([p for p in srv.children(auth)
                          if "posternd: mail" in Server.title(p)])
    return out


def sessions_of_each_kind(srv):
    """A login, a failed one and a session ended by a drop over POP3, a
    login over MRP and a delivery over LMTP."""
    c = srv.client()
    c.login()
    c.cmd("STAT")
    c.cmd("QUIT")
    c.close()
    c = srv.client()
    c.login("alice", "wrong")
    c.close()
    c = srv.client()
    c.login()
    c.close()
    s = socket.create_connection(("127.0.0.1", ports(srv, "mrp")[0]),
                                 timeout=5)
    s.sendall(b"LOGIN alice wonderland\r\nSELECT INBOX\r\nLOGOUT\r\n")
    got = b""
    while got.count(b"\r\n") < 5:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    s.close()
    s = socket.create_connection(("127.0.0.1", ports(srv, "lmtp")[0]),
                                 timeout=5)
    s.sendall(b"LHLO x\r\nMAIL FROM:<a@example.org>\r\n"
              b"RCPT TO:<bob>\r\nDATA\r\n")
    time.sleep(0.1)
    s.sendall(b"Subject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n")
    while s.recv(4096):
        pass
    s.close()


def reload_no_leak():
    """Files the master and the auth process hold are the same after
    reloads (kept, changed and refused) with sessions of each kind
    between them: a daemon reloaded every night for years must not
    run out of descriptors."""
    srv = Server()
    base = ('listen { protocol = "mrp" address = "127.0.0.1" port = 0 }\n'
            'listen { protocol = "lmtp" address = "127.0.0.1" port = 0 }\n')
    srv.write_conf(base)
    with srv:
        sessions_of_each_kind(srv)
        before = (open_files(srv.proc.pid), auth_files(srv))
        gen = 1
        for i in range(6):
            extra = base
            if i % 3 == 1:      # a listener added, dropped at the next
                extra += ('listen { protocol = "pop1" '
                          'address = "127.0.0.1" port = 0 }\n')
            if i % 3 == 2:      # refused: the one in use stays
                srv.write_conf(base + "bogus = 1\n")
                t.ok(hup(srv, r"not reloaded") is not None,
                     f"reload {i + 1}: a broken file is refused")
                continue
            srv.write_conf(extra)
            gen += 1
            t.ok(hup(srv, rf"reloaded \(generation {gen}\)") is not None,
                 f"reload {i + 1}: configuration reloaded")
            sessions_of_each_kind(srv)
        srv.write_conf(base)
        gen += 1
        hup(srv, rf"reloaded \(generation {gen}\)")
        sessions_of_each_kind(srv)
        t.eq(open_files(srv.proc.pid), before[0], "the master holds the "
             "same files after reloads and sessions as before")
        # The auth process starts its mail workers anew after a reload,
        # and more when a login finds them all busy: the one socket it
        # holds for each is left out.
        after = wait_for(lambda: auth_files(srv) == before[1])
        t.ok(after, "so does the auth process, but for a socket per mail "
             "worker", (auth_files(srv), before[1]))


reload_changes()
reload_refused()
shutdown()
shutdown_kills()
reload_restart_only()
reload_privsep_refused()
reload_unix()
reload_no_leak()
t.done()
