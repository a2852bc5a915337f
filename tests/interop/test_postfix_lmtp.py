#!/usr/bin/env python3
"""test_postfix_lmtp.py: a real Postfix delivers to posternd over LMTP.

A private Postfix (its own configuration, queue and log under a temporary
directory; no system instance is configured or started) receives mail from
swaks over SMTP on a free loopback port and hands it over LMTP to a
posternd started here; POP3 then returns each message byte for byte, with
the Return-Path:, Delivered-To: and Postfix's Received: lines in front.
An unknown recipient makes Postfix bounce with the LMTP 550 reply.

Postfix and swaks are installed with apt when missing and this runs as
root (Postfix's package is preseeded not to configure the system's mail);
otherwise every check is SKIPped with the reason.  See "A private Postfix
for LMTP tests" in the project's testing notes.  As root, posternd runs
with privilege separation, and its local workers serve LMTP as mail_user
(nobody); then again without mail_user, where a root local worker serves
each connection in a child without root and writes the copy as the
account's uid.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import Server, Tap, crlf  # noqa: E402

t = Tap()
CHECKS = ["Postfix installed", "private Postfix starts",
          "swaks hands the message to Postfix",
          "Postfix delivers it over LMTP", "POP3 returns it byte for byte",
          "the unknown recipient is bounced with the LMTP reply"]
MSG = ("From: Sender <sender@example.org>\r\n"
       "To: alice@test.example\r\n"
       "Subject: through Postfix\r\n"
       "Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
       "Message-ID: <postfix-lmtp-1@example.org>\r\n"
       "MIME-Version: 1.0\r\n"
       "Content-Type: text/plain; charset=utf-8\r\n"
       "Content-Transfer-Encoding: 8bit\r\n"
       "\r\n"
       "Hello from Postfix.\r\n"
       ".a line that starts with a dot\r\n"
       "..and one with two\r\n"
       "Gr\u00fc\u00dfe, 8-bit text\r\n"
       + "x" * 900 + "\r\n"
       "last line\r\n").encode()


def run(argv, timeout=60, **kw):
    """Runs a command; returns (exit status, output).  -1 on timeout."""
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, **kw)
        return p.returncode, p.stdout.decode("utf-8", "replace")
    except (subprocess.TimeoutExpired, OSError) as e:
        return -1, str(e)


def skip_all(reason, start=0):
    for name in CHECKS[start:]:
        t.skip(name, reason)
    t.done()


def install():
    """Installs postfix and swaks if missing.  Returns None, or why not."""
    if shutil.which("postfix") and shutil.which("swaks") and \
            os.path.exists("/etc/postfix/master.cf"):
        return None
    if os.geteuid() != 0:
        return "postfix or swaks missing and not root to install them"
    if not shutil.which("apt-get") or not shutil.which("debconf-set-selections"):
        return "postfix or swaks missing and no apt-get here"
    # Preseeded so that installing configures no system mail.
    p = subprocess.run(["debconf-set-selections"], input=b"postfix "
                       b"postfix/main_mailer_type select No configuration\n",
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    if p.returncode != 0:
        return "debconf-set-selections failed: " + p.stdout.decode()
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    argv = ["apt-get", "install", "-y", "-qq", "--no-install-recommends",
            "postfix", "swaks"]
    rc, out = run(argv, timeout=600, env=env)
    if rc != 0:
        run(["apt-get", "update", "-qq"], timeout=300, env=env)
        rc, out = run(argv, timeout=600, env=env)
    if rc != 0 or not shutil.which("postfix") or not shutil.which("swaks"):
        return "apt-get install postfix swaks failed: " + \
            out.strip().splitlines()[-1:][0] if out.strip() else "failed"
    return None


def free_port():
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postfix_dir(smtp_port, lmtp_port):
    """A private Postfix configuration under a new directory."""
    d = tempfile.mkdtemp(prefix="postern-postfix-")
    os.chmod(d, 0o755)
    for sub in ("etc", "queue", "data", "log"):
        os.mkdir(os.path.join(d, sub))
    shutil.chown(os.path.join(d, "data"), "postfix")
    with open("/etc/postfix/master.cf") as f:
        master = f.read()
    master = re.sub(r"(?m)^smtp\s+inet\s.*$",
                    f"127.0.0.1:{smtp_port} inet n - n - - smtpd", master)
    with open(os.path.join(d, "etc", "master.cf"), "w") as f:
        f.write(master)
    main = f"""compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
