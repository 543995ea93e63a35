/*
 * test_tokenlib.c - tokenlib tokens (src/tokens/tokenlib.c).
 *
 * The known answers below were computed independently of tokend, by a
 * Python (stdlib only) re-implementation of Mozilla tokenlib 2.x's
 * TokenManager as documented at the top of src/tokens/tokenlib.h, run with
 * /usr/bin/python3:
 *
 *   import base64, hashlib, hmac, json
 *
 *   def hkdf(ikm, salt, info, size=32):
 *       if salt is None:
 *           salt = b"\0" * 32
 *       prk = hmac.new(salt, ikm, hashlib.sha256).digest()
 *       okm, t, i = b"", b"", 1
 *       while len(okm) < size:
 *           t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
 *           okm, i = okm + t, i + 1
 *       return okm[:size]
 *
 *   master = b"0123456789abcdef0123456789abcdef"
 *   sig_key = hkdf(master, None, b"services.mozilla.com/tokenlib/v1/signing")
 *   data = {"uid": 42, "node": "https://example.com/1.5/42",
 *           "expires": 2000000000, "salt": "a1b2c3"}
 *   payload = json.dumps(data).encode()
 *   token = base64.urlsafe_b64encode(
 *       payload + hmac.new(sig_key, payload, hashlib.sha256).digest()).decode()
 *   key = base64.urlsafe_b64encode(hkdf(master, data["salt"].encode(),
 *       b"services.mozilla.com/tokenlib/v1/derive/" + token.encode())).decode()
 *   print(sig_key.hex()); print(token); print(key)
 *
 * The Python token is spelled as tokenlib spells it (json.dumps with its
 * ", " and ": " separators), unlike tokend's compact JSON, so parsing it
 * also shows the HMAC is checked over the bytes received, not re-encoded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/b64.h"
#include "core/hkdf.h"
#include "tokens/secret.h"
#include "tokens/token.h"
#include "tokens/tokenlib.h"
#include "testutil.h"

#define MASTER		"0123456789abcdef0123456789abcdef"
#define KAT_SIG_KEY \
    "808ca5c7e5a926ee25bb701543bb0069cdf76479e3c3b30c44fb2e60786fbee7"
#define KAT_NODE	"https://example.com/1.5/42"
#define KAT_EXPIRES	2000000000
#define KAT_SALT	"a1b2c3"
#define KAT_TOKEN \
    "eyJ1aWQiOiA0MiwgIm5vZGUiOiAiaHR0cHM6Ly9leGFtcGxlLmNvbS8xLjUvNDIiLCAiZ" \
    "XhwaXJlcyI6IDIwMDAwMDAwMDAsICJzYWx0IjogImExYjJjMyJ9p4bJd1p3etoIeuo3_If" \
    "GoNrIoc66nDepJWs_oSr4Ufs="
#define KAT_KEY		"68wu86uQ80yXYI5gm2UnMna_YRFPqRqD9QQFk5JiPjA="

/* Stack memory, never secret_free()d. */
static uint8_t		 master_bytes[] = MASTER;
static const struct secret master = { master_bytes, sizeof(MASTER) - 1 };
static uint8_t		 other_bytes[] = "fedcba9876543210fedcba9876543210";
static const struct secret other = { other_bytes, sizeof(other_bytes) - 1 };

static void
kat_sig_key(uint8_t out[SHA256_LEN])
{
	assert_int_equal(tu_unhex(out, SHA256_LEN, KAT_SIG_KEY), SHA256_LEN);
}

/* Mints a token for the KAT claims (fresh salt); asserts success. */
static void
mint(char token[TOKENLIB_TOKEN_MAX + 1], char key[TOKENLIB_KEY_LEN + 1])
{
	const struct token_claims c = { .uid = 42,
	    .node = KAT_NODE, .expires = KAT_EXPIRES };
	struct token_rand	rnd;
	uint8_t			sk[SHA256_LEN];

	kat_sig_key(sk);
	assert_int_equal(token_rand_new(&rnd), 0);
	assert_int_equal(tokenlib_mint(&master, sk, &c, rnd.salt, token, key),
	    0);
}

