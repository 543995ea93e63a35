/*
 * test_jwks.c - JWKS parsing (src/identity/jwks.c).
 *
 * Accepted sets are checked down to the key material: the RFC 7515/8037
 * example keys must come out with exactly the published modulus, point or
 * public key, and the committed test JWKS must equal the PEM keys it was
 * made from.  Every refused set must be refused for its own reason, so each
 * test asserts the words of the error message (and the key it names), not
 * only that parsing failed.
 *
 * The last tests drive keys.c's jwks_url fetch thread against a socket of
 * their own on 127.0.0.1 that refuses, or accepts and never answers: a job
 * asking for keys must never wait longer than KEYS_WAIT_MS, whatever the
 * identity provider does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/b64.h"
#include "core/clock.h"
#include "identity/issuer.h"
#include "identity/jwks.h"
#include "identity/keys.h"
#include "testutil.h"

/* RFC 7515 A.2 (RSA), A.3 (EC P-256) and RFC 8037 A.2 (Ed25519) keys. */
#define A2_N \
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp" \
    "-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOW" \
    "vG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUs" \
    "LA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9k" \
    "G4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2" \
    "PAcDTW9gb54h4FRWyuXpoQ"
#define A3_X	"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define A3_Y	"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
/* A3_Y with its last byte changed: (x, y') is not on P-256. */
#define A3_Y_OFF "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4"
#define ED_X	"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
/* RFC 7515 A.4: an EC P-521 key (66-byte coordinates). */
#define A4_X	"AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6O" \
    "vLFV1jSfS9tsz4qUxcWceqwQGk"
#define A4_Y	"ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL" \
    "4Kkd0AZMaZmh9ubmf63e3kyMj2"
/* 48 and 66 zero bytes: no point of P-384 or P-521. */
#define ZERO48	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define ZERO66	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
    "AAAAAAAAAAAAAAAAAAAAAAAA"

#define RSA_A2	"{\"kty\":\"RSA\",\"kid\":\"a2\",\"e\":\"AQAB\"," \
    "\"n\":\"" A2_N "\"}"
#define EC_A3	"{\"kty\":\"EC\",\"kid\":\"a3\",\"crv\":\"P-256\"," \
    "\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}"
#define OKP_ED	"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" ED_X "\"}"
#define EC_A4	"{\"kty\":\"EC\",\"kid\":\"a4\",\"crv\":\"P-521\"," \
    "\"x\":\"" A4_X "\",\"y\":\"" A4_Y "\"}"
#define SET(k)	"{\"keys\":[" k "]}"

static char	 err[512];

static struct jwks *
parse(const char *json)
{
	err[0] = '\0';
	return jwks_parse(json, strlen(json), err, sizeof(err));
}

static void
decode(const char *b64, uint8_t *out, size_t *len)
{
	assert_int_equal(b64url_decode(out, len, b64, strlen(b64), B64_NOPAD),
	    0);
}

/* Asserts json is refused and the message contains each given fragment. */
#define assert_refused(json, ...) \
	refused(json, __FILE__, __LINE__, __VA_ARGS__, (const char *)NULL)

static void
refused(const char *json, const char *file, int line, ...)
{
	struct jwks	*set = parse(json);
	const char	*want;
	va_list		 ap;

	if (set != NULL) {
		jwks_free(set);
		print_error("accepted: %.200s\n", json);
		_fail(file, line);
	}
	va_start(ap, line);
	while ((want = va_arg(ap, const char *)) != NULL)
		if (strstr(err, want) == NULL) {
			print_error("error \"%s\" lacks \"%s\"\n", err, want);
			va_end(ap);
			_fail(file, line);
		}
	va_end(ap);
}

static struct jwks *
parse_ok(const char *json)
{
	struct jwks	*set = parse(json);

	if (set == NULL)
		fail_msg("refused: %s", err);
	return set;
}

