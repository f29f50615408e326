/*
 * audit.c - estca-signd's audit lines: one line per issuance or refusal,
 * written to audit_log with one write() each (O_APPEND keeps lines whole
 * across threads), or to the log.
 *
 * The subject and the reason are escaped here; ca, profile and requester
 * arrive escaped (struct audit).  A line must never hold key material, a
 * PIN or raw request bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "str.h"
#include "log.h"
#include "signd.h"

/*
 * The subject as RFC 2253 text, escaped for the audit line.  Its bytes
 * are printed raw (no RFC 2253 escapes of controls or UTF-8) so that
 * estca_log_escape gives every field the same \xNN form.
 */
static void
name_text(const X509_NAME *n, char *out, size_t outlen)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long k = 0;

	out[0] = 0;
	if (b == NULL)
		return;
	if (n != NULL && X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 &
	    ~(unsigned long)(ASN1_STRFLGS_ESC_CTRL | ASN1_STRFLGS_ESC_MSB)) >= 0)
		k = BIO_get_mem_data(b, &p);
	if (k > 0 && p != NULL)
		estca_log_escape(out, outlen, p, (size_t)k);
	BIO_free(b);
}

void
audit(struct signd *sd, const struct audit *a)
{
	char line[4096], subj[1024], reason[512], fp[65] = "-", sn[41] = "-", ts[32];
	unsigned char md[32];
	unsigned int mdlen = 0;
	unsigned char *der = NULL;
	int derlen;
	struct tm tm;
	time_t now = time(NULL);
	int n;

	if (a->spki != NULL &&
	    (derlen = i2d_ESTCA_SPKI((ESTCA_SPKI *)a->spki, &der)) > 0) {
		if (EVP_Digest(der, (size_t)derlen, md, &mdlen, EVP_sha256(), NULL))
			if (estca_hex(fp, sizeof(fp), md, mdlen) != 0)
				fp[0] = '-', fp[1] = 0;
		OPENSSL_free(der);
	}
	if (a->serial != NULL)
		if (estca_serial_text(sn, sizeof(sn), a->serial,
		    ESTCA_SERIAL_LEN) != 0)
			sn[0] = '-', sn[1] = 0;
	name_text(a->subject, subj, sizeof(subj));
	estca_log_escape(reason, sizeof(reason), a->reason ? a->reason : "",
	    a->reason ? strlen(a->reason) : 0);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(line, sizeof(line),
	    "%s event=%s result=%s ca=\"%s\" profile=\"%s\" serial=%s "
	    "subject=\"%s\" spki_sha256=%s requester=\"%s\" peer_uid=%ld reason=\"%s\"\n",
	    ts, a->event, a->result, a->ca, a->profile, sn, subj, fp, a->requester,
	    (long)a->uid, reason);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	if (sd->audit_fd >= 0) {
		/* one write per line: O_APPEND keeps lines whole across threads */
		if (write(sd->audit_fd, line, (size_t)n) != n)
			log_err("audit log write failed: %s", strerror(errno));
	} else {
		line[n - 1] = 0;
		log_info("audit: %s", line);
	}
}
