/*
 * The outbox's durable half (see outbox.h): operations are staged in the store as they are
 * submitted and written once per loop turn (group commit, one fsync); a heartbeat dates the
 * calls a crash cuts; on start, calls a previous process left up are closed and its backlog is
 * paged in a window at a time.
 */
#include "connector/outbox_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connector/config.h"
#include "connector/log.h"
#include "scv/body.h"

/* ---- the unsaved list ---------------------------------------------------------------- */

void
outbox_unsaved_add(struct outbox *ob, struct op *op)
{
	op->unsaved = 1;
	op->batch = ob->batch + 1; /* written by the next batch handed to the writer */
	op->unsaved_prev = NULL;
	op->unsaved_next = ob->unsaved;
	if (ob->unsaved)
		ob->unsaved->unsaved_prev = op;
	ob->unsaved = op;
}

void
outbox_unsaved_remove(struct outbox *ob, struct op *op)
{
	if (!op->unsaved)
		return;
	if (op->unsaved_prev)
		op->unsaved_prev->unsaved_next = op->unsaved_next;
	else
		ob->unsaved = op->unsaved_next;
	if (op->unsaved_next)
		op->unsaved_next->unsaved_prev = op->unsaved_prev;
	op->unsaved = 0;
	op->unsaved_prev = op->unsaved_next = NULL;
}

/* ---- backlog of a previous process --------------------------------------------------- */

void
outbox_load_backlog(struct outbox *ob)
{
	struct store_op *rows;
	size_t n = 0, want;

	if (!ob->store || !ob->backlog_more || ob->backlog_in_mem >= BACKLOG_WINDOW / 2)
		return;
	want = BACKLOG_WINDOW - ob->backlog_in_mem;
	rows = calloc(want, sizeof *rows);
	if (!rows)
		return;
	if (store_load_ops(ob->store, ob->backlog_last, want, rows, &n) < 0) {
		log_err(NULL, "outbox: cannot read the backlog from the store; trying later");
		free(rows);
		return;
	}
	if (n < want)
		ob->backlog_more = 0;
	for (size_t i = 0; i < n; i++) {
		struct store_op *r = &rows[i];
		struct callq *cq;
		struct op *op;
		size_t cc;
		int found;

		if (ob->first_live_id && r->id >= ob->first_live_id) {
			ob->backlog_more = 0; /* what follows is already in memory */
			store_op_clear(r);
			continue;
		}
		ob->backlog_last = r->id;
		cc = outbox_cc_index_by_name(ob, r->cc_name, &found);
		op = calloc(1, sizeof *op);
		cq = op && found ? outbox_callq_get(ob, r->call_key, cc) : NULL;
		if (!cq) {
			if (!found) {
				log_err(r->call_key,
				        "outbox: stored operation %lld is for contact center "
				        "\"%s\", "
				        "which the configuration no longer has: moved to the dead "
				        "letters",
				        (long long)r->id, r->cc_name);
				store_bury_op(ob->store, r, 0, NULL, "unknown contact center");
				outbox_kick_commit(ob);
			}
			free(op);
			store_op_clear(r);
			continue;
		}
		op->ob = ob;
		op->id = r->id;
		/* rows keep the kind numbers of scv_req_kind; only these three are stored */
		op->req = (struct scv_req){
		        .kind = r->kind == SCV_REQ_CREATE || r->kind == SCV_REQ_CLEAR_ROUTING
		                        ? (enum scv_req_kind)r->kind
		                        : SCV_REQ_UPDATE,
		        .method = r->method,
		        .path = r->path,
		        .body = r->body,
		};
		op->created_ms = r->created_ms;
		op->attempts = r->attempts;
		op->saved = 1;
		op->backlog = 1;
		r->method = r->path = r->body = NULL;
		store_op_clear(r);
		ob->backlog_in_mem++;
		outbox_callq_append(ob, cq, op);
	}
	free(rows);
}

/* ---- group commit -------------------------------------------------------------------- */

/*
 * What the loop thread stages during a turn is handed at the turn's end (uv_check) to the
 * store's writer thread as one batch; while its fsync runs, the next turns stage the next
 * batch. Batches are numbered (ob->batch); an op and an after_commit waiter remember the
 * batch that will carry them (the one after the last handed over), and are released when
 * that batch is on disk. So one fsync covers whatever arrived while the previous one ran,
 * and the loop never blocks on the disk.
 */

static void
on_idle(uv_idle_t *h)
{
	(void)h; /* only keeps this loop turn from blocking: on_check commits */
}

void
outbox_kick_commit(struct outbox *ob)
{
	/* with a batch in flight, the writer's callback starts the next one */
	if (ob->store && !ob->closing && !store_flush_busy(ob->store))
		uv_idle_start(&ob->idle, on_idle);
}

