/*
 * scv/httpd.c on a libuv loop, talked to by the blocking client of tests/unit/http_client.h
 * through a test route shaped like the local API's (GET /livez, a bearer-checked POST with a
 * JSON body): bounds (413, 431, 414, the connection limit, timeouts), keep-alive, pipelining
 * and half-close, 100 Continue, a connection taken over after a 101, the one listener on
 * exactly the address given, no signal handling taken over, and a close (also from inside the
 * route) that leaves a loop uv_loop_close() accepts. The routes of the local API itself are
 * tested in tests/unit/connector/localapi.c.
 */
#include "scv/lws_loop.h"

/* Lets a test make the listener fail after libwebsockets started. */
static int fail_listen;
static int test_lws_listen(struct scv_lws *l, int fd, scv_lws_cb cb, void *arg,
                           struct scv_lws_vhost **ret_vh, char *err, size_t errlen);
#define scv_lws_listen test_lws_listen
#include "scv/httpd.c"
#undef scv_lws_listen

#include <signal.h>

#include "tests/unit/http_client.h"
#include "tests/unit/test.h"

#define TOKEN        "s3cret-T0ken_for.tests~0123456789"
#define DEF_MAX_HEAD 8192
#define MAX_BODY     16384
#define MAX_CONNS    64

static struct scv_httpd *srv; /* the shared server: 127.0.0.1, port 0, default limits */

/* what the route saw */
static struct {
	int rec_calls;
	char key[80];
	long duration;
	struct scv_httpd *close_me; /* closed from inside the route */
	int *close_done;
} cb;

static int
test_lws_listen(struct scv_lws *l, int fd, scv_lws_cb cb_fn, void *arg,
                struct scv_lws_vhost **ret_vh, char *err, size_t errlen)
{
	if (fail_listen) {
		close(fd);
		snprintf(err, errlen, "failed for the test");
		return -EIO;
	}
	return scv_lws_listen(l, fd, cb_fn, arg, ret_vh, err, errlen);
}

static void
cb_reset(void)
{
	memset(&cb, 0, sizeof cb);
	cb.duration = -2;
}

static int
raw_echo(struct scv_httpd_conn *c, const void *data, size_t len, void *arg)
{
	(void)arg;
	if (len >= 4 && !memcmp(data, "quit", 4)) {
		scv_httpd_raw_write(c, "bye\n", 4);
		scv_httpd_raw_close(c);
		return 0;
	}
	return scv_httpd_raw_write(c, data, len);
}

static int raw_closed;

static void
raw_gone(struct scv_httpd_conn *c, void *arg)
{
	(void)c;
	(void)arg;
	raw_closed++;
}

static const struct scv_httpd_raw_ops echo_ops = {raw_echo, raw_gone};

/*
 * The test route: GET /livez; GET /raw (101, then an echo of what comes); POST
 * /v1/calls/{key}/recording with "Authorization: Bearer TOKEN" checked before the body, and
 * a JSON body whose "duration" is noted; 404 otherwise.
 */
static int
test_route(struct scv_httpd_conn *c, struct scv_httpd_req *q, int body_ready, void *arg)
{
	static const char pre[] = "/v1/calls/";
	char *path = q->target;
	json_t *j;

	(void)arg;
	path[strcspn(path, "?")] = '\0';
	if (!strcmp(path, "/livez") || !strcmp(path, "/readyz")) {
		if (strcmp(q->method, "GET") && strcmp(q->method, "HEAD")) {
			scv_httpd_respond_error(c, 405, "Allow: GET, HEAD\r\n",
			                        "method not allowed");
			return 1;
		}
		if (body_ready)
			scv_httpd_respond(c, 200, NULL, "{\"status\":\"ok\"}");
		return body_ready;
	}
	if (!strcmp(path, "/raw")) {
		if (!body_ready)
			return 0;
		scv_httpd_respond(c, 101, "Upgrade: echo\r\nConnection: Upgrade\r\n", "");
		if (scv_httpd_take_raw(c, &echo_ops, NULL) < 0)
			scv_httpd_respond_fatal(c, 500, "cannot take it");
		return 1;
	}
	if (strncmp(path, pre, sizeof pre - 1) || strcmp(q->method, "POST")) {
		scv_httpd_respond_error(c, 404, NULL, "not found");
		return 1;
	}
	if (!q->authorization || strcmp(q->authorization, "Bearer " TOKEN)) {
		scv_httpd_respond_error(c, 401, NULL, "bearer token required");
		return 1;
	}
	if (!body_ready)
		return 0;
	cb.rec_calls++;
	snprintf(cb.key, sizeof cb.key, "%.*s", (int)strcspn(path + sizeof pre - 1, "/"),
	         path + sizeof pre - 1);
	j = json_loadb(q->body, (size_t)q->content_length, 0, NULL);
	cb.duration = json_is_integer(json_object_get(j, "duration"))
	                      ? (long)json_integer_value(json_object_get(j, "duration"))
	                      : -1;
	json_decref(j);
	if (cb.close_me) {
		scv_httpd_close(cb.close_me, on_done, cb.close_done);
		cb.close_me = NULL;
	}
	scv_httpd_respond(c, 202, NULL, "{\"status\":\"accepted\"}");
	return 1;
}

