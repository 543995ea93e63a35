/*
 * jws.c - verifies a client's assertion: a JWT (RFC 7519) in JWS compact
 * serialization (RFC 7515) signed with RS256/384/512, PS256/384/512,
 * ES256/384/512, EdDSA (Ed25519), or HS256/384/512 for an issuer that
 * shares a secret with us.
 *
 * The order of the checks is the security argument, so it is fixed here
 * and nowhere else:
 *
 *   1. bound the size, split into exactly three parts, decode each as
 *      strict unpadded base64url (one token has one spelling);
 *   2. the header: "alg" must be one we know ("none" never is), no "crit";
 *   3. the payload is parsed, but only "iss" is read from it, to pick the
 *      issuer whose keys and allowed algorithms apply;
 *   4. the algorithm must be allowed for that issuer.  HS* is verified
 *      with the issuer's configured shared secret and nothing else, so a
 *      public key can never become an HMAC key (the classic confusion);
 *   5. otherwise the key: by "kid", or the issuer's only key that fits the
 *      alg; its type, curve and JWK "alg" must fit the header's alg;
 *   6. the signature over the header and payload exactly as received;
 *   7. only now are the claims trusted: exp, nbf, iat, aud, the issuer's
 *      required claims, and the identity (sub or email).
 *
 * The payload is decoded before the signature is checked because the
 * unverified "iss" is what names the key; nothing else in it is believed
 * before step 6.  Splitting, decoding, the bounded JSON (duplicates,
 * depth, number range) and the time and audience claims are jose.c's, the
 * same for BrowserID; what is here is what only a JWT has.  Every failure
 * has its own code; a bad token is the client's problem, so nothing here
 * logs.
 *
 * Speed: the digests are fetched once per process, and each key carries
 * EVP_PKEY_CTXs already set up for verification (padding, PSS salt length,
 * digest) by jws_key_prepare() when the JWKS is parsed; a request only
 * hashes its input and calls EVP_PKEY_verify.  Ed25519 has no prehash
 * form in OpenSSL 3.0, so it alone gets a fresh EVP_MD_CTX per call.
 */
#include "identity/jws.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "identity/issuer.h"
#include "identity/jose.h"
#include "identity/jwks.h"

#define ED25519_SIG_LEN	64

enum alg_kind { K_RSA_PKCS1, K_RSA_PSS, K_ECDSA, K_EDDSA, K_HMAC };
enum hash_id { H_SHA256, H_SHA384, H_SHA512, H_COUNT, H_NONE = -1 };

static const struct alg_def {
	const char	*name;
	enum alg_kind	 kind;
	int		 hash;	/* enum hash_id */
	int		 kty;	/* enum jwk_kty, or -1 */
	size_t		 coord;	/* ECDSA: bytes of r and of s (RFC 7518 3.4) */
} algs[JWS_ALG_COUNT] = {
	[JWS_ALG_RS256] = { "RS256", K_RSA_PKCS1, H_SHA256, JWK_KTY_RSA, 0 },
	[JWS_ALG_RS384] = { "RS384", K_RSA_PKCS1, H_SHA384, JWK_KTY_RSA, 0 },
	[JWS_ALG_RS512] = { "RS512", K_RSA_PKCS1, H_SHA512, JWK_KTY_RSA, 0 },
	[JWS_ALG_PS256] = { "PS256", K_RSA_PSS, H_SHA256, JWK_KTY_RSA, 0 },
	[JWS_ALG_PS384] = { "PS384", K_RSA_PSS, H_SHA384, JWK_KTY_RSA, 0 },
	[JWS_ALG_PS512] = { "PS512", K_RSA_PSS, H_SHA512, JWK_KTY_RSA, 0 },
	[JWS_ALG_ES256] = { "ES256", K_ECDSA, H_SHA256, JWK_KTY_EC_P256, 32 },
	[JWS_ALG_ES384] = { "ES384", K_ECDSA, H_SHA384, JWK_KTY_EC_P384, 48 },
	[JWS_ALG_ES512] = { "ES512", K_ECDSA, H_SHA512, JWK_KTY_EC_P521, 66 },
	[JWS_ALG_EDDSA] = { "EdDSA", K_EDDSA, H_NONE, JWK_KTY_ED25519, 0 },
	[JWS_ALG_HS256] = { "HS256", K_HMAC, H_SHA256, -1, 0 },
	[JWS_ALG_HS384] = { "HS384", K_HMAC, H_SHA384, -1, 0 },
	[JWS_ALG_HS512] = { "HS512", K_HMAC, H_SHA512, -1, 0 },
};

