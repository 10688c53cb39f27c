/*
 * Bearer-token checks for /telephony/v1, as Salesforce documents them (reference §2) plus the
 * emulator's declared choices (§9): RS256 only, sub = a configured call center API name,
 * iss = that call center's org id, exp > now - skew, exp - iat <= max lifetime, iat and nbf not
 * in the future beyond skew, aud absent or https://scrt.salesforce.com, and a jti never seen
 * before. Seen jtis are forgotten once their token could no longer be accepted anyway.
 */
#ifndef EMU_JWT_H
#define EMU_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct emu_cc {
	const char *name; /* callCenterApiName, the JWT sub */
	const char *org;  /* org id, the JWT iss */
};

/* What the token claimed, for the request log, filled as far as it could be decoded. */
struct emu_claims {
	bool decoded;
	bool has_iss, has_sub, has_jti;
	char iss[64];
	char sub[256];
	char jti[256];
};

/*
 * Adds a call center from "API_NAME:ORG_ID:PEM_PATH"; the PEM holds an X.509 certificate or
 * a PUBLIC KEY (RSA). 0, or a negative errno-style code with the reason in err.
 */
int emu_jwt_add_cc(const char *spec, char *err, size_t errlen);
void emu_jwt_set_limits(int64_t max_lifetime_s, int64_t skew_s);
int64_t emu_jwt_skew_s(void);
size_t emu_jwt_cc_count(void);
const struct emu_cc *emu_jwt_cc_at(size_t i);

/*
 * Checks an Authorization header value (may be NULL) at now_ms. 0 with *ret_cc set (owned by
 * this module), or -EACCES with a one-line reason in why. claims is always written.
 */
int emu_jwt_check(const char *authorization, int64_t now_ms, const struct emu_cc **ret_cc,
                  struct emu_claims *claims, char *why, size_t whylen);

/* Forgets seen jtis and cached tokens (control API reset). */
void emu_jwt_forget(void);
void emu_jwt_free(void);

#endif
