#include "tests/emulator/conn.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/emulator/app.h"
#include "tests/emulator/http.h"
#include "tests/emulator/table.h"
#include "tests/emulator/util.h"

#define IDLE_TIMEOUT_MS 120000
#define LINGER_MS       2000
/* A whole request always fits; beyond that, pipelined input waits in the socket. */
#define IN_LIMIT (EMU_HTTP_MAX_HEAD + EMU_HTTP_MAX_BODY + 16384)
/* A client that pipelines without reading stops being read once this much output waits. */
#define OUT_HIGH_WATER (1024 * 1024)
#define READ_CHUNK     16384
#define SHRINK_ABOVE   (64 * 1024)

enum conn_state {
	CONN_HANDSHAKE, /* TLS handshake under way */
	CONN_OPEN,      /* reading and answering requests */
	CONN_HELD,      /* an answer waits for its timer; nothing else is read or answered */
	CONN_CLOSING,   /* flushing the last answers, then lingering */
	CONN_LINGER,    /* close_notify and FIN sent; discarding input until EOF or timeout */
	CONN_DEAD,      /* closed; freed by emu_conns_reap() */
};

struct emu_conn {
	enum emu_src src; /* first: the epoll loop dispatches on it */
	enum conn_state state;
	int fd;
	SSL *ssl;
	struct emu_conn *prev, *next; /* live connections */
	struct emu_conn *next_dead;
	struct emu_buf in;
	struct emu_buf out;
	struct emu_req req; /* the request whose head has been parsed */
	bool have_head;
	bool continue_sent;
	bool read_eof;
	bool ssl_wants_write;       /* the last SSL_read or handshake step wants POLLOUT */
	bool ssl_wants_read;        /* the last SSL_write wants POLLIN */
	struct emu_heap_node timer; /* HELD: when to answer; LINGER: when to give up */
	struct emu_buf held;        /* HELD: the rendered answer */
	bool held_drop;             /* HELD: close without answering instead */
	bool held_close;            /* HELD: close after answering */
	uint32_t events;            /* as registered with epoll */
	int64_t last_active;        /* monotonic ms of the last successful read or write */
};

static int epfd = -1;
static SSL_CTX *ssl_ctx;
static struct emu_conn *live;
static struct emu_conn *dead;
static struct emu_conn *current; /* whose request emu_app_handle() is handling */
static struct emu_heap timers;
static uint64_t total_count, open_count;

void
emu_conns_init(int epoll_fd, SSL_CTX *ctx)
{
	epfd = epoll_fd;
	ssl_ctx = ctx;
}

/*
 * No log line per transition: benchmarks open thousands of connections a second. The one
 * place that changes state keeps the transitions reviewable.
 */
static void
conn_enter_state(struct emu_conn *c, enum conn_state state)
{
	c->state = state;
}

static void
update_events(struct emu_conn *c)
{
	struct epoll_event e;
	uint32_t ev = 0;

	switch (c->state) {
	case CONN_HANDSHAKE:
		ev = c->ssl_wants_write ? EPOLLOUT : EPOLLIN;
		break;
	case CONN_OPEN:
		if (!c->read_eof && emu_buf_avail(&c->in) < IN_LIMIT &&
		    emu_buf_avail(&c->out) < OUT_HIGH_WATER)
			ev |= EPOLLIN;
		/* fall through */
	case CONN_HELD:
	case CONN_CLOSING:
		if (emu_buf_avail(&c->out) || c->ssl_wants_write)
			ev |= EPOLLOUT;
		if (c->ssl_wants_read)
			ev |= EPOLLIN;
		break;
	case CONN_LINGER:
		ev = EPOLLIN;
		break;
	case CONN_DEAD:
		return;
	}
	if (ev == c->events)
		return;
	e.events = ev;
	e.data.ptr = c;
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e) == 0)
		c->events = ev;
}

/* Closes at once, without close_notify: also how a "drop" fault looks to the client. */
static void
conn_abort(struct emu_conn *c)
{
	if (c->state == CONN_DEAD)
		return;
	conn_enter_state(c, CONN_DEAD);
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	SSL_free(c->ssl);
	c->ssl = NULL;
	close(c->fd);
	c->fd = -1;
	emu_heap_remove(&timers, &c->timer);
	emu_buf_free(&c->in);
	emu_buf_free(&c->out);
	emu_buf_free(&c->held);
	emu_req_clear(&c->req);
	if (c->prev)
		c->prev->next = c->next;
	else
		live = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next_dead = dead;
	dead = c;
	open_count--;
}

