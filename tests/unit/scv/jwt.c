/*
 * scv/jwt.c: tokens verify with the public half (certificate), claims are right, reuse and
 * per-request modes sign when they should, bad keys are refused with a clear reason.
 */
#include "scv/jwt.c"

#include <ctype.h>
#include <errno.h>

#include <openssl/encoder.h>

#include "tests/unit/scv/pki.h"
#include "tests/unit/test.h"

static char dir[128];
static char key_path[160];  /* RSA-2048, PKCS#8 PEM */
static char cert_path[160]; /* self-signed certificate of that key */
static EVP_PKEY *test_key;

/* Decodes base64url without padding; returns the length or -1. out must hold len*3/4+3. */
static long
b64url_decode(const char *in, size_t len, unsigned char *out)
{
	unsigned v = 0;
	int bits = 0;
	long o = 0;

	for (size_t i = 0; i < len; i++) {
		const char *p = strchr(b64url_alphabet, in[i]);
		if (!p || !in[i])
			return -1;
		v = v << 6 | (unsigned)(p - b64url_alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(v >> bits);
		}
	}
	return o;
}

struct parsed {
	json_t *header;
	json_t *claims;
	int sig_ok;
};

/* Splits and decodes a token, verifying the RS256 signature with the certificate's key. */
static int
parse_token(const char *token, struct parsed *p)
{
	const char *d1 = strchr(token, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	unsigned char buf[4096];
	long n;
	X509 *cert;
	FILE *f;
	EVP_MD_CTX *md;

	memset(p, 0, sizeof *p);
	if (!d1 || !d2 || strchr(d2 + 1, '.') || strchr(token, '='))
		return -1;
	n = b64url_decode(token, (size_t)(d1 - token), buf);
	if (n < 0)
		return -1;
	p->header = json_loadb((const char *)buf, (size_t)n, 0, NULL);
	n = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), buf);
	if (n < 0)
		return -1;
	p->claims = json_loadb((const char *)buf, (size_t)n, 0, NULL);
	n = b64url_decode(d2 + 1, strlen(d2 + 1), buf);
	if (n < 0)
		return -1;

	f = fopen(cert_path, "r");
	if (!f)
		return -1;
	cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!cert)
		return -1;
	md = EVP_MD_CTX_new();
	p->sig_ok =
	        EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, X509_get0_pubkey(cert)) == 1 &&
	        EVP_DigestVerify(md, buf, (size_t)n, (const unsigned char *)token,
	                         (size_t)(d2 - token)) == 1;
	EVP_MD_CTX_free(md);
	X509_free(cert);
	return p->header && p->claims ? 0 : -1;
}

static void
parsed_free(struct parsed *p)
{
	json_decref(p->header);
	json_decref(p->claims);
}

static const char *
claim_str(const struct parsed *p, const char *name)
{
	return json_string_value(json_object_get(p->claims, name));
}

static long long
claim_int(const struct parsed *p, const char *name)
{
	json_t *v = json_object_get(p->claims, name);
	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static int
is_uuid4(const char *s)
{
	if (!s || strlen(s) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) {
			return 0;
		}
	}
	return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

TEST(base64url)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} v[] = {
	        {"", 0, ""},
	        {"f", 1, "Zg"},
	        {"fo", 2, "Zm8"},
	        {"foo", 3, "Zm9v"},
	        {"foob", 4, "Zm9vYg"},
	        {"fooba", 5, "Zm9vYmE"},
	        {"foobar", 6, "Zm9vYmFy"},
	        {"\xfb\xff\xbf", 3, "-_-_"},
	        {"\xfb\xff", 2, "-_8"},
	};
	char out[32];

	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		size_t n = b64url_encode((const unsigned char *)v[i].in, v[i].len, out);
		CHECK_STR(out, v[i].out);
		CHECK_INT(n, strlen(v[i].out));
		CHECK_INT(b64url_len(v[i].len), strlen(v[i].out));
	}
}

TEST(uuid_format)
{
	char a[37], b[37];

	REQUIRE(uuid4(a) == 0);
	REQUIRE(uuid4(b) == 0);
	CHECK(is_uuid4(a));
	CHECK(is_uuid4(b));
	CHECK(strcmp(a, b) != 0);
}

