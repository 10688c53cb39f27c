/*
 * Counters and the ring of the last EMU_REQLOG_SIZE API requests, for GET /emulator/stats
 * and GET /emulator/requests. Control requests (/emulator/...) are neither counted nor kept.
 * The Authorization header is never stored; only the token's iss, sub and jti.
 */
#ifndef EMU_REQLOG_H
#define EMU_REQLOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "tests/emulator/http.h"
#include "tests/emulator/jwt.h"

#define EMU_REQLOG_SIZE 1000

struct emu_stats {
	uint64_t requests;
	uint64_t by_status[600];
	uint64_t creates;
	uint64_t duplicate_creates;
	uint64_t updates;
	uint64_t updates_after_close;
	uint64_t transcripts;
	uint64_t duplicate_messages;
	uint64_t omniflows;
	uint64_t clear_routings;
	uint64_t faults_injected;
	uint64_t auth_failures;
};

extern struct emu_stats emu_stats;

/*
 * Counts and logs one API request. status 0 = answered by nothing (dropped before);
 * dropped = the connection was closed instead of answering; fault_id 0 = no fault.
 */
void emu_reqlog_add(const struct emu_req *req, int status, int64_t at,
                    const struct emu_claims *claims, bool dropped, int fault_id);

/* The last `limit` requests, oldest first. */
json_t *emu_reqlog_dump(size_t limit);
/* Stats plus the connection counters given by the server. */
json_t *emu_stats_dump(uint64_t connections, uint64_t open_connections);

void emu_reqlog_reset(void);
void emu_reqlog_free(void);

#endif
