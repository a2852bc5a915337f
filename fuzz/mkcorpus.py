#!/usr/bin/env python3
"""mkcorpus.py: writes the seed corpora in fuzz/corpus/NAME/ from the
specs' examples (RFC 1939 section 10, the POP3 lecture notes in
shared/specs, postern-mrp(7)) and the sessions of the unit and
integration tests, and fuzz_tls's from TLS clients captured as it runs
(Python's ssl module and the openssl command).  Each seed starts with the
octets the harness reads as its set-up (see the comment at the top of
each fuzz_NAME.c).  Run it from the top of the tree after changing a
harness's input layout; the files it writes are committed.
"""
import base64
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def b64(text):
    return base64.b64encode(text.encode()).decode()


def crlf(*lines):
    return "".join(l + "\r\n" for l in lines).encode()


# fuzz_pop3: one set-up octet (FLAG_LOGIN 1, FLAG_LOOPBACK 2, FLAG_NEVER 4,
# FLAG_SHORTLINE 8, FLAG_FEWBAD 16), then what the client sends.
LOGIN, LOOP, NEVER, SHORT, FEWBAD = 1, 2, 4, 8, 16
POP3 = {
    # RFC 1939 section 10, as in the POP3 lecture notes.
    "rfc1939-example": (LOOP, crlf("APOP mrose c4c9334bac560ecc979e58001b3e22fb",
                                   "STAT", "LIST", "RETR 1", "DELE 1",
                                   "RETR 2", "DELE 2", "QUIT")),
    "rfc1939-example-login": (LOGIN | LOOP, crlf(
        "STAT", "LIST", "RETR 1", "DELE 1", "RETR 2", "DELE 2", "QUIT")),
    # tests/unit/test_pop3.c test_authorization.
    "authorization": (LOOP, crlf(
        "PASS x", "USER", "STAT", "RETR 1", "APOP alice 0123",
        "USER alice", "PASS secret", "USER mallory", "PASS secret pass",
        "USER fuzz", "PASS fuzz pass", "PASS x", "QUIT")),
    # test_plaintext_refused_off_loopback.
    "plaintext-refused": (0, crlf("USER fuzz", "CAPA", "PASS fuzz pass",
                                  "QUIT")),
    "plaintext-never": (LOOP | NEVER, crlf("CAPA", "USER fuzz",
                                           "PASS fuzz pass")),
    # test_stat_list_uidl.
    "stat-list-uidl": (LOGIN | LOOP, crlf(
        "STAT", "STAT x", "LIST", "LIST 2", "LIST 3", "LIST 0", "LIST +1",
        "LIST 1x", "LIST 4294967297", "LIST 1 2", "UIDL", "UIDL 2",
        "UIDL 5", "UIDL 9", "NOOP", "QUIT")),
    # test_retr_top.
    "retr-top": (LOGIN, crlf(
        "RETR 1", "RETR 2", "TOP 2 0", "TOP 2 1", "TOP 2 100", "TOP 2",
        "TOP 2 x", "TOP 3 1", "TOP 1 1 1", "RETR", "RETR 1 2", "TOP 6 1",
        "RETR 4", "TOP 4 0", "RETR 5", "RETR 3")),
    # test_dele_rset_quit.
    "dele-rset-quit": (LOGIN, crlf(
        "DELE 1", "DELE 1", "RETR 1", "LIST 1", "STAT", "LIST", "RSET",
        "DELE 2", "DELE 6", "QUIT")),
    "delete-all": (LOGIN, crlf(*["DELE %d" % i for i in range(1, 7)],
                               "QUIT")),
    "read-all": (LOGIN, crlf(*["RETR %d" % i for i in range(1, 7)],
                             "QUIT")),
    "disconnect-without-quit": (LOGIN, crlf("DELE 1", "RETR 2")),
    # tests/integration/test_pop3.py limits and pipelining.
    "bad-commands": (LOOP | FEWBAD, crlf("BOGUS", "BOGUS", "BOGUS", "CAPA")),
    "pipelined": (LOOP, b"CAPA\r\nNOOP\r\nQUIT\r\n"),
    "lowercase-bare-lf": (LOOP, b"user fuzz\npass fuzz pass\nlist 1\n"
                                b"uidl\nquit\n"),
    "long-lines": (LOOP | SHORT, b"USER " + b"x" * 100 + b"\r\nNOOP\r\n"
                   b"USER fuzz\r\nPASS " + b"y" * 70 + b"\r\n"),
    "empty-and-spaces": (LOGIN, b"\r\n \r\nLIST  1 \r\nTOP 1  0\r\n"
                         b"UIDL \r\nQUIT\r\n"),
    "nul-in-line": (LOOP, b"USER fu\x00zz\r\nPASS fuzz pass\r\nQUIT\r\n"),
    "capa-after-login": (LOGIN | LOOP, crlf("CAPA", "USER fuzz", "QUIT")),
    # RFC 5034 AUTH (SASL PLAIN and LOGIN), APOP, RPOP and STLS.
    "auth-plain": (LOOP, crlf("AUTH", "AUTH PLAIN " + b64("\0fuzz\0fuzz pass"),
                              "STAT", "QUIT")),
    "auth-plain-continued": (LOOP, crlf("AUTH PLAIN", b64("fuzz\0fuzz\0"
                                        "fuzz pass"), "LIST", "QUIT")),
    "auth-login": (LOOP, crlf("AUTH LOGIN", b64("fuzz"), b64("fuzz pass"),
                              "UIDL", "QUIT")),
    "auth-errors": (LOOP, crlf("AUTH PLAIN", "*", "AUTH LOGIN =", "=",
                               "AUTH CRAM-MD5", "AUTH PLAIN !!!!",
                               "AUTH PLAIN " + b64("\0fuzz\0wrong"),
                               "AUTH PLAIN =", "QUIT")),
    "apop-rpop-stls": (LOOP, crlf("APOP fuzz c4c9334bac560ecc979e58001b3e22fb",
                                  "RPOP fuzz", "STLS", "CAPA", "QUIT")),
}

