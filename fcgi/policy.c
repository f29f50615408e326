/*
 * policy.c - see policy.h.  Owns the meaning of "the request matches what
 * the end entity is registered for" and the order in which enrollment
 * checks are made.  Must never do I/O or see an enrollment code: it only
 * learns whether the code was right.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "policy.h"

static void
decide(struct estca_decision *d, int err, const char *reason,
    const char *audit_fmt, ...) __attribute__((format(printf, 4, 5)));

static void
decide(struct estca_decision *d, int err, const char *reason,
    const char *audit_fmt, ...)
{
	va_list ap;

	d->err = err;
	d->reason = reason;
	va_start(ap, audit_fmt);
	vsnprintf(d->audit, sizeof(d->audit), audit_fmt, ap);
	va_end(ap);
}

/* Is every SAN of sans one of reg?  On no, the first stranger in bad. */
static int
sans_subset(const GENERAL_NAMES *sans, const char *const *reg, size_t nreg,
    char *bad, size_t badlen)
{
	for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
		int found = 0;

		for (size_t k = 0; k < nreg && !found; k++)
			found = estca_san_match(gn, reg[k]);
		if (!found) {
			estca_san_text(gn, bad, badlen);
			return 0;
		}
	}
	return 1;
}

/* Does every member of a occur in b (GENERAL_NAME_cmp)? */
static int
sans_within(const GENERAL_NAMES *a, const GENERAL_NAMES *b)
{
	for (int i = 0; i < sk_GENERAL_NAME_num(a); i++) {
		int found = 0;

		for (int k = 0; k < sk_GENERAL_NAME_num(b) && !found; k++)
			found = GENERAL_NAME_cmp(sk_GENERAL_NAME_value(a, i),
			    sk_GENERAL_NAME_value(b, k)) == 0;
		if (!found)
			return 0;
	}
	return 1;
}

/* ---- decisions ---------------------------------------------------- */

enum estca_mode
estca_mode_parse(const char *text)
{
	static const struct {
		const char *name;
		enum estca_mode mode;
	} modes[] = {
		{ "challenge_password", ESTCA_MODE_CHALLENGE_PASSWORD },
		{ "dn_part_password", ESTCA_MODE_DN_PART_PASSWORD },
		{ "ra", ESTCA_MODE_RA },
		{ "vendor", ESTCA_MODE_VENDOR },
	};

	for (size_t i = 0; text != NULL && i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(text, modes[i].name) == 0)
			return modes[i].mode;
	return ESTCA_MODE_UNKNOWN;
}

int
estca_policy_enroll_mode(const struct estca_alias *a, struct estca_decision *d)
{
	memset(d, 0, sizeof(*d));
	if (a->mode != ESTCA_MODE_UNKNOWN)
		return 0;
	decide(d, ESTCA_ERR_UNSUPPORTED, "this alias's enrollment mode is not "
	    "supported", "unknown enrollment mode %s", a->enroll_mode);
	return d->err;
}

bool
estca_policy_code_mode(const struct estca_alias *a)
{
	return a->mode == ESTCA_MODE_CHALLENGE_PASSWORD ||
	    a->mode == ESTCA_MODE_DN_PART_PASSWORD;
}

/* The code steps of estca_policy_enroll: true when d is decided. */
static bool
code_refused(const struct estca_alias *a, const struct estca_ee_facts *ee,
    const struct estca_enroll_facts *f, struct estca_decision *d)
{
	if (!ee->found) {
		decide(d, ESTCA_ERR_REFUSED, ESTCA_POLICY_BAD_CREDENTIALS,
		    "unknown end entity");
		return true;
	}
	if (!ee->has_code) {
		decide(d, ESTCA_ERR_REFUSED, ESTCA_POLICY_BAD_CREDENTIALS,
		    "end entity has no enrollment code");
		return true;
	}
	if (!f->code_present || !f->code_ok) {
		const char *what = f->code_present ? "wrong enrollment code" :
		    "no enrollment code in the request";

		decide(d, ESTCA_ERR_REFUSED, ESTCA_POLICY_BAD_CREDENTIALS,
		    "%s", what);
		/* A locked or disabled entity's counter stays as it is. */
		if (f->code_present && strcmp(ee->status, "active") == 0) {
			int n = ee->failed_attempts + 1;

			d->count_failure = true;
			d->lock = n >= a->max_failed_attempts;
			decide(d, ESTCA_ERR_REFUSED, ESTCA_POLICY_BAD_CREDENTIALS,
			    "%s (failed attempt %d of %d%s)", what, n,
			    a->max_failed_attempts, d->lock ?
			    "; end entity now locked" : "");
		} else if (f->code_present) {
			decide(d, ESTCA_ERR_REFUSED, ESTCA_POLICY_BAD_CREDENTIALS,
			    "%s for %s end entity (not counted)", what,
			    ee->status);
		}
		return true;
	}
	return false;
}

