/*
 * Configuration loader. Every key is declared once, in the option tables below: its name,
 * type, whether it is required or its default, its range, where its value goes and which
 * validator checks it. The same tables drive parsing, the unknown-key check and cfg_free(),
 * and are what config/README.md documents. Rules that span keys (unique contact center names,
 * numbers unique across contact centers) run after the table pass.
 */
#include "connector/config.h"

#include "connector/config_check.h"
#include "connector/e164.h"
#include "connector/log.h"
#include "scv/jwt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define CFG_MAX_FILE_BYTES (16L << 20) /* thousands of numbers fit in far less */
#define CFG_MAX_STRING     4096        /* any one string value, in bytes */
#define WHY_MAX            512         /* a validator's reason */

/* ---- The option tables --------------------------------------------------------------- */

enum opt_type {
	OPT_STRING,  /* char * (a copy; the default is copied too) */
	OPT_UINT,    /* unsigned, from a JSON integer within [min, max] */
	OPT_ENUM,    /* an int-sized enum: the index of the JSON string in names[] */
	OPT_STRINGS, /* char ** and a size_t count; each item through check */
	OPT_ATTRS,   /* object of string -> string: struct cfg_pair[] and a size_t count */
	OPT_OBJECT,  /* nested object whose keys fill the same struct */
	OPT_OBJECTS, /* array of objects: elem_size-byte structs and a size_t count */
};

#define OPT_REQUIRED      1u /* absent: an error (otherwise: the default) */
#define OPT_NONEMPTY      2u /* arrays: at least one item */
#define OPT_NOCASE_KEYS   4u /* maps: keys differing only in case are the same key */
#define OPT_UNIQUE_VALUES 8u /* maps: no two keys with the same value */

struct opt {
	const char *name;
	enum opt_type type;
	unsigned flags;
	const char *def_str;      /* OPT_STRING: the default; NULL = none */
	unsigned def_num;         /* OPT_UINT: the default; OPT_ENUM: the default's index */
	unsigned min, max;        /* OPT_UINT: the allowed range */
	size_t max_items;         /* OPT_STRINGS, OPT_ATTRS, OPT_OBJECTS: 0 = unbounded */
	size_t off;               /* where the value goes in the destination struct */
	size_t off_n;             /* where the item count goes (arrays and maps) */
	cfg_check_fn check;       /* a string value, each array item, or each map key */
	cfg_check_fn check_value; /* OPT_ATTRS: each map value */
	const char *const *names; /* OPT_ENUM: the allowed strings, NULL-terminated */
	const struct opt *sub;    /* OPT_OBJECT, OPT_OBJECTS: the nested table */
	size_t elem_size;         /* OPT_OBJECTS */
};

#define O_STRING(k, fl, dflt, dst, fn)                                                             \
	{                                                                                          \
		.name = (k), .type = OPT_STRING, .flags = (fl), .def_str = (dflt), .off = (dst),   \
		.check = (fn)                                                                      \
	}
#define O_UINT(k, dflt, lo, hi, dst)                                                               \
	{                                                                                          \
		.name = (k), .type = OPT_UINT, .def_num = (dflt), .min = (lo), .max = (hi),        \
		.off = (dst)                                                                       \
	}
#define O_ENUM(k, nm, dflt, dst)                                                                   \
	{                                                                                          \
		.name = (k), .type = OPT_ENUM, .names = (nm), .def_num = (dflt), .off = (dst)      \
	}
#define O_STRINGS(k, fl, dst, dst_n, fn)                                                           \
	{                                                                                          \
		.name = (k), .type = OPT_STRINGS, .flags = (fl), .off = (dst), .off_n = (dst_n),   \
		.check = (fn)                                                                      \
	}
#define O_ATTRS(k, fl, maxn, dst, dst_n, kfn, vfn)                                                 \
	{                                                                                          \
		.name = (k), .type = OPT_ATTRS, .flags = (fl), .max_items = (maxn), .off = (dst),  \
		.off_n = (dst_n), .check = (kfn), .check_value = (vfn)                             \
	}
#define O_OBJECT(k, fl, tbl)                                                                       \
	{                                                                                          \
		.name = (k), .type = OPT_OBJECT, .flags = (fl), .sub = (tbl)                       \
	}
#define O_OBJECTS(k, fl, maxn, dst, dst_n, elem, tbl)                                              \
	{                                                                                          \
		.name = (k), .type = OPT_OBJECTS, .flags = (fl), .max_items = (maxn),              \
		.off = (dst), .off_n = (dst_n), .elem_size = sizeof(elem), .sub = (tbl)            \
	}

