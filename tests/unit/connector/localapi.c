/*
 * connector/localapi.c on a libuv loop, talked to by the blocking client of
 * tests/unit/http_client.h: every route and status, the bearer token, the recording body and
 * its bounds, no token in the log, and a close (also from inside a callback) that leaves a
 * loop uv_loop_close() accepts. The server underneath is tested in tests/unit/scv/httpd.c.
 */
#include "connector/localapi.c"

#include <signal.h>

#include "tests/unit/http_client.h"
#include "tests/unit/test.h"

#define TOKEN "s3cret-T0ken_for.tests~0123456789"

static struct localapi *api; /* the shared API: 127.0.0.1, port 0 */

/* what the callbacks saw, and what they answer */
static struct {
	int ready_rc;
	char ready_reason[300];
	int ready_calls;
	int rec_rc;
	int rec_calls;
	char key[80];
	char url[1100];
	long duration;
	struct localapi *close_me; /* closed from inside on_recording */
	int *close_done;
} cb;

static int
test_ready(char *reason, size_t len, void *arg)
{
	(void)arg;
	cb.ready_calls++;
	if (cb.ready_rc)
		snprintf(reason, len, "%s", cb.ready_reason);
	return cb.ready_rc;
}

static int
test_on_recording(const char *key, const char *url, long duration_s, void *arg)
{
	(void)arg;
	cb.rec_calls++;
	snprintf(cb.key, sizeof cb.key, "%s", key);
	snprintf(cb.url, sizeof cb.url, "%s", url);
	cb.duration = duration_s;
	if (cb.close_me) {
		localapi_close(cb.close_me, on_done, cb.close_done);
		cb.close_me = NULL;
	}
	return cb.rec_rc;
}

static const struct localapi_ops test_ops = {test_ready, test_on_recording};

static void
cb_reset(void)
{
	memset(&cb, 0, sizeof cb);
	cb.duration = -2;
}

static char reqbuf[64 * 1024];

/* A POST of body to the recording route of key, with an Authorization header unless NULL. */
static const char *
post(const char *key, const char *authorization, const char *body)
{
	snprintf(reqbuf, sizeof reqbuf,
	         "POST /v1/calls/%s/recording HTTP/1.1\r\nHost: localhost\r\n%s%s%s"
	         "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
	         key, authorization ? "Authorization: " : "", authorization ? authorization : "",
	         authorization ? "\r\n" : "", strlen(body), body);
	return reqbuf;
}

/* ---- tests ---- */

TEST(livez_without_token)
{
	struct resp r;
	char v[128];

	REQUIRE(roundtrip("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n", &r, NULL) == 0);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body, "{\"status\":\"ok\"}");
	CHECK(resp_header(&r, "Content-Type", v, sizeof v));
	CHECK_STR(v, "application/json");
	CHECK(resp_header(&r, "Cache-Control", v, sizeof v));
	CHECK_STR(v, "no-store");
	CHECK(!resp_header(&r, "Connection", v, sizeof v));

	/* the query is ignored */
	REQUIRE(roundtrip("GET /livez?verbose=1 HTTP/1.1\r\nHost: x\r\n\r\n", &r, NULL) == 0);
	CHECK_INT(r.status, 200);
}

TEST(readyz_ready_and_degraded)
{
	struct resp r;
	json_t *b;

	cb_reset();
	REQUIRE(roundtrip("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", &r, NULL) == 0);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body, "{\"status\":\"ready\"}");
	CHECK_INT(cb.ready_calls, 1);

	cb.ready_rc = -EIO;
	snprintf(cb.ready_reason, sizeof cb.ready_reason, "store \"/var/lib/x\" not writable\n");
	REQUIRE(roundtrip("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", &r, NULL) == 0);
	CHECK_INT(r.status, 503);
	b = json_loadb(r.body, r.body_len, 0, NULL);
	REQUIRE(b);
	CHECK_STR(json_string_value(json_object_get(b, "status")), "degraded");
	CHECK_STR(json_string_value(json_object_get(b, "reason")),
	          "store \"/var/lib/x\" not writable\n");
	json_decref(b);

	/* a reason longer than LOCALAPI_MAX_REASON is cut; none at all still says why */
	memset(cb.ready_reason, 'r', sizeof cb.ready_reason - 1);
	cb.ready_reason[sizeof cb.ready_reason - 1] = '\0';
	REQUIRE(roundtrip("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", &r, NULL) == 0);
	CHECK_INT(r.status, 503);
	b = json_loadb(r.body, r.body_len, 0, NULL);
	CHECK_INT(strlen(json_string_value(json_object_get(b, "reason"))), LOCALAPI_MAX_REASON);
	json_decref(b);
	cb.ready_reason[0] = '\0';
	REQUIRE(roundtrip("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", &r, NULL) == 0);
	CHECK_STR(r.body, "{\"status\":\"degraded\",\"reason\":\"not ready\"}");
	cb_reset();
}

