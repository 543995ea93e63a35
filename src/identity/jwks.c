/*
 * jwks.c - turns an issuer's JSON Web Key Set (RFC 7517, RFC 7518 section
 * 6, RFC 8037) into ready EVP_PKEY objects, once per version of the set:
 * at config load, and in a worker whenever keys.c sees the file change or
 * fetches the set from the issuer's URL.
 *
 * Everything a worker later needs to verify a signature is decided here:
 * the key type, the curve (P-256, P-384, P-521, Ed25519), that an RSA
 * modulus is long enough and an EC point lies on its curve, and the
 * verification contexts of every algorithm the key may serve
 * (jws_key_prepare).  jws.c then only looks keys up by kid and type; it
 * never re-parses a JWK.  The set is often fetched from, or copied from,
 * an identity provider's URL, so it is parsed as untrusted input: bounded
 * in size and key count, duplicate JSON members and duplicate kids
 * refused, and every error names the key ("keys[2] (kid \"a\"): ...") so
 * the operator can find it.
 *
 * Only public keys are accepted.  A JWK carrying "d" is refused: a private
 * key in a trust store means someone published or copied the wrong file.
 */
#include "identity/jwks.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/params.h>

#include "core/b64.h"
#include "identity/jose.h"

#define EC_COORD_MAX	66	/* P-521 */
#define ED25519_KEY_LEN	32
#define RSA_E_MAX_LEN	8	/* a 64-bit exponent is already absurd */

/* Room for a decoded member of at most max bytes (b64url_declen slack). */
#define DECODE_BUF(max)	((max) + 3)
/*
 * Fixed-length members decode into twice their size, so that a near miss
 * (a dropped or extra zero byte) is reported with its actual length.
 */
#define FIXED_BUF(len)	DECODE_BUF(2 * (len))

/*
 * Optional string member: 0 with *out NULL when absent, -1 when present
 * but not a string.
 */
static int
opt_string(json_t *obj, const char *name, const char **out, char *why,
    size_t whylen)
{
	json_t	*v = json_object_get(obj, name);

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_string(v)) {
		jose_seterr(why, whylen, "\"%s\" is not a string", name);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

/*
 * Decodes the required base64url member name into buf (bufsize bytes);
 * a value that could decode to more than bufsize bytes is refused before
 * decoding.
 */
static int
b64_member(json_t *obj, const char *name, uint8_t *buf, size_t bufsize,
    size_t *outlen, char *why, size_t whylen)
{
	json_t		*v = json_object_get(obj, name);
	const char	*s;
	size_t		 len;

	if (v == NULL) {
		jose_seterr(why, whylen, "missing \"%s\"", name);
		return -1;
	}
	if (!json_is_string(v)) {
		jose_seterr(why, whylen, "\"%s\" is not a string", name);
		return -1;
	}
	s = json_string_value(v);
	len = json_string_length(v);
	if (b64url_declen(len) > bufsize) {
		jose_seterr(why, whylen, "\"%s\" is too long", name);
		return -1;
	}
	if (b64url_decode(buf, outlen, s, len, B64_NOPAD) == -1) {
		jose_seterr(why, whylen, "\"%s\" is not unpadded base64url",
		    name);
		return -1;
	}
	return 0;
}

/* Member name of a coordinate that must decode to exactly want bytes. */
static int
fixed_member(json_t *obj, const char *name, uint8_t *buf, size_t bufsize,
    size_t want, char *why, size_t whylen)
{
	size_t	 len;

	if (b64_member(obj, name, buf, bufsize, &len, why, whylen) == -1)
		return -1;
	if (len != want) {
		jose_seterr(why, whylen, "\"%s\" is %zu bytes, not %zu", name,
		    len, want);
		return -1;
	}
	return 0;
}

/*
 * The modulus bounds keep out keys too weak to trust (under 2048 bits) and
 * keys so large that each verification becomes a denial of service.  An
 * even or tiny exponent is no RSA key at all.
 */
static int
rsa_check(const BIGNUM *n, const BIGNUM *e, char *why, size_t whylen)
{
	int	 bits = BN_num_bits(n);

	if (bits < JWK_RSA_MIN_BITS) {
		jose_seterr(why, whylen, "RSA modulus of %d bits is under %d "
		    "bits", bits, JWK_RSA_MIN_BITS);
		return -1;
	}
	if (bits > JWK_RSA_MAX_BITS) {
		jose_seterr(why, whylen, "RSA modulus of %d bits is over %d "
		    "bits", bits, JWK_RSA_MAX_BITS);
		return -1;
	}
	if (!BN_is_odd(e) || BN_num_bits(e) < 2) {
		jose_seterr(why, whylen, "RSA exponent \"e\" is not an odd "
		    "number of at least 3");
		return -1;
	}
	return 0;
}

static EVP_PKEY *
rsa_key(json_t *obj, char *why, size_t whylen)
{
	uint8_t		 nbuf[DECODE_BUF(JWK_RSA_MAX_BITS / 8 + 1)];
	uint8_t		 ebuf[DECODE_BUF(RSA_E_MAX_LEN)];
	size_t		 nlen, elen;
	BIGNUM		*n = NULL, *e = NULL;
	OSSL_PARAM_BLD	*bld = NULL;
	OSSL_PARAM	*params = NULL;
	EVP_PKEY	*pkey = NULL;

	if (b64_member(obj, "n", nbuf, sizeof(nbuf), &nlen, why,
	    whylen) == -1 ||
	    b64_member(obj, "e", ebuf, sizeof(ebuf), &elen, why,
	    whylen) == -1)
		goto fail;
	if ((n = BN_bin2bn(nbuf, (int)nlen, NULL)) == NULL ||
	    (e = BN_bin2bn(ebuf, (int)elen, NULL)) == NULL) {
		jose_seterr(why, whylen, "out of memory");
		goto fail;
	}
	if (rsa_check(n, e, why, whylen) == -1)
		goto fail;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (pkey = jose_pkey_fromdata("RSA", params)) == NULL)
		jose_seterr(why, whylen, "OpenSSL refused the RSA key");
fail:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return pkey;
}

