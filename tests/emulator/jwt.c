#include "tests/emulator/jwt.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tests/emulator/table.h"
#include "tests/emulator/util.h"

#define AUD_SCRT  "https://scrt.salesforce.com"
#define MAX_TOKEN 8192
#define MAX_JTI   1024

/* Claims that matter once a token has been verified, kept to re-check a cached token. */
struct times {
	double exp;
	double iat;
	double nbf;
	bool has_iat;
	bool has_nbf;
};

struct cc {
	struct emu_cc pub;
	char *name;
	char *org;
	EVP_PKEY *key;
	/*
	 * The last verified token without a jti: clients that reuse one token (scvbridge's
	 * default) then cost one strcmp per request instead of an RSA verification.
	 */
	char *cached;
	struct times cached_times;
};

struct jti {
	struct emu_hnode hnode;
	struct emu_heap_node expiry; /* seconds: once passed, the token is refused anyway */
	char s[];
};

static struct cc *ccs;
static size_t ncc;
static int64_t max_lifetime = 86400;
static int64_t skew = 60;
static struct emu_htab jtis;
static struct emu_heap jti_expiry;

static int
fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static EVP_PKEY *
load_key(const char *path, char *err, size_t errlen)
{
	BIO *bio = BIO_new_file(path, "r");
	X509 *x509;
	EVP_PKEY *key = NULL;

	if (!bio) {
		fail(err, errlen, 0, "cannot open %s", path);
		return NULL;
	}
	x509 = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (x509) {
		key = X509_get_pubkey(x509);
		X509_free(x509);
	} else {
		(void)BIO_reset(bio);
		key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	}
	BIO_free(bio);
	if (!key) {
		fail(err, errlen, 0, "%s holds neither a PEM certificate nor a PUBLIC KEY", path);
		return NULL;
	}
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA || EVP_PKEY_get_bits(key) < 1024) {
		fail(err, errlen, 0, "%s: the key must be RSA of at least 1024 bits", path);
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

int
emu_jwt_add_cc(const char *spec, char *err, size_t errlen)
{
	const char *c1 = strchr(spec, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	struct cc *grown, *cc;

	if (!c1 || !c2 || c1 == spec || c2 == c1 + 1 || !c2[1])
		return fail(err, errlen, -EINVAL, "--call-center wants API_NAME:ORG_ID:PEM_PATH");
	for (size_t i = 0; i < ncc; i++)
		if (strlen(ccs[i].name) == (size_t)(c1 - spec) &&
		    strncmp(ccs[i].name, spec, (size_t)(c1 - spec)) == 0)
			return fail(err, errlen, -EEXIST, "call center %.*s given twice",
			            (int)(c1 - spec), spec);
	grown = realloc(ccs, (ncc + 1) * sizeof *ccs);
	if (!grown)
		return fail(err, errlen, -ENOMEM, "out of memory");
	ccs = grown;
	cc = &ccs[ncc];
	memset(cc, 0, sizeof *cc);
	cc->key = load_key(c2 + 1, err, errlen);
	if (!cc->key)
		return -EINVAL;
	cc->name = emu_strndup(spec, (size_t)(c1 - spec));
	cc->org = emu_strndup(c1 + 1, (size_t)(c2 - c1 - 1));
	if (!cc->name || !cc->org) {
		free(cc->name);
		free(cc->org);
		EVP_PKEY_free(cc->key);
		return fail(err, errlen, -ENOMEM, "out of memory");
	}
	ncc++;
	/* pub points into the array, which may have moved: refresh all. */
	for (size_t i = 0; i < ncc; i++) {
		ccs[i].pub.name = ccs[i].name;
		ccs[i].pub.org = ccs[i].org;
	}
	return 0;
}

void
emu_jwt_set_limits(int64_t max_lifetime_s, int64_t skew_s)
{
	max_lifetime = max_lifetime_s;
	skew = skew_s;
}

int64_t
emu_jwt_skew_s(void)
{
	return skew;
}

size_t
emu_jwt_cc_count(void)
{
	return ncc;
}

const struct emu_cc *
emu_jwt_cc_at(size_t i)
{
	return i < ncc ? &ccs[i].pub : NULL;
}

/* base64url without padding (RFC 7515 §2). Returns malloc'd bytes, or NULL when invalid. */
static unsigned char *
b64url_decode(const char *s, size_t len, size_t *ret_len)
{
	unsigned char *out;
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;

	if (len % 4 == 1)
		return NULL;
	out = malloc(len * 3 / 4 + 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i], v;

		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '-')
			v = 62;
		else if (c == '_')
			v = 63;
		else
			goto out_bad;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0) /* non-canonical trailing bits */
		goto out_bad;
	*ret_len = n;
	return out;
out_bad:
	free(out);
	return NULL;
}

