/*
 * fxa.h - the Firefox Accounts OAuth verifier: an [issuer] of type
 * fxa-oauth, whose users present "Authorization: Bearer <FxA access
 * token>", as Mozilla's tokenserver takes them.
 *
 * A token is verified one of two ways.  A JWT access token (a compact JWS
 * whose "iss" is the issuer's, when the issuer has keys: jwks_file or
 * jwks_url) is verified locally, and its "scope" and "fxa-generation"
 * claims read.  Any other token (FxA's opaque tokens, or a JWS the issuer
 * has no key for) is POSTed as {"token": ...} to the issuer's verify_url,
 * FxA's /v1/verify, whose answer names the user, the scopes and the key
 * generation.  Either way the required scope must be among the token's.
 *
 * The answer is one of three: the user (FXA_OK), a refusal of the
 * credential (FXA_INVALID: the client's fault, 401), or the verifier
 * cannot say now (FXA_UNAVAILABLE: FxA down, slow, or answering what is no
 * answer; 503 with Retry-After, never a hang: the call is bounded by the
 * issuer's timeout).
 *
 * Only a worker calls these, from its main thread: each worker has one
 * HTTP client (a libcurl easy handle, kept for its connections), made by
 * fxa_start before the worker confines itself.
 */
#ifndef TOKEND_FXA_H
#define TOKEND_FXA_H

#include <stddef.h>
#include <stdint.h>

struct issuer;

/*
 * The longest FxA uid accepted.  FxA's are 32 lowercase hex digits; the
 * accepted set is wider (fxa_user_ok) so that test verifiers' users work,
 * and bounded, since the user becomes part of an email and a database key.
 */
#define FXA_USER_MAX		64
/* The largest answer read from verify_url; a larger one is an outage. */
#define FXA_ANSWER_MAX		16384
/* Bounds of an issuer's timeout (milliseconds, the whole remote call). */
#define FXA_TIMEOUT_MIN_MS	100
#define FXA_TIMEOUT_MAX_MS	60000
#define FXA_TIMEOUT_DEFAULT	"1500"
#define FXA_SCOPE_DEFAULT	"https://identity.mozilla.com/apps/oldsync"

struct fxa_identity {
	char		 user[FXA_USER_MAX + 1];	/* the FxA uid */
	int64_t		 generation;	/* key generation; 0: absent */
	int		 local;		/* 1: verified here (a JWT), 0: remotely */
};

enum fxa_status {
	FXA_OK,
	FXA_INVALID,		/* 401 invalid-credentials */
	FXA_UNAVAILABLE,	/* 503: verifier down, slow, or garbage */
};

/*
 * Verifies token[0..len) for the fxa-oauth issuer is at time now (unix
 * seconds).  FXA_OK fills *out.  Otherwise *why is a fixed sentence for
 * the client (never NULL, never freed; it names no secret and repeats
 * nothing of the verifier's answer).
 */
enum fxa_status	 fxa_verify(const struct issuer *is, const char *token,
		    size_t len, int64_t now, struct fxa_identity *out,
		    const char **why);

/*
 * The fxa-oauth issuer a Bearer token goes to, or NULL for the JWT
 * verifiers: a compact JWS whose "iss" is an fxa-oauth issuer's goes to
 * that one; a token that is no JWS goes to the one fxa-oauth issuer if
 * there is one (a config may have at most one that answers opaque
 * tokens: the first).  Reads only the token's shape and "iss", never
 * trusts it.
 */
const struct issuer *fxa_route(const struct issuer *issuers, size_t n,
		    const char *token, size_t len);

/*
 * What verify_url's answer (status, body[0..len)) says, for the required
 * scope: the parsing step of fxa_verify, exposed for unit tests.
 */
enum fxa_status	 fxa_parse_answer(long status, const char *body, size_t len,
		    const char *scope, struct fxa_identity *out,
		    const char **why);

/* Whether user[0..len) is an acceptable FxA uid: 1..FXA_USER_MAX of
 * [0-9A-Za-z_-]. */
int		 fxa_user_ok(const char *user, size_t len);

/*
 * In a worker, before it confines itself and before keys_start (libcurl's
 * global set-up must precede any thread): sets up libcurl and the one
 * HTTP client, if any issuer is of type fxa-oauth.  issuers[0..n) is the
 * worker's array, the one keys.c was given (a JWT access token whose key
 * is unknown waits for a fetch like any other).  0, or -1 logged.
 * fxa_stop frees it.
 */
int		 fxa_start(const struct issuer *issuers, size_t n);
void		 fxa_stop(void);

#endif
