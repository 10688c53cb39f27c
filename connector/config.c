/*
 * Configuration loader. Every key is declared once, in the option tables below: its name,
 * type, whether it is required or its default, its range, where its value goes and which
 * validator checks it. The same tables drive parsing, the unknown-key check and cfg_free(),
 * and are what config/README.md documents. Rules that span keys (unique contact center names,
 * numbers unique across contact centers) run after the table pass.
 */
#include "connector/config.h"

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
#define CFG_MAX_STRING 4096            /* any one string value, in bytes */
#define WHY_MAX 512                    /* a validator's reason */
#define QUOTED_MAX 100                 /* a value quoted in a message */

/* ---- Messages ----------------------------------------------------------------------- */

/*
 * s between double quotes for an error message: '"', '\' and bytes outside printable ASCII
 * escaped, and cut with "..." when long. Returns buf.
 */
static const char *
quoted(char buf[QUOTED_MAX], const char *s)
{
	size_t n = 0;

	buf[n++] = '"';
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (n > QUOTED_MAX - 10) {
			memcpy(buf + n, "...", 3);
			n += 3;
			break;
		}
		if (ch == '"' || ch == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)ch;
		} else if (ch < 0x20 || ch > 0x7e) {
			n += (size_t)snprintf(buf + n, 5, "\\x%02x", ch);
		} else {
			buf[n++] = (char)ch;
		}
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return buf;
}

static int
why_bad(char *why, size_t whylen, const char *value, const char *what)
{
	char q[QUOTED_MAX];

	snprintf(why, whylen, "%s is not %s", quoted(q, value), what);
	return -EINVAL;
}

/* ---- Character classes and small parsers --------------------------------------------- */

static int
is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int
is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int
is_alnum(char ch)
{
	return is_alpha(ch) || is_digit(ch);
}

/* 1 when every byte of s is printable ASCII and s has 1 to max bytes. */
static int
printable(const char *s, size_t max)
{
	size_t n = 0;

	for (; *s; s++, n++)
		if (*s < 0x20 || *s > 0x7e)
			return 0;
	return n >= 1 && n <= max;
}

/* 1 when s matches [A-Za-z][A-Za-z0-9_]{0,max-1}. */
static int
api_name(const char *s, size_t max)
{
	size_t n = 0;

	if (!is_alpha(s[0]))
		return 0;
	for (; *s; s++, n++)
		if (!is_alnum(*s) && *s != '_')
			return 0;
	return n <= max;
}

