/*
 * test_fernet.c - Fernet tokens (src/tokens/fernet.c, through token.c too).
 *
 * The known answers are docs/tokens.md's worked example, computed
 * independently of tokend with /usr/bin/python3, its standard library and
 * python3-cryptography (whose own Fernet class gives the same token):
 *
 *   import base64, hashlib, hmac, json
 *   from cryptography.fernet import Fernet
 *
 *   def hkdf(ikm, salt, info, size=32):     # RFC 5869, salt None = zeros
 *       salt = salt or b"\0" * 32
 *       prk = hmac.new(salt, ikm, hashlib.sha256).digest()
 *       okm, t, i = b"", b"", 1
 *       while len(okm) < size:
 *           t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
 *           okm, i = okm + t, i + 1
 *       return okm[:size]
 *
 *   master = b"0123456789abcdef0123456789abcdef"
 *   sig = hkdf(master, None, b"tokend/fernet/v1/signing", 16)
 *   enc = hkdf(master, None, b"tokend/fernet/v1/encryption", 16)
 *   key = base64.urlsafe_b64encode(sig + enc)
 *   payload = json.dumps({"uid": 42, "node": "https://example.com/1.5/42",
 *       "expires": 1700001800, "salt": "a1b2c3"}, separators=(",", ":"))
 *   token = Fernet(key)._encrypt_from_parts(payload.encode(), 1700000000,
 *                                          bytes(range(16)))
 *   derived = base64.urlsafe_b64encode(hkdf(master, b"a1b2c3",
 *       b"services.mozilla.com/tokenlib/v1/derive/" + token))
 *
 * The payload helper below seals arbitrary bytes with OpenSSL directly
 * (not through fernet.c), so the refusals of well-signed but bad payloads
 * are tested against an independent writer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "core/b64.h"
#include "tokens/fernet.h"
#include "core/hkdf.h"
#include "tokens/secret.h"
#include "tokens/token.h"
#include "testutil.h"

#define MASTER		"0123456789abcdef0123456789abcdef"
#define NODE		"https://example.com/1.5/42"
#define NOW		1700000000
#define EXPIRES		1700001800
#define SALT		"a1b2c3"
#define SIG_HEX		"a0810dd67020e70da5c0bbf6d5c4b53c"
#define ENC_HEX		"dacc709e4498edfeb696363d4cce128d"
#define FERNET_KEY	"oIEN1nAg5w2lwLv21cS1PNrMcJ5EmO3-tpY2PUzOEo0="
#define DOC_TOKEN \
    "gAAAAABlU_EAAAECAwQFBgcICQoLDA0OD_2YOIao27Skh5CJykzTkN5wVYWaWdZSW5y04V" \
    "yeg2Nb2itigdeO_omAF0BVQdhjNwZ_7CnL41q04XcNR5QPGl5X-pCeqpq2LF-uDbByFPI9" \
    "kTA6nlJgw2nN_EnFqluNKrla4mKkY0Ox6YCpjTtPPNCP9iZI-jXspXAzX7p_PUJZ"
#define DOC_KEY		"tyzpEy5r95xafLO9fgLlT_bfNIS6P0-XvySK21XLohs="
#define PAYLOAD \
    "{\"uid\":42,\"node\":\"" NODE "\",\"expires\":1700001800," \
    "\"salt\":\"a1b2c3\"}"

static uint8_t		 master_bytes[] = MASTER;
static const struct secret master = { master_bytes, sizeof(MASTER) - 1 };
static uint8_t		 other_bytes[] = "fedcba9876543210fedcba9876543210";
static const struct secret other = { other_bytes, sizeof(other_bytes) - 1 };
static struct secret_keys keys, other_keys;

static int
setup(void **state)
{
	if (fernet_keys(&keys, &master) == -1 ||
	    fernet_keys(&other_keys, &other) == -1)
		return -1;
	return 0;
}

static const uint8_t doc_iv[TOKEN_IV_LEN] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
};

static void
mint_doc(char token[TOKEN_MAX + 1], char key[TOKEN_KEY_LEN + 1])
{
	const struct token_claims c = { .uid = 42,
	    .node = NODE, .expires = EXPIRES };

	assert_int_equal(fernet_mint(&master, &keys, &c, NOW, SALT, doc_iv,
	    token, key), 0);
}

/*
 * A Fernet token of arbitrary plaintext, written with OpenSSL here rather
 * than fernet.c; pad = 0 leaves the plaintext unpadded (it must then be a
 * whole number of blocks).
 */