/* Signs raw[0..len) as tokend would and writes the token. */
static void
sign_raw(char *token, const char *payload)
{
	uint8_t	raw[1024], sk[SHA256_LEN];
	size_t	len = strlen(payload);

	assert_true(len + SHA256_LEN <= sizeof(raw));
	kat_sig_key(sk);
	memcpy(raw, payload, len);
	assert_int_equal(hmac_sha256(raw + len, sk, SHA256_LEN, raw, len), 0);
	b64url_encode(token, raw, len + SHA256_LEN, B64_PAD);
}

static void
test_signing_key_kat(void **state)
{
	uint8_t	got[SHA256_LEN], want[SHA256_LEN];

	kat_sig_key(want);
	assert_int_equal(tokenlib_signing_key(got, &master), 0);
	assert_memory_equal(got, want, SHA256_LEN);
	assert_int_equal(tokenlib_signing_key(got, &other), 0);
	assert_memory_not_equal(got, want, SHA256_LEN);
}

static void
test_derive_kat(void **state)
{
	char	key[TOKENLIB_KEY_LEN + 1];

	memset(key, 'X', sizeof(key));
	assert_int_equal(tokenlib_derive(&master, KAT_TOKEN, KAT_SALT, key),
	    0);
	assert_string_equal(key, KAT_KEY);
	/* Salt, token and master each feed the derivation. */
	assert_int_equal(tokenlib_derive(&master, KAT_TOKEN, "a1b2c4", key),
	    0);
	assert_string_not_equal(key, KAT_KEY);
	assert_int_equal(tokenlib_derive(&master, "x" KAT_TOKEN, KAT_SALT,
	    key), 0);
	assert_string_not_equal(key, KAT_KEY);
	assert_int_equal(tokenlib_derive(&other, KAT_TOKEN, KAT_SALT, key), 0);
	assert_string_not_equal(key, KAT_KEY);
}

static void
test_derive_refuses_oversized_token(void **state)
{
	static char	big[TOKENLIB_TOKEN_MAX + 2];
	char		key[TOKENLIB_KEY_LEN + 1];

	memset(big, 'A', TOKENLIB_TOKEN_MAX + 1);
	assert_int_equal(tokenlib_derive(&master, big, KAT_SALT, key), -1);
	big[TOKENLIB_TOKEN_MAX] = '\0';
	assert_int_equal(tokenlib_derive(&master, big, KAT_SALT, key), 0);
}

/* A token made by (our model of) tokenlib parses, with its claims. */
static void
test_parse_python_token(void **state)
{
	uint8_t	 sk[SHA256_LEN];
	json_t	*p = NULL;

	kat_sig_key(sk);
	assert_int_equal(tokenlib_parse(sk, KAT_TOKEN, KAT_EXPIRES - 1, &p),
	    TOKEN_OK);
	assert_non_null(p);
	assert_int_equal(json_object_size(p), 4);
	assert_int_equal(json_integer_value(json_object_get(p, "uid")), 42);
	assert_string_equal(json_string_value(json_object_get(p, "node")),
	    KAT_NODE);
	assert_int_equal(json_integer_value(json_object_get(p, "expires")),
	    KAT_EXPIRES);
	assert_string_equal(json_string_value(json_object_get(p, "salt")),
	    KAT_SALT);
	json_decref(p);
}

