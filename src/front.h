/*
 * front.h - the front process: libmicrohttpd threads that parse requests
 * and suspend them, and the broker thread that gets them answered.
 */
#ifndef TOKEND_FRONT_H
#define TOKEND_FRONT_H

struct config;

/*
 * Serves until SIGTERM, then drains; returns the process exit code.  Once
 * it listens and a worker has joined, it writes one byte to ready_fd and
 * closes it (the supervisor then tells systemd READY=1).  SIGUSR1 with a
 * pid as its sigqueue value means "that worker died"; -pid means it exited
 * cleanly (after its BYE, so a job it held was never worked on).
 */
int	front_main(struct config *cfg, int ready_fd);

#endif
