/*
 * signd.c - estca-signd, the signing engine: the only process that logs in
 * to the HSM.
 *
 * It listens on a Unix socket, admits peers by SO_PEERCRED uid/gid, drops
 * root before it touches the token, and answers one reply per framed
 * request (wire.h).  It builds every certificate itself from a profile
 * (issue.c) and never signs a hash or a TBS handed to it.  It must never
 * log a PIN or key material, and must survive any bytes a peer sends.
 *
 * This file owns main() and start-up: the socket, the privilege drop, the
 * signal loop and shut-down.  The other parts: signd_conf.c
 * (configuration), audit.c (audit lines), session.c (HSM session, keys,
 * serials), signer.c (signer threads), request.c (one request), conn.c
 * (connections); signd.h holds what they share.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "str.h"
#include "log.h"
#include "signd.h"

static void
usage(FILE *f)
{
	fputs("usage: estca-signd [-n | --check-config] [-f CONFIG]\n"
	    "  -f CONFIG       configuration file (default /etc/estca/signd.conf)\n"
	    "  -n              check the configuration, CA chain files and\n"
	    "                  profiles without the token, then exit\n"
	    "  --check-config  as -n, then as the daemon would (root start, drop\n"
	    "                  to 'user'): the audit log and socket directory,\n"
	    "                  log in to the token, find each CA's key, sign and\n"
	    "                  verify a probe with it, check each CA certificate's\n"
	    "                  validity, then exit\n"
	    "  -h, --help      this help\n"
	    "Runs in the foreground, logs to stderr; SIGTERM or SIGINT stops it.\n"
	    "Exit status 0: valid; 1: not (one line on stderr says why).\n"
	    "See estca-signd(8) and estca-signd.conf(5).\n", f);
}

static int
open_socket(struct signd *sd)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (estca_str_copy(sun.sun_path, sizeof(sun.sun_path),
	    sd->socket_path) != 0) {
		log_err("socket path too long: %s", sd->socket_path);
		return ESTCA_ERR_CONFIG;
	}
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

/* The directory part of path into dir[len] ("/" for "/x"). */
static void
dir_of(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash == NULL ? 1 : (size_t)(slash - path);

	if (slash == NULL) {
		snprintf(dir, len, ".");
		return;
	}
	if (n == 0)
		n = 1;
	snprintf(dir, len, "%.*s", (int)n, path);
}

/*
 * --check-config after load_config(): what the start-up would do up to
 * the first request, without the socket and without writing anything.
 * The audit log is opened (never created) as the start-up opens it,
 * privileges drop as they would, then the token is opened and each CA key
 * self-tested (load_keys).  Returns 0 or 1; each failure is logged.
 */
static int
full_check(struct signd *sd)
{
	char dir[sizeof(sd->socket_path)];
	struct stat st;
	int fails = 0;

	dir_of(sd->socket_path, dir, sizeof(dir));
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		log_err("socket directory %s does not exist", dir);
		fails++;
	}
	if (sd->audit_path != NULL && strcmp(sd->audit_path, "syslog") != 0) {
		int fd = open(sd->audit_path, O_WRONLY | O_APPEND | O_CLOEXEC);

		if (fd >= 0) {
			close(fd);
		} else if (errno == ENOENT) {
			char adir[4096];

			dir_of(sd->audit_path, adir, sizeof(adir));
			if (access(adir, W_OK) != 0) {
				log_err("audit_log %s: cannot be created in %s: %s",
				    sd->audit_path, adir, strerror(errno));
				fails++;
			}
		} else {
			log_err("audit_log %s: %s", sd->audit_path, strerror(errno));
			fails++;
		}
	}
	for (size_t i = 0; i < sd->ncas; i++) {
		const X509 *x = sd->cas[i].cert;

		if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) {
			log_err("CA %s: certificate has expired", sd->cas[i].name);
			fails++;
		} else if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0) {
			log_err("CA %s: certificate is not valid yet", sd->cas[i].name);
			fails++;
		}
	}
	if (drop_privileges(sd) != 0)
		return 1;
	if (estca_hsm_open(sd->module, sd->token, sd->pin_file, &sd->hsm) != 0) {
		log_err("cannot log in to token '%s' with module %s (PIN from %s)",
		    sd->token, sd->module, sd->pin_file);
		return 1;
	}
	if (load_keys(sd) != 0) {
		log_err("a CA key is missing from token '%s' or does not match "
		    "its certificate", sd->token);
		return 1;
	}
	return fails ? 1 : 0;
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
	static const struct option longopts[] = {
		{ "check-config", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int check = 0, c, sfd, rc = 1, nstarted = 0;

	memset(&sd, 0, sizeof(sd));
	sd.conf_path = "/etc/estca/signd.conf";
	sd.listen_fd = -1;
	sd.audit_fd = -1;
	sd.stop_pipe[0] = sd.stop_pipe[1] = -1;
	while ((c = getopt_long(argc, argv, "f:nh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': sd.conf_path = optarg; break;
		case 'n': check = 1; break;
		case 'C': check = 2; break;
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
	if (check == 2 && full_check(&sd) != 0) {
		fprintf(stderr, "estca-signd: configuration %s failed the check\n",
		    sd.conf_path);
		cleanup(&sd);
		return 1;
	}
	if (check) {
		char names[512];
		size_t o = 0;

		names[0] = 0;
		for (size_t i = 0; i < sd.profiles.n && o + 70 < sizeof(names); i++)
			o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s",
			    i ? " " : "", sd.profiles.p[i].name);
		printf("estca-signd: configuration %s OK (%zu CA%s%s, %zu profiles: %s)\n",
		    sd.conf_path, sd.ncas, sd.ncas == 1 ? "" : "s",
		    check == 2 ? ", keys in the token sign" : "", sd.profiles.n,
		    names);
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
