# shellcheck shell=bash
# lib.sh - helpers for estca's shell tests.  Source it; do not run it.
#
#   . "$(dirname "$0")/lib.sh"
#   need_root                  # skip (exit 77) unless root
#   rig_up                     # a rig in a temporary directory, torn down
#                              # and removed on every exit path
#   check "name" cmd args...   # "ok N - name" if cmd succeeds, else "not ok"
#   done_testing               # plan line; exit 1 if anything failed
#
# Output is TAP: "ok N - name" / "not ok N - name", diagnostics start with
# "#".  `make check` runs the tests with top_srcdir and top_builddir set; run
# by hand, the source tree is found from this file and the build tree is
# top_builddir, else the source tree if it holds the programs, else build/.
# Set ESTCA_KEEP_RIG=1 to keep the rig directory after the test, and
# ESTCA_TEST_WEB=lighttpd to run it behind lighttpd instead of Apache.

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
if [ -z "${top_builddir:-}" ]; then
	if [ -x "$top_srcdir/engine/estca-signd" ]; then
		top_builddir=$top_srcdir
	else
		top_builddir=$top_srcdir/build
	fi
fi
RIG_SH=$top_srcdir/tests/rig.sh

T_N=0
T_FAILED=0
RIG_DIR=

diag() {
	local line
	for line in "$@"; do
		printf '# %s\n' "$line"
	done
}

# diag_file FILE [LINES]: the last LINES (default 40) lines of FILE as
# diagnostics.
diag_file() {
	[ -f "$1" ] || return 0
	echo "# ---- $1"
	tail -n "${2:-40}" "$1" | sed 's/^/#   /'
}

ok() {
	T_N=$((T_N + 1))
	echo "ok $T_N - $1"
}

# fail NAME [DETAIL...]
fail() {
	T_N=$((T_N + 1))
	T_FAILED=$((T_FAILED + 1))
	echo "not ok $T_N - $1"
	shift
	[ $# -eq 0 ] || diag "$@"
}

# check NAME CMD [ARGS...]: run CMD; its output is shown only on failure.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$name"
	else
		fail "$name" "command: $*"
		[ -z "$out" ] || printf '%s\n' "$out" | tail -n 20 | sed 's/^/#   /'
	fi
}

# is NAME GOT WANT
is() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		fail "$1" "got:  '$2'" "want: '$3'"
	fi
}

skip_all() {
	echo "1..0 # SKIP $*"
	exit 77
}

need_root() {
	[ "$(id -u)" -eq 0 ] ||
	    skip_all "needs root (runs Postgres, Apache and the engine as their own users)"
}

need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip_all "$c not installed"
	done
}

# wait_until SECONDS CMD [ARGS...]: poll CMD every 0.1 s until it succeeds
# (return 0) or SECONDS have passed (return 1).
wait_until() {
	local tries=$(($1 * 10))
	shift
	while [ "$tries" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		tries=$((tries - 1))
		sleep 0.1
	done
	return 1
}

# note_secret VALUE...: a code, password or key line the test used; at
# done_testing no file the rig wrote may contain it (the test's own work
# directories and the PIN files excepted).  The PINs are noted by rig_up.
note_secret() {
	local v
	[ -n "${ESTCA_RIG_DIR:-}" ] || return 0
	for v in "$@"; do
		# too short, or a plain word (a seed's code is "password"):
		# either would be found in binaries and catalogs by chance
		[ "${#v}" -ge 6 ] || continue
		case $v in *[!a-z]*) ;; *) continue ;; esac
		(umask 077; printf '%s\n' "$v" >>"$ESTCA_RIG_DIR/secrets.list")
	done
}

