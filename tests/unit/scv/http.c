/*
 * scv/http.c against a small TLS test server (OpenSSL, its own threads, 127.0.0.1 port 0,
 * certificates from a CA made here): answers and Retry-After, what goes on the wire,
 * connection reuse (for every method) and its bound, certificate and name checks, every
 * failure's errno, the libwebsockets sockets under it, and a close that cancels and leaves
 * the loop empty — uv_loop_close() succeeds.
 */
#include <netdb.h>
#include <uv.h>

/* Lets a test make "localhost" resolve to another address before 127.0.0.1 (resolve_first). */
static int test_getaddrinfo(uv_loop_t *loop, uv_getaddrinfo_t *req, uv_getaddrinfo_cb cb,
                            const char *node, const char *service, const struct addrinfo *hints);
#define uv_getaddrinfo test_getaddrinfo
#include "scv/http.c"
#include "scv/http_conn.c"
#include "scv/http_sock.c"
#undef uv_getaddrinfo

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "tests/unit/scv/pki.h"
#include "tests/unit/scv/tls_server.h"
#include "tests/unit/test.h"

/* ---- fixtures ---- */

static char dir[128], ca_path[200], ca2_path[200];
static uv_loop_t loop;
static struct srv *s_main;        /* cert for localhost and 127.0.0.1, signed by the test CA */
static struct srv *s_other;       /* cert for other.example only, same CA */
static const char *resolve_first; /* non-NULL: "localhost" is this address, then 127.0.0.1 */
X509 *main_cert;
EVP_PKEY *main_key;

static uv_getaddrinfo_cb dual_cb;
static char dual_service[16];
static struct addrinfo dual_hints;
static int dual_first_family;

/* Appends what 127.0.0.1 gives to what resolve_first gave (glibc frees node by node). */
static void
dual_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct addrinfo *v4 = NULL, **tail = &res;

	if (status < 0)
		res = NULL;
	if (getaddrinfo("127.0.0.1", dual_service, &dual_hints, &v4) != 0)
		v4 = NULL;
	while (*tail)
		tail = &(*tail)->ai_next;
	*tail = v4;
	dual_first_family = res ? res->ai_family : 0;
	dual_cb(req, res ? 0 : UV_EAI_NONAME, res);
}

static int
test_getaddrinfo(uv_loop_t *l, uv_getaddrinfo_t *req, uv_getaddrinfo_cb cb, const char *node,
                 const char *service, const struct addrinfo *hints)
{
	if (!resolve_first || strcmp(node, "localhost") != 0)
		return uv_getaddrinfo(l, req, cb, node, service, hints);
	dual_cb = cb;
	snprintf(dual_service, sizeof dual_service, "%s", service);
	dual_hints = *hints;
	return uv_getaddrinfo(l, req, dual_resolved, resolve_first, service, hints);
}

#include "tests/unit/scv/http_fixtures.h"

/* ---- tests ---- */

TEST(get_200_with_body)
{
	struct scv_http *h = new_http();
	struct result r = {0};
	int t = add_target(h, "localhost", s_main->port, ca_path);

	REQUIRE(t >= 0);
	REQUIRE(send_req(h, t, "GET", "/voiceCalls/x", NULL, 0, &r) == 0);
	CHECK_INT(scv_http_pending(h), 1);
	CHECK_INT(r.calls, 0); /* never from inside send */
	wait_calls(&r, 1);
	CHECK_INT(r.calls, 1);
	CHECK_INT(r.error, 0);
	CHECK_INT(r.status, 200);
	CHECK_INT(r.retry_after, -1);
	CHECK(strncmp(r.body, "{\"conn\":", 8) == 0);
	CHECK_INT(r.body_len, strlen(r.body));
	CHECK_STR(r.detail, "");
	CHECK_INT(scv_http_pending(h), 0);
	close_http(h);
	CHECK_INT(r.calls, 1);
}

TEST(retry_after_parsed)
{
	struct scv_http *h = new_http();
	struct result a = {0}, b = {0};
	int t = add_target(h, "localhost", s_main->port, ca_path);

	REQUIRE(send_req(h, t, "POST", "/voiceCalls/429", "{}", 0, &a) == 0);
	REQUIRE(send_req(h, t, "POST", "/voiceCalls/503date", "{}", 0, &b) == 0);
	wait_calls(&a, 1);
	wait_calls(&b, 1);
	CHECK_INT(a.status, 429);
	CHECK_INT(a.error, 0);
	CHECK_INT(a.retry_after, 7);
	CHECK_STR(a.body, "{\"code\":\"RATE_LIMITED\"}");
	CHECK_INT(b.status, 503);
	CHECK(b.retry_after >= 28 && b.retry_after <= 30);
	close_http(h);
}

