/*
 * browserid.h - BrowserID backed identity assertions, the credential of
 * Mozilla's original TokenServer: "certificate~assertion".
 *
 * Each part is a JWS-like token (compact serialization, header {"alg":..})
 * signed with RS256/RS128/RS64 (RSA PKCS #1 v1.5, always SHA-256) or
 * DS128/DS256 (DSA with SHA-1 / SHA-256, signature r || s of 20 / 32 bytes
 * each).  The certificate, signed by a configured issuer's root key, names
 * the user's email ("principal") and public key, and that key signs the
 * assertion ({"exp": ms, "aud": ...}).  Timestamps are milliseconds.
 *
 * The format allows a chain (cert~cert~...~assertion, each certificate
 * signed by the key the one before certifies), but a chain is refused:
 * a later certificate speaks for whoever holds a certified key, any user
 * of the issuer, and nothing limits whom it may vouch for.  Mozilla's
 * Persona verifier refused chains for that reason.
 *
 * browserid_verify() is the whole of "is this backed assertion good"; each
 * way to fail has its own code and sentence, as in jws.h.
 */
#ifndef TOKEND_BROWSERID_H
#define TOKEND_BROWSERID_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

struct config;
struct browserid_issuer;

#define BROWSERID_MAX_BYTES	16384	/* longest backed assertion accepted */
#define BROWSERID_MAX_EMAIL	254	/* RFC 5321 path limit less <> */
#define BROWSERID_KEY_MAX_FILE	65536	/* public_key_file size bound */

/*
 * Key sizes are counted in whole bytes of the RSA modulus or DSA prime:
 * generators of the BrowserID era (jwcrypto) made "2048-bit" moduli of 2047
 * bits, the spec's own example key among them.  The key that signs
 * certificates (an issuer's root key, checked once at load) must be of the
 * 2048-bit class; the certified key, which only signs the assertion, may
 * be of the 1024-bit class, which DS128 user keys are.
 */
#define BROWSERID_SIGNER_MIN_BYTES	256
#define BROWSERID_USER_MIN_BYTES	128
#define BROWSERID_RSA_MAX_BYTES		1024	/* 8192 bits */
#define BROWSERID_DSA_MAX_BYTES		512	/* 4096 bits */

enum browserid_alg {
	BROWSERID_ALG_RS256,
	BROWSERID_ALG_RS128,
	BROWSERID_ALG_RS64,
	BROWSERID_ALG_DS256,
	BROWSERID_ALG_DS128,
	BROWSERID_ALG_COUNT
};

/* "RS256" ... ; browserid_alg_parse returns -1 for an unknown name. */
const char	*browserid_alg_name(enum browserid_alg);
int		 browserid_alg_parse(const char *name, enum browserid_alg *out);

enum browserid_kty {
	BROWSERID_KTY_RS,	/* {"algorithm":"RS","n":decimal,"e":decimal} */
	BROWSERID_KTY_DS,	/* {"algorithm":"DS","p","q","g","y": hex} */
};

/* A BrowserID public key, ready to verify with. */
struct browserid_key {
	enum browserid_kty	 kty;
	EVP_PKEY		*pkey;	/* owned */
	int			 bytes;	/* RSA modulus / DSA p, in bytes */
	int			 qbytes; /* DSA q in bytes (20 or 32); 0 for RSA */
};

