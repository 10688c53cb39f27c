/*
 * JWT bearer tokens, RS256 (see jwt.h). OpenSSL does the RSA work; jansson writes the claims
 * so that iss and sub are escaped correctly whatever the configuration holds.
 */
#include "scv/jwt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#define MIN_RSA_BITS 2048
#define MAX_KEY_FILE (1024 * 1024) /* a PEM RSA-16384 key is ~13 KB */

struct scv_signer {
	EVP_PKEY *key;
	char *iss;
	char *sub;
	int per_request_jti;
	char *token; /* the last token made; owned */
	int64_t iat; /* of token */
	int64_t exp; /* of token */
	uint64_t sign_count;
};

static const char b64url_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Characters in the base64url text of len bytes. */
static size_t
b64url_len(size_t len)
{
	return len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
}

/*
 * Writes base64url (RFC 4648 §5, no padding) of in[0..len) to out, which must hold
 * b64url_len(len) + 1 bytes. Returns the number of characters written (NUL not counted).
 */
static size_t
b64url_encode(const unsigned char *in, size_t len, char *out)
{
	size_t i, o = 0;

	for (i = 0; i + 2 < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
		out[o++] = b64url_alphabet[v >> 6 & 63];
		out[o++] = b64url_alphabet[v & 63];
	}
	if (len - i == 1) {
		unsigned v = (unsigned)in[i] << 16;
		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
	} else if (len - i == 2) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
		out[o++] = b64url_alphabet[v >> 6 & 63];
	}
	out[o] = '\0';
	return o;
}

/* A version 4 UUID (RFC 9562) from the OpenSSL CSPRNG, lower-case text. */
static int
uuid4(char out[37])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof b) != 1)
		return -EIO;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
	         b[13], b[14], b[15]);
	return 0;
}

/* OpenSSL would otherwise prompt on the terminal for an encrypted key's pass phrase. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	*(int *)u = 1;
	return -1;
}

/*
 * Reads a PEM private key and checks it is RSA with at least MIN_RSA_BITS bits. On success
 * *ret_key is owned by the caller. Errors: -errno from opening the file, -EINVAL for
 * anything that is not a usable RSA key, with a one-line reason in err.
 */
static int
load_rsa_key(const char *path, EVP_PKEY **ret_key, char *err, size_t errlen)
{
	EVP_PKEY *key;
	struct stat st;
	FILE *f;
	int encrypted = 0, bits, rc;

	f = fopen(path, "r");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fileno(f), &st) != 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		snprintf(err, errlen, "cannot read %s: %s", path,
		         rc == -EISDIR ? strerror(EISDIR) : "not a regular file");
		goto out_close;
	}
	if (st.st_size > MAX_KEY_FILE) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s: not a PEM private key (%lld bytes)", path,
		         (long long)st.st_size);
		goto out_close;
	}
	key = PEM_read_PrivateKey(f, NULL, no_passphrase, &encrypted);
	ERR_clear_error();
	if (!key) {
		rc = -EINVAL;
		if (encrypted)
			snprintf(err, errlen,
			         "%s: private key is encrypted; a key without pass phrase is "
			         "required",
			         path);
		else
			snprintf(err, errlen, "%s: not a PEM private key", path);
		goto out_close;
	}
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
		const char *type = EVP_PKEY_get0_type_name(key);
		rc = -EINVAL;
		snprintf(err, errlen, "%s: not an RSA private key (%s)", path,
		         type ? type : "unknown type");
		goto out_free_key;
	}
	bits = EVP_PKEY_get_bits(key);
	if (bits < MIN_RSA_BITS) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s: RSA key has %d bits; at least %d required", path, bits,
		         MIN_RSA_BITS);
		goto out_free_key;
	}
	fclose(f);
	*ret_key = key;
	return 0;

out_free_key:
	EVP_PKEY_free(key);
out_close:
	fclose(f);
	return rc;
}

int
scv_key_check(const char *path, char *err, size_t errlen)
{
	EVP_PKEY *key;
	int rc;

	rc = load_rsa_key(path, &key, err, errlen);
	if (rc < 0)
		return rc;
	EVP_PKEY_free(key);
	return 0;
}