/*
 * A point off the curve is what invalid-curve attacks feed a verifier.
 * OpenSSL 3.0's EVP_PKEY_fromdata already refuses one (the tests show it);
 * the explicit public check states the requirement here rather than leave
 * it to an importer's detail, and also refuses the point at infinity.
 */
static int
ec_point_valid(EVP_PKEY *pkey)
{
	EVP_PKEY_CTX	*ctx;
	int		 ok;

	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL)
		return 0;
	ok = EVP_PKEY_public_check(ctx) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

/* The curves of RFC 7518 6.2.1.1, by JWK name. */
static const struct curve {
	const char	*crv;		/* JWK "crv" */
	const char	*group;		/* OpenSSL group name */
	size_t		 coord;		/* bytes of x and of y */
	enum jwk_kty	 kty;
} curves[] = {
	{ "P-256", "P-256", 32, JWK_KTY_EC_P256 },
	{ "P-384", "P-384", 48, JWK_KTY_EC_P384 },
	{ "P-521", "P-521", 66, JWK_KTY_EC_P521 },
};

static const struct curve *
curve_of(enum jwk_kty kty)
{
	size_t	 i;

	for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
		if (curves[i].kty == kty)
			return &curves[i];
	return NULL;
}

static EVP_PKEY *
ec_key(json_t *obj, const struct curve *c, char *why, size_t whylen)
{
	uint8_t		 x[FIXED_BUF(EC_COORD_MAX)];
	uint8_t		 y[FIXED_BUF(EC_COORD_MAX)];
	uint8_t		 point[1 + 2 * EC_COORD_MAX];
	OSSL_PARAM	 params[3];
	EVP_PKEY	*pkey;

	/* RFC 7518 6.2.1.2: coordinates are full length, zero-padded. */
	if (fixed_member(obj, "x", x, sizeof(x), c->coord, why,
	    whylen) == -1 ||
	    fixed_member(obj, "y", y, sizeof(y), c->coord, why,
	    whylen) == -1)
		return NULL;
	point[0] = 0x04;	/* SEC 1 uncompressed point */
	memcpy(point + 1, x, c->coord);
	memcpy(point + 1 + c->coord, y, c->coord);
	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_GROUP_NAME, (char *)c->group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
	    point, 1 + 2 * c->coord);
	params[2] = OSSL_PARAM_construct_end();
	pkey = jose_pkey_fromdata("EC", params);
	if (pkey != NULL && !ec_point_valid(pkey)) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	if (pkey == NULL)
		jose_seterr(why, whylen, "EC point (x, y) is not on curve %s",
		    c->crv);
	return pkey;
}

static EVP_PKEY *
ed25519_key(json_t *obj, char *why, size_t whylen)
{
	uint8_t		 x[FIXED_BUF(ED25519_KEY_LEN)];
	OSSL_PARAM	 params[2];
	EVP_PKEY	*pkey;

	if (fixed_member(obj, "x", x, sizeof(x), ED25519_KEY_LEN, why,
	    whylen) == -1)
		return NULL;
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
	    x, ED25519_KEY_LEN);
	params[1] = OSSL_PARAM_construct_end();
	if ((pkey = jose_pkey_fromdata("ED25519", params)) == NULL)
		jose_seterr(why, whylen, "OpenSSL refused the Ed25519 key");
	return pkey;
}

