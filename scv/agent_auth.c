/*
 * Agent authentication (see agent_auth.h): scrypt password hashes, HMAC-SHA256 tokens and
 * the failure limiter. OpenSSL does the cryptography; the encodings and bounds are ours.
 */
#include "scv/agent_auth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

/* ---- base64url without padding (RFC 4648 §5), strict ---------------------------------- */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* out: at least (len * 4 + 2) / 3 + 1 bytes. Returns the characters written. */
static size_t
b64_encode(const uint8_t *in, size_t len, char *out)
{
	size_t o = 0, i = 0;

	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
		out[o++] = b64url[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
	}
	out[o] = '\0';
	return o;
}

static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Decodes s[0..n) into out (cap bytes); only the canonical encoding is accepted (no padding,
 * unused trailing bits zero). Returns the byte count or -EINVAL. */
static ssize_t
b64_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	if (n % 4 == 1 || (n / 4) * 3 + (n % 4 ? n % 4 - 1 : 0) > cap)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int v = b64_value(s[i]);

		if (v < 0)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		return -EINVAL;
	return (ssize_t)o;
}

static void
set_err(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
}

/* ---- passwords ------------------------------------------------------------------------ */

#define SALT_LEN     16
#define HASH_LEN     32
#define SALT_MIN     8
#define SALT_MAX     64
#define HASH_MIN     16
#define HASH_MAX_LEN 64

struct parsed_hash {
	struct scv_auth_scrypt prm;
	uint8_t salt[SALT_MAX];
	size_t salt_len;
	uint8_t hash[HASH_MAX_LEN];
	size_t hash_len;
};

static int
params_ok(const struct scv_auth_scrypt *p, const char **why)
{
	if (p->n < 1024 || p->n > (1u << 20) || (p->n & (p->n - 1)) != 0) {
		*why = "N must be a power of two from 1024 to 1048576";
		return 0;
	}
	if (p->r < 1 || p->r > 32 || p->p < 1 || p->p > 16) {
		*why = "r must be 1..32 and p 1..16";
		return 0;
	}
	if (128ull * p->r * p->n > SCV_AUTH_SCRYPT_MAX_MEM) {
		*why = "N and r need more than 64 MiB";
		return 0;
	}
	return 1;
}

/* What EVP_PBE_scrypt() allocates for these parameters, with room to spare. */
static uint64_t
params_mem(const struct scv_auth_scrypt *p)
{
	return 128ull * p->r * (p->n + 2) + 128ull * p->r * p->p + 4096;
}

static int
parse_uint(const char **s, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;
	const char *p = *s;

	if (*p < '1' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > max)
			return -EINVAL;
	}
	if (*p != '$')
		return -EINVAL;
	*s = p + 1;
	*ret = v;
	return 0;
}

static int
parse_hash(const char *s, struct parsed_hash *h, const char **why)
{
	uint64_t n, r, p;
	const char *dollar;
	ssize_t k;

	*why = "not of the form scrypt$N$r$p$salt$hash";
	if (!s || strlen(s) >= SCV_AUTH_HASH_MAX || strncmp(s, "scrypt$", 7) != 0)
		return -EINVAL;
	s += 7;
	if (parse_uint(&s, 1u << 30, &n) < 0 || parse_uint(&s, 1024, &r) < 0 ||
	    parse_uint(&s, 1024, &p) < 0)
		return -EINVAL;
	h->prm.n = n;
	h->prm.r = (uint32_t)r;
	h->prm.p = (uint32_t)p;
	if (!params_ok(&h->prm, why))
		return -EINVAL;
	dollar = strchr(s, '$');
	*why = "salt or hash is not base64url of the right length";
	if (!dollar)
		return -EINVAL;
	k = b64_decode(s, (size_t)(dollar - s), h->salt, sizeof h->salt);
	if (k < SALT_MIN)
		return -EINVAL;
	h->salt_len = (size_t)k;
	s = dollar + 1;
	k = b64_decode(s, strlen(s), h->hash, sizeof h->hash);
	if (k < HASH_MIN)
		return -EINVAL;
	h->hash_len = (size_t)k;
	return 0;
}

