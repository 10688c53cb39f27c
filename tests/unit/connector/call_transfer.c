/*
 * tests transfers in the call core (connector/call_close.c): the REFER becomes a transfer
 * command with a new leg key; once the caller is bridged to the target the first leg closes
 * (AGENT_DISCONNECT) and a Transfer VoiceCall starts, parented to it; a failed transfer keeps
 * the caller with the agent and makes no VoiceCall. Fakes: call_harness.h.
 */
#include "tests/unit/connector/call_harness.h"

TEST(blind_transfer_makes_a_new_leg)
{
	static const char *const hdrs[] = {"X-Account", "ACC-42"};
	char first[UUID_STR_LEN], second[UUID_STR_LEN], want[64];
	struct call *call;
	struct sub *u, *c;
	json_t *attrs_json;
	int err;

	REQUIRE(setup() == 0);
	invite(1, T0, "+15550100000", "+15550199999", NULL, 1, hdrs);
	call = call_find(calls, 1);
	REQUIRE(call);
	snprintf(first, sizeof first, "%s", call->key);
	commit();
	happen(SIP_EV_FORWARDED, 1, T0 + SEC / 10);
	happen(SIP_EV_ANSWERED, 1, T0 + 2 * SEC);
	happen(SIP_EV_HOLD, 1, T0 + 10 * SEC);
	happen(SIP_EV_RESUME, 1, T0 + 15 * SEC);
	happen_value(SIP_EV_RECORDING, 1, T0 + 3 * SEC, "https://pbx/rec/1.wav", 0);

	happen_value(SIP_EV_REFER, 1, T0 + 20 * SEC, "sip:bob@pbx", 0);
	REQUIRE(count_cmds(CMD_TRANSFER) == 1);
	CHECK_INT(cmds[n_cmds - 1].type, CMD_TRANSFER);
	CHECK_INT(cmds[n_cmds - 1].id, 1);
	CHECK_STR(cmds[n_cmds - 1].target, "sip:bob@pbx");
	snprintf(second, sizeof second, "%s", call->xfer_key);
	CHECK(second[0] && strcmp(second, first) != 0);
	snprintf(want, sizeof want, "X-Vendor-Call-Key: %s", second);
	CHECK_STR(cmds[n_cmds - 1].header, want);
	CHECK_INT(cmds[n_cmds - 1].ring_timeout_ms, 60000);
	CHECK_INT(n_subs, 1); /* nothing for Salesforce yet */

	happen(SIP_EV_TRANSFERRED, 1, T0 + 25 * SEC);
	/* the first leg is closed: the agent left it */
	u = last_sub(first, SCV_REQ_UPDATE);
	REQUIRE(u && u->body);
	CHECK_STR(reason_of(u->body, &err), "AGENT_DISCONNECT");
	CHECK_INT(err, 0);
	CHECK_STR(jstr_at(u->body, "endTime"), iso(T0 + 25 * SEC));
	CHECK_INT(jint_at(u->body, "numberOfHolds"), 1);
	CHECK_STR(jstr_at(u->body, "recordingLocation"), "https://pbx/rec/1.wav");
	CHECK(marked("ended", first));
	/* the call goes on under the second leg's key */
	CHECK_STR(call->key, second);
	CHECK_STR(call->parent_key, first);
	CHECK(call_find_key(calls, second) == call);
	CHECK(call_find_key(calls, first) == NULL);
	CHECK_INT(call->state, CALL_ST_ANSWERED);
	CHECK(marked("started", second));
	CHECK(marked("answered", second));
	c = last_sub(second, SCV_REQ_CREATE);
	REQUIRE(c && c->body);
	CHECK_STR(c->path, "/voiceCalls");
	CHECK_STR(jstr_at(c->body, "vendorCallKey"), second);
	CHECK_STR(jstr_at(c->body, "initiationMethod"), "Transfer");
	CHECK_STR(jstr_at(c->body, "parentVoiceCallId"), first);
	CHECK_STR(jstr_at(c->body, "from"), "+15550100000"); /* the contact center's number */
	CHECK_STR(jstr_at(c->body, "to"), "+15550100000");
	CHECK_STR(jstr_at(c->body, "startTime"), iso(T0 + 25 * SEC));
	attrs_json = json_loads(jstr_at(c->body, "callAttributes"), 0, NULL);
	REQUIRE(attrs_json);
	CHECK_STR(jstr_at(attrs_json, "Account__c"), "ACC-42"); /* the same as the first leg */
	json_decref(attrs_json);
	/* the order for Salesforce: first create, first update, second create */
	CHECK_INT(n_subs, 3);
	CHECK(subs[1].kind == SCV_REQ_UPDATE && strcmp(subs[1].key, first) == 0);
	CHECK(subs[2].kind == SCV_REQ_CREATE && strcmp(subs[2].key, second) == 0);

	/* the second leg ends on its own figures: from the transfer, no holds, no old link */
	end(1, T0 + 40 * SEC, SIP_END_CALLER_BYE, 0);
	u = last_sub(second, SCV_REQ_UPDATE);
	REQUIRE(u && u->body);
	CHECK_STR(u->path + 12, second);
	CHECK_STR(reason_of(u->body, &err), "CUSTOMER_DISCONNECT");
	CHECK_STR(jstr_at(u->body, "startTime"), iso(T0 + 25 * SEC));
	CHECK_STR(jstr_at(u->body, "acceptTime"), iso(T0 + 25 * SEC));
	CHECK_INT(jint_at(u->body, "numberOfHolds"), 0);
	CHECK(!has(u->body, "recordingLocation"));
	CHECK(marked("ended", second));
	CHECK_INT(calls_active(calls), 0);
	teardown();
}

