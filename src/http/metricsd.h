/*
 * metricsd.h - the metrics listener: GET /metrics on an address of its
 * own ([metrics] listen), so the public port never shows internals.
 *
 * A second libmicrohttpd daemon without threads, driven by the front's
 * loop like the main one: poll metricsd_fd(), then metricsd_run() when it
 * has input, and at least once a second for its connections' timeouts.
 */
#ifndef TOKEND_METRICSD_H
#define TOKEND_METRICSD_H

#include <stddef.h>
#include <stdint.h>

struct metricsd;

/* Writes the whole exposition: a malloc'd body and its length, or NULL. */
typedef char	*(*metricsd_scrape_fn)(void *arg, size_t *len);

/*
 * Listens on host:port (numeric; IPv6 without brackets).  NULL, logged,
 * if it cannot.
 */
struct metricsd	*metricsd_start(const char *host, uint16_t port,
		    metricsd_scrape_fn scrape, void *arg);
/* The descriptor to poll for input (libmicrohttpd's epoll). */
int		 metricsd_fd(struct metricsd *);
void		 metricsd_run(struct metricsd *);
/*
 * Milliseconds until metricsd_run() has work that no input announces (a
 * timeout, a request half processed), at most most_ms.
 */
long		 metricsd_timeout(struct metricsd *, long most_ms);
void		 metricsd_stop(struct metricsd *);

#endif
