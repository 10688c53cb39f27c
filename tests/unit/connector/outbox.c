/*
 * tests connector/outbox.c: per-call order, independence of calls, retry classes and
 * Retry-After, with the one send interface (outbox_send_fn) replaced by a fake that records
 * what would have been sent and lets the test answer.
 */
#include "connector/outbox.c"

#include <sqlite3.h>
#include <unistd.h>

#include "scv/client_int.h"
#include "tests/unit/scratch.h"
#include "tests/unit/test.h"

/* ---- a fake of the one interface the outbox sends through (outbox_send_fn) ------------- */

struct sent {
	struct scv_client *client;
	char method[8];
	char path[128];
	char body[512];
	scv_http_cb cb;
	void *arg;
	uint64_t at_ms;
	int answered;
};

static struct sent sent[64];
static size_t n_sent;
static uv_loop_t *test_loop;
static int send_fails; /* >0: the next sends fail with -ENOBUFS */

/* The contact centers' clients, without key or HTTP target: the outbox passes them back to
 * send, and builds with them only the update that closes a call a crash left up. */
static struct scv_client acme_client = {.cfg = {.name = "acme"}};
static struct scv_client *const clients[1] = {&acme_client};

static int
fake_send(struct scv_client *client, const struct scv_req *req, scv_http_cb cb, void *arg)
{
	struct sent *s;

	if (send_fails > 0) {
		send_fails--;
		return -ENOBUFS;
	}
	s = &sent[n_sent++];
	s->client = client;
	snprintf(s->method, sizeof s->method, "%s", req->method);
	snprintf(s->path, sizeof s->path, "%s", req->path);
	snprintf(s->body, sizeof s->body, "%s", req->body ? req->body : "");
	s->cb = cb;
	s->arg = arg;
	s->at_ms = uv_now(test_loop);
	s->answered = 0;
	return 0;
}

static void
answer(size_t i, int status, int error, int retry_after)
{
	struct scv_http_resp r = {.status = status,
	                          .error = error,
	                          .retry_after_s = retry_after,
	                          .body = "{}",
	                          .body_len = 2};
	sent[i].answered = 1;
	sent[i].cb(&r, sent[i].arg);
}

/* ---- fixture --------------------------------------------------------------------------- */

static struct outbox_result results[64];
static char result_keys[64][40];
static size_t n_results;
static int empty_called;

static void
on_result(const struct outbox_result *res, void *arg)
{
	(void)arg;
	snprintf(result_keys[n_results], sizeof result_keys[0], "%s", res->call_key);
	results[n_results] = *res;
	results[n_results].call_key = result_keys[n_results];
	n_results++;
}

static void
on_empty(void *arg)
{
	(void)arg;
	empty_called++;
}

static struct cfg_contact_center cc = {.name = "acme",
                                       .provider_name = "scvbridge",
                                       .request_timeout_ms = 1000,
                                       .max_creates_per_s = 1000};
static struct cfg config = {.ccs = &cc, .n_ccs = 1, .store_max_age_s = 3600};

static struct outbox *
fixture(uv_loop_t *loop)
{
	struct outbox *ob = NULL;

	uv_loop_init(loop);
	test_loop = loop;
	n_sent = 0;
	n_results = 0;
	empty_called = 0;
	send_fails = 0;
	if (outbox_new(loop, &config, clients, fake_send, NULL, on_result, NULL, &ob) < 0)
		return NULL;
	return ob;
}

static void
teardown(uv_loop_t *loop, struct outbox *ob)
{
	outbox_free(ob);
	uv_run(loop, UV_RUN_DEFAULT);
	CHECK_INT(uv_loop_close(loop), 0);
}

/* A built request, as the clients make them (strings malloc'd). */
static struct scv_req *
req(enum scv_req_kind kind, const char *method, const char *path, const char *body)
{
	static struct scv_req r;

	r = (struct scv_req){.kind = kind,
	                     .method = strdup(method),
	                     .path = strdup(path),
	                     .body = body ? strdup(body) : NULL};
	return &r;
}

static void
on_guard(uv_timer_t *t)
{
	(void)t;
}

