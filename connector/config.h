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
