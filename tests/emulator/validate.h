/*
 * Field-by-field validation of JSON request bodies against a declared table, collecting every
 * problem (Salesforce answers with a list of errors, so the emulator names each bad field).
 */
#ifndef EMU_VALIDATE_H
#define EMU_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum emu_ftype {
	EMU_F_STRING,       /* any string */
	EMU_F_NONEMPTY,     /* a non-empty string */
	EMU_F_ISO,          /* ISO-8601 UTC date-time string */
	EMU_F_ISO_OR_EMPTY, /* the same, or "" (acceptTime) */
	EMU_F_UINT32,       /* a JSON integer in 0 .. 2^31-1 (Salesforce int32) */
	EMU_F_MS,           /* a JSON integer in 0 .. 2^53 (ms since the epoch) */
	EMU_F_BOOL,
	EMU_F_JSON_OBJ_STRING, /* a string whose text is a JSON object (callAttributes) */
	EMU_F_OBJ_OR_STRING,   /* flowInputParameters */
	EMU_F_ARRAY,
	EMU_F_OBJECT,
	EMU_F_ENUM, /* one of `values` */
};

struct emu_field {
	const char *name;
	enum emu_ftype type;
	bool required;
	size_t max_chars;          /* strings: 0 = unbounded */
	const char *const *values; /* EMU_F_ENUM: NULL-terminated */
};

/*
 * Checks obj (a JSON object) against fields[0..n): unknown members, types, lengths, enums and
 * required members. Each problem is appended to errs (a JSON array) as
 * {"errorCode":"INVALID_FIELD","field":"<prefix><name>","message":...}.
 * Returns the number of problems found.
 */
size_t emu_validate(json_t *obj, const struct emu_field *fields, size_t n, const char *prefix,
                    json_t *errs);

/* Appends {"errorCode":code,"field":field (omitted when NULL),"message":...} to errs. */
void emu_err_add(json_t *errs, const char *code, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/*
 * Parses an ISO-8601 UTC date-time: YYYY-MM-DDTHH:MM:SS, optional .fraction (1-9 digits),
 * then Z or +00:00. 0 with *ret_ms, or -EINVAL.
 */
int emu_iso8601_parse(const char *s, int64_t *ret_ms);

/* Number of UTF-8 code points in s (jansson strings are valid UTF-8). */
size_t emu_utf8_len(const char *s);

#endif
