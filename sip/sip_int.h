/*
 * Internals of sip/: shared by sip.c (thread, queues, commands) and the B2BUA's call logic:
 * b2bua.c (calls, legs, the nua callback), b2bua_midcall.c (re-INVITE/UPDATE relay, the
 * recording header) and b2bua_xfer.c (REFER, transfers). Everything marked "sofia thread" is
 * touched by that thread only.
 */
#ifndef SCVB_SIP_INT_H
#define SCVB_SIP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

struct sip;
struct sip_leg;
struct sip_cmd;

#define SU_ROOT_MAGIC_T struct sip
#define NUA_MAGIC_T     struct sip
#define NUA_HMAGIC_T    struct sip_leg
#define SU_MSG_ARG_T    struct sip_cmd
#define SU_TIMER_ARG_T  struct sip_call

#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/su_wait.h>

#include "sip/acl.h"
#include "sip/sip.h"

enum sip_cmd_kind {
	SIP_CMD_FORWARD = 1,
	SIP_CMD_REJECT,
	SIP_CMD_RINGING,
	SIP_CMD_TRANSFER,
	SIP_CMD_HANGUP,
	SIP_CMD_STOP_ACCEPTING,
	SIP_CMD_SHUTDOWN,
};

struct sip_cmd {
	enum sip_cmd_kind kind;
	uint64_t call_id;
	int status;
	unsigned ring_timeout_ms;
	char *target;           /* malloc'd */
	char *headers;          /* malloc'd "Name: value\r\nName: value" */
	char *recording_header; /* malloc'd or NULL */
	char key[SIP_MAX_KEY];  /* vendorCallKey of the leg forwarded to, for logs; "" = none */
};

/*
 * State machines of the sofia thread. Each has one enter function that logs old -> new at debug
 * level (with the call's vendorCallKey once the loop named it); no other code assigns them.
 */

/* The call as a whole: where its agent side is. */
enum sip_call_state {
	CALL_ROUTING = 1, /* INVITE received, waiting for the loop's decision */
	CALL_CALLING,     /* agent-leg INVITE sent */
	CALL_EARLY,       /* a 18x relayed */
	CALL_ANSWERED,    /* 2xx relayed */
	CALL_ENDING,      /* SIP_EV_ENDED emitted: one side ended, the other is being torn down */
};

/* One leg's dialog. */
enum sip_leg_state {
	LEG_IDLE = 0, /* no dialog: b before forwarding, c outside a transfer, x before one */
	LEG_INVITING, /* the INVITE is under way: received, not answered (a); sent, no 2xx (b, c) */
	LEG_ANSWERED, /* 2xx sent (a) or received (b, c) */
	LEG_TERMINATED, /* nua reported the dialog over; the handle is destroyed */
};

/* A transfer (REFER from the agent side). */
enum sip_xfer_state {
	XFER_NONE = 0,
	XFER_ASKED,      /* 202 sent, SIP_EV_REFER posted: waiting for the loop's sip_transfer() */
	XFER_CALLING,    /* INVITE (without offer) sent to the target, leg c */
	XFER_REBRIDGING, /* re-INVITE with the target's offer sent to the caller */
};

struct sip_leg {
	struct sip_call *call;
	nua_handle_t *nh; /* NULL when idle or once destroyed */
	int is_caller;
	enum sip_leg_state state; /* set by b2bua_leg_enter_state() only */
};

struct sip_call {
	uint64_t id;
	char key[SIP_MAX_KEY];     /* the current leg's vendorCallKey, "" until forwarded */
	enum sip_call_state state; /* set by call_enter_state() (b2bua.c) only */
	struct sip_leg a;          /* caller side */
	struct sip_leg b;          /* agent side; b.nh NULL until forwarded */
	struct sip_leg c;          /* transfer target while a transfer is under way */
	/* the agent leg a transfer replaced (retired), until it is gone: its end does not end
	 * the call */
	struct sip_leg x;
	char *from_str; /* caller's From without tag, for the agent leg */
	char *pai;      /* caller's P-Asserted-Identity value */
	char *sdp;      /* caller's offer, NULL for a late-offer INVITE */
	/* a mid-call re-INVITE being relayed: its origin leg waits for the other leg's answer */
	struct sip_leg *relay_from;
	int relay_hold;                    /* what the relayed offer means: 1 hold, 0 resume */
	int relay_update;                  /* the relayed request is an UPDATE */
	nua_saved_event_t update_saved[1]; /* that UPDATE, answered once the other leg has */
	int held;                          /* the call is on hold (as last agreed) */
	su_timer_t *ring_timer;            /* no answer by then: cancel, 480 */
	char *rec_header;                  /* watched on the agent leg; malloc'd or NULL */
	char *rec_url;                     /* last value seen, malloc'd */
	/* transfer (REFER) */
	enum sip_xfer_state xfer;   /* set by xfer_enter_state() (b2bua_xfer.c) only */
	char xfer_key[SIP_MAX_KEY]; /* the target leg's vendorCallKey, the call's once re-bridged */
	char *xfer_target;          /* Refer-To URI without its headers, malloc'd */
	char *xfer_replaces;        /* Replaces value of an attended transfer, malloc'd or NULL */
	sip_event_t *refer_event;   /* in the referrer handle's home: for NOTIFY_REFER */
	nua_handle_t *refer_nh;     /* the referrer (a reference we hold), NULL when none */
	struct sip_call *hnext;
};