/* Picks the key type from kty and crv; -1 for anything unsupported. */
static int
jwk_type(json_t *obj, enum jwk_kty *kty, char *why, size_t whylen)
{
	const char	*k, *crv;
	size_t		 i;

	if (opt_string(obj, "kty", &k, why, whylen) == -1 ||
	    opt_string(obj, "crv", &crv, why, whylen) == -1)
		return -1;
	if (k == NULL) {
		jose_seterr(why, whylen, "missing \"kty\"");
		return -1;
	}
	if (strcmp(k, "RSA") == 0) {
		*kty = JWK_KTY_RSA;
		return 0;
	}
	if (strcmp(k, "EC") != 0 && strcmp(k, "OKP") != 0) {
		jose_seterr(why, whylen, "unsupported kty \"%.32s\"", k);
		return -1;
	}
	if (crv == NULL) {
		jose_seterr(why, whylen, "kty %s without \"crv\"", k);
		return -1;
	}
	if (strcmp(k, "OKP") == 0 && strcmp(crv, "Ed25519") == 0) {
		*kty = JWK_KTY_ED25519;
		return 0;
	}
	for (i = 0; strcmp(k, "EC") == 0 &&
	    i < sizeof(curves) / sizeof(curves[0]); i++)
		if (strcmp(crv, curves[i].crv) == 0) {
			*kty = curves[i].kty;
			return 0;
		}
	jose_seterr(why, whylen, "unsupported curve \"%.32s\" for kty %s", crv,
	    k);
	return -1;
}

/*
 * A JWK "alg" naming one of our algorithms for another key type (or an
 * HMAC algorithm for any public key) is an operator mistake worth
 * stopping at load.  Other values ("RSA-OAEP") are kept: such a key simply
 * never matches a token (jws.c compares "alg").
 */
static int
jwk_alg_check(const char *alg, enum jwk_kty kty, char *why, size_t whylen)
{
	enum jws_alg	 a;

	if (alg == NULL || jws_alg_parse(alg, &a) == -1)
		return 0;
	if (jws_alg_kty(a) != (int)kty) {
		jose_seterr(why, whylen, "\"alg\" %s does not fit the key type",
		    jws_alg_name(a));
		return -1;
	}
	return 0;
}

/*
 * Fills *key from one JWK.  Returns 1 for a key, 0 for one skipped ("use"
 * other than "sig"), -1 with a reason in why.
 */
static int
jwk_parse(json_t *obj, struct jwk *key, char *why, size_t whylen)
{
	const char	*use, *kid, *alg;
	enum jwk_kty	 kty;
	EVP_PKEY	*pkey = NULL;

	if (!json_is_object(obj)) {
		jose_seterr(why, whylen, "not a JSON object");
		return -1;
	}
	if (opt_string(obj, "use", &use, why, whylen) == -1 ||
	    opt_string(obj, "kid", &kid, why, whylen) == -1 ||
	    opt_string(obj, "alg", &alg, why, whylen) == -1)
		return -1;
	/* Encryption keys may share the set; they are not ours to judge. */
	if (use != NULL && strcmp(use, "sig") != 0)
		return 0;
	if (json_object_get(obj, "d") != NULL) {
		jose_seterr(why, whylen, "contains private key material "
		    "(\"d\")");
		return -1;
	}
	if (jwk_type(obj, &kty, why, whylen) == -1 ||
	    jwk_alg_check(alg, kty, why, whylen) == -1)
		return -1;
	switch (kty) {
	case JWK_KTY_RSA:
		pkey = rsa_key(obj, why, whylen);
		break;
	case JWK_KTY_EC_P256:
	case JWK_KTY_EC_P384:
	case JWK_KTY_EC_P521:
		pkey = ec_key(obj, curve_of(kty), why, whylen);
		break;
	case JWK_KTY_ED25519:
		pkey = ed25519_key(obj, why, whylen);
		break;
	}
	/* A refused key leaves OpenSSL errors queued; they are reported. */
	ERR_clear_error();
	if (pkey == NULL)
		return -1;
	key->kty = kty;
	key->pkey = pkey;
	if (jws_key_prepare(key) == -1) {
		jose_seterr(why, whylen, "OpenSSL cannot set up verification");
		return -1;	/* the caller frees the half-filled key */
	}
	key->kid = kid != NULL ? strdup(kid) : NULL;
	key->alg = alg != NULL ? strdup(alg) : NULL;
	if ((kid != NULL && key->kid == NULL) ||
	    (alg != NULL && key->alg == NULL)) {
		jose_seterr(why, whylen, "out of memory");
		return -1;	/* the caller frees the half-filled key */
	}
	return 1;
}

