/*
 * The HTTPS client's sockets (the layering is explained at the top of http.c): each
 * connection's TCP socket is a libwebsockets "raw" client connection on the daemon's libuv
 * loop, made on the loop's shared lws context (lws_loop.c) from a client vhost of this
 * client's. lws owns the socket: connect, reads, writes, close. What it carries are TLS
 * records that http_conn.c makes and reads with OpenSSL over memory BIOs; nothing here knows
 * TLS or HTTP.
 *
 * lws calls on_lws() from inside its own service. There a connection only records what
 * happened (http_conn.c); whatever may reach the user, open another socket or free a
 * connection is left to the loop (scv_http_kick()). A connection closes its socket from
 * inside its own callback by returning -1 to lws, and from outside with a synchronous kill.
 * Either way lws's last word on the socket is RAW_CLOSE, or CLIENT_CONNECTION_ERROR when it
 * never connected; from then on lws calls back about it with no user data.
 */
#include "scv/http_int.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "connector/log.h"
#include "scv/lws_loop.h"

/* lws's last word on c's socket: lws keeps the wsi a little longer, but not c. */
static void
sock_gone(struct scv_hconn *c, struct lws *wsi)
{
	lws_set_wsi_user(wsi, NULL);
	c->wsi = NULL;
	if (c->connecting_sync)
		c->sync_gone = 1; /* scv_hsock_connect() reports it */
	else
		scv_hconn_on_sock_closed(c);
}

static void
on_writeable(struct scv_hconn *c, struct lws *wsi)
{
	unsigned char *buf = c->http->wbuf + LWS_PRE;
	size_t n = scv_hconn_take_output(c, buf, SCV_HSOCK_WRITE_CHUNK);
	int w;

	if (!n)
		return;
	/* one write per WRITEABLE: lws keeps what the socket does not take and sends it first */
	w = lws_write(wsi, buf, n, LWS_WRITE_RAW);
	scv_hconn_on_written(c, w < 0 || (size_t)w != n ? -ECONNRESET : 0);
}

static int
on_lws(void *arg, struct lws *wsi, int reason, void *user, void *in, size_t len)
{
	struct scv_hconn *c = user;
	struct scv_http *h = arg;

	switch (reason) {
	case LWS_CALLBACK_RAW_CONNECTED:
	case LWS_CALLBACK_RAW_RX:
	case LWS_CALLBACK_RAW_WRITEABLE:
	case LWS_CALLBACK_RAW_CLOSE:
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
	case LWS_CALLBACK_WSI_DESTROY:
		break;
	default:
		return 0; /* context, vhost and poll notices: their user is not a connection */
	}
	if (!c)
		return 0; /* a socket we have let go of */
	c->in_lws = 1;
	h->lws_depth++;
	switch (reason) {
	case LWS_CALLBACK_RAW_CONNECTED: /* TCP is up */
		c->wsi = wsi;
		scv_hconn_on_connected(c);
		break;
	case LWS_CALLBACK_RAW_RX:
		if (c->state != CONN_CLOSING)
			scv_hconn_on_rx(c, in, len);
		break;
	case LWS_CALLBACK_RAW_WRITEABLE:
		if (c->state != CONN_CLOSING)
			on_writeable(c, wsi);
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		/* in: lws's reason ("closed before established", "Unable to connect", ...) */
		log_debug(NULL, "scv http: connection %u to %s (%s): %.*s", c->id, c->t->authority,
		          c->peer, in ? (int)len : 0, in ? (const char *)in : "");
		sock_gone(c, wsi);
		break;
	case LWS_CALLBACK_RAW_CLOSE:
		sock_gone(c, wsi);
		break;
	default: /* WSI_DESTROY with c still attached: lws freed it without a last word */
		if (wsi == c->wsi)
			sock_gone(c, wsi);
		break;
	}
	h->lws_depth--;
	c->in_lws = 0;
	scv_http_kick(h);
	/* closed from inside this callback: lws closes the socket now and says RAW_CLOSE */
	if (c->wsi == wsi && c->state == CONN_CLOSING && !c->connecting_sync)
		return -1;
	return 0;
}

/* ---- API to http.c and http_conn.c ---- */

