/*
 * signd.c - estca-signd, the signing engine: the only process that logs in
 * to the HSM.
 *
 * It listens on a Unix socket, admits peers by SO_PEERCRED uid/gid, drops
 * root before it touches the token, and answers one reply per framed
 * request (wire.h).  It builds every certificate itself from a profile
 * (issue.c) and never signs a hash or a TBS handed to it.  It must never
 * log a PIN or key material, and must survive any bytes a peer sends.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include "conf.h"
#include "hsm.h"
#include "issue.h"
#include "log.h"
#include "profile.h"
#include "wire.h"

#define MAX_IDS 16
#define MAX_CAS 32
#define READ_TIMEOUT_MS 5000
#define WRITE_TIMEOUT_MS 10000
#define REASON_LEN 256
#define MAX_SIGNERS 64

struct signd {
	const char *conf_path;
	struct estca_conf conf;
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	mode_t socket_mode;
	gid_t socket_gid;
	int have_socket_gid;
	uid_t allow_uids[MAX_IDS];
	size_t n_uids;
	gid_t allow_gids[MAX_IDS];
	size_t n_gids;
	int drop;
	uid_t run_uid;
	gid_t run_gid;
	const char *module, *token, *pin_file, *audit_path;
	long max_conns;
	struct estca_profiles profiles;
	struct estca_curves curves;
	int verify_signatures;
	struct estca_ca cas[MAX_CAS];
	size_t ncas;
	struct estca_hsm *hsm;
	int listen_fd;
	int audit_fd;            /* -1: audit lines go to the log */
	int stop_pipe[2];        /* readable once shutdown begins */
	atomic_int stopping;     /* set with stop_pipe, read between requests */
	/* signer threads: HSM signatures of requests that arrived together */
	pthread_mutex_t jobs_mu;
	pthread_cond_t jobs_cv;
	struct slot *jobs_head, *jobs_tail;
	int jobs_stop;
	long nsigners;
	pthread_t signers[MAX_SIGNERS];
	atomic_int pipelined;    /* connections that send requests ahead of replies */
	atomic_int signing;      /* signatures handed to signers, not yet done */
	atomic_long n_signed, n_by_signers;   /* certificates, for the exit line */
	pthread_rwlock_t hsm_lock;  /* read: using keys; write: re-opening */
	atomic_int hsm_broken;      /* set by a failure, cleared by hsm_reopen */
	pthread_mutex_t lock;
	pthread_cond_t idle;
	int active;              /* connection threads alive */
};

/*
 * What one audit line says.  ca, profile and requester come from the
 * request and are kept escaped (estca_log_escape), bounded in length.
 */
struct audit {
	const char *event, *result, *reason;
	const X509_NAME *subject;
	const ESTCA_SPKI *spki;
	const unsigned char *serial;   /* ESTCA_SERIAL_LEN bytes or NULL */
	char ca[128], profile[128], requester[512];
	uid_t uid;
};

/* Serial numbers' worth of HSM random bytes fetched at once. */
#define SERIAL_BATCH 32

/* Requests a connection may have in flight (answered in order). */
#define PIPELINE 32

/*
 * One request of a connection, from its frame to its reply.  A sign
 * request that arrived together with others is built first and signed
 * after the whole batch is built (state SLOT_SIGNING until then); part of
 * a batch may go to a signer thread, which sets SLOT_READY under conn.mu.
 */
enum { SLOT_READY = 0, SLOT_SIGNING = 1 };

struct slot {
	ESTCA_REQ *q;
	ESTCA_REPLY *rep;
	int fatal;                 /* the reply itself could not be built */
	int issuing;               /* sign/keygen: audit and answer at the end */
	int keygen;
	int err;
	int verify;
	int state;                 /* under conn.mu while signers may see it */
	struct audit a;
	char reason[REASON_LEN];
	unsigned char serial[ESTCA_SERIAL_LEN];
	const struct estca_ca *ca;
	X509 *x;
	struct estca_buf der;      /* x's DER once signed */
	EVP_PKEY *newkey;
	ESTCA_SPKI *newspki;
	struct conn *c;
	struct slot *next;         /* next slot of the same signer job */
	struct slot *next_job;     /* signer queue: first slots of jobs */
};

struct conn {
	struct signd *sd;
	int fd;
	uid_t uid;
	pid_t pid;
	pthread_mutex_t mu;
	pthread_cond_t cv;         /* a slot of this connection became ready */
	struct slot slots[PIPELINE];
	size_t head, count;
	unsigned char serial_pool[SERIAL_BATCH * ESTCA_SERIAL_LEN];
	size_t serial_left;        /* serials' worth of random bytes left */
};

static void
usage(FILE *f)
{
	fputs("usage: estca-signd [-n] [-f CONFIG]\n"
	    "  -f CONFIG  configuration file (default /etc/estca/signd.conf)\n"
	    "  -n         check the configuration and CA chain files, then exit\n"
	    "  -h         this help\n"
	    "Runs in the foreground, logs to stderr; SIGTERM or SIGINT stops it.\n"
	    "See doc/engine.md for the configuration keys.\n", f);
}

/* ---- configuration ---- */

