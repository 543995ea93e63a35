/*
 * test_verify.c - libtokend-verify (src/lib/), through its shared build.
 *
 * This binary links libtokend-verify.so for the public API and tokend's
 * internals (libtokend.a) only to mint tokens the way the workers do, so
 * it checks that what tokend mints, a service linked with the library
 * accepts, in both formats; that the docs' worked examples come out of the
 * library as documented; that tampering, a wrong secret and expiry are
 * refused each with its own reason; and that rotation works: a token made
 * with the new secret or the old one verifies while both are listed, and
 * the old one's tokens stop verifying once it is dropped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64.h"
#include "tokens/secret.h"
#include "tokens/token.h"
#include "tokend/verify.h"
#include "testutil.h"

#define MASTER		"0123456789abcdef0123456789abcdef"
#define OLD		"old-secret-0123456789abcdef0123456789abcdef"
#define NEW		"new-secret-fedcba9876543210fedcba9876543210"
#define NODE		"https://example.com/1.5/42"
#define NOW		1700000000
#define EXPIRES		1700001800

/* docs/tokens.md (see test_tokenlib.c and test_fernet.c for their making) */
#define DOC_TOKENLIB \
    "eyJ1aWQiOjQyLCJub2RlIjoiaHR0cHM6Ly9leGFtcGxlLmNvbS8xLjUvNDIiLCJleHBp" \
    "cmVzIjoxNzAwMDAxODAwLCJzYWx0IjoiYTFiMmMzIn187SSyrnPzpiWaSnmJyJgY6u5u" \
    "sz2IsvQNyHNsQnT-Hg=="
#define DOC_TOKENLIB_KEY "dSiRRdGSxEeHD8-pRhRRP27KxhdVt8lMYhMWdPH5O5M="
#define DOC_FERNET \
    "gAAAAABlU_EAAAECAwQFBgcICQoLDA0OD_2YOIao27Skh5CJykzTkN5wVYWaWdZSW5y04V" \
    "yeg2Nb2itigdeO_omAF0BVQdhjNwZ_7CnL41q04XcNR5QPGl5X-pCeqpq2LF-uDbByFPI9" \
    "kTA6nlJgw2nN_EnFqluNKrla4mKkY0Ox6YCpjTtPPNCP9iZI-jXspXAzX7p_PUJZ"
#define DOC_FERNET_KEY	"tyzpEy5r95xafLO9fgLlT_bfNIS6P0-XvySK21XLohs="
#define DOC_PAYLOAD \
    "{\"uid\":42,\"node\":\"" NODE "\",\"expires\":1700001800," \
    "\"salt\":\"a1b2c3\"}"

static const enum token_format formats[] = {
	TOKEN_FORMAT_TOKENLIB, TOKEN_FORMAT_FERNET
};

static char	dir[64];

static int
setup(void **state)
{
	return tu_tmpdir(dir, sizeof(dir), "verify") == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	return tu_rmtree(dir);
}

/* A secret set of the given secrets, newest first (as tokend loads one). */
static void
set_of(struct secrets *s, const char *a, const char *b)
{
	struct secret	parts[2] = {
		{ (uint8_t *)(uintptr_t)a, a ? strlen(a) : 0 },
		{ (uint8_t *)(uintptr_t)b, b ? strlen(b) : 0 },
	};

	memset(s, 0, sizeof(*s));
	assert_int_equal(secrets_build(s, parts, b ? 2 : 1), 0);
}

/* Mints as a worker does: token.c, the set's newest secret. */
static void
mint(enum token_format f, const char *secret, int64_t now, char *token,
    char *key)
{
	const struct token_claims c = { .uid = 42,
	    .node = NODE, .expires = now + 1800 };
	struct secrets	s;

	set_of(&s, secret, NULL);
	assert_int_equal(token_mint(f, &s, &c, now, token, key), 0);
	secrets_free(&s);
}

