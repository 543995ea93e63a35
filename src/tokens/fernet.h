/*
 * fernet.h - tokend's payload as a Fernet token (the public Fernet spec,
 * https://github.com/fernet/spec/blob/master/Spec.md):
 *
 *   token = urlsafe_b64encode(0x80 || timestamp(8, big-endian) || IV(16) ||
 *                             AES-128-CBC(enc_key, IV, PKCS#7(payload)) ||
 *                             HMAC-SHA256(sig_key, all of the above))
 *
 * with the two 16-byte keys derived from the service's master secret:
 *
 *   sig_key = HKDF-SHA256(master, salt=none, info="tokend/fernet/v1/signing")
 *   enc_key = HKDF-SHA256(master, salt=none,
 *                         info="tokend/fernet/v1/encryption")
 *   Fernet key (what a service gives its Fernet library)
 *           = urlsafe_b64encode(sig_key || enc_key)
 *
 * So Fernet(key).decrypt(token, ttl=duration) in any stock library yields
 * the same JSON payload a tokenlib token carries, and the derived secret
 * handed to the client is tokenlib's (tokenlib_derive over this token).
 */
#ifndef TOKEND_FERNET_H
#define TOKEND_FERNET_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tokens/token.h"

struct secret;
struct secret_keys;

#define FERNET_VERSION		0x80
#define FERNET_KEY_B64_LEN	44	/* b64 of the 32-byte Fernet key */
#define FERNET_MAX_CLOCK_SKEW	60	/* seconds, as the Fernet libraries */

/* sig and enc keys of master into k->fernet_sig, k->fernet_enc; 0 or -1. */
int	fernet_keys(struct secret_keys *k, const struct secret *master);

/* The Fernet key of k (sig || enc, base64url, padded) and a NUL. */
void	fernet_key_b64(char out[FERNET_KEY_B64_LEN + 1],
	    const struct secret_keys *k);

/*
 * Mints the token of claims issued at now, with salt and IV given (the
 * caller draws them: token.c); key gets the derived secret under master.
 * Returns 0, or -1 (OpenSSL failure, now < 0, or the payload too large).
 */
int	fernet_mint(const struct secret *master, const struct secret_keys *k,
	    const struct token_claims *, int64_t now, const char *salt,
	    const uint8_t iv[TOKEN_IV_LEN], char token[TOKEN_MAX + 1],
	    char key[TOKEN_KEY_LEN + 1]);

/*
 * Checks and decrypts token with k at now: the layout, the version byte,
 * the HMAC (before anything else is believed), a timestamp at most
 * FERNET_MAX_CLOCK_SKEW ahead of now, the padding, then the payload and
 * its expiry (token_payload_parse).  On TOKEN_OK *payload is owned and
 * *issued holds the timestamp; otherwise *payload is NULL.
 */
enum token_err fernet_parse(const struct secret_keys *k, const char *token,
	    int64_t now, json_t **payload, int64_t *issued);

#endif
