#include "connector/outbox_int.h"
#include "connector/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "connector/config.h"
#include "connector/log.h"
#include "connector/store.h"
#include "scv/classify.h"

/* ---- small helpers ------------------------------------------------------------------- */

int64_t
outbox_now_real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
rng_next(struct outbox *ob)
{
	/* xorshift64*: jitter only, not security */
	ob->rng ^= ob->rng >> 12;
	ob->rng ^= ob->rng << 25;
	ob->rng ^= ob->rng >> 27;
	return ob->rng * 2685821657736338717ull;
}

static void
op_free(struct op *op)
{
	scv_req_clear(&op->req);
	free(op);
}

struct store_op
outbox_store_view(const struct op *op)
{
	return (struct store_op){
	        .id = op->id,
	        .call_key = op->cq->key,
	        .cc_name = op->ob->ccs[op->cq->cc].cfg->name,
	        .kind = (int)op->req.kind,
	        .method = op->req.method,
	        .path = op->req.path,
	        .body = op->req.body,
	        .created_ms = op->created_ms,
	        .attempts = op->attempts,
	};
}

size_t
outbox_cc_index_by_name(const struct outbox *ob, const char *name, int *found)
{
	for (size_t i = 0; i < ob->n_ccs; i++) {
		if (strcmp(ob->ccs[i].cfg->name, name) == 0) {
			*found = 1;
			return i;
		}
	}
	*found = 0;
	return 0;
}

/* Full jitter: a random delay in [0, min(cap, base * 2^(n-1))], at least RETRY_MIN_MS. */
static uint64_t
backoff_ms(struct outbox *ob, unsigned n, int retry_after_s)
{
	uint64_t ceiling = RETRY_BASE_MS, delay;

	for (unsigned i = 1; i < n && ceiling < RETRY_CAP_MS; i++)
		ceiling *= 2;
	if (ceiling > RETRY_CAP_MS)
		ceiling = RETRY_CAP_MS;
	delay = rng_next(ob) % (ceiling + 1);
	if (delay < RETRY_MIN_MS)
		delay = RETRY_MIN_MS;
	if (retry_after_s >= 0 && (uint64_t)retry_after_s * 1000 > delay)
		delay = (uint64_t)retry_after_s * 1000;
	return delay;
}

/* ---- ready queues -------------------------------------------------------------------- */

static struct fifo *
fifo_of(struct outbox *ob, struct op *op)
{
	struct cc_state *cc = &ob->ccs[op->cq->cc];

	return op->req.kind == SCV_REQ_CREATE ? &cc->creates : &cc->others;
}

static void
fifo_push(struct fifo *f, struct op *op, int front)
{
	op->ready = 1;
	op->ready_next = NULL;
	if (!f->head) {
		f->head = f->tail = op;
	} else if (front) {
		op->ready_next = f->head;
		f->head = op;
	} else {
		f->tail->ready_next = op;
		f->tail = op;
	}
	f->n++;
}

static struct op *
fifo_pop(struct fifo *f)
{
	struct op *op = f->head;

	if (!op)
		return NULL;
	f->head = op->ready_next;
	if (!f->head)
		f->tail = NULL;
	f->n--;
	op->ready = 0;
	op->ready_next = NULL;
	return op;
}

/* An operation may leave once it heads its call and is on disk (or the disk is failing). */
void
outbox_maybe_ready(struct outbox *ob, struct op *op)
{
	if (op->cq->head != op || op->ready || op->in_flight)
		return;
	if (ob->store && !op->saved && !ob->store_failing)
		return;
	fifo_push(fifo_of(ob, op), op, 0);
}

/* ---- call queues --------------------------------------------------------------------- */

struct callq *
outbox_callq_get(struct outbox *ob, const char *key, size_t cc)
{
	struct callq **b = &ob->buckets[util_hash_str(key) % CALLQ_BUCKETS];
	struct callq *cq;

	for (cq = *b; cq; cq = cq->hnext)
		if (strcmp(cq->key, key) == 0)
			return cq;
	cq = calloc(1, sizeof *cq);
	if (!cq)
		return NULL;
	cq->key = strdup(key);
	if (!cq->key) {
		free(cq);
		return NULL;
	}
	cq->cc = cc;
	cq->hnext = *b;
	*b = cq;
	return cq;
}

static void
callq_remove(struct outbox *ob, struct callq *cq)
{
	for (struct callq **p = &ob->buckets[util_hash_str(cq->key) % CALLQ_BUCKETS]; *p;
	     p = &(*p)->hnext) {
		if (*p == cq) {
			*p = cq->hnext;
			break;
		}
	}
	free(cq->key);
	free(cq);
}

