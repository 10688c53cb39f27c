/* Validators of single configuration values (see config_check.h). */
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

/* ---- Messages ----------------------------------------------------------------------- */

/*
 * s between double quotes for an error message: '"', '\' and bytes outside printable ASCII
 * escaped, and cut with "..." when long. Returns buf.
 */
const char *
cfg_quoted(char buf[CFG_QUOTED_MAX], const char *s)
{
	size_t n = 0;

	buf[n++] = '"';
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (n > CFG_QUOTED_MAX - 10) {
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
	char q[CFG_QUOTED_MAX];

	snprintf(why, whylen, "%s is not %s", cfg_quoted(q, value), what);
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

int
cfg_check_log_level(char *s, char *why, size_t whylen)
{
	enum log_level level;

	if (log_level_parse(s, &level) < 0)
		return why_bad(why, whylen, s, "one of error, warn, info, debug");
	return 0;
}

#define URI_NEED_PORT 1u
#define URI_NO_USER   2u

/*
 * sip: or sips: URI: [user@]host[:port][;param[=value]]... Header fields ("?...") are not
 * accepted: nothing here needs them.
 */
int
cfg_check_sip_uri(const char *s, unsigned flags, char *why, size_t whylen)
{
	static const char user_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                 "0123456789-_.!~*'()&=+$,;?/%";
	static const char param_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                  "0123456789-_.!~*'()[]/:&+$%";
	const char *p, *at, *reason;
	char q[CFG_QUOTED_MAX];
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
	snprintf(why, whylen, "%s is not a valid SIP URI: %s", cfg_quoted(q, s), reason);
	return -EINVAL;
}

int
cfg_check_listen_uri(char *s, char *why, size_t whylen)
{
	return cfg_check_sip_uri(s, URI_NEED_PORT | URI_NO_USER, why, whylen);
}

int
cfg_check_forward_uri(char *s, char *why, size_t whylen)
{
	return cfg_check_sip_uri(s, 0, why, whylen);
}

/* An IPv4/IPv6 address, or a CIDR prefix whose address has no bits set past the prefix. */
int
cfg_check_peer(char *s, char *why, size_t whylen)
{
	unsigned char bin[16];
	char addr[INET6_ADDRSTRLEN + 1], q[CFG_QUOTED_MAX];
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
		snprintf(why, whylen,
		         "%s has address bits set past the /%u prefix (did you mean "
		         "\"%s/%u\"?)",
		         cfg_quoted(q, s), prefix, net, prefix);
		return -EINVAL;
	}
	return 0;
bad:
	return why_bad(why, whylen, s, "an IP address or CIDR prefix");
}

int
cfg_check_user_agent(char *s, char *why, size_t whylen)
{
	if (!printable(s, 128))
		return why_bad(why, whylen, s,
		               "a user agent (1 to 128 printable ASCII characters)");
	return 0;
}

int
cfg_check_country_code(char *s, char *why, size_t whylen)
{
	size_t n = strlen(s);

	if (n < 1 || n > 3 || s[0] == '0' || strspn(s, "0123456789") != n)
		return why_bad(why, whylen, s, "a country code (1 to 3 digits, the first not 0)");
	return 0;
}

int
cfg_check_cc_name(char *s, char *why, size_t whylen)
{
	static const char name_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                 "0123456789_.-";
	size_t n = strlen(s);

	if (n < 1 || n > 64 || strspn(s, name_chars) != n)
		return why_bad(why, whylen, s,
		               "a valid name (1 to 64 letters, digits, \"_\", \".\" or \"-\")");
	return 0;
}

int
cfg_check_org_id(char *s, char *why, size_t whylen)
{
	size_t n = strlen(s), i;

	for (i = 0; i < n && is_alnum(s[i]); i++)
		;
	if ((n != 15 && n != 18) || i != n || strncmp(s, "00D", 3) != 0)
		return why_bad(why, whylen, s,
		               "an org id (15 or 18 letters and digits starting with \"00D\")");
	return 0;
}

int
cfg_check_api_name(char *s, char *why, size_t whylen)
{
	if (!api_name(s, 80))
		return why_bad(why, whylen, s,
		               "a call center API name (a letter, then up to 79 letters, digits "
		               "or \"_\")");
	return 0;
}

/* https://host[:port][/path], no user info, query or fragment; trailing "/"s are dropped. */
int
cfg_check_base_url(char *s, char *why, size_t whylen)
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

int
cfg_check_key_file(char *s, char *why, size_t whylen)
{
	return scv_key_check(s, why, whylen);
}

int
cfg_check_readable_file(char *s, char *why, size_t whylen)
{
	char q[CFG_QUOTED_MAX];
	struct stat st;
	int fd, rc = 0;

	fd = open(s, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block */
	if (fd < 0) {
		rc = -errno;
		snprintf(why, whylen, "cannot read %s: %s", cfg_quoted(q, s), strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(why, whylen, "cannot read %s: %s", cfg_quoted(q, s), strerror(-rc));
	} else if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		snprintf(why, whylen, "%s is not a regular file", cfg_quoted(q, s));
	}
	close(fd);
	return rc;
}

int
cfg_check_e164(char *s, char *why, size_t whylen)
{
	if (!e164_valid(s))
		return why_bad(why, whylen, s,
		               "an E.164 number (\"+\", then 7 to 15 digits, the first not 0)");
	return 0;
}

/* RFC 3261 token characters, at most 64 of them. */
int
cfg_check_header_name(char *s, char *why, size_t whylen)
{
	static const char token_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                  "0123456789-.!%*_+`'~";
	size_t n = strlen(s);

	if (n < 1 || n > 64 || strspn(s, token_chars) != n)
		return why_bad(why, whylen, s,
		               "a SIP header name (1 to 64 letters, digits or -.!%*_+`'~)");
	return 0;
}

int
cfg_check_field_name(char *s, char *why, size_t whylen)
{
	if (!api_name(s, 80))
		return why_bad(why, whylen, s,
		               "a field API name (a letter, then up to 79 letters, digits or "
		               "\"_\")");
	return 0;
}

int
cfg_check_provider_name(char *s, char *why, size_t whylen)
{
	if (!printable(s, 80))
		return why_bad(why, whylen, s,
		               "a provider name (1 to 80 printable ASCII characters)");
	return 0;
}

/*
 * A recording URL template: http(s)://..., printable, no spaces, and only the placeholders
 * {vendor_call_key}, {sip_call_id} and {date} between braces.
 */
int
cfg_check_url_template(char *s, char *why, size_t whylen)
{
	static const char *const names[] = {"{vendor_call_key}", "{sip_call_id}", "{date}"};
	const char *p;

	if (strncasecmp(s, "https://", 8) != 0 && strncasecmp(s, "http://", 7) != 0)
		return why_bad(why, whylen, s, "an http:// or https:// URL template");
	if (strlen(s) > 900)
		return why_bad(why, whylen, s, "a template of at most 900 characters");
	for (p = s; *p; p++) {
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return why_bad(why, whylen, s,
			               "a template of printable characters, no spaces");
		if (*p == '}')
			return why_bad(why, whylen, s,
			               "a template whose braces hold a placeholder");
		if (*p == '{') {
			size_t i, n = 0;
			for (i = 0; i < sizeof names / sizeof names[0]; i++) {
				n = strlen(names[i]);
				if (strncmp(p, names[i], n) == 0)
					break;
			}
			if (i == sizeof names / sizeof names[0])
				return why_bad(
				        why, whylen, s,
				        "a template with only {vendor_call_key}, {sip_call_id} "
				        "and {date}");
			p += n - 1;
		}
	}
	return 0;
}

/* A Salesforce routing id (agent or queue external id, queue name): printable, no spaces. */
int
cfg_check_routing_id(char *s, char *why, size_t whylen)
{
	size_t n = strlen(s);

	if (n == 0 || n > 255)
		return why_bad(why, whylen, s, "an id of 1 to 255 characters");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f || s[i] == '"')
			return why_bad(why, whylen, s, "an id of printable characters, no spaces");
	return 0;
}

/* "127.0.0.1:8088" or "[::1]:8088": an address literal and a port (the API binds exactly it). */
int
cfg_check_listen_addr(char *s, char *why, size_t whylen)
{
	char host[64];
	const char *port;
	size_t n;
	unsigned char buf[16];

	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || end[1] != ':')
			return why_bad(why, whylen, s, "an address and port, e.g. \"[::1]:8088\"");
		n = (size_t)(end - s - 1);
		port = end + 2;
		if (n == 0 || n >= sizeof host)
			return why_bad(why, whylen, s, "an IPv6 address in brackets");
		memcpy(host, s + 1, n);
		host[n] = '\0';
		if (inet_pton(AF_INET6, host, buf) != 1)
			return why_bad(why, whylen, s, "an IPv6 address in brackets");
	} else {
		const char *colon = strrchr(s, ':');
		if (!colon)
			return why_bad(why, whylen, s,
			               "an address and port, e.g. \"127.0.0.1:8088\"");
		n = (size_t)(colon - s);
		port = colon + 1;
		if (n == 0 || n >= sizeof host)
			return why_bad(why, whylen, s, "an IPv4 address and a port");
		memcpy(host, s, n);
		host[n] = '\0';
		if (inet_pton(AF_INET, host, buf) != 1)
			return why_bad(why, whylen, s, "an IPv4 address (a literal, not a name)");
	}
	if (port_len(port) == 0 || port[port_len(port)] != '\0')
		return why_bad(why, whylen, s, "an address with a port from 1 to 65535");
	return 0;
}

