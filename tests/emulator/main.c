/*
 * scv-emulator: a local stand-in for Salesforce's Telephony Integration REST API, for the
 * demo, the integration tests and the benchmarks. main() only parses the command line and
 * wires the parts together.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "tests/emulator/faults.h"
#include "tests/emulator/jwt.h"
#include "tests/emulator/omniflow.h"
#include "tests/emulator/reqlog.h"
#include "tests/emulator/server.h"
#include "tests/emulator/store.h"
#include "tests/emulator/util.h"

#ifndef SCVB_VERSION
#define SCVB_VERSION "dev"
#endif

static const char usage[] =
        "usage: scv-emulator --listen HOST:PORT --cert server.pem --key server.key\n"
        "           --call-center API_NAME:ORG_ID:CERT_OR_PUBKEY_PEM [--call-center ...]\n"
        "           [--max-jwt-lifetime SECONDS] [--skew SECONDS] [--ready-file PATH]\n"
        "           [--log-requests] [--version] [--help]\n"
        "\n"
        "Emulates Salesforce's Telephony Integration REST API (/telephony/v1) over HTTPS, with a\n"
        "control API for tests under /emulator/.\n"
        "\n"
        "  --listen HOST:PORT      localhost (127.0.0.1 and ::1), an IPv4 or [IPv6] literal;\n"
        "                          PORT 0 picks a free port\n"
        "  --cert, --key           PEM server certificate (chain) and private key\n"
        "  --call-center N:ORG:PEM JWT sub, iss and verification key (X.509 or PUBLIC KEY)\n"
        "  --max-jwt-lifetime S    largest accepted exp - iat (default 86400)\n"
        "  --skew S                clock skew tolerated on exp, iat, nbf (default 60)\n"
        "  --ready-file PATH       written with \"PORT\\n\" once listening\n"
        "  --log-requests          one line per request on stderr\n"
        "\n"
        "SIGTERM or SIGINT stops it (exit 0); SIGUSR1 listens again after POST /emulator/listen.\n";

static int
parse_seconds(const char *opt, const char *s, int64_t *ret)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (!*s || *end || errno || v < 0 || v > 10LL * 365 * 86400) {
		fprintf(stderr, "scv-emulator: %s wants a number of seconds\n", opt);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

/* Thousands of benchmark connections need more descriptors than the usual soft limit. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
free_all(void)
{
	emu_server_free();
	emu_store_free();
	emu_faults_reset();
	emu_omniflow_reset();
	emu_reqlog_free();
	emu_jwt_free();
}

int
main(int argc, char **argv)
{
	enum {
		OPT_LISTEN = 256,
		OPT_CERT,
		OPT_KEY,
		OPT_CC,
		OPT_LIFETIME,
		OPT_SKEW,
		OPT_READY,
		OPT_LOG,
		OPT_VERSION,
		OPT_HELP
	};
	static const struct option opts[] = {
	        {"listen", required_argument, NULL, OPT_LISTEN},
	        {"cert", required_argument, NULL, OPT_CERT},
	        {"key", required_argument, NULL, OPT_KEY},
	        {"call-center", required_argument, NULL, OPT_CC},
	        {"max-jwt-lifetime", required_argument, NULL, OPT_LIFETIME},
	        {"skew", required_argument, NULL, OPT_SKEW},
	        {"ready-file", required_argument, NULL, OPT_READY},
	        {"log-requests", no_argument, NULL, OPT_LOG},
	        {"version", no_argument, NULL, OPT_VERSION},
	        {"help", no_argument, NULL, OPT_HELP},
	        {NULL, 0, NULL, 0},
	};
	struct emu_server_config cfg = {0};
	int64_t lifetime = 86400, skew = 60;
	char err[512];
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_LISTEN:
			cfg.listen = optarg;
			break;
		case OPT_CERT:
			cfg.cert = optarg;
			break;
		case OPT_KEY:
			cfg.key = optarg;
			break;
		case OPT_READY:
			cfg.ready_file = optarg;
			break;
		case OPT_LOG:
			emu_log_set_verbose(true);
			break;
		case OPT_CC:
			if (emu_jwt_add_cc(optarg, err, sizeof err) < 0) {
				fprintf(stderr, "scv-emulator: --call-center: %s\n", err);
				goto out_usage;
			}
			break;
		case OPT_LIFETIME:
			if (parse_seconds("--max-jwt-lifetime", optarg, &lifetime) < 0)
				goto out_usage;
			break;
		case OPT_SKEW:
			if (parse_seconds("--skew", optarg, &skew) < 0)
				goto out_usage;
			break;
		case OPT_VERSION:
			printf("scv-emulator %s\n", SCVB_VERSION);
			emu_jwt_free();
			return 0;
		case OPT_HELP:
			fputs(usage, stdout);
			emu_jwt_free();
			return 0;
		default:
			goto out_usage;
		}
	}
	if (optind < argc || !cfg.listen || !cfg.cert || !cfg.key || emu_jwt_cc_count() == 0) {
		fprintf(stderr, "scv-emulator: --listen, --cert, --key and at least one "
		                "--call-center are required\n");
		goto out_usage;
	}
	emu_jwt_set_limits(lifetime, skew);
	raise_fd_limit();
	if ((rc = emu_server_init(&cfg, err, sizeof err)) < 0) {
		emu_log_error("%s", err);
		free_all();
		return 1;
	}
	emu_log_info("listening on %s (port in --ready-file), %zu call center(s)", cfg.listen,
	             emu_jwt_cc_count());
	rc = emu_server_run();
	free_all();
	return rc < 0 ? 1 : 0;
out_usage:
	fputs(usage, stderr);
	emu_jwt_free();
	return 2;
}
