/*
 * The requests of the Telephony Integration REST API, as a contact center's client makes them
 * (reference/salesforce-telephony-api.md §3, §4): method, path under the base URL, body.
 * Pure functions: nothing here signs or sends.
 */
#include "scv/client_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
scv_req_clear(struct scv_req *req)
{
	if (!req)
		return;
	free(req->method);
	req->method = NULL;
	free(req->path);
	req->path = NULL;
	free(req->body);
	req->body = NULL;
}

const char *
scv_req_kind_name(enum scv_req_kind kind)
{
	switch (kind) {
	case SCV_REQ_CREATE:
		return "create";
	case SCV_REQ_UPDATE:
		return "update";
	case SCV_REQ_CLEAR_ROUTING:
		return "clearRouting";
	case SCV_REQ_OMNIFLOW:
		return "omniFlow";
	}
	return "request";
}

/*
 * Fills *ret_req with kind, method, the formatted path and body (taken over, may be NULL).
 * 0, or -ENOMEM (body freed, *ret_req untouched).
 */
static int
make(struct scv_req *ret_req, enum scv_req_kind kind, const char *method, char *body,
     const char *path_fmt, ...)
{
	struct scv_req req = {.kind = kind};
	va_list ap;
	int n;

	va_start(ap, path_fmt);
	n = vasprintf(&req.path, path_fmt, ap);
	va_end(ap);
	if (n < 0) {
		req.path = NULL;
		goto out_oom;
	}
	req.method = strdup(method);
	if (!req.method)
		goto out_oom;
	req.body = body;
	*ret_req = req;
	return 0;

out_oom:
	free(req.path);
	free(body);
	return -ENOMEM;
}

/* A vendorCallKey goes into the path as it is: it must not change the path's shape. */
static int
key_ok(const char *key)
{
	return key && key[0] && !strpbrk(key, "/?#% \t\r\n");
}

int
scv_client_create_req(const struct scv_client *client, const struct scv_create *c,
                      struct scv_req *ret_req)
{
	struct scv_create with_name = *c;
	char *body;

	with_name.call_center_api_name = client->cfg.call_center_api_name;
	body = scv_body_create(&with_name);
	if (!body)
		return -ENOMEM;
	return make(ret_req, SCV_REQ_CREATE, "POST", body, "/voiceCalls");
}

int
scv_client_update_req(const struct scv_client *client, const char *key, const struct scv_update *u,
                      struct scv_req *ret_req)
{
	char *body;

	(void)client;
	if (!key_ok(key))
		return -EINVAL;
	body = scv_body_update(u);
	if (!body)
		return -ENOMEM;
	return make(ret_req, SCV_REQ_UPDATE, "PATCH", body, "/voiceCalls/%s", key);
}

int
scv_client_clear_routing_req(const struct scv_client *client, const char *key,
                             struct scv_req *ret_req)
{
	(void)client;
	if (!key_ok(key))
		return -EINVAL;
	return make(ret_req, SCV_REQ_CLEAR_ROUTING, "PATCH", NULL, "/voiceCalls/%s/clearRouting",
	            key);
}

int
scv_client_omniflow_req(const struct scv_client *client, const char *key, const char *dialed_number,
                        struct scv_req *ret_req)
{
	char *body;

	if (!key_ok(key))
		return -EINVAL;
	body = scv_body_omniflow(dialed_number, client->cfg.omni_flow_dev_name,
	                         client->cfg.omni_fallback_queue);
	if (!body)
		return -ENOMEM;
	return make(ret_req, SCV_REQ_OMNIFLOW, "PATCH", body, "/voiceCalls/%s/omniFlow", key);
}
