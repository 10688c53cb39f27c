/*
 * A blocking HTTP/1.1 client for the tests of the daemon's HTTP servers: it runs in a helper
 * thread (a "job") while the test's thread runs the loop, and reads answers byte-exactly
 * (head, Content-Length body, what follows), so that keep-alive, pipelining, half-close and
 * the server's closes can be seen. Also: the process's listening sockets, the loop's handles.
 *
 * The including test defines the loop and the port run_job() talks to by default:
 *   static uv_loop_t loop;  static int port;
 */
#ifndef SCVB_TESTS_UNIT_HTTP_CLIENT_H
#define SCVB_TESTS_UNIT_HTTP_CLIENT_H

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#define JOB_MAX_FDS 256 /* connections one job may hold open */

static uv_loop_t loop;
static int port;

static inline uint64_t
hc_now_ms(void)
{
	return uv_hrtime() / 1000000;
}

/* A close's done callback: counts. */
static inline void
on_done(void *arg)
{
	(*(int *)arg)++;
}

struct resp {
	int status;
	char head[4096];
	char body[4096];
	size_t body_len;
};

struct cli {
	int fd;
	size_t have;
	char buf[64 * 1024];
};

static inline int
cli_open(struct cli *k, int family, int p)
{
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)p)};
	struct timeval tv = {5, 0};

	k->have = 0;
	k->fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (k->fd < 0)
		return -1;
	setsockopt(k->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a6.sin6_addr = in6addr_loopback;
	if (family == AF_INET ? connect(k->fd, (struct sockaddr *)&a4, sizeof a4)
	                      : connect(k->fd, (struct sockaddr *)&a6, sizeof a6)) {
		close(k->fd);
		k->fd = -1;
		return -1;
	}
	return 0;
}

