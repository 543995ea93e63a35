/*
 * status.h - tokenctl status: what a running tokend's metrics endpoint
 * says, read twice a moment apart and summed up for a person, with a
 * verdict in the exit code (0 healthy, 1 degraded, 2 unreachable).
 *
 * The metric names are those of docs/metrics.md.
 */
#ifndef TOKEND_STATUS_H
#define TOKEND_STATUS_H

#include <stddef.h>
#include <stdio.h>

#include "tools/promtext.h"

#define STATUS_HEALTHY		0
#define STATUS_DEGRADED		1
#define STATUS_UNREACHABLE	2

#define STATUS_MAX_CODES	16	/* statuses shown */
#define STATUS_TOP		3	/* rejection reasons shown */

struct status_options {
	const char	*url;
	double		 interval;	/* seconds between the two reads */
	double		 timeout;	/* seconds one read may take */
	double		 max_5xx;	/* percent of requests: degraded above */
};

struct status_report {
	double		 idle, busy, lost;	/* workers, by state */
	double		 queue;
	double		 secs;			/* between the reads */
	double		 rate;			/* requests per second */
	struct status_code {
		char	 code[8];
		double	 rate;
	}		 codes[STATUS_MAX_CODES];
	size_t		 ncodes;
	double		 share_5xx;		/* percent, of the window */
	double		 p50, p99;		/* seconds; NAN: no request */
	struct status_reason {
		char	 reason[64];
		double	 count;
	}		 top[STATUS_TOP];	/* in the window */
	size_t		 ntop;
	struct status_reason since[STATUS_TOP];	/* since tokend started */
	size_t		 nsince;
	double		 restarts;		/* in the window */
	int		 verdict;		/* STATUS_HEALTHY, _DEGRADED */
	char		 why[256];		/* what made it degraded */
};

/*
 * GETs url (http or https, no redirects, at most PROM_MAX_BYTES, within
 * timeout seconds) and parses it.  0, or -1 with the reason in err: no
 * connection, no answer in time, not 200, or not the text format.
 */
int	status_fetch(const char *url, double timeout, struct prom_set *set,
	    char *err, size_t errlen);

/*
 * The report of the window from before to after, secs apart (pure: the
 * unit tests feed it saved texts).  -1 with err when after does not look
 * like tokend's metrics (no tokend_workers).
 */
int	status_summarize(const struct prom_set *before,
	    const struct prom_set *after, double secs, double max_5xx,
	    struct status_report *r, char *err, size_t errlen);

void	status_print(FILE *f, const char *url, const struct status_report *r);

/* The whole command: two reads, the report on stdout; the exit code. */
int	status_run(const struct status_options *o);

#endif
