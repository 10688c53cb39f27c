/*
 * The local HTTP API (see api.h): a libwebsockets server vhost on the daemon's libuv loop, which
 * lws drives as a foreign loop, with lws "raw" sockets under a small HTTP/1.1 layer of our own.
 * This file is the server: libwebsockets, the connections and their bounds, start and close.
 * The request parser and the answers' text are in api_http.c, the routes in api_route.c.
 *
 * Why raw sockets and not lws's HTTP server, and the lws 4.1.6 quirks this file works
 * around (IPv4 binding, bind errors, EOF on raw sockets, timers, the teardown): see
 * scv/LWS-NOTES.md.
 *
 * Everything runs on the loop thread. lws calls on_lws() from inside its service; a callback
 * of the user's (ready, on_recording) runs there too, and may call scv_api_close(), which only
 * starts the timer that tears down.
 */
#include "scv/api_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "connector/log.h"
#include "scv/lws_log.h"

#define PROTOCOL_NAME "scvbridge-api"
#define MAX_TOKEN     1024
#define RX_CHUNK      4096 /* lws's read buffer: one RAW_RX brings at most this much */
#define IN_CAP        (MAX_HEAD + SCV_API_MAX_BODY + RX_CHUNK)
#define OUT_CAP       2048 /* one answer: head and a small JSON body */
#define DRAIN_MS      500  /* on close, longest wait for answers being written */
#define TEARDOWN_MS   2000 /* longest wait for libwebsockets to close its handles */
/* input dropped after the last answer, at most */
#define LINGER_MAX_BYTES (1024 * 1024)
/* lws's fd table: the listener, its wake-up pipe, the connections */
#define FD_LIMIT (SCV_API_MAX_CONNS + 16)

#define container_of(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))

/* Deadlines, in ms; not const so that a test can shorten them. */
static unsigned idle_ms = 30000;    /* no request begun since the last answer */
static unsigned request_ms = 10000; /* a request's whole head and body; reading an answer */
static unsigned linger_ms = 2000;   /* the peer's EOF after our last answer */

enum conn_state {
	CONN_HEAD,   /* waiting for a request head (idle when nothing has come) */
	CONN_BODY,   /* waiting for its body */
	CONN_WRITE,  /* an answer is being written; reading is paused */
	CONN_LINGER, /* the last answer is out and our side shut: input dropped until EOF */
};

static const char *const state_names[] = {"head", "body", "write", "linger"};

struct scv_api_conn {
	struct scv_api_conn *prev, *next;
	struct scv_api *api;
	struct lws *wsi;
	unsigned id;
	enum conn_state state;
	int rx_paused;
	int interim;     /* the answer being written is a 100 Continue */
	int close_after; /* close once the answer is out */
	uint64_t deadline;
	size_t head_len;
	size_t lingered;
	struct scv_api_req req;
	size_t out_len;
	size_t in_len;
	unsigned char out[LWS_PRE + OUT_CAP];
	char in[IN_CAP];
};

static int on_lws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len);