/* Runs the waiters of batches up to last (they may queue more: those wait for later ones). */
static void
run_waiters(struct outbox *ob, uint64_t last)
{
	struct outbox_waiter *w = ob->waiters;
	size_t n = 0;

	while (n < ob->n_waiters && w[n].batch <= last)
		n++;
	if (n == 0)
		return;
	if (n == ob->n_waiters) {
		ob->waiters = NULL;
		ob->n_waiters = ob->cap_waiters = 0;
	} else {
		struct outbox_waiter *rest = malloc((ob->n_waiters - n) * sizeof *rest);

		if (!rest) { /* run them all rather than lose any */
			n = ob->n_waiters;
			ob->waiters = NULL;
			ob->n_waiters = ob->cap_waiters = 0;
		} else {
			memcpy(rest, w + n, (ob->n_waiters - n) * sizeof *rest);
			ob->waiters = rest;
			ob->cap_waiters = ob->n_waiters = ob->n_waiters - n;
		}
	}
	for (size_t i = 0; i < n; i++)
		w[i].fn(w[i].arg, w[i].id);
	free(w);
}

void
outbox_after_commit(struct outbox *ob, void (*fn)(void *arg, uint64_t id), void *arg, uint64_t id)
{
	if (!ob->store) {
		fn(arg, id);
		return;
	}
	if (ob->n_waiters == ob->cap_waiters) {
		size_t cap = ob->cap_waiters ? ob->cap_waiters * 2 : 16;
		struct outbox_waiter *w = realloc(ob->waiters, cap * sizeof *w);
		if (!w) {
			fn(arg, id); /* never hold a call back for want of memory */
			return;
		}
		ob->waiters = w;
		ob->cap_waiters = cap;
	}
	ob->waiters[ob->n_waiters++] =
	        (struct outbox_waiter){.fn = fn, .arg = arg, .id = id, .batch = ob->batch + 1};
	outbox_kick_commit(ob);
}

/* Batch `last` is on disk: what it carried may leave. */
static void
batch_written(struct outbox *ob, uint64_t last)
{
	struct op *op, *next;

	ob->stats.commits++;
	if (ob->store_failing)
		log_info(NULL, "outbox: the store takes writes again; nothing is at risk now");
	ob->store_failing = 0;
	for (op = ob->unsaved; op; op = next) {
		next = op->unsaved_next;
		if (op->batch > last)
			continue;
		outbox_unsaved_remove(ob, op);
		op->saved = 1;
		outbox_maybe_ready(ob, op);
	}
	run_waiters(ob, last);
	outbox_dispatch(ob);
}

/* Batch `last` failed: it is back in staging; deliver from memory and retry later. */
static void
batch_failed(struct outbox *ob, uint64_t last, const char *err)
{
	size_t at_risk = 0;

	ob->stats.commit_failures++;
	for (struct op *op = ob->unsaved; op; op = op->unsaved_next)
		at_risk++;
	if (!ob->store_failing)
		log_err(NULL,
		        "outbox: cannot write the store (%s); %zu operation(s) are held in memory "
		        "only and still being delivered, but a crash now would lose them; retrying "
		        "the write every %d ms",
		        err, at_risk, STORE_RETRY_MS);
	ob->store_failing = 1;
	ob->store_retry_at_ms = uv_now(ob->loop) + STORE_RETRY_MS;
	/* held in memory: deliver them rather than hold them back */
	for (struct op *op = ob->unsaved; op; op = op->unsaved_next)
		outbox_maybe_ready(ob, op);
	run_waiters(ob, last); /* calls keep flowing while the store fails */
	outbox_dispatch(ob);
}

static void
writer_done(void *arg)
{
	uv_async_send(arg); /* the writer thread: only wake the loop */
}

void
outbox_commit(struct outbox *ob)
{
	char err[256];
	int r;

	if (!ob->store)
		return;
	uv_idle_stop(&ob->idle);
	if (store_flush_busy(ob->store))
		return; /* outbox_on_flushed() comes back here */
	if (store_staged(ob->store) == 0) {
		run_waiters(ob, ob->batch + 1); /* nothing of theirs left to write */
		return;
	}
	if (ob->store_failing && uv_now(ob->loop) < ob->store_retry_at_ms) {
		/* the heartbeat timer brings the next try; calls keep flowing meanwhile */
		run_waiters(ob, ob->batch + 1);
		return;
	}
	r = store_flush_begin(ob->store, writer_done, &ob->flushed);
	if (r > 0) {
		ob->batch++;
		return;
	}
	/* no writer thread: write on this thread (slower, still one fsync per turn) */
	ob->batch++;
	r = store_commit(ob->store, err, sizeof err);
	if (r == 0)
		batch_written(ob, ob->batch);
	else
		batch_failed(ob, ob->batch, err);
}

