/*
 * For the store's unit tests: ops to stage, a store opened or committed with its error printed
 * as a "#" line, the test's own SQLite connection beside the store's, a file system that is full
 * (SQLite's page limit), a count of the transactions SQLite commits, and a monotonic clock for
 * the figures the tests print.
 */
#ifndef SCVB_TEST_STORE_FIXTURE_H
#define SCVB_TEST_STORE_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <sqlite3.h>

#include "connector/store.h"

static inline double
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* An op of contact center "acme": kind 1 is the create (POST), any other the update (PATCH).
 * key and body are borrowed, not copied. */
static inline struct store_op
mkop(const char *key, int kind, const char *body)
{
	return (struct store_op){
	        .call_key = (char *)key,
	        .cc_name = "acme",
	        .kind = kind,
	        .method = kind == 1 ? "POST" : "PATCH",
	        .path = kind == 1 ? "/voiceCalls" : "/voiceCalls/k",
	        .body = (char *)body,
	        .created_ms = 1700000000000,
	        .attempts = 0,
	};
}

/* Stages mkop(key, 1, "{}"); returns its id, -1 if refused. */
static inline int64_t
add_op(struct store *st, const char *key)
{
	struct store_op op = mkop(key, 1, "{}");

	return store_add_op(st, &op) == 0 ? op.id : -1;
}

/* The store at path, or NULL (with the reason printed). */
static inline struct store *
open_ok(const char *path)
{
	struct store *st = NULL;
	char err[512] = "";
	int r = store_open(path, &st, err, sizeof err);

	if (r < 0) {
		printf("# store_open(%s): %d %s\n", path, r, err);
		return NULL;
	}
	return st;
}

/* store_commit()'s result, the reason printed when it failed. */
static inline int
commit_ok(struct store *st)
{
	char err[512] = "";
	int r = store_commit(st, err, sizeof err);

	if (r < 0)
		printf("# store_commit: %d %s\n", r, err);
	return r;
}

/* A plain connection of the test's own, beside the store's. */
static inline sqlite3 *
raw_open(const char *path)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

/* The first column of the first row sql returns (0 when there is no row), or -1 on error. */
static inline int64_t
raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int64_t v = 0;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? v : -1;
}

/* A full disk for db: not one page more than it has. Returns SQLite's code. */
static inline int
disk_full(sqlite3 *db)
{
	char sql[64];
	int64_t pages = raw_int(db, "PRAGMA page_count");

	if (pages < 0)
		return SQLITE_ERROR;
	snprintf(sql, sizeof sql, "PRAGMA max_page_count=%lld", (long long)pages);
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Room again after disk_full(). Returns SQLite's code. */
static inline int
disk_room(sqlite3 *db)
{
	return sqlite3_exec(db, "PRAGMA max_page_count=1073741823", NULL, NULL, NULL);
}

static int commits_seen; /* transactions committed on a connection given to count_commits() */

static int
on_commit(void *arg)
{
	(void)arg;
	commits_seen++;
	return 0; /* 0: let it commit */
}

/* Counts in commits_seen every transaction db commits from now on. */
static inline void
count_commits(sqlite3 *db)
{
	sqlite3_commit_hook(db, on_commit, NULL);
}

#endif