TEST(recording_accepted)
{
	struct resp r;

	cb_reset();
	REQUIRE(roundtrip(post("0LQ-abc-123", "Bearer " TOKEN,
	                       "{\"url\": \"https://rec.example/a.wav?sig=x%20y\", \"duration\": "
	                       "123}"),
	                  &r, NULL) == 0);
	CHECK_INT(r.status, 202);
	CHECK_STR(r.body, "{\"status\":\"accepted\"}");
	CHECK_INT(cb.rec_calls, 1);
	CHECK_STR(cb.key, "0LQ-abc-123");
	CHECK_STR(cb.url, "https://rec.example/a.wav?sig=x%20y");
	CHECK_INT(cb.duration, 123);

	/* duration: absent or null is -1; 0 is 0; http:// is taken too */
	REQUIRE(roundtrip(post("k1", "Bearer " TOKEN, "{\"url\":\"http://r/1\"}"), &r, NULL) == 0);
	CHECK_INT(r.status, 202);
	CHECK_INT(cb.duration, -1);
	REQUIRE(roundtrip(
	                post("k1", "Bearer " TOKEN, "{\"url\":\"HTTPS://r/1\",\"duration\":null}"),
	                &r, NULL) == 0);
	CHECK_INT(r.status, 202);
	CHECK_INT(cb.duration, -1);
	REQUIRE(roundtrip(post("k1", "Bearer " TOKEN, "{\"duration\":0,\"url\":\"http://r/1\"}"),
	                  &r, NULL) == 0);
	CHECK_INT(r.status, 202);
	CHECK_INT(cb.duration, 0);
	CHECK_INT(cb.rec_calls, 4);
}

TEST(recording_outcomes)
{
	struct resp r;

	cb_reset();
	cb.rec_rc = -ENOENT;
	REQUIRE(roundtrip(post("nosuchcall", "Bearer " TOKEN, "{\"url\":\"https://r/1\"}"), &r,
	                  NULL) == 0);
	CHECK_INT(r.status, 404);
	CHECK_STR(error_of(&r), "unknown call");
	CHECK_INT(cb.rec_calls, 1);
	cb.rec_rc = -EIO;
	REQUIRE(roundtrip(post("k", "Bearer " TOKEN, "{\"url\":\"https://r/1\"}"), &r, NULL) == 0);
	CHECK_INT(r.status, 500);
	CHECK_STR(error_of(&r), "internal error");
	cb_reset();
}

