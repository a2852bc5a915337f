#!/usr/bin/env python3
"""test_safety.py: nothing is lost or duplicated, whatever happens.

1. A POP3 session process killed with SIGKILL mid-RETR, between DELEs and
   in the middle of the QUIT deletions leaves every unmarked message in
   place (once), no lock behind, and an index the next session accepts
   or rebuilds.
2. `postern deliver` killed mid-write, or failing on ENOSPC (a tiny tmpfs,
   as root) or EIO (an LD_PRELOAD shim, tests/shims/failio.c), leaves
   nothing visible in new/ or cur/ and exits 75 where it can.
3. Deliveries racing with a POP3 session and with its QUIT: every
   delivered message is there exactly once, exactly the deleted ones gone.
4. Two posternd instances (different host names, as two hosts sharing a
   Maildir tree over NFS) exclude each other with the maildrop lock, and
   their deliveries never collide in unique names.
"""
import os
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import postern  # noqa: E402
from postern import (POSTERN, Server, Tap, build_shim, files,  # noqa: E402
                     preload_env, put)

t = Tap()
ROOT = os.geteuid() == 0
NOBODY = 65534


def base(name):
    """A message file's base name: "new/x" or "cur/x:2,S" gives "x"."""
    return name.split("/", 1)[1].split(":", 1)[0]


def bases(md):
    """The base names of a Maildir's messages, with repeats."""
    return sorted(base(n) for n in files(md))


