/*
 * The outbox: every Salesforce operation of every call goes through it.
 *
 * Callers submit finished requests (method, path, JSON body) for a call key and a contact
 * center, and never wait: the outbox delivers them in per-call order (an operation leaves only
 * when the one before it for the same call was accepted or judged permanently refused), calls
 * do not block each other, and failures are retried with jittered exponential backoff that
 * honours Retry-After.
 *
 * This version keeps operations in memory. The interface is what a durable store needs: an
 * operation is handed over whole at outbox_submit() (where a store commits it before sending)
 * and leaves only through the result paths in outbox.c (where a store deletes or dead-letters
 * it), so the store slots in underneath without touching callers.
 */
#ifndef SCVB_OUTBOX_H
#define SCVB_OUTBOX_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct cfg;
struct scv_http;

enum outbox_kind {
	OUTBOX_CREATE = 1, /* POST /voiceCalls */
	OUTBOX_UPDATE,     /* PATCH /voiceCalls/{key} */
};

struct outbox;

/* Told when an operation has left for good (accepted, or refused for ever). */
struct outbox_result {
	const char *call_key;
	enum outbox_kind kind;
	int accepted;     /* 1: 2xx; 0: permanently refused */
	int status;       /* last HTTP status, 0 if none */
	const char *body; /* last response body (may be NULL) */
	size_t body_len;
	unsigned attempts;
};
typedef void (*outbox_result_cb)(const struct outbox_result *res, void *arg);

/* The contact centers' clients (JWT signers, HTTP targets) are made here from cfg. */
int outbox_new(uv_loop_t *loop, const struct cfg *cfg, struct scv_http *http, outbox_result_cb cb,
               void *arg, struct outbox **ret_outbox, char *err, size_t errlen);

/*
 * Queues an operation. body is taken over (malloc'd JSON text, freed by the outbox).
 * path is relative to the contact center's base URL, e.g. "/voiceCalls".
 * 0, or -ENOMEM (body freed).
 */
int outbox_submit(struct outbox *ob, size_t cc_index, const char *call_key, enum outbox_kind kind,
                  const char *method, const char *path, char *body);

/* Operations not yet accepted or refused. */
size_t outbox_pending(const struct outbox *ob);

/* Calls cb once no operation is pending (at once if none is). One waiter at a time. */
void outbox_when_empty(struct outbox *ob, void (*cb)(void *arg), void *arg);

/* Stops timers; pending operations are logged as lost and freed. */
void outbox_free(struct outbox *ob);

/* Counters for logs and tests. */
struct outbox_stats {
	uint64_t submitted, accepted, refused, retries, in_flight;
};
void outbox_get_stats(const struct outbox *ob, struct outbox_stats *ret_stats);

#endif
