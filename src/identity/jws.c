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
 * before step 6.  JSON is parsed with duplicate members refused, so the
 * header or claims cannot say one thing to us and another to a different
 * parser, and with a nesting bound far below jansson's own.  Every failure
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
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "core/b64.h"
#include "config.h"
#include "identity/jwks.h"

#define ED25519_SIG_LEN	64
#define EMAIL_MAX	254	/* RFC 5321 path limit less the brackets */

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

static const char *const err_text[JWS_ERR_COUNT] = {
	[JWS_OK] = "ok",
	[JWS_ERR_TOO_LARGE] = "assertion too large",
	[JWS_ERR_MALFORMED] = "assertion is not three dot-separated parts "
	    "with a signature",
	[JWS_ERR_BASE64] = "assertion part is not unpadded base64url",
	[JWS_ERR_HEADER_TOO_LARGE] = "JWS header too large",
	[JWS_ERR_HEADER] = "JWS header is not valid JSON",
	[JWS_ERR_HEADER_NOT_OBJECT] = "JWS header is not a JSON object",
	[JWS_ERR_PAYLOAD] = "JWT payload is not valid JSON",
	[JWS_ERR_PAYLOAD_NOT_OBJECT] = "JWT payload is not a JSON object",
	[JWS_ERR_DUPLICATE_MEMBER] = "JSON member appears twice in the "
	    "header or claims",
	[JWS_ERR_JSON_DEPTH] = "JSON in the header or claims is nested too "
	    "deeply",
	[JWS_ERR_NUMBER_RANGE] = "number in the header or claims out of range",
	[JWS_ERR_ALG_MISSING] = "JWS header has no \"alg\"",
	[JWS_ERR_ALG_NONE] = "unsigned tokens (alg \"none\") are not accepted",
	[JWS_ERR_ALG_UNSUPPORTED] = "signature algorithm not supported",
	[JWS_ERR_CRIT] = "critical header extensions (crit) are not supported",
	[JWS_ERR_KID_TYPE] = "key id (kid) is not a string",
	[JWS_ERR_ISS_MISSING] = "no issuer (iss) claim",
	[JWS_ERR_ISS_UNKNOWN] = "issuer (iss) is not trusted",
	[JWS_ERR_HS_NO_SECRET] = "HMAC algorithm (HS256/HS384/HS512) not "
	    "accepted: the issuer has no shared secret",
	[JWS_ERR_ALG_DISALLOWED] = "algorithm not allowed for this issuer",
	[JWS_ERR_NO_KEYS] = "the issuer's keys are not available",
	[JWS_ERR_KID_UNKNOWN] = "unknown key id (kid)",
	[JWS_ERR_KEYS_REFRESHING] = "unknown key id (the issuer's key set is "
	    "being refreshed; retry)",
	[JWS_ERR_KID_REQUIRED] = "key id (kid) required: the issuer has "
	    "several keys",
	[JWS_ERR_NO_FITTING_KEY] = "no key of the issuer fits the algorithm",
	[JWS_ERR_KEY_MISMATCH] = "key type does not fit the algorithm",
	[JWS_ERR_CURVE_MISMATCH] = "key is on another curve than the "
	    "algorithm uses",
	[JWS_ERR_JWK_ALG_MISMATCH] = "key is published for another algorithm "
	    "(JWK alg)",
	[JWS_ERR_SIG_LENGTH] = "signature has the wrong length",
	[JWS_ERR_SIGNATURE] = "signature does not verify",
	[JWS_ERR_CLAIM_TYPE] = "time claim (exp, nbf, iat) is not an integer",
	[JWS_ERR_EXP_MISSING] = "no expiry (exp) claim",
	[JWS_ERR_EXPIRED] = "token expired",
	[JWS_ERR_NOT_YET_VALID] = "token not yet valid (nbf)",
	[JWS_ERR_IAT_FUTURE] = "token issued in the future (iat)",
	[JWS_ERR_AUD_TYPE] = "audience (aud) is not a string or an array of "
	    "strings",
	[JWS_ERR_AUDIENCE] = "audience (aud) does not name this service",
	[JWS_ERR_CLAIM_REQUIRED] = "a claim the issuer requires is missing or "
	    "has another value",
	[JWS_ERR_SUB_MISSING] = "subject (sub) missing, empty or too long",
	[JWS_ERR_EMAIL_MISSING] = "email claim missing, too long or not an "
	    "address",
	[JWS_ERR_SERVICE_NOT_ALLOWED] = "this issuer's assertions are not "
	    "accepted for this service",
	[JWS_ERR_INTERNAL] = "internal error while verifying",
};

