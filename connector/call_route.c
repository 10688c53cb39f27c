/*
 * Routing of a new call once it is on disk: the agent-leg INVITE to the contact center's
 * forward_to, or, in Omni-Channel mode, to where omniFlow says within omni_timeout_ms, with
 * forward_to as the fallback. Also the per-call timer (the routing deadline, later the wait
 * for a recording report).
 */
#include "connector/call_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connector/config.h"
#include "connector/log.h"
#include "scv/body.h"
#include "scv/client.h"

/* ---- routing ------------------------------------------------------------------------ */

static const char *const route_names[] = {"static",        "omni_wait", "omni_asked",
                                          "omni_answered", "forwarded", "omni_routed"};

static void
route_enter(struct call *call, enum call_route route)
{
	log_debug(call->key, "routing: %s -> %s", route_names[call->route], route_names[route]);
	call->route = route;
}

static int
forwarded(const struct call *call)
{
	return call->route == CALL_RT_FORWARDED || call->route == CALL_RT_OMNI_ROUTED;
}

/* Omni-Channel mode, and nothing forwarded yet. */
static int
omni_pending(const struct call *call)
{
	return call->route == CALL_RT_OMNI_WAIT || call->route == CALL_RT_OMNI_ASKED ||
	       call->route == CALL_RT_OMNI_ANSWERED;
}

int
call_omni_routed(const struct call *call)
{
	return call->route == CALL_RT_OMNI_ANSWERED || call->route == CALL_RT_OMNI_ROUTED;
}

static void
forward_to(struct calls *calls, struct call *call, const char *target)
{
	char header[64 + UUID_STR_LEN];
	const char *headers[2] = {header, NULL};
	struct sip_forward fwd;
	int r;

	if (forwarded(call) || call->state != CALL_ST_ROUTING || !calls->sip)
		return;
	route_enter(call,
	            call->route == CALL_RT_OMNI_ANSWERED ? CALL_RT_OMNI_ROUTED : CALL_RT_FORWARDED);
	call_timer_stop(call);
	snprintf(header, sizeof header, "X-Vendor-Call-Key: %s", call->key);
	fwd = (struct sip_forward){.target_uri = target,
	                           .extra_headers = headers,
	                           .ring_timeout_ms = call->cc->ring_timeout_ms,
	                           .recording_header = call->cc->recording_header,
	                           .vendor_call_key = call->key};
	r = sip_forward(calls->sip, call->sip_id, &fwd);
	if (r < 0)
		log_err(call->key, "call: cannot forward: %s", strerror(-r));
}

static long long
ms_since_start(const struct call *call)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - call->start_us) / 1000;
}

void
call_omni_fallback(struct calls *calls, struct call *call, const char *why)
{
	if (!omni_pending(call))
		return;
	log_warn(call->key, "routing: %s after %lld ms; ringing forward_to", why,
	         ms_since_start(call));
	forward_to(calls, call, call->cc->forward_to);
}

static const char *
lookup(const struct cfg_pair *map, size_t n, const char *id)
{
	for (size_t i = 0; id && i < n; i++)
		if (strcmp(map[i].key, id) == 0)
			return map[i].value;
	return NULL;
}

static void
on_omni_reply(void *arg, uint64_t sip_id, int status, const char *body, size_t len)
{
	struct calls *calls = arg;
	struct call *call = call_find(calls, sip_id);
	const struct cfg_contact_center *cc;
	char *agent = NULL, *queue = NULL, why[64];
	const char *target;

	if (!call || call->route != CALL_RT_OMNI_ASKED || call->state != CALL_ST_ROUTING)
		return; /* decided already (deadline), or the caller went away */
	cc = call->cc;
	if (status < 200 || status >= 300) {
		snprintf(why, sizeof why, status ? "omniFlow answered HTTP %d" : "omniFlow failed",
		         status);
		call_omni_fallback(calls, call, why);
		return;
	}
	route_enter(call, CALL_RT_OMNI_ANSWERED);
	if (scv_parse_omniflow_response(body, len, &agent, &queue) < 0) {
		call_omni_fallback(calls, call, "omniFlow answer unreadable");
		return;
	}
	if ((target = lookup(cc->omni_agents, cc->n_omni_agents, agent)) != NULL)
		log_info(call->key, "routing: Omni-Channel chose agent %s in %lld ms", agent,
		         ms_since_start(call));
	else if ((target = lookup(cc->omni_queues, cc->n_omni_queues, queue)) != NULL)
		log_info(call->key, "routing: Omni-Channel chose queue %s in %lld ms", queue,
		         ms_since_start(call));
	if (target)
		forward_to(calls, call, target);
	else
		call_omni_fallback(calls, call,
		                   agent || queue ? "omniFlow named an unmapped agent/queue"
		                                  : "omniFlow named no agent or queue");
	free(agent);
	free(queue);
}