/* Runs the loop until n requests were sent or ms elapsed (a guard timer bounds each turn). */
static void
run_until_sent(uv_loop_t *loop, size_t n, unsigned ms)
{
	uv_timer_t guard;
	uint64_t end;

	uv_timer_init(loop, &guard);
	uv_timer_start(&guard, on_guard, ms, 0);
	uv_update_time(loop);
	end = uv_now(loop) + ms;
	while (n_sent < n && uv_now(loop) < end) {
		uv_run(loop, UV_RUN_ONCE);
		uv_update_time(loop);
	}
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
}

/* ---- tests ----------------------------------------------------------------------------- */

TEST(update_waits_for_its_create)
{
	uv_loop_t loop;
	struct outbox *ob = fixture(&loop);

	REQUIRE(ob);
	CHECK_INT(outbox_submit(ob, 0, "A", req(SCV_REQ_CREATE, "POST", "/voiceCalls", "cA")), 0);
	CHECK_INT(outbox_submit(ob, 0, "A", req(SCV_REQ_UPDATE, "PATCH", "/voiceCalls/A", "uA")),
	          0);
	CHECK_INT(outbox_submit(ob, 0, "B", req(SCV_REQ_CREATE, "POST", "/voiceCalls", "cB")), 0);
	/* A's create and B's create leave at once; A's update waits */
	CHECK_INT(n_sent, 2);
	CHECK_STR(sent[0].body, "cA");
	CHECK_STR(sent[1].body, "cB");
	CHECK(sent[0].client == clients[0]);
	CHECK_INT(outbox_pending(ob), 3);
	/* B finishing does not release A's update */
	answer(1, 200, 0, -1);
	CHECK_INT(n_sent, 2);
	answer(0, 200, 0, -1);
	run_until_sent(&loop, 3, 1000);
	CHECK_INT(n_sent, 3);
	CHECK_STR(sent[2].method, "PATCH");
	CHECK_STR(sent[2].path, "/voiceCalls/A");
	outbox_when_empty(ob, on_empty, NULL);
	CHECK_INT(empty_called, 0);
	answer(2, 200, 0, -1);
	CHECK_INT(empty_called, 1);
	CHECK_INT(n_results, 3);
	CHECK(results[0].accepted && results[1].accepted && results[2].accepted);
	CHECK_STR(results[2].call_key, "A");
	CHECK_INT(results[2].kind, SCV_REQ_UPDATE);
	CHECK_INT(outbox_pending(ob), 0);
	teardown(&loop, ob);
}

TEST(retry_after_is_honoured)
{
	uv_loop_t loop;
	struct outbox *ob = fixture(&loop);

	REQUIRE(ob);
	outbox_submit(ob, 0, "A", req(SCV_REQ_CREATE, "POST", "/voiceCalls", "cA"));
	REQUIRE(n_sent == 1);
	answer(0, 429, 0, 1);
	CHECK_INT(n_sent, 1); /* not at once */
	run_until_sent(&loop, 2, 3000);
	REQUIRE(n_sent == 2);
	CHECK(sent[1].at_ms - sent[0].at_ms >= 1000);
	CHECK_STR(sent[1].body, "cA");
	answer(1, 201, 0, -1);
	CHECK_INT(n_results, 1);
	CHECK_INT(results[0].accepted, 1);
	CHECK_INT(results[0].attempts, 2);
	teardown(&loop, ob);
}

TEST(transport_errors_and_5xx_retry)
{
	uv_loop_t loop;
	struct outbox *ob = fixture(&loop);

	REQUIRE(ob);
	outbox_submit(ob, 0, "A", req(SCV_REQ_CREATE, "POST", "/voiceCalls", "cA"));
	answer(0, 0, -ECONNREFUSED, -1);
	run_until_sent(&loop, 2, 3000);
	REQUIRE(n_sent == 2);
	answer(1, 503, 0, -1);
	run_until_sent(&loop, 3, 5000);
	REQUIRE(n_sent == 3);
	answer(2, 200, 0, -1);
	CHECK_INT(n_results, 1);
	CHECK_INT(results[0].attempts, 3);
	CHECK_INT(ob->stats.retries, 2);
	teardown(&loop, ob);
}

