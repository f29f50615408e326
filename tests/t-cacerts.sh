#!/bin/bash
# t-cacerts.sh - a whole rig answers /cacerts over real TLS.
#
# Brings a rig up in a temporary directory and checks, with curl, openssl
# and pkcs11-tool only:
#   - cacerts with and without the alias: 200, base64 certs-only PKCS#7
#     holding the CA, whose chain verifies and which anchors the TLS server
#     certificate the web server presents;
#   - the same over HTTP/1.1 and, where the server offers it, HTTP/2;
#   - the workers run as www-data;
#   - the CA key is in the token, sensitive and never extractable, and is
#     the key of the CA certificate; no file of the rig holds a private key
#     other than the web server's TLS key;
#   - error statuses: unknown alias or operation 404 (also for a path that
#     only starts like /.well-known/est), wrong method 405, fullcmc 501,
#     engine stopped 503 with Retry-After, and back to 200 once the engine
#     runs again.
#
# ESTCA_TEST_WEB picks the web server: apache (default) or lighttpd
# (t-cacerts-lighttpd.sh).
set -u
. "$(dirname "$0")/lib.sh"

WEB=${ESTCA_TEST_WEB:-apache}
case $WEB in
apache|lighttpd) ;;
*) echo "Bail out! ESTCA_TEST_WEB is apache or lighttpd, not '$WEB'"; exit 1 ;;
esac

need_root
need_cmd curl openssl pkcs11-tool base64 python3
case $WEB in
apache) need_cmd apache2 ;;
lighttpd) need_cmd lighttpd ;;
esac
rig_up --web "$WEB"
diag "web server: $ESTCA_WEB"
is "rig.env says ESTCA_WEB=$WEB" "$ESTCA_WEB" "$WEB"

W=$ESTCA_RIG_DIR/t-cacerts
mkdir -p "$W"
EST=$ESTCA_URL/.well-known/est

# get NAME URL: fetch into $W/NAME.{body,hdr}; print the status.
get() {
	curl -s --cacert "$ESTCA_CACERT" --max-time 30 -D "$W/$1.hdr" \
	    -o "$W/$1.body" -w '%{http_code}' "$2"
}

header() {
	# header FILE NAME: value of the last NAME: line, CR removed.
	sed -n "s/^$2:[[:space:]]*//Ip" "$1" | tr -d '\r' | tail -n1
}

# decode NAME: base64 body -> DER -> PEM certificates in $W/NAME.pem
decode() {
	base64 -d "$W/$1.body" >"$W/$1.der" &&
	    openssl pkcs7 -inform DER -in "$W/$1.der" -print_certs \
	    -out "$W/$1.pem" &&
	    [ "$(grep -c 'BEGIN CERTIFICATE' "$W/$1.pem")" -ge 1 ]
}

fingerprint() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2
}

# split_pem IN PREFIX: one file per certificate, PREFIX.1, PREFIX.2, ...
split_pem() {
	awk -v p="$2" '/BEGIN CERTIFICATE/ { n++ } n { print > (p "." n) }' "$1"
}

spki_der() {
	openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER
}

# ---- cacerts --------------------------------------------------------------

is "GET /cacerts answers 200" "$(get plain "$EST/cacerts")" 200
ctype=$(header "$W/plain.hdr" Content-Type)
case $ctype in
application/pkcs7-mime*) ok "Content-Type is application/pkcs7-mime ($ctype)" ;;
*) fail "Content-Type is application/pkcs7-mime" "got: '$ctype'" ;;
esac
check "body is base64 of a certs-only PKCS#7" decode plain

split_pem "$W/plain.pem" "$W/cert"
ca_fp=$(fingerprint "$ESTCA_CACERT")
found=no
for c in "$W"/cert.*; do
	[ "$(fingerprint "$c")" = "$ca_fp" ] && found=yes
done
is "PKCS#7 holds the rig's CA certificate" "$found" yes

# Every certificate chains to the root in the reply (the root is the
# self-signed one; the others may serve as intermediates).
: >"$W/roots.pem"
for c in "$W"/cert.*; do
	if [ "$(openssl x509 -in "$c" -noout -subject)" = \
	    "subject=$(openssl x509 -in "$c" -noout -issuer | sed 's/^issuer=//')" ]; then
		cat "$c" >>"$W/roots.pem"
	fi
done
check "PKCS#7 holds a self-signed root" test -s "$W/roots.pem"
bad=
for c in "$W"/cert.*; do
	openssl verify -CAfile "$W/roots.pem" -untrusted "$W/plain.pem" "$c" \
	    >/dev/null 2>&1 || bad="$bad $(basename "$c")"