static int
parse_ids(const char *s, int groups, void *out, size_t *n)
{
	char buf[1024], *save = NULL, *tok;

	*n = 0;
	if (strlen(s) >= sizeof(buf))
		return ESTCA_ERR_CONFIG;
	memcpy(buf, s, strlen(s) + 1);
	for (tok = strtok_r(buf, " \t,", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t,", &save)) {
		long v;

		if (*n >= MAX_IDS)
			return ESTCA_ERR_CONFIG;
		if (estca_conf_long(tok, 0, 0x7fffffff, &v) != 0) {
			if (groups) {
				struct group *g = getgrnam(tok);

				if (g == NULL)
					return ESTCA_ERR_NOT_FOUND;
				v = g->gr_gid;
			} else {
				struct passwd *pw = getpwnam(tok);

				if (pw == NULL)
					return ESTCA_ERR_NOT_FOUND;
				v = pw->pw_uid;
			}
		}
		if (groups)
			((gid_t *)out)[(*n)++] = (gid_t)v;
		else
			((uid_t *)out)[(*n)++] = (uid_t)v;
	}
	return 0;
}

static int
check_keys(const struct estca_conf *c)
{
	static const char *global[] = { "socket", "socket_group", "socket_mode",
		"allow_uids", "allow_gids", "user", "pkcs11_module", "token_label",
		"pin_file", "audit_log", "max_connections", "verify_signatures", "signers", NULL };
	static const char *ca[] = { "key_label", "chain", "signature", NULL };

	for (size_t i = 0; i < c->n; i++) {
		const struct estca_conf_entry *e = &c->e[i];
		const char **allowed;
		int ok = 0;

		if (e->section[0] == 0)
			allowed = global;
		else if (strcmp(e->section, "ca") == 0)
			allowed = ca;
		else if (strcmp(e->section, "profile") == 0)
			continue;   /* profile.c checks its own keys */
		else {
			log_err("%s:%d: unknown section [%s]", c->path, e->line,
			    e->section);
			return ESTCA_ERR_CONFIG;
		}
		for (const char **k = allowed; *k; k++)
			if (strcmp(*k, e->key) == 0)
				ok = 1;
		if (!ok) {
			log_err("%s:%d: unknown key '%s'", c->path, e->line, e->key);
			return ESTCA_ERR_CONFIG;
		}
	}
	return 0;
}

static const char *
required(struct signd *sd, const char *section, const char *name,
    const char *key)
{
	const char *v = estca_conf_get(&sd->conf, section, name, key);

	if (v == NULL || *v == 0)
		log_err("%s: [%s%s%s] needs %s", sd->conf_path,
		    section[0] ? section : "global", name[0] ? " " : "", name, key);
	return v && *v ? v : NULL;
}

static int
load_chain(struct estca_ca *ca, const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (f == NULL) {
		log_err("CA %s: cannot open chain %s: %s", ca->name, path,
		    strerror(errno));
		return ESTCA_ERR_CONFIG;
	}
	if ((ca->chain = sk_X509_new_null()) == NULL) {
		fclose(f);
		return ESTCA_ERR_NOMEM;
	}
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(ca->chain, x)) {
			X509_free(x);
			fclose(f);
			return ESTCA_ERR_NOMEM;
		}
	}
	ERR_clear_error();  /* end of file shows up as a PEM "no start line" */
	fclose(f);
	if (sk_X509_num(ca->chain) < 1) {
		log_err("CA %s: %s holds no PEM certificate", ca->name, path);
		return ESTCA_ERR_CONFIG;
	}
	ca->cert = sk_X509_value(ca->chain, 0);
	if (X509_check_ca(ca->cert) < 1) {
		log_err("CA %s: first certificate of %s is not a CA certificate",
		    ca->name, path);
		return ESTCA_ERR_CONFIG;
	}
	if (X509_get0_subject_key_id(ca->cert) == NULL) {
		log_err("CA %s: certificate has no subjectKeyIdentifier", ca->name);
		return ESTCA_ERR_CONFIG;
	}
	ca->md = estca_md_for_key(X509_get0_pubkey(ca->cert));
	/* fetched once: the per-signature digest calls skip the lookup */
	if ((ca->md_fetched = EVP_MD_fetch(NULL, EVP_MD_get0_name(ca->md), NULL)) != NULL)
		ca->md = ca->md_fetched;
	return 0;
}

