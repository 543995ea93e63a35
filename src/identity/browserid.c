/*
 * browserid.c - verifies a BrowserID backed identity assertion,
 * "certificate~assertion", the credential of Mozilla's original
 * TokenServer.  The format is the BrowserID spec's (mozilla/id-specs,
 * browserid/index.md, beta1) as PyBrowserID verifies it
 * (browserid/verifiers/local.py, jwt.py, crypto/); where the two leave room,
 * the choice made here is stated where it is made.
 *
 * The order of the checks is the security argument, so it is fixed here:
 *
 *   1. bound the size; split on '~' into exactly one certificate and the
 *      assertion (a chain of certificates is refused: see browserid.h);
 *      split each into three parts and decode them as strict unpadded
 *      base64url;
 *   2. both headers must name one of the five algorithms; both payloads
 *      must be JSON objects.  Splitting, decoding, the JSON and its bounds
 *      (header size, nesting depth, duplicate members, numbers out of
 *      range) and the time and audience claims are jose.c's, exactly as
 *      for a JWT; what is here is what only BrowserID has;
 *   3. from the still unverified claims, only two things are read: the
 *      certificate's "iss", which picks the [browserid] section and so the
 *      root key, and its principal email, whose domain that issuer must be
 *      allowed to vouch for (its own domain, or any with secondary = on).
 *      Both are cheap and refuse before any public-key work, as PyBrowserID
 *      does (local.py, verify());
 *   4. the certificate is verified with the root key, and only then are
 *      its claims trusted: exp and iat (milliseconds, with leeway), and
 *      the public key it certifies;
 *   5. the assertion, with the certified key; then its exp, iat and aud
 *      (one string, equal to the configured audience).
 *
 * Algorithms (PyBrowserID jwt.py, RS64Key..DS256Key): RS256, RS128 and
 * RS64 are all RSA PKCS #1 v1.5 with SHA-256, the number being a key size
 * class and not a hash; DS128 is DSA with SHA-1 and 20-byte r and s, DS256
 * DSA with SHA-256 and 32-byte r and s, the signature being r || s.  An RS
 * algorithm needs an RS key and a DS one a DS key whose q has the size of
 * its r and s (jwt.py, check_signature: the alg must start with the key's
 * "algorithm").  PyBrowserID restores leading zero bytes that a signer's
 * integer-to-bytes conversion dropped (crypto/m2.py and fallback.py,
 * verify: signature.rjust; fallback.py's own RSA sign uses int2bytes), so a
 * signature shorter than its full length is left-padded with zeros here
 * too; a longer one is refused.
 *
 * Keys that come inside certificates are parsed per request (they are the
 * credential); the configured root keys are parsed once, at load.  A bad
 * assertion is the client's problem, so nothing here logs.
 */
#include "identity/browserid.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/dsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "identity/issuer.h"
#include "identity/jose.h"

#define RSA_N_MAX_DIGITS	2500	/* 8192 bits are 2467 digits */
#define RSA_E_MAX_DIGITS	20	/* 2^64 is 20 digits */
#define RSA_E_MAX_BITS		64
#define DSA_HEX_MAX		(2 * BROWSERID_DSA_MAX_BYTES)
#define DSA_Q_HEX_MAX		64

static const char *const alg_names[BROWSERID_ALG_COUNT] = {
	[BROWSERID_ALG_RS256] = "RS256",
	[BROWSERID_ALG_RS128] = "RS128",
	[BROWSERID_ALG_RS64] = "RS64",
	[BROWSERID_ALG_DS256] = "DS256",
	[BROWSERID_ALG_DS128] = "DS128",
};

/* One decoded JWS: a certificate or the assertion. */
struct part {
	struct jose_jws		 jws;
	enum browserid_alg	 alg;
	json_t			*claims;	/* owned */
};

/* The whole backed assertion. */
struct backed {
	struct part	 cert;
	struct part	 assertion;
	/* Decoded bytes never outnumber the characters they came from. */
	uint8_t		 dec[BROWSERID_MAX_BYTES];
	struct jose_buf	 buf;
};

const char *
browserid_alg_name(enum browserid_alg alg)
{
	if ((unsigned)alg >= BROWSERID_ALG_COUNT)
		return "unknown";
	return alg_names[alg];
}

