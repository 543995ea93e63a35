/*
 * stats.h - the pool's figures: what the front counts itself (requests,
 * the queue, the workers, restarts) and what the workers report in their
 * HEARTBEATs (jobs, rejections, tokens, key reloads, the database, CPU and
 * memory), gathered into one core/metrics registry; and the facts
 * /__heartbeat__ answers from.  docs/metrics.md names every metric,
 * docs/protocol.md ("Figures in a HEARTBEAT") the fields.
 *
 * Two halves share this header because they share one format: a worker
 * fills a struct wstats and encodes it (wstats_fields()); the front
 * decodes it (stats_heartbeat()), checks every value, and adds the
 * difference from that worker's previous report to its counters, so the
 * values a worker sends are cumulative and a lost heartbeat loses
 * nothing.  Label values come only from closed sets: the endpoint names,
 * HTTP statuses, the protocol's error codes, and the services of the
 * front's own config; a name a worker reports that the front does not
 * know is refused, never turned into a label.
 */
#ifndef TOKEND_STATS_H
#define TOKEND_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "core/metrics.h"
#include "pool/protocol.h"

/* Services a report may name (config.h's CONFIG_MAX_SERVICES). */
#define STATS_MAX_SERVICES	256

/* The latency buckets of every histogram, in seconds (docs/metrics.md). */
#define STATS_NBOUNDS	15
extern const double stats_bounds[STATS_NBOUNDS];

/* The endpoint label (docs/metrics.md); api.c names them. */
#define STATS_ENDPOINTS	"token", "mozilla", "oauth", "lbheartbeat", \
			"heartbeat", "version", "other"
#define STATS_NENDPOINTS 7

/* The reason label: the protocol's error codes, in this order. */
#define STATS_NREASONS	5
extern const char *const stats_reasons[STATS_NREASONS];

enum stats_restart {
	STATS_CRASH,		/* died of its own signal, or exit code */
	STATS_SIGNAL,		/* killed from outside */
	STATS_RECYCLE,		/* max_jobs, max_rss */
	STATS_HANG,		/* forgotten by the broker as hung */
	STATS_NRESTARTS
};

/* ---- the worker's half ------------------------------------------------ */

/* Fields of a figures HEARTBEAT, at most. */
#define WSTATS_FIELDS	10

/* What one worker gathers; all counters cumulative since it started. */
struct wstats {
	uint64_t		 jobs;
	struct metric_hist	 busy;		/* seconds per job */
	uint64_t		 rejected[STATS_NREASONS];
	uint64_t		 jwks[2];	/* ok, error */
	int			 db_state;	/* -1 none, 0 down, 1 up */
	struct metric_hist	 db;		/* seconds per database call */
	long			 keys_missing;	/* issuers with no key set */
	uint64_t		 cpu_us;
	uint64_t		 rss;		/* bytes */
	int			 figures;	/* 0: only the health facts */
	/* Tokens minted, by service: names borrowed from the config. */
	size_t			 nservices;
	const char *const	*services;
	uint64_t		*tokens;
	char			*buf;		/* the encoded values */
	size_t			 bufsize;
};

/*
 * Sets w up for the services names[0..n) (borrowed; they must outlive
 * w).  figures 0: only keys_missing and db_state are sent (metrics off).
 * -1 if out of memory.
 */
int	wstats_init(struct wstats *w, const char *const *names, size_t n,
	    int figures);
void	wstats_free(struct wstats *w);
/*
 * One finished job: its time in seconds, its error code (PROTO_ERR_*) or
 * NULL, and for a token the index of its service (or (size_t)-1).
 */
void	wstats_job(struct wstats *w, double seconds, const char *error,
	    size_t service);
/*
 * The HEARTBEAT's fields for w, into f (room for WSTATS_FIELDS); their
 * values point into w->buf, valid until the next call.  Returns how many.
 */
size_t	wstats_fields(struct wstats *w, struct proto_field *f);

/* ---- the front's half ------------------------------------------------- */

/* What the broker knows of its workers and queue, at one moment. */
enum { STATS_IDLE, STATS_BUSY, STATS_LOST, STATS_NSTATES };
enum { STATS_LOCAL, STATS_REMOTE, STATS_NKINDS };
struct pool_census {
	int	workers[STATS_NSTATES][STATS_NKINDS];
	int	queued;
	int	inflight;
};

/* What /__heartbeat__ checks besides the workers, from the heartbeats. */
struct pool_health {
	int	reported;	/* some live worker reported its keys */
	long	keys_missing;	/* the fewest issuers without keys of those */
	int	db_configured;	/* some live worker has a database */
	int	db_up;		/* ... and one of them reached it */
};

struct stats;

struct stats_settings {
	/* The configured services, their names and formats (labels). */
	const char *const	*services;
	const char *const	*formats;
	size_t			 nservices;
	/* A worker's report counts for /__heartbeat__ for this long. */
	uint64_t		 fresh_ms;
	int			 requests;	/* count requests (metrics on) */
};

/* The arrays are copied; their strings are borrowed: they must outlive it. */
struct stats	*stats_new(const struct stats_settings *);
void		 stats_free(struct stats *);

/* A request answered: endpoint index (STATS_ENDPOINTS), status, time. */
void	stats_request(struct stats *, int endpoint, unsigned status,
	    double seconds);
/* The broker sent a job to a worker seconds after it was submitted. */
void	stats_queue_wait(struct stats *, double seconds);
void	stats_redispatched(struct stats *);
void	stats_restart(struct stats *, enum stats_restart);
void	stats_config_reload(struct stats *, int ok);
/*
 * A HEARTBEAT of a known worker (ident is its routing identity): takes its
 * figures, if any.  Returns the number of fields refused (logged once per
 * worker and counted).
 */
int	stats_heartbeat(struct stats *, const void *ident, size_t idlen,
	    const struct proto_msg *m, uint64_t now_ms);
/* The health facts of the reports fresher than fresh_ms. */
void	stats_health(struct stats *, uint64_t now_ms, struct pool_health *);
/*
 * The text of every metric (metrics_write()), after setting the gauges
 * from census and the processes' own figures.  malloc'd, or NULL.
 */
char	*stats_scrape(struct stats *, const struct pool_census *,
	    uint64_t now_ms, size_t *len);
/* Opens what the front reads of itself and its supervisor (before its sandbox). */
void	stats_open_procs(struct stats *, int supervisor_pid);

#endif
