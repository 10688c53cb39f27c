#include "connector/lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int
lockfile_take(const char *store_path, int *ret_fd, char *err, size_t errlen)
{
	char path[4096];
	int fd, r;

	if ((size_t)snprintf(path, sizeof path, "%s.lock", store_path) >= sizeof path) {
		snprintf(err, errlen, "store path too long");
		return -ENAMETOOLONG;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return r;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (r == -EBUSY)
			snprintf(err, errlen, "%s is held by another scvbridge using this store",
			         path);
		else
			snprintf(err, errlen, "cannot lock %s: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

void
lockfile_release(int fd)
{
	if (fd >= 0)
		close(fd); /* closing drops the lock */
}
