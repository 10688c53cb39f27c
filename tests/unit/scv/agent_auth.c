/*
 * scv/agent_auth.c: scrypt hashes (RFC 7914's vector in our stored form, bounds when
 * parsing), tokens (round trip, forged, expired, malformed), the secret file (created 0600,
 * reloaded, refused when others can read it) and the failure limiter (lock-out, doubling,
 * cap, ageing, a bounded table under a flood of sources).
 */
#include "scv/agent_auth.c"

#include <sys/stat.h>

#include "tests/unit/scratch.h"
#include "tests/unit/test.h"

/* ---- base64url ------------------------------------------------------------------------ */

TEST(b64_round_trip_and_strictness)
{
	uint8_t in[40], out[40];
	char text[64];

	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (uint8_t)(i * 37 + 11);
	for (size_t len = 0; len <= sizeof in; len++) {
		size_t n = b64_encode(in, len, text);

		CHECK_INT(n, (len * 4 + 2) / 3);
		CHECK_INT(b64_decode(text, n, out, sizeof out), len);
		CHECK(memcmp(in, out, len) == 0);
	}
	CHECK_INT(b64_decode("QQ", 2, out, sizeof out), 1);
	CHECK_INT(b64_decode("QR", 2, out, sizeof out), -EINVAL);   /* bits left over */
	CHECK_INT(b64_decode("QQ==", 4, out, sizeof out), -EINVAL); /* padding */
	CHECK_INT(b64_decode("Q", 1, out, sizeof out), -EINVAL);
	CHECK_INT(b64_decode("a+b/", 4, out, sizeof out), -EINVAL); /* standard alphabet */
	CHECK_INT(b64_decode("AAAA", 4, out, 2), -EINVAL);          /* too long for out */
}

/* ---- passwords ------------------------------------------------------------------------ */

/* RFC 7914 §12, the N = 16384 vector ("pleaseletmein", "SodiumChloride"), as we store it. */
static const char rfc7914[] =
        "scrypt$16384$8$1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046_2o-7qQT44-qbVD9lRdofLVQylV"
        "YT8Pz2LUlwUkKpr55h6F3A1lHkDfzwF7RVdYhw";

TEST(scrypt_known_vector)
{
	CHECK_INT(scv_auth_verify_password("pleaseletmein", 13, rfc7914), 0);
	CHECK_INT(scv_auth_verify_password("pleaseletmeiN", 13, rfc7914), -EACCES);
	CHECK_INT(scv_auth_verify_password("pleaseletmein", 12, rfc7914), -EACCES);
	CHECK_INT(scv_auth_hash_check(rfc7914, NULL, 0), 0);
}

TEST(hash_then_verify)
{
	struct scv_auth_scrypt fast = {1024, 8, 1};
	char a[SCV_AUTH_HASH_MAX], b[SCV_AUTH_HASH_MAX];

	REQUIRE(scv_auth_hash_password("correct horse", 13, &fast, a, sizeof a) == 0);
	CHECK(strncmp(a, "scrypt$1024$8$1$", 16) == 0);
	CHECK_INT(strlen(a), 16 + 22 + 1 + 43);
	CHECK_INT(scv_auth_verify_password("correct horse", 13, a), 0);
	CHECK_INT(scv_auth_verify_password("correct horsE", 13, a), -EACCES);
	CHECK_INT(scv_auth_verify_password("", 0, a), -EACCES);
	/* a fresh salt each time */
	REQUIRE(scv_auth_hash_password("correct horse", 13, &fast, b, sizeof b) == 0);
	CHECK(strcmp(a, b) != 0);
	/* the defaults */
	REQUIRE(scv_auth_hash_password("s3cret", 6, NULL, a, sizeof a) == 0);
	CHECK(strncmp(a, "scrypt$32768$8$1$", 17) == 0);
	CHECK_INT(scv_auth_verify_password("s3cret", 6, a), 0);
	/* refusals */
	CHECK_INT(scv_auth_hash_password("x", 1, &fast, a, 20), -EINVAL);
	{
		static char longpw[SCV_AUTH_PASSWORD_MAX + 1];
		struct scv_auth_scrypt huge = {1u << 20, 8, 1};

		memset(longpw, 'p', sizeof longpw);
		CHECK_INT(scv_auth_hash_password(longpw, sizeof longpw, &fast, a, sizeof a),
		          -EINVAL);
		CHECK_INT(scv_auth_hash_password("x", 1, &huge, a, sizeof a), -EINVAL);
	}
}

