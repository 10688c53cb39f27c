#include "tests/emulator/reqlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/emulator/util.h"

struct logged {
	char *method;
	char *path;
	char *provider;     /* NULL when absent */
	char *content_type; /* NULL when absent */
	int status;
	bool dropped;
	int fault_id;
	int64_t at;
	struct emu_claims claims;
};

struct emu_stats emu_stats;

static struct logged ring[EMU_REQLOG_SIZE];
static size_t ring_next;  /* where the next entry goes */
static size_t ring_count; /* live entries, up to EMU_REQLOG_SIZE */

static void
logged_clear(struct logged *l)
{
	free(l->method);
	free(l->path);
	free(l->provider);
	free(l->content_type);
	memset(l, 0, sizeof *l);
}

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

void
emu_reqlog_add(const struct emu_req *req, int status, int64_t at, const struct emu_claims *claims,
               bool dropped, int fault_id)
{
	struct logged *l = &ring[ring_next];
	size_t plen = strlen(req->path), qlen = strlen(req->query);

	emu_stats.requests++;
	if (status >= 100 && status < 600)
		emu_stats.by_status[status]++;

	logged_clear(l);
	l->method = strdup(req->method);
	l->path = malloc(plen + (qlen ? qlen + 1 : 0) + 1);
	if (l->path) {
		memcpy(l->path, req->path, plen + 1);
		if (qlen) {
			l->path[plen] = '?';
			memcpy(l->path + plen + 1, req->query, qlen + 1);
		}
	}
	l->provider = dup_or_null(req->provider);
	l->content_type = dup_or_null(req->content_type);
	l->status = status;
	l->dropped = dropped;
	l->fault_id = fault_id;
	l->at = at;
	if (claims)
		l->claims = *claims;
	ring_next = (ring_next + 1) % EMU_REQLOG_SIZE;
	if (ring_count < EMU_REQLOG_SIZE)
		ring_count++;

	emu_log_info("%s %s%s%s -> %d%s", req->method, req->path, qlen ? "?" : "", req->query,
	             status, dropped ? " (dropped)" : "");
}

static json_t *
str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *
logged_dump(const struct logged *l)
{
	json_t *j = json_object(), *headers = json_object(), *jwt;

	json_object_set_new(j, "method", str_or_null(l->method));
	json_object_set_new(j, "path", str_or_null(l->path));
	json_object_set_new(j, "status", json_integer(l->status));
	json_object_set_new(j, "dropped", json_boolean(l->dropped));
	json_object_set_new(j, "fault", l->fault_id ? json_integer(l->fault_id) : json_null());
	json_object_set_new(j, "receivedAt", json_integer(l->at));
	json_object_set_new(headers, "telephony-provider-name", str_or_null(l->provider));
	json_object_set_new(headers, "content-type", str_or_null(l->content_type));
	json_object_set_new(j, "headers", headers);
	if (l->claims.decoded) {
		jwt = json_object();
		json_object_set_new(jwt, "iss",
		                    l->claims.has_iss ? json_string(l->claims.iss) : json_null());
		json_object_set_new(jwt, "sub",
		                    l->claims.has_sub ? json_string(l->claims.sub) : json_null());
		json_object_set_new(jwt, "jti",
		                    l->claims.has_jti ? json_string(l->claims.jti) : json_null());
	} else {
		jwt = json_null();
	}
	json_object_set_new(j, "jwt", jwt);
	return j;
}

json_t *
emu_reqlog_dump(size_t limit)
{
	json_t *arr = json_array();
	size_t n = limit < ring_count ? limit : ring_count;
	size_t start = (ring_next + EMU_REQLOG_SIZE - n) % EMU_REQLOG_SIZE;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, logged_dump(&ring[(start + i) % EMU_REQLOG_SIZE]));
	return arr;
}

json_t *
emu_stats_dump(uint64_t connections, uint64_t open_connections)
{
	json_t *j = json_object(), *by = json_object();
	char code[16];

	for (int s = 100; s < 600; s++) {
		if (!emu_stats.by_status[s])
			continue;
		snprintf(code, sizeof code, "%d", s);
		json_object_set_new(by, code, json_integer((json_int_t)emu_stats.by_status[s]));
	}
#define STAT(name, field) json_object_set_new(j, name, json_integer((json_int_t)(field)))
	STAT("requests", emu_stats.requests);
	json_object_set_new(j, "byStatus", by);
	STAT("creates", emu_stats.creates);
	STAT("duplicateCreates", emu_stats.duplicate_creates);
	STAT("updates", emu_stats.updates);
	STAT("updatesAfterClose", emu_stats.updates_after_close);
	STAT("transcripts", emu_stats.transcripts);
	STAT("duplicateMessages", emu_stats.duplicate_messages);
	STAT("omniFlows", emu_stats.omniflows);
	STAT("clearRoutings", emu_stats.clear_routings);
	STAT("authFailures", emu_stats.auth_failures);
	STAT("faultsInjected", emu_stats.faults_injected);
	STAT("connections", connections);
	STAT("openConnections", open_connections);
#undef STAT
	return j;
}

void
emu_reqlog_reset(void)
{
	for (size_t i = 0; i < EMU_REQLOG_SIZE; i++)
		logged_clear(&ring[i]);
	ring_next = ring_count = 0;
	memset(&emu_stats, 0, sizeof emu_stats);
}

void
emu_reqlog_free(void)
{
	emu_reqlog_reset();
}
