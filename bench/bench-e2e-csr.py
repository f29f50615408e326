#!/usr/bin/python3
# bench-e2e-csr.py - CSRs for bench/bench-e2e.sh, many at once (openssl req
# costs a process per CSR).  Reads lines "USERNAME [CODE]" on stdin and
# writes one base64 DER PKCS#10 request per line to OUT, in the same order:
# a fresh P-256 key each, subject CN=USERNAME, the code (if any) as
# challengePassword.
#
#   bench-e2e-csr.py OUT [--keydir DIR] [--empty-subject]
#
# --keydir DIR      also write each key as DIR/USERNAME.key (PEM, PKCS#8)
# --empty-subject   an empty subject (renewal: "the certificate's")
import base64
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AttributeOID, NameOID


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit("usage: bench-e2e-csr.py OUT [--keydir DIR] [--empty-subject]")
    out, keydir, empty = args[0], None, False
    i = 1
    while i < len(args):
        if args[i] == "--keydir":
            keydir = args[i + 1]
            i += 1
        elif args[i] == "--empty-subject":
            empty = True
        else:
            sys.exit("bench-e2e-csr.py: unknown argument " + args[i])
        i += 1
    with open(out, "w") as f:
        for line in sys.stdin:
            parts = line.split()
            if not parts:
                continue
            user = parts[0]
            code = parts[1] if len(parts) > 1 else None
            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([]) if empty else x509.Name(
                [x509.NameAttribute(NameOID.COMMON_NAME, user)])
            b = x509.CertificateSigningRequestBuilder().subject_name(name)
            if code is not None:
                b = b.add_attribute(AttributeOID.CHALLENGE_PASSWORD, code.encode())
            csr = b.sign(key, hashes.SHA256())
            der = csr.public_bytes(serialization.Encoding.DER)
            f.write(base64.b64encode(der).decode() + "\n")
            if keydir is not None:
                path = os.path.join(keydir, user + ".key")
                with open(path, "wb") as k:
                    k.write(key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption()))


if __name__ == "__main__":
    main()
