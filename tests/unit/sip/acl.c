/* tests sip/acl.c: trusted-peer matching */
#include "sip/acl.c"

#include <arpa/inet.h>

#include "tests/unit/test.h"

static struct sockaddr_storage
sa_of(const char *ip)
{
	struct sockaddr_storage ss = {0};

	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		inet_pton(AF_INET, ip, &s4->sin_addr);
	}
	return ss;
}

static int
matches(const struct sip_acl *acl, const char *ip)
{
	struct sockaddr_storage ss = sa_of(ip);
	return sip_acl_match(acl, (struct sockaddr *)&ss);
}

TEST(parse_good)
{
	struct sip_acl_entry e;

	CHECK_INT(sip_acl_parse("127.0.0.1", &e), 0);
	CHECK_INT(e.prefix, 32);
	CHECK_INT(sip_acl_parse("10.0.0.0/8", &e), 0);
	CHECK_INT(e.prefix, 8);
	CHECK_INT(sip_acl_parse("::1", &e), 0);
	CHECK_INT(e.prefix, 128);
	CHECK_INT(sip_acl_parse("fd00::/8", &e), 0);
	CHECK_INT(e.family, AF_INET6);
	CHECK_INT(sip_acl_parse("0.0.0.0/0", &e), 0);
}

TEST(parse_bad)
{
	struct sip_acl_entry e;

	CHECK(sip_acl_parse("", &e) < 0);
	CHECK(sip_acl_parse("10.0.0.300", &e) < 0);
	CHECK(sip_acl_parse("10.0.0.0/33", &e) < 0);
	CHECK(sip_acl_parse("10.0.0.0/", &e) < 0);
	CHECK(sip_acl_parse("10.0.0.0/-1", &e) < 0);
	CHECK(sip_acl_parse("::1/129", &e) < 0);
	CHECK(sip_acl_parse("pbx.example.net", &e) < 0);
	CHECK(sip_acl_parse("10.0.0.0/8x", &e) < 0);
}

TEST(match)
{
	const char *list[] = {"127.0.0.1", "10.1.0.0/16", "fd00::/8", "192.168.1.128/25"};
	struct sip_acl acl;

	REQUIRE(sip_acl_init(&acl, list, 4) == 0);
	CHECK(matches(&acl, "127.0.0.1"));
	CHECK(!matches(&acl, "127.0.0.2"));
	CHECK(matches(&acl, "10.1.255.3"));
	CHECK(!matches(&acl, "10.2.0.1"));
	CHECK(matches(&acl, "fd12:3456::1"));
	CHECK(!matches(&acl, "fe80::1"));
	CHECK(matches(&acl, "192.168.1.200"));
	CHECK(!matches(&acl, "192.168.1.100"));
	/* IPv4-mapped IPv6 source (dual-stack socket) matches the IPv4 entry */
	CHECK(matches(&acl, "::ffff:127.0.0.1"));
	CHECK(!matches(&acl, "::ffff:127.0.0.9"));
	sip_acl_free(&acl);
}

TEST(init_rejects_bad_entry)
{
	const char *list[] = {"127.0.0.1", "nonsense"};
	struct sip_acl acl;

	CHECK(sip_acl_init(&acl, list, 2) < 0);
}

int
main(void)
{
	RUN(parse_good);
	RUN(parse_bad);
	RUN(match);
	RUN(init_rejects_bad_entry);
	return test_summary();
}
