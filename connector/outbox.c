#include "connector/outbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "connector/config.h"
#include "connector/log.h"
#include "scv/classify.h"
#include "scv/http.h"
#include "scv/jwt.h"

/* Retry policy (reference/reliability.md §1.4): full jitter, base 1 s, cap 5 min. */
#define RETRY_BASE_MS 1000
#define RETRY_CAP_MS  (300 * 1000)
#define RETRY_MIN_MS  100
/* 401/403: the key or the clock is wrong, not the record: hold the whole center this long. */
#define AUTH_PAUSE_MS (30 * 1000)
/* Requests in flight per contact center; the rest wait in its ready queue. */
#define MAX_IN_FLIGHT_PER_CC 32
#define CALLQ_BUCKETS        4096

struct callq;

struct op {
	struct outbox *ob;
	struct callq *cq;
	struct op *next_in_call; /* per-call FIFO */
	struct op *ready_next;   /* the center's ready FIFO */
	uint64_t seq;
	enum outbox_kind kind;
	char *method;
	char *path;
	char *body;
	size_t body_len;
	unsigned attempts;
	uint64_t due_ms; /* loop time when it may leave (delayed heap) */
	int in_flight;
};

/* The operations of one call, oldest first; only the head may be in flight. */
struct callq {
	char *key;
	size_t cc;
	struct op *head, *tail;
	struct callq *hnext;
};

struct cc_state {
	const struct cfg_contact_center *cfg;
	struct scv_signer *signer;
	int target;
	unsigned in_flight;
	uint64_t paused_until_ms;
	struct op *ready_head, *ready_tail;
};

struct outbox {
	uv_loop_t *loop;
	uv_timer_t timer;
	struct scv_http *http;
	outbox_result_cb cb;
	void *cb_arg;
	struct cc_state *ccs;
	size_t n_ccs;
	struct callq *buckets[CALLQ_BUCKETS];
	/* operations waiting for a retry time: binary min-heap on due_ms */
	struct op **heap;
	size_t heap_len, heap_cap;
	size_t pending;
	uint64_t next_seq;
	struct outbox_stats stats;
	void (*empty_cb)(void *arg);
	void *empty_arg;
	uint64_t rng;
};

/* ---- small helpers ------------------------------------------------------------------- */

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
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
	free(op->method);
	free(op->path);
	free(op->body);
	free(op);
}

/* ---- delayed heap -------------------------------------------------------------------- */

static void
heap_swap(struct op **h, size_t a, size_t b)
{
	struct op *t = h[a];
	h[a] = h[b];
	h[b] = t;
}

static int
heap_push(struct outbox *ob, struct op *op)
{
	size_t i;

	if (ob->heap_len == ob->heap_cap) {
		size_t cap = ob->heap_cap ? ob->heap_cap * 2 : 64;
		struct op **h = realloc(ob->heap, cap * sizeof *h);
		if (!h)
			return -ENOMEM;
		ob->heap = h;
		ob->heap_cap = cap;
	}
	i = ob->heap_len++;
	ob->heap[i] = op;
	while (i > 0 && ob->heap[(i - 1) / 2]->due_ms > ob->heap[i]->due_ms) {
		heap_swap(ob->heap, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	return 0;
}

static struct op *
heap_pop(struct outbox *ob)
{
	struct op *top = ob->heap[0];
	size_t i = 0;

	ob->heap[0] = ob->heap[--ob->heap_len];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < ob->heap_len && ob->heap[l]->due_ms < ob->heap[m]->due_ms)
			m = l;
		if (r < ob->heap_len && ob->heap[r]->due_ms < ob->heap[m]->due_ms)
			m = r;
		if (m == i)
			break;
		heap_swap(ob->heap, i, m);
		i = m;
	}
	return top;
}

/* ---- scheduling ---------------------------------------------------------------------- */

static void dispatch(struct outbox *ob);

static void
ready_push(struct outbox *ob, struct op *op)
{
	struct cc_state *cc = &ob->ccs[op->cq->cc];

	op->ready_next = NULL;
	if (cc->ready_tail)
		cc->ready_tail->ready_next = op;
	else
		cc->ready_head = op;
	cc->ready_tail = op;
}

