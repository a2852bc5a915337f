#!/usr/bin/env python3
"""test_papm_privsep.py: PAPM push to accounts of other uids, as root.

With privilege separation a session process runs as its account and can
write only the Maildirs of its uid; for the other accounts it asks the
auth process, which writes each copy in a child that takes the
recipient's uid (postern-papm(7), posternd(8)).  The passwd-file here has
accounts of three uids: zz and bob without one (mail_user, nobody), carol
of uid 65533 and dave of uid 65532.  Checked: a push from zz to carol and
bob lands in both new/ byte for byte, each file owned by its recipient's
uid; carol's own session (a process of uid 65533) pushes to bob the same
way; a recipient whose tmp/ its uid cannot write makes DATA answer -ERR
and leaves no copy for anyone, in new/ or tmp/; each copy the auth
process makes is logged with the session's account; the auth process
keeps no descriptor of a session that ended.
"""
import os
import pwd
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import Client, Server, Tap  # noqa: E402

t = Tap()

USERS = {"zz": "universe", "bob": "builder", "carol": "carpet",
         "dave": "digger"}
UIDS = {"carol": 65533, "dave": 65532}      # zz and bob: mail_user's


def papm_port(srv):
    line = srv.wait_log(r"listening on 127\.0\.0\.1:\d+ \(papm\)")
    return int(re.search(r":(\d+) \(papm\)", line).group(1))


def write_passwd(srv):
    """The passwd-file with carol's and dave's own uids."""
    with open(srv.passwd, "w") as f:
        for u, pw in USERS.items():
            home = os.path.join(srv.dir, "home", u)
            ids = f"{UIDS[u]}:{UIDS[u]}" if u in UIDS else ":"
            f.write(f"{u}:{{PLAIN}}{pw}:{ids}::{home}::\n")


def give(srv, user, uid):
    """Gives user's home and Maildir to uid (and the same gid)."""
    for root, dirs, names in os.walk(os.path.join(srv.dir, "home", user)):
        os.chown(root, uid, uid)
        for n in names:
            os.chown(os.path.join(root, n), uid, uid)


def messages(md):
    """{sub/name: (bytes, uid, gid)} of the files in new/, cur/ and tmp/."""
    out = {}
    for sub in ("new", "cur", "tmp"):
        for name in os.listdir(os.path.join(md, sub)):
            path = os.path.join(md, sub, name)
            st = os.stat(path)
            with open(path, "rb") as f:
                out[f"{sub}/{name}"] = (f.read(), st.st_uid, st.st_gid)
    return out


def added(before, after):
    return {k: v for k, v in after.items() if k not in before}


def push(c, sender, rcpts, text):
    """MAIL, RCPT each, DATA and the message; the replies."""
    out = [c.cmd(f"MAIL FROM: {sender}")]
    out += [c.cmd(f"RCPT TO: {r}") for r in rcpts]
    out.append(c.cmd("DATA"))
    c.send(re.sub(r"(?m)^\.", "..", text))
    out.append(c.cmd("."))
    return out


def socket_fds(pid):
    """How many sockets process pid holds."""
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


