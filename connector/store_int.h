/*
 * Internals of the store, shared by store.c (SQLite: open, reading), store_write.c (commits and
 * the writer thread) and store_stage.c (the in-memory list of staged changes). Private to
 * connector/store*.c.
 */
#ifndef SCVB_STORE_INT_H
#define SCVB_STORE_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "connector/store.h"

struct sqlite3;
struct sqlite3_stmt;

#define INDEX_BUCKETS 1024

enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_PUT_OP,
	S_DEL_OP,
	S_SET_ATTEMPTS,
	S_PUT_DEAD,
	S_PUT_CALL,
	S_SET_ACCEPT,
	S_DEL_CALL,
	S_PUT_META,
	S_GET_META,
	S_LOAD_OPS,
	S_COUNT_OPS,
	S_LOAD_CALLS,
	S_LOAD_DEAD,
	S_REPLAY,
	S_CLEAR_DEAD,
	S_COUNT
};

enum change_kind {
	CH_ADD_OP,       /* op */
	CH_DEL_OP,       /* op.id */
	CH_SET_ATTEMPTS, /* op.id, op.attempts */
	CH_BURY_OP,      /* op, status, response, reason, died_ms */
	CH_ADD_CALL,     /* call */
	CH_SET_ACCEPT,   /* call.call_key, call.accept_ms */
	CH_DEL_CALL,     /* call.call_key */
};

/* One staged change, allocated with its strings (which point into buf). */
struct change {
	struct change *prev, *next; /* staging order */
	struct change *hnext;       /* index chain */
	enum change_kind kind;
	struct store_op op;
	struct store_call call;
	int status;
	char *response;
	char *reason;
	int64_t died_ms;
	char buf[];
};

/* Changes taken out of staging to be written in one transaction. */
struct batch {
	struct change *head, *tail;
	size_t n;
	int alive_staged;
	int64_t alive_ms;
	int64_t next_id; /* the store's next id when the batch was taken */
	int64_t last_id; /* written: the id high-water mark it stored */
};

struct store {
	struct sqlite3 *db;
	/* The connection is used by one thread at a time: the loop thread (reads, synchronous
	 * commits) or the writer thread (a batch in flight). */
	pthread_mutex_t db_lock;
	char *path;
	struct sqlite3_stmt *stmt[S_COUNT];
	struct change *head, *tail;
	size_t n_staged;
	/* The staged change each op (add, set_attempts) and call (add, set_accept) may fold into. */
	struct change *op_index[INDEX_BUCKETS];
	struct change *call_index[INDEX_BUCKETS];
	int alive_staged;
	int64_t alive_ms;
	int64_t next_id;      /* what store_add_op() hands out next */
	int64_t last_id_disk; /* meta 'last_id' as committed */

	/* Asynchronous commits (store_flush_*): one batch in flight at a time. fl_lock guards
	 * the writer's hand-off fields (fl_queued, fl_done, fl_rc, fl_err, quit). */
	pthread_t writer;
	int writer_running;
	pthread_mutex_t fl_lock;
	pthread_cond_t fl_cond;
	struct batch fl;
	int fl_busy;   /* a batch was handed over and not yet finished (loop thread's view) */
	int fl_queued; /* the writer has a batch to write */
	int fl_done;   /* the writer wrote (or failed) it */
	int fl_rc;
	char fl_err[256];
	int quit;
	void (*fl_notify)(void *arg);
	void *fl_notify_arg;
};

/* Shared helpers of store.c, used by store_write.c. */
int store_errno_of(int rc);
int store_fail(struct store *st, int rc, const char *what, char *err, size_t errlen);
int store_run(struct sqlite3_stmt *s, int bind_rc);
int store_bind_str(struct sqlite3_stmt *s, int i, const char *v);
int store_bind_op(struct sqlite3_stmt *s, const struct store_op *op);

int64_t store_now_ms(void);
/* Frees every staged change (after they were written). */
void store_unstage_all(struct store *st);
/* Moves every staged change (and a staged heartbeat) into b; staging is left empty. */
void store_take_batch(struct store *st, struct batch *b);
/* Puts an unwritten batch back in front of what was staged since, in order. */
void store_return_batch(struct store *st, struct batch *b);
/* Frees a written batch's changes. */
void store_free_batch(struct batch *b);
/* Stops the writer thread (after its batch, if any); store_close() calls it. */
void store_writer_stop(struct store *st);

#endif
