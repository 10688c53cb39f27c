/*
 * Intrusive containers, so that per-request work stays O(1) or O(log n):
 *
 *  - emu_htab: a chained hash table keyed by byte strings. Nodes live inside their owners
 *    (records, jtis, omniFlow entries); the table never allocates or frees an owner.
 *  - emu_heap: a binary min-heap of nodes keyed by int64 (deadlines, expiries). Each node
 *    knows its index, so removing an arbitrary node is O(log n).
 */
#ifndef EMU_TABLE_H
#define EMU_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define emu_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

struct emu_hnode {
	struct emu_hnode *next;
	uint64_t hash;
	const char *key; /* owned by the node's owner; bytes, not necessarily NUL-terminated */
	size_t keylen;
};

struct emu_htab {
	struct emu_hnode **buckets;
	size_t nbuckets; /* a power of two, or 0 before the first insert */
	size_t count;
};

uint64_t emu_hash(const void *key, size_t len);

/* The node whose key equals (key, len), or NULL. */
struct emu_hnode *emu_htab_find(const struct emu_htab *t, const void *key, size_t len);
/* Inserts node (whose key/keylen the caller set); duplicates are allowed. 0 or -ENOMEM. */
int emu_htab_insert(struct emu_htab *t, struct emu_hnode *node);
void emu_htab_remove(struct emu_htab *t, struct emu_hnode *node);
/* Frees the bucket array only; owners free their nodes. */
void emu_htab_free(struct emu_htab *t);

#define EMU_HEAP_NONE ((size_t)-1)

struct emu_heap_node {
	int64_t key;
	size_t idx; /* EMU_HEAP_NONE when not in a heap */
};

struct emu_heap {
	struct emu_heap_node **v;
	size_t n;
	size_t cap;
};

int emu_heap_push(struct emu_heap *h, struct emu_heap_node *node);
/* The smallest node, or NULL when empty. */
struct emu_heap_node *emu_heap_peek(const struct emu_heap *h);
void emu_heap_remove(struct emu_heap *h, struct emu_heap_node *node);
void emu_heap_free(struct emu_heap *h);

static inline bool
emu_heap_contains(const struct emu_heap_node *node)
{
	return node->idx != EMU_HEAP_NONE;
}

#endif
