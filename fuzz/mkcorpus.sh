#!/bin/bash
# mkcorpus.sh - make the seed corpora of fuzz/corpus/ again: small real
# inputs for each harness, from openssl and the project's own formats.
#
#   fuzz/mkcorpus.sh [CSN-CSR]
#
# CSN-CSR is the tests' helper program (build/tests/csn-csr) that adds a
# ChangeSubjectName to a request; without it that seed is skipped.  Keys
# are made fresh, so the files differ from run to run (they are seeds,
# not expectations).  Regression inputs (corpus/*/regress-*) are kept.
set -euo pipefail

srcdir=$(cd "$(dirname "$0")/.." && pwd)
c=$srcdir/fuzz/corpus
csn=${1:-$srcdir/build/tests/csn-csr}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
for h in route b64 csr csn clientcert basic conf reader wire names reply; do
	mkdir -p "$c/$h"
	find "$c/$h" -type f ! -name 'regress-*' -delete
done

# keys, a CA, a device certificate, requests
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$t/ec.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$t/rsa.pem" 2>/dev/null
openssl req -new -x509 -key "$t/ec.pem" -subj "/CN=Fuzz CA" -days 30 \
    -outform DER -out "$t/ca.der"
openssl x509 -inform DER -in "$t/ca.der" -out "$t/ca.pem"
openssl req -new -key "$t/rsa.pem" -subj "/C=DE/O=Acme/CN=device 42" \
    -addext "subjectAltName=DNS:dev42.example,IP:192.0.2.7" -outform DER -out "$t/dev.csr"
openssl x509 -req -inform DER -in "$t/dev.csr" -CA "$t/ca.pem" -CAkey "$t/ec.pem" \
    -set_serial 7 -days 30 -out "$t/dev.pem" 2>/dev/null
openssl x509 -in "$t/dev.pem" -outform DER -out "$t/dev.der"
cat >"$t/chal.cnf" <<'CNF'
[req]
distinguished_name = dn
attributes = attrs
prompt = no
[dn]
CN = enroll me
[attrs]
challengePassword = 0123-4567-89ab
CNF
openssl req -new -key "$t/ec.pem" -config "$t/chal.cnf" -outform DER -out "$t/chal.csr"

# route: SCRIPT_NAME \0 PATH_INFO \0 REQUEST_METHOD
printf '/.well-known/est/cacerts\0\0GET' >"$c/route/cacerts"
printf '/.well-known/est\0/myalias/simpleenroll\0POST' >"$c/route/alias-enroll"
printf '\0/.well-known/est/plant-7/serverkeygen\0GET' >"$c/route/method"
printf '/.well-known/est/a/b/csrattrs\0\0HEAD' >"$c/route/segments"

# b64
base64 "$t/chal.csr" >"$c/b64/csr-lines"
printf 'Zm9vYmFy' >"$c/b64/plain"
printf 'Zm9vYg==\r\n' >"$c/b64/padded"
printf 'Zm9v Y g' >"$c/b64/blanks"

# csr: base64 (with and without lines), raw DER
base64 "$t/chal.csr" >"$c/csr/challenge-b64"
base64 -w0 "$t/dev.csr" >"$c/csr/san-b64"
cp "$t/dev.csr" "$c/csr/san-der"
# keys csr.c makes from their fields (P-384, RSA 2048) and keys it leaves
# to OpenSSL's decoders (a compressed point, Ed25519, RSA-PSS)
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes \
    -keyout /dev/null -subj "/CN=p384" -outform DER -out "$c/csr/p384-der" 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -keyout /dev/null -subj "/CN=rsa" \
    -outform DER -out "$c/csr/rsa2048-der" 2>/dev/null
openssl ec -in "$t/ec.pem" -conv_form compressed -out "$t/ecc.pem" 2>/dev/null
openssl req -new -key "$t/ecc.pem" -subj "/CN=compressed" -outform DER \
    -out "$c/csr/compressed-der"
openssl req -new -newkey ed25519 -nodes -keyout /dev/null -subj "/CN=ed" \
    -outform DER -out "$c/csr/ed25519-der" 2>/dev/null
