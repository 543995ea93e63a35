/*
 * worker.h - a worker process: takes jobs from the front's broker, one at a
 * time, and answers each with a token or a precise error.
 */
#ifndef TOKEND_WORKER_H
#define TOKEND_WORKER_H

struct config;

/* Exit code of a worker that recycled itself (max_jobs, max_rss). */
#define EXIT_RECYCLE 3

/*
 * The hung-worker rule (docs/protocol.md): the broker takes a worker that
 * has held the same job for heartbeat_interval x heartbeat_liveness, with
 * no PROGRESS about it, as hung.  This worker sends no PROGRESS, so the
 * longest a job may legitimately take in it must stay below that (work
 * that may wait longer, a database call, must send PROGRESS while it
 * waits): its verification and minting (WORKER_JOB_CPU_MS, a generous
 * bound: tens of microseconds to a few ms in practice), plus the longest
 * it may wait for an issuer's key (the key wait of src/identity/keys.h),
 * plus the time a finished reply may wait in the outbox while the next
 * job runs (WORKER_OUTBOX_MS).  config.c checks it.
 */
#define WORKER_JOB_CPU_MS	250
#define WORKER_OUTBOX_MS	2
#define WORKER_JOB_MAX_MS(key_wait_ms) \
	(WORKER_JOB_CPU_MS + (key_wait_ms) + WORKER_OUTBOX_MS)

/* Runs until SIGTERM; returns the process exit code. */
int	worker_main(const struct config *cfg, int index);

#endif
