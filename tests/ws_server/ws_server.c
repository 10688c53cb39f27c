/*
 * A WebSocket test server: scv/ws.c behind a plain loopback TCP listener on libuv, for
 * tests/integration/ws_test.sh to drive with independent clients. It reads one HTTP/1.1
 * request head (at most 8 KiB), answers it with scv_ws_handshake(), and then echoes every
 * text message, except these commands:
 *
 *   cmd:big N            one message of N bytes ("0123456789" repeated)
 *   cmd:flood N SIZE     N messages of SIZE bytes, 4 every millisecond, whatever the reader does
 *   cmd:close CODE TEXT  starts the close handshake
 *   cmd:ping             a ping now
 *   cmd:stats            answers "pongs=N"
 *
 * One line on stderr per connection end: "conn N end: state=S sent=C received=C why=W".
 *
 *   ws-server --listen 127.0.0.1:0 --ready-file F [--origin O]... [--max-message N]
 *             [--max-send-queue N] [--ping-ms N] [--max-missed N] [--close-timeout-ms N]
 *
 * SIGTERM closes everything and exits 0, so a sanitizer build reports leaks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "scv/ws.h"

#define HEAD_MAX    8192
#define MAX_HEADERS 64
#define MAX_ORIGINS 8

struct client {
	uv_tcp_t tcp;
	uv_timer_t timer; /* scv_ws deadlines */
	uv_timer_t flood;
	int handles_open;
	unsigned id;
	int closing;
	int lingering; /* WebSocket closed: our FIN sent, the peer's input discarded until EOF */
	uv_shutdown_t shutdown;
	char head[HEAD_MAX + 1];
	size_t head_len;
	struct scv_ws_conn *ws;
	size_t flood_left;
	size_t flood_size;
	char *flood_msg;
	struct client *next;
};

struct write_req {
	uv_write_t req;
	struct client *c;
	uint8_t *buf;
	size_t len;
	int counted; /* reported to scv_ws_conn_written() */
};

static uv_loop_t *loop;
static uv_tcp_t listener;
static uv_signal_t sigterm;
static struct client *clients;
static unsigned next_id;
static const char *origins[MAX_ORIGINS];
static size_t n_origins;
static struct scv_ws_config cfg;

static void client_pump(struct client *c);
static void client_close(struct client *c, const char *why);

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
log_line(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

static void
on_handle_closed(uv_handle_t *h)
{
	struct client *c = h->data;
	struct client **pp;

	if (--c->handles_open > 0)
		return;
	for (pp = &clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	scv_ws_conn_free(c->ws);
	c->ws = NULL;
	free(c->flood_msg);
	c->flood_msg = NULL;
	free(c);
}

static void
client_close(struct client *c, const char *why)
{
	if (c->closing)
		return;
	c->closing = 1;
	if (c->ws)
		log_line("conn %u end: state=%s sent=%u received=%u why=%s", c->id,
		         scv_ws_state_name(scv_ws_conn_state(c->ws)), scv_ws_conn_code_sent(c->ws),
		         scv_ws_conn_code_received(c->ws), scv_ws_conn_why(c->ws));
	else
		log_line("conn %u end: %s", c->id, why);
	uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
	uv_close((uv_handle_t *)&c->flood, on_handle_closed);
}

static void
on_written(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct client *c = w->c;

	(void)status;
	if (w->counted && c->ws && !c->closing)
		scv_ws_conn_written(c->ws, w->len);
	free(w->buf);
	free(w);
	if (!c->closing)
		client_pump(c);
}

/* Writes buf (malloc'd, ours from now on). */
static void
client_write(struct client *c, uint8_t *buf, size_t len, int counted)
{
	struct write_req *w = calloc(1, sizeof *w);
	uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);

	if (!w) {
		free(buf);
		return;
	}
	w->c = c;
	w->buf = buf;
	w->len = len;
	w->counted = counted;
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
		free(buf);
		free(w);
	}
}

