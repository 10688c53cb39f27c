/*
 * Internals of the store, shared by store.c (SQLite: open, commit, reading) and store_stage.c
 * (the in-memory list of staged changes). Private to connector/store*.c.
 */
#ifndef SCVB_STORE_INT_H
#define SCVB_STORE_INT_H

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

struct store {
	struct sqlite3 *db;
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
};

int64_t store_now_ms(void);
/* Frees every staged change (after they were written). */
void store_unstage_all(struct store *st);

#endif
