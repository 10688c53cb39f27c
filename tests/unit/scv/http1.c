/*
 * scv/http1.c: response framing (length, chunked, until close), keep-alive decisions,
 * interim responses, limits, malformed input, Retry-After. Every response is also fed one
 * byte at a time, which must give the same result.
 */
#include "scv/http1.c"

#include "tests/unit/test.h"

struct result {
	ssize_t consumed; /* or the error */
	int done;
	int status;
	int keep_alive;
	char retry_after[64];
	char body[4096];
	size_t body_len;
};

/* Parses text in one go (step 0) or in pieces of `step` bytes. */
static void
run(const char *text, size_t len, size_t step, int head_request, size_t max_body, struct result *r)
{
	struct scv_http1 *p = calloc(1, sizeof *p);
	size_t off = 0;
	char *body;

	memset(r, 0, sizeof *r);
	scv_http1_init(p, max_body, head_request);
	while (off < len && p->state != SCV_HTTP1_DONE) {
		size_t n = step && len - off > step ? step : len - off;
		ssize_t c = scv_http1_feed(p, text + off, n);
		if (c < 0) {
			r->consumed = c;
			r->status = p->status;
			scv_http1_free(p);
			free(p);
			return;
		}
		off += (size_t)c;
		if ((size_t)c < n)
			break;
	}
	r->consumed = (ssize_t)off;
	r->done = p->state == SCV_HTTP1_DONE;
	r->status = p->status;
	r->keep_alive = p->keep_alive;
	snprintf(r->retry_after, sizeof r->retry_after, "%s", p->retry_after);
	body = scv_http1_take_body(p, &r->body_len);
	if (body && r->body_len < sizeof r->body)
		memcpy(r->body, body, r->body_len + 1);
	free(body);
	scv_http1_free(p);
	free(p);
}

#define S(lit) lit, sizeof lit - 1

/* Both ways of feeding agree; returns the one-shot result. */
static void
parse2(const char *text, struct result *r)
{
	struct result b;

	run(text, strlen(text), 0, 0, 65536, r);
	run(text, strlen(text), 1, 0, 65536, &b);
	CHECK_INT(b.consumed, r->consumed);
	CHECK_INT(b.done, r->done);
	CHECK_INT(b.status, r->status);
	CHECK_INT(b.keep_alive, r->keep_alive);
	CHECK_INT(b.body_len, r->body_len);
	CHECK(memcmp(b.body, r->body, r->body_len) == 0);
}