/*
 * After the last answer: close_notify and FIN, then read and discard until the client
 * closes, so that input still in flight does not turn our close into a reset that could
 * destroy the answer before the client read it.
 */
static void
start_linger(struct emu_conn *c)
{
	ERR_clear_error();
	(void)SSL_shutdown(c->ssl);
	shutdown(c->fd, SHUT_WR);
	conn_enter_state(c, CONN_LINGER);
	emu_buf_free(&c->in);
	emu_buf_free(&c->out);
	c->timer.key = emu_mono_ms() + LINGER_MS;
	if (emu_heap_push(&timers, &c->timer) < 0) {
		conn_abort(c);
		return;
	}
	update_events(c);
}

static void
discard(struct emu_conn *c)
{
	char scratch[4096];

	for (;;) {
		ssize_t n = recv(c->fd, scratch, sizeof scratch, 0);

		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0 && errno == EINTR)
			continue;
		conn_abort(c);
		return;
	}
}

static int
handshake(struct emu_conn *c, bool *progress)
{
	int r;

	c->ssl_wants_write = false;
	ERR_clear_error();
	r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		conn_enter_state(c, CONN_OPEN);
		c->last_active = emu_mono_ms();
		*progress = true;
		return 0;
	}
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return 0;
	case SSL_ERROR_WANT_WRITE:
		c->ssl_wants_write = true;
		return 0;
	default:
		emu_log_info("TLS handshake failed: %s",
		             ERR_peek_error() ? ERR_reason_error_string(ERR_peek_error())
		                              : "connection closed");
		return -1;
	}
}

/* Writes what it can. 0, or -1 when the connection is broken. */
static int
flush(struct emu_conn *c, bool *progress)
{
	c->ssl_wants_read = false;
	while (emu_buf_avail(&c->out)) {
		size_t n = emu_buf_avail(&c->out);
		int w;

		ERR_clear_error();
		w = SSL_write(c->ssl, emu_buf_head(&c->out), n > INT_MAX ? INT_MAX : (int)n);
		if (w > 0) {
			emu_buf_consume(&c->out, (size_t)w);
			c->last_active = emu_mono_ms();
			*progress = true;
			continue;
		}
		switch (SSL_get_error(c->ssl, w)) {
		case SSL_ERROR_WANT_WRITE:
			return 0;
		case SSL_ERROR_WANT_READ:
			c->ssl_wants_read = true;
			return 0;
		default:
			return -1;
		}
	}
	return 0;
}

/* Reads one chunk. 0, or -1 when the connection is broken. */
static int
read_some(struct emu_conn *c, bool *progress)
{
	size_t room;
	int r;

	c->ssl_wants_write = false;
	if (emu_buf_reserve(&c->in, READ_CHUNK) < 0)
		return -1;
	room = c->in.cap - c->in.len;
	ERR_clear_error();
	r = SSL_read(c->ssl, c->in.data + c->in.len, room > INT_MAX ? INT_MAX : (int)room);
	if (r > 0) {
		c->in.len += (size_t)r;
		c->last_active = emu_mono_ms();
		*progress = true;
		return 0;
	}
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return 0;
	case SSL_ERROR_WANT_WRITE:
		c->ssl_wants_write = true;
		return 0;
	case SSL_ERROR_ZERO_RETURN: /* close_notify, or EOF (SSL_OP_IGNORE_UNEXPECTED_EOF) */
		c->read_eof = true;
		*progress = true;
		return 0;
	default:
		return -1;
	}
}

/* Refuses a request that cannot be sliced from the stream; the connection then closes. */
static void
refuse(struct emu_conn *c, int status)
{
	char body[256];
	int n;

	n = snprintf(body, sizeof body,
	             "{\"errors\":[{\"errorCode\":\"BAD_REQUEST\","
	             "\"message\":\"%s\"}]}",
	             emu_http_reason(status));
	emu_log_info("refused a request: %d %s", status, emu_http_reason(status));
	emu_buf_consume(&c->in, emu_buf_avail(&c->in));
	if (emu_http_render(&c->out, status, body, (size_t)n, -1, false) < 0) {
		conn_abort(c);
		return;
	}
	conn_enter_state(c, CONN_CLOSING);
}

