/*
 * unit_policy.c - the enrollment policy (fcgi/policy.c) driven by tables,
 * without HTTP, database or engine: enrollment with a code, renewal, RA
 * and vendor credentials, the approval queue.  Certificates are made in
 * memory with OpenSSL.  Prints TAP-style "ok N - ..." lines; exits 1 if
 * any case fails.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "policy.h"
#include "fixtures.h"
#include "tap.h"

static EVP_PKEY *key1, *key2;

/* ---- decisions ------------------------------------------------------- */

static void
test_enroll(void)
{
	static const char *subj[] = { "O", "Example", "CN", "device1", NULL };
	static const char *const reg_sans[] = { "DNS:a.example", "IP:192.0.2.1" };
	struct estca_alias a;
	struct estca_ee_facts ee, ee0;
	struct estca_enroll_facts f, f0;
	struct estca_decision d;
	X509_NAME *n = name_of(subj);
	GENERAL_NAMES *ok_sans = sans_of("DNS:A.example"),
	    *bad_sans = sans_of("DNS:a.example,DNS:evil.example");

	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "est");
	snprintf(a.enroll_mode, sizeof(a.enroll_mode), "challenge_password");
	a.mode = estca_mode_parse("challenge_password");
	a.max_failed_attempts = 3;
	memset(&ee0, 0, sizeof(ee0));
	ee0.found = true;
	ee0.status = "active";
	ee0.has_code = true;
	ee0.uses_left = 1;
	ee0.subject_dn = "CN=device1,O=Example";
	ee0.sans = reg_sans;
	ee0.nsans = 2;
	memset(&f0, 0, sizeof(f0));
	f0.code_present = true;
	f0.code_ok = true;
	f0.subject = n;
	f0.sans = ok_sans;

	ee = ee0, f = f0;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == 0, "right code, registered subject and SANs: accept");

	ee = ee0, f = f0;
	ee.found = false;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && !d.count_failure &&
	    strcmp(d.reason, ESTCA_POLICY_BAD_CREDENTIALS) == 0 &&
	    strstr(d.audit, "unknown end entity") != NULL,
	    "unknown end entity: same reason as a wrong code, audit says which");

	ee = ee0, f = f0;
	f.code_ok = false;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && d.count_failure && !d.lock &&
	    strcmp(d.reason, ESTCA_POLICY_BAD_CREDENTIALS) == 0,
	    "wrong code: counted, not locked (%s)", d.audit);
	ee.failed_attempts = 2;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && d.count_failure && d.lock,
	    "third wrong code of three: locks (%s)", d.audit);

	ee = ee0, f = f0;
	f.code_present = false;
	f.code_ok = false;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && !d.count_failure,
	    "no code: refused, not counted");

	ee = ee0, f = f0;
	ee.has_code = false;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED &&
	    strcmp(d.reason, ESTCA_POLICY_BAD_CREDENTIALS) == 0,
	    "end entity without a code: refused");

	ee = ee0, f = f0;
	ee.status = "locked";
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "locked") != NULL,
	    "locked, right code: says locked");
	f.code_ok = false;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && !d.count_failure &&
	    strcmp(d.reason, ESTCA_POLICY_BAD_CREDENTIALS) == 0,
	    "locked, wrong code: generic reason, not counted");

	ee = ee0, f = f0;
	ee.status = "disabled";
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "disabled") != NULL,
	    "disabled: refused");

	ee = ee0, f = f0;
	ee.uses_left = 0;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "already used") != NULL,
	    "used-up code: refused");

	ee = ee0, f = f0;
	ee.subject_dn = "CN=device2,O=Example";
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "subject") != NULL,
	    "subject mismatch: refused (%s)", d.audit);
	ee.subject_dn = NULL;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == 0, "no registered subject: any subject");
	ee.subject_dn = "CN=#00";
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_INTERNAL, "unparsable registered subject: 500");

	ee = ee0, f = f0;
	f.sans = bad_sans;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED &&
	    strstr(d.audit, "evil.example") != NULL,
	    "unregistered SAN: refused (%s)", d.audit);
	f.sans = NULL;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == 0, "no SANs asked: fewer than registered is fine");
	ee.nsans = 0;
	f.sans = ok_sans;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED, "SANs asked, none registered: refused");

	ee = ee0, f = f0;
	snprintf(a.enroll_mode, sizeof(a.enroll_mode), "ra");
	a.mode = estca_mode_parse("ra");
	f.code_present = false;
	f.code_ok = false;
	ee.has_code = false;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == 0 && !estca_policy_code_mode(&a),
	    "ra mode: no code needed, no code registered: accept");
	ee.uses_left = 0;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED &&
	    strstr(d.reason, "no enrollments left") != NULL,
	    "ra mode: uses still apply (%s)", d.reason);
	ee = ee0;
	ee.found = false;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && !d.count_failure &&
	    strstr(d.reason, "no such end entity") != NULL,
	    "ra mode: unknown end entity said plainly to the RA");
	ee = ee0;
	ee.status = "locked";
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "locked") != NULL,
	    "ra mode: locked end entity refused");
	ee = ee0;
	ee.subject_dn = "CN=device2,O=Example";
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "subject") != NULL,
	    "ra mode: subject still matched against the registration");
	ee = ee0, f = f0;
	f.sans = bad_sans;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED, "ra mode: SANs still matched");

	ee = ee0, f = f0;
	snprintf(a.enroll_mode, sizeof(a.enroll_mode), "vendor");
	a.mode = estca_mode_parse("vendor");
	f.code_present = false;
	f.username = "device1";
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == 0, "vendor mode: registered subject: accept");
	ee.subject_dn = NULL;
	snprintf(a.username_dn_field, sizeof(a.username_dn_field), "CN");
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == 0, "vendor mode, any subject: subject names the end entity");
	f.username = "device9";
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED,
	    "vendor mode, any subject: subject naming another end entity refused");

	ee = ee0, f = f0;
	snprintf(a.enroll_mode, sizeof(a.enroll_mode), "nosuchmode");
	a.mode = estca_mode_parse("nosuchmode");
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_UNSUPPORTED, "unknown mode: 501");
	snprintf(a.enroll_mode, sizeof(a.enroll_mode), "dn_part_password");
	a.mode = estca_mode_parse("dn_part_password");
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == 0, "dn_part_password: same rules");

	X509_NAME_free(n);
	GENERAL_NAMES_free(ok_sans);
	GENERAL_NAMES_free(bad_sans);
}

