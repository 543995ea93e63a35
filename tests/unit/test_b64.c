/*
 * test_b64.c - strict URL-safe base64 (src/b64.c).
 *
 * Known answers come from RFC 4648 section 10, in both the padded form
 * (tokenlib tokens) and the unpadded one (JWS).  The alphabet test walks all
 * 64 characters both ways, so a wrong table entry cannot hide.  The refusal
 * tests are the point of a strict decoder: one token must have exactly one
 * spelling, so every near-miss (standard alphabet, white space, misplaced or
 * miscounted '=', leftover bits) must come back as -1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/b64.h"

struct vec {
	const char	*plain;
	const char	*padded;
	const char	*unpadded;
};

/* RFC 4648 section 10; no vector uses '+' or '/', so base64url agrees. */
static const struct vec rfc4648[] = {
	{ "", "", "" },
	{ "f", "Zg==", "Zg" },
	{ "fo", "Zm8=", "Zm8" },
	{ "foo", "Zm9v", "Zm9v" },
	{ "foob", "Zm9vYg==", "Zm9vYg" },
	{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};
#define NVEC (sizeof(rfc4648) / sizeof(rfc4648[0]))

/* urlsafe_b64decode("ABC...xyz0123456789-_"), computed with Python. */
static const uint8_t alphabet_bytes[48] = {
	0x00, 0x10, 0x83, 0x10, 0x51, 0x87, 0x20, 0x92, 0x8b, 0x30, 0xd3, 0x8f,
	0x41, 0x14, 0x93, 0x51, 0x55, 0x97, 0x61, 0x96, 0x9b, 0x71, 0xd7, 0x9f,
	0x82, 0x18, 0xa3, 0x92, 0x59, 0xa7, 0xa2, 0x9a, 0xab, 0xb2, 0xdb, 0xaf,
	0xc3, 0x1c, 0xb3, 0xd3, 0x5d, 0xb7, 0xe3, 0x9e, 0xbb, 0xf3, 0xdf, 0xbf,
};
static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Decodes s (strlen) and asserts it gives want[0..wantlen). */
static void
decodes_to(const char *s, size_t len, enum b64_pad pad, const void *want,
    size_t wantlen)
{
	uint8_t	out[256];
	size_t	outlen = 9999;

	assert_true(b64url_declen(len) <= sizeof(out));
	memset(out, 0xa5, sizeof(out));
	assert_int_equal(b64url_decode(out, &outlen, s, len, pad), 0);
	assert_int_equal(outlen, wantlen);
	assert_memory_equal(out, want, wantlen);
	assert_true(outlen <= b64url_declen(len));
}

/* Asserts s[0..len) is refused in mode pad. */
#define refused(s, len, pad) do { \
	uint8_t	rout_[64]; \
	size_t	rlen_ = 0; \
	assert_int_equal(b64url_decode(rout_, &rlen_, (s), (len), (pad)), -1); \
} while (0)
#define refused_str(s, pad)	refused((s), strlen(s), (pad))

static void
test_rfc4648_encode_padded(void **state)
{
	char	out[16];
	size_t	i, n;

	for (i = 0; i < NVEC; i++) {
		memset(out, 'X', sizeof(out));
		n = b64url_encode(out, rfc4648[i].plain,
		    strlen(rfc4648[i].plain), B64_PAD);
		assert_int_equal(n, strlen(rfc4648[i].padded));
		assert_string_equal(out, rfc4648[i].padded);
	}
}

static void
test_rfc4648_encode_unpadded(void **state)
{
	char	out[16];
	size_t	i, n;

	for (i = 0; i < NVEC; i++) {
		memset(out, 'X', sizeof(out));
		n = b64url_encode(out, rfc4648[i].plain,
		    strlen(rfc4648[i].plain), B64_NOPAD);
		assert_int_equal(n, strlen(rfc4648[i].unpadded));
		assert_string_equal(out, rfc4648[i].unpadded);
	}
}

static void
test_rfc4648_decode_padded(void **state)
{
	size_t	i;

	for (i = 0; i < NVEC; i++)
		decodes_to(rfc4648[i].padded, strlen(rfc4648[i].padded),
		    B64_PAD, rfc4648[i].plain, strlen(rfc4648[i].plain));
}

static void
test_rfc4648_decode_unpadded(void **state)
{
	size_t	i;

	for (i = 0; i < NVEC; i++)
		decodes_to(rfc4648[i].unpadded, strlen(rfc4648[i].unpadded),
		    B64_NOPAD, rfc4648[i].plain, strlen(rfc4648[i].plain));
}

/* Each mode refuses the other's spelling when they differ. */
static void
test_modes_do_not_mix(void **state)
{
	size_t	i;

	for (i = 0; i < NVEC; i++) {
		if (strcmp(rfc4648[i].padded, rfc4648[i].unpadded) == 0)
			continue;
		refused_str(rfc4648[i].padded, B64_NOPAD);
		refused_str(rfc4648[i].unpadded, B64_PAD);
	}
}