/* A bearer token: 16 to 256 characters of A-Z a-z 0-9 - . _ ~ + / and trailing '='. */
int
cfg_check_token(char *s, char *why, size_t whylen)
{
	size_t n = strlen(s), i;

	if (n < 16 || n > 256)
		return why_bad(why, whylen, "(not shown)", "a token of 16 to 256 characters");
	for (i = 0; i < n && (is_alnum(s[i]) || strchr("-._~+/", s[i])); i++)
		;
	while (i < n && s[i] == '=')
		i++;
	if (i != n)
		return why_bad(why, whylen, "(not shown)",
		               "a token of A-Z a-z 0-9 - . _ ~ + / (and trailing =)");
	return 0;
}

/* ---- the agent side ---------------------------------------------------------------- */

/* A Salesforce user id: 15 or 18 letters and digits, "005" first. */
int
cfg_check_user_id(char *s, char *why, size_t whylen)
{
	size_t n = strlen(s);

	if ((n != 15 && n != 18) || strncmp(s, "005", 3) != 0)
		return why_bad(why, whylen, s,
		               "a Salesforce user id (15 or 18 letters and digits, starting 005)");
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]))
			return why_bad(why, whylen, s,
			               "a Salesforce user id (15 or 18 letters and digits, "
			               "starting 005)");
	return 0;
}

