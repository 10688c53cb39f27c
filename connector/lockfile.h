/*
 * One process per store: the daemon holds an exclusive lock on "<store.path>.lock" for its
 * whole life, and the operator verbs that rewrite the store take it too, so they refuse to run
 * beside a live daemon instead of racing it.
 */
#ifndef SCVB_LOCKFILE_H
#define SCVB_LOCKFILE_H

#include <stddef.h>

/* 0 and the held descriptor, -EBUSY when another process holds it, or another -errno. */
int lockfile_take(const char *store_path, int *ret_fd, char *err, size_t errlen);
void lockfile_release(int fd);

#endif
