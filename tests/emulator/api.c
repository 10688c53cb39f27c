#include "tests/emulator/api.h"

#include <stdlib.h>
#include <string.h>

#include "tests/emulator/omniflow.h"
#include "tests/emulator/reqlog.h"
#include "tests/emulator/store.h"
#include "tests/emulator/util.h"
#include "tests/emulator/validate.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Our documented choice: Salesforce publishes no maximum for vendorCallKey (§11.7). */
#define MAX_VENDOR_CALL_KEY    255
#define MAX_RECORDING_LOCATION 1000 /* [PT-REC] */

static const char *const initiation_methods[] = {"Inbound", "Transfer", NULL};
static const char *const call_origins[] = {"Preview", "Progressive", "Voicemail", NULL};
/* The create page spells the value both WebRTC and webRTC (§4.1). */
static const char *const call_subtypes[] = {"PSTN", "WebRTC", "webRTC", NULL};
static const char *const end_user[] = {"END_USER", NULL};

/* §4.1 */
static const struct emu_field create_fields[] = {
        {"callCenterApiName", EMU_F_NONEMPTY, true},
        {"vendorCallKey", EMU_F_NONEMPTY, true, MAX_VENDOR_CALL_KEY},
        {"to", EMU_F_NONEMPTY, true},
        {"from", EMU_F_NONEMPTY, true},
        {"initiationMethod", EMU_F_ENUM, true, 0, initiation_methods},
        {"startTime", EMU_F_ISO, true},
        {"participants", EMU_F_ARRAY, true},
        {"parentVoiceCallId", EMU_F_NONEMPTY, false},
        {"queue", EMU_F_STRING, false},
        {"callOrigin", EMU_F_ENUM, false, 0, call_origins},
        {"callSubtype", EMU_F_ENUM, false, 0, call_subtypes},
        {"callAttributes", EMU_F_JSON_OBJ_STRING, false},
};

static const struct emu_field participant_fields[] = {
        {"participantKey", EMU_F_NONEMPTY, true},
        {"type", EMU_F_ENUM, true, 0, end_user},
};

/*
 * §4.2. The last four are not in the documented table but Salesforce's own post-call Lambda
 * sends them on this endpoint (§4.2 "Extra fields"), so Salesforce evidently accepts them.
 */
static const struct emu_field update_fields[] = {
        {"startTime", EMU_F_ISO, false},
        {"endTime", EMU_F_ISO, false},
        {"enqueueTime", EMU_F_ISO, false},
        {"acceptTime", EMU_F_ISO_OR_EMPTY, false},
        {"totalHoldDuration", EMU_F_UINT32, false},
        {"longestHoldDuration", EMU_F_UINT32, false},
        {"numberOfHolds", EMU_F_UINT32, false},
        {"agentInteractionDuration", EMU_F_UINT32, false},
        {"totalRecordingDuration", EMU_F_UINT32, false},
        {"recordingLocation", EMU_F_NONEMPTY, false, MAX_RECORDING_LOCATION},
        {"queue", EMU_F_STRING, false},
        {"agent", EMU_F_STRING, false},
        {"callOrigin", EMU_F_ENUM, false, 0, call_origins},
        {"fromNumber", EMU_F_STRING, false},
        {"callAttributes", EMU_F_JSON_OBJ_STRING, false},
        {"isActiveCall", EMU_F_BOOL, false},
        {"disconnectReason", EMU_F_OBJECT, false},
        {"toNumber", EMU_F_STRING, false},
        {"parentCallIdentifier", EMU_F_STRING, false},
        {"initiationMethod", EMU_F_STRING, false},
        {"callSubType", EMU_F_STRING, false},
};

static const struct emu_field disconnect_fields[] = {
        {"value", EMU_F_STRING, true},
        {"isError", EMU_F_BOOL, true},
};

/* §4.5; transferTarget and flowName are undocumented but sent by Salesforce's own clients. */
static const struct emu_field omniflow_fields[] = {
        {"dialedNumber", EMU_F_NONEMPTY, true},
        {"flowDevName", EMU_F_STRING, false},
        {"fallbackQueue", EMU_F_STRING, false},
        {"flowInputParameters", EMU_F_OBJ_OR_STRING, false},
        {"transferTarget", EMU_F_STRING, false},
        {"flowName", EMU_F_STRING, false},
};

