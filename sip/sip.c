/*
 * The SIP thread: owns sofia's root and nua, turns commands from the loop (su_msg) into nua
 * calls, and hands events to the loop through a mutex-protected queue and uv_async.
 */
#include "sip/sip_int.h"
#include "connector/util.h"

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <sofia-sip/nta_tag.h>
#include <sofia-sip/tport_tag.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/url.h>

#include "connector/log.h"

int64_t
sip_now_us(void)
{
	return util_realtime_us();
}

void
sip_event_free(struct sip_event *ev)
{
	if (!ev)
		return;
	free(ev->sip_call_id);
	free(ev->src_addr);
	free(ev->ruri_user);
	free(ev->to_user);
	free(ev->from_user);
	free(ev->from_display);
	free(ev->pai_user);
	free(ev->value);
	for (size_t i = 0; i < ev->n_headers; i++) {
		free(ev->headers[i].name);
		free(ev->headers[i].value);
	}
	free(ev->headers);
	free(ev);
}

void
sip_post(struct sip *sip, struct sip_event *ev)
{
	ev->next = NULL;
	pthread_mutex_lock(&sip->qlock);
	if (sip->qtail)
		sip->qtail->next = ev;
	else
		sip->qhead = ev;
	sip->qtail = ev;
	pthread_mutex_unlock(&sip->qlock);
	/* Wake-ups coalesce: the loop drains the whole queue each time. */
	uv_async_send(&sip->async);
}

static void
on_async(uv_async_t *handle)
{
	struct sip *sip = handle->data;
	struct sip_event *ev;

	pthread_mutex_lock(&sip->qlock);
	ev = sip->qhead;
	sip->qhead = sip->qtail = NULL;
	pthread_mutex_unlock(&sip->qlock);
	while (ev) {
		struct sip_event *next = ev->next;
		sip->cb(ev, sip->cb_arg);
		ev = next;
	}
}

static void
nua_callback(nua_event_t event, int status, char const *phrase, nua_t *nua, struct sip *sip,
             nua_handle_t *nh, struct sip_leg *leg, sip_t const *msg, tagi_t tags[])
{
	if (event == nua_r_shutdown) {
		if (status >= 200)
			su_root_break(sip->root);
		return;
	}
	(void)phrase; /* the B2BUA relays standard phrases only (see b2bua.c) */
	b2bua_callback(event, status, nua, sip, nh, leg, msg, tags);
}

static void
on_command(struct sip *sip, su_msg_r msg, struct sip_cmd *cmd)
{
	(void)msg;
	switch (cmd->kind) {
	case SIP_CMD_STOP_ACCEPTING:
		sip->accepting = 0;
		break;
	case SIP_CMD_SHUTDOWN:
		sip->accepting = 0;
		if (!sip->shutting_down) {
			sip->shutting_down = 1;
			b2bua_end_all(sip);
			nua_shutdown(sip->nua);
		}
		break;
	default:
		b2bua_command(sip, cmd);
		break;
	}
	free(cmd->target);
	free(cmd->headers);
	free(cmd->recording_header);
}

static int
send_cmd(struct sip *sip, const struct sip_cmd *cmd)
{
	su_msg_r m = SU_MSG_R_INIT;

	if (su_msg_new(m, sizeof *cmd) != 0)
		return -ENOMEM;
	*su_msg_data(m) = *cmd;
	if (su_msg_send_to(m, su_root_task(sip->root), on_command) != 0) {
		su_msg_destroy(m);
		return -EIO;
	}
	return 0;
}