#define OMNI_ASK_GRACE_MS 200

/* The VoiceCall exists: ask Omni-Channel where to ring, within what is left of the deadline. */
void
call_omni_ask(struct calls *calls, struct call *call)
{
	long long left = (long long)call->cc->omni_timeout_ms - ms_since_start(call);
	struct scv_client *client = calls->clients[call->cc_index];
	struct scv_req req;
	int r;

	if (call->route != CALL_RT_OMNI_WAIT)
		return;
	route_enter(call, CALL_RT_OMNI_ASKED);
	if (left < 50) {
		call_omni_fallback(calls, call, "no time left for omniFlow");
		return;
	}
	/* The call's deadline timer decides when time is up (forward_to, logged as such); the
	 * request's own timeout, a little later, only ends a request nobody waits for any more.
	 * With both at the same instant either could fire first. */
	r = scv_client_omniflow_req(client, call->key, call->to, &req);
	if (r == 0) {
		r = scv_client_ask(client, &req, (unsigned)left + OMNI_ASK_GRACE_MS, on_omni_reply,
		                   calls, call->sip_id);
		scv_req_clear(&req);
	}
	if (r < 0)
		call_omni_fallback(calls, call, "cannot send omniFlow");
}

/* ---- the per-call timer -------------------------------------------------------------- */

/*
 * One timer per call at most (the routing deadline, then the wait for a recording report),
 * allocated on its own so that freeing the call never waits for libuv's close callback. The
 * timer finds its call by id: a call gone in between is simply not found.
 */
struct call_timer {
	uv_timer_t handle;
	struct calls *calls;
	uint64_t sip_id;
	void (*fire)(struct calls *calls, struct call *call);
};

static void
on_call_timer(uv_timer_t *t)
{
	struct call_timer *ct = t->data;
	struct call *call = call_find(ct->calls, ct->sip_id);

	if (call && call->timer == ct)
		ct->fire(ct->calls, call);
}

static void
free_timer(uv_handle_t *h)
{
	free(h->data);
}

void
call_timer_stop(struct call *call)
{
	if (!call->timer)
		return;
	uv_timer_stop(&call->timer->handle);
	uv_close((uv_handle_t *)&call->timer->handle, free_timer);
	call->timer = NULL;
}

int
call_timer_start(struct calls *calls, struct call *call, long long ms,
                 void (*fire)(struct calls *calls, struct call *call))
{
	struct call_timer *ct = calloc(1, sizeof *ct);

	call_timer_stop(call);
	if (!ct)
		return -ENOMEM;
	ct->calls = calls;
	ct->sip_id = call->sip_id;
	ct->fire = fire;
	uv_timer_init(calls->loop, &ct->handle);
	ct->handle.data = ct;
	uv_timer_start(&ct->handle, on_call_timer, ms > 0 ? (uint64_t)ms : 0, 0);
	call->timer = ct;
	return 0;
}

/* ---- routing, once on disk ----------------------------------------------------------- */

static void
on_omni_deadline(struct calls *calls, struct call *call)
{
	call_timer_stop(call);
	if (call->state == CALL_ST_ROUTING)
		call_omni_fallback(calls, call, "Omni-Channel gave no usable answer in time");
}

/* The call and its create are on disk: ring the agent side, or start asking Omni-Channel. */
void
call_after_durable(void *arg, uint64_t sip_id)
{
	struct calls *calls = arg;
	struct call *call = call_find(calls, sip_id);

	if (!call || call->state != CALL_ST_ROUTING || !calls->sip)
		return; /* the caller went away meanwhile */
	if (call->route == CALL_RT_STATIC) {
		forward_to(calls, call, call->cc->forward_to);
		return;
	}
	sip_ringing(calls->sip, call->sip_id);
	if (call_timer_start(calls, call,
	                     (long long)call->cc->omni_timeout_ms - ms_since_start(call),
	                     on_omni_deadline) < 0) {
		call_omni_fallback(calls, call, "out of memory");
		return;
	}
	if (call->voice_call_id[0])
		call_omni_ask(calls, call);
}
