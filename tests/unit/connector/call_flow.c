/*
 * tests the call core's lifecycle (connector/call.c with call_route.c and call_close.c):
 * INVITE to end, each state it goes through, the VoiceCall create and closing update it
 * builds, and the disconnect reason of every way a call ends. Fakes: call_harness.h.
 */
#include "tests/unit/connector/call_harness.h"

TEST(unknown_number_is_refused_with_404)
{
	REQUIRE(setup() == 0);
	invite(1, T0, "+15550100999", "+15550199999", NULL, 0, NULL);
	CHECK_INT(n_cmds, 1);
	CHECK_INT(cmds[0].type, CMD_REJECT);
	CHECK_INT(cmds[0].status, 404);
	CHECK_INT(cmds[0].id, 1);
	CHECK_INT(n_subs, 0); /* nothing for Salesforce */
	CHECK_INT(n_marks, 0);
	CHECK_INT(calls_active(calls), 0);
	/* its later events are not ours: ignored */
	end(1, T0 + SEC, SIP_END_REJECTED, 404);
	CHECK_INT(n_subs, 0);
	teardown();
}

TEST(the_create_is_on_disk_before_the_invite_leaves)
{
	static const char *const hdrs[] = {"x-account", "ACC-42", "X-Lang", "fr", "X-Other", "no"};
	struct call *call;
	struct sub *s;
	json_t *parts, *attrs_json;

	REQUIRE(setup() == 0);
	invite(7, T0, "5550100000", "+15550199999", NULL, 3, hdrs);
	call = call_find(calls, 7);
	REQUIRE(call);
	CHECK_INT(call->state, CALL_ST_ROUTING);
	CHECK_INT(calls_active(calls), 1);
	CHECK(marked("started", call->key));
	/* the create is submitted, the INVITE waits for the commit */
	REQUIRE(n_subs == 1);
	s = &subs[0];
	CHECK_INT(s->cc, 0);
	CHECK_STR(s->key, call->key);
	CHECK_INT(s->kind, SCV_REQ_CREATE);
	CHECK_STR(s->method, "POST");
	CHECK_STR(s->path, "/voiceCalls");
	REQUIRE(s->body);
	CHECK_STR(jstr_at(s->body, "callCenterApiName"), "AcmeCC");
	CHECK_STR(jstr_at(s->body, "vendorCallKey"), call->key);
	CHECK_STR(jstr_at(s->body, "to"), "+15550100000"); /* normalised to E.164 */
	CHECK_STR(jstr_at(s->body, "from"), "+15550199999");
	CHECK_STR(jstr_at(s->body, "initiationMethod"), "Inbound");
	CHECK_STR(jstr_at(s->body, "startTime"), iso(T0));
	CHECK(!has(s->body, "parentVoiceCallId"));
	parts = json_object_get(s->body, "participants");
	CHECK_STR(jstr_at(json_array_get(parts, 0), "participantKey"), "+15550199999");
	/* callAttributes: a JSON string holding the mapped headers only (case-insensitive) */
	attrs_json = json_loads(jstr_at(s->body, "callAttributes"), 0, NULL);
	REQUIRE(attrs_json);
	CHECK_STR(jstr_at(attrs_json, "Account__c"), "ACC-42");
	CHECK_STR(jstr_at(attrs_json, "Language__c"), "fr");
	CHECK_INT(json_object_size(attrs_json), 2);
	json_decref(attrs_json);
	CHECK_INT(n_cmds, 0);

	commit();
	REQUIRE(n_cmds == 1);
	CHECK_INT(cmds[0].type, CMD_FORWARD);
	CHECK_INT(cmds[0].id, 7);
	CHECK_STR(cmds[0].target, "sip:agents@pbx");
	CHECK(strncmp(cmds[0].header, "X-Vendor-Call-Key: ", 19) == 0);
	CHECK_STR(cmds[0].header + 19, call->key);
	CHECK_INT(cmds[0].ring_timeout_ms, 60000);
	CHECK_STR(cmds[0].recording_header, "X-Recording");
	CHECK_INT(call->state, CALL_ST_ROUTING); /* until the SIP side says it left */
	CHECK(call->timer == NULL);              /* static routing has no deadline */
	teardown();
}

