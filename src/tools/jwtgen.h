/*
 * jwtgen.h - a test issuer for operators: a key pair and its JWKS, and
 * JWTs signed with it (tokenctl jwt keygen / jwt sign).
 *
 * It is the signing side of what jws.c and jwks.c verify, written apart
 * from them so that a smoke test of a running tokend (sign an assertion,
 * POST it, check the token) exercises tokend's verifier rather than
 * agreeing with it by construction.  Not used by the daemon.
 */
#ifndef TOKEND_JWTGEN_H
#define TOKEND_JWTGEN_H

#include <stddef.h>
#include <stdint.h>

/*
 * Generates a key for alg ("RS256": RSA 2048, "ES256": P-256, "EdDSA":
 * Ed25519), writes the private key as PKCS#8 PEM to key_path (mode 0600)
 * and the public key as a JWK Set {"keys": [JWK with kid, use, alg]} to
 * jwks_path.  0, or -1 with a message in err.
 */
int	jwtgen_keygen(const char *alg, const char *kid, const char *key_path,
	    const char *jwks_path, char *err, size_t errlen);

/*
 * A compact JWS (the alg follows the key: RS256, ES256 or EdDSA) of the
 * claims {"iss","sub","aud","iat":now,"nbf":now,"exp":now+ttl}, with kid
 * in the header unless NULL.  Returns the JWT (free it), or NULL with a
 * message in err.
 */
char	*jwtgen_sign(const char *key_path, const char *kid, const char *iss,
	    const char *aud, const char *sub, int64_t now, int64_t ttl,
	    char *err, size_t errlen);

#endif