void
outbox_callq_append(struct outbox *ob, struct callq *cq, struct op *op)
{
	op->cq = cq;
	op->next_in_call = NULL;
	if (cq->tail) {
		cq->tail->next_in_call = op; /* waits for the ones before it */
		cq->tail = op;
	} else {
		cq->head = cq->tail = op;
	}
	ob->pending++;
	outbox_maybe_ready(ob, op);
}

/* ---- results ------------------------------------------------------------------------- */

/* The head of its call's queue has left for good: the next one may go. */
static void
op_finished(struct outbox *ob, struct op *op, int accepted, const struct scv_http_resp *resp)
{
	struct callq *cq = op->cq;
	struct outbox_result res = {
	        .call_key = cq->key,
	        .kind = op->req.kind,
	        .accepted = accepted,
	        .status = resp ? resp->status : 0,
	        .body = resp ? resp->body : NULL,
	        .body_len = resp ? resp->body_len : 0,
	        .attempts = op->attempts,
	};

	if (accepted)
		ob->stats.accepted++;
	if (ob->store && accepted) {
		store_del_op(ob->store, op->id);
		outbox_kick_commit(ob);
	}
	if (ob->cb)
		ob->cb(&res, ob->cb_arg);
	outbox_unsaved_remove(ob, op);
	cq->head = op->next_in_call;
	if (!cq->head)
		cq->tail = NULL;
	if (op->backlog)
		ob->backlog_in_mem--;
	op_free(op);
	ob->pending--;
	if (cq->head)
		outbox_maybe_ready(ob, cq->head);
	else
		callq_remove(ob, cq);
	outbox_load_backlog(ob);
	if (ob->pending == 0 && !ob->backlog_more && ob->empty_cb) {
		void (*cb)(void *) = ob->empty_cb;
		ob->empty_cb = NULL;
		cb(ob->empty_arg);
	}
}

/* Refused for good or too old: into the dead letters (never dropped silently). */
static void
op_bury(struct outbox *ob, struct op *op, const struct scv_http_resp *resp, const char *reason)
{
	if (ob->store) {
		struct store_op view = outbox_store_view(op);
		store_bury_op(ob->store, &view, resp ? resp->status : 0,
		              resp && resp->body ? resp->body : NULL, reason);
		outbox_kick_commit(ob);
	}
	if (strcmp(reason, "expired") == 0)
		ob->stats.expired++;
	else
		ob->stats.refused++;
	op_finished(ob, op, 0, resp);
}

static int
expired(const struct outbox *ob, const struct op *op, int64_t now_ms)
{
	return now_ms - op->created_ms > (int64_t)ob->cfg->store_max_age_s * 1000;
}

static void
circuit_fail(struct outbox *ob, struct cc_state *cc, int retry_after_s, const char *what)
{
	uint64_t delay;

	cc->failures++;
	delay = backoff_ms(ob, cc->failures, retry_after_s);
	cc->probe_due_ms = uv_now(ob->loop) + delay;
	cc->probe_in_flight = 0;
	if (!cc->open) {
		cc->open = 1;
		log_warn(NULL,
		         "outbox: Salesforce of %s is failing (%s); holding its queue and probing "
		         "with one request per backoff interval",
		         cc->cfg->name, what);
	}
	log_debug(NULL, "outbox: %s: failure %u, next probe in %llu ms", cc->cfg->name,
	          cc->failures, (unsigned long long)delay);
}

static void
circuit_ok(struct outbox *ob, struct cc_state *cc)
{
	(void)ob;
	if (cc->open)
		log_info(NULL, "outbox: Salesforce of %s answers again after %u failure(s)",
		         cc->cfg->name, cc->failures);
	cc->open = 0;
	cc->failures = 0;
	cc->probe_in_flight = 0;
}