TEST(post_body_and_headers_on_the_wire)
{
	static const char body[] = "{\"callCenterApiName\":\"AcmeCC\",\"x\":\"\\u00e9\\\"q\"}";
	struct scv_http *h = new_http();
	struct result r = {0};
	struct srv_req q;
	char host[64], clen[16];
	int t = add_target(h, "localhost", s_main->port, ca_path);

	REQUIRE(send_req(h, t, "POST", "/voiceCalls/echo", body, 0, &r) == 0);
	wait_calls(&r, 1);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body, body);
	q = srv_last(s_main);
	CHECK_STR(q.method, "POST");
	CHECK_STR(q.path, "/telephony/v1/voiceCalls/echo");
	snprintf(host, sizeof host, "localhost:%d", s_main->port);
	CHECK_STR(q.host, host);
	CHECK_STR(q.auth, "Bearer eyJ.test.sig");
	CHECK_STR(q.provider, "scvbridge-test");
	CHECK_STR(q.ctype, "application/json");
	CHECK_STR(q.accept, "application/json");
	snprintf(clen, sizeof clen, "%zu", strlen(body));
	CHECK_STR(q.clen, clen);
	CHECK_INT(q.body_len, strlen(body));
	CHECK(memcmp(q.body, body, strlen(body)) == 0);

	/* PATCH with a body; a GET without one has no Content-Type or Content-Length */
	memset(&r, 0, sizeof r);
	REQUIRE(send_req(h, t, "PATCH", "/voiceCalls/0LQ1/echo", "{\"a\":1}", 0, &r) == 0);
	wait_calls(&r, 1);
	q = srv_last(s_main);
	CHECK_STR(q.method, "PATCH");
	CHECK_STR(q.path, "/telephony/v1/voiceCalls/0LQ1/echo");
	CHECK_STR(r.body, "{\"a\":1}");
	memset(&r, 0, sizeof r);
	REQUIRE(send_req(h, t, "GET", "/x", NULL, 0, &r) == 0);
	wait_calls(&r, 1);
	q = srv_last(s_main);
	CHECK_STR(q.ctype, "");
	CHECK_STR(q.clen, "");
	/* a POST without a body says Content-Length: 0 */
	memset(&r, 0, sizeof r);
	REQUIRE(send_req(h, t, "POST", "/x", NULL, 0, &r) == 0);
	wait_calls(&r, 1);
	q = srv_last(s_main);
	CHECK_STR(q.clen, "0");
	close_http(h);
}

TEST(sequential_requests_share_one_connection)
{
	static const char *const methods[] = {"POST", "PATCH", "GET"};
	struct scv_http *h = new_http();
	struct result r[3] = {{0}};
	int t = add_target(h, "localhost", s_main->port, ca_path);
	int before = srv_accepted(s_main), conn_id = -1;

	for (int i = 0; i < 3; i++) {
		REQUIRE(send_req(h, t, methods[i], "/voiceCalls/seq", i == 2 ? NULL : "{}", 0,
		                 &r[i]) == 0);
		wait_calls(&r[i], 1);
		CHECK_INT(r[i].status, 200);
		if (i == 0)
			sscanf(r[i].body, "{\"conn\":%d", &conn_id);
		else {
			char want[64];
			snprintf(want, sizeof want, "{\"conn\":%d,\"n\":%d}", conn_id, i + 1);
			CHECK_STR(r[i].body, want);
		}
	}
	CHECK_INT(srv_accepted(s_main) - before, 1);
	close_http(h);
}

/* PATCH, the closing update of every call, reuses the connection like any method. */
TEST(patches_share_one_connection)
{
	struct scv_http *h = new_http();
	int t = add_target(h, "localhost", s_main->port, ca_path);
	int before = srv_accepted(s_main), conn_id = -1;

	for (int i = 0; i < 5; i++) {
		struct result r = {0};
		struct srv_req q;
		char body[32], want[64];

		snprintf(body, sizeof body, "{\"endTime\":%d}", i);
		REQUIRE(send_req(h, t, "PATCH", "/voiceCalls/0LQ1", body, 0, &r) == 0);
		wait_calls(&r, 1);
		q = srv_last(s_main);
		CHECK_STR(q.method, "PATCH");
		CHECK_STR(q.body, body);
		CHECK_INT(r.status, 200);
		if (i == 0)
			sscanf(r.body, "{\"conn\":%d", &conn_id);
		/* the same connection, its (i+1)th request */
		snprintf(want, sizeof want, "{\"conn\":%d,\"n\":%d}", conn_id, i + 1);
		CHECK_STR(r.body, want);
	}
	CHECK_INT(srv_accepted(s_main) - before, 1);
	close_http(h);
}