/* Exact, case-sensitive match on name[0..len). */
static int
alg_lookup(const char *name, size_t len, enum browserid_alg *out)
{
	int	 a;

	for (a = 0; a < BROWSERID_ALG_COUNT; a++)
		if (strlen(alg_names[a]) == len &&
		    memcmp(alg_names[a], name, len) == 0) {
			*out = (enum browserid_alg)a;
			return 0;
		}
	return -1;
}

int
browserid_alg_parse(const char *name, enum browserid_alg *out)
{
	return alg_lookup(name, strlen(name), out);
}

/* ---- keys ------------------------------------------------------------- */

enum key_status {
	KEY_OK,
	KEY_INVALID,	/* not an RS or DS key we accept */
	KEY_SMALL,	/* a valid key under min_bytes */
	KEY_NOMEM,
};

/*
 * A big number from a JSON string of digits: decimal for RSA (the spec:
 * "RSA keys use decimal n ... and e"), hex for DSA.  Only digits: no sign,
 * no "0x", no white space, which BN_*2bn or Python's int() would take.
 */
static enum key_status
bn_member(json_t *obj, const char *name, int hex, size_t maxlen, BIGNUM **bn,
    char *why, size_t whylen)
{
	json_t		*v = json_object_get(obj, name);
	const char	*s;
	size_t		 len, i;
	int		 ok;

	if (!json_is_string(v)) {
		jose_seterr(why, whylen, "\"%s\" is missing or not a string",
		    name);
		return KEY_INVALID;
	}
	s = json_string_value(v);
	len = json_string_length(v);
	if (len == 0 || len > maxlen) {
		jose_seterr(why, whylen, "\"%s\" is empty or longer than %zu "
		    "digits", name, maxlen);
		return KEY_INVALID;
	}
	for (i = 0; i < len; i++) {
		ok = (s[i] >= '0' && s[i] <= '9') || (hex &&
		    ((s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' &&
		    s[i] <= 'F')));
		if (!ok) {
			jose_seterr(why, whylen, "\"%s\" is not a %s number",
			    name, hex ? "hexadecimal" : "decimal");
			return KEY_INVALID;
		}
	}
	if ((hex ? BN_hex2bn(bn, s) : BN_dec2bn(bn, s)) != (int)len) {
		jose_seterr(why, whylen, "out of memory");
		return KEY_NOMEM;
	}
	return KEY_OK;
}

static EVP_PKEY *
pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM	*params;
	EVP_PKEY	*pkey;

	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		return NULL;
	pkey = jose_pkey_fromdata(type, params);
	OSSL_PARAM_free(params);
	return pkey;
}

static enum key_status
size_check(const char *what, int bytes, int min_bytes, int max_bytes,
    char *why, size_t whylen)
{
	if (bytes < min_bytes) {
		jose_seterr(why, whylen, "%s of %d bytes is under %d bytes (%d "
		    "bits)", what, bytes, min_bytes, min_bytes * 8);
		return KEY_SMALL;
	}
	if (bytes > max_bytes) {
		jose_seterr(why, whylen, "%s of %d bytes is over %d bytes",
		    what, bytes, max_bytes);
		return KEY_INVALID;
	}
	return KEY_OK;
}

static enum key_status
rs_key(json_t *obj, int min_bytes, struct browserid_key *key, char *why,
    size_t whylen)
{
	BIGNUM		*n = NULL, *e = NULL;
	OSSL_PARAM_BLD	*bld = NULL;
	enum key_status	 st;

	if ((st = bn_member(obj, "n", 0, RSA_N_MAX_DIGITS, &n, why,
	    whylen)) != KEY_OK ||
	    (st = bn_member(obj, "e", 0, RSA_E_MAX_DIGITS, &e, why,
	    whylen)) != KEY_OK)
		goto done;
	key->bytes = BN_num_bytes(n);
	if ((st = size_check("RSA modulus", key->bytes, min_bytes,
	    BROWSERID_RSA_MAX_BYTES, why, whylen)) != KEY_OK)
		goto done;
	st = KEY_INVALID;
	if (!BN_is_odd(n)) {
		jose_seterr(why, whylen, "RSA modulus \"n\" is even");
		goto done;
	}
	if (!BN_is_odd(e) || BN_num_bits(e) < 2 ||
	    BN_num_bits(e) > RSA_E_MAX_BITS) {
		jose_seterr(why, whylen, "RSA exponent \"e\" is not an odd "
		    "number from 3 to 2^64");
		goto done;
	}
	st = KEY_NOMEM;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
		goto done;
	if ((key->pkey = pkey_fromdata("RSA", bld)) == NULL) {
		jose_seterr(why, whylen, "OpenSSL refused the RSA key");
		st = KEY_INVALID;
		goto done;
	}
	key->kty = BROWSERID_KTY_RS;
	key->qbytes = 0;
	st = KEY_OK;
done:
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return st;
}