TEST(sign_and_verify_with_certificate)
{
	struct scv_signer *s;
	struct parsed p;
	const char *tok;
	char err[256] = "";

	REQUIRE(scv_signer_new(key_path, "00Dxx0000001gEH", "AcmeCC", 0, &s, err, sizeof err) == 0);
	REQUIRE(scv_signer_token(s, 1768471200, &tok) == 0);
	REQUIRE(parse_token(tok, &p) == 0);
	CHECK(p.sig_ok);
	CHECK_STR(json_string_value(json_object_get(p.header, "alg")), "RS256");
	CHECK_STR(json_string_value(json_object_get(p.header, "typ")), "JWT");
	CHECK_INT(json_object_size(p.header), 2);
	CHECK_STR(claim_str(&p, "iss"), "00Dxx0000001gEH");
	CHECK_STR(claim_str(&p, "sub"), "AcmeCC");
	CHECK_INT(claim_int(&p, "iat"), 1768471200);
	CHECK_INT(claim_int(&p, "exp"), 1768471200 + 300);
	CHECK(json_object_get(p.claims, "jti") == NULL);
	CHECK(json_object_get(p.claims, "aud") == NULL);
	CHECK_INT(json_object_size(p.claims), 4);
	/* base64url: no padding, no '+' or '/' */
	CHECK(strpbrk(tok, "=+/ ") == NULL);
	CHECK_INT(scv_signer_sign_count(s), 1);
	parsed_free(&p);

	/* A tampered token no longer verifies. */
	{
		char *bad = strdup(tok);
		char *claims = strchr(bad, '.') + 1;
		claims[3] = claims[3] == 'A' ? 'B' : 'A';
		REQUIRE(parse_token(bad, &p) == 0 || p.claims == NULL);
		CHECK(!p.sig_ok);
		parsed_free(&p);
		free(bad);
	}
	scv_signer_free(s);
}

TEST(claims_are_escaped)
{
	struct scv_signer *s;
	struct parsed p;
	const char *tok;
	char err[256];

	REQUIRE(scv_signer_new(key_path, "00D\"x\\", "CC \xc3\xa9\n", 0, &s, err, sizeof err) == 0);
	REQUIRE(scv_signer_token(s, 1000, &tok) == 0);
	REQUIRE(parse_token(tok, &p) == 0);
	CHECK(p.sig_ok);
	CHECK_STR(claim_str(&p, "iss"), "00D\"x\\");
	CHECK_STR(claim_str(&p, "sub"), "CC \xc3\xa9\n");
	parsed_free(&p);
	scv_signer_free(s);
}

TEST(reuse_mode_signs_once_per_window)
{
	struct scv_signer *s;
	const char *tok, *first;
	char err[256], *copy;
	int64_t t0 = 1768471200;

	REQUIRE(scv_signer_new(key_path, "00Dxx0000001gEH", "AcmeCC", 0, &s, err, sizeof err) == 0);
	REQUIRE(scv_signer_token(s, t0, &first) == 0);
	copy = strdup(first);
	/* Every second up to exp - 60 - 1 reuses the token. */
	for (int64_t t = t0; t < t0 + SCV_JWT_LIFETIME_S - SCV_JWT_REFRESH_MARGIN_S; t++) {
		REQUIRE(scv_signer_token(s, t, &tok) == 0);
		CHECK_STR(tok, copy);
	}
	CHECK_INT(scv_signer_sign_count(s), 1);

	/* At exp - 60 a new one is signed, with the new iat. */
	REQUIRE(scv_signer_token(s, t0 + 240, &tok) == 0);
	CHECK_INT(scv_signer_sign_count(s), 2);
	CHECK(strcmp(tok, copy) != 0);
	{
		struct parsed p;
		REQUIRE(parse_token(tok, &p) == 0);
		CHECK(p.sig_ok);
		CHECK_INT(claim_int(&p, "iat"), t0 + 240);
		CHECK_INT(claim_int(&p, "exp"), t0 + 540);
		parsed_free(&p);
	}
	REQUIRE(scv_signer_token(s, t0 + 300, &tok) == 0);
	CHECK_INT(scv_signer_sign_count(s), 2);

	/* The clock stepped back before iat: re-sign rather than send a token from the future. */
	REQUIRE(scv_signer_token(s, t0 + 100, &tok) == 0);
	CHECK_INT(scv_signer_sign_count(s), 3);
	free(copy);
	scv_signer_free(s);
}

