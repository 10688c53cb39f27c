/*
 * store: the outbox's durable half, an SQLite database in WAL mode (store.path).
 *
 * What is kept:
 *   ops     every Salesforce operation not yet accepted or refused for good, in submission order
 *   calls   the calls that are up (so a crash cannot leave their VoiceCalls open for ever)
 *   dead    operations refused for good or expired: status, response body and time, never
 *           silently dropped; listed and replayed by the operator
 *   meta    the last instant the process was known alive (heartbeat)
 *
 * Durability: writes are staged in memory by the store_* calls below and written in ONE
 * transaction with synchronous=FULL (one WAL fsync) per batch: by store_commit() on the calling
 * thread, or by the store's writer thread (store_flush_begin/finish) while the caller goes on
 * staging the next batch; that is the outbox's group commit. An operation is sent only after
 * the batch that holds it is on disk.
 *
 * Every call below belongs to one thread (the loop thread); only the writer thread, started
 * by the first store_flush_begin(), shares the SQLite connection, under a lock.
 */
#ifndef SCVB_STORE_H
#define SCVB_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;

/* An operation as stored. Strings are owned by whoever holds the struct (store_op_clear()). */
struct store_op {
	int64_t id;     /* assigned by store_add_op(); increasing; submission order */
	char *call_key; /* vendorCallKey */
	char *cc_name;  /* contact center name (config) */
	int kind;       /* enum scv_req_kind (scv/client.h) */
	char *method;
	char *path;
	char *body;
	int64_t created_ms; /* CLOCK_REALTIME ms when submitted (expiry is by age) */
	unsigned attempts;
};

/* A call that is up. */
struct store_call {
	char *call_key;
	char *cc_name;
	int64_t start_ms;  /* CLOCK_REALTIME ms */
	int64_t accept_ms; /* 0 = not answered */
};

struct store_dead {
	int64_t id;
	struct store_op op;
	int status;     /* last HTTP status, 0 if none */
	char *response; /* last response body, may be NULL */
	char *reason;   /* "refused", "expired", ... */
	int64_t died_ms;
};

/*
 * Opens (creating if needed) the database at path: WAL, synchronous=FULL, schema checked.
 * 0, or a negative errno-style code with a reason naming the path in err.
 */
int store_open(const char *path, struct store **ret_store, char *err, size_t errlen);
void store_close(struct store *st);

/* ---- staged writes (take effect at the next store_commit) ---------------------------- */

/* Stages op for insertion; op->id is assigned at once (the store's next id). */
int store_add_op(struct store *st, struct store_op *op);
/* The operation was accepted (or dead-lettered): remove it. */
int store_del_op(struct store *st, int64_t id);
/* Record a new attempt count (not required for correctness; kept for operators). */
int store_set_attempts(struct store *st, int64_t id, unsigned attempts);
/* Moves op to the dead letters with the last status, response and a reason. */
int store_bury_op(struct store *st, const struct store_op *op, int status, const char *response,
                  const char *reason);
int store_add_call(struct store *st, const struct store_call *call);
int store_set_call_accept(struct store *st, const char *call_key, int64_t accept_ms);
int store_del_call(struct store *st, const char *call_key);
/* Heartbeat: the process is alive at now_ms. */
int store_set_alive(struct store *st, int64_t now_ms);

/* Number of staged writes not yet committed. */
size_t store_staged(const struct store *st);

/*
 * Writes every staged change in one transaction (one fsync). On failure (disk full, I/O
 * error, read-only) nothing staged is lost: it stays staged and the next commit retries it;
 * the error is returned (-ENOSPC, -EIO, -EROFS, -EBUSY...) with a reason in err.
 */
int store_commit(struct store *st, char *err, size_t errlen);

/*
 * Asynchronous commit. store_flush_begin() hands everything staged to the writer thread and
 * returns 1 (0: nothing staged, or a batch is already in flight; a negative errno if the
 * thread cannot start). When the batch is written or failed the writer calls done(arg) from
 * its own thread (it must only wake the caller's thread, e.g. uv_async_send()); the caller then
 * calls store_flush_finish(): 0 the batch is on disk; a negative errno with a reason in err,
 * the batch is back in staging, in front of what was staged since; -EAGAIN not finished yet;
 * -EALREADY nothing in flight. store_commit() and store_close() first wait for a batch in
 * flight.
 */
int store_flush_begin(struct store *st, void (*done)(void *arg), void *arg);
int store_flush_finish(struct store *st, char *err, size_t errlen);
int store_flush_busy(const struct store *st);
/* Blocks until the batch in flight, if any, is written or failed. */
void store_flush_wait(struct store *st);

/* ---- reading ------------------------------------------------------------------------- */

/*
 * Loads up to max pending operations with id > after_id, oldest first, into ops (caller
 * frees each with store_op_clear()). Sets *ret_n. Reads committed data only.
 */
int store_load_ops(struct store *st, int64_t after_id, size_t max, struct store_op *ops,
                   size_t *ret_n);
/* Pending operations on disk (committed). */
int store_count_ops(struct store *st, uint64_t *ret_n);

/* Calls left up by a previous process; the caller frees with store_call_clear(). */
int store_load_calls(struct store *st, struct store_call **ret_calls, size_t *ret_n);
/* The last heartbeat, 0 if none. */
int store_get_alive(struct store *st, int64_t *ret_ms);

/* Dead letters, oldest first (caller frees each with store_dead_clear()). */
int store_load_dead(struct store *st, struct store_dead **ret_dead, size_t *ret_n);
/* Puts every dead letter back among the pending operations (attempts reset); *ret_n moved. */
int store_replay_dead(struct store *st, size_t *ret_n);

void store_op_clear(struct store_op *op);
void store_call_clear(struct store_call *call);
void store_dead_clear(struct store_dead *dead);

#endif
