/*
 * Agents: the loop's view of the people who sign in to the agent endpoint. It knows each
 * agent's status, which calls are theirs and in what state, and it carries out what agents
 * ask (answer, hold, hang up, transfer, dial, digits) through the call core and the SIP side.
 *
 * It is the domain half of the agent side; the wire half (HTTPS, WebSocket, tokens, JSON
 * envelopes, sequence numbers, several tabs) is scv/agent*.c, which talks to this module only
 * through the plain C structs below (no JSON, no sockets here) and the sink it registers.
 *
 * Agents are named by (contact center index, agent index) into the loaded configuration;
 * calls by their vendorCallKey. A call is an agent's when the bridge rang that agent's
 * configured phone (forward_to, an Omni-Channel decision or a transfer target equal to it),
 * or when the agent placed it (dial). An agent may act on their own calls only.
 */
#ifndef SCVB_AGENTS_H
#define SCVB_AGENTS_H

#include <stddef.h>
#include <stdint.h>

struct cfg;
struct calls;
struct agents;

enum agent_status {
	AGENT_OFFLINE =
	        0, /* not offered calls by the bridge (the default until a connector says) */
	AGENT_ONLINE,
	AGENT_ACW, /* after-call work: not offered calls until it ends */
};

/* What the agent's connector shows of a call (PhoneCall on the wire, scv/web/PROTOCOL.md §6). */
enum agent_call_type {
	AGENT_CALL_INBOUND = 0,
	AGENT_CALL_OUTBOUND, /* placed by the agent (dial) */
	AGENT_CALL_TRANSFER, /* a transfer arriving at this agent */
};

enum agent_call_state {
	AGENT_CALL_RINGING = 0,
	AGENT_CALL_CONNECTED,
	AGENT_CALL_ENDED,
};

/* Why a call ended, as Salesforce's HANGUP_STATUS says it (NULL when it simply ended). */
enum agent_hangup_status {
	AGENT_HANGUP_NONE = 0,
	AGENT_HANGUP_MISSED,          /* MissedCallAgent: rang out, or the caller gave up */
	AGENT_HANGUP_DECLINED,        /* DeclinedByAgent */
	AGENT_HANGUP_FAILED_AGENT,    /* FailedConnectAgent: the agent's phone failed */
	AGENT_HANGUP_FAILED_CUSTOMER, /* FailedConnectCustomer: the dialled party failed */
};

/* A snapshot; every pointer is valid only during the call that hands it out. */
struct agent_call_view {
	const char *key;           /* vendorCallKey (the connector's callId) */
	const char *parent_key;    /* a transfer's previous leg, NULL otherwise */
	const char *voice_call_id; /* Salesforce's id, NULL until known */
	const char *number;        /* the other party: caller, or the dialled number */
	const char *name;          /* the other party's name when known (an agent, a phonebook
	                              entry), NULL otherwise */
	enum agent_call_type type;
	enum agent_call_state state;
	int on_hold;
	int64_t state_us; /* when it entered its state (CLOCK_REALTIME, microseconds) */
	/* AGENT_CALL_ENDED only */
	int is_error; /* reason "error" rather than "ended" */
	enum agent_hangup_status hangup_status;
};

enum agent_ev {
	AGENT_EV_CALL_STARTED = 1, /* ringing the agent's phone (or the agent's dial started) */
	AGENT_EV_CALL_CONNECTED,
	AGENT_EV_CALL_HANGUP,
	AGENT_EV_HOLD_CHANGED,
	AGENT_EV_PARTICIPANT_ADDED,     /* a transfer target is being called (call = the target) */
	AGENT_EV_PARTICIPANT_CONNECTED, /* it answered */
	AGENT_EV_PARTICIPANT_REMOVED,   /* it failed or left */
	AGENT_EV_STATUS,                /* the agent's status changed (call NULL) */
	AGENT_EV_ACW_STARTED,           /* after-call work began for call */
	AGENT_EV_ACW_ENDED,
};

/*
 * The wire half registers this. event() runs on the loop for every change of an agent's
 * calls or status; req_id is the command that caused it (NULL: the telephony side did).
 */
struct agent_sink {
	void (*event)(void *arg, size_t cc, size_t agent, enum agent_ev ev,
	              const struct agent_call_view *call, enum agent_status status,
	              const char *req_id);
	void *arg;
};

