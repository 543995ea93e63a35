/*
 * fuzz_jwks.c - libFuzzer harness of JWKS parsing (src/identity/jwks.c).
 *
 * A key set may come from an issuer's URL (keys.c fetches jwks_url), so
 * it is outside bytes, parsed in a worker that holds every secret.  Any
 * text must give a set or a reason, never a crash or a leak, and a set
 * that comes back must be what jwks.h promises: valid JSON (jansson, with
 * duplicate members refused, agrees), 1 to JWKS_MAX_KEYS keys, each with
 * an EVP_PKEY of its key type and distinct kids.
 *
 * Input: the JWKS text.
 */
#include <stdint.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "identity/jwks.h"

#include "../fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	json_object_seed(1);
	return 0;
}

/* The OpenSSL key type each JWK key type must have become. */
static int
pkey_type(enum jwk_kty kty)
{
	switch (kty) {
	case JWK_KTY_RSA:
		return EVP_PKEY_RSA;
	case JWK_KTY_EC_P256:
	case JWK_KTY_EC_P384:
	case JWK_KTY_EC_P521:
		return EVP_PKEY_EC;
	case JWK_KTY_ED25519:
		return EVP_PKEY_ED25519;
	}
	return EVP_PKEY_NONE;
}

static void
check_set(const struct jwks *set, const char *text, size_t len)
{
	json_t	*root;
	size_t	 i, j;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	FUZZ_CHECK(json_is_object(root));
	json_decref(root);
	FUZZ_CHECK(set->nkeys >= 1 && set->nkeys <= JWKS_MAX_KEYS);
	for (i = 0; i < set->nkeys; i++) {
		FUZZ_CHECK(set->keys[i].pkey != NULL);
		FUZZ_CHECK(EVP_PKEY_get_base_id(set->keys[i].pkey) ==
		    pkey_type(set->keys[i].kty));
		for (j = 0; j < i && set->keys[i].kid != NULL; j++)
			FUZZ_CHECK(set->keys[j].kid == NULL ||
			    strcmp(set->keys[j].kid, set->keys[i].kid) != 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jwks	*set;
	char		 err[512];

	err[0] = '\0';
	set = jwks_parse((const char *)data, size, err, sizeof(err));
	if (set == NULL) {
		FUZZ_CHECK(err[0] != '\0');
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		return 0;
	}
	check_set(set, (const char *)data, size);
	jwks_free(set);
	return 0;
}