/* A certificate for key with subject and SANs (self-signed will do: the
 * policy sees only what the chain check found). */
static X509 *
make_cert(EVP_PKEY *key, const char *const *subj, const char *sans)
{
	X509 *x = X509_new();
	X509_NAME *n = name_of(subj);

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 42);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_NAME_free(n);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	if (sans != NULL) {
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL,
		    NID_subject_alt_name, sans);

		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	X509_sign(x, key, EVP_sha256());
	return x;
}

static void
test_renew(void)
{
	static const char *subj[] = { "CN", "device1", NULL };
	static const char *other[] = { "CN", "device2", NULL };
	struct estca_alias a;
	struct estca_renew_facts f0, f;
	struct estca_decision d;
	X509 *cert = make_cert(key1, subj, "DNS:a.example,IP:192.0.2.1");
	X509 *nosan = make_cert(key1, subj, NULL);
	static const char *upper_subj[] = { "CN", "DEVICE1", NULL };
	static const char *spaced_subj[] = { "CN", "device1 ", NULL };
	X509_NAME *n = name_of(subj), *n2 = name_of(other),
	    *upper = name_of(upper_subj), *spaced = name_of(spaced_subj),
	    *printable = X509_NAME_new(), *empty = X509_NAME_new();
	GENERAL_NAMES *same = sans_of("IP:192.0.2.1,DNS:a.example"),
	    *fewer = sans_of("DNS:a.example"),
	    *upper_sans = sans_of("IP:192.0.2.1,DNS:A.example");
	X509_NAME_add_entry_by_txt(printable, "CN", V_ASN1_PRINTABLESTRING,
	    (const unsigned char *)"device1", -1, -1, 0);
	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "est");
	memset(&f0, 0, sizeof(f0));
	f0.chain_ok = true;
	f0.known = true;
	f0.same_alias = true;
	f0.ee_status = "active";
	f0.cert = cert;
	f0.subject = n;
	f0.sans = same;
	f0.key = key2;

	f = f0;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == 0, "renewal with a new key, same subject and SANs: accept");

	f = f0;
	f.chain_ok = false;
	f.chain_why = "unable to get local issuer certificate";
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.audit, "local issuer") != NULL,
	    "foreign certificate: refused");
	f = f0;
	f.known = false;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED, "certificate not recorded: refused");
	f = f0;
	f.same_alias = false;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED, "certificate of another alias: refused");
	f = f0;
	f.revoked = true;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "revoked") != NULL,
	    "revoked: refused");
	f = f0;
	f.expired = true;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "expired") != NULL,
	    "expired: refused");
	f = f0;
	f.ee_status = NULL;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED, "end entity deleted: refused");
	f = f0;
	f.ee_status = "disabled";
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED, "end entity disabled: refused");
	f = f0;
	f.ee_status = "locked";
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == 0, "end entity locked by code failures: renewal still works");
	f = f0;
	f.subject = n2;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "subject") != NULL,
	    "other subject: refused");
	f = f0;
	f.subject = upper;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "subject") != NULL,
	    "subject differing in case only: refused");
	f.subject = spaced;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "subject") != NULL,
	    "subject differing in spaces only: refused");
	f.subject = printable;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "subject") != NULL,
	    "subject differing in string type only: refused");
	f.subject = empty;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == 0, "empty subject, same SANs: accept");
	f.sans = NULL;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == 0, "empty subject, no SANs: accept (the certificate's)");
	f.sans = fewer;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED, "empty subject, fewer SANs: refused");
	f = f0;
	f.sans = upper_sans;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED, "SAN differing in case only: refused");
	tap_ok(estca_name_der_eq(n, upper) == 0 && estca_name_der_eq(n, n) == 1,
	    "estca_name_der_eq: case matters, equal names equal");
	f = f0;
	f.sans = fewer;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED, "fewer SANs: refused");
	f.sans = NULL;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED, "no SANs: refused");
	f.cert = nosan;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == 0, "no SANs in either: accept");
	f = f0;
	f.key = key1;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "same public key") != NULL,
	    "same key, alias forbids: refused");
	a.allow_same_key_renewal = true;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == 0, "same key, alias allows: accept");
	f = f0;
	f.csn = true;
	a.change_subject_name = true;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED &&
	    strstr(d.reason, "ChangeSubjectName") != NULL,
	    "ChangeSubjectName on renewal: refused even where the alias allows it");

	X509_free(cert);
	X509_free(nosan);
	X509_NAME_free(n);
	X509_NAME_free(n2);
	X509_NAME_free(upper);
	X509_NAME_free(spaced);
	X509_NAME_free(printable);
	X509_NAME_free(empty);
	GENERAL_NAMES_free(same);
	GENERAL_NAMES_free(fewer);
	GENERAL_NAMES_free(upper_sans);
}