TEST(hash_bounds_when_parsing)
{
	static const char *const bad[] = {
	        "scrypt$2097152$8$1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046w", /* N 2^21 */
	        "scrypt$131072$8$1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046w",  /* 128 MiB */
	        "scrypt$16384$64$1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046w",  /* r 64 */
	        "scrypt$16384$8$17$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046w",  /* p 17 */
	        "scrypt$16000$8$1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046w",   /* not 2^k */
	        "scrypt$512$8$1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046w",     /* too weak */
	        "scrypt$016384$8$1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046w",
	        "scrypt$99999999999999999999999$8$1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046w",
	        "scrypt$16384$8$1$TmFDbA$cCO9yzr9c0hGHAbNgf046w",              /* salt 4 bytes */
	        "scrypt$16384$8$1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9",               /* hash 6 bytes */
	        "scrypt$16384$8$1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046x", /* bits left */
	        "scrypt$16384$8$1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046w",
	        "scrypt$16384$8$1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046w$x",
	        "scrypt$16384$8$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046w",
	        "bcrypt$16384$8$1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046w",
	        "",
	};
	char err[128];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		if (scv_auth_hash_check(bad[i], err, sizeof err) != -EINVAL || !err[0] ||
		    scv_auth_verify_password("x", 1, bad[i]) != -EINVAL) {
			char m[200];

			snprintf(m, sizeof m, "accepted: %s", bad[i]);
			test_fail(__FILE__, __LINE__, m);
		}
	}
	CHECK_INT(scv_auth_hash_check(NULL, err, sizeof err), -EINVAL);
	/* at the memory bound: 2^16 with r 8 is exactly 64 MiB, allowed */
	CHECK_INT(scv_auth_hash_check("scrypt$65536$8$1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046w",
	                              err, sizeof err),
	          0);
}

TEST(decoy_hash)
{
	CHECK_INT(scv_auth_hash_check(scv_auth_decoy_hash(), NULL, 0), 0);
	CHECK_INT(scv_auth_verify_password("", 0, scv_auth_decoy_hash()), -EACCES);
	CHECK_INT(scv_auth_verify_password("password", 8, scv_auth_decoy_hash()), -EACCES);
}

/* ---- tokens --------------------------------------------------------------------------- */

static struct scv_auth_secret secret_a, secret_b;

static void
secrets(void)
{
	for (size_t i = 0; i < SCV_AUTH_SECRET_LEN; i++) {
		secret_a.key[i] = (uint8_t)i;
		secret_b.key[i] = (uint8_t)(i + 1);
	}
}

TEST(token_round_trip)
{
	char t1[SCV_AUTH_TOKEN_MAX], t2[SCV_AUTH_TOKEN_MAX];
	struct scv_auth_binding b;
	int64_t exp = 1700000900000;

	REQUIRE(scv_auth_token_issue(&secret_a, "acme", "agent-7", exp, t1, sizeof t1) == 0);
	REQUIRE(scv_auth_token_issue(&secret_a, "acme", "agent-7", exp, t2, sizeof t2) == 0);
	CHECK(strcmp(t1, t2) != 0); /* the nonce */
	CHECK(strspn(t1, b64url) == strlen(t1));
	memset(&b, 0, sizeof b);
	CHECK_INT(scv_auth_token_verify(&secret_a, t1, exp - 1, &b), 0);
	CHECK_STR(b.contact_center, "acme");
	CHECK_STR(b.agent_id, "agent-7");
	CHECK_INT(b.expires_ms, exp);
	/* names at the limit */
	{
		char cc[SCV_AUTH_NAME_MAX + 1], ag[SCV_AUTH_NAME_MAX + 1];

		memset(cc, 'c', SCV_AUTH_NAME_MAX);
		memset(ag, 'a', SCV_AUTH_NAME_MAX);
		cc[SCV_AUTH_NAME_MAX] = ag[SCV_AUTH_NAME_MAX] = '\0';
		REQUIRE(scv_auth_token_issue(&secret_a, cc, ag, exp, t1, sizeof t1) == 0);
		CHECK_INT(scv_auth_token_verify(&secret_a, t1, 0, &b), 0);
		CHECK_STR(b.agent_id, ag);
		cc[0] = '\n';
		CHECK_INT(scv_auth_token_issue(&secret_a, cc, ag, exp, t1, sizeof t1), -EINVAL);
	}
	{
		char toolong[SCV_AUTH_NAME_MAX + 2];

		memset(toolong, 'x', sizeof toolong - 1);
		toolong[sizeof toolong - 1] = '\0';
		CHECK_INT(scv_auth_token_issue(&secret_a, toolong, "a", exp, t1, sizeof t1),
		          -EINVAL);
	}
	CHECK_INT(scv_auth_token_issue(&secret_a, "", "a", exp, t1, sizeof t1), -EINVAL);
	CHECK_INT(scv_auth_token_issue(&secret_a, "acme", "a", exp, t1, 100), -EINVAL);
}