TEST(permanent_refusal_releases_the_next)
{
	uv_loop_t loop;
	struct outbox *ob = fixture(&loop);

	REQUIRE(ob);
	outbox_submit(ob, 0, "A", req(SCV_REQ_CREATE, "POST", "/voiceCalls", "cA"));
	outbox_submit(ob, 0, "A", req(SCV_REQ_UPDATE, "PATCH", "/voiceCalls/A", "uA"));
	answer(0, 400, 0, -1);
	CHECK_INT(n_results, 1);
	CHECK_INT(results[0].accepted, 0);
	CHECK_INT(results[0].status, 400);
	run_until_sent(&loop, 2, 1000);
	CHECK_INT(n_sent, 2);
	CHECK_STR(sent[1].body, "uA");
	answer(1, 200, 0, -1);
	CHECK_INT(outbox_pending(ob), 0);
	teardown(&loop, ob);
}

TEST(auth_failure_pauses_the_center)
{
	uv_loop_t loop;
	struct outbox *ob = fixture(&loop);

	REQUIRE(ob);
	outbox_submit(ob, 0, "A", req(SCV_REQ_CREATE, "POST", "/voiceCalls", "cA"));
	answer(0, 401, 0, -1);
	CHECK_INT(n_results, 0); /* not dropped */
	CHECK_INT(outbox_pending(ob), 1);
	outbox_submit(ob, 0, "B", req(SCV_REQ_CREATE, "POST", "/voiceCalls", "cB"));
	run_until_sent(&loop, 2, 300);
	CHECK_INT(n_sent, 1); /* the whole center holds */
	CHECK(ob->ccs[0].paused_until_ms > uv_now(&loop));
	teardown(&loop, ob);
}

TEST(many_calls_keep_their_order)
{
	uv_loop_t loop;
	struct outbox *ob = fixture(&loop);
	char key[16], path[32];

	REQUIRE(ob);
	for (int i = 0; i < 20; i++) {
		snprintf(key, sizeof key, "k%d", i);
		snprintf(path, sizeof path, "/voiceCalls/k%d", i);
		outbox_submit(ob, 0, key, req(SCV_REQ_CREATE, "POST", "/voiceCalls", key));
		outbox_submit(ob, 0, key, req(SCV_REQ_UPDATE, "PATCH", path, path));
	}
	CHECK_INT(n_sent, 20);
	for (size_t i = 0; i < 20; i++)
		CHECK_STR(sent[i].method, "POST");
	for (size_t i = 0; i < 20; i++)
		answer(i, 200, 0, -1);
	run_until_sent(&loop, 40, 1000);
	CHECK_INT(n_sent, 40);
	for (size_t i = 20; i < 40; i++) {
		CHECK_STR(sent[i].method, "PATCH");
		answer(i, 200, 0, -1);
	}
	CHECK_INT(outbox_pending(ob), 0);
	CHECK_INT(ob->stats.accepted, 40);
	teardown(&loop, ob);
}

TEST(failing_center_gets_one_probe_per_interval)
{
	uv_loop_t loop;
	struct outbox *ob = fixture(&loop);

	REQUIRE(ob);
	outbox_submit(ob, 0, "A", req(SCV_REQ_CREATE, "POST", "/voiceCalls", "cA"));
	REQUIRE(n_sent == 1);
	answer(0, 503, 0, -1);
	CHECK_INT(ob->ccs[0].open, 1);
	/* while the center fails, new work waits: no storm */
	for (int i = 0; i < 5; i++) {
		char key[16];
		snprintf(key, sizeof key, "k%d", i);
		outbox_submit(ob, 0, key, req(SCV_REQ_CREATE, "POST", "/voiceCalls", key));
	}
	CHECK_INT(n_sent, 1);
	/* one probe when the interval has passed, and only one */
	run_until_sent(&loop, 2, 3000);
	CHECK_INT(n_sent, 2);
	run_until_sent(&loop, 3, 300);
	CHECK_INT(n_sent, 2);
	CHECK_STR(sent[1].body, "cA"); /* the oldest first */
	answer(1, 0, -ECONNREFUSED, -1);
	run_until_sent(&loop, 3, 5000);
	CHECK_INT(n_sent, 3);
	CHECK_INT(ob->stats.probes, 2);
	/* the probe succeeds: everything waiting leaves at once */
	answer(2, 200, 0, -1);
	CHECK_INT(ob->ccs[0].open, 0);
	CHECK_INT(n_sent, 8);
	for (size_t i = 3; i < n_sent; i++)
		answer(i, 200, 0, -1);
	CHECK_INT(outbox_pending(ob), 0);
	teardown(&loop, ob);
}

