/*
 * test_jws.c - JWT verification (src/jws.c).
 *
 * Three kinds of evidence.  Published vectors (RFC 7515 A.2 and A.3, RFC
 * 8037 A.4) show the signature code agrees with the rest of the world; the
 * RFC payloads are not our kind of JWT, so the tests show how far each gets
 * (past the signature, into the claims).  Tokens signed here with the
 * committed test keys (tests/unit/vectors) show valid RS256, ES256 and
 * EdDSA assertions pass and yield the subject.  Then every rejection: each
 * token is built by the same code as a valid one with exactly one thing
 * changed, and must fail with its own code, so a verifier that accepted
 * everything, or refused everything, could not pass.
 *
 * All tokens are checked at the fixed time NOW; the test issuer allows 60
 * seconds of leeway.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "b64.h"
#include "config.h"
#include "jwks.h"
#include "jws.h"

#define NOW	INT64_C(1700000000)
#define LEEWAY	60
#define SIG_MAX	1024

#define TEST_ISS "https://idp.example"
#define TEST_AUD "tokend"
#define TEST_SUB "alice@example.com"

/* RFC 7515 A.2 (RS256) and A.3 (ES256), both over the same payload. */
#define RFC_PAYLOAD "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0" \
    "dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
#define RFC_EXP	INT64_C(1300819380)
#define A2_JWS	"eyJhbGciOiJSUzI1NiJ9." RFC_PAYLOAD "." \
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7" \
    "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4" \
    "BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K" \
    "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv" \
    "hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB" \
    "p0igcN_IoypGlUPQGe77Rw"
#define A3_JWS	"eyJhbGciOiJFUzI1NiJ9." RFC_PAYLOAD "." \
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSA" \
    "pmWQxfKTUJqPP3-Kg6NU1Q"
/* RFC 8037 A.4: Ed25519 over the payload "Example of Ed25519 signing". */
#define A4_INPUT "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
#define A4_SIG	"hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4" \
    "ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
#define A4_JWS	A4_INPUT "." A4_SIG
/* RFC 8037 A.1: the private key d (the seed) of that Ed25519 key. */
#define A1_D	"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"

/* The configured issuers; struct issuer is built by hand, not by config.c. */
enum {
	ISS_TEST,	/* vectors/jwks.json: rsa1, ec1, ed1; all algorithms */
	ISS_JOE,	/* RFC 7515 keys, iss "joe" */
	ISS_ED,		/* RFC 8037 key, no kid */
	ISS_RSAONLY,	/* vectors/jwks.json, RS256 only */
	ISS_TWO,	/* two RSA keys */
	ISS_PS,		/* rsa1 published with JWK "alg":"PS256" */
	NISSUERS
};

static struct issuer	 issuers[NISSUERS];
static struct jwks	*sets[NISSUERS];	/* owned, one per issuer */
static EVP_PKEY		*k_rsa, *k_ec, *k_ed, *k_rfc8037;
static char		 err[512];

/* Fixed inputs live in tests/unit/vectors, beside this file. */
static const char *
vec(const char *name)
{
	static char	 path[PATH_MAX];
	const char	*dir = getenv("TOKEND_VECTORS");
	const char	*slash = strrchr(__FILE__, '/');

	if (dir != NULL)
		snprintf(path, sizeof(path), "%s/%s", dir, name);
	else
		snprintf(path, sizeof(path), "%.*s/vectors/%s",
		    slash ? (int)(slash - __FILE__) : 1,
		    slash ? __FILE__ : ".", name);
	return path;
}

static char *
b64(const void *in, size_t len)
{
	char	*out = malloc(b64url_enclen(len, B64_NOPAD) + 1);

	assert_non_null(out);
	b64url_encode(out, in, len, B64_NOPAD);
	return out;
}

static char *
join3(const char *a, const char *b, const char *c)
{
	char	*s;

	assert_true(asprintf(&s, "%s.%s.%s", a, b, c) > 0);
	return s;
}

/* A decimal integer as JSON; a ring of buffers serves one token's claims. */
static const char *
num(int64_t v)
{
	static char	 ring[8][24];
	static int	 next;
	char		*s = ring[next++ % 8];

	snprintf(s, sizeof(ring[0]), "%lld", (long long)v);
	return s;
}

/* ---- signing, as an issuer would ---- */

static size_t
der_to_raw(uint8_t *sig, size_t len)
{
	const uint8_t	*p = sig;
	ECDSA_SIG	*es = d2i_ECDSA_SIG(NULL, &p, (long)len);
	const BIGNUM	*r, *s;

	assert_non_null(es);
	ECDSA_SIG_get0(es, &r, &s);
	assert_int_equal(BN_bn2binpad(r, sig, 32), 32);
	assert_int_equal(BN_bn2binpad(s, sig + 32, 32), 32);
	ECDSA_SIG_free(es);
	return 64;
}

/* Signs input with key for alg; ES256 comes out as JWS raw r || s. */
static size_t
sign_input(EVP_PKEY *key, enum jws_alg alg, const char *input,
    uint8_t sig[SIG_MAX])
{
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();
	size_t		 len = SIG_MAX;

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL,
	    alg == JWS_ALG_EDDSA ? NULL : EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestSign(ctx, sig, &len,
	    (const uint8_t *)input, strlen(input)), 1);
	EVP_MD_CTX_free(ctx);
	return alg == JWS_ALG_ES256 ? der_to_raw(sig, len) : len;
}

/* hdr_json.payload_json signed with key: a complete compact JWS. */
static char *
sign_json(const char *hdr_json, const char *pay_json, EVP_PKEY *key,
    enum jws_alg alg)
{
	char	*h = b64(hdr_json, strlen(hdr_json));
	char	*p = b64(pay_json, strlen(pay_json));
	char	*input, *s, *tok;
	uint8_t	 sig[SIG_MAX];
	size_t	 len;

	assert_true(asprintf(&input, "%s.%s", h, p) > 0);
	len = sign_input(key, alg, input, sig);
	s = b64(sig, len);
	tok = join3(h, p, s);
	free(h);
	free(p);
	free(s);
	free(input);
	return tok;
}

/* Raw JSON values of the claims; NULL leaves the claim out. */
struct claims {
	const char	*iss, *aud, *sub, *iat, *nbf, *exp;
	const char	*extra;		/* more "name":value members */
};

static struct claims
std_claims(void)
{
	struct claims	 c = {
		.iss = "\"" TEST_ISS "\"",
		.aud = "\"" TEST_AUD "\"",
		.sub = "\"" TEST_SUB "\"",
		.iat = num(NOW - 10),
		.exp = num(NOW + 300),
	};

	return c;
}

