/*
 * keys.c - keeps each issuer's key set fresh in a worker: the jwks_file
 * watched for changes, the jwks_url fetched over HTTPS in the background.
 *
 * Identity providers rotate their signing keys, and an operator rotates a
 * JWKS file by rewriting it: neither may need a restart, and no request
 * may fail while it happens.  So every worker, on its own, keeps its
 * issuers' sets fresh:
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
 * Fetches never run in the request path.  A fetch may take KEYS_TOTAL_MS
 * (5 s), longer than the broker lets a worker hold a job before it takes
 * the worker for hung; done inside a job, one token with a made-up kid
 * took two workers off the pool in turn.  So each worker process has one
 * fetch thread (started by keys_start, after the fork that made the
 * worker: workers never fork, and the supervisor has no thread), which
 * owns a libcurl multi handle and one easy handle per issuer, and runs the
 * fetches of all issuers side by side.  It parses what it fetched
 * (jwks_parse: jansson and OpenSSL 3, both safe on objects of one thread),
 * and hands the result over under a mutex.  It never touches a key set in
 * use, the config or the log: the worker's main thread installs the set
 * (swap_set) and logs the outcome, from keys_refresh (between jobs) or
 * keys_retry (inside a job, before it verifies again).  The thread takes
 * no signal (they are the worker's, read from its signalfd); keys_stop
 * wakes it with curl_multi_wakeup, joins it and frees all it had.
 *
 * The timing rule.  A job whose kid is unknown asks for a fetch and waits
 * for it at most until KEYS_WAIT_MS (250 ms) after that fetch was asked;
 * a job arriving later during the same fetch waits only for what is left,
 * so the jobs of a worker wait at most KEYS_WAIT_MS per fetch together,
 * and one job (one token, one issuer) at most KEYS_WAIT_MS.  The broker
 * takes a worker that holds a job for heartbeat_interval x
 * heartbeat_liveness (3000 ms by default) as hung, so that limit must be
 * above the longest a job may legitimately take:
 * WORKER_JOB_MAX_MS(KEYS_WAIT_MS) in worker.h, the key wait plus an
 * allowance for verifying and minting and for the reply; config.c refuses
 * a [server] whose limit is not.  250 ms is enough for a healthy identity
 * provider (a TLS handshake and a GET are three round trips: tens of ms
 * on one continent), so a freshly rotated key works for its first token;
 * a slower fetch answers that token 401 (retry) and installs the set for
 * the next one.  It costs a worker at most 250 ms per issuer per
 * KEYS_KID_MS, under 1% of its time, whatever kids clients make up.
 *
 * The HTTPS client is libcurl: certificate and host name verification,
 * timeouts and size bounds are not something to write by hand.  Redirects
 * are not followed: a JWKS is trusted for the URL the operator wrote, not
 * for wherever that server points.
 */
#include "identity/keys.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>

#include "core/clock.h"
#include "identity/issuer.h"
#include "identity/jwks.h"
#include "core/log.h"

/* The fetch thread re-checks for work at least this often. */
#define KEYS_POLL_MS	1000

/* What identifies one version of a file. */
struct file_sig {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime, ctime;
	int		 err;		/* errno of a failed stat(), or 0 */
};

/*
 * A jwks_url fetch goes IDLE -> ASKED (by the main thread) -> RUNNING
 * (taken by the fetch thread) -> DONE (finished, by the fetch thread) ->
 * IDLE (collected by the main thread).  One at a time per issuer.
 */
enum fetch_state {
	FETCH_IDLE,
	FETCH_ASKED,
	FETCH_RUNNING,
	FETCH_DONE,
};

/* A fetch's body, bounded by JWKS_MAX_BYTES. */
struct body {
	char		*buf;
	size_t		 len;
	int		 too_big;
};