static void
test_rsa_rfc7515_a2(void **state)
{
	struct jwks	*set = parse_ok(SET(RSA_A2));
	uint8_t		 want[300], got[300];
	size_t		 wantlen;
	BIGNUM		*n = NULL, *e = NULL;

	assert_int_equal(set->nkeys, 1);
	assert_int_equal(set->keys[0].kty, JWK_KTY_RSA);
	assert_string_equal(set->keys[0].kid, "a2");
	assert_null(set->keys[0].alg);
	assert_true(EVP_PKEY_is_a(set->keys[0].pkey, "RSA"));
	assert_int_equal(EVP_PKEY_get_bits(set->keys[0].pkey), 2048);
	/* The modulus is the published one, byte for byte. */
	assert_int_equal(EVP_PKEY_get_bn_param(set->keys[0].pkey,
	    OSSL_PKEY_PARAM_RSA_N, &n), 1);
	assert_int_equal(EVP_PKEY_get_bn_param(set->keys[0].pkey,
	    OSSL_PKEY_PARAM_RSA_E, &e), 1);
	decode(A2_N, want, &wantlen);
	assert_int_equal(BN_bn2bin(n, got), (int)wantlen);
	assert_memory_equal(got, want, wantlen);
	assert_int_equal(BN_get_word(e), 65537);
	BN_free(n);
	BN_free(e);
	jwks_free(set);
}

static void
test_ec_rfc7515_a3(void **state)
{
	struct jwks	*set = parse_ok(SET(EC_A3));
	uint8_t		 want[65], got[100];
	size_t		 len, gotlen;
	char		 group[32];

	assert_int_equal(set->nkeys, 1);
	assert_int_equal(set->keys[0].kty, JWK_KTY_EC_P256);
	assert_string_equal(set->keys[0].kid, "a3");
	assert_true(EVP_PKEY_is_a(set->keys[0].pkey, "EC"));
	assert_int_equal(EVP_PKEY_get_utf8_string_param(set->keys[0].pkey,
	    OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL), 1);
	assert_string_equal(group, "prime256v1");
	want[0] = 0x04;
	decode(A3_X, want + 1, &len);
	assert_int_equal(len, 32);
	decode(A3_Y, want + 33, &len);
	assert_int_equal(len, 32);
	assert_int_equal(EVP_PKEY_get_octet_string_param(set->keys[0].pkey,
	    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, got, sizeof(got), &gotlen), 1);
	assert_int_equal(gotlen, 65);
	assert_memory_equal(got, want, 65);
	jwks_free(set);
}

static void
test_okp_rfc8037_a2(void **state)
{
	struct jwks	*set = parse_ok(SET(OKP_ED));
	uint8_t		 want[35], got[32];
	size_t		 len, gotlen = sizeof(got);

	assert_int_equal(set->nkeys, 1);
	assert_int_equal(set->keys[0].kty, JWK_KTY_ED25519);
	assert_null(set->keys[0].kid);
	assert_null(set->keys[0].alg);
	assert_true(EVP_PKEY_is_a(set->keys[0].pkey, "ED25519"));
	assert_int_equal(EVP_PKEY_get_raw_public_key(set->keys[0].pkey, got,
	    &gotlen), 1);
	decode(ED_X, want, &len);
	assert_int_equal(gotlen, 32);
	assert_memory_equal(got, want, 32);
	jwks_free(set);
}