def message(i, size=0):
    """Message number i, with a Message-ID, padded to about size octets."""
    body = b"x" * 70 + b"\n"
    pad = body * (size // len(body)) if size else b""
    return (f"Message-ID: <m{i}@safety.test>\nSubject: m{i}\n\n"
            f"text {i}\n").encode() + pad


def msgid(text):
    """The Message-ID of message text, or None."""
    m = re.search(rb"(?mi)^Message-ID: <([^>]*)>", text)
    return m.group(1).decode() if m else None


def fill(srv, n, user="alice", big=None):
    """Puts n messages into user's new/ before the server starts; message
    big (a number) is 16 MiB.  Returns their base names, in order."""
    names = []
    for i in range(n):
        name = f"{1700000000 + i}.M{i}P1Q1.safety,S=1"
        data = message(i, 16 << 20 if i == big else 0)
        put(srv.maildir(user), name, data)
        names.append(name)
    return names


def session_pid(srv):
    """The pid of the process serving alice's logged-in POP3 session: a
    child of the auth process (privilege separation) or a worker, whose
    title names the session."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        pids = [p for p in srv.sessions() + srv.workers()
                if re.search(r"pop3 .*alice", srv.title(p))]
        if len(pids) == 1:
            return pids[0]
        time.sleep(0.02)
    return None


def gone(pid, timeout=5):
    """Waits until pid has exited (or is a zombie)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in "ZX":
                    return True
        except OSError:
            return True
        time.sleep(0.01)
    return False


def stopped(pid, timeout=5):
    """Waits until pid is stopped by a signal (state T), so that nothing
    it started is still under way."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "T":
                    return True
        except OSError:
            return False
        time.sleep(0.001)
    return False


def index_lines(srv, since):
    """Log lines about the index written since log line number since."""
    return [ln for ln in srv.log[since:] if "postern-index" in ln]


def next_session(srv, want, what, since):
    """Logs in again after a killed session: checks that the lock is
    gone, that the session lists exactly the base names want, that the
    index was accepted or rebuilt, and QUITs."""
    c = srv.client()
    r1, r2 = c.login()
    t.ok(r2.startswith("+OK"), f"{what}: the next session logs in "
         "(no lock left behind)", r2)
    n = int(c.cmd("STAT").split()[1]) if r2.startswith("+OK") else -1
    t.eq(n, len(want), f"{what}: the next session lists every message left")
    c.send("UIDL\r\n")
    c.line()
    uidls = c.multi().decode().split()[1::2]
    t.eq(sorted(u.split(":")[0] for u in uidls), sorted(want),
         f"{what}: UIDL names each message left once")
    c.cmd("QUIT")
    c.close()
    lines = index_lines(srv, since)
    t.ok(all("rebuilt" in ln for ln in lines),
         f"{what}: the index was accepted or rebuilt", "\n".join(lines))
    md = srv.maildir("alice")
    t.ok(os.path.exists(os.path.join(md, "postern-index")) and
         not os.path.exists(os.path.join(md, "postern-index.tmp")),
         f"{what}: a clean QUIT leaves the index in place, no temporary")


def socket_queues(port, peer):
    """The octets queued on the loopback TCP connection between port and
    peer, in both sockets' send and receive queues (/proc/net/tcp), or
    None when they cannot be read."""
    total, seen = 0, 0
    try:
        with open("/proc/net/tcp") as f:
            lines = f.readlines()[1:]
    except OSError:
        return None
    for line in lines:
        f = line.split()
        ports = (int(f[1].split(":")[1], 16), int(f[2].split(":")[1], 16))
        if ports in ((port, peer), (peer, port)):
            tx, rx = f[4].split(":")
            total += int(tx, 16) + int(rx, 16)
            seen += 1
    return total if seen == 2 else None


def kill_mid_retr():
    srv = Server()
    names = fill(srv, 6, big=3)
    with srv:
        # Write the index once, so that the kill hits a session that
        # read one.
        c = srv.client()
        c.login()
        c.cmd("QUIT")
        c.close()
        c = srv.client()
        c.sock.setsockopt(postern.socket.SOL_SOCKET,
                          postern.socket.SO_RCVBUF, 4096)
        c.login()
        pid = session_pid(srv)
        t.ok(pid is not None, "mid-RETR: found the session process")
        c.cmd("DELE 1")
        c.cmd("RETR 2")
        c.multi()
        r = c.cmd("RETR 4")
        t.ok(r.startswith("+OK"), "mid-RETR: RETR of the 16 MiB message "
             "started", r)
        got = len(c.buf) + len(c.sock.recv(1000))   # then stop reading
        time.sleep(0.2)
        # Everything the session wrote is read or queued in the kernel:
        # less than the message, so it was still in RETR.
        queued = socket_queues(srv.port, c.sock.getsockname()[1])
        since = len(srv.log)
        os.kill(pid, signal.SIGKILL)
        t.ok(gone(pid), "mid-RETR: the session process is gone")
        c.close()
        if queued is None:
            t.skip("mid-RETR: the kill came before the message was sent",
                   "no /proc/net/tcp")
        else:
            octets = int(r.split()[1])
            t.ok(got + queued < octets, "mid-RETR: the kill came before "
                 "the message was sent whole", (got, queued, octets))
        t.eq(bases(srv.maildir("alice")), sorted(names),
             "mid-RETR: every message is still there, once, "
             "the DELEd one too")
        t.eq(sorted(files(srv.maildir("alice"))),
             sorted("new/" + n for n in names),
             "mid-RETR: nothing moved to cur/ (no QUIT)")
        next_session(srv, names, "mid-RETR", since)


def kill_between_deles():
    srv = Server()
    names = fill(srv, 10)
    with srv:
        c = srv.client()
        c.login()
        pid = session_pid(srv)
        for i in (1, 2, 3):
            c.cmd(f"DELE {i}")
        c.cmd("RETR 5")
        c.multi()
        since = len(srv.log)
        os.kill(pid, signal.SIGKILL)
        t.ok(gone(pid), "between DELEs: the session process is gone")
        c.close()
        t.eq(bases(srv.maildir("alice")), sorted(names),
             "between DELEs: nothing is removed")
        next_session(srv, names, "between DELEs", since)


def kill_mid_quit(n, marked):
    """Marks messages 1..marked of n, RETRs two unmarked ones, sends QUIT
    and stops the session with SIGSTOP as soon as the first marked file
    disappears; checks the frozen state, then SIGKILLs it.  Returns
    whether the stop came in the middle of the deletions."""
    srv = Server()
    names = fill(srv, n)
    md = srv.maildir("alice")
    new = os.path.join(md, "new")
    with srv:
        c = srv.client()
        c.login()
        pid = session_pid(srv)
        c.send("".join(f"DELE {i}\r\n" for i in range(1, marked + 1)))
        oks = sum(c.line().startswith("+OK") for _ in range(marked))
        t.eq(oks, marked, f"mid-QUIT: {marked} messages marked")
        for i in (marked + 1, n):
            c.cmd(f"RETR {i}")
            c.multi()
        since = len(srv.log)
        first = names[0]
        c.send("QUIT\r\n")
        deadline = time.monotonic() + 10
        while os.path.exists(os.path.join(new, first)) and \
                time.monotonic() < deadline:
            pass
        os.kill(pid, signal.SIGSTOP)
        stopped(pid)
        left = bases(md)
        os.kill(pid, signal.SIGKILL)
        t.ok(gone(pid), "mid-QUIT: the session process is gone")
        c.close()
        unmarked = names[marked:]
        middle = len(unmarked) < len(left) < n
        t.ok(set(unmarked) <= set(left), "mid-QUIT: every unmarked "
             "message is still there", set(unmarked) - set(left))
        t.eq(len(left), len(set(left)), "mid-QUIT: no message is there "
             "twice (new/ and cur/)")
        after = bases(md)
        t.eq(after, left, "mid-QUIT: nothing changed after the kill")
        next_session(srv, after, "mid-QUIT", since)
        return middle


def kill_mid_quit_rounds():
    # The deletion loop is fast: stop the session right after the first
    # removal, with enough marked messages that it is still in the loop.
    for n, marked in ((3000, 2900), (8000, 7900)):
        if kill_mid_quit(n, marked):
            t.ok(True, f"mid-QUIT: the session was stopped in the middle "
                 f"of {marked} deletions")
            return
    t.skip("mid-QUIT: the session was stopped in the middle of the "
           "deletions", "the deletions always finished first")


# --- postern deliver -------------------------------------------------------

def deliver(srv, data, env=None, user="alice"):
    """Runs postern deliver; returns (exit status, stderr)."""
    p = subprocess.run([POSTERN, "deliver", "-c", srv.conf, user],
                       input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30,
                       env=dict(os.environ, **(preload_env(env) or {})))
    return p.returncode, p.stderr.decode("utf-8", "replace")


def visible(md):
    return files(md)


def tmp_files(md):
    return os.listdir(os.path.join(md, "tmp"))


def deliver_killed():
    with Server() as srv:
        md = srv.maildir("alice")
        p = subprocess.Popen([POSTERN, "deliver", "-c", srv.conf, "alice"],
                             stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        p.stdin.write(message(1, 1 << 20))
        p.stdin.flush()
        deadline = time.monotonic() + 5
        while not tmp_files(md) and time.monotonic() < deadline:
            time.sleep(0.01)
        t.ok(tmp_files(md) != [], "killed deliver: the message was being "
             "written in tmp/")
        p.kill()
        p.wait()
        p.stdin.close()
        t.eq(visible(md), [], "killed deliver: nothing in new/ or cur/")
        c = srv.client()
        c.login()
        t.eq(c.cmd("STAT"), "+OK 0 0", "killed deliver: POP3 lists nothing")
        c.cmd("QUIT")
        c.close()
        rc, err = deliver(srv, message(2))
        t.eq((rc, len(visible(md))), (0, 1),
             "killed deliver: the next delivery works")


def deliver_enospc():
    if not ROOT:
        t.skip("deliver on a full file system exits 75", "not root")
        return
    srv = Server()
    md = srv.maildir("alice")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k",
                              "tmpfs", md], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL).returncode == 0
    if not mounted:
        srv.cleanup()
        t.skip("deliver on a full file system exits 75",
               "cannot mount a tmpfs")
        return
    try:
        postern.maildir(md)
        with srv:
            rc, err = deliver(srv, message(1, 256 << 10))
            t.eq(rc, 75, "ENOSPC: deliver exits 75")
            t.ok("No space left" in err, "ENOSPC: the reason goes to "
                 "stderr", err)
            t.eq(visible(md), [], "ENOSPC: nothing in new/ or cur/")
            t.eq(tmp_files(md), [], "ENOSPC: nothing left in tmp/")
            rc, err = deliver(srv, message(2))
            t.eq((rc, len(visible(md))), (0, 1),
                 "ENOSPC: a message that fits is delivered")
    finally:
        subprocess.run(["umount", md])
        srv.cleanup()


def deliver_eio():
    with Server() as srv:
        md = srv.maildir("alice")
        so = build_shim("failio", srv.dir)
        if so is None:
            t.skip("EIO: deliver exits 75", "no C compiler")
            return
        tmp = os.path.realpath(os.path.join(md, "tmp"))
        for call, after, size in (("write", 0, 100), ("write", 3, 1 << 20),
                                  ("fsync", 0, 100)):
            env = {"LD_PRELOAD": so, "FAILIO_DIR": tmp,
                   "FAILIO_CALL": call, "FAILIO_AFTER": str(after)}
            rc, err = deliver(srv, message(1, size), env)
            what = f"EIO on {call} #{after + 1}"
            t.eq(rc, 75, f"{what}: deliver exits 75")
            t.ok("Input/output error" in err, f"{what}: the reason goes "
                 "to stderr", err)
            t.eq(visible(md), [], f"{what}: nothing in new/ or cur/")
            t.eq(tmp_files(md), [], f"{what}: nothing left in tmp/")
        # The shim does fail only what it is asked to: with a call it
        # never fails, the delivery goes through.
        env = {"LD_PRELOAD": so, "FAILIO_DIR": tmp, "FAILIO_CALL": "none"}
        rc, err = deliver(srv, message(2), env)
        t.eq((rc, len(visible(md))), (0, 1), "EIO: the shim alone breaks "
             "nothing")


# --- races -----------------------------------------------------------------

def deliver_many(srv, ids, threads=4):
    """Delivers message(i) for each i of ids with postern deliver, from
    threads threads at once.  Returns the failures as [(i, rc, err)]."""
    failures = []
    lock = threading.Lock()
    todo = list(ids)

    def run():
        while True:
            with lock:
                if not todo:
                    return
                i = todo.pop()
            rc, err = deliver(srv, message(i))
            if rc != 0:
                with lock:
                    failures.append((i, rc, err))

    ts = [threading.Thread(target=run) for _ in range(threads)]
    for th in ts:
        th.start()
    return ts, failures


def all_ids(srv):
    """Every message's Message-ID over POP3 (TOP n 0), with repeats."""
    c = srv.client()
    c.login()
    n = int(c.cmd("STAT").split()[1])
    out = []
    for i in range(1, n + 1):
        c.cmd(f"TOP {i} 0")
        out.append(msgid(c.multi()))
    c.cmd("QUIT")
    c.close()
    return out


def races():
    with Server() as srv:
        md = srv.maildir("alice")
        rcs = [deliver(srv, message(i))[0] for i in range(20)]
        t.eq(rcs, [0] * 20, "race: 20 messages delivered first")
        ts, failures = deliver_many(srv, range(100, 160))
        c = srv.client()
        c.login()
        n = int(c.cmd("STAT").split()[1])
        c.send("LIST\r\n")
        c.line()
        c.multi()
        deleted = []
        for i in range(1, n + 1):
            c.cmd(f"RETR {i}")
            mid = msgid(c.multi())
            if i % 2:
                c.cmd(f"DELE {i}")
                deleted.append(mid)
        # More deliveries while the QUIT applies the marks.
        ts2, failures2 = deliver_many(srv, range(200, 260))
        time.sleep(0.05)
        r = c.cmd("QUIT")
        t.ok(r.startswith("+OK"), "race: QUIT during deliveries", r)
        c.close()
        for th in ts + ts2:
            th.join()
        t.eq(failures + failures2, [], "race: every delivery exits 0")
        want = sorted({f"m{i}@safety.test" for i in
                       list(range(20)) + list(range(100, 160)) +
                       list(range(200, 260))} -
                      set(deleted))
        got = all_ids(srv)
        t.eq(len(deleted), (n + 1) // 2, "race: half the listed messages "
             "deleted")
        t.eq(sorted(got), want, "race: every delivered message is there "
             "exactly once, exactly the deleted ones gone")
        t.eq(len(files(md)), len(want), "race: as many files as messages")


# --- two instances on one Maildir tree -----------------------------------

def host_wrapper(dirname, host):
    """A script that starts posternd in a UTS namespace of its own whose
    host name is host (pid kept through the execs), or None."""
    unshare = shutil.which("unshare")
    if not ROOT or unshare is None or subprocess.run(
            [unshare, "-u", "hostname", host], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL).returncode != 0:
        return None
    wrap = os.path.join(dirname, f"posternd-{host}")
    with open(wrap, "w") as f:
        f.write(f"#!/bin/sh\nexec {unshare} -u sh -c "
                f"'hostname {host} && exec \"$0\" \"$@\"' "
                f"{postern.POSTERND} \"$@\"\n")
    os.chmod(wrap, 0o755)
    return wrap


def lmtp_port(srv):
    line = srv.wait_log(r"listening on 127\.0\.0\.1:\d+ \(lmtp\)")
    return int(re.search(r":(\d+) \(lmtp\)", line).group(1))


def start_as(srv, wrapper):
    saved = postern.POSTERND
    postern.POSTERND = wrapper or saved
    try:
        srv.start()
    finally:
        postern.POSTERND = saved


def two_instances():
    a = Server()
    b = Server(settings={"state_dir": a.settings["state_dir"]})
    # b serves a's accounts and Maildirs, under another name and port.
    b.passwd = a.passwd
    lmtp = ('listen { protocol = "lmtp" address = "127.0.0.1" '
            'port = 0 }\n')
    a.write_conf(lmtp)
    b.write_conf(lmtp)
    with open(b.conf) as f:
        text = f.read().replace('hostname = "test.example"',
                                'hostname = "other.example"')
    with open(b.conf, "w") as f:
        f.write(text)
    try:
        wa = host_wrapper(a.dir, "hosta")
        wb = host_wrapper(b.dir, "hostb")
        start_as(a, wa)
        start_as(b, wb)
        t.ok(a.port != b.port, "two instances: different ports")
        md = a.maildir("alice")
        c = a.client()
        r = c.login()[1]
        t.ok(r.startswith("+OK"), "two instances: alice logs in on one", r)
        d = b.client()
        r = d.login()[1]
        t.ok(r.startswith("-ERR [IN-USE]"), "two instances: the lock "
             "excludes a login on the other", r)
        d.close()
        c.cmd("QUIT")
        c.close()

        per = 150           # 300 through each instance
        errors = []

        def send(port, first):
            try:
                lm = smtplib.LMTP("127.0.0.1", port, timeout=20)
                for i in range(first, first + per):
                    lm.sendmail("s@safety.test", ["alice"],
                                message(i).replace(b"\n", b"\r\n"))
                lm.quit()
            except Exception as e:          # noqa: BLE001
                errors.append(repr(e))

        ths = [threading.Thread(target=send, args=(lmtp_port(a), 1000)),
               threading.Thread(target=send, args=(lmtp_port(b), 2000)),
               threading.Thread(target=send, args=(lmtp_port(a), 3000)),
               threading.Thread(target=send, args=(lmtp_port(b), 4000))]
        for th in ths:
            th.start()
        for th in ths:
            th.join()
        t.eq(errors, [], "two instances: every LMTP delivery accepted")
        names = files(md)
        t.eq(len(names), 4 * per, f"two instances: {4 * per} files, "
             "none lost to a name collision")
        t.eq(len(set(map(base, names))), len(names),
             "two instances: every unique name differs")
        if wa and wb:
            t.ok(any(n.split(",")[0].endswith(".hosta") for n in names) and
                 any(n.split(",")[0].endswith(".hostb") for n in names),
                 "two instances: the names carry each host's name")
        else:
            t.skip("two instances: the names carry each host's name",
                   "no UTS namespace (needs root and unshare)")
        d = b.client()
        r = d.login()[1]
        t.ok(r.startswith("+OK"), "two instances: alice logs in on the "
             "other once the first session ended", r)
        d.cmd("QUIT")
        d.close()
        got = all_ids(a)
        t.eq(sorted(got), sorted(f"m{i}@safety.test" for s in
                                 (1000, 2000, 3000, 4000)
                                 for i in range(s, s + per)),
             "two instances: every message there exactly once")
    finally:
        b.cleanup()
        a.cleanup()


for part in (kill_mid_retr, kill_between_deles, kill_mid_quit_rounds,
             deliver_killed, deliver_enospc, deliver_eio, races,
             two_instances):
    part()
t.done()
