#!/usr/bin/env python3
"""test_deliver.py: `postern deliver` end to end.

Delivers messages with the real build/postern into the Maildirs of a
running build/posternd, checks every exit status of postern(1), and
retrieves the messages over POP3 byte for byte: the text as delivered,
with the Return-Path: and Delivered-To: lines asked for, in network form.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import POSTERN, Server, Tap, crlf, files  # noqa: E402

t = Tap()


def deliver(srv, args, data, conf=None):
    """Runs postern deliver; returns (exit status, stderr)."""
    if isinstance(data, str):
        data = data.encode()
    p = subprocess.run([POSTERN, "deliver", "-c", conf or srv.conf] + args,
                       input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=20)
    return p.returncode, p.stderr.decode("utf-8", "replace")


def retr_all(srv, user="alice", password="wonderland"):
    """Every message of user over POP3: [(LIST size, RETR text)]."""
    c = srv.client()
    r1, r2 = c.login(user, password)
    out = []
    if not r2.startswith("+OK"):
        c.close()
        return None
    n = int(c.cmd("STAT").split()[1])
    for i in range(1, n + 1):
        size = int(c.cmd(f"LIST {i}").split()[2])
        c.cmd(f"RETR {i}")
        out.append((size, c.multi()))
    c.cmd("QUIT")
    c.close()
    return out


def round_trip():
    with Server() as srv:
        msgs = [
            b"Subject: plain\n\nhello\n",
            b"Subject: crlf\r\n\r\nwindows line ends\r\n",
            b"Subject: dots\n\n.\n..\n.leading dot\n",
            b"Subject: 8bit\n\nGr\xc3\xbc\xc3\x9fe \xff\x00 nul\n",
            b"Subject: no final newline\n\nlast line",
        ]
        for m in msgs:
            rc, err = deliver(srv, ["-f", "<sender@example.org>", "-d",
                                    "alice"], m)
            t.eq(rc, 0, f"deliver exits 0 ({m.splitlines()[0]!r})")
        got = retr_all(srv)
        t.eq(len(got or []), len(msgs), "POP3 lists every message")
        for m, (size, text) in zip(msgs, got or []):
            want = crlf(b"Return-Path: <sender@example.org>\n"
                        b"Delivered-To: <alice>\n" + m)
            t.eq(text, want, f"RETR gives the message byte for byte "
                 f"({m.splitlines()[0]!r})")
            t.eq(size, len(want), "LIST size is the octets RETR sends")
        names = files(srv.maildir("alice"))
        t.ok(all(",S=" in n and ",W=" in n for n in names),
             "names carry ,S= and ,W=", names)
        t.eq(os.listdir(os.path.join(srv.maildir("alice"), "tmp")), [],
             "tmp/ is empty afterwards")

        # Without -f and -d nothing is added; the null sender is <>.
        rc, _ = deliver(srv, ["alice"], "Subject: bare\n\nx\n")
        rc2, _ = deliver(srv, ["-f", "", "alice"], "Subject: bounce\n\ny\n")
        t.eq((rc, rc2), (0, 0), "deliver without -d, and with -f \"\"")
        got = retr_all(srv)
        t.eq(got[-2][1], crlf("Subject: bare\n\nx\n"),
             "no header added without -f and -d")
        t.eq(got[-1][1], crlf("Return-Path: <>\nSubject: bounce\n\ny\n"),
             "-f \"\" is the null sender")


def large_message():
    with Server() as srv:
        line = b"L" * 998 + b"\n"
        body = b"Subject: big\n\n" + line * 5000 + b"x" * 100000 + b"\n"
        rc, err = deliver(srv, ["alice"], body)
        t.eq(rc, 0, "a 5 MB message with a 100000-octet line is delivered")
        got = retr_all(srv)
        t.ok(got is not None and got[0][1] == crlf(body),
             "and comes back whole over POP3")


def folders():
    with Server() as srv:
        md = srv.maildir("alice")
        for sub in ("new", "cur", "tmp"):
            os.makedirs(os.path.join(md, ".Sent", sub))
        if hasattr(srv, "own"):
            srv.own()       # as root: the Maildirs are mail_user's
        rc, _ = deliver(srv, ["-m", "Sent", "alice"], "Subject: s\n\n")
        t.eq(rc, 0, "deliver -m Sent")
        t.eq(len(os.listdir(os.path.join(md, ".Sent", "new"))), 1,
             "the message is in .Sent/new")
        rc, _ = deliver(srv, ["-m", "Drafts", "alice"],
                        "Subject: d\n\n")
        t.eq(rc, 0, "deliver -m Drafts, which does not exist")
        t.eq(len(os.listdir(os.path.join(md, "new"))), 1,
             "falls back to INBOX")
        rc, err = deliver(srv, ["-m", "../../etc", "alice"], "x\n")
        t.eq(rc, 64, "an invalid folder name is a usage error")
        t.ok("invalid folder" in err, "and says so", err)


def exit_codes():
    with Server() as srv:
        md = srv.maildir("alice")
        rc, err = deliver(srv, ["mallory"], "x\n")
        t.eq(rc, 67, "unknown user: 67 (EX_NOUSER)")
        t.ok("unknown user" in err, "stderr says unknown user", err)
        rc, _ = deliver(srv, ["alice@example.org"], "x\n")
        t.eq(rc, 0, "user@domain falls back to the local part")
        rc, _ = deliver(srv, [], "x\n")
        t.eq(rc, 64, "no user: 64 (EX_USAGE)")
        rc, _ = deliver(srv, ["-x", "alice"], "x\n")
        t.eq(rc, 64, "unknown option: 64")
        rc, _ = deliver(srv, ["-f", "a\nb", "alice"], "x\n")
        t.eq(rc, 64, "a sender with a newline: 64")

        with open(srv.passwd, "a") as f:
            f.write(f"toor:{{PLAIN}}x:0:0::{srv.dir}/home/alice::\n")
            f.write(f"ghost:{{PLAIN}}x::::{srv.dir}/home/ghost::\n")
        rc, err = deliver(srv, ["toor"], "x\n")
        t.eq(rc, 77, "uid 0: 77 (EX_NOPERM)")
        rc, err = deliver(srv, ["ghost"], "x\n")
        t.eq(rc, 75, "no Maildir: 75 (EX_TEMPFAIL), the MTA retries")

        conf = os.path.join(srv.dir, "bad.conf")
        with open(srv.conf) as f, open(conf, "w") as g:
            g.write(f.read().replace(srv.passwd, srv.passwd + ".missing"))
        rc, err = deliver(srv, ["alice"], "x\n", conf=conf)
        t.eq(rc, 75, "passwd-file unreadable: 75 (EX_TEMPFAIL)")
        rc, err = deliver(srv, ["alice"], "x\n",
                          conf=os.path.join(srv.dir, "none.conf"))
        t.eq(rc, 75, "configuration unreadable: 75 (EX_TEMPFAIL)")

        before = files(md)
        tmp = os.path.join(md, "tmp")
        os.rmdir(tmp)
        os.symlink("new", tmp)
        rc, err = deliver(srv, ["alice"], "x\n")
        t.eq(rc, 73, "tmp/ a symlink: 73 (EX_CANTCREAT)")
        os.unlink(tmp)
        os.mkdir(tmp)
        t.eq(files(md), before, "failed deliveries left no message")


def file_size_limit():
    with Server() as srv:
        md = srv.maildir("alice")
        p = subprocess.run(
            ["sh", "-c", f'ulimit -f 8 && exec "{POSTERN}" deliver -c '
             f'"{srv.conf}" alice'],
            input=b"y" * 100000, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, timeout=20)
        t.eq(p.returncode, 73, "a message over the file size limit: 73")
        t.eq(files(md) + os.listdir(os.path.join(md, "tmp")), [],
             "and nothing is left in new/, cur/ or tmp/")


def as_root_drops_to_uid():
    if os.geteuid() != 0:
        t.skip("delivery as the entry's uid", "needs root")
        return
    with Server() as srv:
        home = os.path.join(srv.dir, "home", "nob")
        md = os.path.join(home, "Maildir")
        for sub in ("new", "cur", "tmp"):
            os.makedirs(os.path.join(md, sub))
        subprocess.run(["chown", "-R", "65534:65534", home], check=True)
        os.chmod(srv.dir, 0o755)
        os.chmod(os.path.join(srv.dir, "home"), 0o755)
        with open(srv.passwd, "a") as f:
            f.write(f"nob:{{PLAIN}}x:65534:65534::{home}::\n")
        rc, err = deliver(srv, ["nob"], "Subject: n\n\n")
        t.eq(rc, 0, "deliver as root to an entry with a uid")
        names = os.listdir(os.path.join(md, "new"))
        st = os.stat(os.path.join(md, "new", names[0])) if names else None
        t.ok(st is not None and st.st_uid == 65534 and st.st_gid == 65534,
             "the message belongs to the entry's uid and gid")


def senders():
    """-f as postern(1) has it: at most 512 octets, angle brackets
    around it dropped and none inside; an option without its argument
    and a bad sender are usage errors, exit 64, nothing delivered."""
    usage = ("usage: postern hash\n"
             "       postern check [-c file]\n"
             "       postern deliver [-d] [-c file] [-f sender] "
             "[-m folder] user\n"
             "       postern version\n"
             "       postern status [-c file]\n")
    with Server() as srv:
        md = srv.maildir("alice")
        longest = "s" * 500 + "@example.org"
        for arg in (longest, f"<{longest}>", "<>"):
            rc, err = deliver(srv, ["-f", arg, "alice"], "x\n")
            new = os.path.join(md, "new")
            names = os.listdir(new)
            got = None
            for n in names:
                with open(os.path.join(new, n), "rb") as f:
                    got = f.read()
                os.unlink(os.path.join(new, n))
            want = arg.strip("<>")
            t.eq((rc, err, len(names), got),
                 (0, "", 1, f"Return-Path: <{want}>\nx\n".encode()),
                 f"-f of {len(arg)} octets ({arg[:2]!r}...) is taken")
        cases = [
            ("s" + longest, "sender longer than 512 octets"),
            (f"<s{longest}>", "sender longer than 512 octets"),
            ("a<b@example.org", "invalid sender address"),
            ("<a@example.org", "invalid sender address"),
            ("<<a@example.org>>", "invalid sender address"),
            ("a@example.org\x7f", "invalid sender address"),
        ]
        for arg, why in cases:
            rc, err = deliver(srv, ["-f", arg, "alice"], "x\n")
            t.eq((rc, err), (64, f"postern: {why}\n" + usage),
                 f"-f {arg[:16]!r}...: {why}, 64")
        for opt in ("-f", "-m", "-c"):
            p = subprocess.run([POSTERN, "deliver", opt], input=b"x\n",
                               capture_output=True, timeout=20)
            t.eq((p.returncode, p.stderr.decode()),
                 (64, f"postern: option {opt} needs an argument\n" +
                  usage), f"deliver {opt} without its argument: 64")
        t.eq(files(md), [], "nothing was delivered by the refused runs")


round_trip()
large_message()
folders()
exit_codes()
file_size_limit()
as_root_drops_to_uid()
senders()
t.done()
