/*
 * sandbox.h - what each tokend process may reach once it is set up, read
 * from its config; core/sandbox.h is the mechanism (Landlock, seccomp).
 *
 * Each child calls two of these: *_begin before it starts a thread (so
 * every thread is in its Landlock domain), *_lock after its set-up (the
 * seccomp filter).  Each returns 0, or -1 (logged): the child then exits
 * with EXIT_FATAL, since running unconfined is not what was asked.  With
 * `sandbox = off` in [server] every call does nothing.  This header names
 * struct config only, so the front includes nothing of identity/ through
 * it.
 */
#ifndef TOKEND_SANDBOX_H
#define TOKEND_SANDBOX_H

struct config;

/* The supervisor, at start: logs the confinement this kernel offers. */
void	sandbox_report(const struct config *);

int	sandbox_front_begin(const struct config *);
int	sandbox_front_lock(const struct config *);
int	sandbox_worker_begin(const struct config *);
int	sandbox_worker_lock(const struct config *);

#endif