static json_t *
decode_json_part(const char *s, size_t len)
{
	size_t n;
	unsigned char *raw = b64url_decode(s, len, &n);
	json_t *j;

	if (!raw)
		return NULL;
	j = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
	free(raw);
	if (j && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static void
copy_claim(json_t *payload, const char *name, char *dst, size_t dstlen, bool *has)
{
	json_t *v = json_object_get(payload, name);

	if (json_is_string(v)) {
		snprintf(dst, dstlen, "%s", json_string_value(v));
		*has = true;
	}
}

static int
check_times(const struct times *t, int64_t now_ms, char *why, size_t whylen)
{
	double now = (double)now_ms / 1000.0;

	if (t->exp <= now - (double)skew)
		return fail(why, whylen, -EACCES, "token expired");
	if (t->exp - now > (double)(max_lifetime + skew))
		return fail(why, whylen, -EACCES, "exp is more than %lld s ahead",
		            (long long)max_lifetime);
	if (t->has_iat && t->iat > now + (double)skew)
		return fail(why, whylen, -EACCES, "iat is in the future");
	if (t->has_iat && t->exp - t->iat > (double)max_lifetime)
		return fail(why, whylen, -EACCES, "lifetime exp - iat exceeds %lld s",
		            (long long)max_lifetime);
	if (t->has_nbf && t->nbf > now + (double)skew)
		return fail(why, whylen, -EACCES, "token not valid yet (nbf)");
	return 0;
}

static int
read_times(json_t *payload, struct times *t, char *why, size_t whylen)
{
	json_t *exp = json_object_get(payload, "exp");
	json_t *iat = json_object_get(payload, "iat");
	json_t *nbf = json_object_get(payload, "nbf");

	memset(t, 0, sizeof *t);
	if (!json_is_number(exp))
		return fail(why, whylen, -EACCES, "exp missing or not a number");
	t->exp = json_number_value(exp);
	if (iat) {
		if (!json_is_number(iat))
			return fail(why, whylen, -EACCES, "iat is not a number");
		t->iat = json_number_value(iat);
		t->has_iat = true;
	}
	if (nbf) {
		if (!json_is_number(nbf))
			return fail(why, whylen, -EACCES, "nbf is not a number");
		t->nbf = json_number_value(nbf);
		t->has_nbf = true;
	}
	if (!isfinite(t->exp) || !isfinite(t->iat) || !isfinite(t->nbf))
		return fail(why, whylen, -EACCES, "bad time claim");
	return 0;
}

static int
check_aud(json_t *payload, char *why, size_t whylen)
{
	json_t *aud = json_object_get(payload, "aud"), *v;
	size_t i;

	if (!aud)
		return 0;
	if (json_is_string(aud) && strcmp(json_string_value(aud), AUD_SCRT) == 0)
		return 0;
	if (json_is_array(aud))
		json_array_foreach(aud, i,
		                   v) if (json_is_string(v) &&
		                          strcmp(json_string_value(v), AUD_SCRT) == 0) return 0;
	return fail(why, whylen, -EACCES, "aud must be absent or " AUD_SCRT);
}

static int
verify_signature(EVP_PKEY *key, const char *token, size_t signed_len, const char *sig64,
                 size_t sig64_len)
{
	size_t siglen;
	unsigned char *sig = b64url_decode(sig64, sig64_len, &siglen);
	EVP_MD_CTX *ctx;
	int ok = 0;

	if (!sig)
		return -EACCES;
	ctx = EVP_MD_CTX_new();
	if (ctx && siglen == (size_t)EVP_PKEY_get_size(key) &&
	    EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1)
		ok = EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)token, signed_len) ==
		     1;
	EVP_MD_CTX_free(ctx);
	free(sig);
	return ok ? 0 : -EACCES;
}

