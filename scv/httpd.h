/*
 * A bounded HTTP/1.1 server on the daemon's libuv loop, for the daemon's own endpoints (the
 * local API; later the agent endpoint). It listens on one address, takes connections as
 * libwebsockets raw sockets on the loop's shared lws context (no request ever reaches lws's
 * own HTTP server: scv/LWS-NOTES.md), parses each request with its own parser under fixed
 * bounds, and hands every complete request to its user's route callback, which answers it.
 *
 * Per connection: one request at a time, keep-alive and pipelining (reading pauses while an
 * answer is out, so a pipelined request waits in the buffer), HEAD answered without a body,
 * "Expect: 100-continue", a lingering close after a last answer. Bounds: head, header count,
 * body, connections (more get 503 before they are read), idle time between requests, the
 * time for a whole request to arrive or an answer to be read. Answers are JSON.
 *
 * A route may take a connection over once it has answered (scv_httpd_take_raw(): a 101
 * Switching Protocols, say): once that answer is out, the connection's bytes go to the
 * taker's handler, and what it writes goes out as it is.
 *
 * Everything runs on the loop thread; callbacks are called from it and must not block.
 */
#ifndef SCVB_SCV_HTTPD_H
#define SCVB_SCV_HTTPD_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct scv_httpd;
struct scv_httpd_conn;

#define SCV_HTTPD_MAX_FIELDS 64 /* header fields in one request; more: 431 */

/* The bounds of a server; a field left 0 takes the default shown. */
struct scv_httpd_limits {
	size_t max_head;     /* request line and header fields: 8 KiB (414 / 431) */
	size_t max_body;     /* 16 KiB (413) */
	unsigned max_conns;  /* 64 at once (more: 503) */
	unsigned idle_ms;    /* 30 s with no request begun since the last answer */
	unsigned request_ms; /* 10 s for a request's head and body, or to read an answer */
	unsigned linger_ms;  /* 2 s for the peer's EOF after our last answer */
};

/* One request, as the route sees it. Strings are NUL-terminated in the connection's buffer
 * and live until the request is answered (or the connection taken over). */
struct scv_httpd_req {
	char method[17];
	int http10;
	char *target;              /* path and query, as sent */
	const char *authorization; /* the value; NULL when absent (a repeated one is a 400) */
	long content_length;       /* 0 when absent */
	int close;                 /* Connection: close, or HTTP/1.0 */
	int expect_continue;
	const char *body; /* content_length bytes, once the body is in */
	unsigned n_fields;
	struct {
		const char *name, *value; /* value without surrounding blanks */
	} fields[SCV_HTTPD_MAX_FIELDS];
	/* the parser's own */
	int has_length, has_host, has_te;
};

/*
 * The route: answers q on c with one of scv_httpd_respond*() (or takes c over). Called once
 * the body is in, with body_ready 1. When the client waits for "100 Continue" it is called
 * first with body_ready 0: it then makes only the checks that need no body and returns 0
 * when they pass without answering (the server sends the 100 and calls again once the body
 * is in); otherwise it answers and returns 1. With body_ready 1 the return value is ignored.
 */
typedef int (*scv_httpd_route_cb)(struct scv_httpd_conn *c, struct scv_httpd_req *q, int body_ready,
                                  void *arg);

/*
 * Starts a server on loop, listening on `listen`: an address literal and a port,
 * "127.0.0.1:8088" or "[::1]:8088" (port 0: any free port, see scv_httpd_port()); it binds
 * exactly that address. name prefixes its log lines ("api"). limits may be NULL (the
 * defaults) and is copied; arg is passed to route.
 *
 * Returns 0 and the server in *ret_srv, or a negative errno with a reason in err: -EINVAL (bad
 * address), -EADDRINUSE, -EADDRNOTAVAIL, -EACCES (from bind()), -ENOMEM, -EIO (libwebsockets
 * could not start: is libwebsockets-evlib-uv installed?). On a failure after libwebsockets
 * started, its handles close on the loop's next turns by themselves.
 */
int scv_httpd_start(uv_loop_t *loop, const char *listen, const char *name,
                    const struct scv_httpd_limits *limits, scv_httpd_route_cb route, void *arg,
                    struct scv_httpd **ret_srv, char *err, size_t errlen);