TEST(answered_call_caller_hangs_up)
{
	struct call *call;
	char key[UUID_STR_LEN];
	struct sub *u;
	int err;

	REQUIRE(setup() == 0);
	invite(3, T0, "+15550100000", "+15550199999", NULL, 0, NULL);
	call = call_find(calls, 3);
	REQUIRE(call);
	snprintf(key, sizeof key, "%s", call->key);
	commit();
	happen(SIP_EV_FORWARDED, 3, T0 + SEC / 100);
	CHECK_INT(call->state, CALL_ST_RINGING);
	CHECK_INT(call->forward_us, T0 + SEC / 100);
	happen_value(SIP_EV_PROGRESS, 3, T0 + SEC, NULL, 180);
	CHECK_INT(call->state, CALL_ST_RINGING);
	happen(SIP_EV_ANSWERED, 3, T0 + 5 * SEC);
	CHECK_INT(call->state, CALL_ST_ANSWERED);
	CHECK(marked("answered", key));
	create_result(key, 1, "0LQxx0000000001");
	CHECK_STR(call->voice_call_id, "0LQxx0000000001");
	CHECK_INT(n_subs, 1);
	end(3, T0 + 65 * SEC, SIP_END_CALLER_BYE, 0);
	CHECK_INT(calls_active(calls), 0);
	CHECK(call_find(calls, 3) == NULL);
	CHECK(marked("ended", key));
	REQUIRE(n_subs == 2);
	u = &subs[1];
	CHECK_INT(u->kind, SCV_REQ_UPDATE);
	CHECK_STR(u->method, "PATCH");
	CHECK_STR(u->path + 12, key);
	CHECK(strncmp(u->path, "/voiceCalls/", 12) == 0);
	REQUIRE(u->body);
	CHECK_STR(jstr_at(u->body, "startTime"), iso(T0));
	CHECK_STR(jstr_at(u->body, "acceptTime"), iso(T0 + 5 * SEC));
	CHECK_STR(jstr_at(u->body, "endTime"), iso(T0 + 65 * SEC));
	CHECK_STR(reason_of(u->body, &err), "CUSTOMER_DISCONNECT");
	CHECK_INT(err, 0);
	CHECK_INT(jint_at(u->body, "numberOfHolds"), 0);
	CHECK(!has(u->body, "recordingLocation")); /* none configured */
	CHECK(!has(u->body, "isActiveCall"));      /* absent: the update closes the call */
	teardown();
}

/* Every way a call ends, and the disconnectReason its closing update carries. */
TEST(disconnect_reasons_through_the_flow)
{
	static const struct {
		enum sip_end_cause cause;
		int status, answered;
		const char *value;
		int is_error;
	} cases[] = {
	        {SIP_END_CALLER_BYE, 0, 1, "CUSTOMER_DISCONNECT", 0},
	        {SIP_END_AGENT_BYE, 0, 1, "AGENT_DISCONNECT", 0},
	        {SIP_END_CALLER_CANCEL, 487, 0, "CUSTOMER_DISCONNECT", 0}, /* cancel, ringing */
	        {SIP_END_AGENT_REJECTED, 486, 0, "OTHER", 0},              /* busy */
	        {SIP_END_AGENT_REJECTED, 603, 0, "OTHER", 0},              /* refused */
	        {SIP_END_NO_ANSWER, 480, 0, "OTHER", 0},
	        {SIP_END_AGENT_FAILED, 503, 0, "TELECOM_PROBLEM", 1}, /* agent side 5xx */
	        {SIP_END_AGENT_FAILED, 408, 0, "TELECOM_PROBLEM", 1},
	        {SIP_END_AGENT_FAILED, 0, 0, "TELECOM_PROBLEM", 1}, /* unreachable */
	        {SIP_END_SIGNALLING, 0, 1, "TELECOM_PROBLEM", 1},
	        {SIP_END_LOCAL_HANGUP, 0, 1, "TELECOM_PROBLEM", 1}, /* shutdown */
	};

	REQUIRE(setup() == 0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t id = 100 + i;
		char key[UUID_STR_LEN];
		struct call *call;
		struct sub *u;
		int err = -1;

		invite(id, T0, "+15550100000", "+15550199999", NULL, 0, NULL);
		call = call_find(calls, id);
		REQUIRE(call);
		snprintf(key, sizeof key, "%s", call->key);
		commit();
		happen(SIP_EV_FORWARDED, id, T0 + SEC / 10);
		if (cases[i].answered)
			happen(SIP_EV_ANSWERED, id, T0 + 2 * SEC);
		end(id, T0 + 9 * SEC, cases[i].cause, cases[i].status);
		CHECK(call_find(calls, id) == NULL);
		u = last_sub(key, SCV_REQ_UPDATE);
		REQUIRE(u && u->body);
		CHECK_STR(reason_of(u->body, &err), cases[i].value);
		CHECK_INT(err, cases[i].is_error);
		CHECK_INT(has(u->body, "acceptTime"), cases[i].answered);
		CHECK_STR(jstr_at(u->body, "endTime"), iso(T0 + 9 * SEC));
		CHECK(marked("ended", key));
	}
	CHECK_INT(calls_active(calls), 0);
	teardown();
}