static void
on_response(const struct scv_http_resp *resp, void *arg)
{
	struct op *op = arg;
	struct outbox *ob = op->ob;
	struct cc_state *cc = &ob->ccs[op->cq->cc];
	const char *key = op->cq->key;
	enum scv_verdict v = scv_classify(resp);
	int was_probe = op->probe;
	char what[96];

	op->in_flight = 0;
	op->probe = 0;
	cc->in_flight--;
	ob->stats.in_flight--;
	if (resp->error == -ECANCELED) {
		/* the client is closing: the operation stays pending (and in the store) */
		fifo_push(fifo_of(ob, op), op, 1);
		if (was_probe)
			cc->probe_in_flight = 0;
		return;
	}
	op->attempts++;
	if (ob->store)
		store_set_attempts(ob->store, op->id, op->attempts);

	switch (v) {
	case SCV_DONE:
		circuit_ok(ob, cc);
		log_debug(key, "outbox: %s accepted (%d) after %u attempt(s)",
		          scv_req_kind_name(op->req.kind), resp->status, op->attempts);
		op_finished(ob, op, 1, resp);
		break;
	case SCV_PERMANENT:
		circuit_ok(ob, cc); /* an answer, even a refusal, proves Salesforce is there */
		log_err(key,
		        "outbox: %s %s refused for good by %s: HTTP %d %.*s; in the dead letters",
		        op->req.method, op->req.path, cc->cfg->name, resp->status,
		        (int)(resp->body_len > 300 ? 300 : resp->body_len),
		        resp->body ? resp->body : "");
		op_bury(ob, op, resp, "refused");
		break;
	case SCV_AUTH:
		log_err(key,
		        "outbox: contact center %s answered HTTP %d: check its key, certificate, "
		        "org id, API name and the clock; holding its queue for %d s",
		        cc->cfg->name, resp->status, AUTH_PAUSE_MS / 1000);
		cc->paused_until_ms = uv_now(ob->loop) + AUTH_PAUSE_MS;
		if (was_probe)
			cc->probe_in_flight = 0;
		ob->stats.retries++;
		fifo_push(fifo_of(ob, op), op, 1);
		break;
	case SCV_RETRY:
	default:
		if (expired(ob, op, outbox_now_real_ms())) {
			log_err(key,
			        "outbox: %s older than %u s, never accepted: in the dead letters",
			        scv_req_kind_name(op->req.kind), ob->cfg->store_max_age_s);
			op_bury(ob, op, resp, "expired");
			break;
		}
		ob->stats.retries++;
		if (resp->status)
			snprintf(what, sizeof what, "HTTP %d", resp->status);
		else
			snprintf(what, sizeof what, "%s",
			         resp->detail ? resp->detail : strerror(-resp->error));
		log_warn(key, "outbox: %s to %s failed (%s)%s, attempt %u",
		         scv_req_kind_name(op->req.kind), cc->cfg->name, what,
		         resp->maybe_sent ? ", may have arrived" : "", op->attempts);
		/* back in front of its queue: its call's order and the queue's order are kept */
		fifo_push(fifo_of(ob, op), op, 1);
		/* a probe's failure, or the first failure: (re)arm the circuit */
		if (was_probe || !cc->open)
			circuit_fail(ob, cc, resp->retry_after_s, what);
		else if (resp->retry_after_s >= 0 &&
		         uv_now(ob->loop) + (uint64_t)resp->retry_after_s * 1000 > cc->probe_due_ms)
			cc->probe_due_ms = uv_now(ob->loop) + (uint64_t)resp->retry_after_s * 1000;
		break;
	}
	outbox_dispatch(ob);
}

/* ---- sending ------------------------------------------------------------------------- */

static int
send_op(struct outbox *ob, struct cc_state *cc, struct op *op)
{
	int r = ob->send(cc->client, &op->req, on_response, op);

	if (r < 0)
		return r;
	op->in_flight = 1;
	cc->in_flight++;
	ob->stats.in_flight++;
	return 0;
}

static int
take_token(struct cc_state *cc, uint64_t now)
{
	double rate = cc->cfg->max_creates_per_s ? cc->cfg->max_creates_per_s : 40;

	cc->tokens += (double)(now - cc->tokens_at_ms) * rate / 1000.0;
	cc->tokens_at_ms = now;
	if (cc->tokens > rate)
		cc->tokens = rate;
	if (cc->tokens < 1.0)
		return 0;
	cc->tokens -= 1.0;
	return 1;
}

/* The next ready operation of a center: updates first, creates when the rate allows. */
static struct op *
next_op(struct outbox *ob, struct cc_state *cc, uint64_t now)
{
	struct op *op;
	int64_t real = outbox_now_real_ms();

	for (;;) {
		if (cc->others.head)
			op = fifo_pop(&cc->others);
		else if (cc->creates.head && take_token(cc, now))
			op = fifo_pop(&cc->creates);
		else
			return NULL;
		if (!expired(ob, op, real))
			return op;
		log_err(op->cq->key,
		        "outbox: %s older than %u s, never accepted: in the dead letters",
		        scv_req_kind_name(op->req.kind), ob->cfg->store_max_age_s);
		op_bury(ob, op, NULL, "expired");
	}
}

