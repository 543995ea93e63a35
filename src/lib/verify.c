/*
 * verify.c - libtokend-verify, the public face of token.c for services.
 *
 * Everything that knows a format lives in token.c, tokenlib.c and fernet.c,
 * compiled into this library from the same sources tokend mints with; this
 * file only maps the public types (tokend/verify.h) onto them and keeps
 * the library's promises: a stable ABI with opaque state, no symbol but
 * the tokend_ ones exported (everything is built -fvisibility=hidden, and
 * the public functions below are marked default), errno and messages
 * instead of logging, and no dependency beyond libcrypto and jansson.
 */
#include "tokend/verify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "tokens/fernet.h"
#include "tokens/secret.h"
#include "tokens/token.h"

#define API	__attribute__((visibility("default")))

/* The public enums are the internal ones under stable names. */
_Static_assert(TOKEND_OK == (int)TOKEN_OK &&
    TOKEND_ERR_MALFORMED == (int)TOKEN_ERR_MALFORMED &&
    TOKEND_ERR_SIGNATURE == (int)TOKEN_ERR_SIGNATURE &&
    TOKEND_ERR_PAYLOAD == (int)TOKEN_ERR_PAYLOAD &&
    TOKEND_ERR_EXPIRED == (int)TOKEN_ERR_EXPIRED &&
    TOKEND_ERR_FUTURE == (int)TOKEN_ERR_FUTURE &&
    TOKEND_ERR_INTERNAL == (int)TOKEN_ERR_INTERNAL &&
    TOKEND_ERR_USAGE == TOKEN_NERR, "tokend_status != token_err");
_Static_assert(TOKEND_FORMAT_ANY == (int)TOKEN_FORMAT_ANY &&
    TOKEND_FORMAT_TOKENLIB == (int)TOKEN_FORMAT_TOKENLIB &&
    TOKEND_FORMAT_FERNET == (int)TOKEN_FORMAT_FERNET,
    "tokend_format != token_format");
_Static_assert(TOKEND_TOKEN_MAX == TOKEN_MAX &&
    TOKEND_KEY_LEN == TOKEN_KEY_LEN &&
    TOKEND_FERNET_KEY_LEN == FERNET_KEY_B64_LEN, "lengths differ");

struct tokend_verifier {
	struct secrets		 secrets;
	enum token_format	 format;
};

API const char *
tokend_verify_version(void)
{
	return TOKEND_VERIFY_VERSION;
}

API struct tokend_verifier *
tokend_verifier_new(void)
{
	return calloc(1, sizeof(struct tokend_verifier));
}

API int
tokend_verifier_add_secret(struct tokend_verifier *v, const void *secret,
    size_t len)
{
	if (v == NULL || secret == NULL || len < SECRET_MIN_BYTES ||
	    len > SECRET_MAX_BYTES) {
		errno = EINVAL;
		return -1;
	}
	return secrets_append(&v->secrets, secret, len);
}

API int
tokend_verifier_load_file(struct tokend_verifier *v, const char *path,
    char *err, size_t errlen)
{
	struct secrets	 file;
	size_t		 i;
	int		 rc = 0;

	if (v == NULL || path == NULL) {
		snprintf(err, errlen, "tokend_verifier_load_file: NULL "
		    "argument");
		return -1;
	}
	if (secrets_load(&file, path, err, errlen) == -1)
		return -1;
	if (v->secrets.n + file.n > SECRETS_MAX) {
		snprintf(err, errlen, "secret file %s: more than %d secrets in "
		    "all", path, SECRETS_MAX);
		rc = -1;
	}
	for (i = 0; rc == 0 && i < file.n; i++)
		if (secrets_append(&v->secrets, file.v[i].bytes,
		    file.v[i].len) == -1) {
			snprintf(err, errlen, "secret file %s: %s", path,
			    strerror(errno));
			rc = -1;
		}
	secrets_free(&file);
	return rc;
}

API int
tokend_verifier_set_format(struct tokend_verifier *v, enum tokend_format f)
{
	if (v == NULL || (f != TOKEND_FORMAT_ANY &&
	    f != TOKEND_FORMAT_TOKENLIB && f != TOKEND_FORMAT_FERNET)) {
		errno = EINVAL;
		return -1;
	}
	v->format = (enum token_format)f;
	return 0;
}

API size_t
tokend_verifier_count(const struct tokend_verifier *v)
{
	return v != NULL ? v->secrets.n : 0;
}

API void
tokend_verifier_free(struct tokend_verifier *v)
{
	if (v == NULL)
		return;
	secrets_free(&v->secrets);
	free(v);
}

API int
tokend_verify(const struct tokend_verifier *v, const char *token,
    int64_t now, struct tokend_token *out)
{
	struct token_info	 info;
	enum token_err		 e;

	if (out != NULL) {
		memset(out, 0, sizeof(*out));
		out->issued_at = -1;
	}
	if (v == NULL || token == NULL || out == NULL || v->secrets.n == 0)
		return TOKEND_ERR_USAGE;
	e = token_verify(v->format, &v->secrets, token, now, &info);
	if (e != TOKEN_OK)
		return (int)e;
	if ((out->payload = json_dumps(info.payload, JSON_COMPACT |
	    JSON_PRESERVE_ORDER)) == NULL) {
		token_info_clear(&info);
		return TOKEND_ERR_INTERNAL;
	}
	out->format = (enum tokend_format)info.format;
	out->uid = info.uid;
	out->expires = info.expires;
	out->issued_at = info.issued;
	out->node = info.node;
	out->salt = info.salt;
	out->secret_index = (unsigned)info.secret;
	memcpy(out->key, info.key, sizeof(out->key));
	/* node and salt point into it: it lives as long as *out. */
	out->internal = info.payload;
	OPENSSL_cleanse(info.key, sizeof(info.key));
	return TOKEND_OK;
}

API void
tokend_token_clear(struct tokend_token *t)
{
	if (t == NULL)
		return;
	json_decref(t->internal);
	free(t->payload);
	OPENSSL_cleanse(t->key, sizeof(t->key));
	memset(t, 0, sizeof(*t));
	t->issued_at = -1;
}

API const char *
tokend_strerror(int status)
{
	if (status == TOKEND_ERR_USAGE)
		return "no secret to check with, or a NULL argument";
	return token_strerror((enum token_err)status);
}

API const char *
tokend_format_name(enum tokend_format f)
{
	return token_format_name((enum token_format)f);
}

API int
tokend_fernet_key(const void *secret, size_t len,
    char out[TOKEND_FERNET_KEY_LEN + 1])
{
	struct secrets	s;
	struct secret	part;

	memset(&s, 0, sizeof(s));
	part.bytes = (uint8_t *)(uintptr_t)secret;
	part.len = len;
	if (secret == NULL || len < SECRET_MIN_BYTES ||
	    len > SECRET_MAX_BYTES) {
		errno = EINVAL;
		return -1;
	}
	if (secrets_build(&s, &part, 1) == -1)
		return -1;
	fernet_key_b64(out, &s.keys[0]);
	secrets_free(&s);
	return 0;
}
