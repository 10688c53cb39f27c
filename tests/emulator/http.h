/*
 * HTTP/1.1 request heads and responses, as much as the emulator needs: Content-Length bodies
 * only (Transfer-Encoding is refused with 411), bounded heads and bodies, keep-alive and
 * pipelining (the caller slices the input stream with head_len + content_length).
 */
#ifndef EMU_HTTP_H
#define EMU_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "tests/emulator/util.h"

#define EMU_HTTP_MAX_HEAD (16 * 1024)
#define EMU_HTTP_MAX_BODY (1024 * 1024)
/* emu_http_parse_head(): more bytes are needed. */
#define EMU_HTTP_INCOMPLETE 1

struct emu_req {
	char *head;      /* malloc'd copy of the head, split in place; freed by emu_req_clear() */
	size_t head_len; /* bytes of the head in the input stream, final empty line included */
	const char *method;
	const char *path;         /* raw (still percent-encoded) path, without the query */
	const char *query;        /* after '?', or "" */
	int minor;                /* HTTP/1.<minor> */
	const char *content_type; /* these three are NULL when absent */
	const char *authorization;
	const char *provider; /* Telephony-Provider-Name */
	bool expect_continue;
	bool keep_alive;
	size_t content_length;
	const char *body; /* set by the server once the whole body is there; not NUL-terminated */
	size_t body_len;
};

/*
 * Parses the request head at the start of (p, len). Returns 0 with req filled, or
 * EMU_HTTP_INCOMPLETE, or an HTTP status >= 400 for a request that must be refused (the
 * connection is then closed, as the stream can no longer be sliced reliably).
 */
int emu_http_parse_head(const char *p, size_t len, struct emu_req *req);
void emu_req_clear(struct emu_req *req);

const char *emu_http_reason(int status);

/* Appends a whole response with a JSON body. retry_after < 0: no Retry-After header. */
int emu_http_render(struct emu_buf *out, int status, const char *body, size_t body_len,
                    int retry_after, bool keep_alive);

/*
 * Percent-decodes (s, len) into a new NUL-terminated string; '+' is decoded to a space only
 * when plus_is_space (query strings). NULL on a bad escape, an encoded NUL or ENOMEM.
 */
char *emu_url_decode(const char *s, size_t len, bool plus_is_space);

/* The decoded value of query parameter `name`, malloc'd, or NULL when absent or bad. */
char *emu_query_get(const char *query, const char *name);

#endif
