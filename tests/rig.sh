#!/bin/bash
# rig.sh - the whole estca stack in one directory: SoftHSM token with the CA
# key, PostgreSQL, estca-signd, Apache or lighttpd with estca-fcgi.  Run as
# root.
#
#   tests/rig.sh up DIR [--port N] [--web apache|lighttpd] [--builddir B] [--key-type T]
#   tests/rig.sh down DIR
#   tests/rig.sh engine-stop DIR
#   tests/rig.sh engine-start DIR
#
# up      builds the rig in DIR (absolute; created if missing) and starts
#         it; --port 0 (the default) takes a free loopback port.  Writes
#         DIR/rig.env last, so its presence means the rig came up.  State
#         left by an earlier `up` (token, CA, database) is reused, so
#         down + up restarts a rig.
#         --web picks the web server (default apache); the rest of the
#         stack is the same for both.
# down    stops what DIR's pid files name (web server, engine, Postgres)
#         and removes rig.env; the directory and its data stay.  Safe to
#         run twice and on a rig that came up only half.
# engine-stop / engine-start
#         stop or start estca-signd alone, for tests of an absent engine.
#
# Layout of DIR (each part owned by the user that needs it):
#   rig.env          variables for curl/openssl/psql (see doc/rig.md)
#   bin/             copies of estca-signd, estca-ca, estca-fcgi
#   hsm/             SoftHSM config, token, PIN files (estca, 0700)
#   ca/              ca.pem, chain.pem: the public CA certificates
#   engine/          signd.conf, signd.sock (estca:www-data, 0750)
#   fcgi/fcgi.conf   worker configuration
#   pg/              Postgres socket; pg/data the cluster (postgres)
#   tls/             the web server's TLS key and certificate (root, 0700)
#   apache/          apache.conf, htdocs/, run/, fcgid/      (--web apache)
#   lighttpd/        lighttpd.conf, client-ca.pem, htdocs/, tmp/, sock/
#                                                            (--web lighttpd)
#   run/             signd.pid, apache.pid or lighttpd.pid, postgres.pid
#   log/             one log per process, setup.log, audit.log
#
# Processes are only ever stopped by the PIDs in DIR's pid files, after
# checking that the PID still runs the program of this rig.
set -euo pipefail

PROG=rig
srcdir=$(cd "$(dirname "$0")/.." && pwd)
SOFTHSM_MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
ENGINE_USER=estca
WEB_USER=www-data
WEB_SERVERS="apache lighttpd"
TOKEN_LABEL=estca
KEY_LABEL=estca-ca
CA_SUBJECT="CN=estca Demo Root CA"
WAIT_SECONDS=${ESTCA_RIG_WAIT:-60}

say() { echo "$PROG: $*"; }
warn() { echo "$PROG: warning: $*" >&2; }

usage() {
	sed -n '6,9s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

# die MSG [LOG...]: report, show the end of the logs that explain it, and
# fail; in `up`, first stop whatever this rig had started.
die() {
	local msg=$1 f
	shift
	echo "$PROG: error: $msg" >&2
	for f in "$@"; do
		[ -s "$f" ] || continue
		echo "---- last lines of $f" >&2
		tail -n 30 "$f" >&2
	done
	if [ "${cmd:-}" = up ] && [ "${UP_STARTED:-no}" = yes ]; then
		echo "$PROG: stopping what was started" >&2
		do_down >&2 || true
	fi
	exit 1
}

# poll SECONDS CMD...: run CMD every 0.1 s until it succeeds; 1 on timeout
# or as soon as CMD returns 2 (no point in waiting longer).
poll() {
	local tries=$(($1 * 10)) rc
	shift
	while [ "$tries" -gt 0 ]; do
		rc=0
		"$@" >/dev/null 2>&1 || rc=$?
		[ "$rc" -eq 0 ] && return 0
		[ "$rc" -eq 2 ] && return 1
		tries=$((tries - 1))
		sleep 0.1
	done
	return 1
}

# pid_runs PID TEXT: PID is alive and its command line contains TEXT.
# /proc/PID/cmdline stays readable for processes that made themselves
# non-dumpable, unlike /proc/PID/exe.
pid_runs() {
	local cmd
	[ -n "$1" ] && [ -r "/proc/$1/cmdline" ] || return 1
	cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
	case $cmd in *"$2"*) return 0 ;; esac
	return 1
}

pid_gone() { ! kill -0 "$1" 2>/dev/null; }

read_pid() { [ -f "$1" ] && head -n1 "$1" | tr -dc 0-9; }

