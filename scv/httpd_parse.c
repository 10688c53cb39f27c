/*
 * The HTTP server's text (see httpd.c): the bounded parser of a request head, and the
 * answers' status lines, header fields and JSON strings. Nothing here reads a socket or keeps
 * state; what a parsed request points to stays in the caller's buffer.
 */
#include "scv/httpd_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the request head ---- */

static int
is_tchar(unsigned char ch)
{
	return isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* See httpd_int.h. */
size_t
scv_httpd_head_end(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* The next line at *p (each ends with LF, maybe after CR), NUL-terminated in place. */
static char *
take_line(char **p)
{
	char *line = *p, *lf = strchr(line, '\n');

	*lf = '\0';
	*p = lf + 1;
	if (lf > line && lf[-1] == '\r')
		lf[-1] = '\0';
	return line;
}

/* Whether s holds a control character (other than HT) or DEL. */
static int
has_ctl(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return 1;
	return 0;
}

/* Fills q from one header field; 0 or the status to answer with, and why. */
static int
parse_field(struct scv_httpd_req *q, size_t max_body, const char *name, char *value,
            const char **ret_why)
{
	if (!strcasecmp(name, "Content-Length")) {
		size_t n = strspn(value, "0123456789");

		if (q->has_length++ || n == 0 || value[n]) {
			*ret_why = "bad or repeated Content-Length";
			return 400;
		}
		q->content_length = n > 9 ? (long)max_body + 1 : strtol(value, NULL, 10);
		if (q->content_length > (long)max_body)
			q->content_length = (long)max_body + 1;
	} else if (!strcasecmp(name, "Transfer-Encoding")) {
		q->has_te = 1;
	} else if (!strcasecmp(name, "Host")) {
		if (q->has_host++) {
			*ret_why = "repeated Host";
			return 400;
		}
	} else if (!strcasecmp(name, "Authorization")) {
		if (q->authorization) {
			*ret_why = "repeated Authorization";
			return 400;
		}
		q->authorization = value;
	} else if (!strcasecmp(name, "Expect")) {
		if (strcasecmp(value, "100-continue")) {
			*ret_why = "only Expect: 100-continue is understood";
			return 417;
		}
		q->expect_continue = 1;
	} else if (!strcasecmp(name, "Connection")) {
		for (char *t = value; *t;) {
			size_t n = strcspn(t, ",");

			while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
				n--;
			if (n == 5 && !strncasecmp(t, "close", 5))
				q->close = 1;
			t += strcspn(t, ",");
			t += strspn(t, ", \t");
		}
	}
	return 0;
}

/* See httpd_int.h. */
int
scv_httpd_parse_head(char *buf, size_t len, size_t max_body, struct scv_httpd_req *q,
                     const char **ret_why)
{
	char *p = buf, *line, *sp, *version;
	unsigned n_fields = 0;
	int status;

	memset(q, 0, sizeof *q);
	if (memchr(buf, '\0', len)) { /* then every line ends with an LF before len */
		*ret_why = "NUL in the request head";
		return 400;
	}
	line = take_line(&p);
	sp = strchr(line, ' ');
	if (!sp || has_ctl(line) || (size_t)(sp - line) >= sizeof q->method || sp == line) {
		*ret_why = "malformed request line";
		return 400;
	}
	*sp = '\0';
	for (const char *m = line; *m; m++)
		if (!is_tchar((unsigned char)*m)) {
			*ret_why = "malformed request line";
			return 400;
		}
	memcpy(q->method, line, (size_t)(sp - line) + 1);
	q->target = sp + 1;
	sp = strchr(q->target, ' ');
	if (!sp || q->target[0] != '/') {
		*ret_why = "malformed request line (the target must be a path)";
		return 400;
	}
	*sp = '\0';
	for (const char *t = q->target; *t; t++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f) {
			*ret_why = "malformed request target";
			return 400;
		}
	version = sp + 1;
	if (!strcmp(version, "HTTP/1.0")) {
		q->http10 = 1;
		q->close = 1; /* no keep-alive for HTTP/1.0 */
	} else if (strcmp(version, "HTTP/1.1")) {
		*ret_why = "HTTP/1.1 or HTTP/1.0 only";
		return strncmp(version, "HTTP/", 5) ? 400 : 505;
	}

	while (*(line = take_line(&p))) {
		char *colon, *value, *end;

		if (++n_fields > SCV_HTTPD_MAX_FIELDS) {
			*ret_why = "more than " STR(SCV_HTTPD_MAX_FIELDS) " header fields";
			return 431;
		}
		colon = strchr(line, ':');
		if (*line == ' ' || *line == '\t' || !colon || colon == line || has_ctl(line)) {
			*ret_why = "malformed header field";
			return 400;
		}
		*colon = '\0';
		for (const char *n = line; *n; n++)
			if (!is_tchar((unsigned char)*n)) {
				*ret_why = "malformed header field";
				return 400;
			}
		value = colon + 1 + strspn(colon + 1, " \t");
		end = value + strlen(value);
		while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		q->fields[q->n_fields].name = line;
		q->fields[q->n_fields++].value = value;
		status = parse_field(q, max_body, line, value, ret_why);
		if (status)
			return status;
	}
	if (!q->has_host && !q->http10) {
		*ret_why = "no Host header field";
		return 400;
	}
	if (q->has_te) {
		*ret_why = "a Content-Length is required (no Transfer-Encoding)";
		return 411;
	}
	return 0;
}

/* ---- answers ---- */

/* s as the inside of a JSON string, cut to fit cap (>= 8): quotes, backslashes and control
 * characters escaped, bytes outside ASCII as '?' (a cut never splits a sequence). */
void
scv_httpd_json_escape(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; *s && n + 7 < cap; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			out[n++] = '\\';
			out[n++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", ch);
		} else {
			out[n++] = ch < 0x80 ? (char)ch : '?';
		}
	}
	out[n] = '\0';
}

static const struct {
	int status;
	const char *text;
} status_texts[] = {
        {100, "Continue"},
        {101, "Switching Protocols"},
        {200, "OK"},
        {202, "Accepted"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {411, "Length Required"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {417, "Expectation Failed"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {503, "Service Unavailable"},
        {505, "HTTP Version Not Supported"},
};

static const char *
status_text(int status)
{
	for (size_t i = 0; i < sizeof status_texts / sizeof status_texts[0]; i++)
		if (status_texts[i].status == status)
			return status_texts[i].text;
	return "Error";
}

/* See httpd_int.h. */
size_t
scv_httpd_format_response(char *out, size_t cap, int status, const char *extra, const char *body,
                          int head_only, int *close_after)
{
	int n;

	if (status < 200) /* interim or 101: no body, no framing */
		n = snprintf(out, cap, "HTTP/1.1 %d %s\r\n%s\r\n", status, status_text(status),
		             extra ? extra : "");
	else
		n = snprintf(out, cap,
		             "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: "
		             "%zu\r\n"
		             "Cache-Control: no-store\r\n%s%s\r\n%s",
		             status, status_text(status), strlen(body), extra ? extra : "",
		             *close_after ? "Connection: close\r\n" : "", head_only ? "" : body);
	if (n < 0 || (size_t)n >= cap) { /* the caller sizes out for it: cannot happen */
		*close_after = 1;
		n = snprintf(out, cap,
		             "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0"
		             "\r\nConnection: close\r\n\r\n");
	}
	return (size_t)n;
}

/* See httpd.h. */
const char *
scv_httpd_field(const struct scv_httpd_req *q, const char *name)
{
	for (unsigned i = 0; i < q->n_fields; i++)
		if (!strcasecmp(q->fields[i].name, name))
			return q->fields[i].value;
	return NULL;
}
