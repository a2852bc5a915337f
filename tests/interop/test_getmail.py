#!/usr/bin/env python3
"""test_getmail.py: getmail6 against the real posternd, delivering to a
Maildir as the user nobody (getmail6 refuses to deliver as root): keep
with read_all, UIDL tracking across runs, and delete.
"""
import os
import pwd
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from common import (PASSWORD, USER, Server, Tap, bases,  # noqa: E402
                    compare_all, deliver_late, exits, missing, read_dir, run,
                    seed)

t = Tap()
ADDED = ("return-path",)        # getmail6 always writes one in front


def as_nobody():
    """The argv prefix that runs a command as nobody, or None."""
    if os.getuid() != 0:
        return []
    if shutil.which("runuser"):
        return ["runuser", "-u", "nobody", "--"]
    if shutil.which("setpriv"):
        pw = pwd.getpwnam("nobody")
        return ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}",
                "--clear-groups", "--"]
    return None


class Getmail:
    """One getmail6 set-up owned by nobody: rc files, getmaildir and the
    destination Maildir."""

    def __init__(self, work, port):
        self.dir = os.path.join(work, "getmail")
        self.dest = os.path.join(self.dir, "Maildir")
        for sub in ("new", "cur", "tmp"):
            os.makedirs(os.path.join(self.dest, sub))
        self.port = port
        if os.getuid() == 0:
            pw = pwd.getpwnam("nobody")
            for root, dirs, _ in os.walk(self.dir):
                for d in [root] + [os.path.join(root, x) for x in dirs]:
                    os.chown(d, pw.pw_uid, pw.pw_gid)

    def __call__(self, delete, read_all):
        """Runs getmail once; returns (status, output)."""
        rc = os.path.join(self.dir, f"rc-{int(delete)}{int(read_all)}")
        with open(rc, "w") as f:
            f.write(f"[retriever]\ntype = SimplePOP3Retriever\n"
                    f"server = 127.0.0.1\nport = {self.port}\n"
                    f"username = {USER}\npassword = {PASSWORD}\n"
                    f"timeout = 20\n\n"
                    f"[destination]\ntype = Maildir\npath = {self.dest}/\n\n"
                    f"[options]\ndelete = {delete}\nread_all = {read_all}\n"
                    f"delivered_to = false\nreceived = false\n"
                    f"message_log_syslog = false\nverbose = 1\n")
        os.chmod(rc, 0o644)
        env = dict(os.environ, HOME=self.dir)
        return run(as_nobody() + ["getmail", "--getmaildir", self.dir,
                                  "--rcfile", rc], env=env, cwd=self.dir)

    def take(self):
        """The messages delivered since the last take, removed."""
        got = []
        for sub in ("new", "cur"):
            d = os.path.join(self.dest, sub)
            got += read_dir(d)
            for n in os.listdir(d):
                os.unlink(os.path.join(d, n))
        return got


def main():
    if missing(t, "getmail", ["getmail6"]):
        t.done()
    if as_nobody() is None:
        t.skip("getmail6", "neither runuser nor setpriv to run it as nobody")
        t.done()
    with tempfile.TemporaryDirectory(prefix="postern-getmail-") as work, \
            Server() as srv:
        os.chmod(work, 0o755)
        md, seeded = seed(srv)
        names = [n for n, _ in seeded]
        gm = Getmail(work, srv.port)

        rc, out = gm(delete=False, read_all=True)
        exits(t, "getmail delete=false: exits 0", rc, out)
        compare_all(t, "getmail delete=false", gm.take(), seeded, ADDED)
        t.eq(bases(md), names, "getmail delete=false: every message stays")

        late = deliver_late(srv)
        names.append(late[0][0])
        rc, out = gm(delete=False, read_all=False)
        exits(t, "getmail read_all=false: exits 0", rc, out)
        compare_all(t, "getmail read_all=false (by UIDL, new only)",
                    gm.take(), late, ADDED)
        t.eq(bases(md), names, "getmail read_all=false: every message "
             "stays")

        rc, out = gm(delete=True, read_all=True)
        exits(t, "getmail delete=true: exits 0", rc, out)
        compare_all(t, "getmail delete=true", gm.take(),
                    seeded + late, ADDED)
        t.eq(bases(md), [], "getmail delete=true: no message stays")
    t.done()


main()