TEST(creates_are_rate_limited_updates_are_not)
{
	uv_loop_t loop;
	struct outbox *ob;
	char key[16], path[32];

	cc.max_creates_per_s = 5;
	ob = fixture(&loop);
	REQUIRE(ob);
	for (int i = 0; i < 12; i++) {
		snprintf(key, sizeof key, "c%d", i);
		outbox_submit(ob, 0, key, req(SCV_REQ_CREATE, "POST", "/voiceCalls", key));
	}
	CHECK_INT(n_sent, 5); /* one second's worth */
	snprintf(path, sizeof path, "/voiceCalls/u");
	outbox_submit(ob, 0, "u", req(SCV_REQ_UPDATE, "PATCH", path, "u"));
	CHECK_INT(n_sent, 6); /* not held back by the create limit */
	CHECK_STR(sent[5].method, "PATCH");
	run_until_sent(&loop, 7, 1000);
	CHECK_INT(n_sent, 7); /* the next create after ~200 ms */
	CHECK(sent[6].at_ms - sent[5].at_ms >= 150);
	for (size_t i = 0; i < n_sent; i++)
		answer(i, 200, 0, -1);
	cc.max_creates_per_s = 1000;
	teardown(&loop, ob);
}

TEST(too_old_goes_to_the_dead_letters)
{
	uv_loop_t loop;
	struct outbox *ob;

	config.store_max_age_s = 0;
	ob = fixture(&loop);
	REQUIRE(ob);
	outbox_submit(ob, 0, "A", req(SCV_REQ_CREATE, "POST", "/voiceCalls", "cA"));
	REQUIRE(n_sent == 1);
	usleep(5000);
	answer(0, 503, 0, -1);
	CHECK_INT(n_results, 1);
	CHECK_INT(results[0].accepted, 0);
	CHECK_INT(ob->stats.expired, 1);
	CHECK_INT(outbox_pending(ob), 0);
	config.store_max_age_s = 3600;
	teardown(&loop, ob);
}

TEST(a_send_that_fails_is_retried)
{
	uv_loop_t loop;
	struct outbox *ob = fixture(&loop);

	REQUIRE(ob);
	send_fails = 1;
	outbox_submit(ob, 0, "A", req(SCV_REQ_CREATE, "POST", "/voiceCalls", "cA"));
	CHECK_INT(n_sent, 0);
	CHECK_INT(outbox_pending(ob), 1); /* kept, and the center is probed later */
	CHECK_INT(ob->ccs[0].open, 1);
	run_until_sent(&loop, 1, 3000);
	REQUIRE(n_sent == 1);
	CHECK_STR(sent[0].body, "cA");
	answer(0, 201, 0, -1);
	CHECK_INT(n_results, 1);
	CHECK_INT(results[0].accepted, 1);
	CHECK_INT(results[0].attempts, 1); /* a send that never left is no attempt */
	teardown(&loop, ob);
}

TEST(a_request_nobody_built_is_refused)
{
	uv_loop_t loop;
	struct outbox *ob = fixture(&loop);
	struct scv_req none = {.kind = SCV_REQ_UPDATE};

	REQUIRE(ob);
	CHECK_INT(outbox_submit(ob, 0, "A", &none), -EINVAL);
	CHECK_INT(outbox_submit(ob, 1, "A", req(SCV_REQ_CREATE, "POST", "/voiceCalls", "c")),
	          -EINVAL); /* no such contact center; the strings are freed (ASan) */
	CHECK_INT(outbox_pending(ob), 0);
	CHECK_INT(n_sent, 0);
	teardown(&loop, ob);
}

static struct sent *
sent_to(const char *method, const char *path)
{
	for (size_t i = 0; i < n_sent; i++)
		if (strcmp(sent[i].method, method) == 0 && strcmp(sent[i].path, path) == 0)
			return &sent[i];
	return NULL;
}

static void
answer_sent(struct sent *s, int status)
{
	REQUIRE(s);
	answer((size_t)(s - sent), status, 0, -1);
}

/*
 * Rows an earlier build left in the store (written here with SQL, as it wrote them: kind 1
 * create, 2 update, 3 clearRouting; method, path and body as sent) are sent after an upgrade,
 * in per-call order, and the call it left up is closed through the contact center's client.
 */
