#!/usr/bin/env python3
"""test_lmtp.py: LMTP end to end against the real build/posternd.

Python's smtplib.LMTP delivers over a TCP listener and over a UNIX socket
listener; POP3 then returns each message byte for byte, with the
Return-Path: and Delivered-To: lines the LMTP module adds.

Started as root, posternd serves LMTP from its local workers, which are
not chrooted and run as mail_user (nobody here), with privilege
separation on for POP3.
"""
import os
import pwd
import re
import signal
import smtplib
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import postern  # noqa: E402
from postern import (POSTERN, Server, Tap, build_shim, crlf,  # noqa: E402
                     holders, open_files, preload_env, read_to_end,
                     sanitized, socket_inode)

t = Tap()
NOBODY = 65534


def lmtp_server():
    """A Server with an LMTP listener on TCP and one on a UNIX socket."""
    srv = Server(settings={"lmtp_max_message_size": 200000})
    sock = os.path.join(srv.dir, "lmtp.sock")
    srv.write_conf('listen { protocol = "lmtp" address = "127.0.0.1" '
                   'port = 0 }\n'
                   f'listen {{ protocol = "lmtp" path = "{sock}" }}\n')
    start(srv)
    srv.lmtp_sock = sock
    return srv


def start(srv):
    """Starts srv and notes its LMTP listener's port."""
    srv.start()
    line = srv.wait_log(r"listening on 127\.0\.0\.1:\d+ \(lmtp\)")
    srv.lmtp_port = int(re.search(r":(\d+) \(lmtp\)", line).group(1))


def local_workers(srv):
    """The local workers waiting, once there is one (the master starts
    it just after the listeners), or none after 5 s."""
    deadline = time.monotonic() + 5
    while True:
        local = [p for p in srv.workers()
                 if "posternd: local idle" in Server.title(p)]
        if local or time.monotonic() > deadline:
            return local
        time.sleep(0.05)


def pop3_messages(srv, user, password):
    """RETR of every message of user, in order."""
    c = srv.client()
    c.login(user, password)
    n = int(c.cmd("STAT").split()[1])
    out = []
    for i in range(1, n + 1):
        c.cmd(f"RETR {i}")
        out.append(c.multi())
    c.cmd("QUIT")
    c.close()
    return out


def tcp_and_unix():
    srv = lmtp_server()
    try:
        msg = (b"From: a@example.org\r\nSubject: over lmtp\r\n\r\n"
               b".starts with a dot\r\n\r\n8 bit: \xc3\xa9\r\nend\r\n")
        lm = smtplib.LMTP("127.0.0.1", srv.lmtp_port, timeout=10)
        code, caps = lm.ehlo("client.example")
        t.eq(code, 250, "LHLO over TCP")
        t.ok(b"PIPELINING" in caps and b"SIZE 200000" in caps,
             "LHLO lists PIPELINING and the SIZE limit", caps)
        refused = lm.sendmail("a@example.org",
                              ["alice@test.example", "mallory", "bob"], msg)
        t.eq(refused, {"mallory": (550, b"5.1.1 <mallory> unknown user")},
             "the unknown recipient is refused, the others accepted")
        lm.quit()

        lm = smtplib.LMTP(srv.lmtp_sock, timeout=10)
        lm.ehlo("client.example")
        t.eq(lm.sendmail("", ["alice"], b"Subject: unix\r\n\r\nx\r\n"), {},
             "delivery over the UNIX socket")
        lm.quit()
        mode = stat.S_IMODE(os.stat(srv.lmtp_sock).st_mode)
        t.eq(oct(mode), oct(0o660), "the UNIX socket has mode 0660")

        got = pop3_messages(srv, "alice", "wonderland")
        t.eq(len(got), 2, "alice has both messages")
        t.eq(got[0], crlf(b"Return-Path: <a@example.org>\n"
                          b"Delivered-To: <alice@test.example>\n") + msg,
             "POP3 returns the LMTP message byte for byte")
        t.eq(got[1], crlf(b"Return-Path: <>\nDelivered-To: <alice>\n"
                          b"Subject: unix\n\nx\n"),
             "and the one from the UNIX socket")
        bob = pop3_messages(srv, "bob", "builder")
        t.eq(bob, [crlf(b"Return-Path: <a@example.org>\n"
                        b"Delivered-To: <bob>\n") + msg],
             "bob got his copy")
        t.ok(srv.wait_log(r"lmtp: delivered: user=<alice> rip=127\.0\.0\.1 "
                          r"from=<a@example\.org> rcpt=<alice@test\.example>"
                          r" name=\S+,S=\d+,W=\d+") is not None,
             "each delivery is logged")
    finally:
        srv.cleanup()


