/*
 * b64.c - strict URL-safe base64, used by JWS parsing and the token formats.
 */
#include "core/b64.h"

#include <stdint.h>

static const char enc_tab[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 0..63 for alphabet characters, 64 for everything else. */
static const uint8_t dec_tab[256] = {
#define X64 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64
	X64, X64,
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 62, 64, 64,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 64, 64, 64, 64, 64, 64,
	64, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 64, 64, 64, 64, 63,
	64, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 64, 64, 64, 64, 64,
	X64, X64, X64, X64, X64, X64, X64, X64,
#undef X64
};

size_t
b64url_enclen(size_t len, enum b64_pad pad)
{
	if (pad == B64_PAD)
		return (len + 2) / 3 * 4;
	return len / 3 * 4 + (len % 3 == 0 ? 0 : len % 3 + 1);
}

size_t
b64url_declen(size_t len)
{
	return len / 4 * 3 + 3;
}

size_t
b64url_encode(char *out, const void *in, size_t len, enum b64_pad pad)
{
	const uint8_t	*p = in;
	char		*o = out;
	uint32_t	 v;

	for (; len >= 3; len -= 3, p += 3) {
		v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
		*o++ = enc_tab[v >> 18];
		*o++ = enc_tab[(v >> 12) & 63];
		*o++ = enc_tab[(v >> 6) & 63];
		*o++ = enc_tab[v & 63];
	}
	if (len > 0) {
		v = (uint32_t)p[0] << 16 | (len == 2 ? (uint32_t)p[1] << 8 : 0);
		*o++ = enc_tab[v >> 18];
		*o++ = enc_tab[(v >> 12) & 63];
		if (len == 2)
			*o++ = enc_tab[(v >> 6) & 63];
		if (pad == B64_PAD) {
			if (len == 1)
				*o++ = '=';
			*o++ = '=';
		}
	}
	*o = '\0';
	return (size_t)(o - out);
}

int
b64url_decode(void *out, size_t *outlen, const char *in, size_t len,
    enum b64_pad pad)
{
	uint8_t		*o = out;
	size_t		 i, rem;
	uint32_t	 v;
	uint8_t		 a, b, c, d;

	if (pad == B64_PAD) {
		if (len % 4 != 0)
			return -1;
		if (len > 0 && in[len - 1] == '=')
			len -= (len > 1 && in[len - 2] == '=') ? 2 : 1;
	}
	rem = len % 4;
	if (rem == 1)
		return -1;
	for (i = 0; i + 4 <= len; i += 4) {
		a = dec_tab[(uint8_t)in[i]];
		b = dec_tab[(uint8_t)in[i + 1]];
		c = dec_tab[(uint8_t)in[i + 2]];
		d = dec_tab[(uint8_t)in[i + 3]];
		if ((a | b | c | d) & 64)
			return -1;
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
		*o++ = v >> 16;
		*o++ = v >> 8;
		*o++ = v;
	}
	if (rem > 0) {
		a = dec_tab[(uint8_t)in[i]];
		b = dec_tab[(uint8_t)in[i + 1]];
		c = rem == 3 ? dec_tab[(uint8_t)in[i + 2]] : 0;
		if ((a | b | c) & 64)
			return -1;
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
		/* Bits past the last whole byte must be zero (canonical). */
		if ((rem == 2 && (v & 0xffff)) || (rem == 3 && (v & 0xff)))
			return -1;
		*o++ = v >> 16;
		if (rem == 3)
			*o++ = v >> 8;
	}
	*outlen = (size_t)(o - (uint8_t *)out);
	return 0;
}
