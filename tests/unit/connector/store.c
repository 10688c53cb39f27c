/*
 * tests connector/store.c on real SQLite files in a scratch directory: creation and reopening,
 * the pragmas, one transaction (and one fsync) per commit whatever its size, ids that never
 * repeat, folding of staged changes, dead letters and their replay, calls and the heartbeat,
 * batches that survive failed commits (disk full, busy, read-only, fsync error), refusal of a
 * newer schema and of a file that is not a database, and windowed loading of 100,000 rows.
 *
 * A pass-through SQLite VFS registered as the default counts fsyncs and can make them fail.
 */
#include "connector/store.c"

#include "tests/unit/connector/pending_ids.h"
#include "tests/unit/scratch.h"
#include "tests/unit/test.h"

#include <dirent.h>
#include <sys/stat.h>

static double
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- a VFS that counts xSync calls and can fail them ---------------------------------- */

struct cfile {
	sqlite3_file base;
	sqlite3_file *real; /* the wrapped file, allocated right after this struct */
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs count_vfs;
static int n_syncs;
static int sync_fault; /* an SQLite error code every xSync returns instead of syncing, or 0 */

#define REAL(f) (((struct cfile *)(f))->real)

static int
cf_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}

static int
cf_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}

static int
cf_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}

static int
cf_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int
cf_sync(sqlite3_file *f, int flags)
{
	n_syncs++;
	if (sync_fault)
		return sync_fault;
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int
cf_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int
cf_lock(sqlite3_file *f, int level)
{
	return REAL(f)->pMethods->xLock(REAL(f), level);
}

static int
cf_unlock(sqlite3_file *f, int level)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), level);
}

static int
cf_check_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int
cf_file_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int
cf_sector_size(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int
cf_device_characteristics(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int
cf_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}

static int
cf_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}

static void
cf_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int
cf_shm_unmap(sqlite3_file *f, int delete_flag)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), delete_flag);
}

static int
cf_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
	return REAL(f)->pMethods->xFetch(REAL(f), off, amt, pp);
}

static int
cf_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods cf_methods = {
        .iVersion = 3,
        .xClose = cf_close,
        .xRead = cf_read,
        .xWrite = cf_write,
        .xTruncate = cf_truncate,
        .xSync = cf_sync,
        .xFileSize = cf_file_size,
        .xLock = cf_lock,
        .xUnlock = cf_unlock,
        .xCheckReservedLock = cf_check_reserved,
        .xFileControl = cf_file_control,
        .xSectorSize = cf_sector_size,
        .xDeviceCharacteristics = cf_device_characteristics,
        .xShmMap = cf_shm_map,
        .xShmLock = cf_shm_lock,
        .xShmBarrier = cf_shm_barrier,
        .xShmUnmap = cf_shm_unmap,
        .xFetch = cf_fetch,
        .xUnfetch = cf_unfetch,
};

static int
cv_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags, int *out_flags)
{
	struct cfile *cf = (struct cfile *)f;
	int rc;

	(void)vfs;
	cf->real = (sqlite3_file *)(cf + 1);
	rc = real_vfs->xOpen(real_vfs, name, cf->real, flags, out_flags);
	cf->base.pMethods = cf->real->pMethods ? &cf_methods : NULL;
	return rc;
}

static void
count_vfs_register(void)
{
	real_vfs = sqlite3_vfs_find(NULL);
	count_vfs = *real_vfs;
	count_vfs.pNext = NULL;
	count_vfs.zName = "scvb-count";
	count_vfs.szOsFile = (int)sizeof(struct cfile) + real_vfs->szOsFile;
	count_vfs.xOpen = cv_open;
	sqlite3_vfs_register(&count_vfs, 1);
}

/* ---- helpers ------------------------------------------------------------------------- */

static struct store_op
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

static struct store *
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

static int
commit_ok(struct store *st)
{
	char err[512] = "";
	int r = store_commit(st, err, sizeof err);

	if (r < 0)
		printf("# store_commit: %d %s\n", r, err);
	return r;
}

/* A plain connection of the test's own, beside the store's. */
static sqlite3 *
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

