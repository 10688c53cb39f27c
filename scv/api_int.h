/*
 * Private to scv/api.c (the server: libwebsockets on the loop, connections, start and close),
 * scv/api_route.c (the routes and their handlers) and scv/api_http.c (the bounded HTTP/1.1
 * request parser and the answers' text). See api.c for the model and what it works around.
 */
#ifndef SCVB_SCV_API_INT_H
#define SCVB_SCV_API_INT_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "scv/api.h"

/* libwebsockets' context, opaque here: only api.c includes its header. */
struct lws_context;
/* One connection: api.c's, opaque to the other files. */
struct scv_api_conn;

#define MAX_HEAD    8192  /* request line and header fields */
#define MAX_HEADERS 64    /* header fields in one request */
#define AUTH_LOG_MS 60000 /* at most one warning a minute about refusals */

#define STR_(x) #x
#define STR(x)  STR_(x)

/* A request head, as scv_api_parse_head() fills it in. */
struct scv_api_req {
	char method[17];
	int http10;
	char *target;        /* NUL-terminated, in the connection's input buffer */
	char *authorization; /* likewise; NULL when absent */
	long content_length; /* 0 when absent; SCV_API_MAX_BODY + 1 for anything larger */
	int has_length, has_host, has_te;
	int close; /* Connection: close, or HTTP/1.0 */
	int expect_continue;
};

struct scv_api {
	uv_loop_t *loop;
	struct lws_context *lws; /* NULL once libwebsockets has freed it */
	uv_timer_t timer;        /* the teardown */
	struct scv_api_ops ops;
	void *arg;
	unsigned char token_hash[32]; /* SHA-256 of the bearer token; the token is not kept */
	int port;
	char host[INET6_ADDRSTRLEN]; /* lws keeps a pointer to it */
	char where[INET6_ADDRSTRLEN + 8];
	struct scv_api_conn *conns;
	unsigned n_conns, next_id;
	int closing, destroying;
	int abandoned; /* lws kept handles past TEARDOWN_MS: what they may name is kept too */
	uint64_t drain_deadline, teardown_deadline;
	uint64_t auth_logged_at;
	unsigned auth_quiet, busy_quiet;
	uint64_t busy_logged_at;
	void (*done_cb)(void *arg);
	void *done_arg;
};

static inline uint64_t
scv_api_now_ms(void)
{
	return uv_hrtime() / 1000000;
}

/* api.c: answers on a connection */
void scv_api_respond(struct scv_api_conn *c, int status, const char *extra, const char *body);
void scv_api_respond_error(struct scv_api_conn *c, int status, const char *extra, const char *why);
void scv_api_respond_fatal(struct scv_api_conn *c, int status, const char *why);

/*
 * api_route.c: answers the request q on c, whose body (q->content_length bytes) is at content
 * once body_ready. With body_ready 0 (before a 100 Continue) it only makes the checks that
 * need no body, and returns 0 when they pass without answering; otherwise it answers and
 * returns 1.
 */
int scv_api_route(struct scv_api *api, struct scv_api_conn *c, struct scv_api_req *q,
                  const char *content, int body_ready);

/* api_http.c */
void scv_api_json_escape(char *out, size_t cap, const char *s);
size_t scv_api_head_end(const char *buf, size_t len);
int scv_api_parse_head(char *buf, size_t len, struct scv_api_req *q, const char **ret_why);
size_t scv_api_format_response(char *out, size_t cap, int status, const char *extra,
                               const char *body, int head_only, int *close_after);

#endif
