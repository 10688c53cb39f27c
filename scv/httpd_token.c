/* Bearer tokens for the HTTP server's users (see httpd.h): hashed with OpenSSL. */
#include "scv/httpd.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

int
scv_httpd_token_valid(const char *t)
{
	size_t n =
	        strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/");

	if (n == 0)
		return 0;
	n += strspn(t + n, "=");
	return t[n] == '\0' && n >= SCV_HTTPD_TOKEN_MIN && n <= SCV_HTTPD_TOKEN_MAX;
}

int
scv_httpd_token_set(struct scv_httpd_token *tok, const char *token)
{
	if (!token || !scv_httpd_token_valid(token))
		return -EINVAL;
	if (EVP_Digest(token, strlen(token), tok->hash, NULL, EVP_sha256(), NULL) != 1)
		return -ENOMEM;
	return 0;
}

void
scv_httpd_token_clear(struct scv_httpd_token *tok)
{
	OPENSSL_cleanse(tok->hash, sizeof tok->hash);
}

int
scv_httpd_bearer_check(const struct scv_httpd_token *tok, const char *value)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	const char *t;
	size_t n;

	if (!value || strncasecmp(value, "Bearer", 6) || (value[6] != ' ' && value[6] != '\t'))
		return 1;
	t = value + 6 + strspn(value + 6, " \t");
	n = strlen(t);
	while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
		n--; /* the parser strips them already; a caller's value may have them */
	if (!n)
		return 1;
	/* digests of equal size, compared in constant time: nothing about the token leaks */
	if (EVP_Digest(t, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != sizeof tok->hash)
		return 2;
	return CRYPTO_memcmp(md, tok->hash, sizeof tok->hash) ? 2 : 0;
}