static int
load_config(struct signd *sd)
{
	char err[512];
	const char *v;
	int r;

	if ((r = estca_conf_load(sd->conf_path, &sd->conf, err, sizeof(err))) != 0) {
		log_err("%s", err);
		return r;
	}
	if ((r = check_keys(&sd->conf)) != 0)
		return r;
	if ((v = required(sd, "", "", "socket")) == NULL)
		return ESTCA_ERR_CONFIG;
	if (v[0] != '/' || strlen(v) >= sizeof(sd->socket_path)) {
		log_err("socket must be an absolute path shorter than %zu bytes",
		    sizeof(sd->socket_path));
		return ESTCA_ERR_CONFIG;
	}
	memcpy(sd->socket_path, v, strlen(v) + 1);
	sd->socket_mode = 0660;
	if ((v = estca_conf_get(&sd->conf, "", "", "socket_mode")) != NULL) {
		char *end;
		unsigned long m = strtoul(v, &end, 8);

		if (*v == 0 || *end != 0 || m > 0777) {
			log_err("socket_mode must be octal, e.g. 0660");
			return ESTCA_ERR_CONFIG;
		}
		sd->socket_mode = (mode_t)m;
	}
	if ((v = estca_conf_get(&sd->conf, "", "", "socket_group")) != NULL) {
		size_t n;

		if (parse_ids(v, 1, &sd->socket_gid, &n) != 0 || n != 1) {
			log_err("socket_group '%s' is not one known group", v);
			return ESTCA_ERR_CONFIG;
		}
		sd->have_socket_gid = 1;
	}
	if ((v = required(sd, "", "", "allow_uids")) == NULL)
		return ESTCA_ERR_CONFIG;
	if (parse_ids(v, 0, sd->allow_uids, &sd->n_uids) != 0 || sd->n_uids == 0) {
		log_err("allow_uids '%s': unknown user or more than %d", v, MAX_IDS);
		return ESTCA_ERR_CONFIG;
	}
	if ((v = estca_conf_get(&sd->conf, "", "", "allow_gids")) != NULL &&
	    parse_ids(v, 1, sd->allow_gids, &sd->n_gids) != 0) {
		log_err("allow_gids '%s': unknown group or more than %d", v, MAX_IDS);
		return ESTCA_ERR_CONFIG;
	}
	if ((v = estca_conf_get(&sd->conf, "", "", "user")) != NULL) {
		struct passwd *pw = getpwnam(v);

		if (pw == NULL) {
			log_err("user '%s' does not exist", v);
			return ESTCA_ERR_CONFIG;
		}
		sd->drop = 1;
		sd->run_uid = pw->pw_uid;
		sd->run_gid = pw->pw_gid;
	}
	sd->max_conns = 256;
	if ((v = estca_conf_get(&sd->conf, "", "", "max_connections")) != NULL &&
	    estca_conf_long(v, 1, 4096, &sd->max_conns) != 0) {
		log_err("max_connections must be 1..4096");
		return ESTCA_ERR_CONFIG;
	}
	if ((sd->module = required(sd, "", "", "pkcs11_module")) == NULL ||
	    (sd->token = required(sd, "", "", "token_label")) == NULL ||
	    (sd->pin_file = required(sd, "", "", "pin_file")) == NULL)
		return ESTCA_ERR_CONFIG;
	sd->audit_path = estca_conf_get(&sd->conf, "", "", "audit_log");
	sd->verify_signatures = 1;
	if ((v = estca_conf_get(&sd->conf, "", "", "verify_signatures")) != NULL) {
		if (strcmp(v, "yes") == 0)
			sd->verify_signatures = 1;
		else if (strcmp(v, "no") == 0)
			sd->verify_signatures = 0;
		else {
			log_err("verify_signatures must be yes or no");
			return ESTCA_ERR_CONFIG;
		}
	}
	sd->nsigners = sysconf(_SC_NPROCESSORS_ONLN);
	if (sd->nsigners < 1)
		sd->nsigners = 1;
	if (sd->nsigners > MAX_SIGNERS)
		sd->nsigners = MAX_SIGNERS;
	if ((v = estca_conf_get(&sd->conf, "", "", "signers")) != NULL &&
	    estca_conf_long(v, 0, MAX_SIGNERS, &sd->nsigners) != 0) {
		log_err("signers must be 0..%d", MAX_SIGNERS);
		return ESTCA_ERR_CONFIG;
	}
	if (estca_curves_init(&sd->curves) != 0)
		return ESTCA_ERR_NOMEM;

	for (size_t i = 0; i < sd->conf.n; i++) {
		const struct estca_conf_entry *e = &sd->conf.e[i];
		struct estca_ca *ca;
		const char *label, *chain;
		int seen = 0;

		if (strcmp(e->section, "ca") != 0)
			continue;
		for (size_t j = 0; j < sd->ncas; j++)
			if (strcmp(sd->cas[j].name, e->name) == 0)
				seen = 1;
		if (seen)
			continue;
		if (sd->ncas >= MAX_CAS || strlen(e->name) >= sizeof(ca->name)) {
			log_err("too many CAs or CA name too long");
			return ESTCA_ERR_CONFIG;
		}
		ca = &sd->cas[sd->ncas++];
		memcpy(ca->name, e->name, strlen(e->name) + 1);
		if ((label = required(sd, "ca", e->name, "key_label")) == NULL ||
		    (chain = required(sd, "ca", e->name, "chain")) == NULL)
			return ESTCA_ERR_CONFIG;
		if (strlen(label) >= sizeof(ca->key_label))
			return ESTCA_ERR_CONFIG;
		memcpy(ca->key_label, label, strlen(label) + 1);
		if ((r = load_chain(ca, chain)) != 0)
			return r;
		if ((v = estca_conf_get(&sd->conf, "ca", e->name, "signature")) != NULL) {
			if (strcmp(v, "rsa-pss") == 0 &&
			    EVP_PKEY_is_a(X509_get0_pubkey(ca->cert), "RSA"))
				ca->pss = 1;
			else if (strcmp(v, "default") != 0) {
				log_err("CA %s: signature is 'default' or, for an RSA "
				    "CA, 'rsa-pss'", ca->name);
				return ESTCA_ERR_CONFIG;
			}
		}
	}
	if (sd->ncas == 0) {
		log_err("%s: no [ca NAME] section", sd->conf_path);
		return ESTCA_ERR_CONFIG;
	}
	if ((r = estca_profiles_load(&sd->conf, &sd->profiles, err, sizeof(err))) != 0) {
		log_err("%s", err);
		return r;
	}
	return 0;
}

/* ---- audit ---- */

/* A string field of the request, escaped for a log line ("" if absent). */
static void
field_text(const ASN1_UTF8STRING *f, char *out, size_t outlen)
{
	if (f == NULL)
		out[0] = 0;
	else
		estca_log_escape(out, outlen, ASN1_STRING_get0_data(f),
		    (size_t)ASN1_STRING_length(f));
}

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

static void
hex(const unsigned char *p, size_t n, char *out, size_t outlen)
{
	static const char h[] = "0123456789abcdef";
	size_t j = 0;

	for (size_t i = 0; i < n && j + 2 < outlen; i++) {
		out[j++] = h[p[i] >> 4];
		out[j++] = h[p[i] & 15];
	}
	out[j] = 0;
}

static void
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
			hex(md, mdlen, fp, sizeof(fp));
		OPENSSL_free(der);
	}
	if (a->serial != NULL)
		hex(a->serial, ESTCA_SERIAL_LEN, sn, sizeof(sn));
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

/* ---- request handling ---- */

static struct estca_ca *
find_ca(struct signd *sd, const char *name)
{
	for (size_t i = 0; i < sd->ncas; i++)
		if (strcmp(sd->cas[i].name, name) == 0)
			return &sd->cas[i];
	return NULL;
}

static int
set_error(ESTCA_REPLY *rep, int err, const char *reason)
{
	if (estca_wire_set_int(&rep->status, err) != 0)
		return ESTCA_ERR_NOMEM;
	return estca_wire_set_str(&rep->reason, reason ? reason : estca_strerror(err));
}

