/*
 * sandbox.h - what each tokend process may reach once it is set up, read
 * from its config; core/sandbox.h is the mechanism (Landlock, seccomp).
 *
 * Each child calls sandbox_enter() before it starts a thread (so every
 * thread is in its Landlock domain) and sandbox_seal() after its set-up
 * (the seccomp filter).  Each returns 0, or -1 (logged): the child then
 * exits with EXIT_FATAL, since running unconfined is not what was asked.
 * With `sandbox = off` in [server] both do nothing.  This header names
 * struct config and core's roles only, so the front includes nothing of
 * identity/ through it.
 */
#ifndef TOKEND_SANDBOX_H
#define TOKEND_SANDBOX_H

#include "core/sandbox.h"

struct config;

/* The supervisor, at start: logs the confinement this kernel offers. */
void	sandbox_report(const struct config *);

/* Landlock for role's files and ports: before the first thread. */
int	sandbox_enter(const struct config *, enum sandbox_role);
/* role's seccomp filter, on every thread: once set up. */
int	sandbox_seal(const struct config *, enum sandbox_role);

#endif