static char *
claims_json(const struct claims *c)
{
	const char	*names[] = {
			    "iss", "aud", "sub", "iat", "nbf", "exp" };
	const char	*vals[] = { c->iss, c->aud, c->sub, c->iat, c->nbf,
			    c->exp };
	char		*buf = NULL;
	size_t		 len, i;
	const char	*sep = "";
	FILE		*f = open_memstream(&buf, &len);

	assert_non_null(f);
	fputc('{', f);
	for (i = 0; i < 6; i++)
		if (vals[i] != NULL) {
			fprintf(f, "%s\"%s\":%s", sep, names[i], vals[i]);
			sep = ",";
		}
	if (c->extra != NULL)
		fprintf(f, "%s%s", sep, c->extra);
	fputc('}', f);
	fclose(f);
	return buf;
}

static EVP_PKEY *
key_for(enum jws_alg alg)
{
	return alg == JWS_ALG_RS256 ? k_rsa : alg == JWS_ALG_ES256 ? k_ec :
	    k_ed;
}

static const char *
kid_for(enum jws_alg alg)
{
	return alg == JWS_ALG_RS256 ? "rsa1" : alg == JWS_ALG_ES256 ? "ec1" :
	    "ed1";
}

/* {"alg":alg,"kid":kid} signed with the test key of alg. */
static char *
token_kid(enum jws_alg alg, const char *kid, const struct claims *c)
{
	char	 hdr[128], *pay = claims_json(c), *tok;

	if (kid != NULL)
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"%s\"}",
		    jws_alg_name(alg), kid);
	else
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\"}",
		    jws_alg_name(alg));
	tok = sign_json(hdr, pay, key_for(alg), alg);
	free(pay);
	return tok;
}

static char *
token(enum jws_alg alg, const struct claims *c)
{
	return token_kid(alg, kid_for(alg), c);
}

/* A valid RS256 token but for its header, signed as RS256 all the same. */
static char *
token_hdr(const char *hdr_json)
{
	struct claims	 c = std_claims();
	char		*pay = claims_json(&c), *tok;

	tok = sign_json(hdr_json, pay, k_rsa, JWS_ALG_RS256);
	free(pay);
	return tok;
}

/* ---- token surgery ---- */

static size_t
get_sig(const char *tok, uint8_t sig[SIG_MAX])
{
	const char	*s = strrchr(tok, '.') + 1;
	size_t		 len;

	assert_true(b64url_declen(strlen(s)) <= SIG_MAX);
	assert_int_equal(b64url_decode(sig, &len, s, strlen(s), B64_NOPAD), 0);
	return len;
}

/* tok with its signature replaced by sig[0..len); frees tok. */
static char *
set_sig(char *tok, const uint8_t *sig, size_t len)
{
	char	*s = b64(sig, len), *out;

	*strrchr(tok, '.') = '\0';
	assert_true(asprintf(&out, "%s.%s", tok, s) > 0);
	free(s);
	free(tok);
	return out;
}

/* ---- checking ---- */

static enum jws_err
verify_at(const char *tok, int64_t now, struct jwt_identity *id)
{
	return jwt_verify(issuers, NISSUERS, tok, strlen(tok), now, id);
}

/* Asserts tok gets want at NOW, then frees tok. */
#define expect(tok, want)	expect_at(tok, NOW, want, __FILE__, __LINE__)

static void
expect_at(char *tok, int64_t now, enum jws_err want, const char *file,
    int line)
{
	struct jwt_identity	 id;
	enum jws_err		 got = verify_at(tok, now, &id);

	if (got != want) {
		print_error("token %.120s%s\n got  %d (%s)\n want %d (%s)\n",
		    tok, strlen(tok) > 120 ? "..." : "", got,
		    jws_strerror(got), want, jws_strerror(want));
		free(tok);
		_fail(file, line);
	}
	/* A refused token must leave nothing in OpenSSL's error queue. */
	assert_int_equal(ERR_peek_error(), 0);
	free(tok);
}

/* Asserts a token made from claims c by alg gets want. */
#define expect_claims(alg, c, want) \
	expect_at(token(alg, c), NOW, want, __FILE__, __LINE__)

/* ---- fixtures ---- */

static EVP_PKEY *
load_pem(const char *name)
{
	FILE		*f = fopen(vec(name), "r");
	EVP_PKEY	*k;

	if (f == NULL)
		fail_msg("%s: cannot open", vec(name));
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(k);
	return k;
}

static struct jwks *
load_set(const char *name)
{
	struct jwks	*set = jwks_load(vec(name), err, sizeof(err));

	if (set == NULL)
		fail_msg("%s", err);
	return set;
}

/* The base64url modulus of the test RSA key, for hand-made JWKS. */
static char *
rsa_n(void)
{
	BIGNUM	*n = NULL;
	uint8_t	 buf[512];
	int	 len;
	char	*s;

	assert_int_equal(EVP_PKEY_get_bn_param(k_rsa, OSSL_PKEY_PARAM_RSA_N,
	    &n), 1);
	len = BN_bn2bin(n, buf);
	s = b64(buf, (size_t)len);
	BN_free(n);
	return s;
}

