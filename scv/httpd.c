/*
 * The HTTP server (see httpd.h): a raw listener on the loop's shared libwebsockets context
 * (lws_loop.c), with a small HTTP/1.1 layer of our own over its sockets. This file is the
 * server: the listener, the connections, their states and bounds, start and close. The
 * request parser and the answers' text are in httpd_parse.c; what each request means is the
 * user's route.
 *
 * Why raw sockets and not lws's HTTP server, and the lws 4.1.6 quirks this file works around
 * (IPv4 binding, bind errors, EOF on raw sockets, timers, the connection filter): see
 * scv/LWS-NOTES.md.
 *
 * Everything runs on the loop thread. lws calls on_lws() from inside its service; the route
 * runs there too, and may call scv_httpd_close(), which only starts the timer that tears
 * down. The teardown lets answers being written leave (DRAIN_MS), closes every connection
 * from that timer (never from an lws callback), closes the listener's vhost and lets go of
 * the shared context.
 */
#include "scv/httpd_int.h"
#include "connector/util.h"

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

#include "connector/log.h"
#include "scv/lws_loop.h"

#define DRAIN_MS       500 /* on close, longest wait for answers being written */
#define LISTEN_BACKLOG 128
#define BUSY_LOG_MS    60000         /* at most one warning a minute about refused connections */
#define OUT_SLACK      512           /* an answer's head, beyond its extra fields and body */
#define RAW_OUT_MAX    (1024 * 1024) /* bytes queued to a taken connection, at most */
/* input dropped after the last answer, at most */
#define LINGER_MAX_BYTES (1024 * 1024)

static const struct scv_httpd_limits default_limits = {
        .max_head = 8192,
        .max_body = 16384,
        .max_conns = 64,
        .idle_ms = 30000,
        .request_ms = 10000,
        .linger_ms = 2000,
};

enum conn_state {
	CONN_HEAD,   /* waiting for a request head (idle when nothing has come) */
	CONN_BODY,   /* waiting for its body */
	CONN_WRITE,  /* an answer is being written; reading is paused */
	CONN_LINGER, /* the last answer is out and our side shut: input dropped until EOF */
	CONN_RAW,    /* taken over: bytes go to the taker */
};

static const char *const state_names[] = {"head", "body", "write", "linger", "raw"};

struct scv_httpd {
	uv_loop_t *loop;
	struct scv_lws *lws;      /* the loop's shared context */
	struct scv_lws_vhost *vh; /* our listener on it */
	uv_timer_t timer;         /* the teardown */
	struct scv_httpd_limits lim;
	scv_httpd_route_cb route;
	void *arg;
	char name[16];
	int port;
	int loopback;
	char host[INET6_ADDRSTRLEN];
	char where[INET6_ADDRSTRLEN + 8];
	size_t in_cap;
	struct scv_httpd_conn *conns;
	unsigned n_conns, next_id;
	int closing;
	uint64_t drain_deadline;
	unsigned busy_quiet;
	uint64_t busy_logged_at;
	void (*done_cb)(void *arg);
	void *done_arg;
};

struct scv_httpd_conn {
	struct scv_httpd_conn *prev, *next;
	struct scv_httpd *srv;
	struct lws *wsi;
	unsigned id;
	enum conn_state state;
	int rx_paused;
	int interim;     /* the answer being written is a 100 Continue */
	int close_after; /* close once the answer is out */
	int raw_after;   /* taken over once the answer is out */
	int raw_closing; /* taken, and closing once its output is out */
	struct scv_httpd_raw_ops raw;
	void *raw_arg;
	uint64_t deadline;
	size_t head_len;
	size_t lingered;
	struct scv_httpd_req req;
	unsigned char *out; /* LWS_PRE + out_cap, NULL when nothing is queued */
	size_t out_len, out_cap;
	size_t in_len;
	char *in; /* srv->in_cap */
};

static uint64_t
now_ms(void)
{
	return uv_hrtime() / 1000000;
}

/* ---- connections ---- */

static void
conn_enter_state(struct scv_httpd_conn *c, enum conn_state state)
{
	if (c->state != state)
		log_debug(NULL, "%s: connection %u: %s -> %s", c->srv->name, c->id,
		          state_names[c->state], state_names[state]);
	c->state = state;
}