/* ---- RA and vendor decisions ------------------------------------------ */

static void
test_ra_vendor(void)
{
	static const struct {
		struct estca_ra_facts f;
		int want;
		const char *name;
	} ra[] = {
		{ { .how = ESTCA_RA_NONE }, ESTCA_WEB_ERR_AUTH, "no credentials: 401" },
		{ { .how = ESTCA_RA_BASIC, .malformed = true }, ESTCA_WEB_ERR_AUTH,
		    "malformed Basic: 401" },
		{ { .how = ESTCA_RA_BASIC, .known = false }, ESTCA_WEB_ERR_AUTH,
		    "unknown RA user: 401" },
		{ { .how = ESTCA_RA_BASIC, .known = true, .password_ok = false },
		    ESTCA_WEB_ERR_AUTH, "wrong RA password: 401" },
		{ { .how = ESTCA_RA_BASIC, .known = true, .password_ok = true }, 0,
		    "right RA password: accept" },
		{ { .how = ESTCA_RA_CERT, .malformed = true }, ESTCA_ERR_REFUSED,
		    "unparsable RA certificate: 403" },
		{ { .how = ESTCA_RA_CERT, .known = false, .chain_ok = true },
		    ESTCA_ERR_REFUSED, "certificate of no member (even if it "
		    "verifies): 403" },
		{ { .how = ESTCA_RA_CERT, .known = true, .chain_ok = false,
		    .chain_why = "certificate has expired" }, ESTCA_ERR_REFUSED,
		    "member certificate that does not verify: 403" },
		{ { .how = ESTCA_RA_CERT, .known = true, .chain_ok = true }, 0,
		    "member certificate that verifies: accept" },
		{ { .how = ESTCA_RA_CERT, .known = true, .chain_ok = true,
		    .revoked = true }, ESTCA_ERR_REFUSED,
		    "member certificate of this CA, revoked: 403" },
	};
	static const struct {
		struct estca_vendor_facts f;
		bool allow_csn;
		int want;
		const char *name;
	} ven[] = {
		{ { .cert_present = false }, false, ESTCA_ERR_REFUSED,
		    "vendor: no certificate: 403" },
		{ { .cert_present = true, .cert_malformed = true }, false,
		    ESTCA_ERR_REFUSED, "vendor: unparsable certificate: 403" },
		{ { .cert_present = true, .chain_ok = false, .chain_why = "x" },
		    false, ESTCA_ERR_REFUSED, "vendor: does not chain: 403" },
		{ { .cert_present = true, .chain_ok = true,
		    .username_r = ESTCA_ERR_NOT_FOUND }, false, ESTCA_ERR_REFUSED,
		    "vendor: no username field: 403" },
		{ { .cert_present = true, .chain_ok = true,
		    .username_r = ESTCA_ERR_CONFIG }, false, ESTCA_ERR_CONFIG,
		    "vendor: unknown username field: config error" },
		{ { .cert_present = true, .chain_ok = true }, false, 0,
		    "vendor: chains, names an end entity: accept" },
		{ { .cert_present = true, .chain_ok = true, .revoked = true },
		    false, ESTCA_ERR_REFUSED,
		    "vendor: certificate of this CA, revoked: 403" },
		{ { .cert_present = true, .chain_ok = true, .csn = true,
		    .csn_subject = true }, false, ESTCA_ERR_REFUSED,
		    "vendor: ChangeSubjectName, alias disallows: 403" },
		{ { .cert_present = true, .chain_ok = true, .csn = true,
		    .csn_subject = true }, true, 0,
		    "vendor: ChangeSubjectName, alias allows: accept" },
		{ { .cert_present = true, .chain_ok = true, .csn = true,
		    .csn_subject = false }, true, ESTCA_ERR_REFUSED,
		    "vendor: ChangeSubjectName without a subject: 403" },
	};
	static const char *s1[] = { "CN", "csr", NULL };
	static const char *s2[] = { "CN", "csn", NULL };
	static const char *s3[] = { "CN", "vendor", NULL };
	struct estca_alias a;
	struct estca_decision d;
	X509_NAME *csr = name_of(s1), *csn = name_of(s2), *ven_n = name_of(s3),
	    *empty = X509_NAME_new();

	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "x");
	snprintf(a.username_dn_field, sizeof(a.username_dn_field), "CN");
	for (size_t i = 0; i < sizeof(ra) / sizeof(ra[0]); i++) {
		estca_policy_ra(&a, &ra[i].f, &d);
		tap_ok(d.err == ra[i].want && (d.err == 0 || d.reason != NULL),
		    "ra: %s (%s)", ra[i].name, d.audit);
	}
	for (size_t i = 0; i < sizeof(ven) / sizeof(ven[0]); i++) {
		a.change_subject_name = ven[i].allow_csn;
		estca_policy_vendor(&a, &ven[i].f, &d);
		tap_ok(d.err == ven[i].want, "%s (%s)", ven[i].name, d.audit);
	}
	/* ven_n stands for the registered subject here */
	tap_ok(estca_enroll_subject(csr, csn, ven_n) == csn,
	    "enroll subject: ChangeSubjectName's first");
	tap_ok(estca_enroll_subject(csr, NULL, ven_n) == csr,
	    "enroll subject: else the CSR's");
	tap_ok(estca_enroll_subject(empty, NULL, ven_n) == ven_n,
	    "enroll subject: empty CSR subject takes the registered one");
	tap_ok(estca_enroll_subject(empty, NULL, NULL) == empty,
	    "enroll subject: empty, nothing registered: the empty one (refused later)");
	X509_NAME_free(csr);
	X509_NAME_free(csn);
	X509_NAME_free(ven_n);
	X509_NAME_free(empty);
}