/*
 * The group checks a verifier needs so that the key cannot make any
 * signature verify: q of 160 or 256 bits dividing p - 1, and g and y of
 * order q, neither 1 nor p - 1 (g = 1, y = 1 would verify r = 1 for any
 * message).  Two modular exponentiations with a short exponent: cheap
 * enough per request.  Primality is the expensive part, and left to
 * check_primes (the configured root keys).
 */
static enum key_status
ds_group_check(const BIGNUM *p, const BIGNUM *q, const BIGNUM *g,
    const BIGNUM *y, int check_primes, char *why, size_t whylen)
{
	BN_CTX		*ctx;
	BIGNUM		*pm1, *t;
	enum key_status	 st = KEY_NOMEM;

	if ((ctx = BN_CTX_new()) == NULL)
		return KEY_NOMEM;
	BN_CTX_start(ctx);
	pm1 = BN_CTX_get(ctx);
	t = BN_CTX_get(ctx);
	if (t == NULL || BN_copy(pm1, p) == NULL || !BN_sub_word(pm1, 1))
		goto done;
	st = KEY_INVALID;
	if (BN_num_bits(q) != 160 && BN_num_bits(q) != 256) {
		jose_seterr(why, whylen, "DSA \"q\" of %d bits is neither 160 "
		    "nor 256 bits", BN_num_bits(q));
		goto done;
	}
	if (!BN_is_odd(p) || !BN_is_odd(q)) {
		jose_seterr(why, whylen, "DSA \"p\" or \"q\" is even");
		goto done;
	}
	if (!BN_mod(t, pm1, q, ctx) || !BN_is_zero(t)) {
		jose_seterr(why, whylen, "DSA \"q\" does not divide p - 1");
		goto done;
	}
	if (BN_cmp(g, BN_value_one()) <= 0 || BN_cmp(g, pm1) >= 0 ||
	    BN_cmp(y, BN_value_one()) <= 0 || BN_cmp(y, pm1) >= 0) {
		jose_seterr(why, whylen, "DSA \"g\" or \"y\" is not in 2..p-2");
		goto done;
	}
	if (!BN_mod_exp(t, g, q, p, ctx) || !BN_is_one(t) ||
	    !BN_mod_exp(t, y, q, p, ctx) || !BN_is_one(t)) {
		jose_seterr(why, whylen, "DSA \"g\" or \"y\" is not of order "
		    "q");
		goto done;
	}
	if (check_primes && (BN_check_prime(p, ctx, NULL) != 1 ||
	    BN_check_prime(q, ctx, NULL) != 1)) {
		jose_seterr(why, whylen, "DSA \"p\" or \"q\" is not prime");
		goto done;
	}
	st = KEY_OK;
done:
	BN_CTX_end(ctx);
	BN_CTX_free(ctx);
	return st;
}