def size_limit():
    srv = lmtp_server()
    try:
        lm = smtplib.LMTP("127.0.0.1", srv.lmtp_port, timeout=10)
        lm.ehlo("x")
        try:
            lm.sendmail("a@x", ["alice"], b"x" * 250000 + b"\r\n")
            t.ok(False, "a message over the limit is refused")
        except smtplib.SMTPException as e:
            t.ok("552" in str(e) or "5.3.4" in str(e),
                 "a message over the limit is refused with 552", e)
        lm.close()
        t.eq(pop3_messages(srv, "alice", "wonderland"), [],
             "and not delivered")
    finally:
        srv.cleanup()


def smuggling():
    """A lone dot next to a bare LF does not end DATA: what follows it
    stays in the same message, and no second message is smuggled in."""
    srv = lmtp_server()
    try:
        s = socket.create_connection(("127.0.0.1", srv.lmtp_port),
                                     timeout=10)
        f = s.makefile("rb")
        f.readline()
        body = (b"Subject: one\r\n\r\nfirst\n.\nMAIL FROM:<evil@x>\r\n"
                b"RCPT TO:<bob>\r\nDATA\r\nSubject: smuggled\r\n"
                b"\r\n.\n\r\nmore\r\n.\r\n")
        s.sendall(b"LHLO x\r\nMAIL FROM:<a@x>\r\nRCPT TO:<alice>\r\n"
                  b"DATA\r\n" + body + b"QUIT\r\n")
        replies = []
        while True:
            line = f.readline()
            if not line:
                break
            replies.append(line.decode().rstrip())
        s.close()
        codes = [r[:3] for r in replies if not r.startswith("250-")]
        t.eq(codes, ["250", "250", "250", "354", "250", "221"],
             "one DATA, one reply: the smuggled commands are text")
        got = pop3_messages(srv, "alice", "wonderland")
        t.eq(len(got), 1, "alice has one message")
        t.ok(len(got) == 1 and b"MAIL FROM:<evil@x>" in got[0] and
             b"Subject: smuggled" in got[0] and b"more" in got[0],
             "holding everything up to CRLF . CRLF", got)
        t.eq(pop3_messages(srv, "bob", "builder"), [],
             "bob got nothing")
    finally:
        srv.cleanup()


def conf_check():
    srv = Server()
    try:
        srv.write_conf('lmtp_max_message_size = 4096\n'
                       'lmtp_temp_dir = "/var/tmp"\n'
                       'listen { protocol = "lmtp" path = "/run/x.sock" }\n')
        p = subprocess.run([POSTERN, "check", "-c", srv.conf],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=10)
        t.eq(p.returncode, 0, "postern check accepts the LMTP settings")
        t.ok("lmtp_max_message_size = 4096" in p.stdout and
             'lmtp_temp_dir = "/var/tmp"' in p.stdout and
             'path = "/run/x.sock"' in p.stdout,
             "and prints them", p.stdout)
        srv.write_conf('listen { protocol = "lmtp" path = "/run/x.sock" '
                       'port = 24 }\n')
        p = subprocess.run([POSTERN, "check", "-c", srv.conf],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=10)
        t.ok(p.returncode != 0 and "path excludes address and port" in
             p.stderr, "path with a port is refused", p.stderr)
        srv.write_conf('lmtp_temp_dir = "tmp"\n')
        p = subprocess.run([POSTERN, "check", "-c", srv.conf],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=10)
        t.ok(p.returncode != 0 and "absolute" in p.stderr,
             "a relative lmtp_temp_dir is refused", p.stderr)
        spool_unwritable(srv)
    finally:
        srv.cleanup()