static void
purge_jtis(int64_t now_s)
{
	struct emu_heap_node *top;

	while ((top = emu_heap_peek(&jti_expiry)) && top->key < now_s) {
		struct jti *j = emu_container_of(top, struct jti, expiry);

		emu_heap_remove(&jti_expiry, top);
		emu_htab_remove(&jtis, &j->hnode);
		free(j);
	}
}

static int
remember_jti(const char *s, double exp)
{
	size_t len = strlen(s);
	struct jti *j = malloc(sizeof *j + len + 1);

	if (!j)
		return -ENOMEM;
	memcpy(j->s, s, len + 1);
	j->hnode.key = j->s;
	j->hnode.keylen = len;
	j->expiry.key = (int64_t)ceil(exp) + skew + 1;
	j->expiry.idx = EMU_HEAP_NONE;
	if (emu_htab_insert(&jtis, &j->hnode) < 0)
		goto out_free;
	if (emu_heap_push(&jti_expiry, &j->expiry) < 0) {
		emu_htab_remove(&jtis, &j->hnode);
		goto out_free;
	}
	return 0;
out_free:
	free(j);
	return -ENOMEM;
}

static struct cc *
find_cc(const char *name)
{
	for (size_t i = 0; i < ncc; i++)
		if (strcmp(ccs[i].name, name) == 0)
			return &ccs[i];
	return NULL;
}

