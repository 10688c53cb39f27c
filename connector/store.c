/*
 * store: see store.h. SQLite appears here (open, schema, reading) and in store_write.c (commits).
 *
 * Decisions the header leaves open:
 *
 * ids      An in-memory counter hands them out, so store_add_op() never touches the disk. At
 *          open it starts above the largest of meta 'last_id', MAX(ops.id) and MAX(dead.op_id),
 *          and every commit that used new ids raises 'last_id' in the same transaction. So an
 *          id that ever reached the disk is never handed out again, whatever is deleted,
 *          buried or replayed later. An id whose operation never reached the disk (the process
 *          stopped before the commit, or a del cancelled the add in memory) may come back after
 *          a restart. The counter assumes one writing process (lockfile.h sees to that).
 * replay   Dead letters come back with NEW ids, above every id so far, in their original order
 *          (a call's create stays before its update), attempts 0 and created_ms = the replay
 *          time: age is what expires an operation, and one dead-lettered as "expired" would
 *          otherwise expire again at once. New ids are also above any reader's cursor. Whatever
 *          is staged is written first, in the same transaction.
 * staging  Changes are kept in a list and written in that order. A change to an op or a call
 *          whose earlier change is still staged is folded into it in memory: a del of an op
 *          whose add is staged cancels both (the op never reaches the disk), set_attempts
 *          updates the staged add, set_call_accept the staged add_call. So while the disk
 *          refuses writes and the outbox goes on delivering, staged memory follows what is
 *          pending, not everything that went through. Changes handed to the writer thread
 *          (store_flush_begin) are out of reach: what is staged after them is written after
 *          them, as rows of its own.
 * retry    A failed commit is rolled back and everything stays staged. Every write is
 *          idempotent (INSERT OR REPLACE, DELETE, UPDATE; a dead letter is unique by op_id), so
 *          retrying a batch whose failed commit left an unsure trace (an fsync error) cannot
 *          duplicate a row.
 */
#include "connector/store_int.h"
#include "connector/util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SCHEMA_VERSION  1
#define BUSY_TIMEOUT_MS 3000
/* After a checkpoint the WAL is cut back to 16 MiB (it would keep its largest size otherwise). */
#define WAL_SIZE_LIMIT "16777216"

/* migrations[v] takes a database from user_version v to v + 1, inside one transaction. */
static const char *const migrations[SCHEMA_VERSION] = {
        "CREATE TABLE ops ("
        " id INTEGER PRIMARY KEY,"
        " call_key TEXT NOT NULL,"
        " cc_name TEXT NOT NULL,"
        " kind INTEGER NOT NULL,"
        " method TEXT NOT NULL,"
        " path TEXT NOT NULL,"
        " body TEXT,"
        " created_ms INTEGER NOT NULL,"
        " attempts INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE calls ("
        " call_key TEXT PRIMARY KEY,"
        " cc_name TEXT NOT NULL,"
        " start_ms INTEGER NOT NULL,"
        " accept_ms INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE dead ("
        " id INTEGER PRIMARY KEY,"
        " op_id INTEGER NOT NULL UNIQUE,"
        " call_key TEXT NOT NULL,"
        " cc_name TEXT NOT NULL,"
        " kind INTEGER NOT NULL,"
        " method TEXT NOT NULL,"
        " path TEXT NOT NULL,"
        " body TEXT,"
        " created_ms INTEGER NOT NULL,"
        " attempts INTEGER NOT NULL,"
        " status INTEGER NOT NULL,"
        " response TEXT,"
        " reason TEXT NOT NULL,"
        " died_ms INTEGER NOT NULL);"
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value);",
};

/* Columns 0..8 of every row read into a struct store_op. */
#define OP_COLS "call_key, cc_name, kind, method, path, body, created_ms, attempts"

