#!/usr/bin/env python3
"""test_daemon.py: the process model and the command line of posternd.

A killed worker is replaced and the next client served; workers that
die at start slow the master down; SIGTERM stops everything and removes
the pidfile; -n checks a configuration; the daemon detaches without -f;
a socket left at a UNIX listener's path is replaced, a file is not; the
admin tool hashes and checks.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import (POSTERN, POSTERND, Client, Server, Tap,  # noqa
                     crlf, put, wait_for)

t = Tap()


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def workers_and_signals():
    with Server(workers=3) as srv:
        put(srv.maildir("alice"), "1000000001.a.test", "Subject: a\n\nA\n")
        size = len(crlf("Subject: a\n\nA\n"))
        t.ok(wait_for(lambda: len(srv.workers()) == 3),
             "the master pre-forks 3 workers", srv.workers())
        t.ok(os.path.exists(srv.pidfile), "the pidfile exists")
        with open(srv.pidfile) as f:
            t.eq(int(f.read().strip()), srv.proc.pid,
                 "the pidfile holds the master's pid")
        titles = [cmdline(p) for p in srv.workers()]
        t.ok(all("posternd: worker idle" in x for x in titles),
             "idle workers say so in their title", titles)

        c = srv.client()
        busy = [p for p in srv.workers()
                if "pop3 pre-auth 127.0.0.1" in cmdline(p)]
        t.eq(len(busy), 1, "a worker at the greeting says pre-auth")
        before = srv.workers()
        os.kill(busy[0], signal.SIGKILL)
        t.ok(c.closed(), "the killed worker's client is disconnected")
        t.ok(wait_for(lambda: len(srv.workers()) == 3 and
                      busy[0] not in srv.workers()),
             "the master replaces the killed worker",
             (before, srv.workers()))
        t.ok(srv.wait_log(rf"worker {busy[0]} killed by signal 9")
             is not None, "the death is logged")

        c = srv.client()
        c.login()
        where = srv.sessions() if srv.authd() else srv.workers()
        sess = [p for p in where if "pop3 alice 127.0.0.1" in cmdline(p)]
        t.eq(len(sess), 1, "the session's process title names the user")
        os.kill(sess[0], signal.SIGKILL)
        t.ok(c.closed(), "a killed session's client is disconnected")
        c = srv.client()
        t.eq(c.login()[1], f"+OK maildrop has 1 messages ({size} octets)",
             "the next client is served (and the dead lock is gone)")
        c.cmd("QUIT")
        t.ok(wait_for(lambda: len(srv.workers()) == 3),
             "the pool is whole again", srv.workers())

        # A busy session is left to finish within the grace period.
        c = srv.client()
        c.login()
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        t.eq(c.cmd("STAT"), f"+OK 1 {size}",
             "a busy session goes on after SIGTERM")
        c.cmd("QUIT")
        try:
            rc = srv.proc.wait(10)
        except subprocess.TimeoutExpired:
            rc = None
        t.eq(rc, 0, "SIGTERM: the master exits 0")
        t.ok(not os.path.exists(srv.pidfile), "the pidfile is removed")
        t.ok(srv.wait_log("stopped") is not None, "the stop is logged")


def grace_expires():
    with Server(settings=dict(shutdown_grace=1)) as srv:
        c = srv.client()
        c.login()
        start = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        rc = srv.proc.wait(10)
        took = time.monotonic() - start
        t.ok(rc == 0 and 0.8 < took < 5,
             "an idle client is cut off after the grace period", took)
        t.ok(srv.wait_log("(busy workers|sessions) still running")
             is not None, "the forced end is logged")


def config_check():
    d = tempfile.mkdtemp(prefix="postern-conf-")
    good = os.path.join(d, "good.conf")
    with open(good, "w") as f:
        # Both families on one port, as postern.conf(5) shows it, and
        # two listeners that let the kernel choose their ports.
        f.write('passwd_file = "/etc/postern/passwd"\n'
                'listen { protocol = "pop3" address = "::1" }\n'
                'listen { protocol = "pop3" address = "::" port = 995 }\n'
                'listen { protocol = "pop3" address = "*" port = 995 }\n'
                'listen { protocol = "pop1" address = "*" port = 0 }\n'
                'listen { protocol = "papm" address = "*" port = 0 }\n')
    p = subprocess.run([POSTERND, "-n", "-c", good], capture_output=True,
                       text=True)
    t.ok(p.returncode == 0, "posternd -n accepts a good file", p.stderr)
    t.ok("port = 110" in p.stdout and "idle_timeout = 600" in p.stdout,
         "-n prints the effective settings with defaults", p.stdout)

    cases = [
        ("workers = 0\n", r"bad\.conf:1: workers must be from 1"),
        ("# c\nidle_timeout = 60\n", r"bad\.conf:2: idle_timeout must be"),
        ("bogus = 1\n", r"bad\.conf:1: .*bogus"),
        ('plaintext_auth = "sometimes"\n', r"bad\.conf:1: plaintext_auth"),
        ('listen { protocol = "gopher" }\n',
         r'bad\.conf:1: unknown protocol "gopher"'),
        ("workers = many\n", r"bad\.conf:1:"),
        ("", r"no listen section"),
        ('listen { protocol = "pop3" address = "localhost" }\n',
         r"bad\.conf:1: address must be"),
        ('listen { protocol = "pop3" address = "::ffff:127.0.0.1" }\n',
         r'bad\.conf:1: address "::ffff:127\.0\.0\.1" is an IPv4 address '
         r'mapped into IPv6: write it as "127\.0\.0\.1"'),
        ('maildir = "relative/%q"\n', r"bad\.conf:1: maildir"),
        ('listen { protocol = "pop3" address = "*" port = 1110 }\n'
         'listen { protocol = "pop1" address = "0.0.0.0" port = 1110 }\n',
         r"bad\.conf:2: listen section 2 has the address and port \(or "
         r"path\) of section 1"),
        ('listen { protocol = "pop3" path = "/run/p.sock" }\n'
         'listen { protocol = "pop3" address = "::1" }\n'
         'listen { protocol = "lmtp" path = "/run/p.sock" }\n',
         r"bad\.conf:3: listen section 3 has the address and port \(or "
         r"path\) of section 1"),
        (f'pidfile = "{d}/none/p.pid"\n', r"bad\.conf: pidfile .*/none/p"
         r"\.pid cannot be made: .*/none is no directory"),
        (f'pidfile = "{d}"\n', r"bad\.conf: pidfile .* is no regular file"),
    ]
    # Run as root, what a start as root would refuse.
    if os.geteuid() == 0:
        cases += [
            ('user = "no-such-user-p"\n',
             r'bad\.conf: user "no-such-user-p" does not exist'),
            ('mail_user = "root"\n',
             r'bad\.conf: mail_user "root" is root: it must be '
             r'unprivileged'),
            (f'chroot = "{d}"\n', r"bad\.conf: chroot directory .* must be "
             r"a directory owned by root and writable by no one else"),
            (f'chroot = "{d}/none/empty"\n', r"bad\.conf: chroot directory "
             r".*/none/empty cannot be made: .*/none is no directory"),
        ]
        os.chmod(d, 0o777)
    bad = os.path.join(d, "bad.conf")
    for text, want in cases:
        with open(bad, "w") as f:
            f.write(text)
            if "listen" not in text and text:
                f.write('listen { protocol = "pop3" }\n')
        p = subprocess.run([POSTERND, "-n", "-c", bad], capture_output=True,
                           text=True)
        t.ok(p.returncode == 1 and re.search(want, p.stderr),
             f"-n rejects {text.strip() or 'an empty file'!r}",
             (p.returncode, p.stderr))
    if os.geteuid() == 0:
        with open(bad, "w") as f:
            f.write('user = "no-such-user-p"\n'
                    'listen { protocol = "pop3" address = "127.0.0.1" '
                    'port = 0 }\n')
        p = subprocess.run([POSTERN, "check", "-c", bad], capture_output=True,
                           text=True)
        t.ok(p.returncode == 1 and 'user "no-such-user-p" does not exist'
             in p.stderr, "postern check says so too", p.stderr)
        p = subprocess.run([POSTERND, "-f", "-c", bad], capture_output=True,
                           text=True, timeout=30)
        t.ok(p.returncode == 1 and 'user "no-such-user-p" does not exist'
             in p.stderr, "and a start as root is refused with the reason",
             (p.returncode, p.stderr))
        with open(bad, "w") as f:
            f.write(f'pidfile = "{d}/none/p.pid"\n'
                    'listen { protocol = "pop3" address = "127.0.0.1" '
                    'port = 0 }\n')
        p = subprocess.run([POSTERN, "check", "-c", bad], capture_output=True,
                           text=True)
        t.ok(p.returncode == 1 and "none is no directory" in p.stderr,
             "postern check of a pidfile that cannot be made", p.stderr)
    else:
        t.skip("what a start as root refuses", "needs root")
    p = subprocess.run([POSTERND, "-x"], capture_output=True, text=True)
    t.ok(p.returncode == 64 and "usage" in p.stderr,
         "unknown option: usage, exit 64")
    p = subprocess.run([POSTERND, "-n", "-c", os.path.join(d, "none")],
                       capture_output=True, text=True)
    t.ok(p.returncode == 1 and "No such file" in p.stderr,
         "a missing file is an error", p.stderr)
    p = subprocess.run([POSTERN, "check", "-c", good], capture_output=True,
                       text=True)
    t.ok(p.returncode == 0 and "port = 110" in p.stdout,
         "postern check prints the settings", p.stderr)
    pw = os.path.join(d, "passwd")
    with open(pw, "w") as f:
        f.write("alice:{PLAIN}a\nbob:{PLAIN}b:x\n# c\ncarol\n")
    withpw = os.path.join(d, "pw.conf")
    with open(withpw, "w") as f:
        f.write(f'passwd_file = "{pw}"\n'
                'listen { protocol = "pop3" address = "::1" }\n')
    p = subprocess.run([POSTERN, "check", "-c", withpw], capture_output=True,
                       text=True)
    t.ok(p.returncode == 1 and f"{pw}:2: invalid uid" in p.stderr and
         f"{pw}:4: no password field" in p.stderr and
         "2 malformed lines" in p.stderr and p.stdout == "",
         "postern check reports every malformed passwd-file line",
         (p.returncode, p.stderr))
    with open(pw, "w") as f:
        f.write("alice:{PLAIN}a\n")
    p = subprocess.run([POSTERN, "check", "-c", withpw], capture_output=True,
                       text=True)
    t.ok(p.returncode == 0 and "port = 110" in p.stdout,
         "and passes a good one", p.stderr)


def daemon_mode():
    srv = Server()
    try:
        srv.settings["workers"] = 1
        srv.write_conf()
        # Pick a port: daemon mode logs to syslog, so it cannot be read.
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        with open(srv.conf) as f:
            text = f.read().replace("port = 0", f"port = {port}")
        with open(srv.conf, "w") as f:
            f.write(text)
        rc = subprocess.run([POSTERND, "-c", srv.conf],
                            capture_output=True).returncode
        t.eq(rc, 0, "posternd without -f returns 0 after detaching")
        t.ok(wait_for(lambda: os.path.exists(srv.pidfile) and
                      os.path.getsize(srv.pidfile) > 0),
             "the detached daemon writes its pidfile")
        with open(srv.pidfile) as f:
            pid = int(f.read().strip())
        c = Client(port)
        t.ok(c.greeting.startswith("+OK"), "the detached daemon serves")
        c.close()
        p = subprocess.run([POSTERND, "-c", srv.conf], capture_output=True,
                           text=True)
        t.ok(p.returncode == 1 and "already running" in p.stderr,
             "a second instance refuses to start", p.stderr)
        os.kill(pid, signal.SIGTERM)
        t.ok(wait_for(lambda: not os.path.exists(f"/proc/{pid}")),
             "SIGTERM stops the detached daemon")
        t.ok(not os.path.exists(srv.pidfile), "and removes its pidfile")
    finally:
        srv.cleanup()


def admin_hash():
    p = subprocess.run([POSTERN, "hash"], input="s3cret\n",
                       capture_output=True, text=True)
    h = p.stdout.strip()
    t.ok(p.returncode == 0 and h.startswith("$"),
         "postern hash prints a crypt hash", p.stderr)
    with Server() as srv:
        with open(srv.passwd, "a") as f:
            home = os.path.join(srv.dir, "home", "alice")
            f.write(f"carol:{h}::::{home}::\n")
        c = srv.client()
        c.cmd("USER carol")
        t.ok(c.cmd("PASS s3cret").startswith("+OK maildrop"),
             "a hash from postern hash logs in")
        c.cmd("QUIT")
    p = subprocess.run([POSTERN], capture_output=True, text=True)
    t.eq(p.returncode, 64, "postern without a command: usage, exit 64")


def unix_socket_left():
    """A socket left at a listener's path by an earlier run is replaced;
    any other kind of file there makes the start fail with the reason."""
    import socket
    srv = Server()
    try:
        path = os.path.join(srv.dir, "p.sock")
        old = socket.socket(socket.AF_UNIX)
        old.bind(path)
        old.close()
        srv.write_conf(f'listen {{ protocol = "pop3" path = "{path}" }}\n')
        srv.start()
        t.ok(srv.wait_log(rf"listening on {re.escape(path)} \(pop3\)")
             is not None, "a socket left at the path is replaced")
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        try:
            s.connect(path)
            got = s.recv(100)
        except OSError as e:
            got = e
        t.eq(got, b"+OK Postern POP3 server ready\r\n",
             "and the new one serves")
        s.close()
        srv.stop()
        os.unlink(path)
        with open(path, "w") as f:
            f.write("not a socket\n")
        p = subprocess.run([POSTERND, "-f", "-c", srv.conf],
                           capture_output=True, text=True, timeout=30)
        t.ok(p.returncode == 1 and re.search(
             rf"listen {re.escape(path)}: Address already in use$",
             p.stderr, re.M), "a regular file at the path: the start "
             "fails with the reason", (p.returncode, p.stderr))
        with open(path) as f:
            t.eq(f.read(), "not a socket\n", "and the file is left alone")
    finally:
        srv.cleanup()


def workers_die_at_start():
    """Workers that cannot start (their chroot directory is gone) are
    each logged with their exit status; after five in a row the master
    pauses a second, and serves again once the cause is gone."""
    if os.geteuid() != 0:
        t.skip("workers dying at start", "needs root")
        return
    srv = Server(workers=1, settings=dict(
        min_spare=1, max_spare=1, max_workers=1, max_sessions_per_worker=1))
    root = os.path.join(srv.dir, "empty")
    srv.settings["chroot"] = root
    srv.write_conf()
    with srv:
        wait_for(lambda: [p for p in srv.workers()
                          if "worker idle" in cmdline(p)])
        os.rmdir(root)
        # The one worker serves a client and ends (status 0): the next
        # ones find no chroot directory.
        c = srv.client()
        c.cmd("QUIT")
        line = srv.wait_log(r"worker \d+ exited with status 1$")
        t.ok(line is not None, "a worker that cannot start is logged with "
             "its exit status", "\n".join(srv.log[-8:]))
        t.ok(srv.wait_log(rf"chroot {re.escape(root)}: No such file or "
                          r"directory$") is not None,
             "and the worker says why")
        pause = srv.wait_log(r"workers keep dying at start; waiting a "
                             r"second$")
        log = list(srv.log)
        before = log[:log.index(pause)] if pause in log else log
        # Every early death counts, whatever ended it.
        died = re.compile(r"worker \d+ (exited with status 1|killed by "
                          r"signal \d+)$")
        n = len([x for x in before if died.search(x)])
        t.ok(n == 5, "five in a row: the master says it pauses",
             f"{n} deaths before the pause:\n" + "\n".join(log))
        os.mkdir(root, 0o755)
        c = srv.client()
        t.eq(c.greeting, "+OK Postern POP3 server ready",
             "the directory back, a client is served")


workers_and_signals()
grace_expires()
config_check()
daemon_mode()
admin_hash()
unix_socket_left()
workers_die_at_start()
t.done()
