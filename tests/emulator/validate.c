#include "tests/emulator/validate.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
emu_err_add(json_t *errs, const char *code, const char *field, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *e;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	e = json_pack("{s:s, s:s}", "errorCode", code, "message", msg);
	if (!e)
		return;
	if (field)
		json_object_set_new(e, "field", json_string(field));
	json_array_append_new(errs, e);
}

size_t
emu_utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static bool
digits(const char *s, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t
days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
emu_iso8601_parse(const char *s, int64_t *ret_ms)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec, ms = 0;
	const char *p;

	if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
	    s[7] != '-' || !digits(s + 8, 2, &d) || s[10] != 'T' || !digits(s + 11, 2, &h) ||
	    s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return -EINVAL;
	p = s + 19;
	if (*p == '.') {
		int nd = 0;

		for (p++; *p >= '0' && *p <= '9'; p++, nd++)
			if (nd < 3)
				ms = ms * 10 + (*p - '0');
		if (nd == 0 || nd > 9)
			return -EINVAL;
		for (; nd < 3; nd++)
			ms *= 10;
	}
	if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
		return -EINVAL;
	if (sec == 60)
		sec = 59; /* a leap second: close enough for an emulator */
	*ret_ms =
	        ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + (int64_t)sec * 1000 + ms;
	return 0;
}

static const struct emu_field *
find_field(const struct emu_field *fields, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(fields[i].name, name) == 0)
			return &fields[i];
	return NULL;
}

static bool
in_enum(const char *v, const char *const *values)
{
	for (; *values; values++)
		if (strcmp(v, *values) == 0)
			return true;
	return false;
}

static void
list_enum(char *buf, size_t len, const char *const *values)
{
	size_t used = 0;

	buf[0] = '\0';
	for (; *values && used < len; values++) {
		int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", *values);

		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* NULL when v suits f, else a static description of what was expected. */
static const char *
check_value(const struct emu_field *f, json_t *v)
{
	int64_t ms;
	json_t *inner;
	bool ok;

	switch (f->type) {
	case EMU_F_STRING:
	case EMU_F_NONEMPTY:
	case EMU_F_ENUM:
		if (!json_is_string(v))
			return "must be a string";
		if (f->type == EMU_F_NONEMPTY && json_string_length(v) == 0)
			return "must not be empty";
		if (f->max_chars && emu_utf8_len(json_string_value(v)) > f->max_chars)
			return "is too long";
		if (f->type == EMU_F_ENUM && !in_enum(json_string_value(v), f->values))
			return "is not an allowed value";
		return NULL;
	case EMU_F_ISO:
	case EMU_F_ISO_OR_EMPTY:
		if (!json_is_string(v))
			return "must be an ISO-8601 UTC date-time string";
		if (f->type == EMU_F_ISO_OR_EMPTY && json_string_length(v) == 0)
			return NULL;
		if (emu_iso8601_parse(json_string_value(v), &ms) < 0)
			return "must be an ISO-8601 UTC date-time such as 2026-01-15T10:00:00Z";
		return NULL;
	case EMU_F_UINT32:
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > INT32_MAX)
			return "must be a non-negative integer";
		return NULL;
	case EMU_F_MS:
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > (1LL << 53))
			return "must be an integer number of milliseconds since the epoch";
		return NULL;
	case EMU_F_BOOL:
		return json_is_boolean(v) ? NULL : "must be a boolean";
	case EMU_F_JSON_OBJ_STRING:
		if (!json_is_string(v))
			return "must be a string holding a JSON object";
		inner = json_loadb(json_string_value(v), json_string_length(v), 0, NULL);
		ok = json_is_object(inner);
		json_decref(inner);
		return ok ? NULL : "must be a string holding a JSON object";
	case EMU_F_OBJ_OR_STRING:
		return json_is_object(v) || json_is_string(v) ? NULL
		                                              : "must be an object or a string";
	case EMU_F_ARRAY:
		return json_is_array(v) ? NULL : "must be an array";
	case EMU_F_OBJECT:
		return json_is_object(v) ? NULL : "must be an object";
	}
	return "has an unsupported type";
}

size_t
emu_validate(json_t *obj, const struct emu_field *fields, size_t n, const char *prefix,
             json_t *errs)
{
	const char *name;
	json_t *v;
	size_t bad = 0;
	char path[256], allowed[256];

	json_object_foreach(obj, name, v)
	{
		const struct emu_field *f = find_field(fields, n, name);
		const char *why;

		snprintf(path, sizeof path, "%s%s", prefix, name);
		if (!f) {
			emu_err_add(errs, "INVALID_FIELD", path, "unknown field %s", path);
			bad++;
			continue;
		}
		why = check_value(f, v);
		if (!why)
			continue;
		bad++;
		if (f->type == EMU_F_ENUM) {
			list_enum(allowed, sizeof allowed, f->values);
			emu_err_add(errs, "INVALID_FIELD", path, "%s %s (allowed: %s)", path, why,
			            allowed);
		} else if (f->max_chars && strcmp(why, "is too long") == 0) {
			emu_err_add(errs, "INVALID_FIELD", path, "%s %s (max %zu characters)", path,
			            why, f->max_chars);
		} else {
			emu_err_add(errs, "INVALID_FIELD", path, "%s %s", path, why);
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!fields[i].required || json_object_get(obj, fields[i].name))
			continue;
		snprintf(path, sizeof path, "%s%s", prefix, fields[i].name);
		emu_err_add(errs, "INVALID_FIELD", path, "required field %s is missing", path);
		bad++;
	}
	return bad;
}