/* Prepared once at open and reused: they are on the per-call path. */
static const char *const stmt_sql[S_COUNT] = {
        [S_BEGIN] = "BEGIN IMMEDIATE",
        [S_COMMIT] = "COMMIT",
        [S_ROLLBACK] = "ROLLBACK",
        [S_PUT_OP] = "INSERT OR REPLACE INTO ops (id, " OP_COLS ") "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        [S_DEL_OP] = "DELETE FROM ops WHERE id = ?1",
        [S_SET_ATTEMPTS] = "UPDATE ops SET attempts = ?2 WHERE id = ?1",
        [S_PUT_DEAD] = "INSERT OR REPLACE INTO dead "
                       "(op_id, " OP_COLS ", status, response, reason, died_ms) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        [S_PUT_CALL] = "INSERT OR REPLACE INTO calls (call_key, cc_name, start_ms, accept_ms) "
                       "VALUES (?1, ?2, ?3, ?4)",
        [S_SET_ACCEPT] = "UPDATE calls SET accept_ms = ?2 WHERE call_key = ?1",
        [S_DEL_CALL] = "DELETE FROM calls WHERE call_key = ?1",
        [S_PUT_META] = "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
        [S_GET_META] = "SELECT value FROM meta WHERE key = ?1",
        [S_LOAD_OPS] = "SELECT id, " OP_COLS " FROM ops WHERE id > ?1 ORDER BY id LIMIT ?2",
        [S_COUNT_OPS] = "SELECT count(*) FROM ops",
        [S_LOAD_CALLS] = "SELECT call_key, cc_name, start_ms, accept_ms FROM calls "
                         "ORDER BY start_ms, call_key",
        [S_LOAD_DEAD] = "SELECT op_id, " OP_COLS ", id, status, response, reason, died_ms "
                        "FROM dead ORDER BY id",
        [S_REPLAY] = "INSERT INTO ops (id, " OP_COLS ") "
                     "SELECT ?1 + row_number() OVER (ORDER BY op_id), call_key, cc_name, kind, "
                     "method, path, body, ?2, 0 FROM dead",
        [S_CLEAR_DEAD] = "DELETE FROM dead",
};

/* ---- small helpers ------------------------------------------------------------------- */

int64_t
store_now_ms(void)
{
	return util_realtime_ms();
}

/* SQLite result code (primary or extended) to a negative errno. */
int
store_errno_of(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EBADMSG;
	case SQLITE_NOMEM:
		return -ENOMEM;
	default: /* SQLITE_IOERR_* and the rest */
		return -EIO;
	}
}