done
is "every certificate of the chain verifies" "${bad:-none}" none
check "the CA certificate is a CA" sh -c \
    "openssl x509 -in '$ESTCA_CACERT' -noout -ext basicConstraints | grep -q 'CA:TRUE'"

is "GET /est/cacerts (alias est) answers 200" "$(get alias "$EST/est/cacerts")" 200
if decode alias && cmp -s "$W/plain.pem" "$W/alias.pem"; then
	ok "alias est gives the same certificates as no alias"
else
	fail "alias est gives the same certificates as no alias"
fi

# ---- TLS server certificate -----------------------------------------------

check "TLS server certificate verifies against the CA from cacerts" \
    openssl verify -purpose sslserver -CAfile "$W/roots.pem" \
    -untrusted "$W/plain.pem" "$ESTCA_TLS_CERT"
served=$(openssl s_client -connect "127.0.0.1:$ESTCA_PORT" -servername localhost \
    </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 2>/dev/null |
    cut -d= -f2)
is "$WEB presents the rig's TLS certificate" "$served" \
    "$(fingerprint "$ESTCA_TLS_CERT")"
check "curl verifies https://localhost (SAN DNS:localhost)" \
    curl -sf -o /dev/null --cacert "$ESTCA_CACERT" \
    --resolve "localhost:$ESTCA_PORT:127.0.0.1" \
    "https://localhost:$ESTCA_PORT/.well-known/est/cacerts"
if cmp -s <(spki_der "$ESTCA_TLS_CERT") <(spki_der "$ESTCA_CACERT"); then
	fail "TLS server key differs from the CA key"
else
	ok "TLS server key differs from the CA key"
fi

# ---- HTTP versions ------------------------------------------------------------

# vget NAME CURL-OPTION URL: fetch into $W/NAME.body; print "status version".
vget() {
	curl -s --cacert "$ESTCA_CACERT" --max-time 30 -o "$W/$1.body" \
	    -w '%{http_code} %{http_version}' "$2" "$3"
}
# lighttpd offers h2 (ALPN); the rig's Apache loads no mod_http2, so curl
# falls back to HTTP/1.1 there.
case $WEB in
lighttpd) h2=2 ;;
*) h2=1.1 ;;
esac
is "HTTP/1.1: GET /cacerts answers 200" "$(vget h1 --http1.1 "$EST/cacerts")" "200 1.1"
check "HTTP/1.1: same certificates" cmp "$W/h1.body" "$W/plain.body"
is "curl --http2: GET /cacerts answers 200 over HTTP/$h2" \
    "$(vget h2 --http2 "$EST/cacerts")" "200 $h2"
check "curl --http2: same certificates" cmp "$W/h2.body" "$W/plain.body"
is "curl --http2: unknown alias 404" \
    "$(vget h2e --http2 "$EST/nosuchalias/cacerts")" "404 $h2"
is "curl --http2: /.well-known/estXYZ/cacerts 404" \
    "$(vget h2x --http2 "$ESTCA_URL/.well-known/estXYZ/cacerts")" "404 $h2"
is "curl --http2: POST /cacerts 405" "$(curl -s --cacert "$ESTCA_CACERT" \
    --max-time 30 -o /dev/null -w '%{http_code} %{http_version}' --http2 \
    -H 'Content-Type: application/pkcs10' --data-binary x "$EST/cacerts")" "405 $h2"

# ---- the workers ------------------------------------------------------------

# The users of this rig's estca-fcgi processes, one line each.
worker_users() {
	local f pid
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		case $(tr '\0' ' ' 2>/dev/null <"$f") in
		"$ESTCA_RIG_DIR/bin/estca-fcgi"*) ps -o user= -p "$pid" 2>/dev/null ;;
		esac
	done
}
is "estca-fcgi workers run as www-data" \
    "$(worker_users | sort -u | tr '\n' ' ')" "www-data "

# ---- the CA key lives in the token only -----------------------------------

# pkcs11-tool runs as the engine's user, who owns the token files; the PIN
# travels in the environment, never on a command line.
install -d -o estca -m 700 "$W/p11"
ESTCA_TEST_PIN=$(cat "$ESTCA_PIN_FILE")
export ESTCA_TEST_PIN
p11() {
	runuser -u estca -- pkcs11-tool --module "$ESTCA_SOFTHSM_MODULE" \
	    --token-label "$ESTCA_TOKEN_LABEL" "$@" 2>&1
}
privs=$(p11 --login --pin env:ESTCA_TEST_PIN --list-objects --type privkey)
unset ESTCA_TEST_PIN
if printf '%s\n' "$privs" | grep -q "label: *$ESTCA_KEY_LABEL\$"; then
	ok "token holds private key '$ESTCA_KEY_LABEL'"
