/*
 * token.h - the token formats behind one interface.
 *
 * A service's tokens are in one of two formats (docs/tokens.md):
 *
 *   tokenlib   Mozilla tokenlib 2.x: JSON payload || HMAC-SHA256, base64url
 *              (src/tokens/tokenlib.c)
 *   fernet     the same JSON payload encrypted and signed as a Fernet token
 *              (src/tokens/fernet.c)
 *
 * Both carry the same payload {"uid","node","expires","salt"} and both hand
 * the client the same derived secret (tokenlib's derivation, keyed with
 * the master secret, over the token string).  This file owns what the
 * formats share: the payload, the randomness of a token, the keys derived
 * from a master secret, and the choice of format.  tokend's workers
 * (mint.c), tokenctl and libtokend-verify all come through here, so each
 * format has exactly one implementation.
 */
#ifndef TOKEND_TOKEN_H
#define TOKEND_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/hkdf.h"

struct secret;
struct secrets;
struct secret_keys;

#define TOKEN_MAX		2048	/* token characters, NUL excluded */
#define TOKEN_KEY_LEN		44	/* derived secret: b64 of 32 bytes */
#define TOKEN_SALT_LEN		6	/* payload salt: 3 bytes in hex */
#define TOKEN_IV_LEN		16	/* Fernet's AES-CBC IV */

enum token_format {
	TOKEN_FORMAT_ANY,		/* verification only: tell by the bytes */
	TOKEN_FORMAT_TOKENLIB,
	TOKEN_FORMAT_FERNET,
};

/* What a token says about its holder; the salt is added at minting. */
struct token_claims {
	uint64_t	 uid;
	const char	*node;
	int64_t		 expires;	/* unix seconds */
	const char	*client_state;	/* X-Client-State hex, or NULL */
	/*
	 * Mozilla's tokenserver fields, which its storage servers read (a
	 * nodes = database service's; docs/tokens.md); NULL: none.
	 */
	const char	*fxa_uid;
	const char	*fxa_kid;
	const char	*hashed_fxa_uid;
	const char	*hashed_device_id;
};

/* The randomness of one token; fresh for every token but in tests. */
struct token_rand {
	char		 salt[TOKEN_SALT_LEN + 1];
	uint8_t		 iv[TOKEN_IV_LEN];
};

/* Why a token is refused; token_strerror() names each. */
enum token_err {
	TOKEN_OK,
	TOKEN_ERR_MALFORMED,	/* not base64 of the format's layout */
	TOKEN_ERR_SIGNATURE,	/* no secret's HMAC matches */
	TOKEN_ERR_PAYLOAD,	/* authentic, but not a usable payload */
	TOKEN_ERR_EXPIRED,	/* expires <= now */
	TOKEN_ERR_FUTURE,	/* Fernet: issued over 60 s in the future */
	TOKEN_ERR_INTERNAL,	/* OpenSSL or memory failure: not the token */
};
#define TOKEN_NERR	(TOKEN_ERR_INTERNAL + 1)

/* A verified token.  payload is owned: token_info_clear() releases it. */
struct token_info {
	enum token_format format;
	json_t		*payload;	/* the whole JSON object */
	uint64_t	 uid;
	const char	*node;		/* inside payload */
	const char	*salt;		/* inside payload */
	int64_t		 expires;
	int64_t		 issued;	/* Fernet timestamp; -1 for tokenlib */
	size_t		 secret;	/* index of the secret that checked it */
	char		 key[TOKEN_KEY_LEN + 1]; /* the derived secret */
};

const char	*token_strerror(enum token_err);
/* "tokenlib" / "fernet" (and "any"); -1 for another name. */
int		 token_format_parse(const char *name, enum token_format *);
const char	*token_format_name(enum token_format);

/* Computes every format's keys from one master secret; 0 or -1. */
int		 token_derive_keys(struct secret_keys *,
		    const struct secret *master);

/* Fresh salt and IV from the CSPRNG; 0 or -1. */
int		 token_rand_new(struct token_rand *);

/*
 * Mints a token in format fmt with the newest of secrets (v[0]), issued at
 * now, with the randomness in rnd (token_mint() draws it).  token gets at
 * most TOKEN_MAX characters and a NUL, key TOKEN_KEY_LEN and a NUL.
 * Returns 0, or -1 (OpenSSL failure, or the payload is too large).
 */
int		 token_mint_with(enum token_format fmt,
		    const struct secrets *, const struct token_claims *,
		    int64_t now, const struct token_rand *rnd,
		    char token[TOKEN_MAX + 1], char key[TOKEN_KEY_LEN + 1]);
int		 token_mint(enum token_format fmt, const struct secrets *,
		    const struct token_claims *, int64_t now,
		    char token[TOKEN_MAX + 1], char key[TOKEN_KEY_LEN + 1]);

/*
 * Checks token (format fmt, or either with TOKEN_FORMAT_ANY) with every
 * one of secrets in turn and its expiry at now.  The payload must be
 * tokend's: uid (a non-negative integer), node, salt (strings) and expires
 * (a number).  On TOKEN_OK *info is filled (the key derived too) and owns
 * the payload; on any error it holds nothing to release.
 */
enum token_err	 token_verify(enum token_format fmt, const struct secrets *,
		    const char *token, int64_t now, struct token_info *info);
void		 token_info_clear(struct token_info *);

/* ---- shared by the formats (tokenlib.c, fernet.c) ---------------------- */

/*
 * The payload JSON, compact and in this order:
 *   {"uid":U,"node":"N","expires":E,"salt":"S"}
 * or, with Mozilla's fields (fxa_uid set), in the order of Mozilla's
 * Rust tokenserver:
 *   {"node":"N","fxa_kid":"K","fxa_uid":"F","hashed_device_id":"D",
 *    "hashed_fxa_uid":"H","expires":E,"uid":U,"salt":"S"}
 * Writes it into buf (no NUL); returns its length, or -1 if it does not
 * fit in cap bytes.
 */
int		 token_payload_json(char *buf, size_t cap,
		    const struct token_claims *, const char *salt);

/*
 * Parses an authenticated payload: a JSON object (duplicate keys refused)
 * with a numeric "expires", later than now.  On TOKEN_OK *payload is the
 * owned object; otherwise TOKEN_ERR_PAYLOAD or TOKEN_ERR_EXPIRED and NULL.
 */
enum token_err	 token_payload_parse(const void *raw, size_t len,
		    int64_t now, json_t **payload);

#endif
