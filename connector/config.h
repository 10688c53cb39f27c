/*
 * Configuration: one JSON file, validated strictly at start-up (`--check` validates and exits).
 * Every key is documented in config/README.md; config/scvbridge.example.json shows them all.
 *
 * The loaded struct cfg is immutable after cfg_load() and owned by the caller (cfg_free()).
 */
#ifndef SCVB_CONFIG_H
#define SCVB_CONFIG_H

#include <stddef.h>

/*
 * One entry of a string -> string map: call_attributes (SIP header of the caller's INVITE ->
 * VoiceCall field), routing.agents and routing.queues (Salesforce routing id -> SIP URI).
 */
struct cfg_pair {
	char *key;
	char *value;
};

struct cfg_number_ref; /* private to config.c */

/*
 * An agent who signs in to the agent endpoint (contact_centers[].agents). A call is the
 * agent's when the bridge rings their phone: forward_to, an Omni-Channel decision or a
 * transfer target equal to `phone` (compared as SIP URIs without parameters).
 */
struct cfg_agent {
	char *id;            /* Salesforce user id (005..., 15 or 18 characters) */
	char *username;      /* login name, unique within the contact center */
	char *name;          /* display name (contacts list, logs) */
	char *phone;         /* SIP URI of the agent's desk phone, unique across the file */
	char *password_hash; /* "scrypt$N$r$p$salt$hash" (scvbridge --hash-password) */
};

/* A transfer or dial target listed to agents (contact_centers[].phonebook). */
struct cfg_phonebook_entry {
	char *name;   /* shown to the agent */
	char *number; /* E.164, dialled through outbound_route */
};

enum cfg_dtmf_mode {
	CFG_DTMF_INFO_RELAY = 0, /* SIP INFO, application/dtmf-relay (default) */
	CFG_DTMF_INFO_DTMF,      /* SIP INFO, application/dtmf */
};

enum cfg_jwt_mode {
	CFG_JWT_REUSE = 0, /* one token per contact center, re-signed ~60 s before exp (default) */
	CFG_JWT_PER_REQUEST, /* a fresh token with a fresh jti on every request */
};

enum cfg_routing_mode {
	CFG_ROUTING_STATIC = 0, /* every call to forward_to (default) */
	CFG_ROUTING_OMNI, /* ask Omni-Channel (omniFlow) where to ring; forward_to as fallback */
};

struct cfg_contact_center {
	char *name;                 /* operator's label, unique; used in logs */
	char *org_id;               /* JWT iss: 15 or 18 chars, starts "00D" */
	char *call_center_api_name; /* JWT sub and body callCenterApiName */
	char *base_url;             /* https://host[:port]/telephony/v1 (no trailing slash) */
	char *private_key_file;     /* PEM RSA private key (>= 2048 bits) */
	char *ca_file;              /* PEM CA bundle; NULL = system trust store */
	char **numbers;             /* E.164 numbers ("+15550100000"), unique across centers */
	size_t n_numbers;
	char *forward_to;            /* SIP URI the call is forwarded to */
	struct cfg_pair *call_attrs; /* header (case-insensitive) -> field */
	size_t n_call_attrs;
	char *provider_name; /* Telephony-Provider-Name header; default "scvbridge" */
	enum cfg_jwt_mode jwt_mode;
	unsigned request_timeout_ms; /* one HTTPS request, connect to last byte; default 10000 */
	/* "recording": where the closing update's recordingLocation comes from */
	char *recording_header; /* SIP header the agent side carries the URL in; NULL = none */
	char *recording_url_template; /* else this, expanded; NULL = no recording */
	unsigned
	        recording_report_wait_ms; /* wait this long after the call for a recorder's report */
	/* "routing" */
	enum cfg_routing_mode routing_mode;
	char *omni_flow_dev_name;     /* flowDevName for omniFlow; NULL = none */
	char *omni_fallback_queue;    /* fallbackQueue for omniFlow; NULL = none */
	unsigned omni_timeout_ms;     /* decision deadline from the INVITE; then forward_to */
	struct cfg_pair *omni_agents; /* Salesforce agent id -> SIP URI */
	size_t n_omni_agents;
	struct cfg_pair *omni_queues; /* Salesforce queue id -> SIP URI */
	size_t n_omni_queues;
	unsigned ring_timeout_ms;   /* agent side not answering by then: 480 to the caller;
	                                0 = no limit; default 60000 */
	unsigned max_creates_per_s; /* creates sent per second at most (a backlog drains at this
	                                rate; Salesforce's documented limit is 50); default 40 */
	/* the agent side (agent_endpoint) */
	struct cfg_agent *agents;
	size_t n_agents;
	struct cfg_phonebook_entry *phonebook;
	size_t n_phonebook;
	char *outbound_route; /* SIP URI template with {number}: where agents' dials go; NULL = none */
	char *outbound_caller_id; /* E.164 shown to the called party; default numbers[0] */
	enum cfg_dtmf_mode dtmf_mode;
	unsigned after_call_work_s; /* after a call, the agent is in after-call work this long
	                               (0: no after-call work); default 0 */
};

