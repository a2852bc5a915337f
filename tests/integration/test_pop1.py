#!/usr/bin/env python3
"""test_pop1.py: RFC 918 POP against the real build/posternd.

Replays RFC 918's normal scenario and every command of its summary and
diagram with their success and error replies, then checks the stream RCEV
sends byte for byte (mbox form: "From " lines, ">From " quoting, CRLF,
exactly the "#xxx" count), the order rules, that only RCVD after RDEL
deletes (exactly what was sent), that RETR deletes nothing, that RSET,
QUIT and a dropped connection delete nothing, folders, and the lock.
Run as root, posternd separates privileges and sessions run as nobody.
"""
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import Client, Server, Tap, crlf, files, maildir, put  # noqa

t = Tap()

MSGS = [
    ("1700000001.a.test",
     "Return-Path: <sender@example.org>\nFrom: sender@example.org\n"
     "Subject: one\n\nFrom the start of a body line.\n>From quoted once\n"
     ">>From twice\nFrom\n.\n..two dots\n"),
    ("1700000002.b.test",
     "Subject: two\r\n\r\nCRLF text\r\nFrom here\r\nno final newline"),
    ("1700000003.c.test", "Subject: three\n\n.\n"),
]


def mbox(msgs):
    """The stream RCEV must send for msgs, as postern-pop1(7) says."""
    out = b""
    for name, data in msgs:
        sender = "MAILER-DAEMON"
        first = data.split("\n", 1)[0]
        if first.lower().startswith("return-path:"):
            sender = first.split(":", 1)[1].strip().strip("<>")
        when = int(name.split(".")[0])
        date = time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(when))
        out += f"From {sender} {date}\r\n".encode()
        body = re.sub(rb"(?m)^(>*From )", rb">\1", crlf(data))
        out += body + b"\r\n"
    return out


def server(extra_settings=None):
    srv = Server(settings=extra_settings)
    srv.write_conf('listen { protocol = "pop1" address = "127.0.0.1" '
                   'port = 0 }\n')
    for name, data in MSGS:
        put(srv.maildir("alice"), name, data)
    srv.start()
    line = srv.wait_log(r"listening on 127\.0\.0\.1:\d+ \(pop1\)")
    srv.pop1 = int(re.search(r":(\d+) \(pop1\)", line).group(1))
    return srv


def connect(srv):
    return Client(srv.pop1)


def login(c, user="alice", password="wonderland"):
    return c.cmd(f"USER {user}"), c.cmd(f"PASS {password}")


def read_exact(c, n):
    """n octets of the stream that follows RCEV."""
    while len(c.buf) < n:
        chunk = c.sock.recv(65536)
        if not chunk:
            break
        c.buf += chunk
    data, c.buf = c.buf[:n], c.buf[n:]
    return data


def count(reply):
    m = re.fullmatch(r"#(\d+)", reply)
    return int(m.group(1)) if m else None


def nothing_more(c, wait=0.3):
    """Whether the server sent nothing beyond what was read."""
    c.sock.settimeout(wait)
    try:
        c.buf += c.sock.recv(65536)
    except socket.timeout:
        pass
    c.sock.settimeout(10)
    return c.buf == b""


