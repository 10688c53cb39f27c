/*
 * tests scv/client.c and scv/client_req.c: what each Telephony Integration request is (kind,
 * method, path, body), and that every request leaves signed, with the provider header and the
 * right timeout. The HTTPS client and the JWT signer are fakes that record what they were given.
 */
#include "scv/client.c"

#include <jansson.h>

#include "tests/unit/test.h"

/* ---- fakes of scv/http.h and scv/jwt.h ------------------------------------------------ */

static struct {
	char key[64], iss[64], sub[64];
	int per_request, fail, tokens, freed;
} signer;
static struct {
	char base_url[128], ca_file[64];
	int fail;
} target;
static struct {
	struct scv_http_req req;
	char method[8], path[128], auth[64], provider[32], body[512];
	scv_http_cb cb;
	void *arg;
	int n, fail;
} sent;
static int token_fails;

int
scv_signer_new(const char *key_path, const char *iss, const char *sub, int per_request_jti,
               struct scv_signer **ret_signer, char *err, size_t errlen)
{
	snprintf(signer.key, sizeof signer.key, "%s", key_path);
	snprintf(signer.iss, sizeof signer.iss, "%s", iss);
	snprintf(signer.sub, sizeof signer.sub, "%s", sub);
	signer.per_request = per_request_jti;
	if (signer.fail) {
		snprintf(err, errlen, "cannot read the key");
		return -ENOENT;
	}
	*ret_signer = (struct scv_signer *)&signer;
	return 0;
}

int
scv_signer_token(struct scv_signer *s, int64_t now, const char **ret_token)
{
	static char tok[32];

	(void)s, (void)now;
	if (token_fails)
		return -EIO;
	snprintf(tok, sizeof tok, "tok-%d", ++signer.tokens);
	*ret_token = tok;
	return 0;
}

void
scv_signer_free(struct scv_signer *s)
{
	if (s)
		signer.freed++;
}

int
scv_http_target_add(struct scv_http *http, const char *base_url, const char *ca_file,
                    int *ret_target, char *err, size_t errlen)
{
	(void)http;
	snprintf(target.base_url, sizeof target.base_url, "%s", base_url);
	snprintf(target.ca_file, sizeof target.ca_file, "%s", ca_file ? ca_file : "(system)");
	if (target.fail) {
		snprintf(err, errlen, "base_url: not https");
		return -EINVAL;
	}
	*ret_target = 3;
	return 0;
}

int
scv_http_send(struct scv_http *http, const struct scv_http_req *req, scv_http_cb cb, void *arg)
{
	(void)http;
	if (sent.fail)
		return -ECANCELED;
	sent.req = *req;
	snprintf(sent.method, sizeof sent.method, "%s", req->method);
	snprintf(sent.path, sizeof sent.path, "%s", req->path);
	snprintf(sent.auth, sizeof sent.auth, "%s", req->authorization ? req->authorization : "");
	snprintf(sent.provider, sizeof sent.provider, "%s",
	         req->provider_name ? req->provider_name : "(none)");
	snprintf(sent.body, sizeof sent.body, "%.*s", (int)req->body_len,
	         req->body ? req->body : "");
	sent.cb = cb;
	sent.arg = arg;
	sent.n++;
	return 0;
}

/* ---- fixture --------------------------------------------------------------------------- */

static const struct scv_client_cfg acme = {
        .name = "acme",
        .base_url = "https://acme.my.salesforce-scrt.com/telephony/v1",
        .private_key_file = "/keys/acme.key",
        .org_id = "00Dxx0000001gEH",
        .call_center_api_name = "AcmeCC",
        .jti_per_request = 1,
        .provider_name = "scvbridge",
        .request_timeout_ms = 7000,
        .omni_flow_dev_name = "Route_Calls",
        .omni_fallback_queue = "00Gxx000000Queue",
};

static struct scv_client *
client_of(const struct scv_client_cfg *cfg)
{
	struct scv_client *c = NULL;
	char err[128];

	memset(&signer, 0, sizeof signer);
	memset(&target, 0, sizeof target);
	memset(&sent, 0, sizeof sent);
	token_fails = 0;
	if (scv_client_new((struct scv_http *)&target, cfg, &c, err, sizeof err) < 0)
		return NULL;
	return c;
}

