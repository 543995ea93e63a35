/*
 * mint.h - the worker's pipeline for one job: find the service, verify the
 * assertion, derive the uid, mint the token and its derived key.
 */
#ifndef TOKEND_MINT_H
#define TOKEND_MINT_H

#include <stddef.h>
#include <stdint.h>

#include "core/metrics.h"
#include "store/users.h"
#include "tokens/tokenlib.h"

struct config;
struct service;

/*
 * A worker's connection to the node-assignment database (store/users.h),
 * for its nodes = database services: opened after fork, before the
 * worker confines itself (mint_db_open), and kept.  state says whether
 * the database answered the last call: -1 never asked (no such service),
 * 0 down (or not open yet), 1 up; the worker reports it.
 */
struct mint_db {
	struct users_db	*db;		/* NULL: not open (yet) */
	int		 booted;	/* every service's rows are there */
	int		 state;
	/* Seconds per users_assign(), for the metrics (pool/stats.h). */
	struct metric_hist time;
};

/*
 * Opens the database and bootstraps each nodes = database service's rows
 * (its services row and bootstrap_nodes).  A database that cannot be
 * reached now is tried again by the first job that needs it.  Nothing to
 * do (state -1) without such a service.  Never fails: what went wrong is
 * logged and in state.
 */
void	mint_db_open(const struct config *, struct mint_db *);
void	mint_db_close(struct mint_db *);

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
	/*
	 * GET /1.0's X-KeyID and ?duration=, which a nodes = database
	 * service applies (Mozilla's rules): keys_changed_at (0: absent),
	 * the client state (hex, "" for none), or why the key id was refused
	 * (PROTO_KEYID_*, NULL: it was not); duration 0: the service's.
	 */
	int64_t		 keys_changed_at;
	const char	*key_client_state;
	const char	*key_id_error;
	int64_t		 duration;
	struct mint_db	*db;		/* the worker's, or NULL */
};

struct mint_result {
	const char		*error;		/* PROTO_ERR_*, NULL if minted */
	const char		*error_name;	/* offending field */
	const char		*description;	/* static sentence */
	const struct service	*svc;
	uint64_t		 uid;
	int64_t			 expires;
	int64_t			 duration;	/* of this token */
	const char		*api_endpoint;	/* svc's node, or endpoint */
	/* A nodes = database service's: Mozilla's answer fields. */
	char			 endpoint[USERS_URL_MAX + 1];
	char			 hashed_fxa_uid[33];
	const char		*node_type;	/* NULL: another service */
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
