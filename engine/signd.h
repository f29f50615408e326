/*
 * signd.h - what the parts of estca-signd share: its context (struct
 * signd, which main owns and passes down), a connection and the slots of
 * its pipelined requests, the audit record, and the functions one part
 * calls in another.
 *
 * Internal to estca-signd: only its own files (engine_estca_signd_SOURCES)
 * include it; estca-ca and the web tier must never see these types.
 */
#ifndef ESTCA_SIGND_H
#define ESTCA_SIGND_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/un.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "buf.h"
#include "conf.h"
#include "hsm.h"
#include "issue.h"
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

/* signd_conf.c */
int load_config(struct signd *sd);

/* audit.c */
void audit(struct signd *sd, const struct audit *a);

/* session.c */
int hsm_acquire(struct signd *sd);
void hsm_release(struct signd *sd, int err);
int in_hsm(struct signd *sd, struct conn *c, const struct estca_ca *ca,
    const struct estca_profile *p,
    struct estca_ee_req *rq, const char *keytype,
    unsigned char serial[ESTCA_SERIAL_LEN], X509 **x, EVP_PKEY **newkey,
    ESTCA_SPKI **newspki, char *reason, size_t reasonlen);
int load_keys(struct signd *sd);
void free_keys(struct signd *sd);

/* signer.c */
void *signer_main(void *arg);
void sign_batch(struct signd *sd, struct slot **b, size_t k);

/* request.c */
void slot_start(struct signd *sd, struct conn *c, const unsigned char *in,
    size_t inlen, struct slot *sl, int defer);
int slot_finish(struct signd *sd, const struct conn *c, struct slot *sl,
    struct estca_buf *out);
int send_error(int fd, int err, const char *reason);

/* conn.c */
void accept_one(struct signd *sd);

#endif
