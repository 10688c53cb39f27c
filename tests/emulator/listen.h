/*
 * The listening sockets: "localhost" means 127.0.0.1 and ::1 on the same port (::1 is
 * skipped where the host has no IPv6); an IPv4 or [IPv6] literal means just that address.
 * Port 0 picks a free port once; later re-openings reuse it.
 */
#ifndef EMU_LISTEN_H
#define EMU_LISTEN_H

#include <stddef.h>

#define EMU_LISTEN_MAX 2

/* Parses HOST:PORT. 0, or -EINVAL with the reason in err. */
int emu_listen_parse(const char *spec, char *err, size_t errlen);
/* Opens every listening socket (non-blocking). 0, or a negative errno-style code. */
int emu_listen_open(char *err, size_t errlen);
void emu_listen_close(void);
size_t emu_listen_count(void); /* open sockets */
int emu_listen_fd(size_t i);
int emu_listen_port(void); /* the bound port, or 0 before the first open */
/* Writes "PORT\n" to path through a temporary file and rename(2). 0 or -errno. */
int emu_listen_write_ready(const char *path);

#endif