def spool_unwritable(srv):
    """As root, with an LMTP listener, an lmtp_temp_dir that LMTP's
    sessions (mail_user, else user) cannot make files in is refused by
    postern check and at the start; one that only user can, without
    mail_user, is taken."""
    if os.geteuid() != 0:
        t.skip("an lmtp_temp_dir LMTP's sessions cannot write", "needs root")
        return
    spool = os.path.join(srv.dir, "spool")
    os.mkdir(spool, 0o700)
    listen = 'listen { protocol = "lmtp" address = "127.0.0.1" port = 0 }\n'
    srv.write_conf(f'lmtp_temp_dir = "{spool}"\n' + listen)
    p = subprocess.run([POSTERN, "check", "-c", srv.conf],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=10)
    t.ok(p.returncode != 0 and f"lmtp_temp_dir {spool}: LMTP's sessions, "
         'as mail_user "nobody", cannot make files there' in p.stderr,
         "postern check: a root-only lmtp_temp_dir is refused", p.stderr)
    p = subprocess.run([postern.POSTERND, "-f", "-c", srv.conf],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=10)
    t.ok(p.returncode != 0 and "cannot make files there" in p.stderr,
         "and so is the start", p.stderr)
    unpriv = pwd.getpwnam("postern")
    os.chown(spool, unpriv.pw_uid, 0)
    srv.settings["mail_user"] = ""
    srv.write_conf(f'lmtp_temp_dir = "{spool}"\n' + listen)
    p = subprocess.run([POSTERN, "check", "-c", srv.conf],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=10)
    t.eq(p.returncode, 0, "without mail_user, one that user owns is taken")


def local_worker():
    """posternd started as root: a local worker serves LMTP, as
    mail_user and not chrooted; the pre-login workers stay sandboxed."""
    if os.geteuid() != 0:
        t.skip("a root posternd serves LMTP from a local worker",
               "needs root")
        return
    srv = lmtp_server()
    try:
        local = local_workers(srv)
        t.eq(len(local), 1, "one local worker waits for LMTP clients")
        if local:
            with open(f"/proc/{local[0]}/status") as f:
                uids = [line.split()[1:] for line in f
                        if line.startswith("Uid:")][0]
            t.eq(uids, [str(NOBODY)] * 4, "it runs as mail_user (nobody)")
            t.eq(os.readlink(f"/proc/{local[0]}/root"), "/",
                 "and is not chrooted")
        lm = smtplib.LMTP("127.0.0.1", srv.lmtp_port, timeout=10)
        code, _ = lm.ehlo("client.example")
        t.eq(code, 250, "it greets and answers LHLO (no 421)")
        t.eq(lm.sendmail("a@x", ["alice"], b"Subject: s\r\n\r\nx\r\n"),
             {}, "and delivers")
        lm.quit()
    finally:
        srv.cleanup()


def lmtp_talk(sock, lines, replies):
    """Sends lines (CRLF added) and reads replies reply lines."""
    sock.sendall(b"".join(x.encode() + b"\r\n" for x in lines))
    buf = b""
    while buf.count(b"\r\n") < replies:
        data = sock.recv(4096)
        if not data:
            break
        buf += data
    return buf.decode(errors="replace").splitlines()