/* Errors of commands, named as the connector's base library names them (PROTOCOL.md §3). */
enum agent_err {
	AGENT_OK = 0,
	AGENT_ERR_INVALID_PARTICIPANT, /* no such call, or not this agent's */
	AGENT_ERR_INVALID_PARAMS,
	AGENT_ERR_INVALID_DESTINATION,
	AGENT_ERR_CAN_NOT_ACCEPT,
	AGENT_ERR_CAN_NOT_DECLINE,
	AGENT_ERR_CAN_NOT_END,
	AGENT_ERR_CAN_NOT_HOLD,
	AGENT_ERR_CAN_NOT_RESUME,
	AGENT_ERR_CAN_NOT_START, /* dial */
	AGENT_ERR_CAN_NOT_ADD_PARTICIPANT,
	AGENT_ERR_CAN_NOT_SET_STATUS,
	AGENT_ERR_GENERIC,
};
const char *agent_err_type(enum agent_err err);

enum agent_op {
	AGENT_OP_ACCEPT = 1,
	AGENT_OP_DECLINE,
	AGENT_OP_END,
	AGENT_OP_HOLD,
	AGENT_OP_RESUME,
	AGENT_OP_DIGITS,
	AGENT_OP_DIAL,
	AGENT_OP_ADD_PARTICIPANT,
	AGENT_OP_SET_STATUS,
	AGENT_OP_WRAP_UP,
};

/* Where a dial or a transfer goes (the connector's Contact). */
enum agent_target_type {
	AGENT_TARGET_NUMBER = 0, /* E.164, through outbound_route */
	AGENT_TARGET_AGENT,      /* another agent of the same contact center, by Salesforce id */
	AGENT_TARGET_QUEUE,      /* routing.queues, by id */
	AGENT_TARGET_PHONEBOOK,  /* a phonebook entry, by index */
};

struct agent_cmd {
	enum agent_op op;
	const char *req_id;   /* echoed in the events the command causes */
	const char *call_key; /* the call acted on (or the transfer's parent); NULL for dial,
	                         set_status: resolved among the agent's calls when NULL and the
	                         agent has exactly one */
	const char *digits;   /* DIGITS: 0-9 * # A-D, 1 to 32 */
	enum agent_target_type target_type; /* DIAL, ADD_PARTICIPANT */
	const char *target;                 /* number, agent id, queue id or phonebook index */
	int blind;                          /* ADD_PARTICIPANT: blind transfer */
	enum agent_status status;           /* SET_STATUS */
};

/*
 * The outcome of a command, once it is known (at once for most; hold and resume once the
 * re-INVITEs are answered). call is the call after the command (NULL for status changes).
 */
typedef void (*agent_cmd_cb)(void *arg, enum agent_err err, const struct agent_call_view *call);

int agents_new(const struct cfg *cfg, struct agents **ret_agents);
void agents_set_calls(struct agents *agents, struct calls *calls);
void agents_set_sink(struct agents *agents, const struct agent_sink *sink);
void agents_free(struct agents *agents);

/* The agent whose configured phone is uri (compared without parameters): 0, or -ENOENT. */
int agents_by_phone(const struct agents *agents, const char *uri, size_t *ret_cc,
                    size_t *ret_agent);
/*
 * The agent who logs in as username to the contact center whose call_center_api_name is
 * api_name (and whose org_id is org_id, when org_id is not NULL): 0, -ENOENT, or -EEXIST when
 * org_id is NULL and several contact centers use api_name with such a user.
 */
int agents_by_login(const struct agents *agents, const char *org_id, const char *api_name,
                    const char *username, size_t *ret_cc, size_t *ret_agent);

enum agent_status agents_status(const struct agents *agents, size_t cc, size_t agent);

/*
 * The agent's calls in progress, for a connector that (re)connects: fn runs once per call,
 * oldest first. Returns how many.
 */
size_t agents_each_call(const struct agents *agents, size_t cc, size_t agent,
                        void (*fn)(void *arg, const struct agent_call_view *call), void *arg);

/* Carries out cmd for the agent; cb runs exactly once (possibly before this returns). */
void agents_command(struct agents *agents, size_t cc, size_t agent, const struct agent_cmd *cmd,
                    agent_cmd_cb cb, void *arg);

#endif
