#!/bin/bash
# t-serverkeygen.sh - serverkeygen (RFC 7030 4.4) through a whole rig:
# the key pair is made in the HSM by the engine, the multipart/mixed reply
# is split with a small shell parser (as in the EJBCA documentation), the
# key matches the certificate and not the CSR, it follows the CSR's key
# type, it works for a later simplereenroll and for a re-key, it is stored
# in no file and no log of the rig; serverkeygen off answers 403.
# The seed's workflow (seed 000, "Server side key generation in client
# mode"): its openssl and curl command lines as written, and its
# line-counting splitter (tests/data/parse_server_keygen_response,
# verbatim).
set -u
. "$(dirname "$0")/lib.sh"
need_root
need_cmd curl openssl psql
est_rig_up t-serverkeygen

# split NAME: the multipart reply $W/NAME.body -> $W/NAME.key.pem (the
# PKCS#8 part as PEM) and $W/NAME.p7.b64 (the PKCS#7 part); the parts are
# found by their boundary lines, four lines after each starts its body.
split() {
	local f=$W/$1.body b lines
	b=$(header "$W/$1.hdr" Content-Type | sed -n 's/.*boundary=//p')
	[ -n "$b" ] || return 1
	mapfile -t lines < <(grep -n -- "^--$b" "$f" | cut -d: -f1)
	[ "${#lines[@]}" -eq 3 ] || return 1
	sed -n "$((lines[0] + 1)),$((lines[0] + 2))p" "$f" | tr -d '\r' > "$W/$1.h1"
	sed -n "$((lines[1] + 1)),$((lines[1] + 2))p" "$f" | tr -d '\r' > "$W/$1.h2"
	{
		echo "-----BEGIN PRIVATE KEY-----"
		sed -n "$((lines[0] + 4)),$((lines[1] - 1))p" "$f" | tr -d '\r'
		echo "-----END PRIVATE KEY-----"
	} > "$W/$1.key.pem"
	sed -n "$((lines[1] + 4)),$((lines[2] - 1))p" "$f" | tr -d '\r' > "$W/$1.p7.b64"
}

# p7cert NAME: $W/NAME.p7.b64 -> $W/NAME.pem, verified against the CA
p7cert() {
	openssl base64 -d -in "$W/$1.p7.b64" -out "$W/$1.p7" &&
	    openssl pkcs7 -inform DER -in "$W/$1.p7" -print_certs -out "$W/$1.pem" &&
	    openssl verify -CAfile "$ESTCA_CA_CHAIN" "$W/$1.pem" >/dev/null
}

pub() { openssl pkey -in "$1" -pubout 2>/dev/null | sha256sum | cut -c1-64; }
certpub() { openssl x509 -in "$1" -pubkey -noout | sha256sum | cut -c1-64; }

check "DBA creates alias skg with serverkeygen on" dba \
    "SELECT est.create_alias('skg', 'est', 'device', 'challenge_password', serverkeygen => true);"
CODE=Kk1-$(openssl rand -hex 8)
check "DBA registers dev-k" register dev-k "$CODE" 'CN=dev-k' '{}' 3 skg

mkcsr k1 /CN=dev-k "" "$CODE" ec
is "serverkeygen: 200" "$(post k1 "$EST/skg/serverkeygen" "$W/k1.b64" \
    -H 'Content-Transfer-Encoding: base64')" 200
case $(header "$W/k1.hdr" Content-Type) in
"multipart/mixed; boundary="*) ok "reply is multipart/mixed with a boundary" ;;
*) fail "reply is multipart/mixed with a boundary" "$(cat "$W/k1.hdr")" ;;
esac
if split k1; then ok "multipart reply splits into two parts"; else
	fail "multipart reply splits into two parts" "$(head -c 600 "$W/k1.body")"; fi
is "first part is application/pkcs8" "$(head -1 "$W/k1.h1")" "Content-Type: application/pkcs8"
is "second part is certs-only PKCS#7" "$(head -1 "$W/k1.h2")" \
    "Content-Type: application/pkcs7-mime; smime-type=certs-only"
check "private key decodes" openssl pkey -in "$W/k1.key.pem" -noout
check "certificate decodes and verifies against the CA" p7cert k1
is "returned key matches the certificate" "$(pub "$W/k1.key.pem")" "$(certpub "$W/k1.pem")"
if [ "$(pub "$W/k1.key.pem")" != "$(pub "$W/k1.key")" ]; then
	ok "returned key differs from the CSR's"