def local_worker_root():
    """Without mail_user, a root posternd's local worker stays root, under
    the system call filter of a process that stays root, to deliver as
    each recipient's uid; but it reads no byte of the client's: each
    session runs in a child that has given up root for the unprivileged
    user, and asks the worker for its lookups and deliveries.  Each
    recipient's copy succeeds or fails on its own; the child passes the
    end of a shutdown's grace on, and has its own max_session_time."""
    if os.geteuid() != 0:
        t.skip("a root local worker", "needs root")
        return
    nobody = pwd.getpwnam("nobody")
    daemon = pwd.getpwnam("daemon")
    unpriv = pwd.getpwnam("postern")
    srv = Server(settings={"mail_user": "", "max_session_time": 60})
    home = os.path.join(srv.dir, "home")
    with open(srv.passwd, "w") as f:
        f.write(f"alice:{{PLAIN}}wonderland:{nobody.pw_uid}:"
                f"{nobody.pw_gid}::{home}/alice::\n"
                f"bob:{{PLAIN}}builder:{daemon.pw_uid}:{daemon.pw_gid}::"
                f"{home}/bob::\n"
                f"carol:{{PLAIN}}x:{daemon.pw_uid}:{daemon.pw_gid}::"
                f"{home}/carol::\n")
    srv.write_conf('listen { protocol = "lmtp" address = "127.0.0.1" '
                   'port = 0 }\n')
    try:
        start(srv)
        # own() gave the tree to nobody: bob's is daemon's, and carol's
        # Maildir root's, which daemon cannot write in.
        for root, dirs, names in os.walk(os.path.join(home, "bob")):
            os.chown(root, daemon.pw_uid, daemon.pw_gid)
        os.makedirs(os.path.join(home, "carol", "Maildir", "new"))
        local = local_workers(srv)
        t.eq(len(local), 1, "without mail_user: one local worker")
        st = status_of(local[0]) if local else {}
        t.eq(st.get("Uid", [None])[0], "0", "it stays root")
        if "Seccomp" in st:
            t.eq((st["Seccomp"], st["NoNewPrivs"]), (["2"], ["0"]),
                 "under a seccomp filter, without no_new_privs")
        if "Seccomp_filters" in st:
            t.eq(st["Seccomp_filters"], ["1"],
                 "the one of a process that stays root")

        sock = socket.create_connection(("127.0.0.1", srv.lmtp_port),
                                        timeout=10)
        r = lmtp_talk(sock, ["LHLO client.example"], 2)
        t.ok(r and r[0].startswith("220 ") and r[-1].startswith("250"),
             "a session is served", r)
        who = holders(socket_inode(srv.lmtp_port, sock.getsockname()[1]))
        t.eq(len(who), 1, "one process holds the connection")
        st = status_of(who[0]) if who else {}
        t.eq(st.get("Uid"), [str(unpriv.pw_uid)] * 4,
             "it runs as the unprivileged user, for good")
        t.eq(st.get("Gid"), [str(unpriv.pw_gid)] * 4, "and its group")
        t.eq(st.get("Groups"), [str(unpriv.pw_gid)],
             "with no other group")
        t.eq(st.get("PPid"), [str(local[0])] if local else None,
             "it is the local worker's child")
        if "NoNewPrivs" in st:
            t.eq(st["NoNewPrivs"], ["1"], "with no_new_privs")
        if "Seccomp_filters" in st:
            # Builds with AddressSanitizer leave the signals filter out:
            # its leak check traces the process (server/compat.c).
            t.eq(st["Seccomp_filters"], ["3" if sanitized() else "4"],
                 "the worker's filter, inherited, and the pre-login "
                 "workers' three")
        t.ok(local and local[0] not in who,
             "the root local worker does not hold the connection")

        body = "Subject: split\r\n\r\nx\r\n."
        r = lmtp_talk(sock, ["MAIL FROM:<>", "RCPT TO:<alice>",
                             "RCPT TO:<bob@test.example>",
                             "RCPT TO:<nosuch>", "RCPT TO:<carol>",
                             "DATA"], 6)
        t.ok([x[:3] for x in r] == ["250", "250", "250", "550", "250",
                                    "354"],
             "recipients are looked up by the worker", r)
        r = lmtp_talk(sock, [body], 3)
        t.ok([x[:3] for x in r[:2]] == ["250", "250"],
             "alice's and bob's copies are delivered", r)
        t.ok(len(r) == 3 and r[2][0] in "45" and "<carol>" in r[2],
             "carol's alone fails", r)
        got = {}
        for user in ("alice", "bob"):
            new = os.path.join(home, user, "Maildir", "new")
            names = os.listdir(new)
            if len(names) == 1:
                path = os.path.join(new, names[0])
                with open(path, "rb") as f:
                    got[user] = (os.stat(path).st_uid, f.read())
        t.eq(got.get("alice", (None,))[0], nobody.pw_uid,
             "alice's copy is written as her uid")
        t.eq(got.get("bob", (None,))[0], daemon.pw_uid,
             "bob's as his")
        t.ok(got.get("alice", (0, b""))[1].startswith(
            b"Return-Path: <>\nDelivered-To: <alice>\n"),
            "with Return-Path and Delivered-To", got.get("alice"))
        t.ok(got.get("bob", (0, b""))[1].startswith(
            b"Return-Path: <>\nDelivered-To: <bob@test.example>\n"),
            "each its own Delivered-To", got.get("bob"))
        t.eq(os.listdir(os.path.join(home, "carol", "Maildir", "new")), [],
             "nothing for carol")
        t.ok(srv.wait_log(r"lmtp: delivered: user=<bob> rip=127\.0\.0\.1 "
                          r"from=<> rcpt=<bob@test\.example>"),
             "the session logs each copy")
        t.ok(srv.wait_log(r"lmtp: failed: user=<carol> "),
             "and the one that failed")

        # A session's child killed in the middle of a message: nothing
        # is delivered, and the worker serves the next connection.
        other = socket.create_connection(("127.0.0.1", srv.lmtp_port),
                                         timeout=10)
        r = lmtp_talk(other, ["LHLO client.example", "MAIL FROM:<a@x>",
                              "RCPT TO:<alice>", "DATA"], 9)
        t.ok(r[-1:] and r[-1].startswith("354"), "another session: DATA",
             r)
        other.sendall(b"Subject: half\r\n\r\n" + b"x" * 100000)
        kid = holders(socket_inode(srv.lmtp_port,
                                   other.getsockname()[1]))
        t.eq(len(kid), 1, "its child holds the connection")
        if kid:
            os.kill(kid[0], signal.SIGKILL)
        other.settimeout(10)
        try:
            t.eq(other.recv(4096), b"", "killed: the connection closes")
        except OSError as e:
            t.ok(isinstance(e, ConnectionResetError),
                 "killed: the connection closes", e)
        other.close()
        alice_new = os.path.join(home, "alice", "Maildir")
        t.eq([len(os.listdir(os.path.join(alice_new, d)))
              for d in ("new", "tmp")], [1, 0],
             "nothing more for alice, nothing left in tmp/")
        r = lmtp_talk(sock, ["NOOP"], 1)
        t.ok(r[:1] == ["250 2.0.0 OK"], "the first session goes on", r)
        third = smtplib.LMTP("127.0.0.1", srv.lmtp_port, timeout=10)
        third.ehlo("client.example")
        t.eq(third.sendmail("", ["alice"], b"Subject: t\r\n\r\nt\r\n"),
             {}, "and a new one delivers")
        third.quit()

        # The end of a shutdown's grace reaches the session's child.
        srv.proc.send_signal(signal.SIGTERM)
        sock.settimeout(15)
        data = b""
        try:
            while not data.endswith(b"\n"):
                more = sock.recv(4096)
                if not more:
                    break
                data += more
        except OSError:
            pass
        t.ok(data.startswith(b"421 4.3.2 test.example server shutting "
                             b"down"),
             "at the end of the grace the client is told", data)
        sock.close()
        t.eq(srv.proc.wait(15), 0, "and posternd exits 0")
    finally:
        srv.cleanup()
    timeup()