/* Sets c's deadline ms from now; lws calls back (LWS_CALLBACK_TIMER) then. */
static void
arm(struct scv_httpd_conn *c, unsigned ms)
{
	c->deadline = now_ms() + ms;
	lws_set_timer_usecs(c->wsi, (lws_usec_t)ms * 1000);
}

static void
rx_enable(struct scv_httpd_conn *c, int on)
{
	if (c->rx_paused != !on) {
		c->rx_paused = !on;
		lws_rx_flow_control(c->wsi, on); /* applied when the lws callback returns */
	}
}

/* Drops n bytes from the front of c's input, which stays NUL-terminated. */
static void
consume(struct scv_httpd_conn *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
	c->in[c->in_len] = '\0';
}

/* Room for len more bytes of output: 0 or -ENOMEM. */
static int
out_reserve(struct scv_httpd_conn *c, size_t len)
{
	unsigned char *p;
	size_t cap;

	if (c->out_len + len <= c->out_cap)
		return 0;
	cap = c->out_len + len;
	p = realloc(c->out, LWS_PRE + cap);
	if (!p)
		return -ENOMEM;
	c->out = p;
	c->out_cap = cap;
	return 0;
}

/* Writes what is queued on c's next WRITEABLE; reading pauses until it is out. */
static void
start_write(struct scv_httpd_conn *c)
{
	conn_enter_state(c, CONN_WRITE);
	rx_enable(c, 0);
	lws_callback_on_writable(c->wsi);
}

void
scv_httpd_respond(struct scv_httpd_conn *c, int status, const char *extra, const char *body)
{
	struct scv_httpd *srv = c->srv;
	size_t cap = strlen(body) + (extra ? strlen(extra) : 0) + OUT_SLACK;

	if (c->req.close || srv->closing ||
	    (c->state == CONN_BODY && c->in_len - c->head_len < (size_t)c->req.content_length))
		c->close_after = 1;
	c->out_len = 0;
	if (out_reserve(c, cap) < 0) {
		c->close_after = 1;
		status = 500;
		extra = NULL;
		body = "";
		cap = OUT_SLACK;
		if (out_reserve(c, cap) < 0) {
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
			return;
		}
	}
	c->out_len =
	        scv_httpd_format_response((char *)c->out + LWS_PRE, c->out_cap, status, extra, body,
	                                  !strcmp(c->req.method, "HEAD"), &c->close_after);
	log_debug(NULL, "%s: connection %u: %s %.200s -> %d", srv->name, c->id,
	          c->req.method[0] ? c->req.method : "-", c->req.target ? c->req.target : "-",
	          status);
	start_write(c);
	arm(c, srv->lim.request_ms);
}

void
scv_httpd_respond_error(struct scv_httpd_conn *c, int status, const char *extra, const char *why)
{
	char esc[512], body[600];

	scv_httpd_json_escape(esc, sizeof esc, why);
	snprintf(body, sizeof body, "{\"error\":\"%s\"}", esc);
	scv_httpd_respond(c, status, extra, body);
}

void
scv_httpd_respond_fatal(struct scv_httpd_conn *c, int status, const char *why)
{
	c->close_after = 1;
	scv_httpd_respond_error(c, status, NULL, why);
}

/* The route, unless the server is closing. */
static int
route(struct scv_httpd_conn *c, int body_ready)
{
	struct scv_httpd *srv = c->srv;

	if (srv->closing) {
		scv_httpd_respond_fatal(c, 503, "shutting down");
		return 1;
	}
	c->req.body = body_ready ? c->in + c->head_len : NULL;
	return srv->route(c, &c->req, body_ready, srv->arg);
}

/* Answers a head over the bound: 414 when the request line alone is, else 431. */
static void
head_too_large(struct scv_httpd_conn *c)
{
	const char *lf = memchr(c->in, '\n', c->in_len);
	size_t max = c->srv->lim.max_head;
	char why[80];

	if (!lf || (size_t)(lf - c->in) >= max) {
		snprintf(why, sizeof why, "request line over %zu bytes", max);
		scv_httpd_respond_fatal(c, 414, why);
	} else {
		snprintf(why, sizeof why, "request head over %zu bytes", max);
		scv_httpd_respond_fatal(c, 431, why);
	}
}