void
estca_policy_enroll(const struct estca_alias *a, const struct estca_ee_facts *ee,
    const struct estca_enroll_facts *f, struct estca_decision *d)
{
	bool code = estca_policy_code_mode(a);
	char bad[200];
	int m;

	if (estca_policy_enroll_mode(a, d) != 0)
		return;
	if (code && code_refused(a, ee, f, d))
		return;
	/*
	 * From here on the caller knew the code, or is an authenticated RA
	 * or vendor device: say what is wrong.
	 */
	if (!ee->found) {
		decide(d, ESTCA_ERR_REFUSED, "no such end entity registered "
		    "under this alias", "unknown end entity");
		return;
	}
	if (strcmp(ee->status, "locked") == 0) {
		decide(d, ESTCA_ERR_REFUSED, "end entity locked after too many "
		    "failed attempts; ask the administrator to unlock it",
		    "end entity locked");
		return;
	}
	if (strcmp(ee->status, "active") != 0) {
		decide(d, ESTCA_ERR_REFUSED, "end entity disabled",
		    "end entity %s", ee->status);
		return;
	}
	if (ee->uses_left <= 0) {
		if (code)
			decide(d, ESTCA_ERR_REFUSED, "enrollment code already used",
			    "enrollment code has no uses left");
		else
			decide(d, ESTCA_ERR_REFUSED, "end entity has no "
			    "enrollments left; ask the administrator",
			    "end entity has no uses left");
		return;
	}
	if (ee->subject_dn == NULL && X509_NAME_entry_count(f->subject) == 0) {
		/* nothing to take the empty subject from */
		decide(d, ESTCA_ERR_REFUSED, "the request subject is empty and no "
		    "subject is registered for this end entity; put the subject "
		    "in the request", "empty subject, none registered");
		return;
	}
	if (ee->subject_dn != NULL) {
		m = estca_dn_match(f->subject, ee->subject_dn);
		if (m < 0) {
			decide(d, ESTCA_ERR_INTERNAL, "end entity registration "
			    "unusable; ask the administrator",
			    "registered subject_dn does not parse (RFC 4514)");
			return;
		}
		if (m == 0) {
			char got[200];

			if (estca_name_text(f->subject, got, sizeof(got)) != 0)
				snprintf(got, sizeof(got), "(too long)");
			decide(d, ESTCA_ERR_REFUSED,
			    "subject does not match the registered subject",
			    "subject mismatch: asked \"%s\"", got);
			return;
		}
	} else if (a->mode == ESTCA_MODE_VENDOR) {
		/*
		 * The vendor certificate named the end entity, not the
		 * subject: without a registered subject, the subject must
		 * still name it, or a device could take another's name.
		 */
		char v[ESTCA_DB_USERNAME_MAX + 1];

		if (f->username == NULL ||
		    estca_name_field(f->subject, a->username_dn_field, v,
		    sizeof(v)) != 0 || strcmp(v, f->username) != 0) {
			decide(d, ESTCA_ERR_REFUSED, "subject does not name the "
			    "end entity of the vendor certificate",
			    "subject does not name the end entity (%s)",
			    a->username_dn_field);
			return;
		}
	}
	if (f->sans != NULL && !sans_subset(f->sans, ee->sans, ee->nsans, bad,
	    sizeof(bad))) {
		decide(d, ESTCA_ERR_REFUSED,
		    "subjectAltName not registered for this end entity",
		    "SAN not registered: %s", bad);
		return;
	}
	decide(d, 0, "ok", "enrollment accepted");
}

