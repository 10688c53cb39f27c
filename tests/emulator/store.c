#include "tests/emulator/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/emulator/jwt.h"
#include "tests/emulator/util.h"

struct msgid {
	struct emu_hnode hnode;
	struct msgid *next;
	char s[];
};

static struct emu_htab by_id;
static struct emu_htab by_key;
static struct emu_record *first, *last;
static uint64_t next_seq;
static uint64_t id_counter;

static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/*
 * An 18-character id like Salesforce's: key prefix 0LQ, a fixed "5g" standing in for the
 * pod, 10 base-62 digits of a counter, then the 3-character case-safe checksum Salesforce
 * appends to 15-character ids. The counter starts from the wall clock so that ids do not
 * repeat across emulator restarts.
 */
static void
make_id(char out[19])
{
	uint64_t n;

	if (id_counter == 0)
		id_counter = (uint64_t)emu_now_ms() * 1000;
	n = ++id_counter;
	memcpy(out, "0LQ5g", 5);
	for (int i = 14; i >= 5; i--) {
		out[i] = base62[n % 62];
		n /= 62;
	}
	for (int chunk = 0; chunk < 3; chunk++) {
		unsigned flags = 0;

		for (int j = 0; j < 5; j++)
			if (out[chunk * 5 + j] >= 'A' && out[chunk * 5 + j] <= 'Z')
				flags |= 1u << j;
		out[15 + chunk] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[flags];
	}
	out[18] = '\0';
}

const char *
emu_store_state_name(enum emu_state state)
{
	switch (state) {
	case EMU_STATE_NEW:
		return "new";
	case EMU_STATE_IN_PROGRESS:
		return "in-progress";
	case EMU_STATE_COMPLETED:
		return "completed";
	}
	return "?";
}

void
emu_store_enter_state(struct emu_record *rec, enum emu_state state)
{
	if (rec->state == state)
		return;
	emu_log_info("[%s] %s: %s -> %s", rec->key, rec->id, emu_store_state_name(rec->state),
	             emu_store_state_name(state));
	if (state == EMU_STATE_COMPLETED && rec->root->open_legs > 0)
		rec->root->open_legs--;
	rec->state = state;
}

struct emu_record *
emu_store_by_id(const char *org, const char *id)
{
	struct emu_hnode *n = emu_htab_find(&by_id, id, strlen(id));
	struct emu_record *rec;

	if (!n)
		return NULL;
	rec = emu_container_of(n, struct emu_record, by_id);
	return strcmp(rec->org, org) == 0 ? rec : NULL;
}

static char *
scoped(const char *org, const char *key, size_t *ret_len)
{
	size_t ol = strlen(org), kl = strlen(key);
	char *s = malloc(ol + 1 + kl + 1);

	if (!s)
		return NULL;
	memcpy(s, org, ol + 1);
	memcpy(s + ol + 1, key, kl + 1);
	*ret_len = ol + 1 + kl;
	return s;
}

struct emu_record *
emu_store_by_key(const char *org, const char *key)
{
	size_t ol = strlen(org), kl = strlen(key), len = ol + 1 + kl;
	char stack[512], *k = len < sizeof stack ? stack : malloc(len + 1);
	struct emu_hnode *n;

	/* Called on every update, transcript and omniFlow: no malloc for usual key sizes. */
	if (!k)
		return NULL;
	memcpy(k, org, ol + 1);
	memcpy(k + ol + 1, key, kl + 1);
	n = emu_htab_find(&by_key, k, len);
	if (k != stack)
		free(k);
	return n ? emu_container_of(n, struct emu_record, by_key) : NULL;
}

struct emu_record *
emu_store_resolve(const char *org, const char *call_id)
{
	struct emu_record *rec = emu_store_by_id(org, call_id);

	return rec ? rec : emu_store_by_key(org, call_id);
}

static void
list_free(struct emu_list *l)
{
	struct emu_entry *e, *next;

	for (e = l->head; e; e = next) {
		next = e->next;
		free(e->json);
		free(e);
	}
	l->head = l->tail = NULL;
	l->count = 0;
}

static void
record_free(struct emu_record *rec)
{
	struct msgid *m, *next;

	list_free(&rec->updates);
	list_free(&rec->transcripts);
	list_free(&rec->omniflow);
	for (m = rec->msgids; m; m = next) {
		next = m->next;
		free(m);
	}
	emu_htab_free(&rec->message_ids);
	free(rec->org);
	free(rec->cc);
	free(rec->key);
	free(rec->scoped_key);
	free(rec->create_json);
	free(rec);
}

int
emu_store_create(const char *org, const char *cc, const char *key, struct emu_record *parent,
                 const char *create_json, int64_t start_ms, int64_t now_ms,
                 struct emu_record **ret_rec)
{
	struct emu_record *rec = calloc(1, sizeof *rec);
	struct emu_hnode *older;

	if (!rec)
		return -ENOMEM;
	rec->org = strdup(org);
	rec->cc = strdup(cc);
	rec->key = strdup(key);
	rec->create_json = strdup(create_json);
	rec->scoped_key = scoped(org, key, &rec->by_key.keylen);
	if (!rec->org || !rec->cc || !rec->key || !rec->create_json || !rec->scoped_key)
		goto out_free;
	make_id(rec->id);
	rec->by_id.key = rec->id;
	rec->by_id.keylen = 18;
	rec->by_key.key = rec->scoped_key;
	rec->parent = parent;
	rec->root = parent ? parent->root : rec;
	rec->state = EMU_STATE_NEW;
	rec->created_at = now_ms;
	rec->start_ms = start_ms;
	rec->end_ms = -1;
	rec->conv_end_ms = -1;
	rec->seq = next_seq++;

