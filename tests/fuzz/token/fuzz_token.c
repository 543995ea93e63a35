/*
 * fuzz_token.c - libFuzzer harness of token verification: tokenlib
 * (src/tokens/tokenlib.c) and Fernet (src/tokens/fernet.c), through
 * token_verify (src/tokens/token.c), as tokenctl and libtokend-verify
 * call it.
 *
 * Tokens come back from clients, so they are outside bytes: any string
 * must be refused or accepted without a crash or a leak, in each format
 * and with the format sniffed.  And a token must be unforgeable: a token
 * that verifies, changed in any one byte (replaced, dropped or added),
 * never verifies.  The secret set is fixed (two secrets, as in a
 * rotation: the unit tests' KAT master is the older one), and so is the
 * clock, so every input gives one answer.  The seed corpus holds valid
 * tokens of both formats under both secrets (tests/fuzz/make-seeds).
 *
 * What a token carries is read only once its MAC holds, so random bytes
 * never get that far: an input that starts with a NUL is a payload,
 * signed here as a tokenlib token under the newest secret, to fuzz what a
 * secret's holder (a service, another tokenlib) may have put in it.
 *
 * Input: the token, as the C string a caller passes; or a NUL and the
 * payload to sign.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64.h"
#include "core/hkdf.h"
#include "tokens/secret.h"
#include "tokens/token.h"

#include "../fuzz.h"

#define NOW	1700000000	/* the unit tests' clock */

static const char	 alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Newest first: v[0] mints, both verify.  Set up once, never changed. */
static struct secrets	 secrets;

/* What a verified token must look like. */
static void
check_info(const struct token_info *info, enum token_format fmt)
{
	FUZZ_CHECK(info->format == fmt && fmt != TOKEN_FORMAT_ANY);
	FUZZ_CHECK(info->payload != NULL && info->node != NULL &&
	    info->salt != NULL);
	/* Whole seconds: a fraction (Python's tokenlib writes one) is cut. */
	FUZZ_CHECK(info->expires >= NOW);
	FUZZ_CHECK(info->secret < secrets.n);
	FUZZ_CHECK(strlen(info->key) == TOKEN_KEY_LEN);
	FUZZ_CHECK((info->issued != -1) == (fmt == TOKEN_FORMAT_FERNET));
}

/* Verifies token as fmt; on TOKEN_OK checks what it says.  0 or 1. */
static int
verifies(const char *token, enum token_format fmt)
{
	struct token_info	info;
	enum token_err		e;

	e = token_verify(fmt, &secrets, token, NOW, &info);
	FUZZ_CHECK((unsigned)e < TOKEN_NERR && e != TOKEN_ERR_INTERNAL);
	if (e != TOKEN_OK) {
		FUZZ_CHECK(info.payload == NULL);
		return 0;
	}
	check_info(&info, fmt == TOKEN_FORMAT_ANY ? info.format : fmt);
	token_info_clear(&info);
	return 1;
}

static int
verifies_any_way(const char *token)
{
	int	any = verifies(token, TOKEN_FORMAT_ANY);
	int	tl = verifies(token, TOKEN_FORMAT_TOKENLIB);
	int	fe = verifies(token, TOKEN_FORMAT_FERNET);

	/* Sniffing picks the one format that holds, if any. */
	FUZZ_CHECK(any == (tl || fe) && !(tl && fe));
	return any;
}

/* A character other than c, from the base64url alphabet when c is. */
static char
other_char(char c)
{
	const char	*p = c != '\0' ? strchr(alphabet, c) : NULL;

	if (p == NULL)
		return 'A';
	return p[1] != '\0' ? p[1] : alphabet[0];
}

/* token verifies: no one-byte change of it may. */
static void
check_unforgeable(const char *token)
{
	size_t	 len = strlen(token), i;
	char	*t;

	if ((t = malloc(len + 2)) == NULL)
		abort();
	for (i = 0; i <= len; i++) {
		if (i < len) {
			/* Replaced: by a neighbour in the alphabet, or '='. */
			memcpy(t, token, len + 1);
			t[i] = other_char(token[i]);
			FUZZ_CHECK(!verifies_any_way(t));
			t[i] = token[i] == '=' ? 'A' : '=';
			FUZZ_CHECK(!verifies_any_way(t));
			/* Dropped. */
			memcpy(t, token, i);
			memcpy(t + i, token + i + 1, len - i);
			FUZZ_CHECK(!verifies_any_way(t));
		}
		/* Added. */
		memcpy(t, token, i);
		t[i] = 'A';
		memcpy(t + i + 1, token + i, len - i + 1);
		FUZZ_CHECK(!verifies_any_way(t));
	}
	free(t);
}

/* payload || HMAC, base64url: the tokenlib token of payload; owned. */
static char *
sign_tokenlib(const uint8_t *payload, size_t len)
{
	uint8_t	*raw;
	char	*token;

	if ((raw = malloc(len + SHA256_LEN)) == NULL ||
	    (token = malloc(b64url_enclen(len + SHA256_LEN, B64_PAD) + 1)) ==
	    NULL)
		abort();
	memcpy(raw, payload, len);
	if (hmac_sha256(raw + len, secrets.keys[0].tokenlib_sig, SHA256_LEN,
	    raw, len) == -1)
		abort();
	b64url_encode(token, raw, len + SHA256_LEN, B64_PAD);
	free(raw);
	return token;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static uint8_t	newer[] = "fedcba9876543210fedcba9876543210";
	static uint8_t	older[] = "0123456789abcdef0123456789abcdef";
	struct secret	parts[2] = {
		{ newer, sizeof(newer) - 1 }, { older, sizeof(older) - 1 },
	};

	if (secrets_build(&secrets, parts, 2) == -1)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*token;

	if (size > 0 && data[0] == '\0') {
		/* Past TOKEN_MAX it is refused unread: not worth the time. */
		if (b64url_enclen(size - 1 + SHA256_LEN, B64_PAD) > TOKEN_MAX)
			return 0;
		/* The MAC is ours: only the payload's reading is at stake. */
		token = sign_tokenlib(data + 1, size - 1);
		verifies_any_way(token);
	} else {
		if ((token = malloc(size + 1)) == NULL)
			abort();
		memcpy(token, data, size);
		token[size] = '\0';
		if (verifies_any_way(token))
			check_unforgeable(token);
	}
	free(token);
	return 0;
}