TEST(per_request_mode_fresh_jti)
{
	struct scv_signer *s;
	const char *tok;
	char err[256], jtis[20][37];

	REQUIRE(scv_signer_new(key_path, "00Dxx0000001gEH", "AcmeCC", 1, &s, err, sizeof err) == 0);
	for (int i = 0; i < 20; i++) {
		struct parsed p;
		REQUIRE(scv_signer_token(s, 5000, &tok) == 0);
		REQUIRE(parse_token(tok, &p) == 0);
		CHECK(p.sig_ok);
		CHECK(is_uuid4(claim_str(&p, "jti")));
		snprintf(jtis[i], sizeof jtis[i], "%s",
		         claim_str(&p, "jti") ? claim_str(&p, "jti") : "");
		CHECK_INT(claim_int(&p, "exp"), 5300);
		CHECK_INT(json_object_size(p.claims), 5);
		for (int j = 0; j < i; j++)
			CHECK(strcmp(jtis[i], jtis[j]) != 0);
		parsed_free(&p);
	}
	CHECK_INT(scv_signer_sign_count(s), 20);
	scv_signer_free(s);
}

/* Writes a key file named name in dir; returns its path (static buffer). */
static const char *
write_key(const char *name, EVP_PKEY *key, const char *pass)
{
	static char path[160];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (pki_write_key(path, key, pass) < 0)
		return NULL;
	return path;
}

TEST(bad_keys_refused)
{
	struct scv_signer *s = NULL;
	char err[256], want[256], path[160];
	const char *p;
	EVP_PKEY *k;
	FILE *f;

	/* Missing file */
	snprintf(path, sizeof path, "%s/missing.pem", dir);
	CHECK_INT(scv_key_check(path, err, sizeof err), -ENOENT);
	snprintf(want, sizeof want, "cannot read %s: No such file or directory", path);
	CHECK_STR(err, want);
	CHECK_INT(scv_signer_new(path, "o", "s", 0, &s, err, sizeof err), -ENOENT);
	CHECK(s == NULL);

	/* EC key */
	k = pki_ec();
	REQUIRE(k);
	p = write_key("ec.pem", k, NULL);
	REQUIRE(p);
	CHECK_INT(scv_key_check(p, err, sizeof err), -EINVAL);
	snprintf(want, sizeof want, "%s: not an RSA private key (EC)", p);
	CHECK_STR(err, want);
	CHECK_INT(scv_signer_new(p, "o", "s", 0, &s, err, sizeof err), -EINVAL);
	EVP_PKEY_free(k);

	/* 1024-bit RSA */
	k = pki_rsa(1024);
	REQUIRE(k);
	p = write_key("rsa1024.pem", k, NULL);
	REQUIRE(p);
	CHECK_INT(scv_key_check(p, err, sizeof err), -EINVAL);
	snprintf(want, sizeof want, "%s: RSA key has 1024 bits; at least 2048 required", p);
	CHECK_STR(err, want);

	/* Encrypted 2048-bit key: refused without prompting for a pass phrase. */
	p = write_key("enc.pem", test_key, "secret");
	REQUIRE(p);
	CHECK_INT(scv_key_check(p, err, sizeof err), -EINVAL);
	CHECK(strstr(err, "encrypted") != NULL);
	EVP_PKEY_free(k);

	/* Garbage */
	snprintf(path, sizeof path, "%s/garbage.pem", dir);
	f = fopen(path, "w");
	REQUIRE(f);
	fputs("-----BEGIN PRIVATE KEY-----\nnot base64 at all!\n-----END PRIVATE KEY-----\n", f);
	fclose(f);
	CHECK_INT(scv_key_check(path, err, sizeof err), -EINVAL);
	snprintf(want, sizeof want, "%s: not a PEM private key", path);
	CHECK_STR(err, want);

	/* Empty file */
	snprintf(path, sizeof path, "%s/empty.pem", dir);
	f = fopen(path, "w");
	REQUIRE(f);
	fclose(f);
	CHECK_INT(scv_key_check(path, err, sizeof err), -EINVAL);

	/* A public key or a certificate is not a private key. */
	snprintf(path, sizeof path, "%s/pub.pem", dir);
	REQUIRE(pki_write_pubkey(path, test_key) == 0);
	CHECK_INT(scv_key_check(path, err, sizeof err), -EINVAL);
	snprintf(want, sizeof want, "%s: not a PEM private key", path);
	CHECK_STR(err, want);
	CHECK_INT(scv_key_check(cert_path, err, sizeof err), -EINVAL);

	/* A directory */
	CHECK_INT(scv_key_check(dir, err, sizeof err), -EISDIR);
	snprintf(want, sizeof want, "cannot read %s: Is a directory", dir);
	CHECK_STR(err, want);

	/* The good key passes; an empty iss or sub is refused. */
	CHECK_INT(scv_key_check(key_path, err, sizeof err), 0);
	CHECK_INT(scv_signer_new(key_path, "", "s", 0, &s, err, sizeof err), -EINVAL);
	CHECK(strstr(err, "iss") != NULL);
	CHECK_INT(scv_signer_new(key_path, "o", NULL, 0, &s, err, sizeof err), -EINVAL);
	CHECK(strstr(err, "sub") != NULL);
	CHECK(s == NULL);
	scv_signer_free(NULL);
}

