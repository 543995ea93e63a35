/*
 * jwks.h - a trusted issuer's public keys (RFC 7517 JSON Web Key Set),
 * parsed once (at config load, or when keys.c sees the file change or
 * fetches the URL) into ready EVP_PKEY objects and verify contexts.
 */
#ifndef TOKEND_JWKS_H
#define TOKEND_JWKS_H

#include <stddef.h>

#include <openssl/evp.h>

#include "identity/jws.h"

#define JWKS_MAX_BYTES	(1024 * 1024)	/* largest JWKS file or fetch */
#define JWKS_MAX_KEYS	64
#define JWK_RSA_MIN_BITS 2048
#define JWK_RSA_MAX_BITS 8192	/* bounds the cost of one verification */

/* The key type and, for curves, the curve: each alg fits exactly one. */
enum jwk_kty {
	JWK_KTY_RSA,		/* "RSA": n, e */
	JWK_KTY_EC_P256,	/* "EC" with crv "P-256": x, y */
	JWK_KTY_ED25519,	/* "OKP" with crv "Ed25519": x */
	JWK_KTY_EC_P384,	/* "EC" with crv "P-384" */
	JWK_KTY_EC_P521,	/* "EC" with crv "P-521" */
};

struct jwk {
	char		*kid;	/* NULL when the JWK has no "kid" */
	char		*alg;	/* the JWK's own "alg", or NULL */
	enum jwk_kty	 kty;
	EVP_PKEY	*pkey;	/* owned */
	/*
	 * Verification contexts ready for each alg that fits the key type
	 * (NULL for the others and for EdDSA), made by jws_key_prepare() and
	 * reused by every request: owned, freed by jwks_free().
	 */
	EVP_PKEY_CTX	*vctx[JWS_ALG_COUNT];
};

struct jwks {
	struct jwk	*keys;
	size_t		 nkeys;
};

/*
 * Both return an owned set (free with jwks_free) or NULL with a message in
 * err that names the key by its index in the "keys" array, counted from 0
 * ("keys[2] (kid \"a\"): RSA modulus of 1024 bits is under 2048 bits");
 * jwks_load's messages start with the path.  Keys with "use" other than
 * "sig" are skipped; unsupported kty/crv, private keys ("d"), duplicate kids
 * and a set with no signature key are errors, so an operator learns at load
 * time and not per request.
 */
struct jwks	*jwks_parse(const char *json, size_t len, char *err,
		    size_t errlen);
struct jwks	*jwks_load(const char *path, char *err, size_t errlen);
void		 jwks_free(struct jwks *);

#endif
