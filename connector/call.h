/*
 * Calls: the core's view of each call and its state machine. It routes new calls (dialled
 * number -> contact center -> forward target), and turns the call's lifecycle into Salesforce
 * operations, built by the contact center's client (scv/client.h) and queued in the outbox:
 * the VoiceCall create when the call starts, the closing update when it ends. It never waits
 * on Salesforce; only the Omni-Channel question goes to the client directly.
 */
#ifndef SCVB_CALL_H
#define SCVB_CALL_H

#include <stddef.h>

#include "connector/outbox.h"
#include "sip/sip.h"

struct cfg;
struct calls;
struct scv_client;

int calls_new(uv_loop_t *loop, const struct cfg *cfg, struct calls **ret_calls);
/* Where operations go; set before any SIP event arrives. */
void calls_set_outbox(struct calls *calls, struct outbox *outbox);
/* clients[i]: the Salesforce client of cfg->ccs[i] (borrowed); set before any SIP event. */
void calls_set_clients(struct calls *calls, struct scv_client *const *clients);
/* The SIP side, once started (commands go there). */
void calls_set_sip(struct calls *calls, struct sip *sip);

/* sip_event_cb: arg is the struct calls. Takes ownership of ev. */
void calls_on_sip_event(struct sip_event *ev, void *arg);
/* outbox_result_cb: arg is the struct calls. */
void calls_on_outbox_result(const struct outbox_result *res, void *arg);

/*
 * A recorder says where a call's recording is (the local API). The call may still be up, or
 * over and waiting for this (recording.report_wait_ms). 0, or -ENOENT for an unknown key.
 */
int calls_recording_report(struct calls *calls, const char *key, const char *url, long duration_s);

/* Sends the closing updates still waiting for a recording report (shutdown). */
void calls_flush(struct calls *calls);

size_t calls_active(const struct calls *calls);
/* cb runs once no call is up (at once if none is). One waiter at a time. */
void calls_when_idle(struct calls *calls, void (*cb)(void *arg), void *arg);
/* From now on every new SIP_EV_STOPPED is passed to cb. */
void calls_on_sip_stopped(struct calls *calls, void (*cb)(void *arg), void *arg);

/*
 * Frees the table and every call still up (their VoiceCalls stay open until the next start
 * closes them). Their timers close on the loop: run it once more before uv_loop_close().
 */
void calls_free(struct calls *calls);

/*
 * Expands a recording URL template ({vendor_call_key}, {sip_call_id} percent-encoded, {date} of
 * the call's start in UTC). 0, or -ENOSPC when out is too small.
 */
int call_expand_template(const char *tpl, const char *key, const char *sip_call_id,
                         int64_t start_us, char *out, size_t len);

/* disconnectReason for the way a call ended. */
void call_disconnect_reason(enum sip_end_cause cause, const char **ret_value, int *ret_is_error);

#endif
