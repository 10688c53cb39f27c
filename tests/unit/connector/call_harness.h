/*
 * A harness for the call core's unit tests (call_flow.c, call_close.c, call_transfer.c,
 * call_route.c): the call core itself (connector/call*.c, included so that its internals can
 * be looked at), driven by synthetic SIP events, with fakes on its three edges:
 *
 *   - the outbox: outbox_submit() keeps each request (kind, method, path, body) in subs[];
 *     outbox_after_commit() waiters run when the test calls commit(); the up-calls ledger
 *     (started/answered/ended) is kept in marks[];
 *   - the SIP side: sip_forward/transfer/ringing/reject/hangup are kept in cmds[];
 *   - Salesforce: scv_client_ask() keeps the question in asks[]; the test answers it with
 *     reply(). The requests themselves are built by the real scv/client_req.c.
 *
 * Time is the test's: events carry the timestamps it gives them (T0 + offsets), and the
 * per-call timer (routing deadline, recording report wait) is fired by fire_timer(), after
 * the test has checked when it was due. Nothing sleeps.
 */
#ifndef SCVB_TEST_CALL_HARNESS_H
#define SCVB_TEST_CALL_HARNESS_H

#include "connector/call.c"
#include "connector/call_close.c"
#include "connector/call_route.c"

#include <jansson.h>

#include "scv/client_int.h"
#include "tests/unit/test.h"

/* ---- configuration: a static and an Omni-Channel contact center ---------------------- */

static struct cfg_pair attrs[] = {{.key = "X-Account", .value = "Account__c"},
                                  {.key = "X-Lang", .value = "Language__c"}};
static struct cfg_pair omni_agents[] = {{.key = "005A0000001", .value = "sip:alice@pbx"}};
static struct cfg_pair omni_queues[] = {{.key = "00GQ0000001", .value = "sip:sales@pbx"}};
static char *static_numbers[] = {"+15550100000"};
static char *omni_numbers[] = {"+15550100001"};

static struct cfg_contact_center ccs[] = {
        {
                .name = "acme",
                .call_center_api_name = "AcmeCC",
                .numbers = static_numbers,
                .n_numbers = 1,
                .forward_to = "sip:agents@pbx",
                .call_attrs = attrs,
                .n_call_attrs = 2,
                .ring_timeout_ms = 60000,
                .recording_header = "X-Recording",
        },
        {
                .name = "omni",
                .call_center_api_name = "OmniCC",
                .numbers = omni_numbers,
                .n_numbers = 1,
                .forward_to = "sip:fallback@pbx",
                .ring_timeout_ms = 30000,
                .routing_mode = CFG_ROUTING_OMNI,
                .omni_flow_dev_name = "Route_Calls",
                .omni_fallback_queue = "00GQ0000009",
                .omni_timeout_ms = 2000,
                .omni_agents = omni_agents,
                .n_omni_agents = 1,
                .omni_queues = omni_queues,
                .n_omni_queues = 1,
        },
};
static struct cfg config = {.ccs = ccs, .n_ccs = 2, .default_country_code = "1"};

/* The contact centers' clients: real request builders, no key and no HTTP (asks are faked). */
static struct scv_client client_acme = {.cfg = {.name = "acme", .call_center_api_name = "AcmeCC"}};
static struct scv_client client_omni = {.cfg = {.name = "omni",
                                                .call_center_api_name = "OmniCC",
                                                .omni_flow_dev_name = "Route_Calls",
                                                .omni_fallback_queue = "00GQ0000009"}};
static struct scv_client *const clients[] = {&client_acme, &client_omni};

/* ---- the fake outbox ------------------------------------------------------------------ */

struct sub {
	size_t cc;
	char key[UUID_STR_LEN];
	enum scv_req_kind kind;
	char method[8];
	char path[160];
	json_t *body; /* parsed; NULL when the request had none */
};
static struct sub subs[32];
static size_t n_subs;

struct waiter {
	void (*fn)(void *arg, uint64_t id);
	void *arg;
	uint64_t id;
};
static struct waiter waiters[32];
static size_t n_waiters;

/* "started K", "answered K", "ended K": what the outbox was told about calls that are up */
static char marks[32][64];
static size_t n_marks;