#define SIP_CALL_BUCKETS 4096

struct sip {
	/* loop side */
	uv_loop_t *loop;
	uv_async_t async;
	sip_event_cb cb;
	void *cb_arg;
	int shutdown_sent;

	/* event queue: sofia thread -> loop */
	pthread_mutex_t qlock;
	struct sip_event *qhead, *qtail;

	/* start-up handshake */
	pthread_t thread;
	pthread_mutex_t start_lock;
	pthread_cond_t start_cond;
	int start_done;
	int start_rc;
	char start_err[256];

	/* immutable after start */
	char *listen_url;
	char *user_agent;
	char **capture;
	size_t n_capture;
	struct sip_acl acl;
	unsigned max_calls;
	unsigned udp_buffer_bytes;

	/* sofia thread */
	su_root_t *root;
	nua_t *nua;
	int accepting;
	int shutting_down;
	uint64_t next_id;
	unsigned n_calls;
	struct sip_call *buckets[SIP_CALL_BUCKETS];

	_Atomic unsigned active_calls;
};

/* sip.c: queue an event for the loop (sofia thread). Takes ownership of ev. */
void sip_post(struct sip *sip, struct sip_event *ev);
int64_t sip_now_us(void);

/* b2bua.c (sofia thread) */
void b2bua_callback(nua_event_t event, int status, nua_t *nua, struct sip *sip, nua_handle_t *nh,
                    struct sip_leg *leg, sip_t const *msg, tagi_t tags[]);
void b2bua_command(struct sip *sip, struct sip_cmd *cmd);
/* Ends every call (SIP_EV_ENDED with SIP_END_LOCAL_HANGUP) before nua_shutdown(). */
void b2bua_end_all(struct sip *sip);
void b2bua_free_all(struct sip *sip);

/* b2bua.c, for b2bua_midcall.c and b2bua_xfer.c (sofia thread) */
/* The key the sofia thread logs a call with: its vendorCallKey, NULL before the loop named one. */
const char *b2bua_log_key(const struct sip_call *call);
/* The one place a leg's state changes; logs old -> new at debug level. */
void b2bua_leg_enter_state(struct sip_leg *leg, enum sip_leg_state state);
/* 1 for the call's retired agent leg (x), whose end does not end the call. */
int b2bua_leg_retired(const struct sip_leg *leg);
/* A new event for the loop, stamped now; NULL when out of memory. */
struct sip_event *b2bua_event_new(enum sip_event_type type, uint64_t id);
/* Posts an event with just a status (logs if out of memory). */
void b2bua_post_simple(struct sip *sip, struct sip_call *call, enum sip_event_type type,
                       int status);
/* Reports the end of the call once; later endings of the other leg are not reported. */
void b2bua_call_ended(struct sip *sip, struct sip_call *call, enum sip_end_cause cause, int status);
/* Ends one leg the way its state requires. status: what to answer a caller not yet answered. */
void b2bua_end_leg(struct sip_leg *leg, int status);
/* The message's SDP body, malloc'd; NULL when it has none (or out of memory). */
char *b2bua_sdp_of(sip_t const *msg);
/* The standard reason phrase of status (static: nua_respond() keeps it by reference). */
const char *b2bua_static_phrase(int status);
/* The value of an extension header (one sofia does not parse), NULL when absent. */
const char *b2bua_header_value(sip_t const *msg, const char *name);
/* The first n bytes of s, NUL-terminated and malloc'd. */
char *b2bua_xstrndup(const char *s, size_t n);

/* b2bua_midcall.c (sofia thread) */
/* A message of the agent leg may name the recording: report each new URL once. */
void b2bua_check_recording(struct sip *sip, struct sip_call *call, sip_t const *msg);
/* A re-INVITE (is_update 0) or UPDATE on leg: relayed to the other leg, or refused. */
void b2bua_relay_offer(struct sip *sip, nua_t *nua, struct sip_leg *leg, sip_t const *msg,
                       int is_update);
/* The other leg answered the relayed offer: the answer goes back to the origin leg. */
void b2bua_on_relay_response(struct sip *sip, struct sip_call *call, int status, sip_t const *msg);

/* b2bua_xfer.c (sofia thread) */
/* nua_i_refer: leg may be NULL (a REFER outside any call). */
void b2bua_on_refer(struct sip *sip, nua_t *nua, nua_handle_t *nh, struct sip_leg *leg,
                    sip_t const *msg, tagi_t tags[]);
/* SIP_CMD_TRANSFER: the loop named the target of the REFER. */
void b2bua_start_transfer(struct sip *sip, struct sip_call *call, struct sip_cmd *cmd);
void b2bua_transfer_failed(struct sip *sip, struct sip_call *call, int status);
/* Responses to the INVITE of the target (leg c), and to the caller's re-bridging re-INVITE. */
void b2bua_on_target_response(struct sip *sip, struct sip_call *call, int status, sip_t const *msg);
void b2bua_on_rebridge_response(struct sip *sip, struct sip_call *call, int status,
                                sip_t const *msg);
/* The agent leg leaves during a transfer: it becomes leg x, whose end does not end the call. */
void b2bua_retire_agent_leg(struct sip_call *call);

#endif
