#!/usr/bin/env python3
"""test_fuzz_replay.py: replays the fuzz corpora through the harnesses.

Each fuzz/fuzz_NAME.c is also built with fuzz/replay.c's main() as
$BUILD/fuzz/replay_NAME (`make check` builds them, with the sanitizers
under SANITIZE=1).  Every seed in fuzz/corpus/NAME and every input that
once crashed, kept in fuzz/regress/NAME, must run through its harness
without an invariant failure or a sanitizer report, so a bug the fuzzers
found stays fixed.  As root the replays run as nobody, as `make fuzz`
runs the fuzzers: a POP3 login as root would take the account's
identity for good, so the harness could not get past it.
"""
import glob
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import BUILD, TOP, Tap  # noqa: E402

t = Tap()
FUZZ = os.path.join(TOP, "fuzz")
AS = {"user": "nobody", "group": "nogroup"} if os.geteuid() == 0 else {}


def inputs(d):
    """The input files of directory d (dot-files skipped)."""
    if not os.path.isdir(d):
        return []
    return sorted(f for f in os.listdir(d) if not f.startswith("."))


def replay(name, binary, kind):
    d = os.path.join(FUZZ, kind, name)
    files = inputs(d)
    if not files:
        if kind == "corpus":
            t.ok(False, f"{name}: fuzz/corpus/{name} has seeds")
        else:
            t.skip(f"{name}: fuzz/regress/{name} replays",
                   "no input has crashed this harness")
        return
    try:
        proc = subprocess.run([binary, d], cwd=TOP, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=300, **AS)
        out, rc = proc.stdout.decode("utf-8", "replace"), proc.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or b"").decode("utf-8", "replace"), "timeout"
    want = f"replay: {len(files)} inputs, no failure"
    t.ok(rc == 0 and want in out,
         f"{name}: fuzz/{kind}/{name} replays cleanly ({len(files)} inputs)",
         f"exit status {rc}\n" + "\n".join(out.splitlines()[-40:]))


def main():
    names = sorted(os.path.basename(p)[len("fuzz_"):-len(".c")]
                   for p in glob.glob(os.path.join(FUZZ, "fuzz_*.c")))
    t.ok(len(names) > 0, "there are fuzz harnesses")
    for name in names:
        binary = os.path.join(BUILD, "fuzz", "replay_" + name)
        if not os.access(binary, os.X_OK):
            t.ok(False, f"{name}: {binary} is built",
                 "make check builds it (the replay target)")
            continue
        for kind in ("corpus", "regress"):
            replay(name, binary, kind)
    t.done()


main()