static struct jwks *
rsa_set(const char *fmt)
{
	char		*n = rsa_n(), *json;
	struct jwks	*set;

	assert_true(asprintf(&json, fmt, n) > 0);
	if ((set = jwks_parse(json, strlen(json), err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	free(json);
	free(n);
	return set;
}

static void
set_issuer(int i, const char *iss, struct jwks *set, unsigned algs,
    int64_t leeway)
{
	issuers[i].name = (char *)iss;
	issuers[i].iss = (char *)iss;
	issuers[i].audience = (char *)TEST_AUD;
	issuers[i].jwks = set;
	issuers[i].algorithms = algs;
	issuers[i].leeway = leeway;
}

static int
setup(void **state)
{
	unsigned	 all = JWS_ALG_BIT(JWS_ALG_RS256) |
			    JWS_ALG_BIT(JWS_ALG_ES256) |
			    JWS_ALG_BIT(JWS_ALG_EDDSA);
	uint8_t		 d[35];
	size_t		 dlen;

	k_rsa = load_pem("rsa.pem");
	k_ec = load_pem("ec.pem");
	k_ed = load_pem("ed25519.pem");
	assert_int_equal(b64url_decode(d, &dlen, A1_D, strlen(A1_D),
	    B64_NOPAD), 0);
	k_rfc8037 = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, d,
	    dlen);
	assert_non_null(k_rfc8037);

	sets[ISS_TEST] = load_set("jwks.json");
	sets[ISS_JOE] = load_set("rfc7515.jwks.json");
	sets[ISS_ED] = load_set("rfc8037.jwks.json");
	sets[ISS_RSAONLY] = load_set("jwks.json");
	sets[ISS_TWO] = rsa_set("{\"keys\":["
	    "{\"kty\":\"RSA\",\"kid\":\"rsa1\",\"e\":\"AQAB\",\"n\":\"%s\"},"
	    "{\"kty\":\"RSA\",\"kid\":\"a2\",\"e\":\"AQAB\",\"n\":\""
	    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-V"
	    "aw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b"
	    "32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-K"
	    "XBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5"
	    "IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb5"
	    "4h4FRWyuXpoQ\"}]}");
	sets[ISS_PS] = rsa_set("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"rsa1\","
	    "\"alg\":\"PS256\",\"e\":\"AQAB\",\"n\":\"%s\"}]}");

	set_issuer(ISS_TEST, TEST_ISS, sets[ISS_TEST], all, LEEWAY);
	set_issuer(ISS_JOE, "joe", sets[ISS_JOE],
	    JWS_ALG_BIT(JWS_ALG_RS256) | JWS_ALG_BIT(JWS_ALG_ES256), 0);
	set_issuer(ISS_ED, "https://ed.example", sets[ISS_ED],
	    JWS_ALG_BIT(JWS_ALG_EDDSA), 0);
	set_issuer(ISS_RSAONLY, "https://rsa.example", sets[ISS_RSAONLY],
	    JWS_ALG_BIT(JWS_ALG_RS256), 0);
	set_issuer(ISS_TWO, "https://two.example", sets[ISS_TWO],
	    JWS_ALG_BIT(JWS_ALG_RS256), 0);
	set_issuer(ISS_PS, "https://ps.example", sets[ISS_PS],
	    JWS_ALG_BIT(JWS_ALG_RS256), 0);
	return 0;
}

static int
teardown(void **state)
{
	int	 i;

	for (i = 0; i < NISSUERS; i++)
		jwks_free(sets[i]);
	EVP_PKEY_free(k_rsa);
	EVP_PKEY_free(k_ec);
	EVP_PKEY_free(k_ed);
	EVP_PKEY_free(k_rfc8037);
	return 0;
}

/* ---- names and messages ---- */

static void
test_alg_names(void **state)
{
	enum jws_alg	 a;
	int		 i;

	for (i = 0; i < JWS_ALG_COUNT; i++) {
		assert_int_equal(jws_alg_parse(jws_alg_name(i), &a), 0);
		assert_int_equal(a, i);
	}
	assert_string_equal(jws_alg_name(JWS_ALG_RS256), "RS256");
	assert_string_equal(jws_alg_name(JWS_ALG_ES256), "ES256");
	assert_string_equal(jws_alg_name(JWS_ALG_EDDSA), "EdDSA");
	assert_int_equal(jws_alg_parse("rs256", &a), -1);
	assert_int_equal(jws_alg_parse("EDDSA", &a), -1);
	assert_int_equal(jws_alg_parse("HS256", &a), -1);
	assert_int_equal(jws_alg_parse("none", &a), -1);
	assert_int_equal(jws_alg_parse("RS2560", &a), -1);
}

static void
test_strerror_distinct(void **state)
{
	int	 i, j;

	for (i = 0; i < JWS_ERR_COUNT; i++) {
		assert_true(strlen(jws_strerror(i)) > 0);
		for (j = 0; j < i; j++)
			assert_string_not_equal(jws_strerror(i),
			    jws_strerror(j));
	}
	assert_string_equal(jws_strerror(JWS_ERR_SIGNATURE),
	    "signature does not verify");
	assert_string_equal(jws_strerror(JWS_ERR_EXPIRED), "token expired");
	assert_string_equal(jws_strerror(JWS_ERR_KID_UNKNOWN),
	    "unknown key id (kid)");
	assert_string_equal(jws_strerror(JWS_ERR_COUNT), "unknown JWS error");
}

/* ---- published vectors ---- */

/*
 * RFC 7515 A.2 has iss "joe" and exp but no aud.  Before exp it fails on
 * the audience and at exp as expired: both are claim checks, reached only
 * after the signature verified, which one flipped bit then breaks.
 */
static void
test_rfc7515_a2_rs256(void **state)
{
	uint8_t	 sig[SIG_MAX];
	size_t	 len;
	char	*tok = strdup(A2_JWS);

	expect_at(strdup(A2_JWS), RFC_EXP - 1, JWS_ERR_AUDIENCE, __FILE__,
	    __LINE__);
	expect_at(strdup(A2_JWS), RFC_EXP, JWS_ERR_EXPIRED, __FILE__,
	    __LINE__);
	len = get_sig(tok, sig);
	assert_int_equal(len, 256);
	sig[100] ^= 0x01;
	tok = set_sig(tok, sig, len);
	expect_at(tok, RFC_EXP - 1, JWS_ERR_SIGNATURE, __FILE__, __LINE__);
}

/* RFC 7515 A.3: the same, with ES256 and the issuer's only EC key. */
static void
test_rfc7515_a3_es256(void **state)
{
	uint8_t	 sig[SIG_MAX];
	size_t	 len;
	char	*tok = strdup(A3_JWS);

	expect_at(strdup(A3_JWS), RFC_EXP - 1, JWS_ERR_AUDIENCE, __FILE__,
	    __LINE__);
	expect_at(strdup(A3_JWS), RFC_EXP, JWS_ERR_EXPIRED, __FILE__,
	    __LINE__);
	len = get_sig(tok, sig);
	assert_int_equal(len, 64);
	sig[40] ^= 0x80;
	tok = set_sig(tok, sig, len);
	expect_at(tok, RFC_EXP - 1, JWS_ERR_SIGNATURE, __FILE__, __LINE__);
}

/*
 * RFC 8037 A.4 signs the text "Example of Ed25519 signing".  jwt_verify
 * must parse the payload for "iss" before it can pick a key, so it refuses
 * this JWS as a payload error without reaching the signature; the vector
 * is therefore checked against jws_verify_sig, the same code jwt_verify
 * runs, with the key loaded from the RFC's JWK.  Ed25519 is deterministic,
 * so signing A4_INPUT with the RFC's private key must reproduce A4_SIG.
 */
static void
test_rfc8037_a4_eddsa(void **state)
{
	const struct jwk	*key = &sets[ISS_ED]->keys[0];
	uint8_t			 sig[SIG_MAX];
	size_t			 len;
	char			*s;

	expect_at(strdup(A4_JWS), NOW, JWS_ERR_PAYLOAD, __FILE__, __LINE__);

	assert_int_equal(b64url_decode(sig, &len, A4_SIG, strlen(A4_SIG),
	    B64_NOPAD), 0);
	assert_int_equal(jws_verify_sig(key, JWS_ALG_EDDSA, A4_INPUT,
	    strlen(A4_INPUT), sig, len), JWS_OK);
	/* The signing input exactly as sent: one more byte breaks it. */
	assert_int_equal(jws_verify_sig(key, JWS_ALG_EDDSA, A4_INPUT "x",
	    strlen(A4_INPUT) + 1, sig, len), JWS_ERR_SIGNATURE);
	sig[0] ^= 0x01;
	assert_int_equal(jws_verify_sig(key, JWS_ALG_EDDSA, A4_INPUT,
	    strlen(A4_INPUT), sig, len), JWS_ERR_SIGNATURE);
	assert_int_equal(jws_verify_sig(key, JWS_ALG_ES256, A4_INPUT,
	    strlen(A4_INPUT), sig, len), JWS_ERR_KEY_MISMATCH);
	assert_int_equal(ERR_peek_error(), 0);

	/* The RFC's d is the private half of the JWKS key... */
	assert_int_equal(EVP_PKEY_eq(k_rfc8037, key->pkey), 1);
	/* ...and our signing reproduces the RFC's signature. */
	len = sign_input(k_rfc8037, JWS_ALG_EDDSA, A4_INPUT, sig);
	s = b64(sig, len);
	assert_string_equal(s, A4_SIG);
	free(s);
}

/* The other vectors through jws_verify_sig too: no claims in the way. */
static void
test_rfc7515_sig_only(void **state)
{
	static const char	 a2[] = A2_JWS, a3[] = A3_JWS;
	uint8_t			 sig[SIG_MAX];
	size_t			 len;

	len = get_sig(a2, sig);
	assert_int_equal(jws_verify_sig(&sets[ISS_JOE]->keys[0],
	    JWS_ALG_RS256, a2, strrchr(a2, '.') - a2, sig, len), JWS_OK);
	len = get_sig(a3, sig);
	assert_int_equal(jws_verify_sig(&sets[ISS_JOE]->keys[1],
	    JWS_ALG_ES256, a3, strrchr(a3, '.') - a3, sig, len), JWS_OK);
	/* The right signature under the wrong key type. */
	assert_int_equal(jws_verify_sig(&sets[ISS_JOE]->keys[0],
	    JWS_ALG_ES256, a3, strrchr(a3, '.') - a3, sig, len),
	    JWS_ERR_KEY_MISMATCH);
}

/* An EdDSA JWT made here with the RFC 8037 private key verifies. */
static void
test_rfc8037_key_jwt(void **state)
{
	struct claims		 c = std_claims();
	struct jwt_identity	 id;
	char			*pay, *tok;

	c.iss = "\"https://ed.example\"";
	pay = claims_json(&c);
	tok = sign_json("{\"alg\":\"EdDSA\"}", pay, k_rfc8037, JWS_ALG_EDDSA);
	assert_int_equal(verify_at(tok, NOW, &id), JWS_OK);
	assert_ptr_equal(id.issuer, &issuers[ISS_ED]);
	assert_string_equal(id.sub, TEST_SUB);
	free(tok);
	/* Signed by another Ed25519 key: refused. */
	tok = sign_json("{\"alg\":\"EdDSA\"}", pay, k_ed, JWS_ALG_EDDSA);
	expect(tok, JWS_ERR_SIGNATURE);
	free(pay);
}

/* ---- valid tokens ---- */

static void
valid(enum jws_alg alg, const char *kid)
{
	struct claims		 c = std_claims();
	struct jwt_identity	 id;
	char			*tok = token_kid(alg, kid, &c);

	memset(&id, 0, sizeof(id));
	assert_int_equal(verify_at(tok, NOW, &id), JWS_OK);
	assert_ptr_equal(id.issuer, &issuers[ISS_TEST]);
	assert_string_equal(id.sub, TEST_SUB);
	assert_int_equal(id.exp, NOW + 300);
	free(tok);
}

static void
test_valid_rs256(void **state)
{
	valid(JWS_ALG_RS256, "rsa1");
	valid(JWS_ALG_RS256, NULL);	/* the issuer's only RSA key */
}

static void
test_valid_es256(void **state)
{
	valid(JWS_ALG_ES256, "ec1");
	valid(JWS_ALG_ES256, NULL);
}

static void
test_valid_eddsa(void **state)
{
	valid(JWS_ALG_EDDSA, "ed1");
	valid(JWS_ALG_EDDSA, NULL);
}

static void
test_valid_variants(void **state)
{
	struct claims		 c = std_claims();
	struct jwt_identity	 id;
	char			*tok;

	/* aud as an array that names us among others. */
	c.aud = "[\"other\",\"" TEST_AUD "\"]";
	expect_claims(JWS_ALG_ES256, &c, JWS_OK);
	/* Unknown claims and header members are ignored. */
	c = std_claims();
	c.extra = "\"scope\":[\"a\"],\"nested\":{\"x\":[1,2.5,null]}";
	expect_claims(JWS_ALG_RS256, &c, JWS_OK);
	expect(token_hdr("{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"rsa1\","
	    "\"x5u\":\"https://evil.example/\"}"), JWS_OK);
	/* The largest exp is not an overflow. */
	c = std_claims();
	c.exp = "9223372036854775807";
	tok = token(JWS_ALG_RS256, &c);
	assert_int_equal(verify_at(tok, NOW, &id), JWS_OK);
	assert_int_equal(id.exp, INT64_MAX);
	free(tok);
	/* Nor the smallest nbf and iat. */
	c = std_claims();
	c.nbf = c.iat = "-9223372036854775808";
	expect_claims(JWS_ALG_EDDSA, &c, JWS_OK);
}

/* With several keys of a type, the kid picks; without one, refused. */
static void
test_kid_required(void **state)
{
	struct claims	 c = std_claims();

	c.iss = "\"https://two.example\"";
	expect(token_kid(JWS_ALG_RS256, "rsa1", &c), JWS_OK);
	expect(token_kid(JWS_ALG_RS256, NULL, &c), JWS_ERR_KID_REQUIRED);
	/* Naming the other key: a real key, but not the signer. */
	expect(token_kid(JWS_ALG_RS256, "a2", &c), JWS_ERR_SIGNATURE);
}

/* ---- time claims, at and around the leeway ---- */

static void
test_exp(void **state)
{
	struct claims	 c = std_claims();

	c.exp = num(NOW - LEEWAY + 1);
	expect_claims(JWS_ALG_RS256, &c, JWS_OK);
	c.exp = num(NOW - LEEWAY);	/* exp + leeway <= now */
	expect_claims(JWS_ALG_RS256, &c, JWS_ERR_EXPIRED);
	c.exp = num(NOW - 86400);
	expect_claims(JWS_ALG_RS256, &c, JWS_ERR_EXPIRED);
	c.exp = "-9223372036854775808";
	expect_claims(JWS_ALG_RS256, &c, JWS_ERR_EXPIRED);
	c.exp = NULL;
	expect_claims(JWS_ALG_RS256, &c, JWS_ERR_EXP_MISSING);
}

static void
test_exp_types(void **state)
{
	struct claims	 c = std_claims();

	c.exp = "\"1700000300\"";
	expect_claims(JWS_ALG_ES256, &c, JWS_ERR_CLAIM_TYPE);
	c.exp = "1.7e9";
	expect_claims(JWS_ALG_ES256, &c, JWS_ERR_CLAIM_TYPE);
	c.exp = "1700000300.0";
	expect_claims(JWS_ALG_ES256, &c, JWS_ERR_CLAIM_TYPE);
	c.exp = "1e300";
	expect_claims(JWS_ALG_ES256, &c, JWS_ERR_CLAIM_TYPE);
	c.exp = "null";
	expect_claims(JWS_ALG_ES256, &c, JWS_ERR_CLAIM_TYPE);
	c.exp = "true";
	expect_claims(JWS_ALG_ES256, &c, JWS_ERR_CLAIM_TYPE);
	/* Past 2^63 jansson refuses the whole document. */
	c.exp = "99999999999999999999";
	expect_claims(JWS_ALG_ES256, &c, JWS_ERR_PAYLOAD);
}

static void
test_nbf(void **state)
{
	struct claims	 c = std_claims();

	c.nbf = num(NOW + LEEWAY);
	expect_claims(JWS_ALG_EDDSA, &c, JWS_OK);
	c.nbf = num(NOW + LEEWAY + 1);	/* nbf - leeway > now */
	expect_claims(JWS_ALG_EDDSA, &c, JWS_ERR_NOT_YET_VALID);
	c.nbf = "9223372036854775807";
	expect_claims(JWS_ALG_EDDSA, &c, JWS_ERR_NOT_YET_VALID);
	c.nbf = "\"0\"";
	expect_claims(JWS_ALG_EDDSA, &c, JWS_ERR_CLAIM_TYPE);
}

static void
test_iat(void **state)
{
	struct claims	 c = std_claims();

	c.iat = num(NOW + LEEWAY);
	expect_claims(JWS_ALG_EDDSA, &c, JWS_OK);
	c.iat = num(NOW + LEEWAY + 1);
	expect_claims(JWS_ALG_EDDSA, &c, JWS_ERR_IAT_FUTURE);
	c.iat = "1699999990.5";
	expect_claims(JWS_ALG_EDDSA, &c, JWS_ERR_CLAIM_TYPE);
	c.iat = NULL;
	expect_claims(JWS_ALG_EDDSA, &c, JWS_OK);
}

/* ---- aud, sub, iss ---- */

static void
test_audience(void **state)
{
	struct claims	 c = std_claims();

	c.aud = "\"other\"";
	expect_claims(JWS_ALG_RS256, &c, JWS_ERR_AUDIENCE);
	c.aud = "\"tokend2\"";			/* no prefix matching */
	expect_claims(JWS_ALG_RS256, &c, JWS_ERR_AUDIENCE);
	c.aud = "\"Tokend\"";
	expect_claims(JWS_ALG_RS256, &c, JWS_ERR_AUDIENCE);
	c.aud = "[\"a\",\"b\"]";
	expect_claims(JWS_ALG_RS256, &c, JWS_ERR_AUDIENCE);
	c.aud = "[]";
	expect_claims(JWS_ALG_RS256, &c, JWS_ERR_AUDIENCE);
	c.aud = NULL;
	expect_claims(JWS_ALG_RS256, &c, JWS_ERR_AUDIENCE);
	c.aud = "[\"" TEST_AUD "\",7]";
	expect_claims(JWS_ALG_RS256, &c, JWS_ERR_CLAIM_TYPE);
	c.aud = "{\"aud\":\"" TEST_AUD "\"}";
	expect_claims(JWS_ALG_RS256, &c, JWS_ERR_CLAIM_TYPE);
}

static void
test_sub(void **state)
{
	struct claims		 c = std_claims();
	struct jwt_identity	 id;
	char			 longsub[JWT_MAX_SUB + 4], *tok;

	c.sub = NULL;
	expect_claims(JWS_ALG_ES256, &c, JWS_ERR_SUB_MISSING);
	c.sub = "\"\"";
	expect_claims(JWS_ALG_ES256, &c, JWS_ERR_SUB_MISSING);
	c.sub = "42";
	expect_claims(JWS_ALG_ES256, &c, JWS_ERR_SUB_MISSING);
	/* Exactly JWT_MAX_SUB bytes: accepted and copied whole. */
	longsub[0] = '"';
	memset(longsub + 1, 's', JWT_MAX_SUB);
	strcpy(longsub + 1 + JWT_MAX_SUB, "\"");
	c.sub = longsub;
	tok = token(JWS_ALG_ES256, &c);
	assert_int_equal(verify_at(tok, NOW, &id), JWS_OK);
	assert_int_equal(strlen(id.sub), JWT_MAX_SUB);
	free(tok);
	strcpy(longsub + 1 + JWT_MAX_SUB, "s\"");
	expect_claims(JWS_ALG_ES256, &c, JWS_ERR_SUB_MISSING);
}

static void
test_issuer(void **state)
{
	struct claims	 c = std_claims();

	c.iss = "\"https://evil.example\"";
	expect_claims(JWS_ALG_RS256, &c, JWS_ERR_ISS_UNKNOWN);
	c.iss = "\"https://IDP.example\"";
	expect_claims(JWS_ALG_RS256, &c, JWS_ERR_ISS_UNKNOWN);
	c.iss = "\"" TEST_ISS "/\"";
	expect_claims(JWS_ALG_RS256, &c, JWS_ERR_ISS_UNKNOWN);
	c.iss = NULL;
	expect_claims(JWS_ALG_RS256, &c, JWS_ERR_ISS_MISSING);
	c.iss = "[\"" TEST_ISS "\"]";
	expect_claims(JWS_ALG_RS256, &c, JWS_ERR_ISS_MISSING);
	/* jansson refuses NUL in strings, so "iss" cannot hide a suffix. */
	c.iss = "\"" TEST_ISS "\\u0000evil\"";
	expect_claims(JWS_ALG_RS256, &c, JWS_ERR_PAYLOAD);
}

/* ---- algorithms and keys ---- */

static void
test_alg_disallowed(void **state)
{
	struct claims	 c = std_claims();

	c.iss = "\"https://rsa.example\"";
	expect_claims(JWS_ALG_RS256, &c, JWS_OK);
	expect_claims(JWS_ALG_ES256, &c, JWS_ERR_ALG_DISALLOWED);
	expect_claims(JWS_ALG_EDDSA, &c, JWS_ERR_ALG_DISALLOWED);
}

static void
test_alg_none(void **state)
{
	struct claims	 c = std_claims();
	char		*pay = claims_json(&c), *p = b64(pay, strlen(pay));
	char		*h, *tok;

	/* RFC 7515 A.5 style: no signature at all. */
	h = b64("{\"alg\":\"none\"}", strlen("{\"alg\":\"none\"}"));
	assert_true(asprintf(&tok, "%s.%s.", h, p) > 0);
	expect(tok, JWS_ERR_MALFORMED);
	free(h);
	/* With a (valid RS256) signature attached, in any case. */
	expect(token_hdr("{\"alg\":\"none\",\"kid\":\"rsa1\"}"),
	    JWS_ERR_ALG_NONE);
	expect(token_hdr("{\"alg\":\"nOnE\",\"kid\":\"rsa1\"}"),
	    JWS_ERR_ALG_NONE);
	free(p);
	free(pay);
}

/*
 * The classic confusion: HS256 keyed with the RSA public key an attacker
 * can read (its modulus, or its PEM), hoping the verifier feeds the RSA
 * key to HMAC.  Refused for the algorithm alone.
 */
/* An HS256 token over the standard claims, keyed with key[0..keylen). */
static char *
hs256_token(const void *key, size_t keylen)
{
	struct claims	 c = std_claims();
	const char	*hdr_json = "{\"alg\":\"HS256\",\"kid\":\"rsa1\"}";
	char		*pay = claims_json(&c);
	char		*h = b64(hdr_json, strlen(hdr_json));
	char		*p = b64(pay, strlen(pay));
	char		*input, *m, *tok;
	uint8_t		 mac[EVP_MAX_MD_SIZE];
	unsigned	 maclen;

	assert_true(asprintf(&input, "%s.%s", h, p) > 0);
	assert_non_null(HMAC(EVP_sha256(), key, (int)keylen,
	    (const uint8_t *)input, strlen(input), mac, &maclen));
	m = b64(mac, maclen);
	tok = join3(h, p, m);
	free(m);
	free(input);
	free(p);
	free(h);
	free(pay);
	return tok;
}

/*
 * The classic confusion: HS256 keyed with the RSA public key an attacker
 * can read (its modulus, or its PEM), hoping the verifier feeds the RSA
 * key to HMAC.  Refused for the algorithm alone.
 */
static void
test_hs256_confusion(void **state)
{
	uint8_t		 n[512];
	char		*pem = NULL;
	BIGNUM		*bn = NULL;
	BIO		*bio = BIO_new(BIO_s_mem());
	long		 pemlen;
	int		 nlen;

	assert_int_equal(EVP_PKEY_get_bn_param(k_rsa, OSSL_PKEY_PARAM_RSA_N,
	    &bn), 1);
	nlen = BN_bn2bin(bn, n);
	expect(hs256_token(n, (size_t)nlen), JWS_ERR_ALG_UNSUPPORTED);
	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PUBKEY(bio, k_rsa), 1);
	pemlen = BIO_get_mem_data(bio, &pem);
	expect(hs256_token(pem, (size_t)pemlen), JWS_ERR_ALG_UNSUPPORTED);
	BIO_free(bio);
	BN_free(bn);
}

static void
test_alg_unsupported(void **state)
{
	expect(token_hdr("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}"), JWS_OK);
	expect(token_hdr("{\"alg\":\"RS384\",\"kid\":\"rsa1\"}"),
	    JWS_ERR_ALG_UNSUPPORTED);
	expect(token_hdr("{\"alg\":\"PS256\",\"kid\":\"rsa1\"}"),
	    JWS_ERR_ALG_UNSUPPORTED);
	expect(token_hdr("{\"alg\":\"rs256\",\"kid\":\"rsa1\"}"),
	    JWS_ERR_ALG_UNSUPPORTED);
	expect(token_hdr("{\"alg\":\"\",\"kid\":\"rsa1\"}"),
	    JWS_ERR_ALG_UNSUPPORTED);
}

static void
test_alg_missing(void **state)
{
	expect(token_hdr("{\"kid\":\"rsa1\"}"), JWS_ERR_ALG_MISSING);
	expect(token_hdr("{\"alg\":256,\"kid\":\"rsa1\"}"),
	    JWS_ERR_ALG_MISSING);
	expect(token_hdr("{\"alg\":[\"RS256\"],\"kid\":\"rsa1\"}"),
	    JWS_ERR_ALG_MISSING);
}

static void
test_crit(void **state)
{
	expect(token_hdr("{\"alg\":\"RS256\",\"kid\":\"rsa1\","
	    "\"crit\":[\"exp\"],\"exp\":1}"), JWS_ERR_CRIT);
	expect(token_hdr("{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"crit\":[]}"),
	    JWS_ERR_CRIT);
}

/* An ES256 token naming the RSA key: the key cannot verify ES256. */
static void
test_key_type_mismatch(void **state)
{
	struct claims	 c = std_claims();

	expect(token_kid(JWS_ALG_ES256, "ec1", &c), JWS_OK);
	expect(token_kid(JWS_ALG_ES256, "rsa1", &c), JWS_ERR_KEY_MISMATCH);
	expect(token_kid(JWS_ALG_EDDSA, "ec1", &c), JWS_ERR_KEY_MISMATCH);
	expect(token_kid(JWS_ALG_RS256, "ed1", &c), JWS_ERR_KEY_MISMATCH);
}

/* The right key type, but the JWK says it is for PS256 only. */
static void
test_jwk_alg_mismatch(void **state)
{
	struct claims	 c = std_claims();

	c.iss = "\"https://two.example\"";
	expect(token_kid(JWS_ALG_RS256, "rsa1", &c), JWS_OK);
	c.iss = "\"https://ps.example\"";
	expect(token_kid(JWS_ALG_RS256, "rsa1", &c), JWS_ERR_KEY_MISMATCH);
	/* Without a kid the PS256 key is no candidate at all. */
	expect(token_kid(JWS_ALG_RS256, NULL, &c), JWS_ERR_KID_UNKNOWN);
}

static void
test_kid(void **state)
{
	struct claims	 c = std_claims();

	expect(token_kid(JWS_ALG_RS256, "rsa2", &c), JWS_ERR_KID_UNKNOWN);
	expect(token_kid(JWS_ALG_RS256, "RSA1", &c), JWS_ERR_KID_UNKNOWN);
	expect(token_kid(JWS_ALG_RS256, "", &c), JWS_ERR_KID_UNKNOWN);
	/* A kid of another issuer's set does not cross over. */
	expect(token_kid(JWS_ALG_RS256, "rfc7515-a2", &c),
	    JWS_ERR_KID_UNKNOWN);
	expect(token_hdr("{\"alg\":\"RS256\",\"kid\":1}"), JWS_ERR_HEADER);
	expect(token_hdr("{\"alg\":\"RS256\",\"kid\":null}"), JWS_ERR_HEADER);
	/* Without a kid, "joe"'s only RSA key is chosen: not the signer. */
	c.iss = "\"joe\"";
	expect(token_kid(JWS_ALG_RS256, NULL, &c), JWS_ERR_SIGNATURE);
}

/* ---- signatures ---- */

static void
forge(enum jws_alg alg, size_t at)
{
	struct claims	 c = std_claims();
	char		*tok = token(alg, &c);
	uint8_t		 sig[SIG_MAX];
	size_t		 len;

	expect(strdup(tok), JWS_OK);
	len = get_sig(tok, sig);
	sig[at] ^= 0x04;
	expect(set_sig(tok, sig, len), JWS_ERR_SIGNATURE);
}

static void
test_forged_signature(void **state)
{
	forge(JWS_ALG_RS256, 0);
	forge(JWS_ALG_RS256, 255);
	forge(JWS_ALG_ES256, 3);
	forge(JWS_ALG_ES256, 63);
	forge(JWS_ALG_EDDSA, 31);
	forge(JWS_ALG_EDDSA, 63);
}

/* A signature moved onto other claims (here another sub) fails. */
static void
test_forged_payload(void **state)
{
	struct claims	 c = std_claims();
	char		*tok = token(JWS_ALG_RS256, &c), *forged;
	uint8_t		 sig[SIG_MAX];
	size_t		 len = get_sig(tok, sig);

	c.sub = "\"admin\"";
	forged = token(JWS_ALG_RS256, &c);
	expect(strdup(forged), JWS_OK);
	expect(set_sig(forged, sig, len), JWS_ERR_SIGNATURE);
	free(tok);
}

/* Signature len bytes long: the real one cut, or padded with zeros. */
static void
resize_sig(enum jws_alg alg, size_t newlen, enum jws_err want)
{
	struct claims	 c = std_claims();
	char		*tok = token(alg, &c);
	uint8_t		 sig[SIG_MAX];

	memset(sig, 0, sizeof(sig));
	(void)get_sig(tok, sig);
	expect(set_sig(tok, sig, newlen), want);
}

static void
test_signature_length(void **state)
{
	resize_sig(JWS_ALG_RS256, 256, JWS_OK);
	resize_sig(JWS_ALG_RS256, 255, JWS_ERR_SIG_LENGTH);
	resize_sig(JWS_ALG_RS256, 257, JWS_ERR_SIG_LENGTH);
	resize_sig(JWS_ALG_RS256, 1, JWS_ERR_SIG_LENGTH);
	resize_sig(JWS_ALG_ES256, 64, JWS_OK);
	resize_sig(JWS_ALG_ES256, 63, JWS_ERR_SIG_LENGTH);
	resize_sig(JWS_ALG_ES256, 65, JWS_ERR_SIG_LENGTH);
	resize_sig(JWS_ALG_EDDSA, 64, JWS_OK);
	resize_sig(JWS_ALG_EDDSA, 63, JWS_ERR_SIG_LENGTH);
	resize_sig(JWS_ALG_EDDSA, 65, JWS_ERR_SIG_LENGTH);
}

/* ES256 as DER (what OpenSSL emits) is not the JWS encoding. */
static void
test_es256_der_refused(void **state)
{
	struct claims	 c = std_claims();
	char		*tok = token(JWS_ALG_ES256, &c), *input;
	uint8_t		 sig[SIG_MAX];
	size_t		 len = SIG_MAX;
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();

	input = strndup(tok, strrchr(tok, '.') - tok);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL,
	    k_ec), 1);
	assert_int_equal(EVP_DigestSign(ctx, sig, &len, (uint8_t *)input,
	    strlen(input)), 1);
	EVP_MD_CTX_free(ctx);
	assert_int_not_equal(len, 64);
	expect(set_sig(tok, sig, len), JWS_ERR_SIG_LENGTH);
	free(input);
}