/* Writes "store PATH: WHAT: why" into err (with the OS error where SQLite had one). */
int
store_fail(struct store *st, int rc, const char *what, char *err, size_t errlen)
{
	int prim = rc & 0xff;
	int sys = sqlite3_system_errno(st->db);

	if (!err || !errlen)
		return store_errno_of(rc);
	if (sys && (prim == SQLITE_IOERR || prim == SQLITE_FULL || prim == SQLITE_CANTOPEN))
		snprintf(err, errlen, "store %s: %s: %s (%s)", st->path, what,
		         sqlite3_errmsg(st->db), strerror(sys));
	else
		snprintf(err, errlen, "store %s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
	return store_errno_of(rc);
}

/* Steps a bound write statement once and readies it for the next use. SQLITE_OK or an error. */
int
store_run(sqlite3_stmt *s, int bind_rc)
{
	int rc = bind_rc;

	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	sqlite3_clear_bindings(s); /* the bound strings belong to changes about to be freed */
	return rc;
}

int
store_bind_str(sqlite3_stmt *s, int i, const char *v)
{
	return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(s, i);
}

/* Binds ?1..?9 to the op's id and OP_COLS. */
int
store_bind_op(sqlite3_stmt *s, const struct store_op *op)
{
	int rc;

	if ((rc = sqlite3_bind_int64(s, 1, op->id)) != SQLITE_OK ||
	    (rc = store_bind_str(s, 2, op->call_key)) != SQLITE_OK ||
	    (rc = store_bind_str(s, 3, op->cc_name)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int(s, 4, op->kind)) != SQLITE_OK ||
	    (rc = store_bind_str(s, 5, op->method)) != SQLITE_OK ||
	    (rc = store_bind_str(s, 6, op->path)) != SQLITE_OK ||
	    (rc = store_bind_str(s, 7, op->body)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(s, 8, op->created_ms)) != SQLITE_OK)
		return rc;
	return sqlite3_bind_int64(s, 9, op->attempts);
}

/* A malloc'd copy of column i (NULL stays NULL). 0 or -ENOMEM. */
static int
col_str(sqlite3_stmt *s, int i, char **ret_str)
{
	const unsigned char *t;
	char *copy;
	int n;

	if (sqlite3_column_type(s, i) == SQLITE_NULL) {
		*ret_str = NULL;
		return 0;
	}
	t = sqlite3_column_text(s, i);
	n = sqlite3_column_bytes(s, i);
	if (!t)
		return -ENOMEM;
	copy = malloc((size_t)n + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, t, (size_t)n);
	copy[n] = '\0';
	*ret_str = copy;
	return 0;
}

/* Fills op from columns 0..8 (id, OP_COLS). 0, or -ENOMEM with op cleared. */
static int
row_to_op(sqlite3_stmt *s, struct store_op *op)
{
	memset(op, 0, sizeof *op);
	op->id = sqlite3_column_int64(s, 0);
	op->kind = sqlite3_column_int(s, 3);
	op->created_ms = sqlite3_column_int64(s, 7);
	op->attempts = (unsigned)sqlite3_column_int64(s, 8);
	if (col_str(s, 1, &op->call_key) < 0 || col_str(s, 2, &op->cc_name) < 0 ||
	    col_str(s, 4, &op->method) < 0 || col_str(s, 5, &op->path) < 0 ||
	    col_str(s, 6, &op->body) < 0) {
		store_op_clear(op);
		return -ENOMEM;
	}
	return 0;
}

/* Makes room for one more element of size size in *arr (holding n of *cap). */
static int
grow(void **arr, size_t *cap, size_t n, size_t size)
{
	size_t new_cap;
	void *p;

	if (n < *cap)
		return 0;
	new_cap = *cap ? *cap * 2 : 16;
	p = reallocarray(*arr, new_cap, size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = new_cap;
	return 0;
}

/* ---- one-off queries at open --------------------------------------------------------- */

/* The first column of the first row of sql as an integer (0 when there is no row). */
static int
query_int(sqlite3 *db, const char *sql, int64_t *ret_v)
{
	sqlite3_stmt *s;
	int64_t v = 0;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(s);
	if (rc == SQLITE_OK)
		*ret_v = v;
	return rc;
}

static int
query_text(sqlite3 *db, const char *sql, char *buf, size_t len)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(s, 0);
		snprintf(buf, len, "%s", t ? (const char *)t : "");
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		snprintf(buf, len, "%s", "");
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc;
}

/* ---- open and close ------------------------------------------------------------------ */

/* The database file is made here, 0600, so that SQLite (which would use 0644) only opens it. */
static int
create_file(const char *path, char *err, size_t errlen)
{
	char dir[4096];
	struct stat sb;
	char *slash;
	int fd, r;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	r = -errno;
	snprintf(dir, sizeof dir, "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof dir, ".");
	if (r == -ENOENT && stat(dir, &sb) < 0)
		snprintf(err, errlen, "store %s: directory %s does not exist", path, dir);
	else
		snprintf(err, errlen, "store %s: cannot create: %s", path, strerror(-r));
	return r;
}

/* WAL, synchronous=FULL and the rest, each checked. */
static int
set_pragmas(struct store *st, char *err, size_t errlen)
{
	char mode[32];
	int64_t sync = 0;
	int rc;

	rc = query_text(st->db, "PRAGMA journal_mode=WAL", mode, sizeof mode);
	if (rc != SQLITE_OK)
		return store_fail(st, rc, "setting WAL mode", err, errlen);
	if (strcmp(mode, "wal") != 0) {
		snprintf(err, errlen, "store %s: SQLite refused WAL mode (journal_mode is \"%s\")",
		         st->path, mode);
		return -ENOTSUP;
	}
	rc = sqlite3_exec(st->db,
	                  "PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;"
	                  "PRAGMA journal_size_limit=" WAL_SIZE_LIMIT ";",
	                  NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = query_int(st->db, "PRAGMA synchronous", &sync);
	if (rc != SQLITE_OK)
		return store_fail(st, rc, "setting synchronous=FULL", err, errlen);
	if (sync != 2) {
		snprintf(err, errlen, "store %s: SQLite refused synchronous=FULL (it is %lld)",
		         st->path, (long long)sync);
		return -ENOTSUP;
	}
	return 0;
}

static int
refuse_newer(struct store *st, int64_t version, char *err, size_t errlen)
{
	snprintf(err, errlen,
	         "store %s: schema version %lld is newer than this scvbridge knows (%d); "
	         "run a newer scvbridge or point store.path elsewhere",
	         st->path, (long long)version, SCHEMA_VERSION);
	return -ENOTSUP;
}

/* Brings the schema to SCHEMA_VERSION. The transaction also proves the file takes writes. */
static int
migrate(struct store *st, char *err, size_t errlen)
{
	char sql[64];
	int64_t v = 0, from;
	int rc, r;

	rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return store_fail(st, rc, "opening for writing", err, errlen);
	rc = query_int(st->db, "PRAGMA user_version", &v);
	if (rc != SQLITE_OK) {
		r = store_fail(st, rc, "reading the schema version", err, errlen);
		goto out_rollback;
	}
	if (v < 0 || v > SCHEMA_VERSION) {
		r = refuse_newer(st, v, err, errlen);
		goto out_rollback;
	}
	for (from = v; v < SCHEMA_VERSION; v++) {
		rc = sqlite3_exec(st->db, migrations[v], NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			snprintf(sql, sizeof sql, "creating schema version %lld", (long long)v + 1);
			r = store_fail(st, rc, sql, err, errlen);
			goto out_rollback;
		}
	}
	if (from != v) {
		snprintf(sql, sizeof sql, "PRAGMA user_version=%d", SCHEMA_VERSION);
		rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			r = store_fail(st, rc, "setting the schema version", err, errlen);
			goto out_rollback;
		}
	}
	rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		r = store_fail(st, rc, "writing the schema", err, errlen);
		goto out_rollback;
	}
	return 0;

out_rollback:
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

int
store_open(const char *path, struct store **ret_store, char *err, size_t errlen)
{
	struct store *st;
	int64_t version = 0, last = 0;
	int rc, r;

	st = calloc(1, sizeof *st);
	if (!st) {
		snprintf(err, errlen, "store %s: out of memory", path);
		return -ENOMEM;
	}
	pthread_mutex_init(&st->db_lock, NULL);
	pthread_mutex_init(&st->fl_lock, NULL);
	pthread_cond_init(&st->fl_cond, NULL);
	st->path = strdup(path);
	if (!st->path) {
		snprintf(err, errlen, "store %s: out of memory", path);
		r = -ENOMEM;
		goto out_free_store;
	}
	r = create_file(path, err, errlen);
	if (r < 0)
		goto out_free_path;
	/* NOMUTEX: db_lock lets one thread at a time use the connection */
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		if (!st->db) {
			snprintf(err, errlen, "store %s: out of memory", path);
			r = -ENOMEM;
			goto out_free_path;
		}
		r = store_fail(st, rc, "opening", err, errlen);
		goto out_close_db;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	/* the version first: a newer store is refused before anything in it changes */
	rc = query_int(st->db, "PRAGMA user_version", &version);
	if (rc != SQLITE_OK) {
		r = store_fail(st, rc, "reading the database", err, errlen);
		goto out_close_db;
	}
	if (version < 0 || version > SCHEMA_VERSION) {
		r = refuse_newer(st, version, err, errlen);
		goto out_close_db;
	}
	r = set_pragmas(st, err, errlen);
	if (r < 0)
		goto out_close_db;
	r = migrate(st, err, errlen);
	if (r < 0)
		goto out_close_db;
	for (int i = 0; i < S_COUNT; i++) {
		rc = sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		                        &st->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			r = store_fail(st, rc, "preparing statements (is this an scvbridge store?)",
			               err, errlen);
			goto out_close_db;
		}
	}
	rc = query_int(st->db,
	               "SELECT max(coalesce((SELECT max(id) FROM ops), 0),"
	               " coalesce((SELECT max(op_id) FROM dead), 0),"
	               " coalesce((SELECT value FROM meta WHERE key = 'last_id'), 0))",
	               &last);
	if (rc != SQLITE_OK) {
		r = store_fail(st, rc, "reading the last id", err, errlen);
		goto out_close_db;
	}
	st->next_id = last + 1;
	st->last_id_disk = last;
	*ret_store = st;
	return 0;

out_close_db:
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	sqlite3_close(st->db);
out_free_path:
	free(st->path);
out_free_store:
	pthread_cond_destroy(&st->fl_cond);
	pthread_mutex_destroy(&st->fl_lock);
	pthread_mutex_destroy(&st->db_lock);
	free(st);
	return r;
}

/* ---- reading ------------------------------------------------------------------------- */

static int
load_ops(struct store *st, int64_t after_id, size_t max, struct store_op *ops, size_t *ret_n)
{
	sqlite3_stmt *s = st->stmt[S_LOAD_OPS];
	size_t n = 0;
	int rc, r;

	if (max == 0) {
		*ret_n = 0;
		return 0;
	}
	rc = sqlite3_bind_int64(s, 1, after_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 2, max > (size_t)INT64_MAX ? INT64_MAX : (int64_t)max);
	if (rc != SQLITE_OK) {
		r = store_errno_of(rc);
		goto out_reset;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		r = row_to_op(s, &ops[n]);
		if (r < 0)
			goto out_clear_ops;
		n++;
	}
	if (rc != SQLITE_DONE) {
		r = store_errno_of(rc);
		goto out_clear_ops;
	}
	sqlite3_reset(s);
	*ret_n = n;
	return 0;

out_clear_ops:
	while (n > 0)
		store_op_clear(&ops[--n]);
out_reset:
	sqlite3_reset(s);
	return r;
}

int
store_load_ops(struct store *st, int64_t after_id, size_t max, struct store_op *ops, size_t *ret_n)
{
	int r;

	pthread_mutex_lock(&st->db_lock);
	r = load_ops(st, after_id, max, ops, ret_n);
	pthread_mutex_unlock(&st->db_lock);
	return r;
}

static int
count_ops(struct store *st, uint64_t *ret_n)
{
	sqlite3_stmt *s = st->stmt[S_COUNT_OPS];
	int64_t n = 0;
	int rc;

	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW)
		return store_errno_of(rc);
	*ret_n = (uint64_t)n;
	return 0;
}

