/*
 * The outbox: every Salesforce operation of every call goes through it.
 *
 * Callers submit requests built by the contact center's Salesforce client (scv/client.h) for a
 * call key, and never wait. The outbox does not look inside a request (it only knows creates,
 * which it paces); it:
 *   - writes each operation to the store (SQLite, group commit: one fsync per loop turn)
 *     before it is sent, and removes it only once Salesforce accepted it, or moves it to the
 *     dead letters when it is refused for good or too old (store.max_age_s);
 *   - delivers in per-call order (an operation leaves only when the one before it for the same
 *     call was accepted or refused for good); calls do not block each other;
 *   - classifies answers: 2xx done; 429, 5xx, timeouts and connection errors retry; 401/403
 *     hold the whole contact center (a key or clock problem); other 4xx are permanent;
 *   - when a contact center fails, stops sending to it and probes with ONE request per backoff
 *     interval (full jitter, base 1 s, cap 5 min, Retry-After honoured) until it answers;
 *   - sends creates at most max_creates_per_s per contact center, so a backlog drains gently;
 *   - tracks the calls that are up, so that after a crash their VoiceCalls are closed;
 *   - if the store cannot be written (disk full, I/O error), keeps operations in memory, still
 *     delivers them, retries the write every second, and says what is at risk.
 *
 * With store == NULL everything stays in memory (unit tests).
 */
#ifndef SCVB_OUTBOX_H
#define SCVB_OUTBOX_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "scv/client.h"

struct cfg;
struct store;

struct outbox;

/* Told when an operation has left for good (accepted, or refused for ever). */
struct outbox_result {
	const char *call_key;
	enum scv_req_kind kind;
	int accepted;     /* 1: 2xx; 0: permanently refused or expired (in the dead letters) */
	int status;       /* last HTTP status, 0 if none */
	const char *body; /* last response body (may be NULL) */
	size_t body_len;
	unsigned attempts;
};
typedef void (*outbox_result_cb)(const struct outbox_result *res, void *arg);

/*
 * The one way the outbox sends: scv_client_send() in the daemon, a fake in its unit test.
 * Same contract: 0 and cb exactly once later, or a negative errno and cb never called.
 */
typedef int (*outbox_send_fn)(struct scv_client *client, const struct scv_req *req, scv_http_cb cb,
                              void *arg);

/*
 * clients[i] is the Salesforce client of cfg->ccs[i] (borrowed: it must outlive the outbox);
 * requests leave through send(clients[i], ...). store NULL: everything stays in memory.
 * 0, or -ENOMEM.
 */
int outbox_new(uv_loop_t *loop, const struct cfg *cfg, struct scv_client *const *clients,
               outbox_send_fn send, struct store *store, outbox_result_cb cb, void *arg,
               struct outbox **ret_outbox);

/*
 * Takes over what a previous process left in the store: closes the VoiceCalls of calls that
 * were up when it died (endTime = its last heartbeat, TELECOM_PROBLEM), and queues its pending
 * operations, a bounded window at a time. Call once, before the first submit.
 */
int outbox_recover(struct outbox *ob, char *err, size_t errlen);

/*
 * Queues a built request of contact center cc_index for call_key. Its strings are taken over:
 * *req is cleared on return, whatever the outcome. 0, or -EINVAL / -ENOMEM (request lost,
 * logged).
 */
int outbox_submit(struct outbox *ob, size_t cc_index, const char *call_key, struct scv_req *req);

/*
 * Runs fn(arg, id) once everything staged so far is on disk (after this loop turn's commit),
 * or at once without a store, or as soon as the store is known to be failing (calls keep
 * flowing; what is at risk is logged). The call core forwards an INVITE only then, so a call
 * the agent side sees always has its VoiceCall create on disk.
 */
void outbox_after_commit(struct outbox *ob, void (*fn)(void *arg, uint64_t id), void *arg,
                         uint64_t id);

/* The calls that are up (durable, so that a crash cannot leave a VoiceCall open). */
void outbox_call_started(struct outbox *ob, size_t cc_index, const char *call_key,
                         int64_t start_us);
void outbox_call_answered(struct outbox *ob, const char *call_key, int64_t accept_us);
void outbox_call_ended(struct outbox *ob, const char *call_key);

/* Operations not yet accepted or refused (in memory and, for a backlog, on disk). */
size_t outbox_pending(const struct outbox *ob);

/* 1 while the store takes writes; 0 while operations are held in memory only. */
int outbox_store_ok(const struct outbox *ob);

/* Calls cb once no operation is pending (at once if none is). One waiter at a time. */
void outbox_when_empty(struct outbox *ob, void (*cb)(void *arg), void *arg);

/* Writes what is staged, stops timers; what is still pending stays in the store. */
void outbox_free(struct outbox *ob);

/* Counters for logs and tests. */
struct outbox_stats {
	uint64_t submitted, accepted, refused, expired, retries, in_flight, probes;
	uint64_t commits, commit_failures;
};
void outbox_get_stats(const struct outbox *ob, struct outbox_stats *ret_stats);

#endif