/* r or s of zero, or r equal to the group order, never verify. */
static void
test_es256_out_of_range(void **state)
{
	static const uint8_t	 order[32] = {
		0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
		0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
	};
	struct claims		 c = std_claims();
	char			*tok = token(JWS_ALG_ES256, &c);
	uint8_t			 sig[SIG_MAX], bad[64];

	(void)get_sig(tok, sig);
	memcpy(bad, sig, 64);
	memset(bad, 0, 32);
	expect(set_sig(strdup(tok), bad, 64), JWS_ERR_SIGNATURE);
	memcpy(bad, sig, 64);
	memset(bad + 32, 0, 32);
	expect(set_sig(strdup(tok), bad, 64), JWS_ERR_SIGNATURE);
	memcpy(bad, order, 32);
	expect(set_sig(strdup(tok), bad, 64), JWS_ERR_SIGNATURE);
	memset(bad, 0xff, 64);
	expect(set_sig(tok, bad, 64), JWS_ERR_SIGNATURE);
}

/* ---- encoding ---- */

/* tok with the character at the given offset from part start replaced. */
static char *
poke(const char *tok, int part, size_t off, char ch)
{
	char	*s = strdup(tok), *p = s;

	while (part-- > 0)
		p = strchr(p, '.') + 1;
	p[off] = ch;
	return s;
}

