/*
 * For the store's unit tests: the ids of the pending operations on disk, in order.
 */
#ifndef SCVB_TEST_PENDING_IDS_H
#define SCVB_TEST_PENDING_IDS_H

#include <stddef.h>
#include <stdint.h>

#include "connector/store.h"

/* Loads every pending op (ids in *ids, at most cap); returns how many, -1 on error. */
static inline long
pending_ids(struct store *st, int64_t *ids, size_t cap)
{
	struct store_op ops[64];
	size_t n = 0, total = 0;
	int64_t after = 0;

	do {
		if (store_load_ops(st, after, 64, ops, &n) < 0)
			return -1;
		for (size_t i = 0; i < n; i++) {
			if (total < cap)
				ids[total] = ops[i].id;
			total++;
			after = ops[i].id;
			store_op_clear(&ops[i]);
		}
	} while (n == 64);
	return (long)total;
}

#endif
