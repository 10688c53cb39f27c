/*
 * HTTP/1.1 response parser (see http1.h). The head is collected whole (bounded) and then
 * parsed line by line; the body is framed by Content-Length, chunked coding, or the end
 * of the connection. Bare LF line ends are accepted, as RFC 9112 §2.2 allows.
 */
#include "scv/http1.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_TRAILER_BYTES (8 * 1024)

void
scv_http1_init(struct scv_http1 *p, size_t max_body, int head_request)
{
	free(p->body);
	memset(p, 0, offsetof(struct scv_http1, head));
	p->max_body = max_body;
	p->no_body = head_request;
	p->content_length = -1;
	p->head_len = 0;
	p->line_len = 0;
	p->trailer_bytes = 0;
}

void
scv_http1_free(struct scv_http1 *p)
{
	free(p->body);
	p->body = NULL;
	p->body_len = p->body_cap = 0;
}

char *
scv_http1_take_body(struct scv_http1 *p, size_t *ret_len)
{
	char *b = p->body;

	*ret_len = p->body_len;
	p->body = NULL;
	p->body_len = p->body_cap = 0;
	return b;
}

static int
append_body(struct scv_http1 *p, const char *data, size_t n)
{
	if (n > p->max_body - p->body_len)
		return -EMSGSIZE;
	if (p->body_len + n + 1 > p->body_cap) {
		size_t cap = p->body_cap ? p->body_cap : 1024;
		char *b;

		while (cap < p->body_len + n + 1)
			cap *= 2;
		if (cap > p->max_body + 1)
			cap = p->max_body + 1;
		b = realloc(p->body, cap);
		if (!b)
			return -ENOMEM;
		p->body = b;
		p->body_cap = cap;
	}
	memcpy(p->body + p->body_len, data, n);
	p->body_len += n;
	p->body[p->body_len] = '\0';
	return 0;
}

static int
is_tchar(int c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Does the comma-separated list value contain token (case-insensitive)? */
static int
list_has(const char *value, const char *token)
{
	size_t tl = strlen(token);
	const char *s = value;

	while (*s) {
		const char *e;
		size_t n;

		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		e = s;
		while (*e && *e != ',')
			e++;
		n = (size_t)(e - s);
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (n == tl && strncasecmp(s, token, tl) == 0)
			return 1;
		s = e;
	}
	return 0;
}

/* The last transfer coding of a Transfer-Encoding value is "chunked". */
static int
last_coding_chunked(const char *value)
{
	const char *last = strrchr(value, ',');
	size_t n;

	last = last ? last + 1 : value;
	while (*last == ' ' || *last == '\t')
		last++;
	n = strlen(last);
	while (n && (last[n - 1] == ' ' || last[n - 1] == '\t'))
		n--;
	return n == 7 && strncasecmp(last, "chunked", 7) == 0;
}

/*
 * Parses the collected head (p->head[0..p->head_len), NUL-terminated by the caller, lines
 * ending in LF). Sets status and framing. Returns 0, 1 for an interim (1xx) response to
 * skip, or a negative errno.
 */
static int
parse_head(struct scv_http1 *p)
{
	char *line = p->head, *next, *colon, *v, *end;
	int minor, conn_close = 0, conn_keep = 0, te = 0;
	long long cl = -1;

	next = strchr(line, '\n');
	if (!next)
		return -EPROTO;
	*next++ = '\0';
	if (next - line >= 2 && next[-2] == '\r')
		next[-2] = '\0';
	/* HTTP/1.x SP 3DIGIT [SP reason] */
	if (strncmp(line, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)line[7]) ||
	    line[8] != ' ' || !isdigit((unsigned char)line[9]) ||
	    !isdigit((unsigned char)line[10]) || !isdigit((unsigned char)line[11]) ||
	    (line[12] != ' ' && line[12] != '\0') || line[9] == '0')
		return -EPROTO;
	minor = line[7] - '0';
	p->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');

	for (line = next; *line; line = next) {
		next = strchr(line, '\n');
		if (!next)
			return -EPROTO;
		*next++ = '\0';
		if (next - line >= 2 && next[-2] == '\r')
			next[-2] = '\0';
		if (*line == '\0')
			break; /* the blank line */
		/* no obs-fold, no space before the colon */
		colon = strchr(line, ':');
		if (!colon || colon == line)
			return -EPROTO;
		for (char *c = line; c < colon; c++)
			if (!is_tchar((unsigned char)*c))
				return -EPROTO;
		*colon = '\0';
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		end = v + strlen(v);
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';

		if (strcasecmp(line, "Content-Length") == 0) {
			long long n = 0;
			if (!*v || strlen(v) > 15)
				return -EPROTO;
			for (const char *d = v; *d; d++) {
				if (!isdigit((unsigned char)*d))
					return -EPROTO;
				n = n * 10 + (*d - '0');
			}
			if (cl >= 0 && cl != n)
				return -EPROTO;
			cl = n;
		} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
			te = 1;
			p->chunked = last_coding_chunked(v);
		} else if (strcasecmp(line, "Connection") == 0) {
			conn_close |= list_has(v, "close");
			conn_keep |= list_has(v, "keep-alive");
		} else if (strcasecmp(line, "Retry-After") == 0) {
			snprintf(p->retry_after, sizeof p->retry_after, "%s", v);
		}
	}

	if (p->status >= 100 && p->status <= 199) {
		/* 101 would switch protocols, which was never asked for */
		return p->status == 101 ? -EPROTO : 1;
	}
	p->keep_alive = minor >= 1 ? !conn_close : conn_keep && !conn_close;
	if (p->no_body || p->status == 204 || p->status == 304) {
		p->state = SCV_HTTP1_DONE;
		return 0;
	}
	if (te) {
		/* Transfer-Encoding overrides Content-Length; such a message must not be reused
		 * (RFC 9112 §6.3), and only chunked frames the body. */
		if (cl >= 0)
			p->keep_alive = 0;
		if (p->chunked) {
			p->state = SCV_HTTP1_CHUNK_SIZE;
			return 0;
		}
		p->state = SCV_HTTP1_BODY_EOF;
		p->keep_alive = 0;
		return 0;
	}
	if (cl >= 0) {
		p->content_length = cl;
		if ((unsigned long long)cl > p->max_body)
			return -EMSGSIZE;
		p->left = (unsigned long long)cl;
		p->state = cl ? SCV_HTTP1_BODY_LENGTH : SCV_HTTP1_DONE;
		return 0;
	}
	p->state = SCV_HTTP1_BODY_EOF;
	p->keep_alive = 0;
	return 0;
}