static int
check_token(const char *token, int64_t now_ms, struct cc **ret_cc, struct emu_claims *claims,
            char *why, size_t whylen)
{
	const char *dot1, *dot2;
	json_t *header = NULL, *payload = NULL, *v;
	struct times t;
	struct cc *cc;
	int rc = -EACCES;

	for (size_t i = 0; i < ncc; i++) {
		if (!ccs[i].cached || strcmp(ccs[i].cached, token) != 0)
			continue;
		claims->decoded = claims->has_iss = claims->has_sub = true;
		snprintf(claims->iss, sizeof claims->iss, "%s", ccs[i].org);
		snprintf(claims->sub, sizeof claims->sub, "%s", ccs[i].name);
		rc = check_times(&ccs[i].cached_times, now_ms, why, whylen);
		if (rc == 0)
			*ret_cc = &ccs[i];
		return rc;
	}

	dot1 = strchr(token, '.');
	dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	if (!dot2 || strchr(dot2 + 1, '.') || !dot2[1])
		return fail(why, whylen, -EACCES, "not a JWS compact token");
	header = decode_json_part(token, (size_t)(dot1 - token));
	payload = decode_json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	if (!header || !payload) {
		fail(why, whylen, -EACCES, "undecodable token %s", header ? "payload" : "header");
		goto out;
	}
	claims->decoded = true;
	copy_claim(payload, "iss", claims->iss, sizeof claims->iss, &claims->has_iss);
	copy_claim(payload, "sub", claims->sub, sizeof claims->sub, &claims->has_sub);
	copy_claim(payload, "jti", claims->jti, sizeof claims->jti, &claims->has_jti);

	v = json_object_get(header, "alg");
	if (!json_is_string(v) || strcmp(json_string_value(v), "RS256") != 0) {
		fail(why, whylen, -EACCES, "header alg must be RS256");
		goto out;
	}
	v = json_object_get(header, "typ");
	if (v && (!json_is_string(v) || strcasecmp(json_string_value(v), "JWT") != 0)) {
		fail(why, whylen, -EACCES, "header typ must be JWT");
		goto out;
	}
	if (json_object_get(header, "crit")) {
		fail(why, whylen, -EACCES, "crit header parameters are not supported");
		goto out;
	}
	v = json_object_get(payload, "sub");
	if (!json_is_string(v)) {
		fail(why, whylen, -EACCES, "sub missing");
		goto out;
	}
	cc = find_cc(json_string_value(v));
	if (!cc) {
		fail(why, whylen, -EACCES, "sub is not a known call center API name");
		goto out;
	}
	v = json_object_get(payload, "iss");
	if (!json_is_string(v) || strcmp(json_string_value(v), cc->org) != 0) {
		fail(why, whylen, -EACCES, "iss does not match the org id of call center %s",
		     cc->name);
		goto out;
	}
	if (verify_signature(cc->key, token, (size_t)(dot2 - token), dot2 + 1, strlen(dot2 + 1))) {
		fail(why, whylen, -EACCES, "bad signature");
		goto out;
	}
	if (read_times(payload, &t, why, whylen) || check_times(&t, now_ms, why, whylen) ||
	    check_aud(payload, why, whylen))
		goto out;

	v = json_object_get(payload, "jti");
	if (v) {
		const char *jti = json_string_value(v);

		if (!jti || !*jti || strlen(jti) > MAX_JTI) {
			fail(why, whylen, -EACCES, "jti must be a non-empty string");
			goto out;
		}
		purge_jtis(now_ms / 1000);
		if (emu_htab_find(&jtis, jti, strlen(jti))) {
			fail(why, whylen, -EACCES, "jti already used (replay)");
			goto out;
		}
		if (remember_jti(jti, t.exp) < 0) {
			fail(why, whylen, -EACCES, "out of memory");
			goto out;
		}
	} else {
		char *copy = strdup(token);

		if (copy) {
			free(cc->cached);
			cc->cached = copy;
			cc->cached_times = t;
		}
	}
	*ret_cc = cc;
	rc = 0;
out:
	json_decref(header);
	json_decref(payload);
	return rc;
}

int
emu_jwt_check(const char *authorization, int64_t now_ms, const struct emu_cc **ret_cc,
              struct emu_claims *claims, char *why, size_t whylen)
{
	const char *token;
	struct cc *cc = NULL;
	int rc;

	memset(claims, 0, sizeof *claims);
	if (!authorization)
		return fail(why, whylen, -EACCES, "missing Authorization header");
	if (strncasecmp(authorization, "Bearer ", 7) != 0)
		return fail(why, whylen, -EACCES, "Authorization is not a Bearer token");
	token = authorization + 7;
	while (*token == ' ')
		token++;
	if (!*token)
		return fail(why, whylen, -EACCES, "empty bearer token");
	if (strlen(token) > MAX_TOKEN)
		return fail(why, whylen, -EACCES, "token too long");
	rc = check_token(token, now_ms, &cc, claims, why, whylen);
	if (rc == 0)
		*ret_cc = &cc->pub;
	return rc;
}

void
emu_jwt_forget(void)
{
	struct emu_heap_node *top;

	while ((top = emu_heap_peek(&jti_expiry))) {
		struct jti *j = emu_container_of(top, struct jti, expiry);

		emu_heap_remove(&jti_expiry, top);
		emu_htab_remove(&jtis, &j->hnode);
		free(j);
	}
	for (size_t i = 0; i < ncc; i++) {
		free(ccs[i].cached);
		ccs[i].cached = NULL;
	}
}

void
emu_jwt_free(void)
{
	emu_jwt_forget();
	emu_htab_free(&jtis);
	emu_heap_free(&jti_expiry);
	for (size_t i = 0; i < ncc; i++) {
		free(ccs[i].name);
		free(ccs[i].org);
		EVP_PKEY_free(ccs[i].key);
	}
	free(ccs);
	ccs = NULL;
	ncc = 0;
}
