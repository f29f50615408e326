/*
 * signer.c - estca-signd's signer threads: when a connection sends
 * requests ahead of its replies, a signer signs part of the batch of
 * certificates it built while its own thread signs the rest.
 *
 * A signer only signs what a connection has built and linted (a slot in
 * state SLOT_SIGNING); it never decodes a request, audits or writes to a
 * socket.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <openssl/err.h>
#include "signd.h"

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
void *
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
void
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
