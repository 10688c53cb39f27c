/*
 * Private to scv/http.c (the client: targets, requests, dispatch, timer), scv/http_conn.c
 * (one connection: resolve, TLS, one request at a time) and scv/http_sock.c (its TCP socket:
 * a libwebsockets raw connection on the loop). See http.c for the model and the layering.
 */
#ifndef SCVB_SCV_HTTP_INT_H
#define SCVB_SCV_HTTP_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "scv/http.h"
#include "connector/util.h"
#include "scv/http1.h"

/* OpenSSL's and libwebsockets' objects, opaque here: no header under scv/ includes either. */
struct ssl_st;
struct ssl_ctx_st;
struct bio_st;
struct lws;
struct scv_lws;
struct scv_lws_vhost;

#define DEFAULT_TIMEOUT_MS 10000
#define MAX_CONNS          8     /* per target */
#define CONNECT_TIMEOUT_MS 10000 /* TCP + TLS set-up, whether or not a request waits */
#define IDLE_TIMEOUT_MS    30000 /* a kept connection unused this long is closed */
#define MAX_REQUEST_BODY   (1024 * 1024)

struct scv_link {
	struct scv_link *prev, *next;
};

static inline void
scv_link_init(struct scv_link *l)
{
	l->prev = l->next = l;
}

static inline int
scv_link_empty(const struct scv_link *head)
{
	return head->next == head;
}

static inline void
scv_link_add_tail(struct scv_link *head, struct scv_link *l)
{
	l->prev = head->prev;
	l->next = head;
	head->prev->next = l;
	head->prev = l;
}

static inline void
scv_link_del(struct scv_link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	scv_link_init(l);
}

/* One TLS client context per distinct CA bundle (NULL: the system store). */
struct scv_http_ca {
	char *file;
	struct ssl_ctx_st *ctx;
};

struct scv_http_target {
	struct scv_http *http;
	char *host;      /* DNS name or address literal, without brackets */
	char *authority; /* Host header: host, [v6], plus ":port" unless 443 */
	char *base_path; /* "" or "/telephony/v1" */
	char port[6];
	int ip_literal;
	struct scv_http_ca *ca;
	struct scv_link conns;
	struct scv_link queue; /* requests waiting for a connection */
	size_t n_live;         /* connections not closing */
};

enum scv_http_rq_state {
	REQ_QUEUED, /* in target->queue */
	REQ_BOUND,  /* waiting for the connection opened for it */
	REQ_ACTIVE, /* sent (or being sent) on req->conn */
	REQ_DONE,   /* in http->done, callback not yet made */
};

struct scv_http_rq {
	struct scv_link all;   /* http->reqs while pending, http->done once finished */
	struct scv_link queue; /* target->queue while REQ_QUEUED */
	struct scv_http *http;
	struct scv_http_target *t;
	enum scv_http_rq_state state;
	struct scv_hconn *conn;
	char *wire; /* the whole request: head and body */
	size_t wire_len;
	int head_method;
	int written; /* handed to the socket: the server may have seen it */
	unsigned timeout_ms;
	uint64_t deadline;
	scv_http_cb cb;
	void *arg;
	struct scv_http_resp resp;
	char *body; /* response body, owned */
	char detail[192];
};

enum scv_hconn_state {
	CONN_RESOLVING = 0,
	CONN_CONNECTING,
	CONN_HANDSHAKE,
	CONN_IDLE,
	CONN_BUSY,
	CONN_CLOSING,
};

