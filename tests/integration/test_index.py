#!/usr/bin/env python3
"""test_index.py: the Maildir index and pop3_uidl_format end to end,
against the real build/posternd.

UIDLs made of UIDs and UIDVALIDITY last from session to session and
across new mail; Dovecot's uidlist keeps Dovecot's UIDLs; a session
killed with SIGKILL while it lists and writes the index leaves an index
the next session uses as it is; a truncated temporary file, a corrupt or
foreign index are rebuilt and logged, never fatal; a file the index does
not know is listed; a bad pop3_uidl_format stops the server at start; a
global ID counter that cannot be opened is logged when the server
starts, not at each login.
"""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import POSTERND, Server, Tap, put  # noqa: E402

t = Tap()
DOVECOT_FMT = "%08Xu%08Xv"


def server(fmt=DOVECOT_FMT, **extra):
    """A Server with its own state_dir, usable by the session user."""
    srv = Server(settings=dict(pop3_uidl_format=fmt, **extra))
    state = os.path.join(srv.dir, "state")
    os.mkdir(state)
    if os.geteuid() == 0:
        import pwd
        pw = pwd.getpwnam("nobody")
        os.chown(state, pw.pw_uid, pw.pw_gid)
    srv.settings["state_dir"] = state
    srv.write_conf()
    return srv


def uidls(srv, user="alice", password=None):
    """The UIDL listing of one session, as [(number, uid)]."""
    c = srv.client()
    pw = password or srv.users[user]
    r1, r2 = c.login(user, pw)
    if not r2.startswith("+OK"):
        c.close()
        return r2
    r = c.cmd("UIDL")
    out = []
    if r.startswith("+OK"):
        out = [tuple(line.split(" ", 1))
               for line in c.multi().decode().splitlines()]
    c.cmd("QUIT")
    c.close()
    return out


def lasting_uidls():
    with server() as srv:
        md = srv.maildir("alice")
        put(md, "1000000001.M1P1.test", "Subject: a\n\none\n")
        put(md, "1000000002.M2P2.test,W=20", "Subject: b\n\ntwo\n",
            sub="cur")
        os.rename(os.path.join(md, "cur", "1000000002.M2P2.test,W=20"),
                  os.path.join(md, "cur", "1000000002.M2P2.test,W=20:2,S"))
        srv.own()
        first = uidls(srv)
        t.eq(len(first), 2, "two messages listed")
        t.ok(all(re.fullmatch(r"[0-9a-f]{16}", u) for _, u in first),
             "UIDLs are 16 hex digits, Dovecot's format", first)
        t.eq([u[:8] for _, u in first], ["00000001", "00000002"],
             "UIDs 1 and 2 in delivery order")
        t.eq(first[0][1][8:], first[1][1][8:], "one UIDVALIDITY")
        t.eq(uidls(srv), first, "the same UIDLs in the next session")
        put(md, "1000000000.M0P0.test", "Subject: late\n\nzero\n")
        srv.own()
        again = uidls(srv)
        t.eq(again[:2], first, "old UIDLs stay when new mail comes")
        t.eq(again[2][1][:8], "00000003",
             "the new message, older by its name, gets UID 3")
        text = open(os.path.join(md, "postern-index")).read()
        t.ok(text.startswith("postern-index 2 ") and
             text.endswith("\nend\n"), "the index is in the Maildir")


def dovecot_migration():
    with server() as srv:
        md = srv.maildir("alice")
        put(md, "1400000001.M1P1.old,S=14", "Subject: a\n\nx\n")
        put(md, "1400000002.M2P2.old,S=14", "Subject: b\n\ny\n")
        with open(os.path.join(md, "dovecot-uidlist"), "w") as f:
            f.write("3 V1275660208 N40 G3085f01b7f11094c501100008c4a11c1\n"
                    "17 W16 :1400000001.M1P1.old,S=14\n"
                    "23 :1400000002.M2P2.old,S=14:2,S\n")
        srv.own()
        got = uidls(srv)
        t.eq(got, [("1", "000000114c0907b0"), ("2", "000000174c0907b0")],
             "Dovecot's UIDs and UIDVALIDITY give Dovecot's UIDLs")
        t.ok(srv.wait_log("2 UIDs and UIDVALIDITY 1275660208 taken from "
                          "dovecot-uidlist"), "the import is logged")


def kill_mid_write():
    with server() as srv:
        md = srv.maildir("alice")
        for i in range(2000):
            put(md, f"{1500000000 + i}.M{i}P1.kill,W=9", "Subject: k\n")
        srv.own()
        base = uidls(srv)
        t.eq(len(base), 2000, "2000 messages listed")
        broken = 0
        for round in range(5):
            for i in range(100):
                n = 2000 + round * 100 + i
                put(md, f"{1500000000 + n}.M{n}P1.kill,W=9", "Subject: k\n")
            srv.own()
            c = srv.client()
            c.send("USER alice\r\nPASS wonderland\r\n")
            time.sleep(0.002 + round * 0.004)
            for pid in srv.sessions() or srv.workers():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            c.close()
            time.sleep(0.2)
            now = uidls(srv)
            if now[:2000] != base:
                broken += 1
        t.eq(broken, 0, "sessions killed while listing never change the "
             "UIDLs of known messages")
        t.eq(len(uidls(srv)), 2500, "and every message is listed")