/* Makes op leave no earlier than due_ms. */
static void
schedule(struct outbox *ob, struct op *op, uint64_t due_ms)
{
	op->due_ms = due_ms;
	if (due_ms <= uv_now(ob->loop)) {
		ready_push(ob, op);
		return;
	}
	if (heap_push(ob, op) < 0) {
		/* cannot delay it: send it now rather than lose it */
		log_err(op->cq->key, "outbox: out of memory delaying a retry; sending it now");
		ready_push(ob, op);
	}
}

static void
on_timer(uv_timer_t *t)
{
	struct outbox *ob = t->data;
	uint64_t now = uv_now(ob->loop);

	while (ob->heap_len && ob->heap[0]->due_ms <= now)
		ready_push(ob, heap_pop(ob));
	dispatch(ob);
}

static void
rearm(struct outbox *ob)
{
	uint64_t now = uv_now(ob->loop), next = UINT64_MAX;

	if (ob->heap_len)
		next = ob->heap[0]->due_ms;
	for (size_t i = 0; i < ob->n_ccs; i++)
		if (ob->ccs[i].ready_head && ob->ccs[i].paused_until_ms > now &&
		    ob->ccs[i].paused_until_ms < next)
			next = ob->ccs[i].paused_until_ms;
	if (next == UINT64_MAX)
		uv_timer_stop(&ob->timer);
	else
		uv_timer_start(&ob->timer, on_timer, next > now ? next - now : 0, 0);
}

/* ---- results ------------------------------------------------------------------------- */

static void
callq_remove(struct outbox *ob, struct callq *cq)
{
	for (struct callq **p = &ob->buckets[hash_str(cq->key) % CALLQ_BUCKETS]; *p;
	     p = &(*p)->hnext) {
		if (*p == cq) {
			*p = cq->hnext;
			break;
		}
	}
	free(cq->key);
	free(cq);
}

/* The head of its call's queue has left for good: the next one may go. */
static void
op_finished(struct outbox *ob, struct op *op, int accepted, const struct scv_http_resp *resp)
{
	struct callq *cq = op->cq;
	struct outbox_result res = {
	        .call_key = cq->key,
	        .kind = op->kind,
	        .accepted = accepted,
	        .status = resp ? resp->status : 0,
	        .body = resp ? resp->body : NULL,
	        .body_len = resp ? resp->body_len : 0,
	        .attempts = op->attempts,
	};

	if (accepted)
		ob->stats.accepted++;
	else
		ob->stats.refused++;
	if (ob->cb)
		ob->cb(&res, ob->cb_arg);
	cq->head = op->next_in_call;
	if (!cq->head)
		cq->tail = NULL;
	op_free(op);
	ob->pending--;
	if (cq->head)
		schedule(ob, cq->head, uv_now(ob->loop));
	else
		callq_remove(ob, cq);
	if (ob->pending == 0 && ob->empty_cb) {
		void (*cb)(void *) = ob->empty_cb;
		ob->empty_cb = NULL;
		cb(ob->empty_arg);
	}
}