struct scv_hconn {
	struct scv_link link; /* target->conns */
	struct scv_http *http;
	struct scv_http_target *t;
	enum scv_hconn_state state;
	unsigned id;
	uv_getaddrinfo_t gai;
	int gai_pending;
	/*
	 * The socket: a libwebsockets raw client connection (http_sock.c). wsi is set while lws
	 * may call back about it with c as user data; lws's last word on it (RAW_CLOSE or
	 * CLIENT_CONNECTION_ERROR) clears it, and only then may c be freed.
	 */
	struct lws *wsi;
	int in_lws;               /* inside an lws callback for c: close by returning -1 to lws */
	int connecting_sync;      /* inside lws_client_connect_via_info() for c */
	int sync_gone;            /* lws's last word on the socket came inside that call */
	int connect_due;          /* the last address failed: try the next one from the loop */
	struct addrinfo *ai;      /* from getaddrinfo */
	struct addrinfo *ai_next; /* the next address to try */
	int connect_error;
	char peer[64]; /* address:port of the last attempt, for messages */
	struct ssl_st *ssl;
	struct bio_st *rbio, *wbio; /* owned by ssl */
	struct scv_http_rq *req;
	uint64_t deadline; /* set-up deadline, or idle expiry */
	unsigned served;
	struct scv_http1 parser;
};

struct scv_http {
	uv_loop_t *loop;
	uv_timer_t timer;   /* every deadline */
	uint64_t timer_due; /* 0: not armed */
	uv_idle_t kick;     /* runs work that lws callbacks leave for the loop (scv_http_kick) */
	int closing;
	int timer_closed;
	int kick_closed;
	int lws_released;             /* the shared lws context is done with us */
	struct scv_lws *lws;          /* the loop's libwebsockets context (lws_loop.c) */
	struct scv_lws_vhost *lws_vh; /* our client vhost on it */
	int lws_depth;                /* lws callbacks on the stack */
	unsigned char *wbuf;          /* LWS_PRE + SCV_HSOCK_WRITE_CHUNK: one write to a socket */
	struct scv_http_target **targets;
	size_t n_targets;
	struct scv_http_ca **cas;
	size_t n_cas;
	struct scv_link reqs; /* pending */
	struct scv_link done; /* finished, callback due */
	size_t n_pending;     /* reqs + done */
	size_t n_conns;       /* allocated */
	unsigned next_conn_id;
	void (*done_cb)(void *arg);
	void *done_arg;
	char rbuf[64 * 1024];
};

static inline int
scv_hconn_setting_up(const struct scv_hconn *c)
{
	return c->state == CONN_RESOLVING || c->state == CONN_CONNECTING ||
	       c->state == CONN_HANDSHAKE;
}

#define SCV_HSOCK_WRITE_CHUNK (64 * 1024) /* ciphertext handed to one lws_write() */

/* http.c */
void scv_http_arm(struct scv_http *h, uint64_t due);
void scv_http_kick(struct scv_http *h);
void scv_http_req_complete(struct scv_http_rq *r, int status, int error, const char *detail);
void scv_http_req_detach(struct scv_http_rq *r);
void scv_http_settle(struct scv_http *h);

/* http_conn.c: the connection, including what http_sock.c reports about its socket */
struct scv_hconn *scv_hconn_new(struct scv_http_target *t, int *ret_error);
void scv_hconn_send(struct scv_hconn *c);
void scv_hconn_close(struct scv_hconn *c, int error, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void scv_hconn_connect_next(struct scv_hconn *c);
int scv_hconn_maybe_free(struct scv_hconn *c);
void scv_hconn_on_connected(struct scv_hconn *c);
void scv_hconn_on_rx(struct scv_hconn *c, const void *data, size_t len);
size_t scv_hconn_take_output(struct scv_hconn *c, unsigned char *buf, size_t cap);
void scv_hconn_on_written(struct scv_hconn *c, int error);
void scv_hconn_on_sock_closed(struct scv_hconn *c);

/* http_sock.c: libwebsockets on the loop */
int scv_hsock_init(struct scv_http *h, char *err, size_t errlen);
int scv_hsock_connect(struct scv_hconn *c, const struct sockaddr *sa, socklen_t salen);
int scv_hsock_want_write(struct scv_hconn *c);
void scv_hsock_kill(struct scv_hconn *c);
void scv_hsock_shutdown(struct scv_http *h);

#endif