static const struct lws_protocols protocols[] = {
        {PROTOCOL_NAME, on_lws, 0, RX_CHUNK, 0, NULL, 0},
        {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- connections ---- */

static void
conn_enter_state(struct scv_api_conn *c, enum conn_state state)
{
	if (c->state != state)
		log_debug(NULL, "api: connection %u: %s -> %s", c->id, state_names[c->state],
		          state_names[state]);
	c->state = state;
}

/* Sets c's deadline ms from now; lws calls back (LWS_CALLBACK_TIMER) then. */
static void
arm(struct scv_api_conn *c, unsigned ms)
{
	c->deadline = scv_api_now_ms() + ms;
	lws_set_timer_usecs(c->wsi, (lws_usec_t)ms * 1000);
}

static void
rx_enable(struct scv_api_conn *c, int on)
{
	if (c->rx_paused != !on) {
		c->rx_paused = !on;
		lws_rx_flow_control(c->wsi, on); /* applied when the lws callback returns */
	}
}

/* Drops n bytes from the front of c's input, which stays NUL-terminated. */
static void
consume(struct scv_api_conn *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
	c->in[c->in_len] = '\0';
}

/*
 * Queues the answer to c's request (extra: more header lines, each ending CRLF) and pauses
 * reading until it is out. The connection closes afterwards when asked to, or when the
 * request's body has not been read.
 */
void
scv_api_respond(struct scv_api_conn *c, int status, const char *extra, const char *body)
{
	if (c->req.close || c->api->closing ||
	    (c->state == CONN_BODY && c->in_len - c->head_len < (size_t)c->req.content_length))
		c->close_after = 1;
	c->out_len = scv_api_format_response((char *)c->out + LWS_PRE, OUT_CAP, status, extra, body,
	                                     !strcmp(c->req.method, "HEAD"), &c->close_after);
	log_debug(NULL, "api: connection %u: %s %.200s -> %d", c->id,
	          c->req.method[0] ? c->req.method : "-", c->req.target ? c->req.target : "-",
	          status);
	conn_enter_state(c, CONN_WRITE);
	rx_enable(c, 0);
	arm(c, request_ms);
	lws_callback_on_writable(c->wsi);
}

void
scv_api_respond_error(struct scv_api_conn *c, int status, const char *extra, const char *why)
{
	char esc[512], body[600];

	scv_api_json_escape(esc, sizeof esc, why);
	snprintf(body, sizeof body, "{\"error\":\"%s\"}", esc);
	scv_api_respond(c, status, extra, body);
}

/* An answer after which nothing more of this connection's input can be trusted. */
void
scv_api_respond_fatal(struct scv_api_conn *c, int status, const char *why)
{
	c->close_after = 1;
	scv_api_respond_error(c, status, NULL, why);
}

/*
 * Moves c on with what its input buffer holds: parses the head, waits for the body, answers.
 * Reading resumes only while a request is incomplete, so the buffer never holds more than
 * one request's worth plus one read.
 */
static void
advance(struct scv_api_conn *c)
{
	const char *why = NULL;
	size_t end;
	int status;

	if (c->state == CONN_HEAD) {
		end = strspn(c->in, "\r\n"); /* empty lines before a request are allowed */
		consume(c, end < c->in_len ? end : c->in_len);
		end = scv_api_head_end(c->in, c->in_len);
		if (end > MAX_HEAD || (!end && c->in_len >= MAX_HEAD)) {
			const char *lf = memchr(c->in, '\n', c->in_len);

			if (!lf || lf - c->in >= MAX_HEAD)
				scv_api_respond_fatal(c, 414,
				                      "request line over " STR(MAX_HEAD) " bytes");
			else
				scv_api_respond_fatal(c, 431,
				                      "request head over " STR(MAX_HEAD) " bytes");
			return;
		}
		if (!end) {
			rx_enable(c, 1);
			return;
		}
		c->head_len = end;
		status = scv_api_parse_head(c->in, end, &c->req, &why);
		if (status) {
			scv_api_respond_fatal(c, status, why);
			return;
		}
		conn_enter_state(c, CONN_BODY);
		if (c->req.content_length > SCV_API_MAX_BODY) {
			scv_api_respond_fatal(c, 413, "body over " STR(SCV_API_MAX_BODY) " bytes");
			return;
		}
		if (c->req.expect_continue && c->in_len - end < (size_t)c->req.content_length) {
			if (scv_api_route(c->api, c, &c->req, c->in + c->head_len, 0))
				return;
			memcpy(c->out + LWS_PRE, "HTTP/1.1 100 Continue\r\n\r\n", 25);
			c->out_len = 25;
			c->interim = 1;
			conn_enter_state(c, CONN_WRITE);
			rx_enable(c, 0);
			lws_callback_on_writable(c->wsi);
			return;
		}
	}
	if (c->state == CONN_BODY) {
		if (c->in_len - c->head_len < (size_t)c->req.content_length) {
			rx_enable(c, 1);
			return;
		}
		scv_api_route(c->api, c, &c->req, c->in + c->head_len, 1);
	}
}

/* The answer is out: go on with the next request, the body after a 100, or the close. */
static int
after_write(struct scv_api_conn *c)
{
	int fd;

	if (c->interim) {
		c->interim = 0;
		conn_enter_state(c, CONN_BODY);
		advance(c);
		return 0;
	}
	if (c->close_after) {
		fd = lws_get_socket_fd(c->wsi);
		if (fd < 0 || shutdown(fd, SHUT_WR) < 0)
			return -1;
		conn_enter_state(c, CONN_LINGER);
		c->in_len = 0;
		arm(c, linger_ms);
		rx_enable(c, 1);
		return 0;
	}
	consume(c, c->head_len + (size_t)c->req.content_length);
	memset(&c->req, 0, sizeof c->req);
	c->head_len = 0;
	conn_enter_state(c, CONN_HEAD);
	arm(c, c->in_len ? request_ms : idle_ms);
	advance(c);
	return 0;
}

static int
conn_writeable(struct scv_api_conn *c)
{
	int n;

	if (c->state != CONN_WRITE)
		return 0;
	if (c->out_len) {
		/* lws takes it all, keeps what the socket does not and sends that first */
		n = lws_write(c->wsi, c->out + LWS_PRE, c->out_len, LWS_WRITE_RAW);
		if (n < 0 || (size_t)n != c->out_len)
			return -1;
		c->out_len = 0;
		if (lws_partial_buffered(c->wsi))
			return 0; /* lws calls back once it has sent the rest */
	}
	return after_write(c);
}

static int
conn_rx(struct scv_api_conn *c, const void *data, size_t len)
{
	if (c->state == CONN_LINGER) {
		c->lingered += len;
		return c->lingered > LINGER_MAX_BYTES ? -1 : 0;
	}
	if (len > IN_CAP - 1 - c->in_len)
		return -1; /* cannot happen: reading pauses while a request is complete */
	if (c->state == CONN_HEAD && c->in_len == 0)
		arm(c, request_ms); /* a request begins: all of it within request_ms */
	memcpy(c->in + c->in_len, data, len);
	c->in_len += len;
	c->in[c->in_len] = '\0';
	if (c->state == CONN_HEAD || c->state == CONN_BODY)
		advance(c);
	return 0;
}

static int
conn_timer(struct scv_api_conn *c)
{
	uint64_t now = scv_api_now_ms();

	if (now < c->deadline) {
		lws_set_timer_usecs(c->wsi, (lws_usec_t)(c->deadline - now) * 1000);
		return 0;
	}
	log_debug(NULL, "api: connection %u: timed out in state %s", c->id, state_names[c->state]);
	return -1; /* lws closes it, then says RAW_CLOSE */
}

static int
conn_new(struct scv_api *api, struct lws *wsi)
{
	struct scv_api_conn *c;

	if (api->closing)
		return -1;
	c = calloc(1, sizeof *c);
	if (!c)
		return -1;
	c->api = api;
	c->wsi = wsi;
	c->id = ++api->next_id;
	c->next = api->conns;
	if (c->next)
		c->next->prev = c;
	api->conns = c;
	api->n_conns++;
	lws_set_wsi_user(wsi, c);
	arm(c, idle_ms);
	return 0;
}

/* lws's last word on c's socket (RAW_CLOSE): it may still name the wsi later, without c. */
static void
conn_free(struct scv_api_conn *c, struct lws *wsi)
{
	struct scv_api *api = c->api;

	lws_set_wsi_user(wsi, NULL);
	if (c->prev)
		c->prev->next = c->next;
	else
		api->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	api->n_conns--;
	free(c);
}

/*
 * A new connection, before lws adopts it: refused (non-zero) past the limit, with a 503
 * written straight to the socket. What the client already sent is read first, so that the
 * close is a FIN rather than a reset that could overtake the answer.
 */
static int
filter_connection(struct scv_api *api, int fd)
{
	static const char body[] = "{\"error\":\"too many connections\"}";
	char sink[1024], busy[256];
	uint64_t now;
	int n;

	if (api->n_conns < SCV_API_MAX_CONNS && !api->closing)
		return 0;
	for (int i = 0; i < 16 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++)
		;
	n = snprintf(busy, sizeof busy,
	             "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
	             "Content-Length: %zu\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s",
	             sizeof body - 1, body);
	if (send(fd, busy, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) > 0)
		shutdown(fd, SHUT_WR);
	now = scv_api_now_ms();
	if (!api->busy_logged_at || now - api->busy_logged_at >= AUTH_LOG_MS) {
		log_warn(NULL, "api: refused a connection: %d open (and %u more in %d s)",
		         SCV_API_MAX_CONNS, api->busy_quiet, AUTH_LOG_MS / 1000);
		api->busy_logged_at = now;
		api->busy_quiet = 0;
	} else {
		api->busy_quiet++;
	}
	return 1;
}

static int
on_lws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct scv_api_conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: /* user: lws's, not a connection */
		return filter_connection(lws_context_user(lws_get_context(wsi)), (int)(intptr_t)in);
	case LWS_CALLBACK_RAW_ADOPT:
		return conn_new(lws_context_user(lws_get_context(wsi)), wsi);
	case LWS_CALLBACK_RAW_RX:
		return c ? conn_rx(c, in, len) : -1;
	case LWS_CALLBACK_RAW_WRITEABLE:
		return c ? conn_writeable(c) : 0;
	case LWS_CALLBACK_TIMER:
		return c ? conn_timer(c) : 0;
	case LWS_CALLBACK_RAW_CLOSE:
		if (c)
			conn_free(c, wsi);
		return 0;
	default:
		return 0; /* context, vhost and poll notices */
	}
}