# fuzz_io: octet 0 even = line reader, then octet 1 = max_line - 1 and the
# stream; octet 0 odd = message writer, then the TOP line count (255 for
# RETR), the padding octet and the message.
MSG1 = (b"From: mrose@dbc.mtview.ca.us\nTo: mrose@dbc.mtview.ca.us\n"
        b"Subject: one\n\n" + b"x" * 40 + b"\n")
MSG2 = b"Subject: two\n\n.\n..x\nlast line without newline"
IO = {
    "lines-pop3": b"\x00\x3f" + crlf("USER alice", "PASS wonderland",
                                     "STAT", "QUIT"),
    "lines-bare-lf-nul": b"\x00\x1f" + b"USER a\nPASS b\x00c\r\n\r\n\n",
    "lines-too-long": b"\x00\x07" + b"12345678\r\n123456789\r\n1234567\r\r\n"
                      b"0123456789abcdef\nok\n",
    "lines-partial-last": b"\x00\x0f" + b"one\r\ntwo\r\nthree without end",
    "lines-long-partial-last": b"\x00\x03" + b"one\r\n" + b"z" * 30,
    "lines-cr-at-limit": b"\x00\x04" + b"12345\r\n1234\r\r\n",
    "retr-msg1": b"\x01\xff\x00" + MSG1,
    "retr-msg2": b"\x01\xff\x00" + MSG2,
    "retr-crlf": b"\x01\xff\x00" + b"A: b\r\n\r\n.\r\n..\r\nend\r\n",
    "retr-empty": b"\x01\xff\x00",
    "top-0": b"\x01\x00\x00" + MSG2,
    "top-1": b"\x01\x01\x00" + MSG2,
    "top-100": b"\x01\x64\x00" + MSG2,
    "top-cr-blank-line": b"\x01\x01\x00" + b"A: b\r\r\n\r\nbody\r\n.x\n",
    "top-no-header-end": b"\x01\x02\x00" + b"A: b\nC: d\n",
    "retr-chunk-boundary": b"\x01\xff\x81" + b"\n.dot at the boundary\n",
    "top-chunk-boundary-cr": b"\x01\x01\x8f" + b"\n\nbody\n",
    "top-chunk-boundary-dot": b"\x01\x00\x02" + b"x\n\n.",
}

# fuzz_maildir_name: octet 0 = in cur/ (bits 0-3) and seen (bits 4-7) for
# names 1-4, octet 1 = deleted (bits 0-3), then names separated by "/".
MAILDIR = {
    "dovecot-sizes": b"\x11\x00" + b"1035478339.27041_118.foo.org,S=1000,"
                     b"W=1030:2,S",
    "new-seen": b"\x10\x00" + b"1000000001.M1P1.test",
    "cur-flags": b"\x11\x00" + b"1000000002.M2P2.test:2,TRDF",
    "unknown-info": b"\x31\x00" + b"1000000003.x:1,abc/1000000004.y:2,",
    "order": b"\x00\x00" + b"20.a/3.b/0003.c/abc",
    "same-base": b"\x32\x00" + b"1000000005.z/1000000005.z:2,FS",
    "delete": b"\x00\x0f" + b"1.a/2.b,S=3/3.c,W=20",
    "sizes-malformed": b"\x00\x00" + b"1.a,S=,W=x/2.b,S=99999999999999999999"
                       b"/3.c,W=1,W=2,S=3,S=4/4.d,=5,S/5.e:2,,W=7",
    "dot-and-colon": b"\xff\x00" + b".hidden/:2,S/x:2,SSS/y:2,S,a",
}

