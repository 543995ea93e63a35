/*
 * tokenlib.c - minting and checking Mozilla tokenlib tokens.
 *
 * The byte layout is fixed by tokenlib (see tokenlib.h and docs/tokens.md);
 * what is ours is only the order and spacing of the payload's JSON
 * (token.c), which tokenlib never compares byte for byte (it json.loads
 * the payload after checking the HMAC over the bytes we sent).
 *
 * Nothing here draws random numbers: the salt comes from the caller
 * (token.c), so a fixed salt gives a fixed token, which is how the worked
 * example in docs/tokens.md is reproduced by the unit tests.
 */
#include "tokens/tokenlib.h"

#include <string.h>

#include <openssl/crypto.h>

#include "core/b64.h"
#include "tokens/secret.h"

#define INFO_SIGNING	"services.mozilla.com/tokenlib/v1/signing"
#define INFO_DERIVE	"services.mozilla.com/tokenlib/v1/derive/"

/* Raw payload||sig must fit the token once base64-encoded. */
#define RAW_MAX		(TOKEN_MAX / 4 * 3)

int
tokenlib_signing_key(uint8_t out[SHA256_LEN], const struct secret *master)
{
	return hkdf_sha256(out, SHA256_LEN, master->bytes, master->len, NULL, 0,
	    INFO_SIGNING, sizeof(INFO_SIGNING) - 1);
}

int
tokenlib_derive(const struct secret *master, const char *token,
    const char *salt, char key[TOKEN_KEY_LEN + 1])
{
	uint8_t	 info[sizeof(INFO_DERIVE) - 1 + TOKEN_MAX];
	uint8_t	 out[SHA256_LEN];
	size_t	 toklen = strlen(token);
	int	 rc;

	if (toklen > TOKEN_MAX)
		return -1;
	memcpy(info, INFO_DERIVE, sizeof(INFO_DERIVE) - 1);
	memcpy(info + sizeof(INFO_DERIVE) - 1, token, toklen);
	rc = hkdf_sha256(out, sizeof(out), master->bytes, master->len, salt,
	    strlen(salt), info, sizeof(INFO_DERIVE) - 1 + toklen);
	if (rc == 0)
		b64url_encode(key, out, sizeof(out), B64_PAD);
	OPENSSL_cleanse(out, sizeof(out));
	return rc;
}

int
tokenlib_mint(const struct secret *master, const uint8_t sig_key[SHA256_LEN],
    const struct token_claims *c, const char *salt,
    char token[TOKEN_MAX + 1], char key[TOKEN_KEY_LEN + 1])
{
	uint8_t	 raw[RAW_MAX];
	int	 len;

	len = token_payload_json((char *)raw, sizeof(raw) - SHA256_LEN, c,
	    salt);
	if (len == -1)
		return -1;
	if (hmac_sha256(raw + len, sig_key, SHA256_LEN, raw, (size_t)len) == -1)
		return -1;
	b64url_encode(token, raw, (size_t)len + SHA256_LEN, B64_PAD);
	return tokenlib_derive(master, token, salt, key);
}

enum token_err
tokenlib_parse(const uint8_t sig_key[SHA256_LEN], const char *token,
    int64_t now, json_t **payload)
{
	uint8_t		 raw[RAW_MAX + 3], mac[SHA256_LEN];
	size_t		 len, toklen = strnlen(token, TOKEN_MAX + 1);

	*payload = NULL;
	if (toklen > TOKEN_MAX ||
	    b64url_decode(raw, &len, token, toklen, B64_PAD) == -1 ||
	    len <= SHA256_LEN)
		return TOKEN_ERR_MALFORMED;
	len -= SHA256_LEN;
	if (hmac_sha256(mac, sig_key, SHA256_LEN, raw, len) == -1)
		return TOKEN_ERR_INTERNAL;
	if (CRYPTO_memcmp(mac, raw + len, SHA256_LEN) != 0)
		return TOKEN_ERR_SIGNATURE;
	return token_payload_parse(raw, len, now, payload);
}
