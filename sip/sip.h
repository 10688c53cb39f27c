/*
 * sip: the signalling-only back-to-back user agent, as the rest of the daemon sees it.
 *
 * sofia-sip runs in one dedicated thread that this module owns; nothing else touches sofia.
 * What happens on the wire becomes a struct sip_event (plain C, owned by the receiver) that is
 * queued and delivered on the libuv loop through uv_async. Commands from the loop (forward,
 * reject, hang up, stop) travel to the sofia thread as su_msg messages.
 *
 * The SIP thread does the B2BUA mechanics itself (relaying 18x, final responses, ACK, BYE,
 * CANCEL between the two legs) so that a call never waits on the loop once it is routed; the
 * loop only decides where a new call goes and follows the call's lifecycle.
 *
 * Calls are identified by a 64-bit id minted by this module; pointers never cross threads.
 */
#ifndef SCVB_SIP_H
#define SCVB_SIP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Limits at the edge. Longer values are refused (INVITE: 400) or truncated as stated. */
#define SIP_MAX_HEADER_VALUE    1024 /* captured header values: longer ones are dropped */
#define SIP_MAX_CAPTURE_HEADERS 32
#define SIP_MAX_KEY             64 /* vendorCallKey the SIP thread logs with: longer ones are cut */

/* Events, in the order a call produces them. */
enum sip_event_type {
	/* a new INVITE from a trusted peer: route it (sip_forward/sip_reject) */
	SIP_EV_INCOMING = 1,
	SIP_EV_FORWARDED, /* the agent-leg INVITE has left: ts_us is the post-dial instant */
	SIP_EV_PROGRESS,  /* a 18x from the agent side was relayed to the caller */
	SIP_EV_ANSWERED,  /* a 2xx from the agent side was relayed to the caller */
	SIP_EV_RECORDING, /* the agent side named the recording URL (value) */
	/* the agent side asked (REFER) to transfer the caller to value; status 1 = attended
	 * (Replaces); answer with sip_transfer() */
	SIP_EV_REFER,
	SIP_EV_TRANSFERRED,     /* the caller is now bridged to the transfer target (ts_us) */
	SIP_EV_TRANSFER_FAILED, /* the target refused (status); the caller stays with the agent */
	SIP_EV_HOLD,    /* a re-INVITE that holds the call (sendonly/inactive) was accepted */
	SIP_EV_RESUME,  /* a re-INVITE that resumes it was accepted */
	SIP_EV_ENDED,   /* the call is over; no more events for this id */
	SIP_EV_STOPPED, /* sip_shutdown() finished; call sip_free() */
};

/* Why a call ended (SIP_EV_ENDED). */
enum sip_end_cause {
	SIP_END_CALLER_BYE = 1, /* answered, caller hung up */
	SIP_END_AGENT_BYE,      /* answered, agent side hung up */
	SIP_END_CALLER_CANCEL,  /* caller gave up before answer */
	SIP_END_AGENT_REJECTED, /* agent side answered 4xx/6xx (not 408) */
	SIP_END_AGENT_FAILED,   /* agent side 5xx, 408, unreachable or timed out */
	SIP_END_REJECTED,       /* refused by us (sip_reject) before any agent leg */
	SIP_END_LOCAL_HANGUP,   /* ended by sip_hangup() (shutdown) */
	SIP_END_SIGNALLING,     /* a leg failed in SIP itself (no ACK, transport error) */
	SIP_END_NO_ANSWER,      /* the agent side rang past the ring timeout; caller got 480 */
};

struct sip_header {
	char *name; /* as configured (sip_config.capture_headers) */
	char *value;
};

struct sip_event {
	enum sip_event_type type;
	uint64_t call_id;
	int64_t ts_us; /* CLOCK_REALTIME when the SIP thread saw it, microseconds */
	int status;    /* PROGRESS/ANSWERED: the response status; ENDED: final status or 0 */
	enum sip_end_cause cause; /* ENDED */