static void
test_base64(void **state)
{
	struct claims	 c = std_claims();
	char		*tok = token(JWS_ALG_RS256, &c), *s;

	expect(strdup(tok), JWS_OK);
	/* Characters of standard base64, of neither, and white space. */
	expect(poke(tok, 0, 2, '+'), JWS_ERR_BASE64);
	expect(poke(tok, 1, 5, '/'), JWS_ERR_BASE64);
	expect(poke(tok, 2, 9, '*'), JWS_ERR_BASE64);
	expect(poke(tok, 1, 0, ' '), JWS_ERR_BASE64);
	/* Padding: a 256-byte signature is 342 characters, 2 short of 4n. */
	assert_true(asprintf(&s, "%s==", tok) > 0);
	expect(s, JWS_ERR_BASE64);
	/* A part of 4n+1 characters (342 + 3) cannot be base64. */
	assert_true(asprintf(&s, "%sAAA", tok) > 0);
	expect(s, JWS_ERR_BASE64);
	free(tok);
}

static void
test_structure(void **state)
{
	struct claims	 c = std_claims();
	char		*tok = token(JWS_ALG_RS256, &c), *s;
	char		*d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');

	expect(strdup(tok), JWS_OK);
	expect(strndup(tok, d2 - tok), JWS_ERR_MALFORMED);	/* h.p */
	assert_true(asprintf(&s, "%s.%s", tok, d2 + 1) > 0); /* h.p.s.s */
	expect(s, JWS_ERR_MALFORMED);
	expect(strdup(d1), JWS_ERR_MALFORMED);			/* .p.s */
	assert_true(asprintf(&s, "%.*s.%s", (int)(d1 - tok), tok, d2) > 0);
	expect(s, JWS_ERR_MALFORMED);				/* h..s */
	expect(strndup(tok, d2 - tok + 1), JWS_ERR_MALFORMED);	/* h.p. */
	expect(strdup(""), JWS_ERR_MALFORMED);
	expect(strdup(".."), JWS_ERR_MALFORMED);
	free(tok);
}

