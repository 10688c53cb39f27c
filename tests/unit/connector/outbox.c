/*
 * tests connector/outbox.c: per-call order, independence of calls, retry classes and
 * Retry-After, with the HTTPS client and the JWT signer replaced by fakes that record what
 * would have been sent and let the test answer.
 */
#include "connector/outbox.c"

#include <unistd.h>

#include "tests/unit/test.h"

/* ---- fakes of scv/http.h and scv/jwt.h ------------------------------------------------ */

struct sent {
	char method[8];
	char path[128];
	char body[512];
	char auth[64];
	scv_http_cb cb;
	void *arg;
	uint64_t at_ms;
	int answered;
};

static struct sent sent[64];
static size_t n_sent;
static uv_loop_t *test_loop;

int
scv_http_target_add(struct scv_http *http, const char *base_url, const char *ca_file,
                    int *ret_target, char *err, size_t errlen)
{
	(void)http, (void)base_url, (void)ca_file, (void)err, (void)errlen;
	*ret_target = 7;
	return 0;
}

int
scv_http_send(struct scv_http *http, const struct scv_http_req *req, scv_http_cb cb, void *arg)
{
	struct sent *s = &sent[n_sent++];

	(void)http;
	snprintf(s->method, sizeof s->method, "%s", req->method);
	snprintf(s->path, sizeof s->path, "%s", req->path);
	snprintf(s->body, sizeof s->body, "%s", req->body ? req->body : "");
	snprintf(s->auth, sizeof s->auth, "%s", req->authorization ? req->authorization : "");
	s->cb = cb;
	s->arg = arg;
	s->at_ms = uv_now(test_loop);
	s->answered = 0;
	return 0;
}

int
scv_signer_new(const char *key_path, const char *iss, const char *sub, int per_request_jti,
               struct scv_signer **ret_signer, char *err, size_t errlen)
{
	(void)key_path, (void)iss, (void)sub, (void)per_request_jti, (void)err, (void)errlen;
	*ret_signer = (struct scv_signer *)(uintptr_t)1;
	return 0;
}

int
scv_signer_token(struct scv_signer *signer, int64_t now, const char **ret_token)
{
	(void)signer, (void)now;
	*ret_token = "tok";
	return 0;
}

void
scv_signer_free(struct scv_signer *signer)
{
	(void)signer;
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
	char err[128];

	uv_loop_init(loop);
	test_loop = loop;
	n_sent = 0;
	n_results = 0;
	empty_called = 0;
	if (outbox_new(loop, &config, NULL, NULL, on_result, NULL, &ob, err, sizeof err) < 0)
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

static char *
body(const char *s)
{
	return strdup(s);
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
	CHECK_INT(outbox_submit(ob, 0, "A", OUTBOX_CREATE, "POST", "/voiceCalls", body("cA")), 0);
	CHECK_INT(outbox_submit(ob, 0, "A", OUTBOX_UPDATE, "PATCH", "/voiceCalls/A", body("uA")),
	          0);
	CHECK_INT(outbox_submit(ob, 0, "B", OUTBOX_CREATE, "POST", "/voiceCalls", body("cB")), 0);
	/* A's create and B's create leave at once; A's update waits */
	CHECK_INT(n_sent, 2);
	CHECK_STR(sent[0].body, "cA");
	CHECK_STR(sent[1].body, "cB");
	CHECK_STR(sent[0].auth, "Bearer tok");
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
	CHECK_INT(results[2].kind, OUTBOX_UPDATE);
	CHECK_INT(outbox_pending(ob), 0);
	teardown(&loop, ob);
}

TEST(retry_after_is_honoured)
{
	uv_loop_t loop;
	struct outbox *ob = fixture(&loop);

	REQUIRE(ob);
	outbox_submit(ob, 0, "A", OUTBOX_CREATE, "POST", "/voiceCalls", body("cA"));
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
	outbox_submit(ob, 0, "A", OUTBOX_CREATE, "POST", "/voiceCalls", body("cA"));
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
	outbox_submit(ob, 0, "A", OUTBOX_CREATE, "POST", "/voiceCalls", body("cA"));
	outbox_submit(ob, 0, "A", OUTBOX_UPDATE, "PATCH", "/voiceCalls/A", body("uA"));
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
	outbox_submit(ob, 0, "A", OUTBOX_CREATE, "POST", "/voiceCalls", body("cA"));
	answer(0, 401, 0, -1);
	CHECK_INT(n_results, 0); /* not dropped */
	CHECK_INT(outbox_pending(ob), 1);
	outbox_submit(ob, 0, "B", OUTBOX_CREATE, "POST", "/voiceCalls", body("cB"));
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
		outbox_submit(ob, 0, key, OUTBOX_CREATE, "POST", "/voiceCalls", body(key));
		outbox_submit(ob, 0, key, OUTBOX_UPDATE, "PATCH", path, body(path));
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
	outbox_submit(ob, 0, "A", OUTBOX_CREATE, "POST", "/voiceCalls", body("cA"));
	REQUIRE(n_sent == 1);
	answer(0, 503, 0, -1);
	CHECK_INT(ob->ccs[0].open, 1);
	/* while the center fails, new work waits: no storm */
	for (int i = 0; i < 5; i++) {
		char key[16];
		snprintf(key, sizeof key, "k%d", i);
		outbox_submit(ob, 0, key, OUTBOX_CREATE, "POST", "/voiceCalls", body(key));
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
		outbox_submit(ob, 0, key, OUTBOX_CREATE, "POST", "/voiceCalls", body(key));
	}
	CHECK_INT(n_sent, 5); /* one second's worth */
	snprintf(path, sizeof path, "/voiceCalls/u");
	outbox_submit(ob, 0, "u", OUTBOX_UPDATE, "PATCH", path, body("u"));
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
	outbox_submit(ob, 0, "A", OUTBOX_CREATE, "POST", "/voiceCalls", body("cA"));
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
	return test_summary();
}
