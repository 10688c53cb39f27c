/*
 * The store's commits: a batch of staged changes written in one transaction (one WAL fsync).
 *
 * Two ways in:
 *   store_commit()       on the calling thread, now (start-up, shutdown, the operator's tools);
 *   store_flush_begin()  hands the batch to the store's writer thread and returns at once; the
 *                        loop thread goes on staging the next batch while the disk syncs, and
 *                        store_flush_finish() takes the outcome when the writer calls back.
 * The second is the daemon's group commit: while one fsync runs, everything staged meanwhile
 * gathers into the next batch, so under load one fsync covers many calls and the event loop
 * never waits for the disk. Nothing changes for durability: the outbox sends an operation (and
 * forwards an INVITE) only after store_flush_finish() said its batch is on disk.
 *
 * A failed batch goes back in front of what was staged since, in order, and is written by the
 * next commit; nothing is dropped.
 */
#include "connector/store_int.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- one transaction ----------------------------------------------------------------- */

static int
put_meta(struct store *st, const char *key, int64_t value)
{
	sqlite3_stmt *s = st->stmt[S_PUT_META];
	int rc;

	rc = sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 2, value);
	return store_run(s, rc);
}

static int
apply(struct store *st, const struct change *c)
{
	sqlite3_stmt *s;
	int rc;

	switch (c->kind) {
	case CH_ADD_OP:
		s = st->stmt[S_PUT_OP];
		return store_run(s, store_bind_op(s, &c->op));
	case CH_DEL_OP:
		s = st->stmt[S_DEL_OP];
		return store_run(s, sqlite3_bind_int64(s, 1, c->op.id));
	case CH_SET_ATTEMPTS:
		s = st->stmt[S_SET_ATTEMPTS];
		rc = sqlite3_bind_int64(s, 1, c->op.id);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(s, 2, c->op.attempts);
		return store_run(s, rc);
	case CH_BURY_OP:
		s = st->stmt[S_DEL_OP];
		rc = store_run(s, sqlite3_bind_int64(s, 1, c->op.id));
		if (rc != SQLITE_OK)
			return rc;
		s = st->stmt[S_PUT_DEAD];
		rc = store_bind_op(s, &c->op);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int(s, 10, c->status);
		if (rc == SQLITE_OK)
			rc = store_bind_str(s, 11, c->response);
		if (rc == SQLITE_OK)
			rc = store_bind_str(s, 12, c->reason);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(s, 13, c->died_ms);
		return store_run(s, rc);
	case CH_ADD_CALL:
		s = st->stmt[S_PUT_CALL];
		rc = store_bind_str(s, 1, c->call.call_key);
		if (rc == SQLITE_OK)
			rc = store_bind_str(s, 2, c->call.cc_name);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(s, 3, c->call.start_ms);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(s, 4, c->call.accept_ms);
		return store_run(s, rc);
	case CH_SET_ACCEPT:
		s = st->stmt[S_SET_ACCEPT];
		rc = store_bind_str(s, 1, c->call.call_key);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(s, 2, c->call.accept_ms);
		return store_run(s, rc);
	case CH_DEL_CALL:
		s = st->stmt[S_DEL_CALL];
		return store_run(s, store_bind_str(s, 1, c->call.call_key));
	}
	return SQLITE_MISUSE;
}

/* Every dead letter back into ops with new ids after first_id; *ret_moved how many. */
static int
replay_rows(struct store *st, int64_t first_id, int64_t *ret_moved)
{
	sqlite3_stmt *s = st->stmt[S_REPLAY];
	int64_t moved;
	int rc;

	rc = sqlite3_bind_int64(s, 1, first_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 2, store_now_ms());
	rc = store_run(s, rc);
	if (rc != SQLITE_OK)
		return rc;
	moved = sqlite3_changes64(st->db);
	rc = store_run(st->stmt[S_CLEAR_DEAD], SQLITE_OK);
	if (rc != SQLITE_OK)
		return rc;
	*ret_moved = moved;
	return SQLITE_OK;
}

/*
 * One transaction: the batch's changes in order, its heartbeat, the dead letters if replay,
 * the id high-water mark. Any thread, with db_lock held. 0 or a negative errno (rolled back).
 */
static int
write_batch(struct store *st, struct batch *b, int replay, int64_t *ret_moved, char *err,
            size_t errlen)
{
	char what[96];
	int64_t moved = 0, last_id;
	int rc, r;

	snprintf(what, sizeof what, "cannot begin writing %zu change(s)", b->n);
	rc = store_run(st->stmt[S_BEGIN], SQLITE_OK);
	if (rc != SQLITE_OK)
		goto out_rollback;
	snprintf(what, sizeof what, "cannot write %zu change(s)", b->n);
	for (const struct change *c = b->head; c; c = c->next) {
		rc = apply(st, c);
		if (rc != SQLITE_OK)
			goto out_rollback;
	}
	if (b->alive_staged) {
		rc = put_meta(st, "alive", b->alive_ms);
		if (rc != SQLITE_OK)
			goto out_rollback;
	}
	if (replay) {
		snprintf(what, sizeof what, "cannot replay the dead letters");
		rc = replay_rows(st, b->next_id - 1, &moved);
		if (rc != SQLITE_OK)
			goto out_rollback;
	}
	last_id = b->next_id - 1 + moved;
	if (last_id > st->last_id_disk) {
		rc = put_meta(st, "last_id", last_id);
		if (rc != SQLITE_OK)
			goto out_rollback;
	}
	snprintf(what, sizeof what, "cannot commit %zu change(s)", b->n);
	rc = store_run(st->stmt[S_COMMIT], SQLITE_OK);
	if (rc != SQLITE_OK)
		goto out_rollback;
	b->last_id = last_id;
	if (ret_moved)
		*ret_moved = moved;
	return 0;

out_rollback:
	r = store_fail(st, rc, what, err, errlen); /* before ROLLBACK replaces SQLite's message */
	if (!sqlite3_get_autocommit(st->db))
		store_run(st->stmt[S_ROLLBACK], SQLITE_OK);
	return r;
}

