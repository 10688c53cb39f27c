/*
 * The HTTPS client (see http.h): HTTP/1.1 over TLS on the daemon's libuv loop, in layers:
 *
 *   I/O       http_sock.c  libwebsockets "raw" client connections on the loop (lws drives
 *                          the daemon's loop as a foreign libuv loop): lws owns each TCP
 *                          socket, its connect, reads, writes and close.
 *   TLS       http_conn.c  OpenSSL over memory BIOs: TLS 1.2 or newer, the peer's chain
 *                          checked against the target's CA bundle and its name (or address)
 *                          against the certificate. lws only carries the records.
 *   HTTP/1.1  http_conn.c, framing (requests written there, responses parsed by http1.c)
 *             http1.c,     and a keep-alive pool for every method (this file).
 *             this file
 *
 * Names are resolved with uv_getaddrinfo() on the thread pool, and each address is handed to
 * lws as a numeric string, tried in turn; so lws's own getaddrinfo(), which blocks, returns at
 * once. Deadlines (set-up, request, idle) are ours; lws puts none on a connected raw socket.
 *
 * Why not more of libwebsockets (lws 4.1.6's HTTP client, its TLS, its resolver): see
 * scv/LWS-NOTES.md.
 *
 * Model: each target (base URL) has a FIFO of waiting requests and a pool of at most
 * MAX_CONNS connections. A connection carries one request at a time and is kept open
 * between requests (keep-alive) until the server closes it or it idles IDLE_TIMEOUT_MS. A
 * request that finds no idle connection opens a new one while the pool has room, else
 * waits. One timer serves every deadline (requests, connection set-up, idle).
 *
 * Callbacks: finished requests are moved to a completion list, and each libuv entry point
 * drains that list last (scv_http_settle()), so a user callback never runs in the middle of
 * the client's bookkeeping and may itself call scv_http_send() or scv_http_close(). lws
 * callbacks are not such entry points: what happens inside them is settled from the loop
 * right after (scv_http_kick(), an idle handle), so neither the user's code, nor a new
 * connection, nor a free ever runs inside libwebsockets.
 *
 * Close: requests are cancelled and every socket closed, then the client lets go of the
 * loop's shared lws context (lws_loop.c), which the last of its users tears down; `done`
 * runs once our handles are closed and lws is done with us.
 *
 * This file holds the client (targets, requests, dispatch, the timer, the API);
 * http_conn.c holds one connection's life and http_sock.c its socket.
 */
#include "scv/http_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static void on_timer(uv_timer_t *timer);
static void on_kick(uv_idle_t *idle);
static void on_timer_closed(uv_handle_t *handle);

/* ---- requests and completions ---- */

void
scv_http_arm(struct scv_http *h, uint64_t due)
{
	uint64_t now = uv_now(h->loop);

	if (h->closing || (h->timer_due && h->timer_due <= due))
		return;
	h->timer_due = due;
	uv_timer_start(&h->timer, on_timer, due > now ? due - now : 0, 0);
}

/* Settles from the loop, soon, what an lws callback started (see on_kick()). */
void
scv_http_kick(struct scv_http *h)
{
	if (!h->closing)
		uv_idle_start(&h->kick, on_kick);
}

/*
 * Records the outcome of r and moves it to the completion list; the callback is made by
 * run_completions(). r must already be detached from its queue and connection.
 */
void
scv_http_req_complete(struct scv_http_rq *r, int status, int error, const char *detail)
{
	struct scv_http *h = r->http;

	r->state = REQ_DONE;
	r->resp.status = status;
	r->resp.error = error;
	r->resp.maybe_sent = error && r->written;
	if (detail)
		snprintf(r->detail, sizeof r->detail, "%s", detail);
	scv_link_del(&r->all);
	scv_link_add_tail(&h->done, &r->all);
}

void
scv_http_req_detach(struct scv_http_rq *r)
{
	if (r->state == REQ_QUEUED)
		scv_link_del(&r->queue);
	if (r->conn) {
		r->conn->req = NULL;
		r->conn = NULL;
	}
}

