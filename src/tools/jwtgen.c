/*
 * jwtgen.c - key pairs, JWKS and signed JWTs for smoke tests (jwtgen.h).
 *
 * Everything goes through OpenSSL 3's EVP interfaces: keys are made with
 * EVP_PKEY_Q_keygen, their public parts read back as named parameters for
 * the JWK, and tokens signed with one-shot EVP_DigestSign (Ed25519 has no
 * streaming form).  ES256 is the one conversion: OpenSSL signs in DER,
 * JWS wants the raw r || s of 32 bytes each (RFC 7518, 3.4).
 */
#include "tools/jwtgen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/b64.h"

#define SIG_MAX	512	/* RSA up to 4096 bits */

static int __attribute__((format(printf, 3, 4)))
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Unpadded base64url of len bytes as a new JSON string. */
static json_t *
b64_json(const uint8_t *p, size_t len)
{
	char	buf[1024];

	if (b64url_enclen(len, B64_NOPAD) >= sizeof(buf))
		return NULL;
	b64url_encode(buf, p, len, B64_NOPAD);
	return json_string(buf);
}

/* A BIGNUM parameter of pkey, big-endian in size bytes (0: minimal). */
static json_t *
bn_json(const EVP_PKEY *pkey, const char *name, int size)
{
	BIGNUM	*bn = NULL;
	uint8_t	 buf[1024];
	int	 n;
	json_t	*j = NULL;

	if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1)
		return NULL;
	n = size > 0 ? BN_bn2binpad(bn, buf, size) :
	    (BN_num_bytes(bn) <= (int)sizeof(buf) ? BN_bn2bin(bn, buf) : -1);
	if (n > 0)
		j = b64_json(buf, (size_t)n);
	BN_free(bn);
	return j;
}

