#!/bin/sh
# run.sh: runs one libFuzzer harness for `make fuzz`.
#   run.sh FUZZ_DIR NAME SECONDS [libFuzzer options...]
# Seeds come from fuzz/corpus/NAME and fuzz/regress/NAME (read only); new
# inputs go to FUZZ_DIR/corpus/NAME, the log to FUZZ_DIR/fuzz_NAME.log, a
# crash to FUZZ_DIR/crash-* (or leak-*, timeout-*, oom-*), and then the
# script fails.  Started as root, the harness runs as nobody: a POP3 login
# as root would take the account's identity for good (privilege
# separation), so only an unprivileged process can fuzz past the login.
# It never writes into fuzz/.
set -u
dir=$1 name=$2 secs=$3
shift 3
bin=$dir/fuzz_$name
log=$dir/fuzz_$name.log
mkdir -p "$dir/corpus/$name" || exit 1
seeds=
for d in fuzz/corpus/$name fuzz/regress/$name; do
	[ -d "$d" ] && seeds="$seeds $d"
done
as=
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	if command -v setpriv >/dev/null 2>&1; then
		# Where libFuzzer writes: the artifacts' directory, the corpus.
		chown nobody "$dir" "$dir/corpus" && chown -R nobody \
		    "$dir/corpus/$name" || exit 1
		as="setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups"
	else
		echo "run.sh: no setpriv: fuzzing as root, POP3 logins refused"
	fi
fi
echo "fuzz_$name: $secs s"
# shellcheck disable=SC2086
$as "$bin" "$@" -max_total_time="$secs" "$dir/corpus/$name" $seeds \
    >"$log" 2>&1
rc=$?
grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done )' "$log" |
    sed 's/^/    /'
if [ $rc -ne 0 ]; then
	tail -n 60 "$log"
	echo "fuzz_$name: FAILED (exit $rc); log: $log; input:" \
	    $(ls "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* \
	    2>/dev/null)
	exit 1
fi
exit 0
