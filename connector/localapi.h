/*
 * The daemon's local HTTP API, on the daemon's libuv loop:
 *
 *   GET  /livez    200 {"status":"ok"}. No token: it only says that the loop turns.
 *   GET  /readyz   200 {"status":"ready"}, or 503 {"status":"degraded","reason":"..."}, as
 *                  the ready callback says. No token.
 *   POST /v1/calls/{vendorCallKey}/recording   with Authorization: Bearer <token> and a body
 *                  {"url": "https://...", "duration": 123}: where the call's recording is.
 *                  202 {"status":"accepted"}; 400 {"error":"<field>: ..."}; 401 (with
 *                  WWW-Authenticate: Bearer); 404 unknown call; 413 body over 16 KiB; 500.
 *
 * HEAD works wherever GET does; an unknown path gets 404, a known one with the wrong method 405
 * with Allow. HTTP/1.1 with keep-alive and pipelining, one request at a time per connection
 * (the server is scv/httpd.h's).
 *
 * Plain HTTP, no TLS, on purpose: the API listens on loopback by default, where its traffic
 * never leaves the host, and its only secret is the bearer token of the one route that
 * changes anything. TLS would add a certificate to provision and rotate for traffic that
 * crosses no network. To reach the API from another host, put a TLS-terminating proxy or an
 * SSH tunnel in front of a loopback listener rather than binding a routable address.
 *
 * Bounds: request head 8 KiB, body 16 KiB, 64 connections (more get 503), 30 s idle between
 * requests, 10 s for a whole request to arrive or a response to be read. The token is kept
 * only as its SHA-256, compared in constant time, and never logged.
 *
 * Everything runs on the loop thread; the callbacks are called from it and must not block.
 */
#ifndef SCVB_CONNECTOR_LOCALAPI_H
#define SCVB_CONNECTOR_LOCALAPI_H

#include <stddef.h>
#include <uv.h>

#define LOCALAPI_MAX_BODY       16384 /* 16 KiB; larger: 413 */
#define LOCALAPI_MAX_CONNS      64    /* more at once: 503 */
#define LOCALAPI_MAX_KEY        64    /* vendorCallKey: 1-64 of [A-Za-z0-9-] */
#define LOCALAPI_MAX_REASON     200   /* longest readiness reason sent */
#define LOCALAPI_DEFAULT_LISTEN "127.0.0.1:8088"

struct localapi;

struct localapi_ops {
	/*
	 * Readiness. Returns 0 when ready; otherwise non-zero, having written a short reason
	 * (NUL-terminated, at most len bytes) for the 503 answer. NULL: always ready.
	 */
	int (*ready)(char *reason, size_t len, void *arg);
	/*
	 * A recording for the call `key` (1-64 of [A-Za-z0-9-]) at `url` (an http(s) URL of at
	 * most 1000 printable ASCII characters), `duration_s` seconds long or -1 when not
	 * given. Both strings live for the call only. Returns 0 (202), -ENOENT when no such
	 * call is known (404) or another negative errno (500). NULL: the route answers 404.
	 */
	int (*on_recording)(const char *key, const char *url, long duration_s, void *arg);
};

/*
 * Starts the API on loop, listening on `listen`, an address literal and a port:
 * "127.0.0.1:8088" or "[::1]:8088" (port 0: any free port, see localapi_port(); NULL:
 * LOCALAPI_DEFAULT_LISTEN). It binds exactly that address, and nothing else. bearer_token (16
 * to 1024 characters of A-Z a-z 0-9 - . _ ~ + / and trailing =) is required when
 * ops->on_recording is set, and is not kept. ops is copied; arg is passed to every callback.
 *
 * Returns 0 and the API in *ret_api, or a negative errno with a reason in err: -EINVAL (bad
 * address or token), -EADDRINUSE, -EADDRNOTAVAIL, -EACCES (from bind()), -ENOMEM, -EIO (the
 * server could not start: is libwebsockets-evlib-uv installed?). On a failure after the
 * server's libraries started, which a bind race alone can cause, their handles close on the
 * loop's next turns by themselves.
 */
int localapi_start(uv_loop_t *loop, const char *listen, const char *bearer_token,
                   const struct localapi_ops *ops, void *arg, struct localapi **ret_api, char *err,
                   size_t errlen);

/*
 * What localapi_start() checks first, with no side effect (for --check): 0, or -EINVAL with a
 * reason in err. token may be NULL when the recording route is not wanted.
 */
int localapi_check(const char *listen, const char *bearer_token, char *err, size_t errlen);

/* The port listened on (the one chosen when started with port 0). */
int localapi_port(const struct localapi *api);

/*
 * Stops listening, closes every connection and tears the API down. No callback of ops is
 * made once this has been called, and it may be called from one of them. `done` (may be NULL)
 * runs on the loop once the server's handles are closed (see scv_httpd_close()); the API is
 * freed before `done`.
 */
void localapi_close(struct localapi *api, void (*done)(void *arg), void *arg);

#endif
