/*
 * WebSocket server side (see ws.h): the upgrade decision, then a connection object around a
 * wslay event context whose recv callback reads from the bytes being fed and whose send
 * callback appends to our output buffer. wslay always gets every byte it asks to send, so it
 * never holds a half-written frame; what the peer has not read yet is bounded here.
 */
#include "scv/ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <wslay/wslay.h>

#include "connector/log.h"

/* ---- UTF-8 ---------------------------------------------------------------------------- */

/*
 * RFC 3629 §4 (Unicode 15, Table 3-7): the lead byte fixes the length and the range of the
 * first continuation byte; that range is what excludes overlong forms (E0, F0), surrogates
 * (ED) and code points above U+10FFFF (F4). C0, C1 and F5..FF never start a sequence.
 */
int
scv_ws_utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t b = s[i];
		size_t n;
		uint8_t lo = 0x80, hi = 0xbf;

		if (b < 0x80) {
			i++;
			continue;
		}
		if (b >= 0xc2 && b <= 0xdf)
			n = 1;
		else if (b >= 0xe0 && b <= 0xef) {
			n = 2;
			if (b == 0xe0)
				lo = 0xa0;
			else if (b == 0xed)
				hi = 0x9f;
		} else if (b >= 0xf0 && b <= 0xf4) {
			n = 3;
			if (b == 0xf0)
				lo = 0x90;
			else if (b == 0xf4)
				hi = 0x8f;
		} else
			return 0;
		if (len - i - 1 < n)
			return 0;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t k = 2; k <= n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
		i += n + 1;
	}
	return 1;
}

/* ---- handshake ------------------------------------------------------------------------ */

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

