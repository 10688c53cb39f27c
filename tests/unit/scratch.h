/*
 * A scratch directory for a unit-test binary that works on real files: scratch_setup() makes
 * $TMPDIR/scvb-NAME-XXXXXX (or under /tmp), path_of() names a file in it, scratch_teardown()
 * removes its files and the directory.
 */
#ifndef SCVB_TEST_SCRATCH_H
#define SCVB_TEST_SCRATCH_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

static inline const char *
path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
	return buf;
}

/* 0, or -1 with errno set (mkdtemp). */
static inline int
scratch_setup(const char *name)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof dir, "%s/scvb-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
	return mkdtemp(dir) ? 0 : -1;
}

static inline void
scratch_teardown(void)
{
	char path[600];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

#endif
