/*
 * jws.c - verifies a client's assertion: a JWT (RFC 7519) in JWS compact
 * serialization (RFC 7515) signed with RS256, ES256 or EdDSA.
 *
 * The order of the checks is the security argument, so it is fixed here
 * and nowhere else:
 *
 *   1. bound the size, split into exactly three parts, decode each as
 *      strict unpadded base64url (one token has one spelling);
 *   2. the header: "alg" must be one we verify ("none" and HMAC never
 *      are, which closes the alg-confusion attacks), no "crit";
 *   3. the payload is parsed, but only "iss" is read from it, to pick the
 *      issuer whose keys and allowed algorithms apply;
 *   4. the key: by "kid", or the issuer's only key that fits the alg; its
 *      type (and JWK "alg") must fit the header's alg;
 *   5. the signature over the header and payload exactly as received;
 *   6. only now are the claims trusted: exp, nbf, iat, aud, sub.
 *
 * The payload is decoded before the signature is checked because the
 * unverified "iss" is what names the key; nothing else in it is believed
 * before step 5.  JSON is parsed with duplicate members refused, so the
 * header or claims cannot say one thing to us and another to a different
 * parser.  Every failure has its own code; a bad token is the client's
 * problem, so nothing here logs.  Keys come ready from jwks.c and are only
 * read, so concurrent calls are safe.
 */
#include "jws.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "b64.h"
#include "config.h"
#include "jwks.h"

#define ES256_SIG_LEN	64	/* r || s, 32 bytes each, RFC 7518 3.4 */
#define ED25519_SIG_LEN	64
#define ECDSA_DER_MAX	80	/* two 33-byte INTEGERs take 72 */

static const char *const alg_names[JWS_ALG_COUNT] = {
	[JWS_ALG_RS256] = "RS256",
	[JWS_ALG_ES256] = "ES256",
	[JWS_ALG_EDDSA] = "EdDSA",
};

/* The only key type each algorithm is verified with. */
static const enum jwk_kty alg_kty[JWS_ALG_COUNT] = {
	[JWS_ALG_RS256] = JWK_KTY_RSA,
	[JWS_ALG_ES256] = JWK_KTY_EC_P256,
	[JWS_ALG_EDDSA] = JWK_KTY_ED25519,
};

