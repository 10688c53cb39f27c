/*
 * scvbridge: wires the modules together and runs the loop. Nothing else lives here.
 *
 * Shutdown (SIGTERM/SIGINT): new INVITEs get 503; calls in progress get shutdown_grace_ms to
 * end; the rest are hung up (their VoiceCalls closed as TELECOM_PROBLEM); the SIP thread stops;
 * the outbox gets drain_timeout_ms to deliver what is queued; then everything closes and the
 * process exits 0. A second signal skips the grace period.
 *
 * Every way out of run() (that shutdown, a start-up failure) ends in the one teardown().
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "connector/call.h"
#include "connector/admin.h"
#include "connector/config.h"
#include "connector/localapi.h"
#include "connector/lockfile.h"
#include "connector/log.h"
#include "connector/notify.h"
#include "connector/outbox.h"
#include "connector/store.h"
#include "scv/client.h"
#include "scv/http.h"
#include "sip/sip.h"

enum phase {
	PHASE_RUNNING = 0,
	PHASE_GRACE,    /* waiting for calls to end */
	PHASE_SIP_STOP, /* SIP thread stopping */
	PHASE_DRAIN,    /* waiting for the outbox */
	PHASE_CLOSING,
};

struct app {
	uv_loop_t loop;
	uv_signal_t sigterm, sigint;
	uv_timer_t timer;
	struct cfg *cfg;
	struct scv_http *http;
	struct scv_client **clients; /* one per contact center, cfg->ccs order */
	struct outbox *outbox;
	struct calls *calls;
	struct sip *sip;
	struct store *store;
	struct localapi *api; /* the local HTTP API, NULL when not configured */
	int lock;             /* held on the store for the process's life */
	uv_timer_t status_timer;
	int store_ok; /* last reported */
	enum phase phase;
};

static void clients_free(struct app *app);
static void start_sip_stop(struct app *app);
static void start_drain(struct app *app);
static void start_close(struct app *app);

static void
on_timer(uv_timer_t *t)
{
	struct app *app = t->data;

	if (app->phase == PHASE_GRACE) {
		log_warn(NULL, "shutdown: %zu call(s) still up after the grace period; hanging up",
		         calls_active(app->calls));
		start_sip_stop(app);
	} else if (app->phase == PHASE_DRAIN) {
		log_err(NULL, "shutdown: %zu Salesforce operation(s) not delivered in time",
		        outbox_pending(app->outbox));
		start_close(app);
	}
}

static void
on_calls_idle(void *arg)
{
	struct app *app = arg;

	if (app->phase == PHASE_GRACE)
		start_sip_stop(app);
}

static void
on_sip_stopped(void *arg)
{
	struct app *app = arg;

	sip_free(app->sip);
	app->sip = NULL;
	calls_set_sip(app->calls, NULL);
	/* closing updates still waiting for a recorder's report go now */
	calls_flush(app->calls);
	start_drain(app);
}

static void
on_outbox_empty(void *arg)
{
	struct app *app = arg;

	if (app->phase == PHASE_DRAIN)
		start_close(app);
}

static void
on_close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/*
 * The one teardown, after uv_run() has returned (or before it ever ran): each piece that exists
 * is closed once, users before what they use, and the loop then runs until the last handle's
 * close callback has freed what it held. The SIP thread is not stopped here: the shutdown
 * phases did that (or a start-up failure never started it).
 */
static void
teardown(struct app *app)
{
	app->phase = PHASE_CLOSING;
	/* recorders' reports reach the calls: no more of them */
	if (app->api) {
		localapi_close(app->api, NULL, NULL);
		app->api = NULL;
	}
	/* pending requests complete now, cancelled, into the outbox and the calls */
	if (app->http) {
		scv_http_close(app->http, NULL, NULL);
		app->http = NULL;
	}
	outbox_free(app->outbox);
	app->outbox = NULL;
	/* after the outbox, which sends through them */
	clients_free(app);
	if (app->sip) {
		/* it could not be told to stop: its events may still arrive, so the calls stay */
		log_err(NULL, "exit: the SIP thread did not stop; %zu call(s) left as they are",
		        calls_active(app->calls));
	} else {
		calls_free(app->calls);
		app->calls = NULL;
	}
	uv_close((uv_handle_t *)&app->sigterm, NULL);
	uv_close((uv_handle_t *)&app->sigint, NULL);
	uv_close((uv_handle_t *)&app->timer, NULL);
	uv_close((uv_handle_t *)&app->status_timer, NULL);
	/*
	 * After the outbox's final write, and before the outbox's handles are freed and the loop
	 * closed: the store's writer thread, joined here, may still be signalling the outbox's
	 * uv_async for a batch in flight.
	 */
	store_close(app->store);
	app->store = NULL;
	uv_run(&app->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&app->loop) < 0) {
		log_err(NULL, "exit: handles left open on the loop");
		uv_walk(&app->loop, on_close_walk, NULL);
		uv_run(&app->loop, UV_RUN_DEFAULT);
		uv_loop_close(&app->loop);
	}
	lockfile_release(app->lock);
	app->lock = -1;
}