int
scv_hsock_init(struct scv_http *h, char *err, size_t errlen)
{
	int rc;

	h->wbuf = malloc(LWS_PRE + SCV_HSOCK_WRITE_CHUNK);
	if (!h->wbuf) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = scv_lws_acquire(h->loop, &h->lws, err, errlen);
	if (rc < 0)
		goto out_free_wbuf;
	rc = scv_lws_client(h->lws, on_lws, h, &h->lws_vh, err, errlen);
	if (rc < 0)
		goto out_release;
	return 0;

out_release:
	scv_lws_release(h->lws, NULL, NULL); /* a context made for us closes on the loop */
	h->lws = NULL;
out_free_wbuf:
	free(h->wbuf);
	h->wbuf = NULL;
	return rc;
}

/*
 * Whether the kernel has a route to sa: 0, or the errno a TCP connect() would fail with at
 * once (ENETUNREACH, EACCES, EINVAL, EAFNOSUPPORT...). A connected UDP socket asks the same
 * route lookup and sends nothing.
 *
 * Why: when connect() fails at once, lws 4.1.6 frees the connection but leaves its libuv
 * poll handle on the loop, never closed (a leak, and uv_loop_close() then fails). An IPv6
 * address on a host without an IPv6 route does exactly that; such addresses are refused
 * here, with their errno, and never reach lws.
 */
static int
route_check(const struct sockaddr *sa, socklen_t salen)
{
	int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0)
		return -errno;
	if (connect(fd, sa, salen) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/*
 * Starts a TCP connection for c to sa. 0: lws calls back (RAW_CONNECTED, or
 * CLIENT_CONNECTION_ERROR); or a negative errno when it failed at once, with no callback
 * to come. Not from an lws callback.
 */
int
scv_hsock_connect(struct scv_hconn *c, const struct sockaddr *sa, socklen_t salen)
{
	struct scv_http *h = c->http;
	char ip[NI_MAXHOST], port[NI_MAXSERV];
	struct lws *wsi;
	int rc;

	/* numeric (with a link-local address's interface), so lws's getaddrinfo() returns at
	 * once */
	rc = getnameinfo(sa, salen, ip, sizeof ip, port, sizeof port,
	                 NI_NUMERICHOST | NI_NUMERICSERV);
	if (rc != 0)
		return -EINVAL;
	rc = route_check(sa, salen);
	if (rc < 0)
		return rc;
	c->connecting_sync = 1;
	c->sync_gone = 0;
	wsi = scv_lws_connect(h->lws_vh, ip, atoi(port), c->t->host, c);
	c->connecting_sync = 0;
	if (!wsi || c->sync_gone) {
		/* lws gave up inside the call; whatever it called back, it is done with c */
		c->wsi = NULL;
		return -ECONNREFUSED;
	}
	c->wsi = wsi;
	if (c->state == CONN_CLOSING) /* closed by a callback made inside the call */
		scv_hsock_kill(c);
	return 0;
}

/* Asks lws for a RAW_WRITEABLE on c's socket. 0 or a negative errno. */
int
scv_hsock_want_write(struct scv_hconn *c)
{
	if (!c->wsi)
		return -ENOTCONN;
	return lws_callback_on_writable(c->wsi) < 0 ? -EIO : 0;
}

/*
 * Closes c's socket. Outside lws callbacks lws closes it now and calls back (RAW_CLOSE or
 * CLIENT_CONNECTION_ERROR) before this returns, so c->wsi is NULL afterwards. From c's own
 * callback the callback returns -1 instead (on_lws()).
 */
void
scv_hsock_kill(struct scv_hconn *c)
{
	struct scv_http *h = c->http;

	if (!c->wsi || c->in_lws || c->connecting_sync)
		return;
	if (h->lws_depth) {
		/* inside another socket's callback, where lws must not close this one: later */
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		lws_cancel_service(scv_lws_context(h->lws));
		return;
	}
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

static void
on_released(void *arg)
{
	struct scv_http *h = arg;

	h->lws_released = 1;
	scv_http_settle(h); /* may free h */
}

/*
 * Lets go of libwebsockets once every socket is closed; then scv_http_settle() frees the
 * client, once the shared context has no handle of ours left (see scv_lws_release()). Not
 * from an lws callback.
 */
void
scv_hsock_shutdown(struct scv_http *h)
{
	struct scv_lws *l = h->lws;

	scv_lws_vhost_close(h->lws_vh);
	h->lws_vh = NULL;
	h->lws = NULL;
	scv_lws_release(l, on_released, h);
}
