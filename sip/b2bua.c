/*
 * The back-to-back user agent, signalling only (sofia thread).
 *
 * A call has two legs: a (the caller's INVITE we serve) and b (the INVITE we send to the
 * agent side). SDP is relayed untouched; 18x, final responses, BYE and CANCEL are relayed
 * between the legs here, without a round trip to the loop. The loop is told what happened
 * (INCOMING, FORWARDED, PROGRESS, ANSWERED, ENDED) and answers INCOMING with forward/reject.
 *
 * Here: the call table, new calls, ending legs, the agent side's answer, the nua callback
 * and the loop's commands. Mid-call offers (hold, resume) are relayed in b2bua_midcall.c;
 * transfers (REFER) are in b2bua_xfer.c.
 */
#include "sip/sip_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/su.h>
#include <sofia-sip/url.h>

#include "connector/log.h"

/* ---- states ------------------------------------------------------------------------- */

static const char *const call_state_names[] = {"new",   "routing",  "calling",
                                               "early", "answered", "ending"};
static const char *const leg_state_names[] = {"idle", "inviting", "answered", "terminated"};

const char *
b2bua_log_key(const struct sip_call *call)
{
	return call->key[0] ? call->key : NULL;
}

static void
call_enter_state(struct sip_call *call, enum sip_call_state state)
{
	log_debug(b2bua_log_key(call), "sip: call %llu: %s -> %s", (unsigned long long)call->id,
	          call_state_names[call->state], call_state_names[state]);
	call->state = state;
}

static char
leg_name(const struct sip_leg *leg)
{
	const struct sip_call *call = leg->call;

	if (leg == &call->a)
		return 'a';
	if (leg == &call->b)
		return 'b';
	return leg == &call->c ? 'c' : 'x';
}

void
b2bua_leg_enter_state(struct sip_leg *leg, enum sip_leg_state state)
{
	log_debug(b2bua_log_key(leg->call), "sip: call %llu leg %c: %s -> %s",
	          (unsigned long long)leg->call->id, leg_name(leg), leg_state_names[leg->state],
	          leg_state_names[state]);
	leg->state = state;
}

int
b2bua_leg_retired(const struct sip_leg *leg)
{
	return leg == &leg->call->x;
}

/* ---- call table ---------------------------------------------------------------------- */

static struct sip_call **
bucket(struct sip *sip, uint64_t id)
{
	return &sip->buckets[id % SIP_CALL_BUCKETS];
}

static struct sip_call *
call_find(struct sip *sip, uint64_t id)
{
	for (struct sip_call *c = *bucket(sip, id); c; c = c->hnext)
		if (c->id == id)
			return c;
	return NULL;
}

static void
call_unlink_free(struct sip *sip, struct sip_call *call)
{
	for (struct sip_call **p = bucket(sip, call->id); *p; p = &(*p)->hnext) {
		if (*p == call) {
			*p = call->hnext;
			break;
		}
	}
	sip->n_calls--;
	atomic_store(&sip->active_calls, sip->n_calls);
	if (call->ring_timer)
		su_timer_destroy(call->ring_timer);
	free(call->rec_header);
	free(call->rec_url);
	if (call->relay_update)
		nua_destroy_event(call->update_saved);
	free(call->xfer_target);
	free(call->xfer_replaces);
	if (call->refer_nh)
		nua_handle_unref(call->refer_nh);
	free(call->from_str);
	free(call->pai);
	free(call->sdp);
	free(call);
}

/* ---- events to the loop -------------------------------------------------------------- */

struct sip_event *
b2bua_event_new(enum sip_event_type type, uint64_t id)
{
	struct sip_event *ev = calloc(1, sizeof *ev);

	if (!ev)
		return NULL;
	ev->type = type;
	ev->call_id = id;
	ev->ts_us = sip_now_us();
	return ev;
}

void
b2bua_post_simple(struct sip *sip, struct sip_call *call, enum sip_event_type type, int status)
{
	struct sip_event *ev = b2bua_event_new(type, call->id);

	if (!ev) {
		log_err(NULL, "sip: out of memory; event %d of call %llu lost", (int)type,
		        (unsigned long long)call->id);
		return;
	}
	ev->status = status;
	sip_post(sip, ev);
}