/* A body far larger than a socket write: it goes out in pieces, whole and in order. */
TEST(large_body_sent_whole)
{
	struct scv_http *h = new_http();
	struct result r[2] = {{0}};
	int t = add_target(h, "localhost", s_main->port, ca_path);
	int before = srv_accepted(s_main);
	char *big = malloc(MAX_REQUEST_BODY + 1), want[64];

	REQUIRE(big);
	for (size_t i = 0; i < MAX_REQUEST_BODY; i++)
		big[i] = (char)('a' + i % 26);
	big[MAX_REQUEST_BODY] = '\0';
	for (int i = 0; i < 2; i++) {
		REQUIRE(send_req(h, t, i ? "PATCH" : "POST", "/voiceCalls/sink", big, 0, &r[i]) ==
		        0);
		wait_calls(&r[i], 1);
		CHECK_INT(r[i].error, 0);
		CHECK_INT(r[i].status, 200);
		snprintf(want, sizeof want, "{\"got\":%d,\"bad\":0}", MAX_REQUEST_BODY);
		CHECK_STR(r[i].body, want);
	}
	CHECK_INT(srv_accepted(s_main) - before, 1);
	free(big);
	close_http(h);
}

struct chain {
	struct scv_http *http;
	int target;
	int sent;
	int answered;
	int ok;
	int max;
};

static void
on_chain_next(const struct scv_http_resp *resp, void *arg)
{
	struct chain *c = arg;
	struct scv_http_req q = {.target = c->target,
	                         .method = c->sent % 2 ? "PATCH" : "POST",
	                         .path = "/voiceCalls/c",
	                         .body = "{}",
	                         .body_len = 2};

	c->answered++;
	c->ok += resp->status == 200;
	if (c->sent < c->max && scv_http_send(c->http, &q, on_chain_next, c) == 0)
		c->sent++;
}

TEST(chained_from_callbacks_reuse_the_connection)
{
	struct scv_http *h = new_http();
	struct chain c = {.http = h, .max = 50};
	int before = srv_accepted(s_main);

	c.target = add_target(h, "localhost", s_main->port, ca_path);
	on_chain_next(&(struct scv_http_resp){.status = 200}, &c);
	c.answered = c.ok = 0;
	while (c.answered < c.max)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK_INT(c.ok, 50);
	CHECK_INT(srv_accepted(s_main) - before, 1);
	close_http(h);
}

TEST(parallel_requests_bounded_pool)
{
	struct scv_http *h = new_http();
	struct result r[20] = {{0}}, again[3] = {{0}};
	int t = add_target(h, "localhost", s_main->port, ca_path);
	int before = srv_accepted(s_main), ok = 0;

	for (int i = 0; i < 20; i++)
		REQUIRE(send_req(h, t, "POST", "/voiceCalls/slow", "{}", 0, &r[i]) == 0);
	CHECK_INT(scv_http_pending(h), 20);
	for (int i = 0; i < 20; i++) {
		wait_calls(&r[i], 1);
		ok += r[i].status == 200 && r[i].calls == 1;
	}
	CHECK_INT(ok, 20);
	CHECK_INT(srv_accepted(s_main) - before, MAX_CONNS);
	/* the kept connections serve what comes next */
	for (int i = 0; i < 3; i++) {
		REQUIRE(send_req(h, t, "GET", "/voiceCalls/x", NULL, 0, &again[i]) == 0);
		wait_calls(&again[i], 1);
		CHECK_INT(again[i].status, 200);
	}
	CHECK_INT(srv_accepted(s_main) - before, MAX_CONNS);
	close_http(h);
}

TEST(chunked_and_oversized_answers)
{
	struct scv_http *h = new_http();
	struct result a = {0}, b = {0}, c = {0};
	int t = add_target(h, "localhost", s_main->port, ca_path);

	REQUIRE(send_req(h, t, "GET", "/chunked", NULL, 0, &a) == 0);
	wait_calls(&a, 1);
	CHECK_INT(a.status, 200);
	CHECK_STR(a.body, "{\"a\":1}");
	REQUIRE(send_req(h, t, "GET", "/big", NULL, 0, &b) == 0);
	wait_calls(&b, 1);
	CHECK_INT(b.error, -EMSGSIZE);
	CHECK_INT(b.status, 200);
	CHECK_INT(b.body_len, 0);
	CHECK(strstr(b.detail, "larger than") != NULL);
	/* and the client goes on working */
	REQUIRE(send_req(h, t, "GET", "/x", NULL, 0, &c) == 0);
	wait_calls(&c, 1);
	CHECK_INT(c.status, 200);
	close_http(h);
}