#define REQ        OPT_REQUIRED
#define CFG_OFF(f) offsetof(struct cfg, f)
#define CC_OFF(f)  offsetof(struct cfg_contact_center, f)

_Static_assert(sizeof(enum cfg_jwt_mode) == sizeof(int), "OPT_ENUM stores an int");
_Static_assert(sizeof(enum cfg_routing_mode) == sizeof(int), "OPT_ENUM stores an int");
_Static_assert(sizeof(enum cfg_dtmf_mode) == sizeof(int), "OPT_ENUM stores an int");

static const char *const jwt_mode_names[] = {"reuse", "per_request", NULL};

static const struct opt log_opts[] = {
        O_STRING("level", 0, "info", CFG_OFF(log_level), cfg_check_log_level),
        {NULL},
};

static const struct opt sip_opts[] = {
        O_STRING("listen", REQ, NULL, CFG_OFF(sip_listen), cfg_check_listen_uri),
        O_STRINGS("trusted_peers", REQ | OPT_NONEMPTY, CFG_OFF(trusted_peers),
                  CFG_OFF(n_trusted_peers), cfg_check_peer),
        O_STRING("user_agent", 0, "scvbridge/" SCVB_VERSION, CFG_OFF(sip_user_agent),
                 cfg_check_user_agent),
        O_STRING("default_country_code", 0, NULL, CFG_OFF(default_country_code),
                 cfg_check_country_code),
        O_UINT("max_calls", 10000, 1, 1000000, CFG_OFF(max_calls)),
        O_UINT("udp_buffer_bytes", 4194304, 65536, 268435456, CFG_OFF(udp_buffer_bytes)),
        O_UINT("shutdown_grace_ms", 30000, 0, 3600000, CFG_OFF(shutdown_grace_ms)),
        O_UINT("drain_timeout_ms", 30000, 0, 3600000, CFG_OFF(drain_timeout_ms)),
        {NULL},
};

static const struct opt store_opts[] = {
        O_STRING("path", REQ, NULL, CFG_OFF(store_path), NULL),
        O_UINT("max_age_s", 432000, 60, 2592000, CFG_OFF(store_max_age_s)),
        {NULL},
};

static const char *const routing_mode_names[] = {"static", "omni", NULL};

/* "routing" fills fields of the contact center itself */
static const struct opt routing_opts[] = {
        O_ENUM("mode", routing_mode_names, CFG_ROUTING_STATIC, CC_OFF(routing_mode)),
        O_STRING("flow_dev_name", 0, NULL, CC_OFF(omni_flow_dev_name), cfg_check_field_name),
        O_STRING("fallback_queue", 0, NULL, CC_OFF(omni_fallback_queue), cfg_check_routing_id),
        O_UINT("timeout_ms", 3000, 100, 30000, CC_OFF(omni_timeout_ms)),
        O_ATTRS("agents", 0, 10000, CC_OFF(omni_agents), CC_OFF(n_omni_agents),
                cfg_check_routing_id, cfg_check_forward_uri),
        O_ATTRS("queues", 0, 10000, CC_OFF(omni_queues), CC_OFF(n_omni_queues),
                cfg_check_routing_id, cfg_check_forward_uri),
        {NULL},
};

/* "recording" fills fields of the contact center itself */
static const struct opt recording_opts[] = {
        O_STRING("header", 0, NULL, CC_OFF(recording_header), cfg_check_header_name),
        O_STRING("url_template", 0, NULL, CC_OFF(recording_url_template), cfg_check_url_template),
        O_UINT("report_wait_ms", 0, 0, 600000, CC_OFF(recording_report_wait_ms)),
        {NULL},
};

static const struct opt http_opts[] = {
        /* both optional in the table: "http" absent means no API; present, it needs a token
         * (checked with the rules across keys) and listens on 127.0.0.1:8088 by default */
        O_STRING("listen", 0, NULL, CFG_OFF(http_listen), cfg_check_listen_addr),
        O_STRING("token", 0, NULL, CFG_OFF(http_token), cfg_check_token),
        {NULL},
};

