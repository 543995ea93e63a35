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
 *      must be JSON objects (duplicate members refused);
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
#include "identity/jws.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/dsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "core/b64.h"
#include "config.h"

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

static const char *const err_text[BROWSERID_ERR_COUNT] = {
	[BROWSERID_OK] = "ok",
	[BROWSERID_ERR_TOO_LARGE] = "BrowserID assertion too large",
	[BROWSERID_ERR_MALFORMED] = "BrowserID assertion is not "
	    "certificate~assertion with no empty part",
	[BROWSERID_ERR_CERT_CHAIN] = "BrowserID certificate chains are not "
	    "accepted: one certificate, signed by the issuer",
	[BROWSERID_ERR_JWS] = "BrowserID certificate or assertion is not "
	    "three dot-separated parts",
	[BROWSERID_ERR_BASE64] = "BrowserID certificate or assertion part is "
	    "not unpadded base64url",
	[BROWSERID_ERR_HEADER] = "BrowserID header is not a JSON object with "
	    "an \"alg\" string",
	[BROWSERID_ERR_PAYLOAD] = "BrowserID certificate or assertion payload "
	    "is not a valid JSON object",
	[BROWSERID_ERR_ALG_UNSUPPORTED] = "BrowserID signature algorithm not "
	    "supported",
	[BROWSERID_ERR_CERT_CLAIMS] = "BrowserID certificate lacks iss, exp "
	    "or public-key",
	[BROWSERID_ERR_ISSUER_UNKNOWN] = "BrowserID certificate issuer (iss) "
	    "is not trusted",
	[BROWSERID_ERR_EMAIL] = "BrowserID certificate has no valid principal "
	    "email",
	[BROWSERID_ERR_ISSUER_DOMAIN] = "BrowserID issuer may not vouch for "
	    "the email's domain",
	[BROWSERID_ERR_KEY_MISMATCH] = "BrowserID signing key does not fit the "
	    "algorithm",
	[BROWSERID_ERR_KEY_TOO_SMALL] = "BrowserID certified key too small "
	    "(at least 1024 bits)",
	[BROWSERID_ERR_SIG_LENGTH] = "BrowserID signature has the wrong length",
	[BROWSERID_ERR_CERT_SIGNATURE] = "BrowserID certificate signature does "
	    "not verify",
	[BROWSERID_ERR_CLAIM_TYPE] = "BrowserID claim has the wrong type (exp "
	    "and iat integer milliseconds, aud a string)",
	[BROWSERID_ERR_CERT_EXPIRED] = "BrowserID certificate expired",
	[BROWSERID_ERR_CERT_NOT_YET_VALID] = "BrowserID certificate issued in "
	    "the future (iat)",
	[BROWSERID_ERR_CERT_KEY] = "BrowserID certified public-key is not a "
	    "valid RS or DS key",
	[BROWSERID_ERR_ASSERTION_SIGNATURE] = "BrowserID assertion signature "
	    "does not verify",
	[BROWSERID_ERR_ASSERTION_EXP_MISSING] = "BrowserID assertion has no "
	    "expiry (exp)",
	[BROWSERID_ERR_ASSERTION_EXPIRED] = "BrowserID assertion expired",
	[BROWSERID_ERR_ASSERTION_IAT_FUTURE] = "BrowserID assertion issued in "
	    "the future (iat)",
	[BROWSERID_ERR_AUDIENCE] = "BrowserID audience (aud) does not name "
	    "this service",
	[BROWSERID_ERR_SERVICE] = "BrowserID issuer is not allowed for this "
	    "service",
	[BROWSERID_ERR_INTERNAL] = "internal error while verifying",
};

/* One decoded JWS: a certificate or the assertion. */
struct part {
	const char		*input;	/* header "." payload, as received */
	size_t			 inputlen;
	const uint8_t		*hdr, *pay, *sig;
	size_t			 hdrlen, paylen, siglen;
	enum browserid_alg	 alg;
	json_t			*claims;	/* owned */
};

