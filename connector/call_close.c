/*
 * How a call's legs close: hold counts and durations, the recording (the agent side's header,
 * the recorder's report or the configured template), the closing update and the optional
 * wait for a recording report, and transfers (the leg so far closes, the next one is created).
 */
#include "connector/call_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connector/config.h"
#include "connector/log.h"
#include "connector/uuid.h"
#include "scv/body.h"
#include "scv/client.h"

/* ---- holds ------------------------------------------------------------------------- */

void
call_hold_begin(struct call *call, int64_t ts_us)
{
	if (call->hold_start_us)
		return;
	call->hold_start_us = ts_us;
	call->n_holds++;
	log_info(call->key, "call: on hold (%d)", call->n_holds);
}

void
call_hold_end(struct call *call, int64_t ts_us)
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

/* ---- closing updates ----------------------------------------------------------------- */

/* The closing update of the call's current leg, which ended at end_us. */
static void
submit_close(struct calls *calls, struct call *call, int64_t end_us, const char *reason,
             int is_error, int sip_status)
{
	char start[32], end[32], accept[32], rec[1024];
	struct scv_client *client = calls->clients[call->cc_index];
	struct scv_update u = {0};
	struct scv_req clear, update;

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
	call_hold_end(call, call->end_us);
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
	if (scv_client_update_req(client, call->key, &u, &update) < 0) {
		log_err(call->key, "call: cannot build the closing update (out of memory)");
		return;
	}
	if (call_omni_routed(call) && !call->answer_us) {
		/* missed or abandoned after Omni-Channel routed it: clear the pending routing */
		if (scv_client_clear_routing_req(client, call->key, &clear) == 0)
			outbox_submit(calls->outbox, call->cc_index, call->key, &clear);
		else
			log_err(call->key, "call: cannot build clearRouting (out of memory)");
	}
	outbox_submit(calls->outbox, call->cc_index, call->key, &update);
	/* in the same store transaction as the update: the call is closed one way or the other */
	outbox_call_ended(calls->outbox, call->key);
}

/* The wait for a recorder's report is over (report, deadline or shutdown): the update goes. */
static void
end_report_wait(struct calls *calls, struct call *call)
{
	call_timer_stop(call);
	call_enter_state(call, CALL_ST_ENDED);
	submit_close(calls, call, call->end_us, call->end_reason, call->end_is_error,
	             call->end_status);
	call_remove(calls, call);
}

static void
on_report_deadline(struct calls *calls, struct call *call)
{
	log_info(call->key, "call: no recording report within %u ms",
	         call->cc->recording_report_wait_ms);
	end_report_wait(calls, call);
}

/* 1 when the call can go now; 0 when it waits for a recorder's report (recording.report_wait_ms). */
int
call_on_ended(struct calls *calls, struct call *call, const struct sip_event *ev)
{
	const char *reason;
	int is_error;

	call_timer_stop(call);
	call_disconnect_reason(ev->cause, &reason, &is_error);
	if (call->answer_us && !call->rec_url && !call->rep_url &&
	    call->cc->recording_report_wait_ms > 0) {
		call->end_us = ev->ts_us;
		call->end_reason = reason;
		call->end_is_error = is_error;
		call->end_status = ev->status;
		if (call_timer_start(calls, call, call->cc->recording_report_wait_ms,
		                     on_report_deadline) == 0) {
			call_enter_state(call, CALL_ST_REPORT_WAIT);
			return 0;
		}
	}
	call_enter_state(call, CALL_ST_ENDED);
	submit_close(calls, call, ev->ts_us, reason, is_error, ev->status);
	return 1;
}

/* ---- transfers ----------------------------------------------------------------------- */

void
call_on_refer(struct calls *calls, struct call *call, const struct sip_event *ev)
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
	                           .recording_header = call->cc->recording_header,
	                           .vendor_call_key = call->xfer_key};
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
void
call_on_transferred(struct calls *calls, struct call *call, const struct sip_event *ev)
{
	struct call **p;

	if (!call->xfer_key[0])
		return;
	submit_close(calls, call, ev->ts_us, SCV_DISCONNECT_AGENT, 0, ev->status);
	outbox_call_ended(calls->outbox, call->key);
	/* the call now carries the new leg's key */
	for (p = call_key_bucket(calls, call->key); *p; p = &(*p)->knext) {
		if (*p == call) {
			*p = call->knext;
			break;
		}
	}
	memcpy(call->parent_key, call->key, sizeof call->key);
	memcpy(call->key, call->xfer_key, sizeof call->key);
	call->xfer_key[0] = '\0';
	call->knext = *call_key_bucket(calls, call->key);
	*call_key_bucket(calls, call->key) = call;
	call->start_us = call->answer_us = ev->ts_us;
	call->n_holds = 0;
	call->hold_start_us = call->total_hold_us = call->longest_hold_us = 0;
	free(call->rec_url);
	call->rec_url = NULL;
	call->voice_call_id[0] = '\0';
	log_info(call->key, "call: transferred from %s", call->parent_key);
	outbox_call_started(calls->outbox, call->cc_index, call->key, call->start_us);
	outbox_call_answered(calls->outbox, call->key, call->answer_us);
	call_submit_create(calls, call);
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
	if (call->state == CALL_ST_REPORT_WAIT)
		end_report_wait(calls, call); /* the closing update was waiting for this */
	return 0;
}

void
calls_flush(struct calls *calls)
{
	for (size_t i = 0; i < CALL_BUCKETS; i++) {
		struct call *c = calls->buckets[i];
		while (c) {
			struct call *next = c->hnext;
			if (c->state == CALL_ST_REPORT_WAIT)
				on_report_deadline(calls, c);
			c = next;
		}
	}
}
