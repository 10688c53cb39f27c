/*
 * tests Omni-Channel routing in the call core (connector/call_route.c): 180 and a deadline
 * once the call is on disk, the omniFlow question once the VoiceCall exists, where each answer
 * rings (agent, queue, or forward_to when Salesforce errs, is late or names an unknown id),
 * and clearRouting before the closing update of a routed call that ends unanswered.
 * Fakes: call_harness.h; the deadline is fired by the test.
 */
#include "tests/unit/connector/call_harness.h"

#define OMNI_NUMBER "+15550100001"

/* An Omni-Channel call, INVITE at ts_us, committed; its key in key. */
static struct call *
omni_call(uint64_t id, int64_t ts_us, char *key)
{
	struct call *call;

	invite(id, ts_us, OMNI_NUMBER, "+15550199999", NULL, 0, NULL);
	call = call_find(calls, id);
	if (!call)
		return NULL;
	snprintf(key, UUID_STR_LEN, "%s", call->key);
	commit();
	return call;
}

static struct cmd *
last_forward(void)
{
	for (size_t i = n_cmds; i-- > 0;)
		if (cmds[i].type == CMD_FORWARD)
			return &cmds[i];
	return NULL;
}

TEST(answer_in_time_rings_the_agent)
{
	char key[UUID_STR_LEN], path[96], want[64];
	struct call *call;
	struct cmd *f;

	REQUIRE(setup() == 0);
	call = omni_call(1, T0, key);
	REQUIRE(call);
	/* on disk: 180 to the caller, the deadline armed, nothing forwarded */
	REQUIRE(n_cmds == 1);
	CHECK_INT(cmds[0].type, CMD_RINGING);
	CHECK_INT(cmds[0].id, 1);
	CHECK(timer_due_ms(call) > 1800 && timer_due_ms(call) <= 2000);
	/* the question waits for the VoiceCall */
	CHECK_INT(n_asks, 0);
	create_result(key, 1, "0LQxx0000000001");
	REQUIRE(n_asks == 1);
	CHECK_STR(asks[0].method, "PATCH");
	snprintf(path, sizeof path, "/voiceCalls/%s/omniFlow", key);
	CHECK_STR(asks[0].path, path);
	REQUIRE(asks[0].body);
	CHECK_STR(jstr_at(asks[0].body, "dialedNumber"), OMNI_NUMBER);
	CHECK_STR(jstr_at(asks[0].body, "flowDevName"), "Route_Calls");
	CHECK_STR(jstr_at(asks[0].body, "fallbackQueue"), "00GQ0000009");
	/* the request may outlive the deadline a little: the deadline decides */
	CHECK(asks[0].timeout_ms > 2000 && asks[0].timeout_ms <= 2200);
	CHECK_INT(asks[0].id, 1);
	/* the omniFlow question is not an outbox operation */
	CHECK_INT(n_subs, 1);

	reply(0, 200, "{\"agent\":\"005A0000001\",\"queue\":\"00GQ0000001\"}");
	f = last_forward();
	REQUIRE(f);
	CHECK_STR(f->target, "sip:alice@pbx"); /* the agent over the queue */
	snprintf(want, sizeof want, "X-Vendor-Call-Key: %s", key);
	CHECK_STR(f->header, want);
	CHECK_INT(f->ring_timeout_ms, 30000);
	CHECK(call->timer == NULL); /* the deadline is over */
	CHECK_INT(call_omni_routed(call), 1);
	happen(SIP_EV_FORWARDED, 1, T0 + SEC);
	CHECK_INT(call->state, CALL_ST_RINGING);
	happen(SIP_EV_ANSWERED, 1, T0 + 3 * SEC);
	end(1, T0 + 20 * SEC, SIP_END_CALLER_BYE, 0);
	/* answered: no routing to clear */
	CHECK(last_sub(key, SCV_REQ_CLEAR_ROUTING) == NULL);
	CHECK(last_sub(key, SCV_REQ_UPDATE) != NULL);
	teardown();
}