static inline int
cli_send(struct cli *k, const char *data, size_t len)
{
	while (len) {
		ssize_t n = send(k->fd, data, len, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static inline ssize_t
cli_fill(struct cli *k)
{
	ssize_t n = recv(k->fd, k->buf + k->have, sizeof k->buf - k->have - 1, 0);

	if (n > 0) {
		k->have += (size_t)n;
		k->buf[k->have] = '\0';
	}
	return n;
}

/* A header of r (case-insensitive name) into out; 1 when present. */
static inline int
resp_header(const struct resp *r, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);

	for (const char *p = strstr(r->head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		if (!strncasecmp(p + 2, name, nl) && p[2 + nl] == ':') {
			const char *v = p + 3 + nl, *e;
			v += strspn(v, " ");
			e = strstr(v, "\r\n");
			snprintf(out, outlen, "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
			return 1;
		}
	}
	return 0;
}

/* Reads one answer (head only for a HEAD request); bytes past it stay in k. 0 or -1. */
static inline int
cli_read(struct cli *k, struct resp *r, int head_only)
{
	char *end, cl[32];
	size_t hl, blen = 0;

	memset(r, 0, sizeof *r);
	while (!(end = memmem(k->buf, k->have, "\r\n\r\n", 4)))
		if (cli_fill(k) <= 0)
			return -1;
	hl = (size_t)(end - k->buf) + 4;
	snprintf(r->head, sizeof r->head, "%.*s", (int)hl, k->buf);
	if (sscanf(r->head, "HTTP/1.1 %d ", &r->status) != 1)
		return -1;
	if (resp_header(r, "Content-Length", cl, sizeof cl) && !head_only)
		blen = (size_t)atol(cl);
	while (k->have < hl + blen)
		if (cli_fill(k) <= 0)
			return -1;
	r->body_len = blen < sizeof r->body ? blen : sizeof r->body - 1;
	memcpy(r->body, k->buf + hl, r->body_len);
	memmove(k->buf, k->buf + hl + blen, k->have - hl - blen);
	k->have -= hl + blen;
	return 0;
}

/* 1 when the server closes (EOF or reset) within ms and sends nothing more, 0 if not. */
static inline int
cli_closed(struct cli *k, int ms)
{
	struct pollfd p = {.fd = k->fd, .events = POLLIN};
	char c;

	if (k->have)
		return 0;
	if (poll(&p, 1, ms) <= 0)
		return 0;
	return recv(k->fd, &c, 1, 0) <= 0;
}

enum job_mode {
	JOB_SEQ,       /* one connection: send a request, read its answer, and so on */
	JOB_PIPE,      /* every request in one write, then every answer */
	JOB_HALFCLOSE, /* every request, shutdown(SHUT_WR), then every answer */
};

struct job {
	void (*fn)(struct job *);
	enum job_mode mode;
	int family, port;
	const char *req[4];
	int head_only[4];
	int n;
	int want_closed; /* see whether the server closes after the last answer */
	int n_conns;     /* job_many(): connections to fill the server with */
	struct resp resp[4];
	int got;    /* answers read; -1: could not connect */
	int closed; /* with want_closed */
	int fds[JOB_MAX_FDS];
	atomic_int sync;
	atomic_int done;
};

static inline void
job_exchange(struct job *j)
{
	struct cli *k = malloc(sizeof *k);
	char *all;
	size_t total = 0;

	if (cli_open(k, j->family, j->port) < 0) {
		j->got = -1;
		free(k);
		return;
	}
	if (j->mode == JOB_SEQ) {
		for (int i = 0; i < j->n; i++) {
			if (cli_send(k, j->req[i], strlen(j->req[i])) < 0 ||
			    cli_read(k, &j->resp[i], j->head_only[i]) < 0)
				goto out;
			j->got++;
		}
	} else {
		for (int i = 0; i < j->n; i++)
			total += strlen(j->req[i]);
		all = malloc(total + 1);
		all[0] = '\0';
		for (int i = 0; i < j->n; i++)
			strcat(all, j->req[i]);
		if (cli_send(k, all, total) < 0) {
			free(all);
			goto out;
		}
		free(all);
		if (j->mode == JOB_HALFCLOSE)
			shutdown(k->fd, SHUT_WR);
		for (int i = 0; i < j->n; i++) {
			if (cli_read(k, &j->resp[i], j->head_only[i]) < 0)
				goto out;
			j->got++;
		}
	}
	if (j->want_closed)
		j->closed = cli_closed(k, 3000);
out:
	close(k->fd);
	free(k);
}

static inline void *
job_main(void *arg)
{
	struct job *j = arg;

	(j->fn ? j->fn : job_exchange)(j);
	atomic_store(&j->done, 1);
	return NULL;
}

/* Runs j in a helper thread while this one runs l. */
static inline void
run_job_on(uv_loop_t *l, struct job *j)
{
	pthread_t t;

	if (!j->family)
		j->family = AF_INET;
	if (!j->port)
		j->port = port;
	pthread_create(&t, NULL, job_main, j);
	while (!atomic_load(&j->done)) {
		uv_run(l, UV_RUN_NOWAIT);
		usleep(200);
	}
	pthread_join(t, NULL);
	uv_run(l, UV_RUN_NOWAIT);
}

static inline void
run_job(struct job *j)
{
	run_job_on(&loop, j);
}

/* Runs l for about ms. */
static inline void
spin(uv_loop_t *l, unsigned ms)
{
	uint64_t end = hc_now_ms() + ms;

	while (hc_now_ms() < end) {
		uv_run(l, UV_RUN_NOWAIT);
		usleep(200);
	}
}

/* One request on a new connection; its answer in r, whether the server closed after it. */
static inline int
roundtrip(const char *req, struct resp *r, int *ret_closed)
{
	struct job *j = calloc(1, sizeof *j);
	int rc;

	j->req[0] = req;
	j->n = 1;
	j->head_only[0] = !strncmp(req, "HEAD ", 5);
	j->want_closed = ret_closed != NULL;
	run_job(j);
	*r = j->resp[0];
	if (ret_closed)
		*ret_closed = j->closed;
	rc = j->got == 1 ? 0 : -1;
	free(j);
	return rc;
}

/* The "error" member of r's JSON body, or "". */
static inline const char *
error_of(const struct resp *r)
{
	static char out[512];
	json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
	const char *e = json_string_value(json_object_get(j, "error"));

	snprintf(out, sizeof out, "%s", e ? e : "");
	json_decref(j);
	return out;
}

/*
 * Listening sockets of this process: how many, and the address of one. With ret_all, the
 * number of sockets of any kind too.
 */
static inline int
listeners_all(struct sockaddr_storage *ret_ss, int *ret_all)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0, all = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name), acc = 0;
		socklen_t l = sizeof acc, sl = sizeof *ret_ss;
		struct stat st;

		if (e->d_name[0] == '.' || fd == dirfd(d) || fstat(fd, &st) ||
		    !S_ISSOCK(st.st_mode))
			continue;
		all++;
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l) || !acc)
			continue;
		n++;
		getsockname(fd, (struct sockaddr *)ret_ss, &sl);
	}
	closedir(d);
	if (ret_all)
		*ret_all = all;
	return n;
}

