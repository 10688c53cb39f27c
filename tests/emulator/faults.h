/*
 * Fault injection for API requests (everything but /emulator/...), set by
 * POST /emulator/faults. The first active fault whose match fits a request applies to it and
 * uses up one of its count; spent faults disappear.
 *
 * match: "METHOD PATH", "METHOD" or "PATH"; PATH is relative to /telephony/v1 (a leading
 * /telephony/v1 is accepted and ignored), matched as a prefix that ends at a segment
 * boundary, where '*' stands for one path segment and a final '$' asks for the whole path.
 * E.g. "POST /voiceCalls$" is create only; "PATCH /voiceCalls/ * /omniFlow" (without the
 * spaces) is any omniFlow call.
 */
#ifndef EMU_FAULTS_H
#define EMU_FAULTS_H

#include <jansson.h>
#include <stddef.h>

#include "tests/emulator/app.h"

struct emu_fault_action {
	int id;
	int status;      /* 0: answer normally */
	int retry_after; /* seconds, or -1 */
	int latency_ms;
	enum emu_drop drop;
};

/* Adds a fault from its JSON spec. 0 with *ret_id, or -EINVAL with the reason in err. */
int emu_faults_add(json_t *spec, int *ret_id, char *err, size_t errlen);
/* 1 with *ret filled when a fault applies to (method, path) (and is consumed), else 0. */
int emu_faults_take(const char *method, const char *path, struct emu_fault_action *ret);
json_t *emu_faults_dump(void);
void emu_faults_reset(void);

#endif
