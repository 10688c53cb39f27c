/*
 * One connection of the HTTPS client (see http.c for the model and the layering): resolve
 * the target's name on the thread pool, try each address in turn over a libwebsockets raw
 * socket (http_sock.c), TLS over memory BIOs, then one request at a time with the response
 * parsed by http1.c. The state is explicit (enum scv_hconn_state) and every change goes
 * through conn_enter_state().
 *
 * What the socket reports (scv_hconn_on_*) arrives inside libwebsockets callbacks: it may
 * change state, complete requests and close the connection, but never calls back the user,
 * opens another socket or frees anything. A connection is freed only from the loop, once
 * libwebsockets is done with its socket and no getaddrinfo is pending; requests it carried
 * are completed through http.c's completion list, never called back from here directly.
 */
#include "scv/http_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "connector/log.h"

static const char *const conn_state_names[] = {"resolving", "connecting", "handshake",
                                               "idle",      "busy",       "closing"};

static void conn_ready(struct scv_hconn *c);

static void
conn_enter_state(struct scv_hconn *c, enum scv_hconn_state s)
{
	log_debug(NULL, "scv http: connection %u to %s: %s -> %s", c->id, c->t->authority,
	          conn_state_names[c->state], conn_state_names[s]);
	c->state = s;
}

/*
 * Frees c once it is closing and nothing refers to it any more: libwebsockets is done with
 * its socket, no getaddrinfo is pending and no lws callback for it is on the stack. 1 when
 * freed.
 */
int
scv_hconn_maybe_free(struct scv_hconn *c)
{
	if (c->state != CONN_CLOSING || c->wsi || c->gai_pending || c->in_lws || c->connecting_sync)
		return 0;
	scv_link_del(&c->link);
	SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->ai)
		uv_freeaddrinfo(c->ai);
	c->ai = NULL;
	scv_http1_free(&c->parser);
	c->http->n_conns--;
	free(c);
	return 1;
}

/*
 * Closes c; a request on it fails with error (and a message made from fmt). c may be freed
 * on return, unless this is called from inside an lws callback for c.
 */
void
scv_hconn_close(struct scv_hconn *c, int error, const char *fmt, ...)
{
	struct scv_http_rq *r = c->req;
	char detail[192] = "";
	va_list ap;

	if (c->state == CONN_CLOSING)
		return;
	conn_enter_state(c, CONN_CLOSING);
	c->t->n_live--;
	if (r) {
		if (fmt) {
			va_start(ap, fmt);
			vsnprintf(detail, sizeof detail, fmt, ap);
			va_end(ap);
		}
		scv_http_req_detach(r);
		scv_http_req_complete(r, 0, error ? error : -ECONNRESET, detail);
	}
	if (c->gai_pending)
		uv_cancel((uv_req_t *)&c->gai);
	scv_hsock_kill(c);
	scv_hconn_maybe_free(c);
}

/*
 * Has the socket send what TLS produced: asks for a RAW_WRITEABLE, where
 * scv_hconn_take_output() hands it over. 0 or a negative errno (the caller closes c).
 */
static int
tls_flush(struct scv_hconn *c)
{
	if (!c->wbio || BIO_ctrl_pending(c->wbio) == 0)
		return 0;
	return scv_hsock_want_write(c);
}

/* Up to cap bytes of ciphertext for the socket; 0 when there is none. */
size_t
scv_hconn_take_output(struct scv_hconn *c, unsigned char *buf, size_t cap)
{
	int n;

	if (!c->wbio || BIO_ctrl_pending(c->wbio) == 0)
		return 0;
	n = BIO_read(c->wbio, buf, (int)cap);
	return n > 0 ? (size_t)n : 0;
}

/* The socket took what scv_hconn_take_output() gave (error 0), or failed. */
void
scv_hconn_on_written(struct scv_hconn *c, int error)
{
	if (error < 0) {
		scv_hconn_close(c, error, "cannot write to %s", c->peer);
		return;
	}
	/* the request went out with these bytes, or before them: the server may have it */
	if (c->state == CONN_BUSY && c->req)
		c->req->written = 1;
	error = tls_flush(c);
	if (error < 0)
		scv_hconn_close(c, error, "cannot write to %s", c->peer);
}

