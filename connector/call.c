#include "connector/call.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "connector/config.h"
#include "connector/e164.h"
#include "connector/log.h"
#include "connector/uuid.h"
#include "scv/body.h"

#define CALL_BUCKETS     4096
#define ANONYMOUS_CALLER "anonymous"

enum call_state {
	CALL_ST_ROUTING = 0, /* INVITE in; forwarded or refused at once */
	CALL_ST_RINGING,     /* agent-leg INVITE out */
	CALL_ST_ANSWERED,    /* agent side answered */
	CALL_ST_ENDED,
};

static const char *const state_names[] = {"routing", "ringing", "answered", "ended"};

struct call_timer;

struct call {
	uint64_t sip_id;
	char key[UUID_STR_LEN]; /* vendorCallKey */
	size_t cc_index;
	const struct cfg_contact_center *cc;
	enum call_state state;
	int64_t start_us, forward_us, answer_us, end_us;
	char voice_call_id[65]; /* Salesforce's id once the create was accepted, else "" */
	/* holds: count, the one in progress, and the sums the closing update reports */
	int n_holds;
	int64_t hold_start_us; /* 0 = not on hold */
	int64_t total_hold_us, longest_hold_us;
	char *sip_call_id;   /* the caller leg's, for the recording template */
	char *rec_url;       /* named by the agent side (recording.header), malloc'd */
	char *rep_url;       /* reported by the recorder through the local API, malloc'd */
	long rep_duration_s; /* its duration, -1 when not given */
	/* an ended call waiting for a recording report keeps how it ended */
	const char *end_reason;
	int end_is_error, end_status;
	char to[32];      /* the dialled number, E.164 */
	char caller[128]; /* END_USER participant (E.164 where it parses) */
	/* callAttributes of the INVITE, kept for transfer legs: fields point into the config */
	const char *attr_fields[32];
	char *attr_values[32];
	size_t n_attrs;
	/* transfer */
	char xfer_key[UUID_STR_LEN];   /* the target leg's vendorCallKey while a transfer runs */
	char parent_key[UUID_STR_LEN]; /* the leg this one was transferred from, "" for the first */
	/* routing */
	int forwarded;            /* the agent-leg INVITE was asked for */
	int omni;                 /* this call asks Omni-Channel where to ring */
	int omni_asked;           /* omniFlow sent */
	int omni_routed;          /* omniFlow answered 2xx: routing exists to clear */
	struct call_timer *timer; /* routing deadline or report wait, NULL when none */
	struct call *hnext;       /* by sip_id */
	struct call *knext;       /* by key */
};

struct call_timer {
	uv_timer_t handle;
	struct calls *calls;
	uint64_t sip_id;
	void (*fire)(struct calls *calls, struct call *call);
};

struct calls {
	uv_loop_t *loop;
	const struct cfg *cfg;
	struct outbox *outbox;
	struct sip *sip;
	struct call *buckets[CALL_BUCKETS];
	struct call *key_buckets[CALL_BUCKETS];
	size_t n_active;
	void (*idle_cb)(void *arg);
	void *idle_arg;
	void (*stopped_cb)(void *arg);
	void *stopped_arg;
};

static void call_timer_stop(struct call *call);

/* ---- table --------------------------------------------------------------------------- */

static struct call **
bucket(struct calls *calls, uint64_t id)
{
	return &calls->buckets[id % CALL_BUCKETS];
}

static struct call *
call_find(struct calls *calls, uint64_t id)
{
	for (struct call *c = *bucket(calls, id); c; c = c->hnext)
		if (c->sip_id == id)
			return c;
	return NULL;
}

static struct call **
key_bucket(struct calls *calls, const char *key)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *key; key++)
		h = (h ^ (uint8_t)*key) * 1099511628211ull;
	return &calls->key_buckets[h % CALL_BUCKETS];
}

static struct call *
call_find_key(struct calls *calls, const char *key)
{
	for (struct call *c = *key_bucket(calls, key); c; c = c->knext)
		if (strcmp(c->key, key) == 0)
			return c;
	return NULL;
}

static void
call_remove(struct calls *calls, struct call *call)
{
	for (struct call **p = bucket(calls, call->sip_id); *p; p = &(*p)->hnext) {
		if (*p == call) {
			*p = call->hnext;
			break;
		}
	}
	for (struct call **p = key_bucket(calls, call->key); *p; p = &(*p)->knext) {
		if (*p == call) {
			*p = call->knext;
			break;
		}
	}
	free(call->sip_call_id);
	free(call->rec_url);
	free(call->rep_url);
	for (size_t i = 0; i < call->n_attrs; i++)
		free(call->attr_values[i]);
	call_timer_stop(call);
	free(call);
	calls->n_active--;
	if (calls->n_active == 0 && calls->idle_cb) {
		void (*cb)(void *) = calls->idle_cb;
		calls->idle_cb = NULL;
		cb(calls->idle_arg);
	}
}