# fuzz_passwd: one line, and the same octets as a whole file.
PASSWD = {
    "plain": b"alice:{PLAIN}wonderland::::/home/alice::",
    "full": b"bob:{SHA512-CRYPT}$6$salt$hash:1000:1000:Bob Builder:"
            b"/home/bob:/bin/sh:userdb_quota_rule=*:storage=1G",
    "comment": b"# a comment: with: colons",
    "blank": b"   \t",
    "user-only": b"nopassword",
    "bad-uid": b"carol:{PLAIN}x:12a:::/home/carol",
    "huge-uid": b"dave:{PLAIN}x:2147483648::::",
    "relative-home": b"erin:{PLAIN}x::::home/erin::",
    "file": b"# users\nalice:{PLAIN}a::::/home/alice::\n\nbob:{PLAIN}b:"
            b"1001:1001::/home/bob::\r\nbad line\nfrank:x\n",
    "long-user": b"u" * 300 + b":{PLAIN}x",
}

# fuzz_conf: a whole postern.conf.
CONF = {
    "example": open(os.path.join(HERE, "..", "contrib", "postern.conf"),
                    "rb").read(),
    "minimal": b'passwd_file = "/etc/postern/passwd"\n'
               b'listen { protocol = "pop3" }\n',
    "all-settings": b'workers = 4\npidfile = ""\nshutdown_grace = 10\n'
                    b'hostname = "mail.example.org"\n'
                    b'passwd_file = "/etc/postern/passwd"\n'
                    b'maildir = "/var/mail/%d/%n/Maildir"\n'
                    b'login_timeout = 60\nidle_timeout = 600\n'
                    b'max_line_length = 512\nmax_bad_commands = 20\n'
                    b'auth_fail_delay = 2\nplaintext_auth = never\n'
                    b'listen { protocol = "pop3" address = "127.0.0.1" '
                    b'port = 0 }\n',
    "comments": b'/* block\n comment */ workers = 2 // line\n# hash\n'
                b'hostname = "a # not a comment"\n'
                b"listen { protocol = 'pop3' port = 1110 }\n",
    "errors": b'workers = 0\nmax_line_length = 10\nplaintext_auth = maybe\n'
              b'listen { protocol = "gopher" }\n',
    "no-listen": b'workers = 1\n',
    "escapes": b'hostname = "q\\"uote\\\\"\nmaildir = "%h/\\tMail"\n'
               b'listen { protocol = "pop3" }\n',
}


# fuzz_base64: one mode octet (0 decode, 1 encode, 2 PLAIN, 3 LOGIN; 4:
# the first line is the initial response; 8: decode into just enough
# room), then the text, the octets, or the responses one a line.
B64_DECODE, B64_ENCODE, B64_PLAIN, B64_LOGIN, B64_IR, B64_TIGHT = \
    0, 1, 2, 3, 4, 8
BASE64 = {
    "decode-rfc4648": (B64_DECODE | B64_TIGHT, b"Zm9vYmFy"),
    "decode-pad1": (B64_DECODE | B64_TIGHT, b"Zm9vYg=="),
    "decode-pad2": (B64_DECODE, b"Zm9vYmE="),
    "decode-nonzero-pad-bits": (B64_DECODE, b"Zm9vYh=="),
    "decode-space": (B64_DECODE, b"Zm9v YmFy"),
    "decode-empty": (B64_DECODE, b""),
    "decode-misplaced-pad": (B64_DECODE, b"Zg==Zg=="),
    "encode-binary": (B64_ENCODE, bytes(range(256))),
    "encode-one": (B64_ENCODE, b"\xff"),
    "plain-ir": (B64_PLAIN | B64_IR, (b64("\0fuzz\0fuzz pass") +
                                      "\r\n").encode()),
    "plain-authzid": (B64_PLAIN | B64_IR,
                      (b64("other\0fuzz\0fuzz pass") + "\n").encode()),
    "plain-same-authzid": (B64_PLAIN | B64_IR,
                           (b64("fuzz\0fuzz\0pw") + "\n").encode()),
    "plain-challenge": (B64_PLAIN, (b64("\0fuzz\0fuzz pass") +
                                    "\r\n").encode()),
    "plain-empty-ir": (B64_PLAIN | B64_IR, b"=\r\n"),
    "plain-cancel": (B64_PLAIN, b"*\r\n"),
    "plain-no-nul": (B64_PLAIN, (b64("fuzz") + "\n").encode()),
    "login": (B64_LOGIN, (b64("fuzz") + "\r\n" + b64("fuzz pass") +
                          "\r\n").encode()),
    "login-ir": (B64_LOGIN | B64_IR, (b64("fuzz") + "\r\n" +
                                      b64("fuzz pass") + "\r\n").encode()),
    "login-cancel": (B64_LOGIN, (b64("fuzz") + "\r\n*\r\n").encode()),
    "login-long-password": (B64_LOGIN, (b64("fuzz") + "\n" + b64("x" * 1025)
                                        + "\n").encode()),
    "login-bad": (B64_LOGIN, b"not base64!\r\n"),
}

