#include "connector/admin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connector/config.h"
#include "connector/lockfile.h"
#include "connector/store.h"

static void
iso(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* One line, printable: control characters of a response body shown as spaces. */
static void
print_clean(FILE *out, const char *s, size_t max)
{
	size_t n = 0;

	for (; s && *s && n < max; s++, n++)
		fputc((unsigned char)*s < 0x20 ? ' ' : *s, out);
	if (s && *s)
		fputs("...", out);
}

int
admin_dead_letters(const struct cfg *cfg, FILE *out)
{
	struct store_dead *dead = NULL;
	struct store *st;
	size_t n = 0;
	char err[512], died[32], made[32];
	int r;

	r = store_open(cfg->store_path, &st, err, sizeof err);
	if (r < 0) {
		fprintf(stderr, "scvbridge: %s\n", err);
		return 1;
	}
	r = store_load_dead(st, &dead, &n);
	if (r < 0) {
		fprintf(stderr, "scvbridge: cannot read the dead letters of %s: %s\n",
		        cfg->store_path, strerror(-r));
		store_close(st);
		return 1;
	}
	fprintf(out, "%zu dead letter(s) in %s\n", n, cfg->store_path);
	for (size_t i = 0; i < n; i++) {
		const struct store_dead *d = &dead[i];

		iso(d->died_ms, died);
		iso(d->op.created_ms, made);
		fprintf(out,
		        "#%lld %s %s %s contact-center=%s call=%s reason=%s status=%d attempts=%u "
		        "queued=%s died=%s\n",
		        (long long)d->id, d->op.method, d->op.path,
		        d->op.kind == 1   ? "(create)"
		        : d->op.kind == 3 ? "(clearRouting)"
		                          : "(update)",
		        d->op.cc_name, d->op.call_key, d->reason ? d->reason : "?", d->status,
		        d->op.attempts, made, died);
		fputs("    response: ", out);
		print_clean(out, d->response ? d->response : "(none)", 300);
		fputs("\n    body: ", out);
		print_clean(out, d->op.body, 2000);
		fputc('\n', out);
		store_dead_clear(&dead[i]);
	}
	free(dead);
	store_close(st);
	return 0;
}

int
admin_replay_dead_letters(const struct cfg *cfg, FILE *out)
{
	struct store *st;
	size_t n = 0;
	char err[512];
	int lock, r;

	r = lockfile_take(cfg->store_path, &lock, err, sizeof err);
	if (r < 0) {
		fprintf(stderr, "scvbridge: %s%s\n", err,
		        r == -EBUSY ? "; stop the daemon first, replay, then start it" : "");
		return 1;
	}
	r = store_open(cfg->store_path, &st, err, sizeof err);
	if (r < 0) {
		fprintf(stderr, "scvbridge: %s\n", err);
		lockfile_release(lock);
		return 1;
	}
	r = store_replay_dead(st, &n);
	store_close(st);
	lockfile_release(lock);
	if (r < 0) {
		fprintf(stderr, "scvbridge: replay failed, nothing moved: %s\n", strerror(-r));
		return 1;
	}
	fprintf(out, "%zu dead letter(s) back in the queue; they are sent when scvbridge starts\n",
	        n);
	return 0;
}
