#!/bin/bash
# t-engine.sh - estca-signd on a real SoftHSM token, driven through the
# client library by tests/engine-client: every CA key type signs, each
# profile rule refuses, keygen happens in the token, bad frames and foreign
# peers are turned away, and the engine keeps serving throughout.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd openssl softhsm2-util pkcs11-tool

MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
D=$(mktemp -d "${TMPDIR:-/tmp}/estca-engine.XXXXXX")
chmod 755 "$D"
ENGINE_PID=
cleanup() {
	local st=$?
	trap - EXIT
	if [ -n "$ENGINE_PID" ] && kill -0 "$ENGINE_PID" 2>/dev/null; then
		kill -TERM "$ENGINE_PID"
		wait "$ENGINE_PID" 2>/dev/null
	fi
	if [ "$st" -ne 0 ] || [ "$T_FAILED" -ne 0 ]; then
		diag_file "$D/signd.log" 60
	fi
	rm -rf "$D"
	exit "$st"
}
trap cleanup EXIT

id estca >/dev/null 2>&1 ||
    useradd --system --no-create-home --shell /usr/sbin/nologin estca
mkdir -p "$D/bin" "$D/run"
install -m 755 "$top_builddir/engine/estca-signd" "$top_builddir/engine/estca-ca" \
    "$top_builddir/tests/engine-client" "$D/bin/"
CA="$D/bin/estca-ca"
EC="$D/bin/engine-client"
SOCK="$D/run/signd.sock"

# One token, four CA keys: one per supported CA key type.
"$top_srcdir/hsm/estca-hsm-init" --dir "$D/hsm" --key-type ec:P-256 \
    --key-label ca-p256 --subject "CN=estca test P-256 CA" --estca-ca "$CA" \
    --module "$MODULE" >"$D/init.log" 2>&1 ||
    { cat "$D/init.log"; echo "Bail out! token set-up failed"; exit 1; }
export SOFTHSM2_CONF=$D/hsm/softhsm2.conf
cp "$D/hsm/chain.pem" "$D/ca-p256.pem"
P11=(--module "$MODULE" --token estca --pin-file "$D/hsm/user.pin")
for t in ec:P-384 rsa:2048 rsa:3072; do
	l=ca-$(echo "$t" | tr -d ':-' | sed 's/^ecP/p/')
	"$CA" genkey "${P11[@]}" --key-label "$l" --type "$t" >>"$D/init.log" 2>&1 &&
	"$CA" selfsign "${P11[@]}" --key-label "$l" --subject "CN=estca test $t CA" \
	    --out "$D/$l.pem" >>"$D/init.log" 2>&1 ||
	    { cat "$D/init.log"; echo "Bail out! CA $t set-up failed"; exit 1; }
done
# --subject is RFC 4514 text, read as registered subjects are: the last RDN
# written is the first in the certificate; the former /CN=... is refused.
if "$CA" selfsign "${P11[@]}" --key-label ca-p384 --subject "/CN=old form" \
    --out "$D/old.pem" >/dev/null 2>"$D/old.err"; then
	fail "selfsign refuses a /CN=... subject"
else
	is "selfsign refuses a /CN=... subject, naming the RFC 4514 form" \
	    "$(wc -l <"$D/old.err") $(grep -c 'CN=name,O=org' "$D/old.err")" "1 1"
fi
"$CA" selfsign "${P11[@]}" --key-label ca-p384 \
    --subject 'CN=estca test\, multi CA,O=Example+OU=Test,C=SE' \
    --out "$D/multi.pem" >>"$D/init.log" 2>&1
is "selfsign: RFC 4514 subject round-trips" \
    "$(openssl x509 -in "$D/multi.pem" -noout -subject -nameopt RFC2253 2>&1)" \
    'subject=CN=estca test\, multi CA,O=Example+OU=Test,C=SE'
is "selfsign: the last RDN written is the first in the certificate" \
    "$(openssl x509 -in "$D/multi.pem" -noout -subject -nameopt oneline 2>&1 |
    cut -d, -f1)" 'subject=C = SE'
"$CA" subca "${P11[@]}" --key-label ca-rsa3072 --issuer-key-label ca-p384 \
    --issuer-cert "$D/multi.pem" --subject 'CN=estca test sub CA,O=Example' \
    --out "$D/sub.pem" >>"$D/init.log" 2>&1