# fuzz_index: octet 0 bits 0-4 leave fixture messages out; the rest is the
# postern-index file (postern-storage(7)).
INDEX_BASES = ["1700000000.M1P2.fuzz", "1700000007.M3P4.fuzz,S=19,W=23",
               "1700000099.M5P6.fuzz,W=999", "1700000050.x.fuzz",
               "1600000000.old.fuzz"]


def index(header, entries, end=True):
    text = header + "\n" + "".join(e + "\n" for e in entries)
    return (text + ("end\n" if end else "")).encode()


INDEX = {
    "valid": bytes([0]) + index("postern-index 1 1795310312 6 5", [
        "1 0 19 1600000000 " + INDEX_BASES[4],
        "2 0 19 1700000000 " + INDEX_BASES[0],
        "3 17 23 1700000007 " + INDEX_BASES[1],
        "4 0 0 1700000050 " + INDEX_BASES[3],
        "5 0 999 1700000099 " + INDEX_BASES[2]]),
    "some-missing": bytes([0x05]) + index("postern-index 1 17 9 2", [
        "3 0 19 1700000000 " + INDEX_BASES[0],
        "8 9 12 1600000000 " + INDEX_BASES[4]]),
    "unknown-entries": bytes([0]) + index("postern-index 1 17 4 3", [
        "1 0 5 1 gone.fuzz", "2 0 19 1700000000 " + INDEX_BASES[0],
        "3 0 7 2 also-gone"]),
    "uid-past-next": bytes([0]) + index("postern-index 1 17 2 2", [
        "5 0 19 1700000000 " + INDEX_BASES[0],
        "9 0 12 1600000000 " + INDEX_BASES[4]]),
    "descending": bytes([0]) + index("postern-index 1 17 10 2", [
        "5 0 19 1700000000 " + INDEX_BASES[0],
        "4 0 12 1600000000 " + INDEX_BASES[4]]),
    "duplicate": bytes([0]) + index("postern-index 1 17 10 2", [
        "4 0 19 1700000000 " + INDEX_BASES[0],
        "5 0 19 1700000000 " + INDEX_BASES[0]]),
    "truncated": bytes([0]) + index("postern-index 1 17 10 3", [
        "4 0 19 1700000000 " + INDEX_BASES[0]], end=False),
    "corrupt-line": bytes([0]) + index("postern-index 1 17 10 2", [
        "4 0 19 1700000000 " + INDEX_BASES[0], "5 x 1 1 a:b"]),
    "count-lies": bytes([0]) + index("postern-index 1 17 10 99", [
        "4 0 19 1700000000 " + INDEX_BASES[0]]),
    "wrong-version": bytes([0]) + index("postern-index 2 17 10 0", []),
    "huge-numbers": bytes([0]) + index(
        "postern-index 1 4294967295 4294967295 1",
        ["4294967294 4294967295 999999999999 9223372036854775807 "
         + INDEX_BASES[0]]),
    "zero-uidvalidity": bytes([0]) + index("postern-index 1 0 0 0", []),
    "empty": bytes([0x1f]),
    "no-newline-at-end": bytes([0]) + b"postern-index 1 17 2 1\n"
                                      b"1 0 19 1 1700000000.M1P2.fuzz\nend",
    "crlf": bytes([0]) + b"postern-index 1 17 2 1\r\n"
                         b"1 0 19 1 1700000000.M1P2.fuzz\r\nend\r\n",
}

