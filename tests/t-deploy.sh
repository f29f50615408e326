#!/bin/bash
# t-deploy.sh - what `make install` gives an operator, and --check-config
# of the installed programs on the installed examples.
#
# The build tree is installed with DESTDIR into a scratch root; the test
# checks the files and their modes, that no rig template, rig path or
# @...@ placeholder reached an installed configuration, the man pages
# (groff -ww) and the unit (systemd-analyze verify).  Then, against a rig's
# token and database: estca-signd --check-config and estca-fcgi
# --check-config of the installed binaries on the installed examples with
# the rig's paths put in, passing and failing (one line, status 1); and an
# Apache started on the installed site snippet answers cacerts through the
# installed worker.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

need_root
need_cmd groff openssl curl apache2

# Run from `make check` (and distcheck), make's own settings must not leak
# into the makes below (TESTS=..., -w's "Entering directory" lines).
unset MAKEFLAGS MFLAGS MAKELEVEL
# The configured directories, as make expands them.
eval "$(make --no-print-directory -s -C "$top_builddir" -f Makefile -f - estca-print-dirs <<'MK'
estca-print-dirs:
	@echo "sbindir='$(sbindir)' sysconfdir='$(sysconfdir)' localstatedir='$(localstatedir)'"
	@echo "mandir='$(mandir)' docdir='$(docdir)' pkgdatadir='$(pkgdatadir)'"
	@echo "unitdir='$(systemdsystemunitdir)'"
MK
)" || { echo "Bail out! cannot read the build's directories"; exit 1; }
[ -n "${sbindir:-}" ] && [ -n "${unitdir:-}" ] ||
    { echo "Bail out! cannot read the build's directories"; exit 1; }

ROOT=$(mktemp -d "${TMPDIR:-/tmp}/estca-deploy.XXXXXX") ||
    { echo "Bail out! mktemp failed"; exit 1; }
APACHE_PID=
cleanup_deploy() {
	if [ -n "$APACHE_PID" ] && kill -0 "$APACHE_PID" 2>/dev/null; then
		kill -TERM "$APACHE_PID" 2>/dev/null
		wait_until 20 sh -c "! kill -0 $APACHE_PID 2>/dev/null"
	fi
	rm -rf "$ROOT"
}
trap cleanup_deploy EXIT
# www-data runs the installed worker: it must reach the scratch root.
chmod 755 "$ROOT"
D=$ROOT/destdir

if out=$(make -C "$top_builddir" install DESTDIR="$D" 2>&1); then
	ok "make install DESTDIR=..."
else
	fail "make install DESTDIR=..." "$(printf '%s\n' "$out" | tail -n 20)"
	done_testing
fi
chmod -R go+rX "$D"

mode_is() { [ "$(stat -c %a "$1")" = "$2" ]; }
for p in estca-signd estca-ca estca-fcgi estca-dbinit estca-hsm-init; do
	check "$sbindir/$p installed, mode 755" mode_is "$D$sbindir/$p" 755
done
nsql=$(find "$top_srcdir/sql" -name '[0-9][0-9][0-9]_*.sql' | wc -l)
is "every migration installed in $pkgdatadir/sql" \
    "$(find "$D$pkgdatadir/sql" -name '[0-9][0-9][0-9]_*.sql' -perm 644 | wc -l)" "$nsql"
for f in "$sysconfdir/estca/signd.conf.example" "$sysconfdir/estca/fcgi.conf.example" \
    "$docdir/examples/apache-estca.conf" "$docdir/examples/lighttpd-estca.conf" \
    "$docdir/examples/apache2.service-estca.conf" \
    "$docdir/examples/lighttpd.service-estca.conf" \
    "$unitdir/estca-signd.service"; do
	check "$f installed, mode 644" mode_is "$D$f" 644
done
for m in man8/estca-signd.8 man8/estca-fcgi.8 man8/estca-ca.8 man8/estca-hsm-init.8 \
    man8/estca-dbinit.8 man5/estca-signd.conf.5 man5/estca-fcgi.conf.5 man7/estca-sql.7; do
	out=
	if [ -f "$D$mandir/$m" ] && out=$(LC_ALL=C.UTF-8 groff -ww -mandoc -z "$D$mandir/$m" 2>&1) &&
	    [ -z "$out" ]; then
		ok "$m installed, groff -ww quiet"
	else
		fail "$m installed, groff -ww quiet" "${out:-missing}"
	fi
