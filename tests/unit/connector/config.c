#include "connector/config.c"

#include "tests/unit/test.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A scratch directory with keys made by the openssl CLI, and the config under test. */
static char dir[64];
static char key_rsa2048[128], key_rsa1024[128], key_ec[128], ca_file[128], cfg_path[128];

static int
make_key(char *path, size_t pathlen, const char *name, const char *genpkey_args)
{
	char cmd[512];

	snprintf(path, pathlen, "%s/%s", dir, name);
	snprintf(cmd, sizeof cmd, "openssl genpkey %s -out '%s' 2>/dev/null", genpkey_args, path);
	return system(cmd) == 0 ? 0 : -1;
}

static int
setup(void)
{
	FILE *f;

	snprintf(dir, sizeof dir, "%s/scvb-cfg-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cfg_path, sizeof cfg_path, "%s/scvbridge.json", dir);
	snprintf(ca_file, sizeof ca_file, "%s/ca.pem", dir);
	f = fopen(ca_file, "w");
	if (!f)
		return -1;
	fputs("not parsed by the config loader, only opened\n", f);
	fclose(f);
	if (make_key(key_rsa2048, sizeof key_rsa2048, "rsa2048.key",
	             "-algorithm RSA -pkeyopt rsa_keygen_bits:2048") < 0 ||
	    make_key(key_rsa1024, sizeof key_rsa1024, "rsa1024.key",
	             "-algorithm RSA -pkeyopt rsa_keygen_bits:1024") < 0 ||
	    make_key(key_ec, sizeof key_ec, "ec.key",
	             "-algorithm EC -pkeyopt ec_paramgen_curve:P-256") < 0)
		return -1;
	return 0;
}

static void
teardown(void)
{
	char cmd[128];

	if (dir[0] == '\0')
		return;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* The full config: every key set, most to a non-default value. */
static json_t *
full_config(void)
{
	return json_pack(
	        "{s:{s:s}, s:{s:s, s:[s,s,s,s], s:s, s:s, s:i, s:i, s:i}, s:{s:s}, s:["
	        "{s:s, s:s, s:s, s:s, s:s, s:s, s:[s,s], s:s, s:{s:s, s:s}, s:s, s:s, s:i},"
	        "{s:s, s:s, s:s, s:s, s:s, s:[s], s:s}]}",
	        "log", "level", "debug", "sip", "listen", "sip:127.0.0.1:5070", "trusted_peers",
	        "127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8", "user_agent", "acme-bridge/2",
	        "default_country_code", "44", "max_calls", 500, "shutdown_grace_ms", 0,
	        "drain_timeout_ms", 3600000, "store", "path", "/var/lib/scvbridge/outbox.db",
	        "contact_centers", "name", "acme", "org_id", "00D000000000001AAA",
	        "call_center_api_name", "AcmeCC", "base_url",
	        "https://acme.my.salesforce-scrt.com/telephony/v1/", "private_key_file",
	        key_rsa2048, "ca_file", ca_file, "numbers", "+15550100000", "+15550100001",
	        "forward_to", "sip:7000@pbx.example.net:5060", "call_attributes", "X-IVR-Lang",
	        "IvrLanguage__c", "X-Account", "Account_Number__c", "provider_name", "Acme Telecom",
	        "jwt_mode", "per_request", "request_timeout_ms", 2500, "name", "globex.eu-1",
	        "org_id", "00D000000000002", "call_center_api_name", "Globex_CC", "base_url",
	        "https://127.0.0.1:8443", "private_key_file", key_rsa2048, "numbers",
	        "+442079460000", "forward_to", "sips:queue@[2001:db8::1]:5061;transport=tls");
}

/* Only the required keys. */
static json_t *
minimal_config(void)
{
	return json_pack("{s:{s:s, s:[s]}, s:{s:s}, s:[{s:s, s:s, s:s, s:s, s:s, s:[s], s:s}]}",
	                 "sip", "listen", "sip:[::1]:5070;transport=tcp", "trusted_peers", "::1",
	                 "store", "path", "outbox.db", "contact_centers", "name", "acme", "org_id",
	                 "00D000000000001", "call_center_api_name", "AcmeCC", "base_url",
	                 "https://acme.my.salesforce-scrt.com/telephony/v1", "private_key_file",
	                 key_rsa2048, "numbers", "+15550100000", "forward_to",
	                 "sip:pbx.example.net");
}

static json_t *
sip_of(json_t *j)
{
	return json_object_get(j, "sip");
}

static json_t *
cc_of(json_t *j, size_t i)
{
	return json_array_get(json_object_get(j, "contact_centers"), i);
}

/* Writes j (consumed) to the config file and loads it. */
static int
load_json(json_t *j, struct cfg **ret_cfg, char *err, size_t errlen)
{
	int rc = json_dump_file(j, cfg_path, JSON_INDENT(2));

	json_decref(j);
	if (rc != 0) {
		snprintf(err, errlen, "test: cannot write %s", cfg_path);
		return -EIO;
	}
	return cfg_load(cfg_path, ret_cfg, err, errlen);
}

static int
load_text(const char *text, struct cfg **ret_cfg, char *err, size_t errlen)
{
	FILE *f = fopen(cfg_path, "w");

	if (!f)
		return -EIO;
	fputs(text, f);
	fclose(f);
	return cfg_load(cfg_path, ret_cfg, err, errlen);
}

/* j (consumed) must be refused with exactly the message want. */
#define REFUSED(j, want)                                                                           \
	do {                                                                                       \
		char err_[1024] = "";                                                              \
		struct cfg *cfg_ = NULL;                                                           \
		CHECK(load_json((j), &cfg_, err_, sizeof err_) == -EINVAL);                        \
		CHECK(cfg_ == NULL);                                                               \
		CHECK_STR(err_, (want));                                                           \
		cfg_free(cfg_);                                                                    \
	} while (0)

/* j (consumed) must be refused with the code rc and exactly the message want. */
#define REFUSED_RC(j, rc, want)                                                                    \
	do {                                                                                       \
		char err_[1024] = "";                                                              \
		struct cfg *cfg_ = NULL;                                                           \
		CHECK_INT(load_json((j), &cfg_, err_, sizeof err_), (rc));                         \
		CHECK(cfg_ == NULL);                                                               \
		CHECK_STR(err_, (want));                                                           \
		cfg_free(cfg_);                                                                    \
	} while (0)

/* j (consumed) must be refused with a message that starts with prefix. */
#define REFUSED_PREFIX(j, prefix)                                                                  \
	do {                                                                                       \
		char err_[1024] = "";                                                              \
		struct cfg *cfg_ = NULL;                                                           \
		CHECK(load_json((j), &cfg_, err_, sizeof err_) < 0);                               \
		CHECK(cfg_ == NULL);                                                               \
		CHECK_PREFIX(err_, (prefix));                                                      \
		cfg_free(cfg_);                                                                    \
	} while (0)

#define CHECK_PREFIX(s, prefix)                                                                    \
	do {                                                                                       \
		const char *s_ = (s), *p_ = (prefix);                                              \
		if (strncmp(s_, p_, strlen(p_)) != 0 || strlen(s_) <= strlen(p_)) {                \
			char m_[2400];                                                             \
			snprintf(m_, sizeof m_, "got \"%s\", want \"%s...\"", s_, p_);             \
			test_fail(__FILE__, __LINE__, m_);                                         \
		}                                                                                  \
	} while (0)

static void
set(json_t *obj, const char *key, json_t *value)
{
	json_object_set_new(obj, key, value);
}

static json_t *
with_sip(const char *key, json_t *value)
{
	json_t *j = full_config();

	set(sip_of(j), key, value);
	return j;
}

static json_t *
with_cc(size_t i, const char *key, json_t *value)
{
	json_t *j = full_config();

	set(cc_of(j, i), key, value);
	return j;
}

static json_t *
without(json_t *j, json_t *obj, const char *key)
{
	json_object_del(obj, key);
	return j;
}

TEST(full_config_loads)
{
	char err[1024] = "";
	struct cfg *cfg = NULL;
	const struct cfg_contact_center *cc;

	REQUIRE(load_json(full_config(), &cfg, err, sizeof err) == 0);
	REQUIRE(cfg != NULL);
	CHECK_STR(err, "");

	CHECK_STR(cfg->log_level, "debug");
	CHECK_STR(cfg->sip_listen, "sip:127.0.0.1:5070");
	REQUIRE(cfg->n_trusted_peers == 4);
	CHECK_STR(cfg->trusted_peers[0], "127.0.0.1");
	CHECK_STR(cfg->trusted_peers[1], "10.0.0.0/8");
	CHECK_STR(cfg->trusted_peers[2], "::1");
	CHECK_STR(cfg->trusted_peers[3], "fd00::/8");
	CHECK_STR(cfg->sip_user_agent, "acme-bridge/2");
	CHECK_STR(cfg->default_country_code, "44");
	CHECK_INT(cfg->max_calls, 500);
	CHECK_INT(cfg->shutdown_grace_ms, 0);
	CHECK_INT(cfg->drain_timeout_ms, 3600000);
	CHECK_STR(cfg->store_path, "/var/lib/scvbridge/outbox.db");
	REQUIRE(cfg->n_ccs == 2);

	cc = &cfg->ccs[0];
	CHECK_STR(cc->name, "acme");
	CHECK_STR(cc->org_id, "00D000000000001AAA");
	CHECK_STR(cc->call_center_api_name, "AcmeCC");
	CHECK_STR(cc->base_url, "https://acme.my.salesforce-scrt.com/telephony/v1");
	CHECK_STR(cc->private_key_file, key_rsa2048);
	CHECK_STR(cc->ca_file, ca_file);
	REQUIRE(cc->n_numbers == 2);
	CHECK_STR(cc->numbers[0], "+15550100000");
	CHECK_STR(cc->numbers[1], "+15550100001");
	CHECK_STR(cc->forward_to, "sip:7000@pbx.example.net:5060");
	REQUIRE(cc->n_call_attrs == 2);
	CHECK_STR(cc->call_attrs[0].key, "X-IVR-Lang");
	CHECK_STR(cc->call_attrs[0].value, "IvrLanguage__c");
	CHECK_STR(cc->call_attrs[1].key, "X-Account");
	CHECK_STR(cc->call_attrs[1].value, "Account_Number__c");
	CHECK_STR(cc->provider_name, "Acme Telecom");
	CHECK_INT(cc->jwt_mode, CFG_JWT_PER_REQUEST);
	CHECK_INT(cc->request_timeout_ms, 2500);

	/* The second center leaves every optional key out. */
	cc = &cfg->ccs[1];
	CHECK_STR(cc->name, "globex.eu-1");
	CHECK_STR(cc->org_id, "00D000000000002");
	CHECK_STR(cc->call_center_api_name, "Globex_CC");
	CHECK_STR(cc->base_url, "https://127.0.0.1:8443");
	CHECK(cc->ca_file == NULL);
	REQUIRE(cc->n_numbers == 1);
	CHECK_STR(cc->numbers[0], "+442079460000");
	CHECK_STR(cc->forward_to, "sips:queue@[2001:db8::1]:5061;transport=tls");
	CHECK(cc->call_attrs == NULL);
	CHECK_INT(cc->n_call_attrs, 0);
	CHECK_STR(cc->provider_name, "scvbridge");
	CHECK_INT(cc->jwt_mode, CFG_JWT_REUSE);
	CHECK_INT(cc->request_timeout_ms, 10000);
	cfg_free(cfg);
}

TEST(defaults)
{
	char err[1024] = "";
	struct cfg *cfg = NULL;

	REQUIRE(load_json(minimal_config(), &cfg, err, sizeof err) == 0);
	CHECK_STR(cfg->log_level, "info");
	CHECK_STR(cfg->sip_listen, "sip:[::1]:5070;transport=tcp");
	CHECK_STR(cfg->sip_user_agent, "scvbridge/" SCVB_VERSION);
	CHECK(cfg->default_country_code == NULL);
	CHECK_INT(cfg->max_calls, 10000);
	CHECK_INT(cfg->shutdown_grace_ms, 30000);
	CHECK_INT(cfg->drain_timeout_ms, 30000);
	CHECK_STR(cfg->store_path, "outbox.db");
	REQUIRE(cfg->n_ccs == 1);
	CHECK(cfg->ccs[0].ca_file == NULL);
	CHECK_STR(cfg->ccs[0].forward_to, "sip:pbx.example.net");
	CHECK_STR(cfg->ccs[0].provider_name, "scvbridge");
	CHECK_INT(cfg->ccs[0].jwt_mode, CFG_JWT_REUSE);
	CHECK_INT(cfg->ccs[0].request_timeout_ms, 10000);
	cfg_free(cfg);

	/* An empty "log" object is the same as none. */
	json_t *j = minimal_config();
	set(j, "log", json_object());
	cfg = NULL;
	REQUIRE(load_json(j, &cfg, err, sizeof err) == 0);
	CHECK_STR(cfg->log_level, "info");
	cfg_free(cfg);
}

TEST(example_config_loads)
{
	/* The shipped example must stay valid, apart from its key files, which live in /etc. */
	char err[1024] = "";
	json_error_t jerr;
	struct cfg *cfg = NULL;
	json_t *j = json_load_file("config/scvbridge.example.json", 0, &jerr);
	json_t *ccs, *ae;
	size_t i;
	json_t *cc;

	REQUIRE(j != NULL);
	ae = json_object_get(j, "agent_endpoint");
	set(ae, "certificate_file", json_string(ca_file));
	set(ae, "private_key_file", json_string(key_rsa2048));
	set(ae, "web_root", json_string("config"));
	ccs = json_object_get(j, "contact_centers");
	json_array_foreach(ccs, i, cc)
	{
		set(cc, "private_key_file", json_string(key_rsa2048));
		if (json_object_get(cc, "ca_file"))
			set(cc, "ca_file", json_string(ca_file));
	}
	CHECK_INT(load_json(j, &cfg, err, sizeof err), 0);
	CHECK_STR(err, "");
	cfg_free(cfg);
}

/* Every key of the tables appears in the example (in at least one array element). */
static void
covers(const struct opt *table, json_t *obj, const char *where)
{
	for (const struct opt *o = table; o->name; o++) {
		json_t *v = obj ? json_object_get(obj, o->name) : NULL;
		json_t *item;
		size_t i;
		int seen = 0;

		if (o->type == OPT_OBJECTS) {
			json_t *all = json_object(); /* the union of the elements' keys */

			seen = json_array_size(v) > 0;
			json_array_foreach(v, i, item)
			{
				json_object_update_missing(all, item);
			}
			covers(o->sub, all, o->name);
			json_decref(all);
		} else if (o->type == OPT_OBJECT) {
			seen = v != NULL;
			covers(o->sub, v, o->name);
		} else {
			seen = v != NULL;
		}
		if (!seen) {
			char m[160];

			snprintf(m, sizeof m, "config/scvbridge.example.json lacks %s.%s", where,
			         o->name);
			test_fail(__FILE__, __LINE__, m);
		}
	}
}

/* Every key of the tables is documented as `key` in config/README.md. */
static void
documented(const struct opt *table, const char *readme)
{
	char want[80];

	for (const struct opt *o = table; o->name; o++) {
		snprintf(want, sizeof want, "| `%s` |", o->name);
		if (!strstr(readme, want)) {
			char m[160];

			snprintf(m, sizeof m, "config/README.md has no table row for `%s`",
			         o->name);
			test_fail(__FILE__, __LINE__, m);
		}
		if (o->sub)
			documented(o->sub, readme);
	}
}

TEST(example_and_readme_cover_every_key)
{
	json_error_t jerr;
	json_t *j = json_load_file("config/scvbridge.example.json", 0, &jerr);
	FILE *f = fopen("config/README.md", "r");
	char *readme;
	long n;

	REQUIRE(j != NULL);
	covers(root_opts, j, "(top)");
	json_decref(j);

	REQUIRE(f != NULL);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	readme = calloc(1, (size_t)n + 1);
	REQUIRE(readme != NULL);
	CHECK(fread(readme, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	documented(root_opts, readme);
	free(readme);
}

TEST(missing_required)
{
	static const char *const cc_keys[] = {
	        "name",    "org_id",    "call_center_api_name", "base_url", "private_key_file",
	        "numbers", "forward_to"};
	json_t *j;
	char want[256];

	j = full_config();
	REFUSED(without(j, j, "sip"), "sip: required key is missing");
	j = full_config();
	REFUSED(without(j, j, "store"), "store: required key is missing");
	j = full_config();
	REFUSED(without(j, j, "contact_centers"), "contact_centers: required key is missing");
	j = full_config();
	REFUSED(without(j, sip_of(j), "listen"), "sip.listen: required key is missing");
	j = full_config();
	REFUSED(without(j, sip_of(j), "trusted_peers"),
	        "sip.trusted_peers: required key is missing");
	j = full_config();
	REFUSED(without(j, json_object_get(j, "store"), "path"),
	        "store.path: required key is missing");
	for (size_t i = 0; i < sizeof cc_keys / sizeof cc_keys[0]; i++) {
		j = full_config();
		snprintf(want, sizeof want, "contact_centers[1].%s: required key is missing",
		         cc_keys[i]);
		REFUSED(without(j, cc_of(j, 1), cc_keys[i]), want);
	}
	REFUSED(json_object(), "sip: required key is missing");
}

TEST(unknown_keys)
{
	json_t *j;

	j = full_config();
	set(j, "Sip", json_object());
	REFUSED(j, "Sip: unknown key");
	j = full_config();
	set(json_object_get(j, "log"), "file", json_string("/var/log/x"));
	REFUSED(j, "log.file: unknown key");
	REFUSED(with_sip("listen_address", json_string("sip:127.0.0.1:5070")),
	        "sip.listen_address: unknown key");
	j = full_config();
	set(json_object_get(j, "store"), "fsync", json_true());
	REFUSED(j, "store.fsync: unknown key");
	REFUSED(with_cc(1, "orgId", json_string("00D000000000002")),
	        "contact_centers[1].orgId: unknown key");
	/* A misspelt optional key is refused even when everything required is there. */
	REFUSED(with_cc(0, "request_timeout", json_integer(100)),
	        "contact_centers[0].request_timeout: unknown key");
	/* A key that would be confusing in a path is quoted. */
	REFUSED(with_sip("max calls", json_integer(3)), "sip.\"max calls\": unknown key");
}

TEST(wrong_types)
{
	json_t *j;

	j = full_config();
	set(j, "sip", json_array());
	REFUSED(j, "sip: expected an object");
	j = full_config();
	set(j, "log", json_string("debug"));
	REFUSED(j, "log: expected an object");
	j = full_config();
	set(json_object_get(j, "log"), "level", json_integer(3));
	REFUSED(j, "log.level: expected a string");
	j = full_config();
	set(j, "contact_centers", json_object());
	REFUSED(j, "contact_centers: expected an array of objects");
	j = full_config();
	json_array_set_new(json_object_get(j, "contact_centers"), 1, json_string("globex"));
	REFUSED(j, "contact_centers[1]: expected an object");
	REFUSED(with_cc(0, "org_id", json_integer(42)),
	        "contact_centers[0].org_id: expected a string");
	REFUSED(with_cc(0, "org_id", json_null()), "contact_centers[0].org_id: expected a string");
	REFUSED(with_sip("listen", json_true()), "sip.listen: expected a string");
	REFUSED(with_sip("max_calls", json_string("10")), "sip.max_calls: expected an integer");
	REFUSED(with_sip("max_calls", json_real(10.0)), "sip.max_calls: expected an integer");
	REFUSED(with_sip("trusted_peers", json_string("127.0.0.1")),
	        "sip.trusted_peers: expected an array of strings");
	REFUSED(with_sip("trusted_peers", json_pack("[s,i]", "127.0.0.1", 10)),
	        "sip.trusted_peers[1]: expected a string");
	REFUSED(with_cc(0, "numbers", json_pack("[s,[]]", "+15550100000")),
	        "contact_centers[0].numbers[1]: expected a string");
	REFUSED(with_cc(0, "call_attributes", json_pack("[s]", "X-IVR-Lang")),
	        "contact_centers[0].call_attributes: expected an object");
	REFUSED(with_cc(0, "call_attributes", json_pack("{s:i}", "X-IVR-Lang", 1)),
	        "contact_centers[0].call_attributes.X-IVR-Lang: expected a string");
	REFUSED(with_cc(0, "jwt_mode", json_false()),
	        "contact_centers[0].jwt_mode: expected a string");
	REFUSED(with_cc(0, "request_timeout_ms", json_string("10s")),
	        "contact_centers[0].request_timeout_ms: expected an integer");
}

TEST(empty_values)
{
	json_t *j;

	REFUSED(with_sip("trusted_peers", json_array()), "sip.trusted_peers: must not be empty");
	REFUSED(with_cc(1, "numbers", json_array()),
	        "contact_centers[1].numbers: must not be empty");
	j = full_config();
	set(j, "contact_centers", json_array());
	REFUSED(j, "contact_centers: must not be empty");
	j = full_config();
	set(json_object_get(j, "store"), "path", json_string(""));
	REFUSED(j, "store.path: must not be empty");
	REFUSED(with_sip("listen", json_string("")), "sip.listen: must not be empty");
	REFUSED(with_cc(0, "name", json_string("")), "contact_centers[0].name: must not be empty");
	REFUSED(with_cc(0, "ca_file", json_string("")),
	        "contact_centers[0].ca_file: must not be empty");
	REFUSED(with_sip("trusted_peers", json_pack("[s,s]", "::1", "")),
	        "sip.trusted_peers[1]: must not be empty");
	/* An empty call_attributes object is fine. */
	{
		char err[1024];
		struct cfg *cfg = NULL;

		CHECK_INT(load_json(with_cc(0, "call_attributes", json_object()), &cfg, err,
		                    sizeof err),
		          0);
		if (cfg)
			CHECK_INT(cfg->ccs[0].n_call_attrs, 0);
		cfg_free(cfg);
	}
}

TEST(log_level)
{
	static const char *const ok[] = {"error", "warn", "info", "debug"};

	for (size_t i = 0; i < 4; i++) {
		char err[1024];
		struct cfg *cfg = NULL;
		json_t *j = full_config();

		set(json_object_get(j, "log"), "level", json_string(ok[i]));
		CHECK_INT(load_json(j, &cfg, err, sizeof err), 0);
		if (cfg)
			CHECK_STR(cfg->log_level, ok[i]);
		cfg_free(cfg);
	}
	json_t *j = full_config();
	set(json_object_get(j, "log"), "level", json_string("verbose"));
	REFUSED(j, "log.level: \"verbose\" is not one of error, warn, info, debug");
	j = full_config();
	set(json_object_get(j, "log"), "level", json_string("INFO"));
	REFUSED(j, "log.level: \"INFO\" is not one of error, warn, info, debug");
}

TEST(sip_listen)
{
	static const char *const ok[] = {
	        "sip:127.0.0.1:5070",
	        "sips:0.0.0.0:5061",
	        "sip:[::]:5060",
	        "sip:[::1]:5070;transport=tcp",
	        "SIP:sbc.example.net:5060;transport=udp;lr",
	};
	char err[1024];

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		struct cfg *cfg = NULL;

		CHECK_INT(load_json(with_sip("listen", json_string(ok[i])), &cfg, err, sizeof err),
		          0);
		if (cfg)
			CHECK_STR(cfg->sip_listen, ok[i]);
		cfg_free(cfg);
	}
	REFUSED(with_sip("listen", json_string("sip:127.0.0.1")),
	        "sip.listen: \"sip:127.0.0.1\" is not a valid SIP URI: a port is required");
	REFUSED(with_sip("listen", json_string("127.0.0.1:5070")),
	        "sip.listen: \"127.0.0.1:5070\" is not a valid SIP URI: it must start with "
	        "\"sip:\" or \"sips:\"");
	REFUSED(with_sip("listen", json_string("udp://127.0.0.1:5070")),
	        "sip.listen: \"udp://127.0.0.1:5070\" is not a valid SIP URI: it must start with "
	        "\"sip:\" or \"sips:\"");
	REFUSED(with_sip("listen", json_string("sip:bridge@127.0.0.1:5070")),
	        "sip.listen: \"sip:bridge@127.0.0.1:5070\" is not a valid SIP URI: a listen "
	        "address has no user part");
	REFUSED(with_sip("listen", json_string("sip::5070")),
	        "sip.listen: \"sip::5070\" is not a valid SIP URI: missing or bad host");
	REFUSED(with_sip("listen", json_string("sip:127.0.0.256:5070")),
	        "sip.listen: \"sip:127.0.0.256:5070\" is not a valid SIP URI: missing or bad host");
	REFUSED(with_sip("listen", json_string("sip:[::1:5070")),
	        "sip.listen: \"sip:[::1:5070\" is not a valid SIP URI: missing or bad host");
	REFUSED(with_sip("listen", json_string("sip:-bad.example:5070")),
	        "sip.listen: \"sip:-bad.example:5070\" is not a valid SIP URI: missing or bad "
	        "host");
	REFUSED(with_sip("listen", json_string("sip:127.0.0.1:0")),
	        "sip.listen: \"sip:127.0.0.1:0\" is not a valid SIP URI: bad port (1 to 65535)");
	REFUSED(with_sip("listen", json_string("sip:127.0.0.1:65536")),
	        "sip.listen: \"sip:127.0.0.1:65536\" is not a valid SIP URI: bad port (1 to "
	        "65535)");
	REFUSED(with_sip("listen", json_string("sip:127.0.0.1:")),
	        "sip.listen: \"sip:127.0.0.1:\" is not a valid SIP URI: bad port (1 to 65535)");
	REFUSED(with_sip("listen", json_string("sip:127.0.0.1:5070;")),
	        "sip.listen: \"sip:127.0.0.1:5070;\" is not a valid SIP URI: bad parameter");
	REFUSED(with_sip("listen", json_string("sip:127.0.0.1:5070;transport=")),
	        "sip.listen: \"sip:127.0.0.1:5070;transport=\" is not a valid SIP URI: bad "
	        "parameter");
	REFUSED(with_sip("listen", json_string("sip:127.0.0.1:5070 ")),
	        "sip.listen: \"sip:127.0.0.1:5070 \" is not a valid SIP URI: unexpected text after "
	        "the host, port and parameters");
	REFUSED(with_sip("listen", json_string("sip:127.0.0.1:5070?x=y")),
	        "sip.listen: \"sip:127.0.0.1:5070?x=y\" is not a valid SIP URI: unexpected text "
	        "after the host, port and parameters");
	REFUSED(with_sip("listen", json_string("sip:127.0.0.1:5070\n")),
	        "sip.listen: \"sip:127.0.0.1:5070\\x0a\" is not a valid SIP URI: unexpected text "
	        "after the host, port and parameters");
}

TEST(trusted_peers)
{
	static const char *const ok[] = {"0.0.0.0/0",     "192.168.1.0/24", "192.168.1.7/32",
	                                 "2001:db8::/32", "::/0",           "::ffff:10.0.0.1",
	                                 "fe80::1"};
	char err[1024];

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		struct cfg *cfg = NULL;

		CHECK_INT(load_json(with_sip("trusted_peers", json_pack("[s]", ok[i])), &cfg, err,
		                    sizeof err),
		          0);
		cfg_free(cfg);
	}
	REFUSED(with_sip("trusted_peers", json_pack("[s,s]", "127.0.0.1", "10.0.0.300")),
	        "sip.trusted_peers[1]: \"10.0.0.300\" is not an IP address or CIDR prefix");
	REFUSED(with_sip("trusted_peers", json_pack("[s]", "localhost")),
	        "sip.trusted_peers[0]: \"localhost\" is not an IP address or CIDR prefix");
	REFUSED(with_sip("trusted_peers", json_pack("[s]", "10.0.0.0/33")),
	        "sip.trusted_peers[0]: \"10.0.0.0/33\" is not an IP address or CIDR prefix");
	REFUSED(with_sip("trusted_peers", json_pack("[s]", "10.0.0.0/")),
	        "sip.trusted_peers[0]: \"10.0.0.0/\" is not an IP address or CIDR prefix");
	REFUSED(with_sip("trusted_peers", json_pack("[s]", "10.0.0.0/08")),
	        "sip.trusted_peers[0]: \"10.0.0.0/08\" is not an IP address or CIDR prefix");
	REFUSED(with_sip("trusted_peers", json_pack("[s]", "10.0.0.0/-8")),
	        "sip.trusted_peers[0]: \"10.0.0.0/-8\" is not an IP address or CIDR prefix");
	REFUSED(with_sip("trusted_peers", json_pack("[s]", "/8")),
	        "sip.trusted_peers[0]: \"/8\" is not an IP address or CIDR prefix");
	REFUSED(with_sip("trusted_peers", json_pack("[s]", "::1/129")),
	        "sip.trusted_peers[0]: \"::1/129\" is not an IP address or CIDR prefix");
	REFUSED(with_sip("trusted_peers", json_pack("[s]", "10.0.0.0/8 ")),
	        "sip.trusted_peers[0]: \"10.0.0.0/8 \" is not an IP address or CIDR prefix");
	REFUSED(with_sip("trusted_peers", json_pack("[s]", "10.1.2.3/8")),
	        "sip.trusted_peers[0]: \"10.1.2.3/8\" has address bits set past the /8 prefix "
	        "(did you mean \"10.0.0.0/8\"?)");
	REFUSED(with_sip("trusted_peers", json_pack("[s]", "2001:db8::1/64")),
	        "sip.trusted_peers[0]: \"2001:db8::1/64\" has address bits set past the /64 prefix "
	        "(did you mean \"2001:db8::/64\"?)");
}

TEST(sip_scalars)
{
	json_t *j;
	char err[1024];
	struct cfg *cfg = NULL;

	REFUSED(with_sip("user_agent", json_string("bad\r\nX-Injected: 1")),
	        "sip.user_agent: \"bad\\x0d\\x0aX-Injected: 1\" is not a user agent (1 to 128 "
	        "printable ASCII characters)");
	REFUSED(with_sip("default_country_code", json_string("0")),
	        "sip.default_country_code: \"0\" is not a country code (1 to 3 digits, the first "
	        "not 0)");
	REFUSED(with_sip("default_country_code", json_string("+1")),
	        "sip.default_country_code: \"+1\" is not a country code (1 to 3 digits, the first "
	        "not 0)");
	REFUSED(with_sip("default_country_code", json_string("1234")),
	        "sip.default_country_code: \"1234\" is not a country code (1 to 3 digits, the "
	        "first not 0)");
	REFUSED(with_sip("default_country_code", json_integer(1)),
	        "sip.default_country_code: expected a string");
	REFUSED(with_sip("max_calls", json_integer(0)),
	        "sip.max_calls: 0 is out of range (1 to 1000000)");
	REFUSED(with_sip("max_calls", json_integer(1000001)),
	        "sip.max_calls: 1000001 is out of range (1 to 1000000)");
	REFUSED(with_sip("max_calls", json_integer(-1)),
	        "sip.max_calls: -1 is out of range (1 to 1000000)");
	REFUSED(with_sip("max_calls", json_integer(4294967297LL)),
	        "sip.max_calls: 4294967297 is out of range (1 to 1000000)");
	REFUSED(with_sip("shutdown_grace_ms", json_integer(3600001)),
	        "sip.shutdown_grace_ms: 3600001 is out of range (0 to 3600000)");
	REFUSED(with_sip("drain_timeout_ms", json_integer(-5)),
	        "sip.drain_timeout_ms: -5 is out of range (0 to 3600000)");

	/* The ends of each range are accepted. */
	j = with_sip("max_calls", json_integer(1000000));
	set(sip_of(j), "default_country_code", json_string("353"));
	set(sip_of(j), "shutdown_grace_ms", json_integer(3600000));
	set(sip_of(j), "drain_timeout_ms", json_integer(0));
	REQUIRE(load_json(j, &cfg, err, sizeof err) == 0);
	CHECK_INT(cfg->max_calls, 1000000);
	CHECK_STR(cfg->default_country_code, "353");
	CHECK_INT(cfg->shutdown_grace_ms, 3600000);
	CHECK_INT(cfg->drain_timeout_ms, 0);
	cfg_free(cfg);
	cfg = NULL;
	REQUIRE(load_json(with_sip("max_calls", json_integer(1)), &cfg, err, sizeof err) == 0);
	CHECK_INT(cfg->max_calls, 1);
	cfg_free(cfg);
}

TEST(cc_name_org_api_name)
{
	char name65[66];

	memset(name65, 'a', 65);
	name65[65] = '\0';
	REFUSED(with_cc(0, "name", json_string("acme corp")),
	        "contact_centers[0].name: \"acme corp\" is not a valid name (1 to 64 letters, "
	        "digits, "
	        "\"_\", \".\" or \"-\")");
	REFUSED(with_cc(0, "name", json_string(name65)),
	        "contact_centers[0].name: "
	        "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" "
	        "is not a valid name (1 to 64 letters, digits, \"_\", \".\" or \"-\")");
	REFUSED(with_cc(0, "org_id", json_string("00E000000000001AAA")),
	        "contact_centers[0].org_id: \"00E000000000001AAA\" is not an org id (15 or 18 "
	        "letters "
	        "and digits starting with \"00D\")");
	REFUSED(with_cc(0, "org_id", json_string("00D0000000000012")),
	        "contact_centers[0].org_id: \"00D0000000000012\" is not an org id (15 or 18 "
	        "letters "
	        "and digits starting with \"00D\")");
	REFUSED(with_cc(0, "org_id", json_string("00D00000000000-")),
	        "contact_centers[0].org_id: \"00D00000000000-\" is not an org id (15 or 18 letters "
	        "and digits starting with \"00D\")");
	REFUSED(with_cc(0, "org_id", json_string("00d000000000001")),
	        "contact_centers[0].org_id: \"00d000000000001\" is not an org id (15 or 18 letters "
	        "and digits starting with \"00D\")");
	REFUSED(with_cc(0, "call_center_api_name", json_string("1Acme")),
	        "contact_centers[0].call_center_api_name: \"1Acme\" is not a call center API name "
	        "(a "
	        "letter, then up to 79 letters, digits or \"_\")");
	REFUSED(with_cc(0, "call_center_api_name", json_string("Acme-CC")),
	        "contact_centers[0].call_center_api_name: \"Acme-CC\" is not a call center API "
	        "name "
	        "(a letter, then up to 79 letters, digits or \"_\")");

	char api81[82];
	memset(api81, 'A', 81);
	api81[81] = '\0';
	REFUSED_PREFIX(with_cc(0, "call_center_api_name", json_string(api81)),
	               "contact_centers[0].call_center_api_name: \"AAAA");
	api81[80] = '\0';
	{
		char err[1024];
		struct cfg *cfg = NULL;

		CHECK_INT(load_json(with_cc(0, "call_center_api_name", json_string(api81)), &cfg,
		                    err, sizeof err),
		          0);
		cfg_free(cfg);
	}
}

TEST(base_url)
{
	static const struct {
		const char *in, *want;
	} ok[] = {
	        {"https://acme.my.salesforce-scrt.com/telephony/v1",
	         "https://acme.my.salesforce-scrt.com/telephony/v1"},
	        {"https://acme.my.salesforce-scrt.com/telephony/v1///",
	         "https://acme.my.salesforce-scrt.com/telephony/v1"},
	        {"https://127.0.0.1:8443/", "https://127.0.0.1:8443"},
	        {"https://[::1]:8443/telephony/v1", "https://[::1]:8443/telephony/v1"},
	        {"HTTPS://Emulator.Local/telephony/v1", "HTTPS://Emulator.Local/telephony/v1"},
	};
	char err[1024];

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		struct cfg *cfg = NULL;

		CHECK_INT(load_json(with_cc(0, "base_url", json_string(ok[i].in)), &cfg, err,
		                    sizeof err),
		          0);
		if (cfg)
			CHECK_STR(cfg->ccs[0].base_url, ok[i].want);
		cfg_free(cfg);
	}
	REFUSED(with_cc(0, "base_url",
	                json_string("http://acme.my.salesforce-scrt.com/telephony/v1")),
	        "contact_centers[0].base_url: \"http://acme.my.salesforce-scrt.com/telephony/v1\" "
	        "is "
	        "not an https:// URL");
	REFUSED(with_cc(0, "base_url", json_string("acme.my.salesforce-scrt.com")),
	        "contact_centers[0].base_url: \"acme.my.salesforce-scrt.com\" is not an https:// "
	        "URL");
	REFUSED(with_cc(0, "base_url", json_string("https:///telephony/v1")),
	        "contact_centers[0].base_url: \"https:///telephony/v1\" is not a URL with a valid "
	        "host");
	REFUSED(with_cc(0, "base_url", json_string("https://user:pw@acme.example/telephony/v1")),
	        "contact_centers[0].base_url: \"https://user:pw@acme.example/telephony/v1\" is not "
	        "a "
	        "URL without user info (credentials)");
	REFUSED(with_cc(0, "base_url", json_string("https://acme.example:99999/telephony/v1")),
	        "contact_centers[0].base_url: \"https://acme.example:99999/telephony/v1\" is not a "
	        "URL with a valid port (1 to 65535)");
	REFUSED(with_cc(0, "base_url", json_string("https://acme.example/telephony/v1?x=1")),
	        "contact_centers[0].base_url: \"https://acme.example/telephony/v1?x=1\" is not a "
	        "base "
	        "URL (https://host[:port][/path], no query or fragment)");
	REFUSED(with_cc(0, "base_url", json_string("https://acme.example/telephony v1")),
	        "contact_centers[0].base_url: \"https://acme.example/telephony v1\" is not a base "
	        "URL "
	        "(https://host[:port][/path], no query or fragment)");
	REFUSED(with_cc(0, "base_url", json_string("https://acme.example#top")),
	        "contact_centers[0].base_url: \"https://acme.example#top\" is not a base URL "
	        "(https://host[:port][/path], no query or fragment)");
}

TEST(key_files)
{
	char missing[160];

	snprintf(missing, sizeof missing, "%s/missing.key", dir);
	REFUSED_PREFIX(with_cc(0, "private_key_file", json_string(missing)),
	               "contact_centers[0].private_key_file: ");
	REFUSED_PREFIX(with_cc(1, "private_key_file", json_string(key_ec)),
	               "contact_centers[1].private_key_file: ");
	REFUSED_PREFIX(with_cc(0, "private_key_file", json_string(key_rsa1024)),
	               "contact_centers[0].private_key_file: ");
	REFUSED_PREFIX(with_cc(0, "private_key_file", json_string(ca_file)),
	               "contact_centers[0].private_key_file: ");
	REFUSED_PREFIX(with_cc(0, "private_key_file", json_string(dir)),
	               "contact_centers[0].private_key_file: ");

	char want[512];

	snprintf(want, sizeof want,
	         "contact_centers[0].ca_file: cannot read \"%s\": No such file or directory",
	         missing);
	REFUSED_RC(with_cc(0, "ca_file", json_string(missing)), -ENOENT, want);
	snprintf(want, sizeof want, "contact_centers[0].ca_file: \"%s\" is not a regular file",
	         dir);
	REFUSED(with_cc(0, "ca_file", json_string(dir)), want);
	if (geteuid() != 0) { /* root reads anything */
		char locked[160];
		FILE *f;

		snprintf(locked, sizeof locked, "%s/locked.pem", dir);
		f = fopen(locked, "w");
		REQUIRE(f != NULL);
		fclose(f);
		chmod(locked, 0);
		snprintf(want, sizeof want,
		         "contact_centers[0].ca_file: cannot read \"%s\": Permission denied",
		         locked);
		REFUSED_RC(with_cc(0, "ca_file", json_string(locked)), -EACCES, want);
	}
}

TEST(numbers)
{
	REFUSED(with_cc(0, "numbers", json_pack("[s,s]", "+15550100000", "15550100001")),
	        "contact_centers[0].numbers[1]: \"15550100001\" is not an E.164 number (\"+\", "
	        "then "
	        "7 to 15 digits, the first not 0)");
	REFUSED(with_cc(0, "numbers", json_pack("[s]", "+1 555 010 0000")),
	        "contact_centers[0].numbers[0]: \"+1 555 010 0000\" is not an E.164 number (\"+\", "
	        "then 7 to 15 digits, the first not 0)");
	REFUSED(with_cc(0, "numbers", json_pack("[s]", "+05550100000")),
	        "contact_centers[0].numbers[0]: \"+05550100000\" is not an E.164 number (\"+\", "
	        "then "
	        "7 to 15 digits, the first not 0)");
	REFUSED(with_cc(0, "numbers", json_pack("[s]", "+1234567890123456")),
	        "contact_centers[0].numbers[0]: \"+1234567890123456\" is not an E.164 number "
	        "(\"+\", "
	        "then 7 to 15 digits, the first not 0)");
	REFUSED(with_cc(1, "numbers", json_pack("[s]", "tel:+442079460000")),
	        "contact_centers[1].numbers[0]: \"tel:+442079460000\" is not an E.164 number "
	        "(\"+\", "
	        "then 7 to 15 digits, the first not 0)");
}

TEST(duplicates)
{
	json_t *j;

	/* Across contact centers: both places are named. */
	REFUSED(with_cc(1, "numbers", json_pack("[s,s]", "+442079460000", "+15550100001")),
	        "contact_centers[1].numbers[1]: \"+15550100001\" is already listed at "
	        "contact_centers[0].numbers[1] (contact center \"acme\")");
	/* Within one. */
	REFUSED(with_cc(0, "numbers",
	                json_pack("[s,s,s]", "+15550100000", "+15550100001", "+15550100000")),
	        "contact_centers[0].numbers[2]: \"+15550100000\" is already listed at "
	        "contact_centers[0].numbers[0]");
	/* With several repeats, the first repeat in the file is reported. */
	j = full_config();
	set(cc_of(j, 0), "numbers",
	    json_pack("[s,s,s]", "+19990000000", "+15550100001", "+15550100001"));
	set(cc_of(j, 1), "numbers", json_pack("[s,s]", "+19990000000", "+19990000000"));
	REFUSED(j, "contact_centers[0].numbers[2]: \"+15550100001\" is already listed at "
	           "contact_centers[0].numbers[1]");

	REFUSED(with_cc(1, "name", json_string("acme")),
	        "contact_centers[1].name: \"acme\" is already the name of contact_centers[0]");

	/* Duplicate JSON keys are refused by the parser, with their position. */
	char err[1024];
	struct cfg *cfg = NULL;
	char want[256];

	CHECK_INT(load_text("{\"log\": {\"level\": \"info\", \"level\": \"debug\"}}", &cfg, err,
	                    sizeof err),
	          -EINVAL);
	snprintf(want, sizeof want, "%s:1:", cfg_path);
	CHECK_PREFIX(err, want);
	CHECK(strstr(err, "duplicate object key") != NULL);
	CHECK(cfg == NULL);
}

TEST(call_attributes)
{
	json_t *attrs = json_object();
	char key[32];

	REFUSED(with_cc(0, "call_attributes", json_pack("{s:s}", "X IVR", "IvrLanguage__c")),
	        "contact_centers[0].call_attributes: \"X IVR\" is not a SIP header name (1 to 64 "
	        "letters, digits or -.!%*_+`'~)");
	REFUSED(with_cc(0, "call_attributes", json_pack("{s:s}", "X-IVR:Lang", "IvrLanguage__c")),
	        "contact_centers[0].call_attributes: \"X-IVR:Lang\" is not a SIP header name (1 to "
	        "64 "
	        "letters, digits or -.!%*_+`'~)");
	REFUSED(with_cc(0, "call_attributes", json_pack("{s:s}", "X-IVR-Lang", "Ivr-Language")),
	        "contact_centers[0].call_attributes.X-IVR-Lang: \"Ivr-Language\" is not a field "
	        "API "
	        "name (a letter, then up to 79 letters, digits or \"_\")");
	REFUSED(with_cc(0, "call_attributes", json_pack("{s:s}", "X-IVR-Lang", "__c")),
	        "contact_centers[0].call_attributes.X-IVR-Lang: \"__c\" is not a field API name (a "
	        "letter, then up to 79 letters, digits or \"_\")");
	REFUSED(with_cc(0, "call_attributes", json_pack("{s:s}", "X-IVR-Lang", "")),
	        "contact_centers[0].call_attributes.X-IVR-Lang: must not be empty");
	REFUSED(with_cc(0, "call_attributes",
	                json_pack("{s:s, s:s}", "X-IVR-Lang", "A__c", "x-ivr-lang", "B__c")),
	        "contact_centers[0].call_attributes: \"X-IVR-Lang\" and \"x-ivr-lang\" name the "
	        "same "
	        "header (names are case-insensitive)");
	REFUSED(with_cc(0, "call_attributes",
	                json_pack("{s:s, s:s}", "X-A", "Same__c", "X-B", "Same__c")),
	        "contact_centers[0].call_attributes: \"X-A\" and \"X-B\" both fill field Same__c");

	/* At most 32 entries. */
	for (int i = 0; i < 32; i++) {
		snprintf(key, sizeof key, "X-Attr-%d", i);
		char field[32];
		snprintf(field, sizeof field, "Attr%d__c", i);
		json_object_set_new(attrs, key, json_string(field));
	}
	{
		char err[1024];
		struct cfg *cfg = NULL;

		CHECK_INT(load_json(with_cc(0, "call_attributes", json_deep_copy(attrs)), &cfg, err,
		                    sizeof err),
		          0);
		if (cfg) {
			CHECK_INT(cfg->ccs[0].n_call_attrs, 32);
			CHECK_STR(cfg->ccs[0].call_attrs[31].key, "X-Attr-31");
			CHECK_STR(cfg->ccs[0].call_attrs[31].value, "Attr31__c");
		}
		cfg_free(cfg);
	}
	json_object_set_new(attrs, "X-Attr-32", json_string("Attr32__c"));
	REFUSED(with_cc(0, "call_attributes", attrs),
	        "contact_centers[0].call_attributes: has 33 entries (at most 32 allowed)");
}

TEST(forward_provider_jwt_timeout)
{
	static const char *const ok[] = {"sip:7000@pbx.example.net:5060", "sip:pbx.example.net",
	                                 "sips:+15550100000@10.0.0.5;transport=tls;user=phone",
	                                 "sip:queue%20a@[2001:db8::1]"};
	char err[1024];

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		struct cfg *cfg = NULL;

		CHECK_INT(load_json(with_cc(0, "forward_to", json_string(ok[i])), &cfg, err,
		                    sizeof err),
		          0);
		if (cfg)
			CHECK_STR(cfg->ccs[0].forward_to, ok[i]);
		cfg_free(cfg);
	}
	REFUSED(with_cc(0, "forward_to", json_string("tel:+15550100000")),
	        "contact_centers[0].forward_to: \"tel:+15550100000\" is not a valid SIP URI: it "
	        "must "
	        "start with \"sip:\" or \"sips:\"");
	REFUSED(with_cc(0, "forward_to", json_string("sip:7000@")),
	        "contact_centers[0].forward_to: \"sip:7000@\" is not a valid SIP URI: missing or "
	        "bad "
	        "host");
	REFUSED(with_cc(0, "forward_to", json_string("sip:@pbx.example.net")),
	        "contact_centers[0].forward_to: \"sip:@pbx.example.net\" is not a valid SIP URI: "
	        "bad "
	        "user part");
	REFUSED(with_cc(0, "forward_to", json_string("sip:70 00@pbx.example.net")),
	        "contact_centers[0].forward_to: \"sip:70 00@pbx.example.net\" is not a valid SIP "
	        "URI: "
	        "bad user part");
	REFUSED(with_cc(0, "forward_to", json_string("<sip:7000@pbx.example.net>")),
	        "contact_centers[0].forward_to: \"<sip:7000@pbx.example.net>\" is not a valid SIP "
	        "URI: "
	        "it must start with \"sip:\" or \"sips:\"");

	char p81[82];
	memset(p81, 'p', 81);
	p81[81] = '\0';
	REFUSED_PREFIX(with_cc(0, "provider_name", json_string(p81)),
	               "contact_centers[0].provider_name: \"pppp");
	REFUSED(with_cc(0, "provider_name", json_string("Acme\tTelecom")),
	        "contact_centers[0].provider_name: \"Acme\\x09Telecom\" is not a provider name (1 "
	        "to "
	        "80 printable ASCII characters)");
	REFUSED(with_cc(0, "provider_name", json_string("Acm\xc3\xa9")),
	        "contact_centers[0].provider_name: \"Acm\\xc3\\xa9\" is not a provider name (1 to "
	        "80 "
	        "printable ASCII characters)");

	REFUSED(with_cc(0, "jwt_mode", json_string("always")),
	        "contact_centers[0].jwt_mode: \"always\" is not one of reuse, per_request");
	{
		struct cfg *cfg = NULL;

		REQUIRE(load_json(with_cc(0, "jwt_mode", json_string("reuse")), &cfg, err,
		                  sizeof err) == 0);
		CHECK_INT(cfg->ccs[0].jwt_mode, CFG_JWT_REUSE);
		cfg_free(cfg);
	}
	REFUSED(with_cc(0, "request_timeout_ms", json_integer(99)),
	        "contact_centers[0].request_timeout_ms: 99 is out of range (100 to 120000)");
	REFUSED(with_cc(0, "request_timeout_ms", json_integer(120001)),
	        "contact_centers[0].request_timeout_ms: 120001 is out of range (100 to 120000)");
}