static void
send_or_requeue(struct outbox *ob, struct cc_state *cc, struct op *op)
{
	int r = send_op(ob, cc, op);

	if (r < 0) {
		log_err(op->cq->key, "outbox: cannot send %s to %s: %s",
		        scv_req_kind_name(op->req.kind), cc->cfg->name, strerror(-r));
		fifo_push(fifo_of(ob, op), op, 1);
		circuit_fail(ob, cc, -1, strerror(-r));
	}
}

static void
on_timer(uv_timer_t *t)
{
	outbox_dispatch(t->data);
}

static void
rearm(struct outbox *ob)
{
	uint64_t now = uv_now(ob->loop), next = UINT64_MAX;

	for (size_t i = 0; i < ob->n_ccs; i++) {
		struct cc_state *cc = &ob->ccs[i];
		uint64_t t = UINT64_MAX;

		if (!cc->creates.head && !cc->others.head)
			continue;
		if (cc->paused_until_ms > now)
			t = cc->paused_until_ms;
		else if (cc->open && !cc->probe_in_flight)
			t = cc->probe_due_ms;
		else if (!cc->open && !cc->others.head && cc->in_flight < MAX_IN_FLIGHT_PER_CC) {
			double rate = cc->cfg->max_creates_per_s ? cc->cfg->max_creates_per_s : 40;
			t = now + (uint64_t)((1.0 - cc->tokens) * 1000.0 / rate) + 1;
		}
		if (t < next)
			next = t;
	}
	if (next == UINT64_MAX)
		uv_timer_stop(&ob->timer);
	else
		uv_timer_start(&ob->timer, on_timer, next > now ? next - now : 0, 0);
}

void
outbox_dispatch(struct outbox *ob)
{
	uint64_t now;

	if (ob->closing)
		return;
	uv_update_time(ob->loop);
	now = uv_now(ob->loop);
	for (size_t i = 0; i < ob->n_ccs; i++) {
		struct cc_state *cc = &ob->ccs[i];
		struct op *op;

		if (cc->paused_until_ms > now)
			continue;
		if (cc->open) {
			/* one probe per backoff interval; the rest waits for its answer */
			if (cc->probe_in_flight || now < cc->probe_due_ms)
				continue;
			op = next_op(ob, cc, now);
			if (!op)
				continue;
			op->probe = 1;
			cc->probe_in_flight = 1;
			ob->stats.probes++;
			send_or_requeue(ob, cc, op);
			continue;
		}
		while (!cc->open && cc->in_flight < MAX_IN_FLIGHT_PER_CC &&
		       (op = next_op(ob, cc, now)) != NULL)
			send_or_requeue(ob, cc, op);
	}
	rearm(ob);
}

/* ---- public API ---------------------------------------------------------------------- */

int
outbox_new(uv_loop_t *loop, const struct cfg *cfg, struct scv_client *const *clients,
           outbox_send_fn send, struct store *store, outbox_result_cb cb, void *arg,
           struct outbox **ret_outbox)
{
	struct outbox *ob;

	ob = calloc(1, sizeof *ob);
	if (!ob)
		return -ENOMEM;
	ob->ccs = calloc(cfg->n_ccs, sizeof *ob->ccs);
	if (!ob->ccs) {
		free(ob);
		return -ENOMEM;
	}
	ob->loop = loop;
	ob->send = send;
	ob->store = store;
	ob->cfg = cfg;
	ob->cb = cb;
	ob->cb_arg = arg;
	if (getrandom(&ob->rng, sizeof ob->rng, 0) != sizeof ob->rng || ob->rng == 0)
		ob->rng = (uint64_t)time(NULL) | 1;
	for (size_t i = 0; i < cfg->n_ccs; i++) {
		const struct cfg_contact_center *c = &cfg->ccs[i];
		struct cc_state *cc = &ob->ccs[i];

		cc->cfg = c;
		cc->client = clients[i];
		cc->tokens = c->max_creates_per_s ? c->max_creates_per_s : 40;
		cc->tokens_at_ms = uv_now(loop);
	}
	ob->n_ccs = cfg->n_ccs;
	uv_timer_init(loop, &ob->timer);
	ob->timer.data = ob;
	uv_timer_init(loop, &ob->heartbeat);
	ob->heartbeat.data = ob;
	uv_check_init(loop, &ob->check);
	ob->check.data = ob;
	uv_idle_init(loop, &ob->idle);
	ob->idle.data = ob;
	uv_async_init(loop, &ob->flushed, outbox_on_flushed);
	ob->flushed.data = ob;
	if (store) {
		uv_check_start(&ob->check, outbox_on_check);
		uv_timer_start(&ob->heartbeat, outbox_on_heartbeat, 0, HEARTBEAT_MS);
	}
	*ret_outbox = ob;
	return 0;
}