TEST(connection_close_is_honoured)
{
	struct scv_http *h = new_http();
	struct result a = {0}, b = {0}, c = {0};
	int t = add_target(h, "localhost", s_main->port, ca_path);
	int before = srv_accepted(s_main);

	REQUIRE(send_req(h, t, "POST", "/closeafter", "{}", 0, &a) == 0);
	wait_calls(&a, 1);
	REQUIRE(send_req(h, t, "POST", "/closeafter", "{}", 0, &b) == 0);
	wait_calls(&b, 1);
	CHECK_INT(a.status, 200);
	CHECK_INT(b.status, 200);
	CHECK_INT(srv_accepted(s_main) - before, 2);

	/* a kept connection the server closes while idle is dropped, not used */
	REQUIRE(send_req(h, t, "POST", "/closeidle", "{}", 0, &c) == 0);
	wait_calls(&c, 1);
	CHECK_INT(c.status, 200);
	loop_sleep(300);
	memset(&a, 0, sizeof a);
	REQUIRE(send_req(h, t, "POST", "/x", "{}", 0, &a) == 0);
	wait_calls(&a, 1);
	CHECK_INT(a.error, 0);
	CHECK_INT(a.status, 200);
	CHECK_INT(srv_accepted(s_main) - before, 4);
	close_http(h);
}

TEST(wrong_ca_refused)
{
	struct scv_http *h = new_http();
	struct result r = {0};
	int t = add_target(h, "localhost", s_main->port, ca2_path);

	REQUIRE(t >= 0);
	REQUIRE(send_req(h, t, "POST", "/voiceCalls", "{}", 0, &r) == 0);
	wait_calls(&r, 1);
	CHECK_INT(r.error, -EPROTO);
	CHECK_INT(r.status, 0);
	CHECK_INT(r.maybe_sent, 0);
	CHECK(strstr(r.detail, "certificate") != NULL);
	close_http(h);
}

TEST(host_name_checked)
{
	struct scv_http *h = new_http();
	struct result a = {0}, b = {0}, c = {0};
	int t1 = add_target(h, "localhost", s_other->port, ca_path);
	int t2 = add_target(h, "127.0.0.1", s_other->port, ca_path);
	int t3 = add_target(h, "127.0.0.1", s_main->port, ca_path);

	/* signed by the right CA, but for other.example */
	REQUIRE(send_req(h, t1, "POST", "/voiceCalls", "{}", 0, &a) == 0);
	REQUIRE(send_req(h, t2, "POST", "/voiceCalls", "{}", 0, &b) == 0);
	/* an address literal is checked against the certificate's IP entries */
	REQUIRE(send_req(h, t3, "POST", "/voiceCalls", "{}", 0, &c) == 0);
	wait_calls(&a, 1);
	wait_calls(&b, 1);
	wait_calls(&c, 1);
	CHECK_INT(a.error, -EPROTO);
	CHECK(strstr(a.detail, "hostname mismatch") != NULL);
	CHECK_INT(b.error, -EPROTO);
	CHECK(strstr(b.detail, "IP address mismatch") != NULL);
	CHECK_INT(c.error, 0);
	CHECK_INT(c.status, 200);
	close_http(h);
}

TEST(old_tls_refused)
{
	struct srv *s = srv_start(SRV_HTTP, main_cert, main_key, TLS1_1_VERSION);
	struct scv_http *h = new_http();
	struct result r = {0};
	int t = add_target(h, "localhost", s->port, ca_path);

	REQUIRE(send_req(h, t, "GET", "/x", NULL, 0, &r) == 0);
	wait_calls(&r, 1);
	CHECK_INT(r.error, -EPROTO);
	CHECK_INT(r.status, 0);
	close_http(h);
	srv_stop(s);
}