/* Reports the end of the call once; later endings of the other leg are not reported. */
void
b2bua_call_ended(struct sip *sip, struct sip_call *call, enum sip_end_cause cause, int status)
{
	struct sip_event *ev;

	if (call->state == CALL_ENDING)
		return;
	call_enter_state(call, CALL_ENDING);
	ev = b2bua_event_new(SIP_EV_ENDED, call->id);
	if (!ev) {
		log_err(NULL, "sip: out of memory; end of call %llu lost",
		        (unsigned long long)call->id);
		return;
	}
	ev->cause = cause;
	ev->status = status;
	sip_post(sip, ev);
}

/* ---- helpers ------------------------------------------------------------------------- */

char *
b2bua_xstrndup(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static char *
url_user(const url_t *url)
{
	if (!url)
		return NULL;
	if (url->url_user)
		return strdup(url->url_user);
	/* tel:+1555... keeps the number in the host part */
	if (url->url_type == url_tel && url->url_host)
		return strdup(url->url_host);
	return NULL;
}

/* The user part of a name-addr value such as "\"Bob\" <sip:+1555@host>;tag=x". */
static char *
user_of_header_value(const char *value)
{
	const char *p = strchr(value, '<');
	const char *start, *end;

	p = p ? p + 1 : value;
	while (*p == ' ')
		p++;
	if (strncasecmp(p, "sips:", 5) == 0)
		start = p + 5;
	else if (strncasecmp(p, "sip:", 4) == 0)
		start = p + 4;
	else if (strncasecmp(p, "tel:", 4) == 0)
		start = p + 4;
	else
		return NULL;
	end = start + strcspn(start, "@;>? ");
	if (end == start || (size_t)(end - start) > 64)
		return NULL;
	return b2bua_xstrndup(start, (size_t)(end - start));
}

static char *
addr_text(const struct sockaddr *sa)
{
	char buf[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf,
		          sizeof buf);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		          buf, sizeof buf);
	else
		snprintf(buf, sizeof buf, "?");
	return strdup(buf);
}

const char *
b2bua_header_value(sip_t const *msg, const char *name)
{
	for (sip_unknown_t const *u = msg->sip_unknown; u; u = u->un_next)
		if (u->un_name && strcasecmp(u->un_name, name) == 0)
			return u->un_value;
	return NULL;
}

static int
is_sdp(sip_t const *msg)
{
	return msg->sip_payload && msg->sip_payload->pl_len > 0 && msg->sip_content_type &&
	       msg->sip_content_type->c_type &&
	       strcasecmp(msg->sip_content_type->c_type, "application/sdp") == 0;
}

char *
b2bua_sdp_of(sip_t const *msg)
{
	if (!is_sdp(msg))
		return NULL;
	return b2bua_xstrndup(msg->sip_payload->pl_data, msg->sip_payload->pl_len);
}

/*
 * nua_respond() keeps the reason phrase by reference until the response is serialised, after
 * the callback (or command) that supplied it has returned: only static strings may be passed.
 * So relayed responses carry the standard phrase for their status, not the peer's own.
 */
const char *
b2bua_static_phrase(int status)
{
	const char *p = sip_status_phrase(status);

	return p ? p : "Unknown";
}

/* Responds to an INVITE we will not serve and lets nua's terminated state free the handle. */
static void
refuse(nua_t *nua, nua_handle_t *nh, int status, const char *phrase)
{
	nua_respond(nh, status, phrase, NUTAG_WITH_THIS(nua), TAG_END());
}

/* ---- new calls ----------------------------------------------------------------------- */