void
estca_policy_ra(const struct estca_alias *a, const struct estca_ra_facts *f,
    struct estca_decision *d)
{
	memset(d, 0, sizeof(*d));
	(void)a;
	switch (f->how) {
	case ESTCA_RA_NONE:
		decide(d, ESTCA_WEB_ERR_AUTH, "RA credentials required (HTTP "
		    "Basic or an RA client certificate)", "no RA credentials");
		return;
	case ESTCA_RA_BASIC:
		if (f->malformed) {
			decide(d, ESTCA_WEB_ERR_AUTH, "unusable Basic credentials",
			    "RA Basic credentials malformed");
		} else if (!f->known || !f->password_ok) {
			decide(d, ESTCA_WEB_ERR_AUTH, "unknown RA user or wrong "
			    "password", "%s", f->known ? "wrong RA password" :
			    "unknown RA user");
		} else {
			decide(d, 0, "ok", "RA authenticated by password");
		}
		return;
	case ESTCA_RA_CERT:
		if (f->malformed) {
			decide(d, ESTCA_ERR_REFUSED, "client certificate unusable",
			    "RA client certificate does not parse");
		} else if (!f->known) {
			decide(d, ESTCA_ERR_REFUSED, "client certificate is not a "
			    "member of an RA role of this alias",
			    "client certificate of no RA role member");
		} else if (!f->chain_ok) {
			decide(d, ESTCA_ERR_REFUSED, "RA client certificate does "
			    "not verify", "RA client certificate does not verify: %s",
			    f->chain_why != NULL ? f->chain_why : "?");
		} else if (f->revoked) {
			decide(d, ESTCA_ERR_REFUSED, "RA client certificate revoked",
			    "RA client certificate revoked");
		} else {
			decide(d, 0, "ok", "RA authenticated by certificate");
		}
		return;
	}
	decide(d, ESTCA_ERR_INTERNAL, NULL, "RA facts unset");
}

void
estca_policy_vendor(const struct estca_alias *a,
    const struct estca_vendor_facts *f, struct estca_decision *d)
{
	memset(d, 0, sizeof(*d));
	if (!f->cert_present) {
		decide(d, ESTCA_ERR_REFUSED, "vendor mode needs the vendor "
		    "certificate as TLS client certificate", "no client certificate");
		return;
	}
	if (f->cert_malformed) {
		decide(d, ESTCA_ERR_REFUSED, "client certificate unusable",
		    "vendor certificate does not parse");
		return;
	}
	if (!f->chain_ok) {
		decide(d, ESTCA_ERR_REFUSED, "client certificate does not chain "
		    "to a vendor CA of this alias",
		    "vendor certificate does not verify: %s",
		    f->chain_why != NULL ? f->chain_why : "?");
		return;
	}
	if (f->revoked) {
		decide(d, ESTCA_ERR_REFUSED, "client certificate revoked",
		    "vendor certificate revoked");
		return;
	}
	if (f->username_r == ESTCA_ERR_CONFIG) {
		decide(d, ESTCA_ERR_CONFIG, NULL, "alias misconfigured: unknown "
		    "username_dn_field %s", a->username_dn_field);
		return;
	}
	if (f->username_r != 0) {
		decide(d, ESTCA_ERR_REFUSED, "the vendor certificate's subject "
		    "does not name an end entity",
		    "vendor certificate has no single usable %s",
		    a->username_dn_field);
		return;
	}
	if (f->csn && !a->change_subject_name) {
		decide(d, ESTCA_ERR_REFUSED, "ChangeSubjectName is not allowed "
		    "for this alias", "ChangeSubjectName refused by the alias");
		return;
	}
	if (f->csn && !f->csn_subject) {
		decide(d, ESTCA_ERR_REFUSED, "ChangeSubjectName must carry a "
		    "subject", "ChangeSubjectName without a subject");
		return;
	}
	decide(d, 0, "ok", "vendor certificate accepted");
}

