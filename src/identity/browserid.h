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
 * way to fail has its own code and sentence (enum jose_err, shared with
 * JWTs).
 */
#ifndef TOKEND_BROWSERID_H
#define TOKEND_BROWSERID_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "identity/jose.h"

struct browserid_issuer;

#define BROWSERID_MAX_BYTES	16384	/* longest backed assertion accepted */
#define BROWSERID_MAX_EMAIL	JOSE_MAX_EMAIL
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

struct browserid_identity {
	const struct browserid_issuer	*issuer; /* whose root key vouched */
	/* The principal's email, its domain in lower case (jose_email_fold). */
	char				 email[BROWSERID_MAX_EMAIL + 1];
	int64_t				 exp_ms; /* the assertion's exp */
};

/*
 * Verifies the backed assertion in assertion[0..len) against the
 * [browserid] sections issuers[0..nissuers) at now_ms (unix milliseconds).
 * On JOSE_OK fills *out; on any other code *out is unspecified.  Never
 * allocates anything the caller must free; safe to call concurrently.
 */
enum jose_err	 browserid_verify(const struct browserid_issuer *issuers,
		    size_t nissuers, const char *assertion, size_t len,
		    int64_t now_ms, struct browserid_identity *out);

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
 * Returns JOSE_OK, KEY_MISMATCH, SIG_LENGTH, ASSERTION_SIGNATURE (a
 * signature that does not verify) or INTERNAL.  Exposed for known-answer
 * tests of published assertions whose certificates we cannot verify.
 */
enum jose_err	 browserid_verify_sig(const struct browserid_key *key,
		    enum browserid_alg alg, const void *input, size_t inputlen,
		    const unsigned char *sig, size_t siglen);

#endif
