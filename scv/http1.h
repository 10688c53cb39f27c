/*
 * HTTP/1.1 response parser for the HTTPS client (scv/http.c): incremental, bounded, and
 * strict about framing (RFC 9112) so that a kept connection never carries bytes of one
 * answer into the next. Private to scv/.
 */
#ifndef SCVB_SCV_HTTP1_H
#define SCVB_SCV_HTTP1_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define SCV_HTTP1_MAX_HEAD        (16 * 1024) /* status line + headers */
#define SCV_HTTP1_MAX_LINE        1024        /* chunk-size and trailer lines */
#define SCV_HTTP1_MAX_RETRY_AFTER (24 * 3600)

enum scv_http1_state {
	SCV_HTTP1_HEAD = 0,
	SCV_HTTP1_BODY_LENGTH, /* Content-Length bytes */
	SCV_HTTP1_CHUNK_SIZE,
	SCV_HTTP1_CHUNK_DATA,
	SCV_HTTP1_CHUNK_END, /* the CRLF after chunk data */
	SCV_HTTP1_TRAILERS,
	SCV_HTTP1_BODY_EOF, /* no framing: the body runs until the server closes */
	SCV_HTTP1_DONE,
};

struct scv_http1 {
	enum scv_http1_state state;
	int no_body;          /* the request was HEAD */
	size_t max_body;      /* larger bodies: -EMSGSIZE */
	int status;           /* once the head is parsed */
	int keep_alive;       /* the connection may carry another request after this one */
	char retry_after[64]; /* raw header value, "" when absent */
	char *body;           /* malloc'd, NUL-terminated; see scv_http1_take_body() */
	size_t body_len;
	size_t body_cap;
	/* private */
	long long content_length; /* -1 when absent */
	int chunked;
	unsigned long long left; /* of Content-Length or of the current chunk */
	size_t trailer_bytes;
	char head[SCV_HTTP1_MAX_HEAD];
	size_t head_len;
	char line[SCV_HTTP1_MAX_LINE];
	size_t line_len;
};

/*
 * Prepares p for one response. p is zeroed memory or a parser used before (a body it
 * still holds is freed). head_request: the request was HEAD (no body follows).
 */
void scv_http1_init(struct scv_http1 *p, size_t max_body, int head_request);

/*
 * Feeds received bytes. Returns how many were consumed: fewer than len only once the
 * response is complete (p->state == SCV_HTTP1_DONE; the rest is not part of it). Errors:
 * -EPROTO (malformed or oversized head), -EMSGSIZE (body larger than max_body; p->status
 * is set), -ENOMEM.
 */
ssize_t scv_http1_feed(struct scv_http1 *p, const char *data, size_t len);

/* The server closed the connection: 0 when that ends the response, else -ECONNRESET. */
int scv_http1_eof(struct scv_http1 *p);

/* Hands the body (NUL-terminated, possibly NULL when empty) to the caller. */
char *scv_http1_take_body(struct scv_http1 *p, size_t *ret_len);

void scv_http1_free(struct scv_http1 *p);

/*
 * Retry-After (RFC 9110 §10.2.3): delta-seconds, or an HTTP-date (IMF-fixdate, RFC 850 or
 * asctime form) turned into seconds after `now`. Clamped to [0, SCV_HTTP1_MAX_RETRY_AFTER];
 * -1 when absent or unparsable.
 */
int scv_http1_retry_after(const char *value, time_t now);

#endif