static int
start(uv_loop_t *l, const char *listen, const struct scv_httpd_limits *limits,
      struct scv_httpd **ret, char *err, size_t errlen)
{
	return scv_httpd_start(l, listen, "api", limits, test_route, NULL, ret, err, errlen);
}

/* Runs the loop until the shared server has n connections (or 3 s have passed). */
static void
wait_conns(unsigned n)
{
	for (int i = 0; i < 15000 && srv->n_conns != n; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(200);
	}
}

static char reqbuf[64 * 1024];

/* A POST of body to the recording-shaped route of key, with an Authorization header. */
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

struct handle_count {
	const void *owner;
	size_t n;
};

static void
count_owned(uv_handle_t *handle, void *arg)
{
	struct handle_count *hc = arg;

	if (handle->data == hc->owner)
		hc->n++;
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

/* ---- tests ---- */

static void
job_raw(struct job *j)
{
	struct cli *k = malloc(sizeof *k);
	static const char rq[] = "GET /raw HTTP/1.1\r\nHost: x\r\n\r\nearly;";

	if (cli_open(k, AF_INET, j->port) < 0)
		goto out;
	/* bytes right behind the request are the taker's: "early;" */
	if (cli_send(k, rq, sizeof rq - 1) < 0 || cli_read(k, &j->resp[0], 1) < 0)
		goto out_close;
	j->got = 1;
	while (k->have < 6 && cli_fill(k) > 0)
		;
	snprintf(j->resp[1].body, sizeof j->resp[1].body, "%.*s", (int)k->have, k->buf);
	k->have = 0;
	/* then what it echoes, which is no HTTP, until it says bye and closes */
	if (cli_send(k, "hello", 5) < 0)
		goto out_close;
	while (k->have < 5 && cli_fill(k) > 0)
		;
	snprintf(j->resp[2].body, sizeof j->resp[2].body, "%.*s", (int)k->have, k->buf);
	k->have = 0;
	if (cli_send(k, "quit", 4) < 0)
		goto out_close;
	while (cli_fill(k) > 0)
		;
	snprintf(j->resp[3].body, sizeof j->resp[3].body, "%.*s", (int)k->have, k->buf);
	j->closed = 1;
out_close:
	close(k->fd);
out:
	free(k);
}

TEST(taken_over_after_101)
{
	struct job j = {0};
	char v[32];

	raw_closed = 0;
	j.fn = job_raw;
	run_job(&j);
	REQUIRE(j.got == 1);
	CHECK_INT(j.resp[0].status, 101);
	CHECK(resp_header(&j.resp[0], "Upgrade", v, sizeof v));
	CHECK_STR(v, "echo");
	CHECK(!resp_header(&j.resp[0], "Content-Length", v, sizeof v)); /* a 101 has no body */
	CHECK_STR(j.resp[1].body, "early;");
	CHECK_STR(j.resp[2].body, "hello");
	CHECK_STR(j.resp[3].body, "bye\n");
	CHECK_INT(j.closed, 1);
	wait_conns(0);
	CHECK_INT(raw_closed, 1);
	/* and the server serves HTTP on the next connection as before */
	struct resp r;
	REQUIRE(roundtrip("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n", &r, NULL) == 0);
	CHECK_INT(r.status, 200);
}

TEST(limits_are_the_users)
{
	const struct scv_httpd_limits small = {.max_head = 256, .max_body = 32, .max_conns = 2};
	struct scv_httpd *s = NULL;
	struct resp r;
	char err[256], body[64];
	int done = 0, shared_port = port, closed = 0;

	REQUIRE(start(&loop, "127.0.0.1:0", &small, &s, err, sizeof err) == 0);
	port = scv_httpd_port(s);
	memset(body, ' ', 33);
	body[33] = '\0';
	REQUIRE(roundtrip(post("k", "Bearer " TOKEN, body), &r, &closed) == 0);
	CHECK_INT(r.status, 413);
	CHECK_STR(error_of(&r), "body over 32 bytes");
	CHECK_INT(closed, 1);
	snprintf(reqbuf, sizeof reqbuf, "GET /livez HTTP/1.1\r\nHost: x\r\nX: %0300d\r\n\r\n", 0);
	REQUIRE(roundtrip(reqbuf, &r, &closed) == 0);
	CHECK_INT(r.status, 431);
	CHECK_STR(error_of(&r), "request head over 256 bytes");
	port = shared_port;
	scv_httpd_close(s, on_done, &done);
	while (!done)
		uv_run(&loop, UV_RUN_ONCE);
}

/* A server and the HTTPS client's side on one loop share one libwebsockets context. */
TEST(one_lws_context_per_loop)
{
	struct scv_lws *l = NULL;
	char err[256];

	REQUIRE(scv_lws_acquire(&loop, &l, err, sizeof err) == 0);
	CHECK(l == srv->lws);
	CHECK(scv_lws_context(l) != NULL);
	scv_lws_release(l, NULL, NULL); /* the server still holds it */
	CHECK(scv_lws_context(srv->lws) != NULL);
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

TEST(malformed_requests_closed)
{
	static char big_field[2 * DEF_MAX_HEAD], long_line[2 * DEF_MAX_HEAD], many[DEF_MAX_HEAD];
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
	memset(big_field + n, 'a', DEF_MAX_HEAD);
	strcpy(big_field + n + DEF_MAX_HEAD, "\r\n\r\n");
	REQUIRE(roundtrip(big_field, &r, &closed) == 0);
	CHECK_INT(r.status, 431);
	CHECK_INT(closed, 1);
	/* a request line too long */
	n = (size_t)snprintf(long_line, sizeof long_line, "GET /");
	memset(long_line + n, 'a', DEF_MAX_HEAD + 10);
	strcpy(long_line + n + DEF_MAX_HEAD + 10, " HTTP/1.1\r\n\r\n");
	REQUIRE(roundtrip(long_line, &r, &closed) == 0);
	CHECK_INT(r.status, 414);
	CHECK_INT(closed, 1);
	/* too many fields */
	n = (size_t)snprintf(many, sizeof many, "GET /livez HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < SCV_HTTPD_MAX_FIELDS; i++)
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
	before = srv->next_id;
	j.req[0] = "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n";
	j.req[1] = post("k2", "Bearer " TOKEN, "{\"url\":\"https://r/2\",\"duration\":7}");
	j.n = 2;
	run_job(&j);
	REQUIRE(j.got == 2);
	CHECK_INT(j.resp[0].status, 200);
	CHECK_INT(j.resp[1].status, 202);
	CHECK_INT(cb.duration, 7);
	CHECK_INT(srv->next_id - before, 1); /* one connection served both */

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

TEST(connection_limit)
{
	struct job j = {0};
	pthread_t t;
	struct resp r;
	char v[32];

	wait_conns(0);
	REQUIRE(srv->n_conns == 0);
	j.fn = job_many;
	j.n_conns = MAX_CONNS;
	j.port = port;
	pthread_create(&t, NULL, job_main, &j);
	while (atomic_load(&j.sync) != 1) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(200);
	}
	wait_conns(MAX_CONNS);
	CHECK_INT(srv->n_conns, MAX_CONNS);
	atomic_store(&j.sync, 2);
	while (!atomic_load(&j.done)) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(200);
	}
	pthread_join(t, NULL);
	CHECK_INT(j.got, MAX_CONNS);
	CHECK_INT(j.resp[0].status, 503);
	CHECK_STR(error_of(&j.resp[0]), "too many connections");
	CHECK(resp_header(&j.resp[0], "Retry-After", v, sizeof v));
	CHECK_INT(j.closed, 1);
	/* once they are gone, connections are taken again */
	wait_conns(0);
	CHECK_INT(srv->n_conns, 0);
	REQUIRE(roundtrip("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n", &r, NULL) == 0);
	CHECK_INT(r.status, 200);
}

TEST(idle_and_slow_requests_time_out)
{
	struct job j = {0};

	const struct scv_httpd_limits quick = {.idle_ms = 150, .request_ms = 300};
	struct scv_httpd *s = NULL;
	char err[256];
	int done = 0;

	REQUIRE(start(&loop, "127.0.0.1:0", &quick, &s, err, sizeof err) == 0);
	j.fn = job_idle;
	j.port = scv_httpd_port(s);
	run_job(&j); /* nothing sent */
	CHECK_INT(j.closed, 1);
	CHECK(j.got >= 100 && j.got < 2000);

	memset(&j, 0, sizeof j);
	j.fn = job_idle;
	j.port = scv_httpd_port(s);
	j.req[0] = "GET /livez HTTP/1.1\r\nHo"; /* a head that never ends */
	run_job(&j);
	CHECK_INT(j.closed, 1);
	CHECK(j.got >= 250 && j.got < 2000);
	scv_httpd_close(s, on_done, &done);
	while (!done)
		uv_run(&loop, UV_RUN_ONCE);
}

TEST(body_over_16k_is_413)
{
	char *body = malloc(MAX_BODY + 2);
	struct resp r;
	int closed = 0;
	char v[32];

	cb_reset();
	/* exactly 16 KiB: a valid object padded with spaces */
	memset(body, ' ', MAX_BODY);
	memcpy(body, "{\"url\":\"https://r/1\"}", 21);
	body[MAX_BODY] = '\0';
	REQUIRE(roundtrip(post("k", "Bearer " TOKEN, body), &r, NULL) == 0);
	CHECK_INT(r.status, 202);
	/* one byte more: refused without being read, and the connection closed */
	body[MAX_BODY] = ' ';
	body[MAX_BODY + 1] = '\0';
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

TEST(one_listener_exactly_there_and_no_signals)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct handle_count hc = {scv_lws_context(srv->lws), 0};
	int n = 0;

	memset(&ss, 0, sizeof ss);
	CHECK_INT(listeners_all(&ss, &n), 1);
	CHECK_INT(n, sockets_before + 1); /* and no other socket: no UDP, no second port */
	n = 0;
	CHECK_INT(ss.ss_family, AF_INET); /* not [::], as lws would without DISABLE_IPV6 */
	CHECK_INT(ntohl(s4->sin_addr.s_addr), INADDR_LOOPBACK);
	CHECK_INT(ntohs(s4->sin_port), port);
	CHECK(port > 0);
	CHECK_INT(scv_httpd_port(srv), port);

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

TEST(start_refuses_bad_listen_addresses)
{
	static const char *const bad[] = {
	        "localhost:8088", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536",
	        "127.0.0.1:80x",  "[::1]",     "[::1:80",    "::1:8088",
	        "[127.0.0.1]:80", "1.2.3:80",  ":8088",      "[]:80",
	};
	struct scv_httpd *a = NULL;
	uv_loop_t l;
	char err[256], where[64];

	REQUIRE(uv_loop_init(&l) == 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		CHECK_INT(start(&l, bad[i], NULL, &a, err, sizeof err), -EINVAL);
		CHECK(strstr(err, "listen") != NULL);
		CHECK_INT(scv_httpd_check_listen(bad[i], err, sizeof err), -EINVAL);
	}
	/* the same checks, without starting anything */
	CHECK_INT(scv_httpd_check_listen("127.0.0.1:8088", err, sizeof err), 0);
	CHECK_INT(scv_httpd_check_listen("[::1]:8088", err, sizeof err), 0);
	CHECK_INT(scv_httpd_check_listen("localhost:8088", err, sizeof err), -EINVAL);
	CHECK(strstr(err, "listen \"localhost:8088\"") != NULL);
	/* the port in use, and an address not on this host */
	snprintf(where, sizeof where, "127.0.0.1:%d", port);
	CHECK_INT(start(&l, where, NULL, &a, err, sizeof err), -EADDRINUSE);
	CHECK(strstr(err, where) != NULL && strstr(err, "in use") != NULL);
	CHECK_INT(start(&l, "192.0.2.1:0", NULL, &a, err, sizeof err), -EADDRNOTAVAIL);
	CHECK(a == NULL);
	/* nothing was left on the loop */
	CHECK_INT(uv_loop_close(&l), 0);
}

TEST(ipv6_loopback)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct sockaddr_storage ss;
	struct scv_httpd *a = NULL;
	struct job j = {0};
	int fd = socket(AF_INET6, SOCK_STREAM, 0), ok, done = 0;
	char err[256];

	ok = fd >= 0 && bind(fd, (struct sockaddr *)&a6, sizeof a6) == 0;
	if (fd >= 0)
		close(fd);
	if (!ok)
		return; /* no IPv6 loopback on this host */
	REQUIRE(start(&loop, "[::1]:0", NULL, &a, err, sizeof err) == 0);
	CHECK_INT(listeners(&ss), 2);
	j.family = AF_INET6;
	j.port = scv_httpd_port(a);
	j.req[0] = "GET /livez HTTP/1.1\r\nHost: [::1]\r\n\r\n";
	j.n = 1;
	run_job(&j);
	CHECK_INT(j.got, 1);
	CHECK_INT(j.resp[0].status, 200);
	/* IPv6 only: the same port on 127.0.0.1 is not this server */
	memset(&j, 0, sizeof j);
	j.port = scv_httpd_port(a);
	j.req[0] = "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n";
	j.n = 1;
	run_job(&j);
	CHECK_INT(j.got, -1);
	scv_httpd_close(a, on_done, &done);
	while (!done)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK_INT(listeners(&ss), 1);
}

TEST(close_right_after_start_leaves_the_loop_empty)
{
	struct scv_httpd *a = NULL;
	uv_loop_t l;
	int done = 0;
	char err[256];

	REQUIRE(uv_loop_init(&l) == 0);
	REQUIRE(start(&l, "127.0.0.1:0", NULL, &a, err, sizeof err) == 0);
	CHECK(loop_handles(&l) > 0);
	scv_httpd_close(a, on_done, &done);
	scv_httpd_close(a, on_done, &done); /* twice: the second does nothing */
	while (!done)
		uv_run(&l, UV_RUN_ONCE);
	CHECK_INT(done, 1);
	CHECK(!uv_loop_alive(&l));
	CHECK_INT(loop_handles(&l), 0);
	CHECK_INT(uv_loop_close(&l), 0);
}

TEST(late_start_failure_cleans_up_on_the_loop)
{
	struct scv_httpd *a = NULL;
	uv_loop_t l;
	char err[256];

	REQUIRE(uv_loop_init(&l) == 0);
	fail_listen = 1;
	CHECK_INT(start(&l, "127.0.0.1:0", NULL, &a, err, sizeof err), -EIO);
	fail_listen = 0;
	CHECK(a == NULL);
	CHECK(strstr(err, "cannot listen on 127.0.0.1:0") != NULL);
	CHECK(loop_handles(&l) > 0); /* lws's, closing */
	uv_run(&l, UV_RUN_DEFAULT);  /* returns once they and our timer are closed */
	CHECK_INT(loop_handles(&l), 0);
	CHECK_INT(uv_loop_close(&l), 0);
}

TEST(close_with_connections_open_leaves_the_loop_empty)
{
	struct scv_httpd *a = NULL;
	struct job j = {0};
	pthread_t t;
	uv_loop_t l;
	int done = 0;
	char err[256];

	REQUIRE(uv_loop_init(&l) == 0);
	REQUIRE(start(&l, "127.0.0.1:0", NULL, &a, err, sizeof err) == 0);
	j.fn = job_hold;
	j.port = scv_httpd_port(a);
	pthread_create(&t, NULL, job_main, &j);
	while (!atomic_load(&j.sync) || a->n_conns != 2) {
		uv_run(&l, UV_RUN_NOWAIT);
		usleep(200);
	}
	spin(&l, 20); /* the partial request is in */
	scv_httpd_close(a, on_done, &done);
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
	struct scv_httpd *a = NULL;
	struct job j = {0};
	uv_loop_t l;
	int done = 0;
	char err[256], v[32];

	REQUIRE(uv_loop_init(&l) == 0);
	REQUIRE(start(&l, "127.0.0.1:0", NULL, &a, err, sizeof err) == 0);
	cb_reset();
	cb.close_me = a;
	cb.close_done = &done;
	j.port = scv_httpd_port(a);
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

	scv_httpd_close(srv, on_done, &done);
	while (!done)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK_INT(done, 1);
	CHECK_INT(loop_handles(&loop), 0);
	CHECK_INT(uv_loop_close(&loop), 0);
}

TEST(parse_head_fields)
{
	char h[] =
	        "POST /a?b HTTP/1.1\r\nhost: x\r\nCONTENT-LENGTH:  12 \r\nauthorization:\tBearer "
	        "abc \r\nConnection: foo,close\r\n\r\n";
	struct scv_httpd_req q;
	const char *why = NULL;

	CHECK_INT(scv_httpd_parse_head(h, strlen(h), 16384, &q, &why), 0);
	CHECK_STR(q.method, "POST");
	CHECK_STR(q.target, "/a?b");
	CHECK_INT(q.content_length, 12);
	CHECK_STR(q.authorization, "Bearer abc");
	CHECK_INT(q.close, 1);
	CHECK_INT(q.http10, 0);
	/* every field, by name in any case; blanks around the value gone */
	CHECK_INT(q.n_fields, 4);
	CHECK_STR(scv_httpd_field(&q, "Content-Length"), "12");
	CHECK_STR(scv_httpd_field(&q, "HOST"), "x");
	CHECK(scv_httpd_field(&q, "Upgrade") == NULL);
	/* a declared body over the bound is given as the bound plus one */
	char big[] = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n";
	CHECK_INT(scv_httpd_parse_head(big, strlen(big), 100, &q, &why), 0);
	CHECK_INT(q.content_length, 101);
	CHECK_INT(scv_httpd_head_end("GET / HTTP/1.1\n\nrest", 20), 16);
	CHECK_INT(scv_httpd_head_end("GET / HTTP/1.1\r\n\r", 17), 0);
	char nul[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
	CHECK_INT(scv_httpd_parse_head(nul, sizeof nul - 1, 16384, &q, &why), 400);
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
	if (start(&loop, "127.0.0.1:0", NULL, &srv, err, sizeof err) < 0) {
		fprintf(stderr, "scv_httpd_start: %s\n", err);
		return 1;
	}
	port = scv_httpd_port(srv);

	RUN(one_listener_exactly_there_and_no_signals);
	RUN(head_has_no_body_and_keeps_the_connection);
	RUN(malformed_requests_closed);
	RUN(keep_alive_two_requests_on_one_connection);
	RUN(pipelined_and_half_closed);
	RUN(connection_close_honoured);
	RUN(expect_100_continue);
	RUN(connection_limit);
	RUN(idle_and_slow_requests_time_out);
	RUN(body_over_16k_is_413);
	RUN(start_refuses_bad_listen_addresses);
	RUN(ipv6_loopback);
	RUN(close_right_after_start_leaves_the_loop_empty);
	RUN(late_start_failure_cleans_up_on_the_loop);
	RUN(close_with_connections_open_leaves_the_loop_empty);
	RUN(close_from_inside_a_callback);
	RUN(parse_head_fields);
	RUN(taken_over_after_101);
	RUN(limits_are_the_users);
	RUN(one_lws_context_per_loop);

	RUN(final_close_leaves_the_loop_empty);
	return test_summary();
}
