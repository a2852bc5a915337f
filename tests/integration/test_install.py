#!/usr/bin/env python3
"""test_install.py: `make install` into a DESTDIR puts every file where
postern.conf(5) and posternd(8) say, and the man pages are clean."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import BUILD, TOP, Tap  # noqa: E402

t = Tap()
dest = tempfile.mkdtemp(prefix="postern-install-")
try:
    build = os.path.relpath(BUILD, TOP)
    p = subprocess.run(["make", "-s", "-C", TOP, "install", f"BUILD={build}",
                        f"DESTDIR={dest}"], capture_output=True, text=True)
    t.eq(p.returncode, 0, "make install DESTDIR=... succeeds")
    if p.returncode != 0:
        print("# " + p.stderr.replace("\n", "\n# "))
    found = []
    for root, _, names in os.walk(dest):
        for n in names:
            found.append(os.path.relpath(os.path.join(root, n), dest))
    for want in ("sbin/posternd", "bin/postern"):
        hit = [f for f in found if f.endswith(want)]
        t.ok(len(hit) == 1 and os.access(os.path.join(dest, hit[0]),
                                          os.X_OK),
             f"{want} is installed and executable", found)
    pages = sorted(f for f in os.listdir(os.path.join(TOP, "man"))
                   if f[-1:].isdigit())
    for page in pages:
        section = page.rsplit(".", 1)[1]
        t.ok(any(f.endswith(f"man/man{section}/{page}") for f in found),
             f"man page {page} is installed in man{section}")
    t.ok(any(f.endswith("postern/postern.conf.sample") for f in found),
         "an example configuration is installed")
    if shutil.which("mandoc"):
        p = subprocess.run(["mandoc", "-Tlint", "-W", "warning"] +
                           [os.path.join(TOP, "man", x) for x in pages],
                           capture_output=True, text=True)
        t.eq(p.stdout + p.stderr, "", "mandoc -Tlint -W warning is silent")
    else:
        t.skip("mandoc -Tlint", "mandoc is not installed")
finally:
    shutil.rmtree(dest, ignore_errors=True)
t.done()
