#!/usr/bin/env python3
"""test_mpop.py: mpop against the real posternd, delivering to a Maildir:
keep on with every message, only the new ones by UIDL on a second run,
keep off, and the same over STLS and implicit TLS when TLS is built.
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from common import (PASSWORD, USER, Server, Tap, Tls, bases,  # noqa: E402
                    compare_all, deliver_late, exits, missing, read_dir, run,
                    seed, tls_server)

t = Tap()


class Mpop:
    """One mpop set-up: an empty configuration, its UIDL file and the
    destination Maildir."""

    def __init__(self, work, port, tag, tls=()):
        self.dir = os.path.join(work, tag)
        self.dest = os.path.join(self.dir, "Maildir")
        for sub in ("new", "cur", "tmp"):
            os.makedirs(os.path.join(self.dest, sub))
        self.conf = os.path.join(self.dir, "mpoprc")
        open(self.conf, "w").close()
        os.chmod(self.conf, 0o600)
        self.port = port
        self.tls = list(tls) or ["--tls=off"]

    def __call__(self, *opts):
        """Runs mpop once; returns (status, output)."""
        return run(["mpop", "-C", self.conf, "--host=127.0.0.1",
                    f"--port={self.port}", f"--user={USER}",
                    f"--passwordeval=echo {PASSWORD}", "--auth=user",
                    f"--delivery=maildir,{self.dest}",
                    "--received-header=off", "--timeout=20",
                    f"--uidls-file={self.dir}/uidls", *self.tls, *opts],
                   env=dict(os.environ, HOME=self.dir))

    def take(self):
        """The messages delivered since the last take, removed."""
        got = []
        for sub in ("new", "cur"):
            d = os.path.join(self.dest, sub)
            got += read_dir(d)
            for n in os.listdir(d):
                os.unlink(os.path.join(d, n))
        return got


def plain(work):
    with Server() as srv:
        md, seeded = seed(srv)
        names = [n for n, _ in seeded]
        mp = Mpop(work, srv.port, "plain")

        rc, out = mp("--keep=on", "--only-new=off")
        exits(t, "mpop keep on: exits 0", rc, out)
        compare_all(t, "mpop keep on", mp.take(), seeded)
        t.eq(bases(md), names, "mpop keep on: every message stays")

        rc, out = mp("--keep=on", "--only-new=on")
        exits(t, "mpop only-new: exits 0", rc, out)
        t.eq(mp.take(), [], "mpop only-new: nothing new, by UIDL")

        late = deliver_late(srv)
        names.append(late[0][0])
        rc, out = mp("--keep=on", "--only-new=on")
        exits(t, "mpop only-new after a delivery: exits 0", rc, out)
        compare_all(t, "mpop only-new", mp.take(), late)

        rc, out = mp("--keep=off", "--only-new=off")
        exits(t, "mpop keep off: exits 0", rc, out)
        compare_all(t, "mpop keep off", mp.take(), seeded + late)
        t.eq(bases(md), [], "mpop keep off: no message stays")


def tls(work):
    cert = Tls()
    try:
        if not cert.ok:
            t.skip("mpop over STLS", cert.reason)
            t.skip("mpop over implicit TLS", cert.reason)
            return
        srv = tls_server(cert)
        try:
            md, seeded = seed(srv)
            names = [n for n, _ in seeded]
            mp = Mpop(work, srv.port, "stls",
                      ["--tls=on", "--tls-starttls=on",
                       "--tls-certcheck=off"])
            rc, out = mp("--keep=on", "--only-new=off")
            exits(t, "mpop STLS keep on: exits 0", rc, out)
            compare_all(t, "mpop STLS", mp.take(), seeded)
            t.eq(bases(md), names, "mpop STLS keep on: every message stays")

            mp = Mpop(work, srv.tls_port, "implicit",
                      ["--tls=on", "--tls-starttls=off",
                       "--tls-certcheck=off"])
            rc, out = mp("--keep=off", "--only-new=off")
            exits(t, "mpop implicit TLS keep off: exits 0", rc, out)
            compare_all(t, "mpop implicit TLS", mp.take(), seeded)
            t.eq(bases(md), [], "mpop implicit TLS keep off: no message "
                 "stays")

            mp = Mpop(work, srv.port, "certcheck",
                      ["--tls=on", "--tls-starttls=on",
                       "--tls-certcheck=on"])
            rc, out = mp("--keep=on", "--only-new=off")
            t.ok(rc != 0, "mpop refuses the self-signed certificate with "
                 "certcheck on", out)
        finally:
            srv.cleanup()
    finally:
        cert.cleanup()


def main():
    if missing(t, "mpop", ["mpop"]):
        t.done()
    with tempfile.TemporaryDirectory(prefix="postern-mpop-") as work:
        plain(work)
        tls(work)
    t.done()


main()