is "subca: RFC 4514 subject, issued under the root" \
    "$(openssl x509 -in "$D/sub.pem" -noout -subject -issuer -nameopt RFC2253 2>&1 |
    tr '\n' ';')" 'subject=CN=estca test sub CA,O=Example;issuer=CN=estca test\, multi CA,O=Example+OU=Test,C=SE;'
chown -R estca "$D/hsm" "$D/run"

cat > "$D/signd.conf" <<CONF
socket = $SOCK
socket_mode = 0666
allow_uids = 0
user = estca
pkcs11_module = $MODULE
token_label = estca
pin_file = $D/hsm/user.pin
audit_log = $D/audit.log

[ca p256]
key_label = ca-p256
chain = $D/ca-p256.pem
[ca p384]
key_label = ca-p384
chain = $D/ca-p384.pem
[ca rsa2048]
key_label = ca-rsa2048
chain = $D/ca-rsa2048.pem
[ca rsa3072]
key_label = ca-rsa3072
chain = $D/ca-rsa3072.pem
[ca rsa2048pss]
key_label = ca-rsa2048
chain = $D/ca-rsa2048.pem
signature = rsa-pss

[profile iot]
validity_days = 30
max_validity_days = 90
ext_key_usage = clientAuth
san_types = dns
key_types = ec:P-256

[profile agree]
max_validity_days = 30
key_usage = digitalSignature keyAgreement
san_types = dns ip
key_types = rsa ec:P-256
CONF

check "config check accepts the configuration" "$D/bin/estca-signd" -n -f "$D/signd.conf"
sed 's/^audit_log/audit_lgo/' "$D/signd.conf" > "$D/bad.conf"
sed 's/^key_label = ca-p256$/key_label = ca-p256\nsignature = rsa-pss/' "$D/signd.conf" > "$D/badpss.conf"
if "$D/bin/estca-signd" -n -f "$D/badpss.conf" >/dev/null 2>&1; then
	fail "config check refuses rsa-pss for an EC CA"
else
	ok "config check refuses rsa-pss for an EC CA"
fi
if "$D/bin/estca-signd" -n -f "$D/bad.conf" >/dev/null 2>&1; then
	fail "config check refuses an unknown key"
else
	ok "config check refuses an unknown key"
fi

"$D/bin/estca-signd" -f "$D/signd.conf" >/dev/null 2>>"$D/signd.log" &
ENGINE_PID=$!
if wait_until 20 test -S "$SOCK" && wait_until 10 "$EC" "$SOCK" health; then
	ok "engine starts and answers health"
else
	fail "engine starts and answers health"
	echo "Bail out! engine did not start"
	exit 1
fi
is "engine runs as its own user" "$(ps -o user= -p "$ENGINE_PID" | tr -d ' ')" estca

# CSRs
csr() { # csr NAME SUBJECT OPENSSL-REQ-ARGS...: key and CSR in $D/NAME.*
	local n=$1 s=$2
	shift 2
	openssl req -new -nodes -keyout "$D/$n.key" -subj "$s" "$@" \
	    -out "$D/$n.csr" 2>/dev/null </dev/null ||
	    { echo "Bail out! cannot make CSR $n"; exit 1; }
}
P256=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
csr ec256 /CN=dev-ec256 "${P256[@]}" -addext "subjectAltName=DNS:dev.example,IP:192.0.2.7"
csr rsa2048 /CN=dev-rsa -newkey rsa:2048
csr rsa1024 /CN=dev-weak -newkey rsa:1024
csr ec521 /CN=dev-p521 -newkey ec -pkeyopt ec_paramgen_curve:P-521
csr nosubj / "${P256[@]}"
csr sanonly / "${P256[@]}" -addext "subjectAltName=DNS:only-san.example"
csr dnsonly /CN=iot-1 "${P256[@]}" -addext "subjectAltName=DNS:iot-1.example"
csr wantsca /CN=sneaky "${P256[@]}" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "1.2.3.4.5=ASN1:UTF8String:x"

for ca in p256 p384 rsa2048 rsa3072; do
	for k in ec256 rsa2048; do
		if "$EC" "$SOCK" sign "$ca" device "$D/$k.csr" > "$D/$ca-$k.pem" &&
		    openssl verify -CAfile "$D/ca-$ca.pem" "$D/$ca-$k.pem" >/dev/null 2>&1; then
			ok "CA $ca signs a $k CSR and openssl verifies it"
		else
			fail "CA $ca signs a $k CSR and openssl verifies it" "$(cat "$D/$ca-$k.pem")"
		fi
	done