openssl req -new -newkey rsa-pss -pkeyopt rsa_keygen_bits:1024 -nodes \
    -keyout /dev/null -subj "/CN=pss" -outform DER -out "$c/csr/rsapss-der" 2>/dev/null
if [ -x "$csn" ]; then
	openssl req -new -key "$t/ec.pem" -subj "/CN=new name" \
	    -addext "subjectAltName=DNS:new.example" -outform DER -out "$t/new.csr"
	"$csn" "$t/ec.pem" "$t/chal.csr" "$t/new.csr" "$t/csn.csr" both
	cp "$t/csn.csr" "$c/csr/csn-der"
fi

# csn: ChangeSubjectName values (DER): subject only, SANs only, both
python3 - "$c/csn" <<'PY'
import sys
def tlv(tag, body):
    n = len(body)
    if n < 128: l = bytes([n])
    elif n < 256: l = bytes([0x81, n])
    else: l = bytes([0x82, n >> 8, n & 255])
    return bytes([tag]) + l + body
cn = tlv(0x31, tlv(0x30, bytes.fromhex('0603550403') + tlv(0x0c, b'new name')))
name = tlv(0x30, cn)
gns = tlv(0x30, tlv(0x82, b'new.example') + tlv(0x87, bytes([192, 0, 2, 9])))
d = sys.argv[1]
open(d + '/subject', 'wb').write(tlv(0x30, name))
open(d + '/sans', 'wb').write(tlv(0x30, gns))
open(d + '/both', 'wb').write(tlv(0x30, name + gns))
PY

# clientcert: SSL_CLIENT_CERT \0 SSL_CLIENT_CERT_CHAIN_0 ...
cp "$t/dev.pem" "$c/clientcert/cert"
{ cat "$t/dev.pem"; printf '\0'; cat "$t/ca.pem"; } >"$c/clientcert/cert-chain"
cat "$t/dev.pem" "$t/ca.pem" >"$c/clientcert/two-in-one"

# basic
printf 'Basic %s' "$(printf 'ra-user:s3cret:with colon' | base64 -w0)" >"$c/basic/colon"
printf 'basic\t%s ' "$(printf 'u:' | base64 -w0)" >"$c/basic/empty-pass"
printf 'Bearer abc' >"$c/basic/bearer"

# conf: the shipped templates and one that passes the harness's table
cp "$srcdir/conf/fcgi.conf.in" "$c/conf/fcgi"
cp "$srcdir/conf/signd.conf.in" "$c/conf/signd"
cat >"$c/conf/ok" <<'CONF'
# a comment
database = postgresql:///estca
log_level = 6
[ca root]
key_label = estca-root
cert = /etc/estca/root.pem
[profile device]
validity_days = 365
CONF

# wire (selector byte: 0 request, 1 reply) and reader (selector, frames)
python3 - "$c" "$t" <<'PY'
import sys, subprocess
c, t = sys.argv[1], sys.argv[2]
def tlv(tag, body):
    n = len(body)
    if n < 128: l = bytes([n])
    elif n < 256: l = bytes([0x81, n])
    elif n < 65536: l = bytes([0x82, n >> 8, n & 255])
    else: l = bytes([0x83, n >> 16, (n >> 8) & 255, n & 255])
    return bytes([tag]) + l + body
def integer(v): return tlv(0x02, bytes([v]))
spki = subprocess.run(['openssl', 'pkey', '-in', t + '/rsa.pem', '-pubout', '-outform', 'DER'],
    capture_output=True, check=True).stdout
cert = open(t + '/dev.der', 'rb').read()
ca = open(t + '/ca.der', 'rb').read()
name = tlv(0x30, tlv(0x31, tlv(0x30, bytes.fromhex('0603550403') + tlv(0x0c, b'device 42'))))
health = tlv(0x30, integer(1) + integer(4))
chain = tlv(0x30, integer(1) + integer(1) + tlv(0x80, b'root'))
sign = tlv(0x30, integer(1) + integer(2) + tlv(0x80, b'root') + tlv(0x81, b'device') +
    tlv(0xa2, name) + tlv(0xa3, tlv(0x82, b'dev42.example')) + tlv(0xa4, spki) +
    tlv(0x85, bytes([0x01, 0x51, 0x80])) + tlv(0x87, b'fcgi:alias=est'))