TEST(token_required)
{
	static const char *const wrong[] = {
	        NULL,     /* no header */
	        "Bearer", /* no token */
	        "Bearer wrong-token-value-123456",
	        "Bearer " TOKEN "x",                       /* longer */
	        "Bearer s3cret-T0ken_for.tests~012345678", /* a prefix */
	        "Basic dXNlcjpwYXNz",
	        TOKEN, /* no scheme */
	};
	struct resp r;
	char v[128];

	cb_reset();
	for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
		int invalid = wrong[i] && !strncmp(wrong[i], "Bearer ", 7);

		REQUIRE(roundtrip(post("k", wrong[i], "{\"url\":\"https://r/1\"}"), &r, NULL) == 0);
		CHECK_INT(r.status, 401);
		CHECK(resp_header(&r, "WWW-Authenticate", v, sizeof v));
		CHECK_STR(v, invalid ? "Bearer realm=\"scvbridge\", error=\"invalid_token\""
		                     : "Bearer realm=\"scvbridge\"");
		CHECK_STR(error_of(&r), invalid ? "invalid bearer token" : "bearer token required");
	}
	CHECK_INT(cb.rec_calls, 0);

	/* the scheme is case-insensitive; spaces around the token do not matter */
	REQUIRE(roundtrip(post("k", "bearer   " TOKEN "  ", "{\"url\":\"https://r/1\"}"), &r,
	                  NULL) == 0);
	CHECK_INT(r.status, 202);
	CHECK_INT(cb.rec_calls, 1);

	/* checked before the key and the body: nothing is said to a client without it */
	REQUIRE(roundtrip(post("bad_key", NULL, "not json"), &r, NULL) == 0);
	CHECK_INT(r.status, 401);
	/* two Authorization headers are refused */
	REQUIRE(roundtrip("POST /v1/calls/k/recording HTTP/1.1\r\nHost: x\r\nAuthorization: "
	                  "Bearer " TOKEN "\r\nAuthorization: Bearer " TOKEN
	                  "\r\nContent-Length: 2\r\n\r\n{}",
	                  &r, NULL) == 0);
	CHECK_INT(r.status, 400);
	cb_reset();
}

TEST(bad_bodies_name_the_field)
{
	static const struct {
		const char *body, *error;
	} cases[] = {
	        {"", "body: not valid JSON"},
	        {"{\"url\":", "body: not valid JSON"},
	        {"{\"url\":\"https://r/1\",\"url\":\"https://r/2\"}", "body: not valid JSON"},
	        {"[\"https://r/1\"]", "body: expected a JSON object"},
	        {"{}", "url: required"},
	        {"{\"duration\":5}", "url: required"},
	        {"{\"url\":5}", "url: expected a string"},
	        {"{\"url\":null}", "url: expected a string"},
	        {"{\"url\":\"ftp://r/1\"}", "url: expected an http:// or https:// URL"},
	        {"{\"url\":\"/relative\"}", "url: expected an http:// or https:// URL"},
	        {"{\"url\":\"https://\"}", "url: no host"},
	        {"{\"url\":\"https:///x\"}", "url: no host"},
	        {"{\"url\":\"https://r/a b\"}", "url: spaces, control and non-ASCII characters "
	                                        "must be percent-encoded"},
	        {"{\"url\":\"https://r/\\u00e9\"}", "url: spaces, control and non-ASCII characters "
	                                            "must be percent-encoded"},
	        {"{\"url\":\"https://r/\\u0000\"}", "body: not valid JSON"},
	        {"{\"url\":\"https://r/1\",\"duration\":-1}",
	         "duration: expected a whole number of seconds, 0 or more"},
	        {"{\"url\":\"https://r/1\",\"duration\":1.5}",
	         "duration: expected a whole number of seconds, 0 or more"},
	        {"{\"url\":\"https://r/1\",\"duration\":\"12\"}",
	         "duration: expected a whole number of seconds, 0 or more"},
	        {"{\"url\":\"https://r/1\",\"duration\":99999999999}",
	         "duration: expected a whole number of seconds, 0 or more"},
	        {"{\"url\":\"https://r/1\",\"durationSeconds\":3}",
	         "durationSeconds: unknown field"},
	        {"{\"url\":\"https://r/1\",\"a\\\"b\":3}", "a\"b: unknown field"},
	};
	struct resp r;

	cb_reset();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		REQUIRE(roundtrip(post("k", "Bearer " TOKEN, cases[i].body), &r, NULL) == 0);
		CHECK_INT(r.status, 400);
		if (strncmp(error_of(&r), cases[i].error, strlen(cases[i].error))) {
			char m[1200];
			snprintf(m, sizeof m, "body %s: got \"%s\", want \"%s\"", cases[i].body,
			         error_of(&r), cases[i].error);
			test_fail(__FILE__, __LINE__, m);
		}
	}
	CHECK_INT(cb.rec_calls, 0);
}

