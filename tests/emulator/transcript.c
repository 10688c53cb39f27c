/*
 * Transcripts (reference §4.3, §4.4): POST /voiceCalls/{vendorCallKey}/messages, one
 * utterance, and POST /voiceCalls/messages, up to 5 conversations x 5 utterances.
 *
 * The path key must be the vendorCallKey of the conversation's first VoiceCall, never a
 * voiceCallId. An utterance is accepted when it lies within the conversation: from the first
 * record's startTime to the latest endTime once every leg is completed (or now while a leg is
 * open), widened by the JWT clock skew. A messageId seen before in the conversation is
 * accepted again (200) but only counted, not stored twice.
 */
#include <stdlib.h>
#include <string.h>

#include "tests/emulator/api.h"
#include "tests/emulator/reqlog.h"
#include "tests/emulator/store.h"
#include "tests/emulator/validate.h"

#define COUNT(a)          (sizeof(a) / sizeof((a)[0]))
#define BULK_MAX_ENTRIES  5
#define BULK_MAX_MESSAGES 5

static const char *const sender_types[] = {"END_USER",   "EXTERNAL_USER", "HUMAN_AGENT",
                                           "SUPERVISOR", "VIRTUAL_AGENT", NULL};

static const struct emu_field message_fields[] = {
        {"participantId", EMU_F_NONEMPTY, true}, {"messageId", EMU_F_NONEMPTY, true},
        {"startTime", EMU_F_MS, true},           {"endTime", EMU_F_MS, true},
        {"content", EMU_F_STRING, true},         {"senderType", EMU_F_ENUM, true, 0, sender_types},
};

static const struct emu_field bulk_fields[] = {
        {"entries", EMU_F_ARRAY, true},
};

static const struct emu_field entry_fields[] = {
        {"vendorCallKey", EMU_F_NONEMPTY, true},
        {"messages", EMU_F_ARRAY, true},
};

/* Validates one message; problems go to errs under prefix. */
static void
check_message(json_t *msg, const char *prefix, json_t *errs)
{
	char field[128];

	if (!json_is_object(msg)) {
		snprintf(field, sizeof field, "%.*s", (int)strlen(prefix) - 1, prefix);
		emu_err_add(errs, "INVALID_FIELD", field, "%s must be an object", field);
		return;
	}
	if (emu_validate(msg, message_fields, COUNT(message_fields), prefix, errs) > 0)
		return;
	if (json_integer_value(json_object_get(msg, "endTime")) <
	    json_integer_value(json_object_get(msg, "startTime"))) {
		snprintf(field, sizeof field, "%sendTime", prefix);
		emu_err_add(errs, "INVALID_FIELD", field, "%s is before startTime", field);
	}
}

/*
 * The conversation root for a path or entry key. NULL after adding an error: not_found gets
 * unknown keys, errs gets keys that are voiceCallIds or not the first key.
 */
static struct emu_record *
conversation(const struct emu_cc *cc, const char *key, const char *field, json_t *errs,
             json_t *not_found)
{
	struct emu_record *rec = emu_store_by_key(cc->org, key);

	if (!rec) {
		if (emu_store_by_id(cc->org, key))
			emu_err_add(errs, "INVALID_FIELD", field,
			            "%s is a voiceCallId; transcripts take the vendorCallKey", key);
		else
			emu_err_add(not_found, "NOT_FOUND", field,
			            "no VoiceCall with "
			            "vendorCallKey %s in org %s",
			            key, cc->org);
		return NULL;
	}
	if (strcmp(rec->root->key, key) != 0) {
		emu_err_add(errs, "INVALID_FIELD", field,
		            "transcripts take the first vendorCallKey of the conversation (%s)",
		            rec->root->key);
		return NULL;
	}
	return rec->root;
}

static void
check_window(const struct emu_record *root, json_t *msg, int64_t now_ms, const char *prefix,
             json_t *errs)
{
	int64_t skew_ms = emu_jwt_skew_s() * 1000;
	int64_t lo = root->start_ms - skew_ms;
	int64_t hi = (root->open_legs > 0 || root->conv_end_ms < 0) ? now_ms : root->conv_end_ms;
	char field[128];

	hi += skew_ms;
	if (json_integer_value(json_object_get(msg, "startTime")) < lo) {
		snprintf(field, sizeof field, "%sstartTime", prefix);
		emu_err_add(errs, "INVALID_FIELD", field, "%s is before the conversation started",
		            field);
	}
	if (json_integer_value(json_object_get(msg, "endTime")) > hi) {
		snprintf(field, sizeof field, "%sendTime", prefix);
		emu_err_add(errs, "INVALID_FIELD", field, "%s is after the conversation %s", field,
		            hi - skew_ms == now_ms ? "time (now)" : "ended");
	}
}

/* Stores msg on root unless its messageId was seen. 0 or -ENOMEM. */
static int
store_message(struct emu_record *root, json_t *msg, int64_t now_ms)
{
	int seen = emu_store_message_id(root, json_string_value(json_object_get(msg, "messageId")));

	if (seen < 0)
		return seen;
	if (seen) {
		root->duplicate_messages++;
		emu_stats.duplicate_messages++;
		return 0;
	}
	emu_stats.transcripts++;
	return emu_store_append(&root->transcripts, now_ms, msg);
}