int
store_count_ops(struct store *st, uint64_t *ret_n)
{
	int r;

	pthread_mutex_lock(&st->db_lock);
	r = count_ops(st, ret_n);
	pthread_mutex_unlock(&st->db_lock);
	return r;
}

static int
load_calls(struct store *st, struct store_call **ret_calls, size_t *ret_n)
{
	sqlite3_stmt *s = st->stmt[S_LOAD_CALLS];
	struct store_call *calls = NULL;
	size_t n = 0, cap = 0;
	int rc, r;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_call *c;

		r = grow((void **)&calls, &cap, n, sizeof *calls);
		if (r < 0)
			goto out_free_calls;
		c = &calls[n];
		memset(c, 0, sizeof *c);
		c->start_ms = sqlite3_column_int64(s, 2);
		c->accept_ms = sqlite3_column_int64(s, 3);
		if (col_str(s, 0, &c->call_key) < 0 || col_str(s, 1, &c->cc_name) < 0) {
			store_call_clear(c);
			r = -ENOMEM;
			goto out_free_calls;
		}
		n++;
	}
	if (rc != SQLITE_DONE) {
		r = store_errno_of(rc);
		goto out_free_calls;
	}
	sqlite3_reset(s);
	*ret_calls = calls;
	*ret_n = n;
	return 0;