TEST(url_and_key_bounds)
{
	char url[SCV_RECORDING_MAX_URL + 2], body[SCV_RECORDING_MAX_URL + 64],
	        key[LOCALAPI_MAX_KEY + 2];
	struct resp r;

	cb_reset();
	memset(url, 'a', sizeof url);
	memcpy(url, "https://r/", 10);
	url[SCV_RECORDING_MAX_URL] = '\0'; /* exactly 1000 characters */
	snprintf(body, sizeof body, "{\"url\":\"%s\"}", url);
	REQUIRE(roundtrip(post("k", "Bearer " TOKEN, body), &r, NULL) == 0);
	CHECK_INT(r.status, 202);
	CHECK_INT(strlen(cb.url), SCV_RECORDING_MAX_URL);
	url[SCV_RECORDING_MAX_URL] = 'a';
	url[SCV_RECORDING_MAX_URL + 1] = '\0'; /* 1001 */
	snprintf(body, sizeof body, "{\"url\":\"%s\"}", url);
	REQUIRE(roundtrip(post("k", "Bearer " TOKEN, body), &r, NULL) == 0);
	CHECK_INT(r.status, 400);
	CHECK_STR(error_of(&r), "url: longer than 1000 characters");

	memset(key, 'K', sizeof key);
	key[LOCALAPI_MAX_KEY] = '\0';
	REQUIRE(roundtrip(post(key, "Bearer " TOKEN, "{\"url\":\"https://r/1\"}"), &r, NULL) == 0);
	CHECK_INT(r.status, 202);
	CHECK_STR(cb.key, key);
	key[LOCALAPI_MAX_KEY] = 'K';
	key[LOCALAPI_MAX_KEY + 1] = '\0';
	const char *bad[] = {key, "a_b", "a.b", "%41", "a%2Fb", ""};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		REQUIRE(roundtrip(post(bad[i], "Bearer " TOKEN, "{\"url\":\"https://r/1\"}"), &r,
		                  NULL) == 0);
		CHECK_INT(r.status, 400);
		CHECK_STR(error_of(&r),
		          "vendorCallKey: expected 1 to 64 characters of A-Z, a-z, 0-9 and -");
	}
	CHECK_INT(cb.rec_calls, 2);
}

TEST(body_over_16k_is_413)
{
	char *body = malloc(LOCALAPI_MAX_BODY + 2);
	struct resp r;
	int closed = 0;
	char v[32];

	cb_reset();
	/* exactly 16 KiB: a valid object padded with spaces */
	memset(body, ' ', LOCALAPI_MAX_BODY);
	memcpy(body, "{\"url\":\"https://r/1\"}", 21);
	body[LOCALAPI_MAX_BODY] = '\0';
	REQUIRE(roundtrip(post("k", "Bearer " TOKEN, body), &r, NULL) == 0);
	CHECK_INT(r.status, 202);
	/* one byte more: refused without being read, and the connection closed */
	body[LOCALAPI_MAX_BODY] = ' ';
	body[LOCALAPI_MAX_BODY + 1] = '\0';
	REQUIRE(roundtrip(post("k", "Bearer " TOKEN, body), &r, &closed) == 0);
	CHECK_INT(r.status, 413);
	CHECK_STR(error_of(&r), "body over 16384 bytes");
	CHECK(resp_header(&r, "Connection", v, sizeof v));
	CHECK_STR(v, "close");
	CHECK_INT(closed, 1);
	/* (how the server refuses and closes a larger body: tests/unit/scv/httpd.c) */
	CHECK_INT(cb.rec_calls, 1);
	free(body);
}

TEST(unknown_paths_and_wrong_methods)
{
	static const char *const nf[] = {
	        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
	        "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
	        "GET /livez/ HTTP/1.1\r\nHost: x\r\n\r\n",
	        "POST /v1/calls/k/recording/x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
	        "POST /v1/calls/k/recordings HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
	        "POST /v1/calls/a/b/recording HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
	        "POST /v1/calls/recording HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
	};
	struct resp r;
	char v[64];

	for (size_t i = 0; i < sizeof nf / sizeof nf[0]; i++) {
		REQUIRE(roundtrip(nf[i], &r, NULL) == 0);
		CHECK_INT(r.status, 404);
		CHECK_STR(error_of(&r), "not found");
	}
	REQUIRE(roundtrip("POST /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &r,
	                  NULL) == 0);
	CHECK_INT(r.status, 405);
	CHECK(resp_header(&r, "Allow", v, sizeof v));
	CHECK_STR(v, "GET, HEAD");
	REQUIRE(roundtrip("DELETE /readyz HTTP/1.1\r\nHost: x\r\n\r\n", &r, NULL) == 0);
	CHECK_INT(r.status, 405);
	CHECK(resp_header(&r, "Allow", v, sizeof v));
	CHECK_STR(v, "GET, HEAD");
	/* no token needed to learn the method: it says nothing about calls */
	REQUIRE(roundtrip("GET /v1/calls/k/recording HTTP/1.1\r\nHost: x\r\n\r\n", &r, NULL) == 0);
	CHECK_INT(r.status, 405);
	CHECK(resp_header(&r, "Allow", v, sizeof v));
	CHECK_STR(v, "POST");
}

