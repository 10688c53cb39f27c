/*
 * RFC 6455 WebSocket, server side, with no transport of its own: the caller reads and writes
 * the socket (TLS or not) and hands this module bytes; it hands back bytes to write and
 * whole text messages. Framing is libwslay's (wslay_event_*); the handshake decision, the
 * limits, UTF-8, pings and the close handshake are ours.
 *
 * One loop thread owns a connection; nothing here is thread-safe or blocks. Times are
 * milliseconds on any monotonic clock the caller chooses (uv_now() fits), passed in.
 */
#ifndef SCVB_SCV_WS_H
#define SCVB_SCV_WS_H

#include <stddef.h>
#include <stdint.h>

/* ---- handshake ------------------------------------------------------------------------ */

#define SCV_WS_ACCEPT_LEN 28 /* base64 of a SHA-1 */

struct scv_ws_header {
	const char *name; /* compared case-insensitively */
	const char *value;
};

/* An upgrade request as the HTTP/1.1 server parsed it; every header line, in order. */
struct scv_ws_request {
	const char *method;  /* "GET" */
	const char *version; /* "HTTP/1.1" */
	const struct scv_ws_header *headers;
	size_t n_headers;
};

struct scv_ws_answer {
	int status;         /* 101 (accepted) or 400, 403, 405, 426 */
	const char *reason; /* why it was refused, a static string; "" when accepted */
	char head[512];     /* the complete response to write: head, and for a 4xx a body */
	size_t head_len;
};

/*
 * Decides on an upgrade request and writes the answer. origins: the allow-list, entries
 * "scheme://host[:port]" (see scv_ws_origin_valid()); the request's Origin must match one
 * (scheme and host case-insensitively, the port explicit or the scheme's default).
 * Refusals: 405 not GET; 400 not HTTP/1.1, no Host, Upgrade not only "websocket", Connection
 * without "upgrade", a missing, repeated or malformed Sec-WebSocket-Key; 426 no Upgrade or a
 * Sec-WebSocket-Version other than 13 (the answer names 13); 403 Origin missing or not
 * allowed. No extension and no subprotocol is ever agreed. Returns 0 (see
 * ret_answer->status) or -EINVAL for a NULL argument.
 */
int scv_ws_handshake(const struct scv_ws_request *req, const char *const *origins, size_t n_origins,
                     struct scv_ws_answer *ret_answer);

/* Is s an allow-list entry: http or https, a host, an optional port 1..65535, no path? 0 or
 * -EINVAL (for the configuration check). */
int scv_ws_origin_valid(const char *s);

/*
 * Sec-WebSocket-Accept for a client key (RFC 6455 §4.2.2): the key must be the base64 of
 * 16 bytes, canonical. ret_accept: SCV_WS_ACCEPT_LEN + 1 bytes. 0 or -EINVAL.
 */
int scv_ws_accept_key(const char *key, char *ret_accept);

/* Is s[0..len) well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF, no truncated sequence)? 1 or 0. */
int scv_ws_utf8_valid(const uint8_t *s, size_t len);

/* ---- connection ----------------------------------------------------------------------- */

#define SCV_WS_MAX_MESSAGE     (64 * 1024)
#define SCV_WS_MAX_SEND_QUEUE  (1024 * 1024)
#define SCV_WS_PING_INTERVAL   20000 /* ms */
#define SCV_WS_MAX_MISSED_PONG 2
#define SCV_WS_CLOSE_TIMEOUT   5000 /* ms */

struct scv_ws_config {
	size_t max_message;        /* a larger incoming message: close 1009 */
	size_t max_send_queue;     /* bytes not yet written; beyond it the connection is aborted */
	int64_t ping_interval_ms;  /* 0: no server pings */
	unsigned max_missed_pongs; /* pings in a row without a pong: aborted */
	int64_t close_timeout_ms;  /* wait for the peer's close, and for the last write */
};

/*
 * OPEN: messages flow. CLOSING: our close frame went out, the peer's is awaited (at most
 * close_timeout_ms). CLOSED: the close handshake is over or the connection was failed with a
 * close frame: write what scv_ws_conn_take_output() still gives; once scv_ws_conn_pending()
 * is 0, shut down the write side and discard input until the peer's EOF or close_timeout_ms,
 * then close (closing with unread input, say the rest of an oversized frame, makes the kernel
 * send a reset that can destroy the close frame before the peer reads it). If the peer does
 * not take our last bytes within close_timeout_ms, the tick moves on to ABORTED. ABORTED:
 * close the transport now, unwritten bytes are dropped (peer gone, pong or close timeout,
 * send queue over its bound).
 */