static void
start_sip_stop(struct app *app)
{
	app->phase = PHASE_SIP_STOP;
	uv_timer_stop(&app->timer);
	log_info(NULL, "shutdown: stopping SIP");
	if (sip_shutdown(app->sip) < 0) {
		log_err(NULL, "shutdown: cannot reach the SIP thread");
		start_close(app);
	}
}

static void
start_drain(struct app *app)
{
	app->phase = PHASE_DRAIN;
	log_info(NULL, "shutdown: delivering %zu queued Salesforce operation(s)",
	         outbox_pending(app->outbox));
	uv_timer_start(&app->timer, on_timer, app->cfg->drain_timeout_ms, 0);
	outbox_when_empty(app->outbox, on_outbox_empty, app);
}

/* The shutdown phases are over: uv_run() returns, and run() tears down. */
static void
start_close(struct app *app)
{
	app->phase = PHASE_CLOSING;
	uv_timer_stop(&app->timer);
	uv_stop(&app->loop);
}

static void
on_signal(uv_signal_t *s, int signum)
{
	struct app *app = s->data;

	if (app->phase == PHASE_RUNNING) {
		log_info(NULL, "shutdown: signal %d; refusing new calls, %zu call(s) up", signum,
		         calls_active(app->calls));
		app->phase = PHASE_GRACE;
		notify_send("STOPPING=1\nSTATUS=stopping: new calls refused");
		sip_stop_accepting(app->sip);
		uv_timer_start(&app->timer, on_timer, app->cfg->shutdown_grace_ms, 0);
		calls_when_idle(app->calls, on_calls_idle, app);
	} else if (app->phase == PHASE_GRACE) {
		log_info(NULL, "shutdown: second signal; ending calls now");
		start_sip_stop(app);
	}
}

/* One Salesforce client per contact center, on the shared HTTPS client. */
static int
clients_new(struct app *app, char *err, size_t errlen)
{
	const struct cfg *cfg = app->cfg;

	app->clients = calloc(cfg->n_ccs ? cfg->n_ccs : 1, sizeof *app->clients);
	if (!app->clients)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_ccs; i++) {
		const struct cfg_contact_center *c = &cfg->ccs[i];
		const struct scv_client_cfg cc = {
		        .name = c->name,
		        .base_url = c->base_url,
		        .ca_file = c->ca_file,
		        .private_key_file = c->private_key_file,
		        .org_id = c->org_id,
		        .call_center_api_name = c->call_center_api_name,
		        .jti_per_request = c->jwt_mode == CFG_JWT_PER_REQUEST,
		        .provider_name = c->provider_name,
		        .request_timeout_ms = c->request_timeout_ms,
		        .omni_flow_dev_name = c->omni_flow_dev_name,
		        .omni_fallback_queue = c->omni_fallback_queue,
		};
		int r = scv_client_new(app->http, &cc, &app->clients[i], err, errlen);

		if (r < 0)
			return r;
	}
	return 0;
}

static void
clients_free(struct app *app)
{
	for (size_t i = 0; app->clients && i < app->cfg->n_ccs; i++) {
		scv_client_free(app->clients[i]);
		app->clients[i] = NULL;
	}
	free(app->clients);
	app->clients = NULL;
}

