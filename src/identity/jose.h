/*
 * jose.h - the one reader of JOSE compact serializations (RFC 7515) for
 * both kinds of identity assertion: JWTs (jws.c) and BrowserID
 * certificates and assertions (browserid.c), which are JWS-like tokens too.
 *
 * It splits a token into its three parts, decodes each as strict unpadded
 * base64url, parses header and payload as bounded JSON (a header byte cap,
 * a nesting limit, a member cap, duplicate members refused, numbers out of
 * range refused), and reads the claims both formats share: exp, nbf and iat
 * against a clock with leeway, in the unit of the format (JWT seconds,
 * BrowserID milliseconds), and aud.  jws.c and browserid.c keep what
 * differs: algorithms, keys, certificate rules, the identity.  Having one
 * copy is the point: the two copies this replaced had drifted, and the
 * BrowserID one had none of these bounds.
 *
 * Every way an assertion of either kind is refused is one code of enum
 * jose_err, and one table gives each its sentence for the client and its
 * class (which protocol error the worker answers with).  It is also the
 * entry point for fuzzing both verifiers' parsing.
 */
#ifndef TOKEND_JOSE_H
#define TOKEND_JOSE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#define JOSE_MAX_HEADER	4096	/* longest decoded header accepted */
#define JOSE_MAX_DEPTH	20	/* deepest nesting of JSON arrays/objects */
/*
 * Most members in all of a header's or payload's objects: jansson's hash
 * seed is shared by every tokend process for the daemon's life, so no
 * attacker-chosen table is ever built (docs/security.md, Hash flooding).
 */
#define JOSE_MAX_MEMBERS	64
#define JOSE_MAX_EMAIL	254	/* RFC 5321 path limit less the brackets */

enum jose_err {
	JOSE_OK = 0,
	/* The compact serialization and its JSON (jose.c, both kinds). */
	JOSE_ERR_TOO_LARGE,	/* assertion over its kind's byte limit */
	JOSE_ERR_MALFORMED,	/* not three dot-separated parts */
	JOSE_ERR_BASE64,	/* a part is not strict unpadded base64url */
	JOSE_ERR_HEADER_TOO_LARGE, /* decoded header over JOSE_MAX_HEADER */
	JOSE_ERR_HEADER,	/* header is not valid JSON */
	JOSE_ERR_HEADER_NOT_OBJECT, /* header is JSON but not an object */
	JOSE_ERR_PAYLOAD,	/* payload is not valid JSON */
	JOSE_ERR_PAYLOAD_NOT_OBJECT, /* payload is JSON but not an object */
	JOSE_ERR_DUPLICATE_MEMBER, /* a member twice in header or payload */
	JOSE_ERR_JSON_DEPTH,	/* nested deeper than JOSE_MAX_DEPTH */
	JOSE_ERR_JSON_MEMBERS,	/* more than JOSE_MAX_MEMBERS members */
	JOSE_ERR_NUMBER_RANGE,	/* integer beyond int64_t, real beyond double */
	JOSE_ERR_ALG_MISSING,	/* no "alg" string in the header */
	JOSE_ERR_ALG_UNSUPPORTED, /* an alg name the kind does not know */
	/* The claims both kinds share (jose.c). */
	JOSE_ERR_CLAIM_TYPE,	/* exp/nbf/iat not an integer */
	JOSE_ERR_EXP_MISSING,	/* no "exp" */
	JOSE_ERR_EXPIRED,	/* exp + leeway <= now */
	JOSE_ERR_NOT_YET_VALID,	/* nbf - leeway > now */
	JOSE_ERR_IAT_FUTURE,	/* iat - leeway > now */
	JOSE_ERR_AUD_TYPE,	/* aud of a type the kind does not take */
	JOSE_ERR_AUDIENCE,	/* aud missing or does not name our audience */
	/* Both kinds, each in its own module. */
	JOSE_ERR_ISS_UNKNOWN,	/* no configured issuer has that "iss" */
	JOSE_ERR_KEY_MISMATCH,	/* key type does not fit alg (RSA for ES256) */
	JOSE_ERR_SIG_LENGTH,	/* signature of the wrong size for alg */
	JOSE_ERR_SERVICE_NOT_ALLOWED, /* issuer not allowed for the service */
	JOSE_ERR_INTERNAL,	/* OpenSSL or allocation failure */
	/* JWT only (jws.c). */
	JOSE_ERR_ALG_NONE,	/* "none" */
	JOSE_ERR_CRIT,		/* any "crit" header (we understand none) */
	JOSE_ERR_KID_TYPE,	/* "kid" present but not a string */
	JOSE_ERR_ISS_MISSING,	/* no "iss" string claim */
	JOSE_ERR_HS_NO_SECRET,	/* HS* for an issuer without a shared secret */
	JOSE_ERR_ALG_DISALLOWED, /* alg not in the issuer's algorithms */
	JOSE_ERR_NO_KEYS,	/* the issuer has no key set (yet) */
	JOSE_ERR_KID_UNKNOWN,	/* "kid" names no key of the issuer */
	JOSE_ERR_KEYS_REFRESHING, /* ... and a fetch of its keys still runs */
	JOSE_ERR_KID_REQUIRED,	/* no "kid" and more than one usable key */
	JOSE_ERR_NO_FITTING_KEY, /* no "kid", and no key fits the alg */
	JOSE_ERR_CURVE_MISMATCH, /* EC key on another curve than alg's */
	JOSE_ERR_JWK_ALG_MISMATCH, /* the JWK's own "alg" names another alg */
	JOSE_ERR_SIGNATURE,	/* signature does not verify */
	JOSE_ERR_CLAIM_REQUIRED, /* an issuer's "require" claim missing/other */
	JOSE_ERR_SUB_MISSING,	/* no "sub" string, empty, or too long */
	JOSE_ERR_EMAIL_MISSING,	/* identity_claim email: none, or no address */
	/* BrowserID only (browserid.c). */
	JOSE_ERR_NOT_BACKED,	/* not certificate~assertion, or a part empty */
	JOSE_ERR_CERT_CHAIN,	/* more than one certificate */
	JOSE_ERR_CERT_CLAIMS,	/* certificate lacks iss, exp or public-key */
	JOSE_ERR_PRINCIPAL,	/* no valid principal.email */
	JOSE_ERR_ISSUER_DOMAIN,	/* issuer may not vouch for the domain */
	JOSE_ERR_KEY_TOO_SMALL,	/* certified key under 1024 bits */
	JOSE_ERR_CERT_SIGNATURE, /* the certificate does not verify */
	JOSE_ERR_CERT_EXPIRED,	/* certificate exp + leeway <= now */
	JOSE_ERR_CERT_NOT_YET_VALID, /* certificate iat - leeway > now */
	JOSE_ERR_CERT_KEY,	/* certified key invalid */
	JOSE_ERR_ASSERTION_SIGNATURE, /* the assertion does not verify */
	JOSE_ERR_ASSERTION_EXP_MISSING, /* the assertion has no exp */
	JOSE_ERR_ASSERTION_EXPIRED, /* assertion exp + leeway <= now */
	JOSE_ERR_ASSERTION_IAT_FUTURE, /* assertion iat - leeway > now */
	JOSE_ERR_COUNT
};