def split_failures():
    """A root local worker whose split fails (its socketpair or fork, or
    its session's child unable to give up root) closes that connection
    without a word and logs why; a child that breaks the rules of its
    channel to the worker is killed, and the connection with it.  Either
    way the worker holds no more files and no child afterwards, and
    serves the next connection.  The failures are made by the LD_PRELOAD
    shim tests/shims/failsplit.c, while a flag file exists."""
    if os.geteuid() != 0:
        t.skip("a root local worker's failed split", "needs root")
        return
    nobody = pwd.getpwnam("nobody")
    srv = Server(settings={"mail_user": ""})
    so = build_shim("failsplit", srv.dir)
    if so is None:
        t.skip("a root local worker's failed split", "no C compiler")
        srv.cleanup()
        return
    flag = os.path.join(srv.dir, "fail-now")
    srv.env = preload_env({"LD_PRELOAD": so, "FAILSPLIT_FLAG": flag})
    home = os.path.join(srv.dir, "home")
    with open(srv.passwd, "w") as f:
        f.write(f"alice:{{PLAIN}}wonderland:{nobody.pw_uid}:"
                f"{nobody.pw_gid}::{home}/alice::\n")
    srv.write_conf('listen { protocol = "lmtp" address = "127.0.0.1" '
                   'port = 0 }\n')
    try:
        for n, (call, why) in enumerate((
                ("socketpair", r"lmtp: rip=127\.0\.0\.1: socketpair: "),
                ("fork", r"lmtp: rip=127\.0\.0\.1: fork: "),
                ("setgroups", r"cannot switch to uid \d+ gid \d+"),
                ("garble", r"lmtp: rip=127\.0\.0\.1: a malformed lookup "
                 "from the session"))):
            srv.env["FAILSPLIT_CALL"] = call
            start(srv)
            local = local_workers(srv)
            t.eq(len(local), 1, f"{call}: one local worker")
            fds = open_files(local[0]) if local else None
            open(flag, "w").close()
            sock = socket.create_connection(("127.0.0.1", srv.lmtp_port),
                                            timeout=10)
            if call == "garble":
                sock.sendall(b"LHLO client.example\r\nMAIL FROM:<>\r\n")
                got = b""
                while not got.endswith(b"OK\r\n") or \
                        b"250 2.1.0 " not in got:
                    more = sock.recv(4096)
                    if not more:
                        break
                    got += more
                t.ok(got.startswith(b"220 ") and
                     got.endswith(b"250 2.1.0 sender <> OK\r\n"),
                     "garble: a session up to MAIL", got)
                sock.sendall(b"RCPT TO:<alice>\r\n")
            got = read_to_end(sock)
            sock.close()
            os.unlink(flag)
            t.eq(got, (b"", True), f"{call}: the connection is closed "
                 "without a word" + (" (a child that breaks its channel's "
                                     "rules at RCPT is killed)"
                                     if call == "garble" else ""))
            t.ok(srv.wait_log(why), f"{call}: the log says why")
            split_after(srv, local, fds, call, n + 1)
    finally:
        srv.cleanup()