# stop_pid NAME PIDFILE TEXT: SIGTERM the PID of PIDFILE if it still runs
# TEXT, wait for it, SIGKILL after the grace period.
stop_pid() {
	local name=$1 pidfile=$2 text=$3 pid
	pid=$(read_pid "$pidfile" || true)
	if [ -z "$pid" ]; then
		rm -f "$pidfile"
		return 0
	fi
	if ! pid_runs "$pid" "$text"; then
		say "$name (pid $pid) not running"
		rm -f "$pidfile"
		return 0
	fi
	say "stopping $name (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	if ! poll 30 pid_gone "$pid"; then
		warn "$name (pid $pid) ignored SIGTERM for 30 s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		poll 10 pid_gone "$pid" || warn "$name (pid $pid) still there"
	fi
	rm -f "$pidfile"
}

# ---- locating the tools -------------------------------------------------

pg_bindir() {
	local d
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir 2>/dev/null || true)
		if [ -x "$d/initdb" ]; then
			echo "$d"
			return 0
		fi
	fi
	d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n1)
	if [ -n "$d" ] && [ -x "$d/initdb" ]; then
		echo "$d"
		return 0
	fi
	d=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
	[ -x "$d/initdb" ] && echo "$d"
}

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# ---- arguments ------------------------------------------------------------

