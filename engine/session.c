/*
 * session.c - estca-signd's hold on the token: the shared HSM session
 * (read lock to use it; re-opened under the write lock after a fault), the
 * CA keys and their self-test, serial numbers from the token's random
 * generator, and the token part of an issuance (in_hsm).
 *
 * Whoever uses the token takes it with hsm_acquire() and gives it back
 * with hsm_release().  Nothing here may log the PIN or key material.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include "log.h"
#include "signd.h"

/*
 * Log out and in again after the token failed under us (session handle
 * invalid, user not logged in, device error, token removed): a fresh
 * module context, login and key handles.  Called with the write lock.
 */
static int
hsm_reopen(struct signd *sd)
{
	free_keys(sd);
	estca_hsm_close(sd->hsm);
	sd->hsm = NULL;
	if (estca_hsm_open(sd->module, sd->token, sd->pin_file, &sd->hsm) != 0 ||
	    load_keys(sd) != 0) {
		log_err("HSM re-open failed; requests get a retryable error");
		return ESTCA_ERR_UNAVAILABLE;
	}
	log_info("HSM session re-opened after a fault");
	return 0;
}

/* Take the HSM for one request, re-opening it first if it failed before. */
int
hsm_acquire(struct signd *sd)
{
	if (atomic_load(&sd->hsm_broken)) {
		int r = 0;

		pthread_rwlock_wrlock(&sd->hsm_lock);
		if (atomic_load(&sd->hsm_broken) && (r = hsm_reopen(sd)) == 0)
			atomic_store(&sd->hsm_broken, 0);
		pthread_rwlock_unlock(&sd->hsm_lock);
		if (r != 0)
			return r;
	}
	pthread_rwlock_rdlock(&sd->hsm_lock);
	if (sd->hsm == NULL) {
		pthread_rwlock_unlock(&sd->hsm_lock);
		return ESTCA_ERR_UNAVAILABLE;
	}
	return 0;
}

/* Give the HSM back; a retryable failure marks it for re-opening. */
void
hsm_release(struct signd *sd, int err)
{
	if (err == ESTCA_ERR_UNAVAILABLE || err == ESTCA_ERR_HSM) {
		if (!atomic_exchange(&sd->hsm_broken, 1))
			log_warn("HSM operation failed; the token session will be re-opened");
	}
	pthread_rwlock_unlock(&sd->hsm_lock);
}

/*
 * Random bytes for serial numbers come from the token's generator, a
 * batch per C_GenerateRandom call: each connection keeps what it has not
 * used yet (serials are public; bytes handed out are wiped).
 */
static int
serial_random(struct signd *sd, struct conn *c, unsigned char out[ESTCA_SERIAL_LEN])
{
	if (c->serial_left == 0) {
		if (estca_hsm_random(sd->hsm, c->serial_pool, sizeof(c->serial_pool)) != 0)
			return ESTCA_ERR_UNAVAILABLE;
		c->serial_left = SERIAL_BATCH;
	}
	c->serial_left--;
	memcpy(out, c->serial_pool + c->serial_left * ESTCA_SERIAL_LEN, ESTCA_SERIAL_LEN);
	OPENSSL_cleanse(c->serial_pool + c->serial_left * ESTCA_SERIAL_LEN,
	    ESTCA_SERIAL_LEN);
	return 0;
}

/*
 * The part of an issuance that uses the token: serial, optional key pair,
 * signature.  Runs with the HSM read lock held (hsm_acquire).
 */
int
in_hsm(struct signd *sd, struct conn *c, const struct estca_ca *ca,
    const struct estca_profile *p,
    struct estca_ee_req *rq, const char *keytype,
    unsigned char serial[ESTCA_SERIAL_LEN], X509 **x, EVP_PKEY **newkey,
    ESTCA_SPKI **newspki, char *reason, size_t reasonlen)
{
	int err;

	for (int tries = 0;; tries++) {
		if (serial_random(sd, c, serial) != 0) {
			snprintf(reason, reasonlen, "HSM random generator failed; retry later");
			return ESTCA_ERR_UNAVAILABLE;
		}
		if (estca_serial_from_random(serial) == 0)
			break;
		if (tries == 3) {
			snprintf(reason, reasonlen, "HSM returned zero serials");
			return ESTCA_ERR_HSM;
		}
	}
	if (keytype != NULL) {
		if ((err = estca_hsm_keygen(sd->hsm, keytype, newkey)) != 0) {
			if (err == ESTCA_ERR_UNSUPPORTED) {
				snprintf(reason, reasonlen, "key type not supported "
				    "(rsa:2048, rsa:3072, ec:P-256, ec:P-384)");
				return err;
			}
			snprintf(reason, reasonlen,
			    "key generation in the HSM failed; retry later");
			return ESTCA_ERR_UNAVAILABLE;
		}
		if (estca_spki_from_pkey(*newkey, newspki) != 0) {
			snprintf(reason, reasonlen, "cannot encode the new public key");
			return ESTCA_ERR_INTERNAL;
		}
		rq->spki = *newspki;
	}
	return estca_build_ee(ca, p, rq, serial, x, reason, reasonlen);
}

/* Sign a probe with each CA key and verify it with the CA certificate. */
int
load_keys(struct signd *sd)
{
	static const unsigned char probe[] = "estca-signd key self-test";

	for (size_t i = 0; i < sd->ncas; i++) {
		struct estca_ca *ca = &sd->cas[i];
		unsigned char sig[1024];
		size_t siglen = sizeof(sig);
		EVP_PKEY_CTX *vctx = NULL;
		EVP_MD_CTX *m;
		int ok;

		if (estca_hsm_get_key(sd->hsm, ca->key_label, &ca->key) != 0)
			return ESTCA_ERR_NOT_FOUND;
		ca->hsm = sd->hsm;
		if (ca->pss) {
			unsigned char md[EVP_MAX_MD_SIZE];
			unsigned int mdlen = 0;

			ok = EVP_Digest(probe, sizeof(probe), md, &mdlen, ca->md, NULL) &&
			    estca_hsm_sign_pss(sd->hsm, ca->key_label,
			    EVP_MD_get_type(ca->md), md, mdlen, sig, &siglen) == 0;
		} else {
			ok = estca_sign_probe(ca->key, ca->md, probe, sizeof(probe), sig,
			    &siglen) == 0;
		}
		m = EVP_MD_CTX_new();
		ok = ok && m != NULL &&
		    EVP_DigestVerifyInit(m, &vctx, ca->md, NULL,
		    X509_get0_pubkey(ca->cert)) == 1 &&
		    (!ca->pss || (EVP_PKEY_CTX_set_rsa_padding(vctx,
		    RSA_PKCS1_PSS_PADDING) > 0 && EVP_PKEY_CTX_set_rsa_pss_saltlen(vctx,
		    RSA_PSS_SALTLEN_DIGEST) > 0)) &&
		    EVP_DigestVerify(m, sig, siglen, probe, sizeof(probe)) == 1;
		EVP_MD_CTX_free(m);
		if (!ok) {
			estca_log_ssl(ESTCA_LOG_ERR, "key self-test");
			log_err("CA %s: key '%s' does not match its certificate or "
			    "cannot sign", ca->name, ca->key_label);
			return ESTCA_ERR_CONFIG;
		}
		log_info("CA %s ready (key '%s')", ca->name, ca->key_label);
	}
	return 0;
}

void
free_keys(struct signd *sd)
{
	for (size_t i = 0; i < sd->ncas; i++) {
		EVP_PKEY_free(sd->cas[i].key);
		sd->cas[i].key = NULL;
		sd->cas[i].hsm = NULL;
	}
}
