/*
 * tests the agent side of the configuration (connector/config.c, config_check.c): the
 * agent_endpoint block and its all-or-nothing rule, each contact center's agents, phonebook,
 * outbound route, caller id, DTMF mode and after-call work, and the rules across entries
 * (user names and ids unique in a contact center, one agent per phone in the whole file).
 */
#include "connector/config.h"

#include "tests/unit/connector/cfg_fixture.h"
#include "tests/unit/test.h"

#define HASH "scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"

static json_t *
agent(const char *id, const char *username, const char *phone)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "username", username, "name",
	                 "Alice Martin", "phone", phone, "password_hash", HASH);
}

/* full_config() with an endpoint and two agents in the first contact center. */
static json_t *
agent_config(void)
{
	json_t *j = full_config();

	set(j, "agent_endpoint",
	    json_pack("{s:s, s:s, s:s, s:[s], s:s}", "listen", "127.0.0.1:8443", "certificate_file",
	              ca_file, "private_key_file", key_rsa2048, "allowed_origins",
	              "https://bridge.example.com:8443", "web_root", dir));
	set(cc_of(j, 0), "agents",
	    json_pack(
	            "[o, o]", agent("0055e000001AbCdAAK", "alice", "sip:7001@pbx.example.net"),
	            agent("0055e000001AbCeAAK", "bob", "sip:7002@pbx.example.net;transport=tcp")));
	return j;
}

static json_t *
agent_of(json_t *j, size_t cc, size_t i)
{
	return json_array_get(json_object_get(cc_of(j, cc), "agents"), i);
}

static json_t *
endpoint_of(json_t *j)
{
	return json_object_get(j, "agent_endpoint");
}

TEST(agents_load_with_defaults)
{
	char err[1024] = "", want[400];
	struct cfg *cfg = NULL;
	const struct cfg_contact_center *cc;

	REQUIRE(load_json(agent_config(), &cfg, err, sizeof err) == 0);
	CHECK_STR(err, "");
	CHECK_STR(cfg->ae_listen, "127.0.0.1:8443");
	REQUIRE(cfg->n_ae_origins == 1);
	CHECK_STR(cfg->ae_origins[0], "https://bridge.example.com:8443");
	CHECK_INT(cfg->ae_token_ttl_s, 900);
	CHECK_INT(cfg->ae_hello_timeout_ms, 5000);
	CHECK_INT(cfg->ae_max_message_bytes, 65536);
	CHECK_INT(cfg->ae_max_sockets_per_agent, 8);
	CHECK_INT(cfg->ae_max_sockets_per_source, 64);
	CHECK_INT(cfg->ae_commands_per_s, 20);
	/* the token secret defaults to a file beside the store */
	snprintf(want, sizeof want, "%s.agent-secret", cfg->store_path);
	CHECK_STR(cfg->ae_secret_file, want);
	cc = &cfg->ccs[0];
	REQUIRE(cc->n_agents == 2);
	CHECK_STR(cc->agents[1].username, "bob");
	CHECK_STR(cc->agents[1].phone, "sip:7002@pbx.example.net;transport=tcp");
	CHECK_STR(cc->agents[0].password_hash, HASH);
	CHECK_INT(cc->dtmf_mode, CFG_DTMF_INFO_RELAY);
	CHECK_INT(cc->after_call_work_s, 0);
	CHECK(cc->outbound_route == NULL);
	CHECK(cfg->ccs[1].n_agents == 0);
	cfg_free(cfg);
}

TEST(no_endpoint_is_fine)
{
	char err[1024] = "";
	struct cfg *cfg = NULL;

	REQUIRE(load_json(full_config(), &cfg, err, sizeof err) == 0);
	CHECK(cfg->ae_listen == NULL);
	CHECK(cfg->ae_secret_file == NULL);
	cfg_free(cfg);
}