const X509_NAME *
estca_enroll_subject(const X509_NAME *csr_subject, const X509_NAME *csn_subject,
    const X509_NAME *registered)
{
	if (csn_subject != NULL)
		return csn_subject;
	if (X509_NAME_entry_count(csr_subject) > 0 || registered == NULL)
		return csr_subject;
	return registered;
}

bool
estca_challenge_is_binding(const char *challenge)
{
	size_t n, pad = 0;

	if (challenge == NULL)
		return false;
	n = strlen(challenge);
	/* 12 bytes: 16 characters, no padding; 32 bytes: 43 and one '=' */
	if (n == 44 && challenge[43] == '=')
		pad = 1;
	else if (n != 16)
		return false;
	for (size_t i = 0; i < n - pad; i++) {
		unsigned char c = (unsigned char)challenge[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return false;
	}
	/* the last character of 32 bytes carries 2 bits: its low 2 are 0 */
	if (pad == 1 && strchr("AEIMQUYcgkosw048", challenge[42]) == NULL)
		return false;
	return true;
}

void
estca_policy_binding(const struct estca_alias *a, bool code_expected,
    const char *challenge, struct estca_decision *d)
{
	memset(d, 0, sizeof(*d));
	if (!estca_challenge_is_binding(challenge) ||
	    (code_expected && !a->channel_binding)) {
		decide(d, 0, "ok", "no channel binding");
		return;
	}
	decide(d, ESTCA_ERR_REFUSED, "the challengePassword carries a channel "
	    "binding (RFC 7030 3.5, tls-unique), which this server cannot verify "
	    "behind its web server; send the request without it",
	    "channel binding in the challengePassword (cannot be verified; "
	    "not taken for a code)");
}

void
estca_policy_renew(const struct estca_alias *a, const struct estca_renew_facts *f,
    struct estca_decision *d)
{
	GENERAL_NAMES *old;
	int crit = -1, same;
	bool keep_name;

	memset(d, 0, sizeof(*d));
	if (f->csn) {
		decide(d, ESTCA_ERR_REFUSED, "ChangeSubjectName is not allowed "
		    "on renewal", "renewal with ChangeSubjectName refused");
		return;
	}
	if (!f->chain_ok) {
		decide(d, ESTCA_ERR_REFUSED,
		    "client certificate not issued by this alias's CA",
		    "client certificate does not verify: %s",
		    f->chain_why != NULL ? f->chain_why : "?");
		return;
	}
	if (!f->known) {
		decide(d, ESTCA_ERR_REFUSED,
		    "client certificate not issued through EST by this CA",
		    "client certificate not in est.certificate");
		return;
	}
	if (!f->same_alias) {
		decide(d, ESTCA_ERR_REFUSED,
		    "client certificate was issued under another alias",
		    "client certificate of another alias");
		return;
	}
	if (f->revoked) {
		decide(d, ESTCA_ERR_REFUSED, "client certificate revoked",
		    "client certificate revoked");
		return;
	}
	if (f->expired) {
		decide(d, ESTCA_ERR_REFUSED, "client certificate expired",
		    "client certificate expired");
		return;
	}
	if (f->ee_status == NULL) {
		decide(d, ESTCA_ERR_REFUSED, "end entity no longer registered",
		    "client certificate has no end entity (deleted)");
		return;
	}
	if (strcmp(f->ee_status, "disabled") == 0) {
		decide(d, ESTCA_ERR_REFUSED, "end entity disabled",
		    "end entity disabled");
		return;
	}
	/* An empty subject asks for the certificate's own name. */
	keep_name = X509_NAME_entry_count(f->subject) == 0;
	if (!keep_name && (same = estca_name_der_eq(X509_get_subject_name(f->cert),
	    f->subject)) != 1) {
		if (same < 0)
			decide(d, ESTCA_ERR_INTERNAL, NULL, "subject does not encode");
		else
			decide(d, ESTCA_ERR_REFUSED,
			    "request subject differs from the client certificate's",
			    "renewal subject mismatch");
		return;
	}
	old = X509_get_ext_d2i(f->cert, NID_subject_alt_name, &crit, NULL);
	if (old == NULL && crit == -2) {
		decide(d, ESTCA_ERR_REFUSED, "client certificate has two "
		    "subjectAltName extensions", "client certificate: duplicate SAN");
		return;
	}
	/* ... and then no SANs in the request means the certificate's. */
	if (keep_name && sk_GENERAL_NAME_num(f->sans) <= 0)
		same = 1;
	else
		same = sans_within(f->sans, old) && sans_within(old, f->sans);
	GENERAL_NAMES_free(old);
	if (!same) {
		decide(d, ESTCA_ERR_REFUSED,
		    "request subjectAltNames differ from the client certificate's",
		    "renewal SAN mismatch");
		return;
	}
	if (!f->server_keygen && !a->allow_same_key_renewal &&
	    f->key != NULL && X509_get0_pubkey(f->cert) != NULL &&
	    EVP_PKEY_eq(X509_get0_pubkey(f->cert), f->key) == 1) {
		decide(d, ESTCA_ERR_REFUSED,
		    "renewal with the same public key is not allowed for this alias",
		    "renewal with the same key refused");
		return;
	}
	decide(d, 0, "ok", "renewal accepted");
}

/* ---- the approval queue ---------------------------------------------- */

void
estca_policy_approval(const struct estca_approval_facts *f,
    enum estca_approval_action *action, struct estca_decision *d)
{
	const char *st = f->status != NULL ? f->status : "";

	memset(d, 0, sizeof(*d));
	if (!f->found) {
		if (!f->required) {
			*action = ESTCA_APPROVAL_NONE;
			decide(d, 0, "ok", "no approval required");
		} else if (f->open_others > 0) {
			/* one open request per end entity: no queue flooding,
			 * and the DBA decides about one key at a time */
			*action = ESTCA_APPROVAL_REFUSE;
			decide(d, ESTCA_ERR_REFUSED, "another request of this end "
			    "entity is waiting for approval", "another request of "
			    "the end entity is open (%lld)", f->open_others);
		} else {
			*action = ESTCA_APPROVAL_QUEUE;
			decide(d, ESTCA_WEB_PENDING, "waiting for approval",
			    "queued for approval");
		}
		return;
	}
	if (strcmp(st, "rejected") == 0) {
		*action = ESTCA_APPROVAL_REFUSE;
		decide(d, ESTCA_ERR_REFUSED, "request rejected",
		    "queued request was rejected");
	} else if (strcmp(st, "issued") == 0) {
		*action = ESTCA_APPROVAL_REFUSE;
		decide(d, ESTCA_ERR_REFUSED, "request already issued; send a new "
		    "request", "queued request was issued already");
	} else if (strcmp(st, "pending") != 0 && strcmp(st, "approved") != 0) {
		*action = ESTCA_APPROVAL_REFUSE;
		decide(d, ESTCA_ERR_REFUSED, "approval request expired; send a new "
		    "request", "queued request is %s", strcmp(st, "expired") == 0 ?
		    "expired" : "in an unknown state");
	} else if (f->expired) {
		*action = ESTCA_APPROVAL_EXPIRE;
		decide(d, ESTCA_ERR_REFUSED, "approval request expired; send a new "
		    "request", "queued request expired while %s", st);
	} else if (!f->same_ee) {
		*action = ESTCA_APPROVAL_REFUSE;
		decide(d, ESTCA_ERR_REFUSED, "end entity no longer registered",
		    "end entity of the queued request is gone or replaced");
	} else if (strcmp(st, "pending") == 0) {
		*action = ESTCA_APPROVAL_WAIT;
		decide(d, ESTCA_WEB_PENDING, "waiting for approval",
		    "queued request still pending");
	} else {
		*action = ESTCA_APPROVAL_RELEASE;
		decide(d, 0, "ok", "queued request approved");
	}
}