static int
run_scrypt(const char *password, size_t len, const struct scv_auth_scrypt *prm, const uint8_t *salt,
           size_t salt_len, uint8_t *out, size_t out_len)
{
	if (EVP_PBE_scrypt(password, len, salt, salt_len, prm->n, prm->r, prm->p, params_mem(prm),
	                   out, out_len) != 1)
		return -ENOMEM;
	return 0;
}

int
scv_auth_hash_password(const char *password, size_t len, const struct scv_auth_scrypt *params,
                       char *buf, size_t buflen)
{
	struct scv_auth_scrypt prm = {SCV_AUTH_SCRYPT_N, SCV_AUTH_SCRYPT_R, SCV_AUTH_SCRYPT_P};
	uint8_t salt[SALT_LEN], hash[HASH_LEN];
	char salt64[SALT_LEN * 2], hash64[HASH_LEN * 2];
	const char *why;
	int n, r;

	if (params)
		prm = *params;
	if (!password || len > SCV_AUTH_PASSWORD_MAX || !params_ok(&prm, &why))
		return -EINVAL;
	if (RAND_bytes(salt, sizeof salt) != 1)
		return -EIO;
	r = run_scrypt(password, len, &prm, salt, sizeof salt, hash, sizeof hash);
	if (r < 0)
		goto out_cleanse;
	b64_encode(salt, sizeof salt, salt64);
	b64_encode(hash, sizeof hash, hash64);
	n = snprintf(buf, buflen, "scrypt$%llu$%u$%u$%s$%s", (unsigned long long)prm.n, prm.r,
	             prm.p, salt64, hash64);
	r = n > 0 && (size_t)n < buflen ? 0 : -EINVAL;
out_cleanse:
	OPENSSL_cleanse(hash, sizeof hash);
	return r;
}

int
scv_auth_verify_password(const char *password, size_t len, const char *hash)
{
	struct parsed_hash h;
	uint8_t got[HASH_MAX_LEN];
	const char *why;
	int r;

	if (!password || parse_hash(hash, &h, &why) < 0)
		return -EINVAL;
	/* too long to be anyone's: still spend the time, then refuse */
	r = run_scrypt(password, len > SCV_AUTH_PASSWORD_MAX ? SCV_AUTH_PASSWORD_MAX : len, &h.prm,
	               h.salt, h.salt_len, got, h.hash_len);
	if (r < 0)
		goto out_cleanse;
	r = CRYPTO_memcmp(got, h.hash, h.hash_len) == 0 && len <= SCV_AUTH_PASSWORD_MAX ? 0
	                                                                                : -EACCES;
out_cleanse:
	OPENSSL_cleanse(got, sizeof got);
	return r;
}

int
scv_auth_hash_check(const char *hash, char *err, size_t errlen)
{
	struct parsed_hash h;
	const char *why;

	if (parse_hash(hash, &h, &why) < 0) {
		set_err(err, errlen, why);
		return -EINVAL;
	}
	return 0;
}

const char *
scv_auth_decoy_hash(void)
{
	return "scrypt$32768$8$1$zgZax-UzbjoZ6BikuLh0XQ$1CiOLvJ82Qd_"
	       "1mtoD83lpYcTtsqHfHIeyiqFjUMwQdE";
}

