#!/usr/bin/env python3
"""test_pop3_system.py: passdb = "system" against a real account.

As root only (else every check is skipped): a throw-away user is made
with useradd and a password with chpasswd, its Maildir under a temporary
home; posternd then logs it in through shadow(5) and crypt (pam_service
= "") and through PAM (a throw-away service with pam_unix), refuses it
below first_valid_uid and once locked.  The user and the PAM service
file are removed at the end, whatever happens.
"""
import os
import pwd
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import Server, Tap, maildir, put  # noqa: E402

t = Tap()
USER = f"pstn{os.getpid()}"
PASSWORD = "Open Sesame 1"
SERVICE = f"postern-test-{os.getpid()}"
PAMFILE = f"/etc/pam.d/{SERVICE}"
CHECKS = 11


def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def session(srv, password):
    c = srv.client()
    c.cmd(f"USER {USER}")
    r = c.cmd(f"PASS {password}")
    c.cmd("QUIT")
    c.close()
    return r


def server(home, **settings):
    s = dict(passdb="system", maildir="%h/Maildir", first_valid_uid=1000)
    s.update(settings)
    srv = Server(settings=s)
    os.makedirs(os.path.dirname(home), exist_ok=True)
    return srv


def main():
    srv = None
    base = None
    try:
        import tempfile
        base = tempfile.mkdtemp(prefix="postern-sys-")
        os.chmod(base, 0o755)
        home = os.path.join(base, USER)
        r = run("useradd", "-M", "-d", home, "-s", "/usr/sbin/nologin", USER)
        if r.returncode != 0:
            for i in range(CHECKS):
                t.skip(f"system account check {i + 1}",
                       f"useradd failed: {r.stderr.strip()}")
            return
        pw = pwd.getpwnam(USER)
        r = run("sh", "-c", f"echo '{USER}:{PASSWORD}' | chpasswd")
        t.ok(r.returncode == 0, "chpasswd set the password", r.stderr)
        maildir(os.path.join(home, "Maildir"))
        put(os.path.join(home, "Maildir"), "1000000001.a.test",
            "Subject: x\n\ny\n")
        for root, dirs, names in os.walk(home):
            os.chown(root, pw.pw_uid, pw.pw_gid)
            for n in names:
                os.chown(os.path.join(root, n), pw.pw_uid, pw.pw_gid)
        os.chmod(home, 0o700)

        # shadow(5) and crypt: pam_service = "".
        srv = server(home, pam_service="").start()
        t.eq(session(srv, PASSWORD), "+OK maildrop has 1 messages "
             "(17 octets)", "shadow: the system password logs in")
        t.eq(session(srv, "wrong"), "-ERR [AUTH] invalid user name or "
             "password", "shadow: a wrong password is refused")
        t.ok(srv.wait_log(rf"auth failed: user=<{USER}> .*reason=wrong "
                          r"password"), "and logged as a wrong password")
        # The session, as the account, gave the message a global ID
        # through the counter it opened as root, which the account may
        # not write.
        st = os.stat(os.path.join(srv.settings["state_dir"], "msgid"))
        t.eq((st.st_uid, st.st_mode & 0o7777), (0, 0o600),
             "the global ID counter is root's, mode 0600")
        with open(os.path.join(home, "Maildir", "postern-index")) as f:
            entries = [ln.split() for ln in f.read().splitlines()[1:]
                       if "1000000001.a.test" in ln]
        t.ok(len(entries) == 1 and int(entries[0][1]) > 0,
             "and the account's session gave its message a global ID",
             entries)
        srv.cleanup()

        # PAM with pam_unix.
        with open(PAMFILE, "w") as f:
            f.write("auth required pam_unix.so\n"
                    "account required pam_unix.so\n")
        srv = server(home, pam_service=SERVICE).start()
        t.eq(session(srv, PASSWORD), "+OK maildrop has 1 messages "
             "(17 octets)", "PAM: the system password logs in")
        t.eq(session(srv, "wrong"), "-ERR [AUTH] invalid user name or "
             "password", "PAM: a wrong password is refused")
        srv.cleanup()

        # Below first_valid_uid: refused, even with the right password.
        srv = server(home, pam_service="",
                     first_valid_uid=pw.pw_uid + 1).start()
        t.eq(session(srv, PASSWORD), "-ERR [AUTH] invalid user name or "
             "password", "a uid below first_valid_uid is refused")
        t.ok(srv.wait_log(r"reason=uid below first_valid_uid"),
             "and logged why")
        srv.cleanup()

        # A locked account ("!" before the hash).
        run("usermod", "-L", USER)
        srv = server(home, pam_service="").start()
        t.eq(session(srv, PASSWORD), "-ERR [AUTH] invalid user name or "
             "password", "a locked account is refused")
        srv.cleanup()
        srv = None
    finally:
        if srv is not None:
            srv.cleanup()
        run("userdel", USER)
        if os.path.exists(PAMFILE):
            os.unlink(PAMFILE)
        if base is not None:
            shutil.rmtree(base, ignore_errors=True)


if os.geteuid() != 0 or shutil.which("useradd") is None:
    for i in range(CHECKS):
        t.skip(f"system account check {i + 1}",
               "needs root and useradd to make a test account")
else:
    main()
    try:
        pwd.getpwnam(USER)
        t.ok(False, "the test account was removed")
    except KeyError:
        t.ok(True, "the test account was removed")
t.done()
