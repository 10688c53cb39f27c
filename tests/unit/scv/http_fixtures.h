/*
 * The HTTPS client's side of tests/unit/scv/http.c: a client on the test's loop, targets and
 * requests, what their callbacks got, the loop's handles and libwebsockets' among them. Needs
 * scv/http*.c included first, tls_server.h, and the test's `loop` and `ca_path`.
 */
#ifndef SCVB_TESTS_UNIT_SCV_HTTP_FIXTURES_H
#define SCVB_TESTS_UNIT_SCV_HTTP_FIXTURES_H

struct result {
	int calls;
	int status;
	int error;
	int maybe_sent;
	int retry_after;
	char body[1024];
	size_t body_len;
	char detail[256];
	uint64_t at_ms;
	struct scv_http *http; /* for close_from_inside_a_callback */
	int left;
};

static inline void
on_resp(const struct scv_http_resp *r, void *arg)
{
	struct result *res = arg;

	res->calls++;
	res->status = r->status;
	res->error = r->error;
	res->maybe_sent = r->maybe_sent;
	res->retry_after = r->retry_after_s;
	res->body_len = r->body_len;
	snprintf(res->body, sizeof res->body, "%s", r->body ? r->body : "(null)");
	snprintf(res->detail, sizeof res->detail, "%s", r->detail ? r->detail : "");
	res->at_ms = uv_now(&loop);
}

static inline void
wait_calls(struct result *r, int n)
{
	while (r->calls < n)
		uv_run(&loop, UV_RUN_ONCE);
}

static inline void
on_closed(void *arg)
{
	(*(int *)arg)++;
}

static inline void
on_sleep_timer(uv_timer_t *t)
{
	*(int *)t->data = 1;
}

/* Runs the loop for ms milliseconds. */
static inline void
loop_sleep(unsigned ms)
{
	uv_timer_t t;
	int fired = 0;

	uv_timer_init(&loop, &t);
	t.data = &fired;
	uv_timer_start(&t, on_sleep_timer, ms, 0);
	while (!fired)
		uv_run(&loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
}

static inline void
count_handle(uv_handle_t *handle, void *arg)
{
	(void)handle;
	(*(int *)arg)++;
}

/* Handles on the loop, active or not: uv_loop_close() fails unless there are none. */
static inline int
loop_handles(void)
{
	int n = 0;

	uv_walk(&loop, count_handle, &n);
	return n;
}

/* Closes the client and checks the loop is left with nothing, not even a closed handle. */
static inline void
close_http(struct scv_http *h)
{
	int done = 0;

	scv_http_close(h, on_closed, &done);
	while (!done)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK_INT(done, 1);
	CHECK(!uv_loop_alive(&loop));
	CHECK_INT(loop_handles(), 0);
}

/* The first connection of target t, or NULL. */
static inline struct scv_hconn *
first_conn(struct scv_http *h, int t)
{
	struct scv_link *l = h->targets[t]->conns.next;

	return l == &h->targets[t]->conns ? NULL : container_of(l, struct scv_hconn, link);
}

struct handle_count {
	const void *owner;
	unsigned n;
};

static inline void
count_owned(uv_handle_t *handle, void *arg)
{
	struct handle_count *hc = arg;

	if (handle->data == hc->owner)
		hc->n++;
}

/* Handles libwebsockets keeps on the loop for h's context (its backend's data = context). */
static inline unsigned
lws_handles(struct scv_http *h)
{
	struct handle_count hc = {scv_lws_context(h->lws), 0};

	uv_walk(&loop, count_owned, &hc);
	return hc.n;
}

static inline void
srv_forget_last(struct srv *s)
{
	pthread_mutex_lock(&s->mu);
	memset(&s->last, 0, sizeof s->last);
	pthread_mutex_unlock(&s->mu);
}

static inline struct scv_http *
new_http(void)
{
	struct scv_http *h = NULL;
	char err[256];

	if (scv_http_new(&loop, &h, err, sizeof err) < 0)
		fprintf(stderr, "scv_http_new: %s\n", err);
	return h;
}

static inline int
add_target(struct scv_http *h, const char *host, int port, const char *ca)
{
	char url[256], err[256];
	int t = -1;

	snprintf(url, sizeof url, "https://%s:%d/telephony/v1", host, port);
	if (scv_http_target_add(h, url, ca, &t, err, sizeof err) < 0)
		fprintf(stderr, "target %s: %s\n", url, err);
	return t;
}

static inline int
send_req(struct scv_http *h, int target, const char *method, const char *path, const char *body,
         unsigned timeout_ms, struct result *res)
{
	struct scv_http_req q = {
	        .target = target,
	        .method = method,
	        .path = path,
	        .authorization = "Bearer eyJ.test.sig",
	        .provider_name = "scvbridge-test",
	        .body = body,
	        .body_len = body ? strlen(body) : 0,
	        .timeout_ms = timeout_ms,
	};
	return scv_http_send(h, &q, on_resp, res);
}

#endif