static void
test_json_shape(void **state)
{
	struct claims	 c = std_claims();

	/* Duplicate members: a second parser might read the other one. */
	expect(token_hdr("{\"alg\":\"RS256\",\"kid\":\"rsa1\","
	    "\"alg\":\"RS256\"}"),
	    JWS_ERR_HEADER);
	expect(token_hdr("{\"alg\":\"none\",\"kid\":\"rsa1\","
	    "\"alg\":\"RS256\"}"),
	    JWS_ERR_HEADER);
	expect(token_hdr("[\"RS256\"]"), JWS_ERR_HEADER);
	expect(token_hdr("{\"alg\":\"RS256\",\"kid\":\"rsa1\""),
	    JWS_ERR_HEADER);
	expect(token_hdr("{\"alg\":\"RS256\",\"kid\":\"rsa1\"} x"),
	    JWS_ERR_HEADER);
	c.extra = "\"sub\":\"admin\"";
	expect_claims(JWS_ALG_RS256, &c, JWS_ERR_PAYLOAD);
	/* Claims that are JSON, but not an object. */
	expect(sign_json("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", "[1,2]",
	    k_rsa, JWS_ALG_RS256), JWS_ERR_PAYLOAD);
	expect(sign_json("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}",
	    "[{\"iss\":\"" TEST_ISS "\"}]", k_rsa, JWS_ALG_RS256),
	    JWS_ERR_PAYLOAD);
	expect(sign_json("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", "\"x\"",
	    k_rsa, JWS_ALG_RS256), JWS_ERR_PAYLOAD);
}