static enum key_status
ds_key(json_t *obj, int min_bytes, int check_primes, struct browserid_key *key,
    char *why, size_t whylen)
{
	BIGNUM		*p = NULL, *q = NULL, *g = NULL, *y = NULL;
	OSSL_PARAM_BLD	*bld = NULL;
	enum key_status	 st;

	if ((st = bn_member(obj, "p", 1, DSA_HEX_MAX, &p, why,
	    whylen)) != KEY_OK ||
	    (st = bn_member(obj, "q", 1, DSA_Q_HEX_MAX, &q, why,
	    whylen)) != KEY_OK ||
	    (st = bn_member(obj, "g", 1, DSA_HEX_MAX, &g, why,
	    whylen)) != KEY_OK ||
	    (st = bn_member(obj, "y", 1, DSA_HEX_MAX, &y, why,
	    whylen)) != KEY_OK)
		goto done;
	key->bytes = BN_num_bytes(p);
	if ((st = size_check("DSA prime \"p\"", key->bytes, min_bytes,
	    BROWSERID_DSA_MAX_BYTES, why, whylen)) != KEY_OK ||
	    (st = ds_group_check(p, q, g, y, check_primes, why,
	    whylen)) != KEY_OK)
		goto done;
	st = KEY_NOMEM;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_P, p) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_Q, q) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_G, g) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, y) != 1)
		goto done;
	if ((key->pkey = pkey_fromdata("DSA", bld)) == NULL) {
		jose_seterr(why, whylen, "OpenSSL refused the DSA key");
		st = KEY_INVALID;
		goto done;
	}
	key->kty = BROWSERID_KTY_DS;
	key->qbytes = BN_num_bytes(q);
	st = KEY_OK;
done:
	OSSL_PARAM_BLD_free(bld);
	BN_free(p);
	BN_free(q);
	BN_free(g);
	BN_free(y);
	return st;
}

/*
 * Fills *key from a public-key object.  Private members are refused: a
 * certificate carrying one is broken, and a configured key file holding
 * one is a secret in the wrong place.
 */
static enum key_status
key_from_json(json_t *obj, int min_bytes, int check_primes,
    struct browserid_key *key, char *why, size_t whylen)
{
	json_t		*alg;
	enum key_status	 st;

	memset(key, 0, sizeof(*key));
	if (!json_is_object(obj)) {
		jose_seterr(why, whylen, "the public key is not a JSON object");
		return KEY_INVALID;
	}
	if (json_object_get(obj, "d") != NULL ||
	    json_object_get(obj, "x") != NULL) {
		jose_seterr(why, whylen, "the key holds a private member "
		    "(\"d\" or \"x\"); give the public key only");
		return KEY_INVALID;
	}
	alg = json_object_get(obj, "algorithm");
	if (json_is_string(alg) && strcmp(json_string_value(alg), "RS") == 0)
		st = rs_key(obj, min_bytes, key, why, whylen);
	else if (json_is_string(alg) &&
	    strcmp(json_string_value(alg), "DS") == 0)
		st = ds_key(obj, min_bytes, check_primes, key, why, whylen);
	else {
		jose_seterr(why, whylen, "\"algorithm\" is not \"RS\" or "
		    "\"DS\"");
		st = KEY_INVALID;
	}
	ERR_clear_error();
	return st;
}

void
browserid_key_free(struct browserid_key *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->pkey);
	free(key);
}

struct browserid_key *
browserid_key_parse(const char *json, size_t len, int min_bytes,
    int check_primes, char *err, size_t errlen)
{
	struct browserid_key	*key = NULL;
	json_error_t		 jerr;
	json_t			*root, *obj;

	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		jose_seterr(err, errlen, "not JSON: line %d: %s", jerr.line,
		    jerr.text);
		return NULL;
	}
	/* A support document holds the key as "public-key". */
	obj = json_object_get(root, "public-key");
	if (obj == NULL)
		obj = root;
	if ((key = calloc(1, sizeof(*key))) == NULL) {
		jose_seterr(err, errlen, "out of memory");
		goto done;
	}
	if (key_from_json(obj, min_bytes, check_primes, key, err,
	    errlen) != KEY_OK) {
		browserid_key_free(key);
		key = NULL;
	}
done:
	json_decref(root);
	return key;
}

struct browserid_key *
browserid_key_load(const char *path, char *err, size_t errlen)
{
	struct browserid_key	*key;
	char			 why[256];
	char			*buf;
	size_t			 len;

	if ((buf = jose_read_file(path, BROWSERID_KEY_MAX_FILE, &len, err,
	    errlen)) == NULL)
		return NULL;
	if ((key = browserid_key_parse(buf, len, BROWSERID_SIGNER_MIN_BYTES, 1,
	    why, sizeof(why))) == NULL)
		jose_seterr(err, errlen, "%s: %s", path, why);
	free(buf);
	return key;
}

/* ---- signatures ------------------------------------------------------- */

/* The r and s length of a DS algorithm; 0 for the RS ones. */
static size_t
ds_len(enum browserid_alg alg)
{
	switch (alg) {
	case BROWSERID_ALG_DS128:
		return 20;
	case BROWSERID_ALG_DS256:
		return 32;
	default:
		return 0;
	}
}