static const char *const hash_names[H_COUNT] = {
	[H_SHA256] = "SHA256", [H_SHA384] = "SHA384", [H_SHA512] = "SHA512",
};
static const size_t hash_lens[H_COUNT] = {
	[H_SHA256] = 32, [H_SHA384] = 48, [H_SHA512] = 64,
};

/* ---- digests, fetched once per process ---- */

static pthread_once_t	 md_once = PTHREAD_ONCE_INIT;
static EVP_MD		*mds[H_COUNT];

static void
fetch_mds(void)
{
	int	 h;

	for (h = 0; h < H_COUNT; h++)
		mds[h] = EVP_MD_fetch(NULL, hash_names[h], NULL);
}

static const EVP_MD *
md_of(int hash)
{
	pthread_once(&md_once, fetch_mds);
	return hash >= 0 && hash < H_COUNT ? mds[hash] : NULL;
}

/* ---- names ---- */

const char *
jws_alg_name(enum jws_alg alg)
{
	if ((unsigned)alg >= JWS_ALG_COUNT)
		return "unknown";
	return algs[alg].name;
}

/* Exact, case-sensitive match on name[0..len) (RFC 7515 4.1.1). */
static int
alg_lookup(const char *name, size_t len, enum jws_alg *out)
{
	int	 a;

	for (a = 0; a < JWS_ALG_COUNT; a++)
		if (strlen(algs[a].name) == len &&
		    memcmp(algs[a].name, name, len) == 0) {
			*out = (enum jws_alg)a;
			return 0;
		}
	return -1;
}

int
jws_alg_parse(const char *name, enum jws_alg *out)
{
	return alg_lookup(name, strlen(name), out);
}

size_t
jws_alg_hash_len(enum jws_alg alg)
{
	if ((unsigned)alg >= JWS_ALG_COUNT || algs[alg].hash == H_NONE)
		return 0;
	return hash_lens[algs[alg].hash];
}

int
jws_alg_kty(enum jws_alg alg)
{
	return (unsigned)alg < JWS_ALG_COUNT ? algs[alg].kty : -1;
}

/* ---- per-key verification contexts ---- */

static EVP_PKEY_CTX *
make_vctx(EVP_PKEY *pkey, const struct alg_def *a)
{
	const EVP_MD	*md = md_of(a->hash);
	EVP_PKEY_CTX	*ctx;
	int		 ok;

	if (md == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL)
		return NULL;
	ok = EVP_PKEY_verify_init(ctx) == 1;
	switch (a->kind) {
	case K_RSA_PKCS1:
		ok = ok && EVP_PKEY_CTX_set_rsa_padding(ctx,
		    RSA_PKCS1_PADDING) > 0;
		break;
	case K_RSA_PSS:
		/* RFC 7518 3.5: MGF1 with the same hash, salt = hash length. */
		ok = ok && EVP_PKEY_CTX_set_rsa_padding(ctx,
		    RSA_PKCS1_PSS_PADDING) > 0 &&
		    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) > 0 &&
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx,
		    RSA_PSS_SALTLEN_DIGEST) > 0;
		break;
	default:
		break;
	}
	ok = ok && EVP_PKEY_CTX_set_signature_md(ctx, md) > 0;
	if (!ok) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int
jws_key_prepare(struct jwk *key)
{
	int	 a;

	for (a = 0; a < JWS_ALG_COUNT; a++) {
		if (algs[a].kty != (int)key->kty || algs[a].kind == K_EDDSA)
			continue;
		if ((key->vctx[a] = make_vctx(key->pkey, &algs[a])) == NULL) {
			ERR_clear_error();
			return -1;
		}
	}
	return 0;
}

void
jws_key_release(struct jwk *key)
{
	int	 a;

	for (a = 0; a < JWS_ALG_COUNT; a++) {
		EVP_PKEY_CTX_free(key->vctx[a]);
		key->vctx[a] = NULL;
	}
}

/*
 * The alg the header names (jose_header found it a string), and its kid,
 * which points into hdr, or is NULL.  "none" is told apart in any case,
 * since some libraries accept "None".
 */
