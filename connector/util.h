/*
 * Small helpers every module uses, header-only and free of library types (like log.h, it may
 * be included from sip/ and scv/ as well as connector/).
 */
#ifndef SCVB_UTIL_H
#define SCVB_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The struct that holds member at p. */
#define container_of(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))

/* FNV-1a of a NUL-terminated string: for hash tables keyed by call keys and ids. */
static inline uint64_t
util_hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

/* Wall-clock time (CLOCK_REALTIME), as Salesforce's timestamps want it. */
static inline int64_t
util_realtime_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int64_t
util_realtime_ms(void)
{
	return util_realtime_us() / 1000;
}

#endif
