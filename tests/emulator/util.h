/*
 * Small helpers shared by the emulator's files: logging to stderr, clocks and a growable
 * byte buffer.
 */
#ifndef EMU_UTIL_H
#define EMU_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Errors are always printed; info lines (requests, start-up) only when enabled. */
void emu_log_set_verbose(bool on);
bool emu_log_verbose(void);
void emu_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void emu_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Wall clock (what records carry) and monotonic clock (what timers use), in ms. */
int64_t emu_now_ms(void);
int64_t emu_mono_ms(void);

/*
 * A byte buffer with a read offset: bytes [off, len) are live. Consuming from the front only
 * moves `off`; the space is reclaimed by emu_buf_compact() or the next reserve.
 */
struct emu_buf {
	char *data;
	size_t off;
	size_t len;
	size_t cap;
};

static inline size_t
emu_buf_avail(const struct emu_buf *b)
{
	return b->len - b->off;
}

static inline char *
emu_buf_head(const struct emu_buf *b)
{
	return b->data + b->off;
}

/* Makes room for `extra` more bytes after len. 0 or -ENOMEM. */
int emu_buf_reserve(struct emu_buf *b, size_t extra);
int emu_buf_append(struct emu_buf *b, const void *p, size_t n);
int emu_buf_printf(struct emu_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void emu_buf_consume(struct emu_buf *b, size_t n);
void emu_buf_compact(struct emu_buf *b);
void emu_buf_free(struct emu_buf *b);

/* strdup that aborts on failure is avoided: returns NULL on ENOMEM like strdup. */
char *emu_strndup(const char *s, size_t n);

#endif
