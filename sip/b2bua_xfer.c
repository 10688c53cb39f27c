/*
 * Transfers in the B2BUA (sofia thread): a REFER from the agent side is accepted and reported
 * to the loop, which answers with the target; the target is called without an offer, its
 * answer re-bridges the caller (RFC 3725), and the transferor's leg is retired.
 */
#include "sip/sip_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/url.h>

#include "connector/log.h"

/* ---- the transfer's state ----------------------------------------------------------- */

static const char *const xfer_state_names[] = {"none", "asked", "calling", "rebridging"};

/* The one place call->xfer changes; logs old -> new at debug level. */
static void
xfer_enter_state(struct sip_call *call, enum sip_xfer_state state)
{
	log_debug(b2bua_log_key(call), "sip: call %llu transfer: %s -> %s",
	          (unsigned long long)call->id, xfer_state_names[call->xfer],
	          xfer_state_names[state]);
	call->xfer = state;
}

/* ---- transfers (REFER from the agent side) ------------------------------------------ */

static void
post_transfer(struct sip *sip, struct sip_call *call, enum sip_event_type type, int status)
{
	b2bua_post_simple(sip, call, type, status);
}

/* The agent leg leaves during a transfer (a blind transferor hangs up after 202 or NOTIFY):
 * leg x takes over its dialog, and b is free for the target. */
void
b2bua_retire_agent_leg(struct sip_call *call)
{
	if (!call->b.nh)
		return;
	call->x.nh = call->b.nh;
	call->x.is_caller = 0;
	b2bua_leg_enter_state(&call->x, call->b.state);
	nua_handle_bind(call->x.nh, &call->x);
	call->b.nh = NULL;
	b2bua_leg_enter_state(&call->b, LEG_IDLE);
}

/* "Replaces=..." among the Refer-To URI's headers (attended transfer), unescaped. */
static char *
replaces_of(const char *headers)
{
	const char *p = headers;

	while (p && *p) {
		size_t n = strcspn(p, "&");
		if (n > 9 && strncasecmp(p, "Replaces=", 9) == 0) {
			char *v = b2bua_xstrndup(p + 9, n - 9);
			if (v)
				url_unescape(v, v);
			return v;
		}
		p += n;
		if (*p == '&')
			p++;
	}
	return NULL;
}

void
b2bua_on_refer(struct sip *sip, nua_t *nua, nua_handle_t *nh, struct sip_leg *leg, sip_t const *msg,
               tagi_t tags[])
{
	struct sip_call *call = leg ? leg->call : NULL;
	su_home_t home[1] = {SU_HOME_INIT(home)};
	sip_event_t const *event = NULL;
	url_t *url;
	struct sip_event *ev;

	if (!call || leg != &call->b || call->state != CALL_ANSWERED || call->xfer != XFER_NONE ||
	    call->relay_from || !msg || !msg->sip_refer_to) {
		nua_respond(nh, 603, "Declined", NUTAG_WITH_THIS(nua), TAG_END());
		return;
	}
	url = url_hdup(home, msg->sip_refer_to->r_url);
	if (!url || (url->url_type != url_sip && url->url_type != url_sips)) {
		su_home_deinit(home);
		nua_respond(nh, 400, "Bad Refer-To", NUTAG_WITH_THIS(nua), TAG_END());
		return;
	}
	call->xfer_replaces = url->url_headers ? replaces_of(url->url_headers) : NULL;
	url->url_headers = NULL;
	{
		const char *text = url_as_string(home, url);
		call->xfer_target = text ? strdup(text) : NULL;
	}
	su_home_deinit(home);
	ev = b2bua_event_new(SIP_EV_REFER, call->id);
	if (!call->xfer_target || !ev || !(ev->value = strdup(call->xfer_target))) {
		sip_event_free(ev);
		free(call->xfer_target);
		free(call->xfer_replaces);
		call->xfer_target = call->xfer_replaces = NULL;
		nua_respond(nh, 500, "Server Internal Error", NUTAG_WITH_THIS(nua), TAG_END());
		return;
	}
	tl_gets(tags, NUTAG_REFER_EVENT_REF(event), TAG_END());
	if (event)
		call->refer_event = sip_event_dup(nua_handle_home(nh), event);
	call->refer_nh = nua_handle_ref(nh);
	xfer_enter_state(call, XFER_ASKED);
	nua_respond(nh, 202, "Accepted", NUTAG_WITH_THIS(nua), TAG_END());
	ev->status = call->xfer_replaces ? 1 : 0;
	sip_post(sip, ev);
}