int
outbox_submit(struct outbox *ob, size_t cc_index, const char *call_key, struct scv_req *req)
{
	struct sub *s = &subs[n_subs++];

	(void)ob;
	s->cc = cc_index;
	snprintf(s->key, sizeof s->key, "%s", call_key);
	s->kind = req->kind;
	snprintf(s->method, sizeof s->method, "%s", req->method);
	snprintf(s->path, sizeof s->path, "%s", req->path);
	s->body = req->body ? json_loads(req->body, 0, NULL) : NULL;
	scv_req_clear(req);
	return 0;
}

void
outbox_after_commit(struct outbox *ob, void (*fn)(void *arg, uint64_t id), void *arg, uint64_t id)
{
	(void)ob;
	waiters[n_waiters++] = (struct waiter){.fn = fn, .arg = arg, .id = id};
}

static inline void
mark(const char *what, const char *key)
{
	snprintf(marks[n_marks++], sizeof marks[0], "%s %s", what, key);
}

void
outbox_call_started(struct outbox *ob, size_t cc_index, const char *call_key, int64_t start_us)
{
	(void)ob, (void)cc_index, (void)start_us;
	mark("started", call_key);
}

void
outbox_call_answered(struct outbox *ob, const char *call_key, int64_t accept_us)
{
	(void)ob, (void)accept_us;
	mark("answered", call_key);
}

void
outbox_call_ended(struct outbox *ob, const char *call_key)
{
	(void)ob;
	mark("ended", call_key);
}

/* The group commit of this loop turn: what waited for the disk goes on. */
static inline void
commit(void)
{
	size_t n = n_waiters;

	n_waiters = 0;
	for (size_t i = 0; i < n; i++)
		waiters[i].fn(waiters[i].arg, waiters[i].id);
}

/* ---- the fake SIP side ------------------------------------------------------------------ */

enum cmd_type { CMD_FORWARD = 1, CMD_TRANSFER, CMD_RINGING, CMD_REJECT, CMD_HANGUP };

struct cmd {
	enum cmd_type type;
	uint64_t id;
	int status;
	char target[64];
	char header[128]; /* the first extra header */
	unsigned ring_timeout_ms;
	char recording_header[32];
};
static struct cmd cmds[32];
static size_t n_cmds;

static inline struct cmd *
cmd_add(enum cmd_type type, uint64_t id, const struct sip_forward *fwd)
{
	struct cmd *c = &cmds[n_cmds++];

	*c = (struct cmd){.type = type, .id = id};
	if (fwd) {
		snprintf(c->target, sizeof c->target, "%s", fwd->target_uri);
		snprintf(c->header, sizeof c->header, "%s",
		         fwd->extra_headers && fwd->extra_headers[0] ? fwd->extra_headers[0] : "");
		c->ring_timeout_ms = fwd->ring_timeout_ms;
		snprintf(c->recording_header, sizeof c->recording_header, "%s",
		         fwd->recording_header ? fwd->recording_header : "");
	}
	return c;
}

int
sip_forward(struct sip *sip, uint64_t call_id, const struct sip_forward *fwd)
{
	(void)sip;
	cmd_add(CMD_FORWARD, call_id, fwd);
	return 0;
}

int
sip_transfer(struct sip *sip, uint64_t call_id, const struct sip_forward *fwd)
{
	(void)sip;
	cmd_add(CMD_TRANSFER, call_id, fwd);
	return 0;
}

int
sip_ringing(struct sip *sip, uint64_t call_id)
{
	(void)sip;
	cmd_add(CMD_RINGING, call_id, NULL);
	return 0;
}

int
sip_reject(struct sip *sip, uint64_t call_id, int status)
{
	(void)sip;
	cmd_add(CMD_REJECT, call_id, NULL)->status = status;
	return 0;
}

int
sip_hangup(struct sip *sip, uint64_t call_id)
{
	(void)sip;
	cmd_add(CMD_HANGUP, call_id, NULL);
	return 0;
}