static void
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

/* ---- holds ------------------------------------------------------------------------- */

static void
hold_begin(struct call *call, int64_t ts_us)
{
	if (call->hold_start_us)
		return;
	call->hold_start_us = ts_us;
	call->n_holds++;
	log_info(call->key, "call: on hold (%d)", call->n_holds);
}

static void
hold_end(struct call *call, int64_t ts_us)
{
	int64_t d;

	if (!call->hold_start_us)
		return;
	d = ts_us > call->hold_start_us ? ts_us - call->hold_start_us : 0;
	call->total_hold_us += d;
	if (d > call->longest_hold_us)
		call->longest_hold_us = d;
	call->hold_start_us = 0;
	log_info(call->key, "call: resumed after %lld ms", (long long)(d / 1000));
}

/* Whole seconds, rounded to the nearest. */
static int
whole_seconds(int64_t us)
{
	return (int)((us + 500000) / 1000000);
}

/* ---- recordings --------------------------------------------------------------------- */

/* Appends s percent-encoded (RFC 3986 unreserved characters stay) at *o; 0 or -ENOSPC. */
static int
put_encoded(char **o, char *end, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
		if (*o + (plain ? 1 : 3) >= end)
			return -ENOSPC;
		if (plain) {
			*(*o)++ = (char)c;
		} else {
			*(*o)++ = '%';
			*(*o)++ = hex[c >> 4];
			*(*o)++ = hex[c & 15];
		}
	}
	return 0;
}

/*
 * Expands {vendor_call_key}, {sip_call_id} (percent-encoded) and {date} (the call's start,
 * UTC, YYYY-MM-DD) in a template the configuration validated. 0, or -ENOSPC.
 */
