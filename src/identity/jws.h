/*
 * jws.h - JWS compact serialization (RFC 7515) and JWT (RFC 7519) checks.
 *
 * jwt_verify() is the whole of "is this assertion good": it splits and
 * decodes the three parts, picks the issuer by the (still untrusted) "iss"
 * claim, checks the algorithm against that issuer's allowed list and the
 * key's type, verifies the signature with the issuer's keys (or, for HS*,
 * its shared secret), and only then trusts the claims (exp, nbf, iat with
 * leeway; aud; the issuer's required claims; the identity claim).  Each way
 * to fail has its own code so the client is told precisely why.
 */
#ifndef TOKEND_JWS_H
#define TOKEND_JWS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct issuer;
struct jwk;

#define JWS_MAX_BYTES	8192	/* longest assertion accepted */
#define JWS_MAX_HEADER	4096	/* longest decoded header accepted */
#define JWS_MAX_DEPTH	20	/* deepest nesting of JSON arrays/objects */
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

enum jws_err {
	JWS_OK = 0,
	JWS_ERR_TOO_LARGE,	/* assertion longer than JWS_MAX_BYTES */
	JWS_ERR_MALFORMED,	/* not three dot-separated parts */
	JWS_ERR_BASE64,		/* a part is not strict unpadded base64url */
	JWS_ERR_HEADER_TOO_LARGE, /* decoded header over JWS_MAX_HEADER */
	JWS_ERR_HEADER,		/* header is not valid JSON */
	JWS_ERR_HEADER_NOT_OBJECT, /* header is JSON but not an object */
	JWS_ERR_PAYLOAD,	/* payload is not valid JSON */
	JWS_ERR_PAYLOAD_NOT_OBJECT, /* payload is JSON but not an object */
	JWS_ERR_DUPLICATE_MEMBER, /* a member twice in header or payload */
	JWS_ERR_JSON_DEPTH,	/* nested deeper than JWS_MAX_DEPTH */
	JWS_ERR_NUMBER_RANGE,	/* integer beyond int64_t, real beyond double */
	JWS_ERR_ALG_MISSING,	/* no "alg" string in the header */
	JWS_ERR_ALG_NONE,	/* "none" */
	JWS_ERR_ALG_UNSUPPORTED, /* an alg name we do not know */
	JWS_ERR_CRIT,		/* any "crit" header (we understand none) */
	JWS_ERR_KID_TYPE,	/* "kid" present but not a string */
	JWS_ERR_ISS_MISSING,	/* no "iss" string claim */
	JWS_ERR_ISS_UNKNOWN,	/* no configured issuer has that "iss" */
	JWS_ERR_HS_NO_SECRET,	/* HS* for an issuer without a shared secret */
	JWS_ERR_ALG_DISALLOWED,	/* alg not in the issuer's algorithms */
	JWS_ERR_NO_KEYS,	/* the issuer has no key set (yet) */
	JWS_ERR_KID_UNKNOWN,	/* "kid" names no key of the issuer */
	JWS_ERR_KEYS_REFRESHING, /* ... and a fetch of its keys still runs */
	JWS_ERR_KID_REQUIRED,	/* no "kid" and more than one usable key */
	JWS_ERR_NO_FITTING_KEY,	/* no "kid", and no key fits the alg */
	JWS_ERR_KEY_MISMATCH,	/* key type does not fit alg (RSA for ES256) */
	JWS_ERR_CURVE_MISMATCH,	/* EC key on another curve than alg's */
	JWS_ERR_JWK_ALG_MISMATCH, /* the JWK's own "alg" names another alg */
	JWS_ERR_SIG_LENGTH,	/* signature of the wrong size for alg */
	JWS_ERR_SIGNATURE,	/* signature does not verify */
	JWS_ERR_CLAIM_TYPE,	/* exp/nbf/iat not an integer */
	JWS_ERR_EXP_MISSING,	/* no "exp" */
	JWS_ERR_EXPIRED,	/* exp + leeway <= now */
	JWS_ERR_NOT_YET_VALID,	/* nbf - leeway > now */
	JWS_ERR_IAT_FUTURE,	/* iat - leeway > now */
	JWS_ERR_AUD_TYPE,	/* aud neither a string nor strings */
	JWS_ERR_AUDIENCE,	/* aud missing or does not name our audience */
	JWS_ERR_CLAIM_REQUIRED,	/* an issuer's "require" claim missing/other */
	JWS_ERR_SUB_MISSING,	/* no "sub" string, empty, or too long */
	JWS_ERR_EMAIL_MISSING,	/* identity_claim email: none, or no address */
	JWS_ERR_SERVICE_NOT_ALLOWED, /* issuer not allowed for the service */
	JWS_ERR_INTERNAL,	/* OpenSSL or allocation failure */
	JWS_ERR_COUNT
};

