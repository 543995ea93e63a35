/*
 * broker.h - the front's side of the worker pool: a queue of jobs, the
 * workers that joined over ZeroMQ, and which worker holds which job.
 *
 * It runs in the front's one event loop (front.c), which polls its socket
 * and calls it; nothing here blocks and nothing here is thread-safe.
 *
 * Ownership: a job belongs to the front until broker_submit() succeeds,
 * then to the broker until it calls done(job) exactly once (from
 * broker_read(), broker_tick(), broker_worker_died() or broker_stop(), never
 * from inside broker_submit()), then to the front again.  The broker never
 * frees a job.
 */
#ifndef TOKEND_BROKER_H
#define TOKEND_BROKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pool/curve.h"
#include "pool/protocol.h"
#include "pool/stats.h"

struct broker;

/*
 * What the broker is told by its owner (front.c fills it from the
 * config): pool/ knows nothing of the config file.  Read by broker_new()
 * only; runtime_dir need not outlive it.
 */
struct broker_settings {
	const char	*runtime_dir;	/* the socket: RUNTIME_DIR/worker.sock */
	int		 credit;	/* the most jobs one worker may hold */
	int		 queue_limit;	/* jobs waiting for room in no worker */
	int		 request_timeout_ms; /* every job's deadline */
	int		 heartbeat_ms;	/* heartbeat interval, both ways */
	int		 heartbeat_liveness; /* intervals a peer may be silent */
	struct stats	*stats;		/* the figures (pool/stats.h); may
					   be NULL; must outlive the broker */
	/*
	 * Remote workers ([remote] listen): a CURVE TCP endpoint, or NULL.
	 * remote_secret is the front's secret key in Z85 (the caller wipes
	 * it after broker_new()); remote_keys are moved into the broker.
	 */
	const char	*remote_listen;
	const char	*remote_secret;
	struct authkeys	*remote_keys;
	int		 handshake_ms;	/* a CURVE handshake's limit */
	int		 peer_queue;	/* messages queued per peer, each way */
};

struct job {
	/*
	 * Set by the front before broker_submit(), read-only after: the
	 * request's fields, sent to the worker as they are after the job id.
	 * The broker never reads their meaning (docs/protocol.md, JOB).
	 */
	struct proto_field	 fields[PROTO_JOB_FIELDS];
	size_t			 nfields;
	void			*owner;		/* the front's request */
	/* Set by the broker before done(). */
	enum job_outcome	 outcome;
	struct proto_msg	 reply;		/* JOB_REPLIED: close it */
	pid_t			 worker_pid;	/* the pid of who answered, as
						   its READY said; 0 if none or
						   not said (a remote worker) */
};

typedef void	(*job_done_fn)(struct job *);

/* Binds the workers' ROUTER socket; NULL (logged) if it cannot. */
struct broker	*broker_new(const struct broker_settings *, job_done_fn done);
/* The socket to poll for ZMQ_POLLIN; then call broker_read(). */
void		*broker_socket(struct broker *);
/*
 * Every socket to poll for ZMQ_POLLIN (the ipc one, then with [remote]
 * the CURVE one and its gate's), into socks (room for 4); how many.
 */
size_t		 broker_sockets(struct broker *, void **socks, size_t max);
/*
 * A new authorized_keys list (moved): from the next handshake on only
 * these keys are admitted, and the remote workers that joined with a key
 * no longer listed are forgotten (their jobs go elsewhere) and unheard.
 */
void		 broker_set_keys(struct broker *, struct authkeys *keys);
/*
 * Queues job; it is sent to a worker by the next broker_tick().  Returns
 * -1 when the queue is full or the broker stopped (answer 503 at once);
 * the job then still belongs to the caller.
 */
int		 broker_submit(struct broker *, struct job *, uint64_t now_ms);
/* Takes the workers' messages waiting on the socket. */
void		 broker_read(struct broker *, uint64_t now_ms);
/* Times jobs and workers out, heartbeats, and sends queued jobs. */
void		 broker_tick(struct broker *, uint64_t now_ms);
/* Milliseconds until broker_tick() has something to do (at most 100). */
long		 broker_timeout(struct broker *, uint64_t now_ms);
/* Jobs submitted and not yet done. */
int		 broker_inflight(struct broker *);
/* Workers the broker knows (idle or busy). */
int		 broker_workers(struct broker *);
/*
 * The supervisor saw worker pid die (clean: it exited normally, so it
 * never worked on the jobs it still held).  The broker knows workers by
 * their routing identity; the pid maps to the worker whose READY named
 * it.  Its jobs are dispatched again at once instead of after heartbeats.
 */
void		 broker_worker_died(struct broker *, pid_t pid, int clean);
/*
 * The workers by state and kind, the queue and the jobs in flight, now
 * (docs/metrics.md: a worker silent for two heartbeat intervals is lost).
 */
void		 broker_census(struct broker *, uint64_t now_ms,
		    struct pool_census *);
/*
 * Completes every pending job as JOB_UNAVAILABLE; broker_submit() refuses
 * jobs from then on.
 */
void		 broker_stop(struct broker *);
void		 broker_free(struct broker *);

#endif