TEST(pkcs1_rsa_key_accepted)
{
	struct scv_signer *s;
	struct parsed p;
	const char *tok;
	char path[160], err[256];
	FILE *f;

	/* "BEGIN RSA PRIVATE KEY" (PKCS#1), as `openssl genrsa` wrote it for years. */
	snprintf(path, sizeof path, "%s/pkcs1.pem", dir);
	{
		OSSL_ENCODER_CTX *ectx;
		BIO *b = BIO_new_file(path, "w");
		REQUIRE(b);
		ectx = OSSL_ENCODER_CTX_new_for_pkey(test_key, EVP_PKEY_KEYPAIR, "PEM",
		                                     "type-specific", NULL);
		REQUIRE(ectx);
		REQUIRE(OSSL_ENCODER_to_bio(ectx, b) == 1);
		OSSL_ENCODER_CTX_free(ectx);
		BIO_free(b);
	}
	f = fopen(path, "r");
	REQUIRE(f);
	{
		char line[64] = "";
		CHECK(fgets(line, sizeof line, f) && strstr(line, "BEGIN RSA PRIVATE KEY"));
	}
	fclose(f);
	CHECK_INT(scv_key_check(path, err, sizeof err), 0);
	REQUIRE(scv_signer_new(path, "o", "s", 0, &s, err, sizeof err) == 0);
	REQUIRE(scv_signer_token(s, 42, &tok) == 0);
	REQUIRE(parse_token(tok, &p) == 0);
	CHECK(p.sig_ok);
	parsed_free(&p);
	scv_signer_free(s);
}

int
main(void)
{
	X509 *cert;

	if (pki_tmpdir(dir, sizeof dir) < 0) {
		perror("mkdtemp");
		return 1;
	}
	test_key = pki_rsa(2048);
	snprintf(key_path, sizeof key_path, "%s/key.pem", dir);
	snprintf(cert_path, sizeof cert_path, "%s/cert.pem", dir);
	cert = test_key ? pki_cert(test_key, "scvbridge-test", NULL, NULL, NULL, 0) : NULL;
	if (!cert || pki_write_key(key_path, test_key, NULL) < 0 ||
	    pki_write_cert(cert_path, cert) < 0) {
		fprintf(stderr, "cannot make the test key\n");
		return 1;
	}
	X509_free(cert);

	RUN(base64url);
	RUN(uuid_format);
	RUN(sign_and_verify_with_certificate);
	RUN(claims_are_escaped);
	RUN(reuse_mode_signs_once_per_window);
	RUN(per_request_mode_fresh_jti);
	RUN(bad_keys_refused);
	RUN(pkcs1_rsa_key_accepted);

	EVP_PKEY_free(test_key);
	pki_rmdir(dir);
	return test_summary();
}