static int
key_fits(const struct browserid_key *key, enum browserid_alg alg)
{
	size_t	 n = ds_len(alg);

	if (n == 0)
		return key->kty == BROWSERID_KTY_RS;
	return key->kty == BROWSERID_KTY_DS && (size_t)key->qbytes == n;
}

/* A bad signature is the assertion's; check_cert names the certificate's. */
static enum jose_err
digest_verify(EVP_PKEY *pkey, const EVP_MD *md, const uint8_t *sig,
    size_t siglen, const void *tbs, size_t tbslen)
{
	enum jose_err	 rc;

	rc = jose_digest_verify(pkey, md, sig, siglen, tbs, tbslen);
	return rc == JOSE_ERR_SIGNATURE ? JOSE_ERR_ASSERTION_SIGNATURE : rc;
}

enum jose_err
browserid_verify_sig(const struct browserid_key *key, enum browserid_alg alg,
    const void *input, size_t inputlen, const unsigned char *sig,
    size_t siglen)
{
	uint8_t	 full[BROWSERID_RSA_MAX_BYTES], der[JOSE_RS_DER_MAX];
	size_t	 n, want, derlen;

	if ((unsigned)alg >= BROWSERID_ALG_COUNT || !key_fits(key, alg))
		return JOSE_ERR_KEY_MISMATCH;
	n = ds_len(alg);
	want = n == 0 ? (size_t)key->bytes : 2 * n;
	if (siglen == 0 || siglen > want || want > sizeof(full))
		return JOSE_ERR_SIG_LENGTH;
	/* Restore leading zero bytes a signer's bignum encoding dropped. */
	memset(full, 0, want - siglen);
	memcpy(full + want - siglen, sig, siglen);
	if (n == 0)
		return digest_verify(key->pkey, EVP_sha256(), full, want,
		    input, inputlen);
	/* r and s out of range (0 or >= q) fail OpenSSL's verification. */
	if (jose_rs_to_der(full, n, der, &derlen) == -1)
		return JOSE_ERR_INTERNAL;
	return digest_verify(key->pkey, alg == BROWSERID_ALG_DS128 ?
	    EVP_sha1() : EVP_sha256(), der, derlen, input, inputlen);
}

/*
 * certificate~assertion (PyBrowserID utils.py,
 * unbundle_certs_and_assertion, less its chains).  The shape (no empty
 * part, one certificate) is checked whole before anything is decoded, so a
 * chain costs no more than finding its second '~'.
 */
static enum jose_err
split_backed(const char *s, size_t len, struct backed *b)
{
	const char	*tilde = memchr(s, '~', len), *asr;
	size_t		 i;
	enum jose_err	 rc;

	if (tilde == NULL)
		return JOSE_ERR_NOT_BACKED;
	for (i = 0; i < len; i++)
		if (s[i] == '~' && (i == 0 || i + 1 == len || s[i + 1] == '~'))
			return JOSE_ERR_NOT_BACKED;
	asr = tilde + 1;
	if (memchr(asr, '~', len - (size_t)(asr - s)) != NULL)
		return JOSE_ERR_CERT_CHAIN;
	b->buf = (struct jose_buf){ b->dec, sizeof(b->dec), 0 };
	if ((rc = jose_split(&b->buf, s, (size_t)(tilde - s),
	    &b->cert.jws)) != JOSE_OK)
		return rc;
	return jose_split(&b->buf, asr, len - (size_t)(asr - s),
	    &b->assertion.jws);
}

/* The header names the algorithm and nothing else matters in it. */
static enum jose_err
parse_part(struct part *p)
{
	json_t		*hdr;
	const char	*alg;
	size_t		 alglen;
	enum jose_err	 rc;

	if ((rc = jose_header(&p->jws, &hdr, &alg, &alglen)) != JOSE_OK)
		return rc;
	if (alg_lookup(alg, alglen, &p->alg) == -1)
		rc = JOSE_ERR_ALG_UNSUPPORTED;
	json_decref(hdr);
	if (rc != JOSE_OK)
		return rc;
	return jose_payload(&p->jws, &p->claims);
}