static void
test_mint_parse_round_trip(void **state)
{
	char		 token[TOKENLIB_TOKEN_MAX + 1], key[TOKENLIB_KEY_LEN + 1];
	char		 key2[TOKENLIB_KEY_LEN + 1], want[256];
	uint8_t		 sk[SHA256_LEN], raw[TOKENLIB_TOKEN_MAX], mac[SHA256_LEN];
	size_t		 rawlen, i;
	const char	*salt;
	json_t		*p = NULL;

	mint(token, key);
	kat_sig_key(sk);
	assert_int_equal(tokenlib_parse(sk, token, KAT_EXPIRES - 1, &p),
	    TOKEN_OK);
	assert_non_null(p);
	assert_int_equal(json_object_size(p), 4);
	assert_int_equal(json_integer_value(json_object_get(p, "uid")), 42);
	assert_string_equal(json_string_value(json_object_get(p, "node")),
	    KAT_NODE);
	assert_int_equal(json_integer_value(json_object_get(p, "expires")),
	    KAT_EXPIRES);
	salt = json_string_value(json_object_get(p, "salt"));
	assert_non_null(salt);
	assert_int_equal(strlen(salt), 6);
	for (i = 0; i < 6; i++)
		assert_non_null(strchr("0123456789abcdef", salt[i]));

	/* The bytes: compact JSON, then HMAC(KAT signing key, JSON). */
	assert_int_equal(b64url_decode(raw, &rawlen, token, strlen(token),
	    B64_PAD), 0);
	snprintf(want, sizeof(want), "{\"uid\":42,\"node\":\"" KAT_NODE
	    "\",\"expires\":%d,\"salt\":\"%s\"}", KAT_EXPIRES, salt);
	assert_int_equal(rawlen, strlen(want) + SHA256_LEN);
	assert_memory_equal(raw, want, strlen(want));
	assert_int_equal(hmac_sha256(mac, sk, SHA256_LEN, want, strlen(want)),
	    0);
	assert_memory_equal(raw + strlen(want), mac, SHA256_LEN);

	/* The key handed out is the one a service derives from the token. */
	assert_int_equal(strlen(key), TOKENLIB_KEY_LEN);
	assert_int_equal(tokenlib_derive(&master, token, salt, key2), 0);
	assert_string_equal(key, key2);
	json_decref(p);
}

static void
test_two_mints_differ(void **state)
{
	char	t1[TOKENLIB_TOKEN_MAX + 1], k1[TOKENLIB_KEY_LEN + 1];
	char	t2[TOKENLIB_TOKEN_MAX + 1], k2[TOKENLIB_KEY_LEN + 1];
	uint8_t	sk[SHA256_LEN];
	json_t	*p1 = NULL, *p2 = NULL;
	int	tries;

	kat_sig_key(sk);
	/* 3 random bytes: a 1 in 2^24 collision is retried, not failed. */
	for (tries = 0; tries < 3; tries++) {
		mint(t1, k1);
		mint(t2, k2);
		if (strcmp(t1, t2) != 0)
			break;
	}
	assert_string_not_equal(t1, t2);
	assert_string_not_equal(k1, k2);
	assert_int_equal(tokenlib_parse(sk, t1, 0, &p1), TOKEN_OK);
	assert_int_equal(tokenlib_parse(sk, t2, 0, &p2), TOKEN_OK);
	assert_string_not_equal(json_string_value(json_object_get(p1, "salt")),
	    json_string_value(json_object_get(p2, "salt")));
	json_decref(p1);
	json_decref(p2);
}