TEST(file_errors)
{
	char err[1024], want[512];
	struct cfg *cfg = NULL;

	/* Broken JSON: file:line:column and jansson's text. */
	CHECK_INT(load_text("{\n  \"log\": {\n    \"level\": \"info\",\n  }\n}\n", &cfg, err,
	                    sizeof err),
	          -EINVAL);
	snprintf(want, sizeof want, "%s:4:3: ", cfg_path);
	CHECK_PREFIX(err, want);
	CHECK(cfg == NULL);

	CHECK_INT(
	        load_text("{\"sip\": {\"listen\": \"sip:127.0.0.1:5070}}\n", &cfg, err, sizeof err),
	        -EINVAL);
	snprintf(want, sizeof want, "%s:1:40: ", cfg_path);
	CHECK_PREFIX(err, want);

	CHECK_INT(load_text("", &cfg, err, sizeof err), -EINVAL);
	snprintf(want, sizeof want, "%s:1:0: ", cfg_path);
	CHECK_PREFIX(err, want);

	CHECK_INT(load_text("{} trailing", &cfg, err, sizeof err), -EINVAL);
	snprintf(want, sizeof want, "%s:1:", cfg_path);
	CHECK_PREFIX(err, want);

	/* Valid JSON, but not an object. */
	CHECK_INT(load_text("[1, 2]", &cfg, err, sizeof err), -EINVAL);
	snprintf(want, sizeof want, "%s: expected an object", cfg_path);
	CHECK_STR(err, want);

	/* No such file; a directory. */
	snprintf(want, sizeof want, "%s/none.json", dir);
	CHECK_INT(cfg_load(want, &cfg, err, sizeof err), -ENOENT);
	strcat(want, ": No such file or directory");
	CHECK_STR(err, want);
	CHECK_INT(cfg_load(dir, &cfg, err, sizeof err), -EISDIR);
	snprintf(want, sizeof want, "%s: Is a directory", dir);
	CHECK_STR(err, want);
	CHECK(cfg == NULL);
}

