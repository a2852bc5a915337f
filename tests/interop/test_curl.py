#!/usr/bin/env python3
"""test_curl.py: curl's POP3 client against the real posternd: listing,
retrieving every seeded message (curl logs in with SASL when CAPA offers
it), DELE, SASL LOGIN, a refused login, and the same over implicit TLS
(pop3s://) and STLS (--ssl-reqd) when TLS is built.
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from common import (PASSWORD, USER, Server, Tap, Tls, bases,  # noqa: E402
                    compare, missing, run, seed, tls_server)
from postern import crlf  # noqa: E402

t = Tap()


def url(port, n="", scheme="pop3", password=PASSWORD):
    return f"{scheme}://{USER}:{password}@127.0.0.1:{port}/{n}"


def listing(seeded):
    """The LIST lines curl prints: number and size as sent."""
    return "".join(f"{i} {len(crlf(m))}\r\n"
                   for i, (_, m) in enumerate(seeded, 1))


def fetch_all(tag, port, seeded, work, extra=(), scheme="pop3"):
    """Lists and retrieves every message with one curl run per message."""
    rc, out = run(["curl", "-sS", *extra, url(port, scheme=scheme)])
    t.ok(rc == 0, f"curl {tag}: list exits 0", out)
    t.eq(out, listing(seeded), f"curl {tag}: list shows every size")
    argv = ["curl", "-sS", *extra]
    for i in range(1, len(seeded) + 1):
        argv += [url(port, i, scheme=scheme), "-o",
                 os.path.join(work, f"{tag}.{i}")]
    rc, out = run(argv)
    t.ok(rc == 0, f"curl {tag}: retrieving every message exits 0", out)
    for i, (_, want) in enumerate(seeded, 1):
        path = os.path.join(work, f"{tag}.{i}")
        got = open(path, "rb").read() if os.path.exists(path) else b""
        compare(t, f"curl {tag}: message {i} intact", got, want)


def plain(work):
    with Server() as srv:
        md, seeded = seed(srv)
        names = [n for n, _ in seeded]
        fetch_all("pop3", srv.port, seeded, work)
        t.eq(bases(md), names, "curl: retrieving keeps every message")

        rc, out = run(["curl", "-sS", "-X", "DELE", "-I",
                       url(srv.port, 2)])
        t.ok(rc == 0, "curl: -X DELE 2 exits 0", out)
        t.eq(bases(md), names[:1] + names[2:],
             "curl: DELE 2 and QUIT remove message 2 only")

        rc, out = run(["curl", "-sv", "--login-options", "AUTH=LOGIN",
                       url(srv.port)])
        t.ok(rc == 0 and "> AUTH LOGIN" in out and "\n2 " in out,
             "curl: --login-options AUTH=LOGIN lists after SASL LOGIN",
             "\n".join(x for x in out.splitlines() if x[:1] in "<>")[-2000:])

        rc, out = run(["curl", "-sS", url(srv.port, password="wrong")])
        t.eq(rc, 67, "curl: a wrong password fails as 'login denied' (67)")


def tls(work):
    names = ["curl pop3s:// with --insecure", "curl STLS with --ssl-reqd"]
    cert = Tls()
    try:
        if not cert.ok:
            for n in names:
                t.skip(n, cert.reason)
            return
        srv = tls_server(cert)
        try:
            _, seeded = seed(srv)
            fetch_all("pop3s", srv.tls_port, seeded, work,
                      extra=["--insecure"], scheme="pop3s")
            fetch_all("stls", srv.port, seeded, work,
                      extra=["--insecure", "--ssl-reqd"])
            rc, out = run(["curl", "-sS", "--ssl-reqd", url(srv.tls_port,
                                                              scheme="pop3s")])
            t.ok(rc != 0, "curl: pop3s:// refuses the self-signed "
                 "certificate without --insecure", out)
        finally:
            srv.cleanup()
    finally:
        cert.cleanup()


def main():
    if missing(t, "curl", ["curl"]):
        t.done()
    with tempfile.TemporaryDirectory(prefix="postern-curl-") as work:
        plain(work)
        tls(work)
    t.done()


main()