TEST(endpoint_is_all_or_nothing)
{
	json_t *j;

	j = agent_config();
	REFUSED(without(j, endpoint_of(j), "listen"),
	        "agent_endpoint.listen: required key is missing");
	j = agent_config();
	REFUSED(without(j, endpoint_of(j), "certificate_file"),
	        "agent_endpoint.certificate_file: required key is missing");
	j = agent_config();
	REFUSED(without(j, endpoint_of(j), "private_key_file"),
	        "agent_endpoint.private_key_file: required key is missing");
	j = agent_config();
	REFUSED(without(j, endpoint_of(j), "web_root"),
	        "agent_endpoint.web_root: required key is missing");
	j = agent_config();
	REFUSED_PREFIX(without(j, endpoint_of(j), "allowed_origins"),
	               "agent_endpoint.allowed_origins: at least one origin is required");
	/* a lone key still makes the block present */
	j = full_config();
	set(j, "agent_endpoint", json_pack("{s:i}", "token_ttl_s", 600));
	REFUSED(j, "agent_endpoint.listen: required key is missing");
}

TEST(endpoint_values)
{
	json_t *j;

	j = agent_config();
	set(endpoint_of(j), "allowed_origins", json_pack("[s]", "http://bridge.example.com"));
	REFUSED_PREFIX(j, "agent_endpoint.allowed_origins[0]: \"http://bridge.example.com\" is not "
	                  "an https origin");
	j = agent_config();
	set(endpoint_of(j), "allowed_origins", json_pack("[s]", "https://bridge.example.com/app"));
	REFUSED_PREFIX(j, "agent_endpoint.allowed_origins[0]:");
	j = agent_config();
	set(endpoint_of(j), "allowed_origins", json_pack("[s]", "https://Bridge.example.com"));
	REFUSED_PREFIX(j, "agent_endpoint.allowed_origins[0]:");
	j = agent_config();
	set(endpoint_of(j), "web_root", json_string("/nonexistent/web"));
	REFUSED_PREFIX(j, "agent_endpoint.web_root: cannot use \"/nonexistent/web\"");
	j = agent_config();
	set(endpoint_of(j), "web_root", json_string(ca_file));
	REFUSED_PREFIX(j, "agent_endpoint.web_root:");
	j = agent_config();
	set(endpoint_of(j), "max_message_bytes", json_integer(1 << 20));
	REFUSED_PREFIX(j, "agent_endpoint.max_message_bytes: 1048576 is out of range");
	j = agent_config();
	set(endpoint_of(j), "listen", json_string("bridge.example.com:8443"));
	REFUSED_PREFIX(j, "agent_endpoint.listen:");
}

TEST(agent_values)
{
	json_t *j;

	j = agent_config();
	set(agent_of(j, 0, 0), "id", json_string("00D5e000001AbCd"));
	REFUSED_PREFIX(j, "contact_centers[0].agents[0].id: \"00D5e000001AbCd\" is not a "
	                  "Salesforce user id");
	j = agent_config();
	set(agent_of(j, 0, 1), "username", json_string("bob smith"));
	REFUSED_PREFIX(j, "contact_centers[0].agents[1].username:");
	j = agent_config();
	set(agent_of(j, 0, 0), "name", json_string("Alice\nMartin"));
	REFUSED_PREFIX(j, "contact_centers[0].agents[0].name:");
	j = agent_config();
	set(agent_of(j, 0, 0), "phone", json_string("tel:+15550100"));
	REFUSED_PREFIX(j, "contact_centers[0].agents[0].phone:");
	/* a password written in clear is refused, and the message does not repeat it */
	j = agent_config();
	set(agent_of(j, 0, 0), "password_hash", json_string("hunter2hunter2"));
	REFUSED_PREFIX(j, "contact_centers[0].agents[0].password_hash: \"(not shown)\"");
	j = agent_config();
	set(agent_of(j, 0, 0), "password_hash", json_string("scrypt$16384$8$1$only-four"));
	REFUSED_PREFIX(j, "contact_centers[0].agents[0].password_hash:");
	j = agent_config();
	json_object_del(agent_of(j, 0, 0), "password_hash");
	REFUSED(j, "contact_centers[0].agents[0].password_hash: required key is missing");
	j = agent_config();
	set(agent_of(j, 0, 0), "extension", json_string("7001"));
	REFUSED_PREFIX(j, "contact_centers[0].agents[0].extension:");
}