enum browserid_err {
	BROWSERID_OK = 0,
	BROWSERID_ERR_TOO_LARGE,	/* longer than BROWSERID_MAX_BYTES */
	BROWSERID_ERR_MALFORMED,	/* not cert~assertion, or a part empty */
	BROWSERID_ERR_CERT_CHAIN,	/* more than one certificate */
	BROWSERID_ERR_JWS,		/* a part is not three dot-separated */
	BROWSERID_ERR_BASE64,		/* not strict unpadded base64url */
	BROWSERID_ERR_HEADER,		/* header not an object with "alg" */
	BROWSERID_ERR_PAYLOAD,		/* payload not an object / dup keys */
	BROWSERID_ERR_ALG_UNSUPPORTED,	/* alg not one of the five */
	BROWSERID_ERR_CERT_CLAIMS,	/* cert lacks iss, exp or public-key */
	BROWSERID_ERR_ISSUER_UNKNOWN,	/* cert's iss not configured */
	BROWSERID_ERR_EMAIL,		/* no valid principal.email */
	BROWSERID_ERR_ISSUER_DOMAIN,	/* issuer may not vouch for domain */
	BROWSERID_ERR_KEY_MISMATCH,	/* alg does not fit the signing key */
	BROWSERID_ERR_KEY_TOO_SMALL,	/* certified key under 1024 bits */
	BROWSERID_ERR_SIG_LENGTH,	/* signature longer than the key's */
	BROWSERID_ERR_CERT_SIGNATURE,	/* a certificate does not verify */
	BROWSERID_ERR_CLAIM_TYPE,	/* exp/iat not integers, aud no string */
	BROWSERID_ERR_CERT_EXPIRED,	/* cert exp + leeway <= now */
	BROWSERID_ERR_CERT_NOT_YET_VALID, /* cert iat - leeway > now */
	BROWSERID_ERR_CERT_KEY,		/* certified key invalid */
	BROWSERID_ERR_ASSERTION_SIGNATURE, /* assertion does not verify */
	BROWSERID_ERR_ASSERTION_EXP_MISSING, /* assertion has no exp */
	BROWSERID_ERR_ASSERTION_EXPIRED, /* assertion exp + leeway <= now */
	BROWSERID_ERR_ASSERTION_IAT_FUTURE, /* assertion iat - leeway > now */
	BROWSERID_ERR_AUDIENCE,		/* aud missing or not ours */
	BROWSERID_ERR_SERVICE,		/* issuer not allowed for service */
	BROWSERID_ERR_INTERNAL,		/* OpenSSL or allocation failure */
	BROWSERID_ERR_COUNT
};

/* A fixed, human-readable sentence for each code. */
const char	*browserid_strerror(enum browserid_err);

struct browserid_identity {
	const struct browserid_issuer	*issuer; /* whose root key vouched */
	/* The principal's email, its domain in lower case (jws_email_fold). */
	char				 email[BROWSERID_MAX_EMAIL + 1];
	int64_t				 exp_ms; /* the assertion's exp */
};

/*
 * Verifies the backed assertion in assertion[0..len) against the
 * [browserid] sections of cfg at now_ms (unix milliseconds).  On
 * BROWSERID_OK fills *out; on any other code *out is unspecified.  Never
 * allocates anything the caller must free; safe to call concurrently.
 */
enum browserid_err browserid_verify(const struct config *cfg,
		    const char *assertion, size_t len, int64_t now_ms,
		    struct browserid_identity *out);

/* BROWSERID_OK if is may issue for service name[0..len), else _SERVICE. */
enum browserid_err browserid_service_allowed(const struct browserid_issuer *,
		    const char *name, size_t len);

/*
 * A BrowserID public key from JSON text: the key object itself, or a
 * support document (/.well-known/browserid) whose "public-key" holds it.
 * min_bytes is the smallest modulus / prime accepted.  Returns an owned
 * key (browserid_key_free) or NULL with a reason in err.  DSA keys are
 * checked (q of 160 or 256 bits dividing p - 1, g and y of order q), and
 * with check_primes p and q are also tested for primality, which costs
 * too much to do per request but is right for a configured root key.
 */
struct browserid_key *browserid_key_parse(const char *json, size_t len,
		    int min_bytes, int check_primes, char *err, size_t errlen);
/* browserid_key_parse() of a file; err starts with the path. */
struct browserid_key *browserid_key_load(const char *path, char *err,
		    size_t errlen);
void		 browserid_key_free(struct browserid_key *);

/*
 * The signature step alone: checks that key fits alg and that
 * sig[0..siglen) (as decoded from the token) signs input[0..inputlen).
 * Returns BROWSERID_OK, KEY_MISMATCH, SIG_LENGTH, ASSERTION_SIGNATURE (a
 * signature that does not verify) or INTERNAL.  Exposed for known-answer
 * tests of published assertions whose certificates we cannot verify.
 */
enum browserid_err browserid_verify_sig(const struct browserid_key *key,
		    enum browserid_alg alg, const void *input, size_t inputlen,
		    const unsigned char *sig, size_t siglen);

#endif
