/*
 * worker.h - a worker process: takes jobs from the front's broker, one at a
 * time, and answers each with a token or a precise error.
 */
#ifndef TOKEND_WORKER_H
#define TOKEND_WORKER_H

struct config;

/* Exit code of a worker that recycled itself (max_jobs, max_rss). */
#define EXIT_RECYCLE 3

/* Runs until SIGTERM; returns the process exit code. */
int	worker_main(const struct config *cfg, int index);

#endif
