/*
 * What PATCH /voiceCalls/{CALL ID}/omniFlow answers, per dialed number, as set by
 * POST /emulator/omniFlow. Unconfigured numbers get 200 {}.
 */
#ifndef EMU_OMNIFLOW_H
#define EMU_OMNIFLOW_H

#include <jansson.h>

struct emu_omniflow_answer {
	int status;
	int latency_ms;
	const char *json; /* owned by the table; valid until the next set/reset */
};

/* Sets (or replaces) the answer for dialed; response is serialized. 0 or -ENOMEM. */
int emu_omniflow_set(const char *dialed, json_t *response, int status, int latency_ms);
/* 0 with *ret filled, or -ENOENT. */
int emu_omniflow_get(const char *dialed, struct emu_omniflow_answer *ret);
void emu_omniflow_reset(void);

#endif