TEST(each_answer_rings_where_it_says)
{
	static const struct {
		int status;
		const char *body, *target;
		int routed;
	} cases[] = {
	        {200, "{\"queue\":\"00GQ0000001\"}", "sip:sales@pbx", 1},
	        /* an agent nobody mapped, a queue that is: the queue */
	        {200, "{\"agent\":\"005A0000999\",\"queue\":\"00GQ0000001\"}", "sip:sales@pbx", 1},
	        /* unknown ids, or none: forward_to */
	        {200, "{\"agent\":\"005A0000999\"}", "sip:fallback@pbx", 1},
	        {200, "{}", "sip:fallback@pbx", 1},
	        {200, "not json", "sip:fallback@pbx", 1},
	        /* Salesforce errs, or no answer came: forward_to */
	        {500, "{}", "sip:fallback@pbx", 0},
	        {404, "[]", "sip:fallback@pbx", 0},
	        {0, NULL, "sip:fallback@pbx", 0},
	};

	REQUIRE(setup() == 0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t id = 10 + i;
		char key[UUID_STR_LEN];
		struct call *call = omni_call(id, T0, key);
		size_t forwards = count_cmds(CMD_FORWARD);

		REQUIRE(call);
		create_result(key, 1, "0LQxx0000000001");
		REQUIRE(n_asks == i + 1);
		reply(i, cases[i].status, cases[i].body);
		CHECK_INT(count_cmds(CMD_FORWARD), forwards + 1);
		CHECK_STR(last_forward()->target, cases[i].target);
		CHECK_INT(last_forward()->id, id);
		CHECK_INT(call_omni_routed(call), cases[i].routed);
		CHECK(call->timer == NULL);
		end(id, T0 + 5 * SEC, SIP_END_CALLER_BYE, 0);
	}
	teardown();
}

TEST(late_answer_is_ignored_after_the_deadline)
{
	char key[UUID_STR_LEN];
	struct call *call;

	REQUIRE(setup() == 0);
	call = omni_call(1, T0, key);
	REQUIRE(call);
	create_result(key, 1, "0LQxx0000000001");
	REQUIRE(n_asks == 1);
	/* the deadline comes first: forward_to */
	REQUIRE(call->timer);
	fire_timer(call);
	CHECK_INT(count_cmds(CMD_FORWARD), 1);
	CHECK_STR(last_forward()->target, "sip:fallback@pbx");
	CHECK(call->timer == NULL);
	/* the answer, late: nothing more is rung, and nothing was routed */
	reply(0, 200, "{\"agent\":\"005A0000001\"}");
	CHECK_INT(count_cmds(CMD_FORWARD), 1);
	CHECK_INT(call_omni_routed(call), 0);
	end(1, T0 + 30 * SEC, SIP_END_NO_ANSWER, 480);
	CHECK(last_sub(key, SCV_REQ_CLEAR_ROUTING) == NULL);
	teardown();
}

TEST(deadline_without_a_voicecall_rings_forward_to)
{
	char key[UUID_STR_LEN];
	struct call *call;

	REQUIRE(setup() == 0);
	call = omni_call(1, T0, key);
	REQUIRE(call);
	/* Salesforce never accepted the create: no question was asked */
	fire_timer(call);
	CHECK_INT(n_asks, 0);
	CHECK_STR(last_forward()->target, "sip:fallback@pbx");
	/* the create accepted after that asks nothing */
	create_result(key, 1, "0LQxx0000000001");
	CHECK_INT(n_asks, 0);
	CHECK_INT(count_cmds(CMD_FORWARD), 1);
	teardown();
}

TEST(create_accepted_before_the_commit_asks_at_the_commit)
{
	char key[UUID_STR_LEN];
	struct call *call;

	REQUIRE(setup() == 0);
	invite(1, T0, OMNI_NUMBER, "+15550199999", NULL, 0, NULL);
	call = call_find(calls, 1);
	REQUIRE(call);
	snprintf(key, sizeof key, "%s", call->key);
	create_result(key, 1, "0LQxx0000000001");
	CHECK_INT(n_asks, 0); /* not routed yet: no deadline running */
	commit();
	CHECK_INT(count_cmds(CMD_RINGING), 1);
	REQUIRE(n_asks == 1);
	reply(0, 200, "{\"queue\":\"00GQ0000001\"}");
	CHECK_STR(last_forward()->target, "sip:sales@pbx");
	teardown();
}

TEST(create_refused_rings_forward_to_at_once)
{
	char key[UUID_STR_LEN];
	struct call *call;

	REQUIRE(setup() == 0);
	call = omni_call(1, T0, key);
	REQUIRE(call);
	create_result(key, 0, NULL);
	CHECK_INT(n_asks, 0);
	CHECK_INT(count_cmds(CMD_FORWARD), 1);
	CHECK_STR(last_forward()->target, "sip:fallback@pbx");
	CHECK(call->timer == NULL);
	teardown();
}

