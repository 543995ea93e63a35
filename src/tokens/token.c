/*
 * token.c - what the token formats share, and the choice between them.
 *
 * The formats (tokenlib.c, fernet.c) are pure functions of their inputs:
 * this file draws the randomness (salt, IV), builds and checks the payload
 * they both carry, derives every format's keys from a master secret once,
 * and tries each of a service's secrets in turn when a token is checked.
 * tokend's workers mint through token_mint(); tokenctl and
 * libtokend-verify check through token_verify(); so a token is made and
 * read by one implementation of its format, whoever holds it.
 */
#include "tokens/token.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/b64.h"
#include "tokens/fernet.h"
#include "tokens/secret.h"
#include "tokens/tokenlib.h"

static const char *const errs[TOKEN_NERR] = {
	[TOKEN_OK] = "valid",
	[TOKEN_ERR_MALFORMED] = "token is malformed (not base64 of a token "
	    "of this format)",
	[TOKEN_ERR_SIGNATURE] = "token signature does not match any secret",
	[TOKEN_ERR_PAYLOAD] = "token payload is not a valid tokend payload",
	[TOKEN_ERR_EXPIRED] = "token has expired",
	[TOKEN_ERR_FUTURE] = "token was issued in the future",
	[TOKEN_ERR_INTERNAL] = "internal error while checking the token",
};

const char *
token_strerror(enum token_err e)
{
	return (unsigned)e < TOKEN_NERR ? errs[e] : "unknown error";
}

static const char *const formats[] = {
	[TOKEN_FORMAT_ANY] = "any",
	[TOKEN_FORMAT_TOKENLIB] = "tokenlib",
	[TOKEN_FORMAT_FERNET] = "fernet",
};

int
token_format_parse(const char *name, enum token_format *out)
{
	size_t	i;

	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(name, formats[i]) == 0) {
			*out = (enum token_format)i;
			return 0;
		}
	return -1;
}

const char *
token_format_name(enum token_format f)
{
	return (unsigned)f < sizeof(formats) / sizeof(formats[0]) ?
	    formats[f] : "unknown";
}

int
token_derive_keys(struct secret_keys *k, const struct secret *master)
{
	if (tokenlib_signing_key(k->tokenlib_sig, master) == -1 ||
	    fernet_keys(k, master) == -1) {
		OPENSSL_cleanse(k, sizeof(*k));
		return -1;
	}
	return 0;
}

int
token_rand_new(struct token_rand *r)
{
	uint8_t	salt[TOKEN_SALT_LEN / 2];
	size_t	i;

	/* tokenlib's salt: hexlify(os.urandom(3)). */
	if (RAND_bytes(salt, sizeof(salt)) != 1 ||
	    RAND_bytes(r->iv, sizeof(r->iv)) != 1)
		return -1;
	for (i = 0; i < sizeof(salt); i++)
		snprintf(r->salt + 2 * i, 3, "%02x", salt[i]);
	return 0;
}

int
token_payload_json(char *buf, size_t cap, const struct token_claims *c,
    const char *salt)
{
	json_t	*obj;
	size_t	 len;

	if (c->fxa_uid != NULL)
		obj = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s}",
		    "node", c->node, "fxa_kid", c->fxa_kid, "fxa_uid",
		    c->fxa_uid, "hashed_device_id", c->hashed_device_id,
		    "hashed_fxa_uid", c->hashed_fxa_uid, "expires",
		    (json_int_t)c->expires, "uid", (json_int_t)c->uid, "salt",
		    salt);
	else
		obj = json_pack("{s:I, s:s, s:I, s:s}", "uid",
		    (json_int_t)c->uid, "node", c->node, "expires",
		    (json_int_t)c->expires, "salt", salt);
	if (obj == NULL)
		return -1;
	/* The service compares it with the keys the client says it holds. */
	if (c->client_state != NULL && c->client_state[0] != '\0' &&
	    json_object_set_new(obj, "client_state",
	    json_string(c->client_state)) == -1) {
		json_decref(obj);
		return -1;
	}
	len = json_dumpb(obj, buf, cap, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(obj);
	return (len == 0 || len > cap) ? -1 : (int)len;
}

enum token_err
token_payload_parse(const void *raw, size_t len, int64_t now, json_t **out)
{
	json_t	*obj, *exp;

	*out = NULL;
	obj = json_loadb(raw, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(obj)) {
		json_decref(obj);
		return TOKEN_ERR_PAYLOAD;
	}
	exp = json_object_get(obj, "expires");
	if (!json_is_number(exp)) {
		json_decref(obj);
		return TOKEN_ERR_PAYLOAD;
	}
	if (json_number_value(exp) <= (double)now) {
		json_decref(obj);
		return TOKEN_ERR_EXPIRED;
	}
	*out = obj;
	return TOKEN_OK;
}

