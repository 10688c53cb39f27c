/*
 * Phone numbers to E.164 ("+" then 7 to 15 digits, no leading zero after the "+").
 *
 * Rules, in order, after dropping URI parameters (";...") and visual separators (space - . ( )):
 *   "+digits"                 -> kept as is
 *   "00digits"                -> "+digits"            (international prefix)
 *   "0digits" with a default country code cc -> "+cc" + digits without the trunk "0"
 *   11 to 15 digits           -> "+digits"            (already carries a country code)
 *   fewer digits with cc      -> "+cc" + digits
 * Anything else (letters, "anonymous", short extensions without cc) is not E.164: -EINVAL.
 */
#ifndef SCVB_E164_H
#define SCVB_E164_H

#include <stddef.h>

/* 0 and the number in out (NUL-terminated), or -EINVAL / -ENOSPC. default_cc may be NULL. */
int e164_normalize(const char *in, const char *default_cc, char *out, size_t outlen);

/* 1 when s is already strict E.164. */
int e164_valid(const char *s);

#endif
