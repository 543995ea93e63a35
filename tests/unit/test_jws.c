/*
 * test_jws.c - JWT verification (src/identity/jws.c).
 *
 * Three kinds of evidence.  Published vectors (RFC 7515 A.1 to A.4, RFC
 * 8037 A.4) show the signature code agrees with the rest of the world; the
 * RFC payloads are not our kind of JWT, so the tests show how far each gets
 * (past the signature, into the claims).  Tokens made by the openssl
 * command line (tests/unit/vectors/tokens.txt, one per algorithm, all 13)
 * show every algorithm verifies what an independent tool signs.  Tokens
 * signed here with the committed test keys cover every algorithm with and
 * without a kid, and then every rejection: each token is built by the same
 * code as a valid one with exactly one thing changed, and must fail with
 * its own code, so a verifier that accepted everything, or refused
 * everything, could not pass.
 *
 * All tokens are checked at the fixed time NOW; the test issuer allows 60
 * seconds of leeway.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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
#include <openssl/rsa.h>

#include "core/b64.h"
#include "identity/issuer.h"
#include "identity/jwks.h"
#include "identity/jws.h"
#include "rfc7515.h"
#include "testutil.h"

#define NOW	INT64_C(1700000000)
#define LEEWAY	60
#define SIG_MAX	1024

#define TEST_ISS "https://idp.example"
#define TEST_AUD "tokend"
#define TEST_SUB "alice@example.com"

/* RFC 8037 A.4: Ed25519 over the payload "Example of Ed25519 signing". */
#define ED_INPUT "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
#define ED_SIG	"hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4" \
    "ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
#define ED_JWS	ED_INPUT "." ED_SIG
/* RFC 8037 A.1: the private key d (the seed) of that Ed25519 key. */
#define ED_D	"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"

/* The configured issuers; struct issuer is built by hand, not by config.c. */
enum {
	ISS_TEST,	/* vectors/jwks.json + hs.secret; all 13 algorithms */
	ISS_JOE,	/* RFC 7515 keys and A.1 secret, iss "joe" */
	ISS_ED,		/* RFC 8037 key, no kid */
	ISS_RSAONLY,	/* vectors/jwks.json, RS256 only, no secret */
	ISS_TWO,	/* two RSA keys */
	ISS_PS,		/* rsa1 published with JWK "alg":"PS256" */
	ISS_EMAIL,	/* identity_claim email, require email_verified, hd */
	ISS_EMPTY,	/* jwks_url not fetched yet: no key set */
	NISSUERS
};

static struct issuer	 issuers[NISSUERS];
static struct jwks	*sets[NISSUERS];	/* owned, one per issuer */
static EVP_PKEY		*k_rsa, *k_ec, *k_ec384, *k_ec521, *k_ed, *k_rfc8037;
static uint8_t		 hs_key[128], a1_key[64];
static size_t		 hs_keylen, a1_keylen;
static struct claim_req	 email_reqs[2];
static char		 err[512];

static const enum jws_alg all_algs[] = {
	JWS_ALG_RS256, JWS_ALG_RS384, JWS_ALG_RS512,
	JWS_ALG_PS256, JWS_ALG_PS384, JWS_ALG_PS512,
	JWS_ALG_ES256, JWS_ALG_ES384, JWS_ALG_ES512,
	JWS_ALG_EDDSA,
	JWS_ALG_HS256, JWS_ALG_HS384, JWS_ALG_HS512,
};
#define NALGS	(sizeof(all_algs) / sizeof(all_algs[0]))

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

static int
is_hmac(enum jws_alg alg)
{
	return (JWS_ALG_BIT(alg) & JWS_ALGS_HMAC) != 0;
}

static int
is_pss(enum jws_alg alg)
{
	return alg == JWS_ALG_PS256 || alg == JWS_ALG_PS384 ||
	    alg == JWS_ALG_PS512;
}

/* Bytes of r (and of s) of an ES alg, else 0. */
static size_t
ec_coord(enum jws_alg alg)
{
	return alg == JWS_ALG_ES256 ? 32 : alg == JWS_ALG_ES384 ? 48 :
	    alg == JWS_ALG_ES512 ? 66 : 0;
}

static const EVP_MD *
md_for(enum jws_alg alg)
{
	switch (jws_alg_hash_len(alg)) {
	case 32:
		return EVP_sha256();
	case 48:
		return EVP_sha384();
	case 64:
		return EVP_sha512();
	default:
		return NULL;
	}
}

static size_t
der_to_raw(uint8_t *sig, size_t len, size_t coord)
{
	const uint8_t	*p = sig;
	ECDSA_SIG	*es = d2i_ECDSA_SIG(NULL, &p, (long)len);
	const BIGNUM	*r, *s;

	assert_non_null(es);
	ECDSA_SIG_get0(es, &r, &s);
	assert_int_equal(BN_bn2binpad(r, sig, (int)coord), (int)coord);
	assert_int_equal(BN_bn2binpad(s, sig + coord, (int)coord),
	    (int)coord);
	ECDSA_SIG_free(es);
	return 2 * coord;
}

/*
 * Signs input with key for alg, as JWS wants it: ES* as raw r || s, PS*
 * with MGF1 of the same hash and a salt of pss_salt bytes (the hash length
 * unless a test says otherwise), HS* with the test issuer's secret.
 */
static int	 pss_salt = RSA_PSS_SALTLEN_DIGEST;

static size_t
sign_input(EVP_PKEY *key, enum jws_alg alg, const char *input,
    uint8_t sig[SIG_MAX])
{
	EVP_MD_CTX	*ctx;
	EVP_PKEY_CTX	*pctx = NULL;
	size_t		 len = SIG_MAX;
	unsigned	 mlen;

	if (is_hmac(alg)) {
		assert_non_null(HMAC(md_for(alg), hs_key, (int)hs_keylen,
		    (const uint8_t *)input, strlen(input), sig, &mlen));
		return mlen;
	}
	assert_non_null(ctx = EVP_MD_CTX_new());
	assert_int_equal(EVP_DigestSignInit(ctx, &pctx, md_for(alg), NULL,
	    key), 1);
	if (is_pss(alg)) {
		assert_true(EVP_PKEY_CTX_set_rsa_padding(pctx,
		    RSA_PKCS1_PSS_PADDING) > 0);
		assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
		    pss_salt) > 0);
	}
	assert_int_equal(EVP_DigestSign(ctx, sig, &len,
	    (const uint8_t *)input, strlen(input)), 1);
	EVP_MD_CTX_free(ctx);
	return ec_coord(alg) ? der_to_raw(sig, len, ec_coord(alg)) : len;
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
	switch (alg) {
	case JWS_ALG_ES256:
		return k_ec;
	case JWS_ALG_ES384:
		return k_ec384;
	case JWS_ALG_ES512:
		return k_ec521;
	case JWS_ALG_EDDSA:
		return k_ed;
	default:
		return is_hmac(alg) ? NULL : k_rsa;
	}
}

static const char *
kid_for(enum jws_alg alg)
{
	switch (alg) {
	case JWS_ALG_ES256:
		return "ec1";
	case JWS_ALG_ES384:
		return "ec384";
	case JWS_ALG_ES512:
		return "ec521";
	case JWS_ALG_EDDSA:
		return "ed1";
	default:
		return is_hmac(alg) ? NULL : "rsa1";
	}
}

/* {"alg":alg,"kid":kid} over c, signed with the test key of alg. */
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

static enum jose_err
verify_at(const char *tok, int64_t now, struct jwt_identity *id)
{
	return jwt_verify(issuers, NISSUERS, tok, strlen(tok), now, id);
}

/* Asserts tok gets want at NOW, then frees tok. */
#define expect(tok, want)	expect_at(tok, NOW, want, __FILE__, __LINE__)