TEST(token_expired)
{
	char t[SCV_AUTH_TOKEN_MAX];
	struct scv_auth_binding b;

	REQUIRE(scv_auth_token_issue(&secret_a, "acme", "agent-7", 5000, t, sizeof t) == 0);
	CHECK_INT(scv_auth_token_verify(&secret_a, t, 4999, &b), 0);
	CHECK_INT(scv_auth_token_verify(&secret_a, t, 5000, &b), -EKEYEXPIRED);
	CHECK_INT(scv_auth_token_verify(&secret_a, t, 9000, &b), -EKEYEXPIRED);
	CHECK_STR(scv_auth_token_strerror(-EKEYEXPIRED), "expired");
}

TEST(token_forged)
{
	char t[SCV_AUTH_TOKEN_MAX], f[SCV_AUTH_TOKEN_MAX];
	uint8_t raw[TOKEN_RAW_MAX];
	struct scv_auth_binding b;
	ssize_t n;
	size_t len;

	REQUIRE(scv_auth_token_issue(&secret_a, "acme", "agent-7", INT64_MAX, t, sizeof t) == 0);
	/* another secret */
	CHECK_INT(scv_auth_token_verify(&secret_b, t, 0, &b), -EKEYREJECTED);
	/* one character of the nonce changed */
	snprintf(f, sizeof f, "%s", t);
	f[20] = f[20] == 'A' ? 'B' : 'A';
	CHECK_INT(scv_auth_token_verify(&secret_a, f, 0, &b), -EKEYREJECTED);
	/* the agent id rewritten, the rest kept: the MAC no longer matches */
	len = strlen(t);
	n = b64_decode(t, len, raw, sizeof raw);
	REQUIRE(n > 0);
	raw[n - MAC_LEN - 1] = '8'; /* agent-7 -> agent-8 */
	b64_encode(raw, (size_t)n, f);
	CHECK_INT(scv_auth_token_verify(&secret_a, f, 0, &b), -EKEYREJECTED);
	/* a later expiry, the rest kept */
	n = b64_decode(t, len, raw, sizeof raw);
	raw[8] ^= 1;
	b64_encode(raw, (size_t)n, f);
	CHECK_INT(scv_auth_token_verify(&secret_a, f, 0, &b), -EKEYREJECTED);
	CHECK_STR(scv_auth_token_strerror(-EKEYREJECTED), "forged");
}

TEST(token_malformed)
{
	char t[SCV_AUTH_TOKEN_MAX], f[400];
	struct scv_auth_binding b;

	REQUIRE(scv_auth_token_issue(&secret_a, "acme", "agent-7", INT64_MAX, t, sizeof t) == 0);
	CHECK_INT(scv_auth_token_verify(&secret_a, "", 0, &b), -EBADMSG);
	CHECK_INT(scv_auth_token_verify(&secret_a, NULL, 0, &b), -EBADMSG);
	CHECK_INT(scv_auth_token_verify(&secret_a, "not a token!", 0, &b), -EBADMSG);
	snprintf(f, sizeof f, "%.30s", t);
	CHECK_INT(scv_auth_token_verify(&secret_a, f, 0, &b), -EBADMSG); /* cut short */
	snprintf(f, sizeof f, "%s==", t);
	CHECK_INT(scv_auth_token_verify(&secret_a, f, 0, &b), -EBADMSG); /* padded */
	memset(f, 'A', 300);
	f[300] = '\0';
	CHECK_INT(scv_auth_token_verify(&secret_a, f, 0, &b), -EBADMSG); /* too long */
	snprintf(f, sizeof f, "%s", t);
	f[0] = 'B'; /* version byte 0x05 */
	CHECK_INT(scv_auth_token_verify(&secret_a, f, 0, &b), -EBADMSG);
	CHECK_STR(scv_auth_token_strerror(-EBADMSG), "malformed");
}