int
token_mint_with(enum token_format fmt, const struct secrets *s,
    const struct token_claims *c, int64_t now, const struct token_rand *rnd,
    char token[TOKEN_MAX + 1], char key[TOKEN_KEY_LEN + 1])
{
	if (s->n == 0)
		return -1;
	switch (fmt) {
	case TOKEN_FORMAT_TOKENLIB:
		return tokenlib_mint(&s->v[0], s->keys[0].tokenlib_sig, c,
		    rnd->salt, token, key);
	case TOKEN_FORMAT_FERNET:
		return fernet_mint(&s->v[0], &s->keys[0], c, now, rnd->salt,
		    rnd->iv, token, key);
	case TOKEN_FORMAT_ANY:
		break;
	}
	return -1;
}

int
token_mint(enum token_format fmt, const struct secrets *s,
    const struct token_claims *c, int64_t now, char token[TOKEN_MAX + 1],
    char key[TOKEN_KEY_LEN + 1])
{
	struct token_rand	rnd;
	int			rc;

	if (token_rand_new(&rnd) == -1)
		return -1;
	rc = token_mint_with(fmt, s, c, now, &rnd, token, key);
	OPENSSL_cleanse(&rnd, sizeof(rnd));
	return rc;
}

/*
 * The format a token is in, from its first byte: a Fernet token starts
 * with the version byte 0x80, a tokenlib token with its JSON's '{'.
 */
static enum token_format
sniff(const char *token)
{
	uint8_t	head[3];
	size_t	len;

	if (strnlen(token, 4) < 4 ||
	    b64url_decode(head, &len, token, 4, B64_NOPAD) == -1)
		return TOKEN_FORMAT_TOKENLIB;	/* refused there as malformed */
	return head[0] == FERNET_VERSION ? TOKEN_FORMAT_FERNET :
	    TOKEN_FORMAT_TOKENLIB;
}

/* Fills info's claims from its payload; TOKEN_ERR_PAYLOAD if any is bad. */
static enum token_err
read_claims(struct token_info *info)
{
	json_t		*uid, *node, *salt;
	json_int_t	 u;
	double		 exp;

	uid = json_object_get(info->payload, "uid");
	node = json_object_get(info->payload, "node");
	salt = json_object_get(info->payload, "salt");
	exp = json_number_value(json_object_get(info->payload, "expires"));
	/* An expiry past int64_t (1e300) cannot be converted: undefined. */
	if (!json_is_integer(uid) || (u = json_integer_value(uid)) < 0 ||
	    !json_is_string(node) || !json_is_string(salt) ||
	    exp >= (double)INT64_MAX)
		return TOKEN_ERR_PAYLOAD;
	info->uid = (uint64_t)u;
	info->node = json_string_value(node);
	info->salt = json_string_value(salt);
	info->expires = (int64_t)exp;
	return TOKEN_OK;
}

enum token_err
token_verify(enum token_format fmt, const struct secrets *s,
    const char *token, int64_t now, struct token_info *info)
{
	enum token_err	 e = TOKEN_ERR_SIGNATURE;
	json_t		*payload = NULL;
	int64_t		 issued = -1;
	size_t		 i;

	memset(info, 0, sizeof(*info));
	info->issued = -1;
	if (fmt == TOKEN_FORMAT_ANY)
		fmt = sniff(token);
	/*
	 * Newest first: a fresh token matches at once.  Only a signature
	 * mismatch moves on to the next secret; any other answer comes from
	 * the token itself (its layout) or from a secret that vouched for it.
	 */
	for (i = 0; i < s->n; i++) {
		if (fmt == TOKEN_FORMAT_FERNET)
			e = fernet_parse(&s->keys[i], token, now, &payload,
			    &issued);
		else
			e = tokenlib_parse(s->keys[i].tokenlib_sig, token, now,
			    &payload);
		if (e != TOKEN_ERR_SIGNATURE)
			break;
	}
	if (e != TOKEN_OK)
		return e;
	info->format = fmt;
	info->payload = payload;
	info->issued = issued;
	info->secret = i;
	if ((e = read_claims(info)) == TOKEN_OK &&
	    tokenlib_derive(&s->v[i], token, info->salt, info->key) == -1)
		e = TOKEN_ERR_INTERNAL;
	if (e != TOKEN_OK)
		token_info_clear(info);
	return e;
}

void
token_info_clear(struct token_info *info)
{
	json_decref(info->payload);
	OPENSSL_cleanse(info->key, sizeof(info->key));
	memset(info, 0, sizeof(*info));
	info->issued = -1;
}