/* sofia logs go to our log at debug level, one line per message. */
static void
sofia_logger(void *stream, char const *fmt, va_list ap)
{
	char line[1024];
	size_t n;

	(void)stream;
	vsnprintf(line, sizeof line, fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (n > 0)
		log_debug(NULL, "sofia: %s", line);
}

static void
start_report(struct sip *sip, int rc, const char *why)
{
	pthread_mutex_lock(&sip->start_lock);
	sip->start_rc = rc;
	if (why)
		snprintf(sip->start_err, sizeof sip->start_err, "%s", why);
	sip->start_done = 1;
	pthread_cond_signal(&sip->start_cond);
	pthread_mutex_unlock(&sip->start_lock);
}

/* The local port of a bound socket, or -1. */
static int
sock_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

/* rcv and snd: the usable sizes (half what the kernel reports). */
static void
log_udp_buffers(int port, int rcv, int snd, unsigned asked)
{
	if ((unsigned)rcv >= asked && (unsigned)snd >= asked) {
		log_info(NULL, "sip: UDP port %d: receive and send buffers %d and %d bytes", port,
		         rcv, snd);
		return;
	}
	log_warn(NULL,
	         "sip: UDP port %d got receive and send buffers of %d and %d bytes, %u asked "
	         "(sip.udp_buffer_bytes): the kernel caps them at net.core.rmem_max and "
	         "wmem_max; raise those (sysctl), or bursts beyond the buffer are dropped and "
	         "cost the peer a retransmission",
	         port, rcv, snd, asked);
}

/*
 * Logs the buffers the kernel gave sofia's UDP socket(s) on the listen port, and warns when
 * they are below sip.udp_buffer_bytes: without CAP_NET_ADMIN the kernel caps the request at
 * net.core.rmem_max / wmem_max, silently. (Linux reports twice the usable size; half is
 * compared.) The sockets are found through /proc/self/fd, since sofia does not export them.
 */
static void
report_udp_buffers(const struct sip *sip)
{
	su_home_t home[1] = {SU_HOME_INIT(home)};
	url_t *url;
	char const *port_str;
	struct dirent *de;
	DIR *dir;
	int port;

	if (!sip->udp_buffer_bytes)
		return;
	url = url_make(home, sip->listen_url);
	port_str = url ? url_port(url) : NULL;
	port = port_str ? atoi(port_str) : -1;
	su_home_deinit(home);
	dir = opendir("/proc/self/fd");
	if (port <= 0 || !dir) {
		if (dir)
			closedir(dir);
		log_debug(NULL, "sip: cannot look up the UDP socket buffers");
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		int fd = atoi(de->d_name), type = 0, rcv = 0, snd = 0;
		socklen_t len = sizeof type;

		if (de->d_name[0] < '0' || de->d_name[0] > '9' || fd == dirfd(dir) ||
		    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_DGRAM ||
		    sock_port(fd) != port)
			continue;
		len = sizeof rcv;
		getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, &len);
		len = sizeof snd;
		getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, &len);
		log_udp_buffers(port, rcv / 2, snd / 2, sip->udp_buffer_bytes);
	}
	closedir(dir);
}

static void *
sip_thread(void *arg)
{
	struct sip *sip = arg;
	struct sip_event *stopped;
	char why[256];

	pthread_setname_np(pthread_self(), "scvb-sip"); /* for top -H, perf, gdb */
	su_init();
	su_log_redirect(NULL, sofia_logger, NULL);
	sip->root = su_root_create(sip);
	if (!sip->root) {
		su_deinit();
		start_report(sip, -ENOMEM, "cannot create the SIP reactor");
		return NULL;
	}
	/* nua's stack and its callbacks share this one thread. */
	su_root_threading(sip->root, 0);
	sip->nua = nua_create(
	        sip->root, nua_callback, sip, NUTAG_URL(sip->listen_url), NUTAG_MEDIA_ENABLE(0),
	        NUTAG_AUTOANSWER(0), NUTAG_AUTOALERT(0), NUTAG_ENABLEMESSAGE(0),
	        NUTAG_ENABLEINVITE(1), SIPTAG_USER_AGENT_STR(sip->user_agent),
	        SIPTAG_ALLOW_STR("INVITE, ACK, BYE, CANCEL, OPTIONS, REFER, NOTIFY, UPDATE"),
	        /* answered by the B2BUA itself: REFER (accept or refuse), UPDATE
	                       * (relayed to the other leg) */
	        NUTAG_APPL_METHOD("REFER"), NUTAG_APPL_METHOD("UPDATE"),
	        /* large INVITEs stay on UDP rather than switching to TCP */
	        NTATAG_UDP_MTU(65535),
	        TAG_IF(sip->udp_buffer_bytes, TPTAG_UDP_RMEM(sip->udp_buffer_bytes)),
	        TAG_IF(sip->udp_buffer_bytes, TPTAG_UDP_WMEM(sip->udp_buffer_bytes)), TAG_END());
	if (!sip->nua) {
		snprintf(why, sizeof why,
		         "cannot listen on %s (address in use, not local, or a bad URI)",
		         sip->listen_url);
		su_root_destroy(sip->root);
		sip->root = NULL;
		su_deinit();
		start_report(sip, -EADDRNOTAVAIL, why);
		return NULL;
	}
	report_udp_buffers(sip);
	sip->accepting = 1;
	start_report(sip, 0, NULL);

	su_root_run(sip->root);

	b2bua_free_all(sip);
	nua_destroy(sip->nua);
	sip->nua = NULL;
	su_root_destroy(sip->root);
	sip->root = NULL;
	su_deinit();

	stopped = calloc(1, sizeof *stopped);
	if (stopped) {
		stopped->type = SIP_EV_STOPPED;
		stopped->ts_us = sip_now_us();
		sip_post(sip, stopped);
	} else {
		log_err(NULL, "sip: out of memory reporting the stop");
	}
	return NULL;
}