static const struct opt agent_endpoint_opts[] = {
        /* all optional in the table: "agent_endpoint" absent means no endpoint; present, the
         * rules across keys require listen, the certificate, the key and the origins */
        O_STRING("listen", 0, NULL, CFG_OFF(ae_listen), cfg_check_listen_addr),
        O_STRING("certificate_file", 0, NULL, CFG_OFF(ae_cert_file), cfg_check_readable_file),
        O_STRING("private_key_file", 0, NULL, CFG_OFF(ae_key_file), cfg_check_readable_file),
        O_STRINGS("allowed_origins", 0, CFG_OFF(ae_origins), CFG_OFF(n_ae_origins),
                  cfg_check_origin),
        O_STRING("web_root", 0, NULL, CFG_OFF(ae_web_root), cfg_check_directory),
        O_STRING("secret_file", 0, NULL, CFG_OFF(ae_secret_file), NULL),
        O_UINT("token_ttl_s", 900, 60, 86400, CFG_OFF(ae_token_ttl_s)),
        O_UINT("hello_timeout_ms", 5000, 500, 60000, CFG_OFF(ae_hello_timeout_ms)),
        O_UINT("max_message_bytes", 65536, 4096, 65536, CFG_OFF(ae_max_message_bytes)),
        O_UINT("max_sockets_per_agent", 8, 1, 64, CFG_OFF(ae_max_sockets_per_agent)),
        O_UINT("max_sockets_per_source", 64, 1, 100000, CFG_OFF(ae_max_sockets_per_source)),
        O_UINT("max_connections", 10000, 1, 100000, CFG_OFF(ae_max_connections)),
        O_UINT("commands_per_s", 20, 1, 1000, CFG_OFF(ae_commands_per_s)),
        {NULL},
};

#define AG_OFF(f) offsetof(struct cfg_agent, f)
static const struct opt agent_opts[] = {
        O_STRING("id", REQ, NULL, AG_OFF(id), cfg_check_user_id),
        O_STRING("username", REQ, NULL, AG_OFF(username), cfg_check_username),
        O_STRING("name", REQ, NULL, AG_OFF(name), cfg_check_display_name),
        O_STRING("phone", REQ, NULL, AG_OFF(phone), cfg_check_forward_uri),
        O_STRING("password_hash", REQ, NULL, AG_OFF(password_hash), cfg_check_password_hash),
        {NULL},
};

#define PB_OFF(f) offsetof(struct cfg_phonebook_entry, f)
static const struct opt phonebook_opts[] = {
        O_STRING("name", REQ, NULL, PB_OFF(name), cfg_check_display_name),
        O_STRING("number", REQ, NULL, PB_OFF(number), cfg_check_e164),
        {NULL},
};

static const char *const dtmf_mode_names[] = {"info-dtmf-relay", "info-dtmf", NULL};

static const struct opt cc_opts[] = {
        O_STRING("name", REQ, NULL, CC_OFF(name), cfg_check_cc_name),
        O_STRING("org_id", REQ, NULL, CC_OFF(org_id), cfg_check_org_id),
        O_STRING("call_center_api_name", REQ, NULL, CC_OFF(call_center_api_name),
                 cfg_check_api_name),
        O_STRING("base_url", REQ, NULL, CC_OFF(base_url), cfg_check_base_url),
        O_STRING("private_key_file", REQ, NULL, CC_OFF(private_key_file), cfg_check_key_file),
        O_STRING("ca_file", 0, NULL, CC_OFF(ca_file), cfg_check_readable_file),
        O_STRINGS("numbers", REQ | OPT_NONEMPTY, CC_OFF(numbers), CC_OFF(n_numbers),
                  cfg_check_e164),
        O_STRING("forward_to", REQ, NULL, CC_OFF(forward_to), cfg_check_forward_uri),
        O_ATTRS("call_attributes", OPT_NOCASE_KEYS | OPT_UNIQUE_VALUES, 32, CC_OFF(call_attrs),
                CC_OFF(n_call_attrs), cfg_check_header_name, cfg_check_field_name),
        O_STRING("provider_name", 0, "scvbridge", CC_OFF(provider_name), cfg_check_provider_name),
        O_ENUM("jwt_mode", jwt_mode_names, CFG_JWT_REUSE, CC_OFF(jwt_mode)),
        O_UINT("request_timeout_ms", 10000, 100, 120000, CC_OFF(request_timeout_ms)),
        O_UINT("max_creates_per_s", 40, 1, 1000, CC_OFF(max_creates_per_s)),
        O_UINT("ring_timeout_ms", 60000, 0, 600000, CC_OFF(ring_timeout_ms)),
        O_OBJECT("recording", 0, recording_opts),
        O_OBJECT("routing", 0, routing_opts),
        O_OBJECTS("agents", 0, 10000, CC_OFF(agents), CC_OFF(n_agents), struct cfg_agent,
                  agent_opts),
        O_OBJECTS("phonebook", 0, 10000, CC_OFF(phonebook), CC_OFF(n_phonebook),
                  struct cfg_phonebook_entry, phonebook_opts),
        O_STRING("outbound_route", 0, NULL, CC_OFF(outbound_route), cfg_check_outbound_route),
        O_STRING("outbound_caller_id", 0, NULL, CC_OFF(outbound_caller_id), cfg_check_e164),
        O_ENUM("dtmf", dtmf_mode_names, CFG_DTMF_INFO_RELAY, CC_OFF(dtmf_mode)),
        O_UINT("after_call_work_s", 0, 0, 3600, CC_OFF(after_call_work_s)),
        {NULL},
};