static int64_t
raw_int(sqlite3 *db, const char *sql)
{
	int64_t v = -1;

	if (query_int(db, sql, &v) != SQLITE_OK)
		return -1;
	return v;
}

static int commits_seen;

static int
on_commit(void *arg)
{
	(void)arg;
	commits_seen++;
	return 0; /* 0: let it commit */
}

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
	sqlite3_commit_hook(st->db, on_commit, NULL);
	for (int r = 0; r < rounds; r++) {
		struct store_op op = mkop("k", 1, body);

		/* one op */
		REQUIRE(store_add_op(st, &op) == 0);
		commits_seen = 0;
		n_syncs = 0;
		t = mono_ms();
		REQUIRE(commit_ok(st) == 0);
		ms1 += mono_ms() - t;
		syncs1 += n_syncs;
		commits1 += commits_seen;
		/* a hundred */
		for (int i = 0; i < 100; i++) {
			op = mkop("k", 2, body);
			REQUIRE(store_add_op(st, &op) == 0);
		}
		CHECK_INT(store_staged(st), 100);
		changes = sqlite3_total_changes64(st->db);
		commits_seen = 0;
		n_syncs = 0;
		t = mono_ms();
		REQUIRE(commit_ok(st) == 0);
		ms100 += mono_ms() - t;
		syncs100 += n_syncs;
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

TEST(ids_never_repeat)
{
	char path[300];
	struct store_op op;
	struct store *st;
	size_t moved = 0;
	int64_t first, last;
	sqlite3 *db;

	st = open_ok(path_of(path, sizeof path, "ids.db"));
	REQUIRE(st);
	for (int i = 1; i <= 3; i++) {
		op = mkop("k", 1, "{}");
		REQUIRE(store_add_op(st, &op) == 0);
		CHECK_INT(op.id, i);
	}
	REQUIRE(commit_ok(st) == 0);
	for (int i = 1; i <= 3; i++)
		CHECK_INT(store_del_op(st, i), 0);
	REQUIRE(commit_ok(st) == 0);
	store_close(st);

	/* every row is gone, the ids are still used */
	st = open_ok(path);
	REQUIRE(st);
	op = mkop("k", 1, "{}");
	REQUIRE(store_add_op(st, &op) == 0);
	CHECK_INT(op.id, 4);
	REQUIRE(commit_ok(st) == 0);
	CHECK_INT(store_bury_op(st, &op, 400, "{}", "refused"), 0);
	REQUIRE(commit_ok(st) == 0);
	store_close(st);

	/* even without the high-water mark, a dead letter's id counts */
	db = raw_open(path);
	REQUIRE(db);
	CHECK_INT(sqlite3_exec(db, "DELETE FROM meta WHERE key = 'last_id'", NULL, NULL, NULL),
	          SQLITE_OK);
	sqlite3_close(db);
	st = open_ok(path);
	REQUIRE(st);
	op = mkop("k", 1, "{}");
	REQUIRE(store_add_op(st, &op) == 0);
	CHECK_INT(op.id, 5);
	first = op.id;
	REQUIRE(commit_ok(st) == 0);

	/* replay: the dead letter (op 4) comes back above everything handed out */
	CHECK_INT(store_replay_dead(st, &moved), 0);
	CHECK_INT(moved, 1);
	op = mkop("k", 1, "{}");
	REQUIRE(store_add_op(st, &op) == 0);
	CHECK_INT(op.id, 7); /* 6 went to the replayed op */
	REQUIRE(commit_ok(st) == 0);
	store_close(st);

	st = open_ok(path);
	REQUIRE(st);
	op = mkop("k", 1, "{}");
	REQUIRE(store_add_op(st, &op) == 0);
	last = op.id;
	CHECK_INT(last, 8);
	CHECK(last > first);
	REQUIRE(commit_ok(st) == 0);
	store_close(st);
}

TEST(staged_changes_fold)
{
	char path[300];
	struct store_op a = mkop("ka", 1, "{\"a\":1}"), b = mkop("kb", 1, "{\"b\":1}");
	struct store_op c = mkop("kc", 1, "{\"c\":1}"), got[4];
	struct store_dead *dead = NULL;
	struct store *st;
	size_t n = 0;
	uint64_t count = 99;

	st = open_ok(path_of(path, sizeof path, "fold.db"));
	REQUIRE(st);
	sqlite3_commit_hook(st->db, on_commit, NULL);
	REQUIRE(store_add_op(st, &a) == 0 && store_add_op(st, &b) == 0 &&
	        store_add_op(st, &c) == 0);
	CHECK_INT(store_staged(st), 3);
	/* accepted before its add was committed: both vanish */
	CHECK_INT(store_del_op(st, a.id), 0);
	CHECK_INT(store_staged(st), 2);
	/* folds into b's add */
	CHECK_INT(store_set_attempts(st, b.id, 3), 0);
	CHECK_INT(store_staged(st), 2);
	/* refused before its add was committed: straight to the dead letters */
	c.attempts = 5;
	CHECK_INT(store_bury_op(st, &c, 422, "{\"e\":1}", "refused"), 0);
	CHECK_INT(store_staged(st), 2);
	commits_seen = 0;
	REQUIRE(commit_ok(st) == 0);
	CHECK_INT(commits_seen, 1);
	CHECK_INT(store_load_ops(st, 0, 4, got, &n), 0);
	REQUIRE(n == 1);
	CHECK_INT(got[0].id, b.id);
	CHECK_INT(got[0].attempts, 3);
	store_op_clear(&got[0]);
	CHECK_INT(store_load_dead(st, &dead, &n), 0);
	REQUIRE(n == 1);
	CHECK_INT(dead[0].op.id, c.id);
	CHECK_INT(dead[0].op.attempts, 5);
	CHECK_STR(dead[0].reason, "refused");
	store_dead_clear(&dead[0]);
	free(dead);

	/* on disk now: an attempts update then a delete leave only the delete */
	CHECK_INT(store_set_attempts(st, b.id, 4), 0);
	CHECK_INT(store_set_attempts(st, b.id, 5), 0);
	CHECK_INT(store_staged(st), 1);
	CHECK_INT(store_del_op(st, b.id), 0);
	CHECK_INT(store_staged(st), 1);
	REQUIRE(commit_ok(st) == 0);
	CHECK_INT(store_count_ops(st, &count), 0);
	CHECK_INT(count, 0);

	/* the same without folding help: a committed op, set_attempts, commit */
	a = mkop("ka", 1, "{}");
	REQUIRE(store_add_op(st, &a) == 0);
	REQUIRE(commit_ok(st) == 0);
	CHECK_INT(store_set_attempts(st, a.id, 7), 0);
	REQUIRE(commit_ok(st) == 0);
	CHECK_INT(store_load_ops(st, 0, 4, got, &n), 0);
	REQUIRE(n == 1);
	CHECK_INT(got[0].attempts, 7);
	store_op_clear(&got[0]);
	store_close(st);
}

TEST(bury_then_replay)
{
	char path[300];
	struct store_op o1 = mkop("k1", 1, "{\"n\":1}"), o2 = mkop("k2", 1, "{\"n\":2}");
	struct store_op o3 = mkop("k2", 2, "{\"n\":3}"), o4 = mkop("k4", 1, "{\"n\":4}");
	struct store_op got[8];
	struct store_dead *dead = NULL;
	struct store *st;
	size_t n = 0, moved = 99;
	int64_t t0 = store_now_ms(), t1;
	uint64_t count = 0;

	st = open_ok(path_of(path, sizeof path, "dead.db"));
	REQUIRE(st);
	CHECK_INT(store_replay_dead(st, &moved), 0);
	CHECK_INT(moved, 0);
	REQUIRE(store_add_op(st, &o1) == 0 && store_add_op(st, &o2) == 0 &&
	        store_add_op(st, &o3) == 0);
	REQUIRE(commit_ok(st) == 0);
	o2.attempts = 1;
	o3.attempts = 9;
	CHECK_INT(store_bury_op(st, &o2, 400, "{\"message\":\"bad field\"}", "refused"), 0);
	CHECK_INT(store_bury_op(st, &o3, 0, NULL, "expired"), 0);
	REQUIRE(commit_ok(st) == 0);
	t1 = store_now_ms();

	CHECK_INT(store_load_ops(st, 0, 8, got, &n), 0);
	CHECK_INT(n, 1);
	if (n >= 1)
		CHECK_INT(got[0].id, o1.id);
	for (size_t i = 0; i < n; i++)
		store_op_clear(&got[i]);
	CHECK_INT(store_load_dead(st, &dead, &n), 0);
	REQUIRE(n == 2);
	CHECK_INT(dead[0].op.id, o2.id);
	CHECK_STR(dead[0].op.call_key, "k2");
	CHECK_STR(dead[0].op.cc_name, "acme");
	CHECK_INT(dead[0].op.kind, 1);
	CHECK_STR(dead[0].op.method, "POST");
	CHECK_STR(dead[0].op.path, "/voiceCalls");
	CHECK_STR(dead[0].op.body, "{\"n\":2}");
	CHECK_INT(dead[0].op.created_ms, 1700000000000);
	CHECK_INT(dead[0].op.attempts, 1);
	CHECK_INT(dead[0].status, 400);
	CHECK_STR(dead[0].response, "{\"message\":\"bad field\"}");
	CHECK_STR(dead[0].reason, "refused");
	CHECK(dead[0].died_ms >= t0 && dead[0].died_ms <= t1);
	CHECK(dead[0].id > 0);
	CHECK_INT(dead[1].op.id, o3.id);
	CHECK_INT(dead[1].status, 0);
	CHECK(dead[1].response == NULL);
	CHECK_STR(dead[1].reason, "expired");
	CHECK(dead[1].id > dead[0].id);
	for (size_t i = 0; i < n; i++)
		store_dead_clear(&dead[i]);
	free(dead);
	dead = NULL;

	/* a bury still staged is replayed too */
	REQUIRE(store_add_op(st, &o4) == 0);
	REQUIRE(commit_ok(st) == 0);
	CHECK_INT(store_bury_op(st, &o4, 404, NULL, "refused"), 0);
	CHECK_INT(store_replay_dead(st, &moved), 0);
	CHECK_INT(moved, 3);
	CHECK_INT(store_staged(st), 0);
	CHECK_INT(store_load_dead(st, &dead, &n), 0);
	CHECK_INT(n, 0);
	free(dead);
	CHECK_INT(store_count_ops(st, &count), 0);
	CHECK_INT(count, 4);
	store_close(st);

	/* on disk: o1 as it was, then o2, o3, o4 with new ids in their old order, fresh budget */
	st = open_ok(path);
	REQUIRE(st);
	CHECK_INT(store_load_ops(st, 0, 8, got, &n), 0);
	REQUIRE(n == 4);
	CHECK_INT(got[0].id, o1.id);
	CHECK_STR(got[1].body, "{\"n\":2}");
	CHECK_STR(got[2].body, "{\"n\":3}");
	CHECK_STR(got[3].body, "{\"n\":4}");
	CHECK_INT(got[2].kind, 2);
	CHECK_STR(got[2].method, "PATCH");
	CHECK_INT(got[1].id, o4.id + 1);
	CHECK_INT(got[2].id, o4.id + 2);
	CHECK_INT(got[3].id, o4.id + 3);
	for (size_t i = 1; i < n; i++) {
		CHECK_INT(got[i].attempts, 0);
		CHECK(got[i].created_ms >= t0);
	}
	for (size_t i = 0; i < n; i++)
		store_op_clear(&got[i]);
	CHECK_INT(store_replay_dead(st, &moved), 0);
	CHECK_INT(moved, 0);
	store_close(st);
}

TEST(calls_and_heartbeat)
{
	char path[300];
	struct store_call c1 = {.call_key = "c1", .cc_name = "acme", .start_ms = 1000};
	struct store_call c2 = {.call_key = "c2", .cc_name = "acme", .start_ms = 2000};
	struct store_call c3 = {.call_key = "c3", .cc_name = "beta", .start_ms = 3000};
	struct store_call c4 = {.call_key = "c4", .cc_name = "acme", .start_ms = 4000};
	struct store_call *calls = NULL;
	struct store *st;
	size_t n = 0;
	int64_t alive = -1;

	st = open_ok(path_of(path, sizeof path, "calls.db"));
	REQUIRE(st);
	CHECK_INT(store_get_alive(st, &alive), 0);
	CHECK_INT(alive, 0);
	CHECK_INT(store_add_call(st, &c1), 0);
	CHECK_INT(store_add_call(st, &c2), 0);
	REQUIRE(commit_ok(st) == 0);

	CHECK_INT(store_set_call_accept(st, "c1", 1500), 0);
	CHECK_INT(store_del_call(st, "c2"), 0);
	CHECK_INT(store_add_call(st, &c3), 0);
	CHECK_INT(store_set_call_accept(st, "c3", 3500), 0); /* folds into the add */
	CHECK_INT(store_add_call(st, &c4), 0);
	CHECK_INT(store_del_call(st, "c4"), 0); /* the add is dropped, the delete stays */
	CHECK_INT(store_set_alive(st, 123), 0);
	CHECK_INT(store_set_alive(st, 456), 0);
	CHECK_INT(store_staged(st), 5); /* accept c1, del c2, add c3, del c4, alive */

	/* reads see committed data only */
	CHECK_INT(store_load_calls(st, &calls, &n), 0);
	CHECK_INT(n, 2);
	for (size_t i = 0; i < n; i++)
		store_call_clear(&calls[i]);
	free(calls);
	CHECK_INT(store_get_alive(st, &alive), 0);
	CHECK_INT(alive, 0);

	REQUIRE(commit_ok(st) == 0);
	store_close(st);
	st = open_ok(path);
	REQUIRE(st);
	CHECK_INT(store_load_calls(st, &calls, &n), 0);
	REQUIRE(n == 2);
	CHECK_STR(calls[0].call_key, "c1");
	CHECK_STR(calls[0].cc_name, "acme");
	CHECK_INT(calls[0].start_ms, 1000);
	CHECK_INT(calls[0].accept_ms, 1500);
	CHECK_STR(calls[1].call_key, "c3");
	CHECK_STR(calls[1].cc_name, "beta");
	CHECK_INT(calls[1].start_ms, 3000);
	CHECK_INT(calls[1].accept_ms, 3500);
	for (size_t i = 0; i < n; i++)
		store_call_clear(&calls[i]);
	free(calls);
	CHECK_INT(store_get_alive(st, &alive), 0);
	CHECK_INT(alive, 456);

	/* a call written in an earlier batch, re-added and deleted in this one, is gone */
	CHECK_INT(store_add_call(st, &c1), 0);
	CHECK_INT(store_del_call(st, "c1"), 0);
	CHECK_INT(store_del_call(st, "c3"), 0);
	REQUIRE(commit_ok(st) == 0);
	CHECK_INT(store_load_calls(st, &calls, &n), 0);
	CHECK_INT(n, 0);
	free(calls);
	store_close(st);
}

/* Stages 20 ops (and a delete of a committed one) and checks a failed commit keeps them all. */
static void
survives(const char *name, void (*break_it)(struct store *, sqlite3 **),
         void (*mend_it)(struct store *, sqlite3 **), int want_errno, const char *want_in_err)
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

	break_it(st, &other);
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
	mend_it(st, &other);
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

static void
fill_disk(struct store *st, sqlite3 **other)
{
	char sql[64];

	(void)other;
	snprintf(sql, sizeof sql, "PRAGMA max_page_count=%lld",
	         (long long)raw_int(st->db, "PRAGMA page_count"));
	sqlite3_exec(st->db, sql, NULL, NULL, NULL);
}

static void
empty_disk(struct store *st, sqlite3 **other)
{
	(void)other;
	sqlite3_exec(st->db, "PRAGMA max_page_count=1073741823", NULL, NULL, NULL);
}

TEST(failed_commit_disk_full)
{
	survives("full.db", fill_disk, empty_disk, -ENOSPC, "full");
}

static void
lock_db(struct store *st, sqlite3 **other)
{
	*other = raw_open(sqlite3_db_filename(st->db, "main"));
	if (*other)
		sqlite3_exec(*other, "BEGIN IMMEDIATE; INSERT INTO meta VALUES ('x', 1)", NULL,
		             NULL, NULL);
	sqlite3_busy_timeout(st->db, 20); /* not the store's seconds */
}

static void
unlock_db(struct store *st, sqlite3 **other)
{
	sqlite3_exec(*other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(*other);
	*other = NULL;
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
}

TEST(failed_commit_busy)
{
	survives("busy.db", lock_db, unlock_db, -EBUSY, "locked");
}

static void
query_only(struct store *st, sqlite3 **other)
{
	(void)other;
	sqlite3_exec(st->db, "PRAGMA query_only=1", NULL, NULL, NULL);
}

static void
writable(struct store *st, sqlite3 **other)
{
	(void)other;
	sqlite3_exec(st->db, "PRAGMA query_only=0", NULL, NULL, NULL);
}

TEST(failed_commit_read_only)
{
	survives("ro.db", query_only, writable, -EROFS, "readonly");
}

static void
fail_fsync(struct store *st, sqlite3 **other)
{
	(void)st, (void)other;
	sync_fault = SQLITE_IOERR_FSYNC;
}

static void
mend_fsync(struct store *st, sqlite3 **other)
{
	(void)st, (void)other;
	sync_fault = 0;
}

TEST(failed_commit_fsync_error)
{
	survives("fsync.db", fail_fsync, mend_fsync, -EIO, "I/O");
}

/* A statement fails but SQLite keeps the transaction open: the store must roll it back. */
static void
abort_inserts(struct store *st, sqlite3 **other)
{
	(void)other;
	sqlite3_exec(st->db,
	             "CREATE TEMP TRIGGER fault BEFORE INSERT ON main.ops "
	             "BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
	             NULL, NULL, NULL);
}

static void
drop_trigger(struct store *st, sqlite3 **other)
{
	(void)other;
	sqlite3_exec(st->db, "DROP TRIGGER temp.fault", NULL, NULL, NULL);
}

TEST(failed_statement_is_rolled_back)
{
	survives("abort.db", abort_inserts, drop_trigger, -EIO, "injected fault");
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

TEST(bad_arguments)
{
	char path[300];
	struct store_op op = mkop("k", 1, "{}"), no_key = mkop(NULL, 1, "{}");
	struct store_call call = {.call_key = "k"};
	struct store *st;
	size_t n = 7;

	st = open_ok(path_of(path, sizeof path, "args.db"));
	REQUIRE(st);
	CHECK_INT(store_add_op(st, &no_key), -EINVAL);
	CHECK_INT(no_key.id, 0);
	CHECK_INT(store_del_op(st, 0), -EINVAL);
	CHECK_INT(store_set_attempts(st, -1, 1), -EINVAL);
	CHECK_INT(store_bury_op(st, &op, 400, NULL, "refused"), -EINVAL); /* id 0: never added */
	REQUIRE(store_add_op(st, &op) == 0);
	CHECK_INT(store_bury_op(st, &op, 400, NULL, NULL), -EINVAL);
	op.id = 999; /* never handed out */
	CHECK_INT(store_bury_op(st, &op, 400, NULL, "refused"), -EINVAL);
	CHECK_INT(store_add_call(st, &call), -EINVAL); /* no cc_name */
	CHECK_INT(store_set_call_accept(st, NULL, 1), -EINVAL);
	CHECK_INT(store_del_call(st, NULL), -EINVAL);
	CHECK_INT(store_staged(st), 1);
	CHECK_INT(store_load_ops(st, 0, 0, NULL, &n), 0);
	CHECK_INT(n, 0);
	store_close(st); /* the staged add is dropped, freed */
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
	count_vfs_register();
	RUN(open_creates_0600_and_reopen_keeps_data);
	RUN(pragmas_are_set);
	RUN(missing_parent_is_named);
	RUN(one_transaction_and_one_fsync_per_commit);
	RUN(ids_never_repeat);
	RUN(staged_changes_fold);
	RUN(bury_then_replay);
	RUN(calls_and_heartbeat);
	RUN(failed_commit_disk_full);
	RUN(failed_commit_busy);
	RUN(failed_commit_read_only);
	RUN(failed_commit_fsync_error);
	RUN(failed_statement_is_rolled_back);
	RUN(retry_over_rows_already_written);
	RUN(newer_schema_is_refused);
	RUN(not_a_database_is_refused);
	RUN(bad_arguments);
	RUN(windows_over_100000_rows);
	sqlite3_vfs_unregister(&count_vfs);
	scratch_teardown();
	return test_summary();
}
