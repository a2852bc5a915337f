#!/usr/bin/env python3
"""run.py: runs every test suite of `make check` and counts the results.

Each suite is a program that prints TAP lines ("ok N - name",
"not ok N - name", "ok N # SKIP reason"; cmocka's skips are "not ok N
# SKIP name"): the cmocka unit tests in
$BUILD/tests/ (with CMOCKA_MESSAGE_OUTPUT=TAP) and the Python scripts in
tests/integration/ and tests/interop/.  A suite that exits non-zero without
reporting a failure, prints no result, or outlives its time limit counts as
one failure.  The last line is "N passed, N failed, N skipped".
"""
import os
import re
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, os.environ.get("BUILD", "build"))
PYTHON = os.environ.get("PYTHON", sys.executable)
SUITE_TIMEOUT = 600

OK = re.compile(r"^ok\b")
NOT_OK = re.compile(r"^not ok\b")
SKIP = re.compile(r"#\s*skip", re.IGNORECASE)


def suites():
    """Yields (name, argv) for every suite, unit tests first."""
    unit = os.path.join(BUILD, "tests")
    if os.path.isdir(unit):
        for f in sorted(os.listdir(unit)):
            path = os.path.join(unit, f)
            if f.startswith("test_") and os.access(path, os.X_OK):
                yield "unit/" + f, [path]
    for kind in ("integration", "interop"):
        d = os.path.join(TOP, "tests", kind)
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            if f.startswith("test_") and f.endswith(".py"):
                yield kind + "/" + f, [PYTHON, os.path.join(d, f)]


def run(name, argv):
    """Runs one suite; returns (passed, failed, skipped)."""
    env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="TAP", BUILD=BUILD,
               POSTERN_TOP=TOP, PYTHONDONTWRITEBYTECODE="1")
    print(f"== {name}", flush=True)
    start = time.monotonic()
    try:
        proc = subprocess.run(argv, cwd=TOP, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT,
                              timeout=SUITE_TIMEOUT)
        out, rc = proc.stdout.decode("utf-8", "replace"), proc.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        out += f"\nnot ok - {name} timed out after {SUITE_TIMEOUT} s\n"
        rc = -1
    passed = failed = skipped = 0
    for line in out.splitlines():
        print("   " + line)
        if (OK.match(line) or NOT_OK.match(line)) and SKIP.search(line):
            skipped += 1        # cmocka writes "not ok N # SKIP"
        elif NOT_OK.match(line):
            failed += 1
        elif OK.match(line):
            passed += 1
    if rc != 0 and failed == 0:
        print(f"   not ok - {name} exited with status {rc}")
        failed += 1
    if passed + failed + skipped == 0:
        print(f"   not ok - {name} reported no result")
        failed += 1
    secs = time.monotonic() - start
    print(f"   {name}: {passed} passed, {failed} failed, {skipped} skipped"
          f" ({secs:.1f} s)", flush=True)
    return passed, failed, skipped


def main():
    only = sys.argv[1:]
    total = [0, 0, 0]
    failures = []
    for name, argv in suites():
        if only and not any(o in name for o in only):
            continue
        p, f, s = run(name, argv)
        total = [total[0] + p, total[1] + f, total[2] + s]
        if f:
            failures.append(name)
    if failures:
        print("failed suites: " + ", ".join(failures))
    print(f"{total[0]} passed, {total[1]} failed, {total[2]} skipped")
    return 1 if total[1] else 0


if __name__ == "__main__":
    sys.exit(main())
