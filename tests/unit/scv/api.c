/*
 * scv/api.c on a libuv loop, talked to by a blocking socket client in a helper thread while
 * the test's thread runs the loop: every route and status, the bearer token, bounds (413,
 * 431, 414, the connection limit, timeouts), keep-alive, pipelining and half-close, the one
 * listener on exactly the address given, no signal handling taken over, no token in the log,
 * and a close (also from inside a callback) that leaves a loop uv_loop_close() accepts.
 */
#include <libwebsockets.h>

/* Lets a test make the vhost fail after the probe bind succeeded (a bind race). */
static int fail_vhost;
static struct lws_vhost *test_create_vhost(struct lws_context *context,
                                           const struct lws_context_creation_info *info);
#define lws_create_vhost test_create_vhost
#include "scv/api.c"
#undef lws_create_vhost

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <jansson.h>

#include "tests/unit/test.h"

#define TOKEN "s3cret-T0ken_for.tests~0123456789"

static uv_loop_t loop;
static struct scv_api *api; /* the shared server: 127.0.0.1, port 0 */
static int port;

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
	struct scv_api *close_me; /* closed from inside on_recording */
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

static void
on_closed(void *arg)
{
	(*(int *)arg)++;
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
		scv_api_close(cb.close_me, on_closed, cb.close_done);
		cb.close_me = NULL;
	}
	return cb.rec_rc;
}

static const struct scv_api_ops test_ops = {test_ready, test_on_recording};

static struct lws_vhost *
test_create_vhost(struct lws_context *context, const struct lws_context_creation_info *info)
{
	return fail_vhost ? NULL : lws_create_vhost(context, info);
}

static void
cb_reset(void)
{
	memset(&cb, 0, sizeof cb);
	cb.duration = -2;
}

/* ---- the client (helper thread) ---- */

struct resp {
	int status;
	char head[4096];
	char body[4096];
	size_t body_len;
};

struct cli {
	int fd;
	size_t have;
	char buf[64 * 1024];
};

static int
cli_open(struct cli *k, int family, int p)
{
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)p)};
	struct timeval tv = {5, 0};

	k->have = 0;
	k->fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (k->fd < 0)
		return -1;
	setsockopt(k->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a6.sin6_addr = in6addr_loopback;
	if (family == AF_INET ? connect(k->fd, (struct sockaddr *)&a4, sizeof a4)
	                      : connect(k->fd, (struct sockaddr *)&a6, sizeof a6)) {
		close(k->fd);
		k->fd = -1;
		return -1;
	}
	return 0;
}

