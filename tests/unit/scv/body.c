/*
 * scv/body.c: the exact JSON fields of create and update bodies (parsed back with jansson),
 * escaping, omissions, refusals; create-response parsing; ISO-8601 formatting.
 */
#include "scv/body.c"

#include "tests/unit/test.h"

static json_t *
parse(const char *text)
{
	return text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
}

static const char *
sget(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static long long
iget(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static struct scv_create
inbound(void)
{
	struct scv_create c = {
	        .call_center_api_name = "AcmeCC",
	        .vendor_call_key = "c7d1e2f0-1111-4a2b-9c3d-000000000001",
	        .to = "+15550100000",
	        .from = "+15550199999",
	        .initiation_method = "Inbound",
	        .start_time = "2026-01-15T10:00:00.000Z",
	        .participant_key = "+15550199999",
	};
	return c;
}

TEST(create_inbound_fields)
{
	struct scv_create c = inbound();
	char *text = scv_body_create(&c);
	json_t *o = parse(text), *parts, *p;

	REQUIRE(o);
	CHECK_STR(sget(o, "callCenterApiName"), "AcmeCC");
	CHECK_STR(sget(o, "vendorCallKey"), "c7d1e2f0-1111-4a2b-9c3d-000000000001");
	CHECK_STR(sget(o, "to"), "+15550100000");
	CHECK_STR(sget(o, "from"), "+15550199999");
	CHECK_STR(sget(o, "initiationMethod"), "Inbound");
	CHECK_STR(sget(o, "startTime"), "2026-01-15T10:00:00.000Z");
	parts = json_object_get(o, "participants");
	REQUIRE(json_is_array(parts));
	CHECK_INT(json_array_size(parts), 1);
	p = json_array_get(parts, 0);
	CHECK_STR(sget(p, "participantKey"), "+15550199999");
	CHECK_STR(sget(p, "type"), "END_USER");
	CHECK_INT(json_object_size(p), 2);
	/* nothing else: no transfer fields, no attributes */
	CHECK(!json_object_get(o, "parentVoiceCallId"));
	CHECK(!json_object_get(o, "queue"));
	CHECK(!json_object_get(o, "callAttributes"));
	CHECK_INT(json_object_size(o), 7);
	/* compact */
	CHECK(strchr(text, '\n') == NULL);
	CHECK(strstr(text, ", ") == NULL && strstr(text, ": ") == NULL);
	json_decref(o);
	free(text);
}

TEST(create_inbound_ignores_transfer_fields)
{
	struct scv_create c = inbound();
	char *text;
	json_t *o;

	c.queue = "support";
	c.parent_voice_call_id = "0LQxx0000000001";
	text = scv_body_create(&c);
	o = parse(text);
	REQUIRE(o);
	CHECK(!json_object_get(o, "parentVoiceCallId"));
	CHECK(!json_object_get(o, "queue"));
	json_decref(o);
	free(text);
}

TEST(create_transfer_fields)
{
	struct scv_create c = inbound();
	char *text;
	json_t *o;

	c.initiation_method = "Transfer";
	c.parent_voice_call_id = "0LQxx0000000001AAA";
	c.queue = "support-tier2";
	text = scv_body_create(&c);
	o = parse(text);
	REQUIRE(o);
	CHECK_STR(sget(o, "initiationMethod"), "Transfer");
	CHECK_STR(sget(o, "parentVoiceCallId"), "0LQxx0000000001AAA");
	CHECK_STR(sget(o, "queue"), "support-tier2");
	json_decref(o);
	free(text);

	/* queue is optional */
	c.queue = NULL;
	text = scv_body_create(&c);
	o = parse(text);
	REQUIRE(o);
	CHECK(!json_object_get(o, "queue"));
	CHECK_STR(sget(o, "parentVoiceCallId"), "0LQxx0000000001AAA");
	json_decref(o);
	free(text);

	/* a transfer leg without its parent is refused */
	c.parent_voice_call_id = NULL;
	CHECK(scv_body_create(&c) == NULL);
}

TEST(create_call_attributes_string)
{
	static const char *const fields[] = {"SourceType", "Note__c", "Name__c", "Raw__c"};
	static const char *const values[] = {"Service", "say \"hi\" \\ back\n\ttab",
	                                     "Zo\xc3\xab \xe2\x82\xac \xf0\x9f\x93\x9e",
	                                     "caf\xe9 </script>"};
	struct scv_create c = inbound();
	json_t *o, *attrs;
	const char *inner;
	char *text;

	c.attr_fields = fields;
	c.attr_values = values;
	c.n_attrs = 4;
	text = scv_body_create(&c);
	o = parse(text);
	REQUIRE(o);
	/* callAttributes is a JSON string ... */
	REQUIRE(json_is_string(json_object_get(o, "callAttributes")));
	inner = sget(o, "callAttributes");
	/* ... whose content is a JSON object */
	attrs = parse(inner);
	REQUIRE(json_is_object(attrs));
	CHECK_INT(json_object_size(attrs), 4);
	CHECK_STR(sget(attrs, "SourceType"), "Service");
	CHECK_STR(sget(attrs, "Note__c"), "say \"hi\" \\ back\n\ttab");
	CHECK_STR(sget(attrs, "Name__c"), "Zo\xc3\xab \xe2\x82\xac \xf0\x9f\x93\x9e");
	/* the Latin-1 byte is replaced by U+FFFD, the rest kept */
	CHECK_STR(sget(attrs, "Raw__c"), "caf\xef\xbf\xbd </script>");
	/* the inner object is compact and the outer text escapes its quotes */
	CHECK(strncmp(inner, "{\"SourceType\":\"Service\",", 24) == 0);
	CHECK(strstr(text, "\"callAttributes\":\"{\\\"SourceType\\\":\\\"Service\\\"") != NULL);
	json_decref(attrs);
	json_decref(o);
	free(text);
}

TEST(create_refusals)
{
	static const char *const fields[] = {"A__c"};
	static const char *const nullv[] = {NULL};
	struct scv_create c;

	CHECK(scv_body_create(NULL) == NULL);
	c = inbound();
	c.vendor_call_key = NULL;
	CHECK(scv_body_create(&c) == NULL);
	c = inbound();
	c.to = NULL;
	CHECK(scv_body_create(&c) == NULL);
	c = inbound();
	c.from = NULL;
	CHECK(scv_body_create(&c) == NULL);
	c = inbound();
	c.start_time = NULL;
	CHECK(scv_body_create(&c) == NULL);
	c = inbound();
	c.participant_key = NULL;
	CHECK(scv_body_create(&c) == NULL);
	c = inbound();
	c.call_center_api_name = NULL;
	CHECK(scv_body_create(&c) == NULL);
	c = inbound();
	c.initiation_method = "Outbound"; /* not supported by the API */
	CHECK(scv_body_create(&c) == NULL);
	c = inbound();
	c.n_attrs = 1; /* arrays missing */
	CHECK(scv_body_create(&c) == NULL);
	c.attr_fields = fields;
	c.attr_values = nullv;
	CHECK(scv_body_create(&c) == NULL);
}

static struct scv_update
closing(void)
{
	struct scv_update u = {
	        .start_time = "2026-01-15T10:00:00.000Z",
	        .end_time = "2026-01-15T10:07:30.000Z",
	};
	return u;
}

TEST(update_minimal)
{
	struct scv_update u = closing();
	char *text = scv_body_update(&u);
	json_t *o = parse(text);

	REQUIRE(o);
	CHECK_STR(sget(o, "startTime"), "2026-01-15T10:00:00.000Z");
	CHECK_STR(sget(o, "endTime"), "2026-01-15T10:07:30.000Z");
	CHECK_INT(json_object_size(o), 2);
	CHECK(!json_object_get(o, "isActiveCall"));
	json_decref(o);
	free(text);
}

TEST(update_full)
{
	struct scv_update u = closing();
	char *text;
	json_t *o, *r;

	u.accept_time = "2026-01-15T10:01:00.000Z";
	u.disconnect_value = SCV_DISCONNECT_CUSTOMER;
	u.disconnect_is_error = 0;
	u.has_holds = 1;
	u.number_of_holds = 2;
	u.longest_hold_s = 30;
	u.total_hold_s = 45;
	u.recording_location = "https://rec.example.net/r/abc.wav?x=\"1\"";
	u.total_recording_s = 405;
	u.agent_interaction_s = 360;
	text = scv_body_update(&u);
	o = parse(text);
	REQUIRE(o);
	CHECK_STR(sget(o, "acceptTime"), "2026-01-15T10:01:00.000Z");
	r = json_object_get(o, "disconnectReason");
	REQUIRE(json_is_object(r));
	CHECK_STR(sget(r, "value"), "CUSTOMER_DISCONNECT");
	CHECK(json_is_false(json_object_get(r, "isError")));
	CHECK_INT(json_object_size(r), 2);
	CHECK_INT(iget(o, "numberOfHolds"), 2);
	CHECK_INT(iget(o, "longestHoldDuration"), 30);
	CHECK_INT(iget(o, "totalHoldDuration"), 45);
	CHECK_INT(iget(o, "agentInteractionDuration"), 360);
	CHECK_INT(iget(o, "totalRecordingDuration"), 405);
	CHECK_STR(sget(o, "recordingLocation"), "https://rec.example.net/r/abc.wav?x=\"1\"");
	CHECK(!json_object_get(o, "isActiveCall"));
	CHECK_INT(json_object_size(o), 10);
	json_decref(o);
	free(text);

	u.disconnect_value = SCV_DISCONNECT_TELECOM;
	u.disconnect_is_error = 1;
	text = scv_body_update(&u);
	o = parse(text);
	REQUIRE(o);
	r = json_object_get(o, "disconnectReason");
	CHECK_STR(sget(r, "value"), "TELECOM_PROBLEM");
	CHECK(json_is_true(json_object_get(r, "isError")));
	json_decref(o);
	free(text);
}

TEST(update_holds_without_recording)
{
	struct scv_update u = closing();
	char *text;
	json_t *o;

	u.has_holds = 1;
	u.number_of_holds = 1;
	u.longest_hold_s = 30;
	u.total_hold_s = 30;
	u.agent_interaction_s = 200;
	text = scv_body_update(&u);
	o = parse(text);
	REQUIRE(o);
	CHECK_INT(iget(o, "numberOfHolds"), 1);
	/* durations need recordingLocation: left out */
	CHECK(!json_object_get(o, "longestHoldDuration"));
	CHECK(!json_object_get(o, "totalHoldDuration"));
	CHECK(!json_object_get(o, "agentInteractionDuration"));
	CHECK(!json_object_get(o, "totalRecordingDuration"));
	CHECK(!json_object_get(o, "recordingLocation"));
	CHECK(!json_object_get(o, "acceptTime"));
	CHECK(!json_object_get(o, "disconnectReason"));
	CHECK_INT(json_object_size(o), 3);
	json_decref(o);
	free(text);
}

TEST(update_recording_without_holds)
{
	struct scv_update u = closing();
	char *text;
	json_t *o;

	u.recording_location = "https://rec.example.net/1";
	u.agent_interaction_s = 100;
	u.total_recording_s = 100;
	text = scv_body_update(&u);
	o = parse(text);
	REQUIRE(o);
	CHECK(!json_object_get(o, "numberOfHolds"));
	CHECK_INT(iget(o, "totalHoldDuration"), 0);
	CHECK_INT(iget(o, "longestHoldDuration"), 0);
	CHECK_INT(iget(o, "agentInteractionDuration"), 100);
	CHECK_INT(iget(o, "totalRecordingDuration"), 100);
	json_decref(o);
	free(text);
}

TEST(update_refusals)
{
	struct scv_update u;
	char loc[1002], *text;

	CHECK(scv_body_update(NULL) == NULL);
	u = closing();
	u.start_time = NULL;
	CHECK(scv_body_update(&u) == NULL);
	u = closing();
	u.end_time = NULL;
	CHECK(scv_body_update(&u) == NULL);

	/* recordingLocation: 1000 characters accepted, 1001 refused, empty refused */
	u = closing();
	memset(loc, 'a', 1000);
	loc[1000] = '\0';
	u.recording_location = loc;
	text = scv_body_update(&u);
	CHECK(text != NULL);
	free(text);
	loc[1000] = 'a';
	loc[1001] = '\0';
	CHECK(scv_body_update(&u) == NULL);
	u.recording_location = "";
	CHECK(scv_body_update(&u) == NULL);

	/* negative counters */
	u = closing();
	u.has_holds = 1;
	u.number_of_holds = -1;
	CHECK(scv_body_update(&u) == NULL);
}

TEST(parse_create_response)
{
	static const char ok[] = "{\"voiceCallId\":\"0LQxx0000000AbC\",\"errors\":[]}";
	static const char partial[] =
	        "{\"voiceCallId\":\"0LQxx0000000AbCAAA\",\"errors\":\"We created your voice call "
	        "but there were some errors : x\"}";
	static const char arr[] = "{\"errors\":[{\"message\":\"m\"}],\"voiceCallId\":\"0LQ1\"}";
	char *id = NULL;

	CHECK_INT(scv_parse_create_response(ok, strlen(ok), &id), 0);
	CHECK_STR(id, "0LQxx0000000AbC");
	free(id);
	id = NULL;
	CHECK_INT(scv_parse_create_response(partial, strlen(partial), &id), 0);
	CHECK_STR(id, "0LQxx0000000AbCAAA");
	free(id);
	id = NULL;
	CHECK_INT(scv_parse_create_response(arr, strlen(arr), &id), 0);
	CHECK_STR(id, "0LQ1");
	free(id);
	id = NULL;

	/* without a terminating NUL: len counts */
	CHECK_INT(scv_parse_create_response(ok, 45, &id), 0);
	free(id);
	id = NULL;
	CHECK_INT(scv_parse_create_response(ok, 20, &id), -EINVAL);
	CHECK(id == NULL);
}

TEST(parse_create_response_refusals)
{
	static const char *const bad[] = {
	        "",
	        "not json",
	        "[]",
	        "\"0LQ1\"",
	        "{}",
	        "{\"errors\":[\"no\"]}",
	        "{\"voiceCallId\":null}",
	        "{\"voiceCallId\":12}",
	        "{\"voiceCallId\":\"\"}",
	        "{\"voiceCallId\":\"../../x\"}",
	        "{\"voiceCallId\":\"0LQ 1\"}",
	        "{\"voiceCallId\":\"0LQ1\"} trailing",
	        "{\"voiceCallId\":"
	        "\"0123456789012345678901234567890123456789012345678901234567890123"
	        "4\"}",
	};
	static const char with_nul[] = "{\"voiceCallId\":\"0LQ1\"}\0";
	char *id = NULL, *big;
	size_t n;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_INT(scv_parse_create_response(bad[i], strlen(bad[i]), &id), -EINVAL);
		CHECK(id == NULL);
	}
	CHECK_INT(scv_parse_create_response(NULL, 0, &id), -EINVAL);
	CHECK_INT(scv_parse_create_response(with_nul, sizeof with_nul - 1, &id), -EINVAL);
	CHECK(id == NULL);

	/* > 64 KiB: refused before parsing, even if it is valid JSON */
	n = 64 * 1024 + 1;
	big = malloc(n + 1);
	REQUIRE(big);
	memset(big, ' ', n);
	memcpy(big, "{\"voiceCallId\":\"0LQ1\"}", 22);
	big[n] = '\0';
	CHECK_INT(scv_parse_create_response(big, n, &id), -EMSGSIZE);
	CHECK_INT(scv_parse_create_response(big, n - 1, &id), 0);
	CHECK_STR(id, "0LQ1");
	free(id);
	free(big);
}

TEST(iso8601)
{
	char out[32];

	scv_iso8601(1768471200123456LL, out);
	CHECK_STR(out, "2026-01-15T10:00:00.123Z");
	scv_iso8601(0, out);
	CHECK_STR(out, "1970-01-01T00:00:00.000Z");
	scv_iso8601(1768471200999999LL, out);
	CHECK_STR(out, "2026-01-15T10:00:00.999Z");
	scv_iso8601(951782400000000LL, out); /* leap day */
	CHECK_STR(out, "2000-02-29T00:00:00.000Z");
	scv_iso8601(-1000, out); /* 1 ms before the epoch */
	CHECK_STR(out, "1969-12-31T23:59:59.999Z");
}

TEST(utf8_repair)
{
	json_t *j;

	/* valid sequences kept */
	j = jstr("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	CHECK_STR(json_string_value(j), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	json_decref(j);
	/* truncated, overlong, surrogate, out of range: each bad byte -> U+FFFD */
	j = jstr("a\xc3");
	CHECK_STR(json_string_value(j), "a\xef\xbf\xbd");
	json_decref(j);
	j = jstr("\xc0\xaf");
	CHECK_STR(json_string_value(j), "\xef\xbf\xbd\xef\xbf\xbd");
	json_decref(j);
	j = jstr("\xed\xa0\x80x");
	CHECK_STR(json_string_value(j), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx");
	json_decref(j);
	j = jstr("\xf4\x90\x80\x80");
	CHECK(json_string_value(j) && strncmp(json_string_value(j), "\xef\xbf\xbd", 3) == 0);
	json_decref(j);
}

int
main(void)
{
	RUN(create_inbound_fields);
	RUN(create_inbound_ignores_transfer_fields);
	RUN(create_transfer_fields);
	RUN(create_call_attributes_string);
	RUN(create_refusals);
	RUN(update_minimal);
	RUN(update_full);
	RUN(update_holds_without_recording);
	RUN(update_recording_without_holds);
	RUN(update_refusals);
	RUN(parse_create_response);
	RUN(parse_create_response_refusals);
	RUN(iso8601);
	RUN(utf8_repair);
	return test_summary();
}
