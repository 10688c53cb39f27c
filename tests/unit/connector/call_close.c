/*
 * tests how connector/call_close.c closes a call: hold accounting (numberOfHolds always, the
 * durations only with a recording location), the recording link's precedence (the agent
 * side's header, then the recorder's report, then the template), the wait for a recorder's
 * report, and the shutdown flush of calls still waiting. Fakes: call_harness.h.
 */
#include "tests/unit/connector/call_harness.h"

/* The body of the last closing update submitted for key, NULL if none. */
static json_t *
update_of(const char *key)
{
	struct sub *u = last_sub(key, SCV_REQ_UPDATE);

	return u ? u->body : NULL;
}

TEST(holds_without_a_recording_send_the_count_only)
{
	struct call *call;
	char key[UUID_STR_LEN];
	json_t *u;

	REQUIRE(setup() == 0);
	call = answered_call(1, 2);
	REQUIRE(call);
	snprintf(key, sizeof key, "%s", call->key);
	happen(SIP_EV_HOLD, 1, T0 + 10 * SEC);
	CHECK_INT(call->n_holds, 1);
	happen(SIP_EV_HOLD, 1, T0 + 12 * SEC); /* already on hold: the same hold */
	CHECK_INT(call->n_holds, 1);
	happen(SIP_EV_RESUME, 1, T0 + 40 * SEC);
	happen(SIP_EV_RESUME, 1, T0 + 41 * SEC); /* not on hold: nothing */
	happen(SIP_EV_HOLD, 1, T0 + 50 * SEC);
	happen(SIP_EV_RESUME, 1, T0 + 55 * SEC);
	CHECK_INT(call->n_holds, 2);
	CHECK_INT(call->total_hold_us, 35 * SEC);
	CHECK_INT(call->longest_hold_us, 30 * SEC);
	end(1, T0 + 60 * SEC, SIP_END_CALLER_BYE, 0);
	u = update_of(key);
	REQUIRE(u);
	CHECK_INT(jint_at(u, "numberOfHolds"), 2);
	/* Salesforce wants the durations only beside a recordingLocation */
	CHECK(!has(u, "longestHoldDuration"));
	CHECK(!has(u, "totalHoldDuration"));
	CHECK(!has(u, "agentInteractionDuration"));
	CHECK(!has(u, "recordingLocation"));
	teardown();
}

TEST(holds_with_a_recording_send_the_durations)
{
	struct call *call;
	char key[UUID_STR_LEN];
	json_t *u;

	REQUIRE(setup() == 0);
	ccs[0].recording_url_template = "https://rec.example/{vendor_call_key}.wav";
	call = answered_call(1, 2);
	REQUIRE(call);
	snprintf(key, sizeof key, "%s", call->key);
	happen(SIP_EV_HOLD, 1, T0 + 10 * SEC);
	happen(SIP_EV_RESUME, 1, T0 + 40 * SEC);
	happen(SIP_EV_HOLD, 1, T0 + 50 * SEC + SEC / 4);
	happen(SIP_EV_RESUME, 1, T0 + 55 * SEC);
	/* a hold still running when the call ends ends with it */
	happen(SIP_EV_HOLD, 1, T0 + 58 * SEC);
	end(1, T0 + 62 * SEC, SIP_END_AGENT_BYE, 0);
	u = update_of(key);
	REQUIRE(u);
	CHECK_INT(jint_at(u, "numberOfHolds"), 3);
	CHECK_INT(jint_at(u, "longestHoldDuration"), 30);
	CHECK_INT(jint_at(u, "totalHoldDuration"), 39);        /* 30 + 4.75 + 4, to the nearest */
	CHECK_INT(jint_at(u, "totalRecordingDuration"), 60);   /* answer to hang-up */
	CHECK_INT(jint_at(u, "agentInteractionDuration"), 21); /* 60 - 38.75 */
	CHECK(strstr(jstr_at(u, "recordingLocation"), key) != NULL);
	ccs[0].recording_url_template = NULL;
	teardown();
}

TEST(an_unanswered_call_has_no_recording)
{
	struct call *call;
	char key[UUID_STR_LEN];
	json_t *u;

	REQUIRE(setup() == 0);
	ccs[0].recording_url_template = "https://rec.example/{vendor_call_key}.wav";
	invite(1, T0, "+15550100000", "+15550199999", NULL, 0, NULL);
	call = call_find(calls, 1);
	REQUIRE(call);
	snprintf(key, sizeof key, "%s", call->key);
	commit();
	happen(SIP_EV_FORWARDED, 1, T0 + SEC / 10);
	happen_value(SIP_EV_RECORDING, 1, T0 + SEC, "https://pbx/rec/1.wav", 0);
	end(1, T0 + 20 * SEC, SIP_END_NO_ANSWER, 480);
	u = update_of(key);
	REQUIRE(u);
	CHECK(!has(u, "recordingLocation"));
	CHECK(!has(u, "acceptTime"));
	CHECK_INT(jint_at(u, "numberOfHolds"), 0);
	ccs[0].recording_url_template = NULL;
	teardown();
}