/* A login name: 1 to 64 of A-Z a-z 0-9 . _ - @ (an e-mail address fits). */
int
cfg_check_username(char *s, char *why, size_t whylen)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return why_bad(why, whylen, s, "a user name of 1 to 64 characters");
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && !strchr("._-@+", s[i]))
			return why_bad(why, whylen, s, "a user name of A-Z a-z 0-9 and . _ - @ +");
	return 0;
}

/* A name shown to people: 1 to 128 bytes, no control characters (UTF-8 is passed as is). */
int
cfg_check_display_name(char *s, char *why, size_t whylen)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128)
		return why_bad(why, whylen, s, "a name of 1 to 128 bytes");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < ' ' || s[i] == 0x7f)
			return why_bad(why, whylen, s, "a name without control characters");
	return 0;
}

/*
 * The shape of a password hash made by `scvbridge --hash-password`: "scrypt$" then five
 * fields separated by "$", printable, at most 256 characters. Its parameters are checked
 * again, with their bounds, when the agent endpoint starts.
 */
int
cfg_check_password_hash(char *s, char *why, size_t whylen)
{
	size_t n = strlen(s), fields = 0;

	if (n > 256 || strncmp(s, "scrypt$", 7) != 0)
		return why_bad(why, whylen, "(not shown)",
		               "a hash from `scvbridge --hash-password` (scrypt$N$r$p$salt$hash)");
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return why_bad(why, whylen, "(not shown)",
			               "a hash of printable characters");
		fields += s[i] == '$';
	}
	if (fields != 5)
		return why_bad(why, whylen, "(not shown)",
		               "a hash from `scvbridge --hash-password` (scrypt$N$r$p$salt$hash)");
	return 0;
}

/* An Origin as browsers send it: "https://host[:port]", lower-case, no path. */
int
cfg_check_origin(char *s, char *why, size_t whylen)
{
	const char *host;
	size_t n;

	if (strncmp(s, "https://", 8) != 0)
		return why_bad(why, whylen, s,
		               "an https origin, e.g. \"https://bridge.example.com\"");
	host = s + 8;
	n = strlen(host);
	if (n == 0 || n > 255)
		return why_bad(why, whylen, s,
		               "an https origin with a host of 1 to 255 characters");
	for (size_t i = 0; i < n; i++) {
		char ch = host[i];

		if (ch >= 'A' && ch <= 'Z')
			return why_bad(why, whylen, s,
			               "an origin in lower case (as browsers send it)");
		if (!is_alnum(ch) && !strchr(".-:[]", ch))
			return why_bad(why, whylen, s,
			               "scheme://host[:port] only, without a path, query or \"/\"");
	}
	return 0;
}

/* A SIP URI template for dialling out: a sip:/sips: URI with {number} in it. */
int
cfg_check_outbound_route(char *s, char *why, size_t whylen)
{
	char probe[1024];
	const char *at = strstr(s, "{number}");

	if (!at || strstr(at + 1, "{number}"))
		return why_bad(
		        why, whylen, s,
		        "a SIP URI with {number} once, e.g. \"sip:{number}@pbx.example.net\"");
	if ((size_t)snprintf(probe, sizeof probe, "%.*s15550100000%s", (int)(at - s), s, at + 8) >=
	    sizeof probe)
		return why_bad(why, whylen, s, "a shorter URI template");
	return cfg_check_forward_uri(probe, why, whylen);
}

/* A directory that exists. */
int
cfg_check_directory(char *s, char *why, size_t whylen)
{
	char q[CFG_QUOTED_MAX];
	struct stat st;

	if (stat(s, &st) < 0) {
		snprintf(why, whylen, "cannot use %s: %s", cfg_quoted(q, s), strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode))
		return why_bad(why, whylen, s, "a directory");
	return 0;
}