/*
 * Moves c on with what its input buffer holds: parses the head, waits for the body, answers.
 * Reading resumes only while a request is incomplete, so the buffer never holds more than
 * one request's worth plus one read.
 */
static void
advance(struct scv_httpd_conn *c)
{
	const struct scv_httpd_limits *lim = &c->srv->lim;
	const char *why = NULL;
	char msg[64];
	size_t end;
	int status;

	if (c->state == CONN_HEAD) {
		end = strspn(c->in, "\r\n"); /* empty lines before a request are allowed */
		consume(c, end < c->in_len ? end : c->in_len);
		end = scv_httpd_head_end(c->in, c->in_len);
		if (end > lim->max_head || (!end && c->in_len >= lim->max_head)) {
			head_too_large(c);
			return;
		}
		if (!end) {
			rx_enable(c, 1);
			return;
		}
		c->head_len = end;
		status = scv_httpd_parse_head(c->in, end, lim->max_body, &c->req, &why);
		if (status) {
			scv_httpd_respond_fatal(c, status, why);
			return;
		}
		conn_enter_state(c, CONN_BODY);
		if ((size_t)c->req.content_length > lim->max_body) {
			snprintf(msg, sizeof msg, "body over %zu bytes", lim->max_body);
			scv_httpd_respond_fatal(c, 413, msg);
			return;
		}
		if (c->req.expect_continue && c->in_len - end < (size_t)c->req.content_length) {
			if (route(c, 0))
				return;
			c->out_len = 0;
			if (out_reserve(c, 25) < 0)
				return (void)lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK,
				                             LWS_TO_KILL_ASYNC);
			memcpy(c->out + LWS_PRE, "HTTP/1.1 100 Continue\r\n\r\n", 25);
			c->out_len = 25;
			c->interim = 1;
			start_write(c);
			return;
		}
	}
	if (c->state == CONN_BODY) {
		if (c->in_len - c->head_len < (size_t)c->req.content_length) {
			rx_enable(c, 1);
			return;
		}
		route(c, 1);
	}
}

/* The taken connection's first bytes: what came after its request. */
static int
raw_begin(struct scv_httpd_conn *c)
{
	size_t used = c->head_len + (size_t)c->req.content_length;

	conn_enter_state(c, CONN_RAW);
	c->deadline = 0;
	consume(c, used < c->in_len ? used : c->in_len);
	memset(&c->req, 0, sizeof c->req);
	c->head_len = 0;
	rx_enable(c, 1);
	if (c->in_len) {
		size_t n = c->in_len;

		c->in_len = 0;
		if (c->raw.on_rx(c, c->in, n, c->raw_arg))
			return -1;
	}
	return 0;
}

/* The answer is out: go on with the next request, the body after a 100, or the close. */
static int
after_write(struct scv_httpd_conn *c)
{
	const struct scv_httpd_limits *lim = &c->srv->lim;
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
		arm(c, lim->linger_ms);
		rx_enable(c, 1);
		return 0;
	}
	if (c->raw_after) {
		c->raw_after = 0;
		return raw_begin(c);
	}
	consume(c, c->head_len + (size_t)c->req.content_length);
	memset(&c->req, 0, sizeof c->req);
	c->head_len = 0;
	conn_enter_state(c, CONN_HEAD);
	arm(c, c->in_len ? lim->request_ms : lim->idle_ms);
	advance(c);
	return 0;
}

static int
conn_writeable(struct scv_httpd_conn *c)
{
	int n;

	if (c->state != CONN_WRITE && c->state != CONN_RAW)
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
	if (c->state == CONN_RAW)
		return c->raw_closing ? -1 : 0;
	return after_write(c);
}

