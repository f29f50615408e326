/*
 * signd_conf.c - estca-signd's configuration: reads signd.conf into struct
 * signd (socket, allowed peers, user, token, audit log, signers), loads
 * each [ca NAME]'s chain file and the profiles.
 *
 * It runs before the socket opens and before privileges drop.  It must
 * never open the token or read the PIN file (it keeps only its path), and
 * refuses unknown sections and keys rather than ignore them.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "str.h"
#include "log.h"
#include "signd.h"

static int
parse_ids(const char *s, int groups, void *out, size_t *n)
{
	char buf[1024], *save = NULL, *tok;

	*n = 0;
	if (estca_str_copy(buf, sizeof(buf), s) != 0)
		return ESTCA_ERR_CONFIG;
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

/* Every key estca-signd reads (doc/engine.md, "Configuration"). */
static const struct estca_conf_key signd_keys[] = {
	{ "", "socket", 1 },
	{ "", "socket_group", 0 },
	{ "", "socket_mode", 0 },
	{ "", "allow_uids", 1 },
	{ "", "allow_gids", 0 },
	{ "", "user", 0 },
	{ "", "pkcs11_module", 1 },
	{ "", "token_label", 1 },
	{ "", "pin_file", 1 },
	{ "", "audit_log", 0 },
	{ "", "max_connections", 0 },
	{ "", "verify_signatures", 0 },
	{ "", "signers", 0 },
	{ "ca", "key_label", 1 },
	{ "ca", "chain", 1 },
	{ "ca", "signature", 0 },
	{ "profile", "*", 0 },      /* profile.c checks its own keys */
	{ NULL, NULL, 0 },
};

static int
check_keys(const struct estca_conf *c)
{
	char err[512];
	int r;

	if ((r = estca_conf_check(c, signd_keys, err, sizeof(err))) != 0)
		log_err("%s", err);
	return r;
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

int
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
	if (v[0] != '/' ||
	    estca_str_copy(sd->socket_path, sizeof(sd->socket_path), v) != 0) {
		log_err("socket must be an absolute path shorter than %zu bytes",
		    sizeof(sd->socket_path));
		return ESTCA_ERR_CONFIG;
	}
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
		if (sd->ncas >= MAX_CAS ||
		    estca_str_copy(sd->cas[sd->ncas].name,
		    sizeof(sd->cas[sd->ncas].name), e->name) != 0) {
			log_err("too many CAs or CA name too long");
			return ESTCA_ERR_CONFIG;
		}
		ca = &sd->cas[sd->ncas++];
		if ((label = required(sd, "ca", e->name, "key_label")) == NULL ||
		    (chain = required(sd, "ca", e->name, "chain")) == NULL)
			return ESTCA_ERR_CONFIG;
		if (estca_str_copy(ca->key_label, sizeof(ca->key_label),
		    label) != 0)
			return ESTCA_ERR_CONFIG;
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