/* Header names the SIP thread must copy out of INVITEs: every mapped one, once. */
static const char **
capture_list(const struct cfg *cfg, size_t *ret_n)
{
	size_t total = 0, n = 0;
	const char **list;

	for (size_t i = 0; i < cfg->n_ccs; i++)
		total += cfg->ccs[i].n_call_attrs;
	list = calloc(total + 1, sizeof *list);
	if (!list)
		return NULL;
	for (size_t i = 0; i < cfg->n_ccs; i++) {
		for (size_t j = 0; j < cfg->ccs[i].n_call_attrs; j++) {
			const char *h = cfg->ccs[i].call_attrs[j].key;
			size_t k;
			for (k = 0; k < n && strcasecmp(list[k], h) != 0; k++)
				;
			if (k == n)
				list[n++] = h;
		}
	}
	*ret_n = n;
	return list;
}

/* The local API's readiness: the store takes writes (or operations are at risk). */
static int
api_ready(char *reason, size_t len, void *arg)
{
	struct app *app = arg;

	if (app->outbox && !outbox_store_ok(app->outbox)) {
		snprintf(reason, len, "the store cannot be written; operations are held in memory");
		return 1;
	}
	if (app->phase != PHASE_RUNNING) {
		snprintf(reason, len, "shutting down");
		return 1;
	}
	return 0;
}

static int
api_recording(const char *key, const char *url, long duration_s, void *arg)
{
	struct app *app = arg;

	return calls_recording_report(app->calls, key, url, duration_s);
}

/* Readiness: `systemctl status` shows whether the store takes writes. */
static void
on_status_timer(uv_timer_t *t)
{
	struct app *app = t->data;
	int ok;

	if (!app->outbox)
		return;
	ok = outbox_store_ok(app->outbox);
	if (ok == app->store_ok)
		return;
	app->store_ok = ok;
	if (ok)
		notify_send("STATUS=running: %zu call(s) up", calls_active(app->calls));
	else
		notify_send(
		        "STATUS=degraded: the store %s cannot be written; Salesforce operations "
		        "are held in memory only",
		        app->cfg->store_path);
}

static int
run(struct cfg *cfg)
{
	struct app app = {.cfg = cfg, .lock = -1, .store_ok = 1};
	struct sip_config sc = {0};
	const char **capture;
	size_t n_capture = 0;
	char err[512] = "";
	int r;

	/* the loop and our own handles first: teardown() closes them whatever failed */
	uv_loop_init(&app.loop);
	uv_timer_init(&app.loop, &app.timer);
	app.timer.data = &app;
	uv_timer_init(&app.loop, &app.status_timer);
	app.status_timer.data = &app;
	uv_signal_init(&app.loop, &app.sigterm);
	uv_signal_init(&app.loop, &app.sigint);
	app.sigterm.data = app.sigint.data = &app;

	r = lockfile_take(cfg->store_path, &app.lock, err, sizeof err);
	if (r == 0)
		r = store_open(cfg->store_path, &app.store, err, sizeof err);
	if (r < 0) {
		log_err(NULL, "startup: store: %s", err);
		goto out;
	}

	r = scv_http_new(&app.loop, &app.http, err, sizeof err);
	if (r < 0) {
		log_err(NULL, "startup: HTTPS client: %s", err);
		goto out;
	}
	r = clients_new(&app, err, sizeof err);
	if (r < 0) {
		log_err(NULL, "startup: %s", r == -ENOMEM && !err[0] ? "out of memory" : err);
		goto out;
	}
	r = calls_new(&app.loop, cfg, &app.calls);
	if (r < 0)
		goto out;
	/* the outbox sends through the clients and reports each operation's fate to the calls */
	r = outbox_new(&app.loop, cfg, app.clients, scv_client_send, app.store,
	               calls_on_outbox_result, app.calls, &app.outbox);
	if (r < 0) {
		log_err(NULL, "startup: out of memory");
		goto out;
	}
	calls_set_outbox(app.calls, app.outbox);
	calls_set_clients(app.calls, (struct scv_client *const *)app.clients);
	/* what a previous process left: its open calls are closed, its backlog queued */
	r = outbox_recover(app.outbox, err, sizeof err);
	if (r < 0) {
		log_err(NULL, "startup: %s", err);
		goto out;
	}
	calls_on_sip_stopped(app.calls, on_sip_stopped, &app);

	capture = capture_list(cfg, &n_capture);
	if (!capture) {
		r = -ENOMEM;
		goto out;
	}
	sc.listen_url = cfg->sip_listen;
	sc.trusted_peers = (const char *const *)cfg->trusted_peers;
	sc.n_trusted_peers = cfg->n_trusted_peers;
	sc.capture_headers = capture;
	sc.n_capture_headers = n_capture;
	sc.user_agent = cfg->sip_user_agent;
	sc.max_calls = cfg->max_calls;
	sc.udp_buffer_bytes = cfg->udp_buffer_bytes;
	r = sip_start(&app.loop, &sc, calls_on_sip_event, app.calls, &app.sip, err, sizeof err);
	free(capture);
	if (r < 0) {
		log_err(NULL, "startup: %s", err);
		goto out;
	}
	calls_set_sip(app.calls, app.sip);

	uv_signal_start(&app.sigterm, on_signal, SIGTERM);
	uv_signal_start(&app.sigint, on_signal, SIGINT);

	uv_timer_start(&app.status_timer, on_status_timer, 1000, 1000);

	if (cfg->http_token) {
		static const struct localapi_ops ops = {.ready = api_ready,
		                                        .on_recording = api_recording};
		r = localapi_start(&app.loop, cfg->http_listen, cfg->http_token, &ops, &app,
		                   &app.api, err, sizeof err);
		if (r < 0) {
			log_err(NULL, "startup: local API on %s: %s", cfg->http_listen, err);
			/* SIP is up: it stops as in a shutdown, then the loop returns */
			start_sip_stop(&app);
			uv_run(&app.loop, UV_RUN_DEFAULT);
			goto out;
		}
		log_info(NULL, "local API on http://%s", cfg->http_listen);
	}

	log_info(NULL, "scvbridge %s: SIP on %s, %zu contact center(s)", SCVB_VERSION,
	         cfg->sip_listen, cfg->n_ccs);
	notify_send("READY=1\nSTATUS=running");
	uv_run(&app.loop, UV_RUN_DEFAULT);
	log_info(NULL, "scvbridge stopped");
	r = 0;
out:
	teardown(&app);
	return r;
}