/* What scv_httpd_start() checks of listen, with no side effect: 0, or -EINVAL and why. */
int scv_httpd_check_listen(const char *listen, char *err, size_t errlen);

/* The port listened on (the one chosen when started with port 0). */
int scv_httpd_port(const struct scv_httpd *srv);

/* Whether the server listens on a loopback address. */
int scv_httpd_loopback(const struct scv_httpd *srv);

/*
 * Stops listening, lets answers being written leave (at most half a second), closes every
 * connection and tears the server down. No route call is made once this has been called, and
 * it may be called from one. `done` (may be NULL) runs on the loop once the server's libuv
 * handles are closed, and libwebsockets' too when no other user holds the loop's context
 * (see scv/lws_loop.h); the server is freed before `done`.
 */
void scv_httpd_close(struct scv_httpd *srv, void (*done)(void *arg), void *arg);

/* ---- answers (from the route) ---- */

/*
 * Answers c's request with status, extra header lines (each ending CRLF; may be NULL) and
 * body, a JSON text. The connection closes afterwards when the request asked to, when its
 * body was not read, or when the server is closing.
 */
void scv_httpd_respond(struct scv_httpd_conn *c, int status, const char *extra, const char *body);

/* The same with {"error":"<why>"} as the body. */
void scv_httpd_respond_error(struct scv_httpd_conn *c, int status, const char *extra,
                             const char *why);

/* An error after which nothing more of c's input can be trusted: closes once it is out. */
void scv_httpd_respond_fatal(struct scv_httpd_conn *c, int status, const char *why);

/* s as the inside of a JSON string, cut to fit cap (>= 8); non-ASCII bytes become '?'. */
void scv_httpd_json_escape(char *out, size_t cap, const char *s);

/* A header field of q by name (case-insensitive): its first value, or NULL. */
const char *scv_httpd_field(const struct scv_httpd_req *q, const char *name);

/* ---- taking a connection over ---- */

/* What becomes of a taken connection's bytes. Each returns 0, or non-zero to close c. */
struct scv_httpd_raw_ops {
	/* bytes that came after the request (already buffered ones first) */
	int (*on_rx)(struct scv_httpd_conn *c, const void *data, size_t len, void *arg);
	/* c is gone (closed by either side, or the server closing); not called again */
	void (*on_close)(struct scv_httpd_conn *c, void *arg);
};

/*
 * From the route, once it has answered (a 101, say): when that answer is out, c's further
 * bytes go to ops (those that came after the request first), and c has no HTTP deadline any
 * more (the taker keeps its own). -EINVAL when c has no answer yet or its answer will close
 * it. ops is copied.
 */
int scv_httpd_take_raw(struct scv_httpd_conn *c, const struct scv_httpd_raw_ops *ops, void *arg);

/* Queues bytes to a taken connection: 0, -ENOMEM, or -ENOTCONN when it is closing. */
int scv_httpd_raw_write(struct scv_httpd_conn *c, const void *data, size_t len);

/* Closes a taken connection once what was queued is out; on_close follows. */
void scv_httpd_raw_close(struct scv_httpd_conn *c);

/* ---- bearer tokens (RFC 6750) ---- */

#define SCV_HTTPD_TOKEN_MIN 16   /* shortest token accepted */
#define SCV_HTTPD_TOKEN_MAX 1024 /* longest */

/* A token, kept only as its SHA-256 and compared in constant time. */
struct scv_httpd_token {
	unsigned char hash[32];
};

/* Whether t is a b64token of SCV_HTTPD_TOKEN_MIN to _MAX characters: A-Z a-z 0-9 - . _ ~ + /
 * then any '='. */
int scv_httpd_token_valid(const char *t);

/* Keeps token's hash in *tok (the token itself is not kept): 0, -EINVAL (not valid), -ENOMEM. */
int scv_httpd_token_set(struct scv_httpd_token *tok, const char *token);

/* Wipes *tok. */
void scv_httpd_token_clear(struct scv_httpd_token *tok);

/*
 * Checks an Authorization value (may be NULL): 0 when it is "Bearer <the token>" (the scheme
 * in any case, blanks around the token allowed); 1 when it holds no bearer token; 2 when a
 * wrong one. Nothing about the token leaks through the time it takes.
 */
int scv_httpd_bearer_check(const struct scv_httpd_token *tok, const char *authorization);

#endif
