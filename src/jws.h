/*
 * jws.h - JWS compact serialization (RFC 7515) and JWT (RFC 7519) checks.
 *
 * jwt_verify() is the whole of "is this assertion good": it splits and
 * decodes the three parts, picks the issuer by the (still untrusted) "iss"
 * claim, checks the algorithm against that issuer's allowed list and the
 * key's type, verifies the signature with the issuer's keys, and only then
 * trusts the claims (exp, nbf, iat with leeway; aud; sub).  Each way to fail
 * has its own code so the client is told precisely why.
 */
#ifndef TOKEND_JWS_H
#define TOKEND_JWS_H

#include <stddef.h>
#include <stdint.h>

struct issuer;
struct jwk;

#define JWS_MAX_BYTES	8192	/* longest assertion accepted */
#define JWT_MAX_SUB	255	/* longest "sub" accepted, bytes */

enum jws_alg {
	JWS_ALG_RS256,
	JWS_ALG_ES256,
	JWS_ALG_EDDSA,
	JWS_ALG_COUNT
};
#define JWS_ALG_BIT(a)	(1u << (a))

/* "RS256" ... ; jws_alg_parse returns -1 for an unknown name. */
const char	*jws_alg_name(enum jws_alg);
int		 jws_alg_parse(const char *name, enum jws_alg *out);

enum jws_err {
	JWS_OK = 0,
	JWS_ERR_TOO_LARGE,	/* assertion longer than JWS_MAX_BYTES */
	JWS_ERR_MALFORMED,	/* not three dot-separated parts */
	JWS_ERR_BASE64,		/* a part is not strict unpadded base64url */
	JWS_ERR_HEADER,		/* header not a JSON object / dup keys */
	JWS_ERR_PAYLOAD,	/* payload not a JSON object / dup keys */
	JWS_ERR_ALG_MISSING,	/* no "alg" string in the header */
	JWS_ERR_ALG_NONE,	/* "none" */
	JWS_ERR_ALG_UNSUPPORTED, /* HS256 and anything we do not verify */
	JWS_ERR_CRIT,		/* any "crit" header (we understand none) */
	JWS_ERR_ISS_MISSING,	/* no "iss" string claim */
	JWS_ERR_ISS_UNKNOWN,	/* no configured issuer has that "iss" */
	JWS_ERR_ALG_DISALLOWED,	/* alg not in the issuer's algorithms */
	JWS_ERR_KID_UNKNOWN,	/* "kid" names no key of the issuer */
	JWS_ERR_KID_REQUIRED,	/* no "kid" and more than one usable key */
	JWS_ERR_KEY_MISMATCH,	/* key type (or JWK "alg") does not fit alg */
	JWS_ERR_SIG_LENGTH,	/* signature of the wrong size for alg */
	JWS_ERR_SIGNATURE,	/* signature does not verify */
	JWS_ERR_CLAIM_TYPE,	/* exp/nbf/iat not an integer, aud not a string */
	JWS_ERR_EXP_MISSING,	/* no "exp" */
	JWS_ERR_EXPIRED,	/* exp + leeway <= now */
	JWS_ERR_NOT_YET_VALID,	/* nbf - leeway > now */
	JWS_ERR_IAT_FUTURE,	/* iat - leeway > now */
	JWS_ERR_AUDIENCE,	/* aud missing or does not name our audience */
	JWS_ERR_SUB_MISSING,	/* no "sub" string, empty, or too long */
	JWS_ERR_INTERNAL,	/* OpenSSL or allocation failure */
	JWS_ERR_COUNT
};

/* A fixed, human-readable sentence for each code. */
const char	*jws_strerror(enum jws_err);

struct jwt_identity {
	const struct issuer	*issuer;	/* the issuer that signed it */
	char			 sub[JWT_MAX_SUB + 1];
	int64_t			 exp;
};

/*
 * Verifies the compact JWS in token[0..len) against the issuers array at
 * time now (unix seconds).  On JWS_OK fills *id; on any other code *id is
 * unspecified.  Never allocates anything the caller must free.
 */
enum jws_err	 jwt_verify(const struct issuer *issuers, size_t nissuers,
		    const char *token, size_t len, int64_t now,
		    struct jwt_identity *id);

/*
 * The signature step of jwt_verify() alone: checks that key fits alg and
 * that sig[0..siglen) (as decoded from the token, raw r||s for ES256) signs
 * input[0..inputlen).  Returns JWS_OK, KEY_MISMATCH, SIG_LENGTH, SIGNATURE
 * or INTERNAL.  Exposed for known-answer tests whose payloads are not JWT
 * claims (RFC 8037 A.4), which jwt_verify() refuses before the signature.
 */
enum jws_err	 jws_verify_sig(const struct jwk *key, enum jws_alg alg,
		    const void *input, size_t inputlen, const unsigned char *sig,
		    size_t siglen);

#endif