done
left=$(find "$D" -name '*.conf.in' -o -path '*/estca/conf' | sed "s|^$D||")
is "no rig template installed" "$left" ""
# Installed text that configures something: examples, snippets, the unit.
conf_files=$(find "$D$sysconfdir" "$D$docdir/examples" "$D$unitdir" -type f)
# shellcheck disable=SC2086
left=$(grep -n '@[A-Za-z_]*@' $conf_files | sed "s|^$D||")
is "no @...@ placeholder in installed configurations" "$left" ""
# shellcheck disable=SC2086
left=$(grep -n -e RIG_DIR -e estca-rig -e "$top_srcdir" -e "$top_builddir" \
    -e "$ROOT" -e '/tmp/' $conf_files | sed "s|^$D||")
is "no rig, source or build path in installed configurations" "$left" ""
check "installed unit names the installed programs" \
    grep -q "^ExecStart=$sbindir/estca-signd -f $sysconfdir/estca/signd.conf\$" \
    "$D$unitdir/estca-signd.service"
if command -v systemd-analyze >/dev/null 2>&1; then
	# verify wants the programs where the unit says; give it the unit
	# with the scratch root's paths.
	install -d "$ROOT/units"
	sed "s|$sbindir/|$D$sbindir/|g" "$D$unitdir/estca-signd.service" \
	    >"$ROOT/units/estca-signd.service"
	# MANPATH: Documentation= must name man pages that were installed.
	if out=$(MANPATH=$D$mandir SYSTEMD_LOG_LEVEL=notice systemd-analyze verify \
	    "$ROOT/units/estca-signd.service" 2>&1) && [ -z "$out" ]; then
		ok "systemd-analyze verify estca-signd.service"
	else
		fail "systemd-analyze verify estca-signd.service" "$out"
	fi
fi

# ---- against a rig: token, database, engine ----
rig_up
# On exit our Apache and the scratch root go first, then the rig
# (rig_cleanup reads the exit status from $?).
trap 'st=$?; cleanup_deploy; (exit $st); rig_cleanup' EXIT
R=$ROOT/run
install -d -m 755 "$R" "$R/log" "$R/sock"
chown estca "$R/log"

# The installed examples with the rig's token, chain, database, socket.
sed -e "s|^socket = .*|socket = $R/sock/signd.sock|" \
    -e "s|^pkcs11_module = .*|pkcs11_module = $ESTCA_SOFTHSM_MODULE|" \
    -e "s|^token_label = .*|token_label = $ESTCA_TOKEN_LABEL|" \
    -e "s|^pin_file = .*|pin_file = $ESTCA_PIN_FILE|" \
    -e "s|^audit_log = .*|audit_log = $R/log/audit.log|" \
    -e "s|^key_label = .*|key_label = $ESTCA_KEY_LABEL|" \
    -e "s|^chain = .*|chain = $ESTCA_CA_CHAIN|" \
    "$D$sysconfdir/estca/signd.conf.example" >"$R/signd.conf"
sed -e "s|host=/var/run/postgresql|host=$ESTCA_PGHOST|" \
    -e "s|^engine_socket = .*|engine_socket = $ESTCA_ENGINE_SOCKET|" \
    "$D$sysconfdir/estca/fcgi.conf.example" >"$R/fcgi.conf"
chmod 644 "$R/signd.conf" "$R/fcgi.conf"
SIGND=$D$sbindir/estca-signd
FCGI=$D$sbindir/estca-fcgi

# expect_fail NAME WANT CMD...: CMD exits 1 and its stderr has WANT.
expect_fail() {
	local name=$1 want=$2 out rc=0
	shift 2
	out=$("$@" 2>&1 >/dev/null) || rc=$?
	if [ "$rc" -eq 1 ] && printf '%s\n' "$out" | grep -qF -- "$want"; then
		ok "$name"
	else
		fail "$name" "status $rc, want 1 and: $want" "$out"
	fi
}

check "estca-signd -n on the adapted example" "$SIGND" -n -f "$R/signd.conf"
out=$(SOFTHSM2_CONF=$SOFTHSM2_CONF "$SIGND" --check-config -f "$R/signd.conf" 2>&1)
rc=$?
if [ $rc -eq 0 ] && printf '%s\n' "$out" | grep -q 'OK (1 CA, keys in the token sign'; then
	ok "estca-signd --check-config logs in and self-tests the key"
