#include "sip/acl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

int
sip_acl_parse(const char *text, struct sip_acl_entry *ret_entry)
{
	struct sip_acl_entry e = {0};
	char buf[64];
	const char *slash = strchr(text, '/');
	size_t len = slash ? (size_t)(slash - text) : strlen(text);
	unsigned max;

	if (len == 0 || len >= sizeof buf)
		return -EINVAL;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, e.addr) == 1) {
		e.family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, e.addr) == 1) {
		e.family = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	e.prefix = max;
	if (slash) {
		char *end;
		unsigned long p;

		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		p = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || p > max)
			return -EINVAL;
		e.prefix = (unsigned)p;
	}
	*ret_entry = e;
	return 0;
}

int
sip_acl_init(struct sip_acl *acl, const char *const *texts, size_t n)
{
	acl->entries = calloc(n ? n : 1, sizeof *acl->entries);
	acl->n = 0;
	if (!acl->entries)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int r = sip_acl_parse(texts[i], &acl->entries[i]);
		if (r < 0) {
			sip_acl_free(acl);
			return r;
		}
		acl->n++;
	}
	return 0;
}

void
sip_acl_free(struct sip_acl *acl)
{
	free(acl->entries);
	acl->entries = NULL;
	acl->n = 0;
}

static int
prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return 0;
	if (rest == 0)
		return 1;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

int
sip_acl_match(const struct sip_acl *acl, const struct sockaddr *sa)
{
	uint8_t addr[16];
	int family;

	if (sa->sa_family == AF_INET) {
		memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		family = AF_INET;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 =
		        &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			memcpy(addr, &a6->s6_addr[12], 4);
			family = AF_INET;
		} else {
			memcpy(addr, a6->s6_addr, 16);
			family = AF_INET6;
		}
	} else {
		return 0;
	}
	for (size_t i = 0; i < acl->n; i++) {
		const struct sip_acl_entry *e = &acl->entries[i];
		if (e->family == family && prefix_equal(addr, e->addr, e->prefix))
			return 1;
	}
	return 0;
}