TEST(small_error_buffer)
{
	char err[16];
	struct cfg *cfg = NULL;

	memset(err, 'x', sizeof err);
	CHECK_INT(load_json(with_cc(0, "org_id", json_integer(1)), &cfg, err, sizeof err), -EINVAL);
	CHECK_STR(err, "contact_centers");
	memset(err, 'x', sizeof err);
	CHECK_INT(load_json(with_cc(0, "org_id", json_integer(1)), &cfg, err, 1), -EINVAL);
	CHECK_INT(err[0], '\0');
	CHECK(cfg == NULL);
}

TEST(find_number)
{
	char err[1024];
	struct cfg *cfg = NULL;
	size_t idx = 99;

	REQUIRE(load_json(full_config(), &cfg, err, sizeof err) == 0);
	CHECK(cfg->number_index != NULL);
	CHECK_INT(cfg->n_number_index, 3);
	CHECK(cfg_find_number(cfg, "+15550100001", &idx) == &cfg->ccs[0]);
	CHECK_INT(idx, 0);
	CHECK(cfg_find_number(cfg, "+442079460000", &idx) == &cfg->ccs[1]);
	CHECK_INT(idx, 1);
	CHECK(cfg_find_number(cfg, "+15550100000", NULL) == &cfg->ccs[0]);
	idx = 99;
	CHECK(cfg_find_number(cfg, "+15550100002", &idx) == NULL);
	CHECK(cfg_find_number(cfg, "15550100000", &idx) == NULL);
	CHECK(cfg_find_number(cfg, "", &idx) == NULL);
	CHECK(cfg_find_number(cfg, NULL, &idx) == NULL);
	CHECK_INT(idx, 99); /* untouched on a miss */
	cfg_free(cfg);
}

