/*
 * A small TLS test server for the HTTPS client's tests: OpenSSL, threads of its own (one per
 * connection), 127.0.0.1 port 0. In SRV_HTTP mode it speaks HTTP/1.1 with keep-alive and
 * answers by path (see srv_conn_main()), noting the last request it read; other modes drop
 * or ignore connections. Certificates come from tests/unit/scv/pki.h.
 */
#ifndef SCVB_TESTS_UNIT_SCV_TLS_SERVER_H
#define SCVB_TESTS_UNIT_SCV_TLS_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

enum srv_mode {
	SRV_HTTP = 0, /* TLS, HTTP/1.1 keep-alive, answers by path */
	SRV_DROP,     /* accepts the TCP connection and closes it at once */
	SRV_SILENT,   /* accepts and never reads or writes */
};

struct srv_req {
	char method[16];
	char path[256];
	char host[128];
	char auth[600];
	char provider[128];
	char ctype[64];
	char clen[16];
	char accept[64];
	char body[2048];
	size_t body_len;
};

#define SRV_MAX_CONNS 64

struct srv {
	enum srv_mode mode;
	int lfd;
	int port;
	SSL_CTX *ctx;
	pthread_t thread;
	atomic_int stop;
	pthread_mutex_t mu;
	int accepted;
	int requests;
	int max_concurrent;
	int concurrent;
	struct srv_req last;
	int fds[SRV_MAX_CONNS];
	pthread_t threads[SRV_MAX_CONNS];
	int n;
};

struct srv_conn {
	struct srv *s;
	int fd;
	int id;
};

