/*
 * broker.h - the front's ZeroMQ thread: takes jobs from the HTTP threads,
 * hands each to an idle worker, and completes it with the worker's reply,
 * a timeout, or "unavailable".
 *
 * Ownership: a job belongs to the front until broker_submit() succeeds,
 * then to the broker until it calls done(job) exactly once, then to the
 * front again.  The broker never frees a job.
 */
#ifndef TOKEND_BROKER_H
#define TOKEND_BROKER_H

#include <stddef.h>
#include <sys/types.h>

#include "protocol.h"

struct config;
struct broker;

enum job_outcome {
	JOB_REPLIED,		/* reply holds the worker's REPLY */
	JOB_TIMEOUT,		/* no worker answered in request_timeout */
	JOB_UNAVAILABLE,	/* shutting down, or no slot */
};

struct job {
	/* Set by the front before broker_submit(), read-only after. */
	const char		*service;
	size_t			 service_len;
	const char		*assertion;
	size_t			 assertion_len;
	const char		*client_state;	/* "" when absent */
	size_t			 client_state_len;
	void			*owner;		/* the front's request */
	/* Set by the broker before done(). */
	enum job_outcome	 outcome;
	struct proto_msg	 reply;		/* JOB_REPLIED: close it */
	pid_t			 worker_pid;	/* who answered, 0 if none */
};

typedef void	(*job_done_fn)(struct job *);

/* Binds the sockets (in the caller's thread) and starts the thread. */
struct broker	*broker_start(const struct config *, job_done_fn done);
/*
 * From any HTTP thread: queues job.  Returns -1 when the queue is full
 * (answer 503 at once); the job then still belongs to the caller.
 */
int		 broker_submit(struct broker *, struct job *);
/* Jobs submitted and not yet done. */
int		 broker_inflight(struct broker *);
/* Workers the broker knows (idle or busy). */
int		 broker_workers(struct broker *);
/*
 * From the front's main thread: the supervisor saw worker pid die (clean:
 * it exited normally, so it never worked on a job it still held).  Its
 * job, if any, is dispatched again at once instead of after heartbeats.
 */
void		 broker_worker_died(struct broker *, pid_t pid, int clean);
/*
 * Stops the thread and completes every pending job as JOB_UNAVAILABLE;
 * broker_submit() refuses jobs from then on.  The sockets of the HTTP
 * threads stay open until broker_free(), which must come after those
 * threads are gone (MHD_stop_daemon).
 */
void		 broker_stop(struct broker *);
void		 broker_free(struct broker *);

#endif