	if (emu_htab_insert(&by_id, &rec->by_id) < 0)
		goto out_free;
	/* The key table holds the latest record per key; older ones stay chained behind it. */
	older = emu_htab_find(&by_key, rec->scoped_key, rec->by_key.keylen);
	if (older) {
		rec->older_same_key = emu_container_of(older, struct emu_record, by_key);
		emu_htab_remove(&by_key, older);
	}
	if (emu_htab_insert(&by_key, &rec->by_key) < 0) {
		if (older)
			(void)emu_htab_insert(&by_key, older); /* reuses the freed slot's room */
		emu_htab_remove(&by_id, &rec->by_id);
		goto out_free;
	}
	rec->root->open_legs++;
	if (last)
		last->next = rec;
	else
		first = rec;
	last = rec;
	*ret_rec = rec;
	return 0;
out_free:
	record_free(rec);
	return -ENOMEM;
}

int
emu_store_append(struct emu_list *list, int64_t at, json_t *body)
{
	struct emu_entry *e = malloc(sizeof *e);

	if (!e)
		return -ENOMEM;
	e->next = NULL;
	e->at = at;
	e->json = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!e->json) {
		free(e);
		return -ENOMEM;
	}
	if (list->tail)
		list->tail->next = e;
	else
		list->head = e;
	list->tail = e;
	list->count++;
	return 0;
}

int
emu_store_message_id(struct emu_record *root, const char *message_id)
{
	size_t len = strlen(message_id);
	struct msgid *m;

	if (emu_htab_find(&root->message_ids, message_id, len))
		return 1;
	m = malloc(sizeof *m + len + 1);
	if (!m)
		return -ENOMEM;
	memcpy(m->s, message_id, len + 1);
	m->hnode.key = m->s;
	m->hnode.keylen = len;
	if (emu_htab_insert(&root->message_ids, &m->hnode) < 0) {
		free(m);
		return -ENOMEM;
	}
	m->next = root->msgids;
	root->msgids = m;
	return 0;
}

static json_t *
load(const char *text)
{
	json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);

	return j ? j : json_null();
}

static json_t *
list_dump(const struct emu_list *l, bool with_time)
{
	json_t *arr = json_array();

	for (const struct emu_entry *e = l->head; e; e = e->next) {
		if (with_time)
			json_array_append_new(arr,
			                      json_pack("{s:I, s:o}", "receivedAt",
			                                (json_int_t)e->at, "body", load(e->json)));
		else
			json_array_append_new(arr, load(e->json));
	}
	return arr;
}

static json_t *
record_dump(const struct emu_record *rec)
{
	json_t *j = json_object();

	json_object_set_new(j, "voiceCallId", json_string(rec->id));
	json_object_set_new(j, "vendorCallKey", json_string(rec->key));
	json_object_set_new(j, "callCenterApiName", json_string(rec->cc));
	json_object_set_new(j, "orgId", json_string(rec->org));
	json_object_set_new(j, "parentVoiceCallId",
	                    rec->parent ? json_string(rec->parent->id) : json_null());
	json_object_set_new(j, "state", json_string(emu_store_state_name(rec->state)));
	json_object_set_new(j, "create", load(rec->create_json));
	json_object_set_new(j, "createdAt", json_integer(rec->created_at));
	json_object_set_new(j, "duplicateCreates", json_integer(rec->duplicate_creates));
	json_object_set_new(j, "updates", list_dump(&rec->updates, true));
	json_object_set_new(j, "updatesAfterClose", json_integer(rec->updates_after_close));
	json_object_set_new(j, "transcripts", list_dump(&rec->transcripts, true));
	json_object_set_new(j, "duplicateMessages", json_integer(rec->duplicate_messages));
	json_object_set_new(j, "omniFlow", list_dump(&rec->omniflow, false));
	json_object_set_new(j, "clearRouting", json_integer(rec->clear_routing));
	return j;
}

static int
by_seq(const void *a, const void *b)
{
	const struct emu_record *ra = *(const struct emu_record *const *)a;
	const struct emu_record *rb = *(const struct emu_record *const *)b;

	return ra->seq < rb->seq ? -1 : ra->seq > rb->seq;
}

/* The records with vendorCallKey key, in every org, in creation order. */
static json_t *
dump_key(const char *key)
{
	struct emu_record **found = NULL, **grown;
	size_t n = 0, cap = 0;
	json_t *arr = json_array();

	for (size_t i = 0; i < emu_jwt_cc_count(); i++) {
		const char *org = emu_jwt_cc_at(i)->org;
		bool seen = false;

		for (size_t j = 0; j < i; j++)
			seen = seen || strcmp(emu_jwt_cc_at(j)->org, org) == 0;
		if (seen)
			continue;
		for (struct emu_record *r = emu_store_by_key(org, key); r; r = r->older_same_key) {
			if (n == cap) {
				cap = cap ? cap * 2 : 8;
				grown = realloc(found, cap * sizeof *found);
				if (!grown)
					goto out;
				found = grown;
			}
			found[n++] = r;
		}
	}
	if (n > 1)
		qsort(found, n, sizeof *found, by_seq);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, record_dump(found[i]));
out:
	free(found);
	return arr;
}

json_t *
emu_store_dump(const char *key)
{
	json_t *arr;

	if (key)
		return dump_key(key);
	arr = json_array();
	for (const struct emu_record *r = first; r; r = r->next)
		json_array_append_new(arr, record_dump(r));
	return arr;
}

void
emu_store_reset(void)
{
	struct emu_record *r, *next;

	for (r = first; r; r = next) {
		next = r->next;
		record_free(r);
	}
	first = last = NULL;
	emu_htab_free(&by_id);
	emu_htab_free(&by_key);
}

void
emu_store_free(void)
{
	emu_store_reset();
}
