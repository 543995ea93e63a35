/*
 * fxa.c - verifies Firefox Accounts OAuth access tokens for an [issuer] of
 * type fxa-oauth, as Mozilla's tokenserver does (syncstorage-rs,
 * tokenserver-auth/src/oauth): the token a client sends as
 * "Authorization: Bearer" names a Firefox Account, and the token server
 * trusts FxA to say whose it is and what it may do.
 *
 * Two ways, as Mozilla's:
 *
 *   - a JWT access token (a compact JWS whose "iss" is the issuer's) is
 *     verified here when the issuer has keys (jws.c: signature, exp, the
 *     audience if one is set), its header must say typ at+jwt (RFC 9068),
 *     and its "sub" is the user, "scope" the scopes and "fxa-generation"
 *     the key generation.  A signature that does not verify, an expired
 *     token or another typ is refused (401): FxA's keys are authoritative
 *     and asking FxA would only tell an attacker's guesses apart more
 *     slowly.  A token whose key we lack (FxA rotated; the set is fetched
 *     and waited for as for any issuer, keys.c) or whose claims are not of
 *     the shape we read goes to FxA, as Mozilla's verifier does;
 *   - any other token is POSTed as {"token": "..."} to verify_url (FxA's
 *     /v1/verify), whose JSON answer has "user", "scope" (an array) and
 *     "generation".
 *
 * What is the client's fault and what is FxA's is kept apart, because the
 * client acts on it: a refused token (FxA's 4xx, an answer without a valid
 * user or without the scope) is 401 and the client asks the user to sign
 * in again; a verifier that cannot answer (refused connection, timeout,
 * 5xx, 429, an answer that is not JSON or is too large) is 503 with
 * Retry-After, and the client retries later without bothering the user.
 * Mozilla answers 401 to both, which signs users out during an FxA
 * outage.
 *
 * The remote call happens inside the job: a worker waits for it, at most
 * the issuer's timeout (config.c counts it in the longest job, which the
 * hung-worker limit and request_timeout must exceed).  Each worker has
 * one libcurl easy handle, kept between calls so that its connection to
 * FxA (and TLS session) is reused; made in fxa_start, before the worker
 * confines itself, with libcurl's global state.  No redirects (the
 * operator trusted this URL, not where it points), certificate and host
 * verified, answers bounded.  An outage is logged once when it starts and
 * once when it ends, not once per request.
 */
#include "identity/fxa.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "core/clock.h"
#include "core/log.h"
#include "identity/issuer.h"
#include "identity/jose.h"
#include "identity/jws.h"
#include "identity/keys.h"

/* The longest token sent to verify_url: FxA's are 64 hex digits, its JWT
 * access tokens about a kilobyte. */
#define FXA_TOKEN_MAX	JWS_MAX_BYTES
/* JSON text of {"token": ...}: each byte may become \u00XX. */
#define FXA_REQUEST_MAX	(FXA_TOKEN_MAX * 6 + 32)

/* The worker's one client, its answer buffer, and whether FxA is down. */
static struct {
	CURL			*curl;
	struct curl_slist	*headers;
	int			 global;	/* curl_global_init done */
	char			 body[FXA_ANSWER_MAX];
	size_t			 len;
	int			 too_big;
	char			 cerr[CURL_ERROR_SIZE];
	int			 down;		/* last call was an outage */
	/* the worker's issuers, as keys.c knows them (fxa_start's) */
	const struct issuer	*issuers;
	size_t			 nissuers;
} client;

int
fxa_user_ok(const char *user, size_t len)
{
	size_t	i;

	if (len == 0 || len > FXA_USER_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)user[i]) && user[i] != '-' &&
		    user[i] != '_')
			return 0;
	return 1;
}

static enum fxa_status
status(enum fxa_status st, const char **why, const char *sentence)
{
	*why = sentence;
	return st;
}

/* A JSON "generation" or "fxa-generation": absent or null is 0 (none),
 * an integer >= 0 is itself; -1 for anything else. */