/* The largest token that fits is judged; one byte more is not read. */
static void
test_size(void **state)
{
	struct claims	 c = std_claims();
	char		 extra[JWS_MAX_BYTES];
	char		*tok = NULL, *prev = NULL;
	size_t		 pad;
	struct jwt_identity id;

	for (pad = 5000; pad < sizeof(extra) - 16; pad++) {
		snprintf(extra, sizeof(extra), "\"pad\":\"%0*d\"", (int)pad, 0);
		c.extra = extra;
		tok = token(JWS_ALG_EDDSA, &c);
		if (strlen(tok) > JWS_MAX_BYTES)
			break;
		free(prev);
		prev = tok;
	}
	assert_non_null(prev);
	assert_true(strlen(prev) > JWS_MAX_BYTES - 4);
	expect(prev, JWS_OK);
	expect(tok, JWS_ERR_TOO_LARGE);
	/* The size check comes first: garbage one byte over is not parsed. */
	memset(extra, '.', sizeof(extra));
	assert_int_equal(jwt_verify(issuers, NISSUERS, extra, sizeof(extra),
	    NOW, &id), JWS_ERR_MALFORMED);
	assert_non_null(tok = malloc(JWS_MAX_BYTES + 1));
	memset(tok, '.', JWS_MAX_BYTES + 1);
	assert_int_equal(jwt_verify(issuers, NISSUERS, tok, JWS_MAX_BYTES + 1,
	    NOW, &id), JWS_ERR_TOO_LARGE);
	free(tok);
}