static void
run_completions(struct scv_http *h)
{
	while (!scv_link_empty(&h->done)) {
		struct scv_http_rq *r = container_of(h->done.next, struct scv_http_rq, all);

		scv_link_del(&r->all);
		h->n_pending--;
		if (!r->resp.body) {
			r->resp.body = "";
			r->resp.body_len = 0;
		}
		r->resp.detail = r->detail[0] ? r->detail : NULL;
		r->cb(&r->resp, r->arg);
		free(r->body);
		free(r->wire);
		free(r);
	}
}

static void
free_http(struct scv_http *h)
{
	for (size_t i = 0; i < h->n_targets; i++) {
		free(h->targets[i]->host);
		free(h->targets[i]->authority);
		free(h->targets[i]->base_path);
		free(h->targets[i]);
	}
	free(h->targets);
	for (size_t i = 0; i < h->n_cas; i++) {
		SSL_CTX_free(h->cas[i]->ctx);
		free(h->cas[i]->file);
		free(h->cas[i]);
	}
	free(h->cas);
	free(h->wbuf);
	free(h);
}

/* Once closing and every handle is closed: frees h and reports. h is gone afterwards. */
static void
maybe_finish(struct scv_http *h)
{
	void (*done)(void *);
	void *arg;

	if (!h->closing || !h->timer_closed || !h->kick_closed || !h->lws_released || h->n_conns ||
	    !scv_link_empty(&h->done))
		return;
	done = h->done_cb;
	arg = h->done_arg;
	free_http(h);
	if (done)
		done(arg);
}

/* ---- dispatch ---- */

/* Gives queued requests of t to idle or setting-up connections, opening new ones. */
static void
dispatch(struct scv_http_target *t)
{
	while (!scv_link_empty(&t->queue)) {
		struct scv_http_rq *r = container_of(t->queue.next, struct scv_http_rq, queue);
		struct scv_hconn *c = NULL, *setup = NULL;
		int rc;

		for (struct scv_link *l = t->conns.next; l != &t->conns; l = l->next) {
			struct scv_hconn *x = container_of(l, struct scv_hconn, link);
			if (x->state == CONN_IDLE) {
				c = x;
				break;
			}
			if (!setup && scv_hconn_setting_up(x) && !x->req)
				setup = x;
		}
		if (!c)
			c = setup;
		if (!c && t->n_live < MAX_CONNS) {
			c = scv_hconn_new(t, &rc);
			if (!c) {
				scv_http_req_detach(r);
				scv_http_req_complete(r, 0, rc, "cannot open a connection");
				continue;
			}
		}
		if (!c)
			return;
		scv_http_req_detach(r);
		c->req = r;
		r->conn = c;
		if (c->state == CONN_IDLE)
			scv_hconn_send(c);
		else
			r->state = REQ_BOUND;
	}
}

/*
 * The end of every libuv entry point: hand out queued work, make the callbacks, and free
 * the client if it was closing and is now done. h may be gone on return.
 */
void
scv_http_settle(struct scv_http *h)
{
	if (!h->closing)
		for (size_t i = 0; i < h->n_targets; i++)
			dispatch(h->targets[i]);
	run_completions(h);
	maybe_finish(h);
}

