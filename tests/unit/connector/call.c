/*
 * tests connector/call.c (disconnect reasons, routing of the dialled number, the caller, freeing
 * the table with calls up) and the recording template of connector/call_close.c, linked from
 * the archive
 */
#include "connector/call.c"

#include "tests/unit/test.h"

TEST(disconnect_reasons)
{
	static const struct {
		enum sip_end_cause cause;
		const char *value;
		int is_error;
	} want[] = {
	        {SIP_END_CALLER_BYE, "CUSTOMER_DISCONNECT", 0},
	        {SIP_END_CALLER_CANCEL, "CUSTOMER_DISCONNECT", 0},
	        {SIP_END_AGENT_BYE, "AGENT_DISCONNECT", 0},
	        {SIP_END_AGENT_REJECTED, "OTHER", 0},
	        {SIP_END_NO_ANSWER, "OTHER", 0},
	        {SIP_END_AGENT_FAILED, "TELECOM_PROBLEM", 1},
	        {SIP_END_LOCAL_HANGUP, "TELECOM_PROBLEM", 1},
	        {SIP_END_SIGNALLING, "TELECOM_PROBLEM", 1},
	};

	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		const char *v = NULL;
		int e = -1;
		call_disconnect_reason(want[i].cause, &v, &e);
		CHECK_STR(v, want[i].value);
		CHECK_INT(e, want[i].is_error);
	}
}

static char *numbers_a[] = {"+15550100000", "+15550100001"};
static char *numbers_b[] = {"+442079460000"};
static struct cfg_contact_center ccs[] = {
        {.name = "acme", .numbers = numbers_a, .n_numbers = 2},
        {.name = "globex", .numbers = numbers_b, .n_numbers = 1},
};
static struct cfg config = {.ccs = ccs, .n_ccs = 2, .default_country_code = "1"};

static const char *
route_of(const char *ruri, const char *to, char *number, size_t *index)
{
	struct sip_event ev = {.ruri_user = (char *)ruri, .to_user = (char *)to};
	const struct cfg_contact_center *cc = route(&config, &ev, number, 32, index);
	return cc ? cc->name : NULL;
}

TEST(routing)
{
	char number[32];
	size_t index = 99;

	CHECK_STR(route_of("+15550100001", NULL, number, &index), "acme");
	CHECK_STR(number, "+15550100001");
	CHECK_INT(index, 0);
	/* national form with the default country code */
	CHECK_STR(route_of("5550100000", NULL, number, &index), "acme");
	CHECK_STR(route_of("00442079460000", NULL, number, &index), "globex");
	CHECK_INT(index, 1);
	/* Request-URI without a number (e.g. an extension): fall back to To */
	CHECK_STR(route_of("s", "+442079460000", number, &index), "globex");
	CHECK_STR(route_of(NULL, "+15550100000", number, &index), "acme");
	/* neither configured */
	CHECK(route_of("+15550100999", "+15550100998", number, &index) == NULL);
	CHECK(route_of(NULL, NULL, number, &index) == NULL);
}

TEST(caller_identity)
{
	struct sip_event ev = {0};
	char out[128];

	ev.from_user = "+15550199999";
	caller_of(&config, &ev, out, sizeof out);
	CHECK_STR(out, "+15550199999");
	/* P-Asserted-Identity from a trusted peer wins over From */
	ev.pai_user = "15550188888";
	caller_of(&config, &ev, out, sizeof out);
	CHECK_STR(out, "+15550188888");
	ev.pai_user = NULL;
	/* an extension is too short for E.164 even with the country code: passed as it is */
	ev.from_user = "1001";
	caller_of(&config, &ev, out, sizeof out);
	CHECK_STR(out, "1001");
	ev.from_user = "alice";
	caller_of(&config, &ev, out, sizeof out);
	CHECK_STR(out, "alice");
	ev.from_user = "Anonymous";
	caller_of(&config, &ev, out, sizeof out);
	CHECK_STR(out, "anonymous");
	ev.from_user = NULL;
	caller_of(&config, &ev, out, sizeof out);
	CHECK_STR(out, "anonymous");
}