maillog_file_prefixes = {d}/log
maillog_file = {d}/log/maillog
myhostname = mx.test.example
mydomain = test.example
myorigin = test.example
mydestination = test.example
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
local_transport = lmtp:inet:127.0.0.1:{lmtp_port}
local_recipient_maps =
alias_maps =
alias_database =
"""
    with open(os.path.join(d, "etc", "main.cf"), "w") as f:
        f.write(main)
    run(["postconf", "-c", os.path.join(d, "etc"), "-F",
         "*/*/chroot = n"], timeout=30)
    return d


def postfix(d, what, timeout=60):
    """postfix -c DIR/etc WHAT, under script(1) so that its complaints,
    which go to syslog otherwise, are seen."""
    cmd = f"postfix -c {d}/etc {what}"
    if shutil.which("script"):
        return run(["script", "-qec", cmd, "/dev/null"], timeout=timeout)
    return run(["sh", "-c", cmd], timeout=timeout)


def wait_port(port, secs):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def maillog(d):
    try:
        with open(os.path.join(d, "log", "maillog"), errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def pop3_all(srv):
    c = srv.client()
    c.login()
    n = int(c.cmd("STAT").split()[1])
    out = []
    for i in range(1, n + 1):
        c.cmd(f"RETR {i}")
        out.append(c.multi())
    c.cmd("QUIT")
    c.close()
    return out


def wait_mail(srv, secs):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        got = pop3_all(srv)
        if got:
            return got
        time.sleep(0.2)
    return []


def split_received(data):
    """(the Return-Path and Delivered-To lines, Postfix's Received:
    field, the rest) of a retrieved message."""
    lines = data.split(b"\r\n")
    ours = b"\r\n".join(lines[:2]) + b"\r\n"
    i = 2
    if i < len(lines) and lines[i].startswith(b"Received:"):
        i += 1
        while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
            i += 1
    received = b"\r\n".join(lines[2:i])
    return ours, received, b"\r\n".join(lines[i:])


def main():
    why = install()
    if why:
        skip_all(why)
    t.ok(True, CHECKS[0])
    through_postfix("", {})
    through_postfix(" (root local worker)", {"mail_user": ""})
    t.done()


def through_postfix(mode, settings):
    """CHECKS[1:], their names followed by mode."""
    srv = Server(settings=settings)
    if settings.get("mail_user") == "":
        # Accounts that name their uid: nobody's.
        with open(srv.passwd, "w") as f:
            for u, pw in srv.users.items():
                home = os.path.join(srv.dir, "home", u)
                f.write(f"{u}:{{PLAIN}}{pw}:65534:65534::{home}::\n")
    srv.write_conf('listen { protocol = "lmtp" address = "127.0.0.1" '
                   'port = 0 }\n')
    srv.start()
    d = None
    try:
        line = srv.wait_log(r"listening on 127\.0\.0\.1:\d+ \(lmtp\)")
        lmtp_port = int(re.search(r":(\d+) \(lmtp\)", line).group(1))
        smtp_port = free_port()
        d = postfix_dir(smtp_port, lmtp_port)
        rc, out = postfix(d, "start")
        if rc != 0 or not wait_port(smtp_port, 15):
            _, check = postfix(d, "check")
            skip_all(f"private Postfix did not start: {out.strip()} "
                     f"{check.strip()}".strip(), 1)
        t.ok(True, CHECKS[1] + mode)
        body = os.path.join(d, "message.eml")
        with open(body, "wb") as f:
            # swaks ends DATA with CRLF "." CRLF of its own.
            f.write(MSG[:-2])
        rc, out = run(["swaks", "--server", f"127.0.0.1:{smtp_port}",
                       "--from", "sender@example.org",
                       "--to", "alice@test.example",
                       "--data", body, "--timeout", "20"], timeout=60)
        t.ok(rc == 0, CHECKS[2] + mode, out)
        got = wait_mail(srv, 30)
        t.ok(len(got) == 1, CHECKS[3] + mode, maillog(d))
        if got:
            ours, received, rest = split_received(got[0])
            want = crlf(b"Return-Path: <sender@example.org>\n"
                        b"Delivered-To: <alice@test.example>\n")
            t.ok(ours == want and received.startswith(b"Received: from ")
                 and rest == MSG, CHECKS[4] + mode,
                 f"got:  {got[0]!r}\nwant: {want!r} + Received: + "
                 f"{MSG!r}")
        else:
            t.ok(False, CHECKS[4] + mode, "nothing delivered")
        rc, out = run(["swaks", "--server", f"127.0.0.1:{smtp_port}",
                       "--from", "sender@example.org",
                       "--to", "nobody-here@test.example",
                       "--timeout", "20"], timeout=60)
        end = time.monotonic() + 30
        log = ""
        while time.monotonic() < end:
            log = maillog(d)
            if "status=bounced" in log:
                break
            time.sleep(0.2)
        t.ok(re.search(r"to=<nobody-here@test\.example>.*status=bounced.*"
                       r"550 5\.1\.1 <nobody-here@test\.example> unknown "
                       r"user", log) is not None, CHECKS[5] + mode, log)
    finally:
        if d is not None:
            postfix(d, "stop", timeout=30)
            stop_master(d)
        srv.cleanup()
        if d is not None:
            shutil.rmtree(d, ignore_errors=True)


def stop_master(d):
    """Makes sure the private Postfix's master is gone (its pid file)."""
    pidfile = os.path.join(d, "queue", "pid", "master.pid")
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


main()