static json_t *
parse(const char *text)
{
	return text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
}

static const char *
sget(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* ---- tests ----------------------------------------------------------------------------- */

TEST(new_loads_the_key_and_registers_the_target)
{
	struct scv_client *c = client_of(&acme);

	REQUIRE(c);
	CHECK_STR(scv_client_name(c), "acme");
	CHECK_STR(signer.key, "/keys/acme.key");
	CHECK_STR(signer.iss, "00Dxx0000001gEH");
	CHECK_STR(signer.sub, "AcmeCC");
	CHECK_INT(signer.per_request, 1);
	CHECK_STR(target.base_url, "https://acme.my.salesforce-scrt.com/telephony/v1");
	CHECK_STR(target.ca_file, "(system)");
	CHECK_INT(c->target, 3);
	scv_client_free(c);
	CHECK_INT(signer.freed, 1);
	scv_client_free(NULL);
}

TEST(new_names_the_contact_center_when_it_fails)
{
	struct scv_client *c = NULL;
	char err[128] = "";

	memset(&signer, 0, sizeof signer);
	memset(&target, 0, sizeof target);
	signer.fail = 1;
	CHECK_INT(scv_client_new(NULL, &acme, &c, err, sizeof err), -ENOENT);
	CHECK_STR(err, "contact center acme: cannot read the key");
	CHECK(c == NULL);
	/* the key loads, the URL is refused: the signer is freed again */
	signer.fail = 0;
	target.fail = 1;
	CHECK_INT(scv_client_new(NULL, &acme, &c, err, sizeof err), -EINVAL);
	CHECK_STR(err, "contact center acme: base_url: not https");
	CHECK_INT(signer.freed, 1);
	CHECK(c == NULL);
}

TEST(create_request)
{
	struct scv_client *c = client_of(&acme);
	struct scv_create in = {
	        .call_center_api_name = "ignored",
	        .vendor_call_key = "k-1",
	        .to = "+15550100000",
	        .from = "+15550199999",
	        .initiation_method = "Inbound",
	        .start_time = "2026-01-15T10:00:00.000Z",
	        .participant_key = "+15550199999",
	};
	struct scv_req r;
	json_t *o;

	REQUIRE(c);
	REQUIRE(scv_client_create_req(c, &in, &r) == 0);
	CHECK_INT(r.kind, SCV_REQ_CREATE);
	CHECK_STR(r.method, "POST");
	CHECK_STR(r.path, "/voiceCalls");
	o = parse(r.body);
	REQUIRE(o);
	CHECK_STR(sget(o, "callCenterApiName"), "AcmeCC"); /* the client's, not the caller's */
	CHECK_STR(sget(o, "vendorCallKey"), "k-1");
	CHECK_STR(sget(o, "initiationMethod"), "Inbound");
	json_decref(o);
	scv_req_clear(&r);
	CHECK(r.method == NULL && r.path == NULL && r.body == NULL);
	scv_req_clear(&r); /* twice is harmless */
	scv_client_free(c);
}

TEST(update_and_clear_routing_requests)
{
	struct scv_client *c = client_of(&acme);
	struct scv_update u = {.start_time = "2026-01-15T10:00:00.000Z",
	                       .end_time = "2026-01-15T10:01:00.000Z",
	                       .disconnect_value = SCV_DISCONNECT_AGENT};
	struct scv_req r = {0};
	json_t *o;

	REQUIRE(c);
	REQUIRE(scv_client_update_req(c, "k-1", &u, &r) == 0);
	CHECK_INT(r.kind, SCV_REQ_UPDATE);
	CHECK_STR(r.method, "PATCH");
	CHECK_STR(r.path, "/voiceCalls/k-1");
	o = parse(r.body);
	REQUIRE(o);
	CHECK_STR(sget(o, "endTime"), "2026-01-15T10:01:00.000Z");
	CHECK_STR(sget(json_object_get(o, "disconnectReason"), "value"), "AGENT_DISCONNECT");
	json_decref(o);
	scv_req_clear(&r);

	REQUIRE(scv_client_clear_routing_req(c, "k-1", &r) == 0);
	CHECK_INT(r.kind, SCV_REQ_CLEAR_ROUTING);
	CHECK_STR(r.method, "PATCH");
	CHECK_STR(r.path, "/voiceCalls/k-1/clearRouting");
	CHECK(r.body == NULL);
	scv_req_clear(&r);

	/* a key that would change the path's shape is refused, and nothing is filled */
	r = (struct scv_req){0};
	CHECK_INT(scv_client_update_req(c, "a/b", &u, &r), -EINVAL);
	CHECK_INT(scv_client_clear_routing_req(c, "", &r), -EINVAL);
	CHECK_INT(scv_client_omniflow_req(c, "a?b", "+1", &r), -EINVAL);
	CHECK(r.method == NULL && r.path == NULL && r.body == NULL);
	scv_client_free(c);
}

TEST(omniflow_request)
{
	struct scv_client_cfg plain = acme;
	struct scv_client *c = client_of(&acme);
	struct scv_req r;
	json_t *o;

	REQUIRE(c);
	REQUIRE(scv_client_omniflow_req(c, "k-1", "+15550100000", &r) == 0);
	CHECK_INT(r.kind, SCV_REQ_OMNIFLOW);
	CHECK_STR(r.method, "PATCH");
	CHECK_STR(r.path, "/voiceCalls/k-1/omniFlow");
	o = parse(r.body);
	REQUIRE(o);
	CHECK_STR(sget(o, "dialedNumber"), "+15550100000");
	CHECK_STR(sget(o, "flowDevName"), "Route_Calls");
	CHECK_STR(sget(o, "fallbackQueue"), "00Gxx000000Queue");
	json_decref(o);
	scv_req_clear(&r);
	scv_client_free(c);

	plain.omni_flow_dev_name = plain.omni_fallback_queue = NULL;
	c = client_of(&plain);
	REQUIRE(c);
	REQUIRE(scv_client_omniflow_req(c, "k-2", "+15550100000", &r) == 0);
	o = parse(r.body);
	REQUIRE(o);
	CHECK(json_object_get(o, "flowDevName") == NULL);
	CHECK(json_object_get(o, "fallbackQueue") == NULL);
	json_decref(o);
	scv_req_clear(&r);
	scv_client_free(c);
}

TEST(kind_names)
{
	CHECK_STR(scv_req_kind_name(SCV_REQ_CREATE), "create");
	CHECK_STR(scv_req_kind_name(SCV_REQ_UPDATE), "update");
	CHECK_STR(scv_req_kind_name(SCV_REQ_CLEAR_ROUTING), "clearRouting");
	CHECK_STR(scv_req_kind_name(SCV_REQ_OMNIFLOW), "omniFlow");
	/* the numbers are stored with pending operations: they must not move */
	CHECK_INT(SCV_REQ_CREATE, 1);
	CHECK_INT(SCV_REQ_UPDATE, 2);
	CHECK_INT(SCV_REQ_CLEAR_ROUTING, 3);
}

static int http_answers;
static int http_status;

static void
on_http(const struct scv_http_resp *resp, void *arg)
{
	(void)arg;
	http_answers++;
	http_status = resp->status;
}

TEST(send_signs_and_names_the_provider)
{
	struct scv_client *c = client_of(&acme);
	struct scv_req r = {.kind = SCV_REQ_UPDATE,
	                    .method = "PATCH",
	                    .path = "/voiceCalls/k-1",
	                    .body = "{\"a\":1}"};
	struct scv_http_resp resp = {.status = 204, .retry_after_s = -1};

	REQUIRE(c);
	REQUIRE(scv_client_send(c, &r, on_http, NULL) == 0);
	CHECK_INT(sent.n, 1);
	CHECK_STR(sent.method, "PATCH");
	CHECK_STR(sent.path, "/voiceCalls/k-1");
	CHECK_STR(sent.auth, "Bearer tok-1");
	CHECK_STR(sent.provider, "scvbridge");
	CHECK_STR(sent.body, "{\"a\":1}");
	CHECK_INT(sent.req.body_len, 7);
	CHECK_INT(sent.req.target, 3);
	CHECK_INT(sent.req.timeout_ms, 7000);
	/* the HTTP client's answer goes straight to the caller's callback */
	sent.cb(&resp, sent.arg);
	CHECK_INT(http_answers, 1);
	CHECK_INT(http_status, 204);
	/* a request without a body, and a second token asked for */
	r = (struct scv_req){.kind = SCV_REQ_CLEAR_ROUTING, .method = "PATCH", .path = "/x"};
	REQUIRE(scv_client_send(c, &r, on_http, NULL) == 0);
	CHECK_STR(sent.auth, "Bearer tok-2");
	CHECK(sent.req.body == NULL);
	CHECK_INT(sent.req.body_len, 0);
	/* no token, or the HTTP client refuses: an error, and no callback ever */
	token_fails = 1;
	CHECK_INT(scv_client_send(c, &r, on_http, NULL), -EIO);
	token_fails = 0;
	sent.fail = 1;
	CHECK_INT(scv_client_send(c, &r, on_http, NULL), -ECANCELED);
	CHECK_INT(http_answers, 1);
	scv_client_free(c);
}

static struct {
	int n, status;
	uint64_t id;
	char body[64];
} reply;

static void
on_reply(void *arg, uint64_t id, int status, const char *body, size_t len)
{
	(void)arg;
	reply.n++;
	reply.id = id;
	reply.status = status;
	snprintf(reply.body, sizeof reply.body, "%.*s", (int)len, body ? body : "");
}

TEST(ask_has_its_own_timeout_and_one_answer)
{
	struct scv_client *c = client_of(&acme);
	struct scv_req r = {.kind = SCV_REQ_OMNIFLOW,
	                    .method = "PATCH",
	                    .path = "/voiceCalls/k-1/omniFlow",
	                    .body = "{}"};
	struct scv_http_resp ok = {
	        .status = 200, .retry_after_s = -1, .body = "{\"agent\":\"a1\"}", .body_len = 14};
	struct scv_http_resp lost = {.error = -ETIMEDOUT, .retry_after_s = -1};

	REQUIRE(c);
	memset(&reply, 0, sizeof reply);
	REQUIRE(scv_client_ask(c, &r, 1234, on_reply, NULL, 42) == 0);
	CHECK_INT(sent.req.timeout_ms, 1234);
	CHECK_STR(sent.auth, "Bearer tok-1");
	CHECK_STR(sent.provider, "scvbridge");
	sent.cb(&ok, sent.arg);
	CHECK_INT(reply.n, 1);
	CHECK_INT(reply.id, 42);
	CHECK_INT(reply.status, 200);
	CHECK_STR(reply.body, "{\"agent\":\"a1\"}");
	/* no answer (timeout, connection error, shutdown): status 0 */
	REQUIRE(scv_client_ask(c, &r, 500, on_reply, NULL, 43) == 0);
	sent.cb(&lost, sent.arg);
	CHECK_INT(reply.n, 2);
	CHECK_INT(reply.id, 43);
	CHECK_INT(reply.status, 0);
	/* not sent: an error and no callback (ASan checks the context is not leaked) */
	sent.fail = 1;
	CHECK_INT(scv_client_ask(c, &r, 500, on_reply, NULL, 44), -ECANCELED);
	CHECK_INT(reply.n, 2);
	scv_client_free(c);
}

int
main(void)
{
	RUN(new_loads_the_key_and_registers_the_target);
	RUN(new_names_the_contact_center_when_it_fails);
	RUN(create_request);
	RUN(update_and_clear_routing_requests);
	RUN(omniflow_request);
	RUN(kind_names);
	RUN(send_signs_and_names_the_provider);
	RUN(ask_has_its_own_timeout_and_one_answer);
	return test_summary();
}
