/* tests connector/notify.c: the sd_notify datagram, path and abstract sockets */
#include "connector/notify.c"

#include <sys/time.h>

#include "tests/unit/test.h"

static int
listen_at(const char *path, int abstract)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t len;
	struct timeval tv = {.tv_sec = 2};
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	if (fd < 0)
		return -1;
	memcpy(sa.sun_path + (abstract ? 1 : 0), path, strlen(path));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) +
	                  (abstract ? 1 : 0));
	if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

TEST(path_socket)
{
	char dir[] = "/tmp/scvb-notify.XXXXXX", path[128], buf[256];
	ssize_t n;
	int fd;

	REQUIRE(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/notify", dir);
	fd = listen_at(path, 0);
	REQUIRE(fd >= 0);
	setenv("NOTIFY_SOCKET", path, 1);
	CHECK_INT(notify_send("READY=1\nSTATUS=running: %d call(s) up", 3), 0);
	n = recv(fd, buf, sizeof buf - 1, 0);
	REQUIRE(n > 0);
	buf[n] = '\0';
	CHECK_STR(buf, "READY=1\nSTATUS=running: 3 call(s) up");
	close(fd);
	unlink(path);
	rmdir(dir);
}

TEST(abstract_socket)
{
	char name[48], buf[64];
	ssize_t n;
	int fd;

	snprintf(name, sizeof name, "scvb-notify-%d", (int)getpid());
	fd = listen_at(name, 1);
	REQUIRE(fd >= 0);
	snprintf(buf, sizeof buf, "@%s", name);
	setenv("NOTIFY_SOCKET", buf, 1);
	CHECK_INT(notify_send("STOPPING=1"), 0);
	n = recv(fd, buf, sizeof buf - 1, 0);
	REQUIRE(n > 0);
	buf[n] = '\0';
	CHECK_STR(buf, "STOPPING=1");
	close(fd);
}

TEST(not_under_systemd)
{
	unsetenv("NOTIFY_SOCKET");
	CHECK_INT(notify_send("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	CHECK_INT(notify_send("READY=1"), -EINVAL);
	unsetenv("NOTIFY_SOCKET");
}

int
main(void)
{
	RUN(path_socket);
	RUN(abstract_socket);
	RUN(not_under_systemd);
	return test_summary();
}
