/*
 * tests the checks of single config values (connector/config_check.c, and the ranges and
 * choices the loader's table declares), through cfg_load() and its exact messages: log.level,
 * sip.listen, sip.trusted_peers and the other sip values, each contact center's name, org id,
 * API name, base_url, key and CA files, numbers, call_attributes, forward_to, provider_name,
 * jwt_mode and request_timeout_ms, and the http API block.
 */
#include "connector/config.c"

#include "tests/unit/connector/cfg_fixture.h"
#include "tests/unit/test.h"

#include <sys/stat.h>
#include <unistd.h>

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

#include <sys/stat.h>
#include <unistd.h>

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
	char missing[300];

	path_of(missing, sizeof missing, "missing.key");
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
		char locked[300];
		FILE *f;

		path_of(locked, sizeof locked, "locked.pem");
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
	if (cfg_setup() < 0)
		return 1;
	RUN(log_level);
	RUN(sip_listen);
	RUN(trusted_peers);
	RUN(sip_scalars);
	RUN(cc_name_org_api_name);
	RUN(base_url);
	RUN(key_files);
	RUN(numbers);
	RUN(call_attributes);
	RUN(forward_provider_jwt_timeout);
	RUN(http_api);
	cfg_teardown();
	return test_summary();
}