static int
fill_incoming(struct sip *sip, struct sip_event *ev, sip_t const *msg, const struct sockaddr *sa)
{
	ev->src_addr = addr_text(sa);
	if (msg->sip_call_id && msg->sip_call_id->i_id)
		ev->sip_call_id = strdup(msg->sip_call_id->i_id);
	ev->ruri_user = url_user(msg->sip_request->rq_url);
	if (msg->sip_to)
		ev->to_user = url_user(msg->sip_to->a_url);
	if (msg->sip_from) {
		ev->from_user = url_user(msg->sip_from->a_url);
		if (msg->sip_from->a_display)
			ev->from_display = strdup(msg->sip_from->a_display);
	}
	const char *pai = b2bua_header_value(msg, "P-Asserted-Identity");
	if (pai)
		ev->pai_user = user_of_header_value(pai);

	ev->headers = calloc(sip->n_capture ? sip->n_capture : 1, sizeof *ev->headers);
	if (!ev->headers)
		return -ENOMEM;
	for (size_t i = 0; i < sip->n_capture; i++) {
		const char *v = b2bua_header_value(msg, sip->capture[i]);
		if (!v || strlen(v) > SIP_MAX_HEADER_VALUE)
			continue;
		ev->headers[ev->n_headers].name = strdup(sip->capture[i]);
		ev->headers[ev->n_headers].value = strdup(v);
		if (!ev->headers[ev->n_headers].name || !ev->headers[ev->n_headers].value) {
			free(ev->headers[ev->n_headers].name);
			free(ev->headers[ev->n_headers].value);
			return -ENOMEM;
		}
		ev->n_headers++;
	}
	if (!ev->src_addr)
		return -ENOMEM;
	return 0;
}

static char *
from_for_agent_leg(sip_t const *msg)
{
	su_home_t home[1] = {SU_HOME_INIT(home)};
	char *url, *out = NULL;
	const char *display = msg->sip_from ? msg->sip_from->a_display : NULL;

	if (!msg->sip_from)
		return NULL;
	url = url_as_string(home, msg->sip_from->a_url);
	if (url) {
		size_t n = strlen(url) + (display ? strlen(display) : 0) + 8;
		out = malloc(n);
		if (out) {
			if (display)
				snprintf(out, n, "%s <%s>", display, url);
			else
				snprintf(out, n, "<%s>", url);
		}
	}
	su_home_deinit(home);
	return out;
}

static void
on_new_invite(struct sip *sip, nua_t *nua, nua_handle_t *nh, sip_t const *msg)
{
	msg_t *req = nua_current_request(nua);
	su_addrinfo_t *ai = req ? msg_addrinfo(req) : NULL;
	struct sip_call *call;
	struct sip_event *ev;

	if (!ai || !ai->ai_addr || !sip_acl_match(&sip->acl, ai->ai_addr)) {
		char *who = ai && ai->ai_addr ? addr_text(ai->ai_addr) : NULL;
		log_warn(NULL, "sip: INVITE from untrusted peer %s refused (403)", who ? who : "?");
		free(who);
		refuse(nua, nh, 403, "Forbidden");
		return;
	}
	if (!sip->accepting) {
		refuse(nua, nh, 503, "Service Unavailable");
		return;
	}
	if (sip->n_calls >= sip->max_calls) {
		log_warn(NULL, "sip: %u calls up (max_calls); new INVITE refused (503)",
		         sip->n_calls);
		refuse(nua, nh, 503, "Service Unavailable");
		return;
	}
	if (msg->sip_payload && msg->sip_payload->pl_len > 0 && !is_sdp(msg)) {
		refuse(nua, nh, 415, "Unsupported Media Type");
		return;
	}

	call = calloc(1, sizeof *call);
	ev = b2bua_event_new(SIP_EV_INCOMING, 0);
	if (!call || !ev)
		goto out_oom;
	call->id = sip->next_id++;
	ev->call_id = call->id;
	call->a.call = call->b.call = call->c.call = call->x.call = call;
	call->a.nh = nh;
	call->a.is_caller = 1;
	call->sdp = b2bua_sdp_of(msg);
	call->from_str = from_for_agent_leg(msg);
	const char *pai = b2bua_header_value(msg, "P-Asserted-Identity");
	if (pai && strlen(pai) <= SIP_MAX_HEADER_VALUE &&
	    asprintf(&call->pai, "P-Asserted-Identity: %s", pai) < 0)
		call->pai = NULL;
	if ((is_sdp(msg) && !call->sdp) || !call->from_str ||
	    fill_incoming(sip, ev, msg, ai->ai_addr) < 0)
		goto out_oom;

	call_enter_state(call, CALL_ROUTING);
	b2bua_leg_enter_state(&call->a, LEG_INVITING);
	nua_handle_bind(nh, &call->a);
	call->hnext = *bucket(sip, call->id);
	*bucket(sip, call->id) = call;
	sip->n_calls++;
	atomic_store(&sip->active_calls, sip->n_calls);
	sip_post(sip, ev);
	return;

out_oom:
	log_err(NULL, "sip: out of memory accepting an INVITE (500)");
	if (call) {
		free(call->sdp);
		free(call->from_str);
		free(call->pai);
		free(call);
	}
	sip_event_free(ev);
	refuse(nua, nh, 500, "Server Internal Error");
}

