#include "tests/emulator/control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/emulator/faults.h"
#include "tests/emulator/jwt.h"
#include "tests/emulator/omniflow.h"
#include "tests/emulator/reqlog.h"
#include "tests/emulator/server.h"
#include "tests/emulator/store.h"
#include "tests/emulator/util.h"

#define MAX_LISTEN_PAUSE_MS (3600 * 1000)

static void
bad(struct emu_reply *reply, int status, const char *msg)
{
	emu_reply_json(reply, status, json_pack("{s:s}", "error", msg));
}

/* The body as a JSON object, or NULL after answering 400. */
static json_t *
body_object(const struct emu_req *req, struct emu_reply *reply)
{
	json_t *j = json_loadb(req->body ? req->body : "", req->body_len, 0, NULL);

	if (!json_is_object(j)) {
		json_decref(j);
		bad(reply, 400, "the body must be a JSON object");
		return NULL;
	}
	return j;
}

static void
voice_calls(const struct emu_req *req, struct emu_reply *reply)
{
	char *key = emu_query_get(req->query, "vendorCallKey");

	emu_reply_json(reply, 200, emu_store_dump(key));
	free(key);
}

static void
requests(const struct emu_req *req, struct emu_reply *reply)
{
	char *limit = emu_query_get(req->query, "limit"), *end;
	long n = EMU_REQLOG_SIZE;

	if (limit) {
		n = strtol(limit, &end, 10);
		if (*end || end == limit || n < 0)
			n = -1;
		free(limit);
		if (n < 0) {
			bad(reply, 400, "limit must be a non-negative integer");
			return;
		}
	}
	if (n > EMU_REQLOG_SIZE)
		n = EMU_REQLOG_SIZE;
	emu_reply_json(reply, 200, emu_reqlog_dump((size_t)n));
}

static void
stats(struct emu_reply *reply)
{
	uint64_t total, open;

	emu_server_counts(&total, &open);
	emu_reply_json(reply, 200, emu_stats_dump(total, open));
}

static void
add_fault(const struct emu_req *req, struct emu_reply *reply)
{
	json_t *spec = body_object(req, reply);
	char err[256];
	int id;

	if (!spec)
		return;
	if (emu_faults_add(spec, &id, err, sizeof err) < 0)
		bad(reply, 400, err);
	else
		emu_reply_json(reply, 200, json_pack("{s:i}", "id", id));
	json_decref(spec);
}

static void
listen_ctl(const struct emu_req *req, struct emu_reply *reply)
{
	json_t *spec = body_object(req, reply), *accept, *for_ms;

	if (!spec)
		return;
	accept = json_object_get(spec, "accept");
	for_ms = json_object_get(spec, "forMs");
	if (!json_is_boolean(accept) ||
	    (for_ms && (!json_is_integer(for_ms) || json_integer_value(for_ms) < 0 ||
	                json_integer_value(for_ms) > MAX_LISTEN_PAUSE_MS)) ||
	    json_object_size(spec) != 1u + (for_ms != NULL)) {
		bad(reply, 400, "expected {\"accept\":true|false[,\"forMs\":N]}");
	} else if (emu_server_set_accept(json_is_true(accept),
	                                 for_ms ? json_integer_value(for_ms) : 0) < 0) {
		bad(reply, 500, "could not listen again; retrying every second");
	} else {
		emu_reply_json(reply, 200, json_pack("{s:b}", "accept", json_is_true(accept)));
		/* Refusing closes every connection, this one after its answer. */
		reply->close = !json_is_true(accept);
	}
	json_decref(spec);
}

static void
set_omniflow(const struct emu_req *req, struct emu_reply *reply)
{
	json_t *spec = body_object(req, reply), *dialed, *response, *status, *latency;

	if (!spec)
		return;
	dialed = json_object_get(spec, "dialedNumber");
	response = json_object_get(spec, "response");
	status = json_object_get(spec, "status");
	latency = json_object_get(spec, "latencyMs");
	if (!json_is_string(dialed) || (response && !json_is_object(response)) ||
	    (status && (!json_is_integer(status) || json_integer_value(status) < 100 ||
	                json_integer_value(status) > 599)) ||
	    (latency && (!json_is_integer(latency) || json_integer_value(latency) < 0 ||
	                 json_integer_value(latency) > 600000))) {
		bad(reply, 400,
		    "expected {\"dialedNumber\":string, \"response\":object, "
		    "\"status\":100..599, \"latencyMs\":0..600000}");
	} else {
		json_t *answer = response ? json_incref(response) : json_object();

		if (emu_omniflow_set(json_string_value(dialed), answer,
		                     status ? (int)json_integer_value(status) : 200,
		                     latency ? (int)json_integer_value(latency) : 0) < 0)
			bad(reply, 500, "out of memory");
		else
			emu_reply_json(reply, 200, json_object());
		json_decref(answer);
	}
	json_decref(spec);
}