/* Closes c after a TLS failure, with the reason OpenSSL gives. */
static void
tls_fail(struct scv_hconn *c, const char *what)
{
	long v = SSL_get_verify_result(c->ssl);
	unsigned long e = ERR_peek_last_error();
	char reason[160];

	if (v != X509_V_OK) {
		ERR_clear_error();
		scv_hconn_close(c, -EPROTO, "%s: certificate of %s not accepted: %s", what,
		                c->t->authority, X509_verify_cert_error_string(v));
		return;
	}
	ERR_error_string_n(e, reason, sizeof reason);
	ERR_clear_error();
	scv_hconn_close(c, -EPROTO, "%s with %s: %s", what, c->peer, e ? reason : "unexpected end");
}

static void
conn_handshake(struct scv_hconn *c)
{
	int rc = SSL_do_handshake(c->ssl), err;

	err = tls_flush(c);
	if (err < 0) {
		scv_hconn_close(c, err, "cannot write to %s: %s", c->peer, strerror(-err));
		return;
	}
	if (rc == 1) {
		log_debug(NULL, "scv http: connection %u to %s (%s): %s, %s", c->id,
		          c->t->authority, c->peer, SSL_get_version(c->ssl),
		          SSL_get_cipher_name(c->ssl));
		conn_ready(c);
		return;
	}
	if (SSL_get_error(c->ssl, rc) == SSL_ERROR_WANT_READ)
		return;
	tls_fail(c, "TLS handshake failed");
}

/* Writes c->req on c. */
void
scv_hconn_send(struct scv_hconn *c)
{
	struct scv_http_rq *r = c->req;
	int rc;

	scv_http1_init(&c->parser, SCV_HTTP_MAX_RESPONSE, r->head_method);
	r->state = REQ_ACTIVE;
	conn_enter_state(c, CONN_BUSY);
	if (SSL_write(c->ssl, r->wire, (int)r->wire_len) != (int)r->wire_len) {
		tls_fail(c, "TLS write failed");
		return;
	}
	rc = tls_flush(c);
	if (rc < 0)
		scv_hconn_close(c, rc, "cannot write to %s: %s", c->peer, strerror(-rc));
}

/* Set up, or done with a request and kept: serve the bound request, or idle. */
static void
conn_ready(struct scv_hconn *c)
{
	if (c->req) {
		scv_hconn_send(c);
		return;
	}
	conn_enter_state(c, CONN_IDLE);
	c->deadline = uv_now(c->http->loop) + IDLE_TIMEOUT_MS;
	scv_http_arm(c->http, c->deadline);
}

static void
conn_response_done(struct scv_hconn *c, int keep)
{
	struct scv_http_rq *r = c->req;

	scv_http_req_detach(r);
	r->body = scv_http1_take_body(&c->parser, &r->resp.body_len);
	r->resp.body = r->body;
	r->resp.retry_after_s = scv_http1_retry_after(c->parser.retry_after, time(NULL));
	scv_http_req_complete(r, c->parser.status, 0, NULL);
	c->served++;
	if (keep)
		conn_ready(c);
	else
		scv_hconn_close(c, 0, NULL);
}

/* Response bytes for c->req. */
static void
conn_feed(struct scv_hconn *c, const char *data, size_t len)
{
	struct scv_http_rq *r = c->req;
	ssize_t n = scv_http1_feed(&c->parser, data, len);

	if (n == -EMSGSIZE) {
		/* The answer came, but its body is over the limit: keep the status. */
		scv_http_req_detach(r);
		r->resp.retry_after_s = scv_http1_retry_after(c->parser.retry_after, time(NULL));
		snprintf(r->detail, sizeof r->detail, "response from %s larger than %d bytes",
		         c->t->authority, SCV_HTTP_MAX_RESPONSE);
		scv_http_req_complete(r, c->parser.status, -EMSGSIZE, NULL);
		scv_hconn_close(c, 0, NULL);
		return;
	}
	if (n < 0) {
		scv_hconn_close(c, n == -ENOMEM ? -ENOMEM : -EPROTO,
		                "malformed HTTP response from %s", c->t->authority);
		return;
	}
	if (c->parser.state == SCV_HTTP1_DONE)
		/* bytes beyond the answer were never asked for: do not reuse the connection */
		conn_response_done(c, c->parser.keep_alive && (size_t)n == len);
}

