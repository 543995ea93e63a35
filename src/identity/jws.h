/*
 * jws.h - JWS compact serialization (RFC 7515) and JWT (RFC 7519) checks.
 *
 * jwt_verify() is the whole of "is this assertion good": it splits and
 * decodes the three parts, picks the issuer by the (still untrusted) "iss"
 * claim, checks the algorithm against that issuer's allowed list and the
 * key's type, verifies the signature with the issuer's keys (or, for HS*,
 * its shared secret), and only then trusts the claims (exp, nbf, iat with
 * leeway; aud; the issuer's required claims; the identity claim).  Each way
 * to fail has its own code (enum jose_err, shared with BrowserID) so the
 * client is told precisely why.
 */
#ifndef TOKEND_JWS_H
#define TOKEND_JWS_H

#include <stddef.h>
#include <stdint.h>

#include "identity/jose.h"

struct issuer;
struct jwk;

#define JWS_MAX_BYTES	8192	/* longest assertion accepted */
#define JWT_MAX_SUB	255	/* longest identity (sub, email), bytes */

/*
 * Every algorithm of RFC 7518 section 3 that signs, and EdDSA (RFC 8037)
 * with Ed25519.  The order is the bit order of struct issuer's algorithms.
 */
enum jws_alg {
	JWS_ALG_RS256,
	JWS_ALG_ES256,
	JWS_ALG_EDDSA,
	JWS_ALG_RS384,
	JWS_ALG_RS512,
	JWS_ALG_PS256,
	JWS_ALG_PS384,
	JWS_ALG_PS512,
	JWS_ALG_ES384,
	JWS_ALG_ES512,
	JWS_ALG_HS256,
	JWS_ALG_HS384,
	JWS_ALG_HS512,
	JWS_ALG_COUNT
};
#define JWS_ALG_BIT(a)	(1u << (a))
#define JWS_ALGS_HMAC	(JWS_ALG_BIT(JWS_ALG_HS256) | \
			 JWS_ALG_BIT(JWS_ALG_HS384) | \
			 JWS_ALG_BIT(JWS_ALG_HS512))

/* "RS256" ... ; jws_alg_parse returns -1 for an unknown name. */
const char	*jws_alg_name(enum jws_alg);
int		 jws_alg_parse(const char *name, enum jws_alg *out);
/* Bytes of the alg's hash (32, 48, 64); for EdDSA 0. */
size_t		 jws_alg_hash_len(enum jws_alg);
/* The enum jwk_kty of the only keys alg is verified with; -1 for HS*. */
int		 jws_alg_kty(enum jws_alg);

struct jwt_identity {
	const struct issuer	*issuer;	/* the issuer that signed it */
	/* The identity: "sub", or "email" with identity_claim = email. */
	char			 ident[JWT_MAX_SUB + 1];
	int64_t			 exp;
};

/*
 * Verifies the compact JWS in token[0..len) against the issuers array at
 * time now (unix seconds).  On JOSE_OK fills *id.  On any other code only
 * id->issuer is meaningful: the issuer the token named, or NULL if it was
 * refused before one was found (the caller uses it to refresh that
 * issuer's keys on JOSE_ERR_KID_UNKNOWN / JOSE_ERR_NO_KEYS).
 *
 * Never allocates anything the caller must free.  Not reentrant for one
 * key set: each key keeps ready verification contexts that are reused,
 * which is right for a worker (one thread) and wrong for threads sharing
 * a config.
 */
enum jose_err	 jwt_verify(const struct issuer *issuers, size_t nissuers,
		    const char *token, size_t len, int64_t now,
		    struct jwt_identity *id);

/*
 * jwt_verify() for the one issuer is, whatever its type, its audience
 * checked only if it has one: fxa.c's fast path for FxA's JWT access
 * tokens, whose own claims (scope, fxa-generation) and header (typ) only
 * it reads.  On JOSE_OK *hdr and *claims are the parsed header and
 * claims, owned by the caller (json_decref); otherwise NULL.
 */
enum jose_err	 jwt_verify_one(const struct issuer *is, const char *token,
		    size_t len, int64_t now, struct jwt_identity *id,
		    json_t **hdr, json_t **claims);

/*
 * The signature step of jwt_verify() alone: checks that key fits alg and
 * that sig[0..siglen) (as decoded from the token, raw r||s for ES*) signs
 * input[0..inputlen).  Returns JOSE_OK, KEY_MISMATCH, CURVE_MISMATCH,
 * JWK_ALG_MISMATCH, SIG_LENGTH, SIGNATURE or INTERNAL.  Exposed for
 * known-answer tests whose payloads are not JWT claims (RFC 7515 A.4,
 * RFC 8037 A.4), which jwt_verify() refuses before the signature.
 */
enum jose_err	 jws_verify_sig(const struct jwk *key, enum jws_alg alg,
		    const void *input, size_t inputlen, const unsigned char *sig,
		    size_t siglen);

/* The same for HS256/384/512 with the shared secret key[0..keylen). */
enum jose_err	 jws_verify_hmac(const void *key, size_t keylen,
		    enum jws_alg alg, const void *input, size_t inputlen,
		    const unsigned char *sig, size_t siglen);

/*
 * Called by jwks.c for each key it parses: makes the key's verification
 * contexts, one per algorithm that may use it, so that no request pays
 * for them.  Returns 0, or -1 if OpenSSL refuses.
 */
int		 jws_key_prepare(struct jwk *key);
/* Frees what jws_key_prepare made; jwks_free calls it. */
void		 jws_key_release(struct jwk *key);

#endif