static json_t *
public_jwk(const EVP_PKEY *pkey, const char *alg)
{
	uint8_t	 raw[32];
	size_t	 len = sizeof(raw);

	if (strcmp(alg, "RS256") == 0)
		return json_pack("{s:s, s:o?, s:o?}", "kty", "RSA",
		    "n", bn_json(pkey, OSSL_PKEY_PARAM_RSA_N, 0),
		    "e", bn_json(pkey, OSSL_PKEY_PARAM_RSA_E, 0));
	if (strcmp(alg, "ES256") == 0)
		return json_pack("{s:s, s:s, s:o?, s:o?}", "kty", "EC",
		    "crv", "P-256",
		    "x", bn_json(pkey, OSSL_PKEY_PARAM_EC_PUB_X, 32),
		    "y", bn_json(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
	if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1 || len != 32)
		return NULL;
	return json_pack("{s:s, s:s, s:o?}", "kty", "OKP", "crv", "Ed25519",
	    "x", b64_json(raw, len));
}

static EVP_PKEY *
generate(const char *alg)
{
	if (strcmp(alg, "RS256") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (strcmp(alg, "ES256") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (strcmp(alg, "EdDSA") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return NULL;
}

int
jwtgen_keygen(const char *alg, const char *kid, const char *key_path,
    const char *jwks_path, char *err, size_t errlen)
{
	EVP_PKEY	*pkey = NULL;
	json_t		*jwk = NULL, *jwks = NULL;
	FILE		*f = NULL;
	int		 fd, rc = -1;

	if (strcmp(alg, "RS256") != 0 && strcmp(alg, "ES256") != 0 &&
	    strcmp(alg, "EdDSA") != 0)
		return fail(err, errlen, "--alg: expected RS256, ES256 or "
		    "EdDSA, got \"%s\"", alg);
	if ((pkey = generate(alg)) == NULL)
		return fail(err, errlen, "cannot generate a %s key", alg);
	if ((jwk = public_jwk(pkey, alg)) == NULL ||
	    json_object_set_new(jwk, "kid", json_string(kid)) == -1 ||
	    json_object_set_new(jwk, "use", json_string("sig")) == -1 ||
	    json_object_set_new(jwk, "alg", json_string(alg)) == -1 ||
	    (jwks = json_pack("{s:[O]}", "keys", jwk)) == NULL) {
		fail(err, errlen, "cannot build the JWK");
		goto done;
	}
	fd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || (f = fdopen(fd, "w")) == NULL) {
		fail(err, errlen, "%s: %s", key_path, strerror(errno));
		if (fd != -1)
			close(fd);
		goto done;
	}
	if (PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
	    fclose(f) != 0) {
		f = NULL;
		fail(err, errlen, "%s: cannot write the key", key_path);
		goto done;
	}
	f = NULL;
	if (json_dump_file(jwks, jwks_path, JSON_INDENT(1) |
	    JSON_PRESERVE_ORDER) == -1) {
		fail(err, errlen, "%s: cannot write the JWKS", jwks_path);
		goto done;
	}
	rc = 0;
done:
	if (f != NULL)
		fclose(f);
	json_decref(jwk);
	json_decref(jwks);
	EVP_PKEY_free(pkey);
	return rc;
}

/* The JWS alg of a private key, or NULL if it is not one we sign with. */
static const char *
key_alg(EVP_PKEY *pkey)
{
	char	group[64];

	if (EVP_PKEY_is_a(pkey, "RSA"))
		return EVP_PKEY_get_bits(pkey) >= 2048 ? "RS256" : NULL;
	if (EVP_PKEY_is_a(pkey, "ED25519"))
		return "EdDSA";
	if (EVP_PKEY_is_a(pkey, "EC") &&
	    EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
	    group, sizeof(group), NULL) == 1 &&
	    strcmp(group, "prime256v1") == 0)
		return "ES256";
	return NULL;
}

/* DER ECDSA signature -> r || s, 32 bytes each; 0 or -1. */
static int
ecdsa_raw(uint8_t *sig, size_t *len)
{
	const uint8_t	*p = sig;
	const BIGNUM	*r, *s;
	ECDSA_SIG	*es;
	int		 ok;

	if ((es = d2i_ECDSA_SIG(NULL, &p, (long)*len)) == NULL)
		return -1;
	ECDSA_SIG_get0(es, &r, &s);
	ok = BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(s, sig + 32,
	    32) == 32;
	ECDSA_SIG_free(es);
	*len = 64;
	return ok ? 0 : -1;
}

/* b64url(JSON of obj), compact; NULL on failure.  Steals obj. */
static char *
b64_of(json_t *obj)
{
	char	*js, *out = NULL;
	size_t	 len;

	if (obj == NULL)
		return NULL;
	js = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(obj);
	if (js == NULL)
		return NULL;
	len = strlen(js);
	if ((out = malloc(b64url_enclen(len, B64_NOPAD) + 1)) != NULL)
		b64url_encode(out, js, len, B64_NOPAD);
	free(js);
	return out;
}

char *
jwtgen_sign(const char *key_path, const char *kid, const char *iss,
    const char *aud, const char *sub, int64_t now, int64_t ttl, char *err,
    size_t errlen)
{
	EVP_PKEY	*pkey = NULL;
	EVP_MD_CTX	*ctx = NULL;
	FILE		*f;
	const char	*alg;
	char		*head = NULL, *body = NULL, *jwt = NULL, *input = NULL;
	uint8_t		 sig[SIG_MAX];
	size_t		 siglen = sizeof(sig), inlen;
	json_t		*h;

	if ((f = fopen(key_path, "r")) == NULL) {
		fail(err, errlen, "%s: %s", key_path, strerror(errno));
		return NULL;
	}
	pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (pkey == NULL) {
		fail(err, errlen, "%s: not a PEM private key", key_path);
		return NULL;
	}
	if ((alg = key_alg(pkey)) == NULL) {
		fail(err, errlen, "%s: not an RSA (>= 2048 bits), P-256 or "
		    "Ed25519 key", key_path);
		goto done;
	}
	h = json_pack("{s:s, s:s}", "alg", alg, "typ", "JWT");
	if (h != NULL && kid != NULL)
		json_object_set_new(h, "kid", json_string(kid));
	head = b64_of(h);
	body = b64_of(json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "iss", iss,
	    "sub", sub, "aud", aud, "iat", (json_int_t)now, "nbf",
	    (json_int_t)now, "exp", (json_int_t)(now + ttl)));
	if (head == NULL || body == NULL) {
		fail(err, errlen, "cannot encode the JWT");
		goto done;
	}
	inlen = strlen(head) + 1 + strlen(body);
	if ((input = malloc(inlen + 1)) == NULL) {
		fail(err, errlen, "out of memory");
		goto done;
	}
	snprintf(input, inlen + 1, "%s.%s", head, body);
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit_ex(ctx, NULL, strcmp(alg, "EdDSA") == 0 ?
	    NULL : "SHA256", NULL, NULL, pkey, NULL) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, (const uint8_t *)input,
	    inlen) != 1 ||
	    (strcmp(alg, "ES256") == 0 && ecdsa_raw(sig, &siglen) == -1)) {
		fail(err, errlen, "cannot sign with %s", key_path);
		goto done;
	}
	if ((jwt = malloc(inlen + 1 + b64url_enclen(siglen, B64_NOPAD) +
	    1)) == NULL) {
		fail(err, errlen, "out of memory");
		goto done;
	}
	memcpy(jwt, input, inlen);
	jwt[inlen] = '.';
	b64url_encode(jwt + inlen + 1, sig, siglen, B64_NOPAD);
done:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	free(head);
	free(body);
	free(input);
	return jwt;
}
