/*
 * tests store_commit() (connector/store_write.c) on real SQLite files in a scratch directory:
 * one transaction (and one fsync) per commit whatever its size, and batches that survive
 * failed commits (disk full, busy, read-only, fsync error, a failed statement) and a retry
 * over rows an earlier attempt left on disk.
 *
 * A pass-through SQLite VFS registered as the default counts fsyncs and can make them fail.
 */
#include "connector/store.c"

#include "tests/unit/connector/fault_vfs.h"
#include "tests/unit/connector/pending_ids.h"
#include "tests/unit/connector/store_fixture.h"
#include "tests/unit/scratch.h"
#include "tests/unit/test.h"

/* ---- tests --------------------------------------------------------------------------- */

TEST(one_transaction_and_one_fsync_per_commit)
{
	char path[300], body[400];
	struct store *st;
	int syncs1 = 0, syncs100 = 0, commits1 = 0, commits100 = 0, rounds = 20;
	double ms1 = 0, ms100 = 0, t;
	int64_t changes, ids[2100];
	long n;

	memset(body, 'x', sizeof body - 1);
	body[sizeof body - 1] = '\0';
	st = open_ok(path_of(path, sizeof path, "txn.db"));
	REQUIRE(st);
	count_commits(st->db);
	for (int r = 0; r < rounds; r++) {
		struct store_op op = mkop("k", 1, body);

		/* one op */
		REQUIRE(store_add_op(st, &op) == 0);
		commits_seen = 0;
		fault_vfs_syncs = 0;
		t = mono_ms();
		REQUIRE(commit_ok(st) == 0);
		ms1 += mono_ms() - t;
		syncs1 += fault_vfs_syncs;
		commits1 += commits_seen;
		/* a hundred */
		for (int i = 0; i < 100; i++) {
			op = mkop("k", 2, body);
			REQUIRE(store_add_op(st, &op) == 0);
		}
		CHECK_INT(store_staged(st), 100);
		changes = sqlite3_total_changes64(st->db);
		commits_seen = 0;
		fault_vfs_syncs = 0;
		t = mono_ms();
		REQUIRE(commit_ok(st) == 0);
		ms100 += mono_ms() - t;
		syncs100 += fault_vfs_syncs;
		commits100 += commits_seen;
		/* 100 rows and the id high-water mark */
		CHECK_INT(sqlite3_total_changes64(st->db) - changes, 101);
	}
	CHECK_INT(commits1, rounds);
	CHECK_INT(commits100, rounds);
	CHECK(syncs1 >= rounds); /* synchronous=FULL: every commit reaches the disk */
	CHECK_INT(syncs100, syncs1);
	printf("# commit of 1 op: %.2f fsync(s), %.3f ms; commit of 100 ops: %.2f fsync(s), "
	       "%.3f ms (mean of %d, %s)\n",
	       (double)syncs1 / rounds, ms1 / rounds, (double)syncs100 / rounds, ms100 / rounds,
	       rounds, dir);
	store_close(st);

	/* all there after reopening, in submission order */
	st = open_ok(path);
	REQUIRE(st);
	n = pending_ids(st, ids, 2100);
	CHECK_INT(n, rounds * 101);
	for (long i = 0; i < n && i < 2100; i++)
		if (ids[i] != i + 1) {
			CHECK_INT(ids[i], i + 1);
			break;
		}
	store_close(st);
}

/* What makes the next commit fail, and how the test puts it right again. */
enum fault {
	FAULT_DISK_FULL, /* SQLite's page limit at the file's size */
	FAULT_BUSY,      /* another connection holds the write lock */
	FAULT_READ_ONLY, /* PRAGMA query_only */
	FAULT_FSYNC,     /* every xSync fails (the fault VFS) */
	FAULT_ABORT,     /* a statement fails but SQLite keeps the transaction open */
};