TEST(accept_then_close_is_reset)
{
	struct srv *s = srv_start(SRV_DROP, NULL, NULL, 0);
	struct scv_http *h = new_http();
	struct result r = {0};
	int t = add_target(h, "localhost", s->port, ca_path);

	REQUIRE(send_req(h, t, "POST", "/voiceCalls", "{}", 0, &r) == 0);
	wait_calls(&r, 1);
	CHECK_INT(r.error, -ECONNRESET);
	CHECK_INT(r.maybe_sent, 0);
	CHECK_INT(r.status, 0);
	close_http(h);
	srv_stop(s);
}

TEST(closed_after_request_is_reset_maybe_sent)
{
	struct scv_http *h = new_http();
	struct result r = {0}, after = {0};
	int t = add_target(h, "localhost", s_main->port, ca_path);

	REQUIRE(send_req(h, t, "POST", "/voiceCalls/close", "{}", 0, &r) == 0);
	wait_calls(&r, 1);
	CHECK_INT(r.error, -ECONNRESET);
	CHECK_INT(r.maybe_sent, 1);
	CHECK_INT(r.status, 0);
	REQUIRE(send_req(h, t, "POST", "/voiceCalls", "{}", 0, &after) == 0);
	wait_calls(&after, 1);
	CHECK_INT(after.status, 200);
	close_http(h);
}

TEST(unresponsive_server_times_out)
{
	struct srv *s = srv_start(SRV_SILENT, NULL, NULL, 0);
	struct scv_http *h = new_http();
	struct result a = {0}, b = {0};
	int t = add_target(h, "localhost", s->port, ca_path);
	int tm = add_target(h, "localhost", s_main->port, ca_path);
	uint64_t start;

	uv_update_time(&loop);
	start = uv_now(&loop);
	/* TCP accepted, TLS never answered */
	REQUIRE(send_req(h, t, "POST", "/voiceCalls", "{}", 300, &a) == 0);
	/* TLS and request fine, no answer */
	REQUIRE(send_req(h, tm, "POST", "/voiceCalls/hang", "{}", 300, &b) == 0);
	wait_calls(&a, 1);
	wait_calls(&b, 1);
	CHECK_INT(a.error, -ETIMEDOUT);
	CHECK_INT(a.maybe_sent, 0);
	CHECK_INT(b.error, -ETIMEDOUT);
	CHECK_INT(b.maybe_sent, 1);
	CHECK(a.at_ms - start >= 300 && a.at_ms - start < 3000);
	CHECK(b.at_ms - start >= 300 && b.at_ms - start < 3000);
	close_http(h);
	srv_stop(s);
}

TEST(nothing_listening_refused)
{
	struct scv_http *h = new_http();
	struct result r = {0};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), t;

	/* a port that was free a moment ago */
	REQUIRE(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
	REQUIRE(getsockname(fd, (struct sockaddr *)&a, &al) == 0);
	close(fd);
	t = add_target(h, "localhost", ntohs(a.sin_port), ca_path);
	REQUIRE(send_req(h, t, "POST", "/voiceCalls", "{}", 0, &r) == 0);
	wait_calls(&r, 1);
	CHECK_INT(r.error, -ECONNREFUSED);
	CHECK_INT(r.maybe_sent, 0);
	CHECK(strstr(r.detail, "refused") != NULL);
	close_http(h);
}

TEST(dual_stack_fallback)
{
	struct scv_http *h = new_http();
	struct result r = {0};
	int t = add_target(h, "localhost", s_main->port, ca_path);

	/* ::1 first (nothing listens there), then 127.0.0.1 */
	resolve_first = "::1";
	REQUIRE(send_req(h, t, "GET", "/x", NULL, 0, &r) == 0);
	wait_calls(&r, 1);
	resolve_first = NULL;
	CHECK_INT(dual_first_family, AF_INET6);
	CHECK_INT(r.error, 0);
	CHECK_INT(r.status, 200);
	close_http(h);
}

/* An address connect() refuses at once is skipped (lws never sees it) for the next one. */
TEST(unroutable_address_skipped)
{
	struct scv_http *h = new_http();
	struct result r = {0};
	int t = add_target(h, "localhost", s_main->port, ca_path);

	/* broadcast, without SO_BROADCAST: EACCES at once, nothing sent */
	resolve_first = "255.255.255.255";
	REQUIRE(send_req(h, t, "GET", "/x", NULL, 0, &r) == 0);
	wait_calls(&r, 1);
	resolve_first = NULL;
	CHECK_INT(dual_first_family, AF_INET);
	CHECK_INT(r.error, 0);
	CHECK_INT(r.status, 200);
	close_http(h); /* and lws left no handle behind for it */
}

