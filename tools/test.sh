#!/bin/bash
# test.sh - everything a change must pass, as root on Debian 12:
#
#   1. tools/deps.sh (installs what is missing)
#   2. a -Werror build in build/ and `make check` there, then the
#      integration tests that go through a web server once more there,
#      behind lighttpd (Apache is the default)
#   3. an AddressSanitizer + UBSan build in build-asan/ and `make check` there
#   4. the libFuzzer harnesses (fuzz/) built with clang in build-fuzz/ and
#      each run briefly (FUZZ_SECONDS, default 10 here)
#
# Each test program or script of each run counts once.  The logs of failed
# tests are shown; the last line of output is always "N passed, N failed"
# and the exit status is non-zero when anything failed (a build failure
# counts as one failed test).  Skipped tests (for example the integration
# tests when not run as root) count as neither.
set -uo pipefail

srcdir=$(cd "$(dirname "$0")/.." && pwd)
passed=0
failed=0
skipped=0
failures=()

summary() {
	echo
	echo "== summary"
	for f in ${failures[@]+"${failures[@]}"}; do
		echo "FAIL: $f"
	done
	[ "$skipped" -eq 0 ] || echo "$skipped skipped"
	echo "$passed passed, $failed failed"
}

# count_results RUN BUILDDIR: add the results of the last `make check` in
# BUILDDIR.  The parallel harness leaves one .trs file per test; the serial
# harness only prints "PASS: name" lines, which check.out keeps.
count_results() {
	local run=$1 b=$2 res name trs out n=0
	while read -r res name; do
		n=$((n + 1))
		case $res in
		PASS|XFAIL) passed=$((passed + 1)) ;;
		SKIP) skipped=$((skipped + 1)) ;;
		*)
			failed=$((failed + 1))
			failures+=("$name [$run]")
			echo "---- $name [$run] ($res)"
			if [ -f "$b/$name.log" ]; then
				out=$(cat "$b/$name.log")
			else
				# Serial harness: the test's output is in check.out,
				# between the previous result line and its own.
				out=$(awk -v want="$name" '
				    /^(PASS|FAIL|XFAIL|XPASS|SKIP|ERROR): / {
				        if (substr($0, index($0, " ") + 1) == want) {
				            printf "%s", block; exit }
				        block = ""; next }
				    { block = block $0 "\n" }' "$b/check.out")
			fi
			printf '%s\n' "$out" | grep -E '^(not ok|Bail out!)' || true
			printf '%s\n' "$out" | tail -n 150
			;;
		esac
	done < <(
		if compgen -G "$b/tests/*.trs" >/dev/null; then
			for trs in "$b"/tests/*.trs; do
				# One line per result; the worst one decides.
				res=$(awk '$1 == ":test-result:" {
				    if ($2 ~ /^(ERROR|FAIL|XPASS)$/) bad = $2
				    else if ($2 == "SKIP") skip = 1
				    else good = 1 }
				    END { print bad != "" ? bad : good ? "PASS" :
				        skip ? "SKIP" : "ERROR" }' "$trs")
				echo "$res tests/$(basename "$trs" .trs)"
			done
		else
			sed -n -E 's/^(PASS|FAIL|XFAIL|XPASS|SKIP|ERROR): (.*)$/\1 \2/p' "$b/check.out"
		fi
	)
	return $((n == 0))
}

# check_done RUN BUILDDIR STATUS BEFORE: count the make check that just
# ran in BUILDDIR (exit STATUS; BEFORE: the failures counted before it).
check_done() {
	local run=$1 b=$2 status=$3 before=$4
	grep -E '^(PASS|FAIL|XFAIL|XPASS|SKIP|ERROR): ' "$b/check.out"
	if ! count_results "$run" "$b"; then
		# Nothing ran: the check programs did not build, or make failed early.
		tail -n 60 "$b/check.out"
		failed=$((failed + 1))
		failures+=("make check [$run] (exit $status, no test ran)")
	elif [ "$status" -ne 0 ] && [ "$failed" -eq "$before" ]; then
		tail -n 60 "$b/check.out"
		failed=$((failed + 1))
		failures+=("make check [$run] (exit $status)")
	fi
}

# run_suite RUN BUILDDIR BUILD-FLAGS...
run_suite() {
	local run=$1 b=$2 status before=$failed
	shift 2
	echo "== $run: build in $b"
	if ! "$srcdir/tools/build.sh" "$@" "$b"; then
		failed=$((failed + 1))
		failures+=("build [$run]")
		return
	fi
	echo "== $run: make check"
	rm -f "$b"/tests/*.trs "$b"/tests/*.log
	(cd "$b" && make -j2 check) >"$b/check.out" 2>&1
	status=$?
	check_done "$run" "$b" "$status" "$before"
}

# web_suite RUN BUILDDIR WEB: the integration tests that go through a web
# server, again in an already built tree, behind WEB (rig.sh --web).
web_suite() {
	local run=$1 b=$2 web=$3 status before=$failed tests
	[ -f "$b/Makefile" ] || return
	tests=$(cd "$srcdir" && ls tests/t-*.sh | grep -v -e '^tests/t-engine\.sh$' \
	    -e '^tests/t-cacerts-lighttpd\.sh$' -e '^tests/t-deploy\.sh$' | tr '\n' ' ')
	echo "== $run: make check behind $web"
	rm -f "$b"/tests/*.trs "$b"/tests/*.log
	(cd "$b" && ESTCA_TEST_WEB=$web make -j2 check TESTS="$tests") >"$b/check.out" 2>&1
	status=$?
	check_done "$run" "$b" "$status" "$before"
}

echo "== dependencies"
if ! "$srcdir/tools/deps.sh"; then
	failed=$((failed + 1))
	failures+=("tools/deps.sh")
	summary
	exit 1
fi

run_suite werror "$srcdir/build" --werror
web_suite lighttpd "$srcdir/build" lighttpd

# Sanitizer run.  Address and undefined-behaviour errors abort.  The rig
# passes these options on to the engine and the FastCGI workers and points
# their reports into <rig>/log/asan/; a test fails when a report is there.
# Leak checking is on; tests/lsan.supp suppresses what libp11 itself keeps.
export ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0:abort_on_error=1:strict_string_checks=1
export LSAN_OPTIONS="suppressions=$srcdir/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_suite asan "$srcdir/build-asan" --sanitizers --werror

# fuzz_suite BUILDDIR: build the libFuzzer harnesses (fuzz/build.sh) and
# run each for FUZZ_SECONDS (10 by default here; make fuzz runs longer).
# Each harness counts once; a failed build counts as one failed test.
fuzz_suite() {
	local b=$1 name line
	echo "== fuzz: build in $b"
	mkdir -p "$b"
	if ! "$srcdir/fuzz/build.sh" "$b" >"$b/build.out" 2>&1; then
		tail -n 40 "$b/build.out"
		failed=$((failed + 1))
		failures+=("build [fuzz]")
		return
	fi
	echo "== fuzz: ${FUZZ_SECONDS:-10} s each"
	while IFS= read -r line; do
		echo "$line"
		case $line in
		PASS:*) passed=$((passed + 1)) ;;
		FAIL:*)
			name=${line#FAIL: }
			failed=$((failed + 1))
			failures+=("fuzz_${name%% *} [fuzz]")
			;;
		esac
	done < <(FUZZ_SECONDS=${FUZZ_SECONDS:-10} "$srcdir/fuzz/run.sh" "$b")
}
fuzz_suite "$srcdir/build-fuzz"

summary
[ "$failed" -eq 0 ]
