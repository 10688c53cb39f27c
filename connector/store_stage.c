/*
 * The store's staged changes (see store.c for the decisions): kept in order in memory, folded
 * into earlier changes to the same op or call, written by store_commit(). No SQLite here.
 */
#include "connector/store_int.h"
#include "connector/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- staging ------------------------------------------------------------------------- */

static struct change **
op_bucket(struct store *st, int64_t id)
{
	return &st->op_index[(uint64_t)id % INDEX_BUCKETS];
}

static struct change **
call_bucket(struct store *st, const char *key)
{
	return &st->call_index[util_hash_str(key) % INDEX_BUCKETS];
}

static struct change *
find_op(struct store *st, int64_t id)
{
	for (struct change *c = *op_bucket(st, id); c; c = c->hnext)
		if (c->op.id == id)
			return c;
	return NULL;
}

static struct change *
find_call(struct store *st, const char *key)
{
	for (struct change *c = *call_bucket(st, key); c; c = c->hnext)
		if (strcmp(c->call.call_key, key) == 0)
			return c;
	return NULL;
}

static void
index_add(struct change **bucket, struct change *c)
{
	c->hnext = *bucket;
	*bucket = c;
}

static void
index_remove(struct change **bucket, struct change *c)
{
	for (struct change **p = bucket; *p; p = &(*p)->hnext) {
		if (*p == c) {
			*p = c->hnext;
			c->hnext = NULL;
			return;
		}
	}
}

static void
stage(struct store *st, struct change *c)
{
	c->next = NULL;
	c->prev = st->tail;
	if (st->tail)
		st->tail->next = c;
	else
		st->head = c;
	st->tail = c;
	st->n_staged++;
}

/* Takes an indexed change out of the batch and frees it. */
static void
unstage(struct store *st, struct change **bucket, struct change *c)
{
	index_remove(bucket, c);
	if (c->prev)
		c->prev->next = c->next;
	else
		st->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		st->tail = c->prev;
	st->n_staged--;
	free(c);
}

void
store_unstage_all(struct store *st)
{
	struct change *c, *next;

	for (c = st->head; c; c = next) {
		next = c->next;
		free(c);
	}
	st->head = st->tail = NULL;
	st->n_staged = 0;
	memset(st->op_index, 0, sizeof st->op_index);
	memset(st->call_index, 0, sizeof st->call_index);
}

void
store_take_batch(struct store *st, struct batch *b)
{
	*b = (struct batch){
	        .head = st->head,
	        .tail = st->tail,
	        .n = st->n_staged,
	        .alive_staged = st->alive_staged,
	        .alive_ms = st->alive_ms,
	        .next_id = st->next_id,
	};
	/* what is staged from now on cannot fold into changes being written */
	st->head = st->tail = NULL;
	st->n_staged = 0;
	st->alive_staged = 0;
	memset(st->op_index, 0, sizeof st->op_index);
	memset(st->call_index, 0, sizeof st->call_index);
}

void
store_return_batch(struct store *st, struct batch *b)
{
	if (b->head) {
		b->tail->next = st->head;
		if (st->head)
			st->head->prev = b->tail;
		else
			st->tail = b->tail;
		st->head = b->head;
		st->n_staged += b->n;
		/* Index them again where nothing newer is indexed, so later changes fold into
		 * them as before (without it they would merely be written as separate rows). */
		for (struct change *c = b->head; c != b->tail->next; c = c->next) {
			c->hnext = NULL;
			if ((c->kind == CH_ADD_OP || c->kind == CH_SET_ATTEMPTS) &&
			    !find_op(st, c->op.id))
				index_add(op_bucket(st, c->op.id), c);
			else if ((c->kind == CH_ADD_CALL || c->kind == CH_SET_ACCEPT) &&
			         !find_call(st, c->call.call_key))
				index_add(call_bucket(st, c->call.call_key), c);
		}
	}
	if (b->alive_staged && !st->alive_staged) { /* a newer heartbeat wins */
		st->alive_staged = 1;
		st->alive_ms = b->alive_ms;
	}
	*b = (struct batch){0};
}

void
store_free_batch(struct batch *b)
{
	struct change *c, *next;

	for (c = b->head; c; c = next) {
		next = c->next;
		free(c);
	}
	*b = (struct batch){0};
}

