/*
 * Request bodies of the Telephony Integration REST API (see body.h and
 * reference/salesforce-telephony-api.md §4.1, §4.2, §8). Pure functions over jansson.
 *
 * Strings that do not hold valid UTF-8 (a SIP header may carry Latin-1) are repaired with
 * U+FFFD rather than refused, so a stray byte in a caller's display name cannot stop a
 * VoiceCall from being recorded.
 */
#include "scv/body.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#define MAX_RESPONSE           (64 * 1024)
#define MAX_RECORDING_LOCATION 1000 /* characters [PT-REC] */
#define MAX_ID                 64   /* Salesforce ids are 15 or 18 characters */

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, UTF-16 surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* A JSON string of s; invalid UTF-8 bytes become U+FFFD. NULL only when memory ran out. */
static json_t *
jstr(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, o = 0, l;
	json_t *j;
	char *fixed;

	j = json_stringn(s, n);
	if (j)
		return j;
	fixed = malloc(n * 3 + 1);
	if (!fixed)
		return NULL;
	while (i < n) {
		l = utf8_seq(u + i, n - i);
		if (l) {
			memcpy(fixed + o, s + i, l);
			o += l;
			i += l;
		} else {
			memcpy(fixed + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	j = json_stringn(fixed, o);
	free(fixed);
	return j;
}

/* Sets key to the string s (required: NULL s fails). 0 or -1. */
static int
set_str(json_t *o, const char *key, const char *s)
{
	if (!s)
		return -1;
	return json_object_set_new(o, key, jstr(s));
}

static int
set_int(json_t *o, const char *key, int v)
{
	if (v < 0)
		return -1;
	return json_object_set_new(o, key, json_integer(v));
}

static char *
dump(json_t *o)
{
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

/* callAttributes: the text of a JSON object, itself sent as a string value. */
static int
set_attrs(json_t *o, const struct scv_create *c)
{
	json_t *attrs;
	char *text;
	size_t i;
	int rc;

	if (c->n_attrs == 0)
		return 0;
	if (!c->attr_fields || !c->attr_values)
		return -1;
	attrs = json_object();
	if (!attrs)
		return -1;
	for (i = 0; i < c->n_attrs; i++) {
		if (!c->attr_fields[i] || !*c->attr_fields[i] || !c->attr_values[i] ||
		    set_str(attrs, c->attr_fields[i], c->attr_values[i]) != 0) {
			json_decref(attrs);
			return -1;
		}
	}
	text = dump(attrs);
	if (!text)
		return -1;
	rc = json_object_set_new(o, "callAttributes", json_string(text));
	free(text);
	return rc;
}

char *
scv_body_create(const struct scv_create *c)
{
	json_t *o, *participants, *p;
	int transfer;

	if (!c || !c->initiation_method)
		return NULL;
	transfer = strcmp(c->initiation_method, "Transfer") == 0;
	if (!transfer && strcmp(c->initiation_method, "Inbound") != 0)
		return NULL;
	if (transfer && !c->parent_voice_call_id)
		return NULL;

	o = json_object();
	if (!o)
		return NULL;
	if (set_str(o, "callCenterApiName", c->call_center_api_name) != 0 ||
	    set_str(o, "vendorCallKey", c->vendor_call_key) != 0 || set_str(o, "to", c->to) != 0 ||
	    set_str(o, "from", c->from) != 0 ||
	    set_str(o, "initiationMethod", c->initiation_method) != 0 ||
	    set_str(o, "startTime", c->start_time) != 0)
		goto fail;
	if (!c->participant_key)
		goto fail;
	participants = json_array();
	if (json_object_set_new(o, "participants", participants) != 0)
		goto fail;
	p = json_object();
	if (json_array_append_new(participants, p) != 0 ||
	    set_str(p, "participantKey", c->participant_key) != 0 ||
	    set_str(p, "type", "END_USER") != 0)
		goto fail;
	/* parentVoiceCallId and queue only mean something on a transfer leg */
	if (transfer) {
		if (set_str(o, "parentVoiceCallId", c->parent_voice_call_id) != 0 ||
		    (c->queue && set_str(o, "queue", c->queue) != 0))
			goto fail;
	}
	if (set_attrs(o, c) != 0)
		goto fail;
	return dump(o);
fail:
	json_decref(o);
	return NULL;
}

char *
scv_body_update(const struct scv_update *u)
{
	json_t *o, *reason;

	if (!u || !u->start_time || !u->end_time)
		return NULL;
	if (u->recording_location &&
	    (!*u->recording_location || strlen(u->recording_location) > MAX_RECORDING_LOCATION))
		return NULL;

	o = json_object();
	if (!o)
		return NULL;
	if (set_str(o, "startTime", u->start_time) != 0 || set_str(o, "endTime", u->end_time) != 0)
		goto fail;
	if (u->accept_time && set_str(o, "acceptTime", u->accept_time) != 0)
		goto fail;
	if (u->disconnect_value) {
		reason = json_object();
		if (json_object_set_new(o, "disconnectReason", reason) != 0 ||
		    set_str(reason, "value", u->disconnect_value) != 0 ||
		    json_object_set_new(reason, "isError", json_boolean(u->disconnect_is_error)) !=
		            0)
			goto fail;
	}
	if (u->has_holds && set_int(o, "numberOfHolds", u->number_of_holds) != 0)
		goto fail;
	/* The durations require recordingLocation [UPDATE]; without one they are left out. */
	if (u->recording_location) {
		if (set_int(o, "longestHoldDuration", u->has_holds ? u->longest_hold_s : 0) != 0 ||
		    set_int(o, "totalHoldDuration", u->has_holds ? u->total_hold_s : 0) != 0 ||
		    set_int(o, "agentInteractionDuration", u->agent_interaction_s) != 0 ||
		    set_int(o, "totalRecordingDuration", u->total_recording_s) != 0 ||
		    set_str(o, "recordingLocation", u->recording_location) != 0)
			goto fail;
	}
	return dump(o);
fail:
	json_decref(o);
	return NULL;
}

/* Salesforce record ids are alphanumeric; anything else will not go into a URL path. */
static int
valid_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MAX_ID)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= 'a' && ch <= 'z')))
			return 0;
	}
	return 1;
}