/* Flipping the low or the high bit of any byte, payload or signature. */
static void
test_tamper_every_byte(void **state)
{
	uint8_t	 raw[TOKENLIB_TOKEN_MAX], sk[SHA256_LEN];
	char	 t[TOKENLIB_TOKEN_MAX + 1];
	size_t	 len, i;
	int	 bit;
	json_t	*p;

	kat_sig_key(sk);
	assert_int_equal(b64url_decode(raw, &len, KAT_TOKEN,
	    strlen(KAT_TOKEN), B64_PAD), 0);
	for (i = 0; i < len; i++)
		for (bit = 0; bit < 8; bit += 7) {
			raw[i] ^= (uint8_t)(1u << bit);
			b64url_encode(t, raw, len, B64_PAD);
			p = (json_t *)1;
			assert_int_equal(tokenlib_parse(sk, t, 0, &p),
			    TOKEN_ERR_SIGNATURE);
			assert_null(p);
			raw[i] ^= (uint8_t)(1u << bit);
		}
	/* One byte dropped or added at the end. */
	b64url_encode(t, raw, len - 1, B64_PAD);
	assert_int_equal(tokenlib_parse(sk, t, 0, &p), TOKEN_ERR_SIGNATURE);
	raw[len] = 0;
	b64url_encode(t, raw, len + 1, B64_PAD);
	assert_int_equal(tokenlib_parse(sk, t, 0, &p), TOKEN_ERR_SIGNATURE);
	/* Untouched, it still parses: the loop restored every byte. */
	b64url_encode(t, raw, len, B64_PAD);
	assert_string_equal(t, KAT_TOKEN);
	assert_int_equal(tokenlib_parse(sk, t, 0, &p), TOKEN_OK);
	json_decref(p);
}

static void
test_wrong_secret(void **state)
{
	uint8_t	 sk[SHA256_LEN];
	json_t	*p = (json_t *)1;

	assert_int_equal(tokenlib_signing_key(sk, &other), 0);
	assert_int_equal(tokenlib_parse(sk, KAT_TOKEN, 0, &p),
	    TOKEN_ERR_SIGNATURE);
	assert_null(p);
}

static void
test_expired(void **state)
{
	uint8_t	 sk[SHA256_LEN];
	json_t	*p = NULL;

	kat_sig_key(sk);
	assert_int_equal(tokenlib_parse(sk, KAT_TOKEN, KAT_EXPIRES - 1, &p),
	    TOKEN_OK);
	json_decref(p);
	p = (json_t *)1;
	assert_int_equal(tokenlib_parse(sk, KAT_TOKEN, KAT_EXPIRES, &p),
	    TOKEN_ERR_EXPIRED);
	assert_null(p);
	assert_int_equal(tokenlib_parse(sk, KAT_TOKEN, KAT_EXPIRES + 1, &p),
	    TOKEN_ERR_EXPIRED);
	assert_null(p);
}

static void
test_malformed(void **state)
{
	static char	 big[TOKENLIB_TOKEN_MAX + 8];
	char		 t[sizeof(KAT_TOKEN)], *c;
	uint8_t		 sk[SHA256_LEN], raw[SHA256_LEN];
	json_t		*p;

	kat_sig_key(sk);
	assert_int_equal(tokenlib_parse(sk, "", 0, &p), TOKEN_ERR_MALFORMED);
	assert_null(p);
	assert_int_equal(tokenlib_parse(sk, "not base64!", 0, &p),
	    TOKEN_ERR_MALFORMED);
	assert_int_equal(tokenlib_parse(sk, "%%%%", 0, &p),
	    TOKEN_ERR_MALFORMED);
	/* The padding is part of the spelling. */
	memcpy(t, KAT_TOKEN, sizeof(t));
	t[strlen(t) - 1] = '\0';
	assert_int_equal(tokenlib_parse(sk, t, 0, &p), TOKEN_ERR_MALFORMED);
	/* The standard alphabet is not the URL-safe one. */
	memcpy(t, KAT_TOKEN, sizeof(t));
	assert_non_null(c = strchr(t, '_'));
	*c = '/';
	assert_int_equal(tokenlib_parse(sk, t, 0, &p), TOKEN_ERR_MALFORMED);
	/* A signature alone, no payload. */
	memset(raw, 7, sizeof(raw));
	b64url_encode(t, raw, sizeof(raw), B64_PAD);
	assert_int_equal(tokenlib_parse(sk, t, 0, &p), TOKEN_ERR_MALFORMED);
	/* Longer than TOKENLIB_TOKEN_MAX, though valid base64. */
	memset(big, 'A', TOKENLIB_TOKEN_MAX + 4);
	assert_int_equal(tokenlib_parse(sk, big, 0, &p),
	    TOKEN_ERR_MALFORMED);
}