static void
expect_at(char *tok, int64_t now, enum jose_err want, const char *file,
    int line)
{
	struct jwt_identity	 id;
	enum jose_err		 got = verify_at(tok, now, &id);

	if (got != want) {
		print_error("token %.120s%s\n got  %d (%s)\n want %d (%s)\n",
		    tok, strlen(tok) > 120 ? "..." : "", got,
		    jose_strerror(got), want, jose_strerror(want));
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
	const char	*path = tu_vector("%s", name);
	FILE		*f = fopen(path, "r");
	EVP_PKEY	*k;

	if (f == NULL)
		fail_msg("%s: cannot open", path);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(k);
	return k;
}

static struct jwks *
load_set(const char *name)
{
	struct jwks	*set = jwks_load(tu_vector("%s", name), err, sizeof(err));

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
	issuers[i].identity = IDENTITY_SUB;
}

static int
setup(void **state)
{
	unsigned	 all = 0, asym;
	uint8_t		 d[35];
	size_t		 dlen, i;
	char		*hs;

	for (i = 0; i < NALGS; i++)
		all |= JWS_ALG_BIT(all_algs[i]);
	asym = all & ~JWS_ALGS_HMAC;
	k_rsa = load_pem("rsa.pem");
	k_ec = load_pem("ec.pem");
	k_ec384 = load_pem("ec384.pem");
	k_ec521 = load_pem("ec521.pem");
	k_ed = load_pem("ed25519.pem");
	assert_int_equal(b64url_decode(d, &dlen, ED_D, strlen(ED_D),
	    B64_NOPAD), 0);
	k_rfc8037 = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, d,
	    dlen);
	assert_non_null(k_rfc8037);
	hs = tu_read_file(tu_vector("hs.secret"), &hs_keylen);
	assert_int_equal(hs_keylen, 64);
	memcpy(hs_key, hs, hs_keylen);
	free(hs);
	assert_int_equal(b64url_decode(a1_key, &a1_keylen, A1_KEY,
	    strlen(A1_KEY), B64_NOPAD), 0);

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
	sets[ISS_EMAIL] = load_set("jwks.json");
	sets[ISS_EMPTY] = NULL;

	set_issuer(ISS_TEST, TEST_ISS, sets[ISS_TEST], all, LEEWAY);
	issuers[ISS_TEST].hs_secret.bytes = hs_key;
	issuers[ISS_TEST].hs_secret.len = hs_keylen;
	set_issuer(ISS_JOE, "joe", sets[ISS_JOE],
	    JWS_ALG_BIT(JWS_ALG_RS256) | JWS_ALG_BIT(JWS_ALG_ES256) |
	    JWS_ALG_BIT(JWS_ALG_ES512) | JWS_ALG_BIT(JWS_ALG_HS256), 0);
	issuers[ISS_JOE].hs_secret.bytes = a1_key;
	issuers[ISS_JOE].hs_secret.len = a1_keylen;
	set_issuer(ISS_ED, "https://ed.example", sets[ISS_ED],
	    JWS_ALG_BIT(JWS_ALG_EDDSA), 0);
	set_issuer(ISS_RSAONLY, "https://rsa.example", sets[ISS_RSAONLY],
	    JWS_ALG_BIT(JWS_ALG_RS256), 0);
	set_issuer(ISS_TWO, "https://two.example", sets[ISS_TWO],
	    JWS_ALG_BIT(JWS_ALG_RS256), 0);
	set_issuer(ISS_PS, "https://ps.example", sets[ISS_PS],
	    JWS_ALG_BIT(JWS_ALG_RS256) | JWS_ALG_BIT(JWS_ALG_PS256), 0);
	set_issuer(ISS_EMAIL, "https://mail.example", sets[ISS_EMAIL], asym,
	    LEEWAY);
	issuers[ISS_EMAIL].identity = IDENTITY_EMAIL;
	email_reqs[0] = (struct claim_req){ .name = "email_verified",
	    .is_bool = 1, .bval = 1 };
	email_reqs[1] = (struct claim_req){ .name = "hd",
	    .sval = "example.com" };
	issuers[ISS_EMAIL].require = email_reqs;
	issuers[ISS_EMAIL].nrequire = 2;
	set_issuer(ISS_EMPTY, "https://empty.example", NULL, asym, 0);
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
	EVP_PKEY_free(k_ec384);
	EVP_PKEY_free(k_ec521);
	EVP_PKEY_free(k_ed);
	EVP_PKEY_free(k_rfc8037);
	return 0;
}

/* ---- names and messages ---- */

static void
test_alg_names(void **state)
{
	static const char *const names[] = { "RS256", "RS384", "RS512",
	    "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
	    "HS256", "HS384", "HS512" };
	enum jws_alg	 a;
	size_t		 i;

	assert_int_equal(JWS_ALG_COUNT, 13);
	for (i = 0; i < JWS_ALG_COUNT; i++) {
		assert_int_equal(jws_alg_parse(jws_alg_name(i), &a), 0);
		assert_int_equal(a, i);
	}
	for (i = 0; i < NALGS; i++)
		assert_string_equal(jws_alg_name(all_algs[i]), names[i]);
	assert_int_equal(jws_alg_hash_len(JWS_ALG_PS384), 48);
	assert_int_equal(jws_alg_hash_len(JWS_ALG_ES512), 64);
	assert_int_equal(jws_alg_hash_len(JWS_ALG_HS256), 32);
	assert_int_equal(jws_alg_hash_len(JWS_ALG_EDDSA), 0);
	assert_int_equal(jws_alg_kty(JWS_ALG_ES384), JWK_KTY_EC_P384);
	assert_int_equal(jws_alg_kty(JWS_ALG_PS512), JWK_KTY_RSA);
	assert_int_equal(jws_alg_kty(JWS_ALG_HS512), -1);
	assert_int_equal(jws_alg_parse("rs256", &a), -1);
	assert_int_equal(jws_alg_parse("EDDSA", &a), -1);
	assert_int_equal(jws_alg_parse("ES256K", &a), -1);
	assert_int_equal(jws_alg_parse("none", &a), -1);
	assert_int_equal(jws_alg_parse("RS2560", &a), -1);
	assert_int_equal(jws_alg_parse("Ed25519", &a), -1);
}

/* ---- published vectors ---- */

/*
 * RFC 7515 A.1: HS256 with the RFC's key, which issuer "joe" has as its
 * shared secret.  Like A.2 and A.3 it has no aud, so it reaches the
 * audience check (past the signature) before exp, and expires at exp.
 */
static void
test_rfc7515_a1_hs256(void **state)
{
	static const char	 a1[] = A1_JWS;
	uint8_t			 sig[SIG_MAX];
	size_t			 len;
	char			*tok = strdup(A1_JWS);

	expect_at(strdup(A1_JWS), RFC_EXP - 1, JOSE_ERR_AUDIENCE, __FILE__,
	    __LINE__);
	expect_at(strdup(A1_JWS), RFC_EXP, JOSE_ERR_EXPIRED, __FILE__,
	    __LINE__);
	len = get_sig(tok, sig);
	assert_int_equal(len, 32);
	assert_int_equal(jws_verify_hmac(a1_key, a1_keylen, JWS_ALG_HS256,
	    a1, strrchr(a1, '.') - a1, sig, len), JOSE_OK);
	/* One byte of the key changed, or the MAC claimed to be HS384. */
	a1_key[0] ^= 1;
	assert_int_equal(jws_verify_hmac(a1_key, a1_keylen, JWS_ALG_HS256,
	    a1, strrchr(a1, '.') - a1, sig, len), JOSE_ERR_SIGNATURE);
	a1_key[0] ^= 1;
	assert_int_equal(jws_verify_hmac(a1_key, a1_keylen, JWS_ALG_HS384,
	    a1, strrchr(a1, '.') - a1, sig, len), JOSE_ERR_SIG_LENGTH);
	assert_int_equal(jws_verify_hmac(a1_key, a1_keylen, JWS_ALG_RS256,
	    a1, strrchr(a1, '.') - a1, sig, len), JOSE_ERR_KEY_MISMATCH);
	sig[31] ^= 0x80;
	tok = set_sig(tok, sig, len);
	expect_at(tok, RFC_EXP - 1, JOSE_ERR_SIGNATURE, __FILE__, __LINE__);
}

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

	expect_at(strdup(A2_JWS), RFC_EXP - 1, JOSE_ERR_AUDIENCE, __FILE__,
	    __LINE__);
	expect_at(strdup(A2_JWS), RFC_EXP, JOSE_ERR_EXPIRED, __FILE__,
	    __LINE__);
	len = get_sig(tok, sig);
	assert_int_equal(len, 256);
	sig[100] ^= 0x01;
	tok = set_sig(tok, sig, len);
	expect_at(tok, RFC_EXP - 1, JOSE_ERR_SIGNATURE, __FILE__, __LINE__);
}

/* RFC 7515 A.3: the same, with ES256 and the issuer's only P-256 key. */
static void
test_rfc7515_a3_es256(void **state)
{
	uint8_t	 sig[SIG_MAX];
	size_t	 len;
	char	*tok = strdup(A3_JWS);

	expect_at(strdup(A3_JWS), RFC_EXP - 1, JOSE_ERR_AUDIENCE, __FILE__,
	    __LINE__);
	expect_at(strdup(A3_JWS), RFC_EXP, JOSE_ERR_EXPIRED, __FILE__,
	    __LINE__);
	len = get_sig(tok, sig);
	assert_int_equal(len, 64);
	sig[40] ^= 0x80;
	tok = set_sig(tok, sig, len);
	expect_at(tok, RFC_EXP - 1, JOSE_ERR_SIGNATURE, __FILE__, __LINE__);
}

/*
 * RFC 7515 A.4 signs the text "Payload" with ES512 on P-521: 132 bytes of
 * r || s.  jwt_verify needs claims to pick an issuer, so it refuses the
 * JWS as a payload error; the signature is checked with jws_verify_sig,
 * the same code jwt_verify runs, and the RFC's key from the JWKS.
 */
static void
test_rfc7515_a4_es512(void **state)
{
	static const char	 a4[] = A4_JWS;
	const struct jwk	*key = &sets[ISS_JOE]->keys[2];
	uint8_t			 sig[SIG_MAX];
	size_t			 len = get_sig(a4, sig);

	assert_string_equal(key->kid, "rfc7515-a4");
	assert_int_equal(key->kty, JWK_KTY_EC_P521);
	assert_int_equal(len, 132);
	expect(strdup(A4_JWS), JOSE_ERR_PAYLOAD);
	assert_int_equal(jws_verify_sig(key, JWS_ALG_ES512, A4_INPUT,
	    strlen(A4_INPUT), sig, len), JOSE_OK);
	assert_int_equal(jws_verify_sig(key, JWS_ALG_ES384, A4_INPUT,
	    strlen(A4_INPUT), sig, len), JOSE_ERR_CURVE_MISMATCH);
	assert_int_equal(jws_verify_sig(key, JWS_ALG_ES512, A4_INPUT,
	    strlen(A4_INPUT), sig, len - 1), JOSE_ERR_SIG_LENGTH);
	assert_int_equal(jws_verify_sig(key, JWS_ALG_ES512, A4_INPUT,
	    strlen(A4_INPUT) - 1, sig, len), JOSE_ERR_SIGNATURE);
	sig[70] ^= 0x10;
	assert_int_equal(jws_verify_sig(key, JWS_ALG_ES512, A4_INPUT,
	    strlen(A4_INPUT), sig, len), JOSE_ERR_SIGNATURE);
	assert_int_equal(ERR_peek_error(), 0);
}

