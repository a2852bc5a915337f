#!/usr/bin/env python3
"""test_service.py: the service files in contrib/.

contrib/posternd.service passes `systemd-analyze verify` without a
warning (its ExecStart pointed at the built posternd), and the real
posternd, run as root with no capabilities but the unit's
CapabilityBoundingSet and with no_new_privs, as the unit runs it, starts,
serves a login with privilege separation and stops cleanly on SIGTERM.
The OpenBSD and FreeBSD rc.d scripts parse with `sh -n`, and pass
shellcheck when it is installed.  A missing tool is a SKIP.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import postern  # noqa: E402
from postern import Server, Tap, put  # noqa: E402

t = Tap()
TOP = postern.TOP
UNIT = os.path.join(TOP, "contrib", "posternd.service")
RC = [("OpenBSD", os.path.join(TOP, "contrib", "openbsd", "posternd"),
       "ksh"),
      ("FreeBSD", os.path.join(TOP, "contrib", "freebsd", "posternd"),
       "sh")]


def run(argv, timeout=60):
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        return p.returncode, p.stdout.decode("utf-8", "replace")
    except (subprocess.TimeoutExpired, OSError) as e:
        return -1, str(e)


def unit_text():
    with open(UNIT) as f:
        return f.read()


def verify():
    name = "systemd-analyze verify accepts posternd.service, no warning"
    if not shutil.which("systemd-analyze"):
        t.skip(name, "systemd-analyze is not installed")
        return
    d = tempfile.mkdtemp(prefix="postern-unit-")
    try:
        text = unit_text().replace("/usr/local/sbin/posternd",
                                   os.path.abspath(postern.POSTERND))
        path = os.path.join(d, "posternd.service")
        with open(path, "w") as f:
            f.write(text)
        # --man=no: the man pages need not be installed here.
        rc, out = run(["systemd-analyze", "verify", "--man=no", path])
        t.ok(rc == 0 and out.strip() == "", name, f"status {rc}:\n{out}")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def settings():
    """The unit's [Service] settings that matter to the check below."""
    text = unit_text()
    caps = re.search(r"(?m)^CapabilityBoundingSet=(.*)$", text)
    nnp = re.search(r"(?m)^NoNewPrivileges=yes$", text)
    return (caps.group(1).split() if caps else None), nnp is not None


def sandboxed():
    names = ["as the unit runs it, posternd starts",
             "and serves a login with privilege separation",
             "and stops on SIGTERM with status 0"]
    why = None
    if os.geteuid() != 0:
        why = "not root: the capabilities are root's to drop"
    elif not shutil.which("setpriv"):
        why = "setpriv (util-linux) is not installed"
    caps, nnp = settings()
    if why is None and not caps:
        why = "no CapabilityBoundingSet in the unit"
    if why:
        for n in names:
            t.skip(n, why)
        return
    bounding = ",".join(["-all"] + ["+" + c.lower().replace("cap_", "", 1)
                                    for c in caps])
    srv = Server()
    wrap = os.path.join(srv.dir, "posternd-sandboxed")
    with open(wrap, "w") as f:
        f.write("#!/bin/sh\nexec setpriv --bounding-set=" + bounding +
                " --inh-caps=-all" + (" --no-new-privs" if nnp else "") +
                f' {postern.POSTERND} "$@"\n')
    os.chmod(wrap, 0o755)
    put(srv.maildir("alice"), "1700000000.M1P1.test",
        "Subject: sandboxed\n\nhello\n")
    saved = postern.POSTERND
    postern.POSTERND = wrap
    try:
        try:
            srv.start()
        except RuntimeError as e:
            t.ok(False, names[0], str(e))
            t.skip(names[1], "not started")
            t.skip(names[2], "not started")
            return
        t.ok(True, names[0])
        c = srv.client()
        r = c.login()
        stat = c.cmd("STAT")
        c.cmd("QUIT")
        c.close()
        t.ok(r[1].startswith("+OK") and stat.startswith("+OK 1 ") and
             srv.authd() is not None, names[1], f"{r} {stat}")
        rc = srv.stop()
        t.ok(rc == 0 and srv.wait_log(r"stopped", 1) is not None, names[2],
             f"status {rc}\n" + "\n".join(srv.log[-8:]))
    finally:
        postern.POSTERND = saved
        srv.cleanup()


def rc_scripts():
    for system, path, shell in RC:
        rc, out = run(["sh", "-n", path])
        t.ok(rc == 0 and out == "", f"{system} rc.d script: sh -n", out)
        t.ok(os.access(path, os.X_OK), f"{system} rc.d script is "
             "executable")
        name = f"{system} rc.d script: shellcheck -s {shell}"
        if not shutil.which("shellcheck"):
            t.skip(name, "shellcheck is not installed")
            continue
        rc, out = run(["shellcheck", "-s", shell, path])
        t.ok(rc == 0, name, out)


verify()
sandboxed()
rc_scripts()
t.done()
