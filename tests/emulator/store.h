/*
 * The VoiceCall records the emulator holds, looked up in O(1) by voiceCallId and by
 * vendorCallKey. Records are scoped to an org: a token from another org never sees them.
 * Everything here lives until emu_store_reset() or emu_store_free().
 */
#ifndef EMU_STORE_H
#define EMU_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/emulator/table.h"

enum emu_state {
	EMU_STATE_NEW = 0,
	EMU_STATE_IN_PROGRESS,
	EMU_STATE_COMPLETED,
};

/* One stored request body (an update, a transcript message, an omniFlow call). */
struct emu_entry {
	struct emu_entry *next;
	int64_t at; /* receive time, ms since the epoch */
	char *json; /* compact JSON text */
};

struct emu_list {
	struct emu_entry *head;
	struct emu_entry *tail;
	size_t count;
};

struct emu_record {
	char id[19];
	char *org;
	char *cc;
	char *key;
	struct emu_record *parent; /* resolved parentVoiceCallId, or NULL */
	struct emu_record *root;   /* first record of the conversation (itself if no parent) */
	enum emu_state state;
	char *create_json;
	int64_t created_at;
	int64_t start_ms; /* the create's startTime */
	int64_t end_ms;   /* the latest endTime given in an update, or -1 */
	unsigned duplicate_creates;
	unsigned updates_after_close;
	unsigned clear_routing;
	unsigned duplicate_messages;
	struct emu_list updates;
	struct emu_list transcripts; /* on the conversation's root */
	struct emu_list omniflow;
	/* The conversation, kept on the root: legs not completed yet, latest endTime. */
	unsigned open_legs;
	int64_t conv_end_ms;

	/* Private to store.c. */
	uint64_t seq;
	struct emu_hnode by_id;
	struct emu_hnode by_key;
	char *scoped_key; /* org '\0' vendorCallKey */
	struct emu_record *older_same_key;
	struct emu_record *next;
	struct emu_htab message_ids;
	struct msgid *msgids;
};

/* A record of org by voiceCallId, or NULL. */
struct emu_record *emu_store_by_id(const char *org, const char *id);
/* The latest record of org with this vendorCallKey, or NULL. */
struct emu_record *emu_store_by_key(const char *org, const char *key);
/* {CALL ID}: voiceCallId first, then vendorCallKey. */
struct emu_record *emu_store_resolve(const char *org, const char *call_id);

/* Creates a record. create_json is copied. 0 with *ret_rec, or -ENOMEM. */
int emu_store_create(const char *org, const char *cc, const char *key, struct emu_record *parent,
                     const char *create_json, int64_t start_ms, int64_t now_ms,
                     struct emu_record **ret_rec);

/* Appends body (serialized compactly) received at `at`. 0 or -ENOMEM. */
int emu_store_append(struct emu_list *list, int64_t at, json_t *body);

/* The conversation root's message id set: 1 if seen already, 0 if added, or -ENOMEM. */
int emu_store_message_id(struct emu_record *root, const char *message_id);

void emu_store_enter_state(struct emu_record *rec, enum emu_state state);
const char *emu_store_state_name(enum emu_state state);

/* Every record in creation order, or only those with vendorCallKey key (when not NULL). */
json_t *emu_store_dump(const char *key);

void emu_store_reset(void);
void emu_store_free(void);

#endif