static const struct opt root_opts[] = {
        O_OBJECT("log", 0, log_opts),
        O_OBJECT("sip", REQ, sip_opts),
        O_OBJECT("store", REQ, store_opts),
        O_OBJECT("http", 0, http_opts),
        O_OBJECT("agent_endpoint", 0, agent_endpoint_opts),
        O_OBJECTS("contact_centers", REQ | OPT_NONEMPTY, 0, CFG_OFF(ccs), CFG_OFF(n_ccs),
                  struct cfg_contact_center, cc_opts),
        {NULL},
};

/* ---- The table walker ---------------------------------------------------------------- */

#define AT(base, off, type) ((type *)(void *)((char *)(base) + (off)))

struct ctx {
	const char *file;
	char *err;
	size_t errlen;
	char path[512]; /* the key path being parsed, e.g. "contact_centers[0].numbers[2]" */
	size_t plen;
};

/* Writes "<key path>: <message>" (the file name when at the top level) and returns rc. */
static int __attribute__((format(printf, 3, 4))) fail(struct ctx *c, int rc, const char *fmt, ...)
{
	int n;
	va_list ap;

	if (c->errlen == 0)
		return rc;
	n = snprintf(c->err, c->errlen, "%s: ", c->plen ? c->path : c->file);
	if (n < 0 || (size_t)n >= c->errlen)
		return rc;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return rc;
}

static void path_append(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
path_append(struct ctx *c, const char *fmt, ...)
{
	int n;
	va_list ap;

	va_start(ap, fmt);
	n = vsnprintf(c->path + c->plen, sizeof c->path - c->plen, fmt, ap);
	va_end(ap);
	if (n > 0)
		c->plen += (size_t)n;
	if (c->plen >= sizeof c->path)
		c->plen = sizeof c->path - 1;
}

/* Appends ".key", or ."key" quoted when the key has characters that would confuse a reader. */
static void
path_push_key(struct ctx *c, const char *key)
{
	char q[CFG_QUOTED_MAX];
	const char *sep = c->plen ? "." : "";
	size_t n = strlen(key);

	if (n > 0 && n <= 64 &&
	    strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                "0123456789_-") == n)
		path_append(c, "%s%s", sep, key);
	else
		path_append(c, "%s%s", sep, cfg_quoted(q, key));
}

static void
path_pop(struct ctx *c, size_t mark)
{
	c->plen = mark;
	c->path[mark] = '\0';
}

static int parse_object(struct ctx *c, json_t *obj, const struct opt *table, void *base);

/* A JSON string, checked and copied into *ret. */
static int
parse_string(struct ctx *c, json_t *v, cfg_check_fn check, char **ret)
{
	char why[WHY_MAX];
	const char *s;
	size_t n;
	char *copy;
	int rc;

	if (!json_is_string(v))
		return fail(c, -EINVAL, "expected a string");
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0)
		return fail(c, -EINVAL, "must not be empty");
	if (n > CFG_MAX_STRING)
		return fail(c, -EINVAL, "is too long (more than %d bytes)", CFG_MAX_STRING);
	if (strlen(s) != n)
		return fail(c, -EINVAL, "must not contain a NUL character");
	copy = strdup(s);
	if (!copy)
		return fail(c, -ENOMEM, "out of memory");
	if (check) {
		why[0] = '\0';
		rc = check(copy, why, sizeof why);
		if (rc < 0) {
			free(copy);
			return fail(c, rc, "%s", why[0] ? why : "invalid value");
		}
	}
	*ret = copy;
	return 0;
}

/* An array's size, checked against the option's flags and limit. */
static int
array_size(struct ctx *c, const struct opt *o, json_t *v, const char *what, size_t *ret_n)
{
	size_t n;

	if (!json_is_array(v))
		return fail(c, -EINVAL, "expected an array of %s", what);
	n = json_array_size(v);
	if (n == 0 && (o->flags & OPT_NONEMPTY))
		return fail(c, -EINVAL, "must not be empty");
	if (o->max_items && n > o->max_items)
		return fail(c, -EINVAL, "has %zu items (at most %zu allowed)", n, o->max_items);
	*ret_n = n;
	return 0;
}