static void
test_url_alphabet(void **state)
{
	static const uint8_t fbff[] = { 0xfb, 0xff };
	static const uint8_t fbefff[] = { 0xfb, 0xef, 0xff };
	static const uint8_t f8[] = { 0xf8 };
	static const uint8_t fffffffe[] = { 0xff, 0xff, 0xff, 0xfe };
	char	out[128];

	assert_int_equal(b64url_encode(out, fbff, 2, B64_PAD), 4);
	assert_string_equal(out, "-_8=");
	assert_int_equal(b64url_encode(out, fbff, 2, B64_NOPAD), 3);
	assert_string_equal(out, "-_8");
	assert_int_equal(b64url_encode(out, fbefff, 3, B64_NOPAD), 4);
	assert_string_equal(out, "--__");
	assert_int_equal(b64url_encode(out, f8, 1, B64_PAD), 4);
	assert_string_equal(out, "-A==");
	assert_int_equal(b64url_encode(out, fffffffe, 4, B64_PAD), 8);
	assert_string_equal(out, "_____g==");

	decodes_to("-_8=", 4, B64_PAD, fbff, 2);
	decodes_to("-_8", 3, B64_NOPAD, fbff, 2);
	decodes_to("--__", 4, B64_NOPAD, fbefff, 3);
	decodes_to("-A==", 4, B64_PAD, f8, 1);
	decodes_to("_____g==", 8, B64_PAD, fffffffe, 4);

	/* All 64 characters, in order, both ways. */
	assert_int_equal(b64url_encode(out, alphabet_bytes,
	    sizeof(alphabet_bytes), B64_NOPAD), 64);
	assert_string_equal(out, alphabet);
	decodes_to(alphabet, 64, B64_NOPAD, alphabet_bytes,
	    sizeof(alphabet_bytes));
	decodes_to(alphabet, 64, B64_PAD, alphabet_bytes,
	    sizeof(alphabet_bytes));
}

/* Every byte value survives a round trip at every length mod 3. */
static void
test_round_trip_all_bytes(void **state)
{
	uint8_t	in[256], back[264];
	char	enc[345];
	size_t	len, n, outlen;
	int	pad;

	for (n = 0; n < sizeof(in); n++)
		in[n] = (uint8_t)(255 - n);
	for (pad = 0; pad < 2; pad++)
		for (len = 253; len <= 256; len++) {
			n = b64url_encode(enc, in, len, (enum b64_pad)pad);
			assert_int_equal(n, b64url_enclen(len,
			    (enum b64_pad)pad));
			assert_int_equal(strlen(enc), n);
			assert_null(strpbrk(enc, "+/"));
			assert_true(b64url_declen(n) <= sizeof(back));
			assert_int_equal(b64url_decode(back, &outlen, enc, n,
			    (enum b64_pad)pad), 0);
			assert_int_equal(outlen, len);
			assert_memory_equal(back, in, len);
		}
}

static void
test_enclen(void **state)
{
	static const size_t padded[] = { 0, 4, 4, 4, 8, 8, 8, 12 };
	static const size_t unpadded[] = { 0, 2, 3, 4, 6, 7, 8, 10 };
	size_t	i;

	for (i = 0; i < 8; i++) {
		assert_int_equal(b64url_enclen(i, B64_PAD), padded[i]);
		assert_int_equal(b64url_enclen(i, B64_NOPAD), unpadded[i]);
	}
	assert_int_equal(b64url_enclen(32, B64_PAD), 44);
	assert_int_equal(b64url_enclen(32, B64_NOPAD), 43);
	assert_int_equal(b64url_enclen(48, B64_PAD), 64);
	assert_int_equal(b64url_enclen(48, B64_NOPAD), 64);
}

static void
test_refuses_standard_alphabet(void **state)
{
	refused_str("+/8=", B64_PAD);
	refused_str("+/8", B64_NOPAD);
	refused_str("-/8", B64_NOPAD);
	refused_str("+_8", B64_NOPAD);
	refused_str("++//", B64_NOPAD);
	refused_str("Zm9v+mFy", B64_PAD);
	refused_str("Zm9vYmF/", B64_NOPAD);
}

static void
test_refuses_whitespace(void **state)
{
	refused_str("Zm9v YmE", B64_NOPAD);
	refused_str("Zm9v\nYmE", B64_NOPAD);
	refused_str("Zm9vYm\tF", B64_NOPAD);
	refused_str("Zm9vYmF\r", B64_NOPAD);
	refused_str(" Zm9vYm=", B64_PAD);
	refused_str("Zm9 Yg==", B64_PAD);
	refused_str("Zm9vYg\n=", B64_PAD);
}

static void
test_refuses_pad_in_nopad(void **state)
{
	refused_str("Zg==", B64_NOPAD);
	refused_str("Zm8=", B64_NOPAD);
	refused_str("Zg=", B64_NOPAD);
	refused_str("Zm9vYg==", B64_NOPAD);
	refused_str("Z=9v", B64_NOPAD);
}