keygen = tlv(0x30, integer(1) + integer(3) + tlv(0x80, b'root') + tlv(0x81, b'tls-server') +
    tlv(0xa2, name) + tlv(0x86, b'ec:P-256'))
ok = tlv(0x30, integer(1) + integer(0) + tlv(0xa1, cert + ca))
refused = tlv(0x30, integer(1) + tlv(0x02, bytes([0xf8])) + tlv(0x80, b'profile refuses the key'))
kg = tlv(0x30, integer(1) + integer(0) + tlv(0xa1, cert) + tlv(0x82, b'\x30\x03\x02\x01\x00'))
def w(path, b): open(path, 'wb').write(b)
for n, m in [('health', health), ('chain', chain), ('sign', sign), ('keygen', keygen)]:
    w(c + '/wire/req-' + n, b'\x00' + m)
for n, m in [('ok', ok), ('refused', refused), ('keygen', kg)]:
    w(c + '/wire/reply-' + n, b'\x01' + m)
def frame(m): return len(m).to_bytes(4, 'big') + m
w(c + '/reader/pipelined', b'\x01' + frame(health) + frame(sign) + frame(chain))
w(c + '/reader/fill', b'\x03' + frame(sign) + frame(keygen))
w(c + '/reader/truncated', b'\x01' + frame(sign)[:40])
w(c + '/reader/small-cap', b'\x00' + frame(health) + frame(sign))
w(c + '/reader/empty-frame', b'\x03' + frame(health) + bytes(4))
PY

# names: DN text \0 DER of a Name
printf 'CN=device 42,O=Acme\\, Inc.,C=DE' >"$c/names/fixed"
printf 'CN=m\xc3\xbc ller+serialNumber=A1,OU=plant,DC=example' >"$c/names/multi"
printf 'CN=\\20x\\23,OU=\\41' >"$c/names/escapes"
python3 - "$c/names" <<'PY'
import sys
def tlv(tag, body):
    n = len(body)
    return bytes([tag]) + (bytes([n]) if n < 128 else bytes([0x81, n])) + body
def ava(oid, tag, v): return tlv(0x30, bytes.fromhex(oid) + tlv(tag, v))
cn, o, c = '0603550403', '060355040a', '0603550406'
name = tlv(0x30, tlv(0x31, ava(c, 0x13, b'DE')) + tlv(0x31, ava(o, 0x0c, b'Acme')) +
    tlv(0x31, ava(cn, 0x0c, b'device 42')))
multi = tlv(0x30, tlv(0x31, ava(o, 0x0c, b'Acme') + ava(cn, 0x1e, 'x'.encode('utf-16-be'))))
open(sys.argv[1] + '/with-der', 'wb').write(b'CN=device 42,O=Acme,C=DE\x00' + name)
open(sys.argv[1] + '/multi-der', 'wb').write(b'CN=x+O=Acme\x00' + multi)
PY

# reply: selector (bit 0: HEAD), 2-byte certificate length, DER, PKCS#8
openssl pkey -in "$t/ec.pem" -outform DER -out "$t/key.der"
python3 - "$c/reply" "$t" <<'PY'
import sys
d, t = sys.argv[1], sys.argv[2]
cert = open(t + '/dev.der', 'rb').read()
key = open(t + '/key.der', 'rb').read()
open(d + '/post', 'wb').write(b'\x00' + len(cert).to_bytes(2, 'big') + cert + key)
open(d + '/head', 'wb').write(b'\x01' + len(cert).to_bytes(2, 'big') + cert + key)
open(d + '/fixed-cert', 'wb').write(b'\x00\x00\x00' + key)
PY
echo "fuzz: corpora in $c"
