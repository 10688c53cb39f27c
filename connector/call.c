/*
 * The calls module: the call table and each call's lifecycle (INVITE to end), the dispatch of
 * SIP events and outbox results, and the public API of connector/call.h. Routing is in
 * call_route.c, closing updates and transfers in call_close.c.
 */
#include "connector/call_int.h"
#include "connector/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "connector/config.h"
#include "connector/e164.h"
#include "connector/log.h"
#include "connector/uuid.h"
#include "scv/body.h"
#include "scv/client.h"

#define ANONYMOUS_CALLER "anonymous"

static const char *const state_names[] = {"routing", "ringing", "answered", "report_wait", "ended"};

/* ---- table --------------------------------------------------------------------------- */

static struct call **
bucket(struct calls *calls, uint64_t id)
{
	return &calls->buckets[id % CALL_BUCKETS];
}

struct call *
call_find(struct calls *calls, uint64_t id)
{
	for (struct call *c = *bucket(calls, id); c; c = c->hnext)
		if (c->sip_id == id)
			return c;
	return NULL;
}

struct call **
call_key_bucket(struct calls *calls, const char *key)
{
	return &calls->key_buckets[util_hash_str(key) % CALL_BUCKETS];
}

struct call *
call_find_key(struct calls *calls, const char *key)
{
	for (struct call *c = *call_key_bucket(calls, key); c; c = c->knext)
		if (strcmp(c->key, key) == 0)
			return c;
	return NULL;
}

/* Frees what the call owns. Its timer is freed in its close callback, on the loop's next turn. */
static void
call_free(struct call *call)
{
	free(call->sip_call_id);
	free(call->rec_url);
	free(call->rep_url);
	for (size_t i = 0; i < call->n_attrs; i++)
		free(call->attr_values[i]);
	call_timer_stop(call);
	free(call);
}

void
call_remove(struct calls *calls, struct call *call)
{
	for (struct call **p = bucket(calls, call->sip_id); *p; p = &(*p)->hnext) {
		if (*p == call) {
			*p = call->hnext;
			break;
		}
	}
	for (struct call **p = call_key_bucket(calls, call->key); *p; p = &(*p)->knext) {
		if (*p == call) {
			*p = call->knext;
			break;
		}
	}
	call_free(call);
	calls->n_active--;
	if (calls->n_active == 0 && calls->idle_cb) {
		void (*cb)(void *) = calls->idle_cb;
		calls->idle_cb = NULL;
		cb(calls->idle_arg);
	}
}

void
call_enter_state(struct call *call, enum call_state state)
{
	log_debug(call->key, "call: %s -> %s", state_names[call->state], state_names[state]);
	call->state = state;
}

/* ---- pure mappings ------------------------------------------------------------------- */

void
call_disconnect_reason(enum sip_end_cause cause, const char **ret_value, int *ret_is_error)
{
	switch (cause) {
	case SIP_END_CALLER_BYE:
	case SIP_END_CALLER_CANCEL:
		*ret_value = SCV_DISCONNECT_CUSTOMER;
		*ret_is_error = 0;
		break;
	case SIP_END_AGENT_BYE:
		*ret_value = SCV_DISCONNECT_AGENT;
		*ret_is_error = 0;
		break;
	case SIP_END_AGENT_REJECTED:
	case SIP_END_NO_ANSWER:
	case SIP_END_REJECTED:
		*ret_value = SCV_DISCONNECT_OTHER;
		*ret_is_error = 0;
		break;
	case SIP_END_AGENT_FAILED:
	case SIP_END_LOCAL_HANGUP:
	case SIP_END_SIGNALLING:
	default:
		*ret_value = SCV_DISCONNECT_TELECOM;
		*ret_is_error = 1;
		break;
	}
}

/* The dialled number: the Request-URI's user part, else To's; the first that is configured. */
static const struct cfg_contact_center *
route(const struct cfg *cfg, const struct sip_event *ev, char *number, size_t len,
      size_t *ret_index)
{
	const char *candidates[] = {ev->ruri_user, ev->to_user};

	for (size_t i = 0; i < 2; i++) {
		const struct cfg_contact_center *cc;

		if (!candidates[i] ||
		    e164_normalize(candidates[i], cfg->default_country_code, number, len) < 0)
			continue;
		cc = cfg_find_number(cfg, number, ret_index);
		if (cc)
			return cc;
	}
	return NULL;
}

/* The caller: P-Asserted-Identity (set by a trusted peer) over From; E.164 where it parses. */
static void
caller_of(const struct cfg *cfg, const struct sip_event *ev, char *out, size_t len)
{
	const char *raw = ev->pai_user ? ev->pai_user : ev->from_user;

	if (!raw || !raw[0] || strcasecmp(raw, "anonymous") == 0 ||
	    strcasecmp(raw, "restricted") == 0 || strcasecmp(raw, "unknown") == 0) {
		snprintf(out, len, "%s", ANONYMOUS_CALLER);
		return;
	}
	if (e164_normalize(raw, cfg->default_country_code, out, len) == 0)
		return;
	snprintf(out, len, "%s", raw);
}

