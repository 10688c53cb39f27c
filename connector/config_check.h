/*
 * Validators of single configuration values, used by the option tables in config.c.
 * Each gets the value (a private copy it may rewrite, e.g. to strip a trailing "/") and returns
 * 0, or a negative errno-style code with the reason in why; the caller puts the key path in
 * front. Internal to connector/config*.c.
 */
#ifndef SCVB_CONFIG_CHECK_H
#define SCVB_CONFIG_CHECK_H

#include <stddef.h>

#define CFG_QUOTED_MAX 100 /* a value quoted in a message */

typedef int (*cfg_check_fn)(char *value, char *why, size_t whylen);

const char *cfg_quoted(char buf[CFG_QUOTED_MAX], const char *s);
int cfg_check_log_level(char *s, char *why, size_t whylen);
int cfg_check_sip_uri(const char *s, unsigned flags, char *why, size_t whylen);
int cfg_check_listen_uri(char *s, char *why, size_t whylen);
int cfg_check_forward_uri(char *s, char *why, size_t whylen);
int cfg_check_peer(char *s, char *why, size_t whylen);
int cfg_check_user_agent(char *s, char *why, size_t whylen);
int cfg_check_country_code(char *s, char *why, size_t whylen);
int cfg_check_cc_name(char *s, char *why, size_t whylen);
int cfg_check_org_id(char *s, char *why, size_t whylen);
int cfg_check_api_name(char *s, char *why, size_t whylen);
int cfg_check_base_url(char *s, char *why, size_t whylen);
int cfg_check_key_file(char *s, char *why, size_t whylen);
int cfg_check_readable_file(char *s, char *why, size_t whylen);
int cfg_check_e164(char *s, char *why, size_t whylen);
int cfg_check_header_name(char *s, char *why, size_t whylen);
int cfg_check_field_name(char *s, char *why, size_t whylen);
int cfg_check_provider_name(char *s, char *why, size_t whylen);
int cfg_check_url_template(char *s, char *why, size_t whylen);
int cfg_check_routing_id(char *s, char *why, size_t whylen);
int cfg_check_listen_addr(char *s, char *why, size_t whylen);
int cfg_check_token(char *s, char *why, size_t whylen);
int cfg_check_user_id(char *s, char *why, size_t whylen);
int cfg_check_username(char *s, char *why, size_t whylen);
int cfg_check_display_name(char *s, char *why, size_t whylen);
int cfg_check_password_hash(char *s, char *why, size_t whylen);
int cfg_check_origin(char *s, char *why, size_t whylen);
int cfg_check_outbound_route(char *s, char *why, size_t whylen);
int cfg_check_directory(char *s, char *why, size_t whylen);

#endif