/*
 * A nodes = database service's payload: Mozilla's Rust tokenserver's keys,
 * in its order (serde's, from MakeTokenPlaintext, then the salt), so that
 * its storage servers read every field they read from Mozilla's.
 */
static void
test_payload_mozilla_fields(void **state)
{
	struct token_claims	 c = { 0 };
	char			 buf[1024];
	int			 n;

	c.uid = 9223372036854775807ULL >> 1;
	c.node = "https://sync-1.example.com";
	c.expires = 1795445543;
	c.fxa_uid = "0f3c...\"\\";
	c.fxa_kid = "0000000001234-qqo";
	c.hashed_fxa_uid = "0123456789abcdef0123456789abcdef";
	c.hashed_device_id = "fedcba9876543210fedcba9876543210";
	n = token_payload_json(buf, sizeof(buf), &c, "a1b2c3");
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "{\"node\":\"https://sync-1.example.com\","
	    "\"fxa_kid\":\"0000000001234-qqo\",\"fxa_uid\":\"0f3c...\\\"\\\\\","
	    "\"hashed_device_id\":\"fedcba9876543210fedcba9876543210\","
	    "\"hashed_fxa_uid\":\"0123456789abcdef0123456789abcdef\","
	    "\"expires\":1795445543,\"uid\":4611686018427387903,"
	    "\"salt\":\"a1b2c3\"}");
	/* Without them, tokend's payload as it always was. */
	c.fxa_uid = NULL;
	c.uid = 42;
	n = token_payload_json(buf, sizeof(buf), &c, "a1b2c3");
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "{\"uid\":42,\"node\":"
	    "\"https://sync-1.example.com\",\"expires\":1795445543,"
	    "\"salt\":\"a1b2c3\"}");
}

/* Correctly signed, but not a usable payload. */
static void
test_payload_errors(void **state)
{
	static const char *bad[] = {
		"[1,2]",
		"\"str\"",
		"{\"uid\":1,\"salt\":\"a1b2c3\"}",		/* no expires */
		"{\"expires\":\"2000000000\"}",		/* not a number */
		"{\"expires\":1,\"expires\":2000000000}",	/* duplicate */
		"{\"expires\":2000000000",		/* truncated */
	};
	char	 t[512];
	uint8_t	 sk[SHA256_LEN];
	json_t	*p;
	size_t	 i;

	kat_sig_key(sk);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sign_raw(t, bad[i]);
		p = (json_t *)1;
		if (tokenlib_parse(sk, t, 0, &p) != TOKEN_ERR_PAYLOAD)
			fail_msg("payload %s not refused as PAYLOAD", bad[i]);
		assert_null(p);
	}
	/* The helper itself makes tokens that pass. */
	sign_raw(t, "{\"expires\":2000000000}");
	assert_int_equal(tokenlib_parse(sk, t, 0, &p), TOKEN_OK);
	json_decref(p);
}

static void
test_mint_refuses_oversized_payload(void **state)
{
	static char	node[TOKENLIB_TOKEN_MAX];
	char		token[TOKENLIB_TOKEN_MAX + 1], key[TOKENLIB_KEY_LEN + 1];
	uint8_t		sk[SHA256_LEN];
	struct token_claims c = { .uid = 42,
	    .node = node, .expires = KAT_EXPIRES };
	json_t		*p;

	kat_sig_key(sk);
	memset(node, 'n', sizeof(node) - 1);
	assert_int_equal(tokenlib_mint(&master, sk, &c, KAT_SALT, token, key),
	    -1);
	/* A node that just fits still mints a parseable token. */
	node[1400] = '\0';
	assert_int_equal(tokenlib_mint(&master, sk, &c, KAT_SALT, token, key),
	    0);
	assert_true(strlen(token) <= TOKENLIB_TOKEN_MAX);
	assert_int_equal(tokenlib_parse(sk, token, 0, &p), TOKEN_OK);
	json_decref(p);
}