TEST(recording_template)
{
	char out[256];
	/* 2026-01-15T10:00:00Z */
	int64_t start = 1768471200LL * 1000000;

	CHECK_INT(call_expand_template("https://rec.example.net/{date}/{vendor_call_key}.wav",
	                               "k-1", "abc@10.0.0.1", start, out, sizeof out),
	          0);
	CHECK_STR(out, "https://rec.example.net/2026-01-15/k-1.wav");
	/* the Call-ID is percent-encoded: it may hold '@', '/', spaces... */
	CHECK_INT(call_expand_template("https://r/{sip_call_id}?d={date}", "k", "a b@c/d", start,
	                               out, sizeof out),
	          0);
	CHECK_STR(out, "https://r/a%20b%40c%2Fd?d=2026-01-15");
	CHECK_INT(
	        call_expand_template("https://r/{sip_call_id}", "k", NULL, start, out, sizeof out),
	        0);
	CHECK_STR(out, "https://r/");
	/* too small: refused, not cut */
	CHECK_INT(call_expand_template("https://rec.example.net/{vendor_call_key}", "0123456789",
	                               "x", start, out, 20),
	          -ENOSPC);
	CHECK_INT(call_expand_template("https://rec.example.net/x", "k", "x", start, out, 25),
	          -ENOSPC);
	CHECK_INT(call_expand_template("https://rec.example.net/x", "k", "x", start, out, 26), 0);
}

/* A call as on_incoming() leaves it, owning its strings, put straight into the table. */
static struct call *
add_call(struct calls *calls, uint64_t id)
{
	struct call *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	c->sip_id = id;
	c->cc = &ccs[0];
	snprintf(c->key, sizeof c->key, "key-%llu", (unsigned long long)id);
	c->sip_call_id = strdup("abc@10.0.0.1");
	c->rec_url = strdup("https://rec.example.net/header.wav");
	c->rep_url = strdup("https://rec.example.net/report.wav");
	c->attr_values[0] = strdup("en-US");
	c->attr_fields[0] = "IvrLanguage__c";
	c->n_attrs = 1;
	c->hnext = *bucket(calls, id);
	*bucket(calls, id) = c;
	c->knext = *call_key_bucket(calls, c->key);
	*call_key_bucket(calls, c->key) = c;
	calls->n_active++;
	return c;
}

static int timer_fired;

static void
on_test_timer(struct calls *calls, struct call *call)
{
	(void)calls;
	(void)call;
	timer_fired++;
}

/*
 * calls_free() with calls still up (a shutdown cut short) frees what call_remove() frees: the
 * strings (LeakSanitizer reports them otherwise, under SANITIZE=1) and the per-call timer, whose
 * handle must be closed for the loop to close.
 */
TEST(free_with_calls_up)
{
	struct calls *calls = NULL;
	struct call *ringing, *waiting;
	uv_loop_t loop;

	REQUIRE(uv_loop_init(&loop) == 0);
	REQUIRE(calls_new(&loop, &config, &calls) == 0);
	ringing = add_call(calls, 1);
	waiting = add_call(calls, 2 + CALL_BUCKETS); /* another call, further down the chain */
	REQUIRE(ringing && waiting && add_call(calls, 2));
	/* a routing deadline and a wait for a recording report, both far off */
	REQUIRE(call_timer_start(calls, ringing, 60000, on_test_timer) == 0);
	REQUIRE(call_timer_start(calls, waiting, 60000, on_test_timer) == 0);
	CHECK_INT(calls_active(calls), 3);
	calls_free(calls);
	/* a timer left running would keep the loop alive (and fire into freed memory) */
	CHECK_INT(uv_run(&loop, UV_RUN_NOWAIT), 0);
	CHECK_INT(timer_fired, 0);
	/* on failure the loop is left as it is: closing it would touch the freed calls */
	if (!test_cur_failed)
		CHECK_INT(uv_loop_close(&loop), 0);
}

int
main(void)
{
	RUN(disconnect_reasons);
	RUN(routing);
	RUN(caller_identity);
	RUN(recording_template);
	RUN(free_with_calls_up);
	return test_summary();
}
