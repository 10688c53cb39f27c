/* The recording report's body (see recording.h). */
#include "scv/recording.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#define STR_(x) #x
#define STR(x)  STR_(x)

/* Why url cannot be a recording location, or NULL when it can. */
static const char *
check_url(const char *u, size_t len)
{
	size_t chars = 0;
	const char *rest;

	for (size_t i = 0; i < len; i++)
		chars += ((unsigned char)u[i] & 0xc0) != 0x80;
	if (chars > SCV_RECORDING_MAX_URL)
		return "url: longer than " STR(SCV_RECORDING_MAX_URL) " characters";
	if (!strncasecmp(u, "https://", 8))
		rest = u + 8;
	else if (!strncasecmp(u, "http://", 7))
		rest = u + 7;
	else
		return "url: expected an http:// or https:// URL";
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f)
			return "url: spaces, control and non-ASCII characters must be "
			       "percent-encoded";
	if (strcspn(rest, "/?#") == 0)
		return "url: no host";
	return NULL;
}

int
scv_recording_parse(const char *body, size_t len, char **ret_url, long *ret_duration_s, char *why,
                    size_t whylen)
{
	const char *bad = NULL, *field;
	json_error_t jerr;
	json_t *root, *v;
	long duration = -1;
	char *url;

	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(why, whylen, "body: not valid JSON (line %d, column %d: %s)", jerr.line,
		         jerr.column, jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		bad = "body: expected a JSON object";
		goto out_bad;
	}
	for (void *it = json_object_iter(root); it; it = json_object_iter_next(root, it)) {
		field = json_object_iter_key(it);
		if (strcmp(field, "url") && strcmp(field, "duration")) {
			snprintf(why, whylen, "%.64s: unknown field", field);
			json_decref(root);
			return -EINVAL;
		}
	}
	v = json_object_get(root, "url");
	if (!v) {
		bad = "url: required";
		goto out_bad;
	}
	if (!json_is_string(v)) {
		bad = "url: expected a string";
		goto out_bad;
	}
	bad = check_url(json_string_value(v), json_string_length(v));
	if (bad)
		goto out_bad;
	url = strdup(json_string_value(v));
	v = json_object_get(root, "duration");
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > INT32_MAX) {
			free(url);
			bad = "duration: expected a whole number of seconds, 0 or more";
			goto out_bad;
		}
		duration = (long)json_integer_value(v);
	}
	json_decref(root);
	if (!url)
		return -ENOMEM;
	*ret_url = url;
	*ret_duration_s = duration;
	return 0;

out_bad:
	snprintf(why, whylen, "%s", bad);
	json_decref(root);
	return -EINVAL;
}
