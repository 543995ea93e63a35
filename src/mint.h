/*
 * mint.h - the worker's pipeline for one job: find the service, verify the
 * assertion, derive the uid, mint the token and its derived key.
 */
#ifndef TOKEND_MINT_H
#define TOKEND_MINT_H

#include <stddef.h>
#include <stdint.h>

#include "tokens/tokenlib.h"

struct config;
struct service;

struct mint_request {
	const char	*service;
	size_t		 service_len;
	const char	*assertion;
	size_t		 assertion_len;
	const char	*client_state;	/* 0-32 lowercase hex digits, or NULL */
	/*
	 * Which verifier the client asked for: "jwt" or "browserid" (the
	 * JOB field `kind`), or NULL when the request did not say (then a
	 * '~' in the assertion means BrowserID).  A request that names a
	 * kind reaches that verifier only.
	 */
	const char	*kind;
	size_t		 kind_len;
};

struct mint_result {
	const char		*error;		/* PROTO_ERR_*, NULL if minted */
	const char		*error_name;	/* offending field */
	const char		*description;	/* static sentence */
	const struct service	*svc;
	uint64_t		 uid;
	int64_t			 expires;
	char			 token[TOKENLIB_TOKEN_MAX + 1];
	char			 key[TOKENLIB_KEY_LEN + 1];
};

/* Fills *res for req at time now (unix seconds); never fails silently. */
void	mint_token(const struct config *, const struct mint_request *req,
	    int64_t now, struct mint_result *res);

/*
 * The stable user id of sub in the namespace ns (an issuer section's
 * uid_namespace): the first 53 bits of HMAC-SHA256(uid_secret,
 * ns || 0x00 || sub).  Keyed by its own secret so rotating a service's
 * signing secret never changes anyone's uid.
 */
int	mint_uid(const struct config *, const char *ns, const char *sub,
	    uint64_t *uid);

#endif
