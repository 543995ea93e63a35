/*
 * fuzz_b64.c - libFuzzer harness of strict URL-safe base64
 * (src/core/b64.c), which every token and JWS goes through first.
 *
 * b64.h promises that decoding is strict, "so one token has one
 * spelling": whatever b64url_decode accepts must be exactly what
 * b64url_encode writes for the bytes it decoded, in either padding mode
 * (else two strings would be the same token, and a token could be altered
 * without its MAC noticing).  Decoding never writes past
 * b64url_declen(len) bytes, and encoding any bytes then decoding them
 * gives them back, in b64url_enclen characters.
 *
 * Input: the characters to decode; the same bytes are then encoded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64.h"

#include "../fuzz.h"

/* Decoding in is exact and canonical, or refused. */
static void
check_decode(const char *in, size_t len, enum b64_pad pad)
{
	uint8_t	*out;
	char	*again;
	size_t	 outlen = SIZE_MAX;

	/* Exactly the bound: ASan catches a write past it. */
	if ((out = malloc(b64url_declen(len))) == NULL)
		abort();
	if (b64url_decode(out, &outlen, in, len, pad) == 0) {
		FUZZ_CHECK(outlen <= b64url_declen(len));
		FUZZ_CHECK(b64url_enclen(outlen, pad) == len);
		if ((again = malloc(len + 1)) == NULL)
			abort();
		FUZZ_CHECK(b64url_encode(again, out, outlen, pad) == len);
		FUZZ_CHECK(memcmp(again, in, len) == 0 && again[len] == '\0');
		free(again);
	}
	free(out);
}

/* Encoding then decoding gives the bytes back. */
static void
check_round_trip(const uint8_t *in, size_t len, enum b64_pad pad)
{
	size_t	 enclen = b64url_enclen(len, pad), outlen = SIZE_MAX;
	char	*enc;
	uint8_t	*out;

	if ((enc = malloc(enclen + 1)) == NULL ||
	    (out = malloc(b64url_declen(enclen))) == NULL)
		abort();
	FUZZ_CHECK(b64url_encode(enc, in, len, pad) == enclen);
	FUZZ_CHECK(strlen(enc) == enclen);
	FUZZ_CHECK(b64url_decode(out, &outlen, enc, enclen, pad) == 0);
	FUZZ_CHECK(outlen == len && memcmp(out, in, len) == 0);
	free(enc);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_decode((const char *)data, size, B64_NOPAD);
	check_decode((const char *)data, size, B64_PAD);
	check_round_trip(data, size, B64_NOPAD);
	check_round_trip(data, size, B64_PAD);
	return 0;
}
