#!/bin/sh
# coverage.sh: which lines of server/, storage/ and protocols/ the tests
# run.  Builds build/cov with gcc --coverage, runs every unit test and
# the suite (tests/run.py) under tests/shims/coverage.c, then prints each
# file's unrun lines and leaves gcov's annotated copies, unrun lines
# marked "#####", in build/cov/gcov/.  As root, as make check.  Expect
# failures in the suite: the replay harnesses are not built here, and the
# shim keeps pre-login workers out of their chroot.  (make coverage)
set -eu
BUILD=build/cov
cd "$(dirname "$0")/.."
# In the environment, so that the suite's own make runs (make install in
# test_install.py) build the same way.
CFLAGS="-O0 -g --coverage"
LDFLAGS="--coverage -rdynamic -Wl,-u,__gcov_dump"
export CFLAGS LDFLAGS
rm -rf $BUILD		# objects of other flags would be kept
make -s -j2 BUILD=$BUILD all unit
find $BUILD -name '*.gcda' -delete
shim=$PWD/$BUILD/coverage.so
cc -shared -fPIC -o "$shim" tests/shims/coverage.c -ldl
# Every counter file first, as root, then writable by all: the servers'
# processes run as other users.
for t in $BUILD/tests/test_*; do
	CMOCKA_MESSAGE_OUTPUT=TAP LD_PRELOAD=$shim $t >/dev/null 2>&1 || true
done
$BUILD/postern version >/dev/null
$BUILD/posternd -n -c /dev/null >/dev/null 2>&1 || true
chmod -R a+rwX $BUILD
LD_PRELOAD=$shim BUILD=$BUILD python3 tests/run.py \
    >$BUILD/coverage-suite.log 2>&1 || true
tail -1 $BUILD/coverage-suite.log
rm -rf $BUILD/gcov && mkdir -p $BUILD/gcov
for src in server/*.c storage/*.c protocols/*.c; do
	gcov -p -o "$BUILD/obj/$(dirname "$src")" "$src" >/dev/null 2>&1 ||
	    true
	g=$(echo "$src" | tr / '#').gcov
	if [ -f "$g" ]; then mv "$g" $BUILD/gcov/; fi
done
rm -f ./*.gcov		# the headers'
cd $BUILD/gcov
for g in *.gcov; do
	run=$(grep -c -E '^ *([0-9]+\*?|#####):' "$g" || true)
	unrun=$(grep -c -E '^ *#####:' "$g" || true)
	echo "$unrun $run $(echo "${g%.gcov}" | tr '#' /)"
done | sort -rn | awk '{ printf "%5d of %5d lines unrun  %s\n", $1, $2, $3;
    u += $1; t += $2 } END { printf "%5d of %5d lines unrun  (%.1f%% run)\n",
    u, t, 100 * (t - u) / t }'