static int
parse_strings(struct ctx *c, const struct opt *o, json_t *v, void *base)
{
	size_t n, mark = c->plen;
	char **items;
	int rc;

	rc = array_size(c, o, v, "strings", &n);
	if (rc < 0 || n == 0)
		return rc;
	items = calloc(n, sizeof *items);
	if (!items)
		return fail(c, -ENOMEM, "out of memory");
	/* Stored at once so that cfg_free() releases a partly filled array. */
	*AT(base, o->off, char **) = items;
	*AT(base, o->off_n, size_t) = n;
	for (size_t i = 0; i < n; i++) {
		path_append(c, "[%zu]", i);
		rc = parse_string(c, json_array_get(v, i), o->check, &items[i]);
		path_pop(c, mark);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * call_attributes-style maps. Header names match case-insensitively, so two keys differing
 * only in case are refused, as are two headers feeding the same field.
 */
static int
parse_attrs(struct ctx *c, const struct opt *o, json_t *v, void *base)
{
	char why[WHY_MAX], q1[CFG_QUOTED_MAX], q2[CFG_QUOTED_MAX];
	struct cfg_pair *attrs;
	size_t n, i = 0, mark = c->plen;
	const char *key;
	json_t *val;
	int rc;

	if (!json_is_object(v))
		return fail(c, -EINVAL, "expected an object");
	n = json_object_size(v);
	if (o->max_items && n > o->max_items)
		return fail(c, -EINVAL, "has %zu entries (at most %zu allowed)", n, o->max_items);
	if (n == 0)
		return 0;
	attrs = calloc(n, sizeof *attrs);
	if (!attrs)
		return fail(c, -ENOMEM, "out of memory");
	*AT(base, o->off, struct cfg_pair *) = attrs;
	*AT(base, o->off_n, size_t) = n;
	json_object_foreach(v, key, val)
	{
		struct cfg_pair *a = &attrs[i++];

		a->key = strdup(key);
		if (!a->key)
			return fail(c, -ENOMEM, "out of memory");
		rc = o->check(a->key, why, sizeof why);
		if (rc < 0)
			return fail(c, rc, "%s", why);
		path_push_key(c, key);
		rc = parse_string(c, val, o->check_value, &a->value);
		path_pop(c, mark);
		if (rc < 0)
			return rc;
		for (struct cfg_pair *b = attrs; b < a; b++) {
			if ((o->flags & OPT_NOCASE_KEYS ? strcasecmp(b->key, a->key)
			                                : strcmp(b->key, a->key)) == 0)
				return fail(c, -EINVAL,
				            "%s and %s name the same header (names are "
				            "case-insensitive)",
				            cfg_quoted(q1, b->key), cfg_quoted(q2, a->key));
			if ((o->flags & OPT_UNIQUE_VALUES) && strcmp(b->value, a->value) == 0)
				return fail(c, -EINVAL, "%s and %s both fill field %s",
				            cfg_quoted(q1, b->key), cfg_quoted(q2, a->key),
				            a->value);
		}
	}
	return 0;
}

static int
parse_objects(struct ctx *c, const struct opt *o, json_t *v, void *base)
{
	size_t n, mark = c->plen;
	char *elems;
	int rc;

	rc = array_size(c, o, v, "objects", &n);
	if (rc < 0 || n == 0)
		return rc;
	elems = calloc(n, o->elem_size);
	if (!elems)
		return fail(c, -ENOMEM, "out of memory");
	*AT(base, o->off, char *) = elems;
	*AT(base, o->off_n, size_t) = n;
	for (size_t i = 0; i < n; i++) {
		path_append(c, "[%zu]", i);
		rc = parse_object(c, json_array_get(v, i), o->sub, elems + i * o->elem_size);
		path_pop(c, mark);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* One option; v is NULL when the key is absent. */
static int
parse_opt(struct ctx *c, const struct opt *o, json_t *v, void *base)
{
	char q[CFG_QUOTED_MAX];

	if (!v && (o->flags & OPT_REQUIRED))
		return fail(c, -EINVAL, "required key is missing");
	switch (o->type) {
	case OPT_STRING:
		if (!v) {
			if (!o->def_str)
				return 0;
			*AT(base, o->off, char *) = strdup(o->def_str);
			if (!*AT(base, o->off, char *))
				return fail(c, -ENOMEM, "out of memory");
			return 0;
		}
		return parse_string(c, v, o->check, AT(base, o->off, char *));
	case OPT_UINT: {
		json_int_t x;

		if (!v) {
			*AT(base, o->off, unsigned) = o->def_num;
			return 0;
		}
		if (!json_is_integer(v))
			return fail(c, -EINVAL, "expected an integer");
		x = json_integer_value(v);
		if (x < (json_int_t)o->min || x > (json_int_t)o->max)
			return fail(c, -EINVAL,
			            "%" JSON_INTEGER_FORMAT " is out of range (%u to %u)", x,
			            o->min, o->max);
		*AT(base, o->off, unsigned) = (unsigned)x;
		return 0;
	}
	case OPT_ENUM: {
		char list[256] = "";
		size_t len = 0;

		if (!v) {
			*AT(base, o->off, int) = (int)o->def_num;
			return 0;
		}
		if (!json_is_string(v))
			return fail(c, -EINVAL, "expected a string");
		for (int i = 0; o->names[i]; i++) {
			if (strcmp(json_string_value(v), o->names[i]) == 0) {
				*AT(base, o->off, int) = i;
				return 0;
			}
			len += (size_t)snprintf(list + len, sizeof list - len, "%s%s",
			                        i ? ", " : "", o->names[i]);
			if (len >= sizeof list)
				len = sizeof list - 1;
		}
		return fail(c, -EINVAL, "%s is not one of %s", cfg_quoted(q, json_string_value(v)),
		            list);
	}
	case OPT_STRINGS:
		return v ? parse_strings(c, o, v, base) : 0;
	case OPT_ATTRS:
		return v ? parse_attrs(c, o, v, base) : 0;
	case OPT_OBJECT:
		/* Absent: an empty object, so that the nested defaults apply. */
		return parse_object(c, v, o->sub, base);
	case OPT_OBJECTS:
		return v ? parse_objects(c, o, v, base) : 0;
	}
	return fail(c, -EINVAL, "internal error: bad option type");
}

/* obj NULL stands for an absent optional object: every nested key takes its default. */
static int
parse_object(struct ctx *c, json_t *obj, const struct opt *table, void *base)
{
	size_t mark = c->plen;
	const struct opt *o;
	const char *key;
	json_t *v;
	int rc;

	if (obj && !json_is_object(obj))
		return fail(c, -EINVAL, "expected an object");
	/* Unknown keys first: a misspelt optional key would otherwise go unnoticed. */
	if (obj) {
		json_object_foreach(obj, key, v)
		{
			for (o = table; o->name && strcmp(o->name, key) != 0; o++)
				;
			if (!o->name) {
				path_push_key(c, key);
				return fail(c, -EINVAL, "unknown key");
			}
		}
	}
	for (o = table; o->name; o++) {
		path_push_key(c, o->name);
		rc = parse_opt(c, o, obj ? json_object_get(obj, o->name) : NULL, base);
		path_pop(c, mark);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Releases what the table put into base (not base itself); safe on partly filled structs. */
static void
free_fields(const struct opt *table, void *base)
{
	for (const struct opt *o = table; o->name; o++) {
		switch (o->type) {
		case OPT_STRING:
			free(*AT(base, o->off, char *));
			*AT(base, o->off, char *) = NULL;
			break;
		case OPT_STRINGS: {
			char **items = *AT(base, o->off, char **);

			for (size_t i = 0; i < *AT(base, o->off_n, size_t); i++)
				free(items[i]);
			free(items);
			*AT(base, o->off, char **) = NULL;
			*AT(base, o->off_n, size_t) = 0;
			break;
		}
		case OPT_ATTRS: {
			struct cfg_pair *attrs = *AT(base, o->off, struct cfg_pair *);

			for (size_t i = 0; i < *AT(base, o->off_n, size_t); i++) {
				free(attrs[i].key);
				free(attrs[i].value);
			}
			free(attrs);
			*AT(base, o->off, struct cfg_pair *) = NULL;
			*AT(base, o->off_n, size_t) = 0;
			break;
		}
		case OPT_OBJECT:
			free_fields(o->sub, base);
			break;
		case OPT_OBJECTS: {
			char *elems = *AT(base, o->off, char *);

			for (size_t i = 0; i < *AT(base, o->off_n, size_t); i++)
				free_fields(o->sub, elems + i * o->elem_size);
			free(elems);
			*AT(base, o->off, char *) = NULL;
			*AT(base, o->off_n, size_t) = 0;
			break;
		}
		case OPT_UINT:
		case OPT_ENUM:
			break;
		}
	}
}

/* ---- Rules across keys, and the number index ----------------------------------------- */

struct cfg_number_ref {
	const char *number; /* points into cfg->ccs[cc].numbers */
	size_t cc;          /* index in cfg->ccs */
	size_t pos;         /* index in that contact center's numbers */
};

/* "http" given without a token: refused (the recording route must not be open). */
static int
check_http(struct ctx *c, struct cfg *cfg)
{
	if (!cfg->http_listen && !cfg->http_token)
		return 0;
	if (!cfg->http_token) {
		c->plen = 0;
		path_append(c, "http.token");
		return fail(c, -EINVAL, "required key is missing");
	}
	if (!cfg->http_listen) {
		cfg->http_listen = strdup("127.0.0.1:8088");
		if (!cfg->http_listen)
			return fail(c, -ENOMEM, "out of memory");
	}
	return 0;
}

/* "agent_endpoint", when in the file: all it needs is there; the token secret beside the store. */
static int
check_agent_endpoint(struct ctx *c, struct cfg *cfg, int present)
{
	static const char *const need[] = {"listen", "certificate_file", "private_key_file",
	                                   "web_root"};
	const char *have[] = {cfg->ae_listen, cfg->ae_cert_file, cfg->ae_key_file,
	                      cfg->ae_web_root};
	if (!present)
		return 0;
	for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
		if (!have[i]) {
			c->plen = 0;
			path_append(c, "agent_endpoint.%s", need[i]);
			return fail(c, -EINVAL, "required key is missing");
		}
	if (cfg->n_ae_origins == 0) {
		c->plen = 0;
		path_append(c, "agent_endpoint.allowed_origins");
		return fail(c, -EINVAL,
		            "at least one origin is required (the bridge's own "
		            "https origin, where the connector page is served)");
	}
	if (!cfg->ae_secret_file &&
	    asprintf(&cfg->ae_secret_file, "%s.agent-secret", cfg->store_path) < 0) {
		cfg->ae_secret_file = NULL;
		return fail(c, -ENOMEM, "out of memory");
	}
	return 0;
}

/* Length of a SIP URI without its parameters and headers: what identifies a phone. */
static size_t
uri_ident_len(const char *uri)
{
	return strcspn(uri, ";?");
}

/* Agents: user names and ids unique within a contact center, phones unique in the file. */
static int
check_agents(struct ctx *c, const struct cfg *cfg)
{
	char q[CFG_QUOTED_MAX];

	for (size_t i = 0; i < cfg->n_ccs; i++) {
		const struct cfg_contact_center *cc = &cfg->ccs[i];

		for (size_t a = 0; a < cc->n_agents; a++) {
			const struct cfg_agent *ag = &cc->agents[a];

			for (size_t b = 0; b < a; b++) {
				const char *what = NULL;

				if (strcmp(cc->agents[b].username, ag->username) == 0)
					what = "username";
				else if (strcmp(cc->agents[b].id, ag->id) == 0)
					what = "id";
				if (what) {
					c->plen = 0;
					path_append(c, "contact_centers[%zu].agents[%zu].%s", i, a,
					            what);
					return fail(c, -EINVAL, "%s is already used by agents[%zu]",
					            cfg_quoted(q, what[0] == 'u' ? ag->username
					                                         : ag->id),
					            b);
				}
			}
			for (size_t j = 0; j <= i; j++)
				for (size_t b = 0; b < (j == i ? a : cfg->ccs[j].n_agents); b++) {
					const char *other = cfg->ccs[j].agents[b].phone;
					size_t n = uri_ident_len(ag->phone);

					if (n != uri_ident_len(other) ||
					    strncasecmp(other, ag->phone, n) != 0)
						continue;
					c->plen = 0;
					path_append(c, "contact_centers[%zu].agents[%zu].phone", i,
					            a);
					return fail(
					        c, -EINVAL,
					        "%s already rings contact_centers[%zu].agents[%zu] "
					        "(a phone belongs to one agent)",
					        cfg_quoted(q, ag->phone), j, b);
				}
		}
	}
	return 0;
}

static int
check_unique_names(struct ctx *c, const struct cfg *cfg)
{
	char q[CFG_QUOTED_MAX];

	for (size_t i = 1; i < cfg->n_ccs; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->ccs[i].name, cfg->ccs[j].name) == 0) {
				path_append(c, "contact_centers[%zu].name", i);
				return fail(c, -EINVAL,
				            "%s is already the name of contact_centers[%zu]",
				            cfg_quoted(q, cfg->ccs[i].name), j);
			}
	return 0;
}

/* By number, then by position in the file, so that duplicates sit in file order. */
static int
ref_cmp(const void *a, const void *b)
{
	const struct cfg_number_ref *x = a, *y = b;
	int d = strcmp(x->number, y->number);

	if (d)
		return d;
	if (x->cc != y->cc)
		return x->cc < y->cc ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int
file_before(const struct cfg_number_ref *a, const struct cfg_number_ref *b)
{
	return a->cc < b->cc || (a->cc == b->cc && a->pos < b->pos);
}

/* Builds cfg->number_index and refuses a number listed twice, naming both places. */
static int
index_numbers(struct ctx *c, struct cfg *cfg)
{
	struct cfg_number_ref *refs, *dup = NULL, *first = NULL;
	size_t n = 0, k = 0;
	char q[CFG_QUOTED_MAX];

	for (size_t i = 0; i < cfg->n_ccs; i++)
		n += cfg->ccs[i].n_numbers;
	refs = calloc(n ? n : 1, sizeof *refs);
	if (!refs)
		return fail(c, -ENOMEM, "out of memory");
	for (size_t i = 0; i < cfg->n_ccs; i++)
		for (size_t j = 0; j < cfg->ccs[i].n_numbers; j++)
			refs[k++] = (struct cfg_number_ref){cfg->ccs[i].numbers[j], i, j};
	qsort(refs, n, sizeof *refs, ref_cmp);
	/* Of all repeats, report the one that comes first in the file, against its first use. */
	for (size_t i = 1, run = 0; i < n; i++) {
		if (strcmp(refs[i].number, refs[run].number) != 0) {
			run = i;
			continue;
		}
		if (!dup || file_before(&refs[i], dup)) {
			dup = &refs[i];
			first = &refs[run];
		}
	}
	if (dup) {
		int rc;

		path_append(c, "contact_centers[%zu].numbers[%zu]", dup->cc, dup->pos);
		rc = fail(c, -EINVAL,
		          "%s is already listed at contact_centers[%zu].numbers[%zu]%s%s%s",
		          cfg_quoted(q, dup->number), first->cc, first->pos,
		          first->cc != dup->cc ? " (contact center \"" : "",
		          first->cc != dup->cc ? cfg->ccs[first->cc].name : "",
		          first->cc != dup->cc ? "\")" : "");
		free(refs);
		return rc;
	}
	cfg->number_index = refs;
	cfg->n_number_index = n;
	return 0;
}

/* ---- API ----------------------------------------------------------------------------- */

int
cfg_load(const char *path, struct cfg **ret_cfg, char *err, size_t errlen)
{
	struct ctx c = {.file = path, .err = err, .errlen = errlen};
	json_error_t jerr;
	struct stat st;
	struct cfg *cfg;
	json_t *root;
	FILE *f;
	int rc;

	if (errlen)
		err[0] = '\0';
	f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fileno(f), &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		goto out_close;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		snprintf(err, errlen, "%s: %s", path, strerror(EISDIR));
		goto out_close;
	}
	if (S_ISREG(st.st_mode) && st.st_size > CFG_MAX_FILE_BYTES) {
		rc = -EFBIG;
		snprintf(err, errlen, "%s: larger than %ld bytes", path, CFG_MAX_FILE_BYTES);
		goto out_close;
	}
	root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
		goto out_close;
	}
	cfg = calloc(1, sizeof *cfg);
	if (!cfg) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out_free_json;
	}
	rc = parse_object(&c, root, root_opts, cfg);
	if (rc == 0)
		rc = check_unique_names(&c, cfg);
	if (rc == 0)
		rc = check_http(&c, cfg);
	if (rc == 0)
		rc = check_agent_endpoint(&c, cfg, json_object_get(root, "agent_endpoint") != NULL);
	if (rc == 0)
		rc = check_agents(&c, cfg);
	if (rc == 0)
		rc = index_numbers(&c, cfg);
	if (rc < 0) {
		cfg_free(cfg);
		cfg = NULL;
		goto out_free_json;
	}
	*ret_cfg = cfg;
out_free_json:
	json_decref(root);
out_close:
	fclose(f);
	return rc;
}

void
cfg_free(struct cfg *cfg)
{
	if (!cfg)
		return;
	free_fields(root_opts, cfg);
	free(cfg->number_index);
	cfg->number_index = NULL;
	free(cfg);
}

static int
ref_key_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct cfg_number_ref *)elem)->number);
}

const struct cfg_contact_center *
cfg_find_number(const struct cfg *cfg, const char *e164, size_t *ret_index)
{
	const struct cfg_number_ref *ref;

	if (!e164)
		return NULL;
	if (cfg->number_index) {
		ref = bsearch(e164, cfg->number_index, cfg->n_number_index, sizeof *ref,
		              ref_key_cmp);
		if (!ref)
			return NULL;
		if (ret_index)
			*ret_index = ref->cc;
		return &cfg->ccs[ref->cc];
	}
	for (size_t i = 0; i < cfg->n_ccs; i++)
		for (size_t j = 0; j < cfg->ccs[i].n_numbers; j++)
			if (strcmp(cfg->ccs[i].numbers[j], e164) == 0) {
				if (ret_index)
					*ret_index = i;
				return &cfg->ccs[i];
			}
	return NULL;
}
