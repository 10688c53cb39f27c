/*
 * A contact center's Salesforce client (see client.h): the object, and the one place that
 * signs and sends. Every request carries "Authorization: Bearer <JWT>" (the signer reuses its
 * token for minutes, so signing is not on the per-call path) and Telephony-Provider-Name.
 * The request builders are in client_req.c.
 */
#include "scv/client_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scv/jwt.h"

/* A token is ~700 bytes; "Bearer " and a generous margin. */
#define AUTH_MAX 4096

int
scv_client_new(struct scv_http *http, const struct scv_client_cfg *cfg,
               struct scv_client **ret_client, char *err, size_t errlen)
{
	struct scv_client *c;
	char why[256];
	int r;

	c = calloc(1, sizeof *c);
	if (!c) {
		snprintf(err, errlen, "contact center %s: out of memory", cfg->name);
		return -ENOMEM;
	}
	c->cfg = *cfg;
	c->http = http;
	r = scv_signer_new(cfg->private_key_file, cfg->org_id, cfg->call_center_api_name,
	                   cfg->jti_per_request, &c->signer, why, sizeof why);
	if (r < 0)
		goto out_free;
	r = scv_http_target_add(http, cfg->base_url, cfg->ca_file, &c->target, why, sizeof why);
	if (r < 0)
		goto out_free_signer;
	*ret_client = c;
	return 0;

out_free_signer:
	scv_signer_free(c->signer);
	c->signer = NULL;
out_free:
	snprintf(err, errlen, "contact center %s: %s", cfg->name, why);
	free(c);
	return r;
}

void
scv_client_free(struct scv_client *client)
{
	if (!client)
		return;
	scv_signer_free(client->signer);
	client->signer = NULL;
	free(client);
}

const char *
scv_client_name(const struct scv_client *client)
{
	return client->cfg.name;
}

/* Signs (or reuses the token) and hands req to the HTTPS client. */
static int
send_signed(struct scv_client *client, const struct scv_req *req, unsigned timeout_ms,
            scv_http_cb cb, void *arg)
{
	char auth[AUTH_MAX];
	const char *token;
	struct scv_http_req hr;
	int r;

	r = scv_signer_token(client->signer, (int64_t)time(NULL), &token);
	if (r < 0)
		return r;
	if ((size_t)snprintf(auth, sizeof auth, "Bearer %s", token) >= sizeof auth)
		return -ENAMETOOLONG;
	hr = (struct scv_http_req){
	        .target = client->target,
	        .method = req->method,
	        .path = req->path,
	        .authorization = auth,
	        .provider_name = client->cfg.provider_name,
	        .body = req->body,
	        .body_len = req->body ? strlen(req->body) : 0,
	        .timeout_ms = timeout_ms,
	};
	return scv_http_send(client->http, &hr, cb, arg);
}

int
scv_client_send(struct scv_client *client, const struct scv_req *req, scv_http_cb cb, void *arg)
{
	return send_signed(client, req, client->cfg.request_timeout_ms, cb, arg);
}

struct ask {
	scv_reply_cb cb;
	void *arg;
	uint64_t id;
};

static void
on_ask_response(const struct scv_http_resp *resp, void *arg)
{
	struct ask *a = arg;

	a->cb(a->arg, a->id, resp->error ? 0 : resp->status, resp->body, resp->body_len);
	free(a);
}

int
scv_client_ask(struct scv_client *client, const struct scv_req *req, unsigned timeout_ms,
               scv_reply_cb cb, void *arg, uint64_t id)
{
	struct ask *a = malloc(sizeof *a);
	int r;

	if (!a)
		return -ENOMEM;
	*a = (struct ask){.cb = cb, .arg = arg, .id = id};
	r = send_signed(client, req, timeout_ms, on_ask_response, a);
	if (r < 0)
		free(a);
	return r;
}