/*
 * Salesforce's own creation of a VoiceCall from a connector's CALL_STARTED: a call the agent
 * placed (Outbound) is never created through the Telephony Integration API (reference §7.3);
 * Salesforce makes the record from the connector's event, keyed by its callId. The stand-in
 * Salesforce page of the browser tests calls this when it receives such an event. A key that
 * already has a record (an inbound call the bridge created) returns that record.
 */
static void
connector_call(const struct emu_req *req, struct emu_reply *reply)
{
	static const char *const types[] = {"Outbound", "Inbound", "Transfer", "Callback"};
	json_t *spec = body_object(req, reply), *create;
	const char *org, *cc, *key, *type, *number;
	struct emu_record *rec;
	int64_t now = emu_now_ms();
	char start[80], *text;
	size_t i;

	if (!spec)
		return;
	org = json_string_value(json_object_get(spec, "org"));
	cc = json_string_value(json_object_get(spec, "callCenterApiName"));
	key = json_string_value(json_object_get(spec, "vendorCallKey"));
	type = json_string_value(json_object_get(spec, "callType"));
	number = json_string_value(json_object_get(spec, "phoneNumber"));
	for (i = 0; type && i < sizeof types / sizeof types[0] && strcmp(types[i], type); i++)
		;
	if (!org || !cc || !key || !*key || strlen(key) > 255 || !type ||
	    i == sizeof types / sizeof types[0] || !number) {
		bad(reply, 400,
		    "expected {\"org\", \"callCenterApiName\", \"vendorCallKey\", "
		    "\"callType\": Outbound|Inbound|Transfer|Callback, \"phoneNumber\"}");
		goto out;
	}
	rec = emu_store_by_key(org, key);
	if (rec) {
		emu_reply_json(reply, 200,
		               json_pack("{s:s, s:b}", "voiceCallId", rec->id, "existing", 1));
		goto out;
	}
	{
		time_t t = (time_t)(now / 1000);
		struct tm tm;

		gmtime_r(&t, &tm);
		snprintf(start, sizeof start, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		         tm.tm_sec, (int)(now % 1000));
	}
	create = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "callCenterApiName", cc,
	                   "vendorCallKey", key, "initiationMethod", type, "to", number,
	                   "startTime", start, "createdBy", "connector");
	text = create ? json_dumps(create, JSON_COMPACT) : NULL;
	json_decref(create);
	if (!text || emu_store_create(org, cc, key, NULL, text, now, now, &rec) < 0) {
		free(text);
		bad(reply, 500, "out of memory");
		goto out;
	}
	free(text);
	emu_store_enter_state(rec, EMU_STATE_IN_PROGRESS);
	emu_log_info("[%s] created %s from the connector's %s call", key, rec->id, type);
	emu_reply_json(reply, 200, json_pack("{s:s, s:b}", "voiceCallId", rec->id, "existing", 0));
out:
	json_decref(spec);
}

static void
reset(struct emu_reply *reply)
{
	emu_store_reset();
	emu_reqlog_reset();
	emu_faults_reset();
	emu_jwt_forget();
	emu_omniflow_reset();
	emu_server_reset_counts();
	emu_reply_json(reply, 200, json_object());
}

void
emu_control_handle(const struct emu_req *req, struct emu_reply *reply)
{
	const char *p = req->path + strlen("/emulator");
	bool get = strcmp(req->method, "GET") == 0;
	bool post = strcmp(req->method, "POST") == 0;
	bool del = strcmp(req->method, "DELETE") == 0;

	if (strcmp(p, "/voiceCalls") == 0 && get)
		voice_calls(req, reply);
	else if (strcmp(p, "/stats") == 0 && get)
		stats(reply);
	else if (strcmp(p, "/requests") == 0 && get)
		requests(req, reply);
	else if (strcmp(p, "/faults") == 0 && post)
		add_fault(req, reply);
	else if (strcmp(p, "/faults") == 0 && get)
		emu_reply_json(reply, 200, emu_faults_dump());
	else if (strcmp(p, "/faults") == 0 && del) {
		emu_faults_reset();
		emu_reply_json(reply, 200, json_object());
	} else if (strcmp(p, "/listen") == 0 && post)
		listen_ctl(req, reply);
	else if (strcmp(p, "/omniFlow") == 0 && post)
		set_omniflow(req, reply);
	else if (strcmp(p, "/omniFlow") == 0 && del) {
		emu_omniflow_reset();
		emu_reply_json(reply, 200, json_object());
	} else if (strcmp(p, "/connectorCalls") == 0 && post)
		connector_call(req, reply);
	else if (strcmp(p, "/reset") == 0 && post)
		reset(reply);
	else if (strcmp(p, "/ping") == 0 && get)
		emu_reply_json(reply, 200, json_pack("{s:b}", "ok", 1));
	else
		bad(reply, 404, "unknown control endpoint");
}