/* The fields of a create or update that require recordingLocation (§4.2). */
static const char *const needs_recording[] = {"totalHoldDuration", "agentInteractionDuration",
                                              "totalRecordingDuration"};

void
emu_api_reply_invalid(struct emu_reply *reply, json_t *errs)
{
	emu_reply_json(reply, 400, json_pack("{s:o}", "errors", errs));
}

json_t *
emu_api_body_object(const struct emu_req *req, struct emu_reply *reply)
{
	json_error_t jerr;
	json_t *j;

	if (req->body_len == 0) {
		emu_reply_error(reply, 400, "JSON_PARSER_ERROR", "a JSON request body is required");
		return NULL;
	}
	j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		emu_reply_error(reply, 400, "JSON_PARSER_ERROR", "body is not valid JSON: %s",
		                jerr.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		emu_reply_error(reply, 400, "JSON_PARSER_ERROR", "body must be a JSON object");
		return NULL;
	}
	return j;
}

static void
check_participants(json_t *participants, json_t *errs)
{
	json_t *p0;

	if (!json_is_array(participants))
		return; /* already reported by the table */
	if (json_array_size(participants) == 0) {
		emu_err_add(errs, "INVALID_FIELD", "participants",
		            "participants must hold one END_USER participant");
		return;
	}
	/* Salesforce uses the first participant only (§4.1). */
	p0 = json_array_get(participants, 0);
	if (!json_is_object(p0)) {
		emu_err_add(errs, "INVALID_FIELD", "participants[0]",
		            "participants[0] must be an object");
		return;
	}
	emu_validate(p0, participant_fields, COUNT(participant_fields), "participants[0].", errs);
}

static void
create(const struct emu_req *req, const struct emu_cc *cc, int64_t now_ms, struct emu_reply *reply)
{
	json_t *body = emu_api_body_object(req, reply), *errs, *v;
	const char *key, *method, *parent_id;
	struct emu_record *parent = NULL, *rec;
	int64_t start_ms = 0;
	char *text;

	if (!body)
		return;
	errs = json_array();
	emu_validate(body, create_fields, COUNT(create_fields), "", errs);
	check_participants(json_object_get(body, "participants"), errs);
	v = json_object_get(body, "callCenterApiName");
	if (json_is_string(v) && strcmp(json_string_value(v), cc->name) != 0)
		emu_err_add(errs, "INVALID_FIELD", "callCenterApiName",
		            "callCenterApiName %s does not match the token's call center %s",
		            json_string_value(v), cc->name);
	method = json_string_value(json_object_get(body, "initiationMethod"));
	parent_id = json_string_value(json_object_get(body, "parentVoiceCallId"));
	if (method && strcmp(method, "Transfer") == 0) {
		if (!json_object_get(body, "parentVoiceCallId"))
			emu_err_add(errs, "INVALID_FIELD", "parentVoiceCallId",
			            "initiationMethod Transfer requires parentVoiceCallId");
		else if (parent_id && !(parent = emu_store_resolve(cc->org, parent_id)))
			emu_err_add(errs, "INVALID_FIELD", "parentVoiceCallId",
			            "parentVoiceCallId %s is neither a voiceCallId nor a "
			            "vendorCallKey of this org",
			            parent_id);
	} else if (method && json_object_get(body, "parentVoiceCallId")) {
		emu_err_add(errs, "INVALID_FIELD", "parentVoiceCallId",
		            "parentVoiceCallId is only allowed with initiationMethod Transfer");
	}
	if (json_array_size(errs) > 0) {
		emu_api_reply_invalid(reply, errs);
		goto out;
	}
	json_decref(errs);

	key = json_string_value(json_object_get(body, "vendorCallKey"));
	/*
	 * An Inbound create whose vendorCallKey already exists is a retry: like the 2022-Winter
	 * '24 documentation says (§4.1, §5.3), no second record is created and the existing
	 * voiceCallId is returned. The newest text no longer states this rule; we keep the
	 * legacy one and count the duplicate so that tests see every retry. A Transfer with an
	 * existing key legitimately starts a new record of the same conversation chain.
	 */
	if (!parent && (rec = emu_store_by_key(cc->org, key))) {
		rec->duplicate_creates++;
		emu_stats.duplicate_creates++;
		emu_reply_json(reply, 200,
		               json_pack("{s:s, s:[]}", "voiceCallId", rec->id, "errors"));
		goto out;
	}
	emu_iso8601_parse(json_string_value(json_object_get(body, "startTime")), &start_ms);
	text = json_dumps(body, JSON_COMPACT);
	if (!text ||
	    emu_store_create(cc->org, cc->name, key, parent, text, start_ms, now_ms, &rec) < 0) {
		free(text);
		emu_reply_error(reply, 500, "SERVER_ERROR", "out of memory");
		goto out;
	}
	free(text);
	emu_stats.creates++;
	emu_log_info("[%s] created %s%s%s", key, rec->id, parent ? " transfer of " : "",
	             parent ? parent->id : "");
	emu_reply_json(reply, 200, json_pack("{s:s, s:[]}", "voiceCallId", rec->id, "errors"));
out:
	json_decref(body);
}