/* ---- the secret file ------------------------------------------------------------------ */

TEST(secret_file)
{
	char path[300], err[128], text[400];
	struct scv_auth_secret s1, s2;
	struct stat st;
	FILE *f;

	REQUIRE(scratch_setup("auth") == 0);
	path_of(path, sizeof path, "token.key");
	REQUIRE(scv_auth_secret_load(path, &s1, err, sizeof err) == 0);
	REQUIRE(stat(path, &st) == 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	CHECK_INT(st.st_size, 65);
	CHECK_INT(scv_auth_secret_load(path, &s2, err, sizeof err), 0);
	CHECK(memcmp(s1.key, s2.key, sizeof s1.key) == 0);
	/* the text is the hex of the key */
	f = fopen(path, "r");
	REQUIRE(f);
	REQUIRE(fgets(text, sizeof text, f));
	fclose(f);
	{
		char hex[3];

		snprintf(hex, sizeof hex, "%02x", s1.key[31]);
		CHECK(strncmp(text + 62, hex, 2) == 0);
	}
	/* no stray temporary file left */
	snprintf(text, sizeof text, "ls %s | wc -l", dir);
	f = popen(text, "r");
	REQUIRE(f);
	REQUIRE(fgets(text, sizeof text, f));
	pclose(f);
	CHECK_INT(atoi(text), 1);
	/* readable by others: refused */
	chmod(path, 0644);
	CHECK_INT(scv_auth_secret_load(path, &s2, err, sizeof err), -EPERM);
	CHECK(strstr(err, "chmod 600") != NULL);
	/* not 64 hex digits: refused */
	f = fopen(path, "w");
	REQUIRE(f);
	fputs("0123\n", f);
	fclose(f);
	chmod(path, 0600);
	CHECK_INT(scv_auth_secret_load(path, &s2, err, sizeof err), -EINVAL);
	f = fopen(path, "w");
	REQUIRE(f);
	fputs("zz23456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n", f);
	fclose(f);
	CHECK_INT(scv_auth_secret_load(path, &s2, err, sizeof err), -EINVAL);
	/* a symbolic link: refused */
	path_of(text, sizeof text, "link.key");
	REQUIRE(symlink(path, text) == 0);
	CHECK(scv_auth_secret_load(text, &s2, err, sizeof err) < 0);
	/* a directory that does not exist */
	path_of(path, sizeof path, "none/token.key");
	CHECK_INT(scv_auth_secret_load(path, &s2, err, sizeof err), -ENOENT);
	scratch_teardown();
}

/* ---- limiter -------------------------------------------------------------------------- */

TEST(lockout_doubles_and_caps)
{
	struct scv_auth_limiter *lim = NULL;
	int64_t retry = -1, t = 1000000;

	REQUIRE(scv_auth_limiter_new(NULL, &lim) == 0);
	for (int i = 0; i < 4; i++) {
		CHECK_INT(scv_auth_limiter_check(lim, "acme/ann", "192.0.2.1", t, &retry), 0);
		scv_auth_limiter_failure(lim, "acme/ann", "192.0.2.1", t);
	}
	CHECK_INT(scv_auth_limiter_check(lim, "acme/ann", "192.0.2.1", t, &retry), 0);
	scv_auth_limiter_failure(lim, "acme/ann", "192.0.2.1", t); /* the fifth */
	CHECK_INT(scv_auth_limiter_check(lim, "acme/ann", NULL, t, &retry), -EAGAIN);
	CHECK_INT(retry, 30000);
	/* the agent is locked from any source, and the source for any agent */
	CHECK_INT(scv_auth_limiter_check(lim, "acme/ann", "198.51.100.9", t + 1, &retry), -EAGAIN);
	CHECK_INT(retry, 29999);
	CHECK_INT(scv_auth_limiter_check(lim, "acme/bob", "192.0.2.1", t + 1, &retry), -EAGAIN);
	CHECK_INT(scv_auth_limiter_check(lim, "acme/bob", "198.51.100.9", t + 1, &retry), 0);
	/* after the lock, the next failure doubles it, up to the cap */
	t += 30000;
	CHECK_INT(scv_auth_limiter_check(lim, "acme/ann", "192.0.2.1", t, &retry), 0);
	scv_auth_limiter_failure(lim, "acme/ann", NULL, t);
	CHECK_INT(scv_auth_limiter_check(lim, "acme/ann", NULL, t, &retry), -EAGAIN);
	CHECK_INT(retry, 60000);
	for (int i = 0; i < 40; i++)
		scv_auth_limiter_failure(lim, "acme/ann", NULL, t);
	CHECK_INT(scv_auth_limiter_check(lim, "acme/ann", NULL, t, &retry), -EAGAIN);
	CHECK_INT(retry, 15 * 60 * 1000);
	/* a success clears the agent, not the source */
	scv_auth_limiter_success(lim, "acme/ann");
	CHECK_INT(scv_auth_limiter_check(lim, "acme/ann", NULL, t, &retry), 0);
	scv_auth_limiter_failure(lim, NULL, "192.0.2.1", t);
	CHECK_INT(scv_auth_limiter_check(lim, NULL, "192.0.2.1", t, &retry), -EAGAIN);
	/* an hour after the last failure and the lock over, the source is forgotten */
	t += 60 * 60 * 1000;
	CHECK_INT(scv_auth_limiter_check(lim, NULL, "192.0.2.1", t, &retry), 0);
	CHECK_INT(scv_auth_limiter_count(lim, 1), 0);
	scv_auth_limiter_failure(lim, NULL, "192.0.2.1", t);
	CHECK_INT(scv_auth_limiter_check(lim, NULL, "192.0.2.1", t, &retry), 0); /* from 1 again */
	scv_auth_limiter_free(lim);
}

TEST(flood_of_sources_is_bounded)
{
	struct scv_auth_limits l;
	struct scv_auth_limiter *lim = NULL;
	int64_t retry = 0, t = 1000;
	char src[64];

	scv_auth_limits_default(&l);
	l.max_entries = 16;
	REQUIRE(scv_auth_limiter_new(&l, &lim) == 0);
	for (int i = 0; i < 5; i++)
		scv_auth_limiter_failure(lim, "acme/ann", "203.0.113.66", t);
	for (int i = 0; i < 10000; i++) {
		snprintf(src, sizeof src, "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
		scv_auth_limiter_failure(lim, NULL, src, t + i);
		scv_auth_limiter_failure(lim, src, NULL, t + i);
	}
	CHECK_INT(scv_auth_limiter_count(lim, 1), 16);
	CHECK_INT(scv_auth_limiter_count(lim, 0), 16);
	/* the lock-outs survived: unlocked entries made room */
	CHECK_INT(scv_auth_limiter_check(lim, NULL, "203.0.113.66", t + 10000, &retry), -EAGAIN);
	CHECK_INT(scv_auth_limiter_check(lim, "acme/ann", NULL, t + 10000, &retry), -EAGAIN);
	scv_auth_limiter_free(lim);

	l.max_entries = 0;
	CHECK_INT(scv_auth_limiter_new(&l, &lim), -EINVAL);
}

TEST(source_keys)
{
	struct sockaddr_in a4 = {.sin_family = AF_INET};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
	char buf[64];

	inet_pton(AF_INET, "192.0.2.10", &a4.sin_addr);
	CHECK_INT(scv_auth_source_key((struct sockaddr *)&a4, buf, sizeof buf), 0);
	CHECK_STR(buf, "192.0.2.10");
	inet_pton(AF_INET6, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", &a6.sin6_addr);
	CHECK_INT(scv_auth_source_key((struct sockaddr *)&a6, buf, sizeof buf), 0);
	CHECK_STR(buf, "2001:db8:1:2::/64");
	inet_pton(AF_INET6, "::ffff:198.51.100.7", &a6.sin6_addr);
	CHECK_INT(scv_auth_source_key((struct sockaddr *)&a6, buf, sizeof buf), 0);
	CHECK_STR(buf, "198.51.100.7");
}

int
main(void)
{
	secrets();
	RUN(b64_round_trip_and_strictness);
	RUN(scrypt_known_vector);
	RUN(hash_then_verify);
	RUN(hash_bounds_when_parsing);
	RUN(decoy_hash);
	RUN(token_round_trip);
	RUN(token_expired);
	RUN(token_forged);
	RUN(token_malformed);
	RUN(secret_file);
	RUN(lockout_doubles_and_caps);
	RUN(flood_of_sources_is_bounded);
	RUN(source_keys);
	return test_summary();
}
