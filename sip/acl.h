/*
 * Trusted-peer list: IPv4/IPv6 addresses and CIDR prefixes. Internal to sip/.
 */
#ifndef SCVB_SIP_ACL_H
#define SCVB_SIP_ACL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct sip_acl_entry {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned prefix; /* bits */
};

struct sip_acl {
	struct sip_acl_entry *entries;
	size_t n;
};

/* Parses "10.0.0.0/8", "127.0.0.1", "::1", "fd00::/8". 0 or -EINVAL. */
int sip_acl_parse(const char *text, struct sip_acl_entry *ret_entry);
int sip_acl_init(struct sip_acl *acl, const char *const *texts, size_t n);
void sip_acl_free(struct sip_acl *acl);

/* 1 when sa (AF_INET, AF_INET6, or IPv4-mapped IPv6) is inside one entry. */
int sip_acl_match(const struct sip_acl *acl, const struct sockaddr *sa);

#endif
