/*
 * keys.h - keeps each issuer's key set fresh in a worker: jwks_file
 * watched for changes, jwks_url fetched over HTTPS in the background.
 *
 * Only a worker calls these, from its main thread (the one that verifies):
 * keys_refresh between jobs, keys_retry inside one.  jwks_url fetches run
 * in a thread of keys.c's own, but a fetched set is installed only by the
 * main thread, inside these calls: struct issuer's jwks, the one
 * per-process mutable member of the config (see identity/issuer.h), is
 * swapped whole and the old set freed, so a verification never sees half
 * a set or races a swap, and a set that fails to load or fetch never
 * replaces a good one.  Each call takes the worker's issuers[0..n), the
 * same array every time.
 */
#ifndef TOKEND_KEYS_H
#define TOKEND_KEYS_H

#include <stddef.h>
#include <stdint.h>

struct issuer;

#define KEYS_STAT_MS	1000	/* a jwks_file is stat()ed at most this often */
#define KEYS_KID_MS	30000	/* unknown-kid fetches of one issuer, at most */
#define KEYS_RETRY_MS	30000	/* a failed fetch is retried after this */
#define KEYS_CONNECT_MS	2000	/* jwks_url: connect timeout */
#define KEYS_TOTAL_MS	5000	/* jwks_url: whole-fetch timeout */
/*
 * The longest a job waits for a key fetch, and the most time all the jobs
 * of a worker wait together for any one fetch: the only time keys.c adds
 * to a job.  The hung-worker limit (heartbeat_interval x
 * heartbeat_liveness) must be above WORKER_JOB_MAX_MS(KEYS_WAIT_MS)
 * (worker.h; config.c checks it, keys.c's top comment says why 250).
 */
#define KEYS_WAIT_MS	250

/* What keys_retry did for a token whose key the issuer lacks. */
enum keys_news {
	KEYS_SAME = 0,		/* nothing new: the token's key is not there */
	KEYS_REPLACED = 1,	/* the set was replaced: verify again */
	KEYS_PENDING = 2,	/* a fetch still runs after the wait: retry */
};

/*
 * At worker start, before it says READY (and before it creates threads of
 * its own): re-reads every jwks_file (it may have changed since the
 * supervisor loaded the config), starts the fetch thread and fetches every
 * jwks_url, waiting for them (at most KEYS_TOTAL_MS: they run at once).
 * An issuer whose fetch fails keeps its jwks_file set, or none.  Returns
 * 0, or -1 if libcurl or the thread cannot start.
 */
int	keys_start(const struct issuer *issuers, size_t n, uint64_t now_ms);

/*
 * From the worker's loop, between jobs: installs what the fetch thread
 * finished; stat()s each jwks_file at most once per KEYS_STAT_MS and
 * reloads it when its inode, size, mtime or ctime changed; asks for a
 * fetch of each jwks_url every jwks_refresh seconds (after a failure,
 * KEYS_RETRY_MS or jwks_refresh, whichever is shorter).  Never waits.
 */
void	keys_refresh(const struct issuer *issuers, size_t n, uint64_t now_ms);

/*
 * A token named a key the issuer does not have (or the issuer has none):
 * checks its jwks_file now, and asks for a fetch of its jwks_url unless
 * one such fetch of this issuer was asked within KEYS_KID_MS (so that
 * tokens with made-up kids cannot make us hammer the identity provider).
 * While a fetch runs, waits for it, at most until KEYS_WAIT_MS after it
 * was asked.
 */
enum keys_news	keys_retry(const struct issuer *issuers, size_t n,
		    const struct issuer *is, uint64_t now_ms);

/*
 * Key sets this process installed (a changed jwks_file, a jwks_url fetch)
 * and refused (the old set kept), since it started: for the metrics.
 */
void	keys_reloads(uint64_t *ok, uint64_t *error);
/* Issuers with a jwks_file or jwks_url that have no key set now. */
size_t	keys_missing(const struct issuer *issuers, size_t n);

/*
 * At worker exit: stops the fetch thread (a fetch under way is abandoned)
 * and frees everything keys_start made.  Safe to call twice.
 */
void	keys_stop(void);

#endif
