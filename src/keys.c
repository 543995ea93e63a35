/*
 * keys.c - keeps each issuer's key set fresh in a worker: the jwks_file
 * watched for changes, the jwks_url fetched over HTTPS.
 *
 * Identity providers rotate their signing keys, and an operator rotates a
 * JWKS file by rewriting it: neither may need a restart, and no request
 * may fail while it happens.  So every worker, on its own and from its one
 * thread, keeps its issuers' sets fresh:
 *
 *   - jwks_file: stat() at most once a second (from the worker's idle
 *     loop) and at once when a token names a kid we do not have; a new
 *     inode, size, mtime or ctime means a new version, which is parsed and,
 *     only if it is a good set, swapped in.  A bad version is reported once
 *     (the next change is tried again) and the old set keeps serving.
 *   - jwks_url: fetched at worker start, every jwks_refresh seconds, and
 *     when a token names an unknown kid, at most once per KEYS_KID_MS per
 *     issuer, so made-up kids cannot turn us into a flood at the identity
 *     provider.  A failed fetch keeps the last good set.
 *
 * With both, the set in use is the latest good one from either: the file
 * is what a worker starts with (and what `tokend -t` checks), a fetch
 * replaces it, a change of the file replaces the fetched set.
 *
 * The HTTPS client is libcurl: certificate and host name verification,
 * timeouts and size bounds are not something to write by hand.  Fetches
 * are synchronous with short timeouts (connect KEYS_CONNECT_MS, total
 * KEYS_TOTAL_MS): a worker has nothing else to do meanwhile, and a slow
 * identity provider costs one worker a few seconds, not a request queue.
 *
 * The sets are swapped in struct issuer, the one member of the config a
 * worker changes (config.h); the rest of the watch state is this file's
 * own, per process.
 */
#include "keys.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "config.h"
#include "jwks.h"
#include "log.h"

/* What identifies one version of a file. */
struct file_sig {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime, ctime;
	int		 err;		/* errno of a failed stat(), or 0 */
};

struct keysrc {
	/* jwks_file */
	struct file_sig	 seen;		/* the version last tried */
	int		 have_seen;
	uint64_t	 next_stat;	/* mono ms */
	/* jwks_url */
	CURL		*curl;
	uint64_t	 next_fetch;	/* mono ms: the interval's next fetch */
	uint64_t	 next_kid_fetch; /* mono ms: rate limit of keys_retry */
};

/* A fetch's body, bounded by JWKS_MAX_BYTES. */
struct body {
	char		*buf;
	size_t		 len;
	int		 too_big;
};

static struct keysrc	*srcs;		/* one per issuer, this process's */
static size_t		 nsrcs;
static int		 curl_up;

/*
 * The config is passed around as const, and for everything else in it
 * that is true; the key set is the exception (config.h).  The config is
 * heap memory, never a const object, so writing through the de-const'ed
 * pointer is defined.  The old set is freed once the new one is in.
 */
static void
swap_set(const struct issuer *cis, struct jwks *set)
{
	struct issuer	*is = (struct issuer *)cis;
	struct jwks	*old = is->jwks;

	is->jwks = set;
	jwks_free(old);
}

static struct keysrc *
src_of(const struct config *cfg, const struct issuer *is)
{
	size_t	 i;

	if (srcs == NULL || is < cfg->issuers ||
	    is >= cfg->issuers + cfg->nissuers)
		return NULL;
	i = (size_t)(is - cfg->issuers);
	return i < nsrcs ? &srcs[i] : NULL;
}

/* ---- jwks_file ---- */

static void
file_sig(const char *path, struct file_sig *sig)
{
	struct stat	 st;

	memset(sig, 0, sizeof(*sig));
	if (stat(path, &st) == -1) {
		sig->err = errno;
		return;
	}
	sig->dev = st.st_dev;
	sig->ino = st.st_ino;
	sig->size = st.st_size;
	sig->mtime = st.st_mtim;
	sig->ctime = st.st_ctim;
}

