/*
 * The Telephony Integration REST API under /telephony/v1 (reference §3-§4): create and update
 * VoiceCalls, omniFlow and clearRouting. Transcripts are in transcript.c.
 */
#ifndef EMU_API_H
#define EMU_API_H

#include <jansson.h>
#include <stdint.h>

#include "tests/emulator/app.h"
#include "tests/emulator/jwt.h"

/*
 * Handles an authenticated request; subpath is the raw path after /telephony/v1. The body
 * (when there is one) has already been checked to be declared application/json.
 */
void emu_api_handle(const struct emu_req *req, const char *subpath, const struct emu_cc *cc,
                    int64_t now_ms, struct emu_reply *reply);

/*
 * Parses the body as a JSON object for a handler. NULL after having answered 400 (not JSON,
 * not an object, or empty).
 */
json_t *emu_api_body_object(const struct emu_req *req, struct emu_reply *reply);

/* Answers 400 {"errors": errs} (takes ownership of errs). */
void emu_api_reply_invalid(struct emu_reply *reply, json_t *errs);

/* transcript.c */
void emu_api_transcript(const struct emu_req *req, const char *key, const struct emu_cc *cc,
                        int64_t now_ms, struct emu_reply *reply);
void emu_api_transcripts_bulk(const struct emu_req *req, const struct emu_cc *cc, int64_t now_ms,
                              struct emu_reply *reply);

#endif