TEST(find_number_many)
{
	/* Three centers with 1000 numbers each, interleaved so that sorting matters. */
	char err[1024], num[20];
	struct cfg *cfg = NULL;
	json_t *j = full_config();
	json_t *lists[3] = {json_array(), json_array(), json_array()};
	size_t idx;

	json_array_append_new(json_object_get(j, "contact_centers"), json_deep_copy(cc_of(j, 1)));
	set(cc_of(j, 2), "name", json_string("initech"));
	for (int i = 0; i < 3000; i++) {
		snprintf(num, sizeof num, "+1555%07d", (i * 7919) % 10000000);
		json_array_append_new(lists[i % 3], json_string(num));
	}
	for (size_t k = 0; k < 3; k++)
		set(cc_of(j, k), "numbers", lists[k]);
	REQUIRE(load_json(j, &cfg, err, sizeof err) == 0);
	CHECK_INT(cfg->n_number_index, 3000);
	for (int i = 0; i < 3000; i++) {
		snprintf(num, sizeof num, "+1555%07d", (i * 7919) % 10000000);
		idx = 99;
		if (cfg_find_number(cfg, num, &idx) != &cfg->ccs[i % 3] || idx != (size_t)(i % 3)) {
			char m[64];

			snprintf(m, sizeof m, "%s not found in contact_centers[%d]", num, i % 3);
			test_fail(__FILE__, __LINE__, m);
			break;
		}
	}
	CHECK(cfg_find_number(cfg, "+15559999999", NULL) == NULL);
	cfg_free(cfg);
}