/* A verifier of up to two secrets, newest first. */
static struct tokend_verifier *
verifier(const char *a, const char *b)
{
	struct tokend_verifier	*v;

	assert_non_null(v = tokend_verifier_new());
	assert_int_equal(tokend_verifier_add_secret(v, a, strlen(a)), 0);
	if (b != NULL)
		assert_int_equal(tokend_verifier_add_secret(v, b, strlen(b)),
		    0);
	return v;
}

static void
test_round_trip_both_formats(void **state)
{
	struct tokend_verifier	*v = verifier(MASTER, NULL);
	struct tokend_token	 t;
	char			 token[TOKEN_MAX + 1], key[TOKEN_KEY_LEN + 1];
	char			 want[256];
	size_t			 i;

	for (i = 0; i < 2; i++) {
		mint(formats[i], MASTER, NOW, token, key);
		assert_int_equal(tokend_verify(v, token, NOW + 1, &t),
		    TOKEND_OK);
		assert_int_equal(t.format, (int)formats[i]);
		assert_int_equal(t.uid, 42);
		assert_string_equal(t.node, NODE);
		assert_int_equal(t.expires, NOW + 1800);
		assert_int_equal(t.issued_at, formats[i] ==
		    TOKEN_FORMAT_FERNET ? NOW : -1);
		assert_int_equal(t.secret_index, 0);
		assert_string_equal(t.key, key);
		assert_int_equal(strlen(t.salt), 6);
		snprintf(want, sizeof(want), "{\"uid\":42,\"node\":\"" NODE
		    "\",\"expires\":%d,\"salt\":\"%s\"}", NOW + 1800, t.salt);
		assert_string_equal(t.payload, want);
		tokend_token_clear(&t);
		assert_null(t.payload);
		tokend_token_clear(&t);		/* twice is harmless */
	}
	tokend_verifier_free(v);
}

static void
test_worked_examples(void **state)
{
	struct tokend_verifier	*v = verifier(MASTER, NULL);
	struct tokend_token	 t;
	char			 fkey[TOKEND_FERNET_KEY_LEN + 1];

	assert_int_equal(tokend_verify(v, DOC_TOKENLIB, NOW, &t), TOKEND_OK);
	assert_int_equal(t.format, TOKEND_FORMAT_TOKENLIB);
	assert_string_equal(t.payload, DOC_PAYLOAD);
	assert_string_equal(t.key, DOC_TOKENLIB_KEY);
	tokend_token_clear(&t);
	assert_int_equal(tokend_verify(v, DOC_FERNET, NOW, &t), TOKEND_OK);
	assert_int_equal(t.format, TOKEND_FORMAT_FERNET);
	assert_int_equal(t.issued_at, NOW);
	assert_string_equal(t.payload, DOC_PAYLOAD);
	assert_string_equal(t.key, DOC_FERNET_KEY);
	tokend_token_clear(&t);
	assert_int_equal(tokend_fernet_key(MASTER, strlen(MASTER), fkey), 0);
	assert_string_equal(fkey, "oIEN1nAg5w2lwLv21cS1PNrMcJ5EmO3-tpY2PUzOEo0=");
	tokend_verifier_free(v);
}

/*
 * Tampering, a wrong secret and expiry: each refused, for its reason.
 * Every bit of every decoded byte is flipped in turn: never accepted, never
 * mistaken for expiry.  (A MAC cannot tell a forged token from one signed
 * with a secret we do not hold: both are SIGNATURE.  A Fernet token whose
 * version byte is changed no longer looks like Fernet, so a verifier of
 * either format tries it as tokenlib and finds no signature either; one
 * set to Fernet says MALFORMED.)
 */