int
scv_parse_create_response(const char *body, size_t len, char **ret_id)
{
	json_t *root, *id;
	char *copy;
	int rc = -EINVAL;

	if (!body || len == 0 || memchr(body, '\0', len))
		return -EINVAL;
	if (len > MAX_RESPONSE)
		return -EMSGSIZE;
	root = json_loadb(body, len, 0, NULL);
	if (!json_is_object(root))
		goto out;
	/*
	 * "errors" (an array, or a string in the doc's partial-success example) does not undo
	 * the creation: whatever it holds, a voiceCallId means the record exists, and calling
	 * it a failure would only make the outbox create it twice.
	 */
	id = json_object_get(root, "voiceCallId");
	if (!json_is_string(id) || !valid_id(json_string_value(id)))
		goto out;
	copy = strdup(json_string_value(id));
	if (!copy) {
		rc = -ENOMEM;
		goto out;
	}
	*ret_id = copy;
	rc = 0;
out:
	json_decref(root);
	return rc;
}

char *
scv_body_omniflow(const char *dialed_number, const char *flow_dev_name, const char *fallback_queue)
{
	json_t *o;

	if (!dialed_number)
		return NULL;
	o = json_object();
	if (!o || set_str(o, "dialedNumber", dialed_number) != 0 ||
	    (flow_dev_name && set_str(o, "flowDevName", flow_dev_name) != 0) ||
	    (fallback_queue && set_str(o, "fallbackQueue", fallback_queue) != 0)) {
		json_decref(o);
		return NULL;
	}
	return dump(o);
}

/* A routing id from Salesforce: printable, no spaces, bounded (it is looked up, not trusted). */
static char *
routing_id(json_t *v)
{
	const char *s = json_string_value(v);
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s);
	if (n == 0 || n > MAX_ID * 4)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return NULL;
	return strdup(s);
}

int
scv_parse_omniflow_response(const char *body, size_t len, char **ret_agent, char **ret_queue)
{
	json_t *root;
	int rc = -EINVAL;

	if (!body || len == 0 || memchr(body, '\0', len))
		return -EINVAL;
	if (len > MAX_RESPONSE)
		return -EMSGSIZE;
	root = json_loadb(body, len, 0, NULL);
	if (json_is_object(root)) {
		*ret_agent = routing_id(json_object_get(root, "agent"));
		*ret_queue = routing_id(json_object_get(root, "queue"));
		rc = 0;
	}
	json_decref(root);
	return rc;
}

void
scv_iso8601(long long ts_us, char out[32])
{
	long long sec = ts_us / 1000000, us = ts_us % 1000000;
	char buf[96];
	time_t t;
	struct tm tm;

	if (us < 0) { /* floor for times before 1970 */
		us += 1000000;
		sec--;
	}
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
		snprintf(out, 32, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(us / 1000));
	memcpy(out, buf, 24); /* "YYYY-MM-DDTHH:MM:SS.mmmZ", the range checked above */
	out[24] = '\0';
}