/*
 * RFC 8037 A.4 signs the text "Example of Ed25519 signing", checked the
 * same way.  Ed25519 is deterministic, so signing it with the RFC's
 * private key must reproduce the RFC's signature.
 */
static void
test_rfc8037_a4_eddsa(void **state)
{
	const struct jwk	*key = &sets[ISS_ED]->keys[0];
	uint8_t			 sig[SIG_MAX];
	size_t			 len;
	char			*s;

	expect_at(strdup(ED_JWS), NOW, JOSE_ERR_PAYLOAD, __FILE__, __LINE__);

	assert_int_equal(b64url_decode(sig, &len, ED_SIG, strlen(ED_SIG),
	    B64_NOPAD), 0);
	assert_int_equal(jws_verify_sig(key, JWS_ALG_EDDSA, ED_INPUT,
	    strlen(ED_INPUT), sig, len), JOSE_OK);
	/* The signing input exactly as sent: one more byte breaks it. */
	assert_int_equal(jws_verify_sig(key, JWS_ALG_EDDSA, ED_INPUT "x",
	    strlen(ED_INPUT) + 1, sig, len), JOSE_ERR_SIGNATURE);
	sig[0] ^= 0x01;
	assert_int_equal(jws_verify_sig(key, JWS_ALG_EDDSA, ED_INPUT,
	    strlen(ED_INPUT), sig, len), JOSE_ERR_SIGNATURE);
	assert_int_equal(jws_verify_sig(key, JWS_ALG_ES256, ED_INPUT,
	    strlen(ED_INPUT), sig, len), JOSE_ERR_KEY_MISMATCH);
	assert_int_equal(jws_verify_sig(key, JWS_ALG_HS256, ED_INPUT,
	    strlen(ED_INPUT), sig, len), JOSE_ERR_KEY_MISMATCH);
	assert_int_equal(ERR_peek_error(), 0);

	/* The RFC's d is the private half of the JWKS key... */
	assert_int_equal(EVP_PKEY_eq(k_rfc8037, key->pkey), 1);
	/* ...and our signing reproduces the RFC's signature. */
	len = sign_input(k_rfc8037, JWS_ALG_EDDSA, ED_INPUT, sig);
	s = b64(sig, len);
	assert_string_equal(s, ED_SIG);
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
	    JWS_ALG_RS256, a2, strrchr(a2, '.') - a2, sig, len), JOSE_OK);
	/* The same RSA signature is no PS256 nor RS384 signature. */
	assert_int_equal(jws_verify_sig(&sets[ISS_JOE]->keys[0],
	    JWS_ALG_PS256, a2, strrchr(a2, '.') - a2, sig, len),
	    JOSE_ERR_SIGNATURE);
	assert_int_equal(jws_verify_sig(&sets[ISS_JOE]->keys[0],
	    JWS_ALG_RS384, a2, strrchr(a2, '.') - a2, sig, len),
	    JOSE_ERR_SIGNATURE);
	len = get_sig(a3, sig);
	assert_int_equal(jws_verify_sig(&sets[ISS_JOE]->keys[1],
	    JWS_ALG_ES256, a3, strrchr(a3, '.') - a3, sig, len), JOSE_OK);
	/* The right signature under the wrong key type. */
	assert_int_equal(jws_verify_sig(&sets[ISS_JOE]->keys[0],
	    JWS_ALG_ES256, a3, strrchr(a3, '.') - a3, sig, len),
	    JOSE_ERR_KEY_MISMATCH);
	assert_int_equal(ERR_peek_error(), 0);
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
	assert_int_equal(verify_at(tok, NOW, &id), JOSE_OK);
	assert_ptr_equal(id.issuer, &issuers[ISS_ED]);
	assert_string_equal(id.ident, TEST_SUB);
	free(tok);
	/* Signed by another Ed25519 key: refused. */
	tok = sign_json("{\"alg\":\"EdDSA\"}", pay, k_ed, JWS_ALG_EDDSA);
	expect(tok, JOSE_ERR_SIGNATURE);
	free(pay);
}

/* ---- tokens made by the openssl command line ---- */

/*
 * vectors/tokens.txt: one JWT per algorithm, signed by `openssl dgst` or
 * `openssl pkeyutl` (gen.sh), not by anything in this file.  Each must
 * verify, for the test issuer's subject, and fail once a bit of its
 * signature is flipped.
 */
static void
test_openssl_tokens(void **state)
{
	FILE			*f = fopen(tu_vector("tokens.txt"), "r");
	char			 line[2048], alg[16], *tok;
	struct jwt_identity	 id;
	enum jws_alg		 a;
	unsigned		 seen = 0;
	uint8_t			 sig[SIG_MAX];
	size_t			 len;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		tok = malloc(sizeof(line));
		assert_non_null(tok);
		assert_int_equal(sscanf(line, "%15s %2047s", alg, tok), 2);
		assert_int_equal(jws_alg_parse(alg, &a), 0);
		seen |= JWS_ALG_BIT(a);
		memset(&id, 0, sizeof(id));
		if (verify_at(tok, NOW, &id) != JOSE_OK)
			fail_msg("%s: %s", alg,
			    jose_strerror(verify_at(tok, NOW, &id)));
		assert_ptr_equal(id.issuer, &issuers[ISS_TEST]);
		assert_string_equal(id.ident, TEST_SUB);
		assert_int_equal(id.exp, NOW + 300);
		len = get_sig(tok, sig);
		sig[len / 2] ^= 0x20;
		expect(set_sig(tok, sig, len), JOSE_ERR_SIGNATURE);
	}
	fclose(f);
	/* All 13 algorithms are there. */
	assert_int_equal(seen, (1u << JWS_ALG_COUNT) - 1);
}

/* ---- valid tokens ---- */

static void
valid(enum jws_alg alg, const char *kid)
{
	struct claims		 c = std_claims();
	struct jwt_identity	 id;
	char			*tok = token_kid(alg, kid, &c);
	enum jose_err		 e;

	memset(&id, 0, sizeof(id));
	if ((e = verify_at(tok, NOW, &id)) != JOSE_OK)
		fail_msg("%s kid %s: %s", jws_alg_name(alg),
		    kid ? kid : "(none)", jose_strerror(e));
	assert_ptr_equal(id.issuer, &issuers[ISS_TEST]);
	assert_string_equal(id.ident, TEST_SUB);
	assert_int_equal(id.exp, NOW + 300);
	free(tok);
}

/* Every algorithm, with its key named by kid, and without a kid. */
static void
test_valid_each_alg(void **state)
{
	size_t	 i;

	for (i = 0; i < NALGS; i++) {
		valid(all_algs[i], kid_for(all_algs[i]));
		/* The issuer's only key of that type (HS*: the secret). */
		valid(all_algs[i], NULL);
	}
	/* HS* ignores kid: the secret is the issuer's, not the token's. */
	valid(JWS_ALG_HS256, "rsa1");
}

/* The verify contexts of a key survive use, failures included. */
static void
test_key_contexts_reused(void **state)
{
	const struct jwk	*rsa = &sets[ISS_TEST]->keys[0];
	const struct jwk	*ed = &sets[ISS_TEST]->keys[4];
	struct claims		 c = std_claims();
	size_t			 i;
	int			 a, n;
	uint8_t			 sig[SIG_MAX];
	size_t			 len;
	char			*tok;

	for (a = 0, n = 0; a < JWS_ALG_COUNT; a++)
		n += rsa->vctx[a] != NULL;
	assert_int_equal(n, 6);			/* RS* and PS* */
	for (a = 0; a < JWS_ALG_COUNT; a++)
		assert_null(ed->vctx[a]);	/* Ed25519: one-shot */
	assert_non_null(sets[ISS_TEST]->keys[2].vctx[JWS_ALG_ES384]);
	assert_null(sets[ISS_TEST]->keys[2].vctx[JWS_ALG_ES256]);
	for (i = 0; i < 3; i++) {
		tok = token(JWS_ALG_PS384, &c);
		expect(strdup(tok), JOSE_OK);
		len = get_sig(tok, sig);
		sig[3] ^= 1;
		expect(set_sig(tok, sig, len), JOSE_ERR_SIGNATURE);
		expect_claims(JWS_ALG_ES512, &c, JOSE_OK);
	}
}

static void
test_valid_variants(void **state)
{
	struct claims		 c = std_claims();
	struct jwt_identity	 id;
	char			*tok;

	/* aud as an array that names us among others. */
	c.aud = "[\"other\",\"" TEST_AUD "\"]";
	expect_claims(JWS_ALG_ES256, &c, JOSE_OK);
	/* Unknown claims and header members are ignored. */
	c = std_claims();
	c.extra = "\"scope\":[\"a\"],\"nested\":{\"x\":[1,2.5,null]}";
	expect_claims(JWS_ALG_RS256, &c, JOSE_OK);
	expect(token_hdr("{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"rsa1\","
	    "\"x5u\":\"https://evil.example/\"}"), JOSE_OK);
	/* The largest exp is not an overflow. */
	c = std_claims();
	c.exp = "9223372036854775807";
	tok = token(JWS_ALG_RS256, &c);
	assert_int_equal(verify_at(tok, NOW, &id), JOSE_OK);
	assert_int_equal(id.exp, INT64_MAX);
	free(tok);
	/* Nor the smallest nbf and iat. */
	c = std_claims();
	c.nbf = c.iat = "-9223372036854775808";
	expect_claims(JWS_ALG_EDDSA, &c, JOSE_OK);
	/* A tiny real underflows to 0, which is a number in range. */
	c = std_claims();
	c.extra = "\"tiny\":1e-400";
	expect_claims(JWS_ALG_EDDSA, &c, JOSE_OK);
}

