/*
 * The daemon's one libwebsockets context, on its libuv loop, shared by every lws user of
 * scv/: the HTTPS client adds client connections to it, HTTP servers add raw listeners. lws
 * drives the loop as a foreign libuv loop. The context is made by the first user of a loop
 * and torn down once, when the last one lets go (lws's two-call close, run from the loop);
 * scv/LWS-NOTES.md says why it is done this way. Private to scv/.
 *
 * Each user makes a vhost of its own (a client side, or a listener) with a callback: lws's
 * raw-socket callbacks for that vhost's sockets reach it, with the user's arg. Once the user
 * has closed its vhost, its callback is never made again.
 *
 * Everything runs on the loop thread; one thread's loops only.
 */
#ifndef SCVB_SCV_LWS_LOOP_H
#define SCVB_SCV_LWS_LOOP_H

#include <stddef.h>
#include <uv.h>

/* libwebsockets' objects, opaque here: users that need them include its header. */
struct lws;
struct lws_context;

struct scv_lws;       /* the loop's context */
struct scv_lws_vhost; /* one user's vhost on it */

/* Most bytes one read callback (LWS_CALLBACK_RAW_RX) brings. */
#define SCV_LWS_RX_MAX (32 * 1024)

/*
 * A vhost owner's callback: lws's protocol callback for one of the vhost's sockets (reason is
 * an enum lws_callback_reasons; user is the wsi's user data, NULL before the owner set it),
 * with the owner's arg. Returns what lws expects: non-zero closes the socket (or refuses it,
 * for LWS_CALLBACK_FILTER_NETWORK_CONNECTION).
 */
typedef int (*scv_lws_cb)(void *arg, struct lws *wsi, int reason, void *user, void *in, size_t len);

/*
 * The context on loop, made when it has none (loaded at run time: libwebsockets-evlib_uv.so,
 * Debian package libwebsockets-evlib-uv; lws's errors and warnings go to the daemon's log).
 * Each success is matched by one scv_lws_release(). 0, or -ENOMEM / -EIO with a reason in err.
 */
int scv_lws_acquire(uv_loop_t *loop, struct scv_lws **ret_lws, char *err, size_t errlen);

/*
 * Lets go of the context. The caller must have closed its sockets and its vhosts first.
 * When others still hold it, `done` (may be NULL) runs before this returns; from the last
 * holder, the context is torn down from the loop and `done` runs once lws has no handle left
 * on it (so that the loop's owner may then uv_loop_close() it). Not from an lws callback.
 */
void scv_lws_release(struct scv_lws *l, void (*done)(void *arg), void *arg);

/* The lws context, for calls on it (lws_cancel_service()); NULL once torn down. */
struct lws_context *scv_lws_context(const struct scv_lws *l);

/* A vhost that listens on nothing, for client connections (scv_lws_connect()). */
int scv_lws_client(struct scv_lws *l, scv_lws_cb cb, void *arg, struct scv_lws_vhost **ret_vh,
                   char *err, size_t errlen);

/*
 * Starts a raw TCP client connection from vh to ip:port (a numeric address, so that lws's
 * blocking resolver returns at once; host is what lws names it by), with user as the wsi's
 * user data. Returns the wsi, or NULL when lws gave up at once; lws may call back inside the
 * call (the callers' bookkeeping must allow it).
 */
struct lws *scv_lws_connect(struct scv_lws_vhost *vh, const char *ip, int port, const char *host,
                            void *user);

/*
 * A listener on fd, a listening TCP socket (non-blocking; taken over: closed by
 * scv_lws_vhost_close(), or here on failure). Its connections are lws raw sockets of the
 * vhost, reported to cb: first LWS_CALLBACK_FILTER_NETWORK_CONNECTION with no wsi and the new
 * descriptor in `in` (non-zero refuses it: it is closed), then LWS_CALLBACK_RAW_ADOPT and the
 * rest. 0, or -ENOMEM / -EIO with a reason in err.
 */
int scv_lws_listen(struct scv_lws *l, int fd, scv_lws_cb cb, void *arg,
                   struct scv_lws_vhost **ret_vh, char *err, size_t errlen);

/*
 * No more callbacks for vh's sockets; a listener's socket is closed before this returns. vh's
 * sockets should be closed first: any left are closed by lws as they next call back.
 */
void scv_lws_vhost_close(struct scv_lws_vhost *vh);

#endif
