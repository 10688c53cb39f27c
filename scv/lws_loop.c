/*
 * The loop's one libwebsockets context (see lws_loop.h). A context is made with no vhost of
 * its own (EXPLICIT_VHOSTS); each user adds one, whose lws user data is a record of ours
 * (struct scv_lws_vhost) naming the user's callback. Every vhost has the same one protocol,
 * whose callback (on_lws()) finds the record and passes the call on, or, once the user has
 * closed it, refuses and closes what still comes. Records live as long as the context,
 * because lws keeps pointers to them until it is freed.
 *
 * Listeners are ours, not lws's: a socket we bind and watch on the loop, whose connections we
 * accept and hand to lws as raw sockets of the owner's vhost (lws_adopt_descriptor_vhost()).
 * So bind errors have their errno, an address is bound exactly as given, and a closed listener
 * frees its port at once, none of which lws 4.1.6's own listeners do (LWS-NOTES.md).
 *
 * The teardown, once the last holder has let go, runs from a timer of ours, never from an lws
 * callback: lws_context_destroy() once (lws closes every socket and starts closing its own
 * libuv handles), the loop turns until none of lws's handles is left, then
 * lws_context_destroy() again, which frees the context; then the records, and the holder's
 * `done`. scv/LWS-NOTES.md has the lws 4.1.6 facts this relies on.
 */
#include "scv/lws_loop.h"
#include "connector/util.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "connector/log.h"
#include "scv/lws_log.h"

#define PROTOCOL_NAME "scvbridge-raw"
#define TEARDOWN_MS   2000 /* longest wait for libwebsockets to close its handles */
#define ACCEPT_BURST  64   /* connections accepted per wake-up, at most */

enum lws_state {
	LWS_LIVE,      /* held by one user or more */
	LWS_CLOSING,   /* let go of: lws_context_destroy() is due from the timer */
	LWS_DRAINING,  /* destroyed once: waiting for lws's handles to close */
	LWS_ABANDONED, /* lws kept handles past TEARDOWN_MS: what they may name is kept too */
};

static const char *const state_names[] = {"live", "closing", "draining", "abandoned"};

struct scv_lws_vhost {
	struct scv_lws_vhost *next; /* l->vhosts */
	struct scv_lws *l;
	scv_lws_cb cb; /* NULL once closed */
	void *arg;
	struct lws_vhost *vh;
	int listen_fd;  /* a listener's socket (ours, not lws's), or -1 */
	uv_poll_t poll; /* its readiness, while listen_fd >= 0 */
};

struct scv_lws {
	struct scv_lws *next; /* the live contexts, one per loop */
	uv_loop_t *loop;
	struct lws_context *ctx; /* NULL once lws has freed it */
	enum lws_state state;
	unsigned refs;
	unsigned listeners_closing; /* poll handles whose close callback is still due */
	struct scv_lws_vhost *vhosts;
	uv_timer_t timer; /* the teardown */
	uint64_t teardown_deadline;
	void (*done_cb)(void *arg);
	void *done_arg;
};

/* The contexts not yet let go of, by loop: the loop thread's alone. */
static struct scv_lws *live;

static int on_lws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len);

static const struct lws_protocols protocols[] = {
        {PROTOCOL_NAME, on_lws, 0, 0, 0, NULL, 0},
        {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void
lws_enter_state(struct scv_lws *l, enum lws_state state)
{
	log_debug(NULL, "scv lws: context %s -> %s", state_names[l->state], state_names[state]);
	l->state = state;
}

static int
on_lws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct lws_vhost *vh = wsi ? lws_get_vhost(wsi) : NULL;
	struct scv_lws_vhost *v = vh ? lws_vhost_user(vh) : NULL;

	if (!v)
		return 0; /* context notices, and vhosts being made */
	if (v->cb)
		return v->cb(v->arg, wsi, (int)reason, user, in, len);
	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: /* its server has closed: refused */
	case LWS_CALLBACK_RAW_ADOPT:
	case LWS_CALLBACK_RAW_RX:
	case LWS_CALLBACK_RAW_WRITEABLE:
	case LWS_CALLBACK_RAW_CONNECTED:
	case LWS_CALLBACK_TIMER:
		return -1;
	default:
		return 0;
	}
}

/* ---- the context ---- */

