#!/bin/bash
# run.sh - run the libFuzzer harnesses that fuzz/build.sh made, each for a
# bounded time, one after the other:
#
#   fuzz/run.sh BUILDDIR [NAME...]      (NAME: route, b64, ...; default all)
#
# FUZZ_SECONDS (default 60) bounds each harness.  Each starts from its
# seeds (fuzz/corpus/NAME, never written) and from what earlier runs
# found (BUILDDIR/corpus/NAME, kept between runs); crash inputs are
# saved as BUILDDIR/crash/NAME-* (emptied at the start of each run).  Prints one line per harness,
# "PASS: NAME (...)" or "FAIL: NAME (...)", with executions, executions
# per second and corpus size, and the end of the log of a failure; the
# whole log is BUILDDIR/log/NAME.log.  Exits non-zero when one failed.
set -uo pipefail

srcdir=$(cd "$(dirname "$0")/.." && pwd)
b=${1:?usage: run.sh BUILDDIR [NAME...]}
shift
secs=${FUZZ_SECONDS:-60}
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	names=(route b64 csr csn clientcert basic conf reader wire names reply)
fi
# Leak checking after each input; any sanitizer report ends the run.
export ASAN_OPTIONS=${FUZZ_ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
unset LSAN_OPTIONS

failed=0
mkdir -p "$b/log" "$b/crash"
rm -f "$b"/crash/*
for n in "${names[@]}"; do
	bin=$b/fuzz_$n
	log=$b/log/$n.log
	mkdir -p "$b/corpus/$n"
	if [ ! -x "$bin" ]; then
		echo "FAIL: $n (no $bin: run fuzz/build.sh first)"
		failed=1
		continue
	fi
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$b/crash/$n-" \
	    "$b/corpus/$n" "$srcdir/fuzz/corpus/$n" >"$log" 2>&1
	st=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' "$log" | tail -n 1)
	info="${execs:-?} execs, ${rate:-?} exec/s, corpus ${corp:-?}, ${secs} s"
	if [ "$st" -eq 0 ]; then
		echo "PASS: $n ($info)"
	else
		echo "FAIL: $n (exit $st; $info)"
		grep -E 'invariant broken|ERROR: |SUMMARY|^    #[0-9]+ ' "$log" | head -n 30
		ls "$b/crash/$n-"* 2>/dev/null
		failed=1
	fi
done
exit "$failed"