# fuzz_pop1, fuzz_papm, fuzz_lmtp: one set-up octet, then what the client
# sends.  pop1 and papm: FLAG_LOGIN 1 (USER fuzz, PASS fuzz pass first),
# LOOP 2, NEVER 4, SHORT 8, FEWBAD 16, as fuzz_pop3.  lmtp: 1 sends
# "LHLO fuzz.example" first, 2 loopback, 4 lmtp_max_message_size = 1024,
# 8 and 16 as above.
LMTP_SMALL = 4
MSG = ["Subject: hi", "", "body", ".dot", "..two", "From me", "."]
POP1 = {
    "rfc918": (LOOP, crlf("USER fuzz", "PASS fuzz pass", "RETR INBOX",
                          "RCEV", "RCVD", "QUIT")),
    "rdel": (LOGIN | LOOP, crlf("RDEL INBOX", "RCEV", "RCVD", "RETR INBOX",
                                "RCEV", "RCVD", "QUIT")),
    "folders": (LOGIN | LOOP, crlf("RETR box", "RCEV", "RCVD",
                                   "RETR INBOX.box", "RCEV", "RSET",
                                   "RETR fuzz", "RETR ../x", "RETR .box",
                                   "RETR nonexistent", "QUIT")),
    "errors": (LOOP, crlf("RCEV", "RCVD", "RETR INBOX", "PASS x", "USER",
                          "USER fuzz", "PASS wrong", "USER other",
                          "PASS x", "NOOP", "BOGUS", "QUIT")),
    "refused": (0, crlf("USER fuzz", "PASS fuzz pass", "QUIT")),
    "short-lines": (LOGIN | SHORT | FEWBAD, crlf(
        "RETR " + "x" * 100, "NOOP", "RETR INBOX", "RCEV", "RCVD")),
    "no-quit": (LOGIN, crlf("RETR INBOX", "RCEV")),
}
PAPM = {
    "pull": (LOGIN, crlf("STAT", "LIST", "LIST 1", "READ 1", "READ 2",
                         "DELE 1", "LIST 1", "RSET", "DELE 3", "STAT",
                         "QUIT")),
    "push": (LOGIN, crlf("HELO fuzz.example", "MAIL FROM: fuzz",
                         "RCPT TO: fuzz", "RCPT TO: fuzz@fuzz.example",
                         "DATA", *MSG, "STAT", "READ 7", "QUTI")),
    "push-errors": (LOGIN, crlf("MAIL FROM: fuzz", "HELO", "HELO -x",
                                "HELO fuzz.example", "MAIL FROM: other",
                                "MAIL FROM: <fuzz@fuzz.example>",
                                "RCPT TO: nobody@elsewhere.example",
                                "RCPT TO: other", "RCPT TO: <fuzz>",
                                "RSTE", "DATA", "NOPO", "QUTI")),
    "login": (LOOP, crlf("STAT", "HELO a", "USER fuzz", "PASS x",
                         "USER fuzz", "PASS fuzz pass", "STAT", "QUIT")),
    "refused": (0, crlf("USER fuzz", "PASS fuzz pass", "QUIT")),
    "pull-errors": (LOGIN | FEWBAD, crlf("READ", "READ 0", "READ 99",
                                         "LIST x", "DELE 1 2", "BOGUS",
                                         "QUIT")),
    "unterminated-data": (LOGIN, crlf("HELO fuzz.example",
                                      "MAIL FROM: fuzz", "RCPT TO: fuzz",
                                      "DATA", "Subject: cut")),
}
LMTP = {
    "rfc2033": (LOOP, crlf("LHLO fuzz.example", "MAIL FROM:<a@b.example>",
                           "RCPT TO:<fuzz>", "RCPT TO:<fuzz@fuzz.example>",
                           "RCPT TO:<nobody>", "DATA", *MSG, "QUIT")),
    "pipelined": (LOGIN, crlf("MAIL FROM:<a@b.example> SIZE=100 BODY=8BITMIME",
                              "RCPT TO:<fuzz>", "DATA", *MSG, "RSET",
                              "MAIL FROM:<>", "RCPT TO:<fuzz>", "DATA",
                              "x", ".", "NOOP", "VRFY fuzz", "HELP",
                              "QUIT")),
    "errors": (0, crlf("HELO x", "EHLO x", "MAIL FROM:<a>", "LHLO",
                       "LHLO x", "RCPT TO:<fuzz>", "DATA x", "DATA",
                       "MAIL FROM:<a> SIZE=x", "MAIL FROM:<a> FOO=1",
                       "MAIL FROM:<a>", "MAIL FROM:<b>",
                       "RCPT TO:<fuzz> NOTIFY=NEVER", "RCPT TO:<other>",
                       "BOGUS", "QUIT")),
    "too-big": (LOGIN | LMTP_SMALL, crlf(
        "MAIL FROM:<a@b.example> SIZE=2000", "MAIL FROM:<a@b.example>",
        "RCPT TO:<fuzz>", "DATA", *(["x" * 60] * 40), ".", "QUIT")),
    "long-line": (LOGIN | SHORT, crlf("MAIL FROM:<a@b.example>",
                                      "RCPT TO:<fuzz>", "DATA", "y" * 2000,
                                      ".", "QUIT")),
    "unterminated-data": (LOGIN, crlf("MAIL FROM:<a@b.example>",
                                      "RCPT TO:<fuzz>", "DATA", "cut")),
}