static void
on_timer(uv_timer_t *timer)
{
	struct scv_http *h = container_of(timer, struct scv_http, timer);
	uint64_t now = uv_now(h->loop), next = 0;
	struct scv_link *l, *n;

	h->timer_due = 0;
	for (l = h->reqs.next; l != &h->reqs; l = n) {
		struct scv_http_rq *r = container_of(l, struct scv_http_rq, all);

		n = l->next;
		if (r->deadline > now)
			continue;
		switch (r->state) {
		case REQ_QUEUED:
			scv_http_req_detach(r);
			snprintf(r->detail, sizeof r->detail,
			         "no free connection to %s within %u ms", r->t->authority,
			         r->timeout_ms);
			scv_http_req_complete(r, 0, -ETIMEDOUT, NULL);
			break;
		case REQ_BOUND:
			scv_http_req_detach(r);
			snprintf(r->detail, sizeof r->detail, "connecting to %s took over %u ms",
			         r->t->authority, r->timeout_ms);
			scv_http_req_complete(r, 0, -ETIMEDOUT, NULL);
			break;
		case REQ_ACTIVE:
			scv_hconn_close(r->conn, -ETIMEDOUT,
			                "no complete response from %s within %u ms",
			                r->t->authority, r->timeout_ms);
			break;
		case REQ_DONE:
			break;
		}
	}
	for (size_t i = 0; i < h->n_targets; i++) {
		struct scv_http_target *t = h->targets[i];

		for (l = t->conns.next; l != &t->conns; l = n) {
			struct scv_hconn *c = container_of(l, struct scv_hconn, link);

			n = l->next;
			if (scv_hconn_setting_up(c) && c->deadline <= now)
				scv_hconn_close(c, -ETIMEDOUT,
				                "connection to %s not set up within %d ms",
				                t->authority, CONNECT_TIMEOUT_MS);
			else if (c->state == CONN_IDLE && c->deadline <= now)
				scv_hconn_close(c, 0, NULL);
		}
	}
	/* re-arm for the earliest deadline left */
	for (l = h->reqs.next; l != &h->reqs; l = l->next) {
		struct scv_http_rq *r = container_of(l, struct scv_http_rq, all);
		if (!next || r->deadline < next)
			next = r->deadline;
	}
	for (size_t i = 0; i < h->n_targets; i++) {
		struct scv_http_target *t = h->targets[i];
		for (l = t->conns.next; l != &t->conns; l = l->next) {
			struct scv_hconn *c = container_of(l, struct scv_hconn, link);
			if ((scv_hconn_setting_up(c) || c->state == CONN_IDLE) &&
			    (!next || c->deadline < next))
				next = c->deadline;
		}
	}
	if (next)
		scv_http_arm(h, next);
	scv_http_settle(h);
}

/*
 * After lws callbacks: the next address for connections whose attempt failed, the free of
 * connections lws is done with, then the usual settling.
 */
static void
on_kick(uv_idle_t *idle)
{
	struct scv_http *h = container_of(idle, struct scv_http, kick);

	uv_idle_stop(idle);
	for (size_t i = 0; i < h->n_targets; i++) {
		struct scv_http_target *t = h->targets[i];
		struct scv_link *l, *n;

		for (l = t->conns.next; l != &t->conns; l = n) {
			struct scv_hconn *c = container_of(l, struct scv_hconn, link);

			n = l->next;
			if (c->connect_due && c->state == CONN_CONNECTING)
				scv_hconn_connect_next(c);
			else
				scv_hconn_maybe_free(c);
		}
	}
	scv_http_settle(h);
}

static void
on_kick_closed(uv_handle_t *handle)
{
	struct scv_http *h = container_of((uv_idle_t *)handle, struct scv_http, kick);

	h->kick_closed = 1;
	maybe_finish(h);
}

static void
on_timer_closed(uv_handle_t *handle)
{
	struct scv_http *h = container_of((uv_timer_t *)handle, struct scv_http, timer);

	h->timer_closed = 1;
	maybe_finish(h);
}

/* ---- API ---- */

int
scv_http_new(uv_loop_t *loop, struct scv_http **ret_http, char *err, size_t errlen)
{
	struct scv_http *h = calloc(1, sizeof *h);
	int rc;

	if (!h) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	h->loop = loop;
	scv_link_init(&h->reqs);
	scv_link_init(&h->done);
	rc = scv_hsock_init(h, err, errlen);
	if (rc < 0) {
		free(h);
		return rc;
	}
	/* on Unix these only fill in the structs: they cannot fail */
	uv_timer_init(loop, &h->timer);
	uv_idle_init(loop, &h->kick);
	*ret_http = h;
	return 0;
}