def split_after(srv, local, fds, call, copies):
    """split_failures()'s checks after a failure made by call: the same
    worker, no child, the files fds (open_files()), the next connection
    delivering alice's copies-th message, posternd exiting 0."""
    lmtp = smtplib.LMTP("127.0.0.1", srv.lmtp_port, timeout=10)
    lmtp.ehlo("client.example")
    t.eq(lmtp.sendmail("", ["alice"], b"Subject: t\r\n\r\nt\r\n"), {},
         f"after {call}: the next connection delivers")
    lmtp.quit()
    new = os.path.join(srv.dir, "home", "alice", "Maildir", "new")
    t.eq(len(os.listdir(new)), copies, f"after {call}: the copy is in new/")
    t.eq(local_workers(srv), local, f"after {call}: the same worker")
    deadline = time.monotonic() + 5
    while local and srv.children(local[0]) and time.monotonic() < deadline:
        time.sleep(0.05)
    if local:
        t.eq(srv.children(local[0]), [], f"after {call}: no child left")
        t.eq(open_files(local[0]), fds,
             f"after {call}: the files it held before, no more")
    t.eq(srv.stop(), 0, f"after {call}: posternd exits 0")
    srv.log.clear()


def timeup():
    """max_session_time ends a root local worker's session, in its
    child, with the protocol's reply."""
    srv = Server(settings={"mail_user": "", "max_session_time": 1})
    srv.write_conf('listen { protocol = "lmtp" address = "127.0.0.1" '
                   'port = 0 }\n')
    try:
        start(srv)
        sock = socket.create_connection(("127.0.0.1", srv.lmtp_port),
                                        timeout=10)
        sock.sendall(b"LHLO client.example\r\n")
        data, _ = read_to_end(sock)
        last = data.decode(errors="replace").splitlines()[-1:]
        t.ok(last and last[0].startswith("421 4.3.2 test.example session "
                                         "time limit reached"),
             "max_session_time: the child says so and ends", data)
        sock.close()
    finally:
        srv.cleanup()


def status_of(pid):
    """/proc/PID/status as lists of words by key."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


tcp_and_unix()
size_limit()
smuggling()
conf_check()
local_worker()
local_worker_root()
split_failures()
t.done()
