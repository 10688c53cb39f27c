/*
 * tests connector/store_stage.c on real SQLite files in a scratch directory: ids that never
 * repeat (across deletes, dead letters and their replay), folding of staged changes into
 * earlier ones, dead letters and their replay, calls and the heartbeat, and the arguments
 * refused.
 */
#include "connector/store.c"

#include "tests/unit/connector/store_fixture.h"
#include "tests/unit/scratch.h"
#include "tests/unit/test.h"

/* ---- tests --------------------------------------------------------------------------- */

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
	count_commits(st->db);
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

int
main(void)
{
	if (scratch_setup("stage") < 0) {
		perror("mkdtemp");
		return 1;
	}
	RUN(ids_never_repeat);
	RUN(staged_changes_fold);
	RUN(bury_then_replay);
	RUN(calls_and_heartbeat);
	RUN(bad_arguments);
	scratch_teardown();
	return test_summary();
}