TEST(no_time_left_for_omniflow)
{
	char key[UUID_STR_LEN];
	struct call *call;

	REQUIRE(setup() == 0);
	/* the INVITE came 1.99 s ago (queued behind a slow disk, say) */
	call = omni_call(1, T0 - 1990 * 1000, key);
	REQUIRE(call);
	CHECK(timer_due_ms(call) >= 0 && timer_due_ms(call) <= 10);
	create_result(key, 1, "0LQxx0000000001");
	CHECK_INT(n_asks, 0); /* less than 50 ms left: not worth asking */
	CHECK_INT(count_cmds(CMD_FORWARD), 1);
	CHECK_STR(last_forward()->target, "sip:fallback@pbx");
	teardown();
}

TEST(caller_gone_while_asking)
{
	char key[UUID_STR_LEN];
	struct call *call;

	REQUIRE(setup() == 0);
	call = omni_call(1, T0, key);
	REQUIRE(call);
	create_result(key, 1, "0LQxx0000000001");
	REQUIRE(n_asks == 1);
	end(1, T0 + SEC, SIP_END_CALLER_CANCEL, 487);
	CHECK(call_find(calls, 1) == NULL);
	/* the answer finds no call: nothing rung, nothing more for Salesforce */
	reply(0, 200, "{\"agent\":\"005A0000001\"}");
	CHECK_INT(count_cmds(CMD_FORWARD), 0);
	CHECK(last_sub(key, SCV_REQ_CLEAR_ROUTING) == NULL);
	CHECK(last_sub(key, SCV_REQ_UPDATE) != NULL);
	teardown();
}

TEST(clear_routing_goes_before_the_closing_update)
{
	static const enum sip_end_cause causes[] = {SIP_END_NO_ANSWER, SIP_END_CALLER_CANCEL,
	                                            SIP_END_AGENT_REJECTED};

	REQUIRE(setup() == 0);
	for (size_t i = 0; i < sizeof causes / sizeof causes[0]; i++) {
		char key[UUID_STR_LEN], path[96];
		struct call *call = omni_call(1 + i, T0, key);
		size_t first = n_subs;

		REQUIRE(call);
		create_result(key, 1, "0LQxx0000000001");
		reply(i, 200, "{\"agent\":\"005A0000001\"}");
		happen(SIP_EV_FORWARDED, 1 + i, T0 + SEC);
		end(1 + i, T0 + 30 * SEC, causes[i], 0);
		/* the call's requests after the create: clearRouting, then the update */
		REQUIRE(n_subs == first + 2);
		CHECK_INT(subs[first].kind, SCV_REQ_CLEAR_ROUTING);
		CHECK_STR(subs[first].method, "PATCH");
		snprintf(path, sizeof path, "/voiceCalls/%s/clearRouting", key);
		CHECK_STR(subs[first].path, path);
		CHECK(subs[first].body == NULL);
		CHECK_INT(subs[first].cc, 1);
		CHECK_INT(subs[first + 1].kind, SCV_REQ_UPDATE);
		CHECK_STR(subs[first + 1].key, key);
	}
	teardown();
}

TEST(static_routing_never_asks)
{
	struct call *call;
	char key[UUID_STR_LEN];

	REQUIRE(setup() == 0);
	invite(1, T0, "+15550100000", "+15550199999", NULL, 0, NULL);
	call = call_find(calls, 1);
	REQUIRE(call);
	snprintf(key, sizeof key, "%s", call->key);
	commit();
	create_result(key, 1, "0LQxx0000000001");
	CHECK_INT(n_asks, 0);
	CHECK_INT(count_cmds(CMD_RINGING), 0);
	CHECK_INT(count_cmds(CMD_FORWARD), 1);
	end(1, T0 + 30 * SEC, SIP_END_NO_ANSWER, 480);
	CHECK(last_sub(key, SCV_REQ_CLEAR_ROUTING) == NULL);
	teardown();
}

int
main(void)
{
	RUN(answer_in_time_rings_the_agent);
	RUN(each_answer_rings_where_it_says);
	RUN(late_answer_is_ignored_after_the_deadline);
	RUN(deadline_without_a_voicecall_rings_forward_to);
	RUN(create_accepted_before_the_commit_asks_at_the_commit);
	RUN(create_refused_rings_forward_to_at_once);
	RUN(no_time_left_for_omniflow);
	RUN(caller_gone_while_asking);
	RUN(clear_routing_goes_before_the_closing_update);
	RUN(static_routing_never_asks);
	return test_summary();
}
