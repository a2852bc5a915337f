#!/usr/bin/env python3
"""test_fail2ban.py: contrib/fail2ban/postern.conf against real log lines.

A real posternd is made to refuse logins of every kind (USER/PASS, AUTH,
APOP, a forged user name, a server-side failure); its log lines, as
posternd writes them to stderr and as syslog would write them, go
through the filter with fail2ban-regex, from the package that
contrib/deps.sh unpacks under build/deps/ (or an installed fail2ban), or
else through the same failregex and ignoreregex with Python's re (the
test then says so).  Every client-caused failure must match with the
client's address, nothing else may.
"""
import base64
import configparser
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import TOP, Server, Tap  # noqa: E402

t = Tap()
FILTER = os.path.join(TOP, "contrib", "fail2ban", "postern.conf")
UNPACKED = os.path.join(TOP, "build", "deps", "fail2ban")


def fail2ban():
    """(argv prefix, environment, common.conf) of a fail2ban-regex: the
    unpacked one, else an installed one; None when there is none."""
    tool = os.path.join(UNPACKED, "usr", "bin", "fail2ban-regex")
    common = os.path.join(UNPACKED, "etc", "fail2ban", "filter.d",
                          "common.conf")
    if os.path.exists(tool) and os.path.exists(common):
        lib = os.path.join(UNPACKED, "usr", "lib", "python3",
                           "dist-packages")
        return ([sys.executable, tool], dict(os.environ, PYTHONPATH=lib),
                common)
    common = "/etc/fail2ban/filter.d/common.conf"
    if shutil.which("fail2ban-regex") and os.path.exists(common):
        return ["fail2ban-regex"], dict(os.environ), common
    return None


def b64(s):
    return base64.b64encode(s.encode()).decode()


def produce():
    """Log lines of a server that refused logins in every way."""
    srv = Server(settings=dict(max_auth_failures=10))
    try:
        apop = os.path.join(srv.dir, "apop_secrets")
        with open(apop, "w") as f:
            f.write("alice:tanstaaf\n")
        os.chmod(apop, 0o600)
        srv.settings["apop_secrets"] = apop
        srv.write_conf()
        srv.start()
        c = srv.client()
        stamp = re.search(r"<[^>]*>", c.greeting).group()
        c.cmd("USER alice")
        c.cmd("PASS wrong")                              # wrong password
        c.cmd("USER mallory")
        c.cmd("PASS x")                                  # unknown user
        c.cmd("AUTH PLAIN " + b64("\0bob\0nope"))        # via SASL
        digest = hashlib.md5((stamp + "nope").encode()).hexdigest()
        c.cmd("APOP alice " + digest)                    # wrong digest
        c.close()
        c = srv.client()
        # A user name trying to forge another address into the line.
        c.cmd("USER evil> rip=10.9.9.9 proto=pop3 reason=x")
        c.cmd("PASS x")
        c.cmd("AUTH PLAIN " + b64("root\0alice\0x"))     # authzid
        c.cmd("USER alice")
        c.cmd("PASS wonderland")                         # a good login
        c.cmd("QUIT")
        c.close()
        # A failure on the server's side: the secrets file made unsafe.
        os.chmod(apop, 0o644)
        c = srv.client()
        stamp = re.search(r"<[^>]*>", c.greeting).group()
        c.cmd("APOP alice " +
              hashlib.md5((stamp + "tanstaaf").encode()).hexdigest())
        c.cmd("QUIT")
        c.close()
        srv.wait_log(r"logout: user=<alice>")
        srv.wait_log(r"reason=apop_secrets unusable")
        srv.stop()
        return [x for x in srv.log if "posternd[" in x]
    finally:
        srv.cleanup()


def syslog_form(lines):
    """The same lines as rsyslog writes them: "Nov 22 10:00:00 host ..."."""
    out = []
    for x in lines:
        m = re.match(r"\d{4}-\d\d-(\d\d) (\d\d:\d\d:\d\d) (.*)", x)
        if m:
            out.append(f"Nov {m.group(1)} {m.group(2)} mail {m.group(3)}")
    return out


def with_fail2ban(f2b, lines):
    """(host, user) of each line fail2ban-regex matches."""
    argv, env, common = f2b
    d = tempfile.mkdtemp(prefix="postern-f2b-")
    try:
        os.mkdir(os.path.join(d, "filter.d"))
        shutil.copy(FILTER, os.path.join(d, "filter.d", "postern.conf"))
        shutil.copy(common, os.path.join(d, "filter.d", "common.conf"))
        log = os.path.join(d, "log")
        with open(log, "w") as f:
            f.write("\n".join(lines) + "\n")
        r = subprocess.run(argv + ["-o", "<ip> <F-USER>", log,
                                   os.path.join(d, "filter.d",
                                                "postern.conf")],
                           capture_output=True, text=True, timeout=60,
                           env=env)
        if r.returncode != 0:
            return None, r.stderr
        return [tuple(x.split(" ", 1)) for x in r.stdout.splitlines()
                if x.strip()], None
    finally:
        shutil.rmtree(d, ignore_errors=True)


def with_re(lines):
    """The same with Python's re: failregex with <HOST> and the prefix
    substituted, lines matching ignoreregex left out."""
    cp = configparser.RawConfigParser()
    cp.read(FILTER)
    fail = cp.get("Definition", "failregex").strip()
    ignore = cp.get("Definition", "ignoreregex").strip()
    prefix = r"(?:\S+ )?(?:\S+ \S+ )?(?:\S+ )?posternd\[\d+\]:\s+"
    fail = fail.replace("%(__prefix_line)s", prefix)
    fail = fail.replace("<HOST>", r"(?P<host>[0-9A-Fa-f:.]+)")
    fail = fail.replace("<F-USER>", "(?P<user>").replace("</F-USER>", ")")
    out = []
    for x in lines:
        m = re.search(fail, x)
        if m and not re.search(ignore, x):
            out.append((m.group("host"), m.group("user")))
    return out


lines = produce()
t.ok(len(lines) > 8, "the server wrote its log", "\n".join(lines))
failed = [x for x in lines if "auth failed:" in x]
t.eq(len(failed), 7, "seven auth failed lines (six by the client, one on "
     "the server's side)")

f2b = fail2ban()
for form, log in (("stderr", lines), ("syslog", syslog_form(lines))):
    if f2b is not None:
        got, err = with_fail2ban(f2b, log)
        t.ok(got is not None, f"fail2ban-regex runs the filter ({form})",
             err)
        got = got or []
        how = "fail2ban-regex"
    else:
        t.skip(f"fail2ban-regex on the {form} lines",
               "no fail2ban (contrib/deps.sh could not unpack it): the "
               "failregex checked with Python re instead")
        got = with_re(log)
        how = "re"
    hosts = [h for h, _ in got]
    t.eq(len(got), 6, f"{how}: each client-caused failure matches ({form})")
    t.eq(set(hosts), {"127.0.0.1"}, f"{how}: always the client's address, "
         f"never one forged in the user name ({form})")
    users = sorted(u for _, u in got)
    t.ok("alice" in users and "mallory" in users and "bob" in users and
         any(u.startswith("evil?") for u in users),
         f"{how}: the user field is captured ({form})", users)

t.done()