/* Length of the host at p (hostname, IPv4 address or [IPv6 address]), or 0 if none valid. */
static size_t
host_len(const char *p)
{
	static const char host_chars[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-";
	unsigned char bin[16];
	char buf[INET6_ADDRSTRLEN + 1];
	size_t n, label = 0;

	if (*p == '[') {
		const char *end = strchr(p, ']');

		if (!end)
			return 0;
		n = (size_t)(end - p - 1);
		if (n == 0 || n >= sizeof buf)
			return 0;
		memcpy(buf, p + 1, n);
		buf[n] = '\0';
		return inet_pton(AF_INET6, buf, bin) == 1 ? n + 2 : 0;
	}
	n = strspn(p, host_chars);
	if (n == 0 || n > 253)
		return 0;
	if (strspn(p, "0123456789.") >= n) { /* all digits and dots: must be an IPv4 address */
		if (n >= sizeof buf)
			return 0;
		memcpy(buf, p, n);
		buf[n] = '\0';
		return inet_pton(AF_INET, buf, bin) == 1 ? n : 0;
	}
	/* Hostname: dot-separated labels of 1 to 63 letters, digits and inner hyphens. */
	for (size_t i = 0; i <= n; i++) {
		if (i == n || p[i] == '.') {
			if (label == 0 || label > 63 || p[i - 1] == '-')
				return 0;
			label = 0;
		} else {
			if (label == 0 && p[i] == '-')
				return 0;
			label++;
		}
	}
	return n;
}

/* Length of the port digits at p (1..65535), or 0. */
static size_t
port_len(const char *p)
{
	size_t n = strspn(p, "0123456789");
	long port;

	if (n == 0 || n > 5)
		return 0;
	port = strtol(p, NULL, 10);
	return port >= 1 && port <= 65535 ? n : 0;
}

/* ---- Validators --------------------------------------------------------------------- */

/*
 * A validator gets the value (a private copy it may rewrite, e.g. to strip a trailing "/")
 * and returns 0, or a negative errno-style code with the reason in why; the caller puts the
 * key path in front.
 */
typedef int (*check_fn)(char *value, char *why, size_t whylen);

static int
check_log_level(char *s, char *why, size_t whylen)
{
	enum log_level level;

	if (log_level_parse(s, &level) < 0)
		return why_bad(why, whylen, s, "one of error, warn, info, debug");
	return 0;
}

#define URI_NEED_PORT 1u
#define URI_NO_USER 2u

/*
 * sip: or sips: URI: [user@]host[:port][;param[=value]]... Header fields ("?...") are not
 * accepted: nothing here needs them.
 */
static int
check_sip_uri(const char *s, unsigned flags, char *why, size_t whylen)
{
	static const char user_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					 "0123456789-_.!~*'()&=+$,;?/%";
	static const char param_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					  "0123456789-_.!~*'()[]/:&+$%";
	const char *p, *at, *reason;
	char q[QUOTED_MAX];
	size_t n;

	if (strncasecmp(s, "sips:", 5) == 0) {
		p = s + 5;
	} else if (strncasecmp(s, "sip:", 4) == 0) {
		p = s + 4;
	} else {
		reason = "it must start with \"sip:\" or \"sips:\"";
		goto bad;
	}
	at = strchr(p, '@');
	if (at) {
		if (flags & URI_NO_USER) {
			reason = "a listen address has no user part";
			goto bad;
		}
		n = (size_t)(at - p);
		if (n == 0 || strspn(p, user_chars) < n) {
			reason = "bad user part";
			goto bad;
		}
		p = at + 1;
	}
	n = host_len(p);
	if (n == 0) {
		reason = "missing or bad host";
		goto bad;
	}
	p += n;
	if (*p == ':') {
		n = port_len(p + 1);
		if (n == 0) {
			reason = "bad port (1 to 65535)";
			goto bad;
		}
		p += 1 + n;
	} else if (flags & URI_NEED_PORT) {
		reason = "a port is required";
		goto bad;
	}
	while (*p == ';') {
		n = strspn(p + 1, param_chars); /* name, then optional "=value" */
		if (n == 0) {
			reason = "bad parameter";
			goto bad;
		}
		p += 1 + n;
		if (*p == '=') {
			n = strspn(p + 1, param_chars);
			if (n == 0) {
				reason = "bad parameter";
				goto bad;
			}
			p += 1 + n;
		}
	}
	if (*p != '\0') {
		reason = "unexpected text after the host, port and parameters";
		goto bad;
	}
	return 0;
bad:
	snprintf(why, whylen, "%s is not a valid SIP URI: %s", quoted(q, s), reason);
	return -EINVAL;
}

static int
check_listen_uri(char *s, char *why, size_t whylen)
{
	return check_sip_uri(s, URI_NEED_PORT | URI_NO_USER, why, whylen);
}

static int
check_forward_uri(char *s, char *why, size_t whylen)
{
	return check_sip_uri(s, 0, why, whylen);
}

/* An IPv4/IPv6 address, or a CIDR prefix whose address has no bits set past the prefix. */
static int
check_peer(char *s, char *why, size_t whylen)
{
	unsigned char bin[16];
	char addr[INET6_ADDRSTRLEN + 1], q[QUOTED_MAX];
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	unsigned max, prefix, bits_set = 0;
	int family;

	if (len == 0 || len >= sizeof addr)
		goto bad;
	memcpy(addr, s, len);
	addr[len] = '\0';
	if (inet_pton(AF_INET, addr, bin) == 1) {
		family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, bin) == 1) {
		family = AF_INET6;
		max = 128;
	} else {
		goto bad;
	}
	if (!slash)
		return 0;
	len = strlen(slash + 1);
	if (len == 0 || len > 3 || strspn(slash + 1, "0123456789") != len ||
	    (len > 1 && slash[1] == '0'))
		goto bad;
	prefix = (unsigned)atoi(slash + 1);
	if (prefix > max)
		goto bad;
	for (unsigned bit = prefix; bit < max; bit++) {
		unsigned char mask = (unsigned char)(0x80u >> (bit % 8));

		if (bin[bit / 8] & mask) {
			bin[bit / 8] &= (unsigned char)~mask;
			bits_set = 1;
		}
	}
	if (bits_set) {
		char net[INET6_ADDRSTRLEN];

		inet_ntop(family, bin, net, sizeof net);
		snprintf(why, whylen, "%s has address bits set past the /%u prefix (did you mean "
			 "\"%s/%u\"?)", quoted(q, s), prefix, net, prefix);
		return -EINVAL;
	}
	return 0;
bad:
	return why_bad(why, whylen, s, "an IP address or CIDR prefix");
}