static enum jose_err
check_header(json_t *hdr, const char *name, size_t len, enum jws_alg *alg,
    json_t **kid)
{
	if (len == 4 && strncasecmp(name, "none", 4) == 0)
		return JOSE_ERR_ALG_NONE;
	if (alg_lookup(name, len, alg) == -1)
		return JOSE_ERR_ALG_UNSUPPORTED;
	/* RFC 7515 4.1.11: an extension we do not understand is fatal. */
	if (json_object_get(hdr, "crit") != NULL)
		return JOSE_ERR_CRIT;
	*kid = json_object_get(hdr, "kid");
	if (*kid != NULL && !json_is_string(*kid))
		return JOSE_ERR_KID_TYPE;
	return JOSE_OK;
}

/*
 * The issuer of type jwt whose iss the claims name.  An fxa-oauth
 * issuer's tokens are not JWT assertions: they must hold its scope, which
 * only fxa.c checks (jwt_verify_one), so they never pass here.
 */
static enum jose_err
find_issuer(const struct issuer *issuers, size_t n, json_t *pay,
    const struct issuer **out)
{
	json_t	*iss = json_object_get(pay, "iss");
	size_t	 i;

	if (!json_is_string(iss))
		return JOSE_ERR_ISS_MISSING;
	for (i = 0; i < n; i++)
		if (issuers[i].type == ISSUER_JWT &&
		    jose_str_eq(iss, issuers[i].iss)) {
			*out = &issuers[i];
			return JOSE_OK;
		}
	return JOSE_ERR_ISS_UNKNOWN;
}

static int
is_ec(int kty)
{
	return kty == JWK_KTY_EC_P256 || kty == JWK_KTY_EC_P384 ||
	    kty == JWK_KTY_EC_P521;
}

/*
 * Whether key may verify alg: its type and curve fit, and its own "alg",
 * if it has one, is this alg.  Each misfit has its own code.
 */
static enum jose_err
key_fit(const struct jwk *key, enum jws_alg alg)
{
	int	 want = algs[alg].kty;

	if ((int)key->kty != want)
		return is_ec(want) && is_ec(key->kty) ?
		    JOSE_ERR_CURVE_MISMATCH : JOSE_ERR_KEY_MISMATCH;
	if (key->alg != NULL && strcmp(key->alg, algs[alg].name) != 0)
		return JOSE_ERR_JWK_ALG_MISMATCH;
	return JOSE_OK;
}

/*
 * With a kid, that key and no other.  Without one, guessing among several
 * keys would make the signature check a search, so a kid is then required.
 */
static enum jose_err
pick_key(const struct issuer *is, enum jws_alg alg, json_t *kid,
    const struct jwk **out)
{
	const struct jwks	*set = is->jwks;
	size_t			 i, nfit = 0;

	if (set == NULL || set->nkeys == 0)
		return JOSE_ERR_NO_KEYS;
	if (kid != NULL) {
		for (i = 0; i < set->nkeys; i++)
			if (set->keys[i].kid != NULL &&
			    jose_str_eq(kid, set->keys[i].kid)) {
				*out = &set->keys[i];
				return key_fit(*out, alg);
			}
		return JOSE_ERR_KID_UNKNOWN;
	}
	for (i = 0; i < set->nkeys; i++)
		if (key_fit(&set->keys[i], alg) == JOSE_OK) {
			*out = &set->keys[i];
			nfit++;
		}
	if (nfit == 0)
		return JOSE_ERR_NO_FITTING_KEY;
	return nfit == 1 ? JOSE_OK : JOSE_ERR_KID_REQUIRED;
}

/* ---- signatures ---- */

/* Hashes input and checks sig over the digest with the key's ready ctx. */
static enum jose_err
prehash_verify(EVP_PKEY_CTX *vctx, const struct alg_def *a,
    const uint8_t *sig, size_t siglen, const void *input, size_t inputlen)
{
	const EVP_MD	*md = md_of(a->hash);
	uint8_t		 dgst[EVP_MAX_MD_SIZE];
	unsigned	 dlen;

	if (vctx == NULL || md == NULL ||
	    EVP_Digest(input, inputlen, dgst, &dlen, md, NULL) != 1)
		return JOSE_ERR_INTERNAL;
	return EVP_PKEY_verify(vctx, sig, siglen, dgst, dlen) == 1 ? JOSE_OK :
	    JOSE_ERR_SIGNATURE;
}

