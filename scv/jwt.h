/*
 * JWT bearer tokens for the Telephony Integration REST API: RS256 (RSASSA-PKCS1-v1_5, SHA-256)
 * signed with the contact center's private key; claims iss = org id, sub = call center API
 * name, iat, exp = iat + 300 s (no aud).
 *
 * RSA signing costs ~0.5 ms of CPU, so it must not sit on the per-call path: in the default
 * reuse mode one token (without jti) serves every request until 60 s before it expires. The
 * per-request mode signs a fresh token with a fresh UUIDv4 jti each time, for orgs that want
 * Salesforce's replay check.
 */
#ifndef SCVB_SCV_JWT_H
#define SCVB_SCV_JWT_H

#include <stddef.h>
#include <stdint.h>

#define SCV_JWT_LIFETIME_S       300
#define SCV_JWT_REFRESH_MARGIN_S 60

struct scv_signer;

/*
 * Checks that path is a readable PEM RSA private key of at least 2048 bits.
 * 0, or a negative errno-style code with a one-line reason in err.
 */
int scv_key_check(const char *path, char *err, size_t errlen);

/* Loads the key. per_request_jti: 0 = reuse mode, 1 = a fresh token and jti per request. */
int scv_signer_new(const char *key_path, const char *iss, const char *sub, int per_request_jti,
                   struct scv_signer **ret_signer, char *err, size_t errlen);

/*
 * A token valid at `now` (seconds since the epoch). The returned string is owned by the
 * signer and valid until the next call on the same signer or scv_signer_free().
 */
int scv_signer_token(struct scv_signer *signer, int64_t now, const char **ret_token);

/* How many RSA signatures this signer has made (for tests and benchmarks). */
uint64_t scv_signer_sign_count(const struct scv_signer *signer);

void scv_signer_free(struct scv_signer *signer);

#endif