static const char *
captured(const struct sip_event *ev, const char *name)
{
	for (size_t i = 0; i < ev->n_headers; i++)
		if (strcasecmp(ev->headers[i].name, name) == 0)
			return ev->headers[i].value;
	return NULL;
}

/* ---- lifecycle ----------------------------------------------------------------------- */

static void
capture_attrs(struct call *call, const struct sip_event *ev)
{
	const struct cfg_contact_center *cc = call->cc;

	for (size_t i = 0; i < cc->n_call_attrs && call->n_attrs < 32; i++) {
		const char *v = captured(ev, cc->call_attrs[i].key);
		char *copy = v ? strdup(v) : NULL;
		if (copy) {
			call->attr_fields[call->n_attrs] = cc->call_attrs[i].value;
			call->attr_values[call->n_attrs++] = copy;
		}
	}
}

/*
 * The create of the call's current leg: Inbound for the first; for a transfer leg, Transfer with
 * parentVoiceCallId = the leg before it and from = the contact center's number (the reference,
 * §7.4). callAttributes go with every leg.
 */
void
call_submit_create(struct calls *calls, struct call *call)
{
	int transfer = call->parent_key[0] != '\0';
	char start[32];
	struct scv_create c;
	struct scv_req req;

	scv_iso8601(call->start_us, start);
	c = (struct scv_create){
	        .vendor_call_key = call->key,
	        .to = call->to,
	        .from = transfer ? call->to : call->caller,
	        .initiation_method = transfer ? "Transfer" : "Inbound",
	        .start_time = start,
	        .participant_key = call->caller,
	        .parent_voice_call_id = transfer ? call->parent_key : NULL,
	        .attr_fields = call->attr_fields,
	        .attr_values = (const char *const *)call->attr_values,
	        .n_attrs = call->n_attrs,
	};
	if (scv_client_create_req(calls->clients[call->cc_index], &c, &req) < 0) {
		log_err(call->key, "call: cannot build the VoiceCall create (out of memory)");
		return;
	}
	outbox_submit(calls->outbox, call->cc_index, call->key, &req);
}

static void
on_incoming(struct calls *calls, struct sip_event *ev)
{
	char to[32];
	const struct cfg_contact_center *cc;
	struct call *call;
	size_t index;

	cc = route(calls->cfg, ev, to, sizeof to, &index);
	if (!cc) {
		log_info(NULL, "call: no contact center for the dialled number; 404");
		log_debug(NULL, "call: dialled R-URI user \"%s\", To user \"%s\"",
		          ev->ruri_user ? ev->ruri_user : "", ev->to_user ? ev->to_user : "");
		sip_reject(calls->sip, ev->call_id, 404);
		return;
	}
	call = calloc(1, sizeof *call);
	if (!call || uuid_v4(call->key) < 0) {
		log_err(NULL, "call: out of memory (or no randomness) for a new call; 503");
		free(call);
		sip_reject(calls->sip, ev->call_id, 503);
		return;
	}
	call->sip_id = ev->call_id;
	call->sip_call_id = ev->sip_call_id ? strdup(ev->sip_call_id) : NULL;
	call->cc = cc;
	call->cc_index = index;
	call->route = cc->routing_mode == CFG_ROUTING_OMNI ? CALL_RT_OMNI_WAIT : CALL_RT_STATIC;
	snprintf(call->to, sizeof call->to, "%s", to);
	call->start_us = ev->ts_us;
	call->state = CALL_ST_ROUTING;
	call->hnext = *bucket(calls, call->sip_id);
	*bucket(calls, call->sip_id) = call;
	call->knext = *call_key_bucket(calls, call->key);
	*call_key_bucket(calls, call->key) = call;
	calls->n_active++;

	log_info(call->key, "call: new inbound call for %s (Call-ID %s)", cc->name,
	         ev->sip_call_id ? ev->sip_call_id : "?");
	log_debug(call->key, "call: from \"%s\" to %s", ev->from_user ? ev->from_user : "", to);
	/*
	 * The call and its create are staged in the store, and the INVITE is forwarded once they
	 * are on disk (this loop turn's group commit): whatever the agent side sees, Salesforce
	 * will hear of, even if the process dies the next instant.
	 */
	caller_of(calls->cfg, ev, call->caller, sizeof call->caller);
	capture_attrs(call, ev);
	outbox_call_started(calls->outbox, call->cc_index, call->key, call->start_us);
	call_submit_create(calls, call);
	outbox_after_commit(calls->outbox, call_after_durable, calls, call->sip_id);
}

/* ---- SIP events and outbox results --------------------------------------------------- */