static int
check_user_agent(char *s, char *why, size_t whylen)
{
	if (!printable(s, 128))
		return why_bad(why, whylen, s,
			       "a user agent (1 to 128 printable ASCII characters)");
	return 0;
}

static int
check_country_code(char *s, char *why, size_t whylen)
{
	size_t n = strlen(s);

	if (n < 1 || n > 3 || s[0] == '0' || strspn(s, "0123456789") != n)
		return why_bad(why, whylen, s, "a country code (1 to 3 digits, the first not 0)");
	return 0;
}

static int
check_cc_name(char *s, char *why, size_t whylen)
{
	static const char name_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					 "0123456789_.-";
	size_t n = strlen(s);

	if (n < 1 || n > 64 || strspn(s, name_chars) != n)
		return why_bad(why, whylen, s,
			       "a valid name (1 to 64 letters, digits, \"_\", \".\" or \"-\")");
	return 0;
}

static int
check_org_id(char *s, char *why, size_t whylen)
{
	size_t n = strlen(s), i;

	for (i = 0; i < n && is_alnum(s[i]); i++)
		;
	if ((n != 15 && n != 18) || i != n || strncmp(s, "00D", 3) != 0)
		return why_bad(why, whylen, s,
			       "an org id (15 or 18 letters and digits starting with \"00D\")");
	return 0;
}

static int
check_api_name(char *s, char *why, size_t whylen)
{
	if (!api_name(s, 80))
		return why_bad(why, whylen, s,
			       "a call center API name (a letter, then up to 79 letters, digits "
			       "or \"_\")");
	return 0;
}

/* https://host[:port][/path], no user info, query or fragment; trailing "/"s are dropped. */
static int
check_base_url(char *s, char *why, size_t whylen)
{
	/* RFC 3986 pchar without "%" handling subtleties: unreserved, sub-delims, ":", "@". */
	static const char path_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					 "0123456789-._~!$&'()*+,;=:@/%";
	const char *p;
	size_t n;

	if (strncasecmp(s, "https://", 8) != 0)
		return why_bad(why, whylen, s, "an https:// URL");
	p = s + 8;
	if (memchr(p, '@', strcspn(p, "/?#")))
		return why_bad(why, whylen, s, "a URL without user info (credentials)");
	n = host_len(p);
	if (n == 0)
		return why_bad(why, whylen, s, "a URL with a valid host");
	p += n;
	if (*p == ':') {
		n = port_len(p + 1);
		if (n == 0)
			return why_bad(why, whylen, s, "a URL with a valid port (1 to 65535)");
		p += 1 + n;
	}
	if (*p != '\0' && (*p != '/' || strspn(p, path_chars) != strlen(p)))
		return why_bad(why, whylen, s,
			       "a base URL (https://host[:port][/path], no query or fragment)");
	n = strlen(s);
	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
	return 0;
}

static int
check_key_file(char *s, char *why, size_t whylen)
{
	return scv_key_check(s, why, whylen);
}

static int
check_readable_file(char *s, char *why, size_t whylen)
{
	char q[QUOTED_MAX];
	struct stat st;
	int fd, rc = 0;

	fd = open(s, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block */
	if (fd < 0) {
		rc = -errno;
		snprintf(why, whylen, "cannot read %s: %s", quoted(q, s), strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(why, whylen, "cannot read %s: %s", quoted(q, s), strerror(-rc));
	} else if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		snprintf(why, whylen, "%s is not a regular file", quoted(q, s));
	}
	close(fd);
	return rc;
}

static int
check_e164(char *s, char *why, size_t whylen)
{
	if (!e164_valid(s))
		return why_bad(why, whylen, s,
			       "an E.164 number (\"+\", then 7 to 15 digits, the first not 0)");
	return 0;
}

/* RFC 3261 token characters, at most 64 of them. */
static int
check_header_name(char *s, char *why, size_t whylen)
{
	static const char token_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					  "0123456789-.!%*_+`'~";
	size_t n = strlen(s);

	if (n < 1 || n > 64 || strspn(s, token_chars) != n)
		return why_bad(why, whylen, s,
			       "a SIP header name (1 to 64 letters, digits or -.!%*_+`'~)");
	return 0;
}

static int
check_field_name(char *s, char *why, size_t whylen)
{
	if (!api_name(s, 80))
		return why_bad(why, whylen, s,
			       "a field API name (a letter, then up to 79 letters, digits or "
			       "\"_\")");
	return 0;
}

static int
check_provider_name(char *s, char *why, size_t whylen)
{
	if (!printable(s, 80))
		return why_bad(why, whylen, s,
			       "a provider name (1 to 80 printable ASCII characters)");
	return 0;
}

/* ---- The option tables --------------------------------------------------------------- */

enum opt_type {
	OPT_STRING,  /* char * (a copy; the default is copied too) */
	OPT_UINT,    /* unsigned, from a JSON integer within [min, max] */
	OPT_ENUM,    /* an int-sized enum: the index of the JSON string in names[] */
	OPT_STRINGS, /* char ** and a size_t count; each item through check */
	OPT_ATTRS,   /* object of string -> string: struct cfg_call_attr[] and a size_t count */
	OPT_OBJECT,  /* nested object whose keys fill the same struct */
	OPT_OBJECTS, /* array of objects: elem_size-byte structs and a size_t count */
};

#define OPT_REQUIRED 1u /* absent: an error (otherwise: the default) */
#define OPT_NONEMPTY 2u /* arrays: at least one item */

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
	check_fn check;           /* a string value, each array item, or each map key */
	check_fn check_value;     /* OPT_ATTRS: each map value */
	const char *const *names; /* OPT_ENUM: the allowed strings, NULL-terminated */
	const struct opt *sub;    /* OPT_OBJECT, OPT_OBJECTS: the nested table */
	size_t elem_size;         /* OPT_OBJECTS */
};