static int
cli_send(struct cli *k, const char *data, size_t len)
{
	while (len) {
		ssize_t n = send(k->fd, data, len, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static ssize_t
cli_fill(struct cli *k)
{
	ssize_t n = recv(k->fd, k->buf + k->have, sizeof k->buf - k->have - 1, 0);

	if (n > 0) {
		k->have += (size_t)n;
		k->buf[k->have] = '\0';
	}
	return n;
}

/* A header of r (case-insensitive name) into out; 1 when present. */
static int
resp_header(const struct resp *r, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);

	for (const char *p = strstr(r->head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		if (!strncasecmp(p + 2, name, nl) && p[2 + nl] == ':') {
			const char *v = p + 3 + nl, *e;
			v += strspn(v, " ");
			e = strstr(v, "\r\n");
			snprintf(out, outlen, "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
			return 1;
		}
	}
	return 0;
}

/* Reads one answer (head only for a HEAD request); bytes past it stay in k. 0 or -1. */
static int
cli_read(struct cli *k, struct resp *r, int head_only)
{
	char *end, cl[32];
	size_t hl, blen = 0;

	memset(r, 0, sizeof *r);
	while (!(end = memmem(k->buf, k->have, "\r\n\r\n", 4)))
		if (cli_fill(k) <= 0)
			return -1;
	hl = (size_t)(end - k->buf) + 4;
	snprintf(r->head, sizeof r->head, "%.*s", (int)hl, k->buf);
	if (sscanf(r->head, "HTTP/1.1 %d ", &r->status) != 1)
		return -1;
	if (resp_header(r, "Content-Length", cl, sizeof cl) && !head_only)
		blen = (size_t)atol(cl);
	while (k->have < hl + blen)
		if (cli_fill(k) <= 0)
			return -1;
	r->body_len = blen < sizeof r->body ? blen : sizeof r->body - 1;
	memcpy(r->body, k->buf + hl, r->body_len);
	memmove(k->buf, k->buf + hl + blen, k->have - hl - blen);
	k->have -= hl + blen;
	return 0;
}

/* 1 when the server closes (EOF or reset) within ms and sends nothing more, 0 if not. */
static int
cli_closed(struct cli *k, int ms)
{
	struct pollfd p = {.fd = k->fd, .events = POLLIN};
	char c;

	if (k->have)
		return 0;
	if (poll(&p, 1, ms) <= 0)
		return 0;
	return recv(k->fd, &c, 1, 0) <= 0;
}

enum job_mode {
	JOB_SEQ,       /* one connection: send a request, read its answer, and so on */
	JOB_PIPE,      /* every request in one write, then every answer */
	JOB_HALFCLOSE, /* every request, shutdown(SHUT_WR), then every answer */
};

struct job {
	void (*fn)(struct job *);
	enum job_mode mode;
	int family, port;
	const char *req[4];
	int head_only[4];
	int n;
	int want_closed; /* see whether the server closes after the last answer */
	struct resp resp[4];
	int got;    /* answers read; -1: could not connect */
	int closed; /* with want_closed */
	int fds[SCV_API_MAX_CONNS];
	atomic_int sync;
	atomic_int done;
};

static void
job_exchange(struct job *j)
{
	struct cli *k = malloc(sizeof *k);
	char *all;
	size_t total = 0;

	if (cli_open(k, j->family, j->port) < 0) {
		j->got = -1;
		free(k);
		return;
	}
	if (j->mode == JOB_SEQ) {
		for (int i = 0; i < j->n; i++) {
			if (cli_send(k, j->req[i], strlen(j->req[i])) < 0 ||
			    cli_read(k, &j->resp[i], j->head_only[i]) < 0)
				goto out;
			j->got++;
		}
	} else {
		for (int i = 0; i < j->n; i++)
			total += strlen(j->req[i]);
		all = malloc(total + 1);
		all[0] = '\0';
		for (int i = 0; i < j->n; i++)
			strcat(all, j->req[i]);
		if (cli_send(k, all, total) < 0) {
			free(all);
			goto out;
		}
		free(all);
		if (j->mode == JOB_HALFCLOSE)
			shutdown(k->fd, SHUT_WR);
		for (int i = 0; i < j->n; i++) {
			if (cli_read(k, &j->resp[i], j->head_only[i]) < 0)
				goto out;
			j->got++;
		}
	}
	if (j->want_closed)
		j->closed = cli_closed(k, 3000);
out:
	close(k->fd);
	free(k);
}

static void *
job_main(void *arg)
{
	struct job *j = arg;

	(j->fn ? j->fn : job_exchange)(j);
	atomic_store(&j->done, 1);
	return NULL;
}

/* Runs j in a helper thread while this one runs l. */
static void
run_job_on(uv_loop_t *l, struct job *j)
{
	pthread_t t;

	if (!j->family)
		j->family = AF_INET;
	if (!j->port)
		j->port = port;
	pthread_create(&t, NULL, job_main, j);
	while (!atomic_load(&j->done)) {
		uv_run(l, UV_RUN_NOWAIT);
		usleep(200);
	}
	pthread_join(t, NULL);
	uv_run(l, UV_RUN_NOWAIT);
}

static void
run_job(struct job *j)
{
	run_job_on(&loop, j);
}

/* Runs l for about ms. */
static void
spin(uv_loop_t *l, unsigned ms)
{
	uint64_t end = scv_api_now_ms() + ms;

	while (scv_api_now_ms() < end) {
		uv_run(l, UV_RUN_NOWAIT);
		usleep(200);
	}
}

/* Runs the loop until the shared server has n connections (or 3 s have passed). */
static void
wait_conns(unsigned n)
{
	for (int i = 0; i < 15000 && api->n_conns != n; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(200);
	}
}

/* One request on a new connection; its answer in r, whether the server closed after it. */
static int
roundtrip(const char *req, struct resp *r, int *ret_closed)
{
	struct job *j = calloc(1, sizeof *j);
	int rc;

	j->req[0] = req;
	j->n = 1;
	j->head_only[0] = !strncmp(req, "HEAD ", 5);
	j->want_closed = ret_closed != NULL;
	run_job(j);
	*r = j->resp[0];
	if (ret_closed)
		*ret_closed = j->closed;
	rc = j->got == 1 ? 0 : -1;
	free(j);
	return rc;
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

/* The "error" member of r's JSON body, or "". */
static const char *
error_of(const struct resp *r)
{
	static char out[512];
	json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
	const char *e = json_string_value(json_object_get(j, "error"));

	snprintf(out, sizeof out, "%s", e ? e : "");
	json_decref(j);
	return out;
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

TEST(head_has_no_body_and_keeps_the_connection)
{
	struct job j = {0};
	char v[32];

	j.req[0] = "HEAD /livez HTTP/1.1\r\nHost: x\r\n\r\n";
	j.head_only[0] = 1;
	j.req[1] = "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n";
	j.n = 2;
	run_job(&j);
	REQUIRE(j.got == 2);
	CHECK_INT(j.resp[0].status, 200);
	CHECK(resp_header(&j.resp[0], "Content-Length", v, sizeof v));
	CHECK_STR(v, "15");
	/* had HEAD's answer carried a body, it would be read here as the next answer */
	CHECK_INT(j.resp[1].status, 200);
	CHECK_STR(j.resp[1].body, "{\"status\":\"ok\"}");
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

	/* a reason longer than SCV_API_MAX_REASON is cut; none at all still says why */
	memset(cb.ready_reason, 'r', sizeof cb.ready_reason - 1);
	cb.ready_reason[sizeof cb.ready_reason - 1] = '\0';
	REQUIRE(roundtrip("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", &r, NULL) == 0);
	CHECK_INT(r.status, 503);
	b = json_loadb(r.body, r.body_len, 0, NULL);
	CHECK_INT(strlen(json_string_value(json_object_get(b, "reason"))), SCV_API_MAX_REASON);
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
			char m[512];
			snprintf(m, sizeof m, "body %s: got \"%s\", want \"%s\"", cases[i].body,
			         error_of(&r), cases[i].error);
			test_fail(__FILE__, __LINE__, m);
		}
	}
	CHECK_INT(cb.rec_calls, 0);
}

TEST(url_and_key_bounds)
{
	char url[SCV_API_MAX_URL + 2], body[SCV_API_MAX_URL + 64], key[SCV_API_MAX_KEY + 2];
	struct resp r;

	cb_reset();
	memset(url, 'a', sizeof url);
	memcpy(url, "https://r/", 10);
	url[SCV_API_MAX_URL] = '\0'; /* exactly 1000 characters */
	snprintf(body, sizeof body, "{\"url\":\"%s\"}", url);
	REQUIRE(roundtrip(post("k", "Bearer " TOKEN, body), &r, NULL) == 0);
	CHECK_INT(r.status, 202);
	CHECK_INT(strlen(cb.url), SCV_API_MAX_URL);
	url[SCV_API_MAX_URL] = 'a';
	url[SCV_API_MAX_URL + 1] = '\0'; /* 1001 */
	snprintf(body, sizeof body, "{\"url\":\"%s\"}", url);
	REQUIRE(roundtrip(post("k", "Bearer " TOKEN, body), &r, NULL) == 0);
	CHECK_INT(r.status, 400);
	CHECK_STR(error_of(&r), "url: longer than 1000 characters");

	memset(key, 'K', sizeof key);
	key[SCV_API_MAX_KEY] = '\0';
	REQUIRE(roundtrip(post(key, "Bearer " TOKEN, "{\"url\":\"https://r/1\"}"), &r, NULL) == 0);
	CHECK_INT(r.status, 202);
	CHECK_STR(cb.key, key);
	key[SCV_API_MAX_KEY] = 'K';
	key[SCV_API_MAX_KEY + 1] = '\0';
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
	char *body = malloc(SCV_API_MAX_BODY + 2);
	struct resp r;
	int closed = 0;
	char v[32];

	cb_reset();
	/* exactly 16 KiB: a valid object padded with spaces */
	memset(body, ' ', SCV_API_MAX_BODY);
	memcpy(body, "{\"url\":\"https://r/1\"}", 21);
	body[SCV_API_MAX_BODY] = '\0';
	REQUIRE(roundtrip(post("k", "Bearer " TOKEN, body), &r, NULL) == 0);
	CHECK_INT(r.status, 202);
	/* one byte more: refused without being read, and the connection closed */
	body[SCV_API_MAX_BODY] = ' ';
	body[SCV_API_MAX_BODY + 1] = '\0';
	REQUIRE(roundtrip(post("k", "Bearer " TOKEN, body), &r, &closed) == 0);
	CHECK_INT(r.status, 413);
	CHECK_STR(error_of(&r), "body over 16384 bytes");
	CHECK(resp_header(&r, "Connection", v, sizeof v));
	CHECK_STR(v, "close");
	CHECK_INT(closed, 1);
	/* a client that sends a large refused body whole, before reading, still gets the answer */
	{
		size_t big = 600 * 1024;
		char *req = malloc(big + 256), *hd = req;
		int n = snprintf(hd, 256,
		                 "POST /v1/calls/k/recording HTTP/1.1\r\nHost: x\r\nAuthorization: "
		                 "Bearer " TOKEN "\r\nContent-Length: %zu\r\n\r\n",
		                 big);
		memset(req + n, ' ', big);
		req[n + (int)big] = '\0';
		REQUIRE(roundtrip(req, &r, &closed) == 0);
		CHECK_INT(r.status, 413);
		CHECK_INT(closed, 1);
		free(req);
	}
	/* and so is a large declared length with no body sent, on any route */
	REQUIRE(roundtrip("GET /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n",
	                  &r, &closed) == 0);
	CHECK_INT(r.status, 413);
	CHECK_INT(closed, 1);
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

TEST(malformed_requests_closed)
{
	static char big_field[2 * MAX_HEAD], long_line[2 * MAX_HEAD], many[MAX_HEAD];
	static const struct {
		const char *req;
		int status;
	} fixed[] = {
	        {"GARBAGE\r\n\r\n", 400},
	        {"GET /livez\r\n\r\n", 400},
	        {"GET livez HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	        {"GET /livez HTTP/2.0\r\nHost: x\r\n\r\n", 505},
	        {"GET /livez FTP/1.1\r\nHost: x\r\n\r\n", 400},
	        {"GET /livez HTTP/1.1\r\n\r\n", 400}, /* no Host */
	        {"GET /livez HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400},
	        {"GET /livez HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400},
	        {"GET /livez HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n", 400},
	        {"GET /livez HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400},
	        {"GET /livez HTTP/1.1\r\nHost: x\r\nX: a\x01z\r\n\r\n", 400},
	        {"GET /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", 400},
	        {"GET /livez HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
	        {"GET /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: "
	         "1\r\n\r\nx",
	         400},
	        {"POST /livez HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	         411},
	        {"GET /livez HTTP/1.1\r\nHost: x\r\nExpect: something\r\n\r\n", 417},
	};
	struct resp r;
	int closed;
	size_t n;

	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		closed = 0;
		REQUIRE(roundtrip(fixed[i].req, &r, &closed) == 0);
		CHECK_INT(r.status, fixed[i].status);
		CHECK(error_of(&r)[0] != '\0');
		CHECK_INT(closed, 1);
	}
	/* a header field too large for the head */
	n = (size_t)snprintf(big_field, sizeof big_field, "GET /livez HTTP/1.1\r\nHost: x\r\nX: ");
	memset(big_field + n, 'a', MAX_HEAD);
	strcpy(big_field + n + MAX_HEAD, "\r\n\r\n");
	REQUIRE(roundtrip(big_field, &r, &closed) == 0);
	CHECK_INT(r.status, 431);
	CHECK_INT(closed, 1);
	/* a request line too long */
	n = (size_t)snprintf(long_line, sizeof long_line, "GET /");
	memset(long_line + n, 'a', MAX_HEAD + 10);
	strcpy(long_line + n + MAX_HEAD + 10, " HTTP/1.1\r\n\r\n");
	REQUIRE(roundtrip(long_line, &r, &closed) == 0);
	CHECK_INT(r.status, 414);
	CHECK_INT(closed, 1);
	/* too many fields */
	n = (size_t)snprintf(many, sizeof many, "GET /livez HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < MAX_HEADERS; i++)
		n += (size_t)snprintf(many + n, sizeof many - n, "X-%d: 1\r\n", i);
	strcat(many, "\r\n");
	REQUIRE(roundtrip(many, &r, &closed) == 0);
	CHECK_INT(r.status, 431);
	CHECK_INT(closed, 1);
	/* HTTP/1.0 needs no Host, and gets its answer then a close */
	REQUIRE(roundtrip("GET /livez HTTP/1.0\r\n\r\n", &r, &closed) == 0);
	CHECK_INT(r.status, 200);
	CHECK_INT(closed, 1);
}

TEST(keep_alive_two_requests_on_one_connection)
{
	struct job j = {0};
	unsigned before;

	cb_reset();
	wait_conns(0);
	before = api->next_id;
	j.req[0] = "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n";
	j.req[1] = post("k2", "Bearer " TOKEN, "{\"url\":\"https://r/2\",\"duration\":7}");
	j.n = 2;
	run_job(&j);
	REQUIRE(j.got == 2);
	CHECK_INT(j.resp[0].status, 200);
	CHECK_INT(j.resp[1].status, 202);
	CHECK_INT(cb.duration, 7);
	CHECK_INT(api->next_id - before, 1); /* one connection served both */

	/* an error answered after the body was read keeps the connection too */
	memset(&j, 0, sizeof j);
	j.req[0] = post("k3", "Bearer nope-nope-nope-nope", "{}");
	j.req[1] = "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n";
	j.n = 2;
	run_job(&j);
	REQUIRE(j.got == 2);
	CHECK_INT(j.resp[0].status, 401);
	CHECK_INT(j.resp[1].status, 200);
	cb_reset();
}

TEST(pipelined_and_half_closed)
{
	struct job j = {0};
	char second[512];

	cb_reset();
	snprintf(second, sizeof second, "%s",
	         post("pipe", "Bearer " TOKEN, "{\"url\":\"https://r/p\"}"));
	j.mode = JOB_PIPE;
	j.req[0] = "\r\nGET /livez HTTP/1.1\r\nHost: x\r\n\r\n";
	j.req[1] = second;
	j.req[2] = "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n";
	j.n = 3;
	run_job(&j);
	REQUIRE(j.got == 3);
	CHECK_INT(j.resp[0].status, 200);
	CHECK_INT(j.resp[1].status, 202);
	CHECK_INT(j.resp[2].status, 404);
	CHECK_STR(cb.key, "pipe");

	/* the client shuts its side after the requests: every answer still comes, then EOF */
	memset(&j, 0, sizeof j);
	j.mode = JOB_HALFCLOSE;
	j.req[0] = "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n";
	j.req[1] = "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n";
	j.n = 2;
	j.want_closed = 1;
	run_job(&j);
	REQUIRE(j.got == 2);
	CHECK_INT(j.resp[0].status, 200);
	CHECK_INT(j.resp[1].status, 200);
	CHECK_INT(j.closed, 1);
	cb_reset();
}

TEST(connection_close_honoured)
{
	struct resp r;
	int closed = 0;
	char v[32];

	REQUIRE(roundtrip("GET /livez HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Close\r\n\r\n",
	                  &r, &closed) == 0);
	CHECK_INT(r.status, 200);
	CHECK(resp_header(&r, "Connection", v, sizeof v));
	CHECK_STR(v, "close");
	CHECK_INT(closed, 1);
}

static void
job_expect(struct job *j)
{
	struct cli *k = malloc(sizeof *k);

	if (cli_open(k, AF_INET, j->port) < 0)
		goto out;
	/* req[0]: the head; req[1]: the body, sent once 100 Continue came */
	if (cli_send(k, j->req[0], strlen(j->req[0])) < 0 || cli_read(k, &j->resp[0], 0) < 0)
		goto out_close;
	j->got = 1;
	if (j->resp[0].status == 100) {
		if (cli_send(k, j->req[1], strlen(j->req[1])) < 0 ||
		    cli_read(k, &j->resp[1], 0) < 0)
			goto out_close;
		j->got = 2;
	}
	j->closed = cli_closed(k, j->want_closed ? 3000 : 100);
out_close:
	close(k->fd);
out:
	free(k);
}

TEST(expect_100_continue)
{
	static const char body[] = "{\"url\":\"https://r/e\",\"duration\":9}";
	char head[512];
	struct job j = {0};

	cb_reset();
	snprintf(head, sizeof head,
	         "POST /v1/calls/exp/recording HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
	         "\r\nExpect: 100-continue\r\nContent-Length: %zu\r\n\r\n",
	         sizeof body - 1);
	j.fn = job_expect;
	j.req[0] = head;
	j.req[1] = body;
	run_job(&j);
	REQUIRE(j.got == 2);
	CHECK_INT(j.resp[0].status, 100);
	CHECK_INT(j.resp[1].status, 202);
	CHECK_INT(cb.duration, 9);
	CHECK_INT(j.closed, 0);

	/* a wrong token is answered at once, without 100, and the unread body closes it */
	memset(&j, 0, sizeof j);
	snprintf(head, sizeof head,
	         "POST /v1/calls/exp/recording HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
	         "not-the-token-at-all\r\nExpect: 100-continue\r\nContent-Length: %zu\r\n\r\n",
	         sizeof body - 1);
	j.fn = job_expect;
	j.req[0] = head;
	j.req[1] = body;
	j.want_closed = 1;
	run_job(&j);
	REQUIRE(j.got == 1);
	CHECK_INT(j.resp[0].status, 401);
	CHECK_INT(j.closed, 1);
	CHECK_INT(cb.rec_calls, 1);
	cb_reset();
}

static void
job_many(struct job *j)
{
	struct cli *k = malloc(sizeof *k);
	int i;

	for (i = 0; i < SCV_API_MAX_CONNS; i++) {
		struct cli tmp;
		if (cli_open(&tmp, AF_INET, j->port) < 0)
			break;
		j->fds[i] = tmp.fd;
	}
	j->got = i; /* connections made */
	atomic_store(&j->sync, 1);
	/* wait for the test thread to see them all adopted */
	while (atomic_load(&j->sync) != 2)
		usleep(1000);
	if (cli_open(k, AF_INET, j->port) == 0) {
		const char *rq = "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n";
		if (cli_send(k, rq, strlen(rq)) == 0 && cli_read(k, &j->resp[0], 0) == 0)
			j->closed = cli_closed(k, 3000);
		close(k->fd);
	}
	for (i = 0; i < j->got; i++)
		close(j->fds[i]);
	free(k);
}

TEST(connection_limit)
{
	struct job j = {0};
	pthread_t t;
	struct resp r;
	char v[32];

	wait_conns(0);
	REQUIRE(api->n_conns == 0);
	j.fn = job_many;
	j.port = port;
	pthread_create(&t, NULL, job_main, &j);
	while (atomic_load(&j.sync) != 1) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(200);
	}
	wait_conns(SCV_API_MAX_CONNS);
	CHECK_INT(api->n_conns, SCV_API_MAX_CONNS);
	atomic_store(&j.sync, 2);
	while (!atomic_load(&j.done)) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(200);
	}
	pthread_join(t, NULL);
	CHECK_INT(j.got, SCV_API_MAX_CONNS);
	CHECK_INT(j.resp[0].status, 503);
	CHECK_STR(error_of(&j.resp[0]), "too many connections");
	CHECK(resp_header(&j.resp[0], "Retry-After", v, sizeof v));
	CHECK_INT(j.closed, 1);
	/* once they are gone, connections are taken again */
	wait_conns(0);
	CHECK_INT(api->n_conns, 0);
	REQUIRE(roundtrip("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n", &r, NULL) == 0);
	CHECK_INT(r.status, 200);
}

static void
job_idle(struct job *j)
{
	struct cli *k = malloc(sizeof *k);
	uint64_t t0 = scv_api_now_ms();

	if (cli_open(k, AF_INET, j->port) == 0) {
		if (j->req[0])
			cli_send(k, j->req[0], strlen(j->req[0]));
		j->closed = cli_closed(k, 3000);
		j->got = (int)(scv_api_now_ms() - t0); /* ms until closed */
		close(k->fd);
	}
	free(k);
}

TEST(idle_and_slow_requests_time_out)
{
	struct job j = {0};

	idle_ms = 150;
	request_ms = 300;
	j.fn = job_idle;
	run_job(&j); /* nothing sent */
	CHECK_INT(j.closed, 1);
	CHECK(j.got >= 100 && j.got < 2000);

	memset(&j, 0, sizeof j);
	j.fn = job_idle;
	j.req[0] = "GET /livez HTTP/1.1\r\nHo"; /* a head that never ends */
	run_job(&j);
	CHECK_INT(j.closed, 1);
	CHECK(j.got >= 250 && j.got < 2000);
	idle_ms = 30000;
	request_ms = 10000;
}

/*
 * Listening sockets of this process: how many, and the address of one. With ret_all, the
 * number of sockets of any kind too.
 */
static int
listeners_all(struct sockaddr_storage *ret_ss, int *ret_all)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0, all = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name), acc = 0;
		socklen_t l = sizeof acc, sl = sizeof *ret_ss;
		struct stat st;

		if (e->d_name[0] == '.' || fd == dirfd(d) || fstat(fd, &st) ||
		    !S_ISSOCK(st.st_mode))
			continue;
		all++;
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l) || !acc)
			continue;
		n++;
		getsockname(fd, (struct sockaddr *)ret_ss, &sl);
	}
	closedir(d);
	if (ret_all)
		*ret_all = all;
	return n;
}

static int
listeners(struct sockaddr_storage *ret_ss)
{
	return listeners_all(ret_ss, NULL);
}

static int sockets_before; /* before the shared server started */

static const int watched_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGSEGV, SIGFPE, SIGUSR1};
static struct sigaction signals_before[sizeof watched_signals / sizeof watched_signals[0]];

static void
count_signals(uv_handle_t *h, void *arg)
{
	if (h->type == UV_SIGNAL)
		(*(int *)arg)++;
}

TEST(one_listener_exactly_there_and_no_signals)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct handle_count hc = {api->lws, 0};
	int n = 0;

	memset(&ss, 0, sizeof ss);
	CHECK_INT(listeners_all(&ss, &n), 1);
	CHECK_INT(n, sockets_before + 1); /* and no other socket: no UDP, no second port */
	n = 0;
	CHECK_INT(ss.ss_family, AF_INET); /* not [::], as lws would without DISABLE_IPV6 */
	CHECK_INT(ntohl(s4->sin_addr.s_addr), INADDR_LOOPBACK);
	CHECK_INT(ntohs(s4->sin_port), port);
	CHECK(port > 0);
	CHECK_INT(scv_api_port(api), port);

	/* lws runs on our loop, and took no signal */
	uv_walk(&loop, count_owned, &hc);
	CHECK(hc.n > 0);
	uv_walk(&loop, count_signals, &n);
	CHECK_INT(n, 0);
	for (size_t i = 0; i < sizeof watched_signals / sizeof watched_signals[0]; i++) {
		struct sigaction sa;
		sigaction(watched_signals[i], NULL, &sa);
		CHECK(sa.sa_handler == signals_before[i].sa_handler); /* as before the start */
	}
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
	struct scv_api *a = NULL;
	uv_loop_t l;
	char err[256];

	REQUIRE(uv_loop_init(&l) == 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		CHECK_INT(scv_api_start(&l, bad[i], TOKEN, &test_ops, NULL, &a, err, sizeof err),
		          -EINVAL);
		CHECK(strstr(err, "listen") != NULL);
	}
	/* a token is needed for the recording route, and a decent one */
	CHECK_INT(scv_api_start(&l, "127.0.0.1:0", NULL, &test_ops, NULL, &a, err, sizeof err),
	          -EINVAL);
	CHECK(strstr(err, "bearer token") != NULL);
	CHECK_INT(scv_api_start(&l, "127.0.0.1:0", "short", &test_ops, NULL, &a, err, sizeof err),
	          -EINVAL);
	CHECK_INT(scv_api_start(&l, "127.0.0.1:0", "has space in the token value", &test_ops, NULL,
	                        &a, err, sizeof err),
	          -EINVAL);
	CHECK_INT(scv_api_start(&l, "127.0.0.1:0", "=================", &test_ops, NULL, &a, err,
	                        sizeof err),
	          -EINVAL);
	/* the same checks, without starting anything */
	CHECK_INT(scv_api_check("127.0.0.1:8088", TOKEN, err, sizeof err), 0);
	CHECK_INT(scv_api_check("[::1]:8088", NULL, err, sizeof err), 0);
	CHECK_INT(scv_api_check(NULL, NULL, err, sizeof err), 0); /* the default */
	CHECK_INT(scv_api_check("localhost:8088", TOKEN, err, sizeof err), -EINVAL);
	CHECK(strstr(err, "listen \"localhost:8088\"") != NULL);
	CHECK_INT(scv_api_check("127.0.0.1:8088", "short", err, sizeof err), -EINVAL);
	CHECK(strstr(err, "bearer token") != NULL);
	/* the port in use, and an address not on this host */
	snprintf(reqbuf, sizeof reqbuf, "127.0.0.1:%d", port);
	CHECK_INT(scv_api_start(&l, reqbuf, TOKEN, &test_ops, NULL, &a, err, sizeof err),
	          -EADDRINUSE);
	CHECK(strstr(err, reqbuf) != NULL && strstr(err, "in use") != NULL);
	CHECK_INT(scv_api_start(&l, "192.0.2.1:0", TOKEN, &test_ops, NULL, &a, err, sizeof err),
	          -EADDRNOTAVAIL);
	CHECK(a == NULL);
	/* nothing was left on the loop */
	CHECK_INT(uv_loop_close(&l), 0);
}

TEST(health_only_without_token)
{
	static const struct scv_api_ops ops = {NULL, NULL};
	struct scv_api *a = NULL, *shared = api;
	int done = 0, shared_port = port;
	struct resp r;
	char err[256];

	REQUIRE(scv_api_start(&loop, "127.0.0.1:0", NULL, &ops, NULL, &a, err, sizeof err) == 0);
	api = a;
	port = scv_api_port(a);
	REQUIRE(roundtrip("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", &r, NULL) == 0);
	CHECK_INT(r.status, 200); /* no ready callback: ready */
	REQUIRE(roundtrip(post("k", "Bearer " TOKEN, "{\"url\":\"https://r/1\"}"), &r, NULL) == 0);
	CHECK_INT(r.status, 404); /* no recording callback: no such route */
	api = shared;
	port = shared_port;
	scv_api_close(a, on_closed, &done);
	while (!done)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK_INT(done, 1);
}

TEST(ipv6_loopback)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct sockaddr_storage ss;
	struct scv_api *a = NULL;
	struct job j = {0};
	int fd = socket(AF_INET6, SOCK_STREAM, 0), ok, done = 0;
	char err[256];

	ok = fd >= 0 && bind(fd, (struct sockaddr *)&a6, sizeof a6) == 0;
	if (fd >= 0)
		close(fd);
	if (!ok)
		return; /* no IPv6 loopback on this host */
	REQUIRE(scv_api_start(&loop, "[::1]:0", TOKEN, &test_ops, NULL, &a, err, sizeof err) == 0);
	CHECK_INT(listeners(&ss), 2);
	j.family = AF_INET6;
	j.port = scv_api_port(a);
	j.req[0] = "GET /livez HTTP/1.1\r\nHost: [::1]\r\n\r\n";
	j.n = 1;
	run_job(&j);
	CHECK_INT(j.got, 1);
	CHECK_INT(j.resp[0].status, 200);
	/* IPv6 only: the same port on 127.0.0.1 is not this server */
	memset(&j, 0, sizeof j);
	j.port = scv_api_port(a);
	j.req[0] = "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n";
	j.n = 1;
	run_job(&j);
	CHECK_INT(j.got, -1);
	scv_api_close(a, on_closed, &done);
	while (!done)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK_INT(listeners(&ss), 1);
}

static void
count_handle(uv_handle_t *h, void *arg)
{
	(void)h;
	(*(int *)arg)++;
}

static int
loop_handles(uv_loop_t *l)
{
	int n = 0;

	uv_walk(l, count_handle, &n);
	return n;
}

TEST(close_right_after_start_leaves_the_loop_empty)
{
	struct scv_api *a = NULL;
	uv_loop_t l;
	int done = 0;
	char err[256];

	REQUIRE(uv_loop_init(&l) == 0);
	REQUIRE(scv_api_start(&l, "127.0.0.1:0", TOKEN, &test_ops, NULL, &a, err, sizeof err) == 0);
	CHECK(loop_handles(&l) > 0);
	scv_api_close(a, on_closed, &done);
	scv_api_close(a, on_closed, &done); /* twice: the second does nothing */
	while (!done)
		uv_run(&l, UV_RUN_ONCE);
	CHECK_INT(done, 1);
	CHECK(!uv_loop_alive(&l));
	CHECK_INT(loop_handles(&l), 0);
	CHECK_INT(uv_loop_close(&l), 0);
}

/* lws started, then the vhost failed: start says so, and the loop empties by itself. */
TEST(late_start_failure_cleans_up_on_the_loop)
{
	struct scv_api *a = NULL;
	uv_loop_t l;
	char err[256];

	REQUIRE(uv_loop_init(&l) == 0);
	fail_vhost = 1;
	CHECK_INT(scv_api_start(&l, "127.0.0.1:0", TOKEN, &test_ops, NULL, &a, err, sizeof err),
	          -EIO);
	fail_vhost = 0;
	CHECK(a == NULL);
	CHECK(strstr(err, "cannot listen on 127.0.0.1:0") != NULL);
	CHECK(loop_handles(&l) > 0); /* lws's, closing */
	uv_run(&l, UV_RUN_DEFAULT);  /* returns once they and our timer are closed */
	CHECK_INT(loop_handles(&l), 0);
	CHECK_INT(uv_loop_close(&l), 0);
}

static void
job_hold(struct job *j)
{
	struct cli *k = malloc(sizeof *k), *k2 = malloc(sizeof *k2);

	/* one connection idle after an answer, one in the middle of a request */
	if (cli_open(k, AF_INET, j->port) == 0 && cli_open(k2, AF_INET, j->port) == 0) {
		const char *rq = "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n";
		if (cli_send(k, rq, strlen(rq)) == 0 && cli_read(k, &j->resp[0], 0) == 0)
			j->got = 1;
		cli_send(k2, "POST /v1/calls/k/recording HTTP/1.1\r\n", 37);
		atomic_store(&j->sync, 1);
		j->closed = cli_closed(k, 5000) + cli_closed(k2, 5000);
		close(k->fd);
		close(k2->fd);
	}
	free(k);
	free(k2);
}

TEST(close_with_connections_open_leaves_the_loop_empty)
{
	struct scv_api *a = NULL;
	struct job j = {0};
	pthread_t t;
	uv_loop_t l;
	int done = 0;
	char err[256];

	REQUIRE(uv_loop_init(&l) == 0);
	REQUIRE(scv_api_start(&l, "127.0.0.1:0", TOKEN, &test_ops, NULL, &a, err, sizeof err) == 0);
	j.fn = job_hold;
	j.port = scv_api_port(a);
	pthread_create(&t, NULL, job_main, &j);
	while (!atomic_load(&j.sync) || a->n_conns != 2) {
		uv_run(&l, UV_RUN_NOWAIT);
		usleep(200);
	}
	spin(&l, 20); /* the partial request is in */
	scv_api_close(a, on_closed, &done);
	while (!done || !atomic_load(&j.done)) {
		uv_run(&l, UV_RUN_NOWAIT);
		usleep(200);
	}
	pthread_join(t, NULL);
	CHECK_INT(j.got, 1);
	CHECK_INT(j.closed, 2); /* both connections were closed by the server */
	CHECK_INT(done, 1);
	CHECK(!uv_loop_alive(&l));
	CHECK_INT(uv_loop_close(&l), 0);
}

TEST(close_from_inside_a_callback)
{
	struct scv_api *a = NULL;
	struct job j = {0};
	uv_loop_t l;
	int done = 0;
	char err[256], v[32];

	REQUIRE(uv_loop_init(&l) == 0);
	REQUIRE(scv_api_start(&l, "127.0.0.1:0", TOKEN, &test_ops, NULL, &a, err, sizeof err) == 0);
	cb_reset();
	cb.close_me = a;
	cb.close_done = &done;
	j.port = scv_api_port(a);
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

/* The shared server, closed last, with its loop. */
TEST(final_close_leaves_the_loop_empty)
{
	int done = 0;

	scv_api_close(api, on_closed, &done);
	while (!done)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK_INT(done, 1);
	CHECK_INT(loop_handles(&loop), 0);
	CHECK_INT(uv_loop_close(&loop), 0);
}

/* ---- unit: the parser alone ---- */

TEST(parse_head_fields)
{
	char h[] =
	        "POST /a?b HTTP/1.1\r\nhost: x\r\nCONTENT-LENGTH:  12 \r\nauthorization:\tBearer "
	        "abc \r\nConnection: foo,close\r\n\r\n";
	struct scv_api_req q;
	const char *why = NULL;

	CHECK_INT(scv_api_parse_head(h, strlen(h), &q, &why), 0);
	CHECK_STR(q.method, "POST");
	CHECK_STR(q.target, "/a?b");
	CHECK_INT(q.content_length, 12);
	CHECK_STR(q.authorization, "Bearer abc");
	CHECK_INT(q.close, 1);
	CHECK_INT(q.http10, 0);
	CHECK_INT(scv_api_head_end("GET / HTTP/1.1\n\nrest", 20), 16);
	CHECK_INT(scv_api_head_end("GET / HTTP/1.1\r\n\r", 17), 0);
	char nul[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
	CHECK_INT(scv_api_parse_head(nul, sizeof nul - 1, &q, &why), 400);
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
	for (size_t i = 0; i < sizeof watched_signals / sizeof watched_signals[0]; i++)
		sigaction(watched_signals[i], NULL, &signals_before[i]);
	listeners_all(&(struct sockaddr_storage){0}, &sockets_before);
	if (scv_api_start(&loop, "127.0.0.1:0", TOKEN, &test_ops, NULL, &api, err, sizeof err) <
	    0) {
		fprintf(stderr, "scv_api_start: %s\n", err);
		return 1;
	}
	port = scv_api_port(api);

	RUN(one_listener_exactly_there_and_no_signals);
	RUN(livez_without_token);
	RUN(head_has_no_body_and_keeps_the_connection);
	RUN(readyz_ready_and_degraded);
	RUN(recording_accepted);
	RUN(recording_outcomes);
	RUN(token_required);
	RUN(bad_bodies_name_the_field);
	RUN(url_and_key_bounds);
	RUN(body_over_16k_is_413);
	RUN(unknown_paths_and_wrong_methods);
	RUN(malformed_requests_closed);
	RUN(keep_alive_two_requests_on_one_connection);
	RUN(pipelined_and_half_closed);
	RUN(connection_close_honoured);
	RUN(expect_100_continue);
	RUN(connection_limit);
	RUN(idle_and_slow_requests_time_out);
	RUN(token_never_logged);
	RUN(start_refuses_bad_arguments);
	RUN(health_only_without_token);
	RUN(ipv6_loopback);
	RUN(close_right_after_start_leaves_the_loop_empty);
	RUN(late_start_failure_cleans_up_on_the_loop);
	RUN(close_with_connections_open_leaves_the_loop_empty);
	RUN(close_from_inside_a_callback);
	RUN(parse_head_fields);

	RUN(final_close_leaves_the_loop_empty);
	return test_summary();
}
