/*
 * tests connector/store.c on real SQLite files in a scratch directory: creation (0600) and
 * reopening, the pragmas, a missing parent directory named, refusal of a newer schema and of a
 * file that is not a database, and windowed loading of 100,000 rows.
 *
 * Staging and folding are in store_stage.c, commits and their failures in store_commit.c, the
 * writer thread in store_flush.c.
 */
#include "connector/store.c"

#include "tests/unit/connector/store_fixture.h"
#include "tests/unit/scratch.h"
#include "tests/unit/test.h"

#include <sys/stat.h>

/* ---- tests --------------------------------------------------------------------------- */

TEST(open_creates_0600_and_reopen_keeps_data)
{
	char path[300], wal[310];
	struct store_op op = mkop("key-1", 1, "{\"vendorCallKey\":\"key-1\"}");
	struct store_call call = {.call_key = "key-1", .cc_name = "acme", .start_ms = 1000};
	struct store_op got[4];
	struct store_call *calls = NULL;
	struct store *st;
	struct stat sb;
	size_t n = 0;
	int64_t alive = -1;

	path_of(path, sizeof path, "create.db");
	st = open_ok(path);
	REQUIRE(st);
	REQUIRE(stat(path, &sb) == 0);
	CHECK_INT(sb.st_mode & 0777, 0600);
	CHECK_INT(store_staged(st), 0);
	op.attempts = 2;
	CHECK_INT(store_add_op(st, &op), 0);
	CHECK_INT(op.id, 1);
	CHECK_INT(store_add_call(st, &call), 0);
	CHECK_INT(store_set_alive(st, 4242), 0);
	CHECK_INT(store_staged(st), 3);
	CHECK_INT(commit_ok(st), 0);
	CHECK_INT(store_staged(st), 0);
	snprintf(wal, sizeof wal, "%s-wal", path);
	CHECK(stat(wal, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	store_close(st);

	st = open_ok(path);
	REQUIRE(st);
	CHECK_INT(store_load_ops(st, 0, 4, got, &n), 0);
	REQUIRE(n == 1);
	CHECK_INT(got[0].id, 1);
	CHECK_STR(got[0].call_key, "key-1");
	CHECK_STR(got[0].cc_name, "acme");
	CHECK_INT(got[0].kind, 1);
	CHECK_STR(got[0].method, "POST");
	CHECK_STR(got[0].path, "/voiceCalls");
	CHECK_STR(got[0].body, "{\"vendorCallKey\":\"key-1\"}");
	CHECK_INT(got[0].created_ms, 1700000000000);
	CHECK_INT(got[0].attempts, 2);
	store_op_clear(&got[0]);
	CHECK_INT(store_load_calls(st, &calls, &n), 0);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_STR(calls[0].call_key, "key-1");
	for (size_t i = 0; i < n; i++)
		store_call_clear(&calls[i]);
	free(calls);
	CHECK_INT(store_get_alive(st, &alive), 0);
	CHECK_INT(alive, 4242);
	store_close(st);
}

TEST(pragmas_are_set)
{
	char path[300], mode[16];
	struct store *st;
	sqlite3 *db;

	st = open_ok(path_of(path, sizeof path, "pragmas.db"));
	REQUIRE(st);
	CHECK_INT(query_text(st->db, "PRAGMA journal_mode", mode, sizeof mode), SQLITE_OK);
	CHECK_STR(mode, "wal");
	CHECK_INT(raw_int(st->db, "PRAGMA synchronous"), 2); /* FULL */
	CHECK_INT(raw_int(st->db, "PRAGMA foreign_keys"), 0);
	CHECK_INT(raw_int(st->db, "PRAGMA busy_timeout"), BUSY_TIMEOUT_MS);
	CHECK(BUSY_TIMEOUT_MS >= 1000 && BUSY_TIMEOUT_MS <= 10000);
	CHECK_INT(raw_int(st->db, "PRAGMA user_version"), SCHEMA_VERSION);
	CHECK_INT(raw_int(st->db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
	                          "name IN ('ops', 'calls', 'dead', 'meta')"),
	          4);
	/* WAL is a property of the file: another connection sees it */
	db = raw_open(path);
	REQUIRE(db);
	CHECK_INT(query_text(db, "PRAGMA journal_mode", mode, sizeof mode), SQLITE_OK);
	CHECK_STR(mode, "wal");
	sqlite3_close(db);
	store_close(st);
}

TEST(missing_parent_is_named)
{
	char path[400], parent[300], err[512] = "";
	struct store *st = (struct store *)&st; /* must stay untouched */
	struct stat sb;

	path_of(parent, sizeof parent, "no-such-dir/sub");
	snprintf(path, sizeof path, "%s/x.db", parent);
	CHECK_INT(store_open(path, &st, err, sizeof err), -ENOENT);
	CHECK(st == (struct store *)&st);
	CHECK(strstr(err, path) != NULL);
	CHECK(strstr(err, "directory") != NULL && strstr(err, "does not exist") != NULL);
	CHECK(stat(parent, &sb) < 0);
}

TEST(newer_schema_is_refused)
{
	char path[300], err[512] = "", mode[16];
	struct store *st = NULL;
	sqlite3 *db;

	path_of(path, sizeof path, "newer.db");
	db = raw_open(path);
	REQUIRE(db);
	REQUIRE(sqlite3_exec(db, "CREATE TABLE ops (x); PRAGMA user_version=7", NULL, NULL, NULL) ==
	        SQLITE_OK);
	sqlite3_close(db);
	CHECK_INT(store_open(path, &st, err, sizeof err), -ENOTSUP);
	CHECK(st == NULL);
	CHECK(strstr(err, path) != NULL);
	CHECK(strstr(err, "schema version 7 is newer") != NULL);
	/* refused before anything changed: still in its old journal mode, still version 7 */
	db = raw_open(path);
	REQUIRE(db);
	CHECK_INT(query_text(db, "PRAGMA journal_mode", mode, sizeof mode), SQLITE_OK);
	CHECK_STR(mode, "delete");
	CHECK_INT(raw_int(db, "PRAGMA user_version"), 7);
	sqlite3_close(db);
}

TEST(not_a_database_is_refused)
{
	char path[300], err[512] = "";
	struct store *st = NULL;
	FILE *f;
	int r;

	path_of(path, sizeof path, "notadb.db");
	f = fopen(path, "w");
	REQUIRE(f);
	for (int i = 0; i < 200; i++)
		fputs("this is a config file, not a database\n", f);
	fclose(f);
	r = store_open(path, &st, err, sizeof err);
	CHECK(r == -EBADMSG || r == -EIO);
	CHECK(st == NULL);
	CHECK(strstr(err, path) != NULL);
	CHECK(strstr(err, "not a database") != NULL);
	printf("# not a database: %s\n", err);
}

TEST(windows_over_100000_rows)
{
	enum { TOTAL = 100000, WINDOW = 10000 };
	char path[300], body[420];
	struct store_op *ops;
	struct store *st;
	double t, t_open, t_first, t_fill, t_walk;
	size_t n = 0, seen = 0;
	int64_t after = 0;
	uint64_t count = 0;
	int ordered = 1;

	snprintf(body, sizeof body,
	         "{\"callCenterApiName\":\"ACME_CC\",\"vendorCallKey\":\"%s\",\"to\":\"+"
	         "3312345678\","
	         "\"from\":\"+3398765432\",\"initiationMethod\":\"Inbound\",\"startTime\":"
	         "\"2024-05-01T10:00:00.000Z\",\"participants\":[{\"participantKey\":\"+33987\","
	         "\"type\":\"END_USER\"}],\"callAttributes\":\"{}\",\"padding\":\"%0120d\"}",
	         "6f1c7b5e-2a8e-4a53-9d1f-0c5e8b1d2a3f", 0);
	ops = calloc(WINDOW, sizeof *ops);
	REQUIRE(ops);
	st = open_ok(path_of(path, sizeof path, "big.db"));
	if (!st)
		free(ops);
	REQUIRE(st);
	t = mono_ms();
	for (int i = 0; i < TOTAL; i++) {
		struct store_op op = mkop("6f1c7b5e-2a8e-4a53-9d1f-0c5e8b1d2a3f", 1, body);

		if (store_add_op(st, &op) < 0 || (i % WINDOW == WINDOW - 1 && commit_ok(st) < 0))
			break;
	}
	t_fill = mono_ms() - t;
	CHECK_INT(store_staged(st), 0);
	store_close(st);

	t = mono_ms();
	st = open_ok(path);
	t_open = mono_ms() - t;
	if (!st)
		free(ops);
	REQUIRE(st);
	CHECK_INT(store_load_ops(st, 0, WINDOW, ops, &n), 0);
	t_first = mono_ms() - t;
	CHECK_INT(n, WINDOW);
	for (size_t i = 0; i < n; i++) {
		if (ops[i].id != (int64_t)i + 1)
			ordered = 0;
		store_op_clear(&ops[i]);
	}
	CHECK(ordered);

	/* every window follows the one before */
	t = mono_ms();
	do {
		CHECK_INT(store_load_ops(st, after, WINDOW, ops, &n), 0);
		for (size_t i = 0; i < n; i++) {
			if (ops[i].id != after + 1)
				ordered = 0;
			after = ops[i].id;
			store_op_clear(&ops[i]);
		}
		seen += n;
	} while (n == WINDOW);
	t_walk = mono_ms() - t;
	CHECK(ordered);
	CHECK_INT(seen, TOTAL);
	CHECK_INT(after, TOTAL);

	/* a window in the middle, and past the end */
	CHECK_INT(store_load_ops(st, 54321, 5, ops, &n), 0);
	CHECK_INT(n, 5);
	for (size_t i = 0; i < n; i++) {
		CHECK_INT(ops[i].id, 54322 + (int64_t)i);
		store_op_clear(&ops[i]);
	}
	CHECK_INT(store_load_ops(st, TOTAL - 2, WINDOW, ops, &n), 0);
	CHECK_INT(n, 2);
	for (size_t i = 0; i < n; i++)
		store_op_clear(&ops[i]);
	CHECK_INT(store_count_ops(st, &count), 0);
	CHECK_INT(count, TOTAL);
	printf("# %d ops of %zu bytes written in %d commits: %.0f ms\n", TOTAL, strlen(body),
	       TOTAL / WINDOW, t_fill);
	printf("# store_open + first %d of %d pending ops: %.1f ms (open %.1f ms); all %d "
	       "windows: %.1f ms\n",
	       WINDOW, TOTAL, t_first, t_open, TOTAL / WINDOW, t_walk);
	store_close(st);
	free(ops);
}

int
main(void)
{
	if (scratch_setup("store") < 0) {
		perror("mkdtemp");
		return 1;
	}
	RUN(open_creates_0600_and_reopen_keeps_data);
	RUN(pragmas_are_set);
	RUN(missing_parent_is_named);
	RUN(newer_schema_is_refused);
	RUN(not_a_database_is_refused);
	RUN(windows_over_100000_rows);
	scratch_teardown();
	return test_summary();
}