TEST(failed_transfer_keeps_the_caller)
{
	char first[UUID_STR_LEN], attempt[UUID_STR_LEN];
	struct call *call;
	struct sub *u;
	int err;

	REQUIRE(setup() == 0);
	call = answered_call(1, 2);
	REQUIRE(call);
	snprintf(first, sizeof first, "%s", call->key);
	happen_value(SIP_EV_REFER, 1, T0 + 20 * SEC, "sip:bob@pbx;Replaces=x", 1); /* attended */
	REQUIRE(count_cmds(CMD_TRANSFER) == 1);
	snprintf(attempt, sizeof attempt, "%s", call->xfer_key);
	happen_value(SIP_EV_TRANSFER_FAILED, 1, T0 + 30 * SEC, NULL, 486);
	/* no VoiceCall for the attempt; the first leg is untouched and goes on */
	CHECK_STR(call->key, first);
	CHECK_STR(call->xfer_key, "");
	CHECK_INT(call->state, CALL_ST_ANSWERED);
	CHECK(last_sub(attempt, SCV_REQ_CREATE) == NULL);
	CHECK(last_sub(first, SCV_REQ_UPDATE) == NULL);
	CHECK(!marked("started", attempt));
	/* a late "transferred" for the attempt that failed changes nothing */
	happen(SIP_EV_TRANSFERRED, 1, T0 + 31 * SEC);
	CHECK_STR(call->key, first);
	CHECK_INT(n_subs, 1);
	/* a new REFER may follow */
	happen_value(SIP_EV_REFER, 1, T0 + 40 * SEC, "sip:carol@pbx", 0);
	CHECK_INT(count_cmds(CMD_TRANSFER), 2);
	CHECK(call->xfer_key[0] && strcmp(call->xfer_key, attempt) != 0);
	happen_value(SIP_EV_TRANSFER_FAILED, 1, T0 + 45 * SEC, NULL, 503);
	/* the agent hangs up later: the first leg closes as the agent's */
	end(1, T0 + 60 * SEC, SIP_END_AGENT_BYE, 0);
	u = last_sub(first, SCV_REQ_UPDATE);
	REQUIRE(u && u->body);
	CHECK_STR(reason_of(u->body, &err), "AGENT_DISCONNECT");
	CHECK_STR(jstr_at(u->body, "endTime"), iso(T0 + 60 * SEC));
	CHECK_INT(n_subs, 2);
	teardown();
}

TEST(a_transfer_that_fails_after_the_transferor_left_hangs_up_the_caller)
{
	char first[UUID_STR_LEN];
	struct call *call;
	struct sub *u;
	int err;

	REQUIRE(setup() == 0);
	call = answered_call(1, 2);
	REQUIRE(call);
	snprintf(first, sizeof first, "%s", call->key);
	happen_value(SIP_EV_REFER, 1, T0 + 20 * SEC, "sip:bob@pbx", 0);
	/* the SIP side ends the call when the target fails and no agent is left */
	end(1, T0 + 35 * SEC, SIP_END_SIGNALLING, 0);
	u = last_sub(first, SCV_REQ_UPDATE);
	REQUIRE(u && u->body);
	CHECK_STR(reason_of(u->body, &err), "TELECOM_PROBLEM");
	CHECK_INT(err, 1);
	CHECK_INT(n_subs, 2); /* no second leg */
	CHECK_INT(calls_active(calls), 0);
	teardown();
}

int
main(void)
{
	RUN(blind_transfer_makes_a_new_leg);
	RUN(failed_transfer_keeps_the_caller);
	RUN(a_transfer_that_fails_after_the_transferor_left_hangs_up_the_caller);
	return test_summary();
}