void
calls_on_sip_event(struct sip_event *ev, void *arg)
{
	struct calls *calls = arg;
	struct call *call;

	if (ev->type == SIP_EV_STOPPED) {
		sip_event_free(ev);
		if (calls->stopped_cb)
			calls->stopped_cb(calls->stopped_arg);
		return;
	}
	if (ev->type == SIP_EV_INCOMING) {
		on_incoming(calls, ev);
		sip_event_free(ev);
		return;
	}
	call = call_find(calls, ev->call_id);
	if (!call) {
		/* a call we refused, or one that never became ours */
		sip_event_free(ev);
		return;
	}
	switch (ev->type) {
	case SIP_EV_FORWARDED:
		call->forward_us = ev->ts_us;
		call_enter_state(call, CALL_ST_RINGING);
		log_debug(call->key, "call: forwarded, %lld us after the INVITE",
		          (long long)(call->forward_us - call->start_us));
		break;
	case SIP_EV_PROGRESS:
		log_debug(call->key, "call: agent side %d", ev->status);
		break;
	case SIP_EV_ANSWERED:
		call->answer_us = ev->ts_us;
		call_enter_state(call, CALL_ST_ANSWERED);
		outbox_call_answered(calls->outbox, call->key, call->answer_us);
		break;
	case SIP_EV_RECORDING:
		free(call->rec_url);
		call->rec_url = ev->value; /* taken over */
		ev->value = NULL;
		log_info(call->key, "call: the agent side named the recording");
		break;
	case SIP_EV_REFER:
		call_on_refer(calls, call, ev);
		break;
	case SIP_EV_TRANSFERRED:
		call_on_transferred(calls, call, ev);
		break;
	case SIP_EV_TRANSFER_FAILED:
		log_warn(call->key,
		         "call: transfer failed (SIP %d); the caller stays with the agent",
		         ev->status);
		call->xfer_key[0] = '\0';
		break;
	case SIP_EV_HOLD:
		call_hold_begin(call, ev->ts_us);
		break;
	case SIP_EV_RESUME:
		call_hold_end(call, ev->ts_us);
		break;
	case SIP_EV_ENDED:
		if (call_on_ended(calls, call, ev))
			call_remove(calls, call);
		break;
	default:
		break;
	}
	sip_event_free(ev);
}

void
calls_on_outbox_result(const struct outbox_result *res, void *arg)
{
	struct calls *calls = arg;
	struct call *call;
	char *id = NULL;

	if (res->kind == SCV_REQ_CREATE && res->accepted) {
		if (scv_parse_create_response(res->body, res->body_len, &id) < 0) {
			log_warn(res->call_key,
			         "salesforce: create accepted without a usable voiceCallId");
			return;
		}
		log_info(res->call_key, "salesforce: VoiceCall %s created", id);
		/* kept on the call while it is up (the call may already be over) */
		call = calls ? call_find_key(calls, res->call_key) : NULL;
		if (call) {
			snprintf(call->voice_call_id, sizeof call->voice_call_id, "%s", id);
			if (call->route == CALL_RT_OMNI_WAIT && call->timer)
				call_omni_ask(calls, call);
		}
		free(id);
	} else if (res->kind == SCV_REQ_CREATE) {
		/* refused for good: Omni-Channel cannot route a call Salesforce does not have */
		call = calls ? call_find_key(calls, res->call_key) : NULL;
		if (call)
			call_omni_fallback(calls, call, "the VoiceCall create was refused");
	} else if (res->kind == SCV_REQ_UPDATE && res->accepted) {
		log_info(res->call_key, "salesforce: VoiceCall closed");
	}
}

/* ---- setup --------------------------------------------------------------------------- */

int
calls_new(uv_loop_t *loop, const struct cfg *cfg, struct calls **ret_calls)
{
	struct calls *calls = calloc(1, sizeof *calls);

	if (!calls)
		return -ENOMEM;
	calls->loop = loop;
	calls->cfg = cfg;
	*ret_calls = calls;
	return 0;
}

void
calls_set_outbox(struct calls *calls, struct outbox *outbox)
{
	calls->outbox = outbox;
}

void
calls_set_clients(struct calls *calls, struct scv_client *const *clients)
{
	calls->clients = clients;
}

void
calls_set_sip(struct calls *calls, struct sip *sip)
{
	calls->sip = sip;
}

size_t
calls_active(const struct calls *calls)
{
	return calls->n_active;
}

void
calls_when_idle(struct calls *calls, void (*cb)(void *arg), void *arg)
{
	if (calls->n_active == 0) {
		cb(arg);
		return;
	}
	calls->idle_cb = cb;
	calls->idle_arg = arg;
}

void
calls_on_sip_stopped(struct calls *calls, void (*cb)(void *arg), void *arg)
{
	calls->stopped_cb = cb;
	calls->stopped_arg = arg;
}

void
calls_free(struct calls *calls)
{
	if (!calls)
		return;
	for (size_t i = 0; i < CALL_BUCKETS; i++) {
		while (calls->buckets[i]) {
			struct call *c = calls->buckets[i];
			calls->buckets[i] = c->hnext;
			log_err(c->key, "call: still up at exit; its VoiceCall stays open");
			call_free(c);
		}
	}
	free(calls);
}