void
outbox_on_flushed(uv_async_t *h)
{
	struct outbox *ob = h->data;
	char err[256];
	int r;

	if (!ob->store || ob->closing)
		return;
	r = store_flush_finish(ob->store, err, sizeof err);
	if (r == -EAGAIN || r == -EALREADY)
		return; /* a late wake-up: the batch it was for is already finished */
	if (r == 0)
		batch_written(ob, ob->batch);
	else
		batch_failed(ob, ob->batch, err);
	if (store_staged(ob->store))
		outbox_kick_commit(ob); /* the next batch goes at the end of this turn */
}

void
outbox_on_check(uv_check_t *h)
{
	outbox_commit(h->data);
}

void
outbox_on_heartbeat(uv_timer_t *t)
{
	struct outbox *ob = t->data;

	store_set_alive(ob->store, outbox_now_real_ms());
	outbox_commit(ob);
}

/* Closes the VoiceCall of a call a previous process could no longer follow. */
static void
close_orphan(struct outbox *ob, const struct store_call *c, int64_t alive_ms)
{
	char start[32], end[32], accept[32];
	struct scv_update u = {0};
	struct store_op sop = {0};
	struct scv_req req;
	size_t cc;
	int found;

	cc = outbox_cc_index_by_name(ob, c->cc_name, &found);
	if (!found) {
		log_err(c->call_key,
		        "outbox: call left up for unknown contact center \"%s\"; "
		        "its VoiceCall cannot be closed",
		        c->cc_name);
		store_del_call(ob->store, c->call_key);
		return;
	}
	scv_iso8601(c->start_ms * 1000, start);
	scv_iso8601((alive_ms > c->start_ms ? alive_ms : c->start_ms) * 1000, end);
	u.start_time = start;
	u.end_time = end;
	if (c->accept_ms) {
		scv_iso8601(c->accept_ms * 1000, accept);
		u.accept_time = accept;
	}
	u.disconnect_value = SCV_DISCONNECT_TELECOM;
	u.disconnect_is_error = 1;
	if (scv_client_update_req(ob->ccs[cc].client, c->call_key, &u, &req) < 0) {
		log_err(c->call_key, "outbox: cannot build the update closing a call left by a "
		                     "crash (out of memory, or a malformed key)");
		return;
	}
	sop = (struct store_op){
	        .call_key = c->call_key,
	        .cc_name = ob->ccs[cc].cfg->name,
	        .kind = (int)req.kind,
	        .method = req.method,
	        .path = req.path,
	        .body = req.body,
	        .created_ms = outbox_now_real_ms(),
	};
	/* queued behind the backlog (it gets the next id), so it follows its create */
	if (store_add_op(ob->store, &sop) == 0 && store_del_call(ob->store, c->call_key) == 0)
		log_warn(c->call_key, "outbox: call was up when the previous process stopped; "
		                      "closing its VoiceCall (TELECOM_PROBLEM)");
	scv_req_clear(&req);
}

int
outbox_recover(struct outbox *ob, char *err, size_t errlen)
{
	struct store_call *calls = NULL;
	size_t n_calls = 0;
	int64_t alive = 0;
	int r;

	if (!ob->store)
		return 0;
	r = store_get_alive(ob->store, &alive);
	if (r == 0)
		r = store_load_calls(ob->store, &calls, &n_calls);
	if (r < 0) {
		snprintf(err, errlen, "store: cannot read what the previous process left: %s",
		         strerror(-r));
		return r;
	}
	if (alive == 0)
		alive = outbox_now_real_ms();
	for (size_t i = 0; i < n_calls; i++) {
		close_orphan(ob, &calls[i], alive);
		store_call_clear(&calls[i]);
	}
	free(calls);
	r = store_commit(ob->store, err, errlen);
	if (r < 0)
		return r;
	if (store_count_ops(ob->store, &ob->backlog_on_disk) == 0 && ob->backlog_on_disk)
		log_info(NULL,
		         "outbox: %llu operation(s) left by the previous process; sending them "
		         "(%d in memory at a time)",
		         (unsigned long long)ob->backlog_on_disk, BACKLOG_WINDOW);
	ob->backlog_more = 1;
	outbox_load_backlog(ob);
	outbox_dispatch(ob);
	return 0;
}

void
outbox_call_started(struct outbox *ob, size_t cc_index, const char *call_key, int64_t start_us)
{
	struct store_call c;

	if (!ob->store || cc_index >= ob->n_ccs)
		return;
	c = (struct store_call){
	        .call_key = (char *)call_key,
	        .cc_name = (char *)ob->ccs[cc_index].cfg->name,
	        .start_ms = start_us / 1000,
	};
	store_add_call(ob->store, &c);
	outbox_kick_commit(ob);
}

void
outbox_call_answered(struct outbox *ob, const char *call_key, int64_t accept_us)
{
	if (!ob->store)
		return;
	store_set_call_accept(ob->store, call_key, accept_us / 1000);
	outbox_kick_commit(ob);
}

void
outbox_call_ended(struct outbox *ob, const char *call_key)
{
	if (!ob->store)
		return;
	store_del_call(ob->store, call_key);
	outbox_kick_commit(ob);
}