int
scv_lws_acquire(uv_loop_t *loop, struct scv_lws **ret_lws, char *err, size_t errlen)
{
	struct lws_context_creation_info ci;
	void *loops[1] = {loop};
	struct scv_lws *l;

	for (l = live; l; l = l->next) {
		if (l->loop == loop) {
			l->refs++;
			*ret_lws = l;
			return 0;
		}
	}
	l = calloc(1, sizeof *l);
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	l->loop = loop;
	scv_lws_log_setup();
	memset(&ci, 0, sizeof ci);
	/* lws loads libwebsockets-evlib_uv.so; no vhost but the users' */
	ci.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	ci.foreign_loops = loops;
	ci.port = CONTEXT_PORT_NO_LISTEN;
	ci.pt_serv_buf_size = SCV_LWS_RX_MAX; /* one read brings at most this much */
	ci.pcontext = &l->ctx;                /* lws sets it to NULL when it frees the context */
	/* no LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT: lws leaves OpenSSL alone; TLS is ours */
	l->ctx = lws_create_context(&ci);
	if (!l->ctx) {
		snprintf(err, errlen,
		         "cannot start libwebsockets on the loop (is libwebsockets-evlib-uv "
		         "installed?)");
		free(l);
		return -EIO;
	}
	uv_timer_init(loop, &l->timer); /* on Unix it only fills in the struct */
	l->refs = 1;
	l->next = live;
	live = l;
	*ret_lws = l;
	return 0;
}

struct lws_context *
scv_lws_context(const struct scv_lws *l)
{
	return l->ctx;
}

struct handle_count {
	const void *owner;
	unsigned n;
};

static void
count_owned(uv_handle_t *handle, void *arg)
{
	struct handle_count *hc = arg;

	if (handle->data == hc->owner)
		hc->n++;
}

/*
 * lws's libuv handles still on the loop: its backend sets data = the context on each of its
 * per-context handles and closes them only after every socket's handle.
 */
static unsigned
lws_handles(const struct scv_lws *l)
{
	struct handle_count hc = {l->ctx, 0};

	uv_walk(l->loop, count_owned, &hc);
	return hc.n;
}

static void
on_timer_closed(uv_handle_t *handle)
{
	struct scv_lws *l = container_of((uv_timer_t *)handle, struct scv_lws, timer);
	void (*done)(void *) = l->done_cb;
	void *arg = l->done_arg;

	if (l->state != LWS_ABANDONED) {
		while (l->vhosts) {
			struct scv_lws_vhost *v = l->vhosts;
			l->vhosts = v->next;
			free(v);
		}
		free(l);
	}
	if (done)
		done(arg);
}

static void
on_teardown(uv_timer_t *timer)
{
	struct scv_lws *l = container_of(timer, struct scv_lws, timer);
	unsigned n;

	if (l->state == LWS_CLOSING) {
		lws_enter_state(l, LWS_DRAINING);
		l->teardown_deadline = uv_now(l->loop) + TEARDOWN_MS;
		lws_context_destroy(l->ctx);
		return;
	}
	n = lws_handles(l) + l->listeners_closing;
	if (n && uv_now(l->loop) < l->teardown_deadline)
		return;
	if (n) {
		log_err(NULL,
		        "scv lws: libwebsockets still has %u handle(s) on the loop %d ms after "
		        "closing; leaving them",
		        n, TEARDOWN_MS);
		lws_enter_state(l, LWS_ABANDONED);
	} else {
		lws_context_destroy(l->ctx); /* frees it and sets l->ctx to NULL */
		if (l->ctx)
			log_err(NULL, "scv lws: libwebsockets did not free its context");
	}
	l->ctx = NULL;
	uv_timer_stop(timer);
	uv_close((uv_handle_t *)timer, on_timer_closed);
}

void
scv_lws_release(struct scv_lws *l, void (*done)(void *arg), void *arg)
{
	struct scv_lws **pp;

	if (--l->refs) {
		if (done)
			done(arg);
		return;
	}
	for (pp = &live; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	}
	l->done_cb = done;
	l->done_arg = arg;
	lws_enter_state(l, LWS_CLOSING);
	uv_timer_start(&l->timer, on_teardown, 0, 1);
}

/* ---- vhosts ---- */

static struct scv_lws_vhost *
vhost_new(struct scv_lws *l, scv_lws_cb cb, void *arg)
{
	struct scv_lws_vhost *v = calloc(1, sizeof *v);

	if (!v)
		return NULL;
	v->l = l;
	v->listen_fd = -1;
	v->cb = cb;
	v->arg = arg;
	/* kept until the context goes, whatever happens: lws may name it until then */
	v->next = l->vhosts;
	l->vhosts = v;
	return v;
}

