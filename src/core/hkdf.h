/*
 * hkdf.h - HKDF-SHA256 (RFC 5869) and HMAC-SHA256 over OpenSSL 3.
 */
#ifndef TOKEND_HKDF_H
#define TOKEND_HKDF_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

/*
 * Derives outlen bytes.  salt may be NULL (then HashLen zero bytes, as
 * RFC 5869 says and tokenlib does).  Returns 0, or -1 if OpenSSL fails.
 */
int	hkdf_sha256(uint8_t *out, size_t outlen, const void *ikm, size_t ikmlen,
	    const void *salt, size_t saltlen, const void *info, size_t infolen);

/* out = HMAC-SHA256(key, data); returns 0 or -1. */
int	hmac_sha256(uint8_t out[SHA256_LEN], const void *key, size_t keylen,
	    const void *data, size_t len);

#endif
