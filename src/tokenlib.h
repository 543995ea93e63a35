/*
 * tokenlib.h - Mozilla tokenlib 2.x tokens (TokenManager, hashmod sha256).
 *
 *   payload = JSON object: uid, node, expires, salt (+ optional fields)
 *   sig     = HMAC-SHA256(HKDF(master, salt=none,
 *                              info="services.mozilla.com/tokenlib/v1/signing"),
 *                         payload)
 *   token   = urlsafe_b64encode(payload || sig)           (padded)
 *   key     = urlsafe_b64encode(HKDF(master, salt=payload.salt,
 *                  info="services.mozilla.com/tokenlib/v1/derive/" || token))
 *
 * A service holding the master secret checks it with tokenlib's
 * parse_token() and gets the same key from get_derived_secret().
 */
#ifndef TOKEND_TOKENLIB_H
#define TOKEND_TOKENLIB_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hkdf.h"

struct secret;

#define TOKENLIB_TOKEN_MAX	2048	/* token characters, NUL excluded */
#define TOKENLIB_KEY_LEN	44	/* b64 of 32 bytes, padded */

struct token_claims {
	uint64_t	 uid;
	const char	*node;
	int64_t		 expires;	/* unix seconds */
};

/* The per-service signing key, HKDF(master, info=signing); 0 or -1. */
int	tokenlib_signing_key(uint8_t out[SHA256_LEN],
	    const struct secret *master);

/*
 * Mints a token for claims with a fresh random salt.  token gets at most
 * TOKENLIB_TOKEN_MAX characters and a NUL, key TOKENLIB_KEY_LEN and a NUL.
 * Returns 0 or -1 (OpenSSL failure, or the payload is too large).
 */
int	tokenlib_mint(const struct secret *master,
	    const uint8_t sig_key[SHA256_LEN], const struct token_claims *,
	    char token[TOKENLIB_TOKEN_MAX + 1], char key[TOKENLIB_KEY_LEN + 1]);

/* The derived secret of token under master and salt; 0 or -1. */
int	tokenlib_derive(const struct secret *master, const char *token,
	    const char *salt, char key[TOKENLIB_KEY_LEN + 1]);

enum tokenlib_err {
	TOKENLIB_OK,
	TOKENLIB_ERR_MALFORMED,		/* not base64, too short, too long */
	TOKENLIB_ERR_SIGNATURE,		/* HMAC does not match */
	TOKENLIB_ERR_PAYLOAD,		/* signed but not a JSON object */
	TOKENLIB_ERR_EXPIRED,		/* expires <= now */
};
const char *tokenlib_strerror(enum tokenlib_err);

/*
 * Checks token's signature with sig_key and its expiry at now; on
 * TOKENLIB_OK *payload is the owned JSON object (json_decref it).
 */
enum tokenlib_err tokenlib_parse(const uint8_t sig_key[SHA256_LEN],
	    const char *token, int64_t now, json_t **payload);

#endif
