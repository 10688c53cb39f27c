#include "sip/sdp.h"

#include <string.h>
#include <strings.h>

enum dir { DIR_NONE = 0, DIR_SENDRECV, DIR_SENDONLY, DIR_RECVONLY, DIR_INACTIVE };

static enum dir
dir_of(const char *line, size_t n)
{
	static const struct {
		const char *attr;
		enum dir dir;
	} dirs[] = {{"a=sendrecv", DIR_SENDRECV},
	            {"a=sendonly", DIR_SENDONLY},
	            {"a=recvonly", DIR_RECVONLY},
	            {"a=inactive", DIR_INACTIVE}};

	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		size_t l = strlen(dirs[i].attr);
		if (n >= l && strncasecmp(line, dirs[i].attr, l) == 0 &&
		    (n == l || line[l] == ' ' || line[l] == '\t'))
			return dirs[i].dir;
	}
	return DIR_NONE;
}

/* "c=IN IP4 0.0.0.0" (or "::" for IP6): the old hold convention. */
static int
null_connection(const char *line, size_t n)
{
	const char *p = line + n;

	while (p > line && (p[-1] == ' ' || p[-1] == '\t'))
		p--;
	n = (size_t)(p - line);
	return (n >= 8 && strncmp(p - 8, " 0.0.0.0", 8) == 0) ||
	       (n >= 3 && strncmp(p - 3, " ::", 3) == 0);
}

struct media {
	int active;
	enum dir dir;
	int null_conn; /* -1 unknown (inherit) */
};

static int
media_held(const struct media *m, enum dir session_dir, int session_null)
{
	enum dir d = m->dir != DIR_NONE ? m->dir : session_dir;
	int null_conn = m->null_conn >= 0 ? m->null_conn : session_null;

	return d == DIR_SENDONLY || d == DIR_INACTIVE || null_conn;
}

int
sip_sdp_is_hold(const char *sdp, size_t len)
{
	enum dir session_dir = DIR_NONE;
	int session_null = 0, in_media = 0, n_active = 0, n_held = 0;
	struct media m = {0, DIR_NONE, -1};
	const char *p = sdp, *end = sdp + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);

		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n >= 2 && p[0] == 'm' && p[1] == '=') {
			if (in_media && m.active) {
				n_active++;
				n_held += media_held(&m, session_dir, session_null);
			}
			/* "m=audio 49170 RTP/AVP 0": port 0 means the stream is off */
			const char *sp = memchr(p, ' ', n);
			m = (struct media){
			        .active = !(sp && sp + 2 <= p + n && sp[1] == '0' &&
			                    (sp + 2 == p + n || sp[2] == ' ' || sp[2] == '/')),
			        .dir = DIR_NONE,
			        .null_conn = -1};
			in_media = 1;
		} else if (n >= 2 && p[0] == 'a' && p[1] == '=') {
			enum dir d = dir_of(p, n);
			if (d != DIR_NONE) {
				if (in_media)
					m.dir = d;
				else
					session_dir = d;
			}
		} else if (n >= 2 && p[0] == 'c' && p[1] == '=') {
			if (in_media)
				m.null_conn = null_connection(p, n);
			else
				session_null = null_connection(p, n);
		}
		p = eol ? eol + 1 : end;
	}
	if (in_media && m.active) {
		n_active++;
		n_held += media_held(&m, session_dir, session_null);
	}
	return n_active > 0 && n_held == n_active;
}