static int
op_chain(struct signd *sd, const ESTCA_REQ *q, ESTCA_REPLY *rep)
{
	char name[64], shown[128], reason[REASON_LEN];
	struct estca_ca *ca;

	if (estca_wire_get_str(q->ca_name, name, sizeof(name)) != 0)
		return set_error(rep, ESTCA_ERR_MALFORMED, "caName missing or invalid");
	if ((ca = find_ca(sd, name)) == NULL) {
		field_text(q->ca_name, shown, sizeof(shown));
		snprintf(reason, sizeof(reason), "unknown CA '%s'", shown);
		return set_error(rep, ESTCA_ERR_NOT_FOUND, reason);
	}
	for (int i = 0; i < sk_X509_num(ca->chain); i++) {
		int r = estca_reply_add_cert(rep, sk_X509_value(ca->chain, i));

		if (r != 0)
			return r;
	}
	return 0;
}

static int load_keys(struct signd *sd);
static void free_keys(struct signd *sd);

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
static int
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
static void
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
static int
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

/* Put key's PKCS#8 DER into the reply; the temporary copy is wiped. */
static int
pkcs8_into(ESTCA_REPLY *rep, EVP_PKEY *key)
{
	unsigned char *der = NULL;
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
	int n;

	if (p8 == NULL)
		return ESTCA_ERR_INTERNAL;
	n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (n <= 0)
		return ESTCA_ERR_INTERNAL;
	if ((rep->pkcs8 = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(rep->pkcs8, der, n)) {
		OPENSSL_clear_free(der, (size_t)n);
		return ESTCA_ERR_NOMEM;
	}
	OPENSSL_clear_free(der, (size_t)n);
	return 0;
}

/* ---- signer threads ---- */

/* Sign a built certificate: in a signer thread, or in the connection's. */
static int
sign_built(struct signd *sd, struct slot *sl)
{
	int err;

	if ((err = hsm_acquire(sd)) != 0) {
		snprintf(sl->reason, sizeof(sl->reason), "HSM unavailable; retry later");
		return err;
	}
	err = estca_sign_ee(sl->ca, sl->x, sl->verify, &sl->der, sl->reason,
	    sizeof(sl->reason));
	hsm_release(sd, err);
	ERR_clear_error();
	return err;
}

/* Queue slots (linked by next) as one job for a signer thread. */
static void
submit(struct signd *sd, struct slot *first)
{
	first->next_job = NULL;
	pthread_mutex_lock(&sd->jobs_mu);
	if (sd->jobs_tail != NULL)
		sd->jobs_tail->next_job = first;
	else
		sd->jobs_head = first;
	sd->jobs_tail = first;
	atomic_fetch_add(&sd->signing, 1);
	pthread_cond_signal(&sd->jobs_cv);
	pthread_mutex_unlock(&sd->jobs_mu);
}

/* Sign the jobs connections queue; leave once stopped and nothing is left. */
static void *
signer_main(void *arg)
{
	struct signd *sd = arg;

	for (;;) {
		struct slot *sl, *next;

		pthread_mutex_lock(&sd->jobs_mu);
		while (sd->jobs_head == NULL && !sd->jobs_stop)
			pthread_cond_wait(&sd->jobs_cv, &sd->jobs_mu);
		if ((sl = sd->jobs_head) == NULL) {
			pthread_mutex_unlock(&sd->jobs_mu);
			break;
		}
		if ((sd->jobs_head = sl->next_job) == NULL)
			sd->jobs_tail = NULL;
		pthread_mutex_unlock(&sd->jobs_mu);
		for (; sl != NULL; sl = next) {
			int err = sign_built(sd, sl);

			if (err == 0)
				atomic_fetch_add(&sd->n_by_signers, 1);
			next = sl->next;   /* the slot is the connection's once ready */
			pthread_mutex_lock(&sl->c->mu);
			sl->err = err;
			sl->state = SLOT_READY;
			pthread_cond_broadcast(&sl->c->cv);
			pthread_mutex_unlock(&sl->c->mu);
		}
		atomic_fetch_sub(&sd->signing, 1);
	}
	return NULL;
}

/*
 * Sign the certificates of a batch built by one connection (slots in
 * request order).  With cores to spare, a signer thread takes the second
 * half as one job while this thread signs the first: one hand-over per
 * batch, not per certificate.
 */
static void
sign_batch(struct signd *sd, struct slot **b, size_t k)
{
	size_t h = k;

	if (k >= 2 && sd->nsigners > 0 &&
	    atomic_load(&sd->pipelined) + atomic_load(&sd->signing) < sd->nsigners) {
		h = k / 2;
		for (size_t i = h; i + 1 < k; i++)
			b[i]->next = b[i + 1];
		b[k - 1]->next = NULL;
		submit(sd, b[h]);
	}
	for (size_t i = 0; i < h; i++) {
		b[i]->err = sign_built(sd, b[i]);
		b[i]->state = SLOT_READY;   /* never shared: no lock needed */
	}
}

/* ---- one request ---- */

/*
 * sign and keygen: build the certificate for the request's subject and
 * SANs, and either the request's public key (sign) or a key pair the
 * token generates now (keygen, whose PKCS#8 goes into the reply).  With
 * defer, a sign request is only built: sign_batch() signs it.
 */
static void
issue_start(struct signd *sd, struct conn *c, struct slot *sl, int defer)
{
	const ESTCA_REQ *q = sl->q;
	char keytype[16], caname[64], profname[64], shown[128];
	const struct estca_profile *p = NULL;
	struct estca_ca *ca = NULL;
	struct estca_ee_req rq;
	long validity = 0;
	int keygen = sl->keygen, err;

	sl->issuing = 1;
	sl->a.event = keygen ? "keygen" : "sign";
	sl->a.uid = c->uid;
	sl->a.subject = q->subject;
	sl->a.spki = q->spki;
	/* as sent, escaped: a bad or oversized field is audited too */
	field_text(q->requester, sl->a.requester, sizeof(sl->a.requester));
	field_text(q->ca_name, sl->a.ca, sizeof(sl->a.ca));
	field_text(q->profile, sl->a.profile, sizeof(sl->a.profile));
	if (estca_wire_get_str(q->ca_name, caname, sizeof(caname)) != 0 ||
	    estca_wire_get_str(q->profile, profname, sizeof(profname)) != 0 ||
	    q->subject == NULL || (!keygen && q->spki == NULL) ||
	    (keygen && estca_wire_get_str(q->key_type, keytype, sizeof(keytype)) != 0) ||
	    (q->validity != NULL &&
	     (estca_wire_get_int(q->validity, &validity) != 0 || validity < 0))) {
		sl->err = ESTCA_ERR_MALFORMED;
		snprintf(sl->reason, sizeof(sl->reason), keygen ?
		    "keygen needs caName, profile, subject, keyType and a valid validity" :
		    "sign needs caName, profile, subject, spki and a valid validity");
		return;
	}
	if ((ca = find_ca(sd, caname)) == NULL) {
		sl->err = ESTCA_ERR_NOT_FOUND;
		field_text(q->ca_name, shown, sizeof(shown));
		snprintf(sl->reason, sizeof(sl->reason), "unknown CA '%s'", shown);
		return;
	}
	if ((p = estca_profile_find(&sd->profiles, profname)) == NULL) {
		sl->err = ESTCA_ERR_NOT_FOUND;
		field_text(q->profile, shown, sizeof(shown));
		snprintf(sl->reason, sizeof(sl->reason), "unknown profile '%s'", shown);
		return;
	}
	rq.subject = q->subject;
	rq.sans = q->sans;
	rq.spki = q->spki;
	rq.validity_secs = validity;
	rq.curves = &sd->curves;
	rq.verify = sd->verify_signatures;
	if ((err = hsm_acquire(sd)) != 0) {
		sl->err = err;
		snprintf(sl->reason, sizeof(sl->reason), "HSM unavailable; retry later");
		return;
	}
	err = in_hsm(sd, c, ca, p, &rq, keygen ? keytype : NULL, sl->serial, &sl->x,
	    &sl->newkey, &sl->newspki, sl->reason, sizeof(sl->reason));
	defer = defer && !keygen;
	if (err == 0 && !defer)
		err = estca_sign_ee(ca, sl->x, rq.verify, &sl->der, sl->reason,
		    sizeof(sl->reason));
	hsm_release(sd, err);
	if (sl->newspki != NULL)
		sl->a.spki = sl->newspki;
	sl->err = err;
	if (err == 0 && defer) {
		/* built and linted; signed with the rest of its batch */
		sl->ca = ca;
		sl->verify = rq.verify;
		sl->state = SLOT_SIGNING;
	}
}

/* Decode one request frame and do it, all but a deferred signature. */
static void
slot_start(struct signd *sd, struct conn *c, const unsigned char *in,
    size_t inlen, struct slot *sl, int defer)
{
	long version, op;

	memset(sl, 0, sizeof(*sl));
	estca_buf_init(&sl->der, ESTCA_WIRE_MAX_REPLY, false);
	sl->c = c;
	sl->state = SLOT_READY;
	if ((sl->rep = ESTCA_REPLY_new()) == NULL ||
	    estca_wire_set_int(&sl->rep->version, ESTCA_WIRE_VERSION) != 0 ||
	    estca_wire_set_int(&sl->rep->status, 0) != 0) {
		sl->fatal = ESTCA_ERR_NOMEM;
		return;
	}
	if (estca_req_decode(in, inlen, &sl->q) != 0) {
		log_warn("malformed request from uid %ld (%zu bytes)", (long)c->uid,
		    inlen);
		sl->fatal = set_error(sl->rep, ESTCA_ERR_MALFORMED, "request does not decode");
	} else if (estca_wire_get_int(sl->q->version, &version) != 0 ||
	    version != ESTCA_WIRE_VERSION) {
		sl->fatal = set_error(sl->rep, ESTCA_ERR_VERSION,
		    "protocol version not supported");
	} else if (estca_wire_get_int(sl->q->op, &op) != 0) {
		sl->fatal = set_error(sl->rep, ESTCA_ERR_MALFORMED, "op missing");
	} else {
		switch (op) {
		case ESTCA_OP_GET_CHAIN:
			sl->fatal = op_chain(sd, sl->q, sl->rep);
			break;
		case ESTCA_OP_HEALTH:
			break;
		case ESTCA_OP_SIGN:
		case ESTCA_OP_KEYGEN:
			sl->keygen = op == ESTCA_OP_KEYGEN;
			issue_start(sd, c, sl, defer);
			break;
		default:
			sl->fatal = set_error(sl->rep, ESTCA_ERR_UNSUPPORTED,
			    "unknown operation");
			break;
		}
	}
}

/*
 * A ready request: its audit line, and its framed reply appended to out
 * (NULL: the connection is gone; the audit line is still written).
 * Frees what the slot holds.  Non-zero: no reply could be built.
 */
static int
slot_finish(struct signd *sd, const struct conn *c, struct slot *sl,
    struct estca_buf *out)
{
	int r = sl->fatal;

	if (r == 0 && sl->issuing) {
		if (sl->err == 0) {
			atomic_fetch_add(&sd->n_signed, 1);
			sl->a.serial = sl->serial;
			sl->a.result = "issued";
			audit(sd, &sl->a);
			r = estca_reply_add_der(sl->rep, sl->der.data, sl->der.len);
			if (r == 0 && sl->keygen)
				r = pkcs8_into(sl->rep, sl->newkey);
		} else {
			sl->a.result = "refused";
			sl->a.reason = sl->reason;
			audit(sd, &sl->a);
			log_warn("%s refused for uid %ld: %s", sl->a.event, (long)c->uid,
			    sl->reason);
			r = set_error(sl->rep, sl->err, sl->reason);
		}
	}
	if (r == 0 && out != NULL)
		r = estca_reply_encode(sl->rep, out);
	if (sl->rep != NULL && sl->rep->pkcs8 != NULL)   /* a private key */
		estca_wire_wipe(sl->rep->pkcs8);
	ESTCA_REPLY_free(sl->rep);
	ESTCA_REQ_free(sl->q);
	X509_free(sl->x);
	estca_buf_free(&sl->der);
	EVP_PKEY_free(sl->newkey);
	ESTCA_SPKI_free(sl->newspki);
	sl->rep = NULL;
	sl->q = NULL;
	sl->x = NULL;
	sl->newkey = NULL;
	sl->newspki = NULL;
	return r;
}

static int
send_error(int fd, int err, const char *reason)
{
	ESTCA_REPLY *rep = ESTCA_REPLY_new();
	struct estca_buf out;
	int r = ESTCA_ERR_NOMEM;

	estca_buf_init(&out, ESTCA_WIRE_MAX_REPLY + 4, false);
	if (rep != NULL && estca_wire_set_int(&rep->version, ESTCA_WIRE_VERSION) == 0 &&
	    set_error(rep, err, reason) == 0 &&
	    (r = estca_reply_encode(rep, &out)) == 0)
		r = estca_write_all(fd, out.data, out.len, WRITE_TIMEOUT_MS);
	ESTCA_REPLY_free(rep);
	estca_buf_free(&out);
	return r;
}

/* Replies queued beyond this are written even if more requests wait. */
#define OUT_FLUSH (64 * 1024)
/* A pipelined connection quiet this long no longer counts as one. */
#define PIPELINE_IDLE_MS 20

static int
head_ready(struct conn *c)
{
	int st;

	pthread_mutex_lock(&c->mu);
	st = c->slots[c->head].state;
	pthread_mutex_unlock(&c->mu);
	return st == SLOT_READY;
}

static void
wait_head(struct conn *c)
{
	pthread_mutex_lock(&c->mu);
	while (c->slots[c->head].state != SLOT_READY)
		pthread_cond_wait(&c->cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
}

/*
 * One connection: requests are answered in the order they came.  A client
 * that waits for each reply gets everything done in this thread.  When
 * several requests arrive together, each certificate is built here and
 * signed by a signer thread while the next one is built, and the replies
 * go out together.
 */
static void *
conn_main(void *arg)
{
	struct conn *c = arg;
	struct signd *sd = c->sd;
	struct estca_reader in;
	struct estca_buf out;
	int closing = 0, failed = 0, bad = 0, counted = 0;
	struct slot *batch[PIPELINE];
	size_t k;

	estca_reader_init(&in, ESTCA_WIRE_MAX_REQUEST, false);
	estca_buf_init(&out, ESTCA_WIRE_MAX_REPLY + 4 + OUT_FLUSH, true);
	for (;;) {
		const unsigned char *p;
		size_t n;
		int eof = 0, r;

		/* replies whose turn has come, in order */
		while (c->count > 0 && head_ready(c)) {
			r = slot_finish(sd, c, &c->slots[c->head], failed ? NULL : &out);
			if (r != 0 && !failed) {
				log_err("cannot answer uid %ld: %s", (long)c->uid,
				    estca_strerror(r));
				if (estca_write_all(c->fd, out.data, out.len,
				    WRITE_TIMEOUT_MS) == 0)
					(void)send_error(c->fd, ESTCA_ERR_INTERNAL,
					    "internal error");
				failed = closing = 1;
			}
			c->head = (c->head + 1) % PIPELINE;
			c->count--;
			/* many large replies: write before the buffer's cap */
			if (!failed && out.len >= OUT_FLUSH) {
				if (estca_write_all(c->fd, out.data, out.len,
				    WRITE_TIMEOUT_MS) != 0)
					failed = closing = 1;
				estca_buf_reset(&out);
			}
		}
		if (!failed && out.len > 0 && (closing || out.len >= OUT_FLUSH ||
		    !estca_reader_has_frame(&in))) {
			if (estca_write_all(c->fd, out.data, out.len, WRITE_TIMEOUT_MS) != 0)
				failed = closing = 1;
			estca_buf_reset(&out);
		}
		/* a connection with requests queued up counts as pipelined */
		if (!counted && (c->count > 0 || estca_reader_has_frame(&in))) {
			counted = 1;
			atomic_fetch_add(&sd->pipelined, 1);
		}
		if (!closing && atomic_load(&sd->stopping))
			closing = 1;
		if (closing) {
			if (c->count > 0) {
				wait_head(c);
				continue;
			}
			/* replies still queued behind a buffered frame go out first */
			if (!failed && out.len > 0 &&
			    estca_write_all(c->fd, out.data, out.len, WRITE_TIMEOUT_MS) != 0)
				failed = 1;
			if (bad && !failed)
				(void)send_error(c->fd, bad, bad == ESTCA_ERR_TOO_LARGE ?
				    "request too large" : "empty frame");
			break;
		}
		if (c->count == PIPELINE) {
			wait_head(c);
			continue;
		}
		if (c->count > 0 && !estca_reader_has_frame(&in)) {
			/* signatures pending: take what the socket has, without waiting */
			if ((r = estca_reader_fill(&in, c->fd, ESTCA_WIRE_MAX_REQUEST,
			    &eof)) != 0) {
				if (r == ESTCA_ERR_TOO_LARGE || r == ESTCA_ERR_MALFORMED) {
					log_warn("uid %ld sent a bad frame (%s); closing",
					    (long)c->uid, estca_strerror(r));
					bad = r;
				} else if (!eof) {
					log_warn("uid %ld: connection dropped mid-request",
					    (long)c->uid);
				}
				closing = 1;
				continue;
			}
			if (!estca_reader_has_frame(&in)) {
				wait_head(c);
				continue;
			}
		}
		if (counted && c->count == 0 && !estca_reader_has_frame(&in)) {
			/* ... until it has stayed quiet for a while */
			struct pollfd pf = { .fd = c->fd, .events = POLLIN };

			if (poll(&pf, 1, PIPELINE_IDLE_MS) == 0) {
				counted = 0;
				atomic_fetch_sub(&sd->pipelined, 1);
			}
		}
		/*
		 * Take every request already here as one batch: a lone request
		 * is done start to finish; a batch is built first and then
		 * signed, partly by a signer thread (sign_batch).
		 */
		k = 0;
		do {
			struct slot *sl;
			int more;

			r = estca_reader_next(&in, c->fd, sd->stop_pipe[0],
			    ESTCA_WIRE_MAX_REQUEST, -1, READ_TIMEOUT_MS, &p, &n, &eof);
			if (r != 0)
				break;
			/* shutting down: finish what is here, take nothing new */
			more = estca_reader_has_frame(&in) && c->count + 1 < PIPELINE &&
			    !atomic_load(&sd->stopping);
			sl = &c->slots[(c->head + c->count) % PIPELINE];
			slot_start(sd, c, p, n, sl, more || k > 0);
			c->count++;
			if (sl->state == SLOT_SIGNING)
				batch[k++] = sl;
			if (!more)
				break;
		} while (1);
		if (k > 0)
			sign_batch(sd, batch, k);
		if (r == ESTCA_ERR_TOO_LARGE || r == ESTCA_ERR_MALFORMED) {
			/* the stream cannot be resynchronized: answer and close */
			log_warn("uid %ld sent a bad frame (%s); closing", (long)c->uid,
			    estca_strerror(r));
			bad = r;
			closing = 1;
		} else if (r != 0) {
			if (r == ESTCA_ERR_IO && !eof)
				log_warn("uid %ld: connection dropped mid-request",
				    (long)c->uid);
			closing = 1;
		}
	}
	if (counted)
		atomic_fetch_sub(&sd->pipelined, 1);
	estca_reader_free(&in);
	estca_buf_free(&out);
	close(c->fd);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	OPENSSL_free(c);
	ERR_clear_error();
	pthread_mutex_lock(&sd->lock);
	sd->active--;
	pthread_cond_broadcast(&sd->idle);
	pthread_mutex_unlock(&sd->lock);
	return NULL;
}

static int
peer_allowed(const struct signd *sd, const struct ucred *cr)
{
	for (size_t i = 0; i < sd->n_uids; i++)
		if (sd->allow_uids[i] == cr->uid)
			return 1;
	for (size_t i = 0; i < sd->n_gids; i++)
		if (sd->allow_gids[i] == cr->gid)
			return 1;
	return 0;
}

static void
accept_one(struct signd *sd)
{
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	pthread_attr_t attr;
	pthread_t t;
	struct conn *c;
	int fd;

	fd = accept4(sd->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
			log_err("accept: %s", strerror(errno));
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) != 0) {
		log_err("SO_PEERCRED: %s", strerror(errno));
		close(fd);
		return;
	}
	if (!peer_allowed(sd, &cr)) {
		log_warn("refused connection from uid %ld gid %ld pid %ld: not in "
		    "allow_uids/allow_gids", (long)cr.uid, (long)cr.gid, (long)cr.pid);
		(void)send_error(fd, ESTCA_ERR_PERM, "peer not allowed");
		close(fd);
		return;
	}
	pthread_mutex_lock(&sd->lock);
	if (sd->active >= sd->max_conns) {
		pthread_mutex_unlock(&sd->lock);
		log_warn("max_connections (%ld) reached; refusing uid %ld",
		    sd->max_conns, (long)cr.uid);
		(void)send_error(fd, ESTCA_ERR_UNAVAILABLE, "engine busy");
		close(fd);
		return;
	}
	sd->active++;
	pthread_mutex_unlock(&sd->lock);
	if ((c = OPENSSL_zalloc(sizeof(*c))) == NULL)
		goto fail;
	c->sd = sd;
	c->fd = fd;
	c->uid = cr.uid;
	c->pid = cr.pid;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, conn_main, c) != 0) {
		pthread_attr_destroy(&attr);
		pthread_mutex_destroy(&c->mu);
		pthread_cond_destroy(&c->cv);
		OPENSSL_free(c);
		goto fail;
	}
	pthread_attr_destroy(&attr);
	return;