def main():
    if os.geteuid() != 0:
        t.skip("push to accounts of other uids", "needs root")
        return
    try:
        pwd.getpwnam("postern")
    except KeyError:
        t.skip("push to accounts of other uids", "no user postern "
               "(make deps)")
        return
    nobody = pwd.getpwnam("nobody")
    srv = Server(users=USERS, settings={"papm_helo_domains": "bar.com"})
    srv.write_conf('listen { protocol = "papm" address = "127.0.0.1" '
                   'port = 0 }\n')
    write_passwd(srv)
    # root's alone: the sessions (nobody, carol's uid) ask the auth
    # process for their recipients' accounts.
    os.chmod(srv.passwd, 0o600)
    try:
        srv.start()
        for u, uid in UIDS.items():
            give(srv, u, uid)
        port = papm_port(srv)
        md = {u: srv.maildir(u) for u in USERS}
        authd = srv.authd()
        time.sleep(0.3)
        sockets = socket_fds(authd)

        # zz (nobody) pushes to carol (65533) and bob (nobody).
        c = Client(port)
        t.eq((c.cmd("USER zz"), c.cmd("PASS universe")),
             ("+OK mail drop name valid", "+OK mail drop ready"),
             "zz logs in")
        t.eq(c.cmd("HELO bar.com"), "+OK", "HELO")
        text = ("Subject: across uids\r\n\r\n.\r\n..two dots\r\n"
                "From here\r\nlast\r\n")
        want = text.replace("\r\n", "\n").encode()
        before = {u: messages(md[u]) for u in USERS}
        t.eq(push(c, "zz@test.example", ["carol@bar.com", "bob"], text),
             ["+OK"] * 5, "a push to carol (another uid) and bob: +OK, "
             "the passwd-file being root's, mode 0600")
        t.eq((c.cmd("MAIL FROM: zz"), c.cmd("RCPT TO: nosuchuser"),
              c.cmd("RSTE")),
             ("+OK", "-ERR user account invalid", "+OK"),
             "an unknown recipient, looked up the same way: -ERR")
        got = added(before["carol"], messages(md["carol"]))
        t.eq(list(got.values()), [(want, 65533, 65533)],
             "carol's copy: the message byte for byte, owned by 65533")
        t.ok(all(k.startswith("new/") for k in got),
             "carol's copy is in new/", got.keys())
        got = added(before["bob"], messages(md["bob"]))
        t.eq(list(got.values()), [(want, nobody.pw_uid, nobody.pw_gid)],
             "bob's copy: the same, owned by nobody (written by the "
             "session)")
        t.ok(srv.wait_log(r"push: delivered: user=<zz> rip=127\.0\.0\.1 "
                          r"proto=papm from=<zz@test\.example> "
                          r"rcpt=<carol@bar\.com> account=<carol> "
                          r"name=\S+,S=\d+,W=\d+ size=\d+") is not None,
             "the auth process logs carol's copy with user=<zz>")
        t.ok(srv.wait_log(r"papm: delivered: user=<carol> "
                          r"rip=127\.0\.0\.1 from=<zz@test\.example> "
                          r"rcpt=<carol@bar\.com> name=\S+ size=\d+")
             is not None, "and the session logs it as its own lines say")

        # dave's tmp/ is not writable by dave: nothing for anyone.
        os.chmod(os.path.join(md["dave"], "tmp"), 0o500)
        before = {u: messages(md[u]) for u in USERS}
        replies = push(c, "zz", ["bob", "carol", "dave@test.example"],
                       "Subject: not for anyone\r\n\r\nx\r\n")
        t.eq(replies[:5], ["+OK"] * 5, "MAIL, three RCPT, DATA: +OK")
        t.eq(replies[5], "-ERR cannot deliver to dave@test.example: "
             "Permission denied, nothing delivered",
             "dave's copy cannot be written: -ERR, nothing delivered")
        for u in ("bob", "carol", "dave"):
            t.eq(messages(md[u]), before[u],
                 f"{u}: no new file in new/, cur/ or tmp/")
        t.ok(srv.wait_log(r"push: failed: user=<zz> rip=127\.0\.0\.1 "
                          r"proto=papm from=<zz> rcpt=<dave@test\.example> "
                          r"account=<dave> reason=Permission denied")
             is not None, "the auth process logs dave's failure")
        os.chmod(os.path.join(md["dave"], "tmp"), 0o700)

        # The session goes on: the next push to dave works.
        before = {u: messages(md[u]) for u in USERS}
        t.eq(push(c, "zz", ["dave"], "Subject: now\r\n\r\ny\r\n"),
             ["+OK"] * 4, "with tmp/ writable again, dave's push: +OK")
        t.eq(list(added(before["dave"], messages(md["dave"])).values()),
             [(b"Subject: now\n\ny\n", 65532, 65532)],
             "dave's copy, owned by 65532")
        t.ok(c.cmd("QUIT").startswith("+OK"), "QUIT")
        c.close()

        # carol's session is a process of uid 65533: bob's copy comes
        # from the auth process, as nobody.
        c = Client(port)
        t.eq((c.cmd("USER carol"), c.cmd("PASS carpet")),
             ("+OK mail drop name valid", "+OK mail drop ready"),
             "carol logs in (a session process of uid 65533)")
        c.cmd("HELO bar.com")
        before = {u: messages(md[u]) for u in USERS}
        t.eq(push(c, "carol@bar.com", ["bob", "carol"],
                  "Subject: from carol\r\n\r\nhi\r\n"), ["+OK"] * 5,
             "carol pushes to bob and to herself: +OK")
        want = b"Subject: from carol\n\nhi\n"
        t.eq(list(added(before["bob"], messages(md["bob"])).values()),
             [(want, nobody.pw_uid, nobody.pw_gid)],
             "bob's copy, owned by nobody")
        t.eq(list(added(before["carol"], messages(md["carol"])).values()),
             [(want, 65533, 65533)], "carol's own copy, owned by 65533")
        t.ok(srv.wait_log(r"push: delivered: user=<carol> "
                          r"rip=127\.0\.0\.1 proto=papm "
                          r"from=<carol@bar\.com> rcpt=<bob> "
                          r"account=<bob>") is not None,
             "logged with carol as the session's account")
        c.cmd("QUIT")
        c.close()

        # The channels of ended sessions are closed by the auth process.
        deadline = time.monotonic() + 5
        while socket_fds(authd) != sockets and time.monotonic() < deadline:
            time.sleep(0.1)
        t.eq(socket_fds(authd), sockets,
             "the auth process holds no socket of the sessions that ended")
        t.eq([p for p in srv.sessions()
              if "push" in Server.title(p)], [],
             "no child serving a delivery request is left")
    finally:
        srv.cleanup()


main()
t.done()