/* Which protocol error a refusal is (mint.c names them for the wire). */
enum jose_class {
	JOSE_CLASS_CREDENTIALS,	/* the assertion is bad */
	JOSE_CLASS_TIMESTAMP,	/* ... by its times: the client's clock? */
	JOSE_CLASS_INTERNAL,	/* our failure, not the client's */
};

/*
 * A human-readable sentence for each code, never NULL, never freed.  Each
 * is fixed but AUDIENCE's, which names the audience that the calling
 * thread's last jose_check_aud() refusal required.
 */
const char	*jose_strerror(enum jose_err);
enum jose_class	 jose_err_class(enum jose_err);

/*
 * The caller's memory that decoded parts go to: decoded bytes never
 * outnumber the characters they came from, so a buffer as large as the
 * longest accepted assertion holds all of its parts (BrowserID's two
 * tokens share one).
 */
struct jose_buf {
	uint8_t		*p;
	size_t		 size;
	size_t		 used;
};

/* One compact JWS, split and decoded; the parts point into a jose_buf. */
struct jose_jws {
	const char	*input;	/* header "." payload, as received: signed */
	size_t		 inputlen;
	const uint8_t	*hdr, *pay, *sig;
	size_t		 hdrlen, paylen, siglen;
};

/*
 * Splits tok[0..len) into header.payload.signature and decodes each part
 * into buf.  An empty part is malformed, so an unsigned token ("x.y.")
 * fails here whatever its header says.  JOSE_OK, MALFORMED, BASE64 (also
 * when buf is full) or HEADER_TOO_LARGE.
 */
enum jose_err	 jose_split(struct jose_buf *buf, const char *tok, size_t len,
		    struct jose_jws *out);

/*
 * The header as a JSON object in *hdr (owned by the caller), and its "alg"
 * in *alg[0..*alglen) (valid while *hdr is).  On any code but JOSE_OK,
 * *hdr is NULL: HEADER, HEADER_NOT_OBJECT, DUPLICATE_MEMBER, JSON_DEPTH,
 * JSON_MEMBERS, NUMBER_RANGE, ALG_MISSING or INTERNAL.
 */
