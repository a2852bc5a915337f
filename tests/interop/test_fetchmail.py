#!/usr/bin/env python3
"""test_fetchmail.py: fetchmail against the real posternd, delivering with
--mda to a command that writes each message to its own file: --keep
(every message stays), UIDL tracking across runs, --nokeep (none stays),
and STLS and implicit TLS when TLS is built.
"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from common import (PASSWORD, USER, Server, Tap, Tls, bases,  # noqa: E402
                    compare_all, deliver_late, exits, missing, read_dir, run,
                    seed, tls_server)

t = Tap()


class Fetchmail:
    """One fetchmail set-up: its rc file, id file and MDA output folder."""

    def __init__(self, work, port, tag):
        self.dir = os.path.join(work, tag)
        self.out = os.path.join(self.dir, "out")
        os.makedirs(self.out)
        self.rc = os.path.join(self.dir, "fetchmailrc")
        with open(self.rc, "w") as f:
            f.write(f"poll 127.0.0.1 with proto pop3 port {port}\n"
                    f'  user "{USER}" there with password "{PASSWORD}"\n')
        os.chmod(self.rc, 0o600)
        self.mda = os.path.join(self.dir, "mda")
        with open(self.mda, "w") as f:
            f.write(f'#!/bin/sh\nexec cat > "$(mktemp {self.out}/m.XXXXXX)"'
                    "\n")
        os.chmod(self.mda, 0o755)

    def __call__(self, *opts):
        """Runs fetchmail once; returns (status, output)."""
        env = dict(os.environ, FETCHMAILHOME=self.dir, HOME=self.dir)
        return run(["fetchmail", "-f", self.rc, "--pidfile",
                    os.path.join(self.dir, "pid"), "-i",
                    os.path.join(self.dir, "fetchids"), "--mda", self.mda,
                    "--invisible", "--norewrite", "--timeout", "20",
                    *opts], env=env)

    def take(self):
        """The messages the MDA wrote since the last take."""
        got = read_dir(self.out)
        shutil.rmtree(self.out)
        os.makedirs(self.out)
        return got


def plain(work):
    clear = ["--sslproto", "", "--nosslcertck"]
    with Server() as srv:
        md, seeded = seed(srv)
        names = [n for n, _ in seeded]
        fm = Fetchmail(work, srv.port, "plain")

        rc, out = fm("--keep", *clear)
        exits(t, "fetchmail --keep: exits 0", rc, out, 0)
        compare_all(t, "fetchmail --keep", fm.take(), seeded)
        t.eq(bases(md), names, "fetchmail --keep: every message stays")

        rc, out = fm("--keep", *clear)
        exits(t, "fetchmail --keep again: 'no mail' (1), by UIDL", rc, out, 1)
        t.eq(fm.take(), [], "fetchmail --keep again: nothing delivered")

        late = deliver_late(srv)
        rc, out = fm("--keep", *clear)
        exits(t, "fetchmail after a delivery: exits 0", rc, out, 0)
        compare_all(t, "fetchmail new only", fm.take(), late)
        names.append(late[0][0])
        t.eq(bases(md), names, "fetchmail --keep: the new one stays too")

        rc, out = fm("--nokeep", "--all", *clear)
        exits(t, "fetchmail --nokeep --all: exits 0", rc, out, 0)
        compare_all(t, "fetchmail --nokeep", fm.take(),
                    seeded + late)
        t.eq(bases(md), [], "fetchmail --nokeep: no message stays")


def tls(work):
    cert = Tls()
    try:
        if not cert.ok:
            t.skip("fetchmail over STLS", cert.reason)
            t.skip("fetchmail over implicit TLS", cert.reason)
            return
        srv = tls_server(cert)
        try:
            md, seeded = seed(srv)
            names = [n for n, _ in seeded]
            fm = Fetchmail(work, srv.port, "stls")
            rc, out = fm("--keep", "--all", "--sslproto", "tls1.2+",
                         "--nosslcertck", "-v")
            exits(t, "fetchmail STLS --keep: exits 0", rc, out, 0)
            t.ok("POP3> STLS" in out, "fetchmail STLS: sent STLS",
                 "\n".join(x for x in out.splitlines() if "POP3" in x))
            compare_all(t, "fetchmail STLS", fm.take(), seeded)
            t.eq(bases(md), names, "fetchmail STLS --keep: every message "
                 "stays")

            fm = Fetchmail(work, srv.port, "certck")
            rc, out = fm("--keep", "--all", "--sslproto", "tls1.2+")
            t.ok(rc not in (0, 1), "fetchmail refuses the self-signed "
                 "certificate with --sslcertck, its default", out[-2000:])
            t.eq(fm.take(), [], "fetchmail --sslcertck: nothing delivered")

            fm = Fetchmail(work, srv.tls_port, "implicit")
            rc, out = fm("--nokeep", "--all", "--ssl", "--nosslcertck")
            exits(t, "fetchmail --ssl --nokeep: exits 0", rc, out, 0)
            compare_all(t, "fetchmail --ssl", fm.take(), seeded)
            t.eq(bases(md), [], "fetchmail --ssl --nokeep: no message "
                 "stays")
        finally:
            srv.cleanup()
    finally:
        cert.cleanup()


def main():
    if missing(t, "fetchmail", ["fetchmail"]):
        t.done()
    with tempfile.TemporaryDirectory(prefix="postern-fetchmail-") as work:
        plain(work)
        tls(work)
    t.done()


main()
