#include "tests/emulator/faults.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_PREFIX     "/telephony/v1"
#define MAX_LATENCY_MS 600000

struct fault {
	struct fault *next;
	struct emu_fault_action action;
	char *match;    /* as given, for the dump */
	char *method;   /* NULL: any */
	char *pattern;  /* NULL: any path */
	long remaining; /* -1: until cleared */
	unsigned long hits;
};

static struct fault *faults, **faults_tail = &faults;
static int next_id = 1;

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void
fault_free(struct fault *f)
{
	free(f->match);
	free(f->method);
	free(f->pattern);
	free(f);
}

static int
parse_match(struct fault *f, const char *match, char *err, size_t errlen)
{
	const char *sp = strchr(match, ' ');
	const char *path = NULL;

	if (sp) {
		f->method = strndup(match, (size_t)(sp - match));
		path = sp + 1;
	} else if (match[0] == '/') {
		path = match;
	} else if (match[0]) {
		f->method = strdup(match);
	}
	if (path) {
		if (strncmp(path, API_PREFIX, strlen(API_PREFIX)) == 0 &&
		    (path[strlen(API_PREFIX)] == '/' || !path[strlen(API_PREFIX)]))
			path += strlen(API_PREFIX);
		if (path[0] != '/' && path[0])
			return fail(err, errlen, "match path must start with /");
		f->pattern = strdup(path);
		if (!f->pattern)
			return fail(err, errlen, "out of memory");
	}
	f->match = strdup(match);
	if (!f->match || (sp && !f->method))
		return fail(err, errlen, "out of memory");
	return 0;
}

static int
get_int(json_t *spec, const char *name, long lo, long hi, long *ret, char *err, size_t errlen)
{
	json_t *v = json_object_get(spec, name);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return fail(err, errlen, "%s must be an integer in %ld..%ld", name, lo, hi);
	*ret = (long)json_integer_value(v);
	return 0;
}

int
emu_faults_add(json_t *spec, int *ret_id, char *err, size_t errlen)
{
	static const char *const known[] = {"match",     "status", "retryAfter",
	                                    "latencyMs", "drop",   "count"};
	struct fault *f;
	const char *name, *drop;
	json_t *v;
	long status = 0, retry_after = -1, latency = 0, count = -1;

	if (!json_is_object(spec))
		return fail(err, errlen, "a fault is a JSON object");
	json_object_foreach(spec, name, v)
	{
		size_t i;

		for (i = 0; i < sizeof known / sizeof known[0]; i++)
			if (strcmp(name, known[i]) == 0)
				break;
		if (i == sizeof known / sizeof known[0])
			return fail(err, errlen, "unknown field %s", name);
	}
	if (get_int(spec, "status", 100, 599, &status, err, errlen) ||
	    get_int(spec, "retryAfter", 0, 86400, &retry_after, err, errlen) ||
	    get_int(spec, "latencyMs", 0, MAX_LATENCY_MS, &latency, err, errlen) ||
	    get_int(spec, "count", 1, 1000000000, &count, err, errlen))
		return -EINVAL;
	v = json_object_get(spec, "match");
	if (v && !json_is_string(v))
		return fail(err, errlen, "match must be a string");
	v = json_object_get(spec, "drop");
	drop = json_string_value(v);
	if (v && (!drop || (strcmp(drop, "before") != 0 && strcmp(drop, "after") != 0)))
		return fail(err, errlen, "drop must be \"before\" or \"after\"");

	f = calloc(1, sizeof *f);
	if (!f)
		return fail(err, errlen, "out of memory");
	v = json_object_get(spec, "match");
	if (v && parse_match(f, json_string_value(v), err, errlen) < 0) {
		fault_free(f);
		return -EINVAL;
	}
	f->action.id = next_id++;
	f->action.status = (int)status;
	f->action.retry_after = (int)retry_after;
	f->action.latency_ms = (int)latency;
	f->action.drop = !drop                         ? EMU_DROP_NONE
	                 : strcmp(drop, "before") == 0 ? EMU_DROP_BEFORE
	                                               : EMU_DROP_AFTER;
	f->remaining = count;
	*faults_tail = f;
	faults_tail = &f->next;
	*ret_id = f->action.id;
	return 0;
}

/* Segment-aware prefix match with '*' for one segment and a final '$' for "whole path". */
static bool
path_matches(const char *pat, const char *path)
{
	while (*pat) {
		if (*pat == '*') {
			while (*path && *path != '/')
				path++;
			pat++;
		} else if (pat[0] == '$' && !pat[1]) {
			return *path == '\0';
		} else if (*pat == *path) {
			pat++;
			path++;
		} else {
			return false;
		}
	}
	return *path == '\0' || *path == '/' || path[-1] == '/';
}

int
emu_faults_take(const char *method, const char *path, struct emu_fault_action *ret)
{
	struct fault **pp, *f;

	if (strncmp(path, API_PREFIX, strlen(API_PREFIX)) == 0 &&
	    (path[strlen(API_PREFIX)] == '/' || !path[strlen(API_PREFIX)]))
		path += strlen(API_PREFIX);
	for (pp = &faults; (f = *pp); pp = &f->next) {
		if (f->method && strcmp(f->method, method) != 0)
			continue;
		if (f->pattern && !path_matches(f->pattern, path))
			continue;
		*ret = f->action;
		f->hits++;
		if (f->remaining > 0 && --f->remaining == 0) {
			*pp = f->next;
			if (faults_tail == &f->next)
				faults_tail = pp;
			fault_free(f);
		}
		return 1;
	}
	return 0;
}

json_t *
emu_faults_dump(void)
{
	json_t *arr = json_array();

	for (struct fault *f = faults; f; f = f->next) {
		json_t *j = json_pack("{s:i, s:I, s:I}", "id", f->action.id, "hits",
		                      (json_int_t)f->hits, "remaining", (json_int_t)f->remaining);

		if (f->match)
			json_object_set_new(j, "match", json_string(f->match));
		if (f->action.status)
			json_object_set_new(j, "status", json_integer(f->action.status));
		if (f->action.retry_after >= 0)
			json_object_set_new(j, "retryAfter", json_integer(f->action.retry_after));
		if (f->action.latency_ms)
			json_object_set_new(j, "latencyMs", json_integer(f->action.latency_ms));
		if (f->action.drop != EMU_DROP_NONE)
			json_object_set_new(j, "drop",
			                    json_string(f->action.drop == EMU_DROP_BEFORE
			                                        ? "before"
			                                        : "after"));
		json_array_append_new(arr, j);
	}
	return arr;
}

void
emu_faults_reset(void)
{
	struct fault *f, *next;

	for (f = faults; f; f = next) {
		next = f->next;
		fault_free(f);
	}
	faults = NULL;
	faults_tail = &faults;
}