static void
usage(FILE *out)
{
	fprintf(out,
	        "usage: scvbridge -c FILE [--check | --dead-letters | --replay-dead-letters]\n"
	        "       scvbridge --version | --help\n"
	        "\n"
	        "Bridges SIP calls to Salesforce Voice (Partner Telephony) VoiceCall records.\n"
	        "\n"
	        "  -c, --config FILE  the JSON configuration (see config/README.md)\n"
	        "      --check        validate the configuration and exit (0 = valid)\n"
	        "      --dead-letters list the operations Salesforce refused for good or that\n"
	        "                     expired, with status, response and time\n"
	        "      --replay-dead-letters  put them back in the queue (daemon stopped);\n"
	        "                     they are sent at the next start\n"
	        "      --version      print the version and exit\n"
	        "  -h, --help         this text\n"
	        "\n"
	        "Runs in the foreground and logs to stderr. SIGTERM/SIGINT end it cleanly.\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"check", no_argument, NULL, 'k'},
	        {"dead-letters", no_argument, NULL, 'D'},
	        {"replay-dead-letters", no_argument, NULL, 'R'},
	        {"version", no_argument, NULL, 'V'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	int check = 0, dead = 0, replay = 0, opt;
	struct cfg *cfg;
	char err[1024];
	enum log_level level;
	int r;

	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'k':
			check = 1;
			break;
		case 'D':
			dead = 1;
			break;
		case 'R':
			replay = 1;
			break;
		case 'V':
			printf("scvbridge %s\n", SCVB_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!path || optind != argc || check + dead + replay > 1) {
		usage(stderr);
		return 2;
	}
	r = cfg_load(path, &cfg, err, sizeof err);
	if (r < 0) {
		fprintf(stderr, "scvbridge: %s\n", err);
		return 1;
	}
	if (check) {
		printf("%s: configuration OK (%zu contact center(s))\n", path, cfg->n_ccs);
		cfg_free(cfg);
		return 0;
	}
	if (dead || replay) {
		r = dead ? admin_dead_letters(cfg, stdout) : admin_replay_dead_letters(cfg, stdout);
		cfg_free(cfg);
		return r;
	}
	if (cfg->log_level && log_level_parse(cfg->log_level, &level) == 0)
		log_set_level(level);
	/* peers that vanish mid-write must give EPIPE, not kill the process */
	signal(SIGPIPE, SIG_IGN);
	r = run(cfg);
	cfg_free(cfg);
	return r < 0 ? 1 : 0;
}
