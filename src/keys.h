/*
 * keys.h - keeps each issuer's key set fresh in a worker: jwks_file
 * watched for changes, jwks_url fetched over HTTPS.
 *
 * Only a worker calls these, from its one thread, between jobs (or, for
 * keys_retry, inside one).  They replace struct issuer's jwks, the one
 * per-process mutable member of the config (see config.h); a set is
 * swapped in whole and the old one freed, so a verification never sees
 * half a set, and a set that fails to load or fetch never replaces a good
 * one.
 */
#ifndef TOKEND_KEYS_H
#define TOKEND_KEYS_H

#include <stdint.h>

struct config;
struct issuer;

#define KEYS_STAT_MS	1000	/* a jwks_file is stat()ed at most this often */
#define KEYS_KID_MS	30000	/* unknown-kid fetches of one issuer, at most */
#define KEYS_RETRY_MS	30000	/* a failed fetch is retried after this */
#define KEYS_CONNECT_MS	2000	/* jwks_url: connect timeout */
#define KEYS_TOTAL_MS	5000	/* jwks_url: whole-fetch timeout */

/*
 * At worker start: re-reads every jwks_file (it may have changed since
 * the supervisor loaded the config) and fetches every jwks_url, waiting
 * for each (at most KEYS_TOTAL_MS).  An issuer whose fetch fails keeps
 * its jwks_file set, or none.  Returns 0, or -1 if libcurl cannot start.
 */
int	keys_start(const struct config *cfg, uint64_t now_ms);

/*
 * From the worker's loop: stat()s each jwks_file at most once per
 * KEYS_STAT_MS and reloads it when its inode, size, mtime or ctime
 * changed; fetches each jwks_url every jwks_refresh seconds (after a
 * failure, KEYS_RETRY_MS or jwks_refresh, whichever is shorter).
 */
void	keys_refresh(const struct config *cfg, uint64_t now_ms);

/*
 * A token named a key the issuer does not have (or the issuer has none):
 * checks its jwks_file now, and fetches its jwks_url unless one such
 * fetch of this issuer happened within KEYS_KID_MS (so that tokens with
 * made-up kids cannot make us hammer the identity provider).  Returns 1
 * if the issuer's set was replaced, so the token is worth verifying again.
 */
int	keys_retry(const struct config *cfg, const struct issuer *is,
	    uint64_t now_ms);

/* Frees the HTTPS clients (at worker exit). */
void	keys_stop(void);

#endif