/* Set-up that never completes (the SYN is dropped): the deadline, then a clean close. */
TEST(close_while_connecting)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	int lfd = socket(AF_INET, SOCK_STREAM, 0), cfd = socket(AF_INET, SOCK_STREAM, 0), t;
	struct scv_http *h;
	struct scv_hconn *c;
	struct result r = {0};

	/* a listener that never accepts, its queue (backlog 0) filled by one connection */
	REQUIRE(bind(lfd, (struct sockaddr *)&a, sizeof a) == 0);
	REQUIRE(listen(lfd, 0) == 0);
	REQUIRE(getsockname(lfd, (struct sockaddr *)&a, &al) == 0);
	REQUIRE(connect(cfd, (struct sockaddr *)&a, sizeof a) == 0);
	h = new_http();
	t = add_target(h, "127.0.0.1", ntohs(a.sin_port), ca_path);
	REQUIRE(send_req(h, t, "GET", "/x", NULL, 300, &r) == 0);
	wait_calls(&r, 1);
	CHECK_INT(r.error, -ETIMEDOUT);
	CHECK_INT(r.maybe_sent, 0);
	CHECK(strstr(r.detail, "connecting") != NULL);
	c = first_conn(h, t);
	REQUIRE(c);
	CHECK_INT(c->state, CONN_CONNECTING);
	CHECK(c->wsi != NULL);
	close_http(h);
	close(cfd);
	close(lfd);
}

/*
 * The sockets are libwebsockets raw connections on this loop, and closing the client with
 * one of them busy leaves a loop that closes: a fresh loop is used, and closed, here.
 */
TEST(sockets_are_lws_connections_on_the_loop)
{
	struct sockaddr_in peer;
	socklen_t pl = sizeof peer;
	struct result a = {0}, b = {0};
	struct scv_http *h;
	struct scv_hconn *c;
	int t, done = 0, fd;

	REQUIRE(uv_loop_close(&loop) == 0);
	REQUIRE(uv_loop_init(&loop) == 0);
	h = new_http();
	REQUIRE(h && h->lws);
	CHECK(lws_handles(h) > 0); /* lws's own handles are on our loop */
	t = add_target(h, "localhost", s_main->port, ca_path);
	REQUIRE(send_req(h, t, "PATCH", "/voiceCalls/0LQ1/echo", "{\"n\":1}", 0, &a) == 0);
	wait_calls(&a, 1);
	CHECK_INT(a.status, 200);
	CHECK_STR(a.body, "{\"n\":1}");
	c = first_conn(h, t);
	REQUIRE(c && c->wsi);
	CHECK_INT(c->state, CONN_IDLE);
	CHECK(lws_get_context(c->wsi) == scv_lws_context(h->lws));
	/* lws's socket is the one connected to the server */
	fd = lws_get_socket_fd(c->wsi);
	CHECK(fd >= 0 && getpeername(fd, (struct sockaddr *)&peer, &pl) == 0 &&
	      ntohs(peer.sin_port) == s_main->port);

	/* busy: the request reached the server, which never answers */
	srv_forget_last(s_main);
	REQUIRE(send_req(h, t, "POST", "/voiceCalls/hang", "{}", 0, &b) == 0);
	while (!strstr(srv_last(s_main).path, "hang"))
		loop_sleep(2);
	CHECK(first_conn(h, t) == c);
	CHECK_INT(c->state, CONN_BUSY);
	scv_http_close(h, on_closed, &done);
	CHECK_INT(b.calls, 1);
	CHECK_INT(b.error, -ECANCELED);
	CHECK_INT(b.maybe_sent, 1);
	while (!done)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK(!uv_loop_alive(&loop));
	CHECK_INT(uv_loop_close(&loop), 0);
	REQUIRE(uv_loop_init(&loop) == 0);
}

TEST(close_cancels_pending)
{
	struct scv_http *h = new_http();
	struct result r[5] = {{0}};
	int t = add_target(h, "localhost", s_main->port, ca_path);
	int done = 0;

	srv_forget_last(s_main);
	/* in flight on a connection, then four more bound to connections being set up */
	REQUIRE(send_req(h, t, "POST", "/voiceCalls/hang", "{}", 0, &r[0]) == 0);
	/* the server never answers: poll with the loop running, not blocked in it */
	while (!strstr(srv_last(s_main).path, "hang"))
		loop_sleep(2);
	for (int i = 1; i < 5; i++)
		REQUIRE(send_req(h, t, "POST", "/voiceCalls/hang", "{}", 0, &r[i]) == 0);
	CHECK_INT(scv_http_pending(h), 5);
	scv_http_close(h, on_closed, &done);
	for (int i = 0; i < 5; i++) {
		CHECK_INT(r[i].calls, 1);
		CHECK_INT(r[i].error, -ECANCELED);
	}
	CHECK_INT(r[0].maybe_sent, 1);
	CHECK_INT(scv_http_send(h,
	                        &(struct scv_http_req){.target = t, .method = "GET", .path = "/"},
	                        on_resp, &r[0]),
	          -ECANCELED);
	while (!done)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK_INT(done, 1);
	CHECK(!uv_loop_alive(&loop));
	for (int i = 0; i < 5; i++)
		CHECK_INT(r[i].calls, 1);
}

