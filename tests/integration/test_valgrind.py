#!/usr/bin/env python3
"""test_valgrind.py: a full POP3 session against posternd under valgrind.

posternd runs under memcheck with one log file per process (the master,
its workers and, with privilege separation, the auth and session
processes: all are forks, so all stay under valgrind).  Two sessions
(one ending with QUIT after RETR, TOP, UIDL, DELE and RSET, one cut off
without QUIT) must leave every process with no memory error and no
definitely lost block.  SKIPped when valgrind is missing or posternd is
built with the sanitizers (make check SANITIZE=1), which valgrind cannot
run.
"""
import glob
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import postern  # noqa: E402
from postern import Server, Tap, crlf, put  # noqa: E402

t = Tap()
VALGRIND = shutil.which("valgrind")
SUPP = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                    "valgrind.supp")

MSG1 = "From: a@example.org\nSubject: one\n\nbody one\n.\n..dots\n"
MSG2 = "Subject: two\n\nno final newline"


def wrapper(tmp):
    """A script that runs the real posternd under memcheck."""
    path = os.path.join(tmp, "posternd")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n"
                f"exec {VALGRIND} --tool=memcheck --trace-children=yes "
                # Its gdbserver's FIFOs: the children of the auth process
                # inherit its filter, which refuses mknod.
                "--vgdb=no "
                "--leak-check=full "
                "--show-leak-kinds=definite --errors-for-leak-kinds=definite "
                "--error-exitcode=99 --num-callers=30 "
                f"--suppressions={SUPP} "
                f"--log-file={tmp}/vg.%p {postern.POSTERND} \"$@\"\n")
    os.chmod(path, 0o755)
    return path


def sessions(srv):
    md = srv.maildir("alice")
    put(md, "1000000001.a.test", MSG1)
    put(md, "1000000002.b.test", MSG2)
    put(md, "1000000003.c.test", MSG1)
    srv.own()
    c = srv.client()
    t.ok(c.greeting.startswith("+OK"), "greeting under valgrind", c.greeting)
    r1, r2 = c.login()
    t.ok(r2.startswith("+OK"), "login under valgrind", (r1, r2))
    t.ok(c.cmd("STAT").startswith("+OK 3 "), "STAT")
    t.ok(c.cmd("LIST").startswith("+OK"), "LIST")
    c.multi()
    t.ok(c.cmd("UIDL").startswith("+OK"), "UIDL")
    c.multi()
    t.ok(c.cmd("RETR 1").startswith("+OK"), "RETR 1")
    t.eq(c.multi(), crlf(MSG1), "RETR 1 sends the message")
    t.ok(c.cmd("TOP 2 0").startswith("+OK"), "TOP 2 0")
    c.multi()
    t.ok(c.cmd("DELE 3").startswith("+OK"), "DELE 3")
    t.ok(c.cmd("RSET").startswith("+OK"), "RSET")
    t.ok(c.cmd("DELE 2").startswith("+OK"), "DELE 2")
    t.ok(c.cmd("QUIT").startswith("+OK"), "QUIT")
    t.ok(c.closed(20), "closed after QUIT")
    c = srv.client()
    c.login()
    c.cmd("RETR 1")
    c.close()


def check_logs(tmp, master):
    logs = sorted(glob.glob(os.path.join(tmp, "vg.*")))
    t.ok(len(logs) >= 2, "valgrind logged the master and its children",
         logs)
    for path in logs:
        pid = path.rsplit(".", 1)[1]
        who = "the master" if pid == str(master) else f"process {pid}"
        with open(path, errors="replace") as f:
            text = f.read()
        m = re.search(r"ERROR SUMMARY: ([\d,]+) errors", text)
        if m is None:
            # Killed by a signal before valgrind could sum up.
            t.ok(False, f"{who} ended with a valgrind summary",
                 text[-3000:])
            continue
        t.ok(m.group(1) == "0",
             f"{who}: no memory errors and no definite leaks",
             text[-6000:])


def main():
    if VALGRIND is None:
        t.skip("posternd under valgrind", "valgrind is not installed")
        t.done()
    if not os.access(postern.POSTERND, os.X_OK):
        t.ok(False, "posternd is built", postern.POSTERND)
        t.done()
    if postern.sanitized():
        t.skip("posternd under valgrind",
               "posternd is built with the sanitizers (SANITIZE=1)")
        t.done()
    tmp = tempfile.mkdtemp(prefix="postern-valgrind-")
    os.chmod(tmp, 0o777)    # session processes running as nobody log here
    postern.POSTERND = wrapper(tmp)
    srv = Server(workers=1)
    try:
        srv.start()
        sessions(srv)
    finally:
        srv.cleanup()
    check_logs(tmp, srv.proc.pid)
    shutil.rmtree(tmp, ignore_errors=True)
    t.done()


main()