fail:
	log_err("cannot start a connection thread");
	close(fd);
	pthread_mutex_lock(&sd->lock);
	sd->active--;
	pthread_mutex_unlock(&sd->lock);
}

/* ---- start-up ---- */

static int
open_socket(struct signd *sd)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, sd->socket_path, strlen(sd->socket_path) + 1);
	if (lstat(sd->socket_path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			log_err("%s exists and is not a socket", sd->socket_path);
			return ESTCA_ERR_CONFIG;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			log_err("another engine is listening on %s", sd->socket_path);
			return ESTCA_ERR_CONFIG;
		}
		if (probe >= 0)
			close(probe);
		unlink(sd->socket_path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		log_err("socket: %s", strerror(errno));
		return ESTCA_ERR_IO;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		log_err("bind %s: %s", sd->socket_path, strerror(errno));
		close(fd);
		return ESTCA_ERR_IO;
	}
	if (chmod(sd->socket_path, sd->socket_mode) != 0 ||
	    ((sd->drop || sd->have_socket_gid) &&
	    chown(sd->socket_path, sd->drop ? sd->run_uid : (uid_t)-1,
	    sd->have_socket_gid ? sd->socket_gid : (gid_t)-1) != 0)) {
		log_err("cannot set owner/mode of %s: %s", sd->socket_path,
		    strerror(errno));
		close(fd);
		unlink(sd->socket_path);
		return ESTCA_ERR_IO;
	}
	if (listen(fd, 128) != 0) {
		log_err("listen: %s", strerror(errno));
		close(fd);
		unlink(sd->socket_path);
		return ESTCA_ERR_IO;
	}
	sd->listen_fd = fd;
	return 0;
}