/* ---- claims ----------------------------------------------------------- */

static const struct browserid_issuer *
find_issuer(const struct browserid_issuer *issuers, size_t n, json_t *iss)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (jose_str_eq(iss, issuers[i].issuer))
			return &issuers[i];
	return NULL;
}

/*
 * PyBrowserID's VALID_EMAIL (local.py), in ASCII: a local part of word
 * characters and !#$%&'*+/=?^`{|}~.- , one '@', a domain of word
 * characters, '.' and '-', and an optional ":port" of 1 to 5 digits.
 * Returns the domain (with its port) in *dom.
 */
static int
email_domain(const char *e, size_t len, const char **dom, size_t *domlen)
{
	static const char	 local_punct[] = "_!#$%&'*+/=?^`{|}~.-";
	const char		*at, *colon, *d;
	size_t			 i, n;

	if (len == 0 || len > BROWSERID_MAX_EMAIL ||
	    (at = memchr(e, '@', len)) == NULL || at == e)
		return -1;
	for (i = 0; e + i < at; i++)
		if (!(e[i] >= 'a' && e[i] <= 'z') &&
		    !(e[i] >= 'A' && e[i] <= 'Z') &&
		    !(e[i] >= '0' && e[i] <= '9') &&
		    (e[i] == '\0' || strchr(local_punct, e[i]) == NULL))
			return -1;
	d = at + 1;
	n = len - (size_t)(d - e);
	colon = memchr(d, ':', n);
	for (i = 0; d + i < (colon ? colon : d + n); i++)
		if (!(d[i] >= 'a' && d[i] <= 'z') &&
		    !(d[i] >= 'A' && d[i] <= 'Z') &&
		    !(d[i] >= '0' && d[i] <= '9') &&
		    d[i] != '_' && d[i] != '.' && d[i] != '-')
			return -1;
	if (i == 0)
		return -1;
	if (colon != NULL) {
		n = len - (size_t)(colon + 1 - e);
		if (n < 1 || n > 5)
			return -1;
		for (i = 0; i < n; i++)
			if (colon[1 + i] < '0' || colon[1 + i] > '9')
				return -1;
	}
	*dom = d;
	*domlen = len - (size_t)(d - e);
	return 0;
}

/*
 * The principal's email, its domain folded to lower case as every email
 * that becomes a uid subject is (jose_email_fold), and whether the issuer
 * may vouch for it.
 */
static enum jose_err
check_email(json_t *cert, const struct browserid_issuer *is,
    struct browserid_identity *id)
{
	json_t		*email = json_object_get(json_object_get(cert,
			    "principal"), "email");
	const char	*dom;
	size_t		 len, domlen;

	if (!json_is_string(email))
		return JOSE_ERR_PRINCIPAL;
	len = json_string_length(email);
	if (email_domain(json_string_value(email), len, &dom, &domlen) == -1)
		return JOSE_ERR_PRINCIPAL;
	memcpy(id->email, json_string_value(email), len);
	id->email[len] = '\0';
	jose_email_fold(id->email);
	/*
	 * supportdoc.py, is_trusted_issuer: the same host, or a secondary.
	 * The whole name, in any case: a prefix (example.co for example.com)
	 * or an extension (example.com.evil) is another domain.
	 */
	if (!is->secondary && (domlen != strlen(is->issuer) ||
	    strncasecmp(id->email + len - domlen, is->issuer, domlen) != 0))
		return JOSE_ERR_ISSUER_DOMAIN;
	return JOSE_OK;
}

/*
 * Each document's times in its own words, so that a client learns which of
 * the two expired.  exp is required, iat optional (PyBrowserID's own test
 * certificates have none), and BrowserID has no nbf.
 */
static const struct jose_times cert_times = {
	JOSE_ERR_CERT_CLAIMS, JOSE_ERR_CERT_EXPIRED, JOSE_OK,
	JOSE_ERR_CERT_NOT_YET_VALID
};
static const struct jose_times assertion_times = {
	JOSE_ERR_ASSERTION_EXP_MISSING, JOSE_ERR_ASSERTION_EXPIRED, JOSE_OK,
	JOSE_ERR_ASSERTION_IAT_FUTURE
};

/* ---- signatures, in order ------------------------------------------- */