static void
free_config_copy(struct sip *sip)
{
	free(sip->listen_url);
	free(sip->user_agent);
	for (size_t i = 0; i < sip->n_capture; i++)
		free(sip->capture[i]);
	free(sip->capture);
	sip_acl_free(&sip->acl);
}

static void
on_async_closed(uv_handle_t *handle)
{
	struct sip *sip = handle->data;
	struct sip_event *ev = sip->qhead;

	while (ev) {
		struct sip_event *next = ev->next;
		sip_event_free(ev);
		ev = next;
	}
	free_config_copy(sip);
	pthread_mutex_destroy(&sip->qlock);
	pthread_mutex_destroy(&sip->start_lock);
	pthread_cond_destroy(&sip->start_cond);
	free(sip);
}

int
sip_start(uv_loop_t *loop, const struct sip_config *config, sip_event_cb cb, void *arg,
          struct sip **ret_sip, char *err, size_t errlen)
{
	struct sip *sip;
	int r;

	sip = calloc(1, sizeof *sip);
	if (!sip)
		return -ENOMEM;
	sip->loop = loop;
	sip->cb = cb;
	sip->cb_arg = arg;
	sip->max_calls = config->max_calls ? config->max_calls : 10000;
	sip->udp_buffer_bytes = config->udp_buffer_bytes;
	sip->next_id = 1;
	pthread_mutex_init(&sip->qlock, NULL);
	pthread_mutex_init(&sip->start_lock, NULL);
	pthread_cond_init(&sip->start_cond, NULL);

	sip->listen_url = strdup(config->listen_url);
	sip->user_agent = strdup(config->user_agent ? config->user_agent : "scvbridge");
	sip->capture = calloc(config->n_capture_headers + 1, sizeof *sip->capture);
	if (!sip->listen_url || !sip->user_agent || !sip->capture) {
		r = -ENOMEM;
		goto out_free;
	}
	for (size_t i = 0; i < config->n_capture_headers; i++) {
		sip->capture[i] = strdup(config->capture_headers[i]);
		if (!sip->capture[i]) {
			r = -ENOMEM;
			goto out_free;
		}
		sip->n_capture++;
	}
	r = sip_acl_init(&sip->acl, config->trusted_peers, config->n_trusted_peers);
	if (r < 0) {
		snprintf(err, errlen, "sip: bad trusted peer list");
		goto out_free;
	}

	r = uv_async_init(loop, &sip->async, on_async);
	if (r < 0)
		goto out_free;
	sip->async.data = sip;

	r = -pthread_create(&sip->thread, NULL, sip_thread, sip);
	if (r < 0) {
		snprintf(err, errlen, "sip: cannot start the SIP thread: %s", strerror(-r));
		goto out_close_async;
	}
	pthread_mutex_lock(&sip->start_lock);
	while (!sip->start_done)
		pthread_cond_wait(&sip->start_cond, &sip->start_lock);
	r = sip->start_rc;
	pthread_mutex_unlock(&sip->start_lock);
	if (r < 0) {
		snprintf(err, errlen, "sip: %s", sip->start_err);
		pthread_join(sip->thread, NULL);
		goto out_close_async;
	}
	*ret_sip = sip;
	return 0;

out_close_async:
	/* the struct is freed in the close callback */
	uv_close((uv_handle_t *)&sip->async, on_async_closed);
	return r;
out_free:
	free_config_copy(sip);
	pthread_mutex_destroy(&sip->qlock);
	pthread_mutex_destroy(&sip->start_lock);
	pthread_cond_destroy(&sip->start_cond);
	free(sip);
	return r;
}

