/*
 * Mid-call signalling of the B2BUA (sofia thread): a re-INVITE or UPDATE on one leg is relayed
 * to the other with its SDP untouched, and its answer relayed back; the hold state it agrees
 * is reported to the loop. Also the check of the agent side's messages for the recording
 * header.
 */
#include "sip/sip_int.h"

#include <stdlib.h>
#include <string.h>

#include "connector/log.h"
#include "sip/sdp.h"

/* ---- the recording header ------------------------------------------------------------ */

/* A message of the agent leg may name the recording: report each new URL once. */
void
b2bua_check_recording(struct sip *sip, struct sip_call *call, sip_t const *msg)
{
	struct sip_event *ev;
	const char *v;

	if (!call->rec_header || !msg)
		return;
	v = b2bua_header_value(msg, call->rec_header);
	if (!v || !v[0] || strlen(v) > SIP_MAX_HEADER_VALUE ||
	    (call->rec_url && strcmp(call->rec_url, v) == 0))
		return;
	free(call->rec_url);
	call->rec_url = strdup(v);
	ev = b2bua_event_new(SIP_EV_RECORDING, call->id);
	if (!ev || !call->rec_url || !(ev->value = strdup(v))) {
		sip_event_free(ev);
		log_err(NULL, "sip: out of memory noting the recording of call %llu",
		        (unsigned long long)call->id);
		return;
	}
	sip_post(sip, ev);
}

/* ---- mid-call offers (hold, resume, session refresh) --------------------------------- */

/*
 * A re-INVITE on one leg is relayed to the other with its SDP untouched; the other leg's answer
 * goes back as the response. One relay at a time: a crossing re-INVITE gets 491 (glare).
 */
void
b2bua_relay_offer(struct sip *sip, nua_t *nua, struct sip_leg *leg, sip_t const *msg, int is_update)
{
	struct sip_call *call = leg->call;
	struct sip_leg *other = leg->is_caller ? &call->b : &call->a;
	char *sdp;

	(void)sip;
	if (call->state != CALL_ANSWERED || !other->nh || other->state == LEG_TERMINATED ||
	    b2bua_leg_retired(leg) || leg == &call->c || call->xfer != XFER_NONE) {
		nua_respond(leg->nh, 488, "Not Acceptable Here", NUTAG_WITH_THIS(nua), TAG_END());
		return;
	}
	if (call->relay_from) {
		nua_respond(leg->nh, 491, "Request Pending", NUTAG_WITH_THIS(nua), TAG_END());
		return;
	}
	if (!leg->is_caller)
		b2bua_check_recording(sip, call, msg);
	sdp = msg ? b2bua_sdp_of(msg) : NULL;
	if (is_update) {
		/* answered later, outside this callback: keep the request */
		if (nua_save_event(nua, call->update_saved) != 1) {
			free(sdp);
			nua_respond(leg->nh, 500, "Server Internal Error", NUTAG_WITH_THIS(nua),
			            TAG_END());
			return;
		}
		call->relay_update = 1;
	}
	call->relay_from = leg;
	/* no offer (it comes in the answer): the hold state does not change */
	call->relay_hold = sdp ? sip_sdp_is_hold(sdp, strlen(sdp)) : call->held;
	if (is_update)
		nua_update(other->nh, TAG_IF(sdp, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
		           TAG_IF(sdp, SIPTAG_PAYLOAD_STR(sdp)), TAG_END());
	else
		nua_invite(other->nh, TAG_IF(sdp, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
		           TAG_IF(sdp, SIPTAG_PAYLOAD_STR(sdp)), TAG_END());
	free(sdp);
}

void
b2bua_on_relay_response(struct sip *sip, struct sip_call *call, int status, sip_t const *msg)
{
	struct sip_leg *origin = call->relay_from;
	char *sdp;

	if (status < 200)
		return;
	if (origin->is_caller)
		b2bua_check_recording(sip, call, msg); /* the answer came from the agent leg */
	call->relay_from = NULL;
	if (!origin->nh || origin->state == LEG_TERMINATED)
		return;
	sdp = msg ? b2bua_sdp_of(msg) : NULL;
	if (call->relay_update) {
		nua_respond(origin->nh, status, b2bua_static_phrase(status),
		            NUTAG_WITH_SAVED(call->update_saved),
		            TAG_IF(sdp, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
		            TAG_IF(sdp, SIPTAG_PAYLOAD_STR(sdp)), TAG_END());
		nua_destroy_event(call->update_saved);
		call->relay_update = 0;
	} else {
		nua_respond(origin->nh, status, b2bua_static_phrase(status),
		            TAG_IF(sdp, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
		            TAG_IF(sdp, SIPTAG_PAYLOAD_STR(sdp)), TAG_END());
	}
	free(sdp);
	if (status < 300 && call->relay_hold != call->held && call->state != CALL_ENDING) {
		call->held = call->relay_hold;
		b2bua_post_simple(sip, call, call->held ? SIP_EV_HOLD : SIP_EV_RESUME, status);
	}
}