static int
drop_privileges(struct signd *sd)
{
	if (!sd->drop)
		return 0;
	if (geteuid() != 0) {
		if (geteuid() == sd->run_uid)
			return 0;
		log_err("'user' is set but the engine was not started as root");
		return ESTCA_ERR_PERM;
	}
	if (setgroups(0, NULL) != 0 || setgid(sd->run_gid) != 0 ||
	    setuid(sd->run_uid) != 0) {
		log_err("cannot drop privileges: %s", strerror(errno));
		return ESTCA_ERR_PERM;
	}
	if (setuid(0) == 0) {
		log_err("privileges could be regained after dropping them");
		return ESTCA_ERR_PERM;
	}
	/* setuid() resets the dumpable flag: clear it again */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	return 0;
}

/* Sign a probe with each CA key and verify it with the CA certificate. */
static int
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

static void
free_keys(struct signd *sd)
{
	for (size_t i = 0; i < sd->ncas; i++) {
		EVP_PKEY_free(sd->cas[i].key);
		sd->cas[i].key = NULL;
		sd->cas[i].hsm = NULL;
	}
}

static void
cleanup(struct signd *sd)
{
	free_keys(sd);
	for (size_t i = 0; i < sd->ncas; i++) {
		sk_X509_pop_free(sd->cas[i].chain, X509_free);
		EVP_MD_free(sd->cas[i].md_fetched);
	}
	estca_hsm_close(sd->hsm);
	estca_curves_free(&sd->curves);
	estca_conf_free(&sd->conf);
	if (sd->audit_fd >= 0)
		close(sd->audit_fd);
}