/* ---- start and close ---- */

/*
 * Splits "a.b.c.d:port" or "[v6]:port" into api->host (the literal) and *ret_port, filling sa.
 * 0 or -EINVAL with a reason.
 */
static int
parse_listen(const char *s, struct scv_api *api, struct sockaddr_storage *sa, socklen_t *ret_len,
             int *ret_port, char *err, size_t errlen)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;
	const char *h = s, *he, *p;
	size_t pl;
	long port;

	memset(sa, 0, sizeof *sa);
	if (*s == '[') {
		h = s + 1;
		he = strchr(h, ']');
		p = he && he[1] == ':' ? he + 2 : NULL;
	} else {
		he = strrchr(s, ':');
		p = he ? he + 1 : NULL;
	}
	pl = p ? strlen(p) : 0;
	if (!p || (size_t)(he - h) >= sizeof api->host || pl == 0 || pl > 5 ||
	    strspn(p, "0123456789") != pl || (port = strtol(p, NULL, 10)) > 65535)
		goto out_bad;
	memcpy(api->host, h, (size_t)(he - h));
	api->host[he - h] = '\0';
	if (*s == '[' && inet_pton(AF_INET6, api->host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*ret_len = sizeof *s6;
	} else if (*s != '[' && inet_pton(AF_INET, api->host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*ret_len = sizeof *s4;
	} else {
		goto out_bad;
	}
	*ret_port = (int)port;
	return 0;

out_bad:
	snprintf(err, errlen,
	         "listen \"%.80s\": expected an address and a port, \"127.0.0.1:8088\" or "
	         "\"[::1]:8088\"",
	         s);
	return -EINVAL;
}

/* Binds a socket of our own where lws will listen, for bind()'s errno, which lws drops. */
static int
probe_bind(const struct sockaddr_storage *sa, socklen_t len, const char *where, char *err,
           size_t errlen)
{
	int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, rc = 0;

	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot listen on %s: %s", where, strerror(errno));
		return rc;
	}
	/* as lws does: SO_REUSEADDR, and an IPv6 socket takes IPv6 only */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (sa->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (const struct sockaddr *)sa, len) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot listen on %s: %s", where, strerror(errno));
	}
	close(fd);
	return rc;
}