/* Collects head bytes; returns bytes consumed (>= 0) or a negative errno. */
static ssize_t
feed_head(struct scv_http1 *p, const char *data, size_t len)
{
	size_t old = p->head_len, room = SCV_HTTP1_MAX_HEAD - 1 - old, n = len < room ? len : room;
	size_t i, from = old > 3 ? old - 3 : 0, end = 0;
	int rc;

	memcpy(p->head + old, data, n);
	p->head_len += n;
	/* The head ends at an empty line: LF CRLF or LF LF. */
	for (i = from; i < p->head_len; i++) {
		if (p->head[i] != '\n' || i == 0)
			continue;
		if (p->head[i - 1] == '\n' ||
		    (i >= 2 && p->head[i - 1] == '\r' && p->head[i - 2] == '\n')) {
			end = i + 1;
			break;
		}
	}
	if (!end) {
		if (p->head_len >= SCV_HTTP1_MAX_HEAD - 1)
			return -EPROTO;
		return (ssize_t)n;
	}
	p->head_len = end;
	p->head[end] = '\0';
	rc = parse_head(p);
	if (rc < 0)
		return rc;
	if (rc == 1) { /* interim response: start over with the next head */
		p->head_len = 0;
		p->status = 0;
		p->chunked = 0;
		p->retry_after[0] = '\0';
	}
	return (ssize_t)(end - old);
}

/*
 * Collects one line (chunk size, chunk end, trailer) into p->line. Returns bytes consumed
 * and sets *ret_done when the line (without its CRLF or LF) is complete.
 */
static ssize_t
feed_line(struct scv_http1 *p, const char *data, size_t len, int *ret_done)
{
	const char *nl = memchr(data, '\n', len);
	size_t n = nl ? (size_t)(nl - data) + 1 : len;

	if (p->line_len + n > SCV_HTTP1_MAX_LINE - 1)
		return -EPROTO;
	memcpy(p->line + p->line_len, data, n);
	p->line_len += n;
	*ret_done = nl != NULL;
	if (nl) {
		p->line_len--; /* LF */
		if (p->line_len && p->line[p->line_len - 1] == '\r')
			p->line_len--;
		p->line[p->line_len] = '\0';
	}
	return (ssize_t)n;
}

static int
chunk_size(struct scv_http1 *p)
{
	unsigned long long size = 0;
	const char *s = p->line;
	int digits = 0;

	for (; isxdigit((unsigned char)*s); s++, digits++) {
		if (digits == 15)
			return -EPROTO;
		size = size * 16 +
		       (unsigned long long)(isdigit((unsigned char)*s)
		                                    ? *s - '0'
		                                    : tolower((unsigned char)*s) - 'a' + 10);
	}
	while (*s == ' ' || *s == '\t')
		s++;
	if (!digits || (*s && *s != ';'))
		return -EPROTO;
	if (size > p->max_body - p->body_len)
		return -EMSGSIZE;
	p->left = size;
	p->state = size ? SCV_HTTP1_CHUNK_DATA : SCV_HTTP1_TRAILERS;
	p->line_len = 0;
	return 0;
}

