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
 * parse_token() and gets the same key from get_derived_secret().  The
 * derived key is also the one a Fernet token's holder gets (fernet.c).
 * Callers normally go through token.h, which picks the format.
 */
#ifndef TOKEND_TOKENLIB_H
#define TOKEND_TOKENLIB_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/hkdf.h"
#include "tokens/token.h"

struct secret;

#define TOKENLIB_TOKEN_MAX	TOKEN_MAX	/* token characters, NUL excluded */
#define TOKENLIB_KEY_LEN	TOKEN_KEY_LEN	/* b64 of 32 bytes, padded */

/* The per-secret signing key, HKDF(master, info=signing); 0 or -1. */
int	tokenlib_signing_key(uint8_t out[SHA256_LEN],
	    const struct secret *master);

/*
 * Mints the token for claims and salt (TOKEN_SALT_LEN hex digits; the
 * caller draws it).  token gets at most TOKEN_MAX characters and a NUL,
 * key TOKEN_KEY_LEN and a NUL.  Returns 0 or -1 (OpenSSL failure, or the
 * payload is too large).
 */
int	tokenlib_mint(const struct secret *master,
	    const uint8_t sig_key[SHA256_LEN], const struct token_claims *,
	    const char *salt, char token[TOKEN_MAX + 1],
	    char key[TOKEN_KEY_LEN + 1]);

/* The derived secret of token under master and salt; 0 or -1. */
int	tokenlib_derive(const struct secret *master, const char *token,
	    const char *salt, char key[TOKEN_KEY_LEN + 1]);

/*
 * Checks token's signature with sig_key and its expiry at now, as tokenlib
 * does (any JSON object with a numeric "expires"); on TOKEN_OK *payload is
 * the owned JSON object (json_decref it), otherwise NULL.
 */
enum token_err tokenlib_parse(const uint8_t sig_key[SHA256_LEN],
	    const char *token, int64_t now, json_t **payload);

#endif