done
if "$EC" "$SOCK" sign rsa2048pss device "$D/ec256.csr" > "$D/pss.pem" &&
    openssl verify -CAfile "$D/ca-rsa2048.pem" "$D/pss.pem" >/dev/null 2>&1 &&
    openssl x509 -in "$D/pss.pem" -noout -text | grep -q 'Signature Algorithm: rsassaPss'; then
	ok "RSA CA configured for PSS signs RSASSA-PSS certificates that verify"
else
	fail "RSA CA configured for PSS signs RSASSA-PSS certificates that verify" \
	    "$(head -3 "$D/pss.pem")"
fi
txt=$(openssl x509 -in "$D/p384-ec256.pem" -noout -text)
case "$txt" in *ecdsa-with-SHA384*) ok "P-384 CA signs with SHA-384" ;;
*) fail "P-384 CA signs with SHA-384" ;; esac
txt=$(openssl x509 -in "$D/p256-ec256.pem" -noout -text)
for want in "CA:FALSE" "Digital Signature" "TLS Web Client Authentication" \
    "DNS:dev.example" "IP Address:192.0.2.7" "Subject Key Identifier" \
    "Authority Key Identifier"; do
	case "$txt" in *"$want"*) ok "certificate has $want" ;;
	*) fail "certificate has $want" ;; esac
