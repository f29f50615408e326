/*
 * hsm.h - all PKCS#11 access of estca.  Only estca-signd and the offline
 * tool estca-ca link this file; the web tier never does.
 *
 * Signing keys are reached through libp11 (login once, keys as EVP_PKEY
 * whose operations run in the token).  Token set-up (init, key pair
 * generation) uses raw Cryptoki calls libp11 does not offer.
 * PINs live in secret buffers, wiped when freed; they are never logged.
 */
#ifndef ESTCA_HSM_H
#define ESTCA_HSM_H

#include <stddef.h>
#include <openssl/evp.h>
#include "errors.h"
#include "buf.h"

struct estca_hsm;

/*
 * Read a PIN (or other secret) file: first line, trailing newline removed,
 * 4..255 bytes.  Warns when the file is readable by group or others.
 * On success out holds the secret, NUL-terminated (secret buffer).
 */
int estca_read_secret_file(const char *path, struct estca_buf *out) ESTCA_WUR;

/* Load module, find the token by label, log in as user with the PIN. */
int estca_hsm_open(const char *module, const char *token_label,
    const char *pin_file, struct estca_hsm **out) ESTCA_WUR;
void estca_hsm_close(struct estca_hsm *h);

/*
 * The private key labelled label, as an EVP_PKEY whose signing happens in
 * the token.  Caller frees it with EVP_PKEY_free().
 */
int estca_hsm_get_key(struct estca_hsm *h, const char *label, EVP_PKEY **out) ESTCA_WUR;

/* The public key labelled label (a plain, software EVP_PKEY). */
int estca_hsm_get_pubkey(struct estca_hsm *h, const char *label, EVP_PKEY **out) ESTCA_WUR;

/*
 * RSASSA-PSS with the token's own mechanism (CKM_RSA_PKCS_PSS): sign the
 * digest dgst (dlen bytes, md_nid = NID_sha256/384/512, MGF1 with the
 * same hash, salt of dlen bytes) with the private key labelled key_label.
 * *siglen: room in sig on entry, signature length on return.  Errors a
 * re-opened token may cure return ESTCA_ERR_UNAVAILABLE.
 */
int estca_hsm_sign_pss(struct estca_hsm *h, const char *key_label, int md_nid,
    const unsigned char *dgst, size_t dlen, unsigned char *sig, size_t *siglen)
    ESTCA_WUR;

/* n random bytes from the token's generator. */
int estca_hsm_random(struct estca_hsm *h, unsigned char *p, size_t n) ESTCA_WUR;

/*
 * Generate a key pair in the token for a client (serverkeygen): type is
 * rsa:2048, rsa:3072, ec:P-256 or ec:P-384.  The pair is made of session
 * objects, wrapped out under a one-off AES key, unwrapped here and all
 * token objects destroyed at once.  *out is the private key (with its
 * public half); the caller frees it and must never log or store it.
 */
int estca_hsm_keygen(struct estca_hsm *h, const char *type, EVP_PKEY **out) ESTCA_WUR;

/* Token set-up (estca-ca): a free slot gets a token with label and PINs. */
int estca_p11_init_token(const char *module, const char *label,
    const char *so_pin, const char *user_pin) ESTCA_WUR;

/*
 * Generate a CA key pair in the token: type is one of rsa:2048, rsa:3072,
 * ec:P-256, ec:P-384.  The private key is sensitive and never extractable.
 * Refuses when a private key with that label exists already.
 */
int estca_p11_genkey(const char *module, const char *token_label,
    const char *user_pin, const char *key_label, const char *type) ESTCA_WUR;

#endif