struct keysrc {
	/* jwks_file, the main thread's */
	struct file_sig	 seen;		/* the version last tried */
	int		 have_seen;
	uint64_t	 next_stat;	/* mono ms */
	/* jwks_url, the main thread's */
	uint64_t	 next_fetch;	/* mono ms: the interval's next fetch */
	uint64_t	 next_kid_fetch; /* mono ms: rate limit of keys_retry */
	uint64_t	 wait_until;	/* mono ms: jobs wait for the fetch */
	/* the fetch thread's (made before it starts, freed after it ends) */
	CURL		*curl;
	struct body	 body;
	char		 cerr[CURL_ERROR_SIZE];
	int		 to_start;	/* taken from ASKED, not started yet */
	/* shared, under fetcher.mu */
	enum fetch_state state;
	struct jwks	*fetched;	/* DONE: the new set, or NULL if none */
	char		 why[CURL_ERROR_SIZE + 64]; /* DONE, no set: why not */
};

static struct keysrc	*srcs;		/* one per issuer, this process's */
static uint64_t		 reloads[2];	/* sets installed, refused: metrics */
static size_t		 nsrcs;
static int		 curl_up;

static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 done;		/* a fetch went DONE */
	int		 have_cond;
	int		 quit;		/* under mu: the thread is to end */
	pthread_t	 thread;
	int		 running;	/* the thread was started */
	CURLM		*multi;
} fetcher = { .mu = PTHREAD_MUTEX_INITIALIZER };

/*
 * The issuers are passed around as const, and for everything else in
 * them that is true; the key set is the exception (identity/issuer.h).
 * They are heap memory, never a const object, so writing through the
 * de-const'ed pointer is defined.  The old set is freed once the new one
 * is in.  Only the main thread calls this.
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
src_of(const struct issuer *issuers, size_t n, const struct issuer *is)
{
	size_t	 i;

	if (srcs == NULL || is < issuers || is >= issuers + n)
		return NULL;
	i = (size_t)(is - issuers);
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
		reloads[1]++;
		return 0;
	}
	if ((set = jwks_load(is->jwks_file, err, sizeof(err))) == NULL) {
		log_warnx("issuer %s: jwks_file %s; keeping the keys in use",
		    is->name, err);
		reloads[1]++;
		return 0;
	}
	reloads[0]++;
	swap_set(is, set);
	log_info("issuer %s: %zu keys loaded from %s", is->name,
	    set->nkeys, is->jwks_file);
	return 1;
}

/* ---- jwks_url: the fetch thread ---- */

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
 * One client per issuer, set up once (by the main thread, before the fetch
 * thread starts), so a refresh reuses its connection when the server keeps
 * it open.  HTTPS only, redirects not followed, peer and host verified
 * (against jwks_ca_file if given, else the system's CAs).
 */
static CURL *
new_client(const struct issuer *is, struct keysrc *src)
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
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, &src->body) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, src->cerr) == CURLE_OK &&
	    curl_easy_setopt(c, CURLOPT_PRIVATE, src) == CURLE_OK &&
	    (is->jwks_ca_file == NULL ||
	    curl_easy_setopt(c, CURLOPT_CAINFO, is->jwks_ca_file) == CURLE_OK);
	if (!ok) {
		curl_easy_cleanup(c);
		return NULL;
	}
	return c;
}

/* Hands a finished fetch's outcome to the main thread. */
static void
hand_over(struct keysrc *src, struct jwks *set, const char *why)
{
	pthread_mutex_lock(&fetcher.mu);
	src->fetched = set;
	snprintf(src->why, sizeof(src->why), "%s", set == NULL ? why : "");
	src->state = FETCH_DONE;
	pthread_cond_broadcast(&fetcher.done);
	pthread_mutex_unlock(&fetcher.mu);
}

/* A transfer ended with rc: parses the body if it is a good answer. */
static void
finish(struct keysrc *src, CURLcode rc)
{
	struct jwks	*set = NULL;
	char		 why[sizeof(src->why)];
	long		 status = 0;

	curl_easy_getinfo(src->curl, CURLINFO_RESPONSE_CODE, &status);
	if (src->body.too_big || rc == CURLE_FILESIZE_EXCEEDED)
		snprintf(why, sizeof(why), "larger than %d bytes",
		    JWKS_MAX_BYTES);
	else if (rc != CURLE_OK)
		snprintf(why, sizeof(why), "%s", src->cerr[0] != '\0' ?
		    src->cerr : curl_easy_strerror(rc));
	else if (status != 200)
		snprintf(why, sizeof(why), "HTTP status %ld", status);
	else
		set = jwks_parse(src->body.buf, src->body.len, why,
		    sizeof(why));
	free(src->body.buf);
	src->body.buf = NULL;
	hand_over(src, set, why);
}

