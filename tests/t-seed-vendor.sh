#!/bin/bash
# t-seed-vendor.sh - seed 000's vendor mode workflow ("Enrolling with
# Vendor certificate TLS authentication" and "Server side key generation
# with Vendor mode") with its curl and openssl command lines as written:
#   - the device names itself only by its vendor certificate, whose
#     subject is CN first (/CN=123456789/O=PrimeKey/C=SE, as openssl -subj
#     writes it) while the DBA registered CN=123456789,O=PrimeKey,C=SE:
#     the empty CSR subject (-subj "/") takes the registered subject;
#   - renewal with -subj "/" and the issued certificate: the certificate's
#     own subject;
#   - serverkeygen with the same command lines and the seed's splitter;
#   - a non-empty subject is still checked; an empty subject with no
#     registered subject is refused with its reason; the code modes still
#     need the subject to name the end entity.
# Only the URLs (the seed's text lost them) are ours; the seed's
# ManagementCA.cacert.pem is the rig's trust anchor, its vendor
# certificates are made here.  Behind lighttpd the vendor root goes into
# lighttpd's client CA file (trust_client_roots).
set -u
. "$(dirname "$0")/lib.sh"

need_root
need_cmd curl openssl psql
est_rig_up t-seed-vendor
S=$W/seed
mkdir -p "$S"

# ---- the vendor PKI: EC P-384 root and sub CA, a device certificate -----
mkpki() {
	mkca vroot '/CN=Vendor Root CA EC384/O=PrimeKey/C=SE' &&
	    mkca vsub '/CN=Vendor Sub CA EC384/O=PrimeKey/C=SE' vroot &&
	    mkleaf 123456789 '/CN=123456789/O=PrimeKey/C=SE' vsub &&
	    mkleaf 987654321 '/CN=987654321/O=PrimeKey/C=SE' vsub &&
	    # the client sends the vendor certificate and the sub CA
	    cp "$W/123456789.key" "$S/vendor-key.pem" &&
	    cp "$W/123456789.chain.pem" "$S/vendor-cert.pem" &&
	    cp "$W/987654321.key" "$S/vendor2-key.pem" &&
	    cp "$W/987654321.chain.pem" "$S/vendor2-cert.pem" &&
	    cp "$ESTCA_CACERT" "$S/ManagementCA.cacert.pem"
}
check "vendor root, sub CA and device certificates made" mkpki
is "the device certificate names the device CN first" \
    "$(openssl x509 -in "$W/123456789.pem" -noout -subject -nameopt RFC2253)" \
    "subject=C=SE,O=PrimeKey,CN=123456789"
# not in check's subshell: a restart changes EST
if trust_client_roots "$W/vroot.pem" >"$W/trust.log" 2>&1; then
	ok "web server passes certificates of the vendor root"
else
	fail "web server passes certificates of the vendor root" "$(tail -5 "$W/trust.log")"
fi

# ---- DBA: the alias estvendor (vendor CA: the sub CA, as in the seed) ----
check "DBA creates alias estvendor with the Vendor Sub CA" dba "
SELECT est.create_alias('estvendor', 'est', 'device', 'vendor', serverkeygen => true);
SELECT est.add_vendor_ca('estvendor', :'sub', 'Vendor Sub CA');" \
    -v sub="$(cat "$W/vsub.pem")"
reg() {   # reg USER DN USES: no enrollment code (vendor mode needs none)
	dba "SELECT est.register_end_entity('estvendor', :'u', NULLIF(:'dn', ''),
	    '{}'::text[], NULL, :'n'::integer);" -v u="$1" -v dn="$2" -v n="$3" >/dev/null
}
check "DBA registers 123456789 as CN=123456789,O=PrimeKey,C=SE" \
    reg 123456789 'CN=123456789,O=PrimeKey,C=SE' 2
check "DBA registers 987654321 with no subject" reg 987654321 '' 2

# ---- the seed's command lines -----------------------------------------------
enroll() {
	cd "$S" || return 1
	# Get CA certificates
	curl "$EST/estvendor/cacerts" -o cacerts.p7 --cacert ManagementCA.cacert.pem
	# Generate a key and CSR for a "device"
	openssl req -nodes -newkey rsa:2048 -keyout device.key -out device.csr -outform DER -subj "/"
	openssl req -inform DER -in device.csr -text -noout
	openssl base64 -in device.csr -out device.b64 -e
	# Make initial enrollment, using TLS client certificate authentication
	curl -v --cacert ManagementCA.cacert.pem --cert vendor-cert.pem --key vendor-key.pem --data @device.b64 -o device-p7.b64 -H "Content-Type: application/pkcs10" \
	-H "Content-Transfer-Encoding: base64" "$EST/estvendor/simpleenroll"
	# Convert the response into a PEM encoded certificate
	openssl base64 -in device-p7.b64 -out device-p7.der -d
	openssl pkcs7 -inform DER -in device-p7.der -print_certs -out device-cert.pem
	openssl x509 -in device-cert.pem -text -noout
}
renew() {
	cd "$S" || return 1
	# Generate a new key and CSR for the device, to renew with
	openssl req -nodes -newkey rsa:2048 -keyout device-new.key -out device-new.csr -outform DER -subj "/"
	openssl base64 -in device-new.csr -out device-new.b64 -e
	# Re-enroll by the device, authenticating with the existing key/certificate
	curl -v --cacert ManagementCA.cacert.pem --key device.key --cert device-cert.pem --data @device-new.b64 -o device-new-p7.b64 -H "Content-Type: application/pkcs10" -H "Content-Transfer-Encoding: base64" "$EST/estvendor/simplereenroll"
	# Convert the response into a PEM encoded certificate
	openssl base64 -in device-new-p7.b64 -out device-new-p7.der -d
	openssl pkcs7 -inform DER -in device-new-p7.der -print_certs -out device-new-cert.pem
	openssl x509 -in device-new-cert.pem -text -noout
}
subject_of() {
	openssl x509 -in "$1" -noout -subject -nameopt RFC2253 2>&1
}