static void
on_linger_over(uv_timer_t *t)
{
	client_close(t->data, "");
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	(void)req;
	(void)status;
}

/*
 * The close handshake is over and our last bytes are written. Closing the socket now, with
 * input still unread (the rest of an oversized frame, say), would make the kernel answer
 * with a reset that can destroy our close frame before the peer reads it. So: send our FIN,
 * discard what still comes, and close at the peer's EOF or after the close timeout.
 */
static void
client_linger(struct client *c)
{
	if (c->lingering)
		return;
	c->lingering = 1;
	uv_timer_stop(&c->flood);
	if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
		client_close(c, "");
		return;
	}
	uv_timer_start(&c->timer, on_linger_over, (uint64_t)cfg.close_timeout_ms, 0);
}

static void
on_deadline(uv_timer_t *t)
{
	struct client *c = t->data;

	scv_ws_conn_tick(c->ws, (int64_t)uv_now(loop));
	client_pump(c);
}

/* After anything happened: write what the connection produced, act on its state, and arm
 * the timer for its next deadline. */
static void
client_pump(struct client *c)
{
	uint8_t *buf;
	size_t len;
	int64_t deadline, now = (int64_t)uv_now(loop);

	if (c->closing || c->lingering || !c->ws)
		return;
	while (scv_ws_conn_take_output(c->ws, &buf, &len) == 0)
		client_write(c, buf, len, 1);
	switch (scv_ws_conn_state(c->ws)) {
	case SCV_WS_ABORTED:
		client_close(c, "");
		return;
	case SCV_WS_CLOSED:
		if (scv_ws_conn_pending(c->ws) == 0) {
			client_linger(c);
			return;
		}
		break;
	default:
		break;
	}
	deadline = scv_ws_conn_deadline(c->ws);
	if (deadline == INT64_MAX)
		uv_timer_stop(&c->timer);
	else
		uv_timer_start(&c->timer, on_deadline,
		               deadline > now ? (uint64_t)(deadline - now) : 0, 0);
}

static void
on_flood(uv_timer_t *t)
{
	struct client *c = t->data;

	for (int i = 0; i < 4 && c->flood_left > 0; i++, c->flood_left--)
		if (scv_ws_conn_send_text(c->ws, c->flood_msg, c->flood_size) < 0) {
			c->flood_left = 0;
			break;
		}
	if (c->flood_left == 0)
		uv_timer_stop(&c->flood);
	client_pump(c);
}

static char *
pattern(size_t n)
{
	char *m = malloc(n ? n : 1);

	if (m)
		for (size_t i = 0; i < n; i++)
			m[i] = (char)('0' + i % 10);
	return m;
}

static void
on_text(struct scv_ws_conn *ws, const char *msg, size_t len, void *user)
{
	struct client *c = user;
	char cmd[200];
	unsigned long a = 0, b = 0;
	int off = 0;

	if (len < 4 || memcmp(msg, "cmd:", 4) != 0 || len >= sizeof cmd) {
		scv_ws_conn_send_text(ws, msg, len);
		return;
	}
	memcpy(cmd, msg, len);
	cmd[len] = '\0';
	if (sscanf(cmd, "cmd:big %lu", &a) == 1 && a <= 16 * 1024 * 1024) {
		char *m = pattern(a);

		if (m)
			scv_ws_conn_send_text(ws, m, a);
		free(m);
	} else if (sscanf(cmd, "cmd:flood %lu %lu", &a, &b) == 2 && b <= 1024 * 1024) {
		free(c->flood_msg);
		c->flood_msg = pattern(b);
		c->flood_size = b;
		c->flood_left = c->flood_msg ? a : 0;
		uv_timer_start(&c->flood, on_flood, 1, 1);
	} else if (sscanf(cmd, "cmd:close %lu %n", &a, &off) == 1 && off > 0) {
		scv_ws_conn_close(ws, (uint16_t)a, cmd + off, (int64_t)uv_now(loop));
	} else if (strcmp(cmd, "cmd:ping") == 0) {
		scv_ws_conn_ping(ws, (int64_t)uv_now(loop));
	} else if (strcmp(cmd, "cmd:stats") == 0) {
		int n = snprintf(cmd, sizeof cmd, "pongs=%llu",
		                 (unsigned long long)scv_ws_conn_pongs(ws));

		scv_ws_conn_send_text(ws, cmd, (size_t)n);
	} else
		scv_ws_conn_send_text(ws, msg, len);
}