static uint64_t
backoff_ms(struct outbox *ob, unsigned attempts, int retry_after_s)
{
	uint64_t ceiling = RETRY_BASE_MS, delay;

	for (unsigned i = 1; i < attempts && ceiling < RETRY_CAP_MS; i++)
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

static const char *
kind_name(enum outbox_kind k)
{
	return k == OUTBOX_CREATE ? "create" : "update";
}

static void
on_response(const struct scv_http_resp *resp, void *arg)
{
	struct op *op = arg;
	struct outbox *ob = op->ob;
	struct cc_state *cc = &ob->ccs[op->cq->cc];
	const char *key = op->cq->key;
	enum scv_verdict v = scv_classify(resp);
	uint64_t now = uv_now(ob->loop), delay;

	op->in_flight = 0;
	cc->in_flight--;
	ob->stats.in_flight--;
	op->attempts++;

	switch (v) {
	case SCV_DONE:
		log_debug(key, "outbox: %s accepted (%d) after %u attempt(s)", kind_name(op->kind),
		          resp->status, op->attempts);
		op_finished(ob, op, 1, resp);
		break;
	case SCV_PERMANENT:
		log_err(key, "outbox: %s %s refused for good by %s: HTTP %d %.*s", op->method,
		        op->path, cc->cfg->name, resp->status,
		        (int)(resp->body_len > 300 ? 300 : resp->body_len),
		        resp->body ? resp->body : "");
		op_finished(ob, op, 0, resp);
		break;
	case SCV_AUTH:
		log_err(key,
		        "outbox: contact center %s answered HTTP %d: check its key, certificate, "
		        "org id, API name and the clock; holding its queue for %d s",
		        cc->cfg->name, resp->status, AUTH_PAUSE_MS / 1000);
		cc->paused_until_ms = now + AUTH_PAUSE_MS;
		ob->stats.retries++;
		schedule(ob, op, cc->paused_until_ms);
		break;
	case SCV_RETRY:
	default:
		if (resp->error == -ECANCELED) {
			/* the client is closing: keep it pending (reported at outbox_free), and
			 * send nothing more through it */
			op->attempts--;
			schedule(ob, op, now);
			return;
		}
		delay = backoff_ms(ob, op->attempts, resp->retry_after_s);
		ob->stats.retries++;
		log_warn(key, "outbox: %s to %s failed (%s%d%s), attempt %u; retry in %llu ms",
		         kind_name(op->kind), cc->cfg->name, resp->status ? "HTTP " : "error ",
		         resp->status ? resp->status : resp->error,
		         resp->maybe_sent ? ", may have arrived" : "", op->attempts,
		         (unsigned long long)delay);
		schedule(ob, op, now + delay);
		break;
	}
	dispatch(ob);
}

static int
send_op(struct outbox *ob, struct cc_state *cc, struct op *op)
{
	char auth[4096];
	const char *token;
	struct scv_http_req req;
	int r;

	r = scv_signer_token(cc->signer, (int64_t)time(NULL), &token);
	if (r < 0)
		return r;
	if ((size_t)snprintf(auth, sizeof auth, "Bearer %s", token) >= sizeof auth)
		return -ENAMETOOLONG;
	req = (struct scv_http_req){
	        .target = cc->target,
	        .method = op->method,
	        .path = op->path,
	        .authorization = auth,
	        .provider_name = cc->cfg->provider_name,
	        .body = op->body,
	        .body_len = op->body_len,
	        .timeout_ms = cc->cfg->request_timeout_ms,
	};
	r = scv_http_send(ob->http, &req, on_response, op);
	if (r < 0)
		return r;
	op->in_flight = 1;
	cc->in_flight++;
	ob->stats.in_flight++;
	return 0;
}

static void
dispatch(struct outbox *ob)
{
	uint64_t now = uv_now(ob->loop);

	for (size_t i = 0; i < ob->n_ccs; i++) {
		struct cc_state *cc = &ob->ccs[i];

		if (cc->paused_until_ms > now)
			continue;
		while (cc->ready_head && cc->in_flight < MAX_IN_FLIGHT_PER_CC) {
			struct op *op = cc->ready_head;
			int r;

			cc->ready_head = op->ready_next;
			if (!cc->ready_head)
				cc->ready_tail = NULL;
			r = send_op(ob, cc, op);
			if (r < 0) {
				log_err(op->cq->key, "outbox: cannot send %s to %s: %s; retrying",
				        kind_name(op->kind), cc->cfg->name, strerror(-r));
				op->attempts++;
				schedule(ob, op, now + backoff_ms(ob, op->attempts, -1));
			}
		}
	}
	rearm(ob);
}

/* ---- public API ---------------------------------------------------------------------- */

int
outbox_new(uv_loop_t *loop, const struct cfg *cfg, struct scv_http *http, outbox_result_cb cb,
           void *arg, struct outbox **ret_outbox, char *err, size_t errlen)
{
	struct outbox *ob;
	int r;

	ob = calloc(1, sizeof *ob);
	if (!ob)
		return -ENOMEM;
	ob->ccs = calloc(cfg->n_ccs, sizeof *ob->ccs);
	if (!ob->ccs) {
		free(ob);
		return -ENOMEM;
	}
	ob->loop = loop;
	ob->http = http;
	ob->cb = cb;
	ob->cb_arg = arg;
	ob->next_seq = 1;
	if (getrandom(&ob->rng, sizeof ob->rng, 0) != sizeof ob->rng || ob->rng == 0)
		ob->rng = (uint64_t)time(NULL) | 1;
	for (size_t i = 0; i < cfg->n_ccs; i++) {
		const struct cfg_contact_center *c = &cfg->ccs[i];
		struct cc_state *cc = &ob->ccs[i];
		char why[256];

		cc->cfg = c;
		r = scv_signer_new(c->private_key_file, c->org_id, c->call_center_api_name,
		                   c->jwt_mode == CFG_JWT_PER_REQUEST, &cc->signer, why,
		                   sizeof why);
		if (r < 0) {
			snprintf(err, errlen, "contact center %s: %s", c->name, why);
			goto out_free;
		}
		r = scv_http_target_add(http, c->base_url, c->ca_file, &cc->target, why,
		                        sizeof why);
		if (r < 0) {
			snprintf(err, errlen, "contact center %s: %s", c->name, why);
			goto out_free;
		}
		ob->n_ccs++;
	}
	uv_timer_init(loop, &ob->timer);
	ob->timer.data = ob;
	*ret_outbox = ob;
	return 0;

out_free:
	for (size_t i = 0; i < cfg->n_ccs; i++)
		scv_signer_free(ob->ccs[i].signer);
	free(ob->ccs);
	free(ob);
	return r;
}

static struct callq *
callq_get(struct outbox *ob, const char *key, size_t cc)
{
	struct callq **b = &ob->buckets[hash_str(key) % CALLQ_BUCKETS];
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

int
outbox_submit(struct outbox *ob, size_t cc_index, const char *call_key, enum outbox_kind kind,
              const char *method, const char *path, char *body)
{
	struct callq *cq;
	struct op *op;

	if (cc_index >= ob->n_ccs) {
		free(body);
		return -EINVAL;
	}
	op = calloc(1, sizeof *op);
	if (!op)
		goto out_oom;
	op->ob = ob;
	op->kind = kind;
	op->method = strdup(method);
	op->path = strdup(path);
	op->body = body;
	op->body_len = body ? strlen(body) : 0;
	body = NULL;
	if (!op->method || !op->path)
		goto out_oom;
	cq = callq_get(ob, call_key, cc_index);
	if (!cq)
		goto out_oom;
	op->cq = cq;
	op->seq = ob->next_seq++;
	op->next_in_call = NULL;
	if (cq->tail) {
		cq->tail->next_in_call = op; /* waits for the ones before it */
		cq->tail = op;
	} else {
		cq->head = cq->tail = op;
		schedule(ob, op, uv_now(ob->loop));
	}
	ob->pending++;
	ob->stats.submitted++;
	dispatch(ob);
	return 0;

out_oom:
	log_err(call_key, "outbox: out of memory; %s operation lost", kind_name(kind));
	if (op)
		op_free(op);
	free(body);
	return -ENOMEM;
}

size_t
outbox_pending(const struct outbox *ob)
{
	return ob->pending;
}

void
outbox_when_empty(struct outbox *ob, void (*cb)(void *arg), void *arg)
{
	if (ob->pending == 0) {
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
on_timer_closed(uv_handle_t *h)
{
	struct outbox *ob = h->data;

	free(ob->heap);
	free(ob->ccs);
	free(ob);
}

void
outbox_free(struct outbox *ob)
{
	if (!ob)
		return;
	if (ob->pending)
		log_err(NULL, "outbox: %zu operation(s) still pending at exit are lost",
		        ob->pending);
	for (size_t i = 0; i < CALLQ_BUCKETS; i++) {
		while (ob->buckets[i]) {
			struct callq *cq = ob->buckets[i];
			while (cq->head) {
				struct op *op = cq->head;
				cq->head = op->next_in_call;
				log_err(cq->key, "outbox: lost %s %s", op->method, op->path);
				op_free(op);
			}
			ob->buckets[i] = cq->hnext;
			free(cq->key);
			free(cq);
		}
	}
	for (size_t i = 0; i < ob->n_ccs; i++)
		scv_signer_free(ob->ccs[i].signer);
	uv_timer_stop(&ob->timer);
	uv_close((uv_handle_t *)&ob->timer, on_timer_closed);
}
