/*
 * The HTTPS side: listening sockets, TLS (OpenSSL, TLS 1.2 minimum), HTTP/1.1 connections with
 * keep-alive and pipelining, held answers (latency faults) on timers, idle timeouts, and the
 * signals that stop the emulator. Single-threaded: one epoll loop, non-blocking sockets.
 */
#ifndef EMU_SERVER_H
#define EMU_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct emu_server_config {
	const char *listen;     /* "localhost:PORT", "IPv4:PORT" or "[IPv6]:PORT"; PORT 0 = any */
	const char *cert;       /* PEM certificate chain */
	const char *key;        /* PEM private key */
	const char *ready_file; /* written with "PORT\n" once listening; may be NULL */
};

/* Listens and prepares TLS. 0, or a negative errno-style code with the reason in err. */
int emu_server_init(const struct emu_server_config *cfg, char *err, size_t errlen);
/* Serves until SIGTERM or SIGINT. 0, or a negative errno-style code on a fatal error. */
int emu_server_run(void);
void emu_server_free(void);

/*
 * accept=false closes the listening sockets and every connection (the current one after its
 * answer); for_ms > 0 listens again by itself after that long. accept=true listens again on
 * the same port (SIGUSR1 does the same). 0, or a negative errno-style code when listening
 * again failed (it is retried every second).
 */
int emu_server_set_accept(bool accept, int64_t for_ms);

void emu_server_counts(uint64_t *ret_total, uint64_t *ret_open);
void emu_server_reset_counts(void);

#endif