static enum jose_err
verify_sig(const struct jwk *key, enum jws_alg alg, const void *input,
    size_t inputlen, const unsigned char *sig, size_t siglen)
{
	const struct alg_def	*a = &algs[alg];
	uint8_t			 der[JOSE_RS_DER_MAX];
	size_t			 derlen;
	enum jose_err		 rc;

	if ((rc = key_fit(key, alg)) != JOSE_OK)
		return rc;
	switch (a->kind) {
	case K_RSA_PKCS1:
	case K_RSA_PSS:
		/* Exactly the modulus length (RFC 8017 8.1.2, 8.2.2). */
		if (siglen != (size_t)EVP_PKEY_get_size(key->pkey))
			return JOSE_ERR_SIG_LENGTH;
		return prehash_verify(key->vctx[alg], a, sig, siglen, input,
		    inputlen);
	case K_ECDSA:
		if (siglen != 2 * a->coord)
			return JOSE_ERR_SIG_LENGTH;
		if (jose_rs_to_der(sig, a->coord, der, &derlen) == -1)
			return JOSE_ERR_INTERNAL;
		return prehash_verify(key->vctx[alg], a, der, derlen, input,
		    inputlen);
	case K_EDDSA:
		if (siglen != ED25519_SIG_LEN)
			return JOSE_ERR_SIG_LENGTH;
		/* No prehash in OpenSSL 3.0: one-shot on a fresh context. */
		return jose_digest_verify(key->pkey, NULL, sig, siglen, input,
		    inputlen);
	default:
		return JOSE_ERR_KEY_MISMATCH;
	}
}

enum jose_err
jws_verify_sig(const struct jwk *key, enum jws_alg alg, const void *input,
    size_t inputlen, const unsigned char *sig, size_t siglen)
{
	enum jose_err	 rc;

	if ((unsigned)alg >= JWS_ALG_COUNT || algs[alg].kind == K_HMAC)
		return JOSE_ERR_KEY_MISMATCH;
	rc = verify_sig(key, alg, input, inputlen, sig, siglen);
	/* A client's bad signature leaves nothing in OpenSSL's queue. */
	ERR_clear_error();
	return rc;
}

/*
 * HMAC (RFC 2104) on EVP_MD directly: EVP_MAC would build a provider
 * context and parameters per call, which costs more than the hashing.
 */
