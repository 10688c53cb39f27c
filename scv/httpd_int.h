/*
 * Private to scv/httpd.c (the server: listener, connections, their states and bounds) and
 * scv/httpd_parse.c (the bounded request parser and the answers' text).
 */
#ifndef SCVB_SCV_HTTPD_INT_H
#define SCVB_SCV_HTTPD_INT_H

#include <stddef.h>

#include "scv/httpd.h"

#define STR_(x) #x
#define STR(x)  STR_(x)

/* The length of the request head at the start of buf (through its empty line), or 0. */
size_t scv_httpd_head_end(const char *buf, size_t len);

/*
 * Parses the request head buf[0..len), which ends with its empty line, into q; what q points
 * to stays in buf, NUL-terminated in place. A Content-Length over max_body is given as
 * max_body + 1. Returns 0, or the status to answer with and why.
 */
int scv_httpd_parse_head(char *buf, size_t len, size_t max_body, struct scv_httpd_req *q,
                         const char **ret_why);

/*
 * Writes the answer into out (cap bytes): the status line, our header fields, extra (more
 * header lines, each ending CRLF; may be NULL), "Connection: close" when *close_after is set,
 * and body (a JSON text) unless head_only, though its Content-Length is given either way.
 * Returns its length. An answer that does not fit becomes a bare 500 and sets *close_after.
 */
size_t scv_httpd_format_response(char *out, size_t cap, int status, const char *extra,
                                 const char *body, int head_only, int *close_after);

#endif