/* The approval queue's decisions, as a table. */
static void
test_approval(void)
{
	static const struct {
		bool required, found;
		const char *status;
		bool expired, same_ee;
		long long others;
		enum estca_approval_action act;
		int err;
		const char *what;
	} t[] = {
		{ false, false, NULL, false, false, 0, ESTCA_APPROVAL_NONE, 0,
		    "no approval required: issue" },
		{ true, false, NULL, false, false, 0, ESTCA_APPROVAL_QUEUE,
		    ESTCA_WEB_PENDING, "required, new: queue (202)" },
		{ true, false, NULL, false, false, 1, ESTCA_APPROVAL_REFUSE,
		    ESTCA_ERR_REFUSED, "required, another request open: 403" },
		{ false, true, "pending", false, true, 0, ESTCA_APPROVAL_WAIT,
		    ESTCA_WEB_PENDING, "queued, pending: 202 again" },
		{ true, true, "approved", false, true, 0, ESTCA_APPROVAL_RELEASE,
		    0, "queued, approved: issue" },
		{ false, true, "approved", false, true, 0, ESTCA_APPROVAL_RELEASE,
		    0, "approved, approval no longer required: still issue" },
		{ true, true, "rejected", false, true, 0, ESTCA_APPROVAL_REFUSE,
		    ESTCA_ERR_REFUSED, "rejected: 403" },
		{ true, true, "issued", false, true, 0, ESTCA_APPROVAL_REFUSE,
		    ESTCA_ERR_REFUSED, "issued: 403" },
		{ true, true, "expired", false, true, 0, ESTCA_APPROVAL_REFUSE,
		    ESTCA_ERR_REFUSED, "marked expired: 403" },
		{ true, true, "pending", true, true, 0, ESTCA_APPROVAL_EXPIRE,
		    ESTCA_ERR_REFUSED, "pending past expiry: expire, 403" },
		{ true, true, "approved", true, true, 0, ESTCA_APPROVAL_EXPIRE,
		    ESTCA_ERR_REFUSED, "approved past expiry: expire, 403" },
		{ true, true, "rejected", true, false, 0, ESTCA_APPROVAL_REFUSE,
		    ESTCA_ERR_REFUSED, "rejected and expired: rejected wins" },
		{ true, true, "pending", false, false, 0, ESTCA_APPROVAL_REFUSE,
		    ESTCA_ERR_REFUSED, "pending, end entity gone: 403" },
		{ true, true, "approved", false, false, 0, ESTCA_APPROVAL_REFUSE,
		    ESTCA_ERR_REFUSED, "approved, end entity replaced: 403" },
		{ true, true, "bogus", false, true, 0, ESTCA_APPROVAL_REFUSE,
		    ESTCA_ERR_REFUSED, "unknown status: 403" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct estca_approval_facts f = {
			.required = t[i].required,
			.found = t[i].found,
			.status = t[i].status,
			.expired = t[i].expired,
			.same_ee = t[i].same_ee,
			.open_others = t[i].others,
		};
		enum estca_approval_action act = ESTCA_APPROVAL_NONE;
		struct estca_decision d;

		estca_policy_approval(&f, &act, &d);
		tap_ok(act == t[i].act && d.err == t[i].err && d.reason != NULL &&
		    d.audit[0] != 0, "approval: %s", t[i].what);
	}
}

int
main(void)
{
	if (fixture_keys(&key1, &key2) != 0)
		return 1;
	test_enroll();
	test_renew();
	test_ra_vendor();
	test_approval();
	fixture_keys_free(key1, key2);
	return tap_done();
}
