/*
 * The HTTPS client: HTTP/1.1 over TLS (OpenSSL) over libwebsockets raw sockets, all on the
 * daemon's libuv loop; scv/http.c explains the layering. Verifies the server certificate and
 * host name, TLS 1.2 or newer, reuses connections for every method (HTTP/1.1 keep-alive:
 * requests to one host go one at a time over a small pool of kept connections, up to 8),
 * bounds response bodies, and times every request out.
 *
 * Everything here runs on the loop thread. Sockets are written with send(MSG_NOSIGNAL);
 * libwebsockets also sets SIGPIPE to ignored, process-wide, when a client is made.
 */
#ifndef SCVB_SCV_HTTP_H
#define SCVB_SCV_HTTP_H

#include <stddef.h>
#include <uv.h>

#define SCV_HTTP_MAX_RESPONSE (64 * 1024) /* larger bodies: the request fails with -EMSGSIZE */

struct scv_http;

struct scv_http_req {
	int target;                /* from scv_http_target_add() */
	const char *method;        /* "POST", "PATCH", "GET" */
	const char *path;          /* appended to the target's base path, e.g. "/voiceCalls" */
	const char *authorization; /* full header value, e.g. "Bearer eyJ..."; NULL = none */
	const char *provider_name; /* Telephony-Provider-Name; NULL = none */
	const char *body;          /* NULL = no body */
	size_t body_len;
	unsigned timeout_ms; /* whole request; 0 = 10000 */
};

struct scv_http_resp {
	int status;        /* HTTP status, or 0 when no complete response arrived (with
			      -EMSGSIZE: the status of the oversized answer) */
	int error;         /* 0, or negative errno: -ETIMEDOUT, -ECONNREFUSED, -ECONNRESET,
			      -EPROTO (TLS or HTTP error), -EMSGSIZE, -ECANCELED (closing),
			      -EHOSTUNREACH (name not resolved), other connect() errnos */
	int maybe_sent;    /* failed after the request may have reached the server: ambiguous */
	int retry_after_s; /* Retry-After in seconds, -1 when absent */
	const char *body;  /* response body (NUL-terminated), valid during the callback only */
	size_t body_len;
	const char *detail; /* with an error: one line saying what failed (e.g. the certificate
			       check), for the caller's log; NULL otherwise. Callback only. */
};

typedef void (*scv_http_cb)(const struct scv_http_resp *resp, void *arg);

/*
 * Makes a client on loop, with its own libwebsockets context on that loop (loaded at run time:
 * libwebsockets-evlib_uv.so, Debian package libwebsockets-evlib-uv). 0, or -ENOMEM / -EIO
 * with a reason in err. libwebsockets' errors and warnings go to the daemon's log.
 */
int scv_http_new(uv_loop_t *loop, struct scv_http **ret_http, char *err, size_t errlen);

/*
 * Registers a base URL "https://host[:port]/path" with its CA bundle (NULL = system store).
 * Returns 0 and the target id, or -EINVAL (not https, bad URL) with a reason in err.
 */
int scv_http_target_add(struct scv_http *http, const char *base_url, const char *ca_file,
                        int *ret_target, char *err, size_t errlen);

/*
 * Sends a request; copies what it needs from req. cb is called exactly once, later, on the
 * loop — also when the client closes first (error -ECANCELED). Returns 0 or -ENOMEM/-EINVAL
 * (-ECANCELED once scv_http_close() has been called; cb is then never called).
 */
int scv_http_send(struct scv_http *http, const struct scv_http_req *req, scv_http_cb cb, void *arg);

/* Requests not yet completed (queued or in flight). */
size_t scv_http_pending(const struct scv_http *http);

/*
 * Cancels what is pending (callbacks get -ECANCELED) and tears the client down; `done` (may be
 * NULL) runs on the loop once every libuv handle it used is closed, libwebsockets' included,
 * so that the loop's owner may then uv_loop_close() it. The struct is freed before `done`.
 */
void scv_http_close(struct scv_http *http, void (*done)(void *arg), void *arg);

#endif
