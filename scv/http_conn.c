/*
 * One connection of the HTTPS client (see http.c for the model): resolve the target's name
 * on the thread pool, try each address in turn, TLS over memory BIOs, then one request at a
 * time with the response parsed by http1.c. The state is explicit (enum scv_hconn_state) and
 * every change goes through conn_enter_state().
 *
 * A connection is freed only once its TCP handle is closed and no getaddrinfo is pending;
 * requests it carried are completed through http.c's completion list, never called back
 * from here directly.
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

struct wbuf {
	uv_write_t req;
	char data[];
};

static void conn_ready(struct scv_hconn *c);
static void on_tcp_closed(uv_handle_t *handle);

static void
conn_enter_state(struct scv_hconn *c, enum scv_hconn_state s)
{
	log_debug(NULL, "scv http: connection %u to %s: %s -> %s", c->id, c->t->authority,
		  conn_state_names[c->state], conn_state_names[s]);
	c->state = s;
}

static void
conn_maybe_free(struct scv_hconn *c)
{
	if (c->state != CONN_CLOSING || c->tcp_open || c->gai_pending)
		return;
	scv_link_del(&c->link);
	SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->ai)
		uv_freeaddrinfo(c->ai);
	c->ai = NULL;
	scv_http1_free(&c->parser);
	c->http->n_conns--;
	free(c);
}

/*
 * Closes c; a request on it fails with error (and a message made from fmt). c may be freed
 * on return.
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
	if (c->tcp_open && !uv_is_closing((uv_handle_t *)&c->tcp))
		uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
	conn_maybe_free(c);
}

static int
tls_flush_cb_error(int status)
{
	return status == UV_EPIPE ? -ECONNRESET : status;
}

static void
on_written(uv_write_t *w, int status)
{
	struct scv_hconn *c = w->handle->data;

	free(container_of(w, struct wbuf, req));
	if (status < 0 && status != UV_ECANCELED && c->state != CONN_CLOSING) {
		struct scv_http *h = c->http;
		scv_hconn_close(c, tls_flush_cb_error(status), "cannot write to %s: %s", c->peer,
				uv_strerror(status));
		scv_http_settle(h);
	}
}

/* Sends what TLS produced. 0 or a negative errno (the caller closes c). */
static int
tls_flush(struct scv_hconn *c)
{
	size_t pending;

	while ((pending = BIO_ctrl_pending(c->wbio)) > 0) {
		struct wbuf *w = malloc(sizeof *w + pending);
		uv_buf_t b;
		int n, rc;

		if (!w)
			return -ENOMEM;
		n = BIO_read(c->wbio, w->data, (int)pending);
		if (n <= 0) {
			free(w);
			return -EIO;
		}
		b = uv_buf_init(w->data, (unsigned)n);
		rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
		if (rc < 0) {
			free(w);
			return tls_flush_cb_error(rc);
		}
	}
	return 0;
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
	if (rc < 0) {
		scv_hconn_close(c, rc, "cannot write to %s: %s", c->peer, strerror(-rc));
		return;
	}
	r->written = 1;
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

/* The server closed (status UV_EOF) or the socket failed. */
static void
conn_peer_closed(struct scv_hconn *c, int status)
{
	switch (c->state) {
	case CONN_BUSY:
		if (status == UV_EOF && scv_http1_eof(&c->parser) == 0) {
			conn_response_done(c, 0);
			return;
		}
		scv_hconn_close(c, -ECONNRESET,
				"connection to %s closed before a complete response%s%s", c->peer,
				status == UV_EOF ? "" : ": ",
				status == UV_EOF ? "" : uv_strerror(status));
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
				conn_peer_closed(c, UV_EOF);
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

static void
on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct scv_hconn *c = handle->data;

	(void)suggested;
	*buf = uv_buf_init(c->http->rbuf, sizeof c->http->rbuf);
}

static void
on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct scv_hconn *c = stream->data;
	struct scv_http *h = c->http;

	if (nread == 0 || c->state == CONN_CLOSING)
		return;
	if (nread < 0)
		conn_peer_closed(c, (int)nread);
	else if (BIO_write(c->rbio, buf->base, (int)nread) != (int)nread)
		scv_hconn_close(c, -ENOMEM, "out of memory");
	else
		conn_input(c);
	scv_http_settle(h);
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

static void conn_connect_next(struct scv_hconn *c);

static void
on_connect(uv_connect_t *creq, int status)
{
	struct scv_hconn *c = container_of(creq, struct scv_hconn, connect);
	struct scv_http *h = c->http;
	int rc;

	if (status == UV_ECANCELED || c->state == CONN_CLOSING)
		return; /* closing: on_tcp_closed follows */
	if (status < 0) {
		c->connect_error = status;
		c->ai_next = c->ai_next->ai_next;
		c->reconnecting = 1;
		uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
		return;
	}
	uv_freeaddrinfo(c->ai);
	c->ai = c->ai_next = NULL;
	rc = tls_start(c);
	if (rc < 0) {
		ERR_clear_error();
		scv_hconn_close(c, rc, "cannot set up TLS for %s", c->t->authority);
	} else if ((rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read)) < 0) {
		scv_hconn_close(c, rc, "cannot read from %s: %s", c->peer, uv_strerror(rc));
	} else {
		conn_enter_state(c, CONN_HANDSHAKE);
		conn_handshake(c);
	}
	scv_http_settle(h);
}

/* Tries the next resolved address (so "localhost" -> ::1 refused -> 127.0.0.1 works). */
static void
conn_connect_next(struct scv_hconn *c)
{
	struct addrinfo *ai = c->ai_next;
	char ip[INET6_ADDRSTRLEN] = "?";
	int rc;

	if (!ai) {
		int e = c->connect_error ? c->connect_error : -ECONNREFUSED;
		scv_hconn_close(c, e, "cannot connect to %s (%s): %s", c->t->authority, c->peer,
				uv_strerror(e));
		return;
	}
	if (ai->ai_family == AF_INET6) {
		uv_ip6_name((const struct sockaddr_in6 *)ai->ai_addr, ip, sizeof ip);
		snprintf(c->peer, sizeof c->peer, "[%s]:%s", ip, c->t->port);
	} else {
		uv_ip4_name((const struct sockaddr_in *)ai->ai_addr, ip, sizeof ip);
		snprintf(c->peer, sizeof c->peer, "%s:%s", ip, c->t->port);
	}
	rc = uv_tcp_init(c->http->loop, &c->tcp);
	if (rc < 0) {
		scv_hconn_close(c, rc, "cannot open a socket: %s", uv_strerror(rc));
		return;
	}
	c->tcp.data = c;
	c->tcp_open = 1;
	uv_tcp_nodelay(&c->tcp, 1);
	rc = uv_tcp_connect(&c->connect, &c->tcp, ai->ai_addr, on_connect);
	if (rc < 0) {
		c->connect_error = rc;
		c->ai_next = ai->ai_next;
		c->reconnecting = 1;
		uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
	}
}

static void
on_tcp_closed(uv_handle_t *handle)
{
	struct scv_hconn *c = handle->data;
	struct scv_http *h = c->http;

	c->tcp_open = 0;
	if (c->reconnecting) {
		c->reconnecting = 0;
		if (c->state != CONN_CLOSING) {
			conn_connect_next(c);
			scv_http_settle(h);
			return;
		}
	}
	conn_maybe_free(c);
	scv_http_settle(h);
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
		conn_maybe_free(c);
	} else if (status < 0) {
		scv_hconn_close(c, -EHOSTUNREACH, "cannot resolve %s: %s", c->t->host,
				uv_strerror(status));
	} else {
		c->ai = c->ai_next = res;
		conn_enter_state(c, CONN_CONNECTING);
		conn_connect_next(c);
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
