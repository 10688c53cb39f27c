/*
 * tests the config loader (connector/config.c) on files in a scratch directory: a full and a
 * minimal config, the defaults, the shipped example and the README covering every key,
 * required, unknown, mistyped and empty keys, names and numbers listed twice, broken or
 * missing files, a short error buffer, and the number index cfg_find_number() searches.
 *
 * The checks of single values (URIs, addresses, names, ranges) are in config_check.c.
 */
#include "connector/config.c"

#include "tests/unit/connector/cfg_fixture.h"
#include "tests/unit/test.h"

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
	char want[400];

	CHECK_INT(load_text("{\"log\": {\"level\": \"info\", \"level\": \"debug\"}}", &cfg, err,
	                    sizeof err),
	          -EINVAL);
	snprintf(want, sizeof want, "%s:1:", cfg_path);
	CHECK_PREFIX(err, want);
	CHECK(strstr(err, "duplicate object key") != NULL);
	CHECK(cfg == NULL);
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

int
main(void)
{
	if (cfg_setup() < 0)
		return 1;
	RUN(full_config_loads);
	RUN(defaults);
	RUN(example_config_loads);
	RUN(example_and_readme_cover_every_key);
	RUN(missing_required);
	RUN(unknown_keys);
	RUN(wrong_types);
	RUN(empty_values);
	RUN(duplicates);
	RUN(file_errors);
	RUN(small_error_buffer);
	RUN(find_number);
	RUN(find_number_many);
	RUN(find_number_hand_built);
	RUN(free_null);
	cfg_teardown();
	return test_summary();
}