TEST(rows_left_by_an_earlier_version_are_sent)
{
	char path[300], sql[1024], err[256];
	struct outbox *ob = NULL;
	struct store *st = NULL;
	uv_loop_t loop;
	sqlite3 *db;
	long long now = (long long)outbox_now_real_ms();
	struct sent *s;

	REQUIRE(scratch_setup("outbox") == 0);
	path_of(path, sizeof path, "store.db");
	REQUIRE(store_open(path, &st, err, sizeof err) == 0);
	store_close(st);
	st = NULL;
	REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
	snprintf(
	        sql, sizeof sql,
	        "INSERT INTO ops VALUES (1, 'K', 'acme', 1, 'POST', '/voiceCalls', "
	        "'{\"vendorCallKey\":\"K\"}', %lld, 0);"
	        "INSERT INTO ops VALUES (2, 'L', 'acme', 3, 'PATCH', '/voiceCalls/L/clearRouting', "
	        "NULL, %lld, 2);"
	        "INSERT INTO ops VALUES (3, 'L', 'acme', 2, 'PATCH', '/voiceCalls/L', "
	        "'{\"endTime\":\"x\"}', %lld, 0);"
	        "INSERT INTO calls VALUES ('K', 'acme', 1768471200000, 0);",
	        now, now, now);
	CHECK_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	REQUIRE(store_open(path, &st, err, sizeof err) == 0);
	uv_loop_init(&loop);
	test_loop = &loop;
	n_sent = n_results = 0;
	send_fails = 0;
	REQUIRE(outbox_new(&loop, &config, clients, fake_send, st, on_result, NULL, &ob) == 0);
	REQUIRE(outbox_recover(ob, err, sizeof err) == 0);
	run_until_sent(&loop, 2, 2000);
	/* the head of each call leaves; the updates wait behind them */
	CHECK_INT(n_sent, 2);
	s = sent_to("POST", "/voiceCalls");
	REQUIRE(s);
	CHECK_STR(s->body, "{\"vendorCallKey\":\"K\"}");
	CHECK(s->client == &acme_client);
	s = sent_to("PATCH", "/voiceCalls/L/clearRouting");
	REQUIRE(s);
	CHECK_STR(s->body, "");
	answer_sent(sent_to("PATCH", "/voiceCalls/L/clearRouting"), 200);
	answer_sent(sent_to("POST", "/voiceCalls"), 201);
	run_until_sent(&loop, 4, 2000);
	CHECK_INT(n_sent, 4);
	s = sent_to("PATCH", "/voiceCalls/L");
	REQUIRE(s);
	CHECK_STR(s->body, "{\"endTime\":\"x\"}");
	/* K was up when the earlier process stopped: closed as TELECOM_PROBLEM, from its start */
	s = sent_to("PATCH", "/voiceCalls/K");
	REQUIRE(s);
	CHECK(strstr(s->body, "\"startTime\":\"2026-01-15T10:00:00.000Z\"") != NULL);
	CHECK(strstr(s->body, "\"value\":\"TELECOM_PROBLEM\"") != NULL);
	answer_sent(sent_to("PATCH", "/voiceCalls/L"), 200);
	answer_sent(sent_to("PATCH", "/voiceCalls/K"), 200);
	CHECK_INT(n_results, 4);
	CHECK_INT(results[0].kind, SCV_REQ_CLEAR_ROUTING);
	CHECK_INT(results[0].attempts, 3); /* the stored count goes on */
	CHECK_INT(results[1].kind, SCV_REQ_CREATE);
	CHECK_STR(results[2].call_key, "L");
	CHECK_INT(results[2].kind, SCV_REQ_UPDATE);
	CHECK_STR(results[3].call_key, "K");
	CHECK_INT(results[3].kind, SCV_REQ_UPDATE);
	CHECK_INT(outbox_pending(ob), 0);
	outbox_free(ob);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_INT(uv_loop_close(&loop), 0);
	store_close(st);
	scratch_teardown();
}

int
main(void)
{
	RUN(update_waits_for_its_create);
	RUN(retry_after_is_honoured);
	RUN(transport_errors_and_5xx_retry);
	RUN(permanent_refusal_releases_the_next);
	RUN(auth_failure_pauses_the_center);
	RUN(many_calls_keep_their_order);
	RUN(failing_center_gets_one_probe_per_interval);
	RUN(creates_are_rate_limited_updates_are_not);
	RUN(too_old_goes_to_the_dead_letters);
	RUN(a_send_that_fails_is_retried);
	RUN(a_request_nobody_built_is_refused);
	RUN(rows_left_by_an_earlier_version_are_sent);
	return test_summary();
}
