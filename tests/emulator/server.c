#include "tests/emulator/server.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/emulator/conn.h"
#include "tests/emulator/listen.h"
#include "tests/emulator/util.h"

#define MAX_EVENTS      256
#define SWEEP_MS        1000
#define ACCEPT_PAUSE_MS 100
#define REOPEN_RETRY_MS 1000

struct watched {
	enum emu_src src;
	int fd;
};

static int epfd = -1;
static SSL_CTX *ctx;
static struct watched sig = {EMU_SRC_SIGNAL, -1};
static struct watched listeners[EMU_LISTEN_MAX];
static size_t nlisteners;
static const char *ready_file;
static bool stopping;
static int64_t accept_resume_at = -1; /* monotonic ms; accepting paused after EMFILE */
static int64_t reopen_at = -1;        /* monotonic ms; listen again (forMs or retry) */

static int
fail(char *err, size_t errlen, int rc, const char *what)
{
	unsigned long e = ERR_peek_last_error();

	snprintf(err, errlen, "%s%s%s", what, e ? ": " : "", e ? ERR_reason_error_string(e) : "");
	return rc;
}

/* Offers http/1.1 through ALPN when the client asks; never h2. */
static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
            unsigned int inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	for (unsigned int i = 0; i < inlen; i += 1u + in[i]) {
		if (in[i] == 8 && i + 9 <= inlen && memcmp(in + i + 1, "http/1.1", 8) == 0) {
			*out = in + i + 1;
			*outlen = 8;
			return SSL_TLSEXT_ERR_OK;
		}
	}
	return SSL_TLSEXT_ERR_NOACK;
}

static int
tls_init(const char *cert, const char *key, char *err, size_t errlen)
{
	static const unsigned char sid_ctx[] = "scv-emulator";

	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return fail(err, errlen, -ENOMEM, "SSL_CTX_new");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		return fail(err, errlen, -EINVAL, "cannot load --cert");
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		return fail(err, errlen, -EINVAL, "cannot load --key");
	if (SSL_CTX_check_private_key(ctx) != 1)
		return fail(err, errlen, -EINVAL, "--key does not match --cert");
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                              SSL_MODE_RELEASE_BUFFERS);
	/* A client that closes without close_notify is just a closed connection here. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	return 0;
}

static int
watch(struct watched *w, uint32_t events)
{
	struct epoll_event e = {.events = events, .data.ptr = w};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, w->fd, &e) < 0 ? -errno : 0;
}

static int
start_listening(char *err, size_t errlen)
{
	int rc = emu_listen_open(err, errlen);

	if (rc < 0)
		return rc;
	nlisteners = emu_listen_count();
	for (size_t i = 0; i < nlisteners; i++) {
		listeners[i].src = EMU_SRC_LISTENER;
		listeners[i].fd = emu_listen_fd(i);
		if ((rc = watch(&listeners[i], EPOLLIN)) < 0) {
			snprintf(err, errlen, "epoll_ctl: %s", strerror(-rc));
			return rc;
		}
	}
	accept_resume_at = -1;
	return 0;
}

static void
stop_listening(void)
{
	for (size_t i = 0; i < nlisteners; i++)
		epoll_ctl(epfd, EPOLL_CTL_DEL, listeners[i].fd, NULL);
	nlisteners = 0;
	emu_listen_close();
	accept_resume_at = -1;
}

static void
set_listener_events(uint32_t events)
{
	for (size_t i = 0; i < nlisteners; i++) {
		struct epoll_event e = {.events = events, .data.ptr = &listeners[i]};

		epoll_ctl(epfd, EPOLL_CTL_MOD, listeners[i].fd, &e);
	}
}

int
emu_server_init(const struct emu_server_config *cfg, char *err, size_t errlen)
{
	sigset_t mask;
	int rc;

	/* Writing to a socket the client closed must be an error code, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	if ((rc = emu_listen_parse(cfg->listen, err, errlen)) < 0)
		return rc;
	if ((rc = tls_init(cfg->cert, cfg->key, err, errlen)) < 0)
		return rc;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return fail(err, errlen, -errno, "epoll_create1");
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sig.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sig.fd < 0 || watch(&sig, EPOLLIN) < 0)
		return fail(err, errlen, -errno, "signalfd");
	emu_conns_init(epfd, ctx);
	if ((rc = start_listening(err, errlen)) < 0)
		return rc;
	ready_file = cfg->ready_file;
	if (ready_file && (rc = emu_listen_write_ready(ready_file)) < 0) {
		snprintf(err, errlen, "cannot write --ready-file %s: %s", ready_file,
		         strerror(-rc));
		return rc;
	}
	return 0;
}

static void
accept_all(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			if (emu_conn_new(fd) < 0)
				emu_log_error("out of memory for a new connection");
			continue;
		}
		switch (errno) {
		case EINTR:
		case ECONNABORTED:
			continue;
		case EAGAIN:
			return;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			/* Level-triggered epoll would spin: stop listening for a moment. */
			emu_log_error("accept: %s; pausing %d ms", strerror(errno),
			              ACCEPT_PAUSE_MS);
			set_listener_events(0);
			accept_resume_at = emu_mono_ms() + ACCEPT_PAUSE_MS;
			return;
		default:
			emu_log_error("accept: %s", strerror(errno));
			return;
		}
	}
}