/* Starts the transfer of an ASKED source. */
static void
start(struct keysrc *src)
{
	src->body = (struct body){ malloc(JWKS_MAX_BYTES), 0, 0 };
	src->cerr[0] = '\0';
	if (src->body.buf == NULL)
		hand_over(src, NULL, "out of memory");
	else if (curl_multi_add_handle(fetcher.multi, src->curl) !=
	    CURLM_OK) {
		free(src->body.buf);
		src->body.buf = NULL;
		hand_over(src, NULL, "cannot start the transfer");
	}
}

/*
 * Starts what the main thread asked for.  Returns -1 when the thread is
 * to end instead.
 */
static int
take_asked(void)
{
	size_t	 i;
	int	 quit;

	pthread_mutex_lock(&fetcher.mu);
	quit = fetcher.quit;
	for (i = 0; i < nsrcs; i++)
		if (srcs[i].state == FETCH_ASKED) {
			srcs[i].state = FETCH_RUNNING;
			srcs[i].to_start = 1;
		}
	pthread_mutex_unlock(&fetcher.mu);
	if (quit)
		return -1;
	/* Outside the lock: the main thread may be waiting for it. */
	for (i = 0; i < nsrcs; i++)
		if (srcs[i].to_start) {
			srcs[i].to_start = 0;
			start(&srcs[i]);
		}
	return 0;
}