TEST(agents_unique)
{
	json_t *j;

	j = agent_config();
	set(agent_of(j, 0, 1), "username", json_string("alice"));
	REFUSED(j, "contact_centers[0].agents[1].username: \"alice\" is already used by agents[0]");
	j = agent_config();
	set(agent_of(j, 0, 1), "id", json_string("0055e000001AbCdAAK"));
	REFUSED(j, "contact_centers[0].agents[1].id: \"0055e000001AbCdAAK\" is already used by "
	           "agents[0]");
	/* one phone, two agents: compared without parameters, the host without case */
	j = agent_config();
	set(agent_of(j, 0, 1), "phone", json_string("sip:7001@PBX.example.net;transport=udp"));
	REFUSED(j, "contact_centers[0].agents[1].phone: \"sip:7001@PBX.example.net;transport=udp\" "
	           "already rings contact_centers[0].agents[0] (a phone belongs to one agent)");
	/* the same user name in two contact centers is fine; the same phone is not */
	j = agent_config();
	set(cc_of(j, 1), "agents",
	    json_pack("[o]", agent("0055e000009ZzZzAAK", "alice", "sip:9001@pbx.example.net")));
	{
		char err[1024] = "";
		struct cfg *cfg = NULL;

		CHECK_INT(load_json(j, &cfg, err, sizeof err), 0);
		CHECK_STR(err, "");
		cfg_free(cfg);
	}
	j = agent_config();
	set(cc_of(j, 1), "agents",
	    json_pack("[o]", agent("0055e000009ZzZzAAK", "carol", "sip:7002@pbx.example.net")));
	REFUSED(j, "contact_centers[1].agents[0].phone: \"sip:7002@pbx.example.net\" already rings "
	           "contact_centers[0].agents[1] (a phone belongs to one agent)");
}

TEST(dial_out_and_phonebook)
{
	char err[1024] = "";
	struct cfg *cfg = NULL;
	json_t *j = agent_config();
	const struct cfg_contact_center *cc;

	set(cc_of(j, 0), "outbound_route", json_string("sip:{number}@pbx.example.net:5060"));
	set(cc_of(j, 0), "outbound_caller_id", json_string("+15550100000"));
	set(cc_of(j, 0), "dtmf", json_string("info-dtmf"));
	set(cc_of(j, 0), "after_call_work_s", json_integer(30));
	set(cc_of(j, 0), "phonebook",
	    json_pack("[{s:s, s:s}]", "name", "Billing desk", "number", "+15550100900"));
	REQUIRE(load_json(j, &cfg, err, sizeof err) == 0);
	cc = &cfg->ccs[0];
	CHECK_STR(cc->outbound_route, "sip:{number}@pbx.example.net:5060");
	CHECK_STR(cc->outbound_caller_id, "+15550100000");
	CHECK_INT(cc->dtmf_mode, CFG_DTMF_INFO_DTMF);
	CHECK_INT(cc->after_call_work_s, 30);
	REQUIRE(cc->n_phonebook == 1);
	CHECK_STR(cc->phonebook[0].name, "Billing desk");
	CHECK_STR(cc->phonebook[0].number, "+15550100900");
	cfg_free(cfg);

	REFUSED_PREFIX(with_cc(0, "outbound_route", json_string("sip:pbx.example.net")),
	               "contact_centers[0].outbound_route: \"sip:pbx.example.net\" is not a SIP "
	               "URI with {number} once");
	REFUSED_PREFIX(with_cc(0, "outbound_route", json_string("sip:{number}@{number}")),
	               "contact_centers[0].outbound_route:");
	REFUSED_PREFIX(with_cc(0, "outbound_route", json_string("http://{number}@pbx")),
	               "contact_centers[0].outbound_route:");
	REFUSED_PREFIX(with_cc(0, "dtmf", json_string("rfc4733")),
	               "contact_centers[0].dtmf: \"rfc4733\" is not one of");
	REFUSED_PREFIX(with_cc(0, "after_call_work_s", json_integer(7200)),
	               "contact_centers[0].after_call_work_s: 7200 is out of range");
	j = full_config();
	set(cc_of(j, 0), "phonebook", json_pack("[{s:s, s:s}]", "name", "Desk", "number", "555"));
	REFUSED_PREFIX(j, "contact_centers[0].phonebook[0].number:");
}

int
main(void)
{
	if (cfg_setup() < 0)
		return 1;
	RUN(agents_load_with_defaults);
	RUN(no_endpoint_is_fine);
	RUN(endpoint_is_all_or_nothing);
	RUN(endpoint_values);
	RUN(agent_values);
	RUN(agents_unique);
	RUN(dial_out_and_phonebook);
	cfg_teardown();
	return test_summary();
}