int
emu_server_set_accept(bool accept, int64_t for_ms)
{
	char err[256];
	int rc;

	if (!accept) {
		stop_listening();
		emu_conns_close_others();
		reopen_at = for_ms > 0 ? emu_mono_ms() + for_ms : -1;
		emu_log_info("listening stopped%s", for_ms > 0 ? " for a while" : "");
		return 0;
	}
	reopen_at = -1;
	if (nlisteners > 0)
		return 0;
	rc = start_listening(err, sizeof err);
	if (rc < 0) {
		emu_log_error("%s; retrying", err);
		stop_listening();
		reopen_at = emu_mono_ms() + REOPEN_RETRY_MS;
		return rc;
	}
	emu_log_info("listening again on port %d", emu_listen_port());
	return 0;
}

static void
on_signal(void)
{
	struct signalfd_siginfo si;

	while (read(sig.fd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGUSR1)
			(void)emu_server_set_accept(true, 0);
		else
			stopping = true;
	}
}

static int
poll_timeout(int64_t now, int64_t next_sweep)
{
	int64_t next = next_sweep, t;

	if ((t = emu_conns_next_deadline()) >= 0 && t < next)
		next = t;
	if (accept_resume_at >= 0 && accept_resume_at < next)
		next = accept_resume_at;
	if (reopen_at >= 0 && reopen_at < next)
		next = reopen_at;
	return next <= now ? 0 : (int)(next - now);
}

int
emu_server_run(void)
{
	struct epoll_event evs[MAX_EVENTS];
	int64_t now = emu_mono_ms(), next_sweep = now + SWEEP_MS;

	while (!stopping) {
		int n = epoll_wait(epfd, evs, MAX_EVENTS, poll_timeout(now, next_sweep));

		if (n < 0 && errno != EINTR) {
			emu_log_error("epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			struct watched *w = evs[i].data.ptr;

			switch (w->src) {
			case EMU_SRC_LISTENER:
				/* Skip events of listeners closed earlier in this batch. */
				if ((size_t)(w - listeners) < nlisteners)
					accept_all(w->fd);
				break;
			case EMU_SRC_SIGNAL:
				on_signal();
				break;
			case EMU_SRC_CONN:
				emu_conn_on_event(evs[i].data.ptr, evs[i].events);
				break;
			}
		}
		now = emu_mono_ms();
		emu_conns_run_timers(now);
		if (accept_resume_at >= 0 && now >= accept_resume_at) {
			accept_resume_at = -1;
			set_listener_events(EPOLLIN);
		}
		if (reopen_at >= 0 && now >= reopen_at)
			(void)emu_server_set_accept(true, 0);
		if (now >= next_sweep) {
			emu_conns_sweep(now);
			next_sweep = now + SWEEP_MS;
		}
		emu_conns_reap();
	}
	return 0;
}

void
emu_server_counts(uint64_t *ret_total, uint64_t *ret_open)
{
	emu_conns_counts(ret_total, ret_open);
}

void
emu_server_reset_counts(void)
{
	emu_conns_reset_total();
}

void
emu_server_free(void)
{
	emu_conns_free();
	stop_listening();
	if (sig.fd >= 0)
		close(sig.fd);
	sig.fd = -1;
	if (epfd >= 0)
		close(epfd);
	epfd = -1;
	SSL_CTX_free(ctx);
	ctx = NULL;
}
