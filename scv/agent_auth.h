/*
 * Agent authentication for the agent endpoint: password hashes (scrypt), the tokens the
 * login hands out (HMAC-SHA256, no server-side table), and the failure rate limits.
 *
 * Threads: scv_auth_hash_password() and scv_auth_verify_password() are slow on purpose
 * (tens of milliseconds, tens of MiB) and touch no shared mutable state, so they can run on
 * libuv's thread pool (uv_queue_work) with their arguments copied into the work request.
 * Everything else here is for the loop thread: the limiter is not locked.
 */
#ifndef SCVB_SCV_AGENT_AUTH_H
#define SCVB_SCV_AGENT_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* ---- passwords ------------------------------------------------------------------------ */

/*
 * The stored form: "scrypt$<N>$<r>$<p>$<salt>$<hash>", salt and hash in base64url without
 * padding, N a power of two. Parsing bounds N to 2^10..2^20, r to 1..32, p to 1..16, salt to
 * 8..64 bytes, hash to 16..64 bytes, and the memory scrypt needs (128·r·N) to 64 MiB, so a
 * configuration cannot make one verification allocate more than that.
 */
#define SCV_AUTH_HASH_MAX       256
#define SCV_AUTH_PASSWORD_MAX   1024 /* bytes; longer passwords are refused, not cut */
#define SCV_AUTH_SCRYPT_N       32768
#define SCV_AUTH_SCRYPT_R       8
#define SCV_AUTH_SCRYPT_P       1
#define SCV_AUTH_SCRYPT_MAX_MEM (64u * 1024 * 1024)

struct scv_auth_scrypt {
	uint64_t n;
	uint32_t r;
	uint32_t p;
};

/* Hashes a password with a fresh 16-byte salt into buf (SCV_AUTH_HASH_MAX bytes is always
 * enough). params NULL: the defaults above. 0, -EINVAL (bad parameters, password too long,
 * buf too small), -EIO (no randomness), -ENOMEM. */
int scv_auth_hash_password(const char *password, size_t len, const struct scv_auth_scrypt *params,
                           char *buf, size_t buflen);

/* 0 when password matches hash (compared in constant time), -EACCES when it does not,
 * -EINVAL when hash is malformed or out of bounds, -ENOMEM. */
int scv_auth_verify_password(const char *password, size_t len, const char *hash);

/* Parses hash without running scrypt (for the configuration check): 0 or -EINVAL with a
 * one-line reason in err. */
int scv_auth_hash_check(const char *hash, char *err, size_t errlen);

/* A well-formed hash matching no password: verify against it for an unknown user name, so
 * that the answer takes as long as for a known one. */
const char *scv_auth_decoy_hash(void);

/* ---- tokens --------------------------------------------------------------------------- */

#define SCV_AUTH_SECRET_LEN 32
#define SCV_AUTH_NAME_MAX   64  /* contact center name, agent id: 1..64 bytes, no controls */
#define SCV_AUTH_TOKEN_MAX  256 /* characters, NUL included */

struct scv_auth_secret {
	uint8_t key[SCV_AUTH_SECRET_LEN];
};

/*
 * Loads the token secret from path (64 hex digits and a newline), or, when path does not
 * exist, creates it with a random secret, mode 0600, atomically (no reader ever sees a
 * partial file; two processes racing end up with the same secret). A file readable by group
 * or others is refused (-EPERM), and so is a symbolic link. 0 or a negative errno with a one-line reason in err.
 */
int scv_auth_secret_load(const char *path, struct scv_auth_secret *ret_secret, char *err,
                         size_t errlen);

struct scv_auth_binding {
	char contact_center[SCV_AUTH_NAME_MAX + 1];
	char agent_id[SCV_AUTH_NAME_MAX + 1];
	int64_t expires_ms; /* ms since the epoch */
};

/*
 * A token for {contact center, agent id, expiry, a random 16-byte nonce}: base64url of those
 * and their HMAC-SHA256 under the secret. Opaque to the browser. buf: SCV_AUTH_TOKEN_MAX
 * bytes. 0, -EINVAL (a name empty, too long or with control characters), -EIO (no
 * randomness).
 */
int scv_auth_token_issue(const struct scv_auth_secret *secret, const char *contact_center,
                         const char *agent_id, int64_t expires_ms, char *buf, size_t buflen);

/*
 * Checks a token at now_ms (ms since the epoch): 0 with ret_binding written, -EBADMSG
 * malformed, -EKEYREJECTED forged (the MAC does not match; compared in constant time),
 * -EKEYEXPIRED expired (now_ms >= expiry).
 */
int scv_auth_token_verify(const struct scv_auth_secret *secret, const char *token, int64_t now_ms,
                          struct scv_auth_binding *ret_binding);

/* "malformed", "forged", "expired" for the codes above, else "invalid". */
const char *scv_auth_token_strerror(int err);

/* ---- failure rate limits -------------------------------------------------------------- */

/*
 * Failures are counted per agent and per source. free_failures failures are free; each one
 * after that locks the key out for base_ms · 2^k (k = 0, 1, ...), at most cap_ms. A key whose
 * last failure is older than forget_ms (and that is not locked) is forgotten. Each table holds
 * at most max_entries keys in memory allocated once: when it is full, the oldest unlocked
 * entry makes room (else the one whose lock ends first), so a flood of sources costs no
 * memory and cannot push out a lock-out while unlocked entries remain.
 *
 * A success clears the agent's entry only: a source's failures just age out, so one valid
 * account does not let its owner keep guessing others' passwords.
 */
struct scv_auth_limits {
	unsigned free_failures; /* 5 */
	int64_t base_ms;        /* 30 s */
	int64_t cap_ms;         /* 15 min */
	int64_t forget_ms;      /* 1 h */
	size_t max_entries;     /* 4096 a table */
};

#define SCV_AUTH_KEY_MAX 160 /* an agent or source key, bytes */

struct scv_auth_limiter;

void scv_auth_limits_default(struct scv_auth_limits *l);
/* l NULL: the defaults. 0, -EINVAL, -ENOMEM. */
int scv_auth_limiter_new(const struct scv_auth_limits *l, struct scv_auth_limiter **ret_limiter);
void scv_auth_limiter_free(struct scv_auth_limiter *lim);

/*
 * May an attempt for agent (e.g. "<contact center>/<user name>") from source go ahead? 0, or
 * -EAGAIN with the milliseconds until it may, rounded up, in ret_retry_ms. Either key may be
 * NULL (not checked). Keys longer than SCV_AUTH_KEY_MAX are cut there.
 */
int scv_auth_limiter_check(struct scv_auth_limiter *lim, const char *agent, const char *source,
                           int64_t now_ms, int64_t *ret_retry_ms);
void scv_auth_limiter_failure(struct scv_auth_limiter *lim, const char *agent, const char *source,
                              int64_t now_ms);
void scv_auth_limiter_success(struct scv_auth_limiter *lim, const char *agent);
/* Entries held in the agent and source tables (for tests and metrics). */
size_t scv_auth_limiter_count(const struct scv_auth_limiter *lim, int sources);

/* The source key of a peer address: the IPv4 address, or the IPv6 /64 (one host usually
 * holds a whole /64); an IPv4-mapped IPv6 address counts as IPv4. buf: 64 bytes. 0 or
 * -EAFNOSUPPORT. */
int scv_auth_source_key(const struct sockaddr *sa, char *buf, size_t buflen);

#endif
