/*
 * The boundary between the network side (server.c) and what the emulator answers: the server
 * hands each complete request to emu_app_handle() and renders the reply it gets back.
 */
#ifndef EMU_APP_H
#define EMU_APP_H

#include <jansson.h>
#include <stdbool.h>

#include "tests/emulator/http.h"

enum emu_drop {
	EMU_DROP_NONE = 0,
	EMU_DROP_BEFORE, /* close without answering; the request was not processed */
	EMU_DROP_AFTER,  /* close without answering; the request was processed */
};

struct emu_reply {
	int status;
	char *body;      /* malloc'd JSON text, owned by the reply; NULL means "{}" */
	int retry_after; /* seconds for a Retry-After header, or -1 */
	int latency_ms;  /* hold the answer (or the drop) this long; other connections go on */
	enum emu_drop drop;
	bool close; /* close the connection after answering */
};

/* Fills reply for req (whose body is complete). now_ms: the wall clock at receipt. */
void emu_app_handle(const struct emu_req *req, int64_t now_ms, struct emu_reply *reply);

/* Helpers for handlers. set_json takes ownership of j (and frees it). */
void emu_reply_json(struct emu_reply *reply, int status, json_t *j);
/* {"errors":[{"errorCode":code,"message":...}]} */
void emu_reply_error(struct emu_reply *reply, int status, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
void emu_reply_clear(struct emu_reply *reply);

#endif