/*
 * docs/tokens.md's worked example, byte for byte: tokend's compact JSON,
 * salt "a1b2c3", issued at 1700000000 for 1800 s.  The expected strings
 * were computed by the Python model at the top of this file with
 * json.dumps(data, separators=(",", ":")).
 */
#define DOC_TOKEN \
    "eyJ1aWQiOjQyLCJub2RlIjoiaHR0cHM6Ly9leGFtcGxlLmNvbS8xLjUvNDIiLCJleHBp" \
    "cmVzIjoxNzAwMDAxODAwLCJzYWx0IjoiYTFiMmMzIn187SSyrnPzpiWaSnmJyJgY6u5u" \
    "sz2IsvQNyHNsQnT-Hg=="
#define DOC_KEY		"dSiRRdGSxEeHD8-pRhRRP27KxhdVt8lMYhMWdPH5O5M="

static void
test_worked_example(void **state)
{
	const struct token_claims c = { .uid = 42,
	    .node = KAT_NODE, .expires = 1700001800 };
	struct token_rand	 rnd;
	struct secrets		 s;
	char			 token[TOKEN_MAX + 1], key[TOKEN_KEY_LEN + 1];
	uint8_t			 sk[SHA256_LEN];
	json_t			*p;

	kat_sig_key(sk);
	assert_int_equal(tokenlib_mint(&master, sk, &c, KAT_SALT, token, key),
	    0);
	assert_string_equal(token, DOC_TOKEN);
	assert_string_equal(key, DOC_KEY);
	/* Through token.c, with the keys a secret set derives. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(secrets_build(&s, &master, 1), 0);
	assert_memory_equal(s.keys[0].tokenlib_sig, sk, SHA256_LEN);
	memset(&rnd, 0, sizeof(rnd));
	memcpy(rnd.salt, KAT_SALT, sizeof(KAT_SALT));
	memset(token, 0, sizeof(token));
	assert_int_equal(token_mint_with(TOKEN_FORMAT_TOKENLIB, &s, &c,
	    1700000000, &rnd, token, key), 0);
	assert_string_equal(token, DOC_TOKEN);
	assert_string_equal(key, DOC_KEY);
	secrets_free(&s);
	assert_int_equal(tokenlib_parse(sk, DOC_TOKEN, 1700001799, &p),
	    TOKEN_OK);
	json_decref(p);
	assert_int_equal(tokenlib_parse(sk, DOC_TOKEN, 1700001800, &p),
	    TOKEN_ERR_EXPIRED);
}

static void
test_strerror_distinct(void **state)
{
	const char	*s[TOKEN_NERR];
	int		 i, j;

	for (i = 0; i < TOKEN_NERR; i++) {
		s[i] = token_strerror((enum token_err)i);
		assert_non_null(s[i]);
		assert_true(strlen(s[i]) > 0);
		assert_string_not_equal(s[i], "unknown error");
		for (j = 0; j < i; j++)
			assert_string_not_equal(s[i], s[j]);
	}
	assert_string_equal(token_strerror(TOKEN_ERR_EXPIRED),
	    "token has expired");
	assert_string_equal(token_strerror((enum token_err)TOKEN_NERR),
	    "unknown error");
	assert_string_equal(token_strerror((enum token_err)-1),
	    "unknown error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signing_key_kat),
		cmocka_unit_test(test_derive_kat),
		cmocka_unit_test(test_derive_refuses_oversized_token),
		cmocka_unit_test(test_parse_python_token),
		cmocka_unit_test(test_mint_parse_round_trip),
		cmocka_unit_test(test_two_mints_differ),
		cmocka_unit_test(test_tamper_every_byte),
		cmocka_unit_test(test_wrong_secret),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_payload_errors),
		cmocka_unit_test(test_payload_mozilla_fields),
		cmocka_unit_test(test_mint_refuses_oversized_payload),
		cmocka_unit_test(test_worked_example),
		cmocka_unit_test(test_strerror_distinct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
