/*
 * The local API (see localapi.h): health and readiness, and the recording report with its
 * bearer token and its JSON body, as routes of a scv_httpd server. The server calls route()
 * once a request's head is in (when the client waits for 100 Continue), and once its body is.
 */
#include "connector/localapi.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connector/log.h"
#include "scv/httpd.h"
#include "scv/recording.h"

#define AUTH_LOG_MS 60000 /* at most one warning a minute about refusals */

#define STR_(x) #x
#define STR(x)  STR_(x)

struct localapi {
	struct scv_httpd *srv;
	struct localapi_ops ops;
	void *arg;
	struct scv_httpd_token token; /* the bearer token's hash; the token is not kept */
	uint64_t auth_logged_at;
	unsigned auth_quiet;
	void (*done_cb)(void *arg);
	void *done_arg;
};

static const char bad_token[] = "bearer token: expected " STR(SCV_HTTPD_TOKEN_MIN) " to " STR(
        SCV_HTTPD_TOKEN_MAX) " characters of A-Z a-z 0-9 - . _ ~ + / (then any =)";

static const char bad_key[] =
        "vendorCallKey: expected 1 to " STR(LOCALAPI_MAX_KEY) " characters of A-Z, a-z, 0-9 and -";

static void
log_auth_failure(struct localapi *api, int wrong)
{
	uint64_t now = uv_hrtime() / 1000000;

	if (api->auth_logged_at && now - api->auth_logged_at < AUTH_LOG_MS) {
		api->auth_quiet++;
		return;
	}
	if (api->auth_quiet)
		log_warn(NULL, "api: refused a request with %s bearer token (and %u more in %d s)",
		         wrong ? "a wrong" : "no", api->auth_quiet, AUTH_LOG_MS / 1000);
	else
		log_warn(NULL, "api: refused a request with %s bearer token",
		         wrong ? "a wrong" : "no");
	api->auth_logged_at = now;
	api->auth_quiet = 0;
}

/* POST /v1/calls/{key}/recording, once its body is in and the token checked. */
static void
recording(struct localapi *api, struct scv_httpd_conn *c, const struct scv_httpd_req *q,
          const char *key)
{
	char why[256], *url = NULL;
	long duration = -1;
	int rc;

	rc = scv_recording_parse(q->body, (size_t)q->content_length, &url, &duration, why,
	                         sizeof why);
	if (rc == -EINVAL) {
		scv_httpd_respond_error(c, 400, NULL, why);
		return;
	}
	if (rc == 0)
		rc = api->ops.on_recording(key, url, duration, api->arg);
	free(url);
	log_debug(key, "api: recording %s (%ld s): %d", rc == 0 ? "accepted" : "refused", duration,
	          rc);
	if (rc == 0)
		scv_httpd_respond(c, 202, NULL, "{\"status\":\"accepted\"}");
	else if (rc == -ENOENT)
		scv_httpd_respond_error(c, 404, NULL, "unknown call");
	else
		scv_httpd_respond_error(c, 500, NULL, "internal error");
}

/* The vendorCallKey of a recording path, copied into key (LOCALAPI_MAX_KEY + 1); 1 when path
 * has that shape, -1 when it has but the key is bad, 0 otherwise. */
static int
recording_key(const char *path, char *key)
{
	static const char pre[] = "/v1/calls/", suf[] = "/recording";
	size_t n = strlen(path), kl;
	const char *k = path + sizeof pre - 1;

	if (n < sizeof pre - 1 + sizeof suf - 1 || strncmp(path, pre, sizeof pre - 1) ||
	    strcmp(path + n - (sizeof suf - 1), suf))
		return 0;
	kl = n - (sizeof pre - 1) - (sizeof suf - 1);
	if (memchr(k, '/', kl))
		return 0;
	if (kl == 0 || kl > LOCALAPI_MAX_KEY)
		return -1;
	for (size_t i = 0; i < kl; i++)
		if (!isalnum((unsigned char)k[i]) && k[i] != '-')
			return -1;
	memcpy(key, k, kl);
	key[kl] = '\0';
	return 1;
}

/* GET /livez and /readyz. */
static void
health(struct localapi *api, struct scv_httpd_conn *c, const char *path)
{
	char reason[LOCALAPI_MAX_REASON + 1] = "", esc[LOCALAPI_MAX_REASON + 64], body[400];

	if (path[1] == 'l') {
		scv_httpd_respond(c, 200, NULL, "{\"status\":\"ok\"}");
	} else if (!api->ops.ready || api->ops.ready(reason, sizeof reason, api->arg) == 0) {
		scv_httpd_respond(c, 200, NULL, "{\"status\":\"ready\"}");
	} else {
		reason[LOCALAPI_MAX_REASON] = '\0';
		scv_httpd_json_escape(esc, sizeof esc, reason[0] ? reason : "not ready");
		snprintf(body, sizeof body, "{\"status\":\"degraded\",\"reason\":\"%s\"}", esc);
		scv_httpd_respond(c, 503, NULL, body);
	}
}