/* ---- the token secret ----------------------------------------------------------------- */

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
secret_read(int fd, struct scv_auth_secret *ret_secret, char *err, size_t errlen)
{
	char text[SCV_AUTH_SECRET_LEN * 2 + 2];
	struct scv_auth_secret s;
	struct stat st;
	ssize_t n;
	int r = -EINVAL;

	if (fstat(fd, &st) < 0) {
		r = -errno;
		set_err(err, errlen, "cannot stat the token secret file");
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(err, errlen, "the token secret is not a regular file");
		return -EINVAL;
	}
	if (st.st_mode & 077) {
		set_err(err, errlen, "the token secret file is readable by others (chmod 600)");
		return -EPERM;
	}
	n = read(fd, text, sizeof text);
	if (n < 0) {
		r = -errno;
		set_err(err, errlen, "cannot read the token secret file");
		goto out_cleanse;
	}
	if (n < SCV_AUTH_SECRET_LEN * 2 ||
	    (n == sizeof text - 1 && text[SCV_AUTH_SECRET_LEN * 2] != '\n') || n == sizeof text) {
		set_err(err, errlen, "the token secret file must hold 64 hex digits");
		goto out_cleanse;
	}
	for (size_t i = 0; i < SCV_AUTH_SECRET_LEN; i++) {
		int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			set_err(err, errlen, "the token secret file must hold 64 hex digits");
			goto out_cleanse;
		}
		s.key[i] = (uint8_t)(hi << 4 | lo);
	}
	*ret_secret = s;
	r = 0;
out_cleanse:
	OPENSSL_cleanse(text, sizeof text);
	OPENSSL_cleanse(&s, sizeof s);
	return r;
}

/* Makes a new directory entry durable; best effort (the secret is in place either way). */
static void
sync_dir(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int fd;

	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Writes a fresh secret to a temporary file beside path and links it into place: the file
 * appears whole or not at all, and an existing one is never replaced. */
static int
secret_create(const char *path, char *err, size_t errlen)
{
	char tmp[4096], text[SCV_AUTH_SECRET_LEN * 2 + 1];
	uint8_t key[SCV_AUTH_SECRET_LEN];
	int fd, r = 0;

	if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp) {
		set_err(err, errlen, "token secret path too long");
		return -ENAMETOOLONG;
	}
	if (RAND_bytes(key, sizeof key) != 1) {
		set_err(err, errlen, "no randomness for the token secret");
		return -EIO;
	}
	for (size_t i = 0; i < sizeof key; i++)
		snprintf(text + 2 * i, 3, "%02x", key[i]);
	text[2 * sizeof key] = '\n';
	fd = mkstemp(tmp); /* mode 0600 */
	if (fd < 0) {
		r = -errno;
		set_err(err, errlen, "cannot create the token secret file");
		goto out_cleanse;
	}
	errno = EIO;
	if (write(fd, text, sizeof text) != (ssize_t)sizeof text || fsync(fd) < 0) {
		r = -errno;
		set_err(err, errlen, "cannot write the token secret file");
		goto out_unlink;
	}
	if (link(tmp, path) < 0 && errno != EEXIST) {
		r = -errno;
		set_err(err, errlen, "cannot create the token secret file");
		goto out_unlink;
	}
	sync_dir(path);
out_unlink:
	close(fd);
	unlink(tmp);
out_cleanse:
	OPENSSL_cleanse(key, sizeof key);
	OPENSSL_cleanse(text, sizeof text);
	return r;
}

int
scv_auth_secret_load(const char *path, struct scv_auth_secret *ret_secret, char *err, size_t errlen)
{
	int fd, r;

	for (int attempt = 0; attempt < 2; attempt++) {
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			r = secret_read(fd, ret_secret, err, errlen);
			close(fd);
			return r;
		}
		if (errno != ENOENT || attempt > 0)
			break;
		r = secret_create(path, err, errlen);
		if (r < 0)
			return r;
	}
	r = -errno;
	set_err(err, errlen, "cannot open the token secret file");
	return r;
}

/* ---- tokens --------------------------------------------------------------------------- */

/*
 * Bytes before base64url: version (1) | expiry ms, big-endian (8) | nonce (16) |
 * length + contact center | length + agent id | HMAC-SHA256 (32) over a domain tag and all
 * that precedes it.
 */