static void
seal(char *token, const struct secret_keys *k, uint64_t ts,
    const void *plain, size_t len, int pad)
{
	uint8_t		 raw[2048];
	EVP_CIPHER_CTX	*ctx;
	int		 n1, n2, i;

	raw[0] = 0x80;
	for (i = 8; i >= 1; i--, ts >>= 8)
		raw[i] = (uint8_t)ts;
	memcpy(raw + 9, doc_iv, 16);
	assert_non_null(ctx = EVP_CIPHER_CTX_new());
	assert_int_equal(EVP_EncryptInit_ex2(ctx, EVP_aes_128_cbc(),
	    k->fernet_enc, doc_iv, NULL), 1);
	EVP_CIPHER_CTX_set_padding(ctx, pad);
	assert_int_equal(EVP_EncryptUpdate(ctx, raw + 25, &n1, plain,
	    (int)len), 1);
	assert_int_equal(EVP_EncryptFinal_ex(ctx, raw + 25 + n1, &n2), 1);
	EVP_CIPHER_CTX_free(ctx);
	assert_int_equal(hmac_sha256(raw + 25 + n1 + n2, k->fernet_sig, 16,
	    raw, 25 + (size_t)(n1 + n2)), 0);
	b64url_encode(token, raw, 25 + (size_t)(n1 + n2) + 32, B64_PAD);
}

static void
test_keys_kat(void **state)
{
	uint8_t	sig[16], enc[16];
	char	b64[FERNET_KEY_B64_LEN + 1];

	assert_int_equal(tu_unhex(sig, sizeof(sig), SIG_HEX), sizeof(sig));
	assert_int_equal(tu_unhex(enc, sizeof(enc), ENC_HEX), sizeof(enc));
	assert_memory_equal(keys.fernet_sig, sig, 16);
	assert_memory_equal(keys.fernet_enc, enc, 16);
	fernet_key_b64(b64, &keys);
	assert_string_equal(b64, FERNET_KEY);
	/* Two keys, not one cut in half: distinct infos. */
	assert_memory_not_equal(keys.fernet_sig, keys.fernet_enc, 16);
	assert_memory_not_equal(other_keys.fernet_sig, keys.fernet_sig, 16);
}