/* The committed JWKS publishes exactly the committed PEM keys. */
static void
test_load_matches_pem(void **state)
{
	static const struct {
		const char	*kid, *alg, *pem;
		enum jwk_kty	 kty;
	} want[] = {
		{ "rsa1", NULL, "rsa.pem", JWK_KTY_RSA },
		{ "ec1", "ES256", "ec.pem", JWK_KTY_EC_P256 },
		{ "ec384", "ES384", "ec384.pem", JWK_KTY_EC_P384 },
		{ "ec521", NULL, "ec521.pem", JWK_KTY_EC_P521 },
		{ "ed1", NULL, "ed25519.pem", JWK_KTY_ED25519 },
	};
	struct jwks	*set = jwks_load(tu_vector("jwks.json"), err, sizeof(err));
	EVP_PKEY	*pem;
	FILE		*f;
	size_t		 i;

	if (set == NULL)
		fail_msg("%s", err);
	assert_int_equal(set->nkeys, 5);
	for (i = 0; i < 5; i++) {
		assert_string_equal(set->keys[i].kid, want[i].kid);
		assert_int_equal(set->keys[i].kty, want[i].kty);
		if (want[i].alg == NULL)
			assert_null(set->keys[i].alg);
		else
			assert_string_equal(set->keys[i].alg, want[i].alg);
		assert_non_null(f = fopen(tu_vector("%s", want[i].pem), "r"));
		assert_non_null(pem = PEM_read_PrivateKey(f, NULL, NULL,
		    NULL));
		fclose(f);
		assert_int_equal(EVP_PKEY_eq(set->keys[i].pkey, pem), 1);
		EVP_PKEY_free(pem);
	}
	jwks_free(set);
}

/* {"keys":[RSA key whose modulus is nbytes, first byte top]} */
static char *
rsa_set_n(size_t nbytes, uint8_t top)
{
	uint8_t		 n[1100];
	char		 nb64[1500], *json;

	assert_true(nbytes <= sizeof(n));
	memset(n, 0xc5, nbytes);	/* odd, like any RSA modulus */
	n[0] = top;
	b64url_encode(nb64, n, nbytes, B64_NOPAD);
	assert_true(asprintf(&json, "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k\","
	    "\"e\":\"AQAB\",\"n\":\"%s\"}]}", nb64) > 0);
	return json;
}

static void
test_rsa_modulus_bounds(void **state)
{
	char	*json;

	json = rsa_set_n(128, 0xff);		/* 1024 bits */
	assert_refused(json, "keys[0] (kid \"k\")", "1024 bits",
	    "under 2048");
	free(json);
	json = rsa_set_n(256, 0x7f);		/* 2047 bits */
	assert_refused(json, "2047 bits", "under 2048");
	free(json);
	json = rsa_set_n(256, 0x80);		/* 2048 bits: the minimum */
	jwks_free(parse_ok(json));
	free(json);
	json = rsa_set_n(1024, 0xff);		/* 8192 bits, the most */
	jwks_free(parse_ok(json));
	free(json);
	json = rsa_set_n(1025, 0x01);		/* 8193 bits */
	assert_refused(json, "8193 bits", "over 8192");
	free(json);
}

static void
test_rsa_bad_members(void **state)
{
	/* '+' is standard base64, not base64url. */
	assert_refused(SET("{\"kty\":\"RSA\",\"kid\":\"p\",\"e\":\"AQAB\","
	    "\"n\":\"of+WCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0\"}"),
	    "keys[0] (kid \"p\")", "\"n\" is not unpadded base64url");
	/* Padding is refused: one value, one spelling. */
	assert_refused(SET("{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"" A2_N
	    "==\"}"), "keys[0]: \"n\" is not unpadded base64url");
	assert_refused(SET("{\"kty\":\"RSA\",\"e\":\"AQAB\"}"),
	    "keys[0]: missing \"n\"");
	assert_refused(SET("{\"kty\":\"RSA\",\"e\":65537,\"n\":\"" A2_N "\"}"),
	    "\"e\" is not a string");
	assert_refused(SET("{\"kty\":\"RSA\",\"e\":\"AQAA\",\"n\":\"" A2_N
	    "\"}"), "exponent");			/* e = 65536 */
	assert_refused(SET("{\"kty\":\"RSA\",\"e\":\"AQ\",\"n\":\"" A2_N
	    "\"}"), "exponent");			/* e = 1 */
}

static void
test_unknown_kty(void **state)
{
	assert_refused(SET("{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"AAAA\"}"),
	    "keys[0] (kid \"h\")", "unsupported kty \"oct\"");
	assert_refused(SET("{\"kid\":\"h\",\"x\":\"" ED_X "\"}"),
	    "missing \"kty\"");
	assert_refused(SET("{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\""
	    ED_X "\"}"), "unsupported curve \"X25519\"");
}