#define TOKEN_VERSION 1
#define NONCE_LEN     16
#define MAC_LEN       32
#define TOKEN_FIXED   (1 + 8 + NONCE_LEN + 1 + 1 + MAC_LEN)
#define TOKEN_RAW_MAX (TOKEN_FIXED + 2 * SCV_AUTH_NAME_MAX)
#define MAC_TAG       "scvbridge agent token v1"

static int
name_ok(const char *s, size_t *ret_len)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > SCV_AUTH_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	*ret_len = n;
	return 1;
}

static int
token_mac(const struct scv_auth_secret *secret, const uint8_t *body, size_t len, uint8_t *mac)
{
	uint8_t msg[sizeof MAC_TAG + TOKEN_RAW_MAX];
	unsigned int mlen = 0;

	memcpy(msg, MAC_TAG, sizeof MAC_TAG); /* the NUL separates tag and body */
	memcpy(msg + sizeof MAC_TAG, body, len);
	if (!HMAC(EVP_sha256(), secret->key, sizeof secret->key, msg, sizeof MAC_TAG + len, mac,
	          &mlen) ||
	    mlen != MAC_LEN)
		return -EIO;
	return 0;
}

int
scv_auth_token_issue(const struct scv_auth_secret *secret, const char *contact_center,
                     const char *agent_id, int64_t expires_ms, char *buf, size_t buflen)
{
	uint8_t raw[TOKEN_RAW_MAX];
	size_t cl, al, n = 0;
	uint64_t e = (uint64_t)expires_ms;

	if (!name_ok(contact_center, &cl) || !name_ok(agent_id, &al) || expires_ms < 0 ||
	    buflen < SCV_AUTH_TOKEN_MAX)
		return -EINVAL;
	raw[n++] = TOKEN_VERSION;
	for (int i = 7; i >= 0; i--)
		raw[n++] = (uint8_t)(e >> (8 * i));
	if (RAND_bytes(raw + n, NONCE_LEN) != 1)
		return -EIO;
	n += NONCE_LEN;
	raw[n++] = (uint8_t)cl;
	memcpy(raw + n, contact_center, cl);
	n += cl;
	raw[n++] = (uint8_t)al;
	memcpy(raw + n, agent_id, al);
	n += al;
	if (token_mac(secret, raw, n, raw + n) < 0)
		return -EIO;
	n += MAC_LEN;
	b64_encode(raw, n, buf);
	return 0;
}

int
scv_auth_token_verify(const struct scv_auth_secret *secret, const char *token, int64_t now_ms,
                      struct scv_auth_binding *ret_binding)
{
	uint8_t raw[TOKEN_RAW_MAX], mac[MAC_LEN];
	struct scv_auth_binding b;
	size_t len, body, off, cl, al;
	ssize_t n;
	uint64_t e = 0;

	len = token ? strnlen(token, SCV_AUTH_TOKEN_MAX) : SCV_AUTH_TOKEN_MAX;
	if (len >= SCV_AUTH_TOKEN_MAX)
		return -EBADMSG;
	n = b64_decode(token, len, raw, sizeof raw);
	if (n < TOKEN_FIXED + 2 || raw[0] != TOKEN_VERSION)
		return -EBADMSG;
	body = (size_t)n - MAC_LEN;
	if (token_mac(secret, raw, body, mac) < 0)
		return -EIO;
	if (CRYPTO_memcmp(mac, raw + body, MAC_LEN) != 0)
		return -EKEYREJECTED;
	/* authentic from here on: the layout was written by us, check it anyway */
	off = 1 + 8 + NONCE_LEN;
	cl = raw[off++];
	if (cl == 0 || cl > SCV_AUTH_NAME_MAX || off + cl + 1 > body)
		return -EBADMSG;
	memcpy(b.contact_center, raw + off, cl);
	b.contact_center[cl] = '\0';
	off += cl;
	al = raw[off++];
	if (al == 0 || al > SCV_AUTH_NAME_MAX || off + al != body)
		return -EBADMSG;
	memcpy(b.agent_id, raw + off, al);
	b.agent_id[al] = '\0';
	for (int i = 1; i <= 8; i++)
		e = e << 8 | raw[i];
	if (e > INT64_MAX)
		return -EBADMSG;
	b.expires_ms = (int64_t)e;
	if (now_ms >= b.expires_ms)
		return -EKEYEXPIRED;
	*ret_binding = b;
	return 0;
}