/* ---- ending legs --------------------------------------------------------------------- */

/* Ends one leg the way its state requires. status: what to answer a caller not yet answered. */
void
b2bua_end_leg(struct sip_leg *leg, int status)
{
	if (!leg->nh || leg->state == LEG_TERMINATED)
		return;
	if (leg->is_caller) {
		if (leg->state == LEG_ANSWERED)
			nua_bye(leg->nh, TAG_END());
		else
			nua_respond(leg->nh, status, b2bua_static_phrase(status), TAG_END());
	} else {
		if (leg->state == LEG_ANSWERED)
			nua_bye(leg->nh, TAG_END());
		else
			nua_cancel(leg->nh, TAG_END());
	}
}

static void
leg_terminated(struct sip *sip, struct sip_leg *leg)
{
	struct sip_call *call = leg->call;
	struct sip_leg *other = leg->is_caller ? &call->b : &call->a;
	/* a transfer's legs do not end the call */
	int side_leg = b2bua_leg_retired(leg) || leg == &call->c;

	b2bua_leg_enter_state(leg, LEG_TERMINATED);
	if (leg->nh) {
		nua_handle_bind(leg->nh, NULL);
		nua_handle_destroy(leg->nh);
		leg->nh = NULL;
	}
	if (!side_leg && call->state != CALL_ENDING) {
		/* A leg died without BYE/CANCEL/final response we saw: a signalling failure. */
		b2bua_call_ended(sip, call, SIP_END_SIGNALLING, 0);
		b2bua_end_leg(other, 500);
		b2bua_end_leg(&call->c, 0);
	}
	if (!call->a.nh && !call->b.nh && !call->c.nh && !call->x.nh)
		call_unlink_free(sip, call);
}

/* ---- responses from the agent side --------------------------------------------------- */

static enum sip_end_cause
cause_of_failure(int status)
{
	if (status == 408 || (status >= 500 && status < 600))
		return SIP_END_AGENT_FAILED;
	return SIP_END_AGENT_REJECTED;
}