int
main(int argc, char **argv)
{
	struct signd sd;
	struct rlimit rl = { 0, 0 };
	sigset_t sigs;
	int check = 0, c, sfd, rc = 1, nstarted = 0;

	memset(&sd, 0, sizeof(sd));
	sd.conf_path = "/etc/estca/signd.conf";
	sd.listen_fd = -1;
	sd.audit_fd = -1;
	sd.stop_pipe[0] = sd.stop_pipe[1] = -1;
	while ((c = getopt(argc, argv, "f:nh")) != -1) {
		switch (c) {
		case 'f': sd.conf_path = optarg; break;
		case 'n': check = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	estca_log_init("estca-signd", 0, ESTCA_LOG_INFO);
	/* The PIN passes through this process: no core dumps, no ptrace. */
	setrlimit(RLIMIT_CORE, &rl);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

	if (load_config(&sd) != 0) {
		fprintf(stderr, "estca-signd: configuration %s is not valid\n", sd.conf_path);
		cleanup(&sd);
		return 1;
	}
	if (check) {
		printf("estca-signd: configuration %s OK (%zu CA%s, %zu profiles)\n",
		    sd.conf_path, sd.ncas, sd.ncas == 1 ? "" : "s", sd.profiles.n);
		cleanup(&sd);
		return 0;
	}

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((sfd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0 || pipe2(sd.stop_pipe, O_CLOEXEC) != 0) {
		log_err("signalfd/pipe: %s", strerror(errno));
		cleanup(&sd);
		return 1;
	}
	pthread_mutex_init(&sd.lock, NULL);
	pthread_cond_init(&sd.idle, NULL);
	pthread_mutex_init(&sd.jobs_mu, NULL);
	pthread_cond_init(&sd.jobs_cv, NULL);
	pthread_rwlock_init(&sd.hsm_lock, NULL);

	if (sd.audit_path != NULL && strcmp(sd.audit_path, "syslog") != 0) {
		sd.audit_fd = open(sd.audit_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		    0640);
		if (sd.audit_fd < 0) {
			log_err("audit_log %s: %s", sd.audit_path, strerror(errno));
			goto out;
		}
	} else if (sd.audit_path != NULL) {
		estca_log_init("estca-signd", 1, ESTCA_LOG_INFO);
	}
	if (open_socket(&sd) != 0)
		goto out;
	if (drop_privileges(&sd) != 0)
		goto out;
	if (estca_hsm_open(sd.module, sd.token, sd.pin_file, &sd.hsm) != 0 ||
	    load_keys(&sd) != 0)
		goto out;
	for (nstarted = 0; nstarted < (int)sd.nsigners; nstarted++)
		if (pthread_create(&sd.signers[nstarted], NULL, signer_main, &sd) != 0) {
			log_err("cannot start signer threads");
			goto out;
		}
	log_info("listening on %s (%ld signer threads)", sd.socket_path, sd.nsigners);

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = sd.listen_fd, .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
		};

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si) &&
			    si.ssi_signo == SIGHUP) {
				log_info("SIGHUP ignored: restart the engine to reload");
				continue;
			}
			log_info("shutting down");
			break;
		}
		if (pfd[0].revents)
			accept_one(&sd);
	}
	rc = 0;