int
call_expand_template(const char *tpl, const char *key, const char *sip_call_id, int64_t start_us,
                     char *out, size_t len)
{
	char *o = out, *end = out + len, date[16];
	time_t t = (time_t)(start_us / 1000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(date, sizeof date, "%Y-%m-%d", &tm);
	while (*tpl) {
		const char *val = NULL;
		size_t skip = 0;
		int r = 0;

		if (strncmp(tpl, "{vendor_call_key}", 17) == 0) {
			val = key;
			skip = 17;
		} else if (strncmp(tpl, "{sip_call_id}", 13) == 0) {
			val = sip_call_id ? sip_call_id : "";
			skip = 13;
		} else if (strncmp(tpl, "{date}", 6) == 0) {
			val = date;
			skip = 6;
		}
		if (val) {
			r = put_encoded(&o, end, val);
			tpl += skip;
		} else if (o + 1 < end) {
			*o++ = *tpl++;
		} else {
			r = -ENOSPC;
		}
		if (r < 0)
			return r;
	}
	if (o >= end)
		return -ENOSPC;
	*o = '\0';
	return 0;
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
static void
submit_create(struct calls *calls, struct call *call)
{
	const struct cfg_contact_center *cc = call->cc;
	int transfer = call->parent_key[0] != '\0';
	char start[32];
	struct scv_create c;
	char *body;

	scv_iso8601(call->start_us, start);
	c = (struct scv_create){
	        .call_center_api_name = cc->call_center_api_name,
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
	body = scv_body_create(&c);
	if (!body) {
		log_err(call->key, "call: cannot build the VoiceCall create (out of memory)");
		return;
	}
	outbox_submit(calls->outbox, call->cc_index, call->key, OUTBOX_CREATE, "POST",
	              "/voiceCalls", body);
}

/* ---- routing ------------------------------------------------------------------------ */

static void
forward_to(struct calls *calls, struct call *call, const char *target)
{
	char header[64 + UUID_STR_LEN];
	const char *headers[2] = {header, NULL};
	struct sip_forward fwd;
	int r;

	if (call->forwarded || call->state != CALL_ST_ROUTING || !calls->sip)
		return;
	call->forwarded = 1;
	call_timer_stop(call);
	snprintf(header, sizeof header, "X-Vendor-Call-Key: %s", call->key);
	fwd = (struct sip_forward){.target_uri = target,
	                           .extra_headers = headers,
	                           .ring_timeout_ms = call->cc->ring_timeout_ms,
	                           .recording_header = call->cc->recording_header};
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

static void
omni_fallback(struct calls *calls, struct call *call, const char *why)
{
	if (call->forwarded)
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

	if (!call || call->forwarded || call->state != CALL_ST_ROUTING)
		return; /* decided already (deadline), or the caller went away */
	cc = call->cc;
	if (status < 200 || status >= 300) {
		snprintf(why, sizeof why, status ? "omniFlow answered HTTP %d" : "omniFlow failed",
		         status);
		omni_fallback(calls, call, why);
		return;
	}
	call->omni_routed = 1;
	if (scv_parse_omniflow_response(body, len, &agent, &queue) < 0) {
		omni_fallback(calls, call, "omniFlow answer unreadable");
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
		omni_fallback(calls, call,
		              agent || queue ? "omniFlow named an unmapped agent/queue"
		                             : "omniFlow named no agent or queue");
	free(agent);
	free(queue);
}

/* The VoiceCall exists: ask Omni-Channel where to ring, within what is left of the deadline. */
static void
omni_ask(struct calls *calls, struct call *call)
{
	long long left = (long long)call->cc->omni_timeout_ms - ms_since_start(call);
	char path[96];
	char *body;
	int r;

	if (call->omni_asked || call->forwarded)
		return;
	call->omni_asked = 1;
	if (left < 50) {
		omni_fallback(calls, call, "no time left for omniFlow");
		return;
	}
	body = scv_body_omniflow(call->to, call->cc->omni_flow_dev_name,
	                         call->cc->omni_fallback_queue);
	snprintf(path, sizeof path, "/voiceCalls/%s/omniFlow", call->key);
	r = body ? outbox_ask(calls->outbox, call->cc_index, "PATCH", path, body, (unsigned)left,
	                      on_omni_reply, calls, call->sip_id)
	         : -ENOMEM;
	free(body);
	if (r < 0)
		omni_fallback(calls, call, "cannot send omniFlow");
}

/*
 * One timer per call at most (the routing deadline, then the wait for a recording report),
 * allocated on its own so that freeing the call never waits for libuv's close callback. The
 * timer finds its call by id: a call gone in between is simply not found.
 */
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

static void
call_timer_stop(struct call *call)
{
	if (!call->timer)
		return;
	uv_timer_stop(&call->timer->handle);
	uv_close((uv_handle_t *)&call->timer->handle, free_timer);
	call->timer = NULL;
}

static int
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

static void
on_omni_deadline(struct calls *calls, struct call *call)
{
	call_timer_stop(call);
	if (!call->forwarded && call->state == CALL_ST_ROUTING)
		omni_fallback(calls, call, "Omni-Channel gave no usable answer in time");
}

/* The call and its create are on disk: ring the agent side, or start asking Omni-Channel. */
static void
after_durable(void *arg, uint64_t sip_id)
{
	struct calls *calls = arg;
	struct call *call = call_find(calls, sip_id);

	if (!call || call->state != CALL_ST_ROUTING || !calls->sip)
		return; /* the caller went away meanwhile */
	if (!call->omni) {
		forward_to(calls, call, call->cc->forward_to);
		return;
	}
	sip_ringing(calls->sip, call->sip_id);
	if (call_timer_start(calls, call,
	                     (long long)call->cc->omni_timeout_ms - ms_since_start(call),
	                     on_omni_deadline) < 0) {
		omni_fallback(calls, call, "out of memory");
		return;
	}
	if (call->voice_call_id[0])
		omni_ask(calls, call);
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
	call->omni = cc->routing_mode == CFG_ROUTING_OMNI;
	snprintf(call->to, sizeof call->to, "%s", to);
	call->start_us = ev->ts_us;
	call->state = CALL_ST_ROUTING;
	call->hnext = *bucket(calls, call->sip_id);
	*bucket(calls, call->sip_id) = call;
	call->knext = *key_bucket(calls, call->key);
	*key_bucket(calls, call->key) = call;
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
	submit_create(calls, call);
	outbox_after_commit(calls->outbox, after_durable, calls, call->sip_id);
}

/* The closing update of the call's current leg, which ended at end_us. */
static void
submit_close(struct calls *calls, struct call *call, int64_t end_us, const char *reason,
             int is_error, int sip_status)
{
	char start[32], end[32], accept[32], path[64], rec[1024];
	struct scv_update u = {0};
	char *body;

	call->end_us = end_us;
	scv_iso8601(call->start_us, start);
	scv_iso8601(call->end_us, end);
	u.start_time = start;
	u.end_time = end;
	if (call->answer_us) {
		scv_iso8601(call->answer_us, accept);
		u.accept_time = accept;
	}
	u.disconnect_value = reason;
	u.disconnect_is_error = is_error;
	/* a hold still in progress ends with the call */
	hold_end(call, call->end_us);
	/*
	 * The reference: hold and interaction durations need recordingLocation, so they go only
	 * with a recording (none yet); the count goes always.
	 */
	u.has_holds = 1;
	u.number_of_holds = call->n_holds;
	u.longest_hold_s = whole_seconds(call->longest_hold_us);
	u.total_hold_s = whole_seconds(call->total_hold_us);
	/* a recording exists only for an answered call: the agent side's URL, else the template */
	if (call->answer_us) {
		/* the agent side's header, else the recorder's report, else the template */
		const char *url = call->rec_url ? call->rec_url : call->rep_url;
		if (!url && call->cc->recording_url_template &&
		    call_expand_template(call->cc->recording_url_template, call->key,
		                         call->sip_call_id, call->start_us, rec, sizeof rec) == 0)
			url = rec;
		if (url && strlen(url) > 1000) {
			log_warn(call->key,
			         "call: recording URL longer than Salesforce's 1000 characters; "
			         "not sent");
		} else if (url) {
			int64_t talk = call->end_us - call->answer_us;
			u.recording_location = url;
			u.total_recording_s = url == call->rep_url && call->rep_duration_s >= 0
			                              ? (int)call->rep_duration_s
			                              : whole_seconds(talk);
			u.agent_interaction_s = whole_seconds(talk - call->total_hold_us);
		}
	}
	log_info(call->key, "call: ended (%s%s, SIP %d), %s, VoiceCall %s", u.disconnect_value,
	         u.disconnect_is_error ? ", error" : "", sip_status,
	         call->answer_us ? "answered" : "not answered",
	         call->voice_call_id[0] ? call->voice_call_id : "not created yet");
	body = scv_body_update(&u);
	if (!body) {
		log_err(call->key, "call: cannot build the closing update (out of memory)");
		return;
	}
	if (call->omni_routed && !call->answer_us) {
		/* missed or abandoned after Omni-Channel routed it: clear the pending routing */
		snprintf(path, sizeof path, "/voiceCalls/%s/clearRouting", call->key);
		outbox_submit(calls->outbox, call->cc_index, call->key, OUTBOX_CLEAR_ROUTING,
		              "PATCH", path, NULL);
	}
	snprintf(path, sizeof path, "/voiceCalls/%s", call->key);
	outbox_submit(calls->outbox, call->cc_index, call->key, OUTBOX_UPDATE, "PATCH", path, body);
	/* in the same store transaction as the update: the call is closed one way or the other */
	outbox_call_ended(calls->outbox, call->key);
}

static void
on_report_deadline(struct calls *calls, struct call *call)
{
	call_timer_stop(call);
	log_info(call->key, "call: no recording report within %u ms",
	         call->cc->recording_report_wait_ms);
	submit_close(calls, call, call->end_us, call->end_reason, call->end_is_error,
	             call->end_status);
	call_remove(calls, call);
}

/* 1 when the call can go now; 0 when it waits for a recorder's report (recording.report_wait_ms). */
static int
on_ended(struct calls *calls, struct call *call, const struct sip_event *ev)
{
	const char *reason;
	int is_error;

	call_enter_state(call, CALL_ST_ENDED);
	call_timer_stop(call);
	call_disconnect_reason(ev->cause, &reason, &is_error);
	if (call->answer_us && !call->rec_url && !call->rep_url &&
	    call->cc->recording_report_wait_ms > 0) {
		call->end_us = ev->ts_us;
		call->end_reason = reason;
		call->end_is_error = is_error;
		call->end_status = ev->status;
		if (call_timer_start(calls, call, call->cc->recording_report_wait_ms,
		                     on_report_deadline) == 0)
			return 0;
	}
	submit_close(calls, call, ev->ts_us, reason, is_error, ev->status);
	return 1;
}

/* ---- transfers ----------------------------------------------------------------------- */

static void
on_refer(struct calls *calls, struct call *call, const struct sip_event *ev)
{
	char header[64 + UUID_STR_LEN];
	const char *headers[2] = {header, NULL};
	struct sip_forward fwd;
	int r;

	if (call->xfer_key[0] || uuid_v4(call->xfer_key) < 0) {
		call->xfer_key[0] = '\0';
		return;
	}
	log_info(call->key, "call: %s transfer requested; target leg %s",
	         ev->status ? "attended" : "blind", call->xfer_key);
	log_debug(call->key, "call: transfer target %s", ev->value ? ev->value : "?");
	snprintf(header, sizeof header, "X-Vendor-Call-Key: %s", call->xfer_key);
	fwd = (struct sip_forward){.target_uri = ev->value,
	                           .extra_headers = headers,
	                           .ring_timeout_ms = call->cc->ring_timeout_ms,
	                           .recording_header = call->cc->recording_header};
	r = sip_transfer(calls->sip, call->sip_id, &fwd);
	if (r < 0) {
		log_err(call->key, "call: cannot start the transfer: %s", strerror(-r));
		call->xfer_key[0] = '\0';
	}
}

/*
 * The caller now talks to the transfer target: the leg so far is closed (the agent left it by
 * transferring: AGENT_DISCONNECT) and a Transfer VoiceCall starts, parented to it.
 */
static void
on_transferred(struct calls *calls, struct call *call, const struct sip_event *ev)
{
	struct call **p;

	if (!call->xfer_key[0])
		return;
	submit_close(calls, call, ev->ts_us, SCV_DISCONNECT_AGENT, 0, ev->status);
	outbox_call_ended(calls->outbox, call->key);
	/* the call now carries the new leg's key */
	for (p = key_bucket(calls, call->key); *p; p = &(*p)->knext) {
		if (*p == call) {
			*p = call->knext;
			break;
		}
	}
	memcpy(call->parent_key, call->key, sizeof call->key);
	memcpy(call->key, call->xfer_key, sizeof call->key);
	call->xfer_key[0] = '\0';
	call->knext = *key_bucket(calls, call->key);
	*key_bucket(calls, call->key) = call;
	call->start_us = call->answer_us = ev->ts_us;
	call->n_holds = 0;
	call->hold_start_us = call->total_hold_us = call->longest_hold_us = 0;
	free(call->rec_url);
	call->rec_url = NULL;
	call->voice_call_id[0] = '\0';
	log_info(call->key, "call: transferred from %s", call->parent_key);
	outbox_call_started(calls->outbox, call->cc_index, call->key, call->start_us);
	outbox_call_answered(calls->outbox, call->key, call->answer_us);
	submit_create(calls, call);
}

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
		on_refer(calls, call, ev);
		break;
	case SIP_EV_TRANSFERRED:
		on_transferred(calls, call, ev);
		break;
	case SIP_EV_TRANSFER_FAILED:
		log_warn(call->key,
		         "call: transfer failed (SIP %d); the caller stays with the agent",
		         ev->status);
		call->xfer_key[0] = '\0';
		break;
	case SIP_EV_HOLD:
		hold_begin(call, ev->ts_us);
		break;
	case SIP_EV_RESUME:
		hold_end(call, ev->ts_us);
		break;
	case SIP_EV_ENDED:
		if (on_ended(calls, call, ev))
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

	if (res->kind == OUTBOX_CREATE && res->accepted) {
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
			if (call->omni && !call->forwarded && call->timer)
				omni_ask(calls, call);
		}
		free(id);
	} else if (res->kind == OUTBOX_CREATE) {
		/* refused for good: Omni-Channel cannot route a call Salesforce does not have */
		call = calls ? call_find_key(calls, res->call_key) : NULL;
		if (call && call->omni)
			omni_fallback(calls, call, "the VoiceCall create was refused");
	} else if (res->kind == OUTBOX_UPDATE && res->accepted) {
		log_info(res->call_key, "salesforce: VoiceCall closed");
	}
}

/* ---- reports from recorders ----------------------------------------------------------- */

int
calls_recording_report(struct calls *calls, const char *key, const char *url, long duration_s)
{
	struct call *call = call_find_key(calls, key);
	char *copy;

	if (!call)
		return -ENOENT;
	copy = strdup(url);
	if (!copy)
		return -ENOMEM;
	free(call->rep_url);
	call->rep_url = copy;
	call->rep_duration_s = duration_s;
	log_info(call->key, "call: the recorder reported the recording (%ld s)", duration_s);
	if (call->state == CALL_ST_ENDED && call->timer) {
		/* the closing update was waiting for this */
		call_timer_stop(call);
		submit_close(calls, call, call->end_us, call->end_reason, call->end_is_error,
		             call->end_status);
		call_remove(calls, call);
	}
	return 0;
}

void
calls_flush(struct calls *calls)
{
	for (size_t i = 0; i < CALL_BUCKETS; i++) {
		struct call *c = calls->buckets[i];
		while (c) {
			struct call *next = c->hnext;
			if (c->state == CALL_ST_ENDED && c->timer)
				on_report_deadline(calls, c);
			c = next;
		}
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
			free(c);
		}
	}
	free(calls);
}