/* The signature of one part, with key. */
static enum jose_err
verify_part(const struct browserid_key *key, const struct part *p)
{
	return browserid_verify_sig(key, p->alg, p->jws.input,
	    p->jws.inputlen, p->jws.sig, p->jws.siglen);
}

/*
 * Verifies certificate p with the issuer's root key (its size checked at
 * load), then trusts its claims and parses the key it certifies into
 * *user, which the caller frees (its pkey is NULL unless this succeeds).
 */
static enum jose_err
check_cert(const struct part *p, const struct browserid_key *root,
    const struct jose_clock *clk, struct browserid_key *user)
{
	json_t		*pk;
	int64_t		 exp;
	char		 why[128];
	enum jose_err	 rc;

	memset(user, 0, sizeof(*user));
	if ((rc = verify_part(root, p)) == JOSE_ERR_ASSERTION_SIGNATURE)
		return JOSE_ERR_CERT_SIGNATURE;
	if (rc != JOSE_OK)
		return rc;
	if ((rc = jose_check_times(p->claims, clk, &cert_times, &exp)) !=
	    JOSE_OK)
		return rc;
	if ((pk = json_object_get(p->claims, "public-key")) == NULL)
		return JOSE_ERR_CERT_CLAIMS;
	switch (key_from_json(pk, BROWSERID_USER_MIN_BYTES, 0, user, why,
	    sizeof(why))) {
	case KEY_OK:
		return JOSE_OK;
	case KEY_SMALL:
		return JOSE_ERR_KEY_TOO_SMALL;
	case KEY_NOMEM:
		return JOSE_ERR_INTERNAL;
	default:
		return JOSE_ERR_CERT_KEY;
	}
}

/* Steps 4 and 5: the certificate with the root key, then the assertion. */
static enum jose_err
check_signatures(const struct backed *b, const struct browserid_issuer *is,
    int64_t now_ms, struct browserid_identity *id)
{
	struct browserid_key	 user;
	struct jose_clock	 clk;
	const struct part	*a = &b->assertion;
	enum jose_err		 rc;

	clk = (struct jose_clock){ now_ms, is->leeway, JOSE_MILLISECONDS };
	if ((rc = check_cert(&b->cert, is->key, &clk, &user)) != JOSE_OK)
		goto done;
	if ((rc = verify_part(&user, a)) != JOSE_OK)
		goto done;
	/* aud is one string (the spec; PyBrowserID compares it whole). */
	if ((rc = jose_check_times(a->claims, &clk, &assertion_times,
	    &id->exp_ms)) != JOSE_OK ||
	    (rc = jose_check_aud(a->claims, is->audience, 0)) != JOSE_OK)
		goto done;
	id->issuer = is;
done:
	EVP_PKEY_free(user.pkey);
	return rc;
}

enum jose_err
browserid_verify(const struct browserid_issuer *issuers, size_t nissuers,
    const char *assertion, size_t len, int64_t now_ms,
    struct browserid_identity *id)
{
	struct backed			*b;
	const struct browserid_issuer	*is;
	json_t				*iss;
	enum jose_err			 rc;

	if (len > BROWSERID_MAX_BYTES)
		return JOSE_ERR_TOO_LARGE;
	/* Some 17 KiB of decoded parts: kept off the stack. */
	if ((b = malloc(sizeof(*b))) == NULL)
		return JOSE_ERR_INTERNAL;
	b->cert.claims = b->assertion.claims = NULL;
	if ((rc = split_backed(assertion, len, b)) != JOSE_OK ||
	    (rc = parse_part(&b->cert)) != JOSE_OK ||
	    (rc = parse_part(&b->assertion)) != JOSE_OK)
		goto done;
	iss = json_object_get(b->cert.claims, "iss");
	if (!json_is_string(iss)) {
		rc = JOSE_ERR_CERT_CLAIMS;
		goto done;
	}
	if ((is = find_issuer(issuers, nissuers, iss)) == NULL) {
		rc = JOSE_ERR_ISS_UNKNOWN;
		goto done;
	}
	if ((rc = check_email(b->cert.claims, is, id)) != JOSE_OK)
		goto done;
	rc = check_signatures(b, is, now_ms, id);
done:
	json_decref(b->cert.claims);
	json_decref(b->assertion.claims);
	free(b);
	return rc;
}