else
	fail "estca-signd --check-config logs in and self-tests the key" "status $rc" "$out"
fi
sed 's|^key_label = .*|key_label = no-such-key|' "$R/signd.conf" >"$R/signd-badkey.conf"
expect_fail "estca-signd --check-config: a missing CA key" \
    "a CA key is missing from token" \
    env SOFTHSM2_CONF="$SOFTHSM2_CONF" "$SIGND" --check-config -f "$R/signd-badkey.conf"
sed 's|^token_label = .*|token_label = no-such-token|' "$R/signd.conf" >"$R/signd-badtok.conf"
expect_fail "estca-signd --check-config: an unknown token" \
    "cannot log in to token 'no-such-token'" \
    env SOFTHSM2_CONF="$SOFTHSM2_CONF" "$SIGND" --check-config -f "$R/signd-badtok.conf"
sed "s|^socket = .*|socket = $R/nodir/signd.sock|" "$R/signd.conf" >"$R/signd-nodir.conf"
expect_fail "estca-signd --check-config: no socket directory" \
    "socket directory $R/nodir does not exist" \
    env SOFTHSM2_CONF="$SOFTHSM2_CONF" "$SIGND" --check-config -f "$R/signd-nodir.conf"
printf 'sockett = /x\n' >"$R/signd-typo.conf"
expect_fail "estca-signd -n: an unknown key" "unknown key 'sockett'" \
    "$SIGND" -n -f "$R/signd-typo.conf"

asweb() { runuser -u www-data -- "$@"; }
out=$(asweb "$FCGI" --check-config -f "$R/fcgi.conf" 2>&1)
rc=$?
if [ $rc -eq 0 ] && printf '%s\n' "$out" | grep -q 'OK: database as estca_fcgi at schema version'; then
	ok "estca-fcgi --check-config as www-data: database, schema, engine"
else
	fail "estca-fcgi --check-config as www-data: database, schema, engine" "status $rc" "$out"
fi
sed "s|^engine_socket = .*|engine_socket = $R/sock/none.sock|" "$R/fcgi.conf" >"$R/fcgi-noeng.conf"
expect_fail "estca-fcgi --check-config: no engine" \
    "engine: cannot connect to $R/sock/none.sock: No such file or directory" \
    asweb "$FCGI" --check-config -f "$R/fcgi-noeng.conf"
sed "s|user=estca_fcgi|user=estca_nobody|" "$R/fcgi.conf" >"$R/fcgi-norole.conf"
expect_fail "estca-fcgi --check-config: a role Postgres refuses" \
    "estca-fcgi: database: cannot connect:" \
    asweb "$FCGI" --check-config -f "$R/fcgi-norole.conf"