	/* INCOMING only; strings are NUL-terminated, NULL when absent. */
	char *sip_call_id;          /* caller leg's Call-ID */
	char *src_addr;             /* peer IP address, text */
	char *ruri_user;            /* user part of the Request-URI (or tel: number) */
	char *to_user;              /* user part of To */
	char *from_user;            /* user part of From */
	char *from_display;         /* display name of From */
	char *value;                /* RECORDING: the URL */
	char *pai_user;             /* user part of the first P-Asserted-Identity, if any */
	struct sip_header *headers; /* captured headers present in the INVITE */
	size_t n_headers;

	struct sip_event *next; /* queue link, private to the module */
};

void sip_event_free(struct sip_event *ev);

struct sip_config {
	const char *listen_url;           /* NUTAG_URL, e.g. "sip:127.0.0.1:5070" */
	const char *const *trusted_peers; /* addresses or CIDR prefixes; others get 403 */
	size_t n_trusted_peers;
	const char *const *capture_headers; /* header names copied into SIP_EV_INCOMING */
	size_t n_capture_headers;
	const char *user_agent;
	unsigned max_calls; /* beyond: 503 */
	/* SO_RCVBUF and SO_SNDBUF asked for the UDP socket(s); 0 = the kernel's default. A burst
	 * the SIP thread cannot read at once waits there; what does not fit is dropped by the
	 * kernel and costs the peer a retransmission (500 ms). Unprivileged, the kernel caps it at
	 * net.core.rmem_max / wmem_max: the start-up log says what the socket got. */
	unsigned udp_buffer_bytes;
};

struct sip;

/* Called on the loop thread; the callee owns ev and frees it with sip_event_free(). */
typedef void (*sip_event_cb)(struct sip_event *ev, void *arg);

/*
 * Starts the SIP thread and binds the listen URL. Returns 0 once SIP is bound and ready,
 * or a negative errno-style code (-EADDRINUSE, -EINVAL for a bad URL...) with a reason in err.
 */
int sip_start(uv_loop_t *loop, const struct sip_config *config, sip_event_cb cb, void *arg,
              struct sip **ret_sip, char *err, size_t errlen);

/* Commands. They return 0 when queued (or -ENOMEM); the outcome arrives as events. */

/* How a call is forwarded to the agent side. */
struct sip_forward {
	const char *target_uri;
	/* NULL-terminated complete "Name: value" lines added to the agent-leg INVITE */
	const char *const *extra_headers;
	/* not answered by then: the agent leg is cancelled, the caller gets 480 and the call ends
	 * with SIP_END_NO_ANSWER; 0 = no limit */
	unsigned ring_timeout_ms;
	/* a header the agent side may carry a recording URL in (SIP_EV_RECORDING); NULL = none */
	const char *recording_header;
	/* the vendorCallKey of the leg this starts, copied for the SIP thread's logs; NULL = none */
	const char *vendor_call_key;
};
int sip_forward(struct sip *sip, uint64_t call_id, const struct sip_forward *fwd);
/*
 * Carries out the transfer asked by SIP_EV_REFER: calls fwd->target_uri (the Refer-To target)
 * with fwd's headers, reports progress to the referrer (NOTIFY, message/sipfrag), re-bridges the
 * caller to the target (a re-INVITE with the target's SDP: the caller needs no REFER support)
 * and ends the agent's leg. SIP_EV_TRANSFERRED or SIP_EV_TRANSFER_FAILED follows.
 */
int sip_transfer(struct sip *sip, uint64_t call_id, const struct sip_forward *fwd);

/* 180 Ringing to a caller whose call is still being routed (the loop is asking Salesforce). */
int sip_ringing(struct sip *sip, uint64_t call_id);
/* The response carries the standard reason phrase for status. */
int sip_reject(struct sip *sip, uint64_t call_id, int status);
int sip_hangup(struct sip *sip, uint64_t call_id);

/* New INVITEs get 503 from now on; calls in progress go on. */
int sip_stop_accepting(struct sip *sip);

/* Ends every remaining call, unbinds, and stops the thread: SIP_EV_STOPPED follows. */
int sip_shutdown(struct sip *sip);

/* After SIP_EV_STOPPED: joins the thread and frees everything; async handle closes via loop. */
void sip_free(struct sip *sip);

/* Current number of calls the SIP thread holds (approximate, for metrics). */
unsigned sip_active_calls(const struct sip *sip);

#endif