static inline int
listeners(struct sockaddr_storage *ret_ss)
{
	return listeners_all(ret_ss, NULL);
}

static inline void
count_handle(uv_handle_t *h, void *arg)
{
	(void)h;
	(*(int *)arg)++;
}

static inline int
loop_handles(uv_loop_t *l)
{
	int n = 0;

	uv_walk(l, count_handle, &n);
	return n;
}

/* ---- jobs of their own shape ---- */

static inline void
job_expect(struct job *j)
{
	struct cli *k = malloc(sizeof *k);

	if (cli_open(k, AF_INET, j->port) < 0)
		goto out;
	/* req[0]: the head; req[1]: the body, sent once 100 Continue came */
	if (cli_send(k, j->req[0], strlen(j->req[0])) < 0 || cli_read(k, &j->resp[0], 0) < 0)
		goto out_close;
	j->got = 1;
	if (j->resp[0].status == 100) {
		if (cli_send(k, j->req[1], strlen(j->req[1])) < 0 ||
		    cli_read(k, &j->resp[1], 0) < 0)
			goto out_close;
		j->got = 2;
	}
	j->closed = cli_closed(k, j->want_closed ? 3000 : 100);
out_close:
	close(k->fd);
out:
	free(k);
}

static inline void
job_many(struct job *j)
{
	struct cli *k = malloc(sizeof *k);
	int i;

	for (i = 0; i < j->n_conns; i++) {
		struct cli tmp;
		if (cli_open(&tmp, AF_INET, j->port) < 0)
			break;
		j->fds[i] = tmp.fd;
	}
	j->got = i; /* connections made */
	atomic_store(&j->sync, 1);
	/* wait for the test thread to see them all adopted */
	while (atomic_load(&j->sync) != 2)
		usleep(1000);
	if (cli_open(k, AF_INET, j->port) == 0) {
		const char *rq = "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n";
		if (cli_send(k, rq, strlen(rq)) == 0 && cli_read(k, &j->resp[0], 0) == 0)
			j->closed = cli_closed(k, 3000);
		close(k->fd);
	}
	for (i = 0; i < j->got; i++)
		close(j->fds[i]);
	free(k);
}

static inline void
job_idle(struct job *j)
{
	struct cli *k = malloc(sizeof *k);
	uint64_t t0 = hc_now_ms();

	if (cli_open(k, AF_INET, j->port) == 0) {
		if (j->req[0])
			cli_send(k, j->req[0], strlen(j->req[0]));
		j->closed = cli_closed(k, 3000);
		j->got = (int)(hc_now_ms() - t0); /* ms until closed */
		close(k->fd);
	}
	free(k);
}

static inline void
job_hold(struct job *j)
{
	struct cli *k = malloc(sizeof *k), *k2 = malloc(sizeof *k2);

	/* one connection idle after an answer, one in the middle of a request */
	if (cli_open(k, AF_INET, j->port) == 0 && cli_open(k2, AF_INET, j->port) == 0) {
		const char *rq = "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n";
		if (cli_send(k, rq, strlen(rq)) == 0 && cli_read(k, &j->resp[0], 0) == 0)
			j->got = 1;
		cli_send(k2, "POST /v1/calls/k/recording HTTP/1.1\r\n", 37);
		atomic_store(&j->sync, 1);
		j->closed = cli_closed(k, 5000) + cli_closed(k2, 5000);
		close(k->fd);
		close(k2->fd);
	}
	free(k);
	free(k2);
}

#endif