/* With several keys of a type, the kid picks; without one, refused. */
static void
test_kid_required(void **state)
{
	struct claims	 c = std_claims();

	c.iss = "\"https://two.example\"";
	expect(token_kid(JWS_ALG_RS256, "rsa1", &c), JOSE_OK);
	expect(token_kid(JWS_ALG_RS256, NULL, &c), JOSE_ERR_KID_REQUIRED);
	/* Naming the other key: a real key, but not the signer. */
	expect(token_kid(JWS_ALG_RS256, "a2", &c), JOSE_ERR_SIGNATURE);
}

/* ---- time claims, at and around the leeway ---- */

static void
test_exp(void **state)
{
	struct claims	 c = std_claims();

	c.exp = num(NOW - LEEWAY + 1);
	expect_claims(JWS_ALG_RS256, &c, JOSE_OK);
	c.exp = num(NOW - LEEWAY);	/* exp + leeway <= now */
	expect_claims(JWS_ALG_RS256, &c, JOSE_ERR_EXPIRED);
	c.exp = num(NOW - 86400);
	expect_claims(JWS_ALG_RS256, &c, JOSE_ERR_EXPIRED);
	c.exp = "-9223372036854775808";
	expect_claims(JWS_ALG_RS256, &c, JOSE_ERR_EXPIRED);
	c.exp = NULL;
	expect_claims(JWS_ALG_RS256, &c, JOSE_ERR_EXP_MISSING);
}

static void
test_exp_types(void **state)
{
	struct claims	 c = std_claims();

	c.exp = "\"1700000300\"";
	expect_claims(JWS_ALG_ES256, &c, JOSE_ERR_CLAIM_TYPE);
	c.exp = "1.7e9";
	expect_claims(JWS_ALG_ES256, &c, JOSE_ERR_CLAIM_TYPE);
	c.exp = "1700000300.0";
	expect_claims(JWS_ALG_ES256, &c, JOSE_ERR_CLAIM_TYPE);
	c.exp = "1e300";
	expect_claims(JWS_ALG_ES256, &c, JOSE_ERR_CLAIM_TYPE);
	c.exp = "null";
	expect_claims(JWS_ALG_ES256, &c, JOSE_ERR_CLAIM_TYPE);
	c.exp = "true";
	expect_claims(JWS_ALG_ES256, &c, JOSE_ERR_CLAIM_TYPE);
	c.exp = "[1700000300]";
	expect_claims(JWS_ALG_ES256, &c, JOSE_ERR_CLAIM_TYPE);
}

/* Numbers no int64_t or double holds refuse the whole document. */
static void
test_huge_numbers(void **state)
{
	struct claims	 c = std_claims();

	c.exp = "99999999999999999999";			/* > 2^63 */
	expect_claims(JWS_ALG_ES256, &c, JOSE_ERR_NUMBER_RANGE);
	c.exp = "9223372036854775808";			/* 2^63 */
	expect_claims(JWS_ALG_ES256, &c, JOSE_ERR_NUMBER_RANGE);
	c.exp = "-9223372036854775809";
	expect_claims(JWS_ALG_ES256, &c, JOSE_ERR_NUMBER_RANGE);
	c.exp = "1e400";				/* > DBL_MAX */
	expect_claims(JWS_ALG_ES256, &c, JOSE_ERR_NUMBER_RANGE);
	/* In a claim nobody reads, all the same. */
	c = std_claims();
	c.extra = "\"x\":123456789012345678901234567890";
	expect_claims(JWS_ALG_ES256, &c, JOSE_ERR_NUMBER_RANGE);
	/* And in the header. */
	expect(token_hdr("{\"alg\":\"RS256\",\"kid\":\"rsa1\","
	    "\"x\":1e999}"), JOSE_ERR_NUMBER_RANGE);
}

static void
test_nbf(void **state)
{
	struct claims	 c = std_claims();

	c.nbf = num(NOW + LEEWAY);
	expect_claims(JWS_ALG_EDDSA, &c, JOSE_OK);
	c.nbf = num(NOW + LEEWAY + 1);	/* nbf - leeway > now */
	expect_claims(JWS_ALG_EDDSA, &c, JOSE_ERR_NOT_YET_VALID);
	c.nbf = "9223372036854775807";
	expect_claims(JWS_ALG_EDDSA, &c, JOSE_ERR_NOT_YET_VALID);
	c.nbf = "\"0\"";
	expect_claims(JWS_ALG_EDDSA, &c, JOSE_ERR_CLAIM_TYPE);
}

static void
test_iat(void **state)
{
	struct claims	 c = std_claims();

	c.iat = num(NOW + LEEWAY);
	expect_claims(JWS_ALG_EDDSA, &c, JOSE_OK);
	c.iat = num(NOW + LEEWAY + 1);
	expect_claims(JWS_ALG_EDDSA, &c, JOSE_ERR_IAT_FUTURE);
	c.iat = "1699999990.5";
	expect_claims(JWS_ALG_EDDSA, &c, JOSE_ERR_CLAIM_TYPE);
	c.iat = NULL;
	expect_claims(JWS_ALG_EDDSA, &c, JOSE_OK);
}

/* ---- aud, sub, iss ---- */

static void
test_audience(void **state)
{
	struct claims	 c = std_claims();

	c.aud = "\"other\"";
	expect_claims(JWS_ALG_RS256, &c, JOSE_ERR_AUDIENCE);
	c.aud = "\"tokend2\"";			/* no prefix matching */
	expect_claims(JWS_ALG_RS256, &c, JOSE_ERR_AUDIENCE);
	c.aud = "\"Tokend\"";
	expect_claims(JWS_ALG_RS256, &c, JOSE_ERR_AUDIENCE);
	c.aud = "[\"a\",\"b\"]";
	expect_claims(JWS_ALG_RS256, &c, JOSE_ERR_AUDIENCE);
	c.aud = "[]";
	expect_claims(JWS_ALG_RS256, &c, JOSE_ERR_AUDIENCE);
	c.aud = NULL;
	expect_claims(JWS_ALG_RS256, &c, JOSE_ERR_AUDIENCE);
	c.aud = "[\"" TEST_AUD "\",7]";
	expect_claims(JWS_ALG_RS256, &c, JOSE_ERR_AUD_TYPE);
	c.aud = "{\"aud\":\"" TEST_AUD "\"}";
	expect_claims(JWS_ALG_RS256, &c, JOSE_ERR_AUD_TYPE);
	c.aud = "42";
	expect_claims(JWS_ALG_RS256, &c, JOSE_ERR_AUD_TYPE);
}

static void
test_sub(void **state)
{
	struct claims		 c = std_claims();
	struct jwt_identity	 id;
	char			 longsub[JWT_MAX_SUB + 4], *tok;

	c.sub = NULL;
	expect_claims(JWS_ALG_ES256, &c, JOSE_ERR_SUB_MISSING);
	c.sub = "\"\"";
	expect_claims(JWS_ALG_ES256, &c, JOSE_ERR_SUB_MISSING);
	c.sub = "42";
	expect_claims(JWS_ALG_ES256, &c, JOSE_ERR_SUB_MISSING);
	/* Exactly JWT_MAX_SUB bytes: accepted and copied whole. */
	longsub[0] = '"';
	memset(longsub + 1, 's', JWT_MAX_SUB);
	strcpy(longsub + 1 + JWT_MAX_SUB, "\"");
	c.sub = longsub;
	tok = token(JWS_ALG_ES256, &c);
	assert_int_equal(verify_at(tok, NOW, &id), JOSE_OK);
	assert_int_equal(strlen(id.ident), JWT_MAX_SUB);
	free(tok);
	strcpy(longsub + 1 + JWT_MAX_SUB, "s\"");
	expect_claims(JWS_ALG_ES256, &c, JOSE_ERR_SUB_MISSING);
}

static void
test_issuer(void **state)
{
	struct claims	 c = std_claims();

	c.iss = "\"https://evil.example\"";
	expect_claims(JWS_ALG_RS256, &c, JOSE_ERR_ISS_UNKNOWN);
	c.iss = "\"https://IDP.example\"";
	expect_claims(JWS_ALG_RS256, &c, JOSE_ERR_ISS_UNKNOWN);
	c.iss = "\"" TEST_ISS "/\"";
	expect_claims(JWS_ALG_RS256, &c, JOSE_ERR_ISS_UNKNOWN);
	c.iss = NULL;
	expect_claims(JWS_ALG_RS256, &c, JOSE_ERR_ISS_MISSING);
	c.iss = "[\"" TEST_ISS "\"]";
	expect_claims(JWS_ALG_RS256, &c, JOSE_ERR_ISS_MISSING);
	/* jansson refuses NUL in strings, so "iss" cannot hide a suffix. */
	c.iss = "\"" TEST_ISS "\\u0000evil\"";
	expect_claims(JWS_ALG_RS256, &c, JOSE_ERR_PAYLOAD);
}

