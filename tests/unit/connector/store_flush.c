/*
 * tests the store's asynchronous commit (connector/store_write.c): a batch written by the
 * writer thread while the caller stages the next one, the callback from the writer's thread,
 * a failed batch put back in front of what was staged since (in order, foldable again),
 * store_commit() and store_close() waiting for the batch in flight, and the latest heartbeat
 * winning. The test holds the store's db_lock to keep a batch in flight as long as it needs.
 */
#include "connector/store.h"
#include "connector/store_int.h"

#include "tests/unit/connector/pending_ids.h"
#include "tests/unit/connector/store_fixture.h"
#include "tests/unit/scratch.h"
#include "tests/unit/test.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the writer's callback ------------------------------------------------------------ */

static pthread_mutex_t cb_lock = PTHREAD_MUTEX_INITIALIZER;
static int cb_calls;
static int cb_on_caller_thread;
static pthread_t caller_thread;

static void
on_done(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&cb_lock);
	cb_calls++;
	if (pthread_equal(pthread_self(), caller_thread))
		cb_on_caller_thread++;
	pthread_mutex_unlock(&cb_lock);
}

static int
cb_count(void)
{
	int n;

	pthread_mutex_lock(&cb_lock);
	n = cb_calls;
	pthread_mutex_unlock(&cb_lock);
	return n;
}

/* ---- helpers ------------------------------------------------------------------------- */

/* Waits (bounded: 5 s) until the writer called back n times in all. */
static int
wait_callbacks(int n)
{
	for (int i = 0; i < 500; i++) {
		if (cb_count() >= n)
			return 0;
		usleep(10000);
	}
	return -1;
}

static int64_t
meta_alive(struct store *st)
{
	int64_t v = -1;

	return store_get_alive(st, &v) == 0 ? v : -1;
}

/* ---- tests --------------------------------------------------------------------------- */

TEST(batch_written_while_the_next_is_staged)
{
	char path[300], err[256] = "";
	int64_t a[10], b[5], ids[32];
	int calls0 = cb_count();
	struct store *st = open_ok(path_of(path, sizeof path, "flight.db"));

	REQUIRE(st);
	for (int i = 0; i < 10; i++)
		a[i] = add_op(st, "a");
	REQUIRE(store_set_alive(st, 111) == 0);
	CHECK_INT(store_staged(st), 11);

	pthread_mutex_lock(&st->db_lock); /* the writer cannot write until we let it */
	CHECK_INT(store_flush_begin(st, on_done, NULL), 1);
	CHECK_INT(store_flush_busy(st), 1);
	CHECK_INT(store_staged(st), 0);
	CHECK_INT(store_flush_begin(st, on_done, NULL), 0); /* one batch at a time */
	CHECK_INT(store_flush_finish(st, err, sizeof err), -EAGAIN);

	/* staged meanwhile: new ops, and changes to ops in flight, which cannot fold into them */
	for (int i = 0; i < 5; i++)
		b[i] = add_op(st, "b");
	CHECK_INT(store_del_op(st, a[0]), 0);
	CHECK_INT(store_set_attempts(st, a[1], 3), 0);
	CHECK_INT(store_staged(st), 7);
	pthread_mutex_unlock(&st->db_lock);

	REQUIRE(wait_callbacks(calls0 + 1) == 0);
	CHECK_INT(cb_on_caller_thread, 0);
	CHECK_INT(store_flush_finish(st, err, sizeof err), 0);
	CHECK_INT(store_flush_busy(st), 0);
	CHECK_INT(store_flush_finish(st, err, sizeof err), -EALREADY);

	/* on disk: the first batch exactly */
	CHECK_INT(pending_ids(st, ids, 32), 10);
	for (int i = 0; i < 10; i++)
		CHECK_INT(ids[i], a[i]);
	CHECK_INT(meta_alive(st), 111);

	/* the second batch, also through the writer */
	CHECK_INT(store_flush_begin(st, on_done, NULL), 1);
	REQUIRE(wait_callbacks(calls0 + 2) == 0);
	CHECK_INT(store_flush_finish(st, err, sizeof err), 0);
	CHECK_INT(pending_ids(st, ids, 32), 14);
	for (int i = 0; i < 9; i++)
		CHECK_INT(ids[i], a[i + 1]);
	for (int i = 0; i < 5; i++)
		CHECK_INT(ids[9 + i], b[i]);
	CHECK_INT(cb_count(), calls0 + 2);
	CHECK_INT(store_flush_begin(st, on_done, NULL), 0); /* nothing staged */
	store_close(st);
}