static int
conn_rx(struct scv_httpd_conn *c, const void *data, size_t len)
{
	if (c->state == CONN_RAW)
		return c->raw_closing ? 0 : c->raw.on_rx(c, data, len, c->raw_arg) ? -1 : 0;
	if (c->state == CONN_LINGER) {
		c->lingered += len;
		return c->lingered > LINGER_MAX_BYTES ? -1 : 0;
	}
	if (len > c->srv->in_cap - 1 - c->in_len)
		return -1; /* cannot happen: reading pauses while a request is complete */
	if (c->state == CONN_HEAD && c->in_len == 0)
		arm(c, c->srv->lim.request_ms); /* a request begins: all of it within request_ms */
	memcpy(c->in + c->in_len, data, len);
	c->in_len += len;
	c->in[c->in_len] = '\0';
	if (c->state == CONN_HEAD || c->state == CONN_BODY)
		advance(c);
	return 0;
}

static int
conn_timer(struct scv_httpd_conn *c)
{
	uint64_t now = now_ms();

	if (c->state == CONN_RAW)
		return 0; /* the taker's deadlines are its own */
	if (now < c->deadline) {
		lws_set_timer_usecs(c->wsi, (lws_usec_t)(c->deadline - now) * 1000);
		return 0;
	}
	log_debug(NULL, "%s: connection %u: timed out in state %s", c->srv->name, c->id,
	          state_names[c->state]);
	return -1; /* lws closes it, then says RAW_CLOSE */
}

static int
conn_new(struct scv_httpd *srv, struct lws *wsi)
{
	struct scv_httpd_conn *c;

	if (srv->closing)
		return -1;
	c = calloc(1, sizeof *c);
	if (!c)
		return -1;
	c->in = malloc(srv->in_cap);
	if (!c->in) {
		free(c);
		return -1;
	}
	c->in[0] = '\0';
	c->srv = srv;
	c->wsi = wsi;
	c->id = ++srv->next_id;
	c->next = srv->conns;
	if (c->next)
		c->next->prev = c;
	srv->conns = c;
	srv->n_conns++;
	lws_set_wsi_user(wsi, c);
	arm(c, srv->lim.idle_ms);
	return 0;
}

/* lws's last word on c's socket (RAW_CLOSE): it may still name the wsi later, without c. */
static void
conn_free(struct scv_httpd_conn *c)
{
	struct scv_httpd *srv = c->srv;

	lws_set_wsi_user(c->wsi, NULL);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->n_conns--;
	if (c->state == CONN_RAW && c->raw.on_close)
		c->raw.on_close(c, c->raw_arg);
	free(c->out);
	free(c->in);
	free(c);
}

/*
 * A new connection, before lws adopts it: refused (non-zero) past the limit, with a 503
 * written straight to the socket. What the client already sent is read first, so that the
 * close is a FIN rather than a reset that could overtake the answer.
 */
static int
filter_connection(struct scv_httpd *srv, int fd)
{
	static const char body[] = "{\"error\":\"too many connections\"}";
	char sink[1024], busy[256];
	uint64_t now;
	int n;

	if (srv->n_conns < srv->lim.max_conns && !srv->closing)
		return 0;
	for (int i = 0; i < 16 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++)
		;
	n = snprintf(busy, sizeof busy,
	             "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
	             "Content-Length: %zu\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s",
	             sizeof body - 1, body);
	if (send(fd, busy, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) > 0)
		shutdown(fd, SHUT_WR);
	now = now_ms();
	if (!srv->busy_logged_at || now - srv->busy_logged_at >= BUSY_LOG_MS) {
		log_warn(NULL, "%s: refused a connection: %u open (and %u more in %d s)", srv->name,
		         srv->lim.max_conns, srv->busy_quiet, BUSY_LOG_MS / 1000);
		srv->busy_logged_at = now;
		srv->busy_quiet = 0;
	} else {
		srv->busy_quiet++;
	}
	return 1;
}

static int
on_lws(void *arg, struct lws *wsi, int reason, void *user, void *in, size_t len)
{
	struct scv_httpd *srv = arg;
	struct scv_httpd_conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: /* no wsi yet: `in` is the socket */
		return filter_connection(srv, (int)(intptr_t)in);
	case LWS_CALLBACK_RAW_ADOPT:
		return conn_new(srv, wsi);
	case LWS_CALLBACK_RAW_RX:
		return c ? conn_rx(c, in, len) : -1;
	case LWS_CALLBACK_RAW_WRITEABLE:
		return c ? conn_writeable(c) : 0;
	case LWS_CALLBACK_TIMER:
		return c ? conn_timer(c) : 0;
	case LWS_CALLBACK_RAW_CLOSE:
		if (c)
			conn_free(c);
		return 0;
	default:
		return 0; /* vhost and poll notices */
	}
}