void
sip_event_free(struct sip_event *ev)
{
	if (!ev)
		return;
	free(ev->sip_call_id);
	free(ev->src_addr);
	free(ev->ruri_user);
	free(ev->to_user);
	free(ev->from_user);
	free(ev->from_display);
	free(ev->pai_user);
	free(ev->value);
	for (size_t i = 0; i < ev->n_headers; i++) {
		free(ev->headers[i].name);
		free(ev->headers[i].value);
	}
	free(ev->headers);
	free(ev);
}

/* ---- the fake Salesforce: omniFlow questions ------------------------------------------ */

struct ask_rec {
	char method[8];
	char path[160];
	json_t *body;
	unsigned timeout_ms;
	scv_reply_cb cb;
	void *arg;
	uint64_t id;
	int answered;
};
static struct ask_rec asks[8];
static size_t n_asks;

int
scv_client_ask(struct scv_client *client, const struct scv_req *req, unsigned timeout_ms,
               scv_reply_cb cb, void *arg, uint64_t id)
{
	struct ask_rec *a = &asks[n_asks++];

	(void)client;
	snprintf(a->method, sizeof a->method, "%s", req->method);
	snprintf(a->path, sizeof a->path, "%s", req->path);
	a->body = req->body ? json_loads(req->body, 0, NULL) : NULL;
	a->timeout_ms = timeout_ms;
	a->cb = cb;
	a->arg = arg;
	a->id = id;
	a->answered = 0;
	return 0;
}

/* Salesforce answers question i (status 0: no answer came). */
static inline void
reply(size_t i, int status, const char *body)
{
	asks[i].answered = 1;
	asks[i].cb(asks[i].arg, asks[i].id, status, body, body ? strlen(body) : 0);
}

/* ---- the fixture ----------------------------------------------------------------------- */

static uv_loop_t loop;
static struct calls *calls;
static int64_t T0; /* the first INVITE's instant: now, so the routing deadline is real */
static int idle_called;

static inline int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#define SEC 1000000LL /* microseconds */

static inline void
reset_records(void)
{
	for (size_t i = 0; i < n_subs; i++)
		json_decref(subs[i].body);
	for (size_t i = 0; i < n_asks; i++)
		json_decref(asks[i].body);
	n_subs = n_waiters = n_marks = n_cmds = n_asks = 0;
}

static inline int
setup(void)
{
	log_set_level(LOG_LVL_ERR);
	reset_records();
	idle_called = 0;
	T0 = now_us();
	if (uv_loop_init(&loop) < 0 || calls_new(&loop, &config, &calls) < 0)
		return -1;
	calls_set_outbox(calls, (struct outbox *)&config); /* never looked into by the fakes */
	calls_set_clients(calls, clients);
	calls_set_sip(calls, (struct sip *)&loop);
	return 0;
}

static inline void
teardown(void)
{
	/* calls a test left up go the way an ended one goes (their timers closed) */
	for (size_t i = 0; i < CALL_BUCKETS; i++)
		while (calls->buckets[i])
			call_remove(calls, calls->buckets[i]);
	calls_free(calls);
	calls = NULL;
	uv_run(&loop, UV_RUN_NOWAIT); /* timers closed by the calls */
	CHECK_INT(uv_loop_close(&loop), 0);
	reset_records();
}

/* ---- events ---------------------------------------------------------------------------- */

static inline char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static inline struct sip_event *
event(enum sip_event_type type, uint64_t id, int64_t ts_us)
{
	struct sip_event *ev = calloc(1, sizeof *ev);

	ev->type = type;
	ev->call_id = id;
	ev->ts_us = ts_us;
	return ev;
}

/* An INVITE for number from caller, with the given captured headers (name, value, ...). */
static inline void
invite(uint64_t id, int64_t ts_us, const char *number, const char *caller, const char *pai,
       size_t n_headers, const char *const *headers)
{
	struct sip_event *ev = event(SIP_EV_INCOMING, id, ts_us);

	ev->sip_call_id = strdup("abc@pbx");
	ev->src_addr = strdup("127.0.0.1");
	ev->ruri_user = dup_or_null(number);
	ev->to_user = dup_or_null(number);
	ev->from_user = dup_or_null(caller);
	ev->pai_user = dup_or_null(pai);
	if (n_headers) {
		ev->headers = calloc(n_headers, sizeof *ev->headers);
		for (size_t i = 0; i < n_headers; i++) {
			ev->headers[i].name = strdup(headers[2 * i]);
			ev->headers[i].value = strdup(headers[2 * i + 1]);
		}
		ev->n_headers = n_headers;
	}
	calls_on_sip_event(ev, calls);
}

