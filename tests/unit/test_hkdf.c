/*
 * test_hkdf.c - HKDF-SHA256 and HMAC-SHA256 (src/core/hkdf.c).
 *
 * Known answers only: RFC 5869 appendix A.1-A.3 for HKDF and RFC 4231
 * test cases 1, 2 and 6 for HMAC.  tokenlib derives its signing key with
 * salt=None, so the NULL-salt convention (HashLen zero bytes) is pinned
 * down separately: it must equal an explicit zero salt and, since HMAC pads
 * short keys with zeros, the empty salt of test case 3.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/hkdf.h"
#include "testutil.h"

static void
fill(uint8_t *p, size_t len, unsigned first)
{
	size_t	i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(first + i);
}

static void
assert_hex_equal(const uint8_t *got, size_t len, const char *hex)
{
	uint8_t	want[512];

	assert_int_equal(tu_unhex(want, sizeof(want), hex), len);
	assert_memory_equal(got, want, len);
}

/* RFC 5869 A.1: basic test case with SHA-256. */
static void
test_rfc5869_case1(void **state)
{
	uint8_t	ikm[22], salt[13], info[10], okm[42 + 8];

	memset(ikm, 0x0b, sizeof(ikm));
	fill(salt, sizeof(salt), 0x00);
	fill(info, sizeof(info), 0xf0);
	memset(okm, 0xee, sizeof(okm));
	assert_int_equal(hkdf_sha256(okm, 42, ikm, sizeof(ikm), salt,
	    sizeof(salt), info, sizeof(info)), 0);
	assert_hex_equal(okm, 42,
	    "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
	    "34007208d5b887185865");
	/* Exactly outlen bytes written. */
	assert_hex_equal(okm + 42, 8, "eeeeeeeeeeeeeeee");
}

/* RFC 5869 A.2: longer inputs and outputs. */
static void
test_rfc5869_case2(void **state)
{
	uint8_t	ikm[80], salt[80], info[80], okm[82];

	fill(ikm, sizeof(ikm), 0x00);
	fill(salt, sizeof(salt), 0x60);
	fill(info, sizeof(info), 0xb0);
	assert_int_equal(hkdf_sha256(okm, sizeof(okm), ikm, sizeof(ikm), salt,
	    sizeof(salt), info, sizeof(info)), 0);
	assert_hex_equal(okm, sizeof(okm),
	    "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
	    "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
	    "cc30c58179ec3e87c14c01d5c1f3434f1d87");
}

#define CASE3_OKM \
    "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d" \
    "9d201395faa4b61a96c8"

/* RFC 5869 A.3: zero-length salt and info. */
static void
test_rfc5869_case3(void **state)
{
	uint8_t	ikm[22], okm[42];

	memset(ikm, 0x0b, sizeof(ikm));
	assert_int_equal(hkdf_sha256(okm, sizeof(okm), ikm, sizeof(ikm), "", 0,
	    "", 0), 0);
	assert_hex_equal(okm, sizeof(okm), CASE3_OKM);
}

/* salt == NULL means HashLen zero bytes (RFC 5869 2.2, tokenlib). */
static void
test_null_salt_is_zero_salt(void **state)
{
	static const uint8_t zeros[SHA256_LEN];
	uint8_t	ikm[22], a[42], b[42], c[42];
	const char *info = "services.mozilla.com/tokenlib/v1/signing";

	memset(ikm, 0x0b, sizeof(ikm));
	/* Case 3 again, salt NULL instead of "". */
	assert_int_equal(hkdf_sha256(a, sizeof(a), ikm, sizeof(ikm), NULL, 0,
	    "", 0), 0);
	assert_hex_equal(a, sizeof(a), CASE3_OKM);

	assert_int_equal(hkdf_sha256(a, sizeof(a), ikm, sizeof(ikm), NULL, 0,
	    info, strlen(info)), 0);
	assert_int_equal(hkdf_sha256(b, sizeof(b), ikm, sizeof(ikm), zeros,
	    sizeof(zeros), info, strlen(info)), 0);
	assert_memory_equal(a, b, sizeof(a));
	/* And the salt does matter: one non-zero byte changes everything. */
	assert_int_equal(hkdf_sha256(c, sizeof(c), ikm, sizeof(ikm), "\1", 1,
	    info, strlen(info)), 0);
	assert_memory_not_equal(a, c, sizeof(a));
	/* Python: HKDF(b"secret", salt=None, info=b"info", 32). */
	assert_int_equal(hkdf_sha256(a, 32, "secret", 6, NULL, 0, "info", 4),
	    0);
	assert_hex_equal(a, 32,
	    "7e11a191fa879919dcf4e336e0d736091bee42c78d4ccb86214290a677884a7a");
}

/* RFC 5869 caps L at 255 * HashLen; one byte more must fail, not wrap. */
static void
test_output_limit(void **state)
{
	static uint8_t	okm[255 * SHA256_LEN + 1];
	uint8_t		ikm[22], salt[13], info[10];

	memset(ikm, 0x0b, sizeof(ikm));
	fill(salt, sizeof(salt), 0x00);
	fill(info, sizeof(info), 0xf0);
	assert_int_equal(hkdf_sha256(okm, 255 * SHA256_LEN, ikm, sizeof(ikm),
	    salt, sizeof(salt), info, sizeof(info)), 0);
	/* Case 1 is a prefix of the longest output; check both ends. */
	assert_hex_equal(okm, 8, "3cb25f25faacd57a");
	assert_hex_equal(okm + 255 * SHA256_LEN - 8, 8, "23d5c0f22154ee88");
	assert_int_equal(hkdf_sha256(okm, sizeof(okm), ikm, sizeof(ikm),
	    salt, sizeof(salt), info, sizeof(info)), -1);
}

/* RFC 4231 4.2: test case 1. */
static void
test_rfc4231_case1(void **state)
{
	uint8_t	key[20], mac[SHA256_LEN];

	memset(key, 0x0b, sizeof(key));
	assert_int_equal(hmac_sha256(mac, key, sizeof(key), "Hi There", 8), 0);
	assert_hex_equal(mac, sizeof(mac),
	    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

/* RFC 4231 4.3: test case 2, a key shorter than the output. */
static void
test_rfc4231_case2(void **state)
{
	static const char data[] = "what do ya want for nothing?";
	uint8_t	mac[SHA256_LEN];

	assert_int_equal(hmac_sha256(mac, "Jefe", 4, data, sizeof(data) - 1),
	    0);
	assert_hex_equal(mac, sizeof(mac),
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

/* RFC 4231 4.7: test case 6, a key longer than the block (hashed first). */
static void
test_rfc4231_case6(void **state)
{
	static const char data[] =
	    "Test Using Larger Than Block-Size Key - Hash Key First";
	uint8_t	key[131], mac[SHA256_LEN];

	memset(key, 0xaa, sizeof(key));
	assert_int_equal(hmac_sha256(mac, key, sizeof(key), data,
	    sizeof(data) - 1), 0);
	assert_hex_equal(mac, sizeof(mac),
	    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc5869_case1),
		cmocka_unit_test(test_rfc5869_case2),
		cmocka_unit_test(test_rfc5869_case3),
		cmocka_unit_test(test_null_salt_is_zero_salt),
		cmocka_unit_test(test_output_limit),
		cmocka_unit_test(test_rfc4231_case1),
		cmocka_unit_test(test_rfc4231_case2),
		cmocka_unit_test(test_rfc4231_case6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