static void
on_resp_then_close(const struct scv_http_resp *resp, void *arg)
{
	struct result *r = arg;

	on_resp(resp, arg);
	scv_http_close(r->http, on_closed, &r->left);
}

TEST(close_from_inside_a_callback)
{
	struct scv_http *h = new_http();
	struct result a = {0}, b = {0};
	struct scv_http_req q = {.method = "GET", .path = "/x"};

	a.http = h;
	q.target = add_target(h, "localhost", s_main->port, ca_path);
	REQUIRE(scv_http_send(h, &q, on_resp_then_close, &a) == 0);
	q.path = "/voiceCalls/hang";
	REQUIRE(scv_http_send(h, &q, on_resp, &b) == 0);
	while (!a.left)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK_INT(a.calls, 1);
	CHECK_INT(a.status, 200);
	CHECK_INT(b.calls, 1);
	CHECK_INT(b.error, -ECANCELED);
	CHECK(!uv_loop_alive(&loop));
}

TEST(bad_input_refused)
{
	struct scv_http *h = new_http();
	struct result r = {0};
	char err[256], path[200];
	int t = -1, t2 = -1;
	FILE *f;

	static const char *const bad_urls[] = {
	        "http://localhost/telephony/v1",
	        "localhost/x",
	        "https://",
	        "https:///x",
	        "https://localhost:0/x",
	        "https://localhost:65536/x",
	        "https://localhost:/x",
	        "https://localhost:12a/x",
	        "https://user@localhost/x",
	        "https://localhost/x?q=1",
	        "https://localhost/x#f",
	        "https://loc al host/x",
	        "https://[::1/x",
	        "https://[nothex]/x",
	        "https://[::1]x/x",
	};
	for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
		err[0] = '\0';
		CHECK_INT(scv_http_target_add(h, bad_urls[i], NULL, &t, err, sizeof err), -EINVAL);
		CHECK(err[0] != '\0');
	}
	/* the same URL and CA give the same target; the parts are split right */
	REQUIRE(scv_http_target_add(h, "https://Example.COM/telephony/v1/", NULL, &t, err,
	                            sizeof err) == 0);
	REQUIRE(scv_http_target_add(h, "https://example.com:443/telephony/v1", NULL, &t2, err,
	                            sizeof err) == 0);
	CHECK_INT(t, t2);
	CHECK_STR(h->targets[t]->host, "example.com");
	CHECK_STR(h->targets[t]->authority, "example.com");
	CHECK_STR(h->targets[t]->base_path, "/telephony/v1");
	REQUIRE(scv_http_target_add(h, "https://[::1]:8443", ca_path, &t2, err, sizeof err) == 0);
	CHECK_STR(h->targets[t2]->host, "::1");
	CHECK_STR(h->targets[t2]->authority, "[::1]:8443");
	CHECK_STR(h->targets[t2]->base_path, "");
	CHECK(h->targets[t2]->ip_literal);
	CHECK(h->targets[t2]->ca != h->targets[t]->ca);

	/* CA files */
	snprintf(path, sizeof path, "%s/missing-ca.pem", dir);
	CHECK_INT(scv_http_target_add(h, "https://localhost/x", path, &t2, err, sizeof err),
	          -EINVAL);
	CHECK(strstr(err, "No such file") != NULL);
	snprintf(path, sizeof path, "%s/garbage-ca.pem", dir);
	f = fopen(path, "w");
	REQUIRE(f);
	fputs("not a certificate\n", f);
	fclose(f);
	CHECK_INT(scv_http_target_add(h, "https://localhost/x", path, &t2, err, sizeof err),
	          -EINVAL);
	CHECK(strstr(err, "cannot load CA") != NULL);

	/* requests */
	{
		struct scv_http_req q = {.target = t, .method = "GET", .path = "/x"};
		CHECK_INT(scv_http_send(h, &q, NULL, &r), -EINVAL);
		q.target = 99;
		CHECK_INT(scv_http_send(h, &q, on_resp, &r), -EINVAL);
		q.target = -1;
		CHECK_INT(scv_http_send(h, &q, on_resp, &r), -EINVAL);
		q.target = t;
		q.path = "x";
		CHECK_INT(scv_http_send(h, &q, on_resp, &r), -EINVAL);
		q.path = "/a b";
		CHECK_INT(scv_http_send(h, &q, on_resp, &r), -EINVAL);
		q.path = "/a\r\nX-Injected: 1";
		CHECK_INT(scv_http_send(h, &q, on_resp, &r), -EINVAL);
		q.path = "/x";
		q.method = "get";
		CHECK_INT(scv_http_send(h, &q, on_resp, &r), -EINVAL);
		q.method = "GET";
		q.authorization = "Bearer x\r\nX-Injected: 1";
		CHECK_INT(scv_http_send(h, &q, on_resp, &r), -EINVAL);
		q.authorization = NULL;
		q.provider_name = "a\nb";
		CHECK_INT(scv_http_send(h, &q, on_resp, &r), -EINVAL);
		q.provider_name = NULL;
		q.body_len = 3;
		CHECK_INT(scv_http_send(h, &q, on_resp, &r), -EINVAL);
	}
	CHECK_INT(scv_http_pending(h), 0);
	close_http(h);
	CHECK_INT(r.calls, 0);
}