static int
same_sig(const struct file_sig *a, const struct file_sig *b)
{
	return a->err == b->err && a->dev == b->dev && a->ino == b->ino &&
	    a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec &&
	    a->ctime.tv_sec == b->ctime.tv_sec &&
	    a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/*
 * Loads a new version of is's jwks_file, if there is one.  Returns 1 if
 * the set was replaced.  Each version is tried once: a bad one is logged
 * once and left alone until the file changes again.
 */
static int
check_file(const struct issuer *is, struct keysrc *src)
{
	struct file_sig	 sig;
	struct jwks	*set;
	char		 err[512];

	file_sig(is->jwks_file, &sig);
	if (src->have_seen && same_sig(&sig, &src->seen))
		return 0;
	src->seen = sig;
	src->have_seen = 1;
	if (sig.err != 0) {
		log_warnx("issuer %s: jwks_file %s: %s; keeping the keys in "
		    "use", is->name, is->jwks_file, strerror(sig.err));
		return 0;
	}
	if ((set = jwks_load(is->jwks_file, err, sizeof(err))) == NULL) {
		log_warnx("issuer %s: jwks_file %s; keeping the keys in use",
		    is->name, err);
		return 0;
	}
	swap_set(is, set);
	log_info("issuer %s: %zu keys loaded from %s", is->name,
	    set->nkeys, is->jwks_file);
	return 1;
}

/* ---- jwks_url ---- */

static size_t
on_data(char *data, size_t size, size_t n, void *arg)
{
	struct body	*b = arg;
	size_t		 len = size * n;

	if (len > JWKS_MAX_BYTES - b->len) {
		b->too_big = 1;
		return 0;	/* libcurl aborts the transfer */
	}
	memcpy(b->buf + b->len, data, len);
	b->len += len;
	return len;
}

/*
 * One client per issuer, set up once, so a refresh reuses its connection
 * when the server keeps it open.  HTTPS only, redirects not followed,
 * peer and host verified (against jwks_ca_file if given, else the
 * system's CAs).
 */
static CURL *
new_client(const struct issuer *is)
{
	CURL	*c;
	int	 ok;

	if ((c = curl_easy_init()) == NULL)
		return NULL;
	ok = curl_easy_setopt(c, CURLOPT_URL, is->jwks_url) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)KEYS_CONNECT_MS) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
	    (long)KEYS_TOTAL_MS) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)JWKS_MAX_BYTES) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "tokend") == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data) == CURLE_OK &&
	    (is->jwks_ca_file == NULL ||
	    curl_easy_setopt(c, CURLOPT_CAINFO, is->jwks_ca_file) == CURLE_OK);
	if (!ok) {
		curl_easy_cleanup(c);
		return NULL;
	}
	return c;
}

/*
 * Fetches is's jwks_url and swaps the set in if it is good.  Returns 1 if
 * the set was replaced; on any failure logs a warning and keeps the set.
 */
