#include "tests/emulator/http.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Where the head ends (just past its empty line), or 0 when it is not all there yet. */
static size_t
find_head_end(const char *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i + 1] == '\n')
			return i + 2;
		if (p[i + 1] == '\r' && i + 2 < len && p[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static bool
is_tchar(int c)
{
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* Does the comma-separated token list contain `tok` (case-insensitive)? */
static bool
list_has(const char *list, const char *tok)
{
	size_t n = strlen(tok);

	for (const char *p = list; *p;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *e = p;
		while (*e && *e != ',')
			e++;
		const char *t = e;
		while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		if ((size_t)(t - p) == n && strncasecmp(p, tok, n) == 0)
			return true;
		p = e;
	}
	return false;
}

static int
parse_request_line(char *line, struct emu_req *req)
{
	char *sp1, *sp2, *q;

	sp1 = strchr(line, ' ');
	if (!sp1)
		return 400;
	*sp1 = '\0';
	sp2 = strchr(sp1 + 1, ' ');
	if (!sp2)
		return 400;
	*sp2 = '\0';
	req->method = line;
	for (const char *m = line; *m; m++)
		if (!is_tchar((unsigned char)*m))
			return 400;
	if (!*req->method)
		return 400;
	if (sp1[1] != '/')
		return 400; /* only origin-form targets */
	for (const char *t = sp1 + 1; *t; t++)
		if ((unsigned char)*t <= ' ' || (unsigned char)*t == 0x7f)
			return 400;
	req->path = sp1 + 1;
	q = strchr(sp1 + 1, '?');
	if (q) {
		*q = '\0';
		req->query = q + 1;
	} else {
		req->query = "";
	}
	if (strncmp(sp2 + 1, "HTTP/", 5) != 0)
		return 400;
	if (strcmp(sp2 + 1, "HTTP/1.1") == 0)
		req->minor = 1;
	else if (strcmp(sp2 + 1, "HTTP/1.0") == 0)
		req->minor = 0;
	else
		return 505;
	req->keep_alive = req->minor == 1;
	return 0;
}

static int
parse_length(const char *v, size_t *ret)
{
	size_t n = 0;

	if (!*v)
		return 400;
	for (; *v; v++) {
		if (*v < '0' || *v > '9')
			return 400;
		if (n > EMU_HTTP_MAX_BODY)
			return 413;
		n = n * 10 + (size_t)(*v - '0');
	}
	if (n > EMU_HTTP_MAX_BODY)
		return 413;
	*ret = n;
	return 0;
}

static int
parse_header(char *line, struct emu_req *req, bool *have_length, bool *conn_close, bool *conn_keep)
{
	char *colon, *value;
	size_t len;
	int rc;

	if (*line == ' ' || *line == '\t')
		return 400; /* obsolete line folding */
	colon = strchr(line, ':');
	if (!colon || colon == line)
		return 400;
	*colon = '\0';
	for (const char *c = line; *c; c++)
		if (!is_tchar((unsigned char)*c))
			return 400;
	value = trim(colon + 1);

	if (strcasecmp(line, "content-length") == 0) {
		rc = parse_length(value, &len);
		if (rc)
			return rc;
		if (*have_length && len != req->content_length)
			return 400;
		*have_length = true;
		req->content_length = len;
	} else if (strcasecmp(line, "transfer-encoding") == 0) {
		return 411;
	} else if (strcasecmp(line, "connection") == 0) {
		if (list_has(value, "close"))
			*conn_close = true;
		if (list_has(value, "keep-alive"))
			*conn_keep = true;
	} else if (strcasecmp(line, "expect") == 0) {
		if (strcasecmp(value, "100-continue") != 0)
			return 417;
		req->expect_continue = true;
	} else if (strcasecmp(line, "content-type") == 0) {
		req->content_type = value;
	} else if (strcasecmp(line, "authorization") == 0) {
		req->authorization = value;
	} else if (strcasecmp(line, "telephony-provider-name") == 0) {
		req->provider = value;
	}
	return 0;
}

int
emu_http_parse_head(const char *p, size_t len, struct emu_req *req)
{
	size_t skip = 0, end;
	bool have_length = false, conn_close = false, conn_keep = false;
	char *line, *next;
	int rc;

	/* Empty lines before a request line are ignored (RFC 9112 §2.2). */
	while (skip < len && (p[skip] == '\r' || p[skip] == '\n') && skip < EMU_HTTP_MAX_HEAD)
		skip++;
	end = find_head_end(p + skip, len - skip);
	if (end == 0)
		return len >= EMU_HTTP_MAX_HEAD ? 431 : EMU_HTTP_INCOMPLETE;
	if (skip + end > EMU_HTTP_MAX_HEAD)
		return 431;
	if (memchr(p + skip, '\0', end))
		return 400; /* the split below relies on C strings */

	memset(req, 0, sizeof *req);
	req->head = malloc(end + 1);
	if (!req->head)
		return 500;
	memcpy(req->head, p + skip, end);
	req->head[end] = '\0';
	req->head_len = skip + end;

	line = req->head;
	for (int first = 1; *line; first = 0, line = next) {
		next = strchr(line, '\n');
		if (!next)
			break;
		*next++ = '\0';
		if (next - line >= 2 && next[-2] == '\r')
			next[-2] = '\0';
		if (!*line)
			break; /* the empty line that ends the head */
		if (strchr(line, '\r'))
			return 400;
		rc = first ? parse_request_line(line, req)
		           : parse_header(line, req, &have_length, &conn_close, &conn_keep);
		if (rc)
			return rc;
	}
	if (!req->method)
		return 400;
	if (conn_close)
		req->keep_alive = false;
	else if (conn_keep)
		req->keep_alive = true;
	return 0;
}

void
emu_req_clear(struct emu_req *req)
{
	free(req->head);
	memset(req, 0, sizeof *req);
}

const char *
emu_http_reason(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 413:
		return "Content Too Large";
	case 415:
		return "Unsupported Media Type";
	case 417:
		return "Expectation Failed";
	case 422:
		return "Unprocessable Content";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Status";
	}
}

int
emu_http_render(struct emu_buf *out, int status, const char *body, size_t body_len, int retry_after,
                bool keep_alive)
{
	char ra[48] = "";

	if (retry_after >= 0)
		snprintf(ra, sizeof ra, "Retry-After: %d\r\n", retry_after);
	if (emu_buf_printf(out,
	                   "HTTP/1.1 %d %s\r\nServer: scv-emulator\r\n"
	                   "Content-Type: application/json;charset=UTF-8\r\n"
	                   "Content-Length: %zu\r\n%s%s\r\n",
	                   status, emu_http_reason(status), body_len, ra,
	                   keep_alive ? "" : "Connection: close\r\n") < 0)
		return -ENOMEM;
	return emu_buf_append(out, body, body_len);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

char *
emu_url_decode(const char *s, size_t len, bool plus_is_space)
{
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= len)
				goto out_bad;
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				goto out_bad;
			*o++ = (char)(hi * 16 + lo);
			i += 2;
		} else if (s[i] == '+' && plus_is_space) {
			*o++ = ' ';
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
out_bad:
	free(out);
	return NULL;
}

char *
emu_query_get(const char *query, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = query; *p;) {
		const char *e = strchr(p, '&');

		if (!e)
			e = p + strlen(p);
		if ((size_t)(e - p) > n && strncmp(p, name, n) == 0 && p[n] == '=')
			return emu_url_decode(p + n + 1, (size_t)(e - p) - n - 1, true);
		if ((size_t)(e - p) == n && strncmp(p, name, n) == 0)
			return emu_url_decode("", 0, true);
		p = *e ? e + 1 : e;
	}
	return NULL;
}