/* Index in set of an earlier key with this kid, or -1. */
static ssize_t
kid_index(const struct jwks *set, const char *kid)
{
	size_t	 i;

	for (i = 0; kid != NULL && i < set->nkeys; i++)
		if (set->keys[i].kid != NULL &&
		    strcmp(set->keys[i].kid, kid) == 0)
			return (ssize_t)i;
	return -1;
}

/* The kid of a JWK for error messages, whatever else is wrong with it. */
static const char *
raw_kid(json_t *obj)
{
	return json_string_value(json_object_get(obj, "kid"));
}

/* Parses keys[] into set; pos[] records each kept key's array index. */
static int
parse_keys(json_t *keys, struct jwks *set, char *err, size_t errlen)
{
	char		 why[200];
	size_t		 i, pos[JWKS_MAX_KEYS];
	json_t		*obj;
	struct jwk	*key;
	const char	*kid = NULL;
	ssize_t		 dup;
	int		 rc;

	json_array_foreach(keys, i, obj) {
		key = &set->keys[set->nkeys];
		kid = raw_kid(obj);
		if ((rc = jwk_parse(obj, key, why, sizeof(why))) == -1) {
			/* Count it so jwks_free releases a half-filled key. */
			set->nkeys++;
			goto fail;
		}
		if (rc == 0)
			continue;
		if ((dup = kid_index(set, key->kid)) != -1) {
			set->nkeys++;
			snprintf(why, sizeof(why), "duplicate kid, also in "
			    "keys[%zu]", pos[dup]);
			goto fail;
		}
		pos[set->nkeys++] = i;
	}
	if (json_array_size(keys) == 0) {
		jose_seterr(err, errlen, "\"keys\" is empty");
		return -1;
	}
	if (set->nkeys == 0) {
		jose_seterr(err, errlen, "no signature keys: every key has a "
		    "\"use\" other than \"sig\"");
		return -1;
	}
	return 0;
fail:
	if (kid != NULL)
		jose_seterr(err, errlen, "keys[%zu] (kid \"%.64s\"): %s", i,
		    kid, why);
	else
		jose_seterr(err, errlen, "keys[%zu]: %s", i, why);
	return -1;
}

struct jwks *
jwks_parse(const char *json, size_t len, char *err, size_t errlen)
{
	json_t		*root = NULL, *keys;
	json_error_t	 jerr;
	struct jwks	*set = NULL;
	size_t		 n;

	if (len > JWKS_MAX_BYTES) {
		jose_seterr(err, errlen, "JWKS of %zu bytes is over the limit "
		    "of %d bytes", len, JWKS_MAX_BYTES);
		goto fail;
	}
	if ((root = json_loadb(json, len, JSON_REJECT_DUPLICATES,
	    &jerr)) == NULL) {
		jose_seterr(err, errlen, "invalid JSON at line %d, column %d: "
		    "%s", jerr.line, jerr.column, jerr.text);
		goto fail;
	}
	if (!json_is_object(root)) {
		jose_seterr(err, errlen, "JWKS is not a JSON object");
		goto fail;
	}
	if (!json_is_array(keys = json_object_get(root, "keys"))) {
		jose_seterr(err, errlen, "\"keys\" is missing or not an array");
		goto fail;
	}
	if ((n = json_array_size(keys)) > JWKS_MAX_KEYS) {
		jose_seterr(err, errlen, "%zu keys, over the limit of %d", n,
		    JWKS_MAX_KEYS);
		goto fail;
	}
	if ((set = calloc(1, sizeof(*set))) == NULL ||
	    (set->keys = calloc(n > 0 ? n : 1, sizeof(*set->keys))) == NULL) {
		jose_seterr(err, errlen, "out of memory");
		goto fail;
	}
	if (parse_keys(keys, set, err, errlen) == -1)
		goto fail;
	json_decref(root);
	return set;
fail:
	json_decref(root);
	jwks_free(set);
	return NULL;
}

struct jwks *
jwks_load(const char *path, char *err, size_t errlen)
{
	char		 why[256];
	char		*buf;
	size_t		 len;
	struct jwks	*set;

	if ((buf = jose_read_file(path, JWKS_MAX_BYTES, &len, err,
	    errlen)) == NULL)
		return NULL;
	if ((set = jwks_parse(buf, len, why, sizeof(why))) == NULL)
		jose_seterr(err, errlen, "%s: %s", path, why);
	free(buf);
	return set;
}

void
jwks_free(struct jwks *set)
{
	size_t	 i;

	if (set == NULL)
		return;
	for (i = 0; set->keys != NULL && i < set->nkeys; i++) {
		free(set->keys[i].kid);
		free(set->keys[i].alg);
		jws_key_release(&set->keys[i]);
		EVP_PKEY_free(set->keys[i].pkey);
	}
	free(set->keys);
	free(set);
}