static int
fetch_url(const struct issuer *is, struct keysrc *src)
{
	struct body	 b = { NULL, 0, 0 };
	struct jwks	*set = NULL;
	char		 cerr[CURL_ERROR_SIZE], err[512];
	long		 status = 0;
	CURLcode	 rc;

	if (src->curl == NULL && (src->curl = new_client(is)) == NULL) {
		log_warnx("issuer %s: jwks_url %s: cannot set up the HTTPS "
		    "client; keeping the keys in use", is->name, is->jwks_url);
		return 0;
	}
	if ((b.buf = malloc(JWKS_MAX_BYTES)) == NULL) {
		log_warnx("issuer %s: jwks_url: out of memory", is->name);
		return 0;
	}
	cerr[0] = '\0';
	curl_easy_setopt(src->curl, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(src->curl, CURLOPT_ERRORBUFFER, cerr);
	rc = curl_easy_perform(src->curl);
	curl_easy_setopt(src->curl, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_getinfo(src->curl, CURLINFO_RESPONSE_CODE, &status);
	if (b.too_big || rc == CURLE_FILESIZE_EXCEEDED)
		log_warnx("issuer %s: jwks_url %s: larger than %d bytes; "
		    "keeping the keys in use", is->name, is->jwks_url,
		    JWKS_MAX_BYTES);
	else if (rc != CURLE_OK)
		log_warnx("issuer %s: jwks_url %s: %s; keeping the keys in "
		    "use", is->name, is->jwks_url,
		    cerr[0] != '\0' ? cerr : curl_easy_strerror(rc));
	else if (status != 200)
		log_warnx("issuer %s: jwks_url %s: HTTP status %ld; keeping "
		    "the keys in use", is->name, is->jwks_url, status);
	else if ((set = jwks_parse(b.buf, b.len, err, sizeof(err))) == NULL)
		log_warnx("issuer %s: jwks_url %s: %s; keeping the keys in "
		    "use", is->name, is->jwks_url, err);
	free(b.buf);
	if (set == NULL)
		return 0;
	swap_set(is, set);
	log_info("issuer %s: %zu keys fetched from %s", is->name, set->nkeys,
	    is->jwks_url);
	return 1;
}

/* A fetch for the interval; the next one is scheduled by its outcome. */
static int
interval_fetch(const struct issuer *is, struct keysrc *src, uint64_t now)
{
	uint64_t	 every = (uint64_t)is->jwks_refresh * 1000;
	int		 ok = fetch_url(is, src);

	src->next_fetch = now + (ok || every < KEYS_RETRY_MS ? every :
	    KEYS_RETRY_MS);
	return ok;
}

/* ---- the worker's calls ---- */

int
keys_start(const struct config *cfg, uint64_t now_ms)
{
	const struct issuer	*is;
	size_t			 i;

	keys_stop();
	if ((srcs = calloc(cfg->nissuers ? cfg->nissuers : 1,
	    sizeof(*srcs))) == NULL)
		return -1;
	nsrcs = cfg->nissuers;
	for (i = 0; i < cfg->nissuers; i++) {
		is = &cfg->issuers[i];
		if (is->jwks_url != NULL && !curl_up) {
			if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
				log_warnx("curl_global_init failed");
				return -1;
			}
			curl_up = 1;
		}
		if (is->jwks_file != NULL) {
			check_file(is, &srcs[i]);
			srcs[i].next_stat = now_ms + KEYS_STAT_MS;
		}
		if (is->jwks_url != NULL)
			interval_fetch(is, &srcs[i], now_ms);
		if (is->jwks == NULL && is->jwks_url != NULL)
			log_warnx("issuer %s: no keys yet; its assertions "
			    "are refused until a fetch succeeds", is->name);
	}
	return 0;
}

void
keys_refresh(const struct config *cfg, uint64_t now_ms)
{
	const struct issuer	*is;
	struct keysrc		*src;
	size_t			 i;

	for (i = 0; i < cfg->nissuers && i < nsrcs; i++) {
		is = &cfg->issuers[i];
		src = &srcs[i];
		if (is->jwks_file != NULL && now_ms >= src->next_stat) {
			src->next_stat = now_ms + KEYS_STAT_MS;
			check_file(is, src);
		}
		if (is->jwks_url != NULL && now_ms >= src->next_fetch)
			interval_fetch(is, src, now_ms);
	}
}

int
keys_retry(const struct config *cfg, const struct issuer *is,
    uint64_t now_ms)
{
	struct keysrc	*src = src_of(cfg, is);
	int		 changed = 0;

	if (src == NULL)
		return 0;
	/* A stat() is cheap enough to make for every such token. */
	if (is->jwks_file != NULL)
		changed = check_file(is, src);
	if (!changed && is->jwks_url != NULL &&
	    now_ms >= src->next_kid_fetch) {
		src->next_kid_fetch = now_ms + KEYS_KID_MS;
		changed = interval_fetch(is, src, now_ms);
	}
	return changed;
}

void
keys_stop(void)
{
	size_t	 i;

	for (i = 0; srcs != NULL && i < nsrcs; i++)
		if (srcs[i].curl != NULL)
			curl_easy_cleanup(srcs[i].curl);
	free(srcs);
	srcs = NULL;
	nsrcs = 0;
	if (curl_up) {
		curl_global_cleanup();
		curl_up = 0;
	}
}
