/*
 * Internals of the outbox, shared by outbox.c (queues, dispatch, answers) and
 * outbox_durable.c (the store: group commit, heartbeat, recovery, the backlog window).
 */
#ifndef SCVB_OUTBOX_INT_H
#define SCVB_OUTBOX_INT_H

#include <stdint.h>
#include <uv.h>

#include "connector/outbox.h"
#include "connector/store.h"

struct cfg_contact_center;
struct scv_http_resp;

/* Retry policy (reference/reliability.md §1.4): full jitter, base 1 s, cap 5 min. */
#define RETRY_BASE_MS 1000
#define RETRY_CAP_MS  (300 * 1000)
#define RETRY_MIN_MS  100
/* 401/403: the key or the clock is wrong, not the record: hold the whole center this long. */
#define AUTH_PAUSE_MS (30 * 1000)
/* Requests in flight per contact center; the rest wait in its ready queues. */
#define MAX_IN_FLIGHT_PER_CC 32
#define CALLQ_BUCKETS        4096
/* Operations of a previous process's backlog held in memory at once (the rest stay on disk). */
#define BACKLOG_WINDOW 2000
/* A store that refused a write is tried again this often. */
#define STORE_RETRY_MS 1000
/* The heartbeat that dates calls cut by a crash. */
#define HEARTBEAT_MS 1000

struct callq;

struct op {
	struct outbox *ob;
	struct callq *cq;
	struct op *next_in_call;                /* per-call FIFO */
	struct op *ready_next;                  /* the center's ready queue */
	struct op *unsaved_prev, *unsaved_next; /* staged in the store, not yet committed */
	int64_t id;                             /* store id; 0 without a store */
	uint64_t batch;     /* the store batch (outbox.batch numbering) its add is written in */
	struct scv_req req; /* owned */
	int64_t created_ms; /* CLOCK_REALTIME */
	unsigned attempts;
	unsigned in_flight : 1, saved : 1, ready : 1, backlog : 1, probe : 1, unsaved : 1;
};

/* The operations of one call, oldest first; only the head may be in flight. */
struct callq {
	char *key;
	size_t cc;
	struct op *head, *tail;
	struct callq *hnext;
};

struct fifo {
	struct op *head, *tail;
	size_t n;
};

struct cc_state {
	const struct cfg_contact_center *cfg;
	struct scv_client *client; /* borrowed */
	unsigned in_flight;
	uint64_t paused_until_ms; /* 401/403 */
	struct fifo creates;      /* ready creates (rate-limited) */
	struct fifo others;       /* ready updates */
	/* circuit: after a failure, one probe per backoff interval until an answer */
	int open;
	unsigned failures;
	uint64_t probe_due_ms;
	int probe_in_flight;
	/* create rate: token bucket, capacity one second's worth */
	double tokens;
	uint64_t tokens_at_ms;
};

struct outbox_waiter {
	void (*fn)(void *arg, uint64_t id);
	void *arg;
	uint64_t id;
	uint64_t batch; /* runs once this batch is written (or failed) */
};

struct outbox {
	uv_loop_t *loop;
	uv_timer_t timer;
	uv_timer_t heartbeat;
	uv_check_t check;   /* group commit at the end of each loop turn */
	uv_idle_t idle;     /* keeps the turn from blocking while something is staged */
	uv_async_t flushed; /* the store's writer thread finished a batch */
	uint64_t batch;     /* the last batch handed to the writer (1, 2, ...) */
	outbox_send_fn send;
	struct store *store;
	const struct cfg *cfg;
	outbox_result_cb cb;
	void *cb_arg;
	struct cc_state *ccs;
	size_t n_ccs;
	struct callq *buckets[CALLQ_BUCKETS];
	struct op *unsaved; /* list of ops staged but not committed */
	int store_failing;
	uint64_t store_retry_at_ms;
	/* backlog of a previous process: ids in (backlog_last, first_live_id) are on disk */
	int64_t backlog_last;
	int64_t first_live_id; /* 0 until the first live submission */
	int backlog_more;
	size_t backlog_in_mem;
	uint64_t backlog_on_disk;
	size_t pending; /* in memory */
	struct outbox_stats stats;
	void (*empty_cb)(void *arg);
	void *empty_arg;
	uint64_t rng;
	int closing;
	int open_handles;
	struct outbox_waiter *waiters; /* run after their batch is written, in batch order */
	size_t n_waiters, cap_waiters;
};

int64_t outbox_now_real_ms(void);
size_t outbox_cc_index_by_name(const struct outbox *ob, const char *name, int *found);
struct callq *outbox_callq_get(struct outbox *ob, const char *key, size_t cc);
struct store_op outbox_store_view(const struct op *op);
void outbox_callq_append(struct outbox *ob, struct callq *cq, struct op *op);
void outbox_commit(struct outbox *ob);
void outbox_dispatch(struct outbox *ob);
void outbox_kick_commit(struct outbox *ob);
void outbox_load_backlog(struct outbox *ob);
void outbox_maybe_ready(struct outbox *ob, struct op *op);
void outbox_on_check(uv_check_t *h);
void outbox_on_flushed(uv_async_t *h);
void outbox_on_heartbeat(uv_timer_t *t);
void outbox_unsaved_add(struct outbox *ob, struct op *op);
void outbox_unsaved_remove(struct outbox *ob, struct op *op);

#endif