else
	fail "token holds private key '$ESTCA_KEY_LABEL'" "$privs"
fi
access=$(printf '%s\n' "$privs" | grep -A3 "label: *$ESTCA_KEY_LABEL\$" |
    sed -n 's/^ *Access: *//p' | head -n1)
case $access in
*"never extractable"*) ok "CA key is never extractable ($access)" ;;
*) fail "CA key is never extractable" "access: '$access'" ;;
esac
case $access in
*sensitive*) ok "CA key is sensitive" ;;
*) fail "CA key is sensitive" "access: '$access'" ;;
esac
p11 --read-object --type pubkey --label "$ESTCA_KEY_LABEL" -o "$W/p11/pub.der" \
    >"$W/p11.out" || true
if [ -s "$W/p11/pub.der" ] && cmp -s "$W/p11/pub.der" <(spki_der "$ESTCA_CACERT"); then
	ok "token public key is the CA certificate's key"
else
	fail "token public key is the CA certificate's key" "$(cat "$W/p11.out")"
fi

# No file outside the token store holds a private key, PEM or DER, except
# the web server's TLS key.  Skipped: Postgres's data files and the copied programs,
# which are no key files.
keys=
while IFS= read -r -d '' f; do
	[ "$f" = "$ESTCA_TLS_KEY" ] && continue
	if grep -q -- '^-----BEGIN [A-Z ]*PRIVATE KEY-----' "$f" 2>/dev/null ||
	    openssl pkey -inform DER -in "$f" -noout -passin pass: >/dev/null 2>&1; then
		keys="$keys $f"
	fi
done < <(find "$ESTCA_RIG_DIR" \( -path "$ESTCA_RIG_DIR/pg/data" -o \
    -path "$ESTCA_RIG_DIR/hsm/tokens" -o -path "$ESTCA_RIG_DIR/bin" \) -prune \
    -o -type f -print0)
is "no private key in the rig's files but the TLS server key" "${keys:-none}" none
check "the TLS server key is readable by root only" sh -c \
    "[ \"\$(stat -c %a '$ESTCA_TLS_KEY')\" = 600 ]"

# ---- errors -----------------------------------------------------------------

is "unknown alias: 404" "$(http_status GET "$EST/nosuchalias/cacerts")" 404
is "unknown operation: 404" "$(http_status GET "$EST/nosuchop")" 404
is "unknown operation under alias: 404" "$(http_status GET "$EST/est/nosuchop")" 404
is "path that only starts like /.well-known/est: 404" \
    "$(http_status GET "$ESTCA_URL/.well-known/estXYZ/cacerts")" 404
is "POST /cacerts: 405" "$(http_status POST "$EST/cacerts" \
    -H 'Content-Type: application/pkcs10' --data-binary x)" 405
is "fullcmc: 501" "$(http_status POST "$EST/fullcmc" \
    -H 'Content-Type: application/pkcs7-mime' --data-binary x)" 501
get e404 "$EST/nosuchalias/cacerts" >/dev/null
is "error body is one line of text" "$(grep -c '' "$W/e404.body")" 1

# Concurrency: more requests at once than workers the server has started.
codes=$(
	for _ in $(seq 1 24); do
		curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 \
		    --cacert "$ESTCA_CACERT" "$EST/cacerts" &
	done
	wait
)
is "24 concurrent cacerts requests answer 200" \
    "$(printf '%s\n' "$codes" | sort | uniq -c | sed 's/^ *//' | tr '\n' ' ')" "24 200 "

# ---- engine down, engine back ---------------------------------------------

if "$RIG_SH" engine-stop "$ESTCA_RIG_DIR" >/dev/null 2>&1 &&
    [ ! -S "$ESTCA_ENGINE_SOCKET" ]; then
	ok "engine stopped (socket gone)"
else
	fail "engine stopped (socket gone)"
fi
is "engine down: cacerts answers 503" "$(get down "$EST/cacerts")" 503
retry=$(header "$W/down.hdr" Retry-After)
case $retry in
[0-9]*) ok "503 carries Retry-After ($retry)" ;;
*) fail "503 carries Retry-After" "got: '$retry'" ;;
esac
check "engine starts again" "$RIG_SH" engine-start "$ESTCA_RIG_DIR"
back() { [ "$(http_status GET "$EST/cacerts")" = 200 ]; }
if wait_until 20 back; then
	ok "engine back: cacerts answers 200 again"
else
	fail "engine back: cacerts answers 200 again" \
	    "last status $(http_status GET "$EST/cacerts")"
fi

done_testing