(enroll) >"$S/enroll.log" 2>&1
st=$(http_code_of "$S/enroll.log")
is "seed vendor enrollment, empty CSR subject: 200" "$st" 200
[ "$st" = 200 ] || diag_file "$S/enroll.log" 30
check "... certificate verifies against the CA" \
    openssl verify -CAfile "$ESTCA_CA_CHAIN" "$S/device-cert.pem"
is "... for the registered subject, not the vendor certificate's order" \
    "$(subject_of "$S/device-cert.pem")" "subject=CN=123456789,O=PrimeKey,C=SE"
is "... audited for the end entity named by the vendor certificate" \
    "$(sql "SELECT username FROM est.audit WHERE alias = 'estvendor' AND operation = 'simpleenroll' AND decision = 'accept'")" \
    123456789

(renew) >"$S/renew.log" 2>&1
st=$(http_code_of "$S/renew.log")
is "seed renewal, empty CSR subject: 200" "$st" 200
[ "$st" = 200 ] || diag_file "$S/renew.log" 30
check "... certificate verifies against the CA" \
    openssl verify -CAfile "$ESTCA_CA_CHAIN" "$S/device-new-cert.pem"
is "... for the certificate's own subject" \
    "$(subject_of "$S/device-new-cert.pem")" "$(subject_of "$S/device-cert.pem")"
is "... with the renewed certificate's key" \
    "$(openssl x509 -in "$S/device-new-cert.pem" -noout -pubkey | sha256sum)" \
    "$(openssl pkey -in "$S/device-new.key" -pubout | sha256sum)"

# serverkeygen with vendor mode: "commands in previous section can be
# used as they are", then the seed's splitter.
cp "$top_srcdir/tests/data/parse_server_keygen_response" "$S/"
chmod +x "$S/parse_server_keygen_response"
(cd "$S" &&
    curl -v --cacert ManagementCA.cacert.pem --cert vendor-cert.pem --key vendor-key.pem --data @device.b64 -o device-keypair -H "Content-Type: application/pkcs10" \
    -H "Content-Transfer-Encoding: base64" "$EST/estvendor/serverkeygen" &&
    ./parse_server_keygen_response device-keypair &&
    openssl base64 -in device-p7.b64 -out device-p7.der -d &&
    openssl pkcs7 -inform DER -in device-p7.der -print_certs -out device-cert.pem) \
    >"$S/keygen.log" 2>&1
st=$(http_code_of "$S/keygen.log")
is "seed vendor serverkeygen, empty CSR subject: 200" "$st" 200
[ "$st" = 200 ] || diag_file "$S/keygen.log" 30
is "... split by the seed's script: certificate for the registered subject" \
    "$(subject_of "$S/device-cert.pem")" "subject=CN=123456789,O=PrimeKey,C=SE"
is "... and the key the script wrote is the certificate's" \
    "$(openssl x509 -in "$S/device-cert.pem" -noout -pubkey 2>&1 | sha256sum)" \
    "$(openssl pkey -in "$S/enrolled-key.key" -pubout 2>&1 | sha256sum)"

# ---- the rule's edges ---------------------------------------------------------
mkcsr cn1 /CN=123456789/O=PrimeKey/C=SE "" ""
check "DBA gives 123456789 one more use" dba \
    "UPDATE est.end_entity SET uses_left = 1 WHERE alias = 'estvendor' AND username = '123456789';"
is "non-empty subject in the vendor certificate's order: still checked, 403" \
    "$(post cn1 "$EST/estvendor/simpleenroll" "$W/cn1.b64" --cert "$S/vendor-cert.pem" \
    --key "$S/vendor-key.pem")" 403
is "... reason" "$(reason_of cn1)" "subject does not match the registered subject"
mkcsr cn2 /C=SE/O=PrimeKey/CN=123456789 "" ""
is "non-empty subject equal to the registration: 200" \
    "$(post cn2 "$EST/estvendor/simpleenroll" "$W/cn2.b64" --cert "$S/vendor-cert.pem" \
    --key "$S/vendor-key.pem")" 200
is "empty subject, no registered subject: 403" \
    "$(post e2 "$EST/estvendor/simpleenroll" "$S/device.b64" --cert "$S/vendor2-cert.pem" \
    --key "$S/vendor2-key.pem")" 403
is "... reason" "$(reason_of e2)" \
    "the request subject is empty and no subject is registered for this end entity; put the subject in the request"
is "... nothing used" \
    "$(sql "SELECT uses_left FROM est.end_entity WHERE alias = 'estvendor' AND username = '987654321'")" 2
CODE=Ee1-$(openssl rand -hex 8)
check "DBA registers code-dev (challenge_password alias est)" register code-dev "$CODE" 'CN=code-dev' '{}' 1
# (the name check comes before the code check: no code needed here)
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/ec1.key" \
    -subj / -outform DER -out "$W/ec1.der" 2>/dev/null &&
    openssl base64 -in "$W/ec1.der" -out "$W/ec1.b64"
is "code mode, empty subject: 403 (the subject names the end entity)" \
    "$(post ec1 "$EST/simpleenroll" "$W/ec1.b64")" 403
is "... reason" "$(reason_of ec1)" "the subject must name the end entity in exactly one CN"

done_testing