const char *
scv_auth_token_strerror(int err)
{
	switch (err) {
	case -EBADMSG:
		return "malformed";
	case -EKEYREJECTED:
		return "forged";
	case -EKEYEXPIRED:
		return "expired";
	}
	return "invalid";
}

/* ---- failure limiter ------------------------------------------------------------------ */

struct entry {
	int used;
	unsigned failures;
	int64_t last_ms;
	int64_t locked_until;
	char key[SCV_AUTH_KEY_MAX + 1];
};

struct table {
	struct entry *e;
	size_t count;
};

struct scv_auth_limiter {
	struct scv_auth_limits l;
	struct table agents;
	struct table sources;
};

void
scv_auth_limits_default(struct scv_auth_limits *l)
{
	l->free_failures = 5;
	l->base_ms = 30 * 1000;
	l->cap_ms = 15 * 60 * 1000;
	l->forget_ms = 60 * 60 * 1000;
	l->max_entries = 4096;
}

int
scv_auth_limiter_new(const struct scv_auth_limits *l, struct scv_auth_limiter **ret_limiter)
{
	struct scv_auth_limiter *lim;

	lim = calloc(1, sizeof *lim);
	if (!lim)
		return -ENOMEM;
	if (l)
		lim->l = *l;
	else
		scv_auth_limits_default(&lim->l);
	if (lim->l.free_failures == 0 || lim->l.base_ms <= 0 || lim->l.cap_ms < lim->l.base_ms ||
	    lim->l.forget_ms <= 0 || lim->l.max_entries == 0 || lim->l.max_entries > 1u << 20) {
		free(lim);
		return -EINVAL;
	}
	lim->agents.e = calloc(lim->l.max_entries, sizeof(struct entry));
	lim->sources.e = calloc(lim->l.max_entries, sizeof(struct entry));
	if (!lim->agents.e || !lim->sources.e) {
		scv_auth_limiter_free(lim);
		return -ENOMEM;
	}
	*ret_limiter = lim;
	return 0;
}

void
scv_auth_limiter_free(struct scv_auth_limiter *lim)
{
	if (!lim)
		return;
	free(lim->agents.e);
	lim->agents.e = NULL;
	free(lim->sources.e);
	lim->sources.e = NULL;
	free(lim);
}

static void
entry_drop(struct table *t, struct entry *e)
{
	memset(e, 0, sizeof *e);
	t->count--;
}

/* The entry for key, forgetting stale ones on the way; NULL if none. */
static struct entry *
table_find(struct scv_auth_limiter *lim, struct table *t, const char *key, int64_t now_ms)
{
	struct entry *found = NULL;

	for (size_t i = 0; i < lim->l.max_entries; i++) {
		struct entry *e = &t->e[i];

		if (!e->used)
			continue;
		if (e->locked_until <= now_ms && now_ms - e->last_ms >= lim->l.forget_ms) {
			entry_drop(t, e);
			continue;
		}
		if (!found && strncmp(e->key, key, SCV_AUTH_KEY_MAX) == 0)
			found = e;
	}
	return found;
}

/* A slot for a new key: a free one, else the oldest unlocked entry, else the entry whose
 * lock ends first. */