/* The settings every vhost shares. */
static void
vhost_info(struct lws_context_creation_info *ci, struct scv_lws_vhost *v, const char *name)
{
	memset(ci, 0, sizeof *ci);
	ci->vhost_name = name;
	ci->protocols = protocols;
	ci->user = v;
	/*
	 * Never a proxy. Left NULL, lws would take one from the environment's http_proxy and
	 * tunnel our sockets through it; ":0" names no host at port 0, which lws takes as none.
	 */
	ci->http_proxy_address = ":0";
}

int
scv_lws_client(struct scv_lws *l, scv_lws_cb cb, void *arg, struct scv_lws_vhost **ret_vh,
               char *err, size_t errlen)
{
	struct lws_context_creation_info ci;
	struct scv_lws_vhost *v = vhost_new(l, cb, arg);

	if (!v) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	vhost_info(&ci, v, "scvbridge-client");
	ci.port = CONTEXT_PORT_NO_LISTEN;
	v->vh = lws_create_vhost(l->ctx, &ci);
	if (!v->vh) {
		v->cb = NULL;
		snprintf(err, errlen, "libwebsockets cannot make a client vhost");
		return -EIO;
	}
	*ret_vh = v;
	return 0;
}

struct lws *
scv_lws_connect(struct scv_lws_vhost *v, const char *ip, int port, const char *host, void *user)
{
	struct lws_client_connect_info i;

	memset(&i, 0, sizeof i);
	i.context = v->l->ctx;
	i.vhost = v->vh;
	i.address = ip;
	i.port = port;
	i.host = host;
	i.path = "/";
	i.method = "RAW";
	i.local_protocol_name = PROTOCOL_NAME;
	i.ssl_connection = 0; /* TLS is the user's: see LWS-NOTES.md */
	i.userdata = user;
	return lws_client_connect_via_info(&i);
}

/* The listener is readable: takes the connections waiting, as lws raw sockets of v. */
static void
on_listen_ready(uv_poll_t *poll, int status, int events)
{
	struct scv_lws_vhost *v = container_of(poll, struct scv_lws_vhost, poll);
	lws_sock_file_fd_type desc;

	(void)events;
	if (status < 0)
		return;
	for (int i = 0; i < ACCEPT_BURST && v->listen_fd >= 0; i++) {
		int fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return; /* none left (or EMFILE: tried again on the next wake-up) */
		/* the owner may refuse it before lws sees it, as lws's own filter would */
		if (!v->cb || v->cb(v->arg, NULL, LWS_CALLBACK_FILTER_NETWORK_CONNECTION, NULL,
		                    (void *)(intptr_t)fd, 0)) {
			close(fd);
			continue;
		}
		desc.sockfd = fd;
		/* raw (no LWS_ADOPT_HTTP): lws's HTTP server never sees it; on failure lws
		 * closes fd */
		if (!lws_adopt_descriptor_vhost(v->vh, LWS_ADOPT_SOCKET, desc, PROTOCOL_NAME, NULL))
			log_debug(NULL, "scv lws: libwebsockets did not adopt a connection");
	}
}

int
scv_lws_listen(struct scv_lws *l, int fd, scv_lws_cb cb, void *arg, struct scv_lws_vhost **ret_vh,
               char *err, size_t errlen)
{
	struct lws_context_creation_info ci;
	struct scv_lws_vhost *v = vhost_new(l, cb, arg);

	if (!v) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* the vhost listens on nothing: its sockets are the ones we accept and hand over */
	vhost_info(&ci, v, "scvbridge-server");
	ci.port = CONTEXT_PORT_NO_LISTEN;
	v->vh = lws_create_vhost(l->ctx, &ci);
	if (!v->vh) {
		v->cb = NULL;
		close(fd);
		snprintf(err, errlen, "libwebsockets cannot make a server vhost");
		return -EIO;
	}
	if (uv_poll_init(l->loop, &v->poll, fd) < 0) {
		v->cb = NULL;
		close(fd);
		snprintf(err, errlen, "cannot watch the listening socket");
		return -EIO;
	}
	v->listen_fd = fd;
	uv_poll_start(&v->poll, UV_READABLE, on_listen_ready);
	*ret_vh = v;
	return 0;
}

static void
on_listener_closed(uv_handle_t *handle)
{
	struct scv_lws_vhost *v = container_of((uv_poll_t *)handle, struct scv_lws_vhost, poll);

	v->l->listeners_closing--;
}

void
scv_lws_vhost_close(struct scv_lws_vhost *v)
{
	v->cb = NULL;
	v->arg = NULL;
	if (v->listen_fd >= 0) {
		/* the socket closes now (the port is free on return), its handle on the loop */
		uv_close((uv_handle_t *)&v->poll, on_listener_closed);
		v->l->listeners_closing++;
		close(v->listen_fd);
		v->listen_fd = -1;
	}
}