/*
 * The server closed the connection (TLS close_notify, or the socket closed: libwebsockets
 * does not tell a FIN from a reset, so both end a response that runs until close).
 */
static void
conn_peer_closed(struct scv_hconn *c)
{
	switch (c->state) {
	case CONN_BUSY:
		if (scv_http1_eof(&c->parser) == 0) {
			conn_response_done(c, 0);
			return;
		}
		scv_hconn_close(c, -ECONNRESET,
		                "connection to %s closed before a complete response", c->peer);
		return;
	case CONN_HANDSHAKE:
		scv_hconn_close(c, -ECONNRESET, "connection to %s closed during the TLS handshake",
		                c->peer);
		return;
	default:
		scv_hconn_close(c, 0, NULL);
		return;
	}
}

/* Everything TLS can decrypt from what arrived. */
static void
conn_input(struct scv_hconn *c)
{
	struct scv_http *h = c->http;
	int n, err;

	if (c->state == CONN_HANDSHAKE)
		conn_handshake(c);
	while (c->state == CONN_IDLE || c->state == CONN_BUSY) {
		n = SSL_read(c->ssl, h->rbuf, sizeof h->rbuf);
		if (n <= 0) {
			err = SSL_get_error(c->ssl, n);
			if (err == SSL_ERROR_WANT_READ) {
				n = tls_flush(c); /* e.g. an answer to a TLS 1.3 KeyUpdate */
				if (n < 0)
					scv_hconn_close(c, n, "cannot write to %s", c->peer);
				return;
			}
			if (err == SSL_ERROR_ZERO_RETURN) {
				conn_peer_closed(c);
				return;
			}
			tls_fail(c, "TLS read failed");
			return;
		}
		if (c->state == CONN_IDLE) {
			/* nothing was asked: the server is confused, do not reuse */
			scv_hconn_close(c, 0, NULL);
			return;
		}
		conn_feed(c, h->rbuf, (size_t)n);
	}
}

/* Bytes from the socket. */
void
scv_hconn_on_rx(struct scv_hconn *c, const void *data, size_t len)
{
	if (BIO_write(c->rbio, data, (int)len) != (int)len) {
		scv_hconn_close(c, -ENOMEM, "out of memory");
		return;
	}
	conn_input(c);
}

/* libwebsockets is done with the socket: it failed to connect, or closed. */
void
scv_hconn_on_sock_closed(struct scv_hconn *c)
{
	switch (c->state) {
	case CONN_CONNECTING:
		/* lws does not say why: a failed TCP connect is taken as refused (a silent
		 * peer is caught by our set-up deadline first) */
		c->connect_error = -ECONNREFUSED;
		c->connect_due = 1; /* the next address, from the loop: scv_http_kick() */
		return;
	case CONN_RESOLVING:
	case CONN_CLOSING:
		return;
	default:
		conn_peer_closed(c);
		return;
	}
}

static int
tls_start(struct scv_hconn *c)
{
	struct scv_http_target *t = c->t;

	c->ssl = SSL_new(t->ca->ctx);
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	if (!c->ssl || !c->rbio || !c->wbio) {
		BIO_free(c->rbio);
		BIO_free(c->wbio);
		c->rbio = c->wbio = NULL;
		return -ENOMEM;
	}
	BIO_set_mem_eof_return(c->rbio, -1);
	SSL_set_bio(c->ssl, c->rbio, c->wbio);
	SSL_set_connect_state(c->ssl);
	/* The name (or address) checked against the certificate; SNI for names. */
	if (t->ip_literal) {
		if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), t->host))
			return -EPROTO;
	} else {
		SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (!SSL_set_tlsext_host_name(c->ssl, t->host) || !SSL_set1_host(c->ssl, t->host))
			return -EPROTO;
	}
	return 0;
}

/* TCP is up: start TLS. */
void
scv_hconn_on_connected(struct scv_hconn *c)
{
	int rc;

	if (c->state != CONN_CONNECTING)
		return;
	uv_freeaddrinfo(c->ai);
	c->ai = c->ai_next = NULL;
	rc = tls_start(c);
	if (rc < 0) {
		ERR_clear_error();
		scv_hconn_close(c, rc, "cannot set up TLS for %s", c->t->authority);
		return;
	}
	conn_enter_state(c, CONN_HANDSHAKE);
	conn_handshake(c);
}