enum scv_ws_state {
	SCV_WS_OPEN = 0,
	SCV_WS_CLOSING,
	SCV_WS_CLOSED,
	SCV_WS_ABORTED,
};

struct scv_ws_conn;

/* A whole text message, valid UTF-8, not NUL-terminated; msg is valid during the call only.
 * None is delivered once we sent or queued a close. The callback may send and close, but
 * must not free the connection. */
typedef void (*scv_ws_text_cb)(struct scv_ws_conn *c, const char *msg, size_t len, void *user);

void scv_ws_config_default(struct scv_ws_config *cfg);

/* label: for log lines (e.g. the peer address), copied. cfg NULL: the defaults. */
int scv_ws_conn_new(const struct scv_ws_config *cfg, const char *label, int64_t now_ms,
                    scv_ws_text_cb on_text, void *user, struct scv_ws_conn **ret_conn);
void scv_ws_conn_free(struct scv_ws_conn *c);

/* Received bytes (after the handshake's). Always consumes all of them; bytes that arrive
 * after the connection stopped reading are dropped. 0 or -ENOMEM (then ABORTED). */
int scv_ws_conn_feed(struct scv_ws_conn *c, const void *data, size_t len, int64_t now_ms);

/* The transport hit EOF or an error: ABORTED unless already CLOSED. */
void scv_ws_conn_eof(struct scv_ws_conn *c, int64_t now_ms);

/*
 * Queues a text message (must be valid UTF-8). -EINVAL bad UTF-8, -EPIPE not OPEN,
 * -ENOBUFS the send queue would pass max_send_queue: the connection is then ABORTED (a
 * reader that slow is dropped, not buffered for), -ENOMEM.
 */
int scv_ws_conn_send_text(struct scv_ws_conn *c, const char *msg, size_t len);

/* Starts the close handshake: code 1000..4999 (not 1004-1006, 1015), reason UTF-8 of at most
 * 123 bytes. -EINVAL, or -EPIPE when a close was already sent. */
int scv_ws_conn_close(struct scv_ws_conn *c, uint16_t code, const char *reason, int64_t now_ms);

/* Sends a ping now (the timer sends them on its own every ping_interval_ms). */
int scv_ws_conn_ping(struct scv_ws_conn *c, int64_t now_ms);

/* Runs the timers: pings, missed pongs, the close wait. Call at scv_ws_conn_deadline(). */
void scv_ws_conn_tick(struct scv_ws_conn *c, int64_t now_ms);

/* When scv_ws_conn_tick() must run next; INT64_MAX when never. */
int64_t scv_ws_conn_deadline(const struct scv_ws_conn *c);

/*
 * Hands over the bytes to write, as one malloc'd buffer the caller frees: 0, or -EAGAIN when
 * there are none. The caller reports each buffer's length with scv_ws_conn_written() once the
 * transport wrote it, so that bytes in flight count against max_send_queue.
 */
int scv_ws_conn_take_output(struct scv_ws_conn *c, uint8_t **ret_buf, size_t *ret_len);
void scv_ws_conn_written(struct scv_ws_conn *c, size_t len);

/* Bytes not yet written: held here, queued in wslay, and taken but not reported written. */
size_t scv_ws_conn_pending(const struct scv_ws_conn *c);

enum scv_ws_state scv_ws_conn_state(const struct scv_ws_conn *c);
const char *scv_ws_state_name(enum scv_ws_state s);
/* Close codes, 0 for none yet and 1005 for a close frame without a code: the one we sent (or
 * queued), and the peer's. */
uint16_t scv_ws_conn_code_sent(const struct scv_ws_conn *c);
uint16_t scv_ws_conn_code_received(const struct scv_ws_conn *c);
/* Why the connection ended or is ending, a static string ("" while OPEN). */
const char *scv_ws_conn_why(const struct scv_ws_conn *c);
/* Pongs received, for tests and metrics. */
uint64_t scv_ws_conn_pongs(const struct scv_ws_conn *c);

#endif