/* RFC 7515 A.4's P-521 key, down to its point. */
static void
test_ec_p521_rfc7515_a4(void **state)
{
	struct jwks	*set = parse_ok(SET(EC_A4));
	uint8_t		 want[133], got[140];
	size_t		 len, gotlen;
	char		 group[32];
	int		 a;

	assert_int_equal(set->nkeys, 1);
	assert_int_equal(set->keys[0].kty, JWK_KTY_EC_P521);
	assert_int_equal(EVP_PKEY_get_utf8_string_param(set->keys[0].pkey,
	    OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL), 1);
	assert_string_equal(group, "secp521r1");
	want[0] = 0x04;
	decode(A4_X, want + 1, &len);
	assert_int_equal(len, 66);
	decode(A4_Y, want + 67, &len);
	assert_int_equal(len, 66);
	assert_int_equal(EVP_PKEY_get_octet_string_param(set->keys[0].pkey,
	    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, got, sizeof(got), &gotlen), 1);
	assert_int_equal(gotlen, 133);
	assert_memory_equal(got, want, 133);
	/* Ready to verify ES512, and nothing else. */
	for (a = 0; a < JWS_ALG_COUNT; a++)
		if (a == JWS_ALG_ES512)
			assert_non_null(set->keys[0].vctx[a]);
		else
			assert_null(set->keys[0].vctx[a]);
	jwks_free(set);
}

static void
test_ec_curves(void **state)
{
	struct jwks	*set;

	/* The committed P-384 key; its contexts: ES384 only. */
	set = jwks_load(tu_vector("jwks.json"), err, sizeof(err));
	assert_non_null(set);
	assert_int_equal(set->keys[2].kty, JWK_KTY_EC_P384);
	assert_non_null(set->keys[2].vctx[JWS_ALG_ES384]);
	assert_null(set->keys[2].vctx[JWS_ALG_ES256]);
	/* RSA: RS* and PS*. */
	assert_non_null(set->keys[0].vctx[JWS_ALG_RS256]);
	assert_non_null(set->keys[0].vctx[JWS_ALG_PS512]);
	assert_null(set->keys[0].vctx[JWS_ALG_ES256]);
	jwks_free(set);
	assert_refused(SET("{\"kty\":\"EC\",\"kid\":\"k1\","
	    "\"crv\":\"secp256k1\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}"),
	    "keys[0] (kid \"k1\")", "unsupported curve \"secp256k1\"");
	assert_refused(SET("{\"kty\":\"EC\",\"crv\":\"P-192\","
	    "\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}"),
	    "unsupported curve \"P-192\"");
	/* A curve name is exact. */
	assert_refused(SET("{\"kty\":\"EC\",\"crv\":\"p-256\","
	    "\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}"),
	    "unsupported curve \"p-256\"");
	/* Ed25519 is OKP, not EC. */
	assert_refused(SET("{\"kty\":\"EC\",\"crv\":\"Ed25519\","
	    "\"x\":\"" ED_X "\"}"), "unsupported curve \"Ed25519\" for kty EC");
	assert_refused(SET("{\"kty\":\"EC\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y
	    "\"}"), "without \"crv\"");
	/* P-256 coordinates claimed to be on P-384: wrong length. */
	assert_refused(SET("{\"kty\":\"EC\",\"crv\":\"P-384\","
	    "\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}"),
	    "\"x\" is 32 bytes, not 48");
	assert_refused(SET("{\"kty\":\"EC\",\"kid\":\"z\",\"crv\":\"P-384\","
	    "\"x\":\"" ZERO48 "\",\"y\":\"" ZERO48 "\"}"),
	    "keys[0] (kid \"z\")", "not on curve P-384");
	assert_refused(SET("{\"kty\":\"EC\",\"crv\":\"P-521\","
	    "\"x\":\"" ZERO66 "\",\"y\":\"" ZERO66 "\"}"),
	    "not on curve P-521");
	/* A4's x with y of the A4 point's last byte changed. */
	assert_refused(SET("{\"kty\":\"EC\",\"crv\":\"P-521\","
	    "\"x\":\"" A4_X "\",\"y\":\"ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMo"
	    "xVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj3\"}"),
	    "not on curve P-521");
}