else
	fail "returned key differs from the CSR's"
fi
if openssl pkey -in "$W/k1.key.pem" -text -noout | grep -q 'NIST CURVE: P-256'; then
	ok "key type follows the CSR (P-256)"
else
	fail "key type follows the CSR (P-256)"
fi
is "certificate subject" "$(openssl x509 -in "$W/k1.pem" -noout -subject)" "subject=CN = dev-k"

# The generated key and certificate renew (simplereenroll with a new key).
mkcsr r1 /CN=dev-k "" "" ec
is "simplereenroll with the generated key and certificate: 200" \
    "$(post r1 "$EST/skg/simplereenroll" "$W/r1.b64" --cert "$W/k1.pem" \
    --key "$W/k1.key.pem")" 200
check "renewed certificate verifies" certof r1

# Re-key: serverkeygen again, authenticated by the certificate.
mkcsr k2 /CN=dev-k "" "" "$W/r1.key"
is "serverkeygen with a client certificate (re-key): 200" \
    "$(post k2 "$EST/skg/serverkeygen" "$W/k2.b64" --cert "$W/r1.pem" \
    --key "$W/r1.key")" 200
if split k2 && p7cert k2 &&
    [ "$(pub "$W/k2.key.pem")" = "$(certpub "$W/k2.pem")" ] &&
    [ "$(pub "$W/k2.key.pem")" != "$(pub "$W/r1.key")" ]; then
	ok "re-key returns a new key for the certificate"
else
	fail "re-key returns a new key for the certificate"
fi

# RSA CSR: an RSA-2048 key comes back.
CODE2=Kk2-$(openssl rand -hex 8)
check "DBA registers dev-r" register dev-r "$CODE2" 'CN=dev-r' '{}' 1 skg
mkcsr k3 /CN=dev-r "" "$CODE2" rsa
is "serverkeygen for an RSA CSR: 200" "$(post k3 "$EST/skg/serverkeygen" "$W/k3.b64")" 200
if split k3 && p7cert k3 &&
    openssl pkey -in "$W/k3.key.pem" -text -noout | grep -q 'Private-Key: (2048 bit' &&
    [ "$(pub "$W/k3.key.pem")" = "$(certpub "$W/k3.pem")" ]; then
	ok "RSA CSR gets an RSA-2048 key that matches its certificate"
else
	fail "RSA CSR gets an RSA-2048 key that matches its certificate"
fi

# ---- the seed's workflow, command lines as written ----------------------
# Only the URL (the seed's text lost it) and the answers to openssl's
# prompts are ours; ManagementCA.cacert.pem is the rig's trust anchor.
check "DBA registers registered_client (code 'password', 2 uses)" \
    register registered_client password 'CN=registered_client' '{}' 2 skg
S=$W/seed
mkdir -p "$S"
cp "$ESTCA_CACERT" "$S/ManagementCA.cacert.pem"
cp "$top_srcdir/tests/data/parse_server_keygen_response" "$S/"
chmod +x "$S/parse_server_keygen_response"
cat > "$S/openssl.conf" <<'EOF'
[ req ]
distinguished_name     = req_distinguished_name
attributes             = req_attributes

[ req_distinguished_name ]
commonName                     = Common Name (eg, YOUR name)
commonName_max                 = 64

[ req_attributes ]
challengePassword              = A challenge password
challengePassword_min          = 4
challengePassword_max          = 20
EOF
seed_run() {
	(
		cd "$S" || exit 1
		# Enter Common Name 'registered_client' and challenge password 'password'
		printf 'registered_client\npassword\n' |
		    openssl req -nodes -newkey rsa:2048 -keyout device.key -out device.csr -config openssl.conf &&
		    openssl req -in device.csr -outform DER -out device.csr.der &&
		    openssl base64 -in device.csr.der -out device.b64 -e &&
		    curl -v --cacert ManagementCA.cacert.pem --data @device.b64 -o device-keypair -H "Content-Type: application/pkcs10" -H "Content-Transfer-Encoding: base64" "$EST/skg/serverkeygen" &&
		    ./parse_server_keygen_response device-keypair &&
		    openssl base64 -in device-p7.b64 -out device-p7.der -d &&
		    openssl pkcs7 -inform DER -in device-p7.der -print_certs -out device-cert.pem &&
		    openssl x509 -in device-cert.pem -noout -text
	) >"$S/run1.log" 2>&1
}
if seed_run; then ok "seed serverkeygen: request, splitter script, certificate"; else
	fail "seed serverkeygen: request, splitter script, certificate" \
	    "$(tail -5 "$S/run1.log")" "$(head -c 300 "$S/device-keypair" 2>/dev/null)"