static int
read_generation(json_t *v, int64_t *out)
{
	if (v == NULL || json_is_null(v)) {
		*out = 0;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = json_integer_value(v);
	return 0;
}

/* Whether the space- or comma-separated list s holds want. */
static int
list_has(const char *s, size_t len, const char *want)
{
	size_t	wl = strlen(want), i = 0, j;

	while (i < len) {
		for (j = i; j < len && s[j] != ' ' && s[j] != ','; j++)
			;
		if (j - i == wl && memcmp(s + i, want, wl) == 0)
			return 1;
		i = j + 1;
	}
	return 0;
}

/*
 * Whether scopes holds want: a JSON array of strings (verify_url's
 * answer; strings only), or for a JWT also a string of scopes separated by
 * spaces (RFC 9068) or commas (as Mozilla joins them).  -1: of another
 * type.
 */
static int
scope_has(json_t *scopes, const char *want, int string_ok)
{
	json_t	*v;
	size_t	 i;
	int	 found = 0;

	if (string_ok && json_is_string(scopes))
		return list_has(json_string_value(scopes),
		    json_string_length(scopes), want);
	if (!json_is_array(scopes))
		return -1;
	json_array_foreach(scopes, i, v) {
		if (!json_is_string(v))
			return -1;
		if (jose_str_eq(v, want))
			found = 1;
	}
	return found;
}

/* The user of a verified answer or token into out; -1 if not acceptable. */
static int
copy_user(json_t *v, struct fxa_identity *out)
{
	size_t	len;

	if (!json_is_string(v))
		return -1;
	len = json_string_length(v);
	if (!fxa_user_ok(json_string_value(v), len))
		return -1;
	memcpy(out->user, json_string_value(v), len);
	out->user[len] = '\0';
	return 0;
}

/* A status that says the verifier cannot answer now, not that the token
 * is bad: its errors, throttling, a timeout, and an endpoint that is not
 * there (verify_url is wrong: the operator's fault, not the user's). */
static int
outage_status(long st)
{
	return st < 200 || (st >= 300 && st < 400) || st >= 500 ||
	    st == 404 || st == 405 || st == 408 || st == 429;
}

enum fxa_status
fxa_parse_answer(long st, const char *body, size_t len, const char *scope,
    struct fxa_identity *out, const char **why)
{
	json_t		*a;
	json_error_t	 jerr;
	enum fxa_status	 rc;
	int		 has;

	memset(out, 0, sizeof(*out));
	if (outage_status(st))
		return status(FXA_UNAVAILABLE, why, "the Firefox Accounts "
		    "verifier cannot answer now");
	if (st >= 400)
		return status(FXA_INVALID, why, "Firefox Accounts refused the "
		    "token");
	if ((a = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL || !json_is_object(a)) {
		json_decref(a);
		return status(FXA_UNAVAILABLE, why, "the Firefox Accounts "
		    "verifier's answer is not a JSON object");
	}
	if (copy_user(json_object_get(a, "user"), out) == -1)
		rc = status(FXA_INVALID, why, "the Firefox Accounts verifier "
		    "named no valid user");
	else if ((has = scope_has(json_object_get(a, "scope"), scope,
	    0)) == -1)
		rc = status(FXA_INVALID, why, "the Firefox Accounts verifier "
		    "named no list of scopes");
	else if (!has)
		rc = status(FXA_INVALID, why, "the token does not hold the "
		    "required scope");
	else if (read_generation(json_object_get(a, "generation"),
	    &out->generation) == -1)
		rc = status(FXA_INVALID, why, "the Firefox Accounts verifier "
		    "named an invalid generation");
	else
		rc = status(FXA_OK, why, "ok");
	json_decref(a);
	if (rc != FXA_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ---- the remote call ---------------------------------------------------- */

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	size_t	len = size * n;

	if (len > sizeof(client.body) - client.len) {
		client.too_big = 1;
		return 0;		/* libcurl aborts the transfer */
	}
	memcpy(client.body + client.len, p, len);
	client.len += len;
	return len;
}

/* Logs the change when the verifier goes down or comes back. */
static void
note_health(const struct issuer *is, int down, const char *what)
{
	if (down && !client.down)
		log_warnx("issuer %s: verify_url %s: %s; requests get 503 until "
		    "it answers", is->name, is->verify_url, what);
	else if (!down && client.down)
		log_info("issuer %s: verify_url %s answers again", is->name,
		    is->verify_url);
	client.down = down;
}

/* {"token": token} as JSON text in buf; -1 if the token is no UTF-8. */
static int
request_body(const char *token, size_t len, char *buf, size_t size)
{
	json_t	*o;
	size_t	 n;

	if ((o = json_object()) == NULL ||
	    json_object_set_new(o, "token", json_stringn(token, len)) == -1) {
		json_decref(o);
		return -1;
	}
	n = json_dumpb(o, buf, size - 1, JSON_COMPACT);
	json_decref(o);
	if (n == 0 || n >= size)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* The per-call options: the issuer's URL and timeouts, this body. */
static int
set_call(const struct issuer *is, const char *req)
{
	long	 connect = is->timeout_ms / 2;

	return curl_easy_setopt(client.curl, CURLOPT_URL,
	    is->verify_url) == CURLE_OK &&
	    curl_easy_setopt(client.curl, CURLOPT_PROTOCOLS_STR,
	    strncmp(is->verify_url, "https:", 6) == 0 ? "https" : "http") ==
	    CURLE_OK &&
	    curl_easy_setopt(client.curl, CURLOPT_CONNECTTIMEOUT_MS,
	    connect < FXA_TIMEOUT_MIN_MS ? FXA_TIMEOUT_MIN_MS : connect) ==
	    CURLE_OK &&
	    curl_easy_setopt(client.curl, CURLOPT_TIMEOUT_MS,
	    (long)is->timeout_ms) == CURLE_OK &&
	    (is->verify_ca_file == NULL ||	/* NULL would mean no CA */
	    curl_easy_setopt(client.curl, CURLOPT_CAINFO,
	    is->verify_ca_file) == CURLE_OK) &&
	    curl_easy_setopt(client.curl, CURLOPT_POSTFIELDS, req) ==
	    CURLE_OK ? 0 : -1;
}

static enum fxa_status
remote_verify(const struct issuer *is, const char *token, size_t len,
    struct fxa_identity *out, const char **why)
{
	static char	 req[FXA_REQUEST_MAX];
	enum fxa_status	 rc;
	CURLcode	 cc;
	long		 st = 0;

	if (client.curl == NULL)
		return status(FXA_UNAVAILABLE, why, "the Firefox Accounts "
		    "verifier is not set up in this worker");
	if (request_body(token, len, req, sizeof(req)) == -1)
		return status(FXA_INVALID, why, "the token is not UTF-8 text");
	if (set_call(is, req) == -1) {
		note_health(is, 1, "cannot set up the request");
		return status(FXA_UNAVAILABLE, why, "the Firefox Accounts "
		    "verifier cannot be asked now");
	}
	client.len = 0;
	client.too_big = 0;
	client.cerr[0] = '\0';
	cc = curl_easy_perform(client.curl);
	if (cc == CURLE_OK)
		curl_easy_getinfo(client.curl, CURLINFO_RESPONSE_CODE, &st);
	if (cc != CURLE_OK) {
		note_health(is, 1, client.too_big ? "answer over 16 KiB" :
		    client.cerr[0] ? client.cerr : curl_easy_strerror(cc));
		return status(FXA_UNAVAILABLE, why, client.too_big ? "the "
		    "Firefox Accounts verifier's answer is too large" :
		    cc == CURLE_OPERATION_TIMEDOUT ? "the Firefox Accounts "
		    "verifier did not answer in time" : "the Firefox Accounts "
		    "verifier cannot be reached");
	}
	rc = fxa_parse_answer(st, client.body, client.len, is->scope, out, why);
	if (rc == FXA_UNAVAILABLE) {
		char	what[64];

		snprintf(what, sizeof(what), "answered %ld%s", st,
		    outage_status(st) ? "" : " with no JSON object");
		note_health(is, 1, what);
	} else
		note_health(is, 0, NULL);
	return rc;
}

/* ---- the JWT fast path -------------------------------------------------- */

/* typ "at+jwt" or "application/at+jwt", in any case (RFC 9068 2.1). */
static int
typ_ok(json_t *hdr)
{
	json_t		*t = json_object_get(hdr, "typ");
	const char	*s;

	if (!json_is_string(t))
		return 0;
	s = json_string_value(t);
	if (strncasecmp(s, "application/", 12) == 0)
		s += 12;
	return strcasecmp(s, "at+jwt") == 0 &&
	    strlen(json_string_value(t)) == json_string_length(t);
}

/* Codes after which Mozilla asks FxA: the key is not ours, or the token
 * is not of the shape we read (which FxA may still know). */
static int
ask_fxa_after(enum jose_err e)
{
	switch (e) {
	case JOSE_ERR_NO_KEYS:
	case JOSE_ERR_KID_UNKNOWN:
	case JOSE_ERR_KEYS_REFRESHING:
	case JOSE_ERR_NO_FITTING_KEY:
	case JOSE_ERR_KID_REQUIRED:
	case JOSE_ERR_HEADER:
	case JOSE_ERR_HEADER_NOT_OBJECT:
	case JOSE_ERR_PAYLOAD:
	case JOSE_ERR_PAYLOAD_NOT_OBJECT:
	case JOSE_ERR_SUB_MISSING:
		return 1;
	default:
		return 0;
	}
}

/* jwt_verify_one, with the wait for a key FxA may just have rotated. */
static enum jose_err
verify_jwt(const struct issuer *is, const char *token, size_t len,
    int64_t now, struct jwt_identity *id, json_t **hdr, json_t **claims)
{
	enum jose_err	e;

	e = jwt_verify_one(is, token, len, now, id, hdr, claims);
	if (e != JOSE_ERR_KID_UNKNOWN && e != JOSE_ERR_NO_KEYS &&
	    e != JOSE_ERR_NO_FITTING_KEY)
		return e;
	switch (keys_retry(client.issuers, client.nissuers, is, mono_ms())) {
	case KEYS_REPLACED:
		return jwt_verify_one(is, token, len, now, id, hdr, claims);
	case KEYS_PENDING:
		return JOSE_ERR_KEYS_REFRESHING;
	case KEYS_SAME:
		break;
	}
	return e;
}

/*
 * 1: *rc holds the answer; 0: ask verify_url.  The claims of a verified
 * token are FxA's word: only their shape may send us to FxA.
 */
static int
local_verify(const struct issuer *is, const char *token, size_t len,
    int64_t now, struct fxa_identity *out, const char **why,
    enum fxa_status *rc)
{
	struct jwt_identity	 id;
	json_t			*hdr, *claims;
	enum jose_err		 e;
	int			 has, ask_fxa = 0;

	e = verify_jwt(is, token, len, now, &id, &hdr, &claims);
	if (e != JOSE_OK) {
		if (ask_fxa_after(e))
			return 0;
		*rc = status(FXA_INVALID, why, jose_strerror(e));
		return 1;
	}
	has = scope_has(json_object_get(claims, "scope"), is->scope, 1);
	*rc = FXA_INVALID;
	if (!typ_ok(hdr))
		*why = "the token is not an access token (typ at+jwt)";
	else if (has == -1 || read_generation(json_object_get(claims,
	    "fxa-generation"), &out->generation) == -1)
		ask_fxa = 1;	/* not the shape we read: FxA's call */
	else if (!has)
		*why = "the token does not hold the required scope";
	else if (!fxa_user_ok(id.ident, strlen(id.ident)))
		*why = "the token's sub is no valid Firefox Accounts uid";
	else {
		memcpy(out->user, id.ident, strlen(id.ident) + 1);
		out->local = 1;
		*rc = status(FXA_OK, why, "ok");
	}
	json_decref(hdr);
	json_decref(claims);
	if (*rc != FXA_OK)
		memset(out, 0, sizeof(*out));
	return !ask_fxa;
}

/* Whether token[0..len) has the shape of a compact JWS: three non-empty
 * dot-separated parts of base64url characters. */
static int
looks_jws(const char *token, size_t len)
{
	size_t	i, dots = 0, part = 0;

	for (i = 0; i < len; i++) {
		if (token[i] == '.') {
			if (part == 0)
				return 0;
			dots++;
			part = 0;
		} else if (isalnum((unsigned char)token[i]) ||
		    token[i] == '-' || token[i] == '_')
			part++;
		else
			return 0;
	}
	return dots == 2 && part > 0;
}

static int
has_keys(const struct issuer *is)
{
	return is->jwks_file != NULL || is->jwks_url != NULL;
}

enum fxa_status
fxa_verify(const struct issuer *is, const char *token, size_t len,
    int64_t now, struct fxa_identity *out, const char **why)
{
	enum fxa_status	 rc;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len > FXA_TOKEN_MAX)
		return status(FXA_INVALID, why, len == 0 ? "the token is "
		    "empty" : "the token is too long");
	if (has_keys(is) && looks_jws(token, len) &&
	    local_verify(is, token, len, now, out, why, &rc))
		return rc;
	return remote_verify(is, token, len, out, why);
}

/* ---- routing ------------------------------------------------------------ */

/* The fxa-oauth issuer whose iss a JWS's (unverified) claims name. */
static const struct issuer *
by_iss(const struct issuer *issuers, size_t n, const char *token,
    size_t len)
{
	uint8_t			 dec[JWS_MAX_BYTES];
	struct jose_buf		 buf = { dec, sizeof(dec), 0 };
	struct jose_jws		 p;
	json_t			*claims = NULL, *iss;
	const struct issuer	*found = NULL;
	size_t			 i;

	if (len > JWS_MAX_BYTES || jose_split(&buf, token, len, &p) !=
	    JOSE_OK || jose_payload(&p, &claims) != JOSE_OK)
		return NULL;
	iss = json_object_get(claims, "iss");
	for (i = 0; i < n && found == NULL; i++)
		if (issuers[i].type == ISSUER_FXA_OAUTH &&
		    jose_str_eq(iss, issuers[i].iss))
			found = &issuers[i];
	json_decref(claims);
	return found;
}

const struct issuer *
fxa_route(const struct issuer *issuers, size_t n, const char *token,
    size_t len)
{
	const struct issuer	*first = NULL;
	size_t			 i;

	for (i = 0; i < n && first == NULL; i++)
		if (issuers[i].type == ISSUER_FXA_OAUTH)
			first = &issuers[i];
	if (first == NULL)
		return NULL;
	if (looks_jws(token, len))
		return by_iss(issuers, n, token, len);
	return first;
}

/* ---- a worker's client -------------------------------------------------- */

int
fxa_start(const struct issuer *issuers, size_t n)
{
	size_t	i;
	int	ok;

	for (i = 0; i < n; i++)
		if (issuers[i].type == ISSUER_FXA_OAUTH)
			break;
	if (i == n || client.curl != NULL)
		return 0;
	client.issuers = issuers;
	client.nissuers = n;
	/* Before any thread (keys.c's): the global set-up is not
	 * thread-safe.  Counted by libcurl: keys.c's own is separate. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		log_warnx("fxa: curl_global_init failed");
		return -1;
	}
	client.global = 1;
	if ((client.curl = curl_easy_init()) == NULL) {
		log_warnx("fxa: curl_easy_init failed");
		return -1;
	}
	client.headers = curl_slist_append(NULL,
	    "Content-Type: application/json");
	if (client.headers != NULL)
		client.headers = curl_slist_append(client.headers,
		    "Accept: application/json");
	ok = client.headers != NULL &&
	    curl_easy_setopt(client.curl, CURLOPT_HTTPHEADER,
	    client.headers) == CURLE_OK &&
	    curl_easy_setopt(client.curl, CURLOPT_FOLLOWLOCATION, 0L) ==
	    CURLE_OK &&
	    curl_easy_setopt(client.curl, CURLOPT_SSL_VERIFYPEER, 1L) ==
	    CURLE_OK &&
	    curl_easy_setopt(client.curl, CURLOPT_SSL_VERIFYHOST, 2L) ==
	    CURLE_OK &&
	    curl_easy_setopt(client.curl, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)FXA_ANSWER_MAX) == CURLE_OK &&
	    curl_easy_setopt(client.curl, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	    curl_easy_setopt(client.curl, CURLOPT_USERAGENT, "tokend") ==
	    CURLE_OK &&
	    curl_easy_setopt(client.curl, CURLOPT_WRITEFUNCTION, on_data) ==
	    CURLE_OK &&
	    curl_easy_setopt(client.curl, CURLOPT_ERRORBUFFER, client.cerr) ==
	    CURLE_OK;
	if (!ok) {
		log_warnx("fxa: cannot set up the HTTP client");
		return -1;
	}
	return 0;
}

void
fxa_stop(void)
{
	if (client.curl != NULL)
		curl_easy_cleanup(client.curl);
	client.curl = NULL;
	curl_slist_free_all(client.headers);
	client.headers = NULL;
	if (client.global)
		curl_global_cleanup();
	client.global = 0;
	client.down = 0;
	client.issuers = NULL;
	client.nissuers = 0;
}