out_free_calls:
	sqlite3_reset(s);
	while (n > 0)
		store_call_clear(&calls[--n]);
	free(calls);
	return r;
}

int
store_load_calls(struct store *st, struct store_call **ret_calls, size_t *ret_n)
{
	int r;

	pthread_mutex_lock(&st->db_lock);
	r = load_calls(st, ret_calls, ret_n);
	pthread_mutex_unlock(&st->db_lock);
	return r;
}

static int
get_alive(struct store *st, int64_t *ret_ms)
{
	sqlite3_stmt *s = st->stmt[S_GET_META];
	int64_t v = 0;
	int rc;

	rc = sqlite3_bind_text(s, 1, "alive", -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_errno_of(rc);
	*ret_ms = v;
	return 0;
}

int
store_get_alive(struct store *st, int64_t *ret_ms)
{
	int r;

	pthread_mutex_lock(&st->db_lock);
	r = get_alive(st, ret_ms);
	pthread_mutex_unlock(&st->db_lock);
	return r;
}

static int
load_dead(struct store *st, struct store_dead **ret_dead, size_t *ret_n)
{
	sqlite3_stmt *s = st->stmt[S_LOAD_DEAD];
	struct store_dead *dead = NULL;
	size_t n = 0, cap = 0;
	int rc, r;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_dead *d;

		r = grow((void **)&dead, &cap, n, sizeof *dead);
		if (r < 0)
			goto out_free_dead;
		d = &dead[n];
		memset(d, 0, sizeof *d);
		r = row_to_op(s, &d->op);
		if (r < 0)
			goto out_free_dead;
		d->id = sqlite3_column_int64(s, 9);
		d->status = sqlite3_column_int(s, 10);
		d->died_ms = sqlite3_column_int64(s, 13);
		if (col_str(s, 11, &d->response) < 0 || col_str(s, 12, &d->reason) < 0) {
			store_dead_clear(d);
			r = -ENOMEM;
			goto out_free_dead;
		}
		n++;
	}
	if (rc != SQLITE_DONE) {
		r = store_errno_of(rc);
		goto out_free_dead;
	}
	sqlite3_reset(s);
	*ret_dead = dead;
	*ret_n = n;
	return 0;

out_free_dead:
	sqlite3_reset(s);
	while (n > 0)
		store_dead_clear(&dead[--n]);
	free(dead);
	return r;
}