/* The TLS context for ca_file (NULL: system store), shared by targets; -errno + err. */
static int
ca_get(struct scv_http *h, const char *ca_file, struct scv_http_ca **ret_ca, char *err,
       size_t errlen)
{
	struct scv_http_ca *ca, **cas;
	unsigned long e;
	char reason[160];

	for (size_t i = 0; i < h->n_cas; i++) {
		if ((!ca_file && !h->cas[i]->file) ||
		    (ca_file && h->cas[i]->file && strcmp(ca_file, h->cas[i]->file) == 0)) {
			*ret_ca = h->cas[i];
			return 0;
		}
	}
	if (ca_file && access(ca_file, R_OK) != 0) {
		snprintf(err, errlen, "cannot read CA file %s: %s", ca_file, strerror(errno));
		return -EINVAL;
	}
	cas = realloc(h->cas, (h->n_cas + 1) * sizeof *cas);
	if (!cas)
		goto out_nomem;
	h->cas = cas;
	ca = calloc(1, sizeof *ca);
	if (!ca)
		goto out_nomem;
	ca->file = ca_file ? strdup(ca_file) : NULL;
	ca->ctx = SSL_CTX_new(TLS_client_method());
	if ((ca_file && !ca->file) || !ca->ctx)
		goto out_free_ca;
	/* TLS 1.2 or newer; the peer's certificate chain and name are always checked. */
	SSL_CTX_set_min_proto_version(ca->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ca->ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_alpn_protos(ca->ctx, (const unsigned char *)"\x08http/1.1", 9);
	if (ca_file ? SSL_CTX_load_verify_file(ca->ctx, ca_file) != 1
	            : SSL_CTX_set_default_verify_paths(ca->ctx) != 1) {
		e = ERR_peek_last_error();
		ERR_error_string_n(e, reason, sizeof reason);
		ERR_clear_error();
		snprintf(err, errlen, "cannot load CA %s: %s", ca_file ? ca_file : "system store",
		         e ? reason : "no certificate found");
		SSL_CTX_free(ca->ctx);
		free(ca->file);
		free(ca);
		return -EINVAL;
	}
	h->cas[h->n_cas++] = ca;
	*ret_ca = ca;
	return 0;

out_free_ca:
	SSL_CTX_free(ca->ctx);
	free(ca->file);
	free(ca);
out_nomem:
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

/*
 * Splits "https://host[:port][/path]" into t's host, port, authority and base path.
 * Refuses user info, query, fragment, and anything but plain host names or addresses.
 */
static int
parse_url(const char *url, struct scv_http_target *t, char *err, size_t errlen)
{
	const char *a, *slash, *hend, *pstart = NULL;
	char host[256];
	size_t hl;
	unsigned long port = 443;
	struct in6_addr a6;
	struct in_addr a4;
	int v6 = 0;

	if (strncasecmp(url, "https://", 8) != 0) {
		snprintf(err, errlen, "%s: not an https:// URL", url);
		return -EINVAL;
	}
	a = url + 8;
	if (strpbrk(url, "?#@ \t\r\n")) {
		snprintf(err, errlen, "%s: user info, query, fragment or spaces not allowed", url);
		return -EINVAL;
	}
	slash = strchr(a, '/');
	if (!slash)
		slash = a + strlen(a);
	if (*a == '[') {
		hend = memchr(a, ']', (size_t)(slash - a));
		if (!hend)
			goto bad_host;
		a++;
		v6 = 1;
		if (hend + 1 < slash) {
			if (hend[1] != ':')
				goto bad_host;
			pstart = hend + 2;
		}
	} else {
		hend = memchr(a, ':', (size_t)(slash - a));
		if (hend)
			pstart = hend + 1;
		else
			hend = slash;
	}
	hl = (size_t)(hend - a);
	if (hl == 0 || hl >= sizeof host)
		goto bad_host;
	memcpy(host, a, hl);
	host[hl] = '\0';
	if (pstart) {
		char *e;
		if (pstart == slash || !isdigit((unsigned char)*pstart))
			goto bad_port;
		port = strtoul(pstart, &e, 10);
		if (e != slash || port == 0 || port > 65535)
			goto bad_port;
	}
	if (v6) {
		if (inet_pton(AF_INET6, host, &a6) != 1)
			goto bad_host;
		t->ip_literal = 1;
	} else if (inet_pton(AF_INET, host, &a4) == 1) {
		t->ip_literal = 1;
	} else {
		for (size_t i = 0; i < hl; i++) {
			host[i] = (char)tolower((unsigned char)host[i]);
			if (!isalnum((unsigned char)host[i]) && host[i] != '-' && host[i] != '.' &&
			    host[i] != '_')
				goto bad_host;
		}
	}
	for (const char *p = slash; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			goto bad_host;

	snprintf(t->port, sizeof t->port, "%lu", port);
	t->host = strdup(host);
	t->base_path = strdup(slash);
	if (t->host && t->base_path) {
		size_t n = strlen(t->base_path);
		while (n && t->base_path[n - 1] == '/')
			t->base_path[--n] = '\0';
		if (asprintf(&t->authority, "%s%s%s%s%s", v6 ? "[" : "", host, v6 ? "]" : "",
		             port == 443 ? "" : ":", port == 443 ? "" : t->port) < 0)
			t->authority = NULL;
	}
	if (!t->host || !t->base_path || !t->authority) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;

bad_host:
	snprintf(err, errlen, "%s: bad host", url);
	return -EINVAL;
bad_port:
	snprintf(err, errlen, "%s: bad port", url);
	return -EINVAL;
}

int
scv_http_target_add(struct scv_http *http, const char *base_url, const char *ca_file,
                    int *ret_target, char *err, size_t errlen)
{
	struct scv_http_target *t, **ts;
	int rc;

	if (!base_url) {
		snprintf(err, errlen, "no base URL");
		return -EINVAL;
	}
	t = calloc(1, sizeof *t);
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = parse_url(base_url, t, err, errlen);
	if (rc < 0)
		goto out_free;
	/* The same place with the same trust shares its connections. */
	for (size_t i = 0; i < http->n_targets; i++) {
		struct scv_http_target *o = http->targets[i];
		if (strcmp(o->host, t->host) == 0 && strcmp(o->port, t->port) == 0 &&
		    strcmp(o->base_path, t->base_path) == 0 &&
		    ((!ca_file && !o->ca->file) ||
		     (ca_file && o->ca->file && strcmp(ca_file, o->ca->file) == 0))) {
			*ret_target = (int)i;
			rc = 0;
			goto out_free;
		}
	}
	rc = ca_get(http, ca_file, &t->ca, err, errlen);
	if (rc < 0)
		goto out_free;
	ts = realloc(http->targets, (http->n_targets + 1) * sizeof *ts);
	if (!ts) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out_free;
	}
	http->targets = ts;
	t->http = http;
	scv_link_init(&t->conns);
	scv_link_init(&t->queue);
	ts[http->n_targets] = t;
	*ret_target = (int)http->n_targets++;
	return 0;

out_free:
	free(t->host);
	free(t->authority);
	free(t->base_path);
	free(t);
	return rc;
}

/* A header value we can send as is: no CR, LF or other control characters. */
static int
clean_value(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return 0;
	return 1;
}

static int
valid_request(const struct scv_http_req *q)
{
	size_t ml;

	if (!q->method || !q->path || q->path[0] != '/')
		return 0;
	ml = strlen(q->method);
	if (ml == 0 || ml > 16)
		return 0;
	for (const char *m = q->method; *m; m++)
		if (*m < 'A' || *m > 'Z')
			return 0;
	for (const char *p = q->path; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return 0;
	if ((q->authorization && !clean_value(q->authorization)) ||
	    (q->provider_name && !clean_value(q->provider_name)))
		return 0;
	if ((q->body_len && !q->body) || q->body_len > MAX_REQUEST_BODY)
		return 0;
	return 1;
}

/* The request on the wire: head and body, malloc'd. */
static char *
build_request(const struct scv_http_target *t, const struct scv_http_req *q, size_t *ret_len)
{
	int has_length = q->body || !strcmp(q->method, "POST") || !strcmp(q->method, "PUT") ||
	                 !strcmp(q->method, "PATCH");
	size_t cap = strlen(q->method) + strlen(t->base_path) + strlen(q->path) +
	             strlen(t->authority) + (q->authorization ? strlen(q->authorization) : 0) +
	             (q->provider_name ? strlen(q->provider_name) : 0) + q->body_len + 512;
	char *w = malloc(cap);
	int n;

	if (!w)
		return NULL;
	n = snprintf(w, cap,
	             "%s %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: scvbridge"
#ifdef SCVB_VERSION
	             "/" SCVB_VERSION
#endif
	             "\r\nAccept: application/json\r\n%s%s%s%s%s%s%s",
	             q->method, t->base_path, q->path, t->authority,
	             q->authorization ? "Authorization: " : "",
	             q->authorization ? q->authorization : "", q->authorization ? "\r\n" : "",
	             q->provider_name ? "Telephony-Provider-Name: " : "",
	             q->provider_name ? q->provider_name : "", q->provider_name ? "\r\n" : "",
	             q->body ? "Content-Type: application/json\r\n" : "");
	if (has_length)
		n += snprintf(w + n, cap - (size_t)n, "Content-Length: %zu\r\n", q->body_len);
	n += snprintf(w + n, cap - (size_t)n, "\r\n");
	if (q->body_len)
		memcpy(w + n, q->body, q->body_len);
	*ret_len = (size_t)n + q->body_len;
	return w;
}

int
scv_http_send(struct scv_http *http, const struct scv_http_req *req, scv_http_cb cb, void *arg)
{
	struct scv_http_target *t;
	struct scv_http_rq *r;

	if (http->closing)
		return -ECANCELED;
	if (!req || !cb || req->target < 0 || (size_t)req->target >= http->n_targets ||
	    !valid_request(req))
		return -EINVAL;
	t = http->targets[req->target];
	r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->wire = build_request(t, req, &r->wire_len);
	if (!r->wire) {
		free(r);
		return -ENOMEM;
	}
	r->http = http;
	r->t = t;
	r->cb = cb;
	r->arg = arg;
	r->head_method = strcmp(req->method, "HEAD") == 0;
	r->timeout_ms = req->timeout_ms ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
	r->deadline = uv_now(http->loop) + r->timeout_ms;
	r->resp.retry_after_s = -1;
	r->state = REQ_QUEUED;
	scv_link_add_tail(&http->reqs, &r->all);
	scv_link_add_tail(&t->queue, &r->queue);
	http->n_pending++;
	scv_http_arm(http, r->deadline);
	dispatch(t);
	/* A failure found on the way is reported from the loop, never from inside this call. */
	if (!scv_link_empty(&http->done))
		scv_http_arm(http, uv_now(http->loop));
	return 0;
}

size_t
scv_http_pending(const struct scv_http *http)
{
	return http->n_pending;
}

void
scv_http_close(struct scv_http *http, void (*done)(void *arg), void *arg)
{
	if (http->closing)
		return;
	http->closing = 1;
	http->done_cb = done;
	http->done_arg = arg;
	while (!scv_link_empty(&http->reqs)) {
		struct scv_http_rq *r = container_of(http->reqs.next, struct scv_http_rq, all);
		scv_http_req_detach(r);
		scv_http_req_complete(r, 0, -ECANCELED, "client closing");
	}
	for (size_t i = 0; i < http->n_targets; i++) {
		struct scv_http_target *t = http->targets[i];
		struct scv_link *l, *n;

		for (l = t->conns.next; l != &t->conns; l = n) {
			n = l->next;
			scv_hconn_close(container_of(l, struct scv_hconn, link), 0, NULL);
		}
	}
	uv_close((uv_handle_t *)&http->kick, on_kick_closed);
	uv_timer_stop(&http->timer);
	uv_close((uv_handle_t *)&http->timer, on_timer_closed);
	scv_hsock_shutdown(http); /* every socket is closed: lws may let go of us */
	run_completions(http);
}