done
sn=$(openssl x509 -in "$D/p256-ec256.pem" -noout -serial | cut -d= -f2)
sn2=$(openssl x509 -in "$D/p256-rsa2048.pem" -noout -serial | cut -d= -f2)
if [ ${#sn} -le 40 ] && [ ${#sn} -ge 30 ] && [ "$sn" != "$sn2" ] &&
    [ $((16#${sn:0:1})) -lt 8 ]; then
	ok "serials are random, positive, at most 20 octets"
else
	fail "serials are random, positive, at most 20 octets" "$sn $sn2"
fi
if "$EC" "$SOCK" sign p256 device "$D/wantsca.csr" > "$D/wantsca.pem"; then
	txt=$(openssl x509 -in "$D/wantsca.pem" -noout -text)
	case "$txt" in *CA:TRUE*|*1.2.3.4.5*) fail "CSR extensions never reach the certificate" ;;
	*) ok "CSR extensions never reach the certificate" ;; esac
else
	fail "CSR extensions never reach the certificate" "$(cat "$D/wantsca.pem")"
fi
if "$EC" "$SOCK" sign p256 device "$D/sanonly.csr" > "$D/sanonly.pem" &&
    openssl x509 -in "$D/sanonly.pem" -noout -text | grep -A1 'Subject Alternative Name: critical' |
    grep -q only-san; then
	ok "empty subject gets a critical SAN"
else
	fail "empty subject gets a critical SAN"
fi

# refuse NAME EXPECTED-REASON-PART ARGS...: the engine answers an error.
refuse() {
	local name=$1 want=$2 out
	shift 2
	out=$("$EC" "$SOCK" "$@")
	case "$?:$out" in
	2:*"$want"*) ok "refused: $name" ;;
	*) fail "refused: $name" "got: $out" "want an error with: $want" ;;
	esac
}
refuse "RSA key below 2048 bits" "RSA key of 1024 bits" sign p256 device "$D/rsa1024.csr"
refuse "unsupported curve P-521" "curve secp521r1 not allowed" sign p256 device "$D/ec521.csr"
refuse "validity beyond the profile cap" "beyond profile device cap" \
    sign p256 device "$D/ec256.csr" 999999999
refuse "empty subject without SAN" "empty subject and no subjectAltName" \
    sign p256 device "$D/nosubj.csr"
refuse "unknown CA" "unknown CA" sign nope device "$D/ec256.csr"
refuse "unknown profile" "unknown profile" sign p256 nope "$D/ec256.csr"
refuse "SAN type outside the profile" "subjectAltName of type IP" sign p256 iot "$D/ec256.csr"
refuse "key type outside the profile" "key type RSA not allowed" sign p256 iot "$D/rsa2048.csr"
refuse "keygen of an unsupported key type" "key type not supported" \
    keygen p256 device ed25519 "$D/ec256.csr" "$D/k.der"
refuse "key usage that does not fit the key" "key usage does not fit" \
    sign p256 agree "$D/rsa2048.csr"
if "$EC" "$SOCK" sign p256 agree "$D/ec256.csr" | openssl x509 -noout -text |
    grep -q "Digital Signature, Key Agreement"; then
	ok "profile key_usage reaches the certificate"
else
	fail "profile key_usage reaches the certificate"
fi
check "profile iot issues within its rules" "$EC" "$SOCK" sign p256 iot "$D/dnsonly.csr"
n=$(grep -c 'result=refused' "$D/audit.log")
if [ "$n" -ge 10 ]; then ok "every refusal has an audit line"; else fail "every refusal has an audit line" "$n lines"; fi

# Request fields reach the audit line escaped: a newline in the requester,
# the CA name, the profile name or the subject forges no line; each
# request gives exactly one audit line, the newline shown as \x0a.
csr nlsubj $'/CN=dev-nl\nFORGED subject' "${P256[@]}"
lines_before=$(wc -l < "$D/audit.log")
ENGINE_CLIENT_REQUESTER=$'est alias=x\nFORGED event=sign result=issued ca="p256"' \
    "$EC" "$SOCK" sign p256 device "$D/nlsubj.csr" > "$D/nl.pem"
is "newline in requester and subject: still issued" "$?" 0
refuse "newline in the CA name" "unknown CA 'p256\\x0aFORGED ca'" \
    sign $'p256\nFORGED ca' device "$D/ec256.csr"
refuse "newline in the profile name" "unknown profile 'device\\x0aFORGED profile'" \
    sign p256 $'device\nFORGED profile' "$D/ec256.csr"
is "three requests, three audit lines" "$(( $(wc -l < "$D/audit.log") - lines_before ))" 3
is "no audit line starts with the forged text" "$(grep -c '^FORGED' "$D/audit.log")" 0
for want in 'requester="est alias=x\x0aFORGED event=sign result=issued ca=\"p256\""' \
    'subject="CN=dev-nl\x0aFORGED subject"' 'ca="p256\x0aFORGED ca"' \
    'profile="device\x0aFORGED profile"'; do
	if grep -qF "$want" "$D/audit.log"; then
		ok "audit line shows $want"
	else
		fail "audit line shows $want" "$(tail -3 "$D/audit.log")"
	fi
done
if grep -q '^FORGED' "$D/signd.log"; then
	fail "no engine log line starts with the forged text"
else
	ok "no engine log line starts with the forged text"
fi

# SAN values are checked whatever the caller sends: malformed ones are
# refused with the reason, well-formed ones of every type are issued.
csr san_ip5 /CN=san-ip5 "${P256[@]}" -addext "subjectAltName=DER:300787050102030405"
csr san_dns /CN=san-dns "${P256[@]}" -addext "subjectAltName=DNS:bad..example"
csr san_dns2 /CN=san-dns2 "${P256[@]}" -addext "subjectAltName=DNS:under_score.example"
csr san_dnsempty /CN=san-dnsempty "${P256[@]}" -addext "subjectAltName=DER:30028200"
csr san_mail /CN=san-mail "${P256[@]}" -addext "subjectAltName=email:bob.example.net"
csr san_mail2 /CN=san-mail2 "${P256[@]}" -addext "subjectAltName=email:bob@-bad.example"
csr san_uri /CN=san-uri "${P256[@]}" -addext "subjectAltName=URI:no scheme here"
csr san_uri2 /CN=san-uri2 "${P256[@]}" -addext "subjectAltName=URI:https://dev.example/a b"
csr san_good /CN=san-good "${P256[@]}" -addext "subjectAltName=DNS:dev-1.example.net,DNS:*.dev.example.net,IP:192.0.2.9,IP:2001:db8::9,email:dev.1+x@example.net,URI:urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6,URI:https://dev.example.net/p?q=a%20b"
refuse "iPAddress of 5 bytes" "subjectAltName IP of 5 bytes refused: not 4 (IPv4) or 16 (IPv6) bytes" \
    sign p256 device "$D/san_ip5.csr"
refuse "dNSName with an empty label" "subjectAltName DNS 'bad..example' refused: empty label" \
    sign p256 device "$D/san_dns.csr"
refuse "dNSName with an underscore" "subjectAltName DNS 'under_score.example' refused: character" \
    sign p256 device "$D/san_dns2.csr"
refuse "empty dNSName" "subjectAltName DNS '' refused: empty" sign p256 device "$D/san_dnsempty.csr"
refuse "rfc822Name without @" "subjectAltName email 'bob.example.net' refused: no '@'" \
    sign p256 device "$D/san_mail.csr"
refuse "rfc822Name with a bad domain" "subjectAltName email 'bob@-bad.example' refused: domain" \
    sign p256 device "$D/san_mail2.csr"
refuse "URI without a scheme" "subjectAltName URI 'no scheme here' refused: no scheme" \
    sign p256 device "$D/san_uri.csr"
refuse "URI with a space" "subjectAltName URI 'https://dev.example/a b' refused: space" \
    sign p256 device "$D/san_uri2.csr"
refuse "keygen with a 5-byte iPAddress" "subjectAltName IP of 5 bytes refused" \
    keygen p256 device ec:P-256 "$D/san_ip5.csr" "$D/k5.der"
if "$EC" "$SOCK" sign p256 device "$D/san_good.csr" > "$D/san_good.pem"; then
	txt=$(openssl x509 -in "$D/san_good.pem" -noout -ext subjectAltName)
	for want in "DNS:dev-1.example.net" "DNS:*.dev.example.net" "IP Address:192.0.2.9" \
	    "IP Address:2001:DB8:0:0:0:0:0:9" "email:dev.1+x@example.net" \
	    "URI:urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6" \
	    "URI:https://dev.example.net/p?q=a%20b"; do
		case "$txt" in *"$want"*) ok "well-formed SANs issued: $want" ;;
		*) fail "well-formed SANs issued: $want" "$txt" ;; esac
	done