static void
test_rejections_distinct(void **state)
{
	struct tokend_verifier	*v = verifier(MASTER, NULL);
	struct tokend_verifier	*wrong = verifier(OLD, NULL);
	struct tokend_verifier	*fernet = verifier(MASTER, NULL);
	struct tokend_token	 t;
	const char		*docs[2] = { DOC_TOKENLIB, DOC_FERNET };
	uint8_t			 raw[TOKEN_MAX];
	char			 tok[TOKEN_MAX + 1];
	size_t			 len, i, k;
	int			 bit, rc, r_tamper, r_wrong, r_expired;

	assert_int_equal(tokend_verifier_set_format(fernet,
	    TOKEND_FORMAT_FERNET), 0);
	for (k = 0; k < 2; k++) {
		assert_int_equal(b64url_decode(raw, &len, docs[k],
		    strlen(docs[k]), B64_PAD), 0);
		for (i = 0; i < len; i++)
			for (bit = 0; bit < 8; bit++) {
				raw[i] ^= (uint8_t)(1u << bit);
				b64url_encode(tok, raw, len, B64_PAD);
				rc = tokend_verify(v, tok, NOW, &t);
				if (k == 1 && i == 0)
					assert_int_equal(tokend_verify(fernet,
					    tok, NOW, &t),
					    TOKEND_ERR_MALFORMED);
				if (rc != TOKEND_ERR_SIGNATURE)
					fail_msg("format %zu byte %zu bit %d: "
					    "%s", k, i, bit,
					    tokend_strerror(rc));
				assert_null(t.payload);
				raw[i] ^= (uint8_t)(1u << bit);
			}
		/* One character changed in the text, too. */
		snprintf(tok, sizeof(tok), "%s", docs[k]);
		tok[40] = tok[40] == 'A' ? 'B' : 'A';
		r_tamper = tokend_verify(v, tok, NOW, &t);
		r_wrong = tokend_verify(wrong, docs[k], NOW, &t);
		r_expired = tokend_verify(v, docs[k], EXPIRES, &t);
		assert_int_equal(r_tamper, TOKEND_ERR_SIGNATURE);
		assert_int_equal(r_wrong, TOKEND_ERR_SIGNATURE);
		assert_int_equal(r_expired, TOKEND_ERR_EXPIRED);
		assert_int_equal(tokend_verify(v, "%%%%", NOW, &t),
		    TOKEND_ERR_MALFORMED);
	}
	tokend_verifier_free(v);
	tokend_verifier_free(wrong);
	tokend_verifier_free(fernet);
}

/*
 * Rotation: mint with the new secret, verify with new+old; tokens of the
 * old secret keep verifying until it is dropped, then are refused.
 */
static void
test_rotation(void **state)
{
	struct tokend_verifier	*both, *old_only, *new_only;
	struct tokend_token	 t;
	struct secrets		 s;
	const struct token_claims c = { .uid = 42,
	    .node = NODE, .expires = NOW + 1800 };
	char			 by_old[TOKEN_MAX + 1], by_new[TOKEN_MAX + 1];
	char			 key[TOKEN_KEY_LEN + 1];
	size_t			 i;

	for (i = 0; i < 2; i++) {
		mint(formats[i], OLD, NOW, by_old, key);
		/* After "add a new secret at the top, reload": */
		set_of(&s, NEW, OLD);
		assert_int_equal(token_mint(formats[i], &s, &c, NOW, by_new,
		    key), 0);
		secrets_free(&s);
		both = verifier(NEW, OLD);
		old_only = verifier(OLD, NULL);
		new_only = verifier(NEW, NULL);
		assert_int_equal(tokend_verify(both, by_new, NOW, &t),
		    TOKEND_OK);
		assert_int_equal(t.secret_index, 0);
		assert_string_equal(t.key, key);
		tokend_token_clear(&t);
		assert_int_equal(tokend_verify(both, by_old, NOW, &t),
		    TOKEND_OK);
		assert_int_equal(t.secret_index, 1);
		tokend_token_clear(&t);
		/* The new secret mints: the old one alone cannot check it. */
		assert_int_equal(tokend_verify(old_only, by_new, NOW, &t),
		    TOKEND_ERR_SIGNATURE);
		/* "Later remove the old one": its tokens are refused. */
		assert_int_equal(tokend_verify(new_only, by_old, NOW, &t),
		    TOKEND_ERR_SIGNATURE);
		tokend_verifier_free(both);
		tokend_verifier_free(old_only);
		tokend_verifier_free(new_only);
	}
}

