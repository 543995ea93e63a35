/*
 * metrics.h - a small registry of counters, gauges and fixed-bucket
 * histograms, and the writer of the Prometheus text format (0.0.4).
 *
 * Every series is made at set-up (metrics_series()), with its label
 * values rendered once; updating one is then a store into memory the
 * registry owns: no allocation, no lookup, no lock (one thread owns a
 * registry).  Only the writer allocates, when a scrape asks.
 *
 * A series is written once it has a value: a counter or histogram once it
 * was added to (or metric_touch() says to show it at zero), a gauge once
 * set and until unset.  So a label set that never happened costs the
 * scrape nothing, and a gauge that has no meaning now (no database) is
 * absent rather than a misleading 0.
 */
#ifndef TOKEND_METRICS_H
#define TOKEND_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRIC_MAX_LABELS	2
#define METRIC_MAX_BUCKETS	16	/* finite upper bounds; +Inf besides */

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

/*
 * A histogram's figures: counts[i] observations in bucket i (not
 * cumulative; the writer sums them), counts[nbounds] those above the last
 * bound.  Used on its own by a worker, which ships it in its heartbeats.
 */
struct metric_hist {
	uint64_t	 counts[METRIC_MAX_BUCKETS + 1];
	double		 sum;
};

struct metric_family;

/* One series: a family and one set of label values. */
struct metric {
	struct metric_family	*fam;
	char			*labels;	/* rendered, escaped; NULL: none */
	int			 present;	/* written by the writer */
	double			 value;		/* counter, gauge */
	struct metric_hist	 hist;		/* histogram */
};

struct metrics;

struct metrics	*metrics_new(void);
void		 metrics_free(struct metrics *);

/*
 * A family: name and help are static strings; bounds (ascending, at most
 * METRIC_MAX_BUCKETS, static) for a histogram only.  NULL if out of memory
 * or the arguments are wrong.
 */
struct metric_family *metrics_family(struct metrics *, enum metric_type,
		    const char *name, const char *help, const double *bounds,
		    size_t nbounds);
/*
 * The series of fam with these labels (names[i]="values[i]"; nlabels 0
 * for none); made here, owned by the registry.  Values are escaped for
 * the text format, so any bytes are safe; callers still pass closed sets
 * only (docs/metrics.md).  NULL if out of memory.
 */
struct metric	*metrics_series(struct metric_family *fam,
		    const char *const *names, const char *const *values,
		    size_t nlabels);

/* The index of v's bucket among bounds (nbounds if above them all). */
size_t	 metric_bucket(const double *bounds, size_t nbounds, double v);
/* Adds one observation of v to h. */
void	 metric_hist_observe(struct metric_hist *h, const double *bounds,
	    size_t nbounds, double v);

void	 metric_add(struct metric *, double);	/* counter */
void	 metric_set(struct metric *, double);	/* gauge */
void	 metric_unset(struct metric *);		/* gauge: not written */
void	 metric_touch(struct metric *);		/* written even at 0 */
void	 metric_observe(struct metric *, double);	/* histogram */
/* Adds counts[0..nbounds] and sum to a histogram (a worker's delta). */
void	 metric_hist_merge(struct metric *, const uint64_t *counts,
	    double sum);

/*
 * The text format of every family, in registration order: HELP, TYPE,
 * then the series (histograms as cumulative _bucket lines ending with
 * le="+Inf", then _sum and _count).  Returns a malloc'd string and its
 * length in *len, or NULL if out of memory.
 */
char	*metrics_write(const struct metrics *, size_t *len);

#endif
