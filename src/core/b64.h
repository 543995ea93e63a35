/*
 * b64.h - URL-safe base64 (RFC 4648 section 5).
 *
 * JWS uses it without padding; tokenlib tokens and derived secrets use it
 * with padding (Python's urlsafe_b64encode).  Decoding is strict either way:
 * the standard alphabet's '+' and '/', white space, misplaced or missing
 * padding and non-zero trailing bits are all refused, so one token has one
 * spelling.
 */
#ifndef TOKEND_B64_H
#define TOKEND_B64_H

#include <stddef.h>

enum b64_pad {
	B64_NOPAD,		/* no '=' (JWS) */
	B64_PAD,		/* '=' to a multiple of 4 (tokenlib) */
};

/* Characters b64url_encode() writes for len bytes, without the NUL. */
size_t	b64url_enclen(size_t len, enum b64_pad pad);
/* Upper bound of bytes b64url_decode() writes for len characters. */
size_t	b64url_declen(size_t len);

/* Writes b64url_enclen() characters and a NUL to out; returns the length. */
size_t	b64url_encode(char *out, const void *in, size_t len, enum b64_pad pad);
/* Decodes into out (b64url_declen(len) bytes); -1 on any malformation. */
int	b64url_decode(void *out, size_t *outlen, const char *in, size_t len,
	    enum b64_pad pad);

#endif