static char *
dup_or_null(const char *s, int *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = 1;
	return d;
}

static int
send_forward(struct sip *sip, enum sip_cmd_kind kind, uint64_t call_id,
             const struct sip_forward *fwd)
{
	struct sip_cmd cmd = {
	        .kind = kind, .call_id = call_id, .ring_timeout_ms = fwd->ring_timeout_ms};
	const char *const *extra = fwd->extra_headers;
	size_t len = 1;
	int oom = 0;
	int r;

	if (sip->shutdown_sent)
		return -ESHUTDOWN;
	for (size_t i = 0; extra && extra[i]; i++)
		len += strlen(extra[i]) + 2;
	cmd.headers = calloc(1, len);
	cmd.target = dup_or_null(fwd->target_uri, &oom);
	cmd.recording_header = dup_or_null(fwd->recording_header, &oom);
	/* a copy: the SIP thread never reads the loop's memory */
	if (fwd->vendor_call_key)
		snprintf(cmd.key, sizeof cmd.key, "%s", fwd->vendor_call_key);
	if (!cmd.headers || oom)
		goto out_free;
	for (size_t i = 0; extra && extra[i]; i++) {
		if (i > 0)
			strcat(cmd.headers, "\r\n");
		strcat(cmd.headers, extra[i]);
	}
	r = send_cmd(sip, &cmd);
	if (r == 0)
		return 0;
	goto out_free_r;
out_free:
	r = -ENOMEM;
out_free_r:
	free(cmd.headers);
	free(cmd.target);
	free(cmd.recording_header);
	return r;
}

int
sip_forward(struct sip *sip, uint64_t call_id, const struct sip_forward *fwd)
{
	return send_forward(sip, SIP_CMD_FORWARD, call_id, fwd);
}

int
sip_transfer(struct sip *sip, uint64_t call_id, const struct sip_forward *fwd)
{
	return send_forward(sip, SIP_CMD_TRANSFER, call_id, fwd);
}

int
sip_ringing(struct sip *sip, uint64_t call_id)
{
	struct sip_cmd cmd = {.kind = SIP_CMD_RINGING, .call_id = call_id};

	if (sip->shutdown_sent)
		return -ESHUTDOWN;
	return send_cmd(sip, &cmd);
}

int
sip_reject(struct sip *sip, uint64_t call_id, int status)
{
	struct sip_cmd cmd = {.kind = SIP_CMD_REJECT, .call_id = call_id, .status = status};

	if (sip->shutdown_sent)
		return -ESHUTDOWN;
	return send_cmd(sip, &cmd);
}

int
sip_hangup(struct sip *sip, uint64_t call_id)
{
	struct sip_cmd cmd = {.kind = SIP_CMD_HANGUP, .call_id = call_id};

	if (sip->shutdown_sent)
		return -ESHUTDOWN;
	return send_cmd(sip, &cmd);
}

int
sip_stop_accepting(struct sip *sip)
{
	struct sip_cmd cmd = {.kind = SIP_CMD_STOP_ACCEPTING};

	if (sip->shutdown_sent)
		return 0;
	return send_cmd(sip, &cmd);
}

int
sip_shutdown(struct sip *sip)
{
	struct sip_cmd cmd = {.kind = SIP_CMD_SHUTDOWN};
	int r;

	if (sip->shutdown_sent)
		return 0;
	r = send_cmd(sip, &cmd);
	if (r == 0)
		sip->shutdown_sent = 1;
	return r;
}

void
sip_free(struct sip *sip)
{
	if (!sip)
		return;
	pthread_join(sip->thread, NULL);
	uv_close((uv_handle_t *)&sip->async, on_async_closed);
}

unsigned
sip_active_calls(const struct sip *sip)
{
	return atomic_load(&((struct sip *)sip)->active_calls);
}