else
	fail "well-formed SANs of every type are issued" "$(cat "$D/san_good.pem")"
fi

# serverkeygen: key pairs made in the token, exported, destroyed.
objs_before=$(pkcs11-tool --module "$MODULE" --token-label estca --list-objects 2>/dev/null | grep -c 'Object;')
for t in ec:P-256 ec:P-384 rsa:2048; do
	if "$EC" "$SOCK" keygen p256 device "$t" "$D/ec256.csr" "$D/kg.der" > "$D/kg.pem"; then
		a=$(openssl pkey -inform DER -in "$D/kg.der" -pubout 2>/dev/null | sha256sum)
		b=$(openssl x509 -in "$D/kg.pem" -pubkey -noout | sha256sum)
		c=$(openssl pkey -in "$D/ec256.key" -pubout | sha256sum)
		if [ "$a" = "$b" ] && [ "$a" != "$c" ]; then
			ok "keygen $t: returned key matches the certificate, not the CSR"
		else
			fail "keygen $t: returned key matches the certificate, not the CSR"
		fi
	else
		fail "keygen $t" "$(cat "$D/kg.pem")"
	fi
done
objs_after=$(pkcs11-tool --module "$MODULE" --token-label estca --list-objects 2>/dev/null | grep -c 'Object;')
is "keygen leaves no object in the token" "$objs_after" "$objs_before"
if grep -aq 'PRIVATE KEY' "$D/audit.log" "$D/signd.log"; then
	fail "no key material in the logs"
else
	ok "no key material in the logs"
fi

# Bad frames: each is answered or dropped, and the engine keeps serving.
printf '\000\000\000\005hello' > "$D/garbage"
refuse "garbage DER" "does not decode" raw "$D/garbage"
printf '\000\000\000\000' > "$D/empty"
refuse "empty frame" "empty frame" raw "$D/empty"
printf '\001\000\000\000' > "$D/huge"
refuse "oversized frame" "too large" raw "$D/huge"
printf '\000\000\001\000abc' > "$D/trunc"
out=$("$EC" "$SOCK" raw "$D/trunc")
is "truncated frame is dropped without a reply" "$?:$out" "3:no reply (closed)"
check "engine still serves after bad frames" "$EC" "$SOCK" health
kill -0 "$ENGINE_PID" 2>/dev/null && ok "engine process alive" || fail "engine process alive"

# Pipelining: many requests in one write, replies in the same order (the
# signatures are spread over the signer threads), mixed with other
# operations, a refusal and an undecodable request that keeps the stream.
issued_before=$(grep -c 'result=issued' "$D/audit.log")
"$EC" "$SOCK" pipe p256 device "$D/ec256.csr" 40 "$D/pipe.pem" > "$D/pipe.out"
is "pipelined: the client got every reply" "$?" 0
want=$( (for i in $(seq 20); do echo sign; done
	echo health; echo badprofile; echo junk; echo chain
	for i in $(seq 20); do echo sign; done) | tr '\n' ' ')