/* The three parts of a compact JWS, decoded into one buffer. */
struct jws_parts {
	const char	*input;	/* header "." payload, as received */
	size_t		 inputlen;
	const uint8_t	*hdr, *pay, *sig;
	size_t		 hdrlen, paylen, siglen;
	/*
	 * Decoded parts take at most 3/4 of the characters plus 3 bytes each,
	 * so JWS_MAX_BYTES always suffices; decode_part checks anyway.
	 */
	uint8_t		 buf[JWS_MAX_BYTES];
	size_t		 used;
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

const char *
jws_strerror(enum jws_err e)
{
	if ((unsigned)e >= JWS_ERR_COUNT || err_text[e] == NULL)
		return "unknown JWS error";
	return err_text[e];
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

/* ---- splitting and decoding ---- */

/* Decodes in[0..len) into the parts buffer; NULL if not base64url. */
static const uint8_t *
decode_part(struct jws_parts *p, const char *in, size_t len, size_t *outlen)
{
	uint8_t	*out = p->buf + p->used;

	if (b64url_declen(len) > sizeof(p->buf) - p->used)
		return NULL;
	if (b64url_decode(out, outlen, in, len, B64_NOPAD) == -1)
		return NULL;
	p->used += *outlen;
	return out;
}

/*
 * Splits header.payload.signature.  An empty part is malformed, so an
 * unsigned token ("x.y.") fails here whatever its header says.
 */
static enum jws_err
split(const char *tok, size_t len, struct jws_parts *p)
{
	const char	*end = tok + len, *d1, *d2;

	if ((d1 = memchr(tok, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', (size_t)(end - d1 - 1))) == NULL ||
	    memchr(d2 + 1, '.', (size_t)(end - d2 - 1)) != NULL)
		return JWS_ERR_MALFORMED;
	if (d1 == tok || d2 == d1 + 1 || d2 + 1 == end)
		return JWS_ERR_MALFORMED;
	p->input = tok;
	p->inputlen = (size_t)(d2 - tok);
	p->used = 0;
	if ((p->hdr = decode_part(p, tok, (size_t)(d1 - tok),
	    &p->hdrlen)) == NULL ||
	    (p->pay = decode_part(p, d1 + 1, (size_t)(d2 - d1 - 1),
	    &p->paylen)) == NULL ||
	    (p->sig = decode_part(p, d2 + 1, (size_t)(end - d2 - 1),
	    &p->siglen)) == NULL)
		return JWS_ERR_BASE64;
	if (p->hdrlen > JWS_MAX_HEADER)
		return JWS_ERR_HEADER_TOO_LARGE;
	return JWS_OK;
}

/*
 * Whether arrays and objects in buf nest deeper than JWS_MAX_DEPTH,
 * brackets inside strings not counted.  jansson's own bound (2048) is
 * about its stack; ours says no honest JWT looks like that.  Malformed
 * JSON is left for jansson to refuse.
 */
static int
too_deep(const uint8_t *buf, size_t len)
{
	size_t	 i;
	int	 depth = 0, in_str = 0;

	for (i = 0; i < len; i++) {
		if (in_str) {
			if (buf[i] == '\\')
				i++;
			else if (buf[i] == '"')
				in_str = 0;
			continue;
		}
		switch (buf[i]) {
		case '"':
			in_str = 1;
			break;
		case '[':
		case '{':
			if (++depth > JWS_MAX_DEPTH)
				return 1;
			break;
		case ']':
		case '}':
			depth--;
			break;
		}
	}
	return 0;
}

/*
 * A JSON object from buf into *out.  What is wrong with it is told apart,
 * because each is its own kind of attack or mistake: duplicates (a second
 * parser might read the other member), depth, numbers out of range, not
 * JSON at all (bad_json), JSON but no object (not_object).
 */
static enum jws_err
load_object(const uint8_t *buf, size_t len, enum jws_err bad_json,
    enum jws_err not_object, json_t **out)
{
	json_error_t	 jerr;
	json_t		*j;

	*out = NULL;
	if (too_deep(buf, len))
		return JWS_ERR_JSON_DEPTH;
	/*
	 * jansson also refuses "\u0000" in strings unless told otherwise.
	 * JSON_DECODE_ANY: a bare string or number is JSON, just no object.
	 */
	j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES |
	    JSON_DECODE_ANY, &jerr);
	if (j == NULL) {
		switch (json_error_code(&jerr)) {
		case json_error_duplicate_key:
			return JWS_ERR_DUPLICATE_MEMBER;
		case json_error_numeric_overflow:
			return JWS_ERR_NUMBER_RANGE;
		case json_error_stack_overflow:
			return JWS_ERR_JSON_DEPTH;
		case json_error_out_of_memory:
			return JWS_ERR_INTERNAL;
		default:
			return bad_json;
		}
	}
	if (!json_is_object(j)) {
		json_decref(j);
		return not_object;
	}
	*out = j;
	return JWS_OK;
}

int
jws_json_str_eq(json_t *v, const char *want)
{
	size_t	 len = strlen(want);

	return json_is_string(v) && json_string_length(v) == len &&
	    memcmp(json_string_value(v), want, len) == 0;
}

/*
 * Reads alg and kid from the header.  kid points into hdr, or is NULL.
 * "none" is told apart in any case, since some libraries accept "None".
 */
static enum jws_err
check_header(json_t *hdr, enum jws_alg *alg, json_t **kid)
{
	json_t		*a = json_object_get(hdr, "alg");
	const char	*name;
	size_t		 len;

	if (!json_is_string(a))
		return JWS_ERR_ALG_MISSING;
	name = json_string_value(a);
	len = json_string_length(a);
	if (len == 4 && strncasecmp(name, "none", 4) == 0)
		return JWS_ERR_ALG_NONE;
	if (alg_lookup(name, len, alg) == -1)
		return JWS_ERR_ALG_UNSUPPORTED;
	/* RFC 7515 4.1.11: an extension we do not understand is fatal. */
	if (json_object_get(hdr, "crit") != NULL)
		return JWS_ERR_CRIT;
	*kid = json_object_get(hdr, "kid");
	if (*kid != NULL && !json_is_string(*kid))
		return JWS_ERR_KID_TYPE;
	return JWS_OK;
}

static enum jws_err
find_issuer(const struct issuer *issuers, size_t n, json_t *pay,
    const struct issuer **out)
{
	json_t	*iss = json_object_get(pay, "iss");
	size_t	 i;

	if (!json_is_string(iss))
		return JWS_ERR_ISS_MISSING;
	for (i = 0; i < n; i++)
		if (jws_json_str_eq(iss, issuers[i].iss)) {
			*out = &issuers[i];
			return JWS_OK;
		}
	return JWS_ERR_ISS_UNKNOWN;
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
static enum jws_err
key_fit(const struct jwk *key, enum jws_alg alg)
{
	int	 want = algs[alg].kty;

	if ((int)key->kty != want)
		return is_ec(want) && is_ec(key->kty) ?
		    JWS_ERR_CURVE_MISMATCH : JWS_ERR_KEY_MISMATCH;
	if (key->alg != NULL && strcmp(key->alg, algs[alg].name) != 0)
		return JWS_ERR_JWK_ALG_MISMATCH;
	return JWS_OK;
}

/*
 * With a kid, that key and no other.  Without one, guessing among several
 * keys would make the signature check a search, so a kid is then required.
 */
static enum jws_err
pick_key(const struct issuer *is, enum jws_alg alg, json_t *kid,
    const struct jwk **out)
{
	const struct jwks	*set = is->jwks;
	size_t			 i, nfit = 0;

	if (set == NULL || set->nkeys == 0)
		return JWS_ERR_NO_KEYS;
	if (kid != NULL) {
		for (i = 0; i < set->nkeys; i++)
			if (set->keys[i].kid != NULL &&
			    jws_json_str_eq(kid, set->keys[i].kid)) {
				*out = &set->keys[i];
				return key_fit(*out, alg);
			}
		return JWS_ERR_KID_UNKNOWN;
	}
	for (i = 0; i < set->nkeys; i++)
		if (key_fit(&set->keys[i], alg) == JWS_OK) {
			*out = &set->keys[i];
			nfit++;
		}
	if (nfit == 0)
		return JWS_ERR_NO_FITTING_KEY;
	return nfit == 1 ? JWS_OK : JWS_ERR_KID_REQUIRED;
}

/* ---- signatures ---- */

/*
 * Ed25519 signs the message itself (no prehash in OpenSSL 3.0), so it is
 * verified one-shot with a NULL digest on a context made for the call.
 * Any failure of the verify call itself is the token's fault; only a
 * failure to set up is internal.
 */
static enum jws_err
eddsa_verify(EVP_PKEY *pkey, const uint8_t *sig, size_t siglen,
    const void *tbs, size_t tbslen)
{
	EVP_MD_CTX	*ctx;
	enum jws_err	 rc = JWS_ERR_INTERNAL;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		goto fail;
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) != 1)
		goto fail;
	if (EVP_DigestVerify(ctx, sig, siglen, tbs, tbslen) == 1)
		rc = JWS_OK;
	else
		rc = JWS_ERR_SIGNATURE;
fail:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/*
 * JWS carries ECDSA signatures (and BrowserID DSA ones) as fixed-length
 * r || s; OpenSSL verifies DER, which for both is SEQUENCE { INTEGER r,
 * INTEGER s }.  The range of r and s is checked by OpenSSL's verification,
 * so any 2 * coord bytes may be converted.
 */
int
jws_rs_to_der(const uint8_t *sig, size_t coord, uint8_t der[JWS_RS_DER_MAX],
    size_t *derlen)
{
	ECDSA_SIG	*es = NULL;
	BIGNUM		*r, *s;
	uint8_t		*p = der;
	int		 n, rc = -1;

	r = BN_bin2bn(sig, (int)coord, NULL);
	s = BN_bin2bn(sig + coord, (int)coord, NULL);
	if (r == NULL || s == NULL || (es = ECDSA_SIG_new()) == NULL)
		goto fail;
	if (ECDSA_SIG_set0(es, r, s) != 1)
		goto fail;
	r = s = NULL;		/* owned by es now */
	n = i2d_ECDSA_SIG(es, NULL);
	if (n <= 0 || n > JWS_RS_DER_MAX || i2d_ECDSA_SIG(es, &p) != n)
		goto fail;
	*derlen = (size_t)n;
	rc = 0;
fail:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return rc;
}

/* Hashes input and checks sig over the digest with the key's ready ctx. */
static enum jws_err
prehash_verify(EVP_PKEY_CTX *vctx, const struct alg_def *a,
    const uint8_t *sig, size_t siglen, const void *input, size_t inputlen)
{
	const EVP_MD	*md = md_of(a->hash);
	uint8_t		 dgst[EVP_MAX_MD_SIZE];
	unsigned	 dlen;

	if (vctx == NULL || md == NULL ||
	    EVP_Digest(input, inputlen, dgst, &dlen, md, NULL) != 1)
		return JWS_ERR_INTERNAL;
	return EVP_PKEY_verify(vctx, sig, siglen, dgst, dlen) == 1 ? JWS_OK :
	    JWS_ERR_SIGNATURE;
}

static enum jws_err
verify_sig(const struct jwk *key, enum jws_alg alg, const void *input,
    size_t inputlen, const unsigned char *sig, size_t siglen)
{
	const struct alg_def	*a = &algs[alg];
	uint8_t			 der[JWS_RS_DER_MAX];
	size_t			 derlen;
	enum jws_err		 rc;

	if ((rc = key_fit(key, alg)) != JWS_OK)
		return rc;
	switch (a->kind) {
	case K_RSA_PKCS1:
	case K_RSA_PSS:
		/* Exactly the modulus length (RFC 8017 8.1.2, 8.2.2). */
		if (siglen != (size_t)EVP_PKEY_get_size(key->pkey))
			return JWS_ERR_SIG_LENGTH;
		return prehash_verify(key->vctx[alg], a, sig, siglen, input,
		    inputlen);
	case K_ECDSA:
		if (siglen != 2 * a->coord)
			return JWS_ERR_SIG_LENGTH;
		if (jws_rs_to_der(sig, a->coord, der, &derlen) == -1)
			return JWS_ERR_INTERNAL;
		return prehash_verify(key->vctx[alg], a, der, derlen, input,
		    inputlen);
	case K_EDDSA:
		if (siglen != ED25519_SIG_LEN)
			return JWS_ERR_SIG_LENGTH;
		return eddsa_verify(key->pkey, sig, siglen, input, inputlen);
	default:
		return JWS_ERR_KEY_MISMATCH;
	}
}

enum jws_err
jws_verify_sig(const struct jwk *key, enum jws_alg alg, const void *input,
    size_t inputlen, const unsigned char *sig, size_t siglen)
{
	enum jws_err	 rc;

	if ((unsigned)alg >= JWS_ALG_COUNT || algs[alg].kind == K_HMAC)
		return JWS_ERR_KEY_MISMATCH;
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

enum jws_err
jws_verify_hmac(const void *key, size_t keylen, enum jws_alg alg,
    const void *input, size_t inputlen, const unsigned char *sig,
    size_t siglen)
{
	uint8_t		 mac[EVP_MAX_MD_SIZE];
	unsigned	 maclen;
	const EVP_MD	*md;
	enum jws_err	 rc;

	if ((unsigned)alg >= JWS_ALG_COUNT || algs[alg].kind != K_HMAC)
		return JWS_ERR_KEY_MISMATCH;
	if (siglen != hash_lens[algs[alg].hash])
		return JWS_ERR_SIG_LENGTH;
	if ((md = md_of(algs[alg].hash)) == NULL ||
	    hmac(md, key, keylen, input, inputlen, mac, &maclen) == -1 ||
	    maclen != siglen)
		rc = JWS_ERR_INTERNAL;
	else
		rc = CRYPTO_memcmp(mac, sig, siglen) == 0 ? JWS_OK :
		    JWS_ERR_SIGNATURE;
	OPENSSL_cleanse(mac, sizeof(mac));
	ERR_clear_error();
	return rc;
}

/* ---- claims ---- */

/* An optional integer claim; a JSON real or string is a type error. */
static enum jws_err
int_claim(json_t *pay, const char *name, int *present, int64_t *v)
{
	json_t	*j = json_object_get(pay, name);

	*present = j != NULL;
	if (j == NULL)
		return JWS_OK;
	if (!json_is_integer(j))
		return JWS_ERR_CLAIM_TYPE;
	*v = json_integer_value(j);
	return JWS_OK;
}

int64_t
jws_sat_add(int64_t a, int64_t b)
{
	int64_t	 r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/*
 * exp + leeway <= now is written exp <= now - leeway (and nbf/iat alike)
 * so the client-chosen values are never part of an addition.
 */
static enum jws_err
check_times(json_t *pay, int64_t leeway, int64_t now, int64_t *exp)
{
	int64_t		 nbf, iat;
	int		 has;
	enum jws_err	 rc;

	if ((rc = int_claim(pay, "exp", &has, exp)) != JWS_OK)
		return rc;
	if (!has)
		return JWS_ERR_EXP_MISSING;
	if (*exp <= jws_sat_add(now, -leeway))
		return JWS_ERR_EXPIRED;
	if ((rc = int_claim(pay, "nbf", &has, &nbf)) != JWS_OK)
		return rc;
	if (has && nbf > jws_sat_add(now, leeway))
		return JWS_ERR_NOT_YET_VALID;
	if ((rc = int_claim(pay, "iat", &has, &iat)) != JWS_OK)
		return rc;
	if (has && iat > jws_sat_add(now, leeway))
		return JWS_ERR_IAT_FUTURE;
	return JWS_OK;
}

/* RFC 7519 4.1.3: one string, or an array of strings that names us. */
static enum jws_err
check_aud(json_t *pay, const char *audience)
{
	json_t	*aud = json_object_get(pay, "aud"), *v;
	size_t	 i;
	int	 found = 0;

	if (aud == NULL)
		return JWS_ERR_AUDIENCE;
	if (json_is_string(aud))
		return jws_json_str_eq(aud, audience) ? JWS_OK : JWS_ERR_AUDIENCE;
	if (!json_is_array(aud))
		return JWS_ERR_AUD_TYPE;
	json_array_foreach(aud, i, v) {
		if (!json_is_string(v))
			return JWS_ERR_AUD_TYPE;
		found |= jws_json_str_eq(v, audience);
	}
	return found ? JWS_OK : JWS_ERR_AUDIENCE;
}

/* The issuer's "require" list: booleans as booleans, else strings. */
static enum jws_err
check_required(json_t *pay, const struct issuer *is)
{
	const struct claim_req	*r;
	json_t			*v;
	size_t			 i;

	for (i = 0; i < is->nrequire; i++) {
		r = &is->require[i];
		v = json_object_get(pay, r->name);
		if (r->is_bool ? !json_is_boolean(v) ||
		    json_is_true(v) != r->bval : !jws_json_str_eq(v, r->sval))
			return JWS_ERR_CLAIM_REQUIRED;
	}
	return JWS_OK;
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

	if (len > EMAIL_MAX || at == NULL || at == s || at - s > 64)
		return 0;
	for (p = s; p < at; p++)
		if (*p <= ' ' || *p == 0x7f)
			return 0;
	for (p = at + 1; p <= end; p++) {
		if (p == end || *p == '.') {
			if (lablen == 0 || p[-1] == '-' || p[-lablen] == '-')
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

void
jws_email_fold(char *email)
{
	char	*p = strchr(email, '@');

	if (p == NULL)
		return;
	for (p++; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
}

/*
 * The identity: "sub" as it stands, or "email" with its domain folded to
 * lower case (jws_email_fold), so that one mailbox never becomes two uids.
 */
static enum jws_err
copy_identity(json_t *pay, const struct issuer *is, struct jwt_identity *id)
{
	int		 email = is->identity == IDENTITY_EMAIL;
	json_t		*v = json_object_get(pay, email ? "email" : "sub");
	enum jws_err	 missing = email ? JWS_ERR_EMAIL_MISSING :
			    JWS_ERR_SUB_MISSING;
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
		jws_email_fold(id->ident);
	return JWS_OK;
}

static enum jws_err
check_claims(json_t *pay, const struct issuer *is, int64_t now,
    struct jwt_identity *id)
{
	enum jws_err	 rc;

	if ((rc = check_times(pay, is->leeway, now, &id->exp)) != JWS_OK ||
	    (rc = check_aud(pay, is->audience)) != JWS_OK ||
	    (rc = check_required(pay, is)) != JWS_OK)
		return rc;
	return copy_identity(pay, is, id);
}

/* Steps 4 to 6: the issuer's policy for alg, then the signature. */
static enum jws_err
check_signature(const struct issuer *is, enum jws_alg alg, json_t *kid,
    const struct jws_parts *p)
{
	const struct jwk	*key;
	enum jws_err		 rc;

	if (algs[alg].kind == K_HMAC && is->hs_secret.len == 0)
		return JWS_ERR_HS_NO_SECRET;
	if ((is->algorithms & JWS_ALG_BIT(alg)) == 0)
		return JWS_ERR_ALG_DISALLOWED;
	/* HS*: the configured secret, whatever kid says. */
	if (algs[alg].kind == K_HMAC)
		return jws_verify_hmac(is->hs_secret.bytes, is->hs_secret.len,
		    alg, p->input, p->inputlen, p->sig, p->siglen);
	if ((rc = pick_key(is, alg, kid, &key)) != JWS_OK)
		return rc;
	return jws_verify_sig(key, alg, p->input, p->inputlen, p->sig,
	    p->siglen);
}

enum jws_err
jwt_verify(const struct issuer *issuers, size_t nissuers, const char *token,
    size_t len, int64_t now, struct jwt_identity *id)
{
	struct jws_parts	 p;
	json_t			*hdr = NULL, *pay = NULL, *kid = NULL;
	const struct issuer	*is;
	enum jws_alg		 alg;
	enum jws_err		 rc;

	id->issuer = NULL;
	if (len > JWS_MAX_BYTES)
		return JWS_ERR_TOO_LARGE;
	if ((rc = split(token, len, &p)) != JWS_OK)
		return rc;
	if ((rc = load_object(p.hdr, p.hdrlen, JWS_ERR_HEADER,
	    JWS_ERR_HEADER_NOT_OBJECT, &hdr)) != JWS_OK ||
	    (rc = check_header(hdr, &alg, &kid)) != JWS_OK)
		goto fail;
	if ((rc = load_object(p.pay, p.paylen, JWS_ERR_PAYLOAD,
	    JWS_ERR_PAYLOAD_NOT_OBJECT, &pay)) != JWS_OK ||
	    (rc = find_issuer(issuers, nissuers, pay, &is)) != JWS_OK)
		goto fail;
	id->issuer = is;
	if ((rc = check_signature(is, alg, kid, &p)) != JWS_OK)
		goto fail;
	rc = check_claims(pay, is, now, id);
fail:
	json_decref(hdr);
	json_decref(pay);
	return rc;
}