TEST(token_never_logged)
{
	char path[] = "/tmp/scvb-api-log-XXXXXX", buf[65536];
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	enum log_level lvl = log_get_level();
	struct resp r;
	ssize_t n;

	REQUIRE(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	log_set_level(LOG_LVL_DEBUG);
	api->auth_logged_at = 0;
	roundtrip(post("k", "Bearer wrong-token-value-123456", "{\"url\":\"https://r/1\"}"), &r,
	          NULL);
	CHECK_INT(r.status, 401);
	roundtrip(post("k", "Bearer " TOKEN, "{\"url\":\"https://r/1\"}"), &r, NULL);
	CHECK_INT(r.status, 202);
	log_set_level(lvl);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	unlink(path);
	REQUIRE(n > 0);
	buf[n] = '\0';
	CHECK(strstr(buf, "refused a request with a wrong bearer token") != NULL);
	CHECK(strstr(buf, "/v1/calls/k/recording -> 202") != NULL);
	CHECK(strstr(buf, TOKEN) == NULL);
	CHECK(strstr(buf, "s3cret") == NULL);
	CHECK(strstr(buf, "wrong-token-value") == NULL);
}

TEST(start_refuses_bad_arguments)
{
	static const char *const bad[] = {
	        "localhost:8088", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536",
	        "127.0.0.1:80x",  "[::1]",     "[::1:80",    "::1:8088",
	        "[127.0.0.1]:80", "1.2.3:80",  ":8088",      "[]:80",
	};
	struct localapi *a = NULL;
	uv_loop_t l;
	char err[256];

	REQUIRE(uv_loop_init(&l) == 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		CHECK_INT(localapi_start(&l, bad[i], TOKEN, &test_ops, NULL, &a, err, sizeof err),
		          -EINVAL);
		CHECK(strstr(err, "listen") != NULL);
	}
	/* a token is needed for the recording route, and a decent one */
	CHECK_INT(localapi_start(&l, "127.0.0.1:0", NULL, &test_ops, NULL, &a, err, sizeof err),
	          -EINVAL);
	CHECK(strstr(err, "bearer token") != NULL);
	CHECK_INT(localapi_start(&l, "127.0.0.1:0", "short", &test_ops, NULL, &a, err, sizeof err),
	          -EINVAL);
	CHECK_INT(localapi_start(&l, "127.0.0.1:0", "has space in the token value", &test_ops, NULL,
	                         &a, err, sizeof err),
	          -EINVAL);
	CHECK_INT(localapi_start(&l, "127.0.0.1:0", "=================", &test_ops, NULL, &a, err,
	                         sizeof err),
	          -EINVAL);
	/* the same checks, without starting anything */
	CHECK_INT(localapi_check("127.0.0.1:8088", TOKEN, err, sizeof err), 0);
	CHECK_INT(localapi_check("[::1]:8088", NULL, err, sizeof err), 0);
	CHECK_INT(localapi_check(NULL, NULL, err, sizeof err), 0); /* the default */
	CHECK_INT(localapi_check("localhost:8088", TOKEN, err, sizeof err), -EINVAL);
	CHECK(strstr(err, "listen \"localhost:8088\"") != NULL);
	CHECK_INT(localapi_check("127.0.0.1:8088", "short", err, sizeof err), -EINVAL);
	CHECK(strstr(err, "bearer token") != NULL);
	/* the port in use, and an address not on this host */
	snprintf(reqbuf, sizeof reqbuf, "127.0.0.1:%d", port);
	CHECK_INT(localapi_start(&l, reqbuf, TOKEN, &test_ops, NULL, &a, err, sizeof err),
	          -EADDRINUSE);
	CHECK(strstr(err, reqbuf) != NULL && strstr(err, "in use") != NULL);
	CHECK_INT(localapi_start(&l, "192.0.2.1:0", TOKEN, &test_ops, NULL, &a, err, sizeof err),
	          -EADDRNOTAVAIL);
	CHECK(a == NULL);
	/* nothing was left on the loop */
	CHECK_INT(uv_loop_close(&l), 0);
}

TEST(health_only_without_token)
{
	static const struct localapi_ops ops = {NULL, NULL};
	struct localapi *a = NULL, *shared = api;
	int done = 0, shared_port = port;
	struct resp r;
	char err[256];

	REQUIRE(localapi_start(&loop, "127.0.0.1:0", NULL, &ops, NULL, &a, err, sizeof err) == 0);
	api = a;
	port = localapi_port(a);
	REQUIRE(roundtrip("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", &r, NULL) == 0);
	CHECK_INT(r.status, 200); /* no ready callback: ready */
	REQUIRE(roundtrip(post("k", "Bearer " TOKEN, "{\"url\":\"https://r/1\"}"), &r, NULL) == 0);
	CHECK_INT(r.status, 404); /* no recording callback: no such route */
	api = shared;
	port = shared_port;
	localapi_close(a, on_done, &done);
	while (!done)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK_INT(done, 1);
}

TEST(close_from_inside_a_callback)
{
	struct localapi *a = NULL;
	struct job j = {0};
	uv_loop_t l;
	int done = 0;
	char err[256], v[32];

	REQUIRE(uv_loop_init(&l) == 0);
	REQUIRE(localapi_start(&l, "127.0.0.1:0", TOKEN, &test_ops, NULL, &a, err, sizeof err) ==
	        0);
	cb_reset();
	cb.close_me = a;
	cb.close_done = &done;
	j.port = localapi_port(a);
	j.req[0] = post("last", "Bearer " TOKEN, "{\"url\":\"https://r/last\"}");
	j.n = 1;
	j.want_closed = 1;
	run_job_on(&l, &j);
	/* the accepted recording's answer still went out, then the connection closed */
	CHECK_INT(j.got, 1);
	CHECK_INT(j.resp[0].status, 202);
	CHECK(resp_header(&j.resp[0], "Connection", v, sizeof v));
	CHECK_INT(j.closed, 1);
	CHECK_INT(cb.rec_calls, 1);
	while (!done)
		uv_run(&l, UV_RUN_ONCE);
	CHECK_INT(done, 1);
	CHECK_INT(uv_loop_close(&l), 0);
	cb_reset();
}

TEST(final_close_leaves_the_loop_empty)
{
	int done = 0;

	localapi_close(api, on_done, &done);
	while (!done)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK_INT(done, 1);
	CHECK_INT(loop_handles(&loop), 0);
	CHECK_INT(uv_loop_close(&loop), 0);
}

int
main(void)
{
	char err[256];

	signal(SIGPIPE, SIG_IGN);
	alarm(120); /* a hung test fails rather than blocks */
	log_set_level(LOG_LVL_ERR);
	if (uv_loop_init(&loop) < 0)
		return 1;
	cb_reset();
	if (localapi_start(&loop, "127.0.0.1:0", TOKEN, &test_ops, NULL, &api, err, sizeof err) <
	    0) {
		fprintf(stderr, "localapi_start: %s\n", err);
		return 1;
	}
	port = localapi_port(api);

	RUN(livez_without_token);
	RUN(readyz_ready_and_degraded);
	RUN(recording_accepted);
	RUN(recording_outcomes);
	RUN(token_required);
	RUN(bad_bodies_name_the_field);
	RUN(url_and_key_bounds);
	RUN(body_over_16k_is_413);
	RUN(unknown_paths_and_wrong_methods);
	RUN(token_never_logged);
	RUN(start_refuses_bad_arguments);
	RUN(health_only_without_token);
	RUN(close_from_inside_a_callback);

	RUN(final_close_leaves_the_loop_empty);
	return test_summary();
}