ssize_t
scv_http1_feed(struct scv_http1 *p, const char *data, size_t len)
{
	size_t used = 0;
	ssize_t n;
	int rc, done;

	while (used < len && p->state != SCV_HTTP1_DONE) {
		const char *d = data + used;
		size_t avail = len - used;

		switch (p->state) {
		case SCV_HTTP1_HEAD:
			n = feed_head(p, d, avail);
			if (n < 0)
				return n;
			break;
		case SCV_HTTP1_BODY_LENGTH:
		case SCV_HTTP1_CHUNK_DATA:
			n = (ssize_t)(avail < p->left ? avail : p->left);
			rc = append_body(p, d, (size_t)n);
			if (rc < 0)
				return rc;
			p->left -= (unsigned long long)n;
			if (!p->left)
				p->state = p->state == SCV_HTTP1_BODY_LENGTH ? SCV_HTTP1_DONE
				                                             : SCV_HTTP1_CHUNK_END;
			break;
		case SCV_HTTP1_CHUNK_SIZE:
			n = feed_line(p, d, avail, &done);
			if (n < 0)
				return n;
			if (done && (rc = chunk_size(p)) < 0)
				return rc;
			break;
		case SCV_HTTP1_CHUNK_END:
			n = feed_line(p, d, avail, &done);
			if (n < 0)
				return n;
			if (done) {
				if (p->line_len)
					return -EPROTO;
				p->state = SCV_HTTP1_CHUNK_SIZE;
			}
			break;
		case SCV_HTTP1_TRAILERS:
			n = feed_line(p, d, avail, &done);
			if (n < 0)
				return n;
			p->trailer_bytes += (size_t)n;
			if (p->trailer_bytes > MAX_TRAILER_BYTES)
				return -EPROTO;
			if (done) {
				if (!p->line_len)
					p->state = SCV_HTTP1_DONE;
				p->line_len = 0;
			}
			break;
		case SCV_HTTP1_BODY_EOF:
			n = (ssize_t)avail;
			rc = append_body(p, d, avail);
			if (rc < 0)
				return rc;
			break;
		default:
			return -EPROTO;
		}
		used += (size_t)n;
	}
	return (ssize_t)used;
}

int
scv_http1_eof(struct scv_http1 *p)
{
	if (p->state == SCV_HTTP1_BODY_EOF)
		p->state = SCV_HTTP1_DONE;
	return p->state == SCV_HTTP1_DONE ? 0 : -ECONNRESET;
}

static int
month_index(const char *m)
{
	static const char *const names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

	for (int i = 0; i < 12; i++)
		if (strcasecmp(m, names[i]) == 0)
			return i;
	return -1;
}

/* An HTTP-date in any of its three forms (RFC 9110 §5.6.7), or -1. */
static time_t
http_date(const char *s)
{
	char wday[16], mon[4];
	int d, y, hh, mm, ss, n;
	int len = (int)strlen(s);
	struct tm tm;

	/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
	n = -1;
	if (sscanf(s, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", wday, &d, mon, &y, &hh,
	           &mm, &ss, &n) == 7 &&
	    n == len)
		goto parsed;
	/* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
	n = -1;
	if (sscanf(s, "%15[A-Za-z], %2d-%3[A-Za-z]-%2d %2d:%2d:%2d GMT%n", wday, &d, mon, &y, &hh,
	           &mm, &ss, &n) == 7 &&
	    n == len) {
		y += y < 70 ? 2000 : 1900;
		goto parsed;
	}
	/* asctime: Sun Nov  6 08:49:37 1994 */
	n = -1;
	if (sscanf(s, "%3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4d%n", wday, mon, &d, &hh, &mm, &ss,
	           &y, &n) == 7 &&
	    n == len)
		goto parsed;
	return -1;

parsed:
	memset(&tm, 0, sizeof tm);
	tm.tm_mon = month_index(mon);
	if (tm.tm_mon < 0 || d < 1 || d > 31 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 ||
	    ss > 60 || y < 1970)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mday = d;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	return timegm(&tm);
}

int
scv_http1_retry_after(const char *value, time_t now)
{
	long long secs = 0;
	const char *s = value;
	time_t t;

	if (!value)
		return -1;
	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return -1;
	if (isdigit((unsigned char)*s)) {
		for (; isdigit((unsigned char)*s); s++)
			if (secs <= SCV_HTTP1_MAX_RETRY_AFTER)
				secs = secs * 10 + (*s - '0');
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s)
			return -1;
	} else {
		t = http_date(s);
		if (t == (time_t)-1)
			return -1;
		secs = (long long)t - (long long)now;
		if (secs < 0)
			secs = 0;
	}
	return secs > SCV_HTTP1_MAX_RETRY_AFTER ? SCV_HTTP1_MAX_RETRY_AFTER : (int)secs;
}
