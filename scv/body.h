/*
 * Request bodies of the Telephony Integration REST API, built by pure functions (jansson).
 * Each returns a malloc'd, NUL-terminated compact JSON text owned by the caller, or NULL when
 * memory ran out or a required field is missing.
 */
#ifndef SCVB_SCV_BODY_H
#define SCVB_SCV_BODY_H

#include <stddef.h>

/* POST /voiceCalls */
struct scv_create {
	const char *call_center_api_name;
	const char *vendor_call_key;
	const char *to;                   /* dialled number (E.164) */
	const char *from;                 /* caller (E.164 where it parses) */
	const char *initiation_method;    /* "Inbound" | "Transfer" */
	const char *start_time;           /* ISO-8601 UTC, e.g. "2026-01-15T10:00:00Z" */
	const char *participant_key;      /* END_USER participantKey (the caller) */
	const char *parent_voice_call_id; /* Transfer only; NULL otherwise */
	const char *queue;                /* Transfer only; NULL otherwise */
	/* callAttributes: sent as a JSON *string* holding an object; omitted when n_attrs == 0 */
	const char *const *attr_fields;
	const char *const *attr_values;
	size_t n_attrs;
};

char *scv_body_create(const struct scv_create *c);

/* disconnectReason values used by the bridge */
#define SCV_DISCONNECT_CUSTOMER "CUSTOMER_DISCONNECT"
#define SCV_DISCONNECT_AGENT    "AGENT_DISCONNECT"
#define SCV_DISCONNECT_TELECOM  "TELECOM_PROBLEM"
#define SCV_DISCONNECT_OTHER    "OTHER"

/* PATCH /voiceCalls/{key} (the closing update: isActiveCall is never sent, so it closes) */
struct scv_update {
	const char *start_time;       /* required */
	const char *end_time;         /* required */
	const char *accept_time;      /* only when the call was answered; NULL = omitted */
	const char *disconnect_value; /* NULL = no disconnectReason */
	int disconnect_is_error;
	/* hold figures: numberOfHolds is sent when has_holds; the durations only with a recording */
	int has_holds;
	int number_of_holds;
	int longest_hold_s;
	int total_hold_s;
	const char *recording_location; /* NULL = no recording fields */
	int total_recording_s;
	int agent_interaction_s;
};

char *scv_body_update(const struct scv_update *u);

/*
 * Reads "voiceCallId" from a create response; *ret_id is malloc'd. Accepts "errors" as an array
 * or a string (partial success still counts as created). -EINVAL when absent or not JSON (or
 * the body holds a NUL byte, or the id is not 1-64 alphanumerics); -EMSGSIZE over 64 KiB.
 */
int scv_parse_create_response(const char *body, size_t len, char **ret_id);

/* PATCH /voiceCalls/{key}/omniFlow: dialedNumber, and flowDevName/fallbackQueue when set. */
char *scv_body_omniflow(const char *dialed_number, const char *flow_dev_name,
                        const char *fallback_queue);

/*
 * Reads "agent" and "queue" (the vendor's own ids from CallCenterRoutingMap) from an omniFlow
 * answer; each is malloc'd, or NULL when absent, null or not a sane id. -EINVAL if not a JSON
 * object, -EMSGSIZE when too large.
 */
int scv_parse_omniflow_response(const char *body, size_t len, char **ret_agent, char **ret_queue);

/* Formats a CLOCK_REALTIME microsecond timestamp as ISO-8601 UTC with milliseconds. */
void scv_iso8601(long long ts_us, char out[32]);

#endif