set_dir() {
	DIR=$1
	case $DIR in
	/*) ;;
	*) echo "$PROG: DIR must be an absolute path: $DIR" >&2; exit 2 ;;
	esac
	DIR=${DIR%/}
	# The path goes unquoted into configuration files of four programs and
	# into Unix socket names (at most 107 bytes).
	if ! [[ $DIR =~ ^(/[A-Za-z0-9._-]+)+$ ]] || [[ $DIR == *..* ]]; then
		echo "$PROG: DIR may only contain letters, digits, '.', '_', '-' and '/': $DIR" >&2
		exit 2
	fi
	if [ ${#DIR} -gt 80 ]; then
		echo "$PROG: DIR is too long for Unix socket paths (max 80): $DIR" >&2
		exit 2
	fi
	LOG=$DIR/log
	RUN=$DIR/run
	HSM=$DIR/hsm
	PGDATA=$DIR/pg/data
	SETUP_LOG=$LOG/setup.log
	SIGND_CONF=$DIR/engine/signd.conf
	SIGND_SOCK=$DIR/engine/signd.sock
	TLS=$DIR/tls
}

need_root() {
	[ "$(id -u)" -eq 0 ] || { echo "$PROG: must run as root" >&2; exit 1; }
}

# ---- down -----------------------------------------------------------------

# web_conf W: the configuration file of web server W; its path is also
# what identifies W's processes of this rig (their command line names it).
web_conf() { echo "$DIR/$1/$1.conf"; }

# Stops whichever web server of this rig runs (down does not know which
# one `up` started, and the pid files tell).
stop_web() {
	local pid f left w
	for w in $WEB_SERVERS; do
		stop_pid "$w" "$RUN/$w.pid" "$(web_conf "$w")"
	done
	# The workers leave with their server (mod_fcgid's with Apache;
	# lighttpd sends its own SIGTERM); wait for them so that nothing of the
	# rig holds Postgres connections or the engine socket after down.
	left=
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		pid_runs "$pid" "$DIR/bin/estca-fcgi" && left="$left $pid"
	done
	for pid in $left; do
		if ! poll 10 pid_gone "$pid"; then
			warn "estca-fcgi worker $pid outlived the web server; sending SIGTERM"
			kill -TERM "$pid" 2>/dev/null || true
		fi
	done
}

stop_engine() {
	stop_pid estca-signd "$RUN/signd.pid" "$DIR/bin/estca-signd"
}

stop_postgres() {
	local bindir
	[ -f "$PGDATA/postmaster.pid" ] || { rm -f "$RUN/postgres.pid"; return 0; }
	bindir=$(pg_bindir) || { warn "no PostgreSQL binaries; cannot stop $PGDATA"; return 1; }
	say "stopping postgres"
	(cd / && runuser -u postgres -- "$bindir/pg_ctl" -D "$PGDATA" -m fast \
	    -w -t 60 stop) >>"$LOG/postgres.log" 2>&1 ||
	    warn "pg_ctl stop failed (see $LOG/postgres.log)"
	rm -f "$RUN/postgres.pid"
}

do_down() {
	local rc=0
	[ -d "$DIR" ] || { say "$DIR does not exist; nothing to stop"; return 0; }
	rm -f "$DIR/rig.env"
	stop_web || rc=1
	stop_engine || rc=1
	stop_postgres || rc=1
	return $rc
}

# ---- up: the parts ----------------------------------------------------------

make_dirs() {
	mkdir -p "$DIR"
	chmod 755 "$DIR"
	install -d -m 755 "$DIR/bin" "$DIR/ca" "$DIR/fcgi" "$LOG" "$RUN"
	install -d -m 700 "$TLS"
	case $WEB in
	apache)
		install -d -m 755 "$DIR/apache" "$DIR/apache/htdocs" "$DIR/apache/run"
		;;
	lighttpd)
		install -d -m 755 "$DIR/lighttpd" "$DIR/lighttpd/htdocs"
		# lighttpd creates the worker sockets and buffers request
		# bodies after it has become www-data.
		install -d -m 700 -o "$WEB_USER" -g "$WEB_USER" \
		    "$DIR/lighttpd/sock" "$DIR/lighttpd/tmp"
		;;
	esac
	install -d -m 700 -o "$ENGINE_USER" -g "$ENGINE_USER" "$HSM"
	install -d -m 750 -o "$ENGINE_USER" -g "$WEB_USER" "$DIR/engine"
	install -d -m 755 -o postgres -g postgres "$DIR/pg"
	: >>"$SETUP_LOG"
	if [ -n "${ASAN_OPTIONS:-}${UBSAN_OPTIONS:-}" ]; then
		# Sanitizer reports of the daemons and workers (any uid) land here.
		install -d -m 1777 "$LOG/asan"
	fi
}

ensure_users() {
	id "$WEB_USER" >/dev/null 2>&1 || die "user $WEB_USER missing (is $WEB installed?)"
	id postgres >/dev/null 2>&1 || die "user postgres missing (is postgresql installed?)"
	if ! id "$ENGINE_USER" >/dev/null 2>&1; then
		say "creating system user $ENGINE_USER"
		useradd --system --no-create-home --home-dir /nonexistent \
		    --shell /usr/sbin/nologin "$ENGINE_USER" ||
		    die "useradd $ENGINE_USER failed"
	fi
}

check_tools() {
	local b
	for b in engine/estca-signd engine/estca-ca fcgi/estca-fcgi; do
		[ -x "$BUILDDIR/$b" ] || die "$BUILDDIR/$b not found (build first, or give --builddir)"
	done
	for b in hsm/estca-hsm-init sql/estca-dbinit; do
		[ -x "$srcdir/$b" ] || die "$srcdir/$b missing or not executable"
	done
	[ -r "$SOFTHSM_MODULE" ] || die "PKCS#11 module $SOFTHSM_MODULE not found (softhsm2)"
	PGBIN=$(pg_bindir) || die "PostgreSQL server binaries not found (postgresql)"
	for b in openssl curl python3 runuser useradd; do
		command -v "$b" >/dev/null 2>&1 || die "$b not found"
	done
	case $WEB in
	apache)
		command -v apache2 >/dev/null 2>&1 || die "apache2 not found (apache2)"
		[ -r /usr/lib/apache2/modules/mod_fcgid.so ] ||
		    die "mod_fcgid not found (libapache2-mod-fcgid)"
		;;
	lighttpd)
		command -v lighttpd >/dev/null 2>&1 || die "lighttpd not found (lighttpd)"
		[ -r /usr/lib/lighttpd/mod_openssl.so ] ||
		    die "lighttpd's mod_openssl not found (lighttpd-mod-openssl)"
		;;
	esac
}

copy_binaries() {
	# www-data must be able to exec estca-fcgi: a build tree under a 0700
	# directory is out of its reach, a copy in the rig is not.
	install -m 755 "$BUILDDIR/engine/estca-signd" "$BUILDDIR/engine/estca-ca" \
	    "$BUILDDIR/fcgi/estca-fcgi" "$DIR/bin/"
	install -m 644 "$srcdir/tests/lsan.supp" "$DIR/bin/lsan.supp"
}

setup_hsm() {
	export SOFTHSM2_CONF=$HSM/softhsm2.conf
	if [ -s "$HSM/ca.pem" ] && [ -f "$SOFTHSM2_CONF" ]; then
		say "HSM: reusing token and CA in $HSM"
	else
		say "HSM: token '$TOKEN_LABEL', CA key $KEY_TYPE, root certificate"
		"$srcdir/hsm/estca-hsm-init" --dir "$HSM" --label "$TOKEN_LABEL" \
		    --module "$SOFTHSM_MODULE" \
		    --key-type "$KEY_TYPE" --key-label "$KEY_LABEL" \
		    --subject "$CA_SUBJECT" --days 3650 \
		    --estca-ca "$DIR/bin/estca-ca" >>"$LOG/hsm-init.log" 2>&1 ||
		    die "estca-hsm-init failed" "$LOG/hsm-init.log"
		if [ ! -s "$HSM/ca.pem" ] || [ ! -s "$HSM/chain.pem" ]; then
			die "estca-hsm-init wrote no ca.pem/chain.pem" "$LOG/hsm-init.log"
		fi
	fi
	install -m 644 "$HSM/ca.pem" "$DIR/ca/ca.pem"
	install -m 644 "$HSM/chain.pem" "$DIR/ca/chain.pem"
}

# The TLS server key is a software key (the web server reads it); its
# certificate comes from the CA in the token, through the offline tool.
# Either web server uses the same pair.
setup_tls() {
	local tls=$TLS
	if [ -s "$tls/server.pem" ] && [ -s "$tls/server.key" ] &&
	    openssl verify -CAfile "$DIR/ca/chain.pem" "$tls/server.pem" >/dev/null 2>&1 &&
	    openssl x509 -in "$tls/server.pem" -noout -checkend 86400 >/dev/null 2>&1; then
		say "TLS: reusing server certificate"
		return 0
	fi
	say "TLS: server key and certificate for localhost, 127.0.0.1"
	(umask 077 && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -keyout "$tls/server.key" -subj "/CN=localhost" \
	    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	    -out "$tls/server.csr") >>"$SETUP_LOG" 2>&1 ||
	    die "openssl req failed" "$SETUP_LOG"
	"$DIR/bin/estca-ca" sign-csr --module "$SOFTHSM_MODULE" \
	    --token "$TOKEN_LABEL" --pin-file "$HSM/user.pin" \
	    --key-label "$KEY_LABEL" --issuer-cert "$HSM/ca.pem" \
	    --csr "$tls/server.csr" --profile tls-server --days 365 \
	    --out "$tls/server.pem" >>"$SETUP_LOG" 2>&1 ||
	    die "estca-ca sign-csr failed" "$SETUP_LOG"
	openssl verify -CAfile "$DIR/ca/chain.pem" "$tls/server.pem" >>"$SETUP_LOG" 2>&1 ||
	    die "the server certificate does not verify against the CA" "$SETUP_LOG"
}

# Only the engine user may read the token and the PINs.  Runs after every
# step that touched the token as root.
lock_hsm() {
	chown -R "$ENGINE_USER:$ENGINE_USER" "$HSM"
	chmod 700 "$HSM"
	chmod 600 "$HSM"/*.pin
}

psql_admin() {
	"$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$DIR/pg" -U postgres "$@"
}

setup_postgres() {
	local pid
	if [ -f "$PGDATA/PG_VERSION" ]; then
		say "postgres: reusing cluster in $PGDATA"
	else
		say "postgres: initdb in $PGDATA"
		install -d -m 700 -o postgres -g postgres "$PGDATA"
		(cd / && runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA" \
		    -U postgres -E UTF8 --locale=C.UTF-8 --auth-local=peer \
		    --auth-host=reject) >>"$SETUP_LOG" 2>&1 ||
		    die "initdb failed" "$SETUP_LOG"
	fi
	# Unix socket in the rig only; no TCP listener.  Peer authentication:
	# root and postgres connect as postgres, www-data (the workers) as
	# estca_fcgi, root may also test as estca_fcgi.
	cat >"$PGDATA/rig.conf" <<-EOF
	# rendered by tests/rig.sh
	listen_addresses = ''
	port = 5432
	unix_socket_directories = '$DIR/pg'
	unix_socket_permissions = 0777
	max_connections = 100
	log_line_prefix = '%m [%p] %q%u@%d '
	EOF
	grep -qx "include 'rig.conf'" "$PGDATA/postgresql.conf" ||
	    echo "include 'rig.conf'" >>"$PGDATA/postgresql.conf"
	cat >"$PGDATA/pg_hba.conf" <<-EOF
	# rendered by tests/rig.sh
	local all all peer map=rig
	EOF
	cat >"$PGDATA/pg_ident.conf" <<-EOF
	# rendered by tests/rig.sh
	rig postgres postgres
	rig root     postgres
	rig $WEB_USER estca_fcgi
	rig root     estca_fcgi
	EOF
	chown postgres:postgres "$PGDATA/rig.conf" "$PGDATA/pg_hba.conf" \
	    "$PGDATA/pg_ident.conf"
	install -m 640 -o postgres -g postgres /dev/null "$LOG/postgres.log.new"
	[ -f "$LOG/postgres.log" ] || mv "$LOG/postgres.log.new" "$LOG/postgres.log"
	rm -f "$LOG/postgres.log.new"

	UP_STARTED=yes
	if (cd / && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" status) \
	    >/dev/null 2>&1; then
		say "postgres: already running; reloading its configuration"
		(cd / && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" reload) \
		    >>"$SETUP_LOG" 2>&1 || die "pg_ctl reload failed" "$SETUP_LOG"
	else
		say "postgres: start"
		(cd / && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" \
		    -l "$LOG/postgres.log" -w -t "$WAIT_SECONDS" start) \
		    </dev/null >>"$SETUP_LOG" 2>&1 ||
		    die "postgres did not start" "$SETUP_LOG" "$LOG/postgres.log"
	fi
	pid=$(read_pid "$PGDATA/postmaster.pid" || true)
	echo "$pid" >"$RUN/postgres.pid"

	if [ "$(psql_admin -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'estca'")" != 1 ]; then
		psql_admin -d postgres -c "CREATE DATABASE estca" >>"$SETUP_LOG" 2>&1 ||
		    die "CREATE DATABASE failed" "$SETUP_LOG"
	fi
	# The workers log in as estca_fcgi, which estca-dbinit makes a member of
	# the migration's group role estca_web and gives nothing else.
	say "postgres: migrations (sql/estca-dbinit), role estca_fcgi"
	PATH=$PGBIN:$PATH "$srcdir/sql/estca-dbinit" --sqldir "$srcdir/sql" \
	    --web-role estca_fcgi "host=$DIR/pg user=postgres dbname=estca" \
	    >>"$SETUP_LOG" 2>&1 || die "estca-dbinit failed" "$SETUP_LOG"
	say "postgres: demo alias 'est'"
	psql_admin -d estca >>"$SETUP_LOG" 2>&1 <<-'EOF' || die "creating alias 'est' failed" "$SETUP_LOG"
	SELECT est.create_alias('est', 'est', 'device', 'challenge_password')
	 WHERE NOT EXISTS (SELECT 1 FROM est.alias WHERE name = 'est');
	EOF
}

render() {
	local in=$1 out=$2
	sed -e "s|@RIG_DIR@|$DIR|g" -e "s|@SOFTHSM_MODULE@|$SOFTHSM_MODULE|g" \
	    -e "s|@PORT@|${PORT:-0}|g" "$in" >"$out.tmp"
	if grep -q '@[A-Z_]*@' "$out.tmp"; then
		die "unrendered placeholder in $out: $(grep -o '@[A-Z_]*@' "$out.tmp" | sort -u | tr '\n' ' ')"
	fi
	mv "$out.tmp" "$out"
}

render_configs() {
	render "$srcdir/conf/signd.conf.in" "$SIGND_CONF"
	chmod 644 "$SIGND_CONF"
	render "$srcdir/conf/fcgi.conf.in" "$DIR/fcgi/fcgi.conf"
	chmod 644 "$DIR/fcgi/fcgi.conf"
	# Created here so it exists with the right owner whatever the engine
	# does when it opens it.
	[ -f "$LOG/audit.log" ] ||
	    install -m 640 -o "$ENGINE_USER" -g "$ENGINE_USER" /dev/null "$LOG/audit.log"
}

# Sanitizer options for a daemon: the caller's, plus a log file in the rig.
san_opts() {
	local base=$1 name=$2
	[ -n "$base" ] || return 0
	[ -d "$LOG/asan" ] || install -d -m 1777 "$LOG/asan"
	echo "$base:log_path=$LOG/asan/$name"
}

start_engine() {
	local pid env=()
	pid=$(read_pid "$RUN/signd.pid" || true)
	if [ -n "$pid" ] && pid_runs "$pid" "$DIR/bin/estca-signd"; then
		say "engine: already running (pid $pid)"
		return 0
	fi
	export SOFTHSM2_CONF=$HSM/softhsm2.conf
	[ -z "${ASAN_OPTIONS:-}" ] || env+=("ASAN_OPTIONS=$(san_opts "$ASAN_OPTIONS" signd)")
	[ -z "${UBSAN_OPTIONS:-}" ] || env+=("UBSAN_OPTIONS=$(san_opts "$UBSAN_OPTIONS" signd)")
	[ -z "${ASAN_OPTIONS:-}" ] || env+=("LSAN_OPTIONS=suppressions=$DIR/bin/lsan.supp:print_suppressions=0")
	env ${env[@]+"${env[@]}"} "$DIR/bin/estca-signd" -f "$SIGND_CONF" -n \
	    </dev/null >>"$LOG/signd.log" 2>&1 ||
	    die "estca-signd -n rejects $SIGND_CONF" "$LOG/signd.log"
	# A socket left by an engine that was killed would be taken for ready.
	rm -f "$SIGND_SOCK"
	say "engine: start"
	# setsid: own session, so the engine outlives the terminal of `up`.
	# Not a group leader here, so setsid execs in place and $! is the engine.
	env ${env[@]+"${env[@]}"} setsid "$DIR/bin/estca-signd" -f "$SIGND_CONF" \
	    </dev/null >>"$LOG/signd.log" 2>&1 &
	pid=$!
	echo "$pid" >"$RUN/signd.pid"
	UP_STARTED=yes
	engine_ready() {
		[ -S "$SIGND_SOCK" ] && return 0
		pid_gone "$pid" && return 2
		return 1
	}
	poll "$WAIT_SECONDS" engine_ready ||
	    die "engine socket $SIGND_SOCK did not appear" "$LOG/signd.log"
	pid_runs "$pid" "$DIR/bin/estca-signd" ||
	    die "engine (pid $pid) exited" "$LOG/signd.log"
	say "engine: ready (pid $pid)"
}

apache_fcgid_env() {
	local v
	for v in ASAN_OPTIONS UBSAN_OPTIONS; do
		[ -n "${!v:-}" ] || continue
		printf 'FcgidInitialEnv %s "%s"\n' "$v" "$(san_opts "${!v}" fcgi)"
	done
	[ -z "${ASAN_OPTIONS:-}" ] ||
	    printf 'FcgidInitialEnv LSAN_OPTIONS "suppressions=%s:print_suppressions=0"\n' \
	    "$DIR/bin/lsan.supp"
}

render_apache() {
	local conf=$DIR/apache/apache.conf extra
	extra=$(apache_fcgid_env)
	awk -v extra="$extra" '$0 == "@FCGID_ENV@" { if (extra != "") print extra; next } { print }' \
	    "$srcdir/conf/apache.conf.in" >"$conf.in"
	render "$conf.in" "$conf"
	rm -f "$conf.in"
}

# lighttpd_quote S: S as the inside of a lighttpd string.
lighttpd_quote() {
	local x=${1//\\/\\\\}
	printf '%s' "${x//\"/\\\"}"
}

# Sanitizer options for lighttpd's bin-environment (as FcgidInitialEnv for
# Apache), one `"NAME" => "VALUE",` line each.
lighttpd_fcgi_env() {
	local v
	for v in ASAN_OPTIONS UBSAN_OPTIONS; do
		[ -n "${!v:-}" ] || continue
		printf '\t\t\t"%s" => "%s",\n' "$v" \
		    "$(lighttpd_quote "$(san_opts "${!v}" fcgi)")"
	done
	[ -z "${ASAN_OPTIONS:-}" ] ||
	    printf '\t\t\t"LSAN_OPTIONS" => "%s",\n' \
	    "$(lighttpd_quote "suppressions=$DIR/bin/lsan.supp:print_suppressions=0")"
}

# lighttpd exports a client certificate only when it verifies against
# ssl.verifyclient.ca-file: our chain, plus the vendor and RA roots a test
# or an operator put into DIR/ca/client-roots/.
build_client_ca() {
	local f out=$DIR/lighttpd/client-ca.pem
	cat "$DIR/ca/chain.pem" >"$out.tmp"
	for f in "$DIR"/ca/client-roots/*.pem; do
		[ -f "$f" ] || continue
		openssl x509 -in "$f" -noout >/dev/null 2>&1 ||
		    die "$f is not a PEM certificate"
		cat "$f" >>"$out.tmp"
	done
	chmod 644 "$out.tmp"
	mv "$out.tmp" "$out"
}

render_lighttpd() {
	local conf=$DIR/lighttpd/lighttpd.conf extra f
	build_client_ca
	# lighttpd opens its logs after it has become www-data.
	for f in "$LOG/lighttpd-error.log" "$LOG/lighttpd-access.log" \
	    "$LOG/lighttpd-workers.log"; do
		[ -f "$f" ] || install -m 640 -o "$WEB_USER" -g "$WEB_USER" /dev/null "$f"
	done
	extra=$(lighttpd_fcgi_env)
	# ENVIRON, not -v: awk would eat the backslashes of -v values.
	EXTRA=$extra awk '$0 == "@FCGI_ENV@" { if (ENVIRON["EXTRA"] != "") print ENVIRON["EXTRA"]; next } { print }' \
	    "$srcdir/conf/lighttpd.conf.in" >"$conf.in"
	render "$conf.in" "$conf"
	rm -f "$conf.in"
}

# web_render, web_test, web_launch: the parts of start_web that differ.
web_render() { "render_$WEB"; }

web_test() {
	case $WEB in
	apache) apache2 -f "$(web_conf apache)" -t ;;
	# -tt also loads the modules (TLS files, client CA); it spawns no
	# workers.
	lighttpd) lighttpd -tt -f "$(web_conf lighttpd)" ;;
	esac
}

# Both daemonize; the daemon writes DIR/run/WEB.pid.  A start that fails
# (port taken, bad TLS file) makes the command fail.
web_launch() {
	case $WEB in
	apache) apache2 -f "$(web_conf apache)" -k start ;;
	lighttpd) lighttpd -f "$(web_conf lighttpd)" ;;
	esac
}

# count_workers: the rig's estca-fcgi processes (mod_fcgid's or lighttpd's).
count_workers() {
	local p a n=0
	for p in /proc/[0-9]*; do
		a=
		IFS= read -r -d '' a 2>/dev/null <"$p/cmdline" || true
		if [ "$a" = "$DIR/bin/estca-fcgi" ]; then
			n=$((n + 1))
		fi
	done
	echo "$n"
}

# warm_apache: spawn mod_fcgid's whole pool (FcgidMaxProcessesPerClass) now,
# not during the first test or benchmark.  mod_fcgid starts a worker only
# for a request that finds none idle, and (unless none is busy) only after
# that request has slept a whole second and still finds none idle
# (fcgid_bridge.c): a burst of quick GETs brings up 1-3 workers and later
# load grows the pool one 1-s stall at a time.  So the engine is held
# (SIGSTOP) while as many cacerts requests as the pool has workers are in
# flight: each one that has a worker waits there for the engine, every
# other one still finds all busy after its second and has a worker spawned
# (FcgidSpawnScoreUpLimit lets the whole pool start within that second).
# The engine resumes after 3 s, well inside the workers' engine_timeout_ms
# (5 s), and every request is answered.  FcgidMinProcessesPerClass equal
# to the maximum keeps mod_fcgid from reaping any of them later.
warm_apache() {
	local want have epid round i warm
	want=$(awk '$1 == "FcgidMaxProcessesPerClass" { print $2 }' \
	    "$(web_conf apache)")
	epid=$(read_pid "$RUN/signd.pid" || true)
	pid_runs "$epid" "$DIR/bin/estca-signd" || {
		warn "apache: engine not running, pool not warmed"
		return 0
	}
	have=$(count_workers)
	for round in 1 2 3; do
		[ "$have" -ge "${want:-16}" ] && break
		# Never leave the engine stopped, whatever ends this script.
		trap 'kill -CONT "$epid" 2>/dev/null' EXIT
		trap 'kill -CONT "$epid" 2>/dev/null; exit 1' INT TERM
		kill -STOP "$epid"
		warm=()
		for ((i = 0; i < ${want:-16}; i++)); do
			curl -s -o /dev/null --max-time 20 --cacert "$DIR/ca/ca.pem" \
			    "$URL/.well-known/est/cacerts" </dev/null &
			warm+=($!)
		done
		sleep 3
		kill -CONT "$epid"
		trap - EXIT INT TERM
		# Only these: a bare `wait` would also wait for the engine.
		wait "${warm[@]}" || true
		have=$(count_workers)
	done
	say "apache: $have of ${want:-16} workers started"
	[ "$have" -ge "${want:-16}" ] ||
	    warn "apache: pool not full: requests beyond $have at once sleep 1 s in mod_fcgid"
}

start_web() {
	local tries=1 pid code conf pidfile startlog errlog errlines
	conf=$(web_conf "$WEB")
	pidfile=$RUN/$WEB.pid
	startlog=$LOG/$WEB-start.log
	errlog=$LOG/$WEB-error.log
	while :; do
		if [ "$PORT_ARG" = 0 ]; then
			PORT=$(free_port) || die "no free port (python3)"
		else
			PORT=$PORT_ARG
		fi
		web_render
		web_test >>"$SETUP_LOG" 2>&1 ||
		    die "$WEB rejects $conf" "$SETUP_LOG"
		say "$WEB: start on 127.0.0.1:$PORT"
		rm -f "$pidfile"
		# The port check below reads only what this attempt adds to the
		# error log.
		errlines=0
		[ ! -f "$errlog" ] || errlines=$(wc -l <"$errlog")
		if web_launch </dev/null >>"$startlog" 2>&1; then
			UP_STARTED=yes
			poll "$WAIT_SECONDS" test -s "$pidfile" ||
			    die "$WEB wrote no pid file" "$startlog" "$errlog"
			break
		fi
		# Another process may have taken the free port since we chose it.
		if [ "$PORT_ARG" = 0 ] && [ $tries -lt 5 ] &&
		    { tail -n 5 "$startlog"; tail -n +"$((errlines + 1))" "$errlog" 2>/dev/null; } |
		    grep -q 'Address already in use'; then
			tries=$((tries + 1))
			continue
		fi
		die "$WEB did not start" "$startlog" "$errlog"
	done
	pid=$(read_pid "$pidfile")
	pid_runs "$pid" "$conf" || die "$WEB (pid $pid) is not running" "$startlog" "$errlog"
	URL=https://127.0.0.1:$PORT
	# Ready when TLS with our CA works and any HTTP answer comes back.
	web_ready() {
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
		    --cacert "$DIR/ca/ca.pem" "$URL/") || true
		[ "${code:-000}" != 000 ] && return 0
		pid_gone "$pid" && return 2
		return 1
	}
	poll "$WAIT_SECONDS" web_ready ||
	    die "no HTTPS answer from $URL" "$errlog"
	say "$WEB: ready (pid $pid)"
	if [ "$WEB" = apache ]; then
		warm_apache
	fi
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 \
	    --cacert "$DIR/ca/ca.pem" "$URL/.well-known/est/cacerts") || true
	say "$WEB: GET /.well-known/est/cacerts answers ${code:-nothing}"
}

write_env() {
	local pgsock
	pgsock=$(printf '%s' "$DIR/pg" | sed 's|/|%2F|g')
	cat >"$DIR/rig.env.tmp" <<-EOF
	# estca rig in $DIR, written by tests/rig.sh; source it.
	ESTCA_URL=$URL
	ESTCA_CACERT=$DIR/ca/ca.pem
	ESTCA_PGURI=postgresql://postgres@$pgsock/estca
	SOFTHSM2_CONF=$HSM/softhsm2.conf
	ESTCA_RIG_DIR=$DIR
	ESTCA_WEB=$WEB
	ESTCA_PORT=$PORT
	ESTCA_CA_CHAIN=$DIR/ca/chain.pem
	ESTCA_PGHOST=$DIR/pg
	ESTCA_PGBIN=$PGBIN
	ESTCA_ENGINE_SOCKET=$SIGND_SOCK
	ESTCA_SOFTHSM_MODULE=$SOFTHSM_MODULE
	ESTCA_TOKEN_LABEL=$TOKEN_LABEL
	ESTCA_KEY_LABEL=$KEY_LABEL
	ESTCA_PIN_FILE=$HSM/user.pin
	ESTCA_TLS_KEY=$TLS/server.key
	ESTCA_TLS_CERT=$TLS/server.pem
	ESTCA_ALIAS=est
	export ESTCA_URL ESTCA_CACERT ESTCA_PGURI SOFTHSM2_CONF ESTCA_RIG_DIR ESTCA_WEB ESTCA_PORT ESTCA_CA_CHAIN ESTCA_PGHOST ESTCA_PGBIN ESTCA_ENGINE_SOCKET ESTCA_SOFTHSM_MODULE ESTCA_TOKEN_LABEL ESTCA_KEY_LABEL ESTCA_PIN_FILE ESTCA_TLS_KEY ESTCA_TLS_CERT ESTCA_ALIAS
	EOF
	chmod 644 "$DIR/rig.env.tmp"
	mv "$DIR/rig.env.tmp" "$DIR/rig.env"
}

do_up() {
	local pid w
	if [ -f "$DIR/rig.env" ]; then
		for w in $WEB_SERVERS; do
			pid=$(read_pid "$RUN/$w.pid" || true)
			if [ -n "$pid" ] && pid_runs "$pid" "$(web_conf "$w")"; then
				die "a rig is already up in $DIR (run: $0 down $DIR)"
			fi
		done
	fi
	if [ -d "$RUN" ]; then
		# Whatever an interrupted earlier `up` left running.
		do_down >/dev/null 2>&1 || true
	fi
	check_tools
	ensure_users
	make_dirs
	echo "==== rig.sh up $(date -u +%FT%TZ)" >>"$SETUP_LOG"
	copy_binaries
	setup_hsm
	setup_tls
	lock_hsm
	setup_postgres
	render_configs
	start_engine
	# The workers must reach their config, Postgres and the engine socket
	# as www-data.
	runuser -u "$WEB_USER" -- env ESTCA_FCGI_CONF="$DIR/fcgi/fcgi.conf" \
	    "$DIR/bin/estca-fcgi" -n >>"$SETUP_LOG" 2>&1 ||
	    die "estca-fcgi -n (as $WEB_USER) rejects $DIR/fcgi/fcgi.conf" "$SETUP_LOG"
	start_web
	write_env
	say "up: $URL (source $DIR/rig.env)"
}

# ---- main -----------------------------------------------------------------

[ $# -ge 2 ] || usage
cmd=$1
set_dir "$2"
shift 2
PORT_ARG=0
WEB=apache
KEY_TYPE=ec:P-256
BUILDDIR=
while [ $# -gt 0 ]; do
	[ "$cmd" = up ] || usage
	case $1 in
	--port) [ $# -ge 2 ] || usage; PORT_ARG=$2; shift ;;
	--web) [ $# -ge 2 ] || usage; WEB=$2; shift ;;
	--builddir) [ $# -ge 2 ] || usage; BUILDDIR=$2; shift ;;
	--key-type) [ $# -ge 2 ] || usage; KEY_TYPE=$2; shift ;;
	*) usage ;;
	esac
	shift
done
case $PORT_ARG in
''|*[!0-9]*) echo "$PROG: --port wants a number" >&2; exit 2 ;;
esac
[ "$PORT_ARG" -le 65535 ] || { echo "$PROG: --port out of range" >&2; exit 2; }
need_root
case $KEY_TYPE in
ec:P-256|ec:P-384|rsa:2048|rsa:3072) ;;
*) echo "$PROG: --key-type is one of ec:P-256 ec:P-384 rsa:2048 rsa:3072" >&2; exit 2 ;;
esac
case $WEB in
apache|lighttpd) ;;
*) echo "$PROG: --web is apache or lighttpd" >&2; exit 2 ;;
esac
if [ "$cmd" != up ]; then
	:
elif [ -z "$BUILDDIR" ]; then
	if [ -n "${top_builddir:-}" ]; then
		BUILDDIR=$top_builddir
	elif [ -x "$srcdir/engine/estca-signd" ]; then
		BUILDDIR=$srcdir
	else
		BUILDDIR=$srcdir/build
	fi
fi
if [ "$cmd" = up ]; then
	[ -d "$BUILDDIR" ] || { echo "$PROG: no build directory $BUILDDIR" >&2; exit 2; }
	BUILDDIR=$(cd "$BUILDDIR" && pwd)
fi
# Commands run as postgres or www-data need a working directory they can
# enter.
cd /
umask 022

case $cmd in
up) do_up ;;
down)
	do_down
	[ ! -d "$DIR" ] || say "down: $DIR (data kept; remove with: rm -rf $DIR)" ;;
engine-stop) stop_engine ;;
engine-start)
	[ -f "$SIGND_CONF" ] || die "no $SIGND_CONF: bring the rig up first"
	start_engine ;;
*) usage ;;
esac