static void
deliver(struct emu_conn *c, const struct emu_reply *reply, bool keep)
{
	const char *body = reply->body ? reply->body : "{}";
	bool hold = reply->latency_ms > 0;

	if (reply->drop != EMU_DROP_NONE && !hold) {
		conn_abort(c);
		return;
	}
	if (reply->drop == EMU_DROP_NONE &&
	    emu_http_render(hold ? &c->held : &c->out, reply->status, body, strlen(body),
	                    reply->retry_after, keep) < 0) {
		conn_abort(c);
		return;
	}
	if (hold) {
		c->held_drop = reply->drop != EMU_DROP_NONE;
		c->held_close = !keep;
		c->timer.key = emu_mono_ms() + reply->latency_ms;
		if (emu_heap_push(&timers, &c->timer) < 0) {
			conn_abort(c);
			return;
		}
		conn_enter_state(c, CONN_HELD);
	} else if (!keep) {
		conn_enter_state(c, CONN_CLOSING);
	}
}

/* Handles the next complete request. 1 when something happened, 0 when input is missing. */
static int
process_one(struct emu_conn *c)
{
	struct emu_reply reply;
	size_t need;
	bool keep;
	int rc;

	if (!c->have_head) {
		if (emu_buf_avail(&c->in) == 0)
			return 0;
		rc = emu_http_parse_head(emu_buf_head(&c->in), emu_buf_avail(&c->in), &c->req);
		if (rc == EMU_HTTP_INCOMPLETE)
			return 0;
		if (rc != 0) {
			emu_req_clear(&c->req);
			refuse(c, rc);
			return 1;
		}
		c->have_head = true;
		c->continue_sent = false;
	}
	need = c->req.head_len + c->req.content_length;
	if (emu_buf_avail(&c->in) < need) {
		if (c->req.expect_continue && !c->continue_sent) {
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

			c->continue_sent = true;
			if (emu_buf_append(&c->out, cont, sizeof cont - 1) < 0)
				conn_abort(c);
			return 1;
		}
		return 0;
	}
	c->req.body = emu_buf_head(&c->in) + c->req.head_len;
	c->req.body_len = c->req.content_length;
	current = c;
	emu_app_handle(&c->req, emu_now_ms(), &reply);
	current = NULL;
	keep = c->req.keep_alive && !reply.close;
	emu_buf_consume(&c->in, need);
	emu_req_clear(&c->req);
	c->have_head = false;
	deliver(c, &reply, keep);
	emu_reply_clear(&reply);
	return 1;
}

static void
maybe_shrink(struct emu_conn *c)
{
	if (emu_buf_avail(&c->in) == 0 && c->in.cap > SHRINK_ABOVE)
		emu_buf_free(&c->in);
	if (emu_buf_avail(&c->out) == 0 && c->out.cap > SHRINK_ABOVE)
		emu_buf_free(&c->out);
}

/* Makes all the progress possible without blocking, then re-arms epoll. */
static void
drive(struct emu_conn *c)
{
	bool progress;

	do {
		progress = false;
		switch (c->state) {
		case CONN_HANDSHAKE:
			if (handshake(c, &progress) < 0) {
				conn_abort(c);
				return;
			}
			break;
		case CONN_OPEN:
			while (c->state == CONN_OPEN && emu_buf_avail(&c->out) < OUT_HIGH_WATER &&
			       process_one(c))
				progress = true;
			if (c->state == CONN_DEAD)
				return;
			if (flush(c, &progress) < 0) {
				conn_abort(c);
				return;
			}
			if (c->state != CONN_OPEN)
				break;
			if (!c->read_eof && emu_buf_avail(&c->in) < IN_LIMIT &&
			    emu_buf_avail(&c->out) < OUT_HIGH_WATER &&
			    read_some(c, &progress) < 0) {
				conn_abort(c);
				return;
			}
			/* The client is done sending and no complete request is left. */
			if (c->read_eof && !progress && emu_buf_avail(&c->out) < OUT_HIGH_WATER) {
				conn_enter_state(c, CONN_CLOSING);
				progress = true;
			}
			break;
		case CONN_HELD:
			if (flush(c, &progress) < 0) {
				conn_abort(c);
				return;
			}
			break;
		case CONN_CLOSING:
			if (flush(c, &progress) < 0) {
				conn_abort(c);
				return;
			}
			if (!emu_buf_avail(&c->out)) {
				start_linger(c);
				return;
			}
			break;
		case CONN_LINGER:
			discard(c);
			if (c->state != CONN_DEAD)
				update_events(c);
			return;
		case CONN_DEAD:
			return;
		}
	} while (progress);
	update_events(c);
	maybe_shrink(c);
}