/* The server's route callback (see scv_httpd_route_cb). */
static int
route(struct scv_httpd_conn *c, struct scv_httpd_req *q, int body_ready, void *arg)
{
	struct localapi *api = arg;
	const char *m = q->method;
	int get = !strcmp(m, "GET") || !strcmp(m, "HEAD"), auth, k;
	char *path = q->target, key[LOCALAPI_MAX_KEY + 1];

	path[strcspn(path, "?")] = '\0'; /* the query, if any, is ignored */
	if (!strcmp(path, "/livez") || !strcmp(path, "/readyz")) {
		if (!get) {
			scv_httpd_respond_error(c, 405, "Allow: GET, HEAD\r\n",
			                        "method not allowed");
			return 1;
		}
		if (!body_ready)
			return 0;
		health(api, c, path);
		return 1;
	}
	k = api->ops.on_recording ? recording_key(path, key) : 0;
	if (k == 0) {
		scv_httpd_respond_error(c, 404, NULL, "not found");
		return 1;
	}
	if (strcmp(m, "POST")) {
		scv_httpd_respond_error(c, 405, "Allow: POST\r\n", "method not allowed");
		return 1;
	}
	auth = scv_httpd_bearer_check(&api->token, q->authorization);
	if (auth) {
		log_auth_failure(api, auth == 2);
		scv_httpd_respond_error(
		        c, 401,
		        auth == 2 ? "WWW-Authenticate: Bearer realm=\"scvbridge\", "
		                    "error=\"invalid_token\"\r\n"
		                  : "WWW-Authenticate: Bearer realm=\"scvbridge\"\r\n",
		        auth == 2 ? "invalid bearer token" : "bearer token required");
		return 1;
	}
	if (k < 0) {
		scv_httpd_respond_error(c, 400, NULL, bad_key);
		return 1;
	}
	if (!body_ready)
		return 0;
	recording(api, c, q, key);
	return 1;
}

int
localapi_check(const char *listen, const char *bearer_token, char *err, size_t errlen)
{
	int rc = scv_httpd_check_listen(listen ? listen : LOCALAPI_DEFAULT_LISTEN, err, errlen);

	if (rc == 0 && bearer_token && !scv_httpd_token_valid(bearer_token)) {
		snprintf(err, errlen, "%s", bad_token);
		rc = -EINVAL;
	}
	return rc;
}

int
localapi_start(uv_loop_t *loop, const char *listen, const char *bearer_token,
               const struct localapi_ops *ops, void *arg, struct localapi **ret_api, char *err,
               size_t errlen)
{
	const struct scv_httpd_limits limits = {.max_body = LOCALAPI_MAX_BODY,
	                                        .max_conns = LOCALAPI_MAX_CONNS};
	struct localapi *api;
	int rc;

	if (!listen)
		listen = LOCALAPI_DEFAULT_LISTEN;
	rc = scv_httpd_check_listen(listen, err, errlen);
	if (rc < 0)
		return rc;
	api = calloc(1, sizeof *api);
	if (!api) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (ops && ops->on_recording) {
		rc = scv_httpd_token_set(&api->token, bearer_token);
		if (rc < 0) {
			snprintf(err, errlen, "%s",
			         rc == -EINVAL ? bad_token : "cannot hash the bearer token");
			goto out_free;
		}
	}
	if (ops)
		api->ops = *ops;
	api->arg = arg;
	rc = scv_httpd_start(loop, listen, "api", &limits, route, api, &api->srv, err, errlen);
	if (rc < 0)
		goto out_free;
	if (!scv_httpd_loopback(api->srv))
		log_warn(NULL,
		         "api: %s is not a loopback address: plain HTTP, bearer token in clear",
		         listen);
	*ret_api = api;
	return 0;

out_free:
	scv_httpd_token_clear(&api->token);
	free(api);
	return rc;
}

int
localapi_port(const struct localapi *api)
{
	return scv_httpd_port(api->srv);
}

static void
on_closed(void *arg)
{
	struct localapi *api = arg;
	void (*done)(void *) = api->done_cb;
	void *done_arg = api->done_arg;

	scv_httpd_token_clear(&api->token);
	free(api);
	if (done)
		done(done_arg);
}

void
localapi_close(struct localapi *api, void (*done)(void *arg), void *arg)
{
	if (!api->srv)
		return; /* closing already */
	api->done_cb = done;
	api->done_arg = arg;
	scv_httpd_close(api->srv, on_closed, api);
	api->srv = NULL;
}