fi
is "... the splitter's grep finds three boundary lines" \
    "$(grep -wn "\-\-CONTENTBOUNDARY" "$S/device-keypair" 2>/dev/null | wc -l)" 3
check "... its key file (PKCS#8 in the script's RSA armour) loads" \
    openssl rsa -in "$S/enrolled-key.key" -check -noout
is "... the key is the certificate's" "$(pub "$S/enrolled-key.key")" \
    "$(certpub "$S/device-cert.pem")"
check "... certificate verifies against the CA" \
    openssl verify -CAfile "$ESTCA_CA_CHAIN" "$S/device-cert.pem"
is "... for the registered subject" \
    "$(openssl x509 -in "$S/device-cert.pem" -noout -subject 2>&1)" "subject=CN = registered_client"
# Subsequent key generation with the key and certificate the script
# wrote: the seed's curl line, then the script again.
if (cd "$S" && cp device-cert.pem device-cert-1.pem &&
    curl -v --cacert ManagementCA.cacert.pem --cert device-cert.pem --key enrolled-key.key --data @device.b64 -o device-keypair2 -H "Content-Type: application/pkcs10" -H "Content-Transfer-Encoding: base64" "$EST/skg/serverkeygen" &&
    ./parse_server_keygen_response device-keypair2 &&
    openssl base64 -in device-p7.b64 -out device-p7.der -d &&
    openssl pkcs7 -inform DER -in device-p7.der -print_certs -out device-cert.pem) \
    >"$S/run2.log" 2>&1 &&
    [ "$(pub "$S/enrolled-key.key")" = "$(certpub "$S/device-cert.pem")" ] &&
    [ "$(serial_of "$S/device-cert.pem")" != "$(serial_of "$S/device-cert-1.pem")" ]; then
	ok "seed re-key with the script's key and certificate: new key, new certificate"
else
	fail "seed re-key with the script's key and certificate: new key, new certificate" \
	    "$(tail -5 "$S/run2.log")" "$(head -c 300 "$S/device-keypair2" 2>/dev/null)"
fi
is "... registered_client used one enrollment (the re-key none)" \
    "$(sql "SELECT uses_left FROM est.end_entity WHERE username = 'registered_client'")" 1

# Refusals.
mkcsr k4 /CN=dev-r "" "$CODE2" rsa
is "alias est (serverkeygen off): 403" "$(post k4 "$EST/serverkeygen" "$W/k4.b64")" 403
is "reason says serverkeygen is off" "$(reason_of k4)" \
    "serverkeygen is not enabled for this alias"
CODE3=Kk3-$(openssl rand -hex 8)
check "DBA registers dev-x" register dev-x "$CODE3" 'CN=dev-x' '{}' 1 skg
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 \
    -out "$W/p521.key" 2>/dev/null
mkcsr k5 /CN=dev-x "" "$CODE3" "$W/p521.key"
st=$(post k5 "$EST/skg/serverkeygen" "$W/k5.b64")
if [ "$st" = 403 ] || [ "$st" = 400 ]; then
	ok "unsupported CSR key type refused ($st)"
else
	fail "unsupported CSR key type refused" "status $st"
fi
mkcsr k6 /CN=dev-x "" "wrong-$CODE3" ec
is "wrong code: 403" "$(post k6 "$EST/skg/serverkeygen" "$W/k6.b64")" 403
is "nothing consumed for dev-x" "$(sql "SELECT uses_left FROM est.end_entity WHERE username = 'dev-x'")" 1

# The private keys are in no file and no log of the rig but our own copies.
leak=0
for k in "$W/k1.key.pem" "$W/k2.key.pem" "$W/k3.key.pem" "$S/enrolled-key.key"; do
	line=$(sed -n 2p "$k" | tr -d '\r')
	if grep -raFl --exclude-dir=t-serverkeygen --exclude=secrets.list -- "$line" "$ESTCA_RIG_DIR"; then
		leak=1
	fi
done
is "generated keys appear in no rig file or log" "$leak" 0
n=$(sql "SELECT count(*) FROM est.audit WHERE operation = 'serverkeygen' AND decision = 'accept'")
is "five serverkeygen issuances audited" "$n" 5

done_testing