/* docs/tokens.md's example: fixed secret, salt, time and IV. */
static void
test_worked_example(void **state)
{
	const struct token_claims c = { .uid = 42,
	    .node = NODE, .expires = EXPIRES };
	struct token_rand	 rnd;
	struct secrets		 s;
	char			 token[TOKEN_MAX + 1], key[TOKEN_KEY_LEN + 1];

	mint_doc(token, key);
	assert_string_equal(token, DOC_TOKEN);
	assert_string_equal(key, DOC_KEY);
	/* The same through token.c and a secret set's derived keys. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(secrets_build(&s, &master, 1), 0);
	memset(&rnd, 0, sizeof(rnd));
	memcpy(rnd.salt, SALT, sizeof(SALT));
	memcpy(rnd.iv, doc_iv, sizeof(doc_iv));
	memset(token, 0, sizeof(token));
	assert_int_equal(token_mint_with(TOKEN_FORMAT_FERNET, &s, &c, NOW,
	    &rnd, token, key), 0);
	assert_string_equal(token, DOC_TOKEN);
	assert_string_equal(key, DOC_KEY);
	secrets_free(&s);
}

static void
test_parse_kat(void **state)
{
	json_t	*p = NULL;
	int64_t	 issued = 0;
	char	*js;

	assert_int_equal(fernet_parse(&keys, DOC_TOKEN, NOW + 10, &p, &issued),
	    TOKEN_OK);
	assert_int_equal(issued, NOW);
	js = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_string_equal(js, PAYLOAD);
	free(js);
	json_decref(p);
}

static void
test_round_trip(void **state)
{
	const struct token_claims c = { .uid = (1ULL << 53) - 1,
	    .node = NODE, .expires = NOW + 60 };
	struct token_rand	 rnd;
	char			 t1[TOKEN_MAX + 1], t2[TOKEN_MAX + 1];
	char			 k1[TOKEN_KEY_LEN + 1], k2[TOKEN_KEY_LEN + 1];
	json_t			*p;
	int64_t			 issued;

	assert_int_equal(token_rand_new(&rnd), 0);
	assert_int_equal(fernet_mint(&master, &keys, &c, NOW, rnd.salt, rnd.iv,
	    t1, k1), 0);
	assert_int_equal(token_rand_new(&rnd), 0);
	assert_int_equal(fernet_mint(&master, &keys, &c, NOW, rnd.salt, rnd.iv,
	    t2, k2), 0);
	/* Fresh IV and salt: same claims, different tokens and keys. */
	assert_string_not_equal(t1, t2);
	assert_string_not_equal(k1, k2);
	assert_int_equal(fernet_parse(&keys, t1, NOW, &p, &issued), TOKEN_OK);
	assert_int_equal(json_integer_value(json_object_get(p, "uid")),
	    (json_int_t)((1ULL << 53) - 1));
	assert_string_equal(json_string_value(json_object_get(p, "node")),
	    NODE);
	assert_int_equal(json_integer_value(json_object_get(p, "expires")),
	    NOW + 60);
	assert_int_equal(strlen(json_string_value(json_object_get(p,
	    "salt"))), TOKEN_SALT_LEN);
	json_decref(p);
	assert_true(strncmp(t1, "gAAAAA", 6) == 0);
}

/*
 * The IV is random for every token (the Fernet spec; AES-CBC under one key
 * with a repeated IV shows which payloads share a first block).  Two
 * tokens of the same claims, minted at the same second by token_mint(),
 * which draws its own randomness, have different IVs: bytes 9 to 24 of
 * the decoded token.  As test_tokenlib.c's two_mints_differ does for the
 * salt; a repeat of 16 random bytes would be a 2^-128 event.
 */
static void
test_iv_random(void **state)
{
	const struct token_claims c = { .uid = 42,
	    .node = NODE, .expires = EXPIRES };
	struct secrets		 s;
	char			 t[2][TOKEN_MAX + 1], k[2][TOKEN_KEY_LEN + 1];
	uint8_t			 raw[2][TOKEN_MAX];
	size_t			 len[2];
	int			 i;

	memset(&s, 0, sizeof(s));
	assert_int_equal(secrets_build(&s, &master, 1), 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(token_mint(TOKEN_FORMAT_FERNET, &s, &c, NOW,
		    t[i], k[i]), 0);
		assert_int_equal(b64url_decode(raw[i], &len[i], t[i],
		    strlen(t[i]), B64_PAD), 0);
		assert_true(len[i] > 9 + TOKEN_IV_LEN);
		assert_int_equal(raw[i][0], 0x80);
	}
	/* The same version and timestamp: only the randomness differs. */
	assert_memory_equal(raw[0], raw[1], 9);
	assert_memory_not_equal(raw[0] + 9, raw[1] + 9, TOKEN_IV_LEN);
	secrets_free(&s);
}

