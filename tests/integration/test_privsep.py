#!/usr/bin/env python3
"""test_privsep.py: who holds a client's connection, and as whom.

While a client sits at the greeting, and again after its login, every
process that holds the server's end of that connection is found through
/proc (the socket's inode in /proc/net/tcp, then /proc/*/fd) and its
identity checked: before login the unprivileged user, chrooted to the
empty directory; after it the mail user; never root, with no way back.
The mail workers that serve session after session keep nothing of
them: the same files open after ten sessions, ended or dropped.
"""
import ctypes
import os
import pwd
import shutil
import signal
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import (Server, Tap, build_shim, holders,  # noqa: E402
                     open_files, put, socket_inode, wait_for)

t = Tap()


def status(pid):
    """Uid, Gid and Groups lines of /proc/PID/status (and the seccomp
    ones), as int lists; SigCgt, the signals it catches, as a mask."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups", "Seccomp", "NoNewPrivs",
                       "Seccomp_filters"):
                out[key] = [int(x) for x in value.split()]
            elif key == "SigCgt":
                out[key] = int(value, 16)
    return out


def nodelay(pid, inode):
    """TCP_NODELAY of process pid's descriptor on socket inode, read
    through a copy of it (pidfd_getfd(2), Linux 5.6); None where that
    cannot be had."""
    libc = ctypes.CDLL(None, use_errno=True)
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != f"socket:[{inode}]":
                continue
            pidfd = os.pidfd_open(pid)
        except (OSError, AttributeError):
            return None
        copy = libc.syscall(438, pidfd, int(fd), 0)   # SYS_pidfd_getfd
        os.close(pidfd)
        if copy < 0:
            return None
        s = socket.socket(fileno=copy)
        try:
            return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        finally:
            s.close()
    return None


def check(c, srv, want_uid, want_gid, root, what):
    port = c.sock.getsockname()[1]
    inode = socket_inode(srv.port, port)
    t.ok(inode is not None, f"{what}: the connection is in /proc/net/tcp")
    pids = holders(inode)
    t.ok(len(pids) >= 1, f"{what}: some process holds the connection",
         pids)
    for pid in pids:
        st = status(pid)
        title = Server.title(pid)
        t.eq(st["Uid"], [want_uid] * 4,
             f"{what}: {title}: real, effective, saved and fs uid")
        t.eq(st["Gid"], [want_gid] * 4,
             f"{what}: {title}: real, effective, saved and fs gid")
        t.ok(st["Groups"] in ([], [want_gid]),
             f"{what}: {title}: no supplementary groups", st["Groups"])
        if root is not None:
            t.eq(os.readlink(f"/proc/{pid}/root"), root,
                 f"{what}: {title}: chrooted to {root}")
    return pids


def main():
    if os.geteuid() != 0:
        t.skip("privilege separation", "needs root")
        return
    try:
        pw = pwd.getpwnam("postern")
    except KeyError:
        t.skip("privilege separation", "no user postern (make deps)")
        return
    nobody = pwd.getpwnam("nobody")
    with Server() as srv:
        put(srv.maildir("alice"), "1000000001.a.test", "Subject: a\n\nA\n")
        srv.own()
        deadline = time.monotonic() + 5
        while srv.authd() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # its title is set just after its fork
        a = srv.authd()
        t.ok(a is not None, "an auth process runs")
        t.eq(status(a)["Uid"][0] if a else None, 0,
             "the auth process is root (it reads the account database)")
        if a is not None and "Seccomp" in status(a):
            st = status(a)
            t.eq((st["Seccomp"], st["NoNewPrivs"]), ([2], [0]),
                 "the auth process has a seccomp filter, without "
                 "no_new_privs (PAM's helpers are programs)")

        # The signals the auth process catches (AddressSanitizer's own
        # handlers, under SANITIZE=1, catch others).
        authd_caught = sum(1 << (int(s) - 1) for s in (
            signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGCHLD,
            signal.SIGUSR2))
        wait_for(lambda: len(srv.sessions()) == 4)
        caught = {p: status(p).get("SigCgt") for p in srv.sessions()}
        t.ok(len(caught) == 4 and
             all(m is not None and m & authd_caught == 0
                 for m in caught.values()),
             "mail workers waiting for their first session catch none "
             "of the signals the auth process catches: its handlers, "
             "which write to a wake pipe they have closed, do not run in "
             "them", caught)

        c = srv.client()
        pre = check(c, srv, pw.pw_uid, pw.pw_gid, "/var/empty",
                    "at the greeting")
        t.ok(all("pre-auth" in Server.title(p) for p in pre),
             "before login only the pre-auth worker holds it")
        t.ok(a not in pre and srv.proc.pid not in pre,
             "neither the master nor the auth process holds it")
        for p in pre:
            st = status(p)
            if "Seccomp" not in st:
                t.skip("system call filter", "no Seccomp in /proc/PID/status")
                break
            t.eq((st["Seccomp"], st.get("NoNewPrivs")), ([2], [1]),
                 f"at the greeting: {Server.title(p)}: a seccomp filter "
                 "(mode 2) with no_new_privs")
        flag = nodelay(pre[0], socket_inode(srv.port,
                                            c.sock.getsockname()[1]))
        if flag is None:
            t.skip("TCP_NODELAY", "no pidfd_getfd(2) here")
        else:
            t.ok(flag != 0, "the connection has TCP_NODELAY, from the "
                 "listener", flag)

        c.send("USER alice\r\nPASS wonderland\r\nSTAT\r\n")
        t.eq(c.line(), "+OK send PASS", "USER")
        t.ok(c.line().startswith("+OK maildrop has 1"), "PASS")
        t.ok(c.line().startswith("+OK 1 "),
             "a command pipelined after PASS reaches the session process")
        post = check(c, srv, nobody.pw_uid, nobody.pw_gid, None,
                     "after login")
        t.ok(all("pop3 alice" in Server.title(p) for p in post),
             "after login only the session process holds it",
             [Server.title(p) for p in post])
        t.ok(not set(pre) & set(post),
             "the pre-auth worker let go of the connection")
        if "Seccomp" in status(post[0]):
            got = [(status(p)["Seccomp"], status(p)["NoNewPrivs"])
                   for p in post]
            t.ok(all(g == ([2], [0]) for g in got),
                 "after login: a seccomp filter without no_new_privs (a "
                 "set-group-ID papm_relay_command keeps its group)", got)
        c.cmd("QUIT")

        # Accounts that run as mail_user are served by mail workers, one
        # session after another: logins start no new process.
        before = set(srv.sessions())
        files = {p: open_files(p) for p in before}
        for i in range(10):
            c = srv.client()
            c.login()
            c.cmd("STAT")
            if i % 3 == 2:      # dropped, without QUIT
                c.close()
                continue
            c.cmd("QUIT")
            c.closed()
        after = set(srv.sessions())
        t.ok(len(before) == 4 and before == after,
             "ten logins were served by the same 4 mail workers",
             (sorted(before), sorted(after)))
        t.ok(wait_for(lambda: {p: open_files(p) for p in after} == files),
             "they hold the same files as before them (none left over "
             "from a session, ended or dropped)",
             ({p: open_files(p) for p in after}, files))
        t.ok(all(status(p)["Uid"] == [nobody.pw_uid] * 4 for p in after),
             "the mail workers run as mail_user, for good")
        t.ok(all(status(p).get("Seccomp", [2]) == [2] for p in after),
             "the mail workers have a seccomp filter",
             [status(p).get("Seccomp") for p in after])
        if all("Seccomp_filters" in status(p) for p in after):
            t.eq([status(p)["Seccomp_filters"] for p in after],
                 [[2]] * len(after),
                 "two: the auth process's, inherited, and the keyrings "
                 "(not its larger one twice)")

        # An account naming uid 0 is never served.
        with open(srv.passwd, "a") as f:
            home = os.path.join(srv.dir, "home", "alice")
            f.write(f"toor:{{PLAIN}}x:0:0::{home}::\n")
        c = srv.client()
        c.cmd("USER toor")
        t.ok(c.cmd("PASS x").startswith("-ERR"), "uid 0 is refused")
        c.close()

    # Without mail_user, an account that names no uid is refused, never
    # served as root.
    with Server(settings={"mail_user": ""}) as srv:
        c = srv.client()
        t.eq(c.login("alice", "wonderland")[1], "-ERR [SYS/TEMP] "
             "authentication is unavailable, try again later",
             "no uid and no mail_user: the login is refused")
        c.close()
        t.ok(srv.wait_log(r"account alice names no uid and mail_user is "
                          r"not set: refused rather than served as root"),
             "and the auth process logs why")

    no_filters()


def no_filters():
    """On a kernel that refuses system call filters (a shim makes
    prctl(PR_SET_SECCOMP) fail as such a kernel does), each kind of
    process says so, once a minute, and serves as before."""
    d = tempfile.mkdtemp(prefix="postern-shim-")
    try:
        so = build_shim("noseccomp", d)
        if so is None:
            t.skip("a kernel without system call filters", "no C compiler")
        else:
            serve_unfiltered(so)
    finally:
        shutil.rmtree(d)


def serve_unfiltered(so):
    with Server(settings={"mail_workers": 2},
                env={"LD_PRELOAD": so}) as srv:
        put(srv.maildir("alice"), "1000000001.a.test", "Subject: a\n\nA\n")
        srv.own()
        c = srv.client()
        pre = holders(socket_inode(srv.port, c.sock.getsockname()[1]))
        t.eq([status(p).get("Seccomp", [0]) for p in pre], [[0]],
             "without filters: the pre-login worker has none")
        t.ok(c.login()[1].startswith("+OK maildrop has 1"),
             "without filters: the login is served")
        t.ok(c.cmd("STAT").startswith("+OK 1 "), "and its session works")
        c.cmd("QUIT")
        t.ok(srv.wait_log(r"pre-login worker: no system call filter: "
                          r"Invalid argument$"),
             "the pre-login worker logs that it has no filter, and why")
        t.ok(srv.wait_log(r"nobody: no system call filter: Invalid "
                          r"argument"),
             "a mail worker (mail_user nobody) logs it too")
        t.ok(srv.wait_log(r"auth process: no system call filter: Invalid "
                          r"argument$"),
             "and the auth process")
        for _ in range(3):
            c = srv.client()
            c.login()
            c.cmd("QUIT")
            c.closed()
        t.eq(srv.log_count(r"pre-login worker: no system call filter",
                           2, timeout=1), 1,
             "said once a minute, not by every worker")
        t.eq(srv.log_count(r"nobody: no system call filter", 2, timeout=1),
             1, "nor by every mail worker")
    # A local worker without mail_user stays root, with its own line.
    srv = Server(settings={"mail_user": ""}, env={"LD_PRELOAD": so})
    srv.write_conf('listen { protocol = "lmtp" address = "127.0.0.1" '
                   'port = 0 }\n')
    with srv:
        t.ok(srv.wait_log(r"local worker: no system call filter: Invalid "
                          r"argument$"),
             "a local worker that stays root logs it too")


def authd_dies():
    """The auth process killed: the master logs it and starts another; a
    session already open runs on, and new logins are checked by the new
    one."""
    if os.geteuid() != 0:
        t.skip("the auth process killed", "needs root")
        return
    with Server() as srv:
        put(srv.maildir("alice"), "1000000001.a.test", "Subject: a\n\nA\n")
        srv.own()
        c = srv.client()
        t.eq(c.login()[1][:3], "+OK", "alice logs in")
        old = srv.authd()
        os.kill(old, signal.SIGKILL)
        t.ok(srv.wait_log(rf"auth process {old} ended \(status 9\); its "
                          r"sessions are no longer counted"),
             "the master logs the auth process's death")
        deadline = time.monotonic() + 5
        new = None
        while time.monotonic() < deadline:
            new = srv.authd()
            if new not in (None, old):
                break
            time.sleep(0.05)
        t.ok(new not in (None, old), "and starts another", (old, new))
        t.ok(c.cmd("STAT").startswith("+OK 1 "), "the open session runs on")
        c2 = srv.client()
        t.eq(c2.login(password="wrong")[1][:4], "-ERR",
             "a wrong password is refused by the new auth process")
        c2.close()
        c3 = srv.client()
        t.eq(c3.login(user="bob", password="builder")[1][:3], "+OK",
             "and a right one accepted")
        t.ok(c.cmd("QUIT").startswith("+OK"), "the old session quits")
        t.ok(c3.cmd("QUIT").startswith("+OK"), "and the new one")


main()
authd_dies()
t.done()