static int
hmac(const EVP_MD *md, const uint8_t *key, size_t keylen, const void *data,
    size_t len, uint8_t *out, unsigned *outlen)
{
	uint8_t		 k[EVP_MAX_MD_SIZE * 2], pad[EVP_MAX_MD_SIZE * 2];
	uint8_t		 inner[EVP_MAX_MD_SIZE];
	size_t		 block = (size_t)EVP_MD_get_block_size(md), i;
	unsigned	 ilen;
	EVP_MD_CTX	*ctx;
	int		 ok;

	if (block > sizeof(k) || (ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	memset(k, 0, block);
	if (keylen > block)
		ok = EVP_Digest(key, keylen, k, NULL, md, NULL) == 1;
	else {
		memcpy(k, key, keylen);
		ok = 1;
	}
	for (i = 0; i < block; i++)
		pad[i] = k[i] ^ 0x36;
	ok = ok && EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
	    EVP_DigestUpdate(ctx, pad, block) == 1 &&
	    EVP_DigestUpdate(ctx, data, len) == 1 &&
	    EVP_DigestFinal_ex(ctx, inner, &ilen) == 1;
	for (i = 0; i < block; i++)
		pad[i] = k[i] ^ 0x5c;
	ok = ok && EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
	    EVP_DigestUpdate(ctx, pad, block) == 1 &&
	    EVP_DigestUpdate(ctx, inner, ilen) == 1 &&
	    EVP_DigestFinal_ex(ctx, out, outlen) == 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(pad, sizeof(pad));
	return ok ? 0 : -1;
}

enum jose_err
jws_verify_hmac(const void *key, size_t keylen, enum jws_alg alg,
    const void *input, size_t inputlen, const unsigned char *sig,
    size_t siglen)
{
	uint8_t		 mac[EVP_MAX_MD_SIZE];
	unsigned	 maclen;
	const EVP_MD	*md;
	enum jose_err	 rc;

	if ((unsigned)alg >= JWS_ALG_COUNT || algs[alg].kind != K_HMAC)
		return JOSE_ERR_KEY_MISMATCH;
	if (siglen != hash_lens[algs[alg].hash])
		return JOSE_ERR_SIG_LENGTH;
	if ((md = md_of(algs[alg].hash)) == NULL ||
	    hmac(md, key, keylen, input, inputlen, mac, &maclen) == -1 ||
	    maclen != siglen)
		rc = JOSE_ERR_INTERNAL;
	else
		rc = CRYPTO_memcmp(mac, sig, siglen) == 0 ? JOSE_OK :
		    JOSE_ERR_SIGNATURE;
	OPENSSL_cleanse(mac, sizeof(mac));
	ERR_clear_error();
	return rc;
}

/* ---- claims ---- */

/* The issuer's "require" list: booleans as booleans, else strings. */
static enum jose_err
check_required(json_t *pay, const struct issuer *is)
{
	const struct claim_req	*r;
	json_t			*v;
	size_t			 i;

	for (i = 0; i < is->nrequire; i++) {
		r = &is->require[i];
		v = json_object_get(pay, r->name);
		if (r->is_bool ? !json_is_boolean(v) ||
		    json_is_true(v) != r->bval : !jose_str_eq(v, r->sval))
			return JOSE_ERR_CLAIM_REQUIRED;
	}
	return JOSE_OK;
}

/*
 * Whether s[0..len) looks like an address: local@domain, the local part
 * 1-64 bytes of anything but controls, space and '@' (UTF-8 allowed), the
 * domain at least two dot-separated labels of letters, digits, '-' (or
 * UTF-8), no label empty or starting or ending with '-'.  Not RFC 5322's
 * full grammar (quoted local parts are refused): an identity provider's
 * verified address never needs it.
 */
static int
email_ok(const unsigned char *s, size_t len)
{
	const unsigned char	*at = memchr(s, '@', len), *p, *end = s + len;
	size_t			 labels = 0, lablen = 0;

	if (len > JOSE_MAX_EMAIL || at == NULL || at == s || at - s > 64)
		return 0;
	for (p = s; p < at; p++)
		if (*p <= ' ' || *p == 0x7f)
			return 0;
	for (p = at + 1; p <= end; p++) {
		if (p == end || *p == '.') {
			if (lablen == 0 || p[-1] == '-' || *(p - lablen) == '-')
				return 0;
			labels++;
			lablen = 0;
			continue;
		}
		if (!(isalnum(*p) || *p == '-' || *p >= 0x80))
			return 0;
		lablen++;
	}
	return labels >= 2;
}

/*
 * The identity: "sub" as it stands, or "email" with its domain folded to
 * lower case (jose_email_fold), so that one mailbox never becomes two uids.
 */
static enum jose_err
copy_identity(json_t *pay, const struct issuer *is, struct jwt_identity *id)
{
	int		 email = is->identity == IDENTITY_EMAIL;
	json_t		*v = json_object_get(pay, email ? "email" : "sub");
	enum jose_err	 missing = email ? JOSE_ERR_EMAIL_MISSING :
			    JOSE_ERR_SUB_MISSING;
	size_t		 len;

	if (!json_is_string(v))
		return missing;
	len = json_string_length(v);
	if (len == 0 || len > JWT_MAX_SUB)
		return missing;
	if (email && !email_ok((const unsigned char *)json_string_value(v),
	    len))
		return missing;
	memcpy(id->ident, json_string_value(v), len);
	id->ident[len] = '\0';
	if (email)
		jose_email_fold(id->ident);
	return JOSE_OK;
}

/* A JWT's times: NumericDate seconds, with nbf. */
static const struct jose_times jwt_times = {
	JOSE_ERR_EXP_MISSING, JOSE_ERR_EXPIRED, JOSE_ERR_NOT_YET_VALID,
	JOSE_ERR_IAT_FUTURE
};

static enum jose_err
check_claims(json_t *pay, const struct issuer *is, int64_t now,
    struct jwt_identity *id)
{
	struct jose_clock	 clk = { now, is->leeway, JOSE_SECONDS };
	enum jose_err		 rc;

	if ((rc = jose_check_times(pay, &clk, &jwt_times, &id->exp)) !=
	    JOSE_OK ||
	    (is->audience != NULL &&
	    (rc = jose_check_aud(pay, is->audience, 1)) != JOSE_OK) ||
	    (rc = check_required(pay, is)) != JOSE_OK)
		return rc;
	return copy_identity(pay, is, id);
}

/* Steps 4 to 6: the issuer's policy for alg, then the signature. */
static enum jose_err
check_signature(const struct issuer *is, enum jws_alg alg, json_t *kid,
    const struct jose_jws *p)
{
	const struct jwk	*key;
	enum jose_err		 rc;

	if (algs[alg].kind == K_HMAC && is->hs_secret.len == 0)
		return JOSE_ERR_HS_NO_SECRET;
	if ((is->algorithms & JWS_ALG_BIT(alg)) == 0)
		return JOSE_ERR_ALG_DISALLOWED;
	/* HS*: the configured secret, whatever kid says. */
	if (algs[alg].kind == K_HMAC)
		return jws_verify_hmac(is->hs_secret.bytes, is->hs_secret.len,
		    alg, p->input, p->inputlen, p->sig, p->siglen);
	if ((rc = pick_key(is, alg, kid, &key)) != JOSE_OK)
		return rc;
	return jws_verify_sig(key, alg, p->input, p->inputlen, p->sig,
	    p->siglen);
}

/*
 * Steps 1 to 7 for issuers[0..nissuers) (those of type jwt; with one,
 * that one, whatever its type); on JOSE_OK the parsed header and claims
 * go to *hdr_out and *pay_out when asked for (owned by the caller).
 */
static enum jose_err
verify(const struct issuer *issuers, size_t nissuers, const char *token,
    size_t len, int64_t now, struct jwt_identity *id, json_t **hdr_out,
    json_t **pay_out)
{
	/* Decoded parts never outnumber the characters they came from. */
	uint8_t			 dec[JWS_MAX_BYTES];
	struct jose_buf		 buf = { dec, sizeof(dec), 0 };
	struct jose_jws		 p;
	json_t			*hdr = NULL, *pay = NULL, *kid = NULL;
	const struct issuer	*is = NULL;
	const char		*name;
	size_t			 namelen;
	enum jws_alg		 alg;
	enum jose_err		 rc;

	id->issuer = NULL;
	if (len > JWS_MAX_BYTES)
		return JOSE_ERR_TOO_LARGE;
	if ((rc = jose_split(&buf, token, len, &p)) != JOSE_OK)
		return rc;
	if ((rc = jose_header(&p, &hdr, &name, &namelen)) != JOSE_OK ||
	    (rc = check_header(hdr, name, namelen, &alg, &kid)) != JOSE_OK)
		goto fail;
	if ((rc = jose_payload(&p, &pay)) != JOSE_OK)
		goto fail;
	if (hdr_out == NULL)
		rc = find_issuer(issuers, nissuers, pay, &is);
	else if (!json_is_string(json_object_get(pay, "iss")))
		rc = JOSE_ERR_ISS_MISSING;
	else if (!jose_str_eq(json_object_get(pay, "iss"), issuers->iss))
		rc = JOSE_ERR_ISS_UNKNOWN;
	else
		is = issuers;
	if (rc != JOSE_OK)
		goto fail;
	id->issuer = is;
	if ((rc = check_signature(is, alg, kid, &p)) != JOSE_OK)
		goto fail;
	if ((rc = check_claims(pay, is, now, id)) == JOSE_OK &&
	    hdr_out != NULL) {
		*hdr_out = hdr;
		*pay_out = pay;
		return JOSE_OK;
	}
fail:
	json_decref(hdr);
	json_decref(pay);
	return rc;
}

enum jose_err
jwt_verify(const struct issuer *issuers, size_t nissuers, const char *token,
    size_t len, int64_t now, struct jwt_identity *id)
{
	return verify(issuers, nissuers, token, len, now, id, NULL, NULL);
}

enum jose_err
jwt_verify_one(const struct issuer *is, const char *token, size_t len,
    int64_t now, struct jwt_identity *id, json_t **hdr, json_t **claims)
{
	*hdr = *claims = NULL;
	return verify(is, 1, token, len, now, id, hdr, claims);
}