static void
update(const struct emu_req *req, const char *call_id, const struct emu_cc *cc, int64_t now_ms,
       struct emu_reply *reply)
{
	struct emu_record *rec = emu_store_resolve(cc->org, call_id);
	json_t *body, *errs, *v;
	int64_t end_ms;

	if (!rec) {
		emu_reply_error(reply, 404, "NOT_FOUND", "no VoiceCall %s in org %s", call_id,
		                cc->org);
		return;
	}
	body = emu_api_body_object(req, reply);
	if (!body)
		return;
	errs = json_array();
	emu_validate(body, update_fields, COUNT(update_fields), "", errs);
	v = json_object_get(body, "disconnectReason");
	if (json_is_object(v))
		emu_validate(v, disconnect_fields, COUNT(disconnect_fields), "disconnectReason.",
		             errs);
	for (size_t i = 0; i < COUNT(needs_recording); i++) {
		if (json_object_get(body, needs_recording[i]) &&
		    !json_object_get(body, "recordingLocation")) {
			emu_err_add(errs, "INVALID_FIELD", "recordingLocation",
			            "recordingLocation is required with %s", needs_recording[i]);
			break;
		}
	}
	if (json_array_size(errs) > 0) {
		emu_api_reply_invalid(reply, errs);
		goto out;
	}
	json_decref(errs);

	if (emu_store_append(&rec->updates, now_ms, body) < 0) {
		emu_reply_error(reply, 500, "SERVER_ERROR", "out of memory");
		goto out;
	}
	emu_stats.updates++;
	if (rec->state == EMU_STATE_COMPLETED) {
		/* Salesforce overwrites silently (§4.2); the emulator counts it for tests. */
		rec->updates_after_close++;
		emu_stats.updates_after_close++;
	}
	v = json_object_get(body, "endTime");
	if (v && emu_iso8601_parse(json_string_value(v), &end_ms) == 0) {
		rec->end_ms = end_ms;
		if (end_ms > rec->root->conv_end_ms)
			rec->root->conv_end_ms = end_ms;
	}
	/* isActiveCall defaults to false: any update without true closes the call (§4.2). */
	if (json_is_true(json_object_get(body, "isActiveCall"))) {
		if (rec->state == EMU_STATE_NEW)
			emu_store_enter_state(rec, EMU_STATE_IN_PROGRESS);
	} else {
		emu_store_enter_state(rec, EMU_STATE_COMPLETED);
	}
	emu_reply_json(reply, 200, json_pack("{s:s}", "status", "pending"));
out:
	json_decref(body);
}

static void
omniflow(const struct emu_req *req, const char *call_id, const struct emu_cc *cc, int64_t now_ms,
         struct emu_reply *reply)
{
	struct emu_record *rec = emu_store_resolve(cc->org, call_id);
	struct emu_omniflow_answer answer;
	json_t *body, *errs;