TEST(failed_batch_goes_back_in_front)
{
	char path[300], err[512] = "";
	int64_t old[3], a[5], b[3], ids[32];
	int calls0 = cb_count();
	struct store *st = open_ok(path_of(path, sizeof path, "failed.db"));

	REQUIRE(st);
	for (int i = 0; i < 3; i++)
		old[i] = add_op(st, "old");
	REQUIRE(store_commit(st, err, sizeof err) == 0);
	/* a full disk: not one more page */
	REQUIRE(disk_full(st->db) == SQLITE_OK);

	char big[8192];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	for (int i = 0; i < 5; i++) {
		struct store_op op = mkop("a", 2, big);

		op.path = "/voiceCalls/a";
		REQUIRE(store_add_op(st, &op) == 0);
		a[i] = op.id;
	}
	REQUIRE(store_set_alive(st, 222) == 0);

	pthread_mutex_lock(&st->db_lock);
	CHECK_INT(store_flush_begin(st, on_done, NULL), 1);
	for (int i = 0; i < 3; i++)
		b[i] = add_op(st, "b");
	REQUIRE(store_set_alive(st, 333) == 0); /* newer than the one in flight */
	pthread_mutex_unlock(&st->db_lock);
	REQUIRE(wait_callbacks(calls0 + 1) == 0);
	CHECK_INT(store_flush_finish(st, err, sizeof err), -ENOSPC);
	CHECK(strstr(err, path) != NULL);
	if (!strstr(err, path))
		printf("# err: %s\n", err);
	/* all back: 5 + 3 ops, one heartbeat */
	CHECK_INT(store_staged(st), 9);
	CHECK_INT(pending_ids(st, ids, 32), 3);
	/* the returned adds fold again: deleting one cancels it in memory */
	CHECK_INT(store_del_op(st, a[2]), 0);
	CHECK_INT(store_staged(st), 8);

	REQUIRE(disk_room(st->db) == SQLITE_OK);
	CHECK_INT(store_flush_begin(st, on_done, NULL), 1);
	REQUIRE(wait_callbacks(calls0 + 2) == 0);
	CHECK_INT(store_flush_finish(st, err, sizeof err), 0);
	CHECK_INT(pending_ids(st, ids, 32), 10);
	{
		int64_t want[10] = {old[0], old[1], old[2], a[0], a[1],
		                    a[3],   a[4],   b[0],   b[1], b[2]};
		for (int i = 0; i < 10; i++)
			CHECK_INT(ids[i], want[i]);
	}
	CHECK_INT(meta_alive(st), 333);
	store_close(st);
}

TEST(commit_and_close_wait_for_the_batch_in_flight)
{
	char path[300], err[256] = "";
	int64_t ids[32], x[4];
	struct store *st = open_ok(path_of(path, sizeof path, "wait.db"));

	REQUIRE(st);
	x[0] = add_op(st, "x");
	x[1] = add_op(st, "x");
	pthread_mutex_lock(&st->db_lock);
	CHECK_INT(store_flush_begin(st, on_done, NULL), 1);
	x[2] = add_op(st, "x");
	pthread_mutex_unlock(&st->db_lock);
	/* a synchronous commit writes the batch in flight first, then what was staged since */
	CHECK_INT(store_commit(st, err, sizeof err), 0);
	CHECK_INT(store_flush_busy(st), 0);
	CHECK_INT(store_staged(st), 0);
	CHECK_INT(pending_ids(st, ids, 32), 3);
	for (int i = 0; i < 3; i++)
		CHECK_INT(ids[i], x[i]);

	/* close with a batch in flight: written before the connection closes */
	x[3] = add_op(st, "x");
	pthread_mutex_lock(&st->db_lock);
	CHECK_INT(store_flush_begin(st, on_done, NULL), 1);
	pthread_mutex_unlock(&st->db_lock);
	store_close(st);
	st = open_ok(path);
	REQUIRE(st);
	CHECK_INT(pending_ids(st, ids, 32), 4);
	CHECK_INT(ids[3], x[3]);
	store_close(st);
}

/* Batches back to back, as the outbox drives them: each op on disk exactly once, in order. */
TEST(many_batches_in_a_row)
{
	char path[300], err[256] = "";
	int64_t ids[256];
	int n_batches = 0, n_dels = 0, calls0 = cb_count();
	long n;
	struct store *st = open_ok(path_of(path, sizeof path, "many.db"));

	REQUIRE(st);
	for (int round = 0; round < 4; round++) {
		/* staged while the previous round's batch is in flight */
		for (int i = 0; i < 50; i++) {
			int64_t id = add_op(st, "m");

			if (i % 4 == 3) { /* an op of this round: folded away in memory */
				CHECK_INT(store_del_op(st, id - 2), 0);
				n_dels++;
			}
		}
		if (store_flush_busy(st)) {
			REQUIRE(wait_callbacks(calls0 + n_batches) == 0);
			CHECK_INT(store_flush_finish(st, err, sizeof err), 0);
		}
		CHECK_INT(store_flush_begin(st, on_done, NULL), 1);
		n_batches++;
	}
	CHECK_INT(store_commit(st, err, sizeof err), 0); /* waits for the last one */
	n = pending_ids(st, ids, 256);
	CHECK_INT(n, 200 - n_dels);
	for (long i = 1; i < n && i < 256; i++)
		CHECK(ids[i] > ids[i - 1]);
	CHECK_INT(n_batches, 4);
	store_close(st);
}

int
main(void)
{
	caller_thread = pthread_self();
	if (scratch_setup("flush") < 0) {
		perror("mkdtemp");
		return 1;
	}
	RUN(batch_written_while_the_next_is_staged);
	RUN(failed_batch_goes_back_in_front);
	RUN(commit_and_close_wait_for_the_batch_in_flight);
	RUN(many_batches_in_a_row);
	scratch_teardown();
	return test_summary();
}