/* ---- required claims and the email identity ---- */

/* A token for the email issuer: c's claims plus extra. */
static char *
mail_token(enum jws_alg alg, const char *extra)
{
	struct claims	 c = std_claims();

	c.iss = "\"https://mail.example\"";
	c.sub = "\"1234567890\"";
	c.extra = extra;
	return token(alg, &c);
}

#define GOOD_MAIL_CLAIMS "\"email_verified\":true,\"hd\":\"example.com\""

static void
test_email_identity(void **state)
{
	struct jwt_identity	 id;
	char			*tok;

	tok = mail_token(JWS_ALG_ES384, "\"email\":\"Alice.B@Example.COM\","
	    GOOD_MAIL_CLAIMS);
	assert_int_equal(verify_at(tok, NOW, &id), JOSE_OK);
	assert_ptr_equal(id.issuer, &issuers[ISS_EMAIL]);
	/* The identity is the address, its domain folded to lower case. */
	assert_string_equal(id.ident, "Alice.B@example.com");
	free(tok);
	/* No sub needed when the identity is the email. */
	{
		struct claims	 c = std_claims();

		c.iss = "\"https://mail.example\"";
		c.sub = NULL;
		c.extra = "\"email\":\"bob@example.org\"," GOOD_MAIL_CLAIMS;
		expect_claims(JWS_ALG_PS256, &c, JOSE_OK);
	}
	expect(mail_token(JWS_ALG_RS256, GOOD_MAIL_CLAIMS),
	    JOSE_ERR_EMAIL_MISSING);
	expect(mail_token(JWS_ALG_RS256, "\"email\":\"alice\","
	    GOOD_MAIL_CLAIMS), JOSE_ERR_EMAIL_MISSING);
	expect(mail_token(JWS_ALG_RS256, "\"email\":\"alice@localhost\","
	    GOOD_MAIL_CLAIMS), JOSE_ERR_EMAIL_MISSING);
	expect(mail_token(JWS_ALG_RS256, "\"email\":\"@example.com\","
	    GOOD_MAIL_CLAIMS), JOSE_ERR_EMAIL_MISSING);
	expect(mail_token(JWS_ALG_RS256, "\"email\":\"a b@example.com\","
	    GOOD_MAIL_CLAIMS), JOSE_ERR_EMAIL_MISSING);
	expect(mail_token(JWS_ALG_RS256, "\"email\":\"a@b@example.com\","
	    GOOD_MAIL_CLAIMS), JOSE_ERR_EMAIL_MISSING);
	expect(mail_token(JWS_ALG_RS256, "\"email\":\"a@exa_mple.com\","
	    GOOD_MAIL_CLAIMS), JOSE_ERR_EMAIL_MISSING);
	expect(mail_token(JWS_ALG_RS256, "\"email\":\"a@-example.com\","
	    GOOD_MAIL_CLAIMS), JOSE_ERR_EMAIL_MISSING);
	expect(mail_token(JWS_ALG_RS256, "\"email\":\"a@example..com\","
	    GOOD_MAIL_CLAIMS), JOSE_ERR_EMAIL_MISSING);
	expect(mail_token(JWS_ALG_RS256, "\"email\":\"a@example.com.\","
	    GOOD_MAIL_CLAIMS), JOSE_ERR_EMAIL_MISSING);
	expect(mail_token(JWS_ALG_RS256, "\"email\":[\"a@example.com\"],"
	    GOOD_MAIL_CLAIMS), JOSE_ERR_EMAIL_MISSING);
}

/*
 * The one rule for an email that becomes a uid subject, on both paths
 * (BrowserID's principal too): the domain lower-cased, ASCII only, the
 * local part kept as given.
 */
static void
test_email_fold(void **state)
{
	static const struct {
		const char	*in, *want;
	} t[] = {
		{ "Bob@X.Example", "Bob@x.example" },
		{ "Bob@x.example", "Bob@x.example" },
		{ "bob@x.example", "bob@x.example" },
		{ "BOB@IDP.EXAMPLE:8443", "BOB@idp.example:8443" },
		/* After the first '@' only; UTF-8 bytes are left alone. */
		{ "A@B@C.D", "A@b@c.d" },
		{ "Z@\xc3\x89" "COLE.example", "Z@\xc3\x89" "cole.example" },
		{ "NoAt.Example", "NoAt.Example" },
		{ "", "" },
	};
	struct jwt_identity	 id;
	char			 buf[64], *tok;
	size_t			 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", t[i].in);
		jose_email_fold(buf);
		assert_string_equal(buf, t[i].want);
	}
	/* The JWT path applies it: two spellings of one mailbox agree. */
	tok = mail_token(JWS_ALG_ES256, "\"email\":\"Bob@X.Example\","
	    GOOD_MAIL_CLAIMS);
	assert_int_equal(verify_at(tok, NOW, &id), JOSE_OK);
	assert_string_equal(id.ident, "Bob@x.example");
	free(tok);
	tok = mail_token(JWS_ALG_ES256, "\"email\":\"bob@x.example\","
	    GOOD_MAIL_CLAIMS);
	assert_int_equal(verify_at(tok, NOW, &id), JOSE_OK);
	assert_string_equal(id.ident, "bob@x.example");
	free(tok);
}

static void
test_required_claims(void **state)
{
	expect(mail_token(JWS_ALG_EDDSA, "\"email\":\"a@example.com\","
	    GOOD_MAIL_CLAIMS), JOSE_OK);
	expect(mail_token(JWS_ALG_EDDSA, "\"email\":\"a@example.com\","
	    "\"email_verified\":false,\"hd\":\"example.com\""),
	    JOSE_ERR_CLAIM_REQUIRED);
	/* The string "true" is not the boolean OpenID Connect defines. */
	expect(mail_token(JWS_ALG_EDDSA, "\"email\":\"a@example.com\","
	    "\"email_verified\":\"true\",\"hd\":\"example.com\""),
	    JOSE_ERR_CLAIM_REQUIRED);
	expect(mail_token(JWS_ALG_EDDSA, "\"email\":\"a@example.com\","
	    "\"hd\":\"example.com\""), JOSE_ERR_CLAIM_REQUIRED);
	expect(mail_token(JWS_ALG_EDDSA, "\"email\":\"a@example.com\","
	    "\"email_verified\":true,\"hd\":\"example.org\""),
	    JOSE_ERR_CLAIM_REQUIRED);
	expect(mail_token(JWS_ALG_EDDSA, "\"email\":\"a@example.com\","
	    "\"email_verified\":true,\"hd\":true"), JOSE_ERR_CLAIM_REQUIRED);
	expect(mail_token(JWS_ALG_EDDSA, "\"email\":\"a@example.com\","
	    "\"email_verified\":1,\"hd\":\"example.com\""),
	    JOSE_ERR_CLAIM_REQUIRED);
	/* The requirement is checked before the identity. */
	expect(mail_token(JWS_ALG_EDDSA, "\"hd\":\"example.com\""),
	    JOSE_ERR_CLAIM_REQUIRED);
}

static void
test_service_allowed(void **state)
{
	char		*names[] = { "sync-1.5", "other" };
	struct issuer	 is;

	memset(&is, 0, sizeof(is));
	assert_true(issuer_allows_service(&is, "sync-1.5"));
	assert_true(issuer_allows_service(&is, "anything"));
	is.services = names;
	is.nservices = 2;
	assert_true(issuer_allows_service(&is, "sync-1.5"));
	assert_true(issuer_allows_service(&is, "other"));
	assert_false(issuer_allows_service(&is, "sync-1.6"));
	assert_false(issuer_allows_service(&is, "sync"));
	assert_false(issuer_allows_service(&is, ""));
}

/* ---- algorithms and keys ---- */

static void
test_alg_disallowed(void **state)
{
	struct claims	 c = std_claims();

	c.iss = "\"https://rsa.example\"";
	expect_claims(JWS_ALG_RS256, &c, JOSE_OK);
	expect_claims(JWS_ALG_ES256, &c, JOSE_ERR_ALG_DISALLOWED);
	expect_claims(JWS_ALG_EDDSA, &c, JOSE_ERR_ALG_DISALLOWED);
	expect_claims(JWS_ALG_RS384, &c, JOSE_ERR_ALG_DISALLOWED);
	expect_claims(JWS_ALG_PS256, &c, JOSE_ERR_ALG_DISALLOWED);
	expect_claims(JWS_ALG_ES512, &c, JOSE_ERR_ALG_DISALLOWED);
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
	expect(tok, JOSE_ERR_MALFORMED);
	free(h);
	/* With a (valid RS256) signature attached, in any case. */
	expect(token_hdr("{\"alg\":\"none\",\"kid\":\"rsa1\"}"),
	    JOSE_ERR_ALG_NONE);
	expect(token_hdr("{\"alg\":\"nOnE\",\"kid\":\"rsa1\"}"),
	    JOSE_ERR_ALG_NONE);
	free(p);
	free(pay);
}