int
outbox_submit(struct outbox *ob, size_t cc_index, const char *call_key, struct scv_req *req)
{
	enum scv_req_kind kind = req->kind;
	struct callq *cq;
	struct op *op;

	if (cc_index >= ob->n_ccs || !req->method || !req->path) {
		log_err(call_key, "outbox: %s for no known contact center, or unbuilt; dropped",
		        scv_req_kind_name(kind));
		scv_req_clear(req);
		return -EINVAL;
	}
	op = calloc(1, sizeof *op);
	if (!op)
		goto out_oom;
	op->ob = ob;
	op->req = *req;
	*req = (struct scv_req){0};
	op->created_ms = outbox_now_real_ms();
	cq = outbox_callq_get(ob, call_key, cc_index);
	if (!cq)
		goto out_oom;
	op->cq = cq;
	if (ob->store) {
		struct store_op view = outbox_store_view(op);
		if (store_add_op(ob->store, &view) == 0) {
			op->id = view.id;
			if (!ob->first_live_id)
				ob->first_live_id = op->id;
			outbox_unsaved_add(ob, op);
		} else {
			log_err(call_key,
			        "outbox: cannot stage the %s for the store; it is held in "
			        "memory only",
			        scv_req_kind_name(kind));
			op->saved = 0;
		}
		outbox_kick_commit(ob);
	}
	ob->stats.submitted++;
	outbox_callq_append(ob, cq, op);
	outbox_dispatch(ob);
	return 0;

out_oom:
	log_err(call_key, "outbox: out of memory; %s operation lost", scv_req_kind_name(kind));
	if (op)
		op_free(op);
	scv_req_clear(req);
	return -ENOMEM;
}

size_t
outbox_pending(const struct outbox *ob)
{
	size_t on_disk = ob->backlog_more && ob->backlog_on_disk > ob->backlog_in_mem
	                         ? (size_t)(ob->backlog_on_disk - ob->backlog_in_mem)
	                         : 0;
	return ob->pending + on_disk;
}

int
outbox_store_ok(const struct outbox *ob)
{
	return !ob->store_failing;
}

void
outbox_when_empty(struct outbox *ob, void (*cb)(void *arg), void *arg)
{
	if (ob->pending == 0 && !ob->backlog_more) {
		cb(arg);
		return;
	}
	ob->empty_cb = cb;
	ob->empty_arg = arg;
}

void
outbox_get_stats(const struct outbox *ob, struct outbox_stats *ret_stats)
{
	*ret_stats = ob->stats;
}

static void
on_closed(uv_handle_t *h)
{
	struct outbox *ob = h->data;

	/* the last of its handles to close frees the struct */
	if (--ob->open_handles == 0) {
		free(ob->waiters);
		free(ob->ccs);
		free(ob);
	}
}

void
outbox_free(struct outbox *ob)
{
	char err[256];
	size_t left = 0;

	if (!ob)
		return;
	ob->closing = 1;
	if (ob->store && store_staged(ob->store) && store_commit(ob->store, err, sizeof err) < 0)
		log_err(NULL, "outbox: final write of the store failed: %s", err);
	for (size_t i = 0; i < CALLQ_BUCKETS; i++) {
		while (ob->buckets[i]) {
			struct callq *cq = ob->buckets[i];
			while (cq->head) {
				struct op *op = cq->head;
				cq->head = op->next_in_call;
				if (!ob->store || (op->unsaved && ob->store_failing))
					log_err(cq->key, "outbox: lost %s %s (not on disk)",
					        op->req.method, op->req.path);
				left++;
				op_free(op);
			}
			ob->buckets[i] = cq->hnext;
			free(cq->key);
			free(cq);
		}
	}
	if (left && ob->store)
		log_info(NULL, "outbox: %zu operation(s) stay in the store for the next start",
		         left);
	ob->open_handles = 5;
	uv_close((uv_handle_t *)&ob->flushed, on_closed);
	uv_close((uv_handle_t *)&ob->timer, on_closed);
	uv_close((uv_handle_t *)&ob->heartbeat, on_closed);
	uv_close((uv_handle_t *)&ob->check, on_closed);
	uv_close((uv_handle_t *)&ob->idle, on_closed);
}