TEST(recording_link_precedence)
{
	struct call *call;
	char key[UUID_STR_LEN], want[128];
	json_t *u;

	REQUIRE(setup() == 0);
	ccs[0].recording_url_template = "https://rec.example/{date}/{sip_call_id}";

	/* the agent side's header wins over the recorder's report and the template */
	call = answered_call(1, 2);
	REQUIRE(call);
	snprintf(key, sizeof key, "%s", call->key);
	CHECK_INT(calls_recording_report(calls, key, "https://recorder/1.wav", 77), 0);
	happen_value(SIP_EV_RECORDING, 1, T0 + 3 * SEC, "https://pbx/rec/1.wav", 0);
	end(1, T0 + 12 * SEC, SIP_END_CALLER_BYE, 0);
	u = update_of(key);
	REQUIRE(u);
	CHECK_STR(jstr_at(u, "recordingLocation"), "https://pbx/rec/1.wav");
	CHECK_INT(jint_at(u, "totalRecordingDuration"), 10); /* answer to hang-up */

	/* then the recorder's report, with its own duration */
	call = answered_call(2, 2);
	REQUIRE(call);
	snprintf(key, sizeof key, "%s", call->key);
	CHECK_INT(calls_recording_report(calls, key, "https://recorder/2.wav", 77), 0);
	end(2, T0 + 12 * SEC, SIP_END_CALLER_BYE, 0);
	u = update_of(key);
	REQUIRE(u);
	CHECK_STR(jstr_at(u, "recordingLocation"), "https://recorder/2.wav");
	CHECK_INT(jint_at(u, "totalRecordingDuration"), 77);
	CHECK_INT(jint_at(u, "agentInteractionDuration"), 10);

	/* a report without a duration: answer to hang-up */
	call = answered_call(3, 2);
	REQUIRE(call);
	snprintf(key, sizeof key, "%s", call->key);
	CHECK_INT(calls_recording_report(calls, key, "https://recorder/3.wav", -1), 0);
	end(3, T0 + 12 * SEC, SIP_END_CALLER_BYE, 0);
	CHECK_INT(jint_at(update_of(key), "totalRecordingDuration"), 10);

	/* else the template, expanded with the caller leg's Call-ID (percent-encoded) */
	call = answered_call(4, 2);
	REQUIRE(call);
	snprintf(key, sizeof key, "%s", call->key);
	end(4, T0 + 12 * SEC, SIP_END_CALLER_BYE, 0);
	snprintf(want, sizeof want, "https://rec.example/%.10s/abc%%40pbx", iso(T0));
	CHECK_STR(jstr_at(update_of(key), "recordingLocation"), want);

	/* no report for an unknown call */
	CHECK_INT(calls_recording_report(calls, "no-such-key", "https://x", 1), -ENOENT);
	ccs[0].recording_url_template = NULL;
	teardown();
}

TEST(a_recording_link_over_1000_characters_is_not_sent)
{
	char url[1100], key[UUID_STR_LEN];
	struct call *call;
	json_t *u;

	REQUIRE(setup() == 0);
	memset(url, 'a', sizeof url - 1);
	url[sizeof url - 1] = '\0';
	memcpy(url, "https://", 8);
	call = answered_call(1, 2);
	REQUIRE(call);
	snprintf(key, sizeof key, "%s", call->key);
	happen_value(SIP_EV_RECORDING, 1, T0 + 3 * SEC, url, 0);
	end(1, T0 + 12 * SEC, SIP_END_CALLER_BYE, 0);
	u = update_of(key);
	REQUIRE(u); /* the call is still closed */
	CHECK(!has(u, "recordingLocation"));
	CHECK(!has(u, "totalRecordingDuration"));
	CHECK_STR(jstr_at(u, "endTime"), iso(T0 + 12 * SEC));
	teardown();
}