/* Finishes every transfer libcurl reports done. */
static void
reap_done(void)
{
	CURLMsg		*m;
	CURL		*c;
	CURLcode	 rc;
	char		*p;
	int		 left;

	while ((m = curl_multi_info_read(fetcher.multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		/* m does not survive curl_multi_remove_handle. */
		c = m->easy_handle;
		rc = m->data.result;
		curl_multi_remove_handle(fetcher.multi, c);
		if (curl_easy_getinfo(c, CURLINFO_PRIVATE, &p) == CURLE_OK &&
		    p != NULL)
			finish((struct keysrc *)(void *)p, rc);
	}
}

/*
 * The fetch thread: starts what is asked, drives the transfers, sleeps in
 * curl_multi_poll until a socket, one of libcurl's timers or
 * curl_multi_wakeup (a new ask, or the end) wakes it.
 */
static void *
fetch_main(void *arg)
{
	int	 n;

	(void)arg;
	while (take_asked() == 0) {
		curl_multi_perform(fetcher.multi, &n);
		reap_done();
		/* Should it fail (out of memory), it must not turn into a spin. */
		if (curl_multi_poll(fetcher.multi, NULL, 0, KEYS_POLL_MS,
		    NULL) != CURLM_OK)
			poll(NULL, 0, KEYS_POLL_MS);
	}
	return NULL;
}

/*
 * Sets up libcurl and the clients, then starts the thread with every
 * signal blocked (it inherits the mask).  -1 on failure; keys_stop frees
 * what was made.
 */
static int
fetcher_start(const struct issuer *issuers)
{
	const struct issuer	*is;
	pthread_condattr_t	 attr;
	sigset_t		 all, old;
	size_t			 i;
	int			 rc;

	/* Before any thread: libcurl's global set-up is not thread-safe. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		log_warnx("curl_global_init failed");
		return -1;
	}
	curl_up = 1;
	if ((fetcher.multi = curl_multi_init()) == NULL) {
		log_warnx("curl_multi_init failed");
		return -1;
	}
	for (i = 0; i < nsrcs; i++) {
		is = &issuers[i];
		if (is->jwks_url != NULL &&
		    (srcs[i].curl = new_client(is, &srcs[i])) == NULL) {
			log_warnx("issuer %s: jwks_url %s: cannot set up the "
			    "HTTPS client", is->name, is->jwks_url);
			return -1;
		}
	}
	/* Waits are deadlines on the monotonic clock, as mono_ms() is. */
	if (pthread_condattr_init(&attr) != 0)
		return -1;
	rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(&fetcher.done, &attr);
	pthread_condattr_destroy(&attr);
	if (rc != 0) {
		log_warnx("pthread_cond_init: %s", strerror(rc));
		return -1;
	}
	fetcher.have_cond = 1;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&fetcher.thread, NULL, fetch_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		log_warnx("pthread_create: %s", strerror(rc));
		return -1;
	}
	fetcher.running = 1;
	return 0;
}

/* ---- jwks_url: the main thread's side ---- */

/*
 * Asks the fetch thread for a fetch of src's URL, unless one is under way
 * (it will bring the newest set too).  Either way a fetch is in flight,
 * and collecting it schedules the interval's next one.
 */
static void
ask_fetch(struct keysrc *src, uint64_t now)
{
	int	 asked = 0;

	pthread_mutex_lock(&fetcher.mu);
	if (src->state == FETCH_IDLE) {
		src->state = FETCH_ASKED;
		asked = 1;
	}
	pthread_mutex_unlock(&fetcher.mu);
	if (asked) {
		src->wait_until = now + KEYS_WAIT_MS;
		curl_multi_wakeup(fetcher.multi);
	}
	src->next_fetch = UINT64_MAX;
}

static struct timespec
mono_timespec(uint64_t ms)
{
	return (struct timespec){ (time_t)(ms / 1000),
	    (long)(ms % 1000) * 1000000 };
}

static int
in_flight(const struct keysrc *src)
{
	return src->state == FETCH_ASKED || src->state == FETCH_RUNNING;
}

/*
 * Waits until src's fetch is no longer in flight, or until the mono
 * deadline.  Returns 1 if it is still in flight.
 */
static int
wait_fetch(struct keysrc *src, uint64_t deadline)
{
	struct timespec	 ts = mono_timespec(deadline);
	int		 busy;

	pthread_mutex_lock(&fetcher.mu);
	while (in_flight(src) && mono_ms() < deadline)
		if (pthread_cond_timedwait(&fetcher.done, &fetcher.mu,
		    &ts) == ETIMEDOUT)
			break;
	busy = in_flight(src);
	pthread_mutex_unlock(&fetcher.mu);
	return busy;
}

/*
 * Takes in src's finished fetch, if there is one: installs a good set and
 * logs the outcome either way, and schedules the interval's next fetch.
 * Returns 1 if the set was replaced.
 */
static int
collect(const struct issuer *is, struct keysrc *src, uint64_t now)
{
	struct jwks	*set;
	char		 why[sizeof(src->why)];
	uint64_t	 every = (uint64_t)is->jwks_refresh * 1000;

	pthread_mutex_lock(&fetcher.mu);
	if (src->state != FETCH_DONE) {
		pthread_mutex_unlock(&fetcher.mu);
		return 0;
	}
	set = src->fetched;
	src->fetched = NULL;
	memcpy(why, src->why, sizeof(why));
	src->state = FETCH_IDLE;
	pthread_mutex_unlock(&fetcher.mu);

	src->next_fetch = now + (set != NULL || every < KEYS_RETRY_MS ?
	    every : KEYS_RETRY_MS);
	if (set == NULL) {
		log_warnx("issuer %s: jwks_url %s: %s; keeping the keys in "
		    "use", is->name, is->jwks_url, why);
		reloads[1]++;
		return 0;
	}
	reloads[0]++;
	swap_set(is, set);
	log_info("issuer %s: %zu keys fetched from %s", is->name, set->nkeys,
	    is->jwks_url);
	return 1;
}

/* ---- the worker's calls ---- */

int
keys_start(const struct issuer *issuers, size_t n, uint64_t now_ms)
{
	const struct issuer	*is;
	size_t			 i;
	int			 urls = 0;

	keys_stop();
	if ((srcs = calloc(n ? n : 1, sizeof(*srcs))) == NULL)
		return -1;
	nsrcs = n;
	for (i = 0; i < nsrcs; i++) {
		is = &issuers[i];
		if (is->jwks_file != NULL) {
			check_file(is, &srcs[i]);
			srcs[i].next_stat = now_ms + KEYS_STAT_MS;
		}
		urls += is->jwks_url != NULL;
	}
	if (urls == 0)
		return 0;
	if (fetcher_start(issuers) == -1)
		return -1;
	/* All at once; a worker says READY only after. */
	for (i = 0; i < nsrcs; i++)
		if (issuers[i].jwks_url != NULL)
			ask_fetch(&srcs[i], now_ms);
	for (i = 0; i < nsrcs; i++) {
		is = &issuers[i];
		if (is->jwks_url == NULL)
			continue;
		wait_fetch(&srcs[i], now_ms + KEYS_TOTAL_MS + KEYS_POLL_MS);
		collect(is, &srcs[i], mono_ms());
		if (is->jwks == NULL)
			log_warnx("issuer %s: no keys yet; its assertions "
			    "are refused until a fetch succeeds", is->name);
	}
	return 0;
}

void
keys_refresh(const struct issuer *issuers, size_t n, uint64_t now_ms)
{
	const struct issuer	*is;
	struct keysrc		*src;
	size_t			 i;

	for (i = 0; i < n && i < nsrcs; i++) {
		is = &issuers[i];
		src = &srcs[i];
		if (is->jwks_file != NULL && now_ms >= src->next_stat) {
			src->next_stat = now_ms + KEYS_STAT_MS;
			check_file(is, src);
		}
		if (is->jwks_url == NULL)
			continue;
		collect(is, src, now_ms);
		if (now_ms >= src->next_fetch)
			ask_fetch(src, now_ms);
	}
}

enum keys_news
keys_retry(const struct issuer *issuers, size_t n, const struct issuer *is,
    uint64_t now_ms)
{
	struct keysrc	*src = src_of(issuers, n, is);

	if (src == NULL)
		return KEYS_SAME;
	/* A stat() is cheap enough to make for every such token. */
	if (is->jwks_file != NULL && check_file(is, src))
		return KEYS_REPLACED;
	if (is->jwks_url == NULL)
		return KEYS_SAME;
	/* A fetch may have finished since the last loop turn. */
	if (collect(is, src, now_ms))
		return KEYS_REPLACED;
	if (now_ms >= src->next_kid_fetch) {
		src->next_kid_fetch = now_ms + KEYS_KID_MS;
		ask_fetch(src, now_ms);
	}
	if (!wait_fetch(src, src->wait_until))
		return collect(is, src, mono_ms()) ? KEYS_REPLACED : KEYS_SAME;
	return KEYS_PENDING;
}

void
keys_stop(void)
{
	size_t	 i;

	if (fetcher.running) {
		pthread_mutex_lock(&fetcher.mu);
		fetcher.quit = 1;
		pthread_mutex_unlock(&fetcher.mu);
		curl_multi_wakeup(fetcher.multi);
		pthread_join(fetcher.thread, NULL);
		fetcher.running = 0;
		fetcher.quit = 0;
	}
	for (i = 0; srcs != NULL && i < nsrcs; i++) {
		if (srcs[i].curl != NULL) {
			/* A no-op unless a fetch was under way. */
			curl_multi_remove_handle(fetcher.multi, srcs[i].curl);
			curl_easy_cleanup(srcs[i].curl);
		}
		free(srcs[i].body.buf);
		jwks_free(srcs[i].fetched);
	}
	free(srcs);
	srcs = NULL;
	nsrcs = 0;
	if (fetcher.multi != NULL) {
		curl_multi_cleanup(fetcher.multi);
		fetcher.multi = NULL;
	}
	if (fetcher.have_cond) {
		pthread_cond_destroy(&fetcher.done);
		fetcher.have_cond = 0;
	}
	if (curl_up) {
		curl_global_cleanup();
		curl_up = 0;
	}
}

void
keys_reloads(uint64_t *ok, uint64_t *error)
{
	*ok = reloads[0];
	*error = reloads[1];
}

size_t
keys_missing(const struct issuer *issuers, size_t n)
{
	size_t	i, missing = 0;

	for (i = 0; i < n; i++)
		if ((issuers[i].jwks_file != NULL ||
		    issuers[i].jwks_url != NULL) && issuers[i].jwks == NULL)
			missing++;
	return missing;
}
