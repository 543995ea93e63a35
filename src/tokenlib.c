/*
 * tokenlib.c - minting and checking Mozilla tokenlib tokens.
 *
 * The byte layout is fixed by tokenlib (see tokenlib.h and docs/tokens.md);
 * what is ours is only the order and spacing of the payload's JSON, which
 * tokenlib never compares byte for byte (it json.loads the payload after
 * checking the HMAC over the bytes we sent).
 */
#include "tokenlib.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "b64.h"
#include "config.h"

#define INFO_SIGNING	"services.mozilla.com/tokenlib/v1/signing"
#define INFO_DERIVE	"services.mozilla.com/tokenlib/v1/derive/"
#define SALT_BYTES	3	/* tokenlib: hexlify(os.urandom(3)) */

/* Raw payload||sig must fit the token once base64-encoded. */
#define RAW_MAX		(TOKENLIB_TOKEN_MAX / 4 * 3)

int
tokenlib_signing_key(uint8_t out[SHA256_LEN], const struct secret *master)
{
	return hkdf_sha256(out, SHA256_LEN, master->bytes, master->len, NULL, 0,
	    INFO_SIGNING, sizeof(INFO_SIGNING) - 1);
}

int
tokenlib_derive(const struct secret *master, const char *token,
    const char *salt, char key[TOKENLIB_KEY_LEN + 1])
{
	uint8_t	 info[sizeof(INFO_DERIVE) - 1 + TOKENLIB_TOKEN_MAX];
	uint8_t	 out[SHA256_LEN];
	size_t	 toklen = strlen(token);
	int	 rc;

	if (toklen > TOKENLIB_TOKEN_MAX)
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

/* Writes the payload JSON into buf; returns its length or -1. */
static int
payload_json(char *buf, size_t cap, const struct token_claims *c,
    const char *salt)
{
	json_t	*obj;
	size_t	 len;

	obj = json_pack("{s:I, s:s, s:I, s:s}", "uid", (json_int_t)c->uid,
	    "node", c->node, "expires", (json_int_t)c->expires, "salt", salt);
	if (obj == NULL)
		return -1;
	len = json_dumpb(obj, buf, cap, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(obj);
	return (len == 0 || len > cap) ? -1 : (int)len;
}

int
tokenlib_mint(const struct secret *master, const uint8_t sig_key[SHA256_LEN],
    const struct token_claims *c, char token[TOKENLIB_TOKEN_MAX + 1],
    char key[TOKENLIB_KEY_LEN + 1])
{
	uint8_t	 raw[RAW_MAX], rnd[SALT_BYTES];
	char	 salt[2 * SALT_BYTES + 1];
	int	 len;
	size_t	 i;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(salt + 2 * i, 3, "%02x", rnd[i]);
	len = payload_json((char *)raw, sizeof(raw) - SHA256_LEN, c, salt);
	if (len == -1)
		return -1;
	if (hmac_sha256(raw + len, sig_key, SHA256_LEN, raw, (size_t)len) == -1)
		return -1;
	b64url_encode(token, raw, (size_t)len + SHA256_LEN, B64_PAD);
	return tokenlib_derive(master, token, salt, key);
}

static const char *const errs[] = {
	[TOKENLIB_OK] = "valid",
	[TOKENLIB_ERR_MALFORMED] = "token is not valid base64 of a payload "
	    "and a signature",
	[TOKENLIB_ERR_SIGNATURE] = "token signature does not match",
	[TOKENLIB_ERR_PAYLOAD] = "token payload is not a JSON object",
	[TOKENLIB_ERR_EXPIRED] = "token has expired",
};

const char *
tokenlib_strerror(enum tokenlib_err e)
{
	return (unsigned)e < sizeof(errs) / sizeof(errs[0]) ? errs[e] :
	    "unknown error";
}

enum tokenlib_err
tokenlib_parse(const uint8_t sig_key[SHA256_LEN], const char *token,
    int64_t now, json_t **payload)
{
	uint8_t		 raw[RAW_MAX + 3], mac[SHA256_LEN];
	size_t		 len, toklen = strlen(token);
	json_t		*obj, *exp;

	*payload = NULL;
	if (toklen > TOKENLIB_TOKEN_MAX ||
	    b64url_decode(raw, &len, token, toklen, B64_PAD) == -1 ||
	    len <= SHA256_LEN)
		return TOKENLIB_ERR_MALFORMED;
	len -= SHA256_LEN;
	if (hmac_sha256(mac, sig_key, SHA256_LEN, raw, len) == -1 ||
	    CRYPTO_memcmp(mac, raw + len, SHA256_LEN) != 0)
		return TOKENLIB_ERR_SIGNATURE;
	obj = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(obj)) {
		json_decref(obj);
		return TOKENLIB_ERR_PAYLOAD;
	}
	exp = json_object_get(obj, "expires");
	if (!json_is_number(exp)) {
		json_decref(obj);
		return TOKENLIB_ERR_PAYLOAD;
	}
	if (json_number_value(exp) <= (double)now) {
		json_decref(obj);
		return TOKENLIB_ERR_EXPIRED;
	}
	*payload = obj;
	return TOKENLIB_OK;
}