# fuzz_mrp: session.h's bits as fuzz_pop3's (1 sends "LOGIN fuzz
# fuzz-pass" first), then 32 SELECT after it, 64 mrp_auth_ecb, 128
# mrp_create.  From postern-mrp(7)'s EXAMPLES and the sessions of
# tests/integration/test_mrp.py and test_mrp_auth.py.
MRP_SELECT, MRP_ECB, MRP_CREATE = 32, 64, 128
SEL = LOGIN | MRP_SELECT
X25519_KEY = base64.b64encode(bytes([9]) + bytes(31)).decode()
NONCE = base64.b64encode(bytes(range(16))).decode()
MRP = {
    "man-example": (LOOP, crlf("LOGIN fuzz fuzz-pass", "SELECT",
                               "SEARCH SUBJECT=[lunch]", "CHANGE 7 DELETED",
                               "EXPUNGE", "QUIT")),
    "any-state": (LOOP, crlf("NOOP", "noop", "HELP", "HELP fetch",
                             "HELP NOPE", "SELECT", "FETCH 1",
                             "CREATE SMITHEEE PASSWORD123",
                             "LOGIN SMITHEEE wrongpassword", "QUIT")),
    "selected": (LOGIN, crlf("LOGIN fuzz fuzz-pass", "FETCH 1", "SELECT",
                             "FETCH RECENT", "FETCH 2:4", "FETCH 4:2",
                             "FETCH 1:6 DRAFT SEEN", "FETCH ALL",
                             "FETCH SENT", "FETCH 14", "FETCH 3:14 SEEN",
                             "LOGOUT", "FETCH 1", "SELECT", "SELECT",
                             "QUIT")),
    "search": (SEL, crlf("SEARCH BODY=[body]", "SEARCH SENDER=[bobby]",
                         "SEARCH SUBJECT=[six]", "SEARCH RECIPIENT=[b]",
                         "SEARCH ALL=[line]", "SEARCH SINCE=[2018-01-12]",
                         "SEARCH UNTIL=[2018-01-03]", "QUIT")),
    "change-expunge": (SEL, crlf("CHANGE 1 SEEN", "CHANGE 34324 RECENT",
                                 "CHANGE 1 RECENT", "CHANGE 2 DELETED",
                                 "CHANGE 3 SENT", "CHANGE 4 DRAFT",
                                 "FETCH ALL", "EXPUNGE", "FETCH ALL",
                                 "CHANGE 2 SEEN", "LOGOUT", "SELECT",
                                 "QUIT")),
    "tokens": (LOOP, crlf("TOKEN fuzz fd725648-932b-45d4-b16a-83c2c5cc2474",
                          "TOKEN fuzz short", "LOGIN fuzz fuzz-pass",
                          "TOKEN fuzz x", "LOGIN fuzz fuzz-pass", "QUIT")),
    "malformed": (LOOP, crlf("NOOP x", "NOOP ", "QUIT now", "LOGIN",
                             "LOGIN fuzz", "LOGIN fuzz  fuzz-pass",
                             "LOGIN fuzz fuzz-pass x", "TOKEN fuzz",
                             "CREATE", "AUTH", "AUTH RC4", "AUTH AES/ECB",
                             "", "FOO", "LOG1N a b") +
                  b"LOGIN fuzz\xe9 fuzz-pass\r\nNO\x00OP\r\nNOOP\r\n"),
    "malformed-control": (SEL, crlf(
        "SELECT x", "FETCH", "FETCH ", "FETCH 0", "FETCH 01",
        "FETCH 4294967296", "FETCH 99999999999999999999", "FETCH 1:",
        "FETCH :3", "FETCH 1 2", "FETCH 1:2:3", "FETCH 1:x", "FETCH 1-3",
        "FETCH SEEN 1", "FETCH 1  SEEN", "FETCH FLAGGED", "FETCH 4294967295",
        "SEARCH", "SEARCH BODY", "SEARCH BODY=x", "SEARCH BODY=[x",
        "SEARCH BODY=[x] y", "SEARCH BODY=[]", "SEARCH HEADER=[x]",
        "SEARCH SINCE=[2018-13-01]", "SEARCH UNTIL=[yesterday]", "CHANGE",
        "CHANGE 1", "CHANGE 0 SEEN", "CHANGE 4294967296 SEEN",
        "CHANGE x SEEN", "CHANGE 1 ALL", "CHANGE 1 FLAGGED",
        "CHANGE 1 SEEN x", "EXPUNGE 1", "LOGOUT x", "TOKEN a b",
        "fetch 1 seen")),
    "too-many-bad": (LOOP | FEWBAD, crlf(*["FOO"] * 5)),
    "long-line": (SEL | SHORT, crlf("x" * 100, "SEARCH BODY=[" + "y" * 70 +
                                    "]", "FETCH 1")),
    "plaintext-refused": (0, crlf("LOGIN fuzz fuzz-pass", "TOKEN fuzz "
                                  "fd725648-932b-45d4-b16a-83c2c5cc2474",
                                  "QUIT")),
    "plaintext-never": (LOOP | NEVER, crlf("LOGIN fuzz fuzz-pass", "QUIT")),
    "auth-failures": (LOOP, crlf(*["LOGIN fuzz wrong"] * 11)),
    "create": (LOOP | MRP_CREATE, crlf("CREATE SMITHEEE PASSWORD123",
                                       "SELECT", "FETCH ALL", "QUIT")),
    "create-errors": (LOOP | MRP_CREATE, crlf(
        "CREATE FUZZ password1", "CREATE short PASSWORD456",
        "CREATE abcdefgh1234567890abcdefgh12345 PASSWORD456",
        "CREATE abcdefgh short", "CREATE -abcdefgh PASSWORD456",
        "CREATE racename1 PASSWORD111", "CREATE racename2 PASSWORD222")),
    "create-refused": (MRP_CREATE, crlf("CREATE SMITHEEE PASSWORD123")),
    # AUTH's key exchange: the fuzzer cannot seal records with the keys it
    # gets, so what follows the exchange only meets the record check.
    "auth": (LOOP, crlf("AUTH AES/CBC", X25519_KEY + " " + NONCE, "NOOP")),
    "auth-des": (LOOP, crlf("AUTH des/cbc", X25519_KEY + " " + NONCE,
                            "AUTH AES/CBC")),
    "auth-ecb": (LOOP | MRP_ECB, crlf("AUTH AES/ECB", X25519_KEY + " " +
                                      NONCE, base64.b64encode(bytes(80))
                                      .decode())),
    "auth-errors": (LOOP, crlf("AUTH AES/CBC", "not a key line",
                               "AUTH AES/CBC", X25519_KEY,
                               "AUTH AES/CBC", "AAAA " + NONCE,
                               "AUTH AES/CBC", base64.b64encode(bytes(32))
                               .decode() + " " + NONCE,
                               "AUTH DES/ECB", "QUIT")),
    "auth-after-login": (LOGIN | LOOP, crlf("AUTH AES/CBC")),
}