static void
trim(char **s, char *end)
{
	while (**s == ' ' || **s == '\t')
		(*s)++;
	while (end > *s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
}

/* The request head is whole in c->head: parse it, answer, and start the WebSocket. */
static void
client_upgrade(struct client *c, size_t head_end)
{
	struct scv_ws_header h[MAX_HEADERS];
	struct scv_ws_request req = {NULL, NULL, h, 0};
	struct scv_ws_answer a;
	char *line, *next, *sp1, *sp2;
	uint8_t *copy;
	size_t rest = c->head_len - head_end;

	c->head[head_end - 2] = '\0'; /* keep one CRLF: every line ends with one */
	line = c->head;
	next = strstr(line, "\r\n");
	*next = '\0';
	sp1 = strchr(line, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2) {
		client_close(c, "bad request line");
		return;
	}
	*sp1 = *sp2 = '\0';
	req.method = line;
	req.version = sp2 + 1;
	for (line = next + 2; *line && req.n_headers < MAX_HEADERS; line = next + 2) {
		char *colon, *value;

		next = strstr(line, "\r\n");
		if (!next)
			break;
		*next = '\0';
		colon = strchr(line, ':');
		if (!colon)
			break;
		*colon = '\0';
		value = colon + 1;
		trim(&value, next);
		h[req.n_headers].name = line;
		h[req.n_headers].value = value;
		req.n_headers++;
	}
	if (scv_ws_handshake(&req, origins, n_origins, &a) < 0 || a.head_len == 0) {
		client_close(c, "handshake error");
		return;
	}
	copy = malloc(a.head_len);
	if (!copy) {
		client_close(c, "out of memory");
		return;
	}
	memcpy(copy, a.head, a.head_len);
	client_write(c, copy, a.head_len, 0);
	if (a.status != 101) {
		log_line("conn %u refused: %d %s", c->id, a.status, a.reason);
		client_close(c, "refused");
		return;
	}
	if (scv_ws_conn_new(&cfg, "test", (int64_t)uv_now(loop), on_text, c, &c->ws) < 0) {
		client_close(c, "out of memory");
		return;
	}
	log_line("conn %u open", c->id);
	if (rest)
		scv_ws_conn_feed(c->ws, c->head + head_end, rest, (int64_t)uv_now(loop));
	client_pump(c);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	buf->base = malloc(suggested);
	buf->len = buf->base ? suggested : 0;
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct client *c = s->data;

	if (n < 0 && c->lingering) {
		client_close(c, "");
		goto out_free;
	}
	if (n < 0) {
		if (c->ws)
			scv_ws_conn_eof(c->ws, (int64_t)uv_now(loop));
		if (c->ws)
			client_pump(c);
		else
			client_close(c, "eof before the handshake");
		goto out_free;
	}
	if (c->closing || c->lingering)
		goto out_free;
	if (c->ws) {
		scv_ws_conn_feed(c->ws, buf->base, (size_t)n, (int64_t)uv_now(loop));
		client_pump(c);
		goto out_free;
	}
	if ((size_t)n > HEAD_MAX - c->head_len) {
		client_close(c, "request head too large");
		goto out_free;
	}
	memcpy(c->head + c->head_len, buf->base, (size_t)n);
	c->head_len += (size_t)n;
	c->head[c->head_len] = '\0';
	{
		char *end = strstr(c->head, "\r\n\r\n");

		if (end)
			client_upgrade(c, (size_t)(end - c->head) + 4);
	}
out_free:
	free(buf->base);
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct client *c;

	if (status < 0)
		return;
	c = calloc(1, sizeof *c);
	if (!c)
		return;
	c->id = ++next_id;
	uv_tcp_init(loop, &c->tcp);
	uv_timer_init(loop, &c->timer);
	uv_timer_init(loop, &c->flood);
	c->tcp.data = c->timer.data = c->flood.data = c;
	c->handles_open = 3;
	c->next = clients;
	clients = c;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
		client_close(c, "accept failed");
		return;
	}
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void
on_sigterm(uv_signal_t *s, int signum)
{
	(void)signum;
	for (struct client *c = clients; c; c = c->next)
		client_close(c, "shutdown");
	uv_close((uv_handle_t *)&listener, NULL);
	uv_close((uv_handle_t *)s, NULL);
}

static int
usage(void)
{
	fprintf(stderr, "usage: ws-server --listen HOST:PORT --ready-file FILE [--origin O]...\n"
	                "       [--max-message N] [--max-send-queue N] [--ping-ms N]\n"
	                "       [--max-missed N] [--close-timeout-ms N]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	const char *listen_at = NULL, *ready = NULL;
	char host[64];
	int port, namelen;
	struct sockaddr_in addr;
	struct sockaddr_storage bound;
	FILE *f;

	scv_ws_config_default(&cfg);
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			return usage();
		if (strcmp(argv[i], "--listen") == 0)
			listen_at = v;
		else if (strcmp(argv[i], "--ready-file") == 0)
			ready = v;
		else if (strcmp(argv[i], "--origin") == 0 && n_origins < MAX_ORIGINS)
			origins[n_origins++] = v;
		else if (strcmp(argv[i], "--max-message") == 0)
			cfg.max_message = strtoul(v, NULL, 10);
		else if (strcmp(argv[i], "--max-send-queue") == 0)
			cfg.max_send_queue = strtoul(v, NULL, 10);
		else if (strcmp(argv[i], "--ping-ms") == 0)
			cfg.ping_interval_ms = strtol(v, NULL, 10);
		else if (strcmp(argv[i], "--max-missed") == 0)
			cfg.max_missed_pongs = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(argv[i], "--close-timeout-ms") == 0)
			cfg.close_timeout_ms = strtol(v, NULL, 10);
		else
			return usage();
		i++;
	}
	if (!listen_at || !ready || sscanf(listen_at, "%63[^:]:%d", host, &port) != 2)
		return usage();
	for (size_t i = 0; i < n_origins; i++)
		if (scv_ws_origin_valid(origins[i]) < 0) {
			fprintf(stderr, "ws-server: bad origin %s\n", origins[i]);
			return 2;
		}
	signal(SIGPIPE, SIG_IGN);
	loop = uv_default_loop();
	uv_tcp_init(loop, &listener);
	if (uv_ip4_addr(host, port, &addr) < 0 ||
	    uv_tcp_bind(&listener, (const struct sockaddr *)&addr, 0) < 0 ||
	    uv_listen((uv_stream_t *)&listener, 64, on_connection) < 0) {
		fprintf(stderr, "ws-server: cannot listen on %s\n", listen_at);
		return 1;
	}
	namelen = sizeof bound;
	uv_tcp_getsockname(&listener, (struct sockaddr *)&bound, &namelen);
	uv_signal_init(loop, &sigterm);
	uv_signal_start(&sigterm, on_sigterm, SIGTERM);
	f = fopen(ready, "w");
	if (!f)
		return 1;
	fprintf(f, "%d\n", ntohs(((struct sockaddr_in *)&bound)->sin_port));
	fclose(f);
	uv_run(loop, UV_RUN_DEFAULT);
	return uv_loop_close(loop) == 0 ? 0 : 1;
}