static struct entry *
table_slot(struct scv_auth_limiter *lim, struct table *t, int64_t now_ms)
{
	struct entry *oldest = NULL, *soonest = NULL;

	for (size_t i = 0; i < lim->l.max_entries; i++) {
		struct entry *e = &t->e[i];

		if (!e->used)
			return e;
		if (e->locked_until <= now_ms) {
			if (!oldest || e->last_ms < oldest->last_ms)
				oldest = e;
		} else if (!soonest || e->locked_until < soonest->locked_until)
			soonest = e;
	}
	if (!oldest)
		oldest = soonest;
	entry_drop(t, oldest);
	return oldest;
}

static int64_t
table_wait(struct scv_auth_limiter *lim, struct table *t, const char *key, int64_t now_ms)
{
	struct entry *e;

	if (!key)
		return 0;
	e = table_find(lim, t, key, now_ms);
	return e && e->locked_until > now_ms ? e->locked_until - now_ms : 0;
}

int
scv_auth_limiter_check(struct scv_auth_limiter *lim, const char *agent, const char *source,
                       int64_t now_ms, int64_t *ret_retry_ms)
{
	int64_t a = table_wait(lim, &lim->agents, agent, now_ms);
	int64_t s = table_wait(lim, &lim->sources, source, now_ms);

	if (a == 0 && s == 0)
		return 0;
	*ret_retry_ms = a > s ? a : s;
	return -EAGAIN;
}

static void
table_failure(struct scv_auth_limiter *lim, struct table *t, const char *key, int64_t now_ms)
{
	struct entry *e;

	if (!key)
		return;
	e = table_find(lim, t, key, now_ms);
	if (!e) {
		e = table_slot(lim, t, now_ms);
		e->used = 1;
		snprintf(e->key, sizeof e->key, "%s", key);
		t->count++;
	}
	e->failures++;
	e->last_ms = now_ms;
	if (e->failures >= lim->l.free_failures) {
		unsigned k = e->failures - lim->l.free_failures;
		int64_t lock = lim->l.cap_ms;

		if (k < 40 && lim->l.base_ms <= lim->l.cap_ms >> k)
			lock = lim->l.base_ms << k;
		e->locked_until = now_ms + lock;
	}
}

void
scv_auth_limiter_failure(struct scv_auth_limiter *lim, const char *agent, const char *source,
                         int64_t now_ms)
{
	table_failure(lim, &lim->agents, agent, now_ms);
	table_failure(lim, &lim->sources, source, now_ms);
}

void
scv_auth_limiter_success(struct scv_auth_limiter *lim, const char *agent)
{
	if (!agent)
		return;
	for (size_t i = 0; i < lim->l.max_entries; i++) {
		struct entry *e = &lim->agents.e[i];

		if (e->used && strncmp(e->key, agent, SCV_AUTH_KEY_MAX) == 0) {
			entry_drop(&lim->agents, e);
			return;
		}
	}
}

size_t
scv_auth_limiter_count(const struct scv_auth_limiter *lim, int sources)
{
	return sources ? lim->sources.count : lim->agents.count;
}

int
scv_auth_source_key(const struct sockaddr *sa, char *buf, size_t buflen)
{
	char text[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;

		if (!inet_ntop(AF_INET, &in4->sin_addr, text, sizeof text))
			return -EAFNOSUPPORT;
		snprintf(buf, buflen, "%s", text);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		struct in6_addr a = in6->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(&a)) {
			if (!inet_ntop(AF_INET, a.s6_addr + 12, text, sizeof text))
				return -EAFNOSUPPORT;
			snprintf(buf, buflen, "%s", text);
			return 0;
		}
		memset(a.s6_addr + 8, 0, 8);
		if (!inet_ntop(AF_INET6, &a, text, sizeof text))
			return -EAFNOSUPPORT;
		snprintf(buf, buflen, "%s/64", text);
		return 0;
	}
	return -EAFNOSUPPORT;
}