static void
on_agent_invite_response(struct sip *sip, struct sip_call *call, int status, sip_t const *msg)
{
	struct sip_leg *a = &call->a;
	char *sdp;

	if (status < 101)
		return;
	b2bua_check_recording(sip, call, msg);
	if (call->state == CALL_ENDING) {
		/* caller already gone: an answer that crossed our CANCEL is hung up */
		if (status >= 200 && status < 300) {
			b2bua_leg_enter_state(&call->b, LEG_ANSWERED);
			nua_bye(call->b.nh, TAG_END());
		}
		return;
	}
	sdp = b2bua_sdp_of(msg);
	if (status < 200) {
		if (a->nh && a->state != LEG_TERMINATED)
			nua_respond(a->nh, status, b2bua_static_phrase(status),
			            TAG_IF(sdp, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
			            TAG_IF(sdp, SIPTAG_PAYLOAD_STR(sdp)), TAG_END());
		if (call->state == CALL_CALLING)
			call_enter_state(call, CALL_EARLY);
		b2bua_post_simple(sip, call, SIP_EV_PROGRESS, status);
	} else if (status < 300) {
		if (call->state == CALL_ANSWERED) {
			free(sdp);
			return; /* a second 2xx of a forked INVITE: nua acknowledges it */
		}
		b2bua_leg_enter_state(&call->b, LEG_ANSWERED);
		call_enter_state(call, CALL_ANSWERED);
		if (call->ring_timer)
			su_timer_reset(call->ring_timer);
		if (a->nh && a->state != LEG_TERMINATED) {
			b2bua_leg_enter_state(a, LEG_ANSWERED);
			nua_respond(a->nh, status, b2bua_static_phrase(status),
			            TAG_IF(sdp, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
			            TAG_IF(sdp, SIPTAG_PAYLOAD_STR(sdp)), TAG_END());
		}
		b2bua_post_simple(sip, call, SIP_EV_ANSWERED, status);
	} else {
		/* A redirect has nowhere to go through a B2BUA without its Contact: say unavailable. */
		int relay = status < 400 ? 480 : status;

		b2bua_call_ended(sip, call, cause_of_failure(status), status);
		if (a->nh && a->state != LEG_TERMINATED)
			nua_respond(a->nh, relay, b2bua_static_phrase(relay), TAG_END());
	}
	free(sdp);
}

/* ---- nua events, one function each --------------------------------------------------- */

/* An INVITE: a new call (leg NULL), or a re-INVITE on one of a call's legs. */
static void
on_i_invite(struct sip *sip, nua_t *nua, nua_handle_t *nh, struct sip_leg *leg, sip_t const *msg)
{
	if (leg)
		b2bua_relay_offer(sip, nua, leg, msg, 0);
	else if (msg)
		on_new_invite(sip, nua, nh, msg);
	else
		refuse(nua, nh, 400, "Bad Request");
}

static void
on_i_update(struct sip *sip, nua_t *nua, nua_handle_t *nh, struct sip_leg *leg, sip_t const *msg)
{
	if (leg)
		b2bua_relay_offer(sip, nua, leg, msg, 1);
	else
		nua_respond(nh, 481, "Call Does Not Exist", NUTAG_WITH_THIS(nua), TAG_END());
}

/* The answer to an UPDATE we relayed goes back to the leg it came from. */
static void
on_r_update(struct sip *sip, struct sip_leg *leg, int status, sip_t const *msg)
{
	struct sip_call *call = leg ? leg->call : NULL;

	if (call && call->relay_from && call->relay_update && leg != call->relay_from)
		b2bua_on_relay_response(sip, call, status, msg);
}

/* Only the end of a dialog matters here: the leg is gone (or a refused INVITE's handle). */
static void
on_i_state(struct sip *sip, nua_handle_t *nh, struct sip_leg *leg, tagi_t tags[])
{
	int state = nua_callstate_init;

	tl_gets(tags, NUTAG_CALLSTATE_REF(state), TAG_END());
	if (state != nua_callstate_terminated)
		return;
	if (leg)
		leg_terminated(sip, leg);
	else if (nh)
		nua_handle_destroy(nh); /* a refused INVITE */
}

/* A response to an INVITE we sent: which one depends on the leg and the call's state. */
static void
on_r_invite(struct sip *sip, struct sip_leg *leg, int status, sip_t const *msg)
{
	struct sip_call *call = leg ? leg->call : NULL;

	if (!call || b2bua_leg_retired(leg))
		return;
	if (leg == &call->c)
		b2bua_on_target_response(sip, call, status, msg);
	else if (leg == &call->a && call->xfer == XFER_REBRIDGING)
		b2bua_on_rebridge_response(sip, call, status, msg);
	else if (call->relay_from && leg != call->relay_from)
		b2bua_on_relay_response(sip, call, status, msg);
	else if (!leg->is_caller)
		on_agent_invite_response(sip, call, status, msg);
}

/* Late offer: the caller's ACK carries the answer to the agent's offer. */
static void
on_i_ack(struct sip_leg *leg, sip_t const *msg)
{
	struct sip_call *call = leg ? leg->call : NULL;
	char *sdp;

	if (!call || !leg->is_caller || call->sdp || !call->b.nh)
		return;
	if (!msg || !is_sdp(msg)) {
		nua_ack(call->b.nh, TAG_END());
		return;
	}
	sdp = b2bua_sdp_of(msg);
	if (sdp) {
		nua_ack(call->b.nh, SIPTAG_CONTENT_TYPE_STR("application/sdp"),
		        SIPTAG_PAYLOAD_STR(sdp), TAG_END());
		free(sdp);
	}
}

static void
on_i_cancel(struct sip *sip, struct sip_leg *leg)
{
	struct sip_call *call = leg ? leg->call : NULL;

	if (!call || !leg->is_caller)
		return;
	b2bua_call_ended(sip, call, SIP_END_CALLER_CANCEL, 487);
	b2bua_end_leg(&call->b, 0);
}

static void
on_i_bye(struct sip *sip, struct sip_leg *leg, sip_t const *msg)
{
	struct sip_call *call = leg ? leg->call : NULL;

	if (!call || b2bua_leg_retired(leg))
		return;
	if (leg == &call->b && call->xfer != XFER_NONE) {
		/* a transferor hanging up: the transfer goes on */
		b2bua_retire_agent_leg(call);
		return;
	}
	if (leg == &call->c) {
		/* the target left before the re-bridge */
		b2bua_transfer_failed(sip, call, 0);
		return;
	}
	if (leg->is_caller) {
		b2bua_call_ended(sip, call, SIP_END_CALLER_BYE, 0);
		b2bua_end_leg(&call->b, 0);
		b2bua_end_leg(&call->c, 0);
	} else {
		/* before ENDED: the core closes then */
		b2bua_check_recording(sip, call, msg);
		b2bua_call_ended(sip, call, SIP_END_AGENT_BYE, 0);
		b2bua_end_leg(&call->a, 0);
	}
}

/* The B2BUA's part of the nua callback: one handler per event. leg is NULL for a handle that
 * belongs to no call (a new INVITE, a refused one, a request outside any dialog). */
void
b2bua_callback(nua_event_t event, int status, nua_t *nua, struct sip *sip, nua_handle_t *nh,
               struct sip_leg *leg, sip_t const *msg, tagi_t tags[])
{
	switch (event) {
	case nua_i_invite:
		on_i_invite(sip, nua, nh, leg, msg);
		break;
	case nua_i_update:
		on_i_update(sip, nua, nh, leg, msg);
		break;
	case nua_r_update:
		on_r_update(sip, leg, status, msg);
		break;
	case nua_i_state:
		on_i_state(sip, nh, leg, tags);
		break;
	case nua_i_refer:
		b2bua_on_refer(sip, nua, nh, leg, msg, tags);
		break;
	case nua_r_invite:
		on_r_invite(sip, leg, status, msg);
		break;
	case nua_i_ack:
		on_i_ack(leg, msg);
		break;
	case nua_i_cancel:
		on_i_cancel(sip, leg);
		break;
	case nua_i_bye:
		on_i_bye(sip, leg, msg);
		break;
	default:
		break;
	}
}

/* ---- commands from the loop ---------------------------------------------------------- */

/* The agent side did not answer in time: cancel it, tell the caller 480. */
static void
on_ring_timeout(struct sip *sip, su_timer_t *t, struct sip_call *call)
{
	(void)t;
	if (call->state != CALL_CALLING && call->state != CALL_EARLY)
		return;
	b2bua_call_ended(sip, call, SIP_END_NO_ANSWER, 480);
	b2bua_end_leg(&call->b, 0);
	b2bua_end_leg(&call->a, 480);
}

static void
forward(struct sip *sip, struct sip_call *call, struct sip_cmd *cmd)
{
	nua_handle_t *nh;

	if (call->state != CALL_ROUTING || !call->a.nh)
		return; /* the caller went away while the loop decided */
	snprintf(call->key, sizeof call->key, "%s", cmd->key);
	nh = nua_handle(sip->nua, &call->b, TAG_END());
	if (!nh) {
		b2bua_call_ended(sip, call, SIP_END_AGENT_FAILED, 500);
		nua_respond(call->a.nh, 500, "Server Internal Error", TAG_END());
		return;
	}
	call->b.nh = nh;
	b2bua_leg_enter_state(&call->b, LEG_INVITING);
	call_enter_state(call, CALL_CALLING);
	call->rec_header = cmd->recording_header; /* taken over */
	cmd->recording_header = NULL;
	nua_invite(nh, NUTAG_URL(cmd->target), SIPTAG_TO_STR(cmd->target),
	           SIPTAG_FROM_STR(call->from_str), TAG_IF(call->pai, SIPTAG_HEADER_STR(call->pai)),
	           TAG_IF(call->sdp, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
	           TAG_IF(call->sdp, SIPTAG_PAYLOAD_STR(call->sdp)),
	           TAG_IF(cmd->headers && cmd->headers[0], SIPTAG_HEADER_STR(cmd->headers)),
	           /* late offer: the agent's ACK must carry the caller's answer */
	           NUTAG_AUTOACK(call->sdp != NULL), TAG_END());
	b2bua_post_simple(sip, call, SIP_EV_FORWARDED, 0);
	if (cmd->ring_timeout_ms) {
		call->ring_timer = su_timer_create(su_root_task(sip->root), 0);
		if (!call->ring_timer ||
		    su_timer_set_interval(call->ring_timer, on_ring_timeout, call,
		                          (su_duration_t)cmd->ring_timeout_ms) < 0)
			log_err(NULL, "sip: cannot arm the ring timeout of call %llu",
			        (unsigned long long)call->id);
	}
}

void
b2bua_command(struct sip *sip, struct sip_cmd *cmd)
{
	struct sip_call *call = call_find(sip, cmd->call_id);

	if (!call)
		return; /* already over */
	switch (cmd->kind) {
	case SIP_CMD_FORWARD:
		forward(sip, call, cmd);
		break;
	case SIP_CMD_TRANSFER:
		b2bua_start_transfer(sip, call, cmd);
		break;
	case SIP_CMD_RINGING:
		if (call->state == CALL_ROUTING && call->a.nh && call->a.state != LEG_TERMINATED)
			nua_respond(call->a.nh, 180, "Ringing", TAG_END());
		break;
	case SIP_CMD_REJECT:
		if (call->state == CALL_ROUTING) {
			b2bua_call_ended(sip, call, SIP_END_REJECTED, cmd->status);
			b2bua_end_leg(&call->a, cmd->status);
		}
		break;
	case SIP_CMD_HANGUP:
		b2bua_call_ended(sip, call, SIP_END_LOCAL_HANGUP, 0);
		b2bua_end_leg(&call->a, 503);
		b2bua_end_leg(&call->b, 0);
		b2bua_end_leg(&call->c, 0);
		break;
	default:
		break;
	}
}

void
b2bua_end_all(struct sip *sip)
{
	for (size_t i = 0; i < SIP_CALL_BUCKETS; i++) {
		for (struct sip_call *c = sip->buckets[i]; c; c = c->hnext) {
			b2bua_call_ended(sip, c, SIP_END_LOCAL_HANGUP, 0);
			b2bua_end_leg(&c->a, 503);
			b2bua_end_leg(&c->b, 0);
			b2bua_end_leg(&c->c, 0);
			b2bua_end_leg(&c->x, 0);
		}
	}
}

void
b2bua_free_all(struct sip *sip)
{
	for (size_t i = 0; i < SIP_CALL_BUCKETS; i++) {
		while (sip->buckets[i]) {
			struct sip_call *c = sip->buckets[i];
			if (c->a.nh)
				nua_handle_bind(c->a.nh, NULL);
			if (c->b.nh)
				nua_handle_bind(c->b.nh, NULL);
			if (c->c.nh)
				nua_handle_bind(c->c.nh, NULL);
			if (c->x.nh)
				nua_handle_bind(c->x.nh, NULL);
			call_unlink_free(sip, c);
		}
	}
}