out:
	if (sd.listen_fd >= 0) {
		close(sd.listen_fd);
		unlink(sd.socket_path);
	}
	if (sd.stop_pipe[1] >= 0) {
		struct timespec until;

		atomic_store(&sd.stopping, 1);
		(void)!write(sd.stop_pipe[1], "x", 1);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 10;
		pthread_mutex_lock(&sd.lock);
		while (sd.active > 0 &&
		    pthread_cond_timedwait(&sd.idle, &sd.lock, &until) == 0)
			;
		if (sd.active > 0) {
			log_warn("%d connections still busy at exit", sd.active);
			/*
			 * Threads still use keys, the token and this stack frame:
			 * leave without exit handlers (OpenSSL, libp11 clean-up)
			 * running under them.
			 */
			_exit(rc);
		}
		pthread_mutex_unlock(&sd.lock);
	}
	pthread_mutex_lock(&sd.jobs_mu);
	sd.jobs_stop = 1;
	pthread_cond_broadcast(&sd.jobs_cv);
	pthread_mutex_unlock(&sd.jobs_mu);
	for (int i = 0; i < nstarted; i++)
		pthread_join(sd.signers[i], NULL);
	if (rc == 0)
		log_info("stopped: %ld certificates signed, %ld of them by signer threads",
		    atomic_load(&sd.n_signed), atomic_load(&sd.n_by_signers));
	cleanup(&sd);
	return rc;
}