/* The same rotation through secret files, as a service deploys it. */
static void
test_rotation_files(void **state)
{
	struct tokend_verifier	*v;
	struct tokend_token	 t;
	const char		*path;
	char			 err[512];
	char			 by_old[TOKEN_MAX + 1], key[TOKEN_KEY_LEN + 1];

	mint(TOKEN_FORMAT_FERNET, OLD, NOW, by_old, key);
	path = tu_write_file(dir, "svc.secret",
	    "# newest first\n" NEW "\n\n" OLD "\n", 0600);
	assert_non_null(v = tokend_verifier_new());
	assert_int_equal(tokend_verifier_load_file(v, path, err, sizeof(err)),
	    0);
	assert_int_equal(tokend_verifier_count(v), 2);
	assert_int_equal(tokend_verify(v, by_old, NOW, &t), TOKEND_OK);
	assert_int_equal(t.secret_index, 1);
	assert_string_equal(t.key, key);
	tokend_token_clear(&t);
	tokend_verifier_free(v);

	path = tu_write_file(dir, "svc.secret", NEW "\n", 0600);
	assert_non_null(v = tokend_verifier_new());
	assert_int_equal(tokend_verifier_load_file(v, path, err, sizeof(err)),
	    0);
	assert_int_equal(tokend_verify(v, by_old, NOW, &t),
	    TOKEND_ERR_SIGNATURE);
	tokend_verifier_free(v);
}

/* Bad files are refused with the file and line, never the secret. */
static void
test_load_file_errors(void **state)
{
	struct tokend_verifier	*v;
	const char		*path;
	char			 err[512];

	assert_non_null(v = tokend_verifier_new());
	path = tu_write_file(dir, "loose.secret", NEW "\n", 0644);
	assert_int_equal(tokend_verifier_load_file(v, path, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "loose.secret"));
	assert_non_null(strstr(err, "chmod 600"));
	path = tu_write_file(dir, "short.secret", NEW "\nshort-secret-xyz\n",
	    0600);
	assert_int_equal(tokend_verifier_load_file(v, path, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "line 2: secret is 16 bytes"));
	assert_null(strstr(err, "short-secret-xyz"));
	assert_null(strstr(err, NEW));
	path = tu_write_file(dir, "empty.secret", "# nothing\n\n", 0600);
	assert_int_equal(tokend_verifier_load_file(v, path, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "holds no secret"));
	path = tu_path(dir, "missing.secret");
	assert_int_equal(tokend_verifier_load_file(v, path, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "No such file"));
	/* Nothing was half-added. */
	assert_int_equal(tokend_verifier_count(v), 0);
	tokend_verifier_free(v);
}