def tls_flights():
    """fuzz_tls's seeds: what real clients send first, captured now from
    Python's ssl module (OpenSSL) over memory BIOs: a TLS 1.3 and a TLS 1.2
    ClientHello, each truncated too; the whole of a TLS 1.2 client's
    flights against a server with another key; clear text on a TLS
    port."""
    import ssl
    import subprocess
    import tempfile

    def client(maxver=None, sni="fuzz.example"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if maxver is not None:
            ctx.maximum_version = maxver
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        return ctx.wrap_bio(inc, out, server_hostname=sni), inc, out

    def hello(maxver=None, sni="fuzz.example"):
        c, _, out = client(maxver, sni)
        try:
            c.do_handshake()
        except ssl.SSLWantReadError:
            pass
        return out.read()

    def flights(maxver):
        """Everything the client sends in a whole handshake and one line
        of application data, against a server of its own."""
        with tempfile.TemporaryDirectory() as d:
            crt, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                            "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-days", "2", "-subj", "/CN=x",
                            "-keyout", key, "-out", crt], check=True,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            sctx.load_cert_chain(crt, key)
            sin, sout = ssl.MemoryBIO(), ssl.MemoryBIO()
            s = sctx.wrap_bio(sin, sout, server_side=True)
            c, cin, cout = client(maxver)
            sent = b""
            for _ in range(10):
                for side in (c, s):
                    try:
                        side.do_handshake()
                    except ssl.SSLWantReadError:
                        pass
                data = cout.read()
                sent += data
                sin.write(data)
                cin.write(sout.read())
            c.write(b"USER fuzz\r\n")
            return sent + cout.read()

    h13, h12 = hello(), hello(ssl.TLSVersion.TLSv1_2)
    return {
        "clienthello-tls13": h13,
        "clienthello-tls12": h12,
        "clienthello-no-sni": hello(sni=None),
        "clienthello-header-only": h13[:5],
        "clienthello-half": h13[:len(h13) // 2],
        "clienthello-less-one": h13[:-1],
        "clienthello-then-garbage": h12 + b"\x14\x03\x03\x00\x01\x01" +
                                    b"\x16\x03\x03\x00\x28" + bytes(40),
        "flights-tls12": flights(ssl.TLSVersion.TLSv1_2),
        "flights-tls13": flights(ssl.TLSVersion.TLSv1_3),
        "plaintext-pop3": b"USER fuzz\r\nPASS fuzz pass\r\n",
        "empty": b"",
    }


# fuzz_proxy: octet 0 bit 0 clear = what a load balancer sends (then the
# client's first line, which must stay unread), set = a
# proxy_trusted_networks value.  From HAProxy's doc/proxy-protocol.txt
# and tests/unit/test_proxy.c.
V2SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(cmd, fam, body):
    return V2SIG + bytes([0x20 | cmd, fam]) + struct.pack(">H", len(body)) \
        + body


TCP4 = bytes([192, 0, 2, 7, 198, 51, 100, 1]) + struct.pack(">HH", 41266,
                                                             110)
TCP6 = (b"\x20\x01\x0d\xb8" + b"\x00" * 11 + b"\x07" + b"\x00" * 15 +
        b"\x01" + struct.pack(">HH", 41266, 995))
SSL_TLV = (b"\x20" + struct.pack(">H", 5 + 3 + 7) + b"\x01\x00\x00\x00\x00"
           + b"\x21" + struct.pack(">H", 7) + b"TLSv1.3")
PROXY = {
    "v1-tcp4": b"\x00PROXY TCP4 192.0.2.7 198.51.100.1 41266 110\r\nCAPA\r\n",
    "v1-tcp6": b"\x00PROXY TCP6 2001:db8::7 ::1 0 65535\r\nUSER a\r\n",
    "v1-unknown": b"\x00PROXY UNKNOWN\r\n",
    "v1-unknown-rest": b"\x00PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n",
    "v1-too-long": b"\x00PROXY TCP6 " + b"f" * 100 + b"\r\n",
    "v2-tcp4": b"\x00" + v2(1, 0x11, TCP4) + b"CAPA\r\n",
    "v2-tcp6-ssl": b"\x00" + v2(1, 0x21, TCP6 + SSL_TLV),
    "v2-local": b"\x00" + v2(0, 0x00, b""),
    "v2-local-tlv": b"\x00" + v2(0, 0x11, TCP4 + b"\x04\x00\x00"),
    "v2-long-tlvs": b"\x00" + v2(1, 0x11, TCP4 + b"\x04\x04\x40" +
                                 b"x" * 1088),
    "not-proxy": b"\x00USER alice\r\n",
    "nets": b"\x01192.0.2.0/24 2001:db8::/32 127.0.0.1",
    "nets-commas": b"\x0110.0.0.0/8,\t::1 , 0.0.0.0/0",
    "nets-host-bits": b"\x01192.0.2.1/24",
    "nets-leading-zero": b"\x01192.0.2.0/024",
    "nets-mapped": b"\x01::ffff:192.0.2.0/120 ::/0",
}


def write(name, seeds):
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    for f, data in seeds.items():
        with open(os.path.join(d, f), "wb") as fp:
            fp.write(data)


def main():
    write("pop3", {k: bytes([f]) + v for k, (f, v) in POP3.items()})
    write("io", IO)
    write("maildir_name", MAILDIR)
    write("passwd", PASSWD)
    write("conf", CONF)
    write("base64", {k: bytes([f]) + v for k, (f, v) in BASE64.items()})
    write("index", INDEX)
    write("proxy", PROXY)
    for name, seeds in (("pop1", POP1), ("papm", PAPM), ("lmtp", LMTP),
                        ("mrp", MRP)):
        write(name, {k: bytes([f]) + v for k, (f, v) in seeds.items()})
    write("tls", tls_flights())


if __name__ == "__main__":
    main()