is "pipelined: replies come back in request order" \
    "$(awk '{ printf "%s ", $1 }' "$D/pipe.out")" "$want"
is "pipelined: 40 certificates issued, each in the DER OpenSSL re-encodes" "$(grep -c '^sign 0 [0-9A-F]' "$D/pipe.out")" 40
is "pipelined: serials all different" \
    "$(awk '$1 == "sign" { print $3 }' "$D/pipe.out" | sort -u | wc -l)" 40
is "pipelined: health, refusal, undecodable and chain answered in place" \
    "$(grep -v '^sign' "$D/pipe.out" | tr '\n' ' ')" "health 0 0 badprofile -7 0 junk -4 0 chain 0 1 "
awk -v d="$D" '/BEGIN CERT/ { f = d "/pc" ++i ".pem" } f { print > f }' "$D/pipe.pem"
bad=$(for c in "$D"/pc*.pem; do
	openssl verify -CAfile "$D/ca-p256.pem" "$c" >/dev/null 2>&1 || echo "$c"; done)
is "pipelined: 40 certificates written" "$(ls "$D"/pc*.pem | wc -l)" 40
is "pipelined: every certificate verifies against the CA" "$bad" ""
issued_after=$(grep -c 'result=issued' "$D/audit.log")
is "pipelined: one audit line per certificate" "$((issued_after - issued_before))" 40
# A client that sends a batch and leaves: the engine finishes it, audits
# every signature, and keeps serving.
issued_before=$issued_after
issued_now() { test "$(grep -c 'result=issued' "$D/audit.log")" -eq "$1"; }
check "pipelined: client closes without reading" \
    "$EC" "$SOCK" pipe p256 device "$D/ec256.csr" 30 "$D/pipe2.pem" close
if wait_until 20 issued_now $((issued_before + 30)); then
	ok "pipelined: abandoned batch still audited, one line per signature"
else
	fail "pipelined: abandoned batch still audited" \
	    "$(( $(grep -c 'result=issued' "$D/audit.log") - issued_before)) lines"
fi
check "engine serves after an abandoned batch" "$EC" "$SOCK" health

# A peer outside allow_uids is refused, and the refusal is logged.
out=$(runuser -u nobody -- "$EC" "$SOCK" health 2>&1)
case "$out" in ok) fail "uid nobody is refused" ;; *) ok "uid nobody is refused" ;; esac
if wait_until 5 grep -q "refused connection from uid $(id -u nobody)" "$D/signd.log"; then
	ok "peer refusal is logged with its uid"
else
	fail "peer refusal is logged with its uid"
fi

# The token fails under the engine (its store vanishes, as when an HSM is
# pulled or restarted): the request in flight gets a retryable error, the
# engine re-opens the token once it is back, and the next request succeeds.
mv "$D/hsm/tokens" "$D/hsm/tokens.away"
out=$("$EC" "$SOCK" sign p256 device "$D/ec256.csr")
case "$?:$out" in
2:"error -9:"*) ok "token failure: retryable error (-9)" ;;
*) fail "token failure: retryable error (-9)" "got: $out" ;;
esac
mv "$D/hsm/tokens.away" "$D/hsm/tokens"
if "$EC" "$SOCK" sign p256 device "$D/ec256.csr" > "$D/after.pem" &&
    openssl verify -CAfile "$D/ca-p256.pem" "$D/after.pem" >/dev/null 2>&1; then
	ok "token back: engine re-opens it and signs again"
else
	fail "token back: engine re-opens it and signs again" "$(cat "$D/after.pem")"
fi
if grep -q "re-opened after a fault" "$D/signd.log"; then
	ok "re-open is logged"
else
	fail "re-open is logged"
fi

