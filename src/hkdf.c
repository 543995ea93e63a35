/*
 * hkdf.c - key derivation for the token formats.
 *
 * The EVP_KDF and EVP_MAC algorithm objects are fetched once per process:
 * fetching walks OpenSSL's provider tables and costs more than the
 * derivation itself.  Each call still creates a short-lived context, which
 * keeps the functions reentrant.
 */
#include "hkdf.h"

#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

static pthread_once_t	 fetch_once = PTHREAD_ONCE_INIT;
static EVP_KDF		*hkdf_alg;
static EVP_MAC		*hmac_alg;

static void
fetch_algs(void)
{
	hkdf_alg = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
	hmac_alg = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
}

int
hkdf_sha256(uint8_t *out, size_t outlen, const void *ikm, size_t ikmlen,
    const void *salt, size_t saltlen, const void *info, size_t infolen)
{
	static const uint8_t	 zeros[SHA256_LEN];
	EVP_KDF_CTX		*ctx;
	OSSL_PARAM		 params[5], *p = params;
	int			 rc;

	pthread_once(&fetch_once, fetch_algs);
	if (hkdf_alg == NULL || (ctx = EVP_KDF_CTX_new(hkdf_alg)) == NULL)
		return -1;
	if (salt == NULL) {
		salt = zeros;
		saltlen = sizeof(zeros);
	}
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)ikm, ikmlen);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
	    (void *)salt, saltlen);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	    (void *)info, infolen);
	*p = OSSL_PARAM_construct_end();
	rc = EVP_KDF_derive(ctx, out, outlen, params) == 1 ? 0 : -1;
	EVP_KDF_CTX_free(ctx);
	return rc;
}

int
hmac_sha256(uint8_t out[SHA256_LEN], const void *key, size_t keylen,
    const void *data, size_t len)
{
	EVP_MAC_CTX	*ctx;
	OSSL_PARAM	 params[2];
	size_t		 outlen = 0;
	int		 rc = -1;

	pthread_once(&fetch_once, fetch_algs);
	if (hmac_alg == NULL || (ctx = EVP_MAC_CTX_new(hmac_alg)) == NULL)
		return -1;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, key, keylen, params) == 1 &&
	    EVP_MAC_update(ctx, data, len) == 1 &&
	    EVP_MAC_final(ctx, out, &outlen, SHA256_LEN) == 1 &&
	    outlen == SHA256_LEN)
		rc = 0;
	EVP_MAC_CTX_free(ctx);
	return rc;
}
