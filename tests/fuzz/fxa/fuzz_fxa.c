/*
 * fuzz_fxa.c - libFuzzer harness of the Firefox Accounts verifier's
 * reading of outside bytes (src/identity/fxa.c): verify_url's answer
 * (fxa_parse_answer), and the routing of a Bearer token (fxa_route).
 *
 * The answer decides whose token it is, so besides "no crash, no leak"
 * the harness checks what fxa.h promises: an outage status is always
 * FXA_UNAVAILABLE and another 4xx always FXA_INVALID, whatever the body;
 * FXA_OK only for a 2xx whose body jansson reads as one object whose
 * "user" is that user exactly (1..FXA_USER_MAX of [0-9A-Za-z_-]), whose
 * "scope" array holds the required scope and whose generation is >= 0;
 * a refusal leaves no identity; a reason is always given.  A token is
 * routed to the fxa-oauth issuer or to none, never elsewhere.
 *
 * Input: two bytes of status (100 + n % 500), then the body.  A first
 * byte 0xff instead makes the rest a Bearer token for fxa_route.
 */
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "identity/fxa.h"
#include "identity/issuer.h"

#include "../fuzz.h"

#define SCOPE	"https://identity.mozilla.com/apps/oldsync"

static struct issuer	issuers[2];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	json_object_seed(1);
	issuers[0].name = "idp";
	issuers[0].type = ISSUER_JWT;
	issuers[0].iss = "https://idp.example.com";
	issuers[1].name = "fxa";
	issuers[1].type = ISSUER_FXA_OAUTH;
	issuers[1].iss = "https://accounts.firefox.com";
	issuers[1].scope = SCOPE;
	return 0;
}

static int
is_outage(long st)
{
	return st < 200 || (st >= 300 && st < 400) || st >= 500 ||
	    st == 404 || st == 405 || st == 408 || st == 429;
}

/* What an accepted answer must be, read again by jansson. */
static void
check_ok(const char *body, size_t len, const struct fxa_identity *id)
{
	json_t	*a, *scope, *v;
	size_t	 i, n = strlen(id->user);
	int	 found = 0;

	a = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	FUZZ_CHECK(json_is_object(a));
	FUZZ_CHECK(fxa_user_ok(id->user, n));
	v = json_object_get(a, "user");
	FUZZ_CHECK(json_is_string(v) && json_string_length(v) == n &&
	    memcmp(json_string_value(v), id->user, n) == 0);
	scope = json_object_get(a, "scope");
	FUZZ_CHECK(json_is_array(scope));
	json_array_foreach(scope, i, v) {
		FUZZ_CHECK(json_is_string(v));
		if (strcmp(json_string_value(v), SCOPE) == 0 &&
		    json_string_length(v) == strlen(SCOPE))
			found = 1;
	}
	FUZZ_CHECK(found);
	v = json_object_get(a, "generation");
	FUZZ_CHECK(id->generation >= 0);
	FUZZ_CHECK(v == NULL || json_is_null(v) ||
	    (json_is_integer(v) && json_integer_value(v) == id->generation));
	json_decref(a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fxa_identity	 id;
	const struct issuer	*to;
	const char		*why = NULL, *body;
	enum fxa_status		 st;
	long			 status;
	size_t			 len;

	if (size >= 1 && data[0] == 0xff) {
		to = fxa_route(issuers, 2, (const char *)data + 1, size - 1);
		FUZZ_CHECK(to == NULL || to == &issuers[1]);
		FUZZ_CHECK(fxa_route(issuers, 1, (const char *)data + 1,
		    size - 1) == NULL);
		return 0;
	}
	if (size < 2)
		return 0;
	status = 100 + ((long)data[0] << 8 | data[1]) % 500;
	body = (const char *)data + 2;
	len = size - 2;
	memset(&id, 0x5a, sizeof(id));
	st = fxa_parse_answer(status, body, len, SCOPE, &id, &why);
	FUZZ_CHECK(why != NULL && why[0] != '\0');
	if (is_outage(status))
		FUZZ_CHECK(st == FXA_UNAVAILABLE);
	else if (status >= 400)
		FUZZ_CHECK(st == FXA_INVALID);
	if (st == FXA_OK)
		check_ok(body, len, &id);
	else
		FUZZ_CHECK(id.user[0] == '\0' && id.generation == 0);
	return 0;
}