srv = server()
try:
    md = srv.maildir("alice")
    want = mbox(MSGS)

    # RFC 918 "The Normal Scenario", with RETR first (deletes nothing).
    c = connect(srv)
    t.eq(c.greeting, "+OK Postern POP server ready", "greeting is +OK")
    t.eq(login(c), ("+OK send PASS", "+OK logged in"), "USER, PASS: +OK")
    r = c.cmd("RETR INBOX")
    t.eq(count(r), len(want), "RETR mailbox: #xxx is the stream's size")
    c.send("RCEV\r\n")
    got = read_exact(c, len(want))
    t.eq(got, want, "RCEV sends the mailbox in mbox form, byte for byte")
    t.ok(nothing_more(c), "RCEV sends exactly #xxx octets, no status line")
    t.eq(c.cmd("RCVD"), "+OK", "RCVD after RETR: +OK")
    t.eq(len(files(md)), 3, "RETR...RCVD deleted nothing")
    t.ok(all(f.startswith("cur/") and f.endswith(":2,S")
             for f in files(md)), "RETR...RCVD marked the messages seen")
    t.eq(c.cmd("NOOP"), "+OK", "NOOP: +OK")
    t.eq(c.cmd("RSET"), "+OK", "RSET outside a transaction: +OK")

    # The same with RDEL, in the same session: RCVD deletes.
    r = c.cmd("RDEL INBOX")
    t.eq(count(r), len(want), "RDEL mailbox: the same #xxx")
    c.send("RCEV\r\n")
    t.eq(read_exact(c, len(want)), want, "RCEV after RDEL: same stream")
    t.eq(len(files(md)), 3, "nothing deleted before RCVD")
    t.eq(c.cmd("RCVD"), "+OK", "RCVD after RDEL: +OK")
    t.eq(files(md), [], "RCVD after RDEL deleted every message sent")
    t.eq(c.cmd("RDEL INBOX"), "#0", "an empty mailbox: #0")
    c.send("RCEV\r\n")
    t.ok(nothing_more(c), "RCEV of an empty mailbox sends nothing")
    t.eq(c.cmd("RCVD"), "+OK", "RCVD of an empty mailbox: +OK")
    t.eq(c.cmd("QUIT"), "+OK Postern POP server signing off", "QUIT: +OK")
    t.ok(c.closed(), "QUIT closes the connection")
    c.close()
    log = srv.wait_log(r"logout: user=<alice> rip=127\.0\.0\.1 proto=pop1 "
                       rf"sent=6/{2 * len(want)} deleted=3 reason=quit")
    t.ok(log is not None, "the logout line counts what was sent and "
         "deleted")

    # Error replies of the diagram's -ERR branches and the order rules.
    for name, data in MSGS:
        put(md, name, data)
    c = connect(srv)
    t.eq(c.cmd("RETR INBOX"), "-ERR RETR is not valid before login",
         "RETR before login: -ERR")
    t.eq(c.cmd("RCEV"), "-ERR RCEV is not valid before login",
         "RCEV before login: -ERR")
    t.eq(c.cmd("PASS x"), "-ERR send USER first", "PASS without USER")
    t.eq(c.cmd("USER"), "-ERR USER needs a user name", "USER without name")
    t.eq(login(c, "alice", "wrong"),
         ("+OK send PASS", "-ERR invalid user name or password"),
         "a wrong password: -ERR")
    t.eq(login(c, "mallory", "wonderland"),
         ("+OK send PASS", "-ERR invalid user name or password"),
         "an unknown user: the same -ERR")
    t.eq(c.cmd("FOO"), "-ERR unknown command", "unknown command: -ERR")
    t.eq(login(c), ("+OK send PASS", "+OK logged in"), "then a good login")
    t.eq(c.cmd("USER alice"), "-ERR USER is not valid after login",
         "USER after login")
    t.eq(c.cmd("RCEV"), "-ERR no transaction: send RETR or RDEL first",
         "RCEV before RETR/RDEL: -ERR")
    t.eq(c.cmd("RCVD"), "-ERR no transaction: send RETR or RDEL first",
         "RCVD before RETR/RDEL: -ERR")
    t.eq(c.cmd("RETR"), "-ERR RETR needs a mailbox name", "RETR no name")
    t.eq(c.cmd("RDEL"), "-ERR RDEL needs a mailbox name", "RDEL no name")
    t.eq(c.cmd("RETR nosuch"), "-ERR no such mailbox", "unknown mailbox")
    t.eq(c.cmd("RETR bob"), "-ERR no such mailbox",
         "another user's mailbox: -ERR")
    t.eq(c.cmd("RETR ../bob"), "-ERR no such mailbox",
         "a path as mailbox: -ERR")
    t.eq(count(c.cmd("RDEL inbox")), len(mbox(MSGS)),
         "INBOX in any case")
    t.eq(c.cmd("RETR INBOX"), "-ERR a transaction is open: send RCVD or "
         "RSET first", "a second RETR in a transaction: -ERR")
    t.eq(c.cmd("RDEL INBOX"), "-ERR a transaction is open: send RCVD or "
         "RSET first", "a second RDEL in a transaction: -ERR")
    t.eq(c.cmd("RCVD"), "-ERR send RCEV first", "RCVD before RCEV: -ERR")
    t.eq(c.cmd("RCEV x"), "-ERR RCEV takes no argument", "RCEV argument")
    # RSET aborts the transaction and unlocks: a POP3 session may lock.
    t.eq(c.cmd("RSET"), "+OK", "RSET in a transaction: +OK")
    p = srv.client()
    t.eq(p.login()[1], "+OK maildrop has 3 messages (%d octets)" %
         sum(len(crlf(d)) for n, d in MSGS),
         "after RSET the maildrop is unlocked (POP3 logs in)")
    t.eq(c.cmd("RETR INBOX"), "-ERR mailbox locked by another session",
         "RETR of a mailbox another session holds: -ERR")
    p.cmd("QUIT")
    p.close()
    t.eq(len(files(md)), 3, "RSET deleted nothing")

    # Own name is the INBOX too; RCEV twice; QUIT mid-transaction.
    t.eq(count(c.cmd("RDEL alice")), len(mbox(MSGS)),
         "the user's own name names the INBOX")
    c.send("RCEV\r\n")
    read_exact(c, len(mbox(MSGS)))
    t.eq(c.cmd("RCEV"), "-ERR the mailbox was sent: send RCVD",
         "a second RCEV: -ERR")
    t.eq(c.cmd("QUIT"), "+OK Postern POP server signing off",
         "QUIT inside a transaction: +OK")
    c.close()
    t.eq(len(files(md)), 3, "QUIT before RCVD deleted nothing")

    # A dropped connection after RCEV deletes nothing.
    c = connect(srv)
    login(c)
    n = count(c.cmd("RDEL INBOX"))
    c.send("RCEV\r\n")
    read_exact(c, n)
    c.close()
    time.sleep(0.3)
    t.eq(len(files(md)), 3, "a dropped connection before RCVD deletes "
         "nothing")

    # Mail that arrives during the transaction is neither sent nor
    # deleted.
    c = connect(srv)
    login(c)
    n = count(c.cmd("RDEL INBOX"))
    late = "Subject: late\n\narrived during the transaction\n"
    put(md, "1700000009.z.test", late)
    c.send("RCEV\r\n")
    t.eq(read_exact(c, n), mbox(MSGS), "RCEV sends the mailbox as counted")
    t.eq(c.cmd("RCVD"), "+OK", "RCVD: +OK")
    left = files(md)
    t.eq(left, ["new/1700000009.z.test"],
         "RCVD deleted exactly the messages sent; the late one stays")

    # RCVD that cannot delete says so, and deletes what it can.
    put(md, "1700000010.y.test", "Subject: stuck\n\nx\n")
    n = count(c.cmd("RDEL INBOX"))
    c.send("RCEV\r\n")
    read_exact(c, n)
    os.chmod(os.path.join(md, "new"), 0o555)
    try:
        r = c.cmd("RCVD")
    finally:
        os.chmod(os.path.join(md, "new"), 0o700)
    if os.geteuid() == 0 and not srv.authd():
        t.skip("RCVD -ERR when deletion fails", "root ignores modes")
    else:
        t.eq(r, "-ERR 2 of 2 messages could not be deleted: 1 2",
             "RCVD -ERR names the messages not deleted")
    t.eq(len(files(md)), 2, "the undeletable messages stay")
    c.cmd("QUIT")
    c.close()

    # A folder (Maildir++) is a mailbox; INBOX.name names it too.
    sent = maildir(os.path.join(md, ".Sent"))
    open(os.path.join(sent, "maildirfolder"), "w").close()
    folder_msgs = [("1700000100.f.test", "Subject: sent\n\nFrom me.\n")]
    put(sent, *folder_msgs[0])
    srv.own()
    c = connect(srv)
    login(c)
    t.eq(count(c.cmd("RETR Sent")), len(mbox(folder_msgs)),
         "RETR of a folder: #xxx")
    c.send("RCEV\r\n")
    t.eq(read_exact(c, len(mbox(folder_msgs))), mbox(folder_msgs),
         "RCEV sends the folder")
    t.eq(c.cmd("RCVD"), "+OK", "RCVD: +OK")
    t.eq(count(c.cmd("RDEL INBOX.Sent")), len(mbox(folder_msgs)),
         "INBOX.Sent names the same folder")
    c.send("RCEV\r\n")
    read_exact(c, len(mbox(folder_msgs)))
    t.eq(c.cmd("RCVD"), "+OK", "RCVD after RDEL of a folder")
    t.eq(files(sent), [], "the folder's message is deleted")
    t.eq(len(files(md)), 2, "the INBOX is untouched")
    os.symlink(srv.maildir("bob"), os.path.join(md, ".Bob"))
    t.eq(c.cmd("RETR Bob"), "-ERR no such mailbox",
         "a folder that is a symbolic link is refused")
    c.cmd("QUIT")
    c.close()

    # Plaintext refusal and the bad-command limit.
    c = connect(srv)
    for i in range(19):
        c.cmd("BAD")
    t.eq(c.cmd("BAD"), "-ERR unknown command", "20th bad command answered")
    t.eq(c.line(), "-ERR too many bad commands, closing",
         "then the connection is closed")
    c.close()
finally:
    srv.cleanup()

t.done()