/* Any bit of any byte: the version byte is malformed, the rest forged. */
static void
test_tamper_every_byte(void **state)
{
	uint8_t	 raw[TOKEN_MAX];
	char	 t[TOKEN_MAX + 1];
	size_t	 len, i;
	int	 bit;
	json_t	*p;
	int64_t	 issued;

	assert_int_equal(b64url_decode(raw, &len, DOC_TOKEN,
	    strlen(DOC_TOKEN), B64_PAD), 0);
	for (i = 0; i < len; i++)
		for (bit = 0; bit < 8; bit++) {
			raw[i] ^= (uint8_t)(1u << bit);
			b64url_encode(t, raw, len, B64_PAD);
			p = (json_t *)1;
			assert_int_equal(fernet_parse(&keys, t, NOW, &p,
			    &issued), i == 0 ? TOKEN_ERR_MALFORMED :
			    TOKEN_ERR_SIGNATURE);
			assert_null(p);
			raw[i] ^= (uint8_t)(1u << bit);
		}
	/* A block dropped or added keeps the layout, not the signature. */
	b64url_encode(t, raw, len - 16, B64_PAD);
	assert_int_equal(fernet_parse(&keys, t, NOW, &p, &issued),
	    TOKEN_ERR_SIGNATURE);
	memset(raw + len, 0, 16);
	b64url_encode(t, raw, len + 16, B64_PAD);
	assert_int_equal(fernet_parse(&keys, t, NOW, &p, &issued),
	    TOKEN_ERR_SIGNATURE);
	b64url_encode(t, raw, len, B64_PAD);
	assert_string_equal(t, DOC_TOKEN);
}

static void
test_wrong_secret(void **state)
{
	json_t	*p = (json_t *)1;
	int64_t	 issued;

	assert_int_equal(fernet_parse(&other_keys, DOC_TOKEN, NOW, &p,
	    &issued), TOKEN_ERR_SIGNATURE);
	assert_null(p);
}

static void
test_expired(void **state)
{
	json_t	*p = NULL;
	int64_t	 issued;

	assert_int_equal(fernet_parse(&keys, DOC_TOKEN, EXPIRES - 1, &p,
	    &issued), TOKEN_OK);
	json_decref(p);
	p = (json_t *)1;
	assert_int_equal(fernet_parse(&keys, DOC_TOKEN, EXPIRES, &p, &issued),
	    TOKEN_ERR_EXPIRED);
	assert_null(p);
	assert_int_equal(fernet_parse(&keys, DOC_TOKEN, EXPIRES + 86400, &p,
	    &issued), TOKEN_ERR_EXPIRED);
}

/* As the Fernet libraries: at most 60 s of clock skew. */
static void
test_issued_in_future(void **state)
{
	json_t	*p = NULL;
	int64_t	 issued;

	assert_int_equal(fernet_parse(&keys, DOC_TOKEN, NOW - 60, &p, &issued),
	    TOKEN_OK);
	json_decref(p);
	p = (json_t *)1;
	assert_int_equal(fernet_parse(&keys, DOC_TOKEN, NOW - 61, &p, &issued),
	    TOKEN_ERR_FUTURE);
	assert_null(p);
}

static void
test_malformed(void **state)
{
	static char	 big[TOKEN_MAX + 8];
	char		 t[sizeof(DOC_TOKEN) + 8];
	uint8_t		 raw[TOKEN_MAX];
	size_t		 len;
	json_t		*p;
	int64_t		 issued;

	assert_int_equal(fernet_parse(&keys, "", NOW, &p, &issued),
	    TOKEN_ERR_MALFORMED);
	assert_int_equal(fernet_parse(&keys, "gAAAAA!!", NOW, &p, &issued),
	    TOKEN_ERR_MALFORMED);
	/* The padding is part of the spelling; so is the URL-safe alphabet. */
	snprintf(t, sizeof(t), "%.*s", (int)strlen(DOC_TOKEN) - 1, DOC_TOKEN);
	assert_int_equal(fernet_parse(&keys, t, NOW, &p, &issued),
	    TOKEN_ERR_MALFORMED);
	snprintf(t, sizeof(t), "%s", DOC_TOKEN);
	*strchr(t, '_') = '/';
	assert_int_equal(fernet_parse(&keys, t, NOW, &p, &issued),
	    TOKEN_ERR_MALFORMED);
	/* Not a whole number of blocks; no block at all. */
	assert_int_equal(b64url_decode(raw, &len, DOC_TOKEN, strlen(DOC_TOKEN),
	    B64_PAD), 0);
	b64url_encode(t, raw, len - 1, B64_PAD);
	assert_int_equal(fernet_parse(&keys, t, NOW, &p, &issued),
	    TOKEN_ERR_MALFORMED);
	memmove(raw + 25, raw + len - 32, 32);
	b64url_encode(t, raw, 25 + 32, B64_PAD);
	assert_int_equal(fernet_parse(&keys, t, NOW, &p, &issued),
	    TOKEN_ERR_MALFORMED);
	/* A tokenlib token is not a Fernet token. */
	assert_int_equal(fernet_parse(&keys, "eyJ1aWQiOjF9AAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAAAAAA=", NOW, &p, &issued), TOKEN_ERR_MALFORMED);
	memset(big, 'A', TOKEN_MAX + 4);
	assert_int_equal(fernet_parse(&keys, big, NOW, &p, &issued),
	    TOKEN_ERR_MALFORMED);
}