	if (!rec) {
		emu_reply_error(reply, 404, "NOT_FOUND", "no VoiceCall %s in org %s", call_id,
		                cc->org);
		return;
	}
	body = emu_api_body_object(req, reply);
	if (!body)
		return;
	errs = json_array();
	if (emu_validate(body, omniflow_fields, COUNT(omniflow_fields), "", errs) > 0) {
		emu_api_reply_invalid(reply, errs);
		goto out;
	}
	json_decref(errs);
	if (emu_store_append(&rec->omniflow, now_ms, body) < 0) {
		emu_reply_error(reply, 500, "SERVER_ERROR", "out of memory");
		goto out;
	}
	emu_stats.omniflows++;
	if (emu_omniflow_get(json_string_value(json_object_get(body, "dialedNumber")), &answer)) {
		emu_reply_json(reply, 200, json_object());
		goto out;
	}
	reply->status = answer.status;
	reply->body = strdup(answer.json);
	reply->latency_ms = answer.latency_ms;
out:
	json_decref(body);
}

static bool
body_is_empty(const struct emu_req *req)
{
	size_t a = 0, b = req->body_len;

	while (a < b && strchr(" \t\r\n", req->body[a]))
		a++;
	while (b > a && strchr(" \t\r\n", req->body[b - 1]))
		b--;
	return a == b || (b - a == 4 && memcmp(req->body + a, "null", 4) == 0) ||
	       (b - a == 2 && memcmp(req->body + a, "{}", 2) == 0);
}

static void
clear_routing(const struct emu_req *req, const char *call_id, const struct emu_cc *cc,
              struct emu_reply *reply)
{
	struct emu_record *rec = emu_store_resolve(cc->org, call_id);

	if (!rec) {
		emu_reply_error(reply, 404, "NOT_FOUND", "no VoiceCall %s in org %s", call_id,
		                cc->org);
		return;
	}
	/* No body is documented; Salesforce's Lambda sends `null` (§4.11). */
	if (!body_is_empty(req)) {
		emu_reply_error(reply, 400, "INVALID_FIELD", "clearRouting takes no body");
		return;
	}
	rec->clear_routing++;
	emu_stats.clear_routings++;
	emu_reply_json(reply, 200, json_object());
}

static void
not_found(struct emu_reply *reply, const struct emu_req *req)
{
	emu_reply_error(reply, 404, "NOT_FOUND", "no resource %s %s", req->method, req->path);
}

void
emu_api_handle(const struct emu_req *req, const char *subpath, const struct emu_cc *cc,
               int64_t now_ms, struct emu_reply *reply)
{
	const char *seg, *slash, *rest;
	char *call_id;
	bool is_post = strcmp(req->method, "POST") == 0;
	bool is_patch = strcmp(req->method, "PATCH") == 0;

	if (strcmp(subpath, "/voiceCalls") == 0) {
		if (is_post)
			create(req, cc, now_ms, reply);
		else
			not_found(reply, req);
		return;
	}
	if (strcmp(subpath, "/voiceCalls/messages") == 0 && is_post) {
		emu_api_transcripts_bulk(req, cc, now_ms, reply);
		return;
	}
	if (strncmp(subpath, "/voiceCalls/", 12) != 0 || !subpath[12]) {
		not_found(reply, req);
		return;
	}
	seg = subpath + 12;
	slash = strchr(seg, '/');
	rest = slash ? slash : "";
	call_id = emu_url_decode(seg, slash ? (size_t)(slash - seg) : strlen(seg), false);
	if (!call_id || !*call_id) {
		emu_reply_error(reply, 400, "INVALID_FIELD", "bad call id in the path");
		free(call_id);
		return;
	}
	if (!*rest && is_patch)
		update(req, call_id, cc, now_ms, reply);
	else if (strcmp(rest, "/messages") == 0 && is_post)
		emu_api_transcript(req, call_id, cc, now_ms, reply);
	else if (strcmp(rest, "/omniFlow") == 0 && is_patch)
		omniflow(req, call_id, cc, now_ms, reply);
	else if (strcmp(rest, "/clearRouting") == 0 && is_patch)
		clear_routing(req, call_id, cc, reply);
	else
		not_found(reply, req);
	free(call_id);
}