/* An HS* token over the standard claims, keyed with key[0..keylen). */
static char *
hs_token(enum jws_alg alg, const char *iss, const void *key, size_t keylen)
{
	struct claims	 c = std_claims();
	char		 hdr_json[64];
	char		*pay, *h, *p, *input, *m, *tok;
	uint8_t		 mac[EVP_MAX_MD_SIZE];
	unsigned	 maclen;

	c.iss = iss;
	pay = claims_json(&c);
	snprintf(hdr_json, sizeof(hdr_json), "{\"alg\":\"%s\",\"kid\":"
	    "\"rsa1\"}", jws_alg_name(alg));
	h = b64(hdr_json, strlen(hdr_json));
	p = b64(pay, strlen(pay));
	assert_true(asprintf(&input, "%s.%s", h, p) > 0);
	assert_non_null(HMAC(md_for(alg), key, (int)keylen,
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
 * key to HMAC.  An issuer without a shared secret refuses HS* outright;
 * one with a secret checks the MAC with that secret only, never with key
 * material from the JWKS, so the forgery does not verify.
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
	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PUBKEY(bio, k_rsa), 1);
	pemlen = BIO_get_mem_data(bio, &pem);
	expect(hs_token(JWS_ALG_HS256, "\"https://rsa.example\"", n,
	    (size_t)nlen), JOSE_ERR_HS_NO_SECRET);
	expect(hs_token(JWS_ALG_HS256, "\"https://rsa.example\"", pem,
	    (size_t)pemlen), JOSE_ERR_HS_NO_SECRET);
	expect(hs_token(JWS_ALG_HS512, "\"https://mail.example\"", pem,
	    (size_t)pemlen), JOSE_ERR_HS_NO_SECRET);
	expect(hs_token(JWS_ALG_HS256, "\"" TEST_ISS "\"", n, (size_t)nlen),
	    JOSE_ERR_SIGNATURE);
	expect(hs_token(JWS_ALG_HS256, "\"" TEST_ISS "\"", pem,
	    (size_t)pemlen), JOSE_ERR_SIGNATURE);
	/* The real secret, for contrast; then HS384 where joe allows HS256. */
	expect(hs_token(JWS_ALG_HS384, "\"" TEST_ISS "\"", hs_key,
	    hs_keylen), JOSE_OK);
	expect(hs_token(JWS_ALG_HS384, "\"joe\"", a1_key, a1_keylen),
	    JOSE_ERR_ALG_DISALLOWED);
	/* An HS256 MAC relabelled HS512: the length gives it away. */
	{
		char	*tok = hs_token(JWS_ALG_HS256, "\"" TEST_ISS "\"",
			    hs_key, hs_keylen);
		char	*hdr = b64("{\"alg\":\"HS512\"}", 15), *out;

		assert_true(asprintf(&out, "%s%s", hdr, strchr(tok, '.')) > 0);
		expect(out, JOSE_ERR_SIG_LENGTH);
		free(hdr);
		free(tok);
	}
	BIO_free(bio);
	BN_free(bn);
}

static void
test_hs_length(void **state)
{
	char	*tok = hs_token(JWS_ALG_HS512, "\"" TEST_ISS "\"", hs_key,
		    hs_keylen);
	uint8_t	 sig[SIG_MAX];
	size_t	 len = get_sig(tok, sig);

	assert_int_equal(len, 64);
	expect(strdup(tok), JOSE_OK);
	expect(set_sig(strdup(tok), sig, 63), JOSE_ERR_SIG_LENGTH);
	expect(set_sig(strdup(tok), sig, 32), JOSE_ERR_SIG_LENGTH);
	sig[64] = 0;
	expect(set_sig(tok, sig, 65), JOSE_ERR_SIG_LENGTH);
}

static void
test_alg_unsupported(void **state)
{
	expect(token_hdr("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}"), JOSE_OK);
	/* Known algorithms, but the signature is RS256's. */
	expect(token_hdr("{\"alg\":\"RS384\",\"kid\":\"rsa1\"}"),
	    JOSE_ERR_SIGNATURE);
	expect(token_hdr("{\"alg\":\"PS256\",\"kid\":\"rsa1\"}"),
	    JOSE_ERR_SIGNATURE);
	expect(token_hdr("{\"alg\":\"ES256K\",\"kid\":\"rsa1\"}"),
	    JOSE_ERR_ALG_UNSUPPORTED);
	expect(token_hdr("{\"alg\":\"rs256\",\"kid\":\"rsa1\"}"),
	    JOSE_ERR_ALG_UNSUPPORTED);
	expect(token_hdr("{\"alg\":\"RSA-OAEP\",\"kid\":\"rsa1\"}"),
	    JOSE_ERR_ALG_UNSUPPORTED);
	expect(token_hdr("{\"alg\":\"Ed25519\",\"kid\":\"rsa1\"}"),
	    JOSE_ERR_ALG_UNSUPPORTED);
	expect(token_hdr("{\"alg\":\"\",\"kid\":\"rsa1\"}"),
	    JOSE_ERR_ALG_UNSUPPORTED);
}

static void
test_alg_missing(void **state)
{
	expect(token_hdr("{\"kid\":\"rsa1\"}"), JOSE_ERR_ALG_MISSING);
	expect(token_hdr("{\"alg\":256,\"kid\":\"rsa1\"}"),
	    JOSE_ERR_ALG_MISSING);
	expect(token_hdr("{\"alg\":[\"RS256\"],\"kid\":\"rsa1\"}"),
	    JOSE_ERR_ALG_MISSING);
}

static void
test_crit(void **state)
{
	expect(token_hdr("{\"alg\":\"RS256\",\"kid\":\"rsa1\","
	    "\"crit\":[\"exp\"],\"exp\":1}"), JOSE_ERR_CRIT);
	expect(token_hdr("{\"alg\":\"RS256\",\"kid\":\"rsa1\","
	    "\"crit\":[\"b64\"],\"b64\":false}"), JOSE_ERR_CRIT);
	expect(token_hdr("{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"crit\":[]}"),
	    JOSE_ERR_CRIT);
}

/* A token naming a key of another type than its alg verifies with. */
static void
test_key_type_mismatch(void **state)
{
	struct claims	 c = std_claims();

	expect(token_kid(JWS_ALG_ES256, "ec1", &c), JOSE_OK);
	expect(token_kid(JWS_ALG_ES256, "rsa1", &c), JOSE_ERR_KEY_MISMATCH);
	expect(token_kid(JWS_ALG_EDDSA, "ec1", &c), JOSE_ERR_KEY_MISMATCH);
	expect(token_kid(JWS_ALG_RS256, "ed1", &c), JOSE_ERR_KEY_MISMATCH);
	expect(token_kid(JWS_ALG_PS256, "ec384", &c), JOSE_ERR_KEY_MISMATCH);
	expect(token_kid(JWS_ALG_ES512, "ed1", &c), JOSE_ERR_KEY_MISMATCH);
}

/* ES* with an EC key on another curve. */
static void
test_curve_mismatch(void **state)
{
	struct claims	 c = std_claims();

	expect(token_kid(JWS_ALG_ES384, "ec1", &c), JOSE_ERR_CURVE_MISMATCH);
	expect(token_kid(JWS_ALG_ES256, "ec521", &c), JOSE_ERR_CURVE_MISMATCH);
	expect(token_kid(JWS_ALG_ES512, "ec384", &c), JOSE_ERR_CURVE_MISMATCH);
}

/* The right key type, but the JWK says it is for PS256 only. */
static void
test_jwk_alg_mismatch(void **state)
{
	struct claims	 c = std_claims();

	c.iss = "\"https://two.example\"";
	expect(token_kid(JWS_ALG_RS256, "rsa1", &c), JOSE_OK);
	c.iss = "\"https://ps.example\"";
	expect(token_kid(JWS_ALG_PS256, "rsa1", &c), JOSE_OK);
	expect(token_kid(JWS_ALG_RS256, "rsa1", &c),
	    JOSE_ERR_JWK_ALG_MISMATCH);
	/* Without a kid the PS256 key is no candidate at all. */
	expect(token_kid(JWS_ALG_RS256, NULL, &c), JOSE_ERR_NO_FITTING_KEY);
	expect(token_kid(JWS_ALG_PS256, NULL, &c), JOSE_OK);
	/* ec384's JWK says ES384; the curve misfit is reported first. */
	c = std_claims();
	expect(token_kid(JWS_ALG_ES256, "ec384", &c), JOSE_ERR_CURVE_MISMATCH);
}

/* RSASSA-PKCS1-v1_5 and RSASSA-PSS are not interchangeable. */
static void
test_rs_ps_confusion(void **state)
{
	struct claims	 c = std_claims();
	char		*pay = claims_json(&c);

	/* PKCS #1 v1.5 signature under a PS256 header, and vice versa. */
	expect(sign_json("{\"alg\":\"PS256\",\"kid\":\"rsa1\"}", pay, k_rsa,
	    JWS_ALG_RS256), JOSE_ERR_SIGNATURE);
	expect(sign_json("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", pay, k_rsa,
	    JWS_ALG_PS256), JOSE_ERR_SIGNATURE);
	/* PS384 signed with SHA-256. */
	expect(sign_json("{\"alg\":\"PS384\",\"kid\":\"rsa1\"}", pay, k_rsa,
	    JWS_ALG_PS256), JOSE_ERR_SIGNATURE);
	/* RFC 7518 3.5: the salt is as long as the hash, not longer. */
	pss_salt = RSA_PSS_SALTLEN_MAX;
	expect(sign_json("{\"alg\":\"PS256\",\"kid\":\"rsa1\"}", pay, k_rsa,
	    JWS_ALG_PS256), JOSE_ERR_SIGNATURE);
	pss_salt = 20;
	expect(sign_json("{\"alg\":\"PS256\",\"kid\":\"rsa1\"}", pay, k_rsa,
	    JWS_ALG_PS256), JOSE_ERR_SIGNATURE);
	pss_salt = RSA_PSS_SALTLEN_DIGEST;
	expect(sign_json("{\"alg\":\"PS256\",\"kid\":\"rsa1\"}", pay, k_rsa,
	    JWS_ALG_PS256), JOSE_OK);
	free(pay);
}

static void
test_kid(void **state)
{
	struct claims	 c = std_claims();

	expect(token_kid(JWS_ALG_RS256, "rsa2", &c), JOSE_ERR_KID_UNKNOWN);
	expect(token_kid(JWS_ALG_RS256, "RSA1", &c), JOSE_ERR_KID_UNKNOWN);
	expect(token_kid(JWS_ALG_RS256, "", &c), JOSE_ERR_KID_UNKNOWN);
	/* A kid of another issuer's set does not cross over. */
	expect(token_kid(JWS_ALG_RS256, "rfc7515-a2", &c),
	    JOSE_ERR_KID_UNKNOWN);
	expect(token_hdr("{\"alg\":\"RS256\",\"kid\":1}"), JOSE_ERR_KID_TYPE);
	expect(token_hdr("{\"alg\":\"RS256\",\"kid\":null}"),
	    JOSE_ERR_KID_TYPE);
	expect(token_hdr("{\"alg\":\"RS256\",\"kid\":[\"rsa1\"]}"),
	    JOSE_ERR_KID_TYPE);
	/* Without a kid, "joe"'s only RSA key is chosen: not the signer. */
	c.iss = "\"joe\"";
	expect(token_kid(JWS_ALG_RS256, NULL, &c), JOSE_ERR_SIGNATURE);
	/* joe has no P-384 key and does not allow ES384 anyway. */
	expect(token_kid(JWS_ALG_ES384, NULL, &c), JOSE_ERR_ALG_DISALLOWED);
}

/* An issuer whose set is not known yet (jwks_url before its fetch). */
static void
test_no_keys(void **state)
{
	struct claims		 c = std_claims();
	struct jwt_identity	 id;
	char			*tok;

	c.iss = "\"https://empty.example\"";
	expect(token_kid(JWS_ALG_RS256, "rsa1", &c), JOSE_ERR_NO_KEYS);
	expect(token_kid(JWS_ALG_EDDSA, NULL, &c), JOSE_ERR_NO_KEYS);
	expect_claims(JWS_ALG_HS256, &c, JOSE_ERR_HS_NO_SECRET);
	/* The issuer is reported, so the caller can refresh its keys. */
	tok = token(JWS_ALG_RS256, &c);
	assert_int_equal(verify_at(tok, NOW, &id), JOSE_ERR_NO_KEYS);
	assert_ptr_equal(id.issuer, &issuers[ISS_EMPTY]);
	free(tok);
	c = std_claims();
	tok = token_kid(JWS_ALG_RS256, "rotated", &c);
	assert_int_equal(verify_at(tok, NOW, &id), JOSE_ERR_KID_UNKNOWN);
	assert_ptr_equal(id.issuer, &issuers[ISS_TEST]);
	free(tok);
	/* Refused before an issuer is known: none reported. */
	assert_int_equal(verify_at("x.y.z", NOW, &id), JOSE_ERR_BASE64);
	assert_null(id.issuer);
}

/* ---- signatures ---- */

static void
forge(enum jws_alg alg, size_t at)
{
	struct claims	 c = std_claims();
	char		*tok = token(alg, &c);
	uint8_t		 sig[SIG_MAX];
	size_t		 len;

	expect(strdup(tok), JOSE_OK);
	len = get_sig(tok, sig);
	assert_true(at < len);
	sig[at] ^= 0x04;
	expect(set_sig(tok, sig, len), JOSE_ERR_SIGNATURE);
}

static void
test_forged_signature(void **state)
{
	size_t	 i;

	for (i = 0; i < NALGS; i++) {
		forge(all_algs[i], 0);
		forge(all_algs[i], 31);
	}
	forge(JWS_ALG_RS256, 255);
	forge(JWS_ALG_ES256, 63);
	forge(JWS_ALG_ES384, 95);
	forge(JWS_ALG_ES512, 131);
	forge(JWS_ALG_EDDSA, 63);
	forge(JWS_ALG_HS512, 63);
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
	expect(strdup(forged), JOSE_OK);
	expect(set_sig(forged, sig, len), JOSE_ERR_SIGNATURE);
	free(tok);
}

/* Signature len bytes long: the real one cut, or padded with zeros. */
static void
resize_sig(enum jws_alg alg, size_t newlen, enum jose_err want)
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
	static const struct {
		enum jws_alg	 alg;
		size_t		 len;
	} sizes[] = {
		{ JWS_ALG_RS256, 256 }, { JWS_ALG_RS512, 256 },
		{ JWS_ALG_PS384, 256 }, { JWS_ALG_ES256, 64 },
		{ JWS_ALG_ES384, 96 }, { JWS_ALG_ES512, 132 },
		{ JWS_ALG_EDDSA, 64 }, { JWS_ALG_HS256, 32 },
		{ JWS_ALG_HS384, 48 },
	};
	size_t	 i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		resize_sig(sizes[i].alg, sizes[i].len, JOSE_OK);
		resize_sig(sizes[i].alg, sizes[i].len - 1,
		    JOSE_ERR_SIG_LENGTH);
		resize_sig(sizes[i].alg, sizes[i].len + 1,
		    JOSE_ERR_SIG_LENGTH);
	}
	resize_sig(JWS_ALG_RS256, 1, JOSE_ERR_SIG_LENGTH);
	/* An ES512 signature of ES256's size, and the reverse. */
	resize_sig(JWS_ALG_ES512, 64, JOSE_ERR_SIG_LENGTH);
	resize_sig(JWS_ALG_ES256, 132, JOSE_ERR_SIG_LENGTH);
}