/* Authentic, but not tokend's payload. */
static void
test_payload_errors(void **state)
{
	static const char *bad[] = {
		"[1,2]",
		"not json",
		"{\"uid\":1,\"salt\":\"a1b2c3\"}",		/* no expires */
		"{\"expires\":\"2000000000\"}",		/* not a number */
		"{\"expires\":1,\"expires\":2000000000}",	/* duplicate */
		"",
	};
	uint8_t	 block[32];
	char	 t[1024];
	json_t	*p;
	int64_t	 issued;
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		seal(t, &keys, NOW, bad[i], strlen(bad[i]), 1);
		p = (json_t *)1;
		if (fernet_parse(&keys, t, NOW, &p, &issued) !=
		    TOKEN_ERR_PAYLOAD)
			fail_msg("payload \"%s\" not refused as PAYLOAD",
			    bad[i]);
		assert_null(p);
	}
	/* Bad PKCS#7 padding under a good HMAC. */
	memset(block, 'x', sizeof(block));
	block[31] = 0;
	seal(t, &keys, NOW, block, sizeof(block), 0);
	assert_int_equal(fernet_parse(&keys, t, NOW, &p, &issued),
	    TOKEN_ERR_PAYLOAD);
	/* The helper itself writes tokens that pass. */
	seal(t, &keys, NOW, PAYLOAD, strlen(PAYLOAD), 1);
	assert_string_equal(t, DOC_TOKEN);
}

static void
test_mint_bounds(void **state)
{
	static char	node[TOKEN_MAX];
	struct token_claims c = { .uid = 42, .node = node, .expires = EXPIRES };
	char		token[TOKEN_MAX + 1], key[TOKEN_KEY_LEN + 1];
	json_t		*p;
	int64_t		 issued;

	memset(node, 'n', sizeof(node) - 1);
	assert_int_equal(fernet_mint(&master, &keys, &c, NOW, SALT, doc_iv,
	    token, key), -1);
	/* The longest node that fits still makes a token that parses. */
	node[1400] = '\0';
	assert_int_equal(fernet_mint(&master, &keys, &c, NOW, SALT, doc_iv,
	    token, key), 0);
	assert_true(strlen(token) <= TOKEN_MAX);
	assert_int_equal(fernet_parse(&keys, token, NOW, &p, &issued),
	    TOKEN_OK);
	json_decref(p);
	c.node = NODE;
	assert_int_equal(fernet_mint(&master, &keys, &c, -1, SALT, doc_iv,
	    token, key), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_kat),
		cmocka_unit_test(test_worked_example),
		cmocka_unit_test(test_parse_kat),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_iv_random),
		cmocka_unit_test(test_tamper_every_byte),
		cmocka_unit_test(test_wrong_secret),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_issued_in_future),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_payload_errors),
		cmocka_unit_test(test_mint_bounds),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
