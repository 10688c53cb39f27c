#include "tests/emulator/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BACKLOG        4096
#define PORT0_ATTEMPTS 32

struct addr {
	struct sockaddr_storage ss;
	socklen_t len;
	bool optional; /* ::1 of "localhost": skipped when the host has no IPv6 */
};

static struct addr addrs[EMU_LISTEN_MAX];
static size_t naddrs;
static int want_port; /* as given: 0 = any */
static int bound_port;
static int fds[EMU_LISTEN_MAX];
static size_t nfds;

static int
fail(char *err, size_t errlen, int rc, const char *what)
{
	snprintf(err, errlen, "%s", what);
	return rc;
}

static void
add_v4(const struct in_addr *a)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&addrs[naddrs].ss;

	memset(&addrs[naddrs], 0, sizeof addrs[naddrs]);
	sin->sin_family = AF_INET;
	sin->sin_addr = *a;
	addrs[naddrs++].len = sizeof *sin;
}

static void
add_v6(const struct in6_addr *a, bool optional)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&addrs[naddrs].ss;

	memset(&addrs[naddrs], 0, sizeof addrs[naddrs]);
	sin6->sin6_family = AF_INET6;
	sin6->sin6_addr = *a;
	addrs[naddrs].optional = optional;
	addrs[naddrs++].len = sizeof *sin6;
}

int
emu_listen_parse(const char *spec, char *err, size_t errlen)
{
	char host[128];
	const char *port_s;
	struct in_addr a4;
	struct in6_addr a6;
	char *end;
	long port;

	naddrs = 0;
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (!close || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof host)
			return fail(err, errlen, -EINVAL, "--listen [IPv6]:PORT is malformed");
		memcpy(host, spec + 1, (size_t)(close - spec - 1));
		host[close - spec - 1] = '\0';
		port_s = close + 2;
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return fail(err, errlen, -EINVAL, "--listen: not an IPv6 address");
		add_v6(&a6, false);
	} else {
		const char *colon = strrchr(spec, ':');

		if (!colon || (size_t)(colon - spec) >= sizeof host)
			return fail(err, errlen, -EINVAL, "--listen wants HOST:PORT");
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = '\0';
		port_s = colon + 1;
		if (strcmp(host, "localhost") == 0) {
			a4.s_addr = htonl(INADDR_LOOPBACK);
			add_v4(&a4);
			add_v6(&in6addr_loopback, true);
		} else if (inet_pton(AF_INET, host, &a4) == 1) {
			add_v4(&a4);
		} else {
			return fail(
			        err, errlen, -EINVAL,
			        "--listen HOST must be localhost, an IPv4 or an [IPv6] literal");
		}
	}
	errno = 0;
	port = strtol(port_s, &end, 10);
	if (!*port_s || *end || errno || port < 0 || port > 65535)
		return fail(err, errlen, -EINVAL, "--listen PORT must be 0..65535");
	want_port = (int)port;
	return 0;
}

static void
set_port(struct addr *a, int port)
{
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons((uint16_t)port);
}

/* A listening socket on a at port. The fd, or a negative errno. */
static int
open_one(struct addr *a, int port)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, rc;

	if (fd < 0)
		return -errno;
	/* SO_REUSEADDR lets POST /emulator/listen reopen the port despite TIME_WAIT. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (a->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	set_port(a, port);
	if (bind(fd, (struct sockaddr *)&a->ss, a->len) < 0 || listen(fd, BACKLOG) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static int
local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	return ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
	                               : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

int
emu_listen_open(char *err, size_t errlen)
{
	int rc = 0;

	if (nfds > 0)
		return 0;
	for (int attempt = 0; attempt < PORT0_ATTEMPTS; attempt++) {
		int port = bound_port ? bound_port : want_port;
		bool retry = false;

		for (size_t i = 0; i < naddrs; i++) {
			int fd = open_one(&addrs[i], port);

			if (fd == -EADDRNOTAVAIL || fd == -EAFNOSUPPORT) {
				if (addrs[i].optional)
					continue;
			}
			if (fd < 0) {
				rc = fd;
				/* A port picked on the first address may be taken on the next. */
				retry = port != 0 && bound_port == 0 && want_port == 0 &&
				        fd == -EADDRINUSE;
				break;
			}
			fds[nfds++] = fd;
			if (port == 0) {
				port = local_port(fd);
				if (port < 0) {
					rc = port;
					break;
				}
			}
		}
		if (nfds > 0 && rc == 0) {
			bound_port = port;
			return 0;
		}
		emu_listen_close();
		if (!retry)
			break;
		rc = 0;
	}
	if (rc == 0)
		rc = -EADDRNOTAVAIL;
	snprintf(err, errlen, "cannot listen on port %d: %s", bound_port ? bound_port : want_port,
	         strerror(-rc));
	return rc;
}

void
emu_listen_close(void)
{
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	nfds = 0;
}

size_t
emu_listen_count(void)
{
	return nfds;
}

int
emu_listen_fd(size_t i)
{
	return i < nfds ? fds[i] : -1;
}

int
emu_listen_port(void)
{
	return bound_port;
}

int
emu_listen_write_ready(const char *path)
{
	char tmp[4096], line[16];
	int fd, n, rc = 0;

	n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof tmp)
		return -ENAMETOOLONG;
	n = snprintf(line, sizeof line, "%d\n", bound_port);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, line, (size_t)n) != n)
		rc = errno ? -errno : -EIO;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}
