/*
 * scv/ws.c: the accept key (RFC 6455's sample), the upgrade decision, the Origin allow-list,
 * UTF-8 (checked exhaustively against a plain decoder for every sequence of up to three
 * bytes), and the connection: echo, fragments, pings both ways, close codes, limits, timers
 * and the send-queue bound. Client frames are built here; server frames are parsed here.
 */
#include "scv/ws.c"

#include "tests/unit/test.h"

/* ---- helpers -------------------------------------------------------------------------- */

/* Appends one client frame (masked unless unmasked) to buf; returns the new length. */
static size_t
frame(uint8_t *buf, size_t off, int fin, int opcode, const void *payload, size_t len, int masked)
{
	static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
	const uint8_t *p = payload;

	buf[off++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
	if (len < 126)
		buf[off++] = (uint8_t)((masked ? 0x80 : 0) | len);
	else if (len < 65536) {
		buf[off++] = (uint8_t)((masked ? 0x80 : 0) | 126);
		buf[off++] = (uint8_t)(len >> 8);
		buf[off++] = (uint8_t)len;
	} else {
		buf[off++] = (uint8_t)((masked ? 0x80 : 0) | 127);
		for (int i = 7; i >= 0; i--)
			buf[off++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	if (masked) {
		memcpy(buf + off, key, 4);
		off += 4;
	}
	for (size_t i = 0; i < len; i++)
		buf[off++] = p[i] ^ (masked ? key[i % 4] : 0);
	return off;
}

struct srv_frame {
	int opcode;
	int fin;
	uint8_t payload[128];
	size_t len; /* full length, payload[] holds at most 128 bytes */
};

/* Splits server output into frames; returns how many (at most max). */
static int
parse_frames(const uint8_t *b, size_t n, struct srv_frame *f, int max)
{
	size_t off = 0;
	int k = 0;

	while (off + 2 <= n && k < max) {
		size_t len = b[off + 1] & 0x7f, h = 2;

		if (b[off + 1] & 0x80)
			return -1; /* a server never masks */
		if (len == 126) {
			len = (size_t)b[off + 2] << 8 | b[off + 3];
			h = 4;
		} else if (len == 127) {
			len = 0;
			for (int i = 0; i < 8; i++)
				len = len << 8 | b[off + 2 + i];
			h = 10;
		}
		if (off + h + len > n)
			return -1;
		f[k].opcode = b[off] & 0x0f;
		f[k].fin = b[off] >> 7;
		f[k].len = len;
		memcpy(f[k].payload, b + off + h, len < 128 ? len : 128);
		off += h + len;
		k++;
	}
	return off == n ? k : -1;
}

static int
close_code(const struct srv_frame *f)
{
	if (f->opcode != 8 || f->len < 2)
		return f->opcode == 8 ? 0 : -1;
	return f->payload[0] << 8 | f->payload[1];
}

struct got {
	int n;
	char last[200000];
	size_t last_len;
	int echo;  /* send each message back */
	int close; /* close 4001 on the first message */
};

static void
on_text(struct scv_ws_conn *c, const char *msg, size_t len, void *user)
{
	struct got *g = user;

	g->n++;
	g->last_len = len < sizeof g->last ? len : sizeof g->last;
	memcpy(g->last, msg, g->last_len);
	if (g->echo)
		CHECK_INT(scv_ws_conn_send_text(c, msg, len), 0);
	if (g->close)
		CHECK_INT(scv_ws_conn_close(c, 4001, "bye", 0), 0);
}

/* Takes all output and reports it written; returns its length, frames in f. */
static int
drain(struct scv_ws_conn *c, struct srv_frame *f, int max)
{
	uint8_t *buf;
	size_t len;
	int k;

	if (scv_ws_conn_take_output(c, &buf, &len) < 0)
		return 0;
	k = parse_frames(buf, len, f, max);
	scv_ws_conn_written(c, len);
	free(buf);
	return k;
}

static struct scv_ws_conn *
conn(struct got *g, const struct scv_ws_config *cfg)
{
	struct scv_ws_conn *c = NULL;

	memset(g, 0, sizeof *g);
	if (scv_ws_conn_new(cfg, "test", 0, on_text, g, &c) < 0)
		return NULL;
	return c;
}

/* ---- accept key, UTF-8 ---------------------------------------------------------------- */

TEST(accept_key_rfc_sample)
{
	char a[SCV_WS_ACCEPT_LEN + 1];

	CHECK_INT(scv_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", a), 0);
	CHECK_STR(a, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(accept_key_refuses)
{
	char a[SCV_WS_ACCEPT_LEN + 1];

	CHECK_INT(scv_ws_accept_key("dGhlIHNhbXBsZSBub25jZR==", a), -EINVAL); /* not canonical */
	CHECK_INT(scv_ws_accept_key("dGhlIHNhbXBsZSBub25j", a), -EINVAL);     /* 15 bytes */
	CHECK_INT(scv_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=", a), -EINVAL);
	CHECK_INT(scv_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ", a), -EINVAL);
	CHECK_INT(scv_ws_accept_key("dGhlIHNhbXBsZSBub25j*Q==", a), -EINVAL);
	CHECK_INT(scv_ws_accept_key("dGhlIHNhbXBsZSBub25jZXk=", a), -EINVAL); /* 17 bytes */
	CHECK_INT(scv_ws_accept_key("", a), -EINVAL);
	CHECK_INT(scv_ws_accept_key(NULL, a), -EINVAL);
}

#define U(lit) (const uint8_t *)lit, sizeof lit - 1

TEST(utf8_edge_cases)
{
	CHECK(scv_ws_utf8_valid(U("")));
	CHECK(scv_ws_utf8_valid(U("plain ascii {\"v\":1}")));
	CHECK(scv_ws_utf8_valid(U("\xc2\x80")));                  /* U+0080 */
	CHECK(scv_ws_utf8_valid(U("\xe2\x82\xac")));              /* euro */
	CHECK(scv_ws_utf8_valid(U("\xed\x9f\xbf")));              /* U+D7FF, before surrogates */
	CHECK(scv_ws_utf8_valid(U("\xee\x80\x80")));              /* U+E000, after them */
	CHECK(scv_ws_utf8_valid(U("\xf0\x90\x80\x80")));          /* U+10000 */
	CHECK(scv_ws_utf8_valid(U("\xf4\x8f\xbf\xbf")));          /* U+10FFFF */
	CHECK(scv_ws_utf8_valid(U("\xef\xbb\xbf")));              /* BOM is a character */
	CHECK(!scv_ws_utf8_valid(U("\xc0\xaf")));                 /* overlong '/' */
	CHECK(!scv_ws_utf8_valid(U("\xc1\xbf")));                 /* overlong */
	CHECK(!scv_ws_utf8_valid(U("\xe0\x80\xaf")));             /* overlong, 3 bytes */
	CHECK(!scv_ws_utf8_valid(U("\xe0\x9f\xbf")));             /* overlong U+07FF */
	CHECK(!scv_ws_utf8_valid(U("\xf0\x80\x80\xaf")));         /* overlong, 4 bytes */
	CHECK(!scv_ws_utf8_valid(U("\xf0\x8f\xbf\xbf")));         /* overlong U+FFFF */
	CHECK(!scv_ws_utf8_valid(U("\xed\xa0\x80")));             /* U+D800 */
	CHECK(!scv_ws_utf8_valid(U("\xed\xbf\xbf")));             /* U+DFFF */
	CHECK(!scv_ws_utf8_valid(U("\xed\xa0\x80\xed\xb0\x80"))); /* a surrogate pair (CESU) */
	CHECK(!scv_ws_utf8_valid(U("\xf4\x90\x80\x80")));         /* U+110000 */
	CHECK(!scv_ws_utf8_valid(U("\xf5\x80\x80\x80")));
	CHECK(!scv_ws_utf8_valid(U("\xf8\x88\x80\x80\x80"))); /* old 5-byte form */
	CHECK(!scv_ws_utf8_valid(U("\xff")));
	CHECK(!scv_ws_utf8_valid(U("\x80")));          /* lone continuation */
	CHECK(!scv_ws_utf8_valid(U("\xe2\x82")));      /* truncated */
	CHECK(!scv_ws_utf8_valid(U("a\xf0\x9f\x98"))); /* truncated at the end */
	CHECK(!scv_ws_utf8_valid(U("\xe2\x82"
	                           "a"))); /* interrupted */
	CHECK(!scv_ws_utf8_valid(U("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
	                           "edited")));
}

/* A plain decoder, the definition itself: decode by the lead byte's length, then demand the
 * shortest form, no surrogate, at most U+10FFFF. */
static int
ref_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t b = s[i];
		size_t n;
		uint32_t cp;

		if (b < 0x80) {
			i++;
			continue;
		} else if ((b & 0xe0) == 0xc0) {
			n = 2;
			cp = b & 0x1f;
		} else if ((b & 0xf0) == 0xe0) {
			n = 3;
			cp = b & 0x0f;
		} else if ((b & 0xf8) == 0xf0) {
			n = 4;
			cp = b & 0x07;
		} else
			return 0;
		if (i + n > len)
			return 0;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000))
			return 0;
		if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		i += n;
	}
	return 1;
}

TEST(utf8_agrees_with_definition)
{
	uint8_t s[4];
	long mismatches = 0;

	for (uint32_t v = 0; v < 256; v++) {
		s[0] = (uint8_t)v;
		mismatches += scv_ws_utf8_valid(s, 1) != ref_valid(s, 1);
	}
	for (uint32_t v = 0; v < 1u << 16; v++) {
		s[0] = (uint8_t)(v >> 8), s[1] = (uint8_t)v;
		mismatches += scv_ws_utf8_valid(s, 2) != ref_valid(s, 2);
	}
	for (uint32_t v = 0; v < 1u << 24; v++) {
		s[0] = (uint8_t)(v >> 16), s[1] = (uint8_t)(v >> 8), s[2] = (uint8_t)v;
		mismatches += scv_ws_utf8_valid(s, 3) != ref_valid(s, 3);
	}
	/* four bytes: every lead from F0 up, every second byte, the third and fourth bytes at
	 * the edges of the continuation range and around it */
	static const uint8_t edge[] = {0x00, 0x41, 0x7f, 0x80, 0x81, 0x8f, 0x90, 0x9f,
	                               0xa0, 0xbf, 0xc0, 0xc2, 0xed, 0xf4, 0xff};
	for (uint32_t a = 0xf0; a < 256; a++)
		for (uint32_t b = 0; b < 256; b++)
			for (size_t c = 0; c < sizeof edge; c++)
				for (size_t d = 0; d < sizeof edge; d++) {
					s[0] = (uint8_t)a, s[1] = (uint8_t)b;
					s[2] = edge[c], s[3] = edge[d];
					mismatches += scv_ws_utf8_valid(s, 4) != ref_valid(s, 4);
				}
	CHECK_INT(mismatches, 0);
}

/* ---- handshake ------------------------------------------------------------------------ */

static const char *const origins[] = {"https://bridge.example.com", "http://127.0.0.1:8080",
                                      "https://acme.vf.force.com:8443"};

static int
shake(const char *method, const char *version, const char *const *hv, struct scv_ws_answer *a)
{
	struct scv_ws_header h[16];
	struct scv_ws_request req = {method, version, h, 0};

	for (; hv[2 * req.n_headers]; req.n_headers++) {
		h[req.n_headers].name = hv[2 * req.n_headers];
		h[req.n_headers].value = hv[2 * req.n_headers + 1];
	}
	memset(a, 0, sizeof *a);
	if (scv_ws_handshake(&req, origins, 3, a) < 0)
		return -1;
	return a->status;
}

#define GOOD_HEADERS(origin)                                                                       \
	"Host", "bridge.example.com", "Upgrade", "websocket", "Connection", "keep-alive, Upgrade", \
	        "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version", "13",    \
	        "Origin", origin

TEST(handshake_accepts)
{
	struct scv_ws_answer a;
	const char *hv[] = {GOOD_HEADERS("https://bridge.example.com"), NULL};

	REQUIRE(shake("GET", "HTTP/1.1", hv, &a) == 101);
	CHECK_STR(a.head, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	                  "Connection: Upgrade\r\nSec-WebSocket-Accept: "
	                  "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
	CHECK_INT(a.head_len, strlen(a.head));
	CHECK_STR(a.reason, "");
}

TEST(handshake_refusals)
{
	struct scv_ws_answer a;
	const char *ok = "https://bridge.example.com";
	const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
	const char *no_upgrade[] = {"Host",
	                            "h",
	                            "Connection",
	                            "Upgrade",
	                            "Sec-WebSocket-Key",
	                            key,
	                            "Sec-WebSocket-Version",
	                            "13",
	                            "Origin",
	                            ok,
	                            NULL};
	const char *h2c[] = {"Host",
	                     "h",
	                     "Upgrade",
	                     "h2c",
	                     "Connection",
	                     "Upgrade",
	                     "Sec-WebSocket-Key",
	                     key,
	                     "Sec-WebSocket-Version",
	                     "13",
	                     "Origin",
	                     ok,
	                     NULL};
	const char *two[] = {"Host",
	                     "h",
	                     "Upgrade",
	                     "websocket, h2c",
	                     "Connection",
	                     "Upgrade",
	                     "Sec-WebSocket-Key",
	                     key,
	                     "Sec-WebSocket-Version",
	                     "13",
	                     "Origin",
	                     ok,
	                     NULL};
	const char *no_conn[] = {"Host",
	                         "h",
	                         "Upgrade",
	                         "websocket",
	                         "Connection",
	                         "keep-alive",
	                         "Sec-WebSocket-Key",
	                         key,
	                         "Sec-WebSocket-Version",
	                         "13",
	                         "Origin",
	                         ok,
	                         NULL};
	const char *v8[] = {"Host",
	                    "h",
	                    "Upgrade",
	                    "websocket",
	                    "Connection",
	                    "Upgrade",
	                    "Sec-WebSocket-Key",
	                    key,
	                    "Sec-WebSocket-Version",
	                    "8",
	                    "Origin",
	                    ok,
	                    NULL};
	const char *bad_key[] = {"Host",
	                         "h",
	                         "Upgrade",
	                         "websocket",
	                         "Connection",
	                         "Upgrade",
	                         "Sec-WebSocket-Key",
	                         "c2hvcnQ=",
	                         "Sec-WebSocket-Version",
	                         "13",
	                         "Origin",
	                         ok,
	                         NULL};
	const char *two_keys[] = {"Host",
	                          "h",
	                          "Upgrade",
	                          "websocket",
	                          "Connection",
	                          "Upgrade",
	                          "Sec-WebSocket-Key",
	                          key,
	                          "Sec-WebSocket-Key",
	                          key,
	                          "Sec-WebSocket-Version",
	                          "13",
	                          "Origin",
	                          ok,
	                          NULL};
	const char *no_host[] = {"Upgrade",
	                         "websocket",
	                         "Connection",
	                         "Upgrade",
	                         "Sec-WebSocket-Key",
	                         key,
	                         "Sec-WebSocket-Version",
	                         "13",
	                         "Origin",
	                         ok,
	                         NULL};
	const char *no_origin[] = {"Host",
	                           "h",
	                           "Upgrade",
	                           "websocket",
	                           "Connection",
	                           "Upgrade",
	                           "Sec-WebSocket-Key",
	                           key,
	                           "Sec-WebSocket-Version",
	                           "13",
	                           NULL};
	const char *good[] = {GOOD_HEADERS(ok), NULL};

	CHECK_INT(shake("POST", "HTTP/1.1", good, &a), 405);
	CHECK(strstr(a.head, "Allow: GET\r\n") != NULL);
	CHECK_INT(shake("GET", "HTTP/1.0", good, &a), 400);
	CHECK_INT(shake("GET", "HTTP/1.1", no_upgrade, &a), 426);
	CHECK(strstr(a.head, "Upgrade: websocket\r\n") != NULL);
	CHECK_INT(shake("GET", "HTTP/1.1", h2c, &a), 400);
	CHECK_STR(a.reason, "Upgrade must be websocket");
	CHECK_INT(shake("GET", "HTTP/1.1", two, &a), 400);
	CHECK_INT(shake("GET", "HTTP/1.1", no_conn, &a), 400);
	CHECK_INT(shake("GET", "HTTP/1.1", v8, &a), 426);
	CHECK(strstr(a.head, "Sec-WebSocket-Version: 13\r\n") != NULL);
	CHECK_INT(shake("GET", "HTTP/1.1", bad_key, &a), 400);
	CHECK(strstr(a.head, "Sec-WebSocket-Key") != NULL);
	CHECK_INT(shake("GET", "HTTP/1.1", two_keys, &a), 400);
	CHECK_INT(shake("GET", "HTTP/1.1", no_host, &a), 400);
	CHECK_INT(shake("GET", "HTTP/1.1", no_origin, &a), 403);
	/* the answer is whole: head, then a body of the stated length */
	{
		const char *body = strstr(a.head, "\r\n\r\n");
		size_t cl = 0;

		REQUIRE(body != NULL);
		REQUIRE(sscanf(strstr(a.head, "Content-Length: "), "Content-Length: %zu", &cl) ==
		        1);
		CHECK_INT(strlen(body + 4), cl);
		CHECK_INT(a.head_len, strlen(a.head));
		CHECK(strncmp(a.head, "HTTP/1.1 403 Forbidden\r\n", 24) == 0);
	}
}

TEST(handshake_origins)
{
	struct scv_ws_answer a;
	static const struct {
		const char *origin;
		int status;
	} cases[] = {
	        {"https://bridge.example.com", 101},
	        {"https://BRIDGE.Example.COM", 101},     /* host is case-insensitive */
	        {"HTTPS://bridge.example.com", 101},     /* so is the scheme */
	        {"https://bridge.example.com:443", 101}, /* the default port spelled out */
	        {"http://127.0.0.1:8080", 101},
	        {"https://acme.vf.force.com:8443", 101},
	        {"https://acme.vf.force.com", 403}, /* the default port is not 8443 */
	        {"http://bridge.example.com", 403}, /* wrong scheme */
	        {"https://bridge.example.com:8443", 403},
	        {"https://bridge.example.com.evil.net", 403},
	        {"https://evil.net/bridge.example.com", 403},
	        {"https://bridge.example.com/", 403},
	        {"https://user@bridge.example.com", 403},
	        {"null", 403},
	        {"", 403},
	        {"http://127.0.0.1:80800", 403},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *hv[] = {GOOD_HEADERS(cases[i].origin), NULL};
		int want = cases[i].status;
		int got = shake("GET", "HTTP/1.1", hv, &a);

		if (got != want) {
			char m[200];

			snprintf(m, sizeof m, "origin %s: got %d, want %d", cases[i].origin, got,
			         want);
			test_fail(__FILE__, __LINE__, m);
		}
	}
}

TEST(origin_syntax)
{
	CHECK_INT(scv_ws_origin_valid("https://bridge.example.com"), 0);
	CHECK_INT(scv_ws_origin_valid("http://[::1]:8080"), 0);
	CHECK_INT(scv_ws_origin_valid("https://acme.vf.force.com:65535"), 0);
	CHECK_INT(scv_ws_origin_valid("https://acme.vf.force.com:65536"), -EINVAL);
	CHECK_INT(scv_ws_origin_valid("https://acme.vf.force.com:0"), -EINVAL);
	CHECK_INT(scv_ws_origin_valid("wss://bridge.example.com"), -EINVAL);
	CHECK_INT(scv_ws_origin_valid("https://bridge.example.com/path"), -EINVAL);
	CHECK_INT(scv_ws_origin_valid("bridge.example.com"), -EINVAL);
	CHECK_INT(scv_ws_origin_valid("https://"), -EINVAL);
	CHECK_INT(scv_ws_origin_valid(NULL), -EINVAL);
}

/* ---- connection ----------------------------------------------------------------------- */

static struct got g;
static uint8_t in[300000];

TEST(echo_masked_text)
{
	struct scv_ws_conn *c = conn(&g, NULL);
	struct srv_frame f[4];
	size_t n;

	REQUIRE(c);
	g.echo = 1;
	n = frame(in, 0, 1, 1, "hello", 5, 1);
	CHECK_INT(scv_ws_conn_feed(c, in, n, 1), 0);
	CHECK_INT(g.n, 1);
	CHECK(g.last_len == 5 && memcmp(g.last, "hello", 5) == 0);
	REQUIRE(drain(c, f, 4) == 1);
	CHECK_INT(f[0].opcode, 1);
	CHECK_INT(f[0].fin, 1);
	CHECK(f[0].len == 5 && memcmp(f[0].payload, "hello", 5) == 0);
	CHECK_INT(scv_ws_conn_state(c), SCV_WS_OPEN);
	CHECK_INT(scv_ws_conn_pending(c), 0);
	scv_ws_conn_free(c);
}

TEST(fragments_reassembled_around_a_ping)
{
	struct scv_ws_conn *c = conn(&g, NULL);
	struct srv_frame f[4];
	size_t n = 0;

	REQUIRE(c);
	/* "€uro" with the euro sign split across two fragments, and a ping between them */
	n = frame(in, n, 0, 1, "a\xe2", 2, 1);
	n = frame(in, n, 1, 9, "p1", 2, 1);
	n = frame(in, n, 0, 0, "\x82\xac", 2, 1);
	n = frame(in, n, 1, 0, "uro", 3, 1);
	/* one byte at a time: the same result */
	for (size_t i = 0; i < n; i++)
		CHECK_INT(scv_ws_conn_feed(c, in + i, 1, 1), 0);
	CHECK_INT(g.n, 1);
	CHECK(g.last_len == 7 && memcmp(g.last, "a\xe2\x82\xacuro", 7) == 0);
	REQUIRE(drain(c, f, 4) == 1);
	CHECK_INT(f[0].opcode, 0xa);
	CHECK(f[0].len == 2 && memcmp(f[0].payload, "p1", 2) == 0);
	CHECK_INT(scv_ws_conn_state(c), SCV_WS_OPEN);
	scv_ws_conn_free(c);
}

/* Feeds one hostile input; checks the close code sent and that the socket is to be closed. */
static void
expect_failed(const uint8_t *data, size_t n, int code, const struct scv_ws_config *cfg)
{
	struct scv_ws_conn *c = conn(&g, cfg);
	struct srv_frame f[4];
	int k;

	REQUIRE(c);
	CHECK_INT(scv_ws_conn_feed(c, data, n, 1), 0);
	k = drain(c, f, 4);
	CHECK_INT(k, 1);
	if (k == 1)
		CHECK_INT(close_code(&f[0]), code);
	CHECK_INT(scv_ws_conn_code_sent(c), code);
	CHECK_INT(scv_ws_conn_state(c), SCV_WS_CLOSED);
	CHECK_INT(g.n, 0);
	/* nothing more is read */
	CHECK_INT(scv_ws_conn_feed(c, data, n, 2), 0);
	CHECK_INT(drain(c, f, 4), 0);
	CHECK_INT(g.n, 0);
	scv_ws_conn_free(c);
}

TEST(hostile_frames)
{
	size_t n;
	uint8_t big[70000];
	struct scv_ws_config cfg;

	memset(big, 'x', sizeof big);
	n = frame(in, 0, 1, 1, "hi", 2, 0);
	expect_failed(in, n, 1002, NULL); /* unmasked */
	n = frame(in, 0, 1, 2, "\x01\x02", 2, 1);
	expect_failed(in, n, 1003, NULL); /* binary */
	n = frame(in, 0, 1, 1, "\xc0\xaf", 2, 1);
	expect_failed(in, n, 1007, NULL); /* overlong */
	n = frame(in, 0, 0, 1, "ok\xed", 3, 1);
	n = frame(in, n, 1, 0, "\xa0\x80", 2, 1);
	expect_failed(in, n, 1007, NULL); /* a surrogate across fragments */
	n = frame(in, 0, 1, 1, "ok\xe2\x82", 4, 1);
	expect_failed(in, n, 1007, NULL); /* truncated at the end */
	n = frame(in, 0, 0, 9, "p", 1, 1);
	expect_failed(in, n, 1002, NULL); /* fragmented ping */
	n = frame(in, 0, 1, 3, "p", 1, 1);
	expect_failed(in, n, 1002, NULL); /* reserved opcode */
	in[0] = 0xc1, in[1] = 0x81, memset(in + 2, 0, 5);
	expect_failed(in, 7, 1002, NULL); /* RSV1 without an extension */
	n = frame(in, 0, 1, 0, "x", 1, 1);
	expect_failed(in, n, 1002, NULL); /* continuation with nothing to continue */
	n = frame(in, 0, 0, 1, "a", 1, 1);
	n = frame(in, n, 1, 1, "b", 1, 1);
	expect_failed(in, n, 1002, NULL); /* a new message inside a fragmented one */
	n = frame(in, 0, 1, 8, "\x03", 1, 1);
	expect_failed(in, n, 1002, NULL); /* close with a one-byte payload */
	n = frame(in, 0, 1, 8, "\x03\xed", 2, 1);
	expect_failed(in, n, 1002, NULL); /* close code 1005 on the wire */
	n = frame(in, 0, 1, 8, "\x03\xe8\xc0\xaf", 4, 1);
	expect_failed(in, n, 1007, NULL); /* close reason not UTF-8 */
	n = frame(in, 0, 1, 1, big, 65537, 1);
	expect_failed(in, n, 1009, NULL); /* one byte over 64 KiB */
	n = frame(in, 0, 0, 1, big, 40000, 1);
	n = frame(in, n, 1, 0, big, 40000, 1);
	expect_failed(in, n, 1009, NULL); /* over it in fragments */
	scv_ws_config_default(&cfg);
	cfg.max_message = 10;
	n = frame(in, 0, 1, 1, "hello world", 11, 1);
	expect_failed(in, n, 1009, &cfg);
}

TEST(message_at_the_limit_passes)
{
	struct scv_ws_conn *c = conn(&g, NULL);
	uint8_t big[65536];
	size_t n;

	REQUIRE(c);
	memset(big, 'y', sizeof big);
	n = frame(in, 0, 1, 1, big, sizeof big, 1);
	CHECK_INT(scv_ws_conn_feed(c, in, n, 1), 0);
	CHECK_INT(g.n, 1);
	CHECK_INT(g.last_len, 65536);
	CHECK_INT(scv_ws_conn_state(c), SCV_WS_OPEN);
	scv_ws_conn_free(c);
}

TEST(peer_closes)
{
	struct scv_ws_conn *c = conn(&g, NULL);
	struct srv_frame f[4];
	size_t n;

	REQUIRE(c);
	n = frame(in, 0, 1, 8,
	          "\x0f\xa0"
	          "done",
	          6, 1); /* 4000 */
	CHECK_INT(scv_ws_conn_feed(c, in, n, 1), 0);
	REQUIRE(drain(c, f, 4) == 1);
	CHECK_INT(close_code(&f[0]), 4000);
	CHECK_INT(scv_ws_conn_code_received(c), 4000);
	CHECK_INT(scv_ws_conn_code_sent(c), 4000);
	CHECK_INT(scv_ws_conn_state(c), SCV_WS_CLOSED);
	CHECK_STR(scv_ws_conn_why(c), "closed by the peer");
	CHECK_INT(scv_ws_conn_send_text(c, "late", 4), -EPIPE);
	CHECK_INT(scv_ws_conn_deadline(c), INT64_MAX);
	scv_ws_conn_free(c);

	/* a close without a code is answered without one */
	c = conn(&g, NULL);
	REQUIRE(c);
	n = frame(in, 0, 1, 8, "", 0, 1);
	CHECK_INT(scv_ws_conn_feed(c, in, n, 1), 0);
	REQUIRE(drain(c, f, 4) == 1);
	CHECK_INT(f[0].opcode, 8);
	CHECK_INT(f[0].len, 0);
	CHECK_INT(scv_ws_conn_code_received(c), 1005);
	CHECK_INT(scv_ws_conn_state(c), SCV_WS_CLOSED);
	scv_ws_conn_free(c);
}

TEST(we_close_and_wait_bounded)
{
	struct scv_ws_conn *c = conn(&g, NULL);
	struct srv_frame f[4];
	size_t n;

	REQUIRE(c);
	CHECK_INT(scv_ws_conn_close(c, 1005, NULL, 10), -EINVAL);
	CHECK_INT(scv_ws_conn_close(c, 999, NULL, 10), -EINVAL);
	CHECK_INT(scv_ws_conn_close(c, 4001, "\xc0\xaf", 10), -EINVAL);
	CHECK_INT(scv_ws_conn_close(c, 4001, "token expired", 10), 0);
	CHECK_INT(scv_ws_conn_close(c, 4001, "again", 10), -EPIPE);
	REQUIRE(drain(c, f, 4) == 1);
	CHECK_INT(close_code(&f[0]), 4001);
	CHECK(f[0].len == 15 && memcmp(f[0].payload + 2, "token expired", 13) == 0);
	CHECK_INT(scv_ws_conn_state(c), SCV_WS_CLOSING);
	CHECK_INT(scv_ws_conn_deadline(c), 10 + SCV_WS_CLOSE_TIMEOUT);
	/* once we closed, a message still arriving is not acted on (a command after a
	 * refused hello, say); the peer's close completes the handshake */
	n = frame(in, 0, 1, 1, "late", 4, 1);
	n = frame(in, n, 1, 8, "\x0f\xa1", 2, 1);
	CHECK_INT(scv_ws_conn_feed(c, in, n, 20), 0);
	CHECK_INT(g.n, 0);
	CHECK_INT(drain(c, f, 4), 0); /* no second close */
	CHECK_INT(scv_ws_conn_state(c), SCV_WS_CLOSED);
	CHECK_INT(scv_ws_conn_code_received(c), 4001);
	scv_ws_conn_free(c);

	/* the peer never answers: aborted at the deadline, not before */
	c = conn(&g, NULL);
	REQUIRE(c);
	CHECK_INT(scv_ws_conn_close(c, 1000, "", 100), 0);
	drain(c, f, 4);
	scv_ws_conn_tick(c, 100 + SCV_WS_CLOSE_TIMEOUT - 1);
	CHECK_INT(scv_ws_conn_state(c), SCV_WS_CLOSING);
	scv_ws_conn_tick(c, 100 + SCV_WS_CLOSE_TIMEOUT);
	CHECK_INT(scv_ws_conn_state(c), SCV_WS_ABORTED);
	CHECK_STR(scv_ws_conn_why(c), "no close frame from the peer in time");
	scv_ws_conn_free(c);
}

TEST(close_from_the_message_callback)
{
	struct scv_ws_conn *c = conn(&g, NULL);
	struct srv_frame f[4];
	size_t n;

	REQUIRE(c);
	g.close = 1;
	n = frame(in, 0, 1, 1, "{\"op\":\"x\"}", 10, 1);
	n = frame(in, n, 1, 1, "second", 6, 1);
	CHECK_INT(scv_ws_conn_feed(c, in, n, 1), 0);
	REQUIRE(drain(c, f, 4) == 1);
	CHECK_INT(close_code(&f[0]), 4001);
	CHECK_INT(scv_ws_conn_state(c), SCV_WS_CLOSING);
	scv_ws_conn_free(c);
}

TEST(server_pings_and_missed_pongs)
{
	struct scv_ws_config cfg;
	struct scv_ws_conn *c;
	struct srv_frame f[4];
	size_t n;

	scv_ws_config_default(&cfg);
	cfg.ping_interval_ms = 1000;
	c = conn(&g, &cfg);
	REQUIRE(c);
	CHECK_INT(scv_ws_conn_deadline(c), 1000);
	scv_ws_conn_tick(c, 999);
	CHECK_INT(drain(c, f, 4), 0);
	scv_ws_conn_tick(c, 1000);
	REQUIRE(drain(c, f, 4) == 1);
	CHECK_INT(f[0].opcode, 9);
	/* the pong comes back: counted, and the next ping is an interval later */
	n = frame(in, 0, 1, 0xa, f[0].payload, f[0].len, 1);
	CHECK_INT(scv_ws_conn_feed(c, in, n, 1100), 0);
	CHECK_INT(scv_ws_conn_pongs(c), 1);
	CHECK_INT(scv_ws_conn_deadline(c), 2000);
	/* two pings go unanswered: the second missed one aborts */
	scv_ws_conn_tick(c, 2000);
	CHECK_INT(drain(c, f, 4), 1);
	scv_ws_conn_tick(c, 3000);
	CHECK_INT(drain(c, f, 4), 1);
	CHECK_INT(scv_ws_conn_state(c), SCV_WS_OPEN);
	scv_ws_conn_tick(c, 4000);
	CHECK_INT(scv_ws_conn_state(c), SCV_WS_ABORTED);
	CHECK_STR(scv_ws_conn_why(c), "no pong to our pings");
	CHECK_INT(scv_ws_conn_deadline(c), INT64_MAX);
	scv_ws_conn_free(c);
}

TEST(send_queue_bound)
{
	struct scv_ws_config cfg;
	struct scv_ws_conn *c;
	char msg[600];
	uint8_t *buf;
	size_t len;

	memset(msg, 'm', sizeof msg);
	scv_ws_config_default(&cfg);
	cfg.max_send_queue = 1500;
	c = conn(&g, &cfg);
	REQUIRE(c);
	CHECK_INT(scv_ws_conn_send_text(c, msg, sizeof msg), 0);
	CHECK_INT(scv_ws_conn_send_text(c, msg, sizeof msg), 0);
	/* taken but not yet written still counts */
	REQUIRE(scv_ws_conn_take_output(c, &buf, &len) == 0);
	CHECK_INT(len, 2 * (sizeof msg + 4));
	CHECK_INT(scv_ws_conn_pending(c), len);
	CHECK_INT(scv_ws_conn_send_text(c, msg, sizeof msg), -ENOBUFS);
	CHECK_INT(scv_ws_conn_state(c), SCV_WS_ABORTED);
	CHECK_STR(scv_ws_conn_why(c), "send queue over its bound (slow reader)");
	free(buf);
	scv_ws_conn_free(c);

	/* written bytes free the room again */
	c = conn(&g, &cfg);
	REQUIRE(c);
	for (int i = 0; i < 10; i++) {
		CHECK_INT(scv_ws_conn_send_text(c, msg, sizeof msg), 0);
		REQUIRE(scv_ws_conn_take_output(c, &buf, &len) == 0);
		scv_ws_conn_written(c, len);
		free(buf);
	}
	CHECK_INT(scv_ws_conn_state(c), SCV_WS_OPEN);
	CHECK_INT(scv_ws_conn_send_text(c, "\xff", 1), -EINVAL);
	scv_ws_conn_free(c);
}

TEST(ping_flood_without_reading_is_bounded)
{
	struct scv_ws_config cfg;
	struct scv_ws_conn *c;
	size_t n = 0;

	scv_ws_config_default(&cfg);
	cfg.max_send_queue = 4096;
	c = conn(&g, &cfg);
	REQUIRE(c);
	for (int i = 0; i < 100; i++)
		n = frame(in, n, 1, 9, "0123456789012345678901234567890123456789", 40, 1);
	CHECK_INT(scv_ws_conn_feed(c, in, n, 1), 0);
	CHECK_INT(scv_ws_conn_state(c), SCV_WS_ABORTED);
	scv_ws_conn_free(c);
}

TEST(transport_gone)
{
	struct scv_ws_conn *c = conn(&g, NULL);

	REQUIRE(c);
	scv_ws_conn_eof(c, 5);
	CHECK_INT(scv_ws_conn_state(c), SCV_WS_ABORTED);
	CHECK_STR(scv_ws_conn_why(c), "connection lost");
	CHECK_INT(scv_ws_conn_send_text(c, "x", 1), -EPIPE);
	scv_ws_conn_free(c);
}

int
main(void)
{
	RUN(accept_key_rfc_sample);
	RUN(accept_key_refuses);
	RUN(utf8_edge_cases);
	RUN(utf8_agrees_with_definition);
	RUN(handshake_accepts);
	RUN(handshake_refusals);
	RUN(handshake_origins);
	RUN(origin_syntax);
	RUN(echo_masked_text);
	RUN(fragments_reassembled_around_a_ping);
	RUN(hostile_frames);
	RUN(message_at_the_limit_passes);
	RUN(peer_closes);
	RUN(we_close_and_wait_bounded);
	RUN(close_from_the_message_callback);
	RUN(server_pings_and_missed_pongs);
	RUN(send_queue_bound);
	RUN(ping_flood_without_reading_is_bounded);
	RUN(transport_gone);
	return test_summary();
}