static inline int
srv_write(SSL *ssl, const char *data, size_t len)
{
	while (len) {
		int n = SSL_write(ssl, data, (int)len);
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static inline int
srv_reply(SSL *ssl, int status, const char *extra, const char *body, size_t len)
{
	char head[512];
	int n = snprintf(head, sizeof head,
	                 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%sContent-Length: "
	                 "%zu\r\n\r\n",
	                 status, extra, len);
	if (srv_write(ssl, head, (size_t)n) < 0)
		return -1;
	return srv_write(ssl, body, len);
}

/* Copies header `name` (case-insensitive) from a head into out. */
static inline void
hdr(const char *head, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *p = head;

	out[0] = '\0';
	while ((p = strstr(p, "\r\n"))) {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1, *e;
			while (*v == ' ')
				v++;
			e = strstr(v, "\r\n");
			snprintf(out, outlen, "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
			return;
		}
	}
}

static inline void *
srv_conn_main(void *arg)
{
	struct srv_conn *sc = arg;
	struct srv *s = sc->s;
	char buf[16384], body[80000];
	size_t have = 0;
	int served = 0;
	SSL *ssl = SSL_new(s->ctx);

	SSL_set_fd(ssl, sc->fd);
	if (SSL_accept(ssl) != 1)
		goto out;
	pthread_mutex_lock(&s->mu);
	if (++s->concurrent > s->max_concurrent)
		s->max_concurrent = s->concurrent;
	pthread_mutex_unlock(&s->mu);
	for (;;) {
		struct srv_req q;
		char *end;
		size_t head_len, clen;
		int n;

		while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
			if (have == sizeof buf)
				goto out_dec;
			n = SSL_read(ssl, buf + have, (int)(sizeof buf - have));
			if (n <= 0)
				goto out_dec;
			have += (size_t)n;
		}
		head_len = (size_t)(end - buf) + 4;
		memset(&q, 0, sizeof q);
		buf[head_len - 2] = '\0';
		sscanf(buf, "%15s %255s", q.method, q.path);
		hdr(buf, "Host", q.host, sizeof q.host);
		hdr(buf, "Authorization", q.auth, sizeof q.auth);
		hdr(buf, "Telephony-Provider-Name", q.provider, sizeof q.provider);
		hdr(buf, "Content-Type", q.ctype, sizeof q.ctype);
		hdr(buf, "Content-Length", q.clen, sizeof q.clen);
		hdr(buf, "Accept", q.accept, sizeof q.accept);
		clen = q.clen[0] ? (size_t)atol(q.clen) : 0;
		if (clen > sizeof q.body && strstr(q.path, "/sink") && clen <= 4 * 1024 * 1024) {
			/* a large body: counted and checked, not kept (one request at a time) */
			size_t got = have - head_len, bad = 0;

			for (size_t i = 0; i < got; i++)
				bad += buf[head_len + i] != (char)('a' + i % 26);
			while (got < clen) {
				size_t want = clen - got < sizeof buf ? clen - got : sizeof buf;
				n = SSL_read(ssl, buf, (int)want);
				if (n <= 0)
					goto out_dec;
				for (int i = 0; i < n; i++)
					bad += buf[i] != (char)('a' + (got + (size_t)i) % 26);
				got += (size_t)n;
			}
			have = 0;
			pthread_mutex_lock(&s->mu);
			s->requests++;
			s->last = q;
			pthread_mutex_unlock(&s->mu);
			n = snprintf(body, sizeof body, "{\"got\":%zu,\"bad\":%zu}", got, bad);
			if (srv_reply(ssl, 200, "", body, (size_t)n) < 0)
				goto out_dec;
			continue;
		}
		if (clen > sizeof q.body)
			goto out_dec;
		while (have < head_len + clen) {
			n = SSL_read(ssl, buf + have, (int)(sizeof buf - have));
			if (n <= 0)
				goto out_dec;
			have += (size_t)n;
		}
		memcpy(q.body, buf + head_len, clen);
		q.body_len = clen;
		memmove(buf, buf + head_len + clen, have - head_len - clen);
		have -= head_len + clen;
		served++;
		pthread_mutex_lock(&s->mu);
		s->requests++;
		s->last = q;
		pthread_mutex_unlock(&s->mu);

		if (strstr(q.path, "/echo")) {
			n = srv_reply(ssl, 200, "", q.body, q.body_len);
		} else if (strstr(q.path, "/429")) {
			n = srv_reply(ssl, 429, "Retry-After: 7\r\n", "{\"code\":\"RATE_LIMITED\"}",
			              23);
		} else if (strstr(q.path, "/503date")) {
			char extra[128], date[64];
			time_t t = time(NULL) + 30;
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
			snprintf(extra, sizeof extra, "Retry-After: %s\r\n", date);
			n = srv_reply(ssl, 503, extra, "{}", 2);
		} else if (strstr(q.path, "/big")) {
			memset(body, 'x', sizeof body);
			n = srv_reply(ssl, 200, "", body, 70000);
		} else if (strstr(q.path, "/chunked")) {
			static const char r[] =
			        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			        "4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n";
			n = srv_write(ssl, r, sizeof r - 1);
		} else if (strstr(q.path, "/closeafter")) {
			n = srv_reply(ssl, 200, "Connection: close\r\n", "{}", 2);
			goto out_dec;
		} else if (strstr(q.path, "/closeidle")) {
			srv_reply(ssl, 200, "", "{}", 2);
			usleep(50 * 1000);
			goto out_dec; /* closes a kept connection while the client idles */
		} else if (strstr(q.path, "/close")) {
			goto out_dec; /* read the request, close without an answer */
		} else if (strstr(q.path, "/hang")) {
			while (!atomic_load(&s->stop))
				usleep(5000);
			goto out_dec;
		} else {
			if (strstr(q.path, "/slow"))
				usleep(150 * 1000);
			n = snprintf(body, sizeof body, "{\"conn\":%d,\"n\":%d}", sc->id, served);
			n = srv_reply(ssl, 200, "", body, (size_t)n);
		}
		if (n < 0)
			goto out_dec;
	}
out_dec:
	pthread_mutex_lock(&s->mu);
	s->concurrent--;
	pthread_mutex_unlock(&s->mu);
out:
	SSL_free(ssl);
	shutdown(sc->fd, SHUT_RDWR);
	free(sc);
	return NULL;
}

static inline void *
srv_main(void *arg)
{
	struct srv *s = arg;

	while (!atomic_load(&s->stop)) {
		struct pollfd p = {.fd = s->lfd, .events = POLLIN};
		int fd;

		if (poll(&p, 1, 20) <= 0)
			continue;
		fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		/* answers go out as two TLS records: without this, Nagle meets delayed ACK */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
		pthread_mutex_lock(&s->mu);
		s->accepted++;
		pthread_mutex_unlock(&s->mu);
		if (s->mode == SRV_DROP || s->n == SRV_MAX_CONNS) {
			close(fd);
			continue;
		}
		s->fds[s->n] = fd;
		if (s->mode == SRV_HTTP) {
			struct srv_conn *sc = calloc(1, sizeof *sc);
			sc->s = s;
			sc->fd = fd;
			sc->id = s->n + 1;
			pthread_create(&s->threads[s->n], NULL, srv_conn_main, sc);
		}
		s->n++;
	}
	return NULL;
}

/* Starts a server on 127.0.0.1, port 0, with cert/key (cert NULL for SRV_DROP/SILENT). */
static inline struct srv *
srv_start(enum srv_mode mode, X509 *cert, EVP_PKEY *key, int max_tls)
{
	struct srv *s = calloc(1, sizeof *s);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	int one = 1;

	s->mode = mode;
	pthread_mutex_init(&s->mu, NULL);
	if (cert) {
		s->ctx = SSL_CTX_new(TLS_server_method());
		SSL_CTX_use_certificate(s->ctx, cert);
		SSL_CTX_use_PrivateKey(s->ctx, key);
		if (max_tls) {
			SSL_CTX_set_security_level(s->ctx, 0);
			SSL_CTX_set_min_proto_version(s->ctx, TLS1_VERSION);
			SSL_CTX_set_max_proto_version(s->ctx, max_tls);
		}
	}
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(s->lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(s->lfd, 64) < 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &al) < 0) {
		perror("test server");
		exit(1);
	}
	s->port = ntohs(a.sin_port);
	pthread_create(&s->thread, NULL, srv_main, s);
	return s;
}

static inline void
srv_stop(struct srv *s)
{
	atomic_store(&s->stop, 1);
	pthread_join(s->thread, NULL);
	for (int i = 0; i < s->n; i++)
		shutdown(s->fds[i], SHUT_RDWR);
	for (int i = 0; i < s->n; i++) {
		if (s->mode == SRV_HTTP)
			pthread_join(s->threads[i], NULL);
		close(s->fds[i]);
	}
	close(s->lfd);
	SSL_CTX_free(s->ctx);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static inline int
srv_accepted(struct srv *s)
{
	int n;
	pthread_mutex_lock(&s->mu);
	n = s->accepted;
	pthread_mutex_unlock(&s->mu);
	return n;
}

static inline struct srv_req
srv_last(struct srv *s)
{
	struct srv_req q;
	pthread_mutex_lock(&s->mu);
	q = s->last;
	pthread_mutex_unlock(&s->mu);
	return q;
}

#endif