# RSASSA-PSS uses the token's own PSS mechanism, never raw RSA: a second
# engine reaches SoftHSM through OpenSC's PKCS#11 spy, which logs each call.
SPY=""
for f in /usr/lib/x86_64-linux-gnu/pkcs11-spy.so /usr/lib/*/pkcs11-spy.so; do
	[ -f "$f" ] && { SPY=$f; break; }
done
if [ -n "$SPY" ]; then
	sed -e "s|^socket = .*|socket = $D/run/spy.sock|" \
	    -e "s|^pkcs11_module = .*|pkcs11_module = $SPY|" \
	    -e "s|^audit_log = .*|audit_log = $D/run/spy-audit.log|" "$D/signd.conf" > "$D/spy.conf"
	PKCS11SPY=$MODULE PKCS11SPY_OUTPUT=$D/run/spy.log \
	    "$D/bin/estca-signd" -f "$D/spy.conf" 2>"$D/spy-signd.log" &
	SPY_PID=$!
	wait_until 10 test -S "$D/run/spy.sock"
	if "$EC" "$D/run/spy.sock" sign rsa2048pss device "$D/ec256.csr" > "$D/pss2.pem" &&
	    openssl verify -CAfile "$D/ca-rsa2048.pem" "$D/pss2.pem" >/dev/null 2>&1; then
		ok "PSS through the spy: certificate verifies"
	else
		fail "PSS through the spy: certificate verifies" "$(cat "$D/pss2.pem" "$D/spy-signd.log")"
	fi
	kill -TERM "$SPY_PID"
	wait "$SPY_PID"
	if grep -q 'CKM_RSA_PKCS_PSS' "$D/run/spy.log"; then
		ok "PSS signatures use CKM_RSA_PKCS_PSS"
	else
		fail "PSS signatures use CKM_RSA_PKCS_PSS" "$(grep -c C_SignInit "$D/run/spy.log") C_SignInit calls"
	fi
	is "no raw RSA (CKM_RSA_X_509) signature" "$(grep -c 'CKM_RSA_X_509' "$D/run/spy.log")" 0
else
	fail "OpenSC's pkcs11-spy.so found (package opensc-pkcs11)"
fi

# Clean shutdown, while pipelined batches are being signed (RSA-3072 makes
# them last): the batch in progress is answered and audited, the requests
# behind it are not taken, and the engine exits 0.
before=$(grep -c 'result=issued ca="rsa3072"' "$D/audit.log")
"$EC" "$SOCK" pipe rsa3072 device "$D/ec256.csr" 100 "$D/pipe3.pem" > "$D/pipe3.out" &
PIPE_PID=$!
for _ in $(seq 1000); do
	[ "$(grep -c 'result=issued ca="rsa3072"' "$D/audit.log")" -gt "$before" ] && break
	sleep 0.01
done
kill -TERM "$ENGINE_PID"
wait "$ENGINE_PID"
is "SIGTERM: engine exits 0" "$?" 0
wait "$PIPE_PID"
got=$(grep -c '^sign 0 [0-9A-F]' "$D/pipe3.out")
audited=$(( $(grep -c 'result=issued ca="rsa3072"' "$D/audit.log") - before ))
if [ "$got" -gt 0 ] && [ "$got" -lt 100 ] && [ "$got" -eq "$audited" ] &&
    grep -q '^reply [0-9]* missing' "$D/pipe3.out"; then
	ok "SIGTERM mid-batch: the batch's replies are delivered and audited ($got), no more taken"
else
	fail "SIGTERM mid-batch: the batch's replies are delivered and audited" \
	    "got $got replies, $audited audit lines: $(tail -2 "$D/pipe3.out")"
fi
ENGINE_PID=
if [ -e "$SOCK" ]; then fail "SIGTERM: socket removed"; else ok "SIGTERM: socket removed"; fi
# the pipelined batches above went (partly) through the signer threads
by=$(sed -n 's/.*certificates signed, \([0-9]*\) of them by signer threads.*/\1/p' "$D/signd.log")
if [ "${by:-0}" -gt 0 ]; then
	ok "pipelined requests were signed by signer threads ($by)"
else
	fail "pipelined requests were signed by signer threads" "${by:-no exit line}"
fi
if grep -aqi 'pin' "$D/signd.log" && grep -aqF "$(cat "$D/hsm/user.pin")" "$D/signd.log" "$D/audit.log"; then
	fail "the PIN appears in no log"
else
	ok "the PIN appears in no log"
fi

# Key usage follows the key type and the profile's extended key usage
# (RFC 5280 4.2.1.12): clientAuth alone gives RSA keys digitalSignature
# only; keyEncipherment only with serverAuth; EC keys never
# keyEncipherment.  A second engine (the first stopped above) issues them.
sed -e "s|^socket = .*|socket = $D/run/ku.sock|" \
    -e "s|^audit_log = .*|audit_log = $D/run/ku-audit.log|" "$D/signd.conf" > "$D/ku.conf"