#define O_STRING(k, fl, dflt, dst, fn)                                                     \
	{.name = (k), .type = OPT_STRING, .flags = (fl), .def_str = (dflt), .off = (dst),   \
	 .check = (fn)}
#define O_UINT(k, dflt, lo, hi, dst)                                                       \
	{.name = (k), .type = OPT_UINT, .def_num = (dflt), .min = (lo), .max = (hi),       \
	 .off = (dst)}
#define O_ENUM(k, nm, dflt, dst)                                                           \
	{.name = (k), .type = OPT_ENUM, .names = (nm), .def_num = (dflt), .off = (dst)}
#define O_STRINGS(k, fl, dst, dst_n, fn)                                                   \
	{.name = (k), .type = OPT_STRINGS, .flags = (fl), .off = (dst), .off_n = (dst_n),  \
	 .check = (fn)}
#define O_ATTRS(k, maxn, dst, dst_n, kfn, vfn)                                             \
	{.name = (k), .type = OPT_ATTRS, .max_items = (maxn), .off = (dst),                \
	 .off_n = (dst_n), .check = (kfn), .check_value = (vfn)}
#define O_OBJECT(k, fl, tbl) {.name = (k), .type = OPT_OBJECT, .flags = (fl), .sub = (tbl)}
#define O_OBJECTS(k, fl, dst, dst_n, elem, tbl)                                            \
	{.name = (k), .type = OPT_OBJECTS, .flags = (fl), .off = (dst), .off_n = (dst_n),  \
	 .elem_size = sizeof(elem), .sub = (tbl)}

#define REQ OPT_REQUIRED
#define CFG_OFF(f) offsetof(struct cfg, f)
#define CC_OFF(f) offsetof(struct cfg_contact_center, f)

_Static_assert(sizeof(enum cfg_jwt_mode) == sizeof(int), "OPT_ENUM stores an int");

static const char *const jwt_mode_names[] = {"reuse", "per_request", NULL};

static const struct opt log_opts[] = {
	O_STRING("level", 0, "info", CFG_OFF(log_level), check_log_level),
	{NULL},
};

static const struct opt sip_opts[] = {
	O_STRING("listen", REQ, NULL, CFG_OFF(sip_listen), check_listen_uri),
	O_STRINGS("trusted_peers", REQ | OPT_NONEMPTY, CFG_OFF(trusted_peers),
		  CFG_OFF(n_trusted_peers), check_peer),
	O_STRING("user_agent", 0, "scvbridge/" SCVB_VERSION, CFG_OFF(sip_user_agent),
		 check_user_agent),
	O_STRING("default_country_code", 0, NULL, CFG_OFF(default_country_code),
		 check_country_code),
	O_UINT("max_calls", 10000, 1, 1000000, CFG_OFF(max_calls)),
	O_UINT("shutdown_grace_ms", 30000, 0, 3600000, CFG_OFF(shutdown_grace_ms)),
	O_UINT("drain_timeout_ms", 30000, 0, 3600000, CFG_OFF(drain_timeout_ms)),
	{NULL},
};

static const struct opt store_opts[] = {
	O_STRING("path", REQ, NULL, CFG_OFF(store_path), NULL),
	{NULL},
};