/* A real 1024-bit key made by openssl (vectors/rsa1024.pem). */
static void
test_rsa_1024_file(void **state)
{
	assert_null(jwks_load(tu_vector("rsa1024.jwks.json"), err, sizeof(err)));
	assert_non_null(strstr(err, "keys[0] (kid \"weak\")"));
	assert_non_null(strstr(err, "1024 bits is under 2048"));
}

/* A JWK "alg" must fit its key: type, curve, never an HMAC. */
static void
test_jwk_alg_fits(void **state)
{
	struct jwks	*set;

	set = parse_ok(SET("{\"kty\":\"RSA\",\"kid\":\"p\",\"alg\":\"PS512\","
	    "\"e\":\"AQAB\",\"n\":\"" A2_N "\"}"));
	assert_string_equal(set->keys[0].alg, "PS512");
	jwks_free(set);
	assert_refused(SET("{\"kty\":\"RSA\",\"kid\":\"h\",\"alg\":\"HS256\","
	    "\"e\":\"AQAB\",\"n\":\"" A2_N "\"}"), "keys[0] (kid \"h\")",
	    "\"alg\" HS256 does not fit");
	assert_refused(SET("{\"kty\":\"EC\",\"alg\":\"ES384\",\"crv\":\"P-256\","
	    "\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}"),
	    "\"alg\" ES384 does not fit");
	assert_refused(SET("{\"kty\":\"OKP\",\"alg\":\"ES256\","
	    "\"crv\":\"Ed25519\",\"x\":\"" ED_X "\"}"),
	    "\"alg\" ES256 does not fit");
	/* Names that are no JWS algorithm of ours are left alone. */
	set = parse_ok(SET("{\"kty\":\"RSA\",\"alg\":\"RSA-OAEP\","
	    "\"e\":\"AQAB\",\"n\":\"" A2_N "\"}"));
	jwks_free(set);
}

static void
test_ec_point_not_on_curve(void **state)
{
	/* Same x and y' = y + 4 (mod 256 in the last byte). */
	assert_refused(SET("{\"kty\":\"EC\",\"kid\":\"bad\",\"crv\":\"P-256\","
	    "\"x\":\"" A3_X "\",\"y\":\"" A3_Y_OFF "\"}"),
	    "keys[0] (kid \"bad\")", "not on curve P-256");
	/* (0, 0) is not a point either. */
	assert_refused(SET("{\"kty\":\"EC\",\"crv\":\"P-256\","
	    "\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
	    "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}"),
	    "not on curve P-256");
}

static void
test_wrong_coordinate_length(void **state)
{
	/* x of 31 bytes: a leading zero byte dropped, as some encoders do. */
	assert_refused(SET("{\"kty\":\"EC\",\"kid\":\"s\",\"crv\":\"P-256\","
	    "\"x\":\"zc4ncPbEXUGDy-5v20t7WAczNXvp7xO6z248e9FURQ\","
	    "\"y\":\"" A3_Y "\"}"), "keys[0] (kid \"s\")",
	    "\"x\" is 31 bytes, not 32");
	assert_refused(SET("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X
	    "\",\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}"),
	    "\"y\" is 33 bytes, not 32");
	assert_refused(SET("{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
	    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUQ\"}"),
	    "\"x\" is 31 bytes, not 32");
	/* P-521: 65 bytes, the leading zero byte dropped. */
	assert_refused(SET("{\"kty\":\"EC\",\"crv\":\"P-521\","
	    "\"x\":\"" A4_X "\",\"y\":\"NKZEDjdnUNI3H9G9wsjztx0vTuXqNDLIFcyjFWD-"
	    "XZOH7HdLVYOGMOXLv1qMvgqR3QBkxpmaH25uZ_rd7eTIyPY\"}"),
	    "\"y\" is 65 bytes, not 66");
}