/* ECDSA as DER (what OpenSSL emits) is not the JWS encoding. */
static void
test_ecdsa_der_refused(void **state)
{
	static const struct {
		enum jws_alg	 alg;
		const EVP_MD	*(*md)(void);
		EVP_PKEY	**key;
	} cases[] = {
		{ JWS_ALG_ES256, EVP_sha256, &k_ec },
		{ JWS_ALG_ES384, EVP_sha384, &k_ec384 },
		{ JWS_ALG_ES512, EVP_sha512, &k_ec521 },
	};
	struct claims	 c = std_claims();
	size_t		 i, len;
	char		*tok, *input;
	uint8_t		 sig[SIG_MAX];
	EVP_MD_CTX	*ctx;

	for (i = 0; i < 3; i++) {
		tok = token(cases[i].alg, &c);
		input = strndup(tok, strrchr(tok, '.') - tok);
		assert_non_null(ctx = EVP_MD_CTX_new());
		len = SIG_MAX;
		assert_int_equal(EVP_DigestSignInit(ctx, NULL, cases[i].md(),
		    NULL, *cases[i].key), 1);
		assert_int_equal(EVP_DigestSign(ctx, sig, &len,
		    (uint8_t *)input, strlen(input)), 1);
		EVP_MD_CTX_free(ctx);
		assert_int_not_equal(len, 2 * ec_coord(cases[i].alg));
		expect(set_sig(tok, sig, len), JOSE_ERR_SIG_LENGTH);
		free(input);
	}
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
	uint8_t			 sig[SIG_MAX], bad[132];

	(void)get_sig(tok, sig);
	memcpy(bad, sig, 64);
	memset(bad, 0, 32);
	expect(set_sig(strdup(tok), bad, 64), JOSE_ERR_SIGNATURE);
	memcpy(bad, sig, 64);
	memset(bad + 32, 0, 32);
	expect(set_sig(strdup(tok), bad, 64), JOSE_ERR_SIGNATURE);
	memcpy(bad, order, 32);
	expect(set_sig(strdup(tok), bad, 64), JOSE_ERR_SIGNATURE);
	memset(bad, 0xff, 64);
	expect(set_sig(tok, bad, 64), JOSE_ERR_SIGNATURE);
	/* ES512: all ones is far beyond the P-521 order. */
	tok = token(JWS_ALG_ES512, &c);
	memset(bad, 0xff, 132);
	expect(set_sig(tok, bad, 132), JOSE_ERR_SIGNATURE);
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

	expect(strdup(tok), JOSE_OK);
	/* Characters of standard base64, of neither, and white space. */
	expect(poke(tok, 0, 2, '+'), JOSE_ERR_BASE64);
	expect(poke(tok, 1, 5, '/'), JOSE_ERR_BASE64);
	expect(poke(tok, 2, 9, '*'), JOSE_ERR_BASE64);
	expect(poke(tok, 1, 0, ' '), JOSE_ERR_BASE64);
	expect(poke(tok, 2, 0, '\n'), JOSE_ERR_BASE64);
	/* Padding: a 256-byte signature is 342 characters, 2 short of 4n. */
	assert_true(asprintf(&s, "%s==", tok) > 0);
	expect(s, JOSE_ERR_BASE64);
	/* A part of 4n+1 characters (342 + 3) cannot be base64. */
	assert_true(asprintf(&s, "%sAAA", tok) > 0);
	expect(s, JOSE_ERR_BASE64);
	free(tok);
}