/* The loop thread's side once a batch was written (r == 0) or not. */
static void
batch_done(struct store *st, struct batch *b, int r, int64_t moved)
{
	if (r == 0) {
		if (b->last_id > st->last_id_disk)
			st->last_id_disk = b->last_id;
		st->next_id += moved;
		store_free_batch(b);
	} else {
		store_return_batch(st, b);
	}
}

/* ---- synchronous --------------------------------------------------------------------- */

static int
commit_now(struct store *st, int replay, int64_t *ret_moved, char *err, size_t errlen)
{
	struct batch b;
	int64_t moved = 0;
	int r;

	/* a batch in flight goes first (its outcome: written, or back in staging) */
	if (st->fl_busy) {
		store_flush_wait(st);
		store_flush_finish(st, NULL, 0);
	}
	if (store_staged(st) == 0 && !replay)
		return 0;
	store_take_batch(st, &b);
	pthread_mutex_lock(&st->db_lock);
	r = write_batch(st, &b, replay, &moved, err, errlen);
	pthread_mutex_unlock(&st->db_lock);
	batch_done(st, &b, r, moved);
	if (r == 0 && ret_moved)
		*ret_moved = moved;
	return r;
}

int
store_commit(struct store *st, char *err, size_t errlen)
{
	return commit_now(st, 0, NULL, err, errlen);
}

int
store_replay_dead(struct store *st, size_t *ret_n)
{
	char err[256];
	int64_t moved = 0;
	int r;

	r = commit_now(st, 1, &moved, err, sizeof err);
	if (r < 0)
		return r;
	*ret_n = (size_t)moved;
	return 0;
}

/* ---- the writer thread --------------------------------------------------------------- */

static void *
writer_main(void *arg)
{
	struct store *st = arg;

	pthread_setname_np(pthread_self(), "scvb-store");
	pthread_mutex_lock(&st->fl_lock);
	for (;;) {
		int r;

		while (!st->fl_queued && !st->quit)
			pthread_cond_wait(&st->fl_cond, &st->fl_lock);
		if (!st->fl_queued)
			break; /* quit, nothing left to write */
		pthread_mutex_unlock(&st->fl_lock);

		pthread_mutex_lock(&st->db_lock);
		r = write_batch(st, &st->fl, 0, NULL, st->fl_err, sizeof st->fl_err);
		pthread_mutex_unlock(&st->db_lock);

		pthread_mutex_lock(&st->fl_lock);
		st->fl_queued = 0;
		st->fl_done = 1;
		st->fl_rc = r;
		pthread_cond_broadcast(&st->fl_cond);
		if (st->fl_notify) {
			/* outside the lock: the callback may be uv_async_send() */
			void (*notify)(void *) = st->fl_notify;
			void *notify_arg = st->fl_notify_arg;

			pthread_mutex_unlock(&st->fl_lock);
			notify(notify_arg);
			pthread_mutex_lock(&st->fl_lock);
		}
	}
	pthread_mutex_unlock(&st->fl_lock);
	return NULL;
}

int
store_flush_begin(struct store *st, void (*done)(void *arg), void *arg)
{
	int r;

	if (st->fl_busy)
		return 0;
	if (store_staged(st) == 0)
		return 0;
	if (!st->writer_running) {
		r = pthread_create(&st->writer, NULL, writer_main, st);
		if (r != 0)
			return -r;
		st->writer_running = 1;
	}
	pthread_mutex_lock(&st->fl_lock);
	store_take_batch(st, &st->fl);
	st->fl_notify = done;
	st->fl_notify_arg = arg;
	st->fl_err[0] = 0;
	st->fl_done = 0;
	st->fl_queued = 1;
	st->fl_busy = 1;
	pthread_cond_broadcast(&st->fl_cond);
	pthread_mutex_unlock(&st->fl_lock);
	return 1;
}

int
store_flush_busy(const struct store *st)
{
	return st->fl_busy;
}

void
store_flush_wait(struct store *st)
{
	if (!st->fl_busy)
		return;
	pthread_mutex_lock(&st->fl_lock);
	while (!st->fl_done)
		pthread_cond_wait(&st->fl_cond, &st->fl_lock);
	pthread_mutex_unlock(&st->fl_lock);
}

int
store_flush_finish(struct store *st, char *err, size_t errlen)
{
	int done, r;

	if (!st->fl_busy)
		return -EALREADY;
	pthread_mutex_lock(&st->fl_lock);
	done = st->fl_done;
	r = st->fl_rc;
	if (done) {
		st->fl_done = 0;
		st->fl_notify = NULL;
		st->fl_notify_arg = NULL;
		if (r < 0 && err && errlen)
			snprintf(err, errlen, "%s", st->fl_err);
	}
	pthread_mutex_unlock(&st->fl_lock);
	if (!done)
		return -EAGAIN;
	st->fl_busy = 0;
	batch_done(st, &st->fl, r, 0);
	return r;
}

void
store_writer_stop(struct store *st)
{
	if (!st->writer_running)
		return;
	pthread_mutex_lock(&st->fl_lock);
	st->quit = 1;
	pthread_cond_broadcast(&st->fl_cond);
	pthread_mutex_unlock(&st->fl_lock);
	pthread_join(st->writer, NULL);
	st->writer_running = 0;
}