static void
test_duplicate_kid(void **state)
{
	assert_refused(SET(
	    "{\"kty\":\"OKP\",\"kid\":\"one\",\"crv\":\"Ed25519\",\"x\":\""
	    ED_X "\"}," RSA_A2 ","
	    "{\"kty\":\"EC\",\"kid\":\"one\",\"crv\":\"P-256\",\"x\":\"" A3_X
	    "\",\"y\":\"" A3_Y "\"}"),
	    "keys[2] (kid \"one\")", "duplicate kid", "keys[0]");
	/* Keys without a kid are not duplicates of each other. */
	jwks_free(parse_ok(SET(OKP_ED "," OKP_ED)));
}

static void
test_not_an_object(void **state)
{
	assert_refused("[" RSA_A2 "]", "not a JSON object");
	assert_refused("{\"keys\":[" RSA_A2 "]", "invalid JSON", "line 1");
	assert_refused("{\"keys\":[]}", "\"keys\" is empty");
	/* Duplicate members: two parsers could see two different sets. */
	assert_refused("{\"keys\":[" RSA_A2 "],\"keys\":[" EC_A3 "]}",
	    "invalid JSON", "duplicate");
	assert_refused(SET("42"), "keys[0]: not a JSON object");
}

static void
test_keys_not_an_array(void **state)
{
	assert_refused("{\"keys\":" RSA_A2 "}",
	    "\"keys\" is missing or not an array");
	assert_refused("{\"key\":[" RSA_A2 "]}",
	    "\"keys\" is missing or not an array");
}

static char *
n_copies(size_t n, const char *jwk)
{
	size_t	 len = strlen(jwk), i;
	char	*json = malloc(16 + n * (len + 1)), *p = json;

	assert_non_null(json);
	p += sprintf(p, "{\"keys\":[");
	for (i = 0; i < n; i++)
		p += sprintf(p, "%s%s", i ? "," : "", jwk);
	sprintf(p, "]}");
	return json;
}

static void
test_too_many_keys(void **state)
{
	char		*json;
	struct jwks	*set;

	json = n_copies(JWKS_MAX_KEYS, OKP_ED);
	set = parse_ok(json);
	assert_int_equal(set->nkeys, JWKS_MAX_KEYS);
	jwks_free(set);
	free(json);
	json = n_copies(JWKS_MAX_KEYS + 1, OKP_ED);
	assert_refused(json, "65 keys", "over the limit of 64");
	free(json);
}

static void
test_use_enc_skipped(void **state)
{
	struct jwks	*set;

	/* Skipped before its type is judged: "oct" would be refused. */
	set = parse_ok(SET(
	    "{\"kty\":\"RSA\",\"kid\":\"e1\",\"use\":\"enc\",\"e\":\"AQAB\","
	    "\"n\":\"" A2_N "\"},"
	    "{\"kty\":\"oct\",\"use\":\"enc\",\"k\":\"AAAA\"},"
	    "{\"kty\":\"OKP\",\"kid\":\"s1\",\"use\":\"sig\","
	    "\"crv\":\"Ed25519\","
	    "\"x\":\"" ED_X "\"}"));
	assert_int_equal(set->nkeys, 1);
	assert_string_equal(set->keys[0].kid, "s1");
	assert_int_equal(set->keys[0].kty, JWK_KTY_ED25519);
	jwks_free(set);
	assert_refused(SET("{\"kty\":\"RSA\",\"use\":\"enc\",\"e\":\"AQAB\","
	    "\"n\":\"" A2_N "\"}"), "no signature keys");
	assert_refused(SET("{\"kty\":\"OKP\",\"use\":1,\"crv\":\"Ed25519\","
	    "\"x\":\"" ED_X "\"}"), "\"use\" is not a string");
}