static int
is_loopback(const struct sockaddr_storage *sa)
{
	if (sa->ss_family == AF_INET)
		return ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24 == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

static const char bad_token[] = "bearer token: expected " STR(SCV_API_MIN_TOKEN) " to " STR(
        MAX_TOKEN) " characters of A-Z a-z 0-9 - . _ ~ + / (then any =)";

/* b64token (RFC 6750): A-Z a-z 0-9 - . _ ~ + / then any '='. */
static int
valid_token(const char *t)
{
	size_t n =
	        strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/");

	if (n == 0)
		return 0;
	n += strspn(t + n, "=");
	return t[n] == '\0' && n >= SCV_API_MIN_TOKEN && n <= MAX_TOKEN;
}

struct handle_count {
	const void *owner;
	size_t n;
};

static void
count_owned(uv_handle_t *handle, void *arg)
{
	struct handle_count *hc = arg;

	if (handle->data == hc->owner)
		hc->n++;
}

static void
on_timer_closed(uv_handle_t *handle)
{
	struct scv_api *api = container_of((uv_timer_t *)handle, struct scv_api, timer);
	void (*done)(void *) = api->done_cb;
	void *arg = api->done_arg;

	while (api->conns && !api->abandoned) { /* lws said RAW_CLOSE for each: none left */
		struct scv_api_conn *c = api->conns;
		api->conns = c->next;
		free(c);
	}
	OPENSSL_cleanse(api->token_hash, sizeof api->token_hash);
	if (!api->abandoned)
		free(api);
	if (done)
		done(arg);
}

/*
 * The teardown, from the loop: answers being written get DRAIN_MS to leave (an accepted
 * recording's 202 among them); then the listener and every connection close (lws starts
 * closing its handles), the next ticks wait until lws's handles are gone, and lws frees its
 * context. lws's libuv backend sets data = the context on each of its per-context handles
 * and closes them only after every socket's handle: none left means lws is done with the
 * loop.
 */
static void
on_teardown(uv_timer_t *timer)
{
	struct scv_api *api = container_of(timer, struct scv_api, timer);
	struct handle_count hc = {api->lws, 0};

	if (!api->destroying) {
		for (struct scv_api_conn *c = api->conns; c; c = c->next)
			if (c->state == CONN_WRITE && scv_api_now_ms() < api->drain_deadline)
				return;
		api->destroying = 1;
		api->teardown_deadline = scv_api_now_ms() + TEARDOWN_MS;
		if (api->lws)
			lws_context_destroy(api->lws);
		return;
	}
	if (api->lws) {
		uv_walk(api->loop, count_owned, &hc);
		if (hc.n && scv_api_now_ms() < api->teardown_deadline)
			return;
		if (hc.n) {
			log_err(NULL,
			        "api: libwebsockets still has %zu handle(s) on the loop "
			        "%d ms after closing; leaving them",
			        hc.n, TEARDOWN_MS);
			api->lws = NULL;
			api->abandoned = 1;
		} else {
			lws_context_destroy(api->lws); /* frees it and sets api->lws to NULL */
			if (api->lws) {
				log_err(NULL, "api: libwebsockets did not free its context");
				api->lws = NULL;
			}
		}
	}
	uv_timer_stop(timer);
	uv_close((uv_handle_t *)timer, on_timer_closed);
}

static void
teardown(struct scv_api *api)
{
	api->closing = 1;
	api->drain_deadline = scv_api_now_ms() + DRAIN_MS;
	uv_timer_start(&api->timer, on_teardown, 0, 1);
}

int
scv_api_start(uv_loop_t *loop, const char *listen, const char *bearer_token,
              const struct scv_api_ops *ops, void *arg, struct scv_api **ret_api, char *err,
              size_t errlen)
{
	struct lws_context_creation_info ci;
	struct sockaddr_storage sa;
	struct lws_vhost *vh;
	struct scv_api *api;
	socklen_t salen = 0;
	void *loops[1] = {loop};
	int rc, port = 0;

	api = calloc(1, sizeof *api);
	if (!api) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = parse_listen(listen ? listen : SCV_API_DEFAULT_LISTEN, api, &sa, &salen, &port, err,
	                  errlen);
	if (rc < 0)
		goto out_free;
	snprintf(api->where, sizeof api->where, sa.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d",
	         api->host, port);
	if (ops && ops->on_recording) {
		if (!bearer_token || !valid_token(bearer_token)) {
			snprintf(err, errlen, "%s", bad_token);
			rc = -EINVAL;
			goto out_free;
		}
		if (EVP_Digest(bearer_token, strlen(bearer_token), api->token_hash, NULL,
		               EVP_sha256(), NULL) != 1) {
			snprintf(err, errlen, "cannot hash the bearer token");
			rc = -ENOMEM;
			goto out_free;
		}
	}
	rc = probe_bind(&sa, salen, api->where, err, errlen);
	if (rc < 0)
		goto out_free;
	api->loop = loop;
	if (ops)
		api->ops = *ops;
	api->arg = arg;

	scv_lws_log_setup();
	memset(&ci, 0, sizeof ci);
	/* lws loads libwebsockets-evlib_uv.so; no vhost but the one made below */
	ci.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	ci.foreign_loops = loops;
	ci.port = CONTEXT_PORT_NO_LISTEN;
	ci.pt_serv_buf_size = RX_CHUNK;
	ci.fd_limit_per_thread = FD_LIMIT; /* else tables sized for ulimit -n */
	ci.user = api;
	ci.pcontext = &api->lws; /* lws sets it to NULL when it frees the context */
	api->lws = lws_create_context(&ci);
	if (!api->lws) {
		snprintf(err, errlen,
		         "cannot start libwebsockets on the loop (is libwebsockets-evlib-uv "
		         "installed?)");
		rc = -EIO;
		goto out_free;
	}
	uv_timer_init(loop, &api->timer); /* on Unix it only fills in the struct */

	memset(&ci, 0, sizeof ci);
	ci.vhost_name = PROTOCOL_NAME;
	ci.port = port;
	ci.iface = api->host; /* an address literal: lws binds exactly that */
	ci.protocols = protocols;
	ci.listen_accept_role = "raw-skt";
	ci.listen_accept_protocol = PROTOCOL_NAME;
	ci.options = LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG |
	             LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND |
	             (sa.ss_family == AF_INET ? LWS_SERVER_OPTION_DISABLE_IPV6
	                                      : LWS_SERVER_OPTION_IPV6_V6ONLY_MODIFY |
	                                                LWS_SERVER_OPTION_IPV6_V6ONLY_VALUE);
	vh = lws_create_vhost(api->lws, &ci);
	if (!vh) {
		snprintf(err, errlen, "libwebsockets cannot listen on %s", api->where);
		teardown(api); /* frees api once lws has let go of the loop */
		return -EIO;
	}
	api->port = lws_get_vhost_listen_port(vh);
	if (!is_loopback(&sa))
		log_warn(NULL,
		         "api: %s is not a loopback address: plain HTTP, bearer token in clear",
		         api->where);
	*ret_api = api;
	return 0;

out_free:
	OPENSSL_cleanse(api->token_hash, sizeof api->token_hash);
	free(api);
	return rc;
}

int
scv_api_check(const char *listen, const char *bearer_token, char *err, size_t errlen)
{
	struct scv_api probe; /* parse_listen() writes only its host */
	struct sockaddr_storage sa;
	socklen_t salen;
	int port, rc;

	rc = parse_listen(listen ? listen : SCV_API_DEFAULT_LISTEN, &probe, &sa, &salen, &port, err,
	                  errlen);
	if (rc == 0 && bearer_token && !valid_token(bearer_token)) {
		snprintf(err, errlen, "%s", bad_token);
		rc = -EINVAL;
	}
	return rc;
}

int
scv_api_port(const struct scv_api *api)
{
	return api->port;
}

void
scv_api_close(struct scv_api *api, void (*done)(void *arg), void *arg)
{
	if (api->closing)
		return;
	api->done_cb = done;
	api->done_arg = arg;
	teardown(api);
}
