#include "tests/emulator/table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a: fast and good enough; the emulator's inputs come from tests, not attackers. */
uint64_t
emu_hash(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

struct emu_hnode *
emu_htab_find(const struct emu_htab *t, const void *key, size_t len)
{
	uint64_t h;
	struct emu_hnode *n;

	if (t->nbuckets == 0)
		return NULL;
	h = emu_hash(key, len);
	for (n = t->buckets[h & (t->nbuckets - 1)]; n; n = n->next)
		if (n->hash == h && n->keylen == len && memcmp(n->key, key, len) == 0)
			return n;
	return NULL;
}

static int
grow(struct emu_htab *t)
{
	size_t nb = t->nbuckets ? t->nbuckets * 2 : 64;
	struct emu_hnode **b = calloc(nb, sizeof *b);

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct emu_hnode *n = t->buckets[i], *next;

		for (; n; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
	return 0;
}

int
emu_htab_insert(struct emu_htab *t, struct emu_hnode *node)
{
	struct emu_hnode **slot;

	if (t->count >= t->nbuckets && grow(t) < 0)
		return -ENOMEM;
	node->hash = emu_hash(node->key, node->keylen);
	slot = &t->buckets[node->hash & (t->nbuckets - 1)];
	node->next = *slot;
	*slot = node;
	t->count++;
	return 0;
}

void
emu_htab_remove(struct emu_htab *t, struct emu_hnode *node)
{
	struct emu_hnode **pp;

	if (t->nbuckets == 0)
		return;
	for (pp = &t->buckets[node->hash & (t->nbuckets - 1)]; *pp; pp = &(*pp)->next) {
		if (*pp == node) {
			*pp = node->next;
			node->next = NULL;
			t->count--;
			return;
		}
	}
}

void
emu_htab_free(struct emu_htab *t)
{
	free(t->buckets);
	t->buckets = NULL;
	t->nbuckets = t->count = 0;
}

static void
heap_set(struct emu_heap *h, size_t i, struct emu_heap_node *node)
{
	h->v[i] = node;
	node->idx = i;
}

static void
sift_up(struct emu_heap *h, size_t i)
{
	struct emu_heap_node *node = h->v[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (h->v[parent]->key <= node->key)
			break;
		heap_set(h, i, h->v[parent]);
		i = parent;
	}
	heap_set(h, i, node);
}

static void
sift_down(struct emu_heap *h, size_t i)
{
	struct emu_heap_node *node = h->v[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1]->key < h->v[c]->key)
			c++;
		if (node->key <= h->v[c]->key)
			break;
		heap_set(h, i, h->v[c]);
		i = c;
	}
	heap_set(h, i, node);
}

int
emu_heap_push(struct emu_heap *h, struct emu_heap_node *node)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct emu_heap_node **v = realloc(h->v, cap * sizeof *v);

		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	heap_set(h, h->n++, node);
	sift_up(h, h->n - 1);
	return 0;
}

struct emu_heap_node *
emu_heap_peek(const struct emu_heap *h)
{
	return h->n ? h->v[0] : NULL;
}

void
emu_heap_remove(struct emu_heap *h, struct emu_heap_node *node)
{
	size_t i = node->idx;

	if (i == EMU_HEAP_NONE || i >= h->n || h->v[i] != node)
		return;
	node->idx = EMU_HEAP_NONE;
	h->n--;
	if (i == h->n)
		return;
	heap_set(h, i, h->v[h->n]);
	if (i > 0 && h->v[(i - 1) / 2]->key > h->v[i]->key)
		sift_up(h, i);
	else
		sift_down(h, i);
}

void
emu_heap_free(struct emu_heap *h)
{
	for (size_t i = 0; i < h->n; i++)
		h->v[i]->idx = EMU_HEAP_NONE;
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}