static void
test_refuses_wrong_padding(void **state)
{
	refused_str("Zg", B64_PAD);		/* missing */
	refused_str("Zg=", B64_PAD);		/* one short */
	refused_str("Zm8==", B64_PAD);		/* one too many */
	refused_str("Zg===", B64_PAD);
	refused_str("Z===", B64_PAD);		/* three */
	refused_str("====", B64_PAD);
	refused_str("Zm9v====", B64_PAD);	/* a whole quantum */
	refused_str("Zm9v=", B64_PAD);
	refused_str("Zg==Zm8=", B64_PAD);	/* padding mid-string */
	refused_str("Zm=v", B64_PAD);
	refused_str("Z=g=", B64_PAD);
}

/* Padded input must be a multiple of 4 characters. */
static void
test_refuses_padded_wrong_length(void **state)
{
	refused_str("Zm9vYg=", B64_PAD);	/* 7 */
	refused_str("Zm9vYmE", B64_PAD);	/* 7, no '=' */
	refused_str("Zm9vY", B64_PAD);		/* 5 */
	refused_str("Zm9vYmFyZ", B64_PAD);	/* 9 */
	refused_str("Zm9vYmFyZg=", B64_PAD);	/* 11 */
}

static void
test_refuses_len_mod4_is_1(void **state)
{
	refused_str("Z", B64_NOPAD);
	refused_str("Zm9vY", B64_NOPAD);
	refused_str("Zm9vYmFyZ", B64_NOPAD);
	/* len, not the NUL, ends the input: the next character is not read. */
	refused("Zg", 1, B64_NOPAD);
	refused("Zm9vYg", 5, B64_NOPAD);
	refused("Zm9vYmFy", 5, B64_PAD);
	decodes_to("Zm9vYmFy", 4, B64_NOPAD, "foo", 3);
	decodes_to("Zm8=Zm8=", 4, B64_PAD, "fo", 2);
}

/* "f" is "Zg"; "Zh".."Zv" decode to the same byte with stray low bits. */
static void
test_refuses_noncanonical_bits(void **state)
{
	static const uint8_t f[] = { 'f' };
	static const uint8_t fo[] = { 'f', 'o' };

	decodes_to("Zg", 2, B64_NOPAD, f, 1);
	refused_str("Zh", B64_NOPAD);
	refused_str("Zh==", B64_PAD);
	refused_str("Zv", B64_NOPAD);
	refused_str("Z_", B64_NOPAD);
	decodes_to("Zm8", 3, B64_NOPAD, fo, 2);
	refused_str("Zm9", B64_NOPAD);
	refused_str("Zm9=", B64_PAD);
	refused_str("Zm-", B64_NOPAD);
	refused_str("Zm9vYh", B64_NOPAD);
	refused_str("Zm9vYmF=", B64_PAD);
}

static void
test_refuses_nul_and_high_bytes(void **state)
{
	refused("Zm\0v", 4, B64_NOPAD);
	refused("Zm9v\0mFy", 8, B64_PAD);
	refused("Zm\0=", 4, B64_PAD);
	refused("\0\0\0\0", 4, B64_NOPAD);
	refused("Zm\xc3\xa9", 4, B64_NOPAD);
	refused("Zm9\xff", 4, B64_NOPAD);
	refused("Z\x80", 2, B64_NOPAD);
}

/* The empty string is valid, and empty, in both modes. */
static void
test_empty(void **state)
{
	uint8_t	out[4];
	size_t	outlen = 7;

	assert_int_equal(b64url_decode(out, &outlen, "", 0, B64_PAD), 0);
	assert_int_equal(outlen, 0);
	outlen = 7;
	assert_int_equal(b64url_decode(out, &outlen, "", 0, B64_NOPAD), 0);
	assert_int_equal(outlen, 0);
	assert_int_equal(b64url_encode((char *)out, "", 0, B64_PAD), 0);
	assert_int_equal(out[0], '\0');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_encode_padded),
		cmocka_unit_test(test_rfc4648_encode_unpadded),
		cmocka_unit_test(test_rfc4648_decode_padded),
		cmocka_unit_test(test_rfc4648_decode_unpadded),
		cmocka_unit_test(test_modes_do_not_mix),
		cmocka_unit_test(test_url_alphabet),
		cmocka_unit_test(test_round_trip_all_bytes),
		cmocka_unit_test(test_enclen),
		cmocka_unit_test(test_refuses_standard_alphabet),
		cmocka_unit_test(test_refuses_whitespace),
		cmocka_unit_test(test_refuses_pad_in_nopad),
		cmocka_unit_test(test_refuses_wrong_padding),
		cmocka_unit_test(test_refuses_padded_wrong_length),
		cmocka_unit_test(test_refuses_len_mod4_is_1),
		cmocka_unit_test(test_refuses_noncanonical_bits),
		cmocka_unit_test(test_refuses_nul_and_high_bytes),
		cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