int
scv_signer_new(const char *key_path, const char *iss, const char *sub, int per_request_jti,
               struct scv_signer **ret_signer, char *err, size_t errlen)
{
	struct scv_signer *s;
	int rc;

	if (!iss || !*iss || !sub || !*sub) {
		snprintf(err, errlen, "JWT %s is empty",
		         !iss || !*iss ? "iss (org id)" : "sub (call center API name)");
		return -EINVAL;
	}
	s = calloc(1, sizeof *s);
	if (!s)
		goto out_nomem;
	s->iss = strdup(iss);
	s->sub = strdup(sub);
	if (!s->iss || !s->sub)
		goto out_free;
	rc = load_rsa_key(key_path, &s->key, err, errlen);
	if (rc < 0) {
		scv_signer_free(s);
		return rc;
	}
	s->per_request_jti = per_request_jti ? 1 : 0;
	*ret_signer = s;
	return 0;

out_free:
	scv_signer_free(s);
out_nomem:
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

/* The claim set, compact JSON; malloc'd. */
static char *
claims_json(const struct scv_signer *s, int64_t iat, const char *jti)
{
	json_t *o;
	char *text;

	o = json_pack("{s:s, s:s, s:I, s:I}", "iss", s->iss, "sub", s->sub, "iat", (json_int_t)iat,
	              "exp", (json_int_t)(iat + SCV_JWT_LIFETIME_S));
	if (!o)
		return NULL;
	if (jti && json_object_set_new(o, "jti", json_string(jti)) != 0) {
		json_decref(o);
		return NULL;
	}
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

/* header.claims.signature for `iat`; replaces s->token. */
static int
sign_token(struct scv_signer *s, int64_t iat)
{
	static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
	unsigned char *sig = NULL;
	size_t claims_len, sig_len, input_len, n;
	char jti[37], *claims, *token;
	EVP_MD_CTX *md;
	int rc = -ENOMEM;

	if (s->per_request_jti) {
		rc = uuid4(jti);
		if (rc < 0)
			return rc;
	}
	claims = claims_json(s, iat, s->per_request_jti ? jti : NULL);
	if (!claims)
		return -ENOMEM;
	claims_len = strlen(claims);

	sig_len = (size_t)EVP_PKEY_get_size(s->key);
	input_len = b64url_len(sizeof header - 1) + 1 + b64url_len(claims_len);
	token = malloc(input_len + 1 + b64url_len(sig_len) + 1);
	sig = malloc(sig_len);
	md = EVP_MD_CTX_new();
	if (!token || !sig || !md)
		goto out;

	n = b64url_encode((const unsigned char *)header, sizeof header - 1, token);
	token[n++] = '.';
	n += b64url_encode((const unsigned char *)claims, claims_len, token + n);

	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, s->key) != 1 ||
	    EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)token, n) != 1) {
		ERR_clear_error();
		rc = -EIO;
		goto out;
	}
	token[n++] = '.';
	b64url_encode(sig, sig_len, token + n);

	s->sign_count++;
	free(s->token);
	s->token = token;
	token = NULL;
	s->iat = iat;
	s->exp = iat + SCV_JWT_LIFETIME_S;
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	free(sig);
	free(token);
	free(claims);
	return rc;
}

int
scv_signer_token(struct scv_signer *signer, int64_t now, const char **ret_token)
{
	int rc;

	/* Reuse while comfortably valid; a clock stepped back before iat also re-signs. */
	if (!signer->per_request_jti && signer->token && now >= signer->iat &&
	    now < signer->exp - SCV_JWT_REFRESH_MARGIN_S) {
		*ret_token = signer->token;
		return 0;
	}
	rc = sign_token(signer, now);
	if (rc < 0)
		return rc;
	*ret_token = signer->token;
	return 0;
}

uint64_t
scv_signer_sign_count(const struct scv_signer *signer)
{
	return signer->sign_count;
}

void
scv_signer_free(struct scv_signer *signer)
{
	if (!signer)
		return;
	EVP_PKEY_free(signer->key);
	signer->key = NULL;
	free(signer->iss);
	signer->iss = NULL;
	free(signer->sub);
	signer->sub = NULL;
	free(signer->token);
	signer->token = NULL;
	free(signer);
}