"$D/bin/estca-signd" -f "$D/ku.conf" >/dev/null 2>>"$D/signd.log" &
ENGINE_PID=$!
wait_until 20 test -S "$D/run/ku.sock" && wait_until 10 "$EC" "$D/run/ku.sock" health ||
    fail "key usage: second engine starts"
csr ku_rsa3072 /CN=ku-rsa3072 -newkey rsa:3072
csr ku_ec384 /CN=ku-ec384 -newkey ec -pkeyopt ec_paramgen_curve:P-384
# usage FILE: the keyUsage and extendedKeyUsage lines, joined with |
usage() {
	openssl x509 -in "$1" -noout -ext keyUsage,extendedKeyUsage 2>&1 |
	    sed 's/^ *//; s/ *$//' | paste -sd'|'
}
KU_DS='X509v3 Key Usage: critical|Digital Signature'
KU_DSKE='X509v3 Key Usage: critical|Digital Signature, Key Encipherment'
EKU_C='X509v3 Extended Key Usage:|TLS Web Client Authentication'
EKU_SC='X509v3 Extended Key Usage:|TLS Web Server Authentication, TLS Web Client Authentication'
for ca in p256 rsa2048; do
	for k in rsa2048 ku_rsa3072 ec256 ku_ec384; do
		case $k in *rsa*) tls="$KU_DSKE|$EKU_SC" ;; *) tls="$KU_DS|$EKU_SC" ;; esac
		for t in "device|$KU_DS|$EKU_C" "tls-server|$tls"; do
			prof=${t%%|*} want=${t#*|}
			if "$EC" "$D/run/ku.sock" sign "$ca" "$prof" "$D/$k.csr" > "$D/ku.pem"; then
				is "key usage: CA $ca, profile $prof, $k key" "$(usage "$D/ku.pem")" "$want"
			else
				fail "key usage: CA $ca, profile $prof, $k key" "$(cat "$D/ku.pem")"
			fi
			[ "$ca:$prof" = p256:device ] && case $k in rsa2048|ec256)
				diag "$k under device: $(usage "$D/ku.pem")" ;; esac
		done
	done
done
for t in rsa:2048 ec:P-256; do
	if "$EC" "$D/run/ku.sock" keygen p256 device "$t" "$D/ec256.csr" "$D/ku.der" > "$D/ku.pem"; then
		is "key usage: keygen $t under device" "$(usage "$D/ku.pem")" "$KU_DS|$EKU_C"
	else
		fail "key usage: keygen $t under device" "$(cat "$D/ku.pem")"
	fi
done
if "$EC" "$D/run/ku.sock" sign p256 agree "$D/ec256.csr" > "$D/ku.pem"; then
	is "key usage: no extended key usage, keyAgreement asked, EC key" "$(usage "$D/ku.pem")" \
	    'X509v3 Key Usage: critical|Digital Signature, Key Agreement'
else
	fail "key usage: no extended key usage, keyAgreement asked, EC key" "$(cat "$D/ku.pem")"
fi
kill -TERM "$ENGINE_PID"
wait "$ENGINE_PID"
is "key usage: second engine exits 0" "$?" 0
ENGINE_PID=
# A profile whose key_usage contradicts its ext_key_usage: the config check
# and the start both refuse it with one line that says why.
printf '%s\n' '[profile clientke]' 'max_validity_days = 30' 'key_types = rsa' \
    'ext_key_usage = clientAuth' 'key_usage = digitalSignature keyEncipherment' |
    cat "$D/ku.conf" - > "$D/kubad.conf"
want="profile clientke: key usage keyEncipherment is not consistent with extended key usage clientAuth (RFC 5280 4.2.1.12)"
out=$("$D/bin/estca-signd" -n -f "$D/kubad.conf" 2>&1)
st=$?
if [ "$st" -ne 0 ] && printf '%s\n' "$out" | grep -qF "error: $want"; then
	ok "config check refuses key usage contradicting extended key usage"
else
	fail "config check refuses key usage contradicting extended key usage" "status $st: $out"
fi
out=$(timeout 20 "$D/bin/estca-signd" -f "$D/kubad.conf" 2>&1 >/dev/null)
st=$?
if [ "$st" -ne 0 ] && [ "$st" -ne 124 ] && printf '%s\n' "$out" | grep -qF "$want"; then
	ok "start refuses key usage contradicting extended key usage"
else
	fail "start refuses key usage contradicting extended key usage" "status $st: $out"
fi

done_testing
