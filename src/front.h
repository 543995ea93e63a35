/*
 * front.h - the front process: one event loop in which libmicrohttpd parses
 * requests and suspends them, and the broker gets them answered.
 */
#ifndef TOKEND_FRONT_H
#define TOKEND_FRONT_H

#include <signal.h>

struct config;

/*
 * Serves until SIGTERM, then drains; returns the process exit code.  Once
 * it listens and a worker has joined, it writes one byte to ready_fd and
 * closes it (the supervisor then tells systemd READY=1).
 * SIG_WORKER_DIED with a pid as its sigqueue value means "that worker
 * died"; -pid means it exited cleanly (after its BYE, so the jobs it held
 * were never worked on).  A real-time signal, because those queue: two
 * workers dying at once are two notices, where a second SIGUSR1 pending
 * would be dropped.
 */
#define SIG_WORKER_DIED	(SIGRTMIN + 0)
int	front_main(struct config *cfg, int ready_fd);

#endif