static inline void
happen(enum sip_event_type type, uint64_t id, int64_t ts_us)
{
	calls_on_sip_event(event(type, id, ts_us), calls);
}

static inline void
happen_value(enum sip_event_type type, uint64_t id, int64_t ts_us, const char *value, int status)
{
	struct sip_event *ev = event(type, id, ts_us);

	ev->value = dup_or_null(value);
	ev->status = status;
	calls_on_sip_event(ev, calls);
}

static inline void
end(uint64_t id, int64_t ts_us, enum sip_end_cause cause, int status)
{
	struct sip_event *ev = event(SIP_EV_ENDED, id, ts_us);

	ev->cause = cause;
	ev->status = status;
	calls_on_sip_event(ev, calls);
}

/* The outbox reports the fate of call key's create (accepted with voiceCallId id, or not). */
static inline void
create_result(const char *key, int accepted, const char *id)
{
	char body[96];
	struct outbox_result res = {.call_key = key, .kind = SCV_REQ_CREATE, .accepted = accepted};

	snprintf(body, sizeof body, "{\"voiceCallId\":\"%s\"}", id ? id : "");
	res.status = accepted ? 201 : 400;
	res.body = accepted ? body : "{}";
	res.body_len = strlen(res.body);
	calls_on_outbox_result(&res, calls);
}

/* A call that answered: INVITE at T0, committed, forwarded +0.1 s, answered at +answer_s. */
static inline struct call *
answered_call(uint64_t id, int64_t answer_s)
{
	static const char *const hdrs[] = {"X-Account", "ACC-42"};

	invite(id, T0, "+15550100000", "+15550199999", NULL, 1, hdrs);
	commit();
	happen(SIP_EV_FORWARDED, id, T0 + SEC / 10);
	happen(SIP_EV_ANSWERED, id, T0 + answer_s * SEC);
	return call_find(calls, id);
}

/* ---- fired timers -------------------------------------------------------------------- */

/* When the call's timer is due, in ms from now (loop time); -1 without a timer. */
static inline long long
timer_due_ms(const struct call *call)
{
	if (!call->timer)
		return -1;
	return (long long)uv_timer_get_due_in(&call->timer->handle);
}

/* The call's timer is due: run what it would run. */
static inline void
fire_timer(struct call *call)
{
	on_call_timer(&call->timer->handle);
}

/* ---- reading what was sent ------------------------------------------------------------ */

static inline const char *
jstr_at(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static inline long long
jint_at(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static inline int
has(json_t *o, const char *key)
{
	return json_object_get(o, key) != NULL;
}

/* The disconnectReason of an update body: its value, and isError in *is_error. */
static inline const char *
reason_of(json_t *body, int *is_error)
{
	json_t *r = json_object_get(body, "disconnectReason");

	*is_error = json_is_true(json_object_get(r, "isError"));
	return jstr_at(r, "value");
}

static inline const char *
iso(int64_t ts_us)
{
	static char out[4][32];
	static int i;

	i = (i + 1) % 4;
	scv_iso8601(ts_us, out[i]);
	return out[i];
}

/* The last request of kind submitted for key, NULL if none. */
static inline struct sub *
last_sub(const char *key, enum scv_req_kind kind)
{
	for (size_t i = n_subs; i-- > 0;)
		if (subs[i].kind == kind && strcmp(subs[i].key, key) == 0)
			return &subs[i];
	return NULL;
}

static inline size_t
count_cmds(enum cmd_type type)
{
	size_t n = 0;

	for (size_t i = 0; i < n_cmds; i++)
		n += cmds[i].type == type;
	return n;
}

static inline int
marked(const char *what, const char *key)
{
	char want[64];

	snprintf(want, sizeof want, "%s %s", what, key);
	for (size_t i = 0; i < n_marks; i++)
		if (strcmp(marks[i], want) == 0)
			return 1;
	return 0;
}

#endif