static const char *const err_text[JWS_ERR_COUNT] = {
	[JWS_OK] = "ok",
	[JWS_ERR_TOO_LARGE] = "assertion too large",
	[JWS_ERR_MALFORMED] = "assertion is not three dot-separated parts "
	    "with a signature",
	[JWS_ERR_BASE64] = "assertion part is not unpadded base64url",
	[JWS_ERR_HEADER] = "JWS header is not a valid JSON object",
	[JWS_ERR_PAYLOAD] = "JWT payload is not a valid JSON object",
	[JWS_ERR_ALG_MISSING] = "JWS header has no \"alg\"",
	[JWS_ERR_ALG_NONE] = "unsigned tokens (alg \"none\") are not accepted",
	[JWS_ERR_ALG_UNSUPPORTED] = "signature algorithm not supported",
	[JWS_ERR_CRIT] = "critical header extensions (crit) are not supported",
	[JWS_ERR_ISS_MISSING] = "no issuer (iss) claim",
	[JWS_ERR_ISS_UNKNOWN] = "issuer (iss) is not trusted",
	[JWS_ERR_ALG_DISALLOWED] = "algorithm not allowed for this issuer",
	[JWS_ERR_KID_UNKNOWN] = "unknown key id (kid)",
	[JWS_ERR_KID_REQUIRED] = "key id (kid) required: the issuer has "
	    "several keys",
	[JWS_ERR_KEY_MISMATCH] = "key does not fit the algorithm",
	[JWS_ERR_SIG_LENGTH] = "signature has the wrong length",
	[JWS_ERR_SIGNATURE] = "signature does not verify",
	[JWS_ERR_CLAIM_TYPE] = "claim has the wrong type",
	[JWS_ERR_EXP_MISSING] = "no expiry (exp) claim",
	[JWS_ERR_EXPIRED] = "token expired",
	[JWS_ERR_NOT_YET_VALID] = "token not yet valid (nbf)",
	[JWS_ERR_IAT_FUTURE] = "token issued in the future (iat)",
	[JWS_ERR_AUDIENCE] = "audience (aud) does not name this service",
	[JWS_ERR_SUB_MISSING] = "subject (sub) missing, empty or too long",
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

const char *
jws_alg_name(enum jws_alg alg)
{
	if ((unsigned)alg >= JWS_ALG_COUNT)
		return "unknown";
	return alg_names[alg];
}

/* Exact, case-sensitive match on name[0..len) (RFC 7515 4.1.1). */
static int
alg_lookup(const char *name, size_t len, enum jws_alg *out)
{
	int	 a;

	for (a = 0; a < JWS_ALG_COUNT; a++)
		if (strlen(alg_names[a]) == len &&
		    memcmp(alg_names[a], name, len) == 0) {
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

const char *
jws_strerror(enum jws_err e)
{
	if ((unsigned)e >= JWS_ERR_COUNT || err_text[e] == NULL)
		return "unknown JWS error";
	return err_text[e];
}

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
	return JWS_OK;
}

/* A JSON object from buf, or NULL for bad JSON, duplicates or non-object. */
static json_t *
load_object(const uint8_t *buf, size_t len)
{
	json_error_t	 jerr;
	json_t		*j;

	/* jansson also refuses "\u0000" in strings unless told otherwise. */
	j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* Whether the JSON string v equals want, by length and bytes. */
static int
json_str_eq(json_t *v, const char *want)
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
		return JWS_ERR_HEADER;
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
		if (json_str_eq(iss, issuers[i].iss)) {
			*out = &issuers[i];
			return JWS_OK;
		}
	return JWS_ERR_ISS_UNKNOWN;
}

/* A key may verify alg if its type fits and its own "alg", if any, agrees. */
static int
key_fits(const struct jwk *key, enum jws_alg alg)
{
	return key->kty == alg_kty[alg] &&
	    (key->alg == NULL || strcmp(key->alg, alg_names[alg]) == 0);
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

	if (set == NULL)
		return JWS_ERR_KID_UNKNOWN;
	for (i = 0; kid != NULL && i < set->nkeys; i++)
		if (set->keys[i].kid != NULL &&
		    json_str_eq(kid, set->keys[i].kid)) {
			*out = &set->keys[i];
			return key_fits(*out, alg) ? JWS_OK :
			    JWS_ERR_KEY_MISMATCH;
		}
	if (kid != NULL)
		return JWS_ERR_KID_UNKNOWN;
	for (i = 0; i < set->nkeys; i++)
		if (key_fits(&set->keys[i], alg)) {
			*out = &set->keys[i];
			nfit++;
		}
	if (nfit == 0)
		return JWS_ERR_KID_UNKNOWN;
	return nfit == 1 ? JWS_OK : JWS_ERR_KID_REQUIRED;
}

/*
 * One verification with a fresh context.  Any failure of the verify call
 * itself is the token's fault (OpenSSL returns -1 for some malformed
 * signatures); only a failure to set up is internal.  The error queue is
 * cleared so that a client's bad signature leaves nothing behind in it.
 */
static enum jws_err
digest_verify(EVP_PKEY *pkey, const EVP_MD *md, const uint8_t *sig,
    size_t siglen, const void *tbs, size_t tbslen)
{
	EVP_MD_CTX	*ctx;
	enum jws_err	 rc = JWS_ERR_INTERNAL;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		goto fail;
	if (EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) != 1)
		goto fail;
	if (EVP_DigestVerify(ctx, sig, siglen, tbs, tbslen) == 1)
		rc = JWS_OK;
	else
		rc = JWS_ERR_SIGNATURE;
fail:
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

/*
 * JWS carries ECDSA signatures as fixed-length r || s; OpenSSL verifies
 * DER.  The range of r and s (0 < r, s < order) is checked by OpenSSL's
 * verification, so any 64 bytes may be converted.
 */
static int
es256_to_der(const uint8_t sig[ES256_SIG_LEN], uint8_t der[ECDSA_DER_MAX],
    size_t *derlen)
{
	ECDSA_SIG	*es = NULL;
	BIGNUM		*r, *s;
	uint8_t		*p = der;
	int		 n, rc = -1;

	r = BN_bin2bn(sig, ES256_SIG_LEN / 2, NULL);
	s = BN_bin2bn(sig + ES256_SIG_LEN / 2, ES256_SIG_LEN / 2, NULL);
	if (r == NULL || s == NULL || (es = ECDSA_SIG_new()) == NULL)
		goto fail;
	if (ECDSA_SIG_set0(es, r, s) != 1)
		goto fail;
	r = s = NULL;		/* owned by es now */
	n = i2d_ECDSA_SIG(es, NULL);
	if (n <= 0 || n > ECDSA_DER_MAX || i2d_ECDSA_SIG(es, &p) != n)
		goto fail;
	*derlen = (size_t)n;
	rc = 0;
fail:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return rc;
}

enum jws_err
jws_verify_sig(const struct jwk *key, enum jws_alg alg, const void *input,
    size_t inputlen, const unsigned char *sig, size_t siglen)
{
	uint8_t	 der[ECDSA_DER_MAX];
	size_t	 derlen;

	if ((unsigned)alg >= JWS_ALG_COUNT || !key_fits(key, alg))
		return JWS_ERR_KEY_MISMATCH;
	switch (alg) {
	case JWS_ALG_RS256:
		/* PKCS #1 v1.5: exactly the modulus length (RFC 8017 8.2.2). */
		if (siglen != (size_t)EVP_PKEY_get_size(key->pkey))
			return JWS_ERR_SIG_LENGTH;
		return digest_verify(key->pkey, EVP_sha256(), sig, siglen,
		    input, inputlen);
	case JWS_ALG_ES256:
		if (siglen != ES256_SIG_LEN)
			return JWS_ERR_SIG_LENGTH;
		if (es256_to_der(sig, der, &derlen) == -1)
			return JWS_ERR_INTERNAL;
		return digest_verify(key->pkey, EVP_sha256(), der, derlen,
		    input, inputlen);
	case JWS_ALG_EDDSA:
		if (siglen != ED25519_SIG_LEN)
			return JWS_ERR_SIG_LENGTH;
		/* Ed25519 hashes internally: one-shot, no digest. */
		return digest_verify(key->pkey, NULL, sig, siglen, input,
		    inputlen);
	default:
		return JWS_ERR_KEY_MISMATCH;
	}
}

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

/* a + b clamped to the int64_t range, so no claim value can overflow. */
static int64_t
sat_add(int64_t a, int64_t b)
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
	if (*exp <= sat_add(now, -leeway))
		return JWS_ERR_EXPIRED;
	if ((rc = int_claim(pay, "nbf", &has, &nbf)) != JWS_OK)
		return rc;
	if (has && nbf > sat_add(now, leeway))
		return JWS_ERR_NOT_YET_VALID;
	if ((rc = int_claim(pay, "iat", &has, &iat)) != JWS_OK)
		return rc;
	if (has && iat > sat_add(now, leeway))
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
		return json_str_eq(aud, audience) ? JWS_OK : JWS_ERR_AUDIENCE;
	if (!json_is_array(aud))
		return JWS_ERR_CLAIM_TYPE;
	json_array_foreach(aud, i, v) {
		if (!json_is_string(v))
			return JWS_ERR_CLAIM_TYPE;
		found |= json_str_eq(v, audience);
	}
	return found ? JWS_OK : JWS_ERR_AUDIENCE;
}

static enum jws_err
copy_sub(json_t *pay, struct jwt_identity *id)
{
	json_t	*sub = json_object_get(pay, "sub");
	size_t	 len;

	if (!json_is_string(sub))
		return JWS_ERR_SUB_MISSING;
	len = json_string_length(sub);
	if (len == 0 || len > JWT_MAX_SUB)
		return JWS_ERR_SUB_MISSING;
	memcpy(id->sub, json_string_value(sub), len);
	id->sub[len] = '\0';
	return JWS_OK;
}

static enum jws_err
check_claims(json_t *pay, const struct issuer *is, int64_t now,
    struct jwt_identity *id)
{
	enum jws_err	 rc;

	if ((rc = check_times(pay, is->leeway, now, &id->exp)) != JWS_OK ||
	    (rc = check_aud(pay, is->audience)) != JWS_OK ||
	    (rc = copy_sub(pay, id)) != JWS_OK)
		return rc;
	id->issuer = is;
	return JWS_OK;
}

enum jws_err
jwt_verify(const struct issuer *issuers, size_t nissuers, const char *token,
    size_t len, int64_t now, struct jwt_identity *id)
{
	struct jws_parts	 p;
	json_t			*hdr = NULL, *pay = NULL, *kid = NULL;
	const struct issuer	*is;
	const struct jwk	*key;
	enum jws_alg		 alg;
	enum jws_err		 rc;

	if (len > JWS_MAX_BYTES)
		return JWS_ERR_TOO_LARGE;
	if ((rc = split(token, len, &p)) != JWS_OK)
		return rc;
	if ((hdr = load_object(p.hdr, p.hdrlen)) == NULL) {
		rc = JWS_ERR_HEADER;
		goto fail;
	}
	if ((rc = check_header(hdr, &alg, &kid)) != JWS_OK)
		goto fail;
	if ((pay = load_object(p.pay, p.paylen)) == NULL) {
		rc = JWS_ERR_PAYLOAD;
		goto fail;
	}
	if ((rc = find_issuer(issuers, nissuers, pay, &is)) != JWS_OK)
		goto fail;
	if ((is->algorithms & JWS_ALG_BIT(alg)) == 0) {
		rc = JWS_ERR_ALG_DISALLOWED;
		goto fail;
	}
	if ((rc = pick_key(is, alg, kid, &key)) != JWS_OK ||
	    (rc = jws_verify_sig(key, alg, p.input, p.inputlen, p.sig,
	    p.siglen)) != JWS_OK)
		goto fail;
	rc = check_claims(pay, is, now, id);
fail:
	json_decref(hdr);
	json_decref(pay);
	return rc;
}