/* jwt_verify takes a length: bytes after it are never read. */
static void
test_length_not_nul(void **state)
{
	struct claims		 c = std_claims();
	char			*tok = token(JWS_ALG_EDDSA, &c), *s;
	struct jwt_identity	 id;

	assert_true(asprintf(&s, "%sAAAA", tok) > 0);
	assert_int_equal(jwt_verify(issuers, NISSUERS, s, strlen(tok), NOW,
	    &id), JWS_OK);
	assert_int_equal(jwt_verify(issuers, NISSUERS, s, strlen(s), NOW,
	    &id), JWS_ERR_SIG_LENGTH);
	free(s);
	free(tok);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alg_names),
		cmocka_unit_test(test_strerror_distinct),
		cmocka_unit_test(test_rfc7515_a2_rs256),
		cmocka_unit_test(test_rfc7515_a3_es256),
		cmocka_unit_test(test_rfc8037_a4_eddsa),
		cmocka_unit_test(test_rfc7515_sig_only),
		cmocka_unit_test(test_rfc8037_key_jwt),
		cmocka_unit_test(test_valid_rs256),
		cmocka_unit_test(test_valid_es256),
		cmocka_unit_test(test_valid_eddsa),
		cmocka_unit_test(test_valid_variants),
		cmocka_unit_test(test_kid_required),
		cmocka_unit_test(test_exp),
		cmocka_unit_test(test_exp_types),
		cmocka_unit_test(test_nbf),
		cmocka_unit_test(test_iat),
		cmocka_unit_test(test_audience),
		cmocka_unit_test(test_sub),
		cmocka_unit_test(test_issuer),
		cmocka_unit_test(test_alg_disallowed),
		cmocka_unit_test(test_alg_none),
		cmocka_unit_test(test_hs256_confusion),
		cmocka_unit_test(test_alg_unsupported),
		cmocka_unit_test(test_alg_missing),
		cmocka_unit_test(test_crit),
		cmocka_unit_test(test_key_type_mismatch),
		cmocka_unit_test(test_jwk_alg_mismatch),
		cmocka_unit_test(test_kid),
		cmocka_unit_test(test_forged_signature),
		cmocka_unit_test(test_forged_payload),
		cmocka_unit_test(test_signature_length),
		cmocka_unit_test(test_es256_der_refused),
		cmocka_unit_test(test_es256_out_of_range),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_json_shape),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_length_not_nul),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