/* ---- main ---- */

int
main(void)
{
	EVP_PKEY *ca_key, *ca2_key, *other_key;
	X509 *ca, *ca2, *other_cert;

	signal(SIGPIPE, SIG_IGN);
	alarm(120); /* a hung test fails rather than blocks */
	if (pki_tmpdir(dir, sizeof dir) < 0 || uv_loop_init(&loop) < 0)
		return 1;
	ca_key = pki_rsa(2048);
	ca2_key = pki_rsa(2048);
	main_key = pki_rsa(2048);
	other_key = pki_rsa(2048);
	ca = pki_cert(ca_key, "scvbridge test CA", NULL, NULL, NULL, 1);
	ca2 = pki_cert(ca2_key, "another CA", NULL, NULL, NULL, 1);
	main_cert = pki_cert(main_key, "localhost", ca_key, ca, "DNS:localhost,IP:127.0.0.1", 0);
	other_cert = pki_cert(other_key, "other.example", ca_key, ca, "DNS:other.example", 0);
	snprintf(ca_path, sizeof ca_path, "%s/ca.pem", dir);
	snprintf(ca2_path, sizeof ca2_path, "%s/ca2.pem", dir);
	if (!main_cert || !other_cert || !ca || !ca2 || pki_write_cert(ca_path, ca) < 0 ||
	    pki_write_cert(ca2_path, ca2) < 0) {
		fprintf(stderr, "cannot make the test certificates\n");
		return 1;
	}
	s_main = srv_start(SRV_HTTP, main_cert, main_key, 0);
	s_other = srv_start(SRV_HTTP, other_cert, other_key, 0);

	RUN(get_200_with_body);
	RUN(retry_after_parsed);
	RUN(post_body_and_headers_on_the_wire);
	RUN(sequential_requests_share_one_connection);
	RUN(patches_share_one_connection);
	RUN(large_body_sent_whole);
	RUN(chained_from_callbacks_reuse_the_connection);
	RUN(parallel_requests_bounded_pool);
	RUN(chunked_and_oversized_answers);
	RUN(connection_close_is_honoured);
	RUN(wrong_ca_refused);
	RUN(host_name_checked);
	RUN(old_tls_refused);
	RUN(accept_then_close_is_reset);
	RUN(closed_after_request_is_reset_maybe_sent);
	RUN(unresponsive_server_times_out);
	RUN(nothing_listening_refused);
	RUN(dual_stack_fallback);
	RUN(unroutable_address_skipped);
	RUN(close_while_connecting);
	RUN(sockets_are_lws_connections_on_the_loop);
	RUN(close_cancels_pending);
	RUN(close_from_inside_a_callback);
	RUN(bad_input_refused);

	srv_stop(s_main);
	srv_stop(s_other);
	CHECK_INT(uv_loop_close(&loop), 0);
	X509_free(ca);
	X509_free(ca2);
	X509_free(main_cert);
	X509_free(other_cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(ca2_key);
	EVP_PKEY_free(main_key);
	EVP_PKEY_free(other_key);
	pki_rmdir(dir);
	return test_summary();
}
