/*
 * tests the state machines of sip/b2bua.c and sip/b2bua_xfer.c where no dialog is needed: the
 * log line of every change (old -> new, with the vendorCallKey once known), and the transitions
 * that ring timeouts, the loop's rejection and failed transfers make. Calls are built in memory
 * with no nua handle, or with a placeholder the code under test must not touch; events are read
 * off the queue the loop would drain.
 */
#include "sip/b2bua.c"
#include "sip/b2bua_xfer.c"

#include <unistd.h>

#include "tests/unit/test.h"

/* ---- what the code logs -------------------------------------------------------------- */

static int saved_stderr = -1;
static FILE *captured;

/* From now on stderr goes to a file, and the log level is level. */
static void
capture_start(enum log_level level)
{
	captured = tmpfile();
	saved_stderr = dup(STDERR_FILENO);
	if (captured)
		dup2(fileno(captured), STDERR_FILENO);
	log_set_level(level);
}

/* What was logged since capture_start(), malloc'd ("" when nothing). */
static char *
capture_end(void)
{
	char *text = NULL;
	long n;

	log_set_level(LOG_LVL_INFO);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	if (!captured)
		return strdup("");
	n = ftell(captured);
	text = calloc(1, n > 0 ? (size_t)n + 1 : 1);
	rewind(captured);
	if (text && n > 0 && fread(text, 1, (size_t)n, captured) != (size_t)n)
		text[0] = '\0';
	fclose(captured);
	captured = NULL;
	return text;
}

static int
logged(const char *text, const char *line)
{
	return text && strstr(text, line) != NULL;
}

/* ---- a SIP side without sofia -------------------------------------------------------- */

static uv_loop_t loop;
static struct sip sip;
static int placeholder; /* stands for a nua handle that must not be used */
#define SOME_HANDLE ((nua_handle_t *)(void *)&placeholder)

static void
on_async(uv_async_t *h)
{
	(void)h;
}

static void
sip_setup(void)
{
	memset(&sip, 0, sizeof sip);
	uv_loop_init(&loop);
	pthread_mutex_init(&sip.qlock, NULL);
	uv_async_init(&loop, &sip.async, on_async);
}