def damaged_index():
    with server() as srv:
        md = srv.maildir("alice")
        put(md, "1000000001.M1P1.test", "Subject: a\n\none\n")
        put(md, "1000000002.M2P2.test", "Subject: b\n\ntwo\n")
        srv.own()
        first = uidls(srv)
        index = os.path.join(md, "postern-index")
        text = open(index).read()
        # a crash while writing: a truncated temporary file beside a
        # whole index changes nothing
        with open(index + ".tmp", "w") as f:
            f.write(text[:len(text) // 2])
        srv.own()
        t.eq(uidls(srv), first, "a truncated temporary file is ignored")
        # the index itself cut short after its first entry: that one
        # stays
        with open(index, "w") as f:
            f.write(text[:text.index("\n2 ") + 1])
        srv.own()
        got = uidls(srv)
        t.eq(got[0], first[0], "a truncated index keeps the UIDL before "
             "the cut")
        t.ok(got[1][1][:8] == "00000003" and got[1][1][8:] ==
             first[1][1][8:], "and the rest get new UIDs, same "
             "UIDVALIDITY", got)
        t.ok(srv.wait_log(r"postern-index: truncated after 1 entries"),
             "the truncation is logged")
        # a foreign version: rebuilt under a new UIDVALIDITY
        with open(index, "w") as f:
            f.write("postern-index 9 1 2 0\nend\n")
        srv.own()
        got = uidls(srv)
        t.eq([u[:8] for _, u in got], ["00000001", "00000002"],
             "a foreign index is rebuilt from UID 1")
        t.ok(got[0][1][8:] != first[0][1][8:], "under a new UIDVALIDITY")
        t.ok(srv.wait_log(r"not a version 1 or 2 index, rebuilt"),
             "the rebuild is logged")
        # garbage
        with open(index, "wb") as f:
            f.write(os.urandom(300))
        srv.own()
        got = uidls(srv)
        t.eq(len(got), 2, "a corrupt index: both messages listed")
        # a file the index does not know
        put(md, "0999999999.M9P9.test:2,S", "Subject: c\n\nthree\n",
            sub="cur")
        srv.own()
        got2 = uidls(srv)
        t.eq(len(got2), 3, "a file unknown to the index is listed")
        t.eq(got2[:2], got, "and the others keep theirs")


def bad_format():
    for fmt in ("%q", "%v", "abc", "%Xf"):
        srv = server(fmt)
        try:
            p = subprocess.run([POSTERND, "-n", "-c", srv.conf],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=10)
            t.ok(p.returncode != 0 and "pop3_uidl_format" in p.stderr,
                 f"pop3_uidl_format {fmt!r} is refused at load", p.stderr)
        finally:
            srv.cleanup()


def base_name_default():
    with Server() as srv:
        md = srv.maildir("alice")
        put(md, "1000000001.M1P1.test", "Subject: a\n\none\n")
        srv.own()
        t.eq(uidls(srv), [("1", "1000000001.M1P1.test")],
             "the default format is the base name")


def counter_unusable():
    """The counter's path is a directory: the master and the auth
    process say so once at start; the logins, in mail workers or in
    processes of their own, go on without global IDs and log nothing
    more about it."""
    if os.geteuid() != 0:
        for w in ("mail workers", "own processes"):
            t.skip(f"an unusable counter is not logged per login ({w})",
                   "the sessions of a posternd not run as root open the "
                   "counter themselves")
        return
    for workers, what in ((4, "mail workers"), (0, "own processes")):
        srv = server(mail_workers=workers)
        os.mkdir(os.path.join(srv.settings["state_dir"], "msgid"))
        try:
            put(srv.maildir("alice"), "1000000001.M1P1.test",
                "Subject: a\n\none\n")
            srv.own()
            srv.start()
            path = os.path.join(srv.settings["state_dir"], "msgid")
            mention = re.escape(path)
            srv.wait_log(r"login: user=<nobody-there>", timeout=1)
            before = len([x for x in list(srv.log)
                          if re.search(mention, x)])
            got = [uidls(srv) for _ in range(3)]
            t.ok(all(len(g) == 1 for g in got),
                 f"with an unusable counter, logins list the mail "
                 f"({what})", got)
            srv.wait_log(r"logout: user=<alice>", timeout=5)
            after = len([x for x in list(srv.log) if re.search(mention, x)])
            t.ok(0 < before <= 2 and after == before,
                 f"the counter is reported at start, not at each login "
                 f"({what})", "\n".join(srv.log))
        finally:
            srv.cleanup()


lasting_uidls()
dovecot_migration()
kill_mid_write()
damaged_index()
bad_format()
base_name_default()
counter_unusable()
t.done()