static void
test_member_types(void **state)
{
	assert_refused(SET("{\"kty\":\"OKP\",\"kid\":7,\"crv\":\"Ed25519\","
	    "\"x\":\"" ED_X "\"}"), "keys[0]: \"kid\" is not a string");
	assert_refused(SET("{\"kty\":\"OKP\",\"alg\":[],\"crv\":\"Ed25519\","
	    "\"x\":\"" ED_X "\"}"), "\"alg\" is not a string");
	/* A JWK alg of ours for another key type is a configuration slip. */
	assert_refused(SET("{\"kty\":\"RSA\",\"kid\":\"r\",\"alg\":\"ES256\","
	    "\"e\":\"AQAB\",\"n\":\"" A2_N "\"}"), "keys[0] (kid \"r\")",
	    "\"alg\" ES256 does not fit");
}

static void
test_private_key_refused(void **state)
{
	assert_refused(SET("{\"kty\":\"OKP\",\"kid\":\"priv\","
	    "\"crv\":\"Ed25519\","
	    "\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\","
	    "\"x\":\"" ED_X "\"}"), "keys[0] (kid \"priv\")",
	    "private key material");
}

static void
test_size_bound(void **state)
{
	char		*big = malloc(JWKS_MAX_BYTES + 1);
	struct jwks	*set;

	/* A valid set padded with white space to one byte over the bound. */
	assert_non_null(big);
	memset(big, ' ', JWKS_MAX_BYTES + 1);
	memcpy(big, SET(OKP_ED), strlen(SET(OKP_ED)));
	set = jwks_parse(big, JWKS_MAX_BYTES, err, sizeof(err));
	assert_non_null(set);
	jwks_free(set);
	assert_null(jwks_parse(big, JWKS_MAX_BYTES + 1, err, sizeof(err)));
	assert_non_null(strstr(err, "over the limit"));
	free(big);
}

/* DIR/NAME holding len bytes of data (repeated spaces past its end). */
static const char *
temp_file(const char *dir, const char *name, const char *data, size_t len)
{
	size_t		 dlen = strlen(data);
	char		*buf = malloc(len + 1);
	const char	*path;

	assert_non_null(buf);
	memcpy(buf, data, dlen < len ? dlen : len);
	if (dlen < len)
		memset(buf + dlen, ' ', len - dlen);
	buf[len] = '\0';
	path = tu_write_file(dir, name, buf, 0600);
	free(buf);
	return path;
}

