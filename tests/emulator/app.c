/*
 * Dispatch of one complete request: control API, fault injection, authentication, then the
 * Telephony Integration API. Every API request is counted and logged (reqlog.c).
 */
#include "tests/emulator/app.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tests/emulator/api.h"
#include "tests/emulator/control.h"
#include "tests/emulator/faults.h"
#include "tests/emulator/jwt.h"
#include "tests/emulator/reqlog.h"
#include "tests/emulator/util.h"

#define API_PREFIX "/telephony/v1"

void
emu_reply_json(struct emu_reply *reply, int status, json_t *j)
{
	free(reply->body);
	reply->status = status;
	reply->body = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	json_decref(j);
}

void
emu_reply_error(struct emu_reply *reply, int status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	emu_reply_json(reply, status,
	               json_pack("{s:[{s:s, s:s}]}", "errors", "errorCode", code, "message", msg));
}

void
emu_reply_clear(struct emu_reply *reply)
{
	free(reply->body);
	reply->body = NULL;
}

/* application/json, with or without parameters such as charset. */
static bool
is_json(const char *content_type)
{
	size_t n = strlen("application/json");

	if (!content_type || strncasecmp(content_type, "application/json", n) != 0)
		return false;
	return content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ';
}

static void
fault_reply(struct emu_reply *reply, const struct emu_fault_action *fa)
{
	char msg[64];

	snprintf(msg, sizeof msg, "injected fault %d", fa->id);
	reply->retry_after = fa->retry_after;
	/* 429 carries the shape Salesforce's own tests mock (§5.1). */
	if (fa->status == 429)
		emu_reply_json(reply, 429,
		               json_pack("{s:s, s:s}", "code", "RATE_LIMITED", "message", msg));
	else
		emu_reply_json(
		        reply, fa->status,
		        json_pack("{s:s, s:s}", "errorCode", "INJECTED_FAULT", "message", msg));
}

static void
api_request(const struct emu_req *req, int64_t now_ms, struct emu_reply *reply,
            struct emu_claims *claims)
{
	const struct emu_cc *cc;
	char why[256];

	if (strncmp(req->path, API_PREFIX, strlen(API_PREFIX)) != 0 ||
	    (req->path[strlen(API_PREFIX)] != '/' && req->path[strlen(API_PREFIX)] != '\0')) {
		emu_reply_error(reply, 404, "NOT_FOUND", "no resource %s %s", req->method,
		                req->path);
		return;
	}
	if (emu_jwt_check(req->authorization, now_ms, &cc, claims, why, sizeof why) < 0) {
		emu_stats.auth_failures++;
		emu_log_info("401 %s %s: %s", req->method, req->path, why);
		emu_reply_json(
		        reply, 401,
		        json_pack("{s:s, s:s}", "errorCode", "INVALID_AUTH", "message", why));
		return;
	}
	if (req->body_len > 0 && !is_json(req->content_type)) {
		emu_reply_error(reply, 415, "UNSUPPORTED_MEDIA_TYPE",
		                "Content-Type must be application/json");
		return;
	}
	emu_api_handle(req, req->path + strlen(API_PREFIX), cc, now_ms, reply);
}

void
emu_app_handle(const struct emu_req *req, int64_t now_ms, struct emu_reply *reply)
{
	struct emu_fault_action fa;
	struct emu_claims claims;
	int faulted;

	memset(reply, 0, sizeof *reply);
	memset(&claims, 0, sizeof claims);
	reply->status = 200;
	reply->retry_after = -1;

	if (strncmp(req->path, "/emulator/", 10) == 0) {
		emu_control_handle(req, reply);
		emu_log_info("control %s %s -> %d", req->method, req->path, reply->status);
		return;
	}

	faulted = emu_faults_take(req->method, req->path, &fa);
	if (faulted) {
		emu_stats.faults_injected++;
		if (fa.drop == EMU_DROP_BEFORE) {
			reply->latency_ms = fa.latency_ms;
			reply->drop = EMU_DROP_BEFORE;
			emu_reqlog_add(req, 0, now_ms, NULL, true, fa.id);
			return;
		}
		/* A faulted status is answered before authentication and records nothing. */
		if (fa.status) {
			reply->latency_ms = fa.latency_ms;
			fault_reply(reply, &fa);
			emu_reqlog_add(req, reply->status, now_ms, NULL, false, fa.id);
			return;
		}
	}
	api_request(req, now_ms, reply, &claims);
	if (faulted) {
		reply->latency_ms += fa.latency_ms;
		if (fa.drop == EMU_DROP_AFTER)
			reply->drop = EMU_DROP_AFTER;
	}
	emu_reqlog_add(req, reply->status, now_ms, &claims, reply->drop != EMU_DROP_NONE,
	               faulted ? fa.id : 0);
}