static void
accepted(struct emu_reply *reply)
{
	emu_reply_json(reply, 200, json_pack("{s:s}", "result", "Accepted"));
}

void
emu_api_transcript(const struct emu_req *req, const char *key, const struct emu_cc *cc,
                   int64_t now_ms, struct emu_reply *reply)
{
	json_t *body, *errs = json_array(), *not_found = json_array();
	struct emu_record *root;

	root = conversation(cc, key, "vendorCallKey", errs, not_found);
	if (json_array_size(not_found) > 0) {
		emu_reply_json(reply, 404, json_pack("{s:O}", "errors", not_found));
		goto out;
	}
	body = emu_api_body_object(req, reply);
	if (!body)
		goto out;
	check_message(body, "", errs);
	if (root && json_array_size(errs) == 0)
		check_window(root, body, now_ms, "", errs);
	if (json_array_size(errs) > 0) {
		emu_api_reply_invalid(reply, json_incref(errs));
	} else if (store_message(root, body, now_ms) < 0) {
		emu_reply_error(reply, 500, "SERVER_ERROR", "out of memory");
	} else {
		accepted(reply);
	}
	json_decref(body);
out:
	json_decref(errs);
	json_decref(not_found);
}

/* Validates the shape of a bulk body; problems go to errs. */
static void
check_bulk(json_t *body, json_t *errs)
{
	json_t *entries = json_object_get(body, "entries"), *entry, *messages, *msg;
	char prefix[96];
	size_t i, j;

	if (emu_validate(body, bulk_fields, COUNT(bulk_fields), "", errs) > 0)
		return;
	if (json_array_size(entries) < 1 || json_array_size(entries) > BULK_MAX_ENTRIES) {
		emu_err_add(errs, "INVALID_FIELD", "entries", "entries must hold 1 to %d items",
		            BULK_MAX_ENTRIES);
		return;
	}
	json_array_foreach(entries, i, entry)
	{
		snprintf(prefix, sizeof prefix, "entries[%zu]", i);
		if (!json_is_object(entry)) {
			emu_err_add(errs, "INVALID_FIELD", prefix, "%s must be an object", prefix);
			continue;
		}
		snprintf(prefix, sizeof prefix, "entries[%zu].", i);
		if (emu_validate(entry, entry_fields, COUNT(entry_fields), prefix, errs) > 0)
			continue;
		messages = json_object_get(entry, "messages");
		if (json_array_size(messages) < 1 ||
		    json_array_size(messages) > BULK_MAX_MESSAGES) {
			snprintf(prefix, sizeof prefix, "entries[%zu].messages", i);
			emu_err_add(errs, "INVALID_FIELD", prefix, "%s must hold 1 to %d items",
			            prefix, BULK_MAX_MESSAGES);
			continue;
		}
		json_array_foreach(messages, j, msg)
		{
			snprintf(prefix, sizeof prefix, "entries[%zu].messages[%zu].", i, j);
			check_message(msg, prefix, errs);
		}
	}
}

void
emu_api_transcripts_bulk(const struct emu_req *req, const struct emu_cc *cc, int64_t now_ms,
                         struct emu_reply *reply)
{
	json_t *body = emu_api_body_object(req, reply), *errs, *not_found, *entries, *entry, *msg;
	struct emu_record *roots[BULK_MAX_ENTRIES];
	char field[96];
	size_t i, j;

	if (!body)
		return;
	errs = json_array();
	not_found = json_array();
	check_bulk(body, errs);
	if (json_array_size(errs) > 0)
		goto out_invalid;
	/* All or nothing: every entry is resolved and checked before anything is stored. */
	entries = json_object_get(body, "entries");
	json_array_foreach(entries, i, entry)
	{
		snprintf(field, sizeof field, "entries[%zu].vendorCallKey", i);
		roots[i] =
		        conversation(cc, json_string_value(json_object_get(entry, "vendorCallKey")),
		                     field, errs, not_found);
		if (!roots[i])
			continue;
		json_array_foreach(json_object_get(entry, "messages"), j, msg)
		{
			snprintf(field, sizeof field, "entries[%zu].messages[%zu].", i, j);
			check_window(roots[i], msg, now_ms, field, errs);
		}
	}
	if (json_array_size(errs) > 0)
		goto out_invalid;
	if (json_array_size(not_found) > 0) {
		emu_reply_json(reply, 404, json_pack("{s:O}", "errors", not_found));
		goto out;
	}
	json_array_foreach(entries, i, entry)
	        json_array_foreach(json_object_get(entry, "messages"), j,
	                           msg) if (store_message(roots[i], msg, now_ms) < 0)
	{
		emu_reply_error(reply, 500, "SERVER_ERROR", "out of memory");
		goto out;
	}
	accepted(reply);
	goto out;
out_invalid:
	emu_api_reply_invalid(reply, json_incref(errs));
out:
	json_decref(errs);
	json_decref(not_found);
	json_decref(body);
}