static void
sip_teardown(void)
{
	for (struct sip_event *ev = sip.qhead, *next; ev; ev = next) {
		next = ev->next;
		sip_event_free(ev);
	}
	sip.qhead = sip.qtail = NULL;
	uv_close((uv_handle_t *)&sip.async, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_INT(uv_loop_close(&loop), 0);
	pthread_mutex_destroy(&sip.qlock);
}

/* The next event the loop would get, or NULL; the caller frees it. */
static struct sip_event *
next_event(void)
{
	struct sip_event *ev = sip.qhead;

	if (ev) {
		sip.qhead = ev->next;
		if (!sip.qhead)
			sip.qtail = NULL;
	}
	return ev;
}

/* A call in the table, in state, as the agent leg's answer would leave it (no handles). */
static struct sip_call *
add_call(uint64_t id, enum sip_call_state state, const char *key)
{
	struct sip_call *call = calloc(1, sizeof *call);

	if (!call)
		return NULL;
	call->id = id;
	call->a.call = call->b.call = call->c.call = call->x.call = call;
	call->a.is_caller = 1;
	call->state = state;
	if (key)
		snprintf(call->key, sizeof call->key, "%s", key);
	call->hnext = *bucket(&sip, id);
	*bucket(&sip, id) = call;
	sip.n_calls++;
	return call;
}

/* ---- tests --------------------------------------------------------------------------- */

TEST(state_names_cover_every_state)
{
	CHECK_INT(sizeof call_state_names / sizeof call_state_names[0], CALL_ENDING + 1);
	CHECK_INT(sizeof leg_state_names / sizeof leg_state_names[0], LEG_TERMINATED + 1);
	CHECK_INT(sizeof xfer_state_names / sizeof xfer_state_names[0], XFER_REBRIDGING + 1);
}

TEST(leg_changes_are_logged)
{
	struct sip_call call = {.id = 7};
	char *text;

	call.a.call = call.b.call = call.c.call = call.x.call = &call;
	capture_start(LOG_LVL_DEBUG);
	b2bua_leg_enter_state(&call.a, LEG_INVITING);
	snprintf(call.key, sizeof call.key, "%s", "0b4c2a3e-key");
	b2bua_leg_enter_state(&call.b, LEG_INVITING);
	b2bua_leg_enter_state(&call.b, LEG_ANSWERED);
	b2bua_leg_enter_state(&call.x, LEG_TERMINATED);
	text = capture_end();
	CHECK_INT(call.a.state, LEG_INVITING);
	CHECK_INT(call.b.state, LEG_ANSWERED);
	CHECK_INT(call.x.state, LEG_TERMINATED);
	/* before the loop named the call's key, the line has none */
	CHECK(logged(text, "debug sip: call 7 leg a: idle -> inviting\n"));
	CHECK(logged(text, "debug [0b4c2a3e-key] sip: call 7 leg b: idle -> inviting\n"));
	CHECK(logged(text, "[0b4c2a3e-key] sip: call 7 leg b: inviting -> answered\n"));
	CHECK(logged(text, "[0b4c2a3e-key] sip: call 7 leg x: idle -> terminated\n"));
	CHECK(b2bua_leg_retired(&call.x) && !b2bua_leg_retired(&call.b));
	free(text);

	/* nothing at info level */
	capture_start(LOG_LVL_INFO);
	b2bua_leg_enter_state(&call.c, LEG_INVITING);
	text = capture_end();
	CHECK_STR(text, "");
	CHECK_INT(call.c.state, LEG_INVITING);
	free(text);
}

TEST(ring_timeout_ends_the_call_once)
{
	struct sip_call *call;
	struct sip_event *ev;
	char *text;

	sip_setup();
	call = add_call(3, CALL_EARLY, "ring-key");
	REQUIRE(call);
	capture_start(LOG_LVL_DEBUG);
	on_ring_timeout(&sip, NULL, call);
	on_ring_timeout(&sip, NULL, call); /* an ending call is left alone */
	text = capture_end();
	CHECK_INT(call->state, CALL_ENDING);
	CHECK(logged(text, "[ring-key] sip: call 3: early -> ending\n"));
	ev = next_event();
	REQUIRE(ev);
	CHECK_INT(ev->type, SIP_EV_ENDED);
	CHECK_INT(ev->call_id, 3);
	CHECK_INT(ev->cause, SIP_END_NO_ANSWER);
	CHECK_INT(ev->status, 480);
	sip_event_free(ev);
	CHECK(next_event() == NULL);
	free(text);
	call_unlink_free(&sip, call);
	CHECK_INT(sip.n_calls, 0);
	sip_teardown();
}

TEST(reject_only_while_routing)
{
	struct sip_cmd reject = {.kind = SIP_CMD_REJECT, .call_id = 11, .status = 404};
	struct sip_call *routing, *answered;
	struct sip_event *ev;

	sip_setup();
	routing = add_call(11, CALL_ROUTING, NULL);
	answered = add_call(12, CALL_ANSWERED, NULL);
	REQUIRE(routing && answered);
	b2bua_command(&sip, &reject);
	reject.call_id = 12;
	b2bua_command(&sip, &reject);
	reject.call_id = 99; /* gone already */
	b2bua_command(&sip, &reject);
	CHECK_INT(routing->state, CALL_ENDING);
	CHECK_INT(answered->state, CALL_ANSWERED);
	ev = next_event();
	REQUIRE(ev);
	CHECK_INT(ev->call_id, 11);
	CHECK_INT(ev->cause, SIP_END_REJECTED);
	CHECK_INT(ev->status, 404);
	sip_event_free(ev);
	CHECK(next_event() == NULL);
	call_unlink_free(&sip, routing);
	call_unlink_free(&sip, answered);
	sip_teardown();
}

TEST(refused_transfer_keeps_the_agent)
{
	struct sip_call *call;
	struct sip_event *ev;
	char *text;

	sip_setup();
	call = add_call(5, CALL_ANSWERED, "first-leg");
	REQUIRE(call);
	call->b.nh = SOME_HANDLE; /* the agent is still there */
	call->b.state = LEG_ANSWERED;
	call->xfer = XFER_CALLING;
	call->c.state = LEG_INVITING;
	snprintf(call->xfer_key, sizeof call->xfer_key, "%s", "target-leg");
	call->xfer_target = strdup("sip:2000@127.0.0.1");
	capture_start(LOG_LVL_DEBUG);
	b2bua_on_target_response(&sip, call, 100, NULL); /* provisional: nothing yet */
	CHECK_INT(call->xfer, XFER_CALLING);
	b2bua_on_target_response(&sip, call, 486, NULL);
	text = capture_end();
	CHECK_INT(call->xfer, XFER_NONE);
	CHECK_INT(call->state, CALL_ANSWERED);
	CHECK_INT(call->b.state, LEG_ANSWERED);
	CHECK(call->xfer_target == NULL);
	CHECK_STR(call->xfer_key, "");
	CHECK(logged(text, "[first-leg] sip: call 5 transfer: calling -> none\n"));
	ev = next_event();
	REQUIRE(ev);
	CHECK_INT(ev->type, SIP_EV_TRANSFER_FAILED);
	CHECK_INT(ev->status, 486);
	sip_event_free(ev);
	CHECK(next_event() == NULL);
	free(text);
	call->b.nh = NULL;
	call_unlink_free(&sip, call);
	sip_teardown();
}

TEST(failed_transfer_without_agent_ends_the_call)
{
	struct sip_call *call;
	struct sip_event *ev;
	char *text;

	sip_setup();
	call = add_call(6, CALL_ANSWERED, "blind-leg");
	REQUIRE(call);
	/* the transferor hung up after 202: its leg is retired, b is free */
	call->x.state = LEG_TERMINATED;
	call->xfer = XFER_REBRIDGING;
	capture_start(LOG_LVL_DEBUG);
	b2bua_transfer_failed(&sip, call, 503);
	text = capture_end();
	CHECK_INT(call->xfer, XFER_NONE);
	CHECK_INT(call->state, CALL_ENDING);
	CHECK(logged(text, "[blind-leg] sip: call 6 transfer: rebridging -> none\n"));
	CHECK(logged(text, "[blind-leg] sip: call 6: answered -> ending\n"));
	ev = next_event();
	REQUIRE(ev);
	CHECK_INT(ev->type, SIP_EV_TRANSFER_FAILED);
	sip_event_free(ev);
	ev = next_event();
	REQUIRE(ev);
	CHECK_INT(ev->type, SIP_EV_ENDED);
	CHECK_INT(ev->cause, SIP_END_AGENT_FAILED);
	CHECK_INT(ev->status, 503);
	sip_event_free(ev);
	CHECK(next_event() == NULL);
	free(text);
	call_unlink_free(&sip, call);
	sip_teardown();
}

TEST(transfer_starts_only_when_asked)
{
	struct sip_cmd cmd = {.kind = SIP_CMD_TRANSFER, .call_id = 8};
	struct sip_call *call;
	struct sip_event *ev;

	sip_setup();
	call = add_call(8, CALL_ANSWERED, "k8");
	REQUIRE(call);
	call->b.nh = SOME_HANDLE;
	/* no REFER was accepted (XFER_NONE): the command fails the transfer, no INVITE */
	b2bua_command(&sip, &cmd);
	CHECK_INT(call->xfer, XFER_NONE);
	CHECK_INT(call->c.state, LEG_IDLE);
	ev = next_event();
	REQUIRE(ev);
	CHECK_INT(ev->type, SIP_EV_TRANSFER_FAILED);
	CHECK_INT(ev->status, 0);
	sip_event_free(ev);
	CHECK(next_event() == NULL);
	call->b.nh = NULL;
	call_unlink_free(&sip, call);
	sip_teardown();
}

int
main(void)
{
	RUN(state_names_cover_every_state);
	RUN(leg_changes_are_logged);
	RUN(ring_timeout_ends_the_call_once);
	RUN(reject_only_while_routing);
	RUN(refused_transfer_keeps_the_agent);
	RUN(failed_transfer_without_agent_ends_the_call);
	RUN(transfer_starts_only_when_asked);
	return test_summary();
}