/* The whole backed assertion. */
struct backed {
	struct part	 cert;
	struct part	 assertion;
	/* Decoded bytes never outnumber the characters they came from. */
	uint8_t		 buf[BROWSERID_MAX_BYTES];
	size_t		 used;
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

const char *
browserid_strerror(enum browserid_err e)
{
	if ((unsigned)e >= BROWSERID_ERR_COUNT || err_text[e] == NULL)
		return "unknown BrowserID error";
	return err_text[e];
}

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
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
		seterr(why, whylen, "\"%s\" is missing or not a string", name);
		return KEY_INVALID;
	}
	s = json_string_value(v);
	len = json_string_length(v);
	if (len == 0 || len > maxlen) {
		seterr(why, whylen, "\"%s\" is empty or longer than %zu "
		    "digits", name, maxlen);
		return KEY_INVALID;
	}
	for (i = 0; i < len; i++) {
		ok = (s[i] >= '0' && s[i] <= '9') || (hex &&
		    ((s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' &&
		    s[i] <= 'F')));
		if (!ok) {
			seterr(why, whylen, "\"%s\" is not a %s number", name,
			    hex ? "hexadecimal" : "decimal");
			return KEY_INVALID;
		}
	}
	if ((hex ? BN_hex2bn(bn, s) : BN_dec2bn(bn, s)) != (int)len) {
		seterr(why, whylen, "out of memory");
		return KEY_NOMEM;
	}
	return KEY_OK;
}

static EVP_PKEY *
pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM	*params;
	EVP_PKEY_CTX	*ctx = NULL;
	EVP_PKEY	*pkey = NULL;

	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		return NULL;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

