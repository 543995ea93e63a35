/*
 * supervisor.h - the parent process: forks the front and the workers,
 * respawns what dies, reloads on SIGHUP, drains on SIGTERM.
 */
#ifndef TOKEND_SUPERVISOR_H
#define TOKEND_SUPERVISOR_H

struct config;

/*
 * Takes ownership of cfg; returns the exit code of tokend.  worker_host:
 * tokend --worker, workers only, which connect to the front of [remote]
 * connect (docs/deployment.md, "Worker hosts").
 */
int	supervisor_main(struct config *cfg, int worker_host);

#endif
