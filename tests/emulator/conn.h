/*
 * One client connection: TLS over a non-blocking socket, HTTP/1.1 requests sliced out of the
 * input stream and answered in order (pipelining), answers held back on a timer (latency
 * faults), a lingering close so the last answer is not lost to a reset, and idle timeouts.
 *
 * Connections are never freed while their own code runs: closing marks them dead and
 * emu_conns_reap() frees them between loop iterations.
 */
#ifndef EMU_CONN_H
#define EMU_CONN_H

#include <stdint.h>
#include <openssl/ssl.h>

/* Every object registered with epoll starts with its kind, so the loop can dispatch. */
enum emu_src {
	EMU_SRC_LISTENER = 1,
	EMU_SRC_SIGNAL,
	EMU_SRC_CONN,
};

struct emu_conn;

void emu_conns_init(int epfd, SSL_CTX *ctx);
/* Takes fd (an accepted, non-blocking socket). 0 or a negative errno-style code. */
int emu_conn_new(int fd);
void emu_conn_on_event(struct emu_conn *c, uint32_t events);

/* Monotonic ms of the next timer, or -1. */
int64_t emu_conns_next_deadline(void);
void emu_conns_run_timers(int64_t now_mono);
/* Closes connections idle for longer than the idle timeout. */
void emu_conns_sweep(int64_t now_mono);
/* Closes every connection except the one whose request is being handled right now. */
void emu_conns_close_others(void);
void emu_conns_reap(void);
void emu_conns_free(void);

void emu_conns_counts(uint64_t *ret_total, uint64_t *ret_open);
void emu_conns_reset_total(void);

#endif
