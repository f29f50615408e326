/*
 * conn.c - estca-signd's connections: a peer is admitted by SO_PEERCRED
 * (allow_uids, allow_gids) within max_connections, then one thread per
 * connection reads framed requests and writes their replies in order,
 * taking requests that arrive together as one batch.
 *
 * A peer may send any bytes: a frame that is too large or malformed gets
 * an error reply and the connection closes.  It never touches the token
 * itself (request.c and signer.c do, through session.c).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include "log.h"
#include "signd.h"

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

void
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
