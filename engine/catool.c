/*
 * catool.c - estca-ca, the offline CA set-up tool.
 *
 * Initializes a token, generates CA key pairs inside it, and makes CA and
 * TLS server certificates with the same HSM and certificate-building code
 * as estca-signd.  PINs come from files, never from argv.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include "buf.h"
#include "conf.h"
#include "dn.h"
#include "hsm.h"
#include "issue.h"
#include "log.h"

static void
usage(FILE *f)
{
	fputs(
"usage: estca-ca COMMAND [options]   (SOFTHSM2_CONF and friends from the environment)\n"
"\n"
"  init-token --module M --label L --so-pin-file F --pin-file F\n"
"      initialize a free slot's token with label L and the two PINs\n"
"  genkey --module M --token L --pin-file F --key-label K [--type T]\n"
"      generate a CA key pair in the token (T: ec:P-256 (default), ec:P-384,\n"
"      rsa:2048, rsa:3072); the private key is sensitive, never extractable\n"
"  selfsign --module M --token L --pin-file F --key-label K --subject DN\n"
"           [--days N] --out FILE\n"
"      self-signed root CA certificate for key K, signed in the token\n"
"  subca --module M --token L --pin-file F --key-label K --issuer-key-label IK\n"
"        --issuer-cert FILE --subject DN [--days N] [--pathlen N] --out FILE\n"
"      subordinate CA certificate for key K, signed by key IK\n"
"  sign-csr --module M --token L --pin-file F --key-label K --issuer-cert FILE\n"
"           --csr FILE [--profile P] [--days N] --out FILE\n"
"      end-entity certificate for a PEM CSR under a built-in profile\n"
"      (device, tls-server); subject and DNS/IP SANs come from the CSR\n"
"\n"
"DN is RFC 4514 text, CN=name,O=org: the last RDN written is the first in\n"
"the certificate (as for registered subjects; openssl -subj /O=org/CN=name).\n"
"Exit status 0 on success, 1 on error.\n", f);
}

struct opts {
	const char *module, *label, *token, *so_pin_file, *pin_file, *key_label,
	    *type, *subject, *out, *issuer_key_label, *issuer_cert, *csr,
	    *profile;
	long days, pathlen;
};

static int
need(const char *v, const char *name)
{
	if (v == NULL) {
		fprintf(stderr, "estca-ca: --%s is required\n", name);
		return 0;
	}
	return 1;
}

static X509 *
read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (f == NULL) {
		log_err("cannot open %s", path);
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		log_err("%s holds no PEM certificate", path);
	return x;
}

static int
write_cert(const char *path, X509 *x)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (f == NULL) {
		log_err("cannot create %s", path);
		return 0;
	}
	ok = PEM_write_X509(f, x) == 1;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok)
		log_err("cannot write %s", path);
	return ok;
}

static int
new_serial(struct estca_hsm *h, unsigned char serial[ESTCA_SERIAL_LEN])
{
	for (int tries = 0; tries < 4; tries++) {
		if (estca_hsm_random(h, serial, ESTCA_SERIAL_LEN) != 0)
			return 0;
		if (estca_serial_from_random(serial) == 0)
			return 1;
	}
	return 0;
}

static int
cmd_init_token(const struct opts *o)
{
	struct estca_buf so, user;
	int r;

	if (!need(o->module, "module") || !need(o->label, "label") ||
	    !need(o->so_pin_file, "so-pin-file") || !need(o->pin_file, "pin-file"))
		return 1;
	if (estca_read_secret_file(o->so_pin_file, &so) != 0)
		return 1;
	if (estca_read_secret_file(o->pin_file, &user) != 0) {
		estca_buf_free(&so);
		return 1;
	}
	r = estca_p11_init_token(o->module, o->label, (char *)so.data,
	    (char *)user.data);
	estca_buf_free(&so);
	estca_buf_free(&user);
	if (r != 0)
		return 1;
	printf("token '%s' initialized\n", o->label);
	return 0;
}

static int
cmd_genkey(const struct opts *o)
{
	struct estca_buf pin;
	const char *type = o->type ? o->type : "ec:P-256";
	int r;

	if (!need(o->module, "module") || !need(o->token, "token") ||
	    !need(o->pin_file, "pin-file") || !need(o->key_label, "key-label"))
		return 1;
	if (estca_read_secret_file(o->pin_file, &pin) != 0)
		return 1;
	r = estca_p11_genkey(o->module, o->token, (char *)pin.data, o->key_label,
	    type);
	estca_buf_free(&pin);
	if (r != 0)
		return 1;
	printf("%s key pair '%s' generated in token '%s'\n", type, o->key_label,
	    o->token);
	return 0;
}

/*
 * The subject --subject names: RFC 4514 text, read as the web tier reads a
 * registered subject (lib/dn.h), so the string's last RDN comes first in
 * the certificate: "CN=Example Root CA,O=Example" is the subject openssl
 * writes as /O=Example/CN=Example Root CA.  NULL (said) when it does not
 * parse or is empty; the caller frees.
 */