void
b2bua_transfer_failed(struct sip *sip, struct sip_call *call, int status)
{
	xfer_enter_state(call, XFER_NONE);
	call->xfer_key[0] = '\0';
	/* a later REFER brings its own */
	free(call->xfer_target);
	free(call->xfer_replaces);
	call->xfer_target = call->xfer_replaces = NULL;
	post_transfer(sip, call, SIP_EV_TRANSFER_FAILED, status);
	if (!call->b.nh && call->state != CALL_ENDING) {
		/* the agent already left: nobody is left for the caller */
		b2bua_call_ended(sip, call, SIP_END_AGENT_FAILED, status);
		b2bua_end_leg(&call->a, 0);
	}
}

void
b2bua_start_transfer(struct sip *sip, struct sip_call *call, struct sip_cmd *cmd)
{
	nua_handle_t *nh;

	if (call->xfer != XFER_ASKED || call->state == CALL_ENDING || !call->a.nh ||
	    call->a.state == LEG_TERMINATED) {
		b2bua_transfer_failed(sip, call, 0);
		return;
	}
	nh = nua_handle(sip->nua, &call->c, TAG_END());
	if (!nh) {
		b2bua_transfer_failed(sip, call, 500);
		return;
	}
	snprintf(call->xfer_key, sizeof call->xfer_key, "%s", cmd->key);
	call->c.nh = nh;
	call->c.is_caller = 0;
	b2bua_leg_enter_state(&call->c, LEG_INVITING);
	xfer_enter_state(call, XFER_CALLING);
	/* no offer: the target's answer carries one, which the caller then answers (RFC 3725) */
	nua_invite(nh, NUTAG_URL(cmd->target), SIPTAG_TO_STR(cmd->target),
	           SIPTAG_FROM_STR(call->from_str), TAG_IF(call->pai, SIPTAG_HEADER_STR(call->pai)),
	           TAG_IF(call->xfer_replaces, SIPTAG_REPLACES_STR(call->xfer_replaces)),
	           TAG_IF(cmd->headers && cmd->headers[0], SIPTAG_HEADER_STR(cmd->headers)),
	           NUTAG_AUTOACK(0), TAG_IF(call->refer_nh, NUTAG_NOTIFY_REFER(call->refer_nh)),
	           TAG_IF(call->refer_event, NUTAG_REFER_EVENT(call->refer_event)), TAG_END());
}

void
b2bua_on_target_response(struct sip *sip, struct sip_call *call, int status, sip_t const *msg)
{
	char *sdp;

	if (status < 200 || call->xfer != XFER_CALLING)
		return;
	if (status >= 300) {
		log_info(NULL, "sip: transfer target of call %llu answered %d",
		         (unsigned long long)call->id, status);
		b2bua_transfer_failed(sip, call, status);
		return;
	}
	b2bua_leg_enter_state(&call->c, LEG_ANSWERED);
	sdp = b2bua_sdp_of(msg);
	if (!sdp || call->state == CALL_ENDING || !call->a.nh || call->a.state == LEG_TERMINATED) {
		nua_ack(call->c.nh, TAG_END());
		nua_bye(call->c.nh, TAG_END());
		free(sdp);
		b2bua_transfer_failed(sip, call, 488);
		return;
	}
	/* re-bridge: the caller gets the target's offer */
	xfer_enter_state(call, XFER_REBRIDGING);
	nua_invite(call->a.nh, SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp),
	           TAG_END());
	free(sdp);
}

void
b2bua_on_rebridge_response(struct sip *sip, struct sip_call *call, int status, sip_t const *msg)
{
	char *sdp;

	if (status < 200)
		return;
	if (status >= 300 || !call->c.nh || call->c.state == LEG_TERMINATED) {
		if (call->c.nh && call->c.state != LEG_TERMINATED) {
			nua_ack(call->c.nh, TAG_END());
			nua_bye(call->c.nh, TAG_END());
		}
		b2bua_transfer_failed(sip, call, status);
		return;
	}
	sdp = b2bua_sdp_of(msg);
	nua_ack(call->c.nh, TAG_IF(sdp, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
	        TAG_IF(sdp, SIPTAG_PAYLOAD_STR(sdp)), TAG_END());
	free(sdp);
	/* the agent leg goes; the target becomes the agent side, with its leg's key */
	if (call->b.nh) {
		b2bua_retire_agent_leg(call);
		nua_bye(call->x.nh, TAG_END());
	}
	memcpy(call->key, call->xfer_key, sizeof call->key);
	call->xfer_key[0] = '\0';
	call->b.nh = call->c.nh;
	b2bua_leg_enter_state(&call->b, call->c.state);
	nua_handle_bind(call->b.nh, &call->b);
	call->c.nh = NULL;
	b2bua_leg_enter_state(&call->c, LEG_IDLE);
	xfer_enter_state(call, XFER_NONE);
	free(call->xfer_target);
	free(call->xfer_replaces);
	call->xfer_target = call->xfer_replaces = NULL;
	post_transfer(sip, call, SIP_EV_TRANSFERRED, status);
}