static void
fault_set(enum fault fault, struct store *st, sqlite3 **other)
{
	switch (fault) {
	case FAULT_DISK_FULL:
		disk_full(st->db);
		break;
	case FAULT_BUSY:
		*other = raw_open(sqlite3_db_filename(st->db, "main"));
		if (*other)
			sqlite3_exec(*other, "BEGIN IMMEDIATE; INSERT INTO meta VALUES ('x', 1)",
			             NULL, NULL, NULL);
		sqlite3_busy_timeout(st->db, 20); /* not the store's seconds */
		break;
	case FAULT_READ_ONLY:
		sqlite3_exec(st->db, "PRAGMA query_only=1", NULL, NULL, NULL);
		break;
	case FAULT_FSYNC:
		fault_vfs_sync_rc = SQLITE_IOERR_FSYNC;
		break;
	case FAULT_ABORT:
		sqlite3_exec(st->db,
		             "CREATE TEMP TRIGGER fault BEFORE INSERT ON main.ops "
		             "BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
		             NULL, NULL, NULL);
		break;
	}
}

static void
fault_clear(enum fault fault, struct store *st, sqlite3 **other)
{
	switch (fault) {
	case FAULT_DISK_FULL:
		disk_room(st->db);
		break;
	case FAULT_BUSY:
		sqlite3_exec(*other, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(*other);
		*other = NULL;
		sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
		break;
	case FAULT_READ_ONLY:
		sqlite3_exec(st->db, "PRAGMA query_only=0", NULL, NULL, NULL);
		break;
	case FAULT_FSYNC:
		fault_vfs_sync_rc = 0;
		break;
	case FAULT_ABORT:
		sqlite3_exec(st->db, "DROP TRIGGER temp.fault", NULL, NULL, NULL);
		break;
	}
}

/* Stages 20 ops (and a delete of a committed one) and checks a failed commit keeps them all. */
static void
survives(const char *name, enum fault fault, int want_errno, const char *want_in_err)
{
	char path[300], err[512] = "", body[4096];
	struct store_op op, got[32];
	struct store *st;
	sqlite3 *other = NULL;
	int64_t kept_id, ids[32];
	size_t n = 0;
	int r;

	memset(body, 'b', sizeof body - 1);
	body[sizeof body - 1] = '\0';
	st = open_ok(path_of(path, sizeof path, name));
	REQUIRE(st);
	op = mkop("first", 1, "{}");
	REQUIRE(store_add_op(st, &op) == 0);
	kept_id = op.id;
	op = mkop("gone", 1, "{}");
	REQUIRE(store_add_op(st, &op) == 0);
	REQUIRE(commit_ok(st) == 0);
	CHECK_INT(store_del_op(st, op.id), 0);
	for (int i = 0; i < 20; i++) {
		op = mkop("batch", 2, body);
		REQUIRE(store_add_op(st, &op) == 0);
		ids[i] = op.id;
	}
	CHECK_INT(store_staged(st), 21);

	fault_set(fault, st, &other);
	r = store_commit(st, err, sizeof err);
	CHECK_INT(r, want_errno);
	CHECK(strstr(err, path) != NULL);
	CHECK(strstr(err, want_in_err) != NULL);
	if (r == 0 || !strstr(err, want_in_err))
		printf("# %s: %d \"%s\"\n", name, r, err);
	CHECK_INT(store_staged(st), 21);
	CHECK(sqlite3_get_autocommit(st->db)); /* rolled back */
	/* nothing of the batch is visible */
	CHECK_INT(store_load_ops(st, 0, 32, got, &n), 0);
	CHECK_INT(n, 2);
	for (size_t i = 0; i < n; i++)
		store_op_clear(&got[i]);
	/* the next commit, once the cause is gone, writes it all, once */
	fault_clear(fault, st, &other);
	CHECK_INT(commit_ok(st), 0);
	CHECK_INT(store_staged(st), 0);
	store_close(st);

	st = open_ok(path);
	REQUIRE(st);
	CHECK_INT(store_load_ops(st, 0, 32, got, &n), 0);
	CHECK_INT(n, 21);
	if (n == 21) {
		CHECK_INT(got[0].id, kept_id);
		for (int i = 0; i < 20; i++) {
			CHECK_INT(got[i + 1].id, ids[i]);
			CHECK_STR(got[i + 1].call_key, "batch");
		}
		CHECK_INT(strlen(got[20].body), sizeof body - 1);
	}
	for (size_t i = 0; i < n; i++)
		store_op_clear(&got[i]);
	/* and the ids go on from where they were */
	op = mkop("after", 1, "{}");
	REQUIRE(store_add_op(st, &op) == 0);
	CHECK_INT(op.id, ids[19] + 1);
	store_close(st);
}

TEST(failed_commit_disk_full)
{
	survives("full.db", FAULT_DISK_FULL, -ENOSPC, "full");
}

TEST(failed_commit_busy)
{
	survives("busy.db", FAULT_BUSY, -EBUSY, "locked");
}

TEST(failed_commit_read_only)
{
	survives("ro.db", FAULT_READ_ONLY, -EROFS, "readonly");
}

TEST(failed_commit_fsync_error)
{
	survives("fsync.db", FAULT_FSYNC, -EIO, "I/O");
}

/* A statement fails but SQLite keeps the transaction open: the store must roll it back. */
TEST(failed_statement_is_rolled_back)
{
	survives("abort.db", FAULT_ABORT, -EIO, "injected fault");
}

/* A batch retried after its first commit left rows on disk (an fsync error whose writes landed
 * after all) must not fail on them nor duplicate them. */
TEST(retry_over_rows_already_written)
{
	char path[300];
	struct store_op a = mkop("ka", 1, "{\"v\":\"staged\"}"), b = mkop("kb", 1, "{}"), got[4];
	struct store_call call = {.call_key = "kc", .cc_name = "acme", .start_ms = 5};
	struct store_dead *dead = NULL;
	struct store *st;
	sqlite3 *db;
	size_t n = 0;

	st = open_ok(path_of(path, sizeof path, "landed.db"));
	REQUIRE(st);
	REQUIRE(store_add_op(st, &b) == 0);
	REQUIRE(commit_ok(st) == 0);
	REQUIRE(store_add_op(st, &a) == 0);
	CHECK_INT(store_bury_op(st, &b, 400, "{}", "refused"), 0);
	CHECK_INT(store_add_call(st, &call), 0);
	/* what the first attempt left */
	db = raw_open(path);
	REQUIRE(db);
	CHECK_INT(sqlite3_exec(
	                  db,
	                  "INSERT INTO ops VALUES (2, 'ka', 'acme', 1, 'POST', '/voiceCalls', "
	                  "'{\"v\":\"landed\"}', 1, 0);"
	                  "INSERT INTO dead (op_id, call_key, cc_name, kind, method, path, body, "
	                  "created_ms, attempts, status, response, reason, died_ms) VALUES "
	                  "(1, 'kb', 'acme', 1, 'POST', '/voiceCalls', '{}', 1, 0, 400, '{}', "
	                  "'refused', 1);"
	                  "INSERT INTO calls VALUES ('kc', 'acme', 5, 0)",
	                  NULL, NULL, NULL),
	          SQLITE_OK);
	sqlite3_close(db);
	CHECK_INT(a.id, 2);
	CHECK_INT(commit_ok(st), 0);
	CHECK_INT(store_load_ops(st, 0, 4, got, &n), 0);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_STR(got[0].body, "{\"v\":\"staged\"}");
	for (size_t i = 0; i < n; i++)
		store_op_clear(&got[i]);
	CHECK_INT(store_load_dead(st, &dead, &n), 0);
	CHECK_INT(n, 1);
	for (size_t i = 0; i < n; i++)
		store_dead_clear(&dead[i]);
	free(dead);
	store_close(st);
}

int
main(void)
{
	if (scratch_setup("commit") < 0) {
		perror("mkdtemp");
		return 1;
	}
	fault_vfs_register();
	RUN(one_transaction_and_one_fsync_per_commit);
	RUN(failed_commit_disk_full);
	RUN(failed_commit_busy);
	RUN(failed_commit_read_only);
	RUN(failed_commit_fsync_error);
	RUN(failed_statement_is_rolled_back);
	RUN(retry_over_rows_already_written);
	fault_vfs_unregister();
	scratch_teardown();
	return test_summary();
}