TEST(caller_gone_before_the_commit_is_not_forwarded)
{
	struct call *call;
	char key[UUID_STR_LEN];
	struct sub *u;
	int err;

	REQUIRE(setup() == 0);
	invite(4, T0, "+15550100000", "+15550199999", NULL, 0, NULL);
	call = call_find(calls, 4);
	REQUIRE(call);
	snprintf(key, sizeof key, "%s", call->key);
	end(4, T0 + SEC / 2, SIP_END_CALLER_CANCEL, 487);
	commit(); /* the waiter finds no call */
	CHECK_INT(count_cmds(CMD_FORWARD), 0);
	u = last_sub(key, SCV_REQ_UPDATE);
	REQUIRE(u && u->body);
	CHECK_STR(reason_of(u->body, &err), "CUSTOMER_DISCONNECT");
	CHECK(!has(u->body, "acceptTime"));
	/* the create went first: the outbox keeps that order per call */
	CHECK_INT(subs[0].kind, SCV_REQ_CREATE);
	CHECK_INT(subs[1].kind, SCV_REQ_UPDATE);
	teardown();
}

TEST(caller_identity_in_the_create)
{
	REQUIRE(setup() == 0);
	/* P-Asserted-Identity over From, normalised */
	invite(1, T0, "+15550100000", "+15550199999", "5550188888", 0, NULL);
	CHECK_STR(jstr_at(subs[0].body, "from"), "+15550188888");
	/* withheld */
	invite(2, T0, "+15550100000", "Anonymous", NULL, 0, NULL);
	CHECK_STR(jstr_at(subs[1].body, "from"), "anonymous");
	/* not a number: as given */
	invite(3, T0, "+15550100000", "reception", NULL, 0, NULL);
	CHECK_STR(jstr_at(subs[2].body, "from"), "reception");
	CHECK_STR(jstr_at(json_array_get(json_object_get(subs[2].body, "participants"), 0),
	                  "participantKey"),
	          "reception");
	teardown();
}

TEST(create_results_reach_the_call)
{
	struct call *call;
	char key[UUID_STR_LEN];

	REQUIRE(setup() == 0);
	call = answered_call(5, 3);
	REQUIRE(call);
	snprintf(key, sizeof key, "%s", call->key);
	/* accepted without a usable id: kept as "not created" */
	create_result(key, 1, "not an id!");
	CHECK_STR(call->voice_call_id, "");
	create_result(key, 1, "0LQxx0000000005");
	CHECK_STR(call->voice_call_id, "0LQxx0000000005");
	/* for a call already gone: nothing to do, nothing breaks */
	end(5, T0 + 10 * SEC, SIP_END_AGENT_BYE, 0);
	create_result(key, 1, "0LQxx0000000006");
	CHECK_INT(n_subs, 2);
	teardown();
}

static void
on_idle(void *arg)
{
	(void)arg;
	idle_called++;
}

TEST(idle_once_the_last_call_ends)
{
	REQUIRE(setup() == 0);
	answered_call(1, 1);
	answered_call(2, 1);
	CHECK_INT(calls_active(calls), 2);
	calls_when_idle(calls, on_idle, NULL);
	CHECK_INT(idle_called, 0);
	end(1, T0 + 5 * SEC, SIP_END_LOCAL_HANGUP, 0);
	CHECK_INT(idle_called, 0);
	end(2, T0 + 5 * SEC, SIP_END_LOCAL_HANGUP, 0);
	CHECK_INT(idle_called, 1);
	/* with no call up, at once */
	calls_when_idle(calls, on_idle, NULL);
	CHECK_INT(idle_called, 2);
	teardown();
}

static int stopped_called;

static void
on_stopped(void *arg)
{
	(void)arg;
	stopped_called++;
}

TEST(sip_stopped_is_passed_on)
{
	REQUIRE(setup() == 0);
	stopped_called = 0;
	happen(SIP_EV_STOPPED, 0, T0); /* before anyone listens: dropped */
	CHECK_INT(stopped_called, 0);
	calls_on_sip_stopped(calls, on_stopped, NULL);
	happen(SIP_EV_STOPPED, 0, T0);
	CHECK_INT(stopped_called, 1);
	teardown();
}

int
main(void)
{
	RUN(unknown_number_is_refused_with_404);
	RUN(the_create_is_on_disk_before_the_invite_leaves);
	RUN(answered_call_caller_hangs_up);
	RUN(disconnect_reasons_through_the_flow);
	RUN(caller_gone_before_the_commit_is_not_forwarded);
	RUN(caller_identity_in_the_create);
	RUN(create_results_reach_the_call);
	RUN(idle_once_the_last_call_ends);
	RUN(sip_stopped_is_passed_on);
	return test_summary();
}
