/*
 * For the config loader's unit tests: a scratch directory with keys made by the openssl CLI
 * (RSA 2048, RSA 1024, EC P-256) and a CA file, the config under test written there as JSON
 * (from jansson values or raw text) and loaded, the full and the minimal config to start from,
 * and checks that a config is refused with a given message.
 *
 * cfg_setup() prints a FAIL line and returns -1 when the keys cannot be made; cfg_teardown()
 * removes the directory.
 */
#ifndef SCVB_TEST_CFG_FIXTURE_H
#define SCVB_TEST_CFG_FIXTURE_H

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connector/config.h"
#include "tests/unit/scratch.h"
#include "tests/unit/test.h"

static char key_rsa2048[300], key_rsa1024[300], key_ec[300], ca_file[300], cfg_path[300];

static inline int
make_key(char *path, size_t pathlen, const char *name, const char *genpkey_args)
{
	char cmd[800];

	path_of(path, pathlen, name);
	snprintf(cmd, sizeof cmd, "openssl genpkey %s -out '%s' 2>/dev/null", genpkey_args, path);
	return system(cmd) == 0 ? 0 : -1;
}

static inline void
cfg_teardown(void)
{
	scratch_teardown();
}

static inline int
cfg_setup(void)
{
	FILE *f;

	if (scratch_setup("cfg") < 0)
		goto out_fail;
	path_of(cfg_path, sizeof cfg_path, "scvbridge.json");
	path_of(ca_file, sizeof ca_file, "ca.pem");
	f = fopen(ca_file, "w");
	if (!f)
		goto out_fail;
	fputs("not parsed by the config loader, only opened\n", f);
	fclose(f);
	if (make_key(key_rsa2048, sizeof key_rsa2048, "rsa2048.key",
	             "-algorithm RSA -pkeyopt rsa_keygen_bits:2048") < 0 ||
	    make_key(key_rsa1024, sizeof key_rsa1024, "rsa1024.key",
	             "-algorithm RSA -pkeyopt rsa_keygen_bits:1024") < 0 ||
	    make_key(key_ec, sizeof key_ec, "ec.key",
	             "-algorithm EC -pkeyopt ec_paramgen_curve:P-256") < 0)
		goto out_fail;
	return 0;

out_fail:
	printf("FAIL %s/setup: cannot create keys in %s (is the openssl CLI installed?)\n",
	       test_binary_name(), dir);
	cfg_teardown();
	return -1;
}

/* The full config: every key set, most to a non-default value. */
static inline json_t *
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
static inline json_t *
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

static inline json_t *
sip_of(json_t *j)
{
	return json_object_get(j, "sip");
}

static inline json_t *
cc_of(json_t *j, size_t i)
{
	return json_array_get(json_object_get(j, "contact_centers"), i);
}

/* Writes j (consumed) to the config file and loads it. */
static inline int
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

static inline int
load_text(const char *text, struct cfg **ret_cfg, char *err, size_t errlen)
{
	FILE *f = fopen(cfg_path, "w");

	if (!f)
		return -EIO;
	fputs(text, f);
	fclose(f);
	return cfg_load(cfg_path, ret_cfg, err, errlen);
}

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

/* j (consumed) must be refused as invalid (-EINVAL) with exactly the message want. */
#define REFUSED(j, want) REFUSED_RC((j), -EINVAL, (want))

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

static inline void
set(json_t *obj, const char *key, json_t *value)
{
	json_object_set_new(obj, key, value);
}

static inline json_t *
with_sip(const char *key, json_t *value)
{
	json_t *j = full_config();

	set(sip_of(j), key, value);
	return j;
}

static inline json_t *
with_cc(size_t i, const char *key, json_t *value)
{
	json_t *j = full_config();

	set(cc_of(j, i), key, value);
	return j;
}

static inline json_t *
without(json_t *j, json_t *obj, const char *key)
{
	json_object_del(obj, key);
	return j;
}

#endif