/* A fixed, human-readable sentence for each code. */
const char	*jws_strerror(enum jws_err);

struct jwt_identity {
	const struct issuer	*issuer;	/* the issuer that signed it */
	/* The identity: "sub", or "email" with identity_claim = email. */
	char			 ident[JWT_MAX_SUB + 1];
	int64_t			 exp;
};

/*
 * Verifies the compact JWS in token[0..len) against the issuers array at
 * time now (unix seconds).  On JWS_OK fills *id.  On any other code only
 * id->issuer is meaningful: the issuer the token named, or NULL if it was
 * refused before one was found (the caller uses it to refresh that
 * issuer's keys on JWS_ERR_KID_UNKNOWN / JWS_ERR_NO_KEYS).
 *
 * Never allocates anything the caller must free.  Not reentrant for one
 * key set: each key keeps ready verification contexts that are reused,
 * which is right for a worker (one thread) and wrong for threads sharing
 * a config.
 */
enum jws_err	 jwt_verify(const struct issuer *issuers, size_t nissuers,
		    const char *token, size_t len, int64_t now,
		    struct jwt_identity *id);

/*
 * The signature step of jwt_verify() alone: checks that key fits alg and
 * that sig[0..siglen) (as decoded from the token, raw r||s for ES*) signs
 * input[0..inputlen).  Returns JWS_OK, KEY_MISMATCH, CURVE_MISMATCH,
 * JWK_ALG_MISMATCH, SIG_LENGTH, SIGNATURE or INTERNAL.  Exposed for
 * known-answer tests whose payloads are not JWT claims (RFC 7515 A.4,
 * RFC 8037 A.4), which jwt_verify() refuses before the signature.
 */
enum jws_err	 jws_verify_sig(const struct jwk *key, enum jws_alg alg,
		    const void *input, size_t inputlen, const unsigned char *sig,
		    size_t siglen);

/* The same for HS256/384/512 with the shared secret key[0..keylen). */
enum jws_err	 jws_verify_hmac(const void *key, size_t keylen,
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

/*
 * A raw r || s signature (coord bytes each) as DER, the form OpenSSL
 * verifies for ECDSA and DSA alike; 0 or -1.  Used by browserid.c too.
 */
#define JWS_RS_DER_MAX	160	/* two 67-byte INTEGERs (P-521) take 141 */
int	jws_rs_to_der(const uint8_t *sig, size_t coord,
	    uint8_t der[JWS_RS_DER_MAX], size_t *derlen);

/* Claim helpers shared with browserid.c (JOSE-style JSON either way). */
/* Whether the JSON string v equals want, by length and bytes. */
int	jws_json_str_eq(json_t *v, const char *want);
/* a + b clamped to the int64_t range, so no claim value can overflow. */
int64_t	jws_sat_add(int64_t a, int64_t b);
/*
 * The one rule for an email that becomes a uid subject, on either path:
 * the domain (everything after the first '@') folded to lower case in
 * place, ASCII only, and the local part left as given.  RFC 5321 2.4:
 * domain names are case-insensitive; a local part's case is the mailbox
 * host's business, so Bob@ and bob@ may be two people.
 */
void	jws_email_fold(char *email);

#endif