/* ---- taking a connection over ---- */

int
scv_httpd_take_raw(struct scv_httpd_conn *c, const struct scv_httpd_raw_ops *ops, void *arg)
{
	if (c->state != CONN_WRITE || c->interim || c->close_after || c->raw_after || !ops ||
	    !ops->on_rx)
		return -EINVAL;
	c->raw = *ops;
	c->raw_arg = arg;
	c->raw_after = 1; /* once the answer is out: after_write() */
	return 0;
}

int
scv_httpd_raw_write(struct scv_httpd_conn *c, const void *data, size_t len)
{
	if ((c->state != CONN_RAW && !c->raw_after) || c->raw_closing)
		return -ENOTCONN;
	if (c->out_len + len > RAW_OUT_MAX || out_reserve(c, len) < 0)
		return -ENOMEM;
	memcpy(c->out + LWS_PRE + c->out_len, data, len);
	c->out_len += len;
	if (c->state == CONN_RAW)
		lws_callback_on_writable(c->wsi);
	return 0;
}

void
scv_httpd_raw_close(struct scv_httpd_conn *c)
{
	if (c->raw_closing)
		return;
	c->raw_closing = 1;
	if (c->state == CONN_RAW)
		lws_callback_on_writable(c->wsi); /* closes there, once the output is out */
}

/* ---- start and close ---- */

/*
 * Splits "a.b.c.d:port" or "[v6]:port" into host (the literal, INET6_ADDRSTRLEN) and
 * *ret_port, filling sa. 0 or -EINVAL with a reason.
 */
