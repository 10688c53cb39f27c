#include "connector/e164.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#define E164_MIN_DIGITS 7
#define E164_MAX_DIGITS 15
/* The longest input any rule can use: "00" and 15 digits; more digits are refused early. */
#define IN_MAX_DIGITS (2 + E164_MAX_DIGITS)

static int
is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int
is_separator(char ch)
{
	return ch == ' ' || ch == '-' || ch == '.' || ch == '(' || ch == ')';
}

/* A country code is 1 to 3 digits, the first not 0. */
static int
cc_valid(const char *cc)
{
	size_t n = strlen(cc);

	if (n < 1 || n > 3 || cc[0] == '0')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_digit(cc[i]))
			return 0;
	return 1;
}

int
e164_valid(const char *s)
{
	size_t n = 0;

	if (!s || s[0] != '+' || s[1] < '1' || s[1] > '9')
		return 0;
	for (s++; *s; s++, n++)
		if (!is_digit(*s))
			return 0;
	return n >= E164_MIN_DIGITS && n <= E164_MAX_DIGITS;
}

/*
 * in may carry a "tel:" prefix (any case), visual separators and URI parameters. default_cc
 * NULL or "" means no default country code; a malformed one is refused (-EINVAL).
 */
int
e164_normalize(const char *in, const char *default_cc, char *out, size_t outlen)
{
	char digits[IN_MAX_DIGITS + 1];
	char num[1 + E164_MAX_DIGITS + 3 + 1]; /* room for "+", cc and digits before the check */
	size_t nd = 0, len;
	int plus = 0;
	const char *d;

	if (!in)
		return -EINVAL;
	if (default_cc && default_cc[0] == '\0')
		default_cc = NULL;
	if (default_cc && !cc_valid(default_cc))
		return -EINVAL;
	if (strncasecmp(in, "tel:", 4) == 0)
		in += 4;

	for (const char *p = in; *p && *p != ';'; p++) {
		if (is_separator(*p))
			continue;
		if (*p == '+' && nd == 0 && !plus) {
			plus = 1;
			continue;
		}
		if (!is_digit(*p) || nd == IN_MAX_DIGITS)
			return -EINVAL;
		digits[nd++] = *p;
	}
	digits[nd] = '\0';

	d = digits;
	if (plus) {
		num[0] = '\0';
	} else if (nd >= 2 && digits[0] == '0' && digits[1] == '0') {
		num[0] = '\0';
		d = digits + 2;
	} else if (nd >= 1 && digits[0] == '0' && default_cc) {
		strcpy(num, default_cc);
		d = digits + 1;
	} else if (nd >= 11 && nd <= E164_MAX_DIGITS) {
		num[0] = '\0';
	} else if (nd < 11 && default_cc) {
		strcpy(num, default_cc);
	} else {
		return -EINVAL;
	}
	/* num holds the country code (at most 3 digits) and d at most IN_MAX_DIGITS. */
	if (strlen(num) + strlen(d) > E164_MAX_DIGITS)
		return -EINVAL;
	memmove(num + 1, num, strlen(num) + 1);
	num[0] = '+';
	strcat(num, d);
	if (!e164_valid(num))
		return -EINVAL;
	len = strlen(num);
	if (len + 1 > outlen)
		return -ENOSPC;
	memcpy(out, num, len + 1);
	return 0;
}