static void
test_load_errors(void **state)
{
	const char	*path;
	char		 dir[64], want[128];

	assert_null(jwks_load("/nonexistent/jwks.json", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/jwks.json: "));
	assert_non_null(strstr(err, "No such file"));

	assert_non_null(tu_tmpdir(dir, sizeof(dir), "jwks"));
	path = temp_file(dir, "oct.json",
	    SET(EC_A3 "," RSA_A2 ",{\"kty\":\"oct\"}"),
	    strlen(SET(EC_A3 "," RSA_A2 ",{\"kty\":\"oct\"}")));
	assert_null(jwks_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: keys[2]: unsupported kty", path);
	assert_non_null(strstr(err, want));

	path = temp_file(dir, "over.json", SET(OKP_ED), JWKS_MAX_BYTES + 1);
	assert_null(jwks_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "larger than"));

	path = temp_file(dir, "max.json", SET(OKP_ED), JWKS_MAX_BYTES);
	jwks_free(jwks_load(path, err, sizeof(err)));

	/* A FIFO is refused at once, not waited on (it would block). */
	path = tu_path(dir, "fifo");
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_null(jwks_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: not a regular file", path);
	assert_string_equal(err, want);
	assert_int_equal(tu_rmtree(dir), 0);
	/* So is a directory. */
	assert_null(jwks_load("/", err, sizeof(err)));
	assert_string_equal(err, "/: not a regular file");
}

/* ---- keys.c: jwks_url fetches stay out of the request path ---- */

/* A TCP socket bound on 127.0.0.1, not listening yet: connections fail. */
static int
bound_socket(int *port)
{
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	socklen_t		 len = sizeof(sin);
	int			 fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* Connections made to a listening fd: the ones waiting to be accepted. */
static int
connections(int fd)
{
	int	 c, n = 0;

	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	while ((c = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) != -1) {
		close(c);
		n++;
	}
	return n;
}

static void
test_keys_retry_never_waits_past_bound(void **state)
{
	struct issuer	 is[2];
	char		 url[64];
	uint64_t	 t0, took;
	int		 fd, port;

	fd = bound_socket(&port);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/jwks.json", port);
	memset(is, 0, sizeof(is));
	is[0].name = "refused";
	is[1].name = "silent";
	is[0].jwks_url = is[1].jwks_url = url;
	is[0].jwks_refresh = is[1].jwks_refresh = 3600;
	/* Nothing listens: the start-up fetches fail at once. */
	assert_int_equal(keys_start(is, 2, mono_ms()), 0);
	assert_null(is[0].jwks);
	assert_null(is[1].jwks);

	/* A kid fetch that fails fast is waited for, and is no news. */
	t0 = mono_ms();
	assert_int_equal(keys_retry(is, 2, &is[0], t0), KEYS_SAME);
	assert_true(mono_ms() - t0 < KEYS_WAIT_MS);

	/* Now the server accepts connections and never says a word. */
	assert_int_equal(listen(fd, 16), 0);
	/* Issuer 0's kid fetch was made: rate limited, no wait, no fetch. */
	t0 = mono_ms();
	assert_int_equal(keys_retry(is, 2, &is[0], t0), KEYS_SAME);
	assert_true(mono_ms() - t0 < KEYS_WAIT_MS / 2);

	/* Issuer 1: the job waits KEYS_WAIT_MS for its fetch, no longer. */
	t0 = mono_ms();
	assert_int_equal(keys_retry(is, 2, &is[1], t0), KEYS_PENDING);
	took = mono_ms() - t0;
	assert_true(took >= KEYS_WAIT_MS - 5);
	assert_true(took < KEYS_WAIT_MS + 250);
	/* The next job finds the same fetch running and does not wait. */
	t0 = mono_ms();
	assert_int_equal(keys_retry(is, 2, &is[1], t0), KEYS_PENDING);
	assert_true(mono_ms() - t0 < KEYS_WAIT_MS / 2);
	/* Between jobs, nothing waits either. */
	t0 = mono_ms();
	keys_refresh(is, 2, t0);
	assert_true(mono_ms() - t0 < KEYS_WAIT_MS / 2);

	/* The worker's exit abandons the fetch at once. */
	t0 = mono_ms();
	keys_stop();
	assert_true(mono_ms() - t0 < 1000);
	assert_null(is[1].jwks);
	/* One fetch reached the server: issuer 1's, once. */
	assert_int_equal(connections(fd), 1);
	keys_stop();		/* twice is harmless */
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rsa_rfc7515_a2),
		cmocka_unit_test(test_ec_rfc7515_a3),
		cmocka_unit_test(test_okp_rfc8037_a2),
		cmocka_unit_test(test_load_matches_pem),
		cmocka_unit_test(test_rsa_modulus_bounds),
		cmocka_unit_test(test_rsa_bad_members),
		cmocka_unit_test(test_unknown_kty),
		cmocka_unit_test(test_ec_p521_rfc7515_a4),
		cmocka_unit_test(test_ec_curves),
		cmocka_unit_test(test_rsa_1024_file),
		cmocka_unit_test(test_jwk_alg_fits),
		cmocka_unit_test(test_ec_point_not_on_curve),
		cmocka_unit_test(test_wrong_coordinate_length),
		cmocka_unit_test(test_duplicate_kid),
		cmocka_unit_test(test_not_an_object),
		cmocka_unit_test(test_keys_not_an_array),
		cmocka_unit_test(test_too_many_keys),
		cmocka_unit_test(test_use_enc_skipped),
		cmocka_unit_test(test_member_types),
		cmocka_unit_test(test_private_key_refused),
		cmocka_unit_test(test_size_bound),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_keys_retry_never_waits_past_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