static int
parse_listen(const char *s, char *host, struct sockaddr_storage *sa, socklen_t *ret_len,
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
	if (!p || (size_t)(he - h) >= INET6_ADDRSTRLEN || pl == 0 || pl > 5 ||
	    strspn(p, "0123456789") != pl || (port = strtol(p, NULL, 10)) > 65535)
		goto out_bad;
	memcpy(host, h, (size_t)(he - h));
	host[he - h] = '\0';
	if (*s == '[' && inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*ret_len = sizeof *s6;
	} else if (*s != '[' && inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
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

/*
 * The listening socket on sa, bound before anything else starts, so that a bind error has its
 * errno and leaves nothing behind: 0 and *ret_fd, or a negative errno with a reason.
 */
static int
listen_socket(const struct sockaddr_storage *sa, socklen_t len, const char *where, int *ret_fd,
              char *err, size_t errlen)
{
	int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
	int rc;

	if (fd < 0)
		goto out_errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (sa->ss_family == AF_INET6) /* exactly that address: IPv6 only */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (const struct sockaddr *)sa, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0)
		goto out_errno;
	*ret_fd = fd;
	return 0;

out_errno:
	rc = -errno;
	snprintf(err, errlen, "cannot listen on %s: %s", where, strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

/* The port fd is bound to. */
static int
bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                      : ((struct sockaddr_in *)&ss)->sin_port);
}

static int
is_loopback(const struct sockaddr_storage *sa)
{
	if (sa->ss_family == AF_INET)
		return ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24 == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

static void
on_timer_closed(uv_handle_t *handle)
{
	struct scv_httpd *srv = container_of((uv_timer_t *)handle, struct scv_httpd, timer);
	void (*done)(void *) = srv->done_cb;
	void *arg = srv->done_arg;

	free(srv);
	if (done)
		done(arg);
}

/* The shared context has let go of us: the timer is the last handle of ours. */
static void
on_released(void *arg)
{
	struct scv_httpd *srv = arg;

	uv_close((uv_handle_t *)&srv->timer, on_timer_closed);
}

/*
 * The teardown, from the loop: answers being written get DRAIN_MS to leave (an accepted
 * recording's 202 among them); then every connection is closed (lws says RAW_CLOSE for each
 * before the kill returns, as no lws callback is on the stack), the listener refuses from
 * then on, and the shared context is let go of.
 */
static void
on_teardown(uv_timer_t *timer)
{
	struct scv_httpd *srv = container_of(timer, struct scv_httpd, timer);
	struct scv_httpd_conn *c, *next;

	for (c = srv->conns; c; c = c->next)
		if (c->state == CONN_WRITE && now_ms() < srv->drain_deadline)
			return;
	uv_timer_stop(timer);
	for (c = srv->conns; c; c = next) {
		next = c->next;
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
	}
	while (srv->conns) /* lws freed a socket without a last word: ours go anyway */
		conn_free(srv->conns);
	if (srv->vh)
		scv_lws_vhost_close(srv->vh);
	srv->vh = NULL;
	scv_lws_release(srv->lws, on_released, srv);
}

static void
teardown(struct scv_httpd *srv)
{
	srv->closing = 1;
	srv->drain_deadline = now_ms() + DRAIN_MS;
	uv_timer_start(&srv->timer, on_teardown, 0, 1);
}

int
scv_httpd_check_listen(const char *listen, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN];
	struct sockaddr_storage sa;
	socklen_t salen;
	int port;

	return parse_listen(listen, host, &sa, &salen, &port, err, errlen);
}

int
scv_httpd_start(uv_loop_t *loop, const char *listen, const char *name,
                const struct scv_httpd_limits *limits, scv_httpd_route_cb route_cb, void *arg,
                struct scv_httpd **ret_srv, char *err, size_t errlen)
{
	struct sockaddr_storage sa;
	struct scv_httpd *srv;
	socklen_t salen = 0;
	char why[128];
	int rc, fd = -1, port = 0;

	srv = calloc(1, sizeof *srv);
	if (!srv) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = parse_listen(listen, srv->host, &sa, &salen, &port, err, errlen);
	if (rc < 0)
		goto out_free;
	snprintf(srv->where, sizeof srv->where, sa.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d",
	         srv->host, port);
	rc = listen_socket(&sa, salen, srv->where, &fd, err, errlen);
	if (rc < 0)
		goto out_free;
	srv->port = bound_port(fd);
	srv->loop = loop;
	srv->route = route_cb;
	srv->arg = arg;
	srv->loopback = is_loopback(&sa);
	snprintf(srv->name, sizeof srv->name, "%s", name ? name : "httpd");
	srv->lim = default_limits;
	if (limits) {
		if (limits->max_head)
			srv->lim.max_head = limits->max_head;
		if (limits->max_body)
			srv->lim.max_body = limits->max_body;
		if (limits->max_conns)
			srv->lim.max_conns = limits->max_conns;
		if (limits->idle_ms)
			srv->lim.idle_ms = limits->idle_ms;
		if (limits->request_ms)
			srv->lim.request_ms = limits->request_ms;
		if (limits->linger_ms)
			srv->lim.linger_ms = limits->linger_ms;
	}
	/* one request's head and body, and one read more: see LWS-NOTES.md */
	srv->in_cap = srv->lim.max_head + srv->lim.max_body + SCV_LWS_RX_MAX + 1;

	rc = scv_lws_acquire(loop, &srv->lws, err, errlen);
	if (rc < 0) {
		close(fd);
		goto out_free;
	}
	uv_timer_init(loop, &srv->timer); /* on Unix it only fills in the struct */
	rc = scv_lws_listen(srv->lws, fd, on_lws, srv, &srv->vh, why, sizeof why);
	if (rc < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", srv->where, why);
		srv->vh = NULL;
		teardown(srv); /* frees srv once it has let go of the context */
		return rc;
	}
	*ret_srv = srv;
	return 0;

out_free:
	free(srv);
	return rc;
}

int
scv_httpd_port(const struct scv_httpd *srv)
{
	return srv->port;
}

int
scv_httpd_loopback(const struct scv_httpd *srv)
{
	return srv->loopback;
}

void
scv_httpd_close(struct scv_httpd *srv, void (*done)(void *arg), void *arg)
{
	if (srv->closing)
		return;
	srv->done_cb = done;
	srv->done_arg = arg;
	teardown(srv);
}
