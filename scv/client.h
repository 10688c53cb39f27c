/*
 * The Salesforce client of one contact center: everything the daemon says to the Telephony
 * Integration REST API goes through one of these (reference/salesforce-telephony-api.md).
 *
 * A client owns the contact center's JWT signer (scv/jwt.h), its HTTPS target (scv/http.h),
 * the Authorization and Telephony-Provider-Name headers and the request timeout, and knows the
 * method, path and body of every call the daemon makes. Requests are built first (pure
 * functions, below) and sent later, so that the outbox can keep a built request on disk,
 * across restarts, without knowing what is inside.
 *
 * Everything here runs on the loop thread.
 */
#ifndef SCVB_SCV_CLIENT_H
#define SCVB_SCV_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "scv/body.h"
#include "scv/http.h"

/*
 * What a request is for. The values are stored with each pending operation (the store's
 * "kind" column): never renumber them. Transcripts (POST /voiceCalls/{key}/messages and
 * POST /voiceCalls/messages) take the next values when they come.
 */
enum scv_req_kind {
	SCV_REQ_CREATE = 1,        /* POST /voiceCalls */
	SCV_REQ_UPDATE = 2,        /* PATCH /voiceCalls/{key} (the closing update) */
	SCV_REQ_CLEAR_ROUTING = 3, /* PATCH /voiceCalls/{key}/clearRouting */
	SCV_REQ_OMNIFLOW = 4,      /* PATCH /voiceCalls/{key}/omniFlow (a question, never kept) */
};

/*
 * A built request. Whoever holds one owns its strings (malloc'd) and frees them with
 * scv_req_clear(). path is relative to the contact center's base URL ("/voiceCalls"); body is
 * JSON text or NULL. The outbox stores and sends these without looking inside.
 */
struct scv_req {
	enum scv_req_kind kind;
	char *method;
	char *path;
	char *body;
};

void scv_req_clear(struct scv_req *req);
/* "create", "update", "clearRouting", "omniFlow": for logs. */
const char *scv_req_kind_name(enum scv_req_kind kind);

struct scv_client;

/* A contact center as its client needs it; the strings must outlive the client. */
struct scv_client_cfg {
	const char *name;                 /* the contact center's label, for logs and errors */
	const char *base_url;             /* https://host[:port]/telephony/v1 */
	const char *ca_file;              /* NULL = the system trust store */
	const char *private_key_file;     /* PEM RSA key, signs the JWTs */
	const char *org_id;               /* JWT iss */
	const char *call_center_api_name; /* JWT sub and the create's callCenterApiName */
	int jti_per_request;              /* 1: a fresh token and jti per request */
	const char *provider_name;        /* Telephony-Provider-Name; NULL = not sent */
	unsigned request_timeout_ms;      /* each request sent with scv_client_send() */
	const char *omni_flow_dev_name;   /* omniFlow's flowDevName; NULL = none */
	const char *omni_fallback_queue;  /* omniFlow's fallbackQueue; NULL = none */
};

/*
 * Loads the key and registers the base URL with http (which must outlive the client).
 * 0, or a negative errno with a one-line reason in err.
 */
int scv_client_new(struct scv_http *http, const struct scv_client_cfg *cfg,
                   struct scv_client **ret_client, char *err, size_t errlen);
void scv_client_free(struct scv_client *client);
const char *scv_client_name(const struct scv_client *client);

/* ---- request builders: pure; 0 and *ret_req filled, or -ENOMEM / -EINVAL ------------- */

/* The VoiceCall create; c->call_center_api_name is ignored (the client's is sent). */
int scv_client_create_req(const struct scv_client *client, const struct scv_create *c,
                          struct scv_req *ret_req);
/* The closing update of the VoiceCall whose vendorCallKey is key. */
int scv_client_update_req(const struct scv_client *client, const char *key,
                          const struct scv_update *u, struct scv_req *ret_req);
/* Clears the routing Omni-Channel left pending for key (no body). */
int scv_client_clear_routing_req(const struct scv_client *client, const char *key,
                                 struct scv_req *ret_req);
/* Asks Omni-Channel where to ring key's caller, who dialled dialed_number. */
int scv_client_omniflow_req(const struct scv_client *client, const char *key,
                            const char *dialed_number, struct scv_req *ret_req);

/* ---- sending ------------------------------------------------------------------------ */

/*
 * Sends req (copied; the caller keeps it) with a valid token and the client's timeout. cb runs
 * exactly once, later, on the loop (-ECANCELED when the HTTP client closes first). 0, or a
 * negative errno (cb never called). This is the one way the outbox sends.
 */
int scv_client_send(struct scv_client *client, const struct scv_req *req, scv_http_cb cb,
                    void *arg);

/*
 * A question whose answer is worth nothing late (omniFlow): sent at once with timeout_ms,
 * never stored or retried. cb(arg, id, status, body, len) runs exactly once, later, with
 * status 0 when no answer came (timeout, connection error, shutdown); body is valid during
 * the callback only. 0, or a negative errno (cb never called).
 */
typedef void (*scv_reply_cb)(void *arg, uint64_t id, int status, const char *body, size_t len);
int scv_client_ask(struct scv_client *client, const struct scv_req *req, unsigned timeout_ms,
                   scv_reply_cb cb, void *arg, uint64_t id);

#endif
