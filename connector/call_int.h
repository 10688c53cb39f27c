/*
 * Internals of the calls module, shared by call.c (table, lifecycle, SIP events, public API),
 * call_route.c (forwarding, Omni-Channel, the per-call timer) and call_close.c (holds,
 * recordings, closing updates, transfers). Private to connector/call*.c.
 */
#ifndef SCVB_CALL_INT_H
#define SCVB_CALL_INT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "connector/call.h"
#include "connector/uuid.h"

struct cfg_contact_center;
struct call_timer; /* call_route.c */

#define CALL_BUCKETS 4096

/* Changed by call_enter_state() only (it logs old -> new). */
enum call_state {
	CALL_ST_ROUTING = 0, /* INVITE in; forwarded or refused at once */
	CALL_ST_RINGING,     /* agent-leg INVITE out */
	CALL_ST_ANSWERED,    /* agent side answered */
	/* SIP ended it; the closing update waits for a recorder's report (call->timer runs) */
	CALL_ST_REPORT_WAIT,
	CALL_ST_ENDED, /* the closing update is submitted */
};

/* How the call finds its agent side. Changed in call_route.c only (logged old -> new). */
enum call_route {
	CALL_RT_STATIC = 0, /* forward_to, once the call is on disk */
	CALL_RT_OMNI_WAIT, /* Omni-Channel mode: omniFlow not asked yet (waits for the VoiceCall) */
	CALL_RT_OMNI_ASKED,    /* omniFlow sent; the routing deadline runs */
	CALL_RT_OMNI_ANSWERED, /* omniFlow answered 2xx: Omni-Channel holds routing to clear */
	CALL_RT_FORWARDED,     /* the agent-leg INVITE was asked for */
	CALL_RT_OMNI_ROUTED,   /* forwarded after omniFlow answered 2xx: routing to clear */
};

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
	/* a call in CALL_ST_REPORT_WAIT keeps how it ended */
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
	enum call_route route;
	struct call_timer *timer; /* routing deadline or report wait, NULL when none */
	struct call *hnext;       /* by sip_id */
	struct call *knext;       /* by key */
};

struct calls {
	uv_loop_t *loop;
	const struct cfg *cfg;
	struct outbox *outbox;
	struct scv_client *const *clients; /* by contact-center index */
	struct sip *sip;
	struct call *buckets[CALL_BUCKETS];
	struct call *key_buckets[CALL_BUCKETS];
	size_t n_active;
	void (*idle_cb)(void *arg);
	void *idle_arg;
	void (*stopped_cb)(void *arg);
	void *stopped_arg;
};

/* call.c: the table */
struct call *call_find(struct calls *calls, uint64_t id);
struct call *call_find_key(struct calls *calls, const char *key);
/* The key table's chain for key (a call changes key when it is transferred). */
struct call **call_key_bucket(struct calls *calls, const char *key);
/* Unlinks and frees the call; the idle callback runs when it was the last. */
void call_remove(struct calls *calls, struct call *call);
void call_enter_state(struct call *call, enum call_state state);
/* Submits the VoiceCall create of the call's current leg. */
void call_submit_create(struct calls *calls, struct call *call);

/* call_route.c */
/* 1 when Omni-Channel routed the call (omniFlow answered 2xx): its routing is to clear. */
int call_omni_routed(const struct call *call);
/* outbox_after_commit callback (arg: the struct calls): the new call is on disk, route it. */
void call_after_durable(void *arg, uint64_t sip_id);
/* The VoiceCall exists: ask Omni-Channel where to ring (once). */
void call_omni_ask(struct calls *calls, struct call *call);
/* Omni-Channel cannot decide: ring forward_to (unless already forwarded). */
void call_omni_fallback(struct calls *calls, struct call *call, const char *why);
/* One timer per call: starting replaces the one running; fire runs at most once. 0 or -ENOMEM. */
int call_timer_start(struct calls *calls, struct call *call, long long ms,
                     void (*fire)(struct calls *calls, struct call *call));
void call_timer_stop(struct call *call);

/* call_close.c */
void call_hold_begin(struct call *call, int64_t ts_us);
void call_hold_end(struct call *call, int64_t ts_us);
/* 1 when the call can go now; 0 when it waits for a recorder's report. */
int call_on_ended(struct calls *calls, struct call *call, const struct sip_event *ev);
void call_on_refer(struct calls *calls, struct call *call, const struct sip_event *ev);
void call_on_transferred(struct calls *calls, struct call *call, const struct sip_event *ev);

#endif