int
store_load_dead(struct store *st, struct store_dead **ret_dead, size_t *ret_n)
{
	int r;

	pthread_mutex_lock(&st->db_lock);
	r = load_dead(st, ret_dead, ret_n);
	pthread_mutex_unlock(&st->db_lock);
	return r;
}

/* ---- freeing ------------------------------------------------------------------------- */

void
store_close(struct store *st)
{
	if (!st)
		return;
	store_writer_stop(st); /* it writes the batch in flight, if any, first */
	if (store_flush_busy(st))
		store_flush_finish(st, NULL, 0);
	store_unstage_all(st); /* the caller commits first; what is left here is lost */
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	sqlite3_close(st->db);
	pthread_cond_destroy(&st->fl_cond);
	pthread_mutex_destroy(&st->fl_lock);
	pthread_mutex_destroy(&st->db_lock);
	free(st->path);
	free(st);
}

void
store_op_clear(struct store_op *op)
{
	free(op->call_key);
	free(op->cc_name);
	free(op->method);
	free(op->path);
	free(op->body);
	memset(op, 0, sizeof *op);
}

void
store_call_clear(struct store_call *call)
{
	free(call->call_key);
	free(call->cc_name);
	memset(call, 0, sizeof *call);
}

void
store_dead_clear(struct store_dead *dead)
{
	store_op_clear(&dead->op);
	free(dead->response);
	free(dead->reason);
	memset(dead, 0, sizeof *dead);
}