static size_t
str_size(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

/* Copies s to *p and moves *p past it; NULL stays NULL. */
static char *
str_put(char **p, const char *s)
{
	char *d;
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	d = memcpy(*p, s, n);
	*p += n;
	return d;
}

static size_t
op_size(const struct store_op *op)
{
	return str_size(op->call_key) + str_size(op->cc_name) + str_size(op->method) +
	       str_size(op->path) + str_size(op->body);
}

static void
op_put(struct change *c, char **p, const struct store_op *op)
{
	c->op = *op;
	c->op.call_key = str_put(p, op->call_key);
	c->op.cc_name = str_put(p, op->cc_name);
	c->op.method = str_put(p, op->method);
	c->op.path = str_put(p, op->path);
	c->op.body = str_put(p, op->body);
}

static int
op_valid(const struct store_op *op)
{
	return op && op->call_key && op->cc_name && op->method && op->path;
}

static struct change *
change_new(enum change_kind kind, size_t strings)
{
	struct change *c = calloc(1, sizeof *c + strings);

	if (c)
		c->kind = kind;
	return c;
}

int
store_add_op(struct store *st, struct store_op *op)
{
	struct change *c;
	char *p;

	if (!op_valid(op))
		return -EINVAL;
	c = change_new(CH_ADD_OP, op_size(op));
	if (!c)
		return -ENOMEM;
	p = c->buf;
	op_put(c, &p, op);
	c->op.id = st->next_id++;
	index_add(op_bucket(st, c->op.id), c);
	stage(st, c);
	op->id = c->op.id;
	return 0;
}

int
store_del_op(struct store *st, int64_t id)
{
	struct change *c, *old;

	if (id <= 0)
		return -EINVAL;
	c = change_new(CH_DEL_OP, 0);
	if (!c)
		return -ENOMEM;
	c->op.id = id;
	old = find_op(st, id);
	if (old && old->kind == CH_ADD_OP) {
		/* never reached the disk: nothing to delete there */
		unstage(st, op_bucket(st, id), old);
		free(c);
		return 0;
	}
	if (old)
		unstage(st, op_bucket(st, id), old); /* a set_attempts the delete makes moot */
	stage(st, c);
	return 0;
}

int
store_set_attempts(struct store *st, int64_t id, unsigned attempts)
{
	struct change *c;

	if (id <= 0)
		return -EINVAL;
	c = find_op(st, id);
	if (c) {
		c->op.attempts = attempts;
		return 0;
	}
	c = change_new(CH_SET_ATTEMPTS, 0);
	if (!c)
		return -ENOMEM;
	c->op.id = id;
	c->op.attempts = attempts;
	index_add(op_bucket(st, id), c);
	stage(st, c);
	return 0;
}

int
store_bury_op(struct store *st, const struct store_op *op, int status, const char *response,
              const char *reason)
{
	struct change *c, *old;
	char *p;

	/* an id this store never handed out could later meet a real op's dead letter */
	if (!op_valid(op) || op->id <= 0 || op->id >= st->next_id || !reason)
		return -EINVAL;
	c = change_new(CH_BURY_OP, op_size(op) + str_size(response) + str_size(reason));
	if (!c)
		return -ENOMEM;
	p = c->buf;
	op_put(c, &p, op);
	c->response = str_put(&p, response);
	c->reason = str_put(&p, reason);
	c->status = status;
	c->died_ms = store_now_ms();
	/* a staged add or set_attempts of this op is superseded: the dead letter holds it all */
	old = find_op(st, op->id);
	if (old)
		unstage(st, op_bucket(st, op->id), old);
	stage(st, c);
	return 0;
}

int
store_add_call(struct store *st, const struct store_call *call)
{
	struct change *c, *old;
	char *p;

	if (!call || !call->call_key || !call->cc_name)
		return -EINVAL;
	c = change_new(CH_ADD_CALL, str_size(call->call_key) + str_size(call->cc_name));
	if (!c)
		return -ENOMEM;
	p = c->buf;
	c->call = *call;
	c->call.call_key = str_put(&p, call->call_key);
	c->call.cc_name = str_put(&p, call->cc_name);
	old = find_call(st, call->call_key);
	if (old) /* INSERT OR REPLACE supersedes it */
		unstage(st, call_bucket(st, call->call_key), old);
	index_add(call_bucket(st, call->call_key), c);
	stage(st, c);
	return 0;
}

int
store_set_call_accept(struct store *st, const char *call_key, int64_t accept_ms)
{
	struct change *c;
	char *p;

	if (!call_key)
		return -EINVAL;
	c = find_call(st, call_key);
	if (c) {
		c->call.accept_ms = accept_ms;
		return 0;
	}
	c = change_new(CH_SET_ACCEPT, str_size(call_key));
	if (!c)
		return -ENOMEM;
	p = c->buf;
	c->call.call_key = str_put(&p, call_key);
	c->call.accept_ms = accept_ms;
	index_add(call_bucket(st, call_key), c);
	stage(st, c);
	return 0;
}

int
store_del_call(struct store *st, const char *call_key)
{
	struct change *c, *old;
	char *p;

	if (!call_key)
		return -EINVAL;
	c = change_new(CH_DEL_CALL, str_size(call_key));
	if (!c)
		return -ENOMEM;
	p = c->buf;
	c->call.call_key = str_put(&p, call_key);
	/* a staged add or accept is moot; the DELETE stays, for a row an earlier batch wrote */
	old = find_call(st, call_key);
	if (old)
		unstage(st, call_bucket(st, call_key), old);
	stage(st, c);
	return 0;
}

int
store_set_alive(struct store *st, int64_t alive_ms)
{
	st->alive_ms = alive_ms; /* one row: the latest heartbeat replaces a staged one */
	st->alive_staged = 1;
	return 0;
}

size_t
store_staged(const struct store *st)
{
	return st->n_staged + (st->alive_staged ? 1 : 0);
}