int
scv_ws_accept_key(const char *key, char *ret_accept)
{
	unsigned char raw[18], again[25], md[EVP_MAX_MD_SIZE];
	char buf[24 + sizeof WS_GUID];
	unsigned int mdlen = 0;

	if (!key || strlen(key) != 24 || strcmp(key + 22, "==") != 0)
		return -EINVAL;
	/* EVP_DecodeBlock ignores nothing useful to us: insist on the canonical form by
	 * encoding the 16 bytes again and comparing. */
	if (EVP_DecodeBlock(raw, (const unsigned char *)key, 24) != 18)
		return -EINVAL;
	if (EVP_EncodeBlock(again, raw, 16) != 24 || memcmp(again, key, 24) != 0)
		return -EINVAL;
	memcpy(buf, key, 24);
	memcpy(buf + 24, WS_GUID, sizeof WS_GUID - 1);
	if (!EVP_Digest(buf, 24 + sizeof WS_GUID - 1, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
		return -EINVAL;
	if (EVP_EncodeBlock((unsigned char *)ret_accept, md, 20) != SCV_WS_ACCEPT_LEN)
		return -EINVAL;
	return 0;
}

struct origin {
	char scheme[8];
	const char *host;
	size_t host_len;
	unsigned port;
};

/* "scheme://host[:port]" with nothing after; host: a name, an IPv4 or a [IPv6] literal. */
static int
origin_parse(const char *s, struct origin *o)
{
	const char *p, *h, *end;

	if (!s)
		return -EINVAL;
	p = strstr(s, "://");
	if (!p || p - s >= (long)sizeof o->scheme || p == s)
		return -EINVAL;
	memcpy(o->scheme, s, (size_t)(p - s));
	o->scheme[p - s] = '\0';
	if (strcasecmp(o->scheme, "https") == 0)
		o->port = 443;
	else if (strcasecmp(o->scheme, "http") == 0)
		o->port = 80;
	else
		return -EINVAL;
	h = p + 3;
	if (*h == '[') {
		end = strchr(h, ']');
		if (!end)
			return -EINVAL;
		end++;
		for (const char *q = h + 1; q < end - 1; q++)
			if (!strchr("0123456789abcdefABCDEF:.", *q))
				return -EINVAL;
	} else {
		end = h;
		while (*end && (strchr("-.", *end) || (*end >= '0' && *end <= '9') ||
		                (*end >= 'a' && *end <= 'z') || (*end >= 'A' && *end <= 'Z')))
			end++;
	}
	if (end == h || end - h > 253)
		return -EINVAL;
	o->host = h;
	o->host_len = (size_t)(end - h);
	if (*end == ':') {
		unsigned long v = 0;
		const char *d = end + 1;

		if (!*d || *d == '0')
			return -EINVAL;
		for (; *d >= '0' && *d <= '9'; d++) {
			v = v * 10 + (unsigned long)(*d - '0');
			if (v > 65535)
				return -EINVAL;
		}
		if (*d)
			return -EINVAL;
		o->port = (unsigned)v;
	} else if (*end)
		return -EINVAL;
	return 0;
}

int
scv_ws_origin_valid(const char *s)
{
	struct origin o;

	return origin_parse(s, &o);
}

static int
origin_allowed(const char *origin, const char *const *allowed, size_t n)
{
	struct origin got, want;

	if (origin_parse(origin, &got) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (origin_parse(allowed[i], &want) < 0)
			continue;
		if (strcasecmp(got.scheme, want.scheme) == 0 && got.port == want.port &&
		    got.host_len == want.host_len &&
		    strncasecmp(got.host, want.host, got.host_len) == 0)
			return 1;
	}
	return 0;
}

/* Is every comma-separated element of v empty or `token`, with at least one `token`
 * (only = 1), or does some element equal it (only = 0)? Case-insensitive. */
static int
list_has(const char *v, const char *token, int only)
{
	size_t tl = strlen(token);
	int found = 0;

	while (v && *v) {
		const char *e = strchr(v, ',');
		size_t n = e ? (size_t)(e - v) : strlen(v);

		while (n && (*v == ' ' || *v == '\t'))
			v++, n--;
		while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		if (n == tl && strncasecmp(v, token, tl) == 0)
			found = 1;
		else if (n && only)
			return 0;
		v = e ? e + 1 : NULL;
	}
	return found;
}

static void
answer_refuse(struct scv_ws_answer *a, int status, const char *reason, const char *extra)
{
	const char *text = status == 403   ? "Forbidden"
	                   : status == 405 ? "Method Not Allowed"
	                   : status == 426 ? "Upgrade Required"
	                                   : "Bad Request";
	int n;

	a->status = status;
	a->reason = reason;
	n = snprintf(a->head, sizeof a->head,
	             "HTTP/1.1 %d %s\r\n%sContent-Type: text/plain\r\nContent-Length: %zu\r\n"
	             "Connection: close\r\n\r\n%s\n",
	             status, text, extra, strlen(reason) + 1, reason);
	a->head_len = n > 0 && (size_t)n < sizeof a->head ? (size_t)n : 0;
}

int
scv_ws_handshake(const struct scv_ws_request *req, const char *const *origins, size_t n_origins,
                 struct scv_ws_answer *ret_answer)
{
	const char *upgrade = NULL, *connection = NULL, *key = NULL, *version = NULL;
	const char *origin = NULL, *host = NULL;
	int n_key = 0, n_version = 0, n_origin = 0, n_host = 0, upgrade_ok = 1, conn_ok = 0;
	char accept[SCV_WS_ACCEPT_LEN + 1];
	struct scv_ws_answer a;
	int n;

	if (!req || !ret_answer || (n_origins && !origins))
		return -EINVAL;
	memset(&a, 0, sizeof a);
	for (size_t i = 0; i < req->n_headers; i++) {
		const char *name = req->headers[i].name, *value = req->headers[i].value;

		if (!name || !value)
			return -EINVAL;
		if (strcasecmp(name, "Upgrade") == 0) {
			upgrade = value;
			upgrade_ok = upgrade_ok && list_has(value, "websocket", 1);
		} else if (strcasecmp(name, "Connection") == 0) {
			connection = value;
			conn_ok = conn_ok || list_has(value, "upgrade", 0);
		} else if (strcasecmp(name, "Sec-WebSocket-Key") == 0) {
			key = value;
			n_key++;
		} else if (strcasecmp(name, "Sec-WebSocket-Version") == 0) {
			version = value;
			n_version++;
		} else if (strcasecmp(name, "Origin") == 0) {
			origin = value;
			n_origin++;
		} else if (strcasecmp(name, "Host") == 0) {
			host = value;
			n_host++;
		}
	}
	if (!req->method || strcmp(req->method, "GET") != 0)
		answer_refuse(&a, 405, "a WebSocket upgrade is a GET", "Allow: GET\r\n");
	else if (!req->version || strcmp(req->version, "HTTP/1.1") != 0)
		answer_refuse(&a, 400, "a WebSocket upgrade needs HTTP/1.1", "");
	else if (n_host != 1 || !*host)
		answer_refuse(&a, 400, "exactly one Host header is required", "");
	else if (!upgrade)
		answer_refuse(&a, 426, "this resource is a WebSocket: Upgrade: websocket",
		              "Upgrade: websocket\r\nConnection: Upgrade\r\n");
	else if (!upgrade_ok)
		answer_refuse(&a, 400, "Upgrade must be websocket", "");
	else if (!connection || !conn_ok)
		answer_refuse(&a, 400, "Connection must contain upgrade", "");
	else if (n_version != 1 || strcmp(version, "13") != 0)
		answer_refuse(&a, 426, "Sec-WebSocket-Version must be 13",
		              "Sec-WebSocket-Version: 13\r\n");
	else if (n_key != 1 || scv_ws_accept_key(key, accept) < 0)
		answer_refuse(&a, 400, "Sec-WebSocket-Key must be the base64 of 16 bytes", "");
	else if (n_origin != 1 || !origin_allowed(origin, origins, n_origins))
		answer_refuse(&a, 403, "Origin not allowed", "");
	else {
		a.status = 101;
		a.reason = "";
		n = snprintf(a.head, sizeof a.head,
		             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		             "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		             accept);
		a.head_len = (size_t)n;
	}
	*ret_answer = a;
	return 0;
}

/* ---- connection ----------------------------------------------------------------------- */

struct scv_ws_conn {
	enum scv_ws_state state;
	struct scv_ws_config cfg;
	char label[64];
	wslay_event_context_ptr ctx;
	scv_ws_text_cb on_text;
	void *user;
	/* the bytes being fed, read by recv_cb */
	const uint8_t *in;
	size_t in_len;
	/* output not yet taken, and taken but not yet written */
	uint8_t *out;
	size_t out_len;
	size_t out_cap;
	size_t in_flight;
	/* inside wslay_event_recv(): sending waits until it returns */
	int in_recv;
	int failed_nomem;
	/* wslay answers some protocol errors with a close without code: we send this one */
	uint16_t fix_empty_close;
	uint16_t code_sent;
	const char *why;
	int64_t state_since;
	int64_t now; /* the latest time a caller gave */
	int64_t next_ping;
	unsigned missed_pongs;
	int ping_outstanding;
	uint64_t ping_count;
	uint64_t pongs;
};

const char *
scv_ws_state_name(enum scv_ws_state s)
{
	switch (s) {
	case SCV_WS_OPEN:
		return "open";
	case SCV_WS_CLOSING:
		return "closing";
	case SCV_WS_CLOSED:
		return "closed";
	case SCV_WS_ABORTED:
		return "aborted";
	}
	return "?";
}

static void
conn_enter_state(struct scv_ws_conn *c, enum scv_ws_state s, int64_t now_ms)
{
	if (c->state == s)
		return;
	log_debug(NULL, "scv ws: %s: %s -> %s%s%s", c->label, scv_ws_state_name(c->state),
	          scv_ws_state_name(s), c->why[0] ? ": " : "", c->why);
	c->state = s;
	c->state_since = now_ms;
}

static void
conn_abort(struct scv_ws_conn *c, const char *why, int64_t now_ms)
{
	if (c->state == SCV_WS_ABORTED)
		return;
	c->why = why;
	wslay_event_shutdown_read(c->ctx);
	wslay_event_shutdown_write(c->ctx);
	conn_enter_state(c, SCV_WS_ABORTED, now_ms);
}

static ssize_t
recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
	struct scv_ws_conn *c = user;
	size_t n = c->in_len < len ? c->in_len : len;

	(void)flags;
	if (n == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	memcpy(buf, c->in, n);
	c->in += n;
	c->in_len -= n;
	return (ssize_t)n;
}

static int
out_append(struct scv_ws_conn *c, const uint8_t *data, size_t len)
{
	if (len > c->out_cap - c->out_len) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		uint8_t *b;

		while (cap - c->out_len < len)
			cap *= 2;
		b = realloc(c->out, cap);
		if (!b)
			return -ENOMEM;
		c->out = b;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	return 0;
}

static ssize_t
send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user)
{
	struct scv_ws_conn *c = user;
	int r;

	(void)flags;
	/* A close frame without payload, header alone: the reply wslay makes to a frame it
	 * could not parse; say 1002 instead. */
	if (c->fix_empty_close && len == 2 && data[0] == 0x88 && data[1] == 0x00) {
		uint8_t f[4] = {0x88, 0x02, (uint8_t)(c->fix_empty_close >> 8),
		                (uint8_t)(c->fix_empty_close & 0xff)};

		r = out_append(c, f, sizeof f);
	} else
		r = out_append(c, data, len);
	if (r < 0) {
		c->failed_nomem = 1;
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

/* Fails the connection with a close frame of our own and stops reading. */
static void
conn_fail(struct scv_ws_conn *c, uint16_t code, const char *why)
{
	if (c->code_sent ||
	    wslay_event_queue_close(c->ctx, code, (const uint8_t *)why, strlen(why)) != 0)
		return;
	c->why = why;
	c->code_sent = code;
	wslay_event_shutdown_read(c->ctx);
}

static void
on_frame_start(wslay_event_context_ptr ctx, const struct wslay_event_on_frame_recv_start_arg *arg,
               void *user)
{
	(void)ctx;
	if (arg->opcode == WSLAY_BINARY_FRAME)
		conn_fail(user, 1003, "binary frames are not accepted");
}

static void
on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *user)
{
	struct scv_ws_conn *c = user;

	(void)ctx;
	switch (arg->opcode) {
	case WSLAY_TEXT_FRAME:
		if (c->code_sent || !wslay_event_get_read_enabled(c->ctx))
			return;
		if (!scv_ws_utf8_valid(arg->msg, arg->msg_length)) {
			conn_fail(c, 1007, "invalid UTF-8");
			return;
		}
		c->on_text(c, (const char *)arg->msg, arg->msg_length, c->user);
		break;
	case WSLAY_PONG:
		c->pongs++;
		c->missed_pongs = 0;
		c->ping_outstanding = 0;
		break;
	case WSLAY_CONNECTION_CLOSE:
		/* a one-byte close payload is malformed: wslay replies without a code */
		if (arg->msg_length == 1)
			c->fix_empty_close = 1002;
		break;
	default:
		break;
	}
}

/* Where wslay's state and ours meet: called after anything that may have moved either. */
static void
conn_settle(struct scv_ws_conn *c, int64_t now_ms)
{
	if (c->state == SCV_WS_ABORTED)
		return;
	if (c->failed_nomem) {
		conn_abort(c, "out of memory", now_ms);
		return;
	}
	if (!c->in_recv && wslay_event_want_write(c->ctx) && wslay_event_send(c->ctx) != 0) {
		conn_abort(c, c->failed_nomem ? "out of memory" : "frame error", now_ms);
		return;
	}
	if (scv_ws_conn_pending(c) > c->cfg.max_send_queue) {
		conn_abort(c, "send queue over its bound (slow reader)", now_ms);
		return;
	}
	if (!wslay_event_get_close_sent(c->ctx))
		return;
	if (!c->code_sent)
		c->code_sent = c->fix_empty_close ? c->fix_empty_close
		                                  : wslay_event_get_status_code_sent(c->ctx);
	if (!c->why[0]) {
		if (wslay_event_get_close_received(c->ctx))
			c->why = "closed by the peer";
		else if (c->code_sent == 1009)
			c->why = "message too big";
		else if (c->code_sent == 1007)
			c->why = "invalid UTF-8";
		else
			c->why = "protocol error";
	}
	if (wslay_event_get_close_received(c->ctx) || !wslay_event_get_read_enabled(c->ctx))
		conn_enter_state(c, SCV_WS_CLOSED, now_ms);
	else
		conn_enter_state(c, SCV_WS_CLOSING, now_ms);
}

void
scv_ws_config_default(struct scv_ws_config *cfg)
{
	cfg->max_message = SCV_WS_MAX_MESSAGE;
	cfg->max_send_queue = SCV_WS_MAX_SEND_QUEUE;
	cfg->ping_interval_ms = SCV_WS_PING_INTERVAL;
	cfg->max_missed_pongs = SCV_WS_MAX_MISSED_PONG;
	cfg->close_timeout_ms = SCV_WS_CLOSE_TIMEOUT;
}

int
scv_ws_conn_new(const struct scv_ws_config *cfg, const char *label, int64_t now_ms,
                scv_ws_text_cb on_text, void *user, struct scv_ws_conn **ret_conn)
{
	struct wslay_event_callbacks cbs = {
	        .recv_callback = recv_cb,
	        .send_callback = send_cb,
	        .on_frame_recv_start_callback = on_frame_start,
	        .on_msg_recv_callback = on_msg,
	};
	struct scv_ws_conn *c;

	if (!on_text)
		return -EINVAL;
	c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	if (cfg)
		c->cfg = *cfg;
	else
		scv_ws_config_default(&c->cfg);
	if (c->cfg.max_missed_pongs == 0)
		c->cfg.max_missed_pongs = 1;
	snprintf(c->label, sizeof c->label, "%s", label ? label : "ws");
	c->on_text = on_text;
	c->user = user;
	c->why = "";
	c->state = SCV_WS_OPEN;
	c->state_since = now_ms;
	c->now = now_ms;
	c->next_ping = c->cfg.ping_interval_ms > 0 ? now_ms + c->cfg.ping_interval_ms : INT64_MAX;
	if (wslay_event_context_server_init(&c->ctx, &cbs, c) != 0) {
		free(c);
		return -ENOMEM;
	}
	wslay_event_config_set_max_recv_msg_length(c->ctx, c->cfg.max_message);
	*ret_conn = c;
	return 0;
}

void
scv_ws_conn_free(struct scv_ws_conn *c)
{
	if (!c)
		return;
	wslay_event_context_free(c->ctx);
	c->ctx = NULL;
	free(c->out);
	c->out = NULL;
	free(c);
}

int
scv_ws_conn_feed(struct scv_ws_conn *c, const void *data, size_t len, int64_t now_ms)
{
	int r;

	c->now = now_ms;
	if (c->state == SCV_WS_ABORTED || c->state == SCV_WS_CLOSED ||
	    !wslay_event_get_read_enabled(c->ctx))
		return 0;
	c->in = data;
	c->in_len = len;
	c->in_recv = 1;
	r = wslay_event_recv(c->ctx);
	c->in_recv = 0;
	c->in = NULL;
	c->in_len = 0;
	if (r == WSLAY_ERR_NOMEM || c->failed_nomem) {
		conn_abort(c, "out of memory", now_ms);
		return -ENOMEM;
	}
	/* WSLAY_ERR_CALLBACK_FAILURE here means a frame wslay could not parse (our recv
	 * callback only ever says "would block"): wslay queued a close without code. */
	if (r != 0)
		c->fix_empty_close = 1002;
	conn_settle(c, now_ms);
	return 0;
}

void
scv_ws_conn_eof(struct scv_ws_conn *c, int64_t now_ms)
{
	c->now = now_ms;
	if (c->state == SCV_WS_CLOSED || c->state == SCV_WS_ABORTED)
		return;
	conn_abort(c, "connection lost", now_ms);
}

int
scv_ws_conn_send_text(struct scv_ws_conn *c, const char *msg, size_t len)
{
	struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)msg, len};
	int r;

	if (c->state != SCV_WS_OPEN || wslay_event_get_close_sent(c->ctx) || c->code_sent)
		return -EPIPE;
	if (!scv_ws_utf8_valid((const uint8_t *)msg, len))
		return -EINVAL;
	/* a frame header is at most 10 bytes from a server */
	if (len + 10 > c->cfg.max_send_queue - scv_ws_conn_pending(c) ||
	    scv_ws_conn_pending(c) > c->cfg.max_send_queue) {
		conn_abort(c, "send queue over its bound (slow reader)", c->now);
		return -ENOBUFS;
	}
	r = wslay_event_queue_msg(c->ctx, &m);
	if (r == WSLAY_ERR_NOMEM)
		return -ENOMEM;
	if (r != 0)
		return -EPIPE;
	conn_settle(c, c->now);
	return c->state == SCV_WS_ABORTED ? -ENOBUFS : 0;
}

int
scv_ws_conn_close(struct scv_ws_conn *c, uint16_t code, const char *reason, int64_t now_ms)
{
	size_t rl = reason ? strlen(reason) : 0;
	int valid =
	        (code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006) ||
	        (code >= 3000 && code <= 4999);

	c->now = now_ms;
	if (!valid || rl > 123 || !scv_ws_utf8_valid((const uint8_t *)(reason ? reason : ""), rl))
		return -EINVAL;
	if (c->state != SCV_WS_OPEN || wslay_event_get_close_sent(c->ctx) || c->code_sent)
		return -EPIPE;
	if (wslay_event_queue_close(c->ctx, code, (const uint8_t *)reason, rl) != 0)
		return -EPIPE;
	c->code_sent = code;
	c->why = "closed by us";
	conn_settle(c, now_ms);
	return 0;
}

int
scv_ws_conn_ping(struct scv_ws_conn *c, int64_t now_ms)
{
	uint8_t payload[8];
	struct wslay_event_msg m = {WSLAY_PING, payload, sizeof payload};
	uint64_t n = ++c->ping_count;

	c->now = now_ms;
	if (c->state != SCV_WS_OPEN)
		return -EPIPE;
	for (int i = 7; i >= 0; i--, n >>= 8)
		payload[i] = (uint8_t)n;
	if (wslay_event_queue_msg(c->ctx, &m) != 0)
		return -EPIPE;
	c->ping_outstanding = 1;
	conn_settle(c, now_ms);
	return 0;
}

void
scv_ws_conn_tick(struct scv_ws_conn *c, int64_t now_ms)
{
	c->now = now_ms;
	switch (c->state) {
	case SCV_WS_OPEN:
		if (now_ms < c->next_ping)
			return;
		if (c->ping_outstanding && ++c->missed_pongs >= c->cfg.max_missed_pongs) {
			conn_abort(c, "no pong to our pings", now_ms);
			return;
		}
		c->next_ping = now_ms + c->cfg.ping_interval_ms;
		scv_ws_conn_ping(c, now_ms);
		break;
	case SCV_WS_CLOSING:
		if (now_ms - c->state_since >= c->cfg.close_timeout_ms)
			conn_abort(c, "no close frame from the peer in time", now_ms);
		break;
	case SCV_WS_CLOSED:
		if (now_ms - c->state_since >= c->cfg.close_timeout_ms && scv_ws_conn_pending(c))
			conn_abort(c, "the peer did not read our close frame in time", now_ms);
		break;
	case SCV_WS_ABORTED:
		break;
	}
}

int64_t
scv_ws_conn_deadline(const struct scv_ws_conn *c)
{
	switch (c->state) {
	case SCV_WS_OPEN:
		return c->next_ping;
	case SCV_WS_CLOSING:
		return c->state_since + c->cfg.close_timeout_ms;
	case SCV_WS_CLOSED:
		if (scv_ws_conn_pending(c))
			return c->state_since + c->cfg.close_timeout_ms;
		break;
	case SCV_WS_ABORTED:
		break;
	}
	return INT64_MAX;
}

int
scv_ws_conn_take_output(struct scv_ws_conn *c, uint8_t **ret_buf, size_t *ret_len)
{
	if (c->out_len == 0 || c->state == SCV_WS_ABORTED)
		return -EAGAIN;
	*ret_buf = c->out;
	*ret_len = c->out_len;
	c->in_flight += c->out_len;
	c->out = NULL;
	c->out_len = c->out_cap = 0;
	return 0;
}

void
scv_ws_conn_written(struct scv_ws_conn *c, size_t len)
{
	c->in_flight -= len < c->in_flight ? len : c->in_flight;
}

size_t
scv_ws_conn_pending(const struct scv_ws_conn *c)
{
	return c->out_len + c->in_flight + wslay_event_get_queued_msg_length(c->ctx);
}

enum scv_ws_state
scv_ws_conn_state(const struct scv_ws_conn *c)
{
	return c->state;
}

uint16_t
scv_ws_conn_code_sent(const struct scv_ws_conn *c)
{
	return c->code_sent;
}

uint16_t
scv_ws_conn_code_received(const struct scv_ws_conn *c)
{
	if (!wslay_event_get_close_received(c->ctx))
		return 0;
	return wslay_event_get_status_code_received(c->ctx);
}

const char *
scv_ws_conn_why(const struct scv_ws_conn *c)
{
	return c->why;
}

uint64_t
scv_ws_conn_pongs(const struct scv_ws_conn *c)
{
	return c->pongs;
}