struct cfg {
	/* "log" */
	char *log_level; /* "error" | "warn" | "info" | "debug"; default "info" */

	/* "sip" */
	char *sip_listen;     /* e.g. "sip:127.0.0.1:5070" or "sip:[::1]:5070;transport=tcp" */
	char **trusted_peers; /* IPv4/IPv6 addresses or CIDR prefixes ("10.0.0.0/8") */
	size_t n_trusted_peers;
	char *sip_user_agent;       /* default "scvbridge/<version>" */
	char *default_country_code; /* digits, e.g. "1"; NULL = none (see connector/e164.h) */
	unsigned max_calls;         /* concurrent calls; beyond: 503; default 10000 */
	unsigned udp_buffer_bytes;  /* SIP UDP socket buffers asked; default 4 MiB (sip/sip.h) */
	unsigned shutdown_grace_ms; /* on SIGTERM, wait this long for calls to end; default 30000 */
	unsigned
	        drain_timeout_ms; /* then wait this long for Salesforce ops to leave; default 30000 */

	/* "store" */
	char *store_path;
	unsigned store_max_age_s; /* an operation older than this goes to the dead letters;
	                             default 432000 (5 days) */

	/* "http": the local API (health, recording reports); absent = not started */
	char *http_listen; /* "127.0.0.1:8088" */
	char *http_token;  /* bearer token of the recording route */

	/* "agent_endpoint": HTTPS + WebSocket for agents' browser connectors; absent = off */
	char *ae_listen;    /* "0.0.0.0:8443" */
	char *ae_cert_file; /* PEM certificate chain */
	char *ae_key_file;  /* PEM private key */
	char **ae_origins;  /* allowed Origin values, "https://host[:port]" */
	size_t n_ae_origins;
	char *ae_web_root;       /* directory of the built connector (index.html, login.html) */
	char *ae_secret_file;    /* token signing secret; default <store.path>.agent-secret */
	unsigned ae_token_ttl_s; /* default 900 */
	unsigned ae_hello_timeout_ms;       /* default 5000 */
	unsigned ae_max_message_bytes;      /* default 65536 */
	unsigned ae_max_sockets_per_agent;  /* default 8 */
	unsigned ae_max_sockets_per_source; /* default 64 */
	unsigned ae_max_connections;        /* default 10000 */
	unsigned ae_commands_per_s;         /* per socket; default 20 */

	/* "contact_centers" */
	struct cfg_contact_center *ccs;
	size_t n_ccs;

	/*
	 * Private to config.c: every number with its contact center, sorted, for
	 * cfg_find_number(). NULL in a struct cfg not made by cfg_load() (e.g. one built by a
	 * test), which then gets a linear search.
	 */
	struct cfg_number_ref *number_index;
	size_t n_number_index;
};

/*
 * Reads and validates the file at path. On success *ret_cfg is set and 0 returned. On error,
 * returns a negative errno-style code and writes one human-readable line into err (always
 * NUL-terminated), naming the key path, e.g. "contact_centers[0].org_id: expected a string",
 * or for broken JSON "config.json:3:14: ...".
 */
int cfg_load(const char *path, struct cfg **ret_cfg, char *err, size_t errlen);
void cfg_free(struct cfg *cfg);

/*
 * The contact center that owns an E.164 number (exact match, e.g. "+15550100000"), or NULL.
 * On a match, *ret_index (when ret_index is not NULL) is its index in cfg->ccs.
 */
const struct cfg_contact_center *cfg_find_number(const struct cfg *cfg, const char *e164,
                                                 size_t *ret_index);

#endif