static void
test_usage_errors(void **state)
{
	struct tokend_verifier	*v;
	struct tokend_token	 t;
	char			 many[48];
	int			 i;

	assert_non_null(v = tokend_verifier_new());
	assert_int_equal(tokend_verify(v, DOC_FERNET, NOW, &t),
	    TOKEND_ERR_USAGE);
	assert_int_equal(tokend_verify(NULL, DOC_FERNET, NOW, &t),
	    TOKEND_ERR_USAGE);
	assert_int_equal(tokend_verify(v, NULL, NOW, &t), TOKEND_ERR_USAGE);
	assert_int_equal(tokend_verify(v, DOC_FERNET, NOW, NULL),
	    TOKEND_ERR_USAGE);
	errno = 0;
	assert_int_equal(tokend_verifier_add_secret(v, "too short", 9), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(tokend_verifier_add_secret(v, NULL, 40), -1);
	for (i = 0; i < 16; i++) {
		snprintf(many, sizeof(many), "secret-%02d-%s", i % 100,
		    "0123456789abcdef0123456789");
		assert_int_equal(tokend_verifier_add_secret(v, many,
		    strlen(many)), 0);
	}
	assert_int_equal(tokend_verifier_add_secret(v, many, strlen(many)), -1);
	assert_int_equal(tokend_verifier_count(v), 16);
	assert_int_equal(tokend_verifier_set_format(v, 9), -1);
	tokend_verifier_free(v);
	tokend_verifier_free(NULL);
	tokend_token_clear(NULL);
	assert_string_equal(tokend_verify_version(), TOKEND_VERIFY_VERSION);
}

/*
 * A verifier restricted to one format refuses the other: Fernet's layout
 * is recognisable (MALFORMED); tokenlib's is any bytes then a MAC, so a
 * Fernet token read as tokenlib fails its signature.
 */
static void
test_format_restriction(void **state)
{
	struct tokend_verifier	*v = verifier(MASTER, NULL);
	struct tokend_token	 t;

	assert_int_equal(tokend_verifier_set_format(v, TOKEND_FORMAT_FERNET),
	    0);
	assert_int_equal(tokend_verify(v, DOC_TOKENLIB, NOW, &t),
	    TOKEND_ERR_MALFORMED);
	assert_int_equal(tokend_verify(v, DOC_FERNET, NOW, &t), TOKEND_OK);
	tokend_token_clear(&t);
	assert_int_equal(tokend_verifier_set_format(v,
	    TOKEND_FORMAT_TOKENLIB), 0);
	assert_int_equal(tokend_verify(v, DOC_FERNET, NOW, &t),
	    TOKEND_ERR_SIGNATURE);
	assert_int_equal(tokend_verify(v, DOC_TOKENLIB, NOW, &t), TOKEND_OK);
	tokend_token_clear(&t);
	assert_string_equal(tokend_format_name(TOKEND_FORMAT_FERNET),
	    "fernet");
	tokend_verifier_free(v);
}

static void
test_strerror_distinct(void **state)
{
	const char	*s[TOKEND_ERR_USAGE + 1];
	int		 i, j;

	for (i = 0; i <= TOKEND_ERR_USAGE; i++) {
		s[i] = tokend_strerror(i);
		assert_string_not_equal(s[i], "unknown error");
		for (j = 0; j < i; j++)
			assert_string_not_equal(s[i], s[j]);
	}
	assert_string_equal(tokend_strerror(TOKEND_ERR_USAGE + 1),
	    "unknown error");
}

/* One verifier, several threads at once (per-thread cipher contexts). */
static void *
verify_many(void *arg)
{
	const struct tokend_verifier	*v = arg;
	struct tokend_token		 t;
	int				 i;

	for (i = 0; i < 200; i++) {
		if (tokend_verify(v, i % 2 ? DOC_FERNET : DOC_TOKENLIB, NOW,
		    &t) != TOKEND_OK ||
		    strcmp(t.key, i % 2 ? DOC_FERNET_KEY :
		    DOC_TOKENLIB_KEY) != 0)
			return (void *)1;
		tokend_token_clear(&t);
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct tokend_verifier	*v = verifier(OLD, MASTER);
	pthread_t		 th[4];
	void			*rv;
	int			 i;

	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, verify_many, v),
		    0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], &rv), 0);
		assert_null(rv);
	}
	tokend_verifier_free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_both_formats),
		cmocka_unit_test(test_worked_examples),
		cmocka_unit_test(test_rejections_distinct),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_rotation_files),
		cmocka_unit_test(test_load_file_errors),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_format_restriction),
		cmocka_unit_test(test_strerror_distinct),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