enum jose_err	 jose_header(const struct jose_jws *, json_t **hdr,
		    const char **alg, size_t *alglen);

/*
 * The payload as a JSON object in *claims (owned by the caller; NULL on
 * failure): PAYLOAD, PAYLOAD_NOT_OBJECT, DUPLICATE_MEMBER, JSON_DEPTH,
 * JSON_MEMBERS, NUMBER_RANGE or INTERNAL.
 */
enum jose_err	 jose_payload(const struct jose_jws *, json_t **claims);

/* What times are read against. */
#define JOSE_SECONDS		1	/* JWT: NumericDate, seconds */
#define JOSE_MILLISECONDS	1000	/* BrowserID: milliseconds */
struct jose_clock {
	int64_t		 now;		/* in unit */
	int64_t		 leeway;	/* seconds, as configured */
	int64_t		 unit;		/* JOSE_SECONDS or JOSE_MILLISECONDS */
};

/*
 * The codes a kind of document reports for its times, so that a client is
 * told which of a BrowserID certificate and assertion expired.  nbf is
 * read only where not_yet_valid is not JOSE_OK (BrowserID has no nbf).
 */
struct jose_times {
	enum jose_err	 missing;	/* no "exp" */
	enum jose_err	 expired;
	enum jose_err	 not_yet_valid;	/* "nbf" */
	enum jose_err	 issued_future;	/* "iat" */
};

/*
 * exp (required), nbf and iat (optional) of claims against clock, the
 * claims' value of exp in *exp.  Each must be a JSON integer: a real, even
 * one with no fraction, is CLAIM_TYPE (an integer beyond int64_t never
 * parsed: NUMBER_RANGE).  Else JOSE_OK or a code of times.
 */
enum jose_err	 jose_check_times(json_t *claims, const struct jose_clock *,
		    const struct jose_times *times, int64_t *exp);

/*
 * "aud" names audience: one string equal to it or, where arrays is set
 * (RFC 7519 4.1.3), an array of strings holding it.  AUDIENCE if it is
 * missing or names others (then jose_strerror() names audience), AUD_TYPE
 * if it is of another type.
 */
enum jose_err	 jose_check_aud(json_t *claims, const char *audience,
		    int arrays);

/* Whether the JSON string v equals want, by length and bytes. */
int		 jose_str_eq(json_t *v, const char *want);

/*
 * The one rule for an email that becomes a uid subject, on either path:
 * the domain (everything after the first '@') folded to lower case in
 * place, ASCII only, and the local part left as given.  RFC 5321 2.4:
 * domain names are case-insensitive; a local part's case is the mailbox
 * host's business, so Bob@ and bob@ may be two people.
 */
void		 jose_email_fold(char *email);

/*
 * A raw r || s signature (coord bytes each), the form JWS carries ECDSA
 * and BrowserID DSA signatures in, as DER, the form OpenSSL verifies for
 * both; 0 or -1.
 */
#define JOSE_RS_DER_MAX	160	/* two 67-byte INTEGERs (P-521) take 141 */
int		 jose_rs_to_der(const uint8_t *sig, size_t coord,
		    uint8_t der[JOSE_RS_DER_MAX], size_t *derlen);

/*
 * One verification of sig over tbs with pkey and digest md (NULL for
 * Ed25519, which signs the message itself), on a context made for the
 * call.  A verify call that fails is the token's fault (SIGNATURE); only
 * a failure to set up is INTERNAL.  OpenSSL's error queue is left empty.
 */
enum jose_err	 jose_digest_verify(EVP_PKEY *pkey, const EVP_MD *md,
		    const uint8_t *sig, size_t siglen, const void *tbs,
		    size_t tbslen);

/* A public key of OpenSSL type ("RSA", "EC", ...) from params, or NULL. */
EVP_PKEY	*jose_pkey_fromdata(const char *type, OSSL_PARAM *params);

/*
 * The whole of a key file (a JWKS, a BrowserID public key) of at most max
 * bytes, NUL-terminated, in memory the caller frees, its length in *len;
 * or NULL with "PATH: why" in err.  Only a regular file, opened without
 * blocking: a FIFO put where a key should be would otherwise hang the
 * config load (or a worker's reload) until someone writes to it.
 */
char		*jose_read_file(const char *path, size_t max, size_t *len,
		    char *err, size_t errlen);

/*
 * A message for whoever loads a key (jwks.c, browserid.c): formatted
 * into err[0..errlen), nothing if err is NULL or errlen 0.
 */
void		 jose_seterr(char *err, size_t errlen, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));

#endif