int
emu_conn_new(int fd)
{
	struct emu_conn *c = calloc(1, sizeof *c);
	struct epoll_event e;
	int one = 1;

	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	/* Answers are small and often pipelined: never wait for Nagle. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->src = EMU_SRC_CONN;
	c->fd = fd;
	c->timer.idx = EMU_HEAP_NONE;
	c->ssl = SSL_new(ssl_ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1)
		goto out_free;
	SSL_set_accept_state(c->ssl);
	conn_enter_state(c, CONN_HANDSHAKE);
	c->last_active = emu_mono_ms();
	e.events = EPOLLIN;
	e.data.ptr = c;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0)
		goto out_free;
	c->events = EPOLLIN;
	c->next = live;
	if (live)
		live->prev = c;
	live = c;
	total_count++;
	open_count++;
	return 0;
out_free:
	SSL_free(c->ssl);
	close(fd);
	free(c);
	return -ENOMEM;
}

void
emu_conn_on_event(struct emu_conn *c, uint32_t events)
{
	if (c->state == CONN_DEAD)
		return;
	/* A reset, or both directions shut: no answer can reach the client any more. */
	if (events & (EPOLLERR | EPOLLHUP)) {
		conn_abort(c);
		return;
	}
	drive(c);
}

int64_t
emu_conns_next_deadline(void)
{
	struct emu_heap_node *top = emu_heap_peek(&timers);

	return top ? top->key : -1;
}

void
emu_conns_run_timers(int64_t now_mono)
{
	struct emu_heap_node *top;

	while ((top = emu_heap_peek(&timers)) && top->key <= now_mono) {
		struct emu_conn *c = emu_container_of(top, struct emu_conn, timer);

		emu_heap_remove(&timers, top);
		if (c->state == CONN_LINGER || (c->state == CONN_HELD && c->held_drop)) {
			conn_abort(c);
			continue;
		}
		if (c->state != CONN_HELD)
			continue;
		if (emu_buf_append(&c->out, emu_buf_head(&c->held), emu_buf_avail(&c->held)) < 0) {
			conn_abort(c);
			continue;
		}
		emu_buf_free(&c->held);
		conn_enter_state(c, c->held_close ? CONN_CLOSING : CONN_OPEN);
		drive(c);
	}
}

void
emu_conns_sweep(int64_t now_mono)
{
	struct emu_conn *c, *next;

	for (c = live; c; c = next) {
		next = c->next;
		if (c->state == CONN_HELD || c->state == CONN_LINGER ||
		    now_mono - c->last_active <= IDLE_TIMEOUT_MS)
			continue;
		if (c->state == CONN_OPEN && !emu_buf_avail(&c->out))
			start_linger(c);
		else
			conn_abort(c);
	}
}

void
emu_conns_close_others(void)
{
	struct emu_conn *c, *next;

	for (c = live; c; c = next) {
		next = c->next;
		if (c != current)
			conn_abort(c);
	}
}

void
emu_conns_reap(void)
{
	while (dead) {
		struct emu_conn *c = dead;

		dead = c->next_dead;
		free(c);
	}
}

void
emu_conns_free(void)
{
	while (live)
		conn_abort(live);
	emu_conns_reap();
	emu_heap_free(&timers);
}

void
emu_conns_counts(uint64_t *ret_total, uint64_t *ret_open)
{
	*ret_total = total_count;
	*ret_open = open_count;
}

void
emu_conns_reset_total(void)
{
	total_count = 0;
}