psql_admin() { "$ESTCA_PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 "$ESTCA_PGURI" "$@"; }
# The version this build expects, and the database's rows, restored after.
want=$(sed -n 's/^#define ESTCA_SCHEMA_VERSION //p' "$top_builddir/schema_version.h")
rows=$(psql_admin -c 'SELECT string_agg(version::text, $$,$$) FROM est.schema_migration')
psql_admin -c "DELETE FROM est.schema_migration WHERE version >= $want"
older=$(psql_admin -c 'SELECT max(version) FROM est.schema_migration')
expect_fail "estca-fcgi --check-config: schema older than the build" \
    "database: schema at version $older, this estca-fcgi needs $want" \
    asweb "$FCGI" --check-config -f "$R/fcgi.conf"
psql_admin -c "INSERT INTO est.schema_migration (version) VALUES ($want), ($((want + 1)))"
expect_fail "estca-fcgi --check-config: schema newer than the build" \
    "database: schema at version $((want + 1)) is newer than this estca-fcgi ($want)" \
    asweb "$FCGI" --check-config -f "$R/fcgi.conf"
psql_admin -c "DELETE FROM est.schema_migration WHERE version >= $want"
psql_admin -c "INSERT INTO est.schema_migration (version)
    SELECT v FROM unnest('{$rows}'::int[]) AS v WHERE v >= $want"
psql_admin -c "SELECT est.create_alias('deploy-bad', 'no-such-ca', 'device', 'challenge_password')" >/dev/null
expect_fail "estca-fcgi --check-config: an alias names a CA the engine lacks" \
    "engine: CA 'no-such-ca' (named by an alias): unknown CA 'no-such-ca'" \
    asweb "$FCGI" --check-config -f "$R/fcgi.conf"
psql_admin -c "DELETE FROM est.alias WHERE name = 'deploy-bad'"
check "estca-fcgi --check-config passes again" asweb "$FCGI" --check-config -f "$R/fcgi.conf"

# ---- the installed Apache site in a private Apache ----
A=$ROOT/apache
install -d -m 755 "$A" "$A/htdocs" "$A/run" "$A/log"
install -d -m 755 -o www-data "$A/fcgid"
install -d -m 700 "$A/tls"
cp "$ESTCA_TLS_CERT" "$ESTCA_TLS_KEY" "$A/tls/"
PORT=$(python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The snippet as installed, with the scratch root's program and config,
# the rig's TLS pair, and a loopback port.
sed -e "s|$sbindir|$D$sbindir|g" \
    -e "s|FcgidInitialEnv ESTCA_FCGI_CONF .*|FcgidInitialEnv ESTCA_FCGI_CONF $R/fcgi.conf|" \
    -e "s|/etc/estca/tls/server.pem|$A/tls/$(basename "$ESTCA_TLS_CERT")|" \
    -e "s|/etc/estca/tls/server.key|$A/tls/$(basename "$ESTCA_TLS_KEY")|" \
    -e "s|/var/www/estca|$A/htdocs|g" \
    -e "s|<VirtualHost \*:443>|<VirtualHost 127.0.0.1:$PORT>|" \
    "$D$docdir/examples/apache-estca.conf" >"$A/site.conf"
cat >"$A/apache.conf" <<CONF
# Debian's apache2.conf, as far as the site needs it.
ServerRoot $A
ServerName localhost
Listen 127.0.0.1:$PORT
PidFile $A/run/apache.pid
DefaultRuntimeDir $A/run
ErrorLog $A/log/error.log
Define APACHE_LOG_DIR $A/log
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
LoadModule socache_shmcb_module /usr/lib/apache2/modules/mod_socache_shmcb.so
LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
LoadModule fcgid_module /usr/lib/apache2/modules/mod_fcgid.so
User www-data
Group www-data
Mutex pthread default
FcgidIPCDir $A/fcgid
FcgidProcessTableFile $A/fcgid/shm
SSLSessionCache shmcb:$A/run/ssl_scache(512000)
<Directory />
	AllowOverride None
	Require all denied
</Directory>
Include $A/site.conf
CONF
check "apache2 -t on the installed site snippet" apache2 -f "$A/apache.conf" -t
if apache2 -f "$A/apache.conf" -k start >"$A/log/start.log" 2>&1 &&
    wait_until 30 test -s "$A/run/apache.pid"; then
	APACHE_PID=$(cat "$A/run/apache.pid")
	ok "Apache starts on the installed site snippet"
else
	fail "Apache starts on the installed site snippet" "$(cat "$A/log/start.log" "$A/log/error.log" 2>/dev/null)"
fi
got() {
	curl -s --max-time 20 --cacert "$ESTCA_CACERT" \
	    "https://127.0.0.1:$PORT/.well-known/est/cacerts" | base64 -d 2>/dev/null |
	    openssl pkcs7 -inform DER -print_certs -noout 2>/dev/null | grep -c '^subject='
}
wait_until 30 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --cacert '$ESTCA_CACERT' https://127.0.0.1:$PORT/.well-known/est/cacerts)\" = 200 ]"
is "cacerts through the installed site and worker" "$(got)" \
    "$(grep -c 'BEGIN CERTIFICATE' "$ESTCA_CA_CHAIN")"
head -c 70000 /dev/zero | tr '\0' A >"$A/big.b64"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 --cacert "$ESTCA_CACERT" \
    -H 'Content-Type: application/pkcs10' --data-binary @"$A/big.b64" \
    "https://127.0.0.1:$PORT/.well-known/est/simpleenroll")
is "a body announced above max_body: 413 from the site's <If> block" "$code" 413
[ "$T_FAILED" -eq 0 ] || diag_file "$A/log/error.log"

done_testing