static const struct opt cc_opts[] = {
	O_STRING("name", REQ, NULL, CC_OFF(name), check_cc_name),
	O_STRING("org_id", REQ, NULL, CC_OFF(org_id), check_org_id),
	O_STRING("call_center_api_name", REQ, NULL, CC_OFF(call_center_api_name),
		 check_api_name),
	O_STRING("base_url", REQ, NULL, CC_OFF(base_url), check_base_url),
	O_STRING("private_key_file", REQ, NULL, CC_OFF(private_key_file), check_key_file),
	O_STRING("ca_file", 0, NULL, CC_OFF(ca_file), check_readable_file),
	O_STRINGS("numbers", REQ | OPT_NONEMPTY, CC_OFF(numbers), CC_OFF(n_numbers), check_e164),
	O_STRING("forward_to", REQ, NULL, CC_OFF(forward_to), check_forward_uri),
	O_ATTRS("call_attributes", 32, CC_OFF(call_attrs), CC_OFF(n_call_attrs),
		check_header_name, check_field_name),
	O_STRING("provider_name", 0, "scvbridge", CC_OFF(provider_name), check_provider_name),
	O_ENUM("jwt_mode", jwt_mode_names, CFG_JWT_REUSE, CC_OFF(jwt_mode)),
	O_UINT("request_timeout_ms", 10000, 100, 120000, CC_OFF(request_timeout_ms)),
	{NULL},
};

static const struct opt root_opts[] = {
	O_OBJECT("log", 0, log_opts),
	O_OBJECT("sip", REQ, sip_opts),
	O_OBJECT("store", REQ, store_opts),
	O_OBJECTS("contact_centers", REQ | OPT_NONEMPTY, CFG_OFF(ccs), CFG_OFF(n_ccs),
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
static int __attribute__((format(printf, 3, 4)))
fail(struct ctx *c, int rc, const char *fmt, ...)
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

static void
path_append(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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
	char q[QUOTED_MAX];
	const char *sep = c->plen ? "." : "";
	size_t n = strlen(key);

	if (n > 0 && n <= 64 && strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					    "0123456789_-") == n)
		path_append(c, "%s%s", sep, key);
	else
		path_append(c, "%s%s", sep, quoted(q, key));
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
parse_string(struct ctx *c, json_t *v, check_fn check, char **ret)
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
	char why[WHY_MAX], q1[QUOTED_MAX], q2[QUOTED_MAX];
	struct cfg_call_attr *attrs;
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
	*AT(base, o->off, struct cfg_call_attr *) = attrs;
	*AT(base, o->off_n, size_t) = n;
	json_object_foreach(v, key, val) {
		struct cfg_call_attr *a = &attrs[i++];

		a->header = strdup(key);
		if (!a->header)
			return fail(c, -ENOMEM, "out of memory");
		rc = o->check(a->header, why, sizeof why);
		if (rc < 0)
			return fail(c, rc, "%s", why);
		path_push_key(c, key);
		rc = parse_string(c, val, o->check_value, &a->field);
		path_pop(c, mark);
		if (rc < 0)
			return rc;
		for (struct cfg_call_attr *b = attrs; b < a; b++) {
			if (strcasecmp(b->header, a->header) == 0)
				return fail(c, -EINVAL,
					    "%s and %s name the same header (names are "
					    "case-insensitive)",
					    quoted(q1, b->header), quoted(q2, a->header));
			if (strcmp(b->field, a->field) == 0)
				return fail(c, -EINVAL, "%s and %s both fill field %s",
					    quoted(q1, b->header), quoted(q2, a->header),
					    a->field);
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
	char q[QUOTED_MAX];

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
		return fail(c, -EINVAL, "%s is not one of %s", quoted(q, json_string_value(v)),
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
		json_object_foreach(obj, key, v) {
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
			struct cfg_call_attr *attrs = *AT(base, o->off, struct cfg_call_attr *);

			for (size_t i = 0; i < *AT(base, o->off_n, size_t); i++) {
				free(attrs[i].header);
				free(attrs[i].field);
			}
			free(attrs);
			*AT(base, o->off, struct cfg_call_attr *) = NULL;
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

static int
check_unique_names(struct ctx *c, const struct cfg *cfg)
{
	char q[QUOTED_MAX];

	for (size_t i = 1; i < cfg->n_ccs; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->ccs[i].name, cfg->ccs[j].name) == 0) {
				path_append(c, "contact_centers[%zu].name", i);
				return fail(c, -EINVAL,
					    "%s is already the name of contact_centers[%zu]",
					    quoted(q, cfg->ccs[i].name), j);
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
	char q[QUOTED_MAX];

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
			  quoted(q, dup->number), first->cc, first->pos,
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