TEST(find_number_hand_built)
{
	/* A struct cfg built by hand (no index) gets the same answers by a linear search. */
	char *a_nums[] = {"+15550100000"}, *b_nums[] = {"+442079460000", "+442079460001"};
	struct cfg_contact_center ccs[2] = {
	        {.name = "a", .numbers = a_nums, .n_numbers = 1},
	        {.name = "b", .numbers = b_nums, .n_numbers = 2},
	};
	struct cfg cfg = {.ccs = ccs, .n_ccs = 2};
	size_t idx = 99;

	CHECK(cfg_find_number(&cfg, "+442079460001", &idx) == &ccs[1]);
	CHECK_INT(idx, 1);
	CHECK(cfg_find_number(&cfg, "+15550100000", &idx) == &ccs[0]);
	CHECK_INT(idx, 0);
	idx = 99;
	CHECK(cfg_find_number(&cfg, "+19999999999", &idx) == NULL);
	CHECK_INT(idx, 99);
}

TEST(free_null)
{
	cfg_free(NULL);
	CHECK(1);
}

static json_t *
with_http(json_t *http)
{
	json_t *j = minimal_config();

	json_object_set_new(j, "http", http);
	return j;
}

TEST(http_api)
{
	struct cfg *cfg = NULL;
	char err[512];

	/* absent: no API */
	REQUIRE(load_json(minimal_config(), &cfg, err, sizeof err) == 0);
	CHECK(cfg->http_listen == NULL && cfg->http_token == NULL);
	cfg_free(cfg);
	/* a token alone: the default loopback listener */
	REQUIRE(load_json(with_http(json_pack("{s:s}", "token", "0123456789abcdef0123")), &cfg, err,
	                  sizeof err) == 0);
	CHECK_STR(cfg->http_listen, "127.0.0.1:8088");
	cfg_free(cfg);
	REQUIRE(load_json(with_http(json_pack("{s:s,s:s}", "listen", "[::1]:9000", "token",
	                                      "c2VjcmV0LXRva2VuLTEyMzQ1Ng==")),
	                  &cfg, err, sizeof err) == 0);
	CHECK_STR(cfg->http_listen, "[::1]:9000");
	cfg_free(cfg);
	REFUSED(with_http(json_pack("{s:s}", "listen", "127.0.0.1:8088")),
	        "http.token: required key is missing");
	REFUSED_PREFIX(with_http(json_pack("{s:s}", "token", "short")), "http.token: ");
	REFUSED_PREFIX(with_http(json_pack("{s:s,s:s}", "token", "0123456789abcdef0123", "listen",
	                                   "localhost:8088")),
	               "http.listen: ");
	REFUSED_PREFIX(with_http(json_pack("{s:s,s:s}", "token", "0123456789abcdef0123", "listen",
	                                   "127.0.0.1:99999")),
	               "http.listen: ");
	/* the token is never quoted back in a message */
	REFUSED_PREFIX(with_http(json_pack("{s:s}", "token", "has spaces in it, not a token")),
	               "http.token: \"(not shown)\" is not a token");
}

int
main(void)
{
	if (setup() < 0) {
		printf("FAIL %s/setup: cannot create keys in %s (is the openssl CLI installed?)\n",
		       test_binary_name(), dir);
		teardown();
		return 1;
	}
	RUN(full_config_loads);
	RUN(defaults);
	RUN(example_config_loads);
	RUN(example_and_readme_cover_every_key);
	RUN(missing_required);
	RUN(unknown_keys);
	RUN(wrong_types);
	RUN(empty_values);
	RUN(log_level);
	RUN(sip_listen);
	RUN(trusted_peers);
	RUN(sip_scalars);
	RUN(cc_name_org_api_name);
	RUN(base_url);
	RUN(key_files);
	RUN(numbers);
	RUN(duplicates);
	RUN(call_attributes);
	RUN(forward_provider_jwt_timeout);
	RUN(file_errors);
	RUN(small_error_buffer);
	RUN(find_number);
	RUN(find_number_many);
	RUN(find_number_hand_built);
	RUN(free_null);
	RUN(http_api);
	teardown();
	return test_summary();
}
