/*
 * Logging: one line per event on stderr (systemd/journald friendly), with a level, the
 * call's vendorCallKey where there is one, and never a secret. Safe from any thread: each
 * line is formatted into a buffer and written with a single write(2).
 */
#ifndef SCVB_LOG_H
#define SCVB_LOG_H

enum log_level {
	LOG_LVL_ERR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error", "warn", "info", "debug"; 0 or -EINVAL. */
int log_level_parse(const char *name, enum log_level *ret_level);

/* key: the call's vendorCallKey, or NULL. */
void log_msg(enum log_level level, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#define log_err(key, ...)  log_msg(LOG_LVL_ERR, key, __VA_ARGS__)
#define log_warn(key, ...) log_msg(LOG_LVL_WARN, key, __VA_ARGS__)
#define log_info(key, ...) log_msg(LOG_LVL_INFO, key, __VA_ARGS__)
#define log_debug(key, ...)                                                                        \
	do {                                                                                       \
		if (log_get_level() >= LOG_LVL_DEBUG)                                              \
			log_msg(LOG_LVL_DEBUG, key, __VA_ARGS__);                                  \
	} while (0)

#endif