# The check of note_secret: one TAP line, when anything was noted.
secrets_check() {
	local hits
	[ -n "${ESTCA_RIG_DIR:-}" ] && [ -s "$ESTCA_RIG_DIR/secrets.list" ] || return 0
	hits=$(grep -rlaF -f "$ESTCA_RIG_DIR/secrets.list" "$ESTCA_RIG_DIR" \
	    --exclude=secrets.list --exclude='*.pin' --exclude-dir='t-*' 2>/dev/null)
	if [ -z "$hits" ]; then
		ok "no code, password, PIN or key the test used is in a file the rig wrote ($(wc -l <"$ESTCA_RIG_DIR/secrets.list") secrets)"
	else
		fail "no code, password, PIN or key the test used is in a file the rig wrote" \
		    "found in: $(echo $hits)"
	fi
}

done_testing() {
	secrets_check
	echo "1..$T_N"
	if [ "$T_FAILED" -ne 0 ]; then
		echo "# $T_FAILED of $T_N failed"
		exit 1
	fi
	exit 0
}

# Runs on every exit path once rig_up was called: stop the rig, fail on
# sanitizer reports, show the logs when something failed, remove the dir.
rig_cleanup() {
	local status=$? f
	trap - EXIT
	if [ -n "$RIG_DIR" ] && [ -d "$RIG_DIR" ]; then
		"$RIG_SH" down "$RIG_DIR" >/dev/null 2>&1 ||
		    echo "# rig.sh down $RIG_DIR failed"
		for f in "$RIG_DIR"/log/asan/*; do
			[ -s "$f" ] || continue
			echo "not ok - sanitizer report $f"
			sed 's/^/#   /' "$f"
			status=1
		done
		if [ "$status" -ne 0 ] || [ "$T_FAILED" -ne 0 ]; then
			for f in "$RIG_DIR"/log/*.log; do
				diag_file "$f"
			done
		fi
		if [ -n "${ESTCA_KEEP_RIG:-}" ]; then
			echo "# rig kept in $RIG_DIR"
		else
			rm -rf "$RIG_DIR"
		fi
	fi
	exit "$status"
}

# rig_up [rig.sh up options...]: bring a rig up in a fresh temporary
# directory on a free port and export the variables of its rig.env.  A rig
# that does not come up ends the test ("Bail out!").  The web server is
# $ESTCA_TEST_WEB (apache or lighttpd; default apache) unless the options
# name one.
rig_up() {
	local st
	RIG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/estca-rig.XXXXXX") ||
	    { echo "Bail out! mktemp failed"; exit 1; }
	trap rig_cleanup EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
	"$RIG_SH" up "$RIG_DIR" --port 0 --builddir "$top_builddir" \
	    --web "${ESTCA_TEST_WEB:-apache}" "$@" 2>&1 |
	    sed 's/^/# /'
	st=${PIPESTATUS[0]}
	if [ "$st" -ne 0 ]; then
		echo "Bail out! rig did not come up"
		exit 1
	fi
	if [ ! -f "$RIG_DIR/rig.env" ]; then
		echo "Bail out! rig did not come up (no rig.env)"
		exit 1
	fi
	set -a
	# shellcheck disable=SC1091
	. "$RIG_DIR/rig.env"
	set +a
	local pin
	for pin in "$ESTCA_RIG_DIR"/hsm/*.pin; do
		[ -f "$pin" ] && note_secret "$(head -n 1 "$pin")"
	done
}

# est_rig_up NAME [rig options...]: rig_up, then the EST tests' common
# set-up: W (the test's work directory $ESTCA_RIG_DIR/NAME), EST (the
# base URL of the EST operations) and the helpers of est-lib.sh.
est_rig_up() {
	local name=$1
	shift
	rig_up "$@"
	W=$ESTCA_RIG_DIR/$name
	mkdir -p "$W"
	EST=$ESTCA_URL/.well-known/est
	# shellcheck disable=SC1091
	. "$top_srcdir/tests/est-lib.sh"
}

# http_status METHOD URL [curl options...]: print the HTTP status code.
http_status() {
	local m=$1 u=$2
	shift 2
	curl -s -o /dev/null -w '%{http_code}' --cacert "$ESTCA_CACERT" \
	    -X "$m" "$@" "$u"
}