TEST(the_closing_update_waits_for_the_recorders_report)
{
	struct call *call;
	char key[UUID_STR_LEN];
	json_t *u;
	int err;

	REQUIRE(setup() == 0);
	ccs[0].recording_report_wait_ms = 5000;
	call = answered_call(1, 2);
	REQUIRE(call);
	snprintf(key, sizeof key, "%s", call->key);
	end(1, T0 + 30 * SEC, SIP_END_AGENT_BYE, 0);
	/* ended, waiting for the report (its own state), nothing sent yet; the wait is armed */
	CHECK(call_find(calls, 1) == call);
	CHECK_INT(call->state, CALL_ST_REPORT_WAIT);
	CHECK(last_sub(key, SCV_REQ_UPDATE) == NULL);
	CHECK(!marked("ended", key));
	CHECK(timer_due_ms(call) > 4800 && timer_due_ms(call) <= 5000);
	/* the report arrives: the update goes with it and the end as it happened */
	CHECK_INT(calls_recording_report(calls, key, "https://recorder/1.wav", 28), 0);
	CHECK(call_find(calls, 1) == NULL);
	u = update_of(key);
	REQUIRE(u);
	CHECK_STR(jstr_at(u, "recordingLocation"), "https://recorder/1.wav");
	CHECK_INT(jint_at(u, "totalRecordingDuration"), 28);
	CHECK_STR(jstr_at(u, "endTime"), iso(T0 + 30 * SEC));
	CHECK_STR(reason_of(u, &err), "AGENT_DISCONNECT");
	CHECK(marked("ended", key));

	/* no report in time: the template (none here) or nothing, when the wait runs out */
	call = answered_call(2, 2);
	REQUIRE(call);
	snprintf(key, sizeof key, "%s", call->key);
	end(2, T0 + 30 * SEC, SIP_END_CALLER_BYE, 0);
	REQUIRE(call->timer);
	fire_timer(call);
	CHECK(call_find(calls, 2) == NULL);
	u = update_of(key);
	REQUIRE(u);
	CHECK(!has(u, "recordingLocation"));
	CHECK_STR(reason_of(u, &err), "CUSTOMER_DISCONNECT");

	/* a call whose recording the agent side named does not wait */
	call = answered_call(3, 2);
	REQUIRE(call);
	snprintf(key, sizeof key, "%s", call->key);
	happen_value(SIP_EV_RECORDING, 3, T0 + 3 * SEC, "https://pbx/rec/3.wav", 0);
	end(3, T0 + 30 * SEC, SIP_END_CALLER_BYE, 0);
	CHECK(call_find(calls, 3) == NULL);
	CHECK(update_of(key) != NULL);
	ccs[0].recording_report_wait_ms = 0;
	teardown();
}

TEST(shutdown_flushes_the_calls_waiting_for_a_report)
{
	struct call *a, *b;
	char ka[UUID_STR_LEN], kb[UUID_STR_LEN];
	int err;

	REQUIRE(setup() == 0);
	ccs[0].recording_report_wait_ms = 60000;
	a = answered_call(1, 2);
	b = answered_call(2, 2);
	REQUIRE(a && b);
	snprintf(ka, sizeof ka, "%s", a->key);
	snprintf(kb, sizeof kb, "%s", b->key);
	end(1, T0 + 20 * SEC, SIP_END_CALLER_BYE, 0);
	/* b is still up when SIP stops: hung up by the SIP side (TELECOM_PROBLEM) */
	end(2, T0 + 25 * SEC, SIP_END_LOCAL_HANGUP, 0);
	CHECK_INT(calls_active(calls), 2);
	CHECK(last_sub(ka, SCV_REQ_UPDATE) == NULL && last_sub(kb, SCV_REQ_UPDATE) == NULL);
	calls_flush(calls);
	CHECK_INT(calls_active(calls), 0);
	REQUIRE(update_of(ka) && update_of(kb));
	CHECK_STR(reason_of(update_of(ka), &err), "CUSTOMER_DISCONNECT");
	CHECK_INT(err, 0);
	CHECK_STR(reason_of(update_of(kb), &err), "TELECOM_PROBLEM");
	CHECK_INT(err, 1);
	CHECK_STR(jstr_at(update_of(kb), "endTime"), iso(T0 + 25 * SEC));
	ccs[0].recording_report_wait_ms = 0;
	teardown();
}

int
main(void)
{
	RUN(holds_without_a_recording_send_the_count_only);
	RUN(holds_with_a_recording_send_the_durations);
	RUN(an_unanswered_call_has_no_recording);
	RUN(recording_link_precedence);
	RUN(a_recording_link_over_1000_characters_is_not_sent);
	RUN(the_closing_update_waits_for_the_recorders_report);
	RUN(shutdown_flushes_the_calls_waiting_for_a_report);
	return test_summary();
}