TEST(content_length)
{
	static const char t[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	                        "Content-Length: 30\r\n\r\n{\"voiceCallId\":\"0LQ1\",\"x\":[]}\n";
	struct result r;

	parse2(t, &r);
	CHECK(r.done);
	CHECK_INT(r.status, 200);
	CHECK(r.keep_alive);
	CHECK_INT(r.body_len, 30);
	CHECK_STR(r.body, "{\"voiceCallId\":\"0LQ1\",\"x\":[]}\n");
	CHECK_INT(r.consumed, (ssize_t)strlen(t));
}

TEST(next_response_not_consumed)
{
	static const char t[] = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200";
	struct result r;

	parse2(t, &r);
	CHECK(r.done);
	CHECK_INT(r.status, 201);
	CHECK_STR(r.body, "ok");
	CHECK_INT(r.consumed, (ssize_t)strlen(t) - 12);
}

TEST(chunked)
{
	static const char t[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	                        "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n";
	struct result r;

	parse2(t, &r);
	CHECK(r.done);
	CHECK_STR(r.body, "hello, world");
	CHECK(r.keep_alive);
	CHECK_INT(r.consumed, (ssize_t)strlen(t));
}

TEST(chunked_upper_hex_and_lf_only)
{
	static const char t[] = "HTTP/1.1 200 OK\nTransfer-Encoding: gzip, Chunked\n\n"
	                        "A\n0123456789\n0\n\n";
	struct result r;

	parse2(t, &r);
	CHECK(r.done);
	CHECK_STR(r.body, "0123456789");
}

TEST(until_close)
{
	static const char t[] = "HTTP/1.1 200 OK\r\n\r\nall of it";
	struct scv_http1 *p = calloc(1, sizeof *p);

	scv_http1_init(p, 100, 0);
	CHECK_INT(scv_http1_feed(p, t, strlen(t)), (ssize_t)strlen(t));
	CHECK(p->state == SCV_HTTP1_BODY_EOF);
	CHECK(!p->keep_alive);
	CHECK_INT(scv_http1_eof(p), 0);
	CHECK(p->state == SCV_HTTP1_DONE);
	CHECK_STR(p->body, "all of it");
	scv_http1_free(p);

	/* a length-framed body cut short is a reset */
	scv_http1_init(p, 100, 0);
	CHECK_INT(scv_http1_feed(p, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", 41), 41);
	CHECK_INT(scv_http1_eof(p), -ECONNRESET);
	scv_http1_free(p);

	/* and so is a head cut short */
	scv_http1_init(p, 100, 0);
	CHECK_INT(scv_http1_feed(p, "HTTP/1.1 200 OK\r\n", 17), 17);
	CHECK_INT(scv_http1_eof(p), -ECONNRESET);
	scv_http1_free(p);
	free(p);
}

TEST(no_body_statuses)
{
	struct result r;

	parse2("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", &r);
	CHECK(r.done);
	CHECK_INT(r.status, 204);
	CHECK_INT(r.body_len, 0);
	CHECK(r.keep_alive);
	parse2("HTTP/1.1 304 Not Modified\r\n\r\n", &r);
	CHECK(r.done);
	run(S("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"), 0, 1, 100, &r);
	CHECK(r.done);
	CHECK_INT(r.body_len, 0);
	parse2("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", &r);
	CHECK(r.done);
	CHECK(r.keep_alive);
}

TEST(keep_alive_rules)
{
	struct result r;

	parse2("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", &r);
	CHECK(r.done);
	CHECK(!r.keep_alive);
	parse2("HTTP/1.1 200 OK\r\nconnection: Keep-Alive, CLOSE\r\nContent-Length: 0\r\n\r\n", &r);
	CHECK(!r.keep_alive);
	parse2("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", &r);
	CHECK(r.done);
	CHECK(!r.keep_alive);
	parse2("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", &r);
	CHECK(r.keep_alive);
	/* TE and CL together: TE wins, the connection is not reused */
	parse2("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "2\r\nok\r\n0\r\n\r\n",
	       &r);
	CHECK(r.done);
	CHECK_STR(r.body, "ok");
	CHECK(!r.keep_alive);
}

TEST(interim_responses_skipped)
{
	struct result r;

	parse2("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: y\r\n\r\n"
	       "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 2\r\n\r\n{}",
	       &r);
	CHECK(r.done);
	CHECK_INT(r.status, 429);
	CHECK_STR(r.retry_after, "7");
	CHECK_STR(r.body, "{}");
	parse2("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", &r);
	CHECK_INT(r.consumed, -EPROTO);
}

TEST(headers_case_and_spaces)
{
	struct result r;

	parse2("HTTP/1.1 503 Service Unavailable\r\nretry-after:   120  \r\n"
	       "CONTENT-LENGTH:3\r\ncontent-length: 3\r\n\r\nabc",
	       &r);
	CHECK(r.done);
	CHECK_INT(r.status, 503);
	CHECK_STR(r.retry_after, "120");
	CHECK_STR(r.body, "abc");
	/* no reason phrase */
	parse2("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", &r);
	CHECK(r.done);
	CHECK_INT(r.status, 200);
}

TEST(malformed)
{
	static const char *const bad[] = {
	        "HTTP/2 200 OK\r\n\r\n",
	        "HTTP/1.1 20 OK\r\n\r\n",
	        "HTTP/1.1 2000 OK\r\n\r\n",
	        "HTTP/1.1 099 OK\r\n\r\n",
	        "ICY 200 OK\r\n\r\n",
	        "\r\n\r\n",
	        "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
	        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
	        "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
	        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	        "HTTP/1.1 200 OK\r\nContent-Length: 9999999999999999\r\n\r\n",
	        "HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n",
	        "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
	        "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
	        "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
	        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
	        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
	        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n",
	};
	struct result r;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		parse2(bad[i], &r);
		if (r.consumed != -EPROTO && r.consumed != -EMSGSIZE) {
			char m[160];
			snprintf(m, sizeof m, "case %zu not refused: %zd", i, r.consumed);
			test_fail(__FILE__, __LINE__, m);
		}
	}
}

TEST(limits)
{
	struct result r;
	char *big;
	size_t n;

	/* body of max_body accepted, max_body + 1 refused (known length: before reading it) */
	run(S("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"), 0, 0, 10, &r);
	CHECK(r.done);
	CHECK_INT(r.body_len, 10);
	run(S("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n"), 0, 0, 10, &r);
	CHECK_INT(r.consumed, -EMSGSIZE);
	CHECK_INT(r.status, 200);
	/* chunked and until-close bodies are counted as they come */
	run(S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	      "6\r\n012345\r\n6\r\n012345\r\n"),
	    0, 0, 10, &r);
	CHECK_INT(r.consumed, -EMSGSIZE);
	run(S("HTTP/1.1 500 x\r\n\r\n0123456789A"), 3, 0, 10, &r);
	CHECK_INT(r.consumed, -EMSGSIZE);
	CHECK_INT(r.status, 500);

	/* a head over 16 KiB */
	n = SCV_HTTP1_MAX_HEAD + 100;
	big = malloc(n + 1);
	REQUIRE(big);
	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	memset(big + 20, 'a', n - 20);
	big[n] = '\0';
	parse2(big, &r);
	CHECK_INT(r.consumed, -EPROTO);
	free(big);
}

TEST(retry_after_values)
{
	time_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */

	CHECK_INT(scv_http1_retry_after("120", now), 120);
	CHECK_INT(scv_http1_retry_after(" 0 ", now), 0);
	CHECK_INT(scv_http1_retry_after("99999999999999999999", now), SCV_HTTP1_MAX_RETRY_AFTER);
	CHECK_INT(scv_http1_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now), 60);
	CHECK_INT(scv_http1_retry_after("Sunday, 06-Nov-94 08:51:37 GMT", now), 120);
	CHECK_INT(scv_http1_retry_after("Sun Nov  6 08:49:47 1994", now), 10);
	/* a date in the past: retry now */
	CHECK_INT(scv_http1_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now), 0);
	CHECK_INT(scv_http1_retry_after("Mon, 06 Nov 1995 08:49:37 GMT", now),
	          SCV_HTTP1_MAX_RETRY_AFTER);
	CHECK_INT(scv_http1_retry_after(NULL, now), -1);
	CHECK_INT(scv_http1_retry_after("", now), -1);
	CHECK_INT(scv_http1_retry_after("soon", now), -1);
	CHECK_INT(scv_http1_retry_after("12s", now), -1);
	CHECK_INT(scv_http1_retry_after("-5", now), -1);
	CHECK_INT(scv_http1_retry_after("Sun, 06 Foo 1994 08:50:37 GMT", now), -1);
	CHECK_INT(scv_http1_retry_after("Sun, 06 Nov 1994 25:50:37 GMT", now), -1);
	CHECK_INT(scv_http1_retry_after("Sun, 06 Nov 1994 08:50:37 CET", now), -1);
}

int
main(void)
{
	RUN(content_length);
	RUN(next_response_not_consumed);
	RUN(chunked);
	RUN(chunked_upper_hex_and_lf_only);
	RUN(until_close);
	RUN(no_body_statuses);
	RUN(keep_alive_rules);
	RUN(interim_responses_skipped);
	RUN(headers_case_and_spaces);
	RUN(malformed);
	RUN(limits);
	RUN(retry_after_values);
	return test_summary();
}