/*
 * Tries the resolved addresses in turn from c->ai_next (so "localhost" -> ::1 refused ->
 * 127.0.0.1 works) until one is connecting; closes c when none is left. From the loop only
 * (on_resolved(), or http.c's kick after a failed attempt), never from an lws callback.
 */
void
scv_hconn_connect_next(struct scv_hconn *c)
{
	c->connect_due = 0;
	/* bounded: every pass uses up one address */
	while (c->state == CONN_CONNECTING) {
		struct addrinfo *ai = c->ai_next;
		char ip[INET6_ADDRSTRLEN] = "?";
		int rc;

		if (!ai) {
			int e = c->connect_error ? c->connect_error : -ECONNREFUSED;
			scv_hconn_close(c, e, "cannot connect to %s (%s): %s", c->t->authority,
			                c->peer, uv_strerror(e));
			return;
		}
		c->ai_next = ai->ai_next;
		if (ai->ai_family == AF_INET6) {
			uv_ip6_name((const struct sockaddr_in6 *)ai->ai_addr, ip, sizeof ip);
			snprintf(c->peer, sizeof c->peer, "[%s]:%s", ip, c->t->port);
		} else {
			uv_ip4_name((const struct sockaddr_in *)ai->ai_addr, ip, sizeof ip);
			snprintf(c->peer, sizeof c->peer, "%s:%s", ip, c->t->port);
		}
		rc = scv_hsock_connect(c, ai->ai_addr, ai->ai_addrlen);
		if (rc == 0)
			return;
		log_debug(NULL, "scv http: connection %u to %s (%s): %s", c->id, c->t->authority,
		          c->peer, uv_strerror(rc));
		c->connect_error = rc;
		if (c->state != CONN_CONNECTING && c->state != CONN_CLOSING)
			/* lws connected, then gave up inside the same call */
			scv_hconn_close(c, -ECONNRESET, "connection to %s lost while set up",
			                c->peer);
	}
}

static void
on_resolved(uv_getaddrinfo_t *gai, int status, struct addrinfo *res)
{
	struct scv_hconn *c = container_of(gai, struct scv_hconn, gai);
	struct scv_http *h = c->http;

	c->gai_pending = 0;
	if (c->state == CONN_CLOSING) {
		if (res)
			uv_freeaddrinfo(res);
		scv_hconn_maybe_free(c);
	} else if (status < 0) {
		scv_hconn_close(c, -EHOSTUNREACH, "cannot resolve %s: %s", c->t->host,
		                uv_strerror(status));
	} else {
		c->ai = c->ai_next = res;
		conn_enter_state(c, CONN_CONNECTING);
		scv_hconn_connect_next(c);
	}
	scv_http_settle(h);
}

struct scv_hconn *
scv_hconn_new(struct scv_http_target *t, int *ret_error)
{
	struct scv_http *h = t->http;
	struct addrinfo hints = {
	        .ai_family = AF_UNSPEC,
	        .ai_socktype = SOCK_STREAM,
	        .ai_flags = AI_NUMERICSERV,
	};
	struct scv_hconn *c;
	int rc;

	c = calloc(1, sizeof *c);
	if (!c) {
		*ret_error = -ENOMEM;
		return NULL;
	}
	c->http = h;
	c->t = t;
	c->id = ++h->next_conn_id;
	c->state = CONN_RESOLVING;
	snprintf(c->peer, sizeof c->peer, "%s", t->authority);
	rc = uv_getaddrinfo(h->loop, &c->gai, on_resolved, t->host, t->port, &hints);
	if (rc < 0) {
		free(c);
		*ret_error = rc;
		return NULL;
	}
	c->gai_pending = 1;
	scv_link_add_tail(&t->conns, &c->link);
	t->n_live++;
	h->n_conns++;
	c->deadline = uv_now(h->loop) + CONNECT_TIMEOUT_MS;
	scv_http_arm(h, c->deadline);
	log_debug(NULL, "scv http: connection %u to %s: opening", c->id, t->authority);
	return c;
}