static void
test_structure(void **state)
{
	struct claims	 c = std_claims();
	char		*tok = token(JWS_ALG_RS256, &c), *s;
	char		*d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');

	expect(strdup(tok), JOSE_OK);
	expect(strndup(tok, d2 - tok), JOSE_ERR_MALFORMED);	/* h.p */
	assert_true(asprintf(&s, "%s.%s", tok, d2 + 1) > 0); /* h.p.s.s */
	expect(s, JOSE_ERR_MALFORMED);
	expect(strdup(d1), JOSE_ERR_MALFORMED);			/* .p.s */
	assert_true(asprintf(&s, "%.*s.%s", (int)(d1 - tok), tok, d2) > 0);
	expect(s, JOSE_ERR_MALFORMED);				/* h..s */
	expect(strndup(tok, d2 - tok + 1), JOSE_ERR_MALFORMED);	/* h.p. */
	expect(strdup(""), JOSE_ERR_MALFORMED);
	expect(strdup(".."), JOSE_ERR_MALFORMED);
	free(tok);
}

static void
test_json_shape(void **state)
{
	struct claims	 c = std_claims();

	/* Duplicate members: a second parser might read the other one. */
	expect(token_hdr("{\"alg\":\"RS256\",\"kid\":\"rsa1\","
	    "\"alg\":\"RS256\"}"), JOSE_ERR_DUPLICATE_MEMBER);
	expect(token_hdr("{\"alg\":\"none\",\"kid\":\"rsa1\","
	    "\"alg\":\"RS256\"}"), JOSE_ERR_DUPLICATE_MEMBER);
	c.extra = "\"sub\":\"admin\"";
	expect_claims(JWS_ALG_RS256, &c, JOSE_ERR_DUPLICATE_MEMBER);
	c.extra = "\"x\":{\"a\":1,\"a\":2}";		/* nested too */
	expect_claims(JWS_ALG_RS256, &c, JOSE_ERR_DUPLICATE_MEMBER);
	/* Not JSON, and JSON but not an object. */
	expect(token_hdr("{\"alg\":\"RS256\",\"kid\":\"rsa1\""),
	    JOSE_ERR_HEADER);
	expect(token_hdr("{\"alg\":\"RS256\",\"kid\":\"rsa1\"} x"),
	    JOSE_ERR_HEADER);
	expect(token_hdr("{'alg':'RS256'}"), JOSE_ERR_HEADER);
	expect(token_hdr("[\"RS256\"]"), JOSE_ERR_HEADER_NOT_OBJECT);
	expect(token_hdr("\"RS256\""), JOSE_ERR_HEADER_NOT_OBJECT);
	expect(sign_json("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", "[1,2]",
	    k_rsa, JWS_ALG_RS256), JOSE_ERR_PAYLOAD_NOT_OBJECT);
	expect(sign_json("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}",
	    "[{\"iss\":\"" TEST_ISS "\"}]", k_rsa, JWS_ALG_RS256),
	    JOSE_ERR_PAYLOAD_NOT_OBJECT);
	expect(sign_json("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", "\"x\"",
	    k_rsa, JWS_ALG_RS256), JOSE_ERR_PAYLOAD_NOT_OBJECT);
	expect(sign_json("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", "null",
	    k_rsa, JWS_ALG_RS256), JOSE_ERR_PAYLOAD_NOT_OBJECT);
	expect(sign_json("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", "{\"iss\":",
	    k_rsa, JWS_ALG_RS256), JOSE_ERR_PAYLOAD);
	expect(sign_json("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", "",
	    k_rsa, JWS_ALG_RS256), JOSE_ERR_MALFORMED);	/* empty part */
	/* Invalid UTF-8 in a string. */
	expect(sign_json("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}",
	    "{\"iss\":\"\xff\"}", k_rsa, JWS_ALG_RS256), JOSE_ERR_PAYLOAD);
}

/* "[" depth times, a value, "]" depth times, as a claim "deep". */
static char *
nested(int depth)
{
	char	*s = malloc((size_t)depth * 2 + 16), *p = s;
	int	 i;

	assert_non_null(s);
	p += sprintf(p, "\"deep\":");
	for (i = 0; i < depth; i++)
		*p++ = '[';
	*p++ = '1';
	for (i = 0; i < depth; i++)
		*p++ = ']';
	*p = '\0';
	return s;
}

static void
test_json_depth(void **state)
{
	struct claims	 c = std_claims();
	char		*deep;

	/* The claims object is depth 1: JOSE_MAX_DEPTH - 1 arrays fit. */
	c.extra = deep = nested(JOSE_MAX_DEPTH - 1);
	expect_claims(JWS_ALG_EDDSA, &c, JOSE_OK);
	free(deep);
	c.extra = deep = nested(JOSE_MAX_DEPTH);
	expect_claims(JWS_ALG_EDDSA, &c, JOSE_ERR_JSON_DEPTH);
	free(deep);
	/* Far deeper than any parser's stack should be asked to go. */
	c.extra = deep = nested(2000);
	expect_claims(JWS_ALG_EDDSA, &c, JOSE_ERR_JSON_DEPTH);
	free(deep);
	/* Brackets in strings are text, and escaped quotes stay in strings. */
	c.extra = "\"s\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[[[[[[[\"";
	expect_claims(JWS_ALG_EDDSA, &c, JOSE_OK);
	/* In the header. */
	expect(token_hdr("{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"x\":[[[[[[["
	    "[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"),
	    JOSE_ERR_JSON_DEPTH);
}

/* A header over JOSE_MAX_HEADER decoded bytes is refused unparsed. */
static void
test_header_size(void **state)
{
	struct claims	 c = std_claims();
	char		 hdr[JOSE_MAX_HEADER + 64], *pay = claims_json(&c);
	int		 fixed;

	fixed = (int)strlen("{\"alg\":\"EdDSA\",\"kid\":\"ed1\",\"x\":\"\"}");

	snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"kid\":\"ed1\","
	    "\"x\":\"%0*d\"}", JOSE_MAX_HEADER - fixed, 0);
	assert_int_equal(strlen(hdr), JOSE_MAX_HEADER);
	expect(sign_json(hdr, pay, k_ed, JWS_ALG_EDDSA), JOSE_OK);
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"kid\":\"ed1\","
	    "\"x\":\"%0*d\"}", JOSE_MAX_HEADER - fixed + 1, 0);
	expect(sign_json(hdr, pay, k_ed, JWS_ALG_EDDSA),
	    JOSE_ERR_HEADER_TOO_LARGE);
	free(pay);
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
	expect(prev, JOSE_OK);
	expect(tok, JOSE_ERR_TOO_LARGE);
	/* The size check comes first: garbage one byte over is not parsed. */
	memset(extra, '.', sizeof(extra));
	assert_int_equal(jwt_verify(issuers, NISSUERS, extra, sizeof(extra),
	    NOW, &id), JOSE_ERR_MALFORMED);
	assert_non_null(tok = malloc(JWS_MAX_BYTES + 1));
	memset(tok, '.', JWS_MAX_BYTES + 1);
	assert_int_equal(jwt_verify(issuers, NISSUERS, tok, JWS_MAX_BYTES + 1,
	    NOW, &id), JOSE_ERR_TOO_LARGE);
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
	    &id), JOSE_OK);
	assert_int_equal(jwt_verify(issuers, NISSUERS, s, strlen(s), NOW,
	    &id), JOSE_ERR_SIG_LENGTH);
	free(s);
	free(tok);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alg_names),
		cmocka_unit_test(test_rfc7515_a1_hs256),
		cmocka_unit_test(test_rfc7515_a2_rs256),
		cmocka_unit_test(test_rfc7515_a3_es256),
		cmocka_unit_test(test_rfc7515_a4_es512),
		cmocka_unit_test(test_rfc8037_a4_eddsa),
		cmocka_unit_test(test_rfc7515_sig_only),
		cmocka_unit_test(test_rfc8037_key_jwt),
		cmocka_unit_test(test_openssl_tokens),
		cmocka_unit_test(test_valid_each_alg),
		cmocka_unit_test(test_key_contexts_reused),
		cmocka_unit_test(test_valid_variants),
		cmocka_unit_test(test_kid_required),
		cmocka_unit_test(test_exp),
		cmocka_unit_test(test_exp_types),
		cmocka_unit_test(test_huge_numbers),
		cmocka_unit_test(test_nbf),
		cmocka_unit_test(test_iat),
		cmocka_unit_test(test_audience),
		cmocka_unit_test(test_sub),
		cmocka_unit_test(test_issuer),
		cmocka_unit_test(test_email_identity),
		cmocka_unit_test(test_email_fold),
		cmocka_unit_test(test_required_claims),
		cmocka_unit_test(test_service_allowed),
		cmocka_unit_test(test_alg_disallowed),
		cmocka_unit_test(test_alg_none),
		cmocka_unit_test(test_hs256_confusion),
		cmocka_unit_test(test_hs_length),
		cmocka_unit_test(test_alg_unsupported),
		cmocka_unit_test(test_alg_missing),
		cmocka_unit_test(test_crit),
		cmocka_unit_test(test_key_type_mismatch),
		cmocka_unit_test(test_curve_mismatch),
		cmocka_unit_test(test_jwk_alg_mismatch),
		cmocka_unit_test(test_rs_ps_confusion),
		cmocka_unit_test(test_kid),
		cmocka_unit_test(test_no_keys),
		cmocka_unit_test(test_forged_signature),
		cmocka_unit_test(test_forged_payload),
		cmocka_unit_test(test_signature_length),
		cmocka_unit_test(test_ecdsa_der_refused),
		cmocka_unit_test(test_es256_out_of_range),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_json_shape),
		cmocka_unit_test(test_json_depth),
		cmocka_unit_test(test_header_size),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_length_not_nul),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