static X509_NAME *
subject_dn(const char *s)
{
	X509_NAME *n = NULL;

	if (s[0] == '/') {
		log_err("--subject '%s' refused: write RFC 4514 text, "
		    "CN=name,O=org for the former /O=org/CN=name", s);
		return NULL;
	}
	if (estca_dn_build(s, &n) != 0 || X509_NAME_entry_count(n) == 0) {
		log_err("cannot parse DN '%s' (expected RFC 4514 text such as "
		    "CN=name,O=org)", s);
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

/* Open the token and fetch the signing key and the subject's public key. */
static struct estca_hsm *
open_keys(const struct opts *o, const char *sign_label, EVP_PKEY **sign,
    const char *pub_label, EVP_PKEY **pub)
{
	struct estca_hsm *h = NULL;

	*sign = NULL;
	if (pub != NULL)
		*pub = NULL;
	if (estca_hsm_open(o->module, o->token, o->pin_file, &h) != 0)
		return NULL;
	if (estca_hsm_get_key(h, sign_label, sign) != 0 ||
	    (pub != NULL && estca_hsm_get_pubkey(h, pub_label, pub) != 0)) {
		EVP_PKEY_free(*sign);
		*sign = NULL;
		estca_hsm_close(h);
		return NULL;
	}
	return h;
}

static int
cmd_ca(const struct opts *o, int sub)
{
	struct estca_hsm *h = NULL;
	EVP_PKEY *sign = NULL, *pub = NULL, *ipub;
	X509 *issuer = NULL, *x = NULL;
	X509_NAME *dn = NULL;
	unsigned char serial[ESTCA_SERIAL_LEN];
	char reason[256];
	int rc = 1;

	if (!need(o->module, "module") || !need(o->token, "token") ||
	    !need(o->pin_file, "pin-file") || !need(o->key_label, "key-label") ||
	    !need(o->subject, "subject") || !need(o->out, "out"))
		return 1;
	if (sub && (!need(o->issuer_key_label, "issuer-key-label") ||
	    !need(o->issuer_cert, "issuer-cert")))
		return 1;
	if ((dn = subject_dn(o->subject)) == NULL)
		return 1;
	if (sub && (issuer = read_cert(o->issuer_cert)) == NULL)
		goto out;
	h = open_keys(o, sub ? o->issuer_key_label : o->key_label, &sign,
	    o->key_label, &pub);
	if (h == NULL)
		goto out;
	ipub = sub ? X509_get0_pubkey(issuer) : pub;
	if (ipub == NULL || !new_serial(h, serial))
		goto out;
	if (estca_issue_ca(sign, estca_md_for_key(ipub), issuer, pub, dn,
	    o->days > 0 ? o->days : 3650, sub ? (int)o->pathlen : -1, serial, &x,
	    reason, sizeof(reason)) != 0) {
		log_err("%s", reason);
		goto out;
	}
	if (!write_cert(o->out, x))
		goto out;
	printf("%s CA certificate written to %s\n", sub ? "subordinate" : "root",
	    o->out);
	rc = 0;
out:
	X509_free(x);
	X509_free(issuer);
	X509_NAME_free(dn);
	EVP_PKEY_free(sign);
	EVP_PKEY_free(pub);
	estca_hsm_close(h);
	return rc;
}

static int
cmd_sign_csr(const struct opts *o)
{
	const struct estca_profile *p;
	struct estca_profiles ps;
	struct estca_ca ca;
	struct estca_ee_req rq;
	struct estca_hsm *h = NULL;
	X509_REQ *req = NULL;
	X509 *x = NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	GENERAL_NAMES *sans = NULL;
	ESTCA_SPKI *spki = NULL;
	unsigned char serial[ESTCA_SERIAL_LEN];
	char reason[256];
	FILE *f;
	int rc = 1;

	memset(&ca, 0, sizeof(ca));
	if (!need(o->module, "module") || !need(o->token, "token") ||
	    !need(o->pin_file, "pin-file") || !need(o->key_label, "key-label") ||
	    !need(o->issuer_cert, "issuer-cert") || !need(o->csr, "csr") ||
	    !need(o->out, "out"))
		return 1;
	if (estca_profiles_load(NULL, &ps, reason, sizeof(reason)) != 0 ||
	    (p = estca_profile_find(&ps, o->profile ? o->profile : "tls-server")) == NULL) {
		log_err("unknown profile '%s'", o->profile);
		return 1;
	}
	if ((f = fopen(o->csr, "r")) == NULL) {
		log_err("cannot open %s", o->csr);
		return 1;
	}
	req = PEM_read_X509_REQ(f, NULL, NULL, NULL);
	fclose(f);
	if (req == NULL || X509_REQ_verify(req, X509_REQ_get0_pubkey(req)) != 1) {
		log_err("%s: no PEM CSR with a valid signature", o->csr);
		goto out;
	}
	if ((exts = X509_REQ_get_extensions(req)) != NULL)
		sans = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	if ((ca.cert = read_cert(o->issuer_cert)) == NULL)
		goto out;
	if ((h = open_keys(o, o->key_label, &ca.key, NULL, NULL)) == NULL)
		goto out;
	ca.md = estca_md_for_key(X509_get0_pubkey(ca.cert));
	if (!new_serial(h, serial))
		goto out;
	rq.subject = X509_REQ_get_subject_name(req);
	rq.sans = sans;
	if (estca_spki_from_pubkey(X509_REQ_get_X509_PUBKEY(req), &spki) != 0)
		goto out;
	rq.spki = spki;
	rq.curves = NULL;
	rq.verify = 1;
	rq.validity_secs = o->days > 0 ? o->days * 86400L : 0;
	if (estca_issue_ee(&ca, p, &rq, serial, &x, reason, sizeof(reason)) != 0) {
		log_err("refused: %s", reason);
		goto out;
	}
	if (!write_cert(o->out, x))
		goto out;
	printf("certificate written to %s\n", o->out);
	rc = 0;
out:
	X509_free(x);
	X509_free(ca.cert);
	EVP_PKEY_free(ca.key);
	GENERAL_NAMES_free(sans);
	ESTCA_SPKI_free(spki);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	estca_hsm_close(h);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "module", required_argument, NULL, 'm' },
		{ "label", required_argument, NULL, 'l' },
		{ "token", required_argument, NULL, 't' },
		{ "so-pin-file", required_argument, NULL, 'S' },
		{ "pin-file", required_argument, NULL, 'P' },
		{ "key-label", required_argument, NULL, 'k' },
		{ "type", required_argument, NULL, 'T' },
		{ "subject", required_argument, NULL, 's' },
		{ "days", required_argument, NULL, 'd' },
		{ "pathlen", required_argument, NULL, 'L' },
		{ "out", required_argument, NULL, 'o' },
		{ "issuer-key-label", required_argument, NULL, 'K' },
		{ "issuer-cert", required_argument, NULL, 'I' },
		{ "csr", required_argument, NULL, 'c' },
		{ "profile", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o;
	struct rlimit rl = { 0, 0 };
	const char *cmd;
	int c;

	memset(&o, 0, sizeof(o));
	o.pathlen = 0;
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 1 : 0;
	}
	/* PINs pass through this process: no core dumps. */
	setrlimit(RLIMIT_CORE, &rl);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	estca_log_init("estca-ca", 0, ESTCA_LOG_INFO);
	cmd = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'm': o.module = optarg; break;
		case 'l': o.label = optarg; break;
		case 't': o.token = optarg; break;
		case 'S': o.so_pin_file = optarg; break;
		case 'P': o.pin_file = optarg; break;
		case 'k': o.key_label = optarg; break;
		case 'T': o.type = optarg; break;
		case 's': o.subject = optarg; break;
		case 'o': o.out = optarg; break;
		case 'K': o.issuer_key_label = optarg; break;
		case 'I': o.issuer_cert = optarg; break;
		case 'c': o.csr = optarg; break;
		case 'p': o.profile = optarg; break;
		case 'd':
			if (estca_conf_long(optarg, 1, 36500, &o.days) != 0) {
				fprintf(stderr, "estca-ca: --days takes 1..36500\n");
				return 1;
			}
			break;
		case 'L':
			if (estca_conf_long(optarg, 0, 8, &o.pathlen) != 0) {
				fprintf(stderr, "estca-ca: --pathlen takes 0..8\n");
				return 1;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "estca-ca: unexpected argument '%s'\n", argv[optind]);
		return 1;
	}
	if (strcmp(cmd, "init-token") == 0)
		return cmd_init_token(&o);
	if (strcmp(cmd, "genkey") == 0)
		return cmd_genkey(&o);
	if (strcmp(cmd, "selfsign") == 0)
		return cmd_ca(&o, 0);
	if (strcmp(cmd, "subca") == 0)
		return cmd_ca(&o, 1);
	if (strcmp(cmd, "sign-csr") == 0)
		return cmd_sign_csr(&o);
	fprintf(stderr, "estca-ca: unknown command '%s' (try --help)\n", cmd);
	return 1;
}
