/*
 * The local API's routes (see api.h for what they answer): health and readiness, and the
 * recording report with its bearer token and its JSON body. The server (api.c) calls
 * scv_api_route() once a request's head is in, and again once its body is.
 */
#include "scv/api_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "connector/log.h"

static void
log_auth_failure(struct scv_api *api, int wrong)
{
	uint64_t now = scv_api_now_ms();

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

/* 0 when value is "Bearer <the token>"; 1 when no bearer token; 2 when a wrong one. */
static int
check_bearer(const struct scv_api *api, const char *value)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	const char *tok;

	if (!value || strncasecmp(value, "Bearer", 6) || (value[6] != ' ' && value[6] != '\t'))
		return 1;
	tok = value + 6 + strspn(value + 6, " \t");
	if (!*tok)
		return 1;
	/* digests of equal size, compared in constant time: nothing about the token leaks */
	if (EVP_Digest(tok, strlen(tok), md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != sizeof api->token_hash)
		return 2;
	return CRYPTO_memcmp(md, api->token_hash, sizeof api->token_hash) ? 2 : 0;
}

/* Why url cannot be a recording location, or NULL when it can. */
static const char *
check_url(const char *u, size_t len)
{
	size_t chars = 0;
	const char *rest;

	for (size_t i = 0; i < len; i++)
		chars += ((unsigned char)u[i] & 0xc0) != 0x80;
	if (chars > SCV_API_MAX_URL)
		return "url: longer than " STR(SCV_API_MAX_URL) " characters";
	if (!strncasecmp(u, "https://", 8))
		rest = u + 8;
	else if (!strncasecmp(u, "http://", 7))
		rest = u + 7;
	else
		return "url: expected an http:// or https:// URL";
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f)
			return "url: spaces, control and non-ASCII characters must be "
			       "percent-encoded";
	if (strcspn(rest, "/?#") == 0)
		return "url: no host";
	return NULL;
}

/* POST /v1/calls/{key}/recording, once its body is in and the token checked. */
static void
recording(struct scv_api *api, struct scv_api_conn *c, const struct scv_api_req *q,
          const char *content, const char *key)
{
	const char *why = NULL, *field, *url;
	char msg[256];
	json_error_t jerr;
	json_t *root, *v;
	long duration = -1;
	int rc;

	root = json_loadb(content, (size_t)q->content_length, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(msg, sizeof msg, "body: not valid JSON (line %d, column %d: %s)",
		         jerr.line, jerr.column, jerr.text);
		scv_api_respond_error(c, 400, NULL, msg);
		return;
	}
	if (!json_is_object(root)) {
		why = "body: expected a JSON object";
		goto out_bad;
	}
	for (void *it = json_object_iter(root); it; it = json_object_iter_next(root, it)) {
		field = json_object_iter_key(it);
		if (strcmp(field, "url") && strcmp(field, "duration")) {
			snprintf(msg, sizeof msg, "%.64s: unknown field", field);
			why = msg;
			goto out_bad;
		}
	}
	v = json_object_get(root, "url");
	if (!v) {
		why = "url: required";
		goto out_bad;
	}
	if (!json_is_string(v)) {
		why = "url: expected a string";
		goto out_bad;
	}
	url = json_string_value(v);
	why = check_url(url, json_string_length(v));
	if (why)
		goto out_bad;
	v = json_object_get(root, "duration");
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > INT32_MAX) {
			why = "duration: expected a whole number of seconds, 0 or more";
			goto out_bad;
		}
		duration = (long)json_integer_value(v);
	}

	rc = api->ops.on_recording(key, url, duration, api->arg);
	json_decref(root);
	log_debug(key, "api: recording %s (%ld s): %d", rc == 0 ? "accepted" : "refused", duration,
	          rc);
	if (rc == 0)
		scv_api_respond(c, 202, NULL, "{\"status\":\"accepted\"}");
	else if (rc == -ENOENT)
		scv_api_respond_error(c, 404, NULL, "unknown call");
	else
		scv_api_respond_error(c, 500, NULL, "internal error");
	return;

out_bad:
	scv_api_respond_error(c, 400, NULL, why);
	json_decref(root);
}

/* The vendorCallKey of a recording path, copied into key (SCV_API_MAX_KEY + 1); 1 when path
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
	if (kl == 0 || kl > SCV_API_MAX_KEY)
		return -1;
	for (size_t i = 0; i < kl; i++)
		if (!isalnum((unsigned char)k[i]) && k[i] != '-')
			return -1;
	memcpy(key, k, kl);
	key[kl] = '\0';
	return 1;
}

static const char bad_key[] =
        "vendorCallKey: expected 1 to " STR(SCV_API_MAX_KEY) " characters of A-Z, a-z, 0-9 and -";

/* See api_int.h. */
int
scv_api_route(struct scv_api *api, struct scv_api_conn *c, struct scv_api_req *q,
              const char *content, int body_ready)
{
	const char *m = q->method;
	int get = !strcmp(m, "GET") || !strcmp(m, "HEAD"), auth, k;
	char *path = q->target, key[SCV_API_MAX_KEY + 1];

	path[strcspn(path, "?")] = '\0'; /* the query, if any, is ignored */
	if (api->closing) {
		scv_api_respond_fatal(c, 503, "shutting down");
		return 1;
	}
	if (!strcmp(path, "/livez") || !strcmp(path, "/readyz")) {
		char reason[SCV_API_MAX_REASON + 1] = "", esc[SCV_API_MAX_REASON + 64], body[400];

		if (!get) {
			scv_api_respond_error(c, 405, "Allow: GET, HEAD\r\n", "method not allowed");
			return 1;
		}
		if (!body_ready)
			return 0;
		if (path[1] == 'l') {
			scv_api_respond(c, 200, NULL, "{\"status\":\"ok\"}");
		} else if (!api->ops.ready ||
		           api->ops.ready(reason, sizeof reason, api->arg) == 0) {
			scv_api_respond(c, 200, NULL, "{\"status\":\"ready\"}");
		} else {
			reason[SCV_API_MAX_REASON] = '\0';
			scv_api_json_escape(esc, sizeof esc, reason[0] ? reason : "not ready");
			snprintf(body, sizeof body, "{\"status\":\"degraded\",\"reason\":\"%s\"}",
			         esc);
			scv_api_respond(c, 503, NULL, body);
		}
		return 1;
	}
	k = api->ops.on_recording ? recording_key(path, key) : 0;
	if (k == 0) {
		scv_api_respond_error(c, 404, NULL, "not found");
		return 1;
	}
	if (strcmp(m, "POST")) {
		scv_api_respond_error(c, 405, "Allow: POST\r\n", "method not allowed");
		return 1;
	}
	auth = check_bearer(api, q->authorization);
	if (auth) {
		log_auth_failure(api, auth == 2);
		scv_api_respond_error(c, 401,
		                      auth == 2
		                              ? "WWW-Authenticate: Bearer realm=\"scvbridge\", "
		                                "error=\"invalid_token\"\r\n"
		                              : "WWW-Authenticate: Bearer realm=\"scvbridge\"\r\n",
		                      auth == 2 ? "invalid bearer token" : "bearer token required");
		return 1;
	}
	if (k < 0) {
		scv_api_respond_error(c, 400, NULL, bad_key);
		return 1;
	}
	if (!body_ready)
		return 0;
	recording(api, c, q, content, key);
	return 1;
}