static enum key_status
size_check(const char *what, int bytes, int min_bytes, int max_bytes,
    char *why, size_t whylen)
{
	if (bytes < min_bytes) {
		seterr(why, whylen, "%s of %d bytes is under %d bytes (%d "
		    "bits)", what, bytes, min_bytes, min_bytes * 8);
		return KEY_SMALL;
	}
	if (bytes > max_bytes) {
		seterr(why, whylen, "%s of %d bytes is over %d bytes", what,
		    bytes, max_bytes);
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
		seterr(why, whylen, "RSA modulus \"n\" is even");
		goto done;
	}
	if (!BN_is_odd(e) || BN_num_bits(e) < 2 ||
	    BN_num_bits(e) > RSA_E_MAX_BITS) {
		seterr(why, whylen, "RSA exponent \"e\" is not an odd number "
		    "from 3 to 2^64");
		goto done;
	}
	st = KEY_NOMEM;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
		goto done;
	if ((key->pkey = pkey_fromdata("RSA", bld)) == NULL) {
		seterr(why, whylen, "OpenSSL refused the RSA key");
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
		seterr(why, whylen, "DSA \"q\" of %d bits is neither 160 nor "
		    "256 bits", BN_num_bits(q));
		goto done;
	}
	if (!BN_is_odd(p) || !BN_is_odd(q)) {
		seterr(why, whylen, "DSA \"p\" or \"q\" is even");
		goto done;
	}
	if (!BN_mod(t, pm1, q, ctx) || !BN_is_zero(t)) {
		seterr(why, whylen, "DSA \"q\" does not divide p - 1");
		goto done;
	}
	if (BN_cmp(g, BN_value_one()) <= 0 || BN_cmp(g, pm1) >= 0 ||
	    BN_cmp(y, BN_value_one()) <= 0 || BN_cmp(y, pm1) >= 0) {
		seterr(why, whylen, "DSA \"g\" or \"y\" is not in 2..p-2");
		goto done;
	}
	if (!BN_mod_exp(t, g, q, p, ctx) || !BN_is_one(t) ||
	    !BN_mod_exp(t, y, q, p, ctx) || !BN_is_one(t)) {
		seterr(why, whylen, "DSA \"g\" or \"y\" is not of order q");
		goto done;
	}
	if (check_primes && (BN_check_prime(p, ctx, NULL) != 1 ||
	    BN_check_prime(q, ctx, NULL) != 1)) {
		seterr(why, whylen, "DSA \"p\" or \"q\" is not prime");
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
		seterr(why, whylen, "OpenSSL refused the DSA key");
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
		seterr(why, whylen, "the public key is not a JSON object");
		return KEY_INVALID;
	}
	if (json_object_get(obj, "d") != NULL ||
	    json_object_get(obj, "x") != NULL) {
		seterr(why, whylen, "the key holds a private member (\"d\" or "
		    "\"x\"); give the public key only");
		return KEY_INVALID;
	}
	alg = json_object_get(obj, "algorithm");
	if (json_is_string(alg) && strcmp(json_string_value(alg), "RS") == 0)
		st = rs_key(obj, min_bytes, key, why, whylen);
	else if (json_is_string(alg) &&
	    strcmp(json_string_value(alg), "DS") == 0)
		st = ds_key(obj, min_bytes, check_primes, key, why, whylen);
	else {
		seterr(why, whylen, "\"algorithm\" is not \"RS\" or \"DS\"");
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
		seterr(err, errlen, "not JSON: line %d: %s", jerr.line,
		    jerr.text);
		return NULL;
	}
	/* A support document holds the key as "public-key". */
	obj = json_object_get(root, "public-key");
	if (obj == NULL)
		obj = root;
	if ((key = calloc(1, sizeof(*key))) == NULL) {
		seterr(err, errlen, "out of memory");
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
	struct browserid_key	*key = NULL;
	struct stat		 st;
	char			 why[256];
	char			*buf;
	size_t			 len = 0;
	ssize_t			 n;
	int			 fd;

	/*
	 * O_NONBLOCK: a FIFO put where the key should be must not hang the
	 * load (or a reload); it is refused as not a regular file.
	 */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		seterr(err, errlen, "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	if ((buf = malloc(BROWSERID_KEY_MAX_FILE + 1)) == NULL) {
		seterr(err, errlen, "%s: out of memory", path);
		goto done;
	}
	while (len <= BROWSERID_KEY_MAX_FILE &&
	    (n = read(fd, buf + len, BROWSERID_KEY_MAX_FILE + 1 - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			seterr(err, errlen, "%s: %s", path, strerror(errno));
			goto done;
		}
		len += (size_t)n;
	}
	if (len > BROWSERID_KEY_MAX_FILE) {
		seterr(err, errlen, "%s: larger than %d bytes", path,
		    BROWSERID_KEY_MAX_FILE);
		goto done;
	}
	if ((key = browserid_key_parse(buf, len, BROWSERID_SIGNER_MIN_BYTES, 1,
	    why, sizeof(why))) == NULL)
		seterr(err, errlen, "%s: %s", path, why);
done:
	free(buf);
	close(fd);
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

/*
 * One verification with a fresh context; a failing verify call is the
 * token's fault, only a failure to set up is internal (as in jws.c).
 */
static enum browserid_err
digest_verify(EVP_PKEY *pkey, const EVP_MD *md, const uint8_t *sig,
    size_t siglen, const void *tbs, size_t tbslen)
{
	EVP_MD_CTX		*ctx;
	enum browserid_err	 rc = BROWSERID_ERR_INTERNAL;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		goto fail;
	if (EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) != 1)
		goto fail;
	if (EVP_DigestVerify(ctx, sig, siglen, tbs, tbslen) == 1)
		rc = BROWSERID_OK;
	else
		rc = BROWSERID_ERR_ASSERTION_SIGNATURE;
fail:
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

enum browserid_err
browserid_verify_sig(const struct browserid_key *key, enum browserid_alg alg,
    const void *input, size_t inputlen, const unsigned char *sig,
    size_t siglen)
{
	uint8_t	 full[BROWSERID_RSA_MAX_BYTES], der[JWS_RS_DER_MAX];
	size_t	 n, want, derlen;

	if ((unsigned)alg >= BROWSERID_ALG_COUNT || !key_fits(key, alg))
		return BROWSERID_ERR_KEY_MISMATCH;
	n = ds_len(alg);
	want = n == 0 ? (size_t)key->bytes : 2 * n;
	if (siglen == 0 || siglen > want || want > sizeof(full))
		return BROWSERID_ERR_SIG_LENGTH;
	/* Restore leading zero bytes a signer's bignum encoding dropped. */
	memset(full, 0, want - siglen);
	memcpy(full + want - siglen, sig, siglen);
	if (n == 0)
		return digest_verify(key->pkey, EVP_sha256(), full, want,
		    input, inputlen);
	/* r and s out of range (0 or >= q) fail OpenSSL's verification. */
	if (jws_rs_to_der(full, n, der, &derlen) == -1)
		return BROWSERID_ERR_INTERNAL;
	return digest_verify(key->pkey, alg == BROWSERID_ALG_DS128 ?
	    EVP_sha1() : EVP_sha256(), der, derlen, input, inputlen);
}

/* ---- parsing ---------------------------------------------------------- */

static const uint8_t *
decode_part(struct backed *b, const char *in, size_t len, size_t *outlen)
{
	uint8_t	*out = b->buf + b->used;

	if (b64url_declen(len) > sizeof(b->buf) - b->used)
		return NULL;
	if (b64url_decode(out, outlen, in, len, B64_NOPAD) == -1)
		return NULL;
	b->used += *outlen;
	return out;
}

/* header.payload.signature, no part empty, decoded into b. */
static enum browserid_err
split_jws(struct backed *b, const char *tok, size_t len, struct part *p)
{
	const char	*end = tok + len, *d1, *d2;

	if ((d1 = memchr(tok, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', (size_t)(end - d1 - 1))) == NULL ||
	    memchr(d2 + 1, '.', (size_t)(end - d2 - 1)) != NULL)
		return BROWSERID_ERR_JWS;
	if (d1 == tok || d2 == d1 + 1 || d2 + 1 == end)
		return BROWSERID_ERR_JWS;
	p->input = tok;
	p->inputlen = (size_t)(d2 - tok);
	if ((p->hdr = decode_part(b, tok, (size_t)(d1 - tok),
	    &p->hdrlen)) == NULL ||
	    (p->pay = decode_part(b, d1 + 1, (size_t)(d2 - d1 - 1),
	    &p->paylen)) == NULL ||
	    (p->sig = decode_part(b, d2 + 1, (size_t)(end - d2 - 1),
	    &p->siglen)) == NULL)
		return BROWSERID_ERR_BASE64;
	return BROWSERID_OK;
}

/*
 * certificate~assertion (PyBrowserID utils.py,
 * unbundle_certs_and_assertion, less its chains).  The shape (no empty
 * part, one certificate) is checked whole before anything is decoded, so a
 * chain costs no more than finding its second '~'.
 */
static enum browserid_err
split_backed(const char *s, size_t len, struct backed *b)
{
	const char		*tilde = memchr(s, '~', len), *asr;
	size_t			 i;
	enum browserid_err	 rc;

	if (tilde == NULL)
		return BROWSERID_ERR_MALFORMED;
	for (i = 0; i < len; i++)
		if (s[i] == '~' && (i == 0 || i + 1 == len || s[i + 1] == '~'))
			return BROWSERID_ERR_MALFORMED;
	asr = tilde + 1;
	if (memchr(asr, '~', len - (size_t)(asr - s)) != NULL)
		return BROWSERID_ERR_CERT_CHAIN;
	b->used = 0;
	if ((rc = split_jws(b, s, (size_t)(tilde - s), &b->cert)) !=
	    BROWSERID_OK)
		return rc;
	return split_jws(b, asr, len - (size_t)(asr - s), &b->assertion);
}

/* A JSON object from buf, or NULL for bad JSON, duplicates or non-object. */
static json_t *
load_object(const uint8_t *buf, size_t len)
{
	json_error_t	 jerr;
	json_t		*j;

	j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* The header names the algorithm and nothing else matters in it. */
static enum browserid_err
parse_part(struct part *p)
{
	json_t			*hdr, *alg;
	enum browserid_err	 rc = BROWSERID_OK;

	if ((hdr = load_object(p->hdr, p->hdrlen)) == NULL)
		return BROWSERID_ERR_HEADER;
	alg = json_object_get(hdr, "alg");
	if (!json_is_string(alg))
		rc = BROWSERID_ERR_HEADER;
	else if (alg_lookup(json_string_value(alg), json_string_length(alg),
	    &p->alg) == -1)
		rc = BROWSERID_ERR_ALG_UNSUPPORTED;
	json_decref(hdr);
	if (rc != BROWSERID_OK)
		return rc;
	if ((p->claims = load_object(p->pay, p->paylen)) == NULL)
		return BROWSERID_ERR_PAYLOAD;
	return BROWSERID_OK;
}

/* ---- claims ----------------------------------------------------------- */

static const struct browserid_issuer *
find_issuer(const struct config *cfg, json_t *iss)
{
	size_t	 i;

	for (i = 0; i < cfg->nbrowserid; i++)
		if (jws_json_str_eq(iss, cfg->browserid[i].issuer))
			return &cfg->browserid[i];
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
 * that becomes a uid subject is (jws_email_fold), and whether the issuer
 * may vouch for it.
 */
static enum browserid_err
check_email(json_t *cert, const struct browserid_issuer *is,
    struct browserid_identity *id)
{
	json_t		*email = json_object_get(json_object_get(cert,
			    "principal"), "email");
	const char	*dom;
	size_t		 len, domlen;

	if (!json_is_string(email))
		return BROWSERID_ERR_EMAIL;
	len = json_string_length(email);
	if (email_domain(json_string_value(email), len, &dom, &domlen) == -1)
		return BROWSERID_ERR_EMAIL;
	memcpy(id->email, json_string_value(email), len);
	id->email[len] = '\0';
	jws_email_fold(id->email);
	/*
	 * supportdoc.py, is_trusted_issuer: the same host, or a secondary.
	 * The whole name, in any case: a prefix (example.co for example.com)
	 * or an extension (example.com.evil) is another domain.
	 */
	if (!is->secondary && (domlen != strlen(is->issuer) ||
	    strncasecmp(id->email + len - domlen, is->issuer, domlen) != 0))
		return BROWSERID_ERR_ISSUER_DOMAIN;
	return BROWSERID_OK;
}

/* An optional integer claim; a JSON real or string is a type error. */
static enum browserid_err
int_claim(json_t *claims, const char *name, int *present, int64_t *v)
{
	json_t	*j = json_object_get(claims, name);

	*present = j != NULL;
	if (j == NULL)
		return BROWSERID_OK;
	if (!json_is_integer(j))
		return BROWSERID_ERR_CLAIM_TYPE;
	*v = json_integer_value(j);
	return BROWSERID_OK;
}

/* Which failure each time check reports, for certificates or assertion. */
struct time_errs {
	enum browserid_err	 missing, expired, future;
};

static const struct time_errs cert_errs = {
	BROWSERID_ERR_CERT_CLAIMS, BROWSERID_ERR_CERT_EXPIRED,
	BROWSERID_ERR_CERT_NOT_YET_VALID
};
static const struct time_errs assertion_errs = {
	BROWSERID_ERR_ASSERTION_EXP_MISSING, BROWSERID_ERR_ASSERTION_EXPIRED,
	BROWSERID_ERR_ASSERTION_IAT_FUTURE
};

/*
 * exp is required, iat optional (PyBrowserID's own test certificates have
 * none).  As in jws.c, exp + leeway <= now is written so that the client's
 * value is never part of an addition.
 */
static enum browserid_err
check_times(json_t *claims, int64_t leeway_ms, int64_t now_ms,
    const struct time_errs *te, int64_t *exp)
{
	int64_t			 iat;
	int			 has;
	enum browserid_err	 rc;

	if ((rc = int_claim(claims, "exp", &has, exp)) != BROWSERID_OK)
		return rc;
	if (!has)
		return te->missing;
	if (*exp <= jws_sat_add(now_ms, -leeway_ms))
		return te->expired;
	if ((rc = int_claim(claims, "iat", &has, &iat)) != BROWSERID_OK)
		return rc;
	if (has && iat > jws_sat_add(now_ms, leeway_ms))
		return te->future;
	return BROWSERID_OK;
}

static enum browserid_err
check_aud(json_t *claims, const char *audience)
{
	json_t	*aud = json_object_get(claims, "aud");

	if (aud == NULL)
		return BROWSERID_ERR_AUDIENCE;
	if (!json_is_string(aud))
		return BROWSERID_ERR_CLAIM_TYPE;
	return jws_json_str_eq(aud, audience) ? BROWSERID_OK :
	    BROWSERID_ERR_AUDIENCE;
}

/* ---- signatures, in order ------------------------------------------- */

/*
 * Verifies certificate p with the issuer's root key (its size checked at
 * load), then trusts its claims and parses the key it certifies into
 * *user, which the caller frees (its pkey is NULL unless this succeeds).
 */
static enum browserid_err
check_cert(const struct part *p, const struct browserid_key *root,
    int64_t leeway_ms, int64_t now_ms, struct browserid_key *user)
{
	json_t			*pk;
	int64_t			 exp;
	char			 why[128];
	enum browserid_err	 rc;

	memset(user, 0, sizeof(*user));
	rc = browserid_verify_sig(root, p->alg, p->input, p->inputlen,
	    p->sig, p->siglen);
	if (rc == BROWSERID_ERR_ASSERTION_SIGNATURE)
		return BROWSERID_ERR_CERT_SIGNATURE;
	if (rc != BROWSERID_OK)
		return rc;
	if ((rc = check_times(p->claims, leeway_ms, now_ms, &cert_errs,
	    &exp)) != BROWSERID_OK)
		return rc;
	if ((pk = json_object_get(p->claims, "public-key")) == NULL)
		return BROWSERID_ERR_CERT_CLAIMS;
	switch (key_from_json(pk, BROWSERID_USER_MIN_BYTES, 0, user, why,
	    sizeof(why))) {
	case KEY_OK:
		return BROWSERID_OK;
	case KEY_SMALL:
		return BROWSERID_ERR_KEY_TOO_SMALL;
	case KEY_NOMEM:
		return BROWSERID_ERR_INTERNAL;
	default:
		return BROWSERID_ERR_CERT_KEY;
	}
}

/* Steps 4 and 5: the certificate with the root key, then the assertion. */
static enum browserid_err
check_signatures(const struct backed *b, const struct browserid_issuer *is,
    int64_t now_ms, struct browserid_identity *id)
{
	struct browserid_key	 user;
	const struct part	*a = &b->assertion;
	int64_t			 leeway_ms = is->leeway * 1000;
	enum browserid_err	 rc;

	if ((rc = check_cert(&b->cert, is->key, leeway_ms, now_ms,
	    &user)) != BROWSERID_OK)
		goto done;
	rc = browserid_verify_sig(&user, a->alg, a->input, a->inputlen,
	    a->sig, a->siglen);
	if (rc != BROWSERID_OK)
		goto done;
	if ((rc = check_times(a->claims, leeway_ms, now_ms, &assertion_errs,
	    &id->exp_ms)) != BROWSERID_OK ||
	    (rc = check_aud(a->claims, is->audience)) != BROWSERID_OK)
		goto done;
	id->issuer = is;
done:
	EVP_PKEY_free(user.pkey);
	return rc;
}

enum browserid_err
browserid_verify(const struct config *cfg, const char *assertion, size_t len,
    int64_t now_ms, struct browserid_identity *id)
{
	struct backed			*b;
	const struct browserid_issuer	*is;
	json_t				*iss;
	enum browserid_err		 rc;

	if (len > BROWSERID_MAX_BYTES)
		return BROWSERID_ERR_TOO_LARGE;
	/* Some 17 KiB of decoded parts: kept off the stack. */
	if ((b = malloc(sizeof(*b))) == NULL)
		return BROWSERID_ERR_INTERNAL;
	b->cert.claims = b->assertion.claims = NULL;
	if ((rc = split_backed(assertion, len, b)) != BROWSERID_OK ||
	    (rc = parse_part(&b->cert)) != BROWSERID_OK ||
	    (rc = parse_part(&b->assertion)) != BROWSERID_OK)
		goto done;
	iss = json_object_get(b->cert.claims, "iss");
	if (!json_is_string(iss)) {
		rc = BROWSERID_ERR_CERT_CLAIMS;
		goto done;
	}
	if ((is = find_issuer(cfg, iss)) == NULL) {
		rc = BROWSERID_ERR_ISSUER_UNKNOWN;
		goto done;
	}
	if ((rc = check_email(b->cert.claims, is, id)) != BROWSERID_OK)
		goto done;
	rc = check_signatures(b, is, now_ms, id);
done:
	json_decref(b->cert.claims);
	json_decref(b->assertion.claims);
	free(b);
	return rc;
}

enum browserid_err
browserid_service_allowed(const struct browserid_issuer *is, const char *name,
    size_t len)
{
	size_t	 i;

	if (is->services == NULL)
		return BROWSERID_OK;
	for (i = 0; i < is->nservices; i++)
		if (strlen(is->services[i]) == len &&
		    memcmp(is->services[i], name, len) == 0)
			return BROWSERID_OK;
	return BROWSERID_ERR_SERVICE;
}
