/*
 * Throw-away keys and certificates for the scv/ unit tests, made with the OpenSSL API in a
 * mkdtemp() directory. Header-only (static functions) so each test binary includes it.
 */
#ifndef SCVB_TEST_PKI_H
#define SCVB_TEST_PKI_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* A fresh directory under $TMPDIR (or /tmp); the path is written to dir (>= 64 bytes). */
static inline int
pki_tmpdir(char *dir, size_t len)
{
	const char *base = getenv("TMPDIR");

	snprintf(dir, len, "%s/scvb-test-XXXXXX", base && *base ? base : "/tmp");
	return mkdtemp(dir) ? 0 : -1;
}

/* Removes the files of dir (one level) and dir itself. */
static inline void
pki_rmdir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static inline EVP_PKEY *
pki_rsa(unsigned bits)
{
	return EVP_RSA_gen(bits);
}

static inline EVP_PKEY *
pki_ec(void)
{
	return EVP_EC_gen("P-256");
}

/* PEM private key; pass != NULL encrypts it with AES-128-CBC. 0 or -1. */
static inline int
pki_write_key(const char *path, EVP_PKEY *key, const char *pass)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (!f)
		return -1;
	if (pass)
		ok = PEM_write_PrivateKey(f, key, EVP_aes_128_cbc(), (const unsigned char *)pass,
		                          (int)strlen(pass), NULL, NULL);
	else
		ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	return fclose(f) == 0 && ok == 1 ? 0 : -1;
}

static inline int
pki_write_pubkey(const char *path, EVP_PKEY *key)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (!f)
		return -1;
	ok = PEM_write_PUBKEY(f, key);
	return fclose(f) == 0 && ok == 1 ? 0 : -1;
}

static inline int
pki_write_cert(const char *path, X509 *cert)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (!f)
		return -1;
	ok = PEM_write_X509(f, cert);
	return fclose(f) == 0 && ok == 1 ? 0 : -1;
}

static inline int
pki_add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -1;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

/*
 * A certificate for `key` named cn, valid from an hour ago for a day, signed by
 * issuer_key/issuer (NULL/NULL: self-signed). san: subjectAltName value such as
 * "DNS:localhost,IP:127.0.0.1", or NULL. is_ca: basicConstraints CA:TRUE. Caller frees.
 */
static inline X509 *
pki_cert(EVP_PKEY *key, const char *cn, EVP_PKEY *issuer_key, X509 *issuer, const char *san,
         int is_ca)
{
	static long serial = 1000;
	X509 *cert = X509_new();
	X509_NAME *name;

	if (!cert)
		return NULL;
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
	X509_set_pubkey(cert, key);
	name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
	if (pki_add_ext(cert, issuer ? issuer : cert, NID_basic_constraints,
	                is_ca ? "critical,CA:TRUE" : "CA:FALSE") < 0)
		goto fail;
	if (is_ca && pki_add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign") < 0)
		goto fail;
	if (pki_add_ext(cert, issuer ? issuer : cert, NID_subject_key_identifier, "hash") < 0)
		goto fail;
	if (san && pki_add_ext(cert, issuer ? issuer : cert, NID_subject_alt_name, san) < 0)
		goto fail;
	if (!X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256()))
		goto fail;
	return cert;
fail:
	X509_free(cert);
	return NULL;
}

#endif
